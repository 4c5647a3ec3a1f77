// The outbox (docs/reference.md): events by key (`convert:ORD5`), each pending
// until a proxy answers, then SENT. tap-outbox.js writes an event here the
// moment it runs, before it is sent, so a page that is left or a tap-events.js
// that fails to load cannot lose it: a later page view resends it;
// tap-events.js sends it and records the answer. Both lazy files bundle it
// (snippet/kernel.ts).
import { kernel } from './kernel';
import { Limit, Name, type SENT } from './names';

/** An event no proxy has answered yet: its body and when it was first saved (ms). */
type Pending = { b: string; t: number };

/** An object, not an array, so a page's Array#toJSON (prototype.js) cannot garble it. */
export type Outbox = Record<string, Pending | typeof SENT>;

/** This file's last write, for when storage throws: it still deduplicates within a page view. */
let memory: string;

/** Storage first: another tab may have added to the outbox since this page last wrote. */
export const readOutbox = (): Outbox => {
  let stored;
  try {
    stored = localStorage.getItem(Name.OUTBOX_KEY);
  } catch {}
  try {
    return JSON.parse(stored || memory || '{}') || {};
  } catch {
    return {};
  }
};

/**
 * Saves the outbox, and sets the pending cookie while it holds an unanswered
 * event (snippet/names.ts), host-only like localStorage. tap-events.js trims
 * the outbox to the newest keys as it records each answer. Never throws.
 */
export const saveOutbox = (outbox: Outbox) => {
  try {
    memory = JSON.stringify(outbox);
    localStorage.setItem(Name.OUTBOX_KEY, memory);
  } catch {}
  try {
    kernel.write(Name.PENDING_COOKIE, 1, memory.includes(Name.PENDING_EVENT) ? Limit.PENDING_SECONDS : 0);
  } catch {}
};
