import type { ConversionInput, CustomerInput, TapResult } from '../proxy/schema';
import { capture } from './capture';
import { consentRequired, firstTouch } from './config';
import { readCookie, writeCookie } from './cookie';
import { attempt, ignore, log } from './log';
import { post } from './send';
import { load, save } from './store';

type Kind = 'convert' | 'customer';

const landing = capture();
/** undefined while `data-consent="required"` waits for an answer. */
let granted: boolean | undefined = !consentRequired || undefined;
let answered: () => void;
/** Settles at the first answer to consent; calls made while waiting run then, in order. */
const consentAnswer = new Promise<void>((resolve) => (answered = resolve));

const deliver = (key: string, body: string): Promise<TapResult> =>
  post(key.split(':')[0], body).then((answer) => {
    log(key, answer);
    if (!answer) return { ok: false, status: 'offline', reason: 'no answer' };
    // A 5xx or a 429 (rate limited) stays in the outbox; any other answer from the proxy is final.
    if (answer[0] < 500 && answer[0] != 429) {
      const events = load();
      if (answer[0] < 300) events[key] = 1;
      else delete events[key], ignore('refused ' + key);
      save(events);
    }
    return answer[1];
  });

const track = (kind: Kind, input: unknown): TapResult | Promise<TapResult> => {
  if (!granted)
    return granted == null ? consentAnswer.then(() => run(kind, input)) : ignore('no consent');
  const idField = (kind == 'convert' ? 'external' : kind) + '_id';
  const id = Object(input)[idField];
  if (id == null || !('' + id).trim()) return ignore('missing ' + idField);
  const key = kind + ':' + id;
  const body = JSON.stringify(input);
  const events = load();
  if (events[key]) return ignore('duplicate'), { ok: true, status: 'duplicate' };
  // Saved before sending, so a tab closed mid-request resends on the next page view.
  events[key] = { b: body, t: Date.now() };
  save(events);
  return deliver(key, body);
};

/** Never rejects: whatever goes wrong resolves as a skipped result. */
const run = (kind: Kind, input: unknown) =>
  new Promise<TapResult>((resolve) => resolve(track(kind, input))).catch((error) => (log(error), ignore('error')));

/** Stores this landing's parameters (contract §3), then resends what earlier page views left. */
export const start = () => {
  attempt(
    () =>
      (firstTouch && readCookie()) || (landing && writeCookie({ ...landing, ts: Math.round(Date.now() / 1e3) })),
  );
  attempt(() => {
    const events = load();
    Object.keys(events).forEach((key) => {
      const { b, t } = events[key] as { b?: string; t: number };
      // A week bounds how long an unanswered event may wait for its proxy; then it is dropped.
      b && (Date.now() - t < 6048e5 ? deliver(key, b) : (delete events[key], save(events), ignore('expired ' + key)));
    });
  });
};

/** The `tap` API of contract §2; every entry resolves or returns, never throws. */
export const api = {
  __proto__: null,
  /**
   * Sends a conversion once per `external_id`.
   * @example tap.convert({ external_id: 'ORD005', amount: 100, currency: 'EUR' })
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
      yes && !granted && start();
      granted = !!yes;
      answered();
    }),
  /**
   * The stored attribution, or null.
   * @example tap.data() // { referral_code: 'anna', ts: 1795000000 }
   */
  data: readCookie,
};

export const boot = () => granted && start();
