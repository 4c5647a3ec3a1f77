import { encodeReference } from '../common/attribution';
import { data } from './config';
import { answer, consentAnswer, granted } from './consent';
import { readCookie } from './cookie';
import { land, landing } from './landing';
import { load } from './loader';
import { attempt, ignore, log } from './log';
import { EVENTS, OUTBOX_KEY, PENDING_EVENT, REF } from './names';
import type { ConversionInput, CustomerInput, EventKind, EventsModule, RefModule, TapResult } from './types';

/**
 * Runs `step` with the events code once the landing is stored, so the first
 * event carries its cookie; drops the call when the code cannot load.
 */
const withEvents = <T>(step: (events: EventsModule) => T | Promise<T>): Promise<T | TapResult> =>
  landing
    .then(() => load<EventsModule>(EVENTS))
    .then((events) => (events ? step(events) : ignore('events script not loaded')));

/** Waits for consent, then sends; never rejects: whatever goes wrong resolves as a skipped result. */
const run = (kind: EventKind, input: unknown): Promise<TapResult> =>
  consentAnswer
    .then(() => (granted ? withEvents((events) => events.track(kind, input)) : ignore('no consent')))
    .catch((error) => {
      log(error);
      return ignore('error');
    });

/**
 * Stores this landing's parameters, decorates links to `data-domains`, then
 * resends what earlier page views left: an outbox entry is checked without
 * parsing it.
 */
export const start = () => {
  attempt(land);
  const domains = data.domains;
  if (domains) load<RefModule>(REF).then((ref) => ref && ref.links(domains));
  if ((attempt(() => localStorage.getItem(OUTBOX_KEY)) || '').includes(PENDING_EVENT)) withEvents((events) => events.replay());
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
