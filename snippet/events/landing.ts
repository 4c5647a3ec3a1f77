// tap.js writes a landing's time and URL as the landing cookie the moment the
// page loads (snippet/landing.ts); this file stores it as the attribution and
// reports its click, on that page view or, if it was left first, the next one.
import { REFERENCE_FIELDS, decodeReference } from '../../common/attribution';
import { capture } from '../capture';
import { cookieDaysOf } from '../days';
import { kernel } from '../kernel';
import { Name } from '../names';
import type { Attribution } from '../types';
import { click } from './click';
import { Cookie } from '../../common/contract';

const MS_PER_SECOND = 1000;
const SECONDS_PER_DAY = 24 * 60 * 60;

/**
 * Writes on the broadest domain the browser accepts, so `www.` and `checkout.`
 * share one cookie, and returns that domain ('' for a host-only cookie).
 * Browsers refuse public suffixes and, on IP hosts, any other host (RFC 6265
 * §5.3 steps 5–6), so reading the cookie back tells which write took:
 * `x.pages.dev` falls through to itself, `localhost` stays host-only.
 */
const writeAttribution = (attribution: Attribution, days: number): string => {
  const value = JSON.stringify(attribution);
  const host = location.hostname;
  const labels = host.split('.');
  // On an IPv4 address only the address itself can be the domain (RFC 6265 §5.1.3): no probe.
  const cookieDomain = kernel.data.cookieDomain || (/^[\d.]+$/.test(host) ? host : '');
  // From the last two labels, one more each round, then host-only when `first` is below 0.
  for (let first = labels.length - 2; ; first--) {
    const domain = cookieDomain || (first < 0 ? '' : labels.slice(first).join('.'));
    kernel.write(Cookie.NAME, value, days * SECONDS_PER_DAY, domain);
    if (cookieDomain || first < 0 || kernel.cookie(Cookie.NAME) == value) {
      kernel.log('stored', value, domain);
      return domain;
    }
  }
};

/**
 * Test mode from a URL (docs/reference.md, "Test mode"): `?tap_test=1` counts
 * only while no real attribution is stored (nothing stored, or what this tab
 * stored in test mode), and a landing without it ends it, so nobody's link can
 * turn another affiliate's shopper into a test. Returns whether the tab is in
 * test mode from a URL now.
 */
const testFromUrl = (query: URLSearchParams, stored: Attribution | null, tracked: boolean, jar: string): boolean => {
  const asked = query.get(Name.TEST_KEY) == '1';
  // No tab of this browser session has used `?tap_test=1`: nothing to end, so no sessionStorage.
  if (!asked && !kernel.cookie(Name.SESSION_COOKIE, jar)) return false;
  const session = sessionStorage.getItem(Name.TEST_KEY) == '1';
  if (!asked) {
    if (tracked && session) sessionStorage.removeItem(Name.TEST_KEY);
    return session && !tracked;
  }
  if (!stored || session) {
    sessionStorage.setItem(Name.TEST_KEY, '1');
    kernel.write(Name.SESSION_COOKIE, 1);
    return true;
  }
  kernel.log('skip', 'test-over-real');
  return false;
};

/**
 * Stores the landing the landing cookie holds, if any, and reports a new
 * attribution with a click. Kept instead in first-touch mode, or when the
 * landing carries what is stored already, as on a reload. `jar` is the
 * document's cookies, read once.
 */
const storeFrom = (jar: string) => {
  const raw = kernel.cookie(Name.LANDING_COOKIE, jar);
  if (!raw) return;
  // Read once: whatever happens next, a landing is never stored twice.
  kernel.write(Name.LANDING_COOKIE, '', 0);
  const space = raw.indexOf(' ');
  const landedAt = Number(raw.slice(0, space));
  const landingPage = raw.slice(space + 1);
  const days = cookieDaysOf(kernel.data);
  // A landing whose page was left before this file ran, too long ago for the tag's cookie lifetime.
  if (!(Date.now() - landedAt < days * SECONDS_PER_DAY * MS_PER_SECOND)) return kernel.log('skip', 'expired landing');
  const query = new URL(landingPage).searchParams;
  // Debug mode lasts for the browser session, so a thank-you page after `?tap_debug=1` logs too (snippet/log.ts).
  if (query.get(Name.DEBUG_KEY) == '1') kernel.write(Name.DEBUG_KEY, 1);
  const reference = query.get(Name.REFERENCE_PARAMETER);
  const stored = kernel.attribution(kernel.cookie(Cookie.NAME, jar));
  const captured = capture(query, reference ? decodeReference(reference) : null);
  let test = 'test' in kernel.data;
  try {
    test = testFromUrl(query, stored, !!captured, jar) || test;
  } catch {} // storage refused: no test mode from the URL
  if (test) kernel.log('test');
  if (!captured) return;
  // The proxy adds `click_id` to the cookie, so a stored one counts only when the landing carries one too.
  if (
    stored &&
    (kernel.data.attribution == 'first' || REFERENCE_FIELDS.every((field) => captured[field] == stored[field] || (field == 'click_id' && !captured[field])))
  ) {
    return kernel.log('kept', stored);
  }
  const cookie = { ...captured, ts: Math.floor(landedAt / MS_PER_SECOND) };
  // landed_at tells this landing from another one in the same second, so the proxy creates one click for each.
  click({ ...cookie, landed_at: landedAt, landing_page: landingPage, cookie_domain: writeAttribution(cookie, days), cookie_days: days }, test);
};

/**
 * Stores the landing the landing cookie holds (above), then returns the
 * document's cookies as they were before, read once (snippet/cookie.ts). A
 * landing cookie that cannot be read is dropped; nothing throws into tap.js's promise chain.
 */
export const store = (): string => {
  let jar = '';
  try {
    jar = document.cookie;
    storeFrom(jar);
  } catch (error) {
    kernel.log(error);
  }
  return jar;
};
