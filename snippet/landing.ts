import { TRACKING } from './capture';
import { writeCookie } from './cookie';
import type { EventsModule } from './kernel';
import { load } from './loader';
import { attempt } from './log';
import { Limit, Name } from './names';

/**
 * In a frame, nothing is captured: a page that frames the shop must not make
 * clicks out of its own visitors (docs/security.md). Reading `top` of a
 * cross-origin parent is allowed, but a hostile page may make it throw.
 */
const framed = attempt(() => window.top !== window, true);

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
  if (landed) writeCookie(Name.LANDING_COOKIE, Date.now() + ' ' + location.href.slice(0, Limit.LANDING_URL), Limit.LANDING_SECONDS);
  // Otherwise LANDING_COOKIE, or PENDING_COOKIE: a landing or an event an earlier page view left
  // (snippet/outbox.ts). A landing reads no cookie here: in Chromium a read after a write is a
  // synchronous call to the browser. An event sent on this page view goes through the same load,
  // so it is sent after the landing is stored and carries its cookie.
  if (landed || /(^|; )tap_[lp]=/.test(document.cookie)) load<EventsModule>(Name.EVENTS).then((events) => events && events.store());
};
