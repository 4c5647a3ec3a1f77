// Written by hand, not with js-cookie, which would add ~460 B gzip. Same wire
// format (docs/reference.md): the value is encodeURIComponent(JSON), which
// js-cookie's reader also accepts.
import { REFERENCE_FIELDS, capturable } from '../common/attribution';
import { cookieDays, data } from './config';
import { attempt, log } from './log';
import type { Attribution } from './types';

const COOKIE_NAME = 'tap_data';
const SECONDS_PER_DAY = 24 * 60 * 60;

/** `document.cookie` lists cookies as `name=value` joined by "; " (RFC 6265 §5.4 step 4). */
const get = () => {
  const match = document.cookie.match(/(^|; )tap_data=([^;]*)/);
  return match && decodeURIComponent(match[2]);
};

/**
 * The stored attribution, or null. The proxy writes the same JSON with
 * Set-Cookie; anything malformed or tampered with counts as no cookie.
 */
export const readCookie = (): Attribution | null =>
  attempt(() => {
    const stored = JSON.parse(get()!);
    // Object(): no cookie parses as null, which is not worth a debug line.
    const valid = typeof Object(stored).ts == 'number' && REFERENCE_FIELDS.every((field) => stored[field] == null || capturable(stored[field]) === stored[field]);
    return valid ? stored : null;
  }, null)!;

/**
 * Writes on the broadest domain the browser accepts, so `www.` and `checkout.`
 * share one cookie, and returns that domain ('' for a host-only cookie).
 * Browsers refuse public suffixes and, on IP hosts, any other host (RFC 6265
 * §5.3 steps 5–6), so reading the cookie back tells which write took:
 * `x.pages.dev` falls through to itself, `localhost` stays host-only.
 */
export const writeCookie = (attribution: Attribution): string => {
  const value = JSON.stringify(attribution);
  const labels = location.hostname.split('.');
  const cookieDomain = data.cookieDomain;
  let attributes = '; path=/; samesite=lax; max-age=' + cookieDays * SECONDS_PER_DAY;
  if (location.protocol == 'https:') attributes += '; secure';
  // From the last two labels, one more each round, then host-only when `first` is below 0.
  for (let first = labels.length - 2; ; first--) {
    const domain = cookieDomain || (first < 0 ? '' : labels.slice(first).join('.'));
    document.cookie = COOKIE_NAME + '=' + encodeURIComponent(value) + (domain && '; domain=' + domain) + attributes;
    if (cookieDomain || first < 0 || get() == value) {
      log('stored', value, domain);
      return domain;
    }
  }
};
