// POST /webhooks/<platform>: paid orders, renewals and refunds straight from a
// payment platform (proxy/platforms/index.ts lists them; docs/guides/ has one
// guide each), into the same ledger as tap.convert, so a webhook and a
// thank-you page for one order send it once. One handler serves every
// platform: the platform's file verifies and reads its event, this file does
// the rest alike. The platform's signature is the only credential.
//
// What a platform is answered, and why (each retries anything but a 2xx, for
// hours or days, and may then disable the endpoint):
// - no secret set: 503 not_configured (retried until the operator sets it);
//   TAPFILIATE_API_KEY or a postback URL missing or unsafe: 503 not_configured too,
//   checked before anything is remembered or sent.
// - a missing, wrong or stale signature: 400 invalid_signature. Nothing is
//   parsed before the signature holds.
// - a correctly signed body that is not an event or order we can read, an order
//   that fails the conversion schema, an event we do not handle, a refund that
//   moved no money, an unpaid order, a zero amount (docs/reference.md, "Zero
//   amounts"): 200 ignored, the reason in the request's log line. A retry would
//   bring the same bytes, so a 2xx is the only answer that stops it. An order
//   among them (unpaid, zero, unreadable) is recorded as `ignored` with its
//   reason (docs/operations.md, "Console"); a later paid event replaces it.
// - a test event (docs/reference.md, "Test mode"): checked, then 200 test with
//   what would be sent, and nothing recorded, remembered or sent, unless
//   WEBHOOK_TEST_EVENTS=send.
// - no reference (and, for a renewal, nothing remembered for its subscription):
//   200 unattributed, nothing sent; the order is recorded as `unattributed`.
// - a subscription's attribution is remembered for its renewals by its first
//   live, paid, attributed payment, never by a one-time, zero or test order, and
//   never overwritten (docs/reference.md, "Subscriptions"). A payment that
//   converts nothing itself (Lemon Squeezy's initial subscription payment, whose
//   order converted) answers 200 stored (200 unattributed without a reference).
// - a refund: its conversion's commissions are taken back (docs/reference.md,
//   "Refunds"): 200 reversed, adjusted, duplicate or unattributed, 202 queued;
//   200 ignored when one of its ids breaks the id rules (invalid_refund) or it is
//   in another currency than its conversion (currency_mismatch, recorded).
//   One whose order nobody knows and which names none is recorded as
//   unattributed (unknown_order) under its refund id.
// - delivery took it: 200 sent, 200 duplicate (a replay: no second postback),
//   202 queued (the ledger's alarm retries it).
// - Tapfiliate refused it (a 4xx other than "already exists"): 200
//   {ok:false, error:'upstream_rejected'}. A platform retry would be refused the
//   same way and could get the endpoint disabled; the record stays `dead` in the
//   ledger for an operator, who fixes the cause and retries it from the console.
// - the ledger could not take it: 503 temporarily_unavailable, so the platform
//   retries it.
// Lemon Squeezy counts only a 200 as delivered and retries anything else: a 202
// queued is retried there and answered duplicate, harmless.
import type { Handler } from 'hono';
import { settingOf, subscriptionMemoryMsOf, webhookTestEventsOf } from '../config';
import type { CreateDelivery, DeliveryResult, EventSource, RefundJob } from '../delivery';
import { recallSubscription as recall, rememberSubscription as remember } from '../delivery';
import { hasIdentifier, identifiersFromReference, mergeIdentifiers } from '../events/identifiers';
import { conversionJob } from '../events/job';
import type { PostbackJob } from '../tapfiliate';
import { conversionSchema, identifiersSchema, issuesOf, refundSchema, type Identifiers } from '../events/schema';
import {
  answerDelivery,
  deliver,
  ignored,
  invalidSignature,
  isZeroAmount,
  jobPostbacks,
  record,
  refundPostbacks,
  refuseUnlessConfigured,
  requireSecret,
  stored,
  temporarilyUnavailable,
  testAnswer,
  type Note,
  unattributed,
  withoutInvalidOptionals,
} from '../http/answers';
import type { AppContext, AppEnv } from '../http/context';
import { logLine } from '../lib/log';
import { cleanVisitor } from '../lib/network';
import { parseJson } from '../lib/plain';
import type { Platform, PlatformReading, PlatformRefund, PlatformRoute } from '../platforms';

type Reading<Kind extends PlatformReading['kind']> = Extract<PlatformReading, { kind: Kind }>;

/**
 * The handler of one platform route.
 *
 * @example
 * for (const route of stripe.routes) app.post(`/_tap/webhooks/${route.path}`, webhookRoute(stripe, route, createDelivery));
 */
export function webhookRoute(platform: Platform, route: PlatformRoute, createDelivery: CreateDelivery): Handler<AppEnv> {
  const source = platform.name as EventSource;
  return async function handleWebhook(c) {
    const secret = requireSecret(settingOf(c.env, route.secret), route.secret);
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const verdict = await platform.verify({ bytes, text: new TextDecoder().decode(bytes), header: (name) => c.req.header(name) }, secret);
    if (!verdict.ok) {
      // Signed by the secret's holder but not an event: a retry sends the same bytes.
      if (verdict.reason === 'malformed') return ignored(c, 'malformed');
      throw invalidSignature(verdict.reason);
    }
    const reading = platform.read(verdict.event);
    if (reading.kind === 'ignore') {
      const order = reading.order && !((reading.test || route.test === true) && webhookTestEventsOf(c.env) === 'test') ? conversionSchema.safeParse(withoutInvalidOptionals(c, reading.order)) : undefined;
      return ignored(c, reading.reason, order?.success ? { createDelivery, event: { job: conversionJob(order.data, {}, {}), source, signed: true } } : undefined);
    }
    refuseUnlessConfigured(c);
    // Test events are answered without anything recorded or sent, unless WEBHOOK_TEST_EVENTS=send.
    const test = (reading.test || route.test === true) && webhookTestEventsOf(c.env) === 'test';
    switch (reading.kind) {
      case 'remember':
        return startSubscription(c, createDelivery, source, reading, test);
      case 'refund':
        return refund(c, createDelivery, source, reading.refund, test);
      default:
        return convert(c, createDelivery, source, reading, test);
    }
  };
}

/** A paid payment that converts nothing itself (Lemon Squeezy's initial subscription payment): its attribution is kept for the renewals. */
async function startSubscription(c: AppContext, createDelivery: CreateDelivery, source: EventSource, reading: Reading<'remember'>, test: boolean): Promise<Response> {
  const identifiers = identifiersFromReference(reading.reference);
  if (!hasIdentifier(identifiers)) {
    // Recorded under the payment's own id, when it reads as an order (docs/reference.md, "Routes and answers"); a test one is not.
    const payment = reading.payment && !test ? conversionSchema.safeParse(withoutInvalidOptionals(c, reading.payment)) : undefined;
    return unattributed(c, payment?.success ? { createDelivery, event: { job: conversionJob(payment.data, {}, {}), source, signed: true } } : undefined);
  }
  // Nothing would have been sent, and nothing is kept.
  if (test) return testAnswer(c, []);
  await rememberSubscription(c, source, reading.subscription, identifiers);
  return stored(c);
}

/** The platform's order as the same conversion job tap.convert makes, through the same delivery. */
async function convert(c: AppContext, createDelivery: CreateDelivery, source: EventSource, reading: Reading<'conversion' | 'renewal'>, test: boolean): Promise<Response> {
  const fromReference = identifiersFromReference(reading.reference);
  // A renewal without its own reference is attributed by what its subscription's first payment left.
  const attribution =
    reading.kind === 'renewal' && !hasIdentifier(fromReference) && (reading.subscription || reading.customer)
      ? await recallSubscription(c, source, { subscription: reading.subscription, customer: reading.customer })
      : fromReference;
  const parsed = conversionSchema.safeParse(withoutInvalidOptionals(c, reading.conversion));
  // The ledger keeps an order answered without a postback, with its reason (never in test mode).
  const note = (job: PostbackJob): Note | undefined => (test ? undefined : { createDelivery, event: { job, source, signed: true } });
  if (!parsed.success) {
    // The platform would send the same order again: say why in the log, and stop it.
    logLine('webhook_invalid_order', { issues: issuesOf(parsed.error).map((issue) => `${issue.path}: ${issue.message}`) });
    // Recorded under its id when the id itself is readable.
    const id = conversionSchema.shape.external_id.safeParse(reading.conversion.external_id);
    return ignored(c, 'invalid_order', id.success ? note({ conversion: { external_id: id.data } }) : undefined);
  }
  c.get('log').external_id = parsed.data.external_id;
  const identifiers = withoutInvalidOptionals(c, mergeIdentifiers(attribution, reading.identifiers ?? {}));
  if (isZeroAmount(parsed.data)) return ignored(c, 'zero_amount', note(conversionJob(parsed.data, identifiers, {})));
  if (!hasIdentifier(identifiers)) return unattributed(c, note(conversionJob(parsed.data, identifiers, {})));
  const job = conversionJob(parsed.data, identifiers, cleanVisitor(reading.visitor?.ip, reading.visitor?.user_agent));
  if (test) return testAnswer(c, jobPostbacks(c, job));
  // A live, paid, attributed payment of a subscription: the first one writes its memory, every later one extends it (docs/reference.md, "Subscriptions").
  // Only a payment's own reference is remembered: a recalled one extended itself when read, and v3's per-customer one is never carried over.
  if (reading.subscription && hasIdentifier(fromReference)) await rememberSubscription(c, source, reading.subscription, identifiers);
  const submission = { job, source, signed: true, platformIds: reading.platformIds, ...(reading.gross === undefined ? {} : { gross: reading.gross }) };
  return answerDelivery(c, await deliver(c, createDelivery, submission), 200);
}

/**
 * A platform's refunds: the conversion found through the ids its record kept
 * (else the platform's own id for it), then each refund handed to delivery,
 * oldest first. The ledger runs each once per refund_id (delivery/refunds.ts).
 */
async function refund(c: AppContext, createDelivery: CreateDelivery, source: EventSource, refund: PlatformRefund, test: boolean): Promise<Response> {
  // Ids by the same rules as every other (docs/reference.md, "Fields and ids"): one Tapline could not look up, record or show is not taken, and has nothing to be recorded under.
  const ids = [...refund.refunds.map(({ refund_id }) => refund_id), ...(refund.fallbackExternalId === undefined ? [] : [refund.fallbackExternalId])];
  if (!ids.every((id) => refundSchema.shape.refund_id.safeParse(id).success)) return ignored(c, 'invalid_refund');
  const delivery = createDelivery(c.env);
  let key: string | undefined;
  let conversion: { amount?: number; gross?: number } | null = null;
  try {
    for (const id of refund.platformIds) {
      const found = await delivery.findConversion(id);
      if (found?.startsWith('con:')) {
        key = found;
        break;
      }
    }
    if (key && (refund.gross !== undefined || refund.ofRecordedGross)) conversion = await delivery.get(key);
  } catch (error) {
    throw temporarilyUnavailable(c, error);
  }
  const external_id = key ? key.slice('con:'.length) : refund.fallbackExternalId;
  if (external_id) c.get('log').external_id = external_id;
  // A part of what the buyer paid (tax and shipping included) is that share of the commission base.
  const base = conversion?.amount;
  const gross = refund.gross ?? (refund.ofRecordedGross ? conversion?.gross : undefined);
  const share = gross !== undefined && base !== undefined && base < gross ? base / gross : 1;
  const amountOf = (amount: number | undefined) => (amount === undefined || share === 1 ? amount : Math.round(amount * share * 100) / 100);
  const jobs: RefundJob[] = refund.refunds.map(({ refund_id, amount }) => {
    const part = amountOf(amount);
    // A running total (Lemon Squeezy, Stripe) goes as it is: the ledger counts what the refunds of the order it accepted have not.
    const size = part === undefined ? {} : refund.cumulative ? { refunded_total: part } : { amount: part };
    return { refund: { refund_id, external_id: external_id ?? '', ...size, ...(refund.currency ? { currency: refund.currency } : {}) } };
  });
  if (test) return testAnswer(c, refundPostbacks(c, jobs));
  const note = (job: RefundJob): Note => ({ createDelivery, event: { job, source, signed: true } });
  // No order to take it from, and none named to keep it for: recorded under its own id (docs/reference.md, "Refunds").
  if (!external_id) {
    for (const job of jobs) await record(c, note(job), 'unattributed', 'unknown_order');
    return unattributed(c, undefined, 'unknown_order');
  }
  let answer: DeliveryResult | undefined;
  for (const job of jobs) {
    const result = await deliver(c, createDelivery, { job, source, signed: true });
    // Refused for its currency: answered ignored, and recorded with why.
    if (result.status === 'currency_mismatch') await record(c, note(job), 'ignored', 'currency_mismatch');
    answer = answer === undefined || weight(result) > weight(answer) ? result : answer;
  }
  return answerDelivery(c, answer!, 200);
}

/** Which of several refunds' results a platform is answered: one it must send again, then a refusal, then a wait. */
function weight(result: DeliveryResult): number {
  return result.status === 'unavailable' ? 3 : result.status === 'rejected' || result.status === 'currency_mismatch' ? 2 : result.status === 'queued' ? 1 : 0;
}

// A subscription's remembered attribution (proxy/delivery/memory.ts), keyed by
// platform so that ids of two platforms can never meet. The first one written
// stays; recalling it extends it.
async function rememberSubscription(c: AppContext, source: EventSource, subscription: string, identifiers: Identifiers): Promise<void> {
  if (!hasIdentifier(identifiers)) return;
  await remember(c.env, source, subscription, JSON.stringify(identifiers), subscriptionMemoryMsOf(c.env));
}

async function recallSubscription(c: AppContext, source: EventSource, ids: { subscription?: string; customer?: string }): Promise<Identifiers> {
  const parsed = identifiersSchema.safeParse(parseJson(await recall(c.env, source, ids, subscriptionMemoryMsOf(c.env))));
  return parsed.success ? parsed.data : {};
}
