import { OUTBOX_KEY } from '../names';
import { kernel } from '../kernel';

/** Marks an event the proxy has accepted, so the same id is not sent again. */
export const SENT = 1;

/** An event no proxy has answered yet: its body and when it was first saved (ms). */
export type Pending = { b: string; t: number };

/**
 * Events by key (`convert:ORD5`): pending, then SENT. An object, not an
 * array, so a page's Array#toJSON (prototype.js) cannot garble it.
 */
export type Outbox = Record<string, Pending | typeof SENT>;

/** How many keys are kept: enough for any shopper, small enough for localStorage. */
const KEPT_KEYS = 50;

/** This page's last write, for when storage throws: it still deduplicates within a page view. */
let memory: string;

/** Storage first: another tab may have added to the outbox since this page last wrote. */
export const load = (): Outbox =>
  kernel.attempt(() => JSON.parse(kernel.attempt(() => localStorage.getItem(OUTBOX_KEY)) || memory || '{}')) || {};

/** Saves the newest keys; string keys keep insertion order (ECMA-262 OrdinaryOwnPropertyKeys). */
export const save = (outbox: Outbox) =>
  kernel.attempt(() => {
    for (const key of Object.keys(outbox).slice(0, -KEPT_KEYS)) delete outbox[key];
    memory = JSON.stringify(outbox);
    localStorage.setItem(OUTBOX_KEY, memory);
  });
