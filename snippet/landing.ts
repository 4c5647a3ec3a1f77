import { TRACKING } from './capture';
import { writeCookie } from './cookie';
import type { EventsModule } from './kernel';
import { load } from './loader';
import { attempt } from './log';
import { Name } from './names';
import { MAX_COOKIE_DAYS } from '../common/contract';

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
export const keepLanding = () => {
  if (framed) return;
  const landed = TRACKING.test(location.search);
  if (landed) writeCookie(Name.LANDING_COOKIE, Date.now() + ' ' + location.href.slice(0, MAX_LANDING_URL), LANDING_SECONDS);
  // Otherwise LANDING_COOKIE, or PENDING_COOKIE: a landing or an event an earlier page view left
  // (snippet/outbox.ts). A landing reads no cookie here: in Chromium a read after a write is a
  // synchronous call to the browser. An event sent on this page view goes through the same load,
  // so it is sent after the landing is stored and carries its cookie.
  if (landed || /(^|; )tap_[lp]=/.test(document.cookie)) load<EventsModule>(Name.EVENTS).then((events) => events && events.store());
};
