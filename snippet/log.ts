import { data } from './config';
import type { TapResult } from './types';

/** Read at the first decision, not at start: a page view with nothing to log reads nothing. */
let debug: boolean | undefined;

/**
 * Logs one decision with the fixed `[tap]` prefix, only with `data-debug`, or
 * `?tap_debug=1` on this page or earlier in the browser session: that landing
 * sets the session cookie `tap_debug=1` (snippet/events/landing.ts), so a
 * thank-you page logs too.
 */
export const log = (...args: unknown[]) => {
  // A page may replace console methods or refuse cookies; logging must never be what breaks it.
  try {
    debug ??= 'debug' in data || /tap_debug=1/.test(location.search + document.cookie);
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
