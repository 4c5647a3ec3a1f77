// The outbox (docs/reference.md): events by key (`convert:ORD5`), each pending
// until a proxy answers, then SENT. tap.js writes an event here the moment it is
// called, before anything loads, so a page that is left or a tap-events.js that
// fails to load cannot lose it: a later page view resends it; tap-events.js sends it and records the answer.
import { data } from './config';
import { attempt } from './log';
import { OUTBOX_KEY, PENDING_COOKIE, PENDING_EVENT, TEST_KEY } from './names';

/** How long the pending cookie lasts: as long as an unanswered event is kept (snippet/events/track.ts). */
const PENDING_SECONDS = 7 * 24 * 60 * 60;

/** Marks an event the proxy has accepted, so the same id is not sent again. */
export const SENT = 1;

/** An event no proxy has answered yet: its body and when it was first saved (ms). */
type Pending = { b: string; t: number };

/** An object, not an array, so a page's Array#toJSON (prototype.js) cannot garble it. */
type Outbox = Record<string, Pending | typeof SENT>;

/** This page's last write, for when storage throws: it still deduplicates within a page view. */
let memory: string;

/** Storage first: another tab may have added to the outbox since this page last wrote. */
export const readOutbox = (): Outbox =>
  attempt(() => JSON.parse(attempt(() => localStorage.getItem(OUTBOX_KEY)) || memory || '{}')) || {};

/**
 * Saves the outbox, and sets the pending cookie while it holds an unanswered
 * event (snippet/names.ts), host-only like localStorage. tap-events.js trims
 * the outbox to the newest keys as it records each answer.
 */
export const saveOutbox = (outbox: Outbox) => {
  attempt(() => {
    memory = JSON.stringify(outbox);
    localStorage.setItem(OUTBOX_KEY, memory);
  });
  attempt(() => {
    document.cookie = PENDING_COOKIE + '=1; path=/; samesite=lax; max-age=' + (memory.includes(PENDING_EVENT) ? PENDING_SECONDS : 0);
  });
};

/**
 * Test mode (docs/reference.md): `data-test`, or `?tap_test=1` earlier in this
 * tab, looked up only when SESSION_COOKIE (`tap_s`, spelled out for a literal
 * expression) says this browser session has used it. Every body then carries `test: true`.
 */
export const isTest = () => 'test' in data || attempt(() => /(^|; )tap_s=1/.test(document.cookie) && sessionStorage.getItem(TEST_KEY) == '1');
