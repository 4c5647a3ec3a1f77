// POST /click: a landing the snippet has just stored. Creates a Tapfiliate
// click (so affiliates see it, and the conversion can name it) and sets the
// tap_data cookie again from the server, where Safari's 7-day cap on cookies
// written by script does not apply (docs/reference.md, "The cookie").
import type { Handler } from 'hono';
import { setCookie } from 'hono/cookie';
import { capturable, FORBIDDEN_ID_CHARACTERS, REFERENCE_FIELDS } from '../../common/attribution';
import { COOKIE_NAME, DEFAULT_COOKIE_DAYS, MAX_URL_LENGTH } from '../../common/contract';
import { allowedOriginsOf, upstreamUrlsOf } from '../config';
import { clickFor } from '../delivery';
import { clickSchema, IDENTIFIER_FIELDS, type Click } from '../events/schema';
import { refuseUnlessConfigured, stored, testAnswer } from '../http/answers';
import { arrivalOf, invalidRequest, jsonObject, parseWith, visitorOf, type AppContext, type AppEnv } from '../http/context';
import { logLine } from '../lib/log';
import { clientNetwork } from '../lib/network';
import { withoutUndefined } from '../lib/plain';
import type { ClickBody } from '../tapfiliate';

export function clickRoute(): Handler<AppEnv> {
  return async function handleClick(c) {
    refuseUnlessConfigured(c);
    const click = parseWith(clickSchema, jsonObject(await c.req.text()));
    for (const field of IDENTIFIER_FIELDS) {
      if (!cookieSafe(click[field])) throw invalidRequest([{ path: field, message: 'must be 1–100 characters without < or >' }]);
    }
    const host = arrivalOf(c).hostname;
    const domain = click.cookie_domain?.replace(/^\./, '').toLowerCase() || undefined;
    if (domain && host !== domain && !host.endsWith(`.${domain}`)) {
      throw invalidRequest([{ path: 'cookie_domain', message: `must be ${host} or a parent domain of it` }]);
    }

    const visitor = visitorOf(c);
    const url = upstreamUrlsOf(c.env).clicks;
    const wanted = click.referral_code && url && !click.click_id;
    let clickId = click.click_id;
    // The one body a click is made of, in test mode shown instead of sent.
    const body: ClickBody = withoutUndefined({
      referral_code: click.referral_code!,
      source_id: click.source_id,
      ...visitor,
      landing_page: forwardableUrl(click.landing_page, landingHosts(c)),
      referrer: forwardableUrl(click.referrer),
    });
    if (wanted && click.test) {
      writeCookie(c, click, domain, undefined);
      return testAnswer(c, [{ kind: 'click', url, body }]);
    }
    if (wanted) {
      try {
        clickId = await clickFor(c.env, clientNetwork(visitor.ip), body);
      } catch (error) {
        // The ledger object that makes clicks could not be reached: the landing's cookie is still
        // set, without a click_id (attribution by the referral code alone), never a 5xx.
        logLine('click_unavailable', { level: 'warn', error: error instanceof Error ? error.message : 'unknown' });
      }
    }
    writeCookie(c, click, domain, clickId);
    return stored(c, clickId ? { click_id: clickId } : {});
  };
}

/** The hosts a landing_page may be on: the shop's (this worker's, or its forwarder's) and those of ALLOWED_ORIGINS. */
function landingHosts(c: AppContext): Set<string> {
  const hosts = new Set([arrivalOf(c).hostname]);
  for (const origin of allowedOriginsOf(c.env).origins) hosts.add(new URL(origin).hostname);
  return hosts;
}

/**
 * A URL Tapfiliate may show the merchant and affiliates: http(s), at most
 * 2,048 characters, no control characters, and, when `hosts` is given, on one
 * of them. Anything else is left out of the click (docs/security.md, "Limits that hold in every mode").
 */
function forwardableUrl(value: string | undefined, hosts?: Set<string>): string | undefined {
  if (!value || value.length > MAX_URL_LENGTH || FORBIDDEN_ID_CHARACTERS.test(value)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  if (hosts && !hosts.has(parsed.hostname)) return undefined;
  return value;
}

/** The snippet's cookie, byte for byte in its format: same name, domain, path and lifetime, now with click_id. */
function writeCookie(c: AppContext, click: Click, domain: string | undefined, clickId: string | undefined): void {
  const data: Record<string, string | number> = {};
  for (const field of REFERENCE_FIELDS) {
    const value = field === 'click_id' ? clickId : click[field];
    if (value !== undefined) data[field] = value;
  }
  data.ts = click.ts ?? Math.round(Date.now() / 1000);
  setCookie(c, COOKIE_NAME, JSON.stringify(data), {
    path: '/',
    ...(domain && { domain }),
    maxAge: (click.cookie_days ?? DEFAULT_COOKIE_DAYS) * 24 * 60 * 60,
    sameSite: 'Lax',
    secure: arrivalOf(c).secure,
  });
}

/** Identifiers a cookie may hold: what the snippet could have captured from a URL, plus a click id. */
function cookieSafe(value: string | undefined): boolean {
  return value === undefined || capturable(value) === value;
}
