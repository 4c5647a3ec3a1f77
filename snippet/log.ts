import { data } from './config';
import type { TapResult } from './types';

/**
 * Debug mode: `data-debug`, or `?tap_debug=1` on this page or earlier in the
 * browser session: that landing sets the session cookie `tap_debug=1`
 * (snippet/events/landing.ts), so a thank-you page logs too. Read once as
 * tap.js starts, before it writes any cookie: in Chromium a cookie read after
 * a write waits for the write (`npm run bench` saw it cost a landing more than
 * anything else).
 */
let debug: boolean | undefined;
try {
  debug = 'debug' in data || /tap_debug=1/.test(location.search + document.cookie);
} catch {}

/** Logs one decision with the fixed `[tap]` prefix, in debug mode only. */
export const log = (...args: unknown[]) => {
  // A page may replace console methods; logging must never be what breaks it.
  try {
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
