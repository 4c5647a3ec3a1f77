import { TRACKING } from './capture';
import { load } from './loader';
import { attempt } from './log';
import { EVENTS, LANDING_COOKIE } from './names';
import type { EventsModule } from './types';
import { MAX_COOKIE_DAYS } from '../common/contract';

/** Settles once the last landing is stored; events wait for it, so they carry its cookie. */
export let landing: Promise<unknown> = Promise.resolve();

/**
 * In a frame, nothing is captured: a page that frames the shop must not make
 * clicks out of its own visitors (docs/security.md). Reading `top` of a
 * cross-origin parent is allowed, but a hostile page may make it throw.
 */
const framed = attempt(() => window.top !== window, true);

/** Longest landing URL kept; the click route takes 2,048 characters, and a cookie at most about 4 KB. */
const MAX_LANDING_URL = 1200;
/**
 * The longest `data-cookie-days`, so the landing cookie outlives none the tag
 * may ask for; tap-events.js drops a landing older than the tag's own.
 */
const LANDING_SECONDS = MAX_COOKIE_DAYS * 24 * 60 * 60;

/**
 * Reads the current URL as a landing, now, before a router can strip it or
 * the page be left: a URL with a tracking parameter is written as the landing
 * cookie at once, and tap-events.js stores it as the attribution and reports
 * its click (snippet/events/landing.ts). A page view without one, or without
 * a landing or event left by an earlier one, loads nothing and opens no storage.
 */
export const land = () => {
  if (framed) return;
  if (TRACKING.test(location.search)) {
    document.cookie =
      LANDING_COOKIE + '=' + encodeURIComponent(Date.now() + ' ' + location.href.slice(0, MAX_LANDING_URL)) +
      '; path=/; samesite=lax; max-age=' + LANDING_SECONDS + (location.protocol == 'https:' ? '; secure' : '');
  }
  // LANDING_COOKIE, or PENDING_COOKIE: an event an earlier page view left (snippet/outbox.ts).
  if (/(^|; )tap_[lp]=/.test(document.cookie)) landing = load<EventsModule>(EVENTS).then((events) => events && events.land());
};
