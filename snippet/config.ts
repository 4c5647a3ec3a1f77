// Reads the script tag once (contract §1). `currentScript` is null when a tag
// manager or loader injects the script, hence the fallback to the last tap.js tag.
const tags = document.querySelectorAll<HTMLScriptElement>('script[src*="tap.js"]');
const tag = (document.currentScript as HTMLScriptElement | null) || tags[tags.length - 1];
const data: DOMStringMap = tag ? tag.dataset : {};

/** Where events go: `data-endpoint`, else the folder the script was loaded from. */
export const endpoint = (data.endpoint || (tag && tag.src.replace(/[^/]*$/, '')) || '/_tap').replace(/\/+$/, '');
export const cookieDays = +data.cookieDays! || 90;
export const cookieDomain = data.cookieDomain;
export const firstTouch = data.attribution == 'first';
export const consentRequired = data.consent == 'required';
export const debug = data.debug != null || /tap_debug=1/.test(location.search);
