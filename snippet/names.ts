// Names shared by tap.js and its lazy files. No imports and no statements, so
// a lazy bundle can take them without pulling in the page-view code.

/** localStorage key of the outbox (see snippet/outbox.ts). */
export const OUTBOX_KEY = 'tap_events';

/** How a waiting event starts in the outbox's JSON: `{"b":body,"t":ms}`. A sent one is just `1`. */
export const PENDING_EVENT = '{"b":';

/** The URL parameter carrying a reference from `tap.reference()`, added to links by `data-domains`. */
export const REFERENCE_PARAMETER = 'tap_ref';

/** Lazy files, each `tap-<name>.js` next to tap.js; build.mjs writes them. */
export const EVENTS = 'events';
export const REF = 'ref';

/** sessionStorage key: `?tap_test=1` keeps test mode on for the rest of the tab's session. */
export const TEST_KEY = 'tap_test';
