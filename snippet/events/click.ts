import type { Attribution } from '../types';
import { kernel } from '../kernel';
import { post } from './send';
import { MAX_URL_LENGTH } from '../../common/contract';

/** The proxy refuses a longer landing page or referrer; the click still sets the cookie. */

/** Settles once this page view's last click has its answer, whose Set-Cookie adds `click_id` (tap-compat.js's getTrackingId waits for it). */
export let clickAnswered: Promise<unknown> = Promise.resolve();

/**
 * Reports a new attribution to the proxy's `click` route, which creates the
 * Tapfiliate click and sets the same cookie again from the server, where
 * Safari's cap on cookies written by script does not apply (docs/reference.md).
 * The answer needs no handling: its Set-Cookie is the whole point, and a
 * failed click leaves the cookie tap.js wrote in place.
 */
export const click = (landing: Attribution & { landing_page: string }, test: boolean) => {
  const body = {
    ...landing,
    landing_page: landing.landing_page.slice(0, MAX_URL_LENGTH),
    // The page's referrer, which no URL change in a single-page app alters.
    referrer: document.referrer.slice(0, MAX_URL_LENGTH),
    ...(test && { test: true }),
  };
  clickAnswered = post('click', JSON.stringify(body)).then((answer) => kernel.log('click', answer));
};
