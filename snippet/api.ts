import { encodeReference } from '../common/attribution';
import { data } from './config';
import { answer, consentAnswer, granted } from './consent';
import { readCookie } from './cookie';
import type { OutboxModule } from './kernel';
import { keepLanding } from './landing';
import { load } from './loader';
import { attempt, ignore, log } from './log';
import { Name } from './names';
import type { ConversionInput, CustomerInput, EventRoute, TapResult } from './types';

/**
 * Waits for consent, then has tap-outbox.js keep the event and tap-events.js
 * send it, both loaded at once (snippet/kernel.ts). tap-events.js sends after
 * it has stored this page view's landing, so the request carries its cookie
 * (snippet/landing.ts). Never rejects: whatever goes wrong resolves as a skipped result.
 */
const run = (kind: EventRoute, input: unknown): Promise<TapResult> =>
  consentAnswer
    .then(() => {
      if (!granted) return ignore('no-consent');
      load(Name.EVENTS);
      return load<OutboxModule>(Name.OUTBOX).then((keep) => (keep ? keep(kind, input) : ignore('not-loaded')));
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
