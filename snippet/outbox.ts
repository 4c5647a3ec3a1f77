// The outbox (docs/reference.md): events by key (`convert:ORD5`), each pending
// until a proxy answers, then SENT. tap.js writes an event here the moment it is
// called, before anything loads, so a page that is left or a tap-events.js that
// fails to load cannot lose it: a later page view resends it; tap-events.js sends it and records the answer.
import { data } from './config';
import { attempt } from './log';
import { OUTBOX_KEY, TEST_KEY } from './names';

/** Marks an event the proxy has accepted, so the same id is not sent again. */
export const SENT = 1;

/** An event no proxy has answered yet: its body and when it was first saved (ms). */
export type Pending = { b: string; t: number };

/** An object, not an array, so a page's Array#toJSON (prototype.js) cannot garble it. */
export type Outbox = Record<string, Pending | typeof SENT>;

/** This page's last write, for when storage throws: it still deduplicates within a page view. */
let memory: string;

/** Storage first: another tab may have added to the outbox since this page last wrote. */
export const readOutbox = (): Outbox =>
  attempt(() => JSON.parse(attempt(() => localStorage.getItem(OUTBOX_KEY)) || memory || '{}')) || {};

/** Saves the outbox; tap-events.js trims it to the newest keys as it records each answer. */
export const saveOutbox = (outbox: Outbox) =>
  attempt(() => {
    memory = JSON.stringify(outbox);
    localStorage.setItem(OUTBOX_KEY, memory);
  });

/** Test mode (docs/reference.md): `data-test`, or `?tap_test=1` earlier in this tab. Every body then carries `test: true`. */
export const isTest = () => 'test' in data || attempt(() => sessionStorage.getItem(TEST_KEY)) == '1';
