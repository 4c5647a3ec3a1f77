import type { TapResult } from '../proxy/schema';
import { endpoint } from './config';

/** The proxy's HTTP status and JSON answer; falsy when no proxy answered. */
export type Answer = [number, TapResult] | false | void;

/**
 * POSTs JSON as a string body, which fetch and sendBeacon label
 * `text/plain;charset=UTF-8`: a CORS "simple request" (Fetch standard), so no
 * preflight. keepalive lets it finish while the thank-you page unloads, and
 * credentials go along so the proxy sees the tap_data cookie even cross-origin.
 */
export const post = (path: string, body: string): Promise<Answer> =>
  // Inside the executor, a page's throwing fetch or a missing sendBeacon counts as offline.
  new Promise<Answer>((resolve) =>
    resolve(
      (window as Partial<Window>).fetch
        ? fetch(endpoint + path, { method: 'POST', keepalive: true, credentials: 'include', body }).then((response) =>
            response
              .json()
              // Only the proxy answers JSON with `ok`; an HTML 404 or a 502 never reached it.
              .then((json): Answer => 'ok' in (json as object) && [response.status, json as TapResult]),
          )
        : // A queued beacon belongs to the browser now; its answer is never visible.
          navigator.sendBeacon(endpoint + path, body) && [202, { ok: true, status: 'queued' }],
    ),
  ).catch(() => {});
