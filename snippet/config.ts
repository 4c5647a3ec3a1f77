// Reads the script tag once (contract §1). `currentScript` is null when a tag
// manager or loader injects the script, hence the fallback to the last tap.js tag.
const tag = (document.currentScript || [...document.querySelectorAll('script[src*="tap.js"]')].pop()) as
  | HTMLScriptElement
  | undefined;
const data: DOMStringMap = tag ? tag.dataset : {};

/** Where events go, ending in one `/`: `data-endpoint`, else the folder the script was loaded from. */
export const endpoint = (data.endpoint || (tag && tag.src.replace(/[^/]*$/, '')) || '/_tap').replace(/\/*$/, '/');
export const cookieDays = +data.cookieDays! || 90;
export const cookieDomain = data.cookieDomain;
export const firstTouch = data.attribution == 'first';
export const consentRequired = data.consent == 'required';
export const debug = 'debug' in data || /tap_debug=1/.test(location.search);
