// Reads the script tag once; each attribute is described in docs/reference.md.
// `currentScript` is set while any classic script runs its top level, async
// ones and those a tag manager inserts included; it is null only for a module
// or a copy run from elsewhere, which then gets the `/_tap/` defaults.

const tag = document.currentScript as HTMLScriptElement | null;
/** The tag's `data-*` attributes. */
export const data: DOMStringMap = tag ? tag.dataset : {};

const DEFAULT_COOKIE_DAYS = 90;
const MAX_COOKIE_DAYS = 365;

/**
 * A lazily loaded file next to tap.js (`tap-events.js`): tap.js's own URL with
 * its file name swapped, so a version query (`tap.js?v=3`) carries over to it.
 * Without a tag, from the default folder.
 */
export const fileUrl = (name: string) => (tag ? tag.src : '/_tap/').replace(/[^/?#]*([?#].*)?$/, 'tap-' + name + '.js$1');

const days = Number(data.cookieDays);
/** A whole number of days from 1 to 365; anything else is the default, as the proxy refuses it. */
export const cookieDays = days % 1 == 0 && days >= 1 && days <= MAX_COOKIE_DAYS ? days : DEFAULT_COOKIE_DAYS;

