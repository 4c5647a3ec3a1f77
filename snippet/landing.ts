import { REFERENCE_FIELDS } from '../common/attribution';
import { TRACKING, capture } from './capture';
import { cookieDays, data } from './config';
import { readCookie, writeCookie } from './cookie';
import { load } from './loader';
import { attempt, log } from './log';
import { EVENTS, REF, REFERENCE_PARAMETER, TEST_KEY } from './names';
import type { Attribution, EventsModule, RefModule } from './types';

const MS_PER_SECOND = 1000;

/**
 * Settles once the last landing is stored. A `tap_ref` landing waits for its
 * decoder (tap-ref.js), and events wait for it, so they carry its cookie.
 */
export let landing: Promise<unknown> = Promise.resolve();

/**
 * In a frame, nothing is captured: a page that frames the shop must not make
 * clicks out of its own visitors (docs/security.md). Reading `top` of a
 * cross-origin parent is allowed, but a hostile page may make it throw.
 */
const framed = attempt(() => window.top !== window, true);

/**
 * Test mode from a URL (docs/reference.md, "Test mode"): `?tap_test=1` counts
 * only while no real attribution is stored (nothing stored, or what this tab
 * stored in test mode), and a landing without it ends it, so nobody's link can
 * turn another affiliate's shopper into a test.
 */
const testFromUrl = (query: URLSearchParams, stored: Attribution | null, tracked: boolean) =>
  attempt(() => {
    const session = sessionStorage.getItem(TEST_KEY) == '1';
    if (query.get(TEST_KEY) != '1') {
      if (tracked && session) sessionStorage.removeItem(TEST_KEY);
    } else if (!stored || session) {
      sessionStorage.setItem(TEST_KEY, '1');
    } else {
      log('skip', 'test-over-real');
    }
  });

/**
 * Reads the current URL as a landing, now, before a router can strip it:
 * stores a new attribution, then reports it with a click from tap-events.js.
 * A `tap_ref` needs its decoder from tap-ref.js: the landing's own parameters
 * are stored at once, and the click waits for the decoder, or for its failure.
 */
export const land = () => {
  if (framed || !TRACKING.test(location.search)) return;
  const query = new URLSearchParams(location.search);
  const landingPage = location.href;
  const reference = query.get(REFERENCE_PARAMETER);
  const stored = readCookie();
  const own = capture(query);
  testFromUrl(query, stored, !!(own || reference));

  const store = (captured: Attribution | undefined, click: boolean) => {
    if (!captured) return;
    // Kept in first-touch mode, or when the landing carries what is stored already, as on a
    // reload. The proxy adds `click_id` to the cookie, so a stored one counts only when the landing carries one too.
    if (
      stored &&
      (data.attribution == 'first' || REFERENCE_FIELDS.every((field) => captured[field] == stored[field] || (field == 'click_id' && !captured[field])))
    ) {
      return log('kept', stored);
    }
    const now = Date.now();
    const cookie = { ...captured, ts: Math.floor(now / MS_PER_SECOND) };
    // landed_at tells this landing from another one in the same second, so the proxy creates one click for each.
    const landed = { ...cookie, landed_at: now, landing_page: landingPage, cookie_domain: writeCookie(cookie), cookie_days: cookieDays };
    if (click) load<EventsModule>(EVENTS).then((events) => events && events.click(landed));
  };

  store(own, !reference);
  if (reference) landing = load<RefModule>(REF).then((ref) => attempt(() => store(capture(query, ref && ref(reference)), true)));
};
