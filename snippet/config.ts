// Reads the script tag once; each attribute is described in docs/reference.md.
// `currentScript` is null when a tag manager or loader injects the script,
// hence the fallback to the last tap.js tag.

const tag = (document.currentScript || [...document.querySelectorAll('script[src*="tap.js"]')].pop()) as
  | HTMLScriptElement
  | undefined;
/** The tag's `data-*` attributes. */
export const data: DOMStringMap = tag ? tag.dataset : {};

const DEFAULT_COOKIE_DAYS = 90;
const MAX_COOKIE_DAYS = 365;

/** tap.js's own URL, or '' when the tag is not found. */
export const src = tag ? tag.src : '';

/**
 * A lazily loaded file next to tap.js (`tap-events.js`): tap.js's own URL with
 * its file name swapped, so a version query (`tap.js?v=3`) carries over to it.
 * Without a tag, from the default folder.
 */
export const fileUrl = (name: string) => (src || '/_tap/').replace(/[^/?#]*([?#].*)?$/, 'tap-' + name + '.js$1');

const days = Number(data.cookieDays);
/** A whole number of days from 1 to 365; anything else is the default, as the proxy refuses it. */
export const cookieDays = Number.isInteger(days) && days >= 1 && days <= MAX_COOKIE_DAYS ? days : DEFAULT_COOKIE_DAYS;

export const debug = 'debug' in data || /[?&]tap_debug=1/.test(location.search);
