// How long the tag asks for the cookie to last; read by tap.js (the landing
// cookie) and tap-events.js (the attribution), each from the tag's dataset.
import { DEFAULT_COOKIE_DAYS, MAX_COOKIE_DAYS } from '../common/contract';


/** `data-cookie-days`: a whole number of days from 1 to 365; anything else is the default, as the proxy refuses it. */
export const cookieDaysOf = (data: DOMStringMap) => {
  const days = Number(data.cookieDays);
  return days % 1 == 0 && days >= 1 && days <= MAX_COOKIE_DAYS ? days : DEFAULT_COOKIE_DAYS;
};
