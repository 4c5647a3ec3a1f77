// Read by hand, not with js-cookie, which would add ~460 B gzip. Same wire
// format (docs/reference.md): the value is encodeURIComponent(JSON), which
// js-cookie's reader also accepts. tap-events.js writes it (snippet/events/landing.ts).
import { REFERENCE_FIELDS, capturable } from '../common/attribution';
import { attempt } from './log';
import type { Attribution } from './types';
import { COOKIE_NAME } from '../common/contract';

/**
 * A cookie's value, or null, also when the page makes `document.cookie` throw.
 * `jar` is a `document.cookie` read earlier: each read is a synchronous call
 * to the browser, so a step that needs several cookies reads them once.
 * `document.cookie` lists cookies as `name=value` joined by "; " (RFC 6265 §5.4 step 4).
 */
export const cookieValue = (name: string, jar?: string): string | null =>
  attempt(() => {
    const match = (jar ?? document.cookie).match('(^|; )' + name + '=([^;]*)');
    return match && decodeURIComponent(match[2]);
  }, null)!;

/**
 * The attribution in a tap_data value, or null. The proxy writes the same JSON
 * with Set-Cookie; anything malformed or tampered with counts as no cookie.
 */
export const parseAttribution = (value: string | null): Attribution | null =>
  attempt(() => {
    const stored = JSON.parse(value!);
    // Object(): no cookie parses as null, which is not worth a debug line.
    const valid = typeof Object(stored).ts == 'number' && REFERENCE_FIELDS.every((field) => stored[field] == null || capturable(stored[field]) === stored[field]);
    return valid ? stored : null;
  }, null)!;

/** The stored attribution, or null: `tap.data()`. */
export const readCookie = (): Attribution | null => parseAttribution(cookieValue(COOKIE_NAME));
