import { data } from './config';
import { DEBUG_KEY } from './names';
import type { TapResult } from './types';

/** Read at the first decision, not at start: a page view with nothing to log never opens sessionStorage. */
let debug: boolean | undefined;

/**
 * Logs one decision with the fixed `[tap]` prefix, only with `data-debug`, or
 * `?tap_debug=1` on this page or earlier in the tab's session (snippet/index.ts).
 */
export const log = (...args: unknown[]) => {
  // A page may replace console methods or refuse storage; logging must never be what breaks it.
  try {
    // SESSION_COOKIE (`tap_s`, snippet/names.ts) first, so a shopper's page opens no sessionStorage.
    if (debug == null) debug = 'debug' in data || /[?&]tap_debug=1/.test(location.search) || (/(^|; )tap_s=1/.test(document.cookie) && sessionStorage.getItem(DEBUG_KEY) == '1');
    if (debug) console.log('[tap]', ...args);
  } catch {}
};

/** Runs one step on a page that may be hostile: a throw is logged and becomes `fallback`. */
export const attempt = <T>(step: () => T, fallback?: T): T | undefined => {
  try {
    return step();
  } catch (error) {
    log(error);
    return fallback;
  }
};

/** Every dropped event passes here, so debug mode shows each one and why (`[tap] skip no-id`). */
export const ignore = (reason: string): TapResult => {
  log('skip', reason);
  return { ok: false, status: 'skipped', reason };
};

/** Nothing reached the proxy; the event waits in the outbox for a later page view. */
export const offline = (reason: string): TapResult => {
  log('offline, kept for the next page view', reason);
  return { ok: false, status: 'offline', reason };
};
