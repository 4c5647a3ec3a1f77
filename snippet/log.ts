import { debug } from './config';
import type { TapResult } from './types';

/** Logs one decision with the fixed `[tap]` prefix, only with `data-debug` or `?tap_debug=1`. */
export const log = (...args: unknown[]) => {
  if (!debug) return;
  // A page may replace console methods; logging must never be what breaks it.
  try {
    console.log('[tap]', ...args);
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
export const offline = (reason: string): TapResult => ({ ok: false, status: 'offline', reason });
