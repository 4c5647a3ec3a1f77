import { encodeReference } from '../common/attribution';
import { data } from './config';
import { answer, consentAnswer, granted } from './consent';
import { readCookie, writeCookie } from './cookie';
import type { OutboxModule } from './kernel';
import { keepLanding } from './landing';
import { load } from './loader';
import { attempt, ignore, log } from './log';
import { Limit, Name } from './names';
import type { ConversionInput, CustomerInput, EventRoute, TapResult } from './types';

/**
 * Keeps the event in the outbox at once, as it came, under a key of its own
 * (`convert:<ms>`), so that neither a page left before tap-outbox.js arrives
 * nor a tap-outbox.js that cannot load (the worker down, the file blocked)
 * loses it: a later page view sends it. tap-outbox.js replaces it with the
 * event under its id, once per id (snippet/outbox/index.ts). Marked a test
 * when the tag says so or when this browser session has used `?tap_test=1` at
 * all (the session cookie, snippet/names.ts): in doubt, never a real commission.
 * Returns the key, or nothing where storage is refused.
 */
const stash = (kind: EventRoute, input: unknown) =>
  attempt(() => {
    const now = Date.now();
    const key = kind + ':' + now;
    const outbox = JSON.parse(localStorage[Name.OUTBOX_KEY] || '{}');
    const test = 'test' in data || /(^|; )tap_s=1/.test(document.cookie) || undefined;
    outbox[key] = { b: JSON.stringify({ ...Object(input), test }), t: now };
    localStorage[Name.OUTBOX_KEY] = JSON.stringify(outbox);
    writeCookie(Name.PENDING_COOKIE, 1, Limit.PENDING_SECONDS);
    return key;
  });

/**
 * Waits for consent, stashes the event, then has tap-outbox.js keep it and
 * tap-events.js send it, both loaded at once (snippet/kernel.ts). tap-events.js
 * sends after it has stored this page view's landing, so the request carries
 * its cookie (snippet/landing.ts). Never rejects: whatever goes wrong resolves
 * as a skipped result.
 */
const run = (kind: EventRoute, input: unknown): Promise<TapResult> =>
  consentAnswer
    .then(() => {
      if (!granted) return ignore('no-consent');
      const stashed = stash(kind, input);
      load(Name.EVENTS);
      return load<OutboxModule>(Name.OUTBOX).then((keep): TapResult | Promise<TapResult> =>
        keep ? keep(kind, input, stashed) : { ok: false, status: 'offline', reason: 'not-loaded' },
      );
    })
    .catch((error) => {
      log(error);
      return ignore('error');
    });

/**
 * Has tap-events.js store this landing and resend what earlier page views
 * left (snippet/landing.ts), and tap-ref.js decorate links to `data-domains`.
 */
export const start = () => {
  attempt(keepLanding);
  // tap-ref.js decorates the links itself as it loads.
  if (data.domains) load(Name.REF);
};

/** The `tap` API (docs/reference.md); every entry resolves or returns, never throws. */
export const api = {
  __proto__: null,
  /**
   * Sends a conversion once per `external_id`.
   * @example tap.convert({ external_id: 'ORD005', amount: 100, currency: 'EUR' })
   * @example tap.convert({ signed: '{"external_id":"ORD005","amount":100}', signature: '5c9e…' })
   */
  convert: (conversion: ConversionInput) => run('convert', conversion),
  /**
   * Sends a sign-up or lead once per `customer_id`.
   * @example tap.customer({ customer_id: 'USR42' })
   */
  customer: (customer: CustomerInput) => run('customer', customer),
  /**
   * Grants or refuses consent when the tag has `data-consent="required"`;
   * calls made while waiting are sent, or dropped.
   * @example tap.consent(true)
   */
  consent: (yes: boolean) =>
    attempt(() => {
      log('consent', yes);
      if (answer(yes)) start();
    }),
  /**
   * The stored attribution, or null.
   * @example tap.data() // { referral_code: 'anna', ts: 1795000000 }
   */
  data: readCookie,
  /**
   * The stored attribution as one string of at most 200 characters from
   * [A-Za-z0-9_-], for a hosted checkout; or null.
   * @example stripe.redirectToCheckout({ clientReferenceId: tap.reference() })
   */
  reference: () => attempt(() => encodeReference(readCookie()), null),
};
