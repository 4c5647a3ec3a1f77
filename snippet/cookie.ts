// Read and written by hand, not with js-cookie, which would add ~460 B gzip. Same
// wire format (docs/reference.md): the value is encodeURIComponent(JSON), which
// js-cookie's reader also accepts. tap.js lends these to its lazy files (snippet/kernel.ts).
import { REFERENCE_FIELDS, capturable } from '../common/attribution';
import type { Attribution } from './types';
import { Cookie } from '../common/contract';

/**
 * A cookie's value, or null, also when the page makes `document.cookie` throw.
 * `jar` is a `document.cookie` read earlier: each read is a synchronous call
 * to the browser, so a step that needs several cookies reads them once.
 * `document.cookie` lists cookies as `name=value` joined by "; " (RFC 6265 §5.4 step 4).
 */
export const cookieValue = (name: string, jar?: string): string | null => {
  try {
    const match = (jar ?? document.cookie).match('(^|; )' + name + '=([^;]*)');
    return match && decodeURIComponent(match[2]);
  } catch {
    return null;
  }
};

/**
 * The one cookie writer of tap.js and its lazy files: every cookie is `path=/`, `SameSite=Lax`, and
 * `Secure` on https. `seconds` left out makes a session cookie, 0 removes it;
 * `domain` left out makes it host-only. May throw where the page makes
 * `document.cookie` throw.
 */
export const writeCookie = (name: string, value: string | number, seconds?: number, domain?: string) => {
  document.cookie =
    name + '=' + encodeURIComponent(value) + '; path=/; samesite=lax' +
    (seconds! >= 0 ? '; max-age=' + seconds : '') + (domain ? '; domain=' + domain : '') + (location.protocol == 'https:' ? '; secure' : '');
};

/**
 * The attribution in a tap_data value, or null. The proxy writes the same JSON
 * with Set-Cookie; anything malformed or tampered with counts as no cookie.
 */
export const parseAttribution = (value: string | null): Attribution | null => {
  try {
    const stored = JSON.parse(value!);
    // Object(): no cookie parses as null.
    if (typeof Object(stored).ts == 'number' && REFERENCE_FIELDS.every((field) => stored[field] == null || capturable(stored[field]) === stored[field])) return stored;
  } catch {}
  return null;
};

/** The stored attribution, or null: `tap.data()`. */
export const readCookie = (): Attribution | null => parseAttribution(cookieValue(Cookie.NAME));
