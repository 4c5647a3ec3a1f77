// The protocol between tap.js and its lazy files, in one place.
//
// tap.js (snippet/loader.ts) lends its lazy files one object as `tap._`: its
// logging, the tag's dataset, consent, its loader and its cookie reader and
// writer, so no lazy file carries a second copy. The outbox (snippet/outbox.ts)
// and test mode (snippet/test-mode.ts) hold no state of tap.js's: tap-outbox.js
// and tap-events.js each bundle them (tap.js itself only stashes an event at
// the call, snippet/api.ts). A
// lazy file `tap-<name>.js` (names in snippet/names.ts) runs, finds the lent
// object here, and sets its module on it under its name; tap.js's load()
// resolves with that module when the file's load event fires:
//   tap-outbox.js  sets `outbox`: OutboxModule, at a page's first convert or customer,
//                  and marks each key it keeps, so tap-events.js's replay leaves it
//   tap-events.js  sets `events`: EventsModule, where a landing is stored or an event sent
//   tap-compat.js  sets `compat`: CompatModule, at a page's first Tapfiliate call
//   tap-ref.js     sets nothing: it decorates links to `data-domains` itself as it runs
import type { Attribution, EventRoute, TapResult } from './types';

export type { EventRoute };

/** An outbox key (snippet/outbox.ts): `convert:ORD5`, `customer:USR42 signed`, `convert:<ms>`. */
export type OutboxKey = `${EventRoute}:${string}`;

/** What tap.js lends, and each lazy file's module under its name. */
export type Lent = {
  /** snippet/log.ts: one `[tap]` line in debug mode. */
  log: (...args: unknown[]) => void;
  /** The tag's `data-*` attributes (snippet/config.ts). */
  data: DOMStringMap;
  /** Consent now: true, false, or undefined while it waits (snippet/consent.ts). */
  granted: () => boolean | undefined;
  /** Settles at the first answer to consent, or at once when none is required (snippet/consent.ts); then read `granted()`. */
  consent: Promise<void>;
  /** Loads another lazy file once (snippet/loader.ts). */
  load: <T>(name: string) => Promise<T | void>;
  /** snippet/cookie.ts: a cookie's value; the one cookie writer; the attribution in a `tap_data` value. */
  cookie: (name: string, jar?: string) => string | null;
  write: (name: string, value: string | number, seconds?: number, domain?: string) => void;
  attribution: (value: string | null) => Attribution | null;
  events?: EventsModule;
  outbox?: OutboxModule;
  compat?: CompatModule;
  /**
   * An outbox key tap-outbox.js keeps on this page view and sends itself, once
   * the landing of a Tapfiliate `detect` is stored: tap-events.js's replay
   * leaves it (snippet/outbox/index.ts). Only in memory, so a later page view
   * resends one whose page was left before it was sent.
   */
  [kept: OutboxKey]: true;
};

/** tap-events.js. */
export type EventsModule = {
  /** Sends an event stored in the outbox under `key`, and records the answer. */
  deliver: (key: string, body: string) => Promise<TapResult>;
  /** Stores the landing the landing cookie holds, if any, and reports it with a click; returns `document.cookie` as it was. Never throws. */
  store: () => string;
  /** Settles once the last click this page view reported has its answer, which sets `click_id` in the cookie. Never rejects. */
  clicked: () => Promise<unknown>;
};

/**
 * tap-outbox.js: keeps a `convert` or `customer` event under its id, in place of
 * the copy tap.js stashed under `stashed`, and has it sent (snippet/outbox/index.ts).
 */
export type OutboxModule = (kind: EventRoute, input: unknown, stashed?: string) => TapResult | Promise<TapResult>;

/**
 * tap-compat.js: runs one of Tapfiliate's calls (snippet/compat/index.ts);
 * `landed` settles once the landings its `detect` calls so far store are stored.
 */
export type CompatModule = ((command: string, args: unknown[]) => unknown) & { landed: () => Promise<unknown> };

/**
 * The lent object as a lazy file sees it. Object(): a page that replaced
 * `window.tap` gets nothing set rather than a throw.
 */
export const kernel: Lent = Object(Object((window as unknown as { tap?: { _?: Lent } }).tap)._);
