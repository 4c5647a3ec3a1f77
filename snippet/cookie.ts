// Written by hand, not with js-cookie: js-cookie adds ~460 B gzip, which puts the
// snippet over its 2,048 B budget (see the report for issue 2). Same wire format:
// the value is encodeURIComponent(JSON), which js-cookie's reader also accepts.
import { ROWS, clean, type Attribution } from './capture';
import { cookieDays, cookieDomain } from './config';
import { attempt, log } from './log';

/** `document.cookie` lists cookies as `name=value` joined by "; " (RFC 6265 §5.4 step 4). */
const get = () => {
  const match = document.cookie.match(/(^|; )tap_data=([^;]*)/);
  return match && decodeURIComponent(match[2]);
};

/**
 * The stored attribution, or null. The proxy may write the same JSON with
 * Set-Cookie; anything malformed or tampered with counts as no cookie.
 */
export const readCookie = (): Attribution | null =>
  attempt(() => {
    const stored = JSON.parse(get()!);
    // Object(): no cookie parses as null, which is not worth a debug line.
    return typeof Object(stored).ts == 'number' &&
      ROWS.every(([field]) => stored[field] == null || clean(stored[field]) == stored[field])
      ? stored
      : null;
  }, null)!;

/**
 * Writes on the broadest domain the browser accepts, so `www.` and `checkout.`
 * share one cookie. Browsers refuse public suffixes and, on IP hosts, any other
 * host (RFC 6265 §5.3 steps 5–6), so reading the cookie back tells which write
 * took: `x.pages.dev` falls through to itself, `localhost` stays host-only.
 */
export const writeCookie = (data: Attribution) => {
  const value = JSON.stringify(data);
  const labels = location.hostname.split('.');
  for (let i = labels.length - 2; ; i--) {
    const domain = cookieDomain || (i < 0 ? '' : labels.slice(i).join('.'));
    document.cookie =
      'tap_data=' +
      encodeURIComponent(value) +
      '; path=/; max-age=' +
      cookieDays * 86400 +
      (domain && '; domain=' + domain) +
      (location.protocol == 'https:' ? '; secure' : '') +
      '; samesite=lax';
    if (cookieDomain || i < 0 || get() == value) return log('stored', value, domain);
  }
};
