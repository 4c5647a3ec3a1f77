import type { TapResult } from '../types';
import { kernel } from '../kernel';

/**
 * The folder this file was loaded from, which is tap.js's (tap.js loads it by
 * swapping the file name), or `/_tap/`. Read now: `currentScript` is only set
 * while a script's top level runs.
 */
const folder = (document.currentScript as HTMLScriptElement).src.replace(/[^/]*$/, '');

/** The proxy's HTTP status and JSON answer; falsy when no proxy answered. */
export type Answer = [number, TapResult] | false | void;

/**
 * POSTs JSON as a string body, which fetch and sendBeacon label
 * `text/plain;charset=UTF-8`: a CORS "simple request" (Fetch standard), so no
 * preflight. keepalive lets it finish while the page unloads, and credentials
 * go along so the proxy sees and can set the tap_data cookie even cross-origin.
 * Never rejects.
 */
export const post = (path: string, body: string): Promise<Answer> =>
  // Inside the executor, a page's throwing fetch or a missing sendBeacon counts as offline.
  new Promise<Answer>((resolve) => {
    // `data-endpoint`, else the folder tap.js was loaded from, ending in one `/`.
    const url = (kernel.data.endpoint || folder).replace(/\/*$/, '/') + path;
    if (!(window as Partial<Window>).fetch) {
      // A queued beacon belongs to the browser now; its answer is never visible.
      resolve(navigator.sendBeacon(url, body) && [202, { ok: true, status: 'queued' }]);
      return;
    }
    const request = fetch(url, { method: 'POST', keepalive: true, credentials: 'include', body });
    resolve(
      request.then((response) =>
        response
          .json()
          // Only the proxy answers JSON with `ok`; an HTML 404 or a 502 never reached it.
          .then((json): Answer => 'ok' in (json as object) && [response.status, json as TapResult]),
      ),
    );
  }).catch(() => {});
