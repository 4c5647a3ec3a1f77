import { encodeReference } from '../common/attribution';
import { data } from './config';
import { answer, consentAnswer, granted } from './consent';
import { readCookie } from './cookie';
import { land, landing } from './landing';
import { load } from './loader';
import { attempt, ignore, log, offline } from './log';
import { isTest, readOutbox, saveOutbox } from './outbox';
import { EVENTS, REF } from './names';
import type { ConversionInput, CustomerInput, EventRoute, EventsModule, TapResult } from './types';

/**
 * The event's id. A signed event carries it inside `signed`, whose fields win
 * at the proxy, so that is the one the duplicate guard must use.
 */
const idOf = (event: Record<string, unknown>, field: string) => {
  let inside;
  // No `signed`, one that does not parse, or a JSON null throws: the outer field counts.
  try {
    inside = JSON.parse(event.signed as string)[field];
  } catch {}
  return inside == null ? event[field] : inside;
};

/**
 * Stores an event in the outbox under its key, once per id from this browser,
 * before anything loads, so neither a failed load nor a page left at once
 * loses it; then hands it to tap-events.js to send. When that file cannot
 * load, the event waits for a later page view.
 */
const keep = (kind: EventRoute, input: unknown, idField: string): TapResult | Promise<TapResult> => {
  const event = Object(input);
  const id = idOf(event, idField);
  if (id == null || !String(id).trim()) return ignore('no-id');
  const key = kind + ':' + id;
  // `undefined` is left out of the JSON.
  const body = JSON.stringify({ ...event, test: isTest() || undefined });
  const outbox = readOutbox();
  if (outbox[key]) {
    ignore('dup');
    return { ok: true, status: 'duplicate' };
  }
  outbox[key] = { b: body, t: Date.now() };
  saveOutbox(outbox);
  return load<EventsModule>(EVENTS).then((module) => (module ? module.deliver(key, body) : offline('not-loaded')));
};

/**
 * Waits for consent and the landing, then keeps the event.
 * Never rejects: whatever goes wrong resolves as a skipped result.
 */
const run = (kind: EventRoute, input: unknown, idField: string): Promise<TapResult> =>
  consentAnswer
    .then(() => (granted ? landing.then(() => keep(kind, input, idField)) : ignore('no-consent')))
    .catch((error) => {
      log(error);
      return ignore('error');
    });

/**
 * Has tap-events.js store this landing and resend what earlier page views
 * left (snippet/landing.ts), and tap-ref.js decorate links to `data-domains`.
 */
export const start = () => {
  attempt(land);
  // tap-ref.js decorates the links itself as it loads.
  if (data.domains) load(REF);
};

/** The `tap` API (docs/reference.md); every entry resolves or returns, never throws. */
export const api = {
  __proto__: null,
  /**
   * Sends a conversion once per `external_id`.
   * @example tap.convert({ external_id: 'ORD005', amount: 100, currency: 'EUR' })
   * @example tap.convert({ signed: '{"external_id":"ORD005","amount":100}', signature: '5c9e…' })
   */
  convert: (conversion: ConversionInput) => run('convert', conversion, 'external_id'),
  /**
   * Sends a sign-up or lead once per `customer_id`.
   * @example tap.customer({ customer_id: 'USR42' })
   */
  customer: (customer: CustomerInput) => run('customer', customer, 'customer_id'),
  /**
   * Grants or refuses consent when the tag has `data-consent="required"`;
   * calls made while waiting are sent, or dropped.
   * @example tap.consent(true)
   */
  consent: (yes: boolean) =>
    attempt(() => {
      log('consent', yes);
      const first = yes && !granted;
      answer(!!yes);
      if (first) start();
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
