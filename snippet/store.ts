import { attempt } from './log';

/**
 * Events by key (`convert:ORD5`): `{ b: body, t: ms }` while no proxy has answered
 * (the outbox), then `1`, which only marks the key as sent. An object, not an
 * array, so a page's Array#toJSON (prototype.js) cannot garble it.
 */
export type Events = Record<string, { b?: string; t?: number } | 1>;

const KEY = 'tap_events';
/** This page's last write, for when storage throws: it still deduplicates within a page view. */
let memory: string;

// Storage first: another tab may have added to the outbox since this page last wrote.
export const load = (): Events => attempt(() => JSON.parse(attempt(() => localStorage.getItem(KEY)) || memory || '{}')) || {};

/** Saves the newest 50 keys; string keys keep insertion order (ECMA-262 OrdinaryOwnPropertyKeys). */
export const save = (events: Events) =>
  attempt(() => {
    Object.keys(events)
      .slice(0, -50)
      .forEach((key) => delete events[key]);
    memory = JSON.stringify(events);
    localStorage.setItem(KEY, memory);
  });
