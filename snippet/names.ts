// Names shared by tap.js and its lazy files. No imports and no statements, so
// a lazy bundle can take them without pulling in the page-view code. A const
// enum, so esbuild writes each name where it is used instead of a variable.

/** Marks an event the proxy has accepted in the outbox, so the same id is not sent again. */
export const SENT = 1;

export const enum Name {
  /** localStorage key of the outbox (see snippet/outbox.ts). */
  OUTBOX_KEY = 'tap_events',

  /** How a waiting event starts in the outbox's JSON: `{"b":body,"t":ms}`. */
  PENDING_EVENT = '{"b":',

  /** The URL parameter carrying a reference from `tap.reference()`, added to links by `data-domains`. */
  REFERENCE_PARAMETER = 'tap_ref',

  /**
   * A cookie holding a landing's time (ms) and URL, written the moment the page
   * loads (snippet/landing.ts), until tap-events.js stores it as `tap_data`
   * (snippet/events/landing.ts): a page left before that file has run loses no
   * landing, as the next page view stores it.
   */
  LANDING_COOKIE = 'tap_l',

  /** Lazy files, each `tap-<name>.js` next to tap.js; build.mjs writes them (snippet/kernel.ts). */
  EVENTS = 'events',
  OUTBOX = 'outbox',
  REF = 'ref',
  COMPAT = 'compat',

  /** sessionStorage key: `?tap_test=1` keeps test mode on for the rest of the tab's session. */
  TEST_KEY = 'tap_test',

  /**
   * A session cookie set with the first `?tap_test=1` of a browser session and
   * never removed in it: only while it is set is sessionStorage read for test
   * mode, so the landings and events of a shopper who never tested open no sessionStorage.
   */
  SESSION_COOKIE = 'tap_s',

  /** URL parameter and session cookie: `?tap_debug=1` keeps debug mode on for the rest of the browser session (snippet/log.ts). */
  DEBUG_KEY = 'tap_debug',

  /**
   * A cookie set while the outbox holds an event no proxy has answered: a page
   * view reads it with the document's other cookies, and opens localStorage (a
   * slow first access in Chromium) only when something waits to be resent.
   */
  PENDING_COOKIE = 'tap_p',
}

/** Limits tap.js and its lazy files share, written where they are used (a const enum). */
export const enum Limit {
  /** Longest landing URL kept; the click route takes 2,048 characters, and a cookie at most about 4 KB. */
  LANDING_URL = 1200,
  /**
   * The landing cookie's lifetime: the longest `data-cookie-days` (MAX_COOKIE_DAYS,
   * common/contract.ts), so it outlives none the tag may ask for; tap-events.js
   * drops a landing older than the tag's own.
   */
  LANDING_SECONDS = 365 * 24 * 60 * 60,
  /** The pending cookie's lifetime: as long as an unanswered event is kept (snippet/events/track.ts). */
  PENDING_SECONDS = 7 * 24 * 60 * 60,
}
