// Lemon Squeezy webhooks: signature verification and the mapping of an event to what
// the route should do. Pure functions on Web Crypto only (they run in workerd). Lemon
// Squeezy publishes no verifier; the tests check the HMAC against node:crypto.
//
// Rules, and where each comes from (docs/guides/lemonsqueezy.md for the merchant's side):
// - Signature (docs.lemonsqueezy.com, "Signing requests"): `X-Signature` is the hex
//   HMAC-SHA256 of the raw body, keyed with the webhook's signing secret. Checked on the
//   bytes as received, before any parsing, in constant time (crypto.subtle.verify). There
//   is no timestamp: a replayed body is answered as the duplicate it is.
// - Event name: `meta.event_name`, which is inside the signed body. `X-Event-Name` is not
//   signed, so it is only read when the body has no name, and a header that disagrees with
//   the body's name is ignored (`event_name_mismatch`). The data's `type` must fit the event
//   (`orders` for order_*, `subscription-invoices` for subscription_payment_*).
// - Reference: `meta.custom_data.tap_ref` (checkout link `?checkout[custom][tap_ref]=…`,
//   or `checkout_data.custom.tap_ref` through the API). Lemon Squeezy puts custom data on
//   order and subscription events; when a renewal has none, the handler recalls what the
//   subscription's first attributed paid payment left (by `subscription_id`), else what v3
//   remembered for the customer, until it expires.
// - Test mode: `meta.test_mode: true` (test-mode stores send test-mode webhooks only).
// - order_created with `status: "paid"`: a conversion. external_id = the order id (as a
//   string), customer_id = the Lemon Squeezy `customer_id`. Other statuses (pending,
//   failed) are ignored.
// - subscription_payment_success: a renewal. external_id = `invoice-<subscription invoice id>`:
//   order and invoice ids are separate sequences, so a bare number could be taken by an
//   order of the same number. The first payment of a subscription (`billing_reason:
//   "initial"`) converts nothing: its order_created carries the same money under the order id,
//   so only one of the two may convert, and the order is the one the refund events name. It is
//   where the subscription's attribution is remembered (the order names no subscription).
// - Amount (our rule, the same base as every route): what the buyer paid for the goods, after
//   discounts, without tax: `total − tax` (total is after discount_total; Lemon Squeezy puts
//   inclusive and exclusive tax alike into `tax`). Integers in the currency's minor unit
//   (fields.ts). A zero total (a free product, a trial's order) sends nothing and remembers
//   nothing: ignored.
// - order_refunded (and subscription_payment_refunded for a renewal): `refunded_amount` is
//   cumulative, so each event's refund_id is `<external_id>-refunded-<refunded_amount>`: a
//   replay of one event is a duplicate, a second partial refund is a new refund. `status:
//   "refunded"` (everything) leaves the amount out: the rest of the order. Otherwise the
//   cumulative refunded amount is converted to the conversion's base in proportion
//   (refunded_amount × (total − tax) / total); the route turns it into this event's part by
//   what the ledger already counts as refunded.
// - Every other event: ignored. Never throws on a payload.
import { hmacVerify } from '../lib/hmac';
import { isPlainObject, parseJson } from '../lib/plain';
import { currencyCode, fromMinor, idText, minorUnits, text } from './fields';
import { platform, type PlatformConversion } from './platform';

/** A verified Lemon Squeezy webhook: the unsigned `X-Event-Name` header and the body. */
interface LemonSqueezyEvent {
  eventName: string | undefined;
  body: unknown;
}

export const lemonSqueezy = platform({
  name: 'lemonsqueezy',
  routes: [{ path: 'lemonsqueezy', secret: 'LEMONSQUEEZY_WEBHOOK_SECRET' }],
  async verify(request, secret) {
    if (!(await verifyLemonSqueezyWebhook(request.bytes, request.header('x-signature'), secret))) return { ok: false, reason: 'invalid_signature' };
    return { ok: true, event: { eventName: request.header('x-event-name'), body: parseJson(request.text) } satisfies LemonSqueezyEvent };
  },
  read({ eventName, body }: LemonSqueezyEvent) {
    const action = lemonSqueezyAction(eventName, body);
    switch (action.action) {
      case 'ignore':
        return { kind: 'ignore', reason: action.reason, ...(action.order && { order: action.order, test: action.test }) };
      case 'remember':
        return { kind: 'remember', subscription: action.subscription, reference: action.reference, payment: action.payment, test: action.test };
      case 'convert': {
        const { conversion, reference, customer, subscription, test } = action;
        // A renewal without custom data is attributed by what its subscription's initial payment left (else v3's memory of the customer).
        return { kind: subscription ? 'renewal' : 'conversion', conversion, reference, subscription, customer, platformIds: [conversion.external_id], test };
      }
      case 'refund': {
        const { refund_id, platform_id, refunded_total, currency } = action.refund;
        return {
          kind: 'refund',
          refund: { platformIds: [platform_id], fallbackExternalId: platform_id, refunds: [{ refund_id, amount: refunded_total }], currency, cumulative: true },
          test: action.test,
        };
      }
    }
  },
});

type LemonSqueezyAction =
  /** `subscription`: a subscription payment's; `customer`: whose v3 memory a renewal may fall back on. */
  | { action: 'convert'; conversion: PlatformConversion; reference?: string; customer?: string; subscription?: string; test: boolean }
  | { action: 'remember'; subscription: string; reference?: string; payment: PlatformConversion; test: boolean }
  | { action: 'refund'; refund: LemonSqueezyRefund; test: boolean }
  /** `order`: the order an ignored event concerns (an unpaid one), for its record. */
  | { action: 'ignore'; reason: string; order?: PlatformConversion; test?: boolean };

interface LemonSqueezyRefund {
  refund_id: string;
  /** The external_id of the conversion it takes back (also the platform id it recorded). */
  platform_id: string;
  /** Everything refunded so far, in the conversion's base (without tax); undefined when all of it is. */
  refunded_total?: number;
  currency?: string;
}

/** Lower-case hex HMAC-SHA256 of the raw bytes (what Lemon Squeezy sends and its documented check compares), constant time. */
export async function verifyLemonSqueezyWebhook(rawBody: Uint8Array, signatureHeader: string | undefined | null, secret: string): Promise<boolean> {
  if (typeof signatureHeader !== 'string' || !secret || !/^[0-9a-f]{64}$/.test(signatureHeader)) return false;
  const signature = new Uint8Array(32);
  for (let i = 0; i < 32; i++) signature[i] = parseInt(signatureHeader.slice(i * 2, i * 2 + 2), 16);
  const data = rawBody.buffer instanceof ArrayBuffer ? (rawBody as Uint8Array<ArrayBuffer>) : new Uint8Array(rawBody);
  return hmacVerify(secret, signature, data);
}

/** The invoice external_id, kept apart from order ids (see the rules above). */
const invoiceExternalId = (invoiceId: string) => `invoice-${invoiceId}`;

/** What the route should do with a verified webhook. Never throws. */
export function lemonSqueezyAction(eventNameHeader: string | undefined | null, body: unknown): LemonSqueezyAction {
  try {
    if (!isPlainObject(body) || !isPlainObject(body.meta) || !isPlainObject(body.data)) return { action: 'ignore', reason: 'malformed' };
    const signedName = text(body.meta.event_name);
    const headerName = text(eventNameHeader ?? undefined);
    if (signedName && headerName && signedName !== headerName) return { action: 'ignore', reason: 'event_name_mismatch' };
    const name = signedName ?? headerName;
    const data = body.data;
    const attributes = isPlainObject(data.attributes) ? data.attributes : undefined;
    const id = idText(data.id);
    if (!attributes || !id) return { action: 'ignore', reason: 'malformed' };
    const reference = isPlainObject(body.meta.custom_data) ? text(body.meta.custom_data.tap_ref) : undefined;
    const test = body.meta.test_mode === true || attributes.test_mode === true;
    const context = { reference, test };

    switch (name) {
      case 'order_created':
        if (data.type !== 'orders') return { action: 'ignore', reason: 'unexpected_type' };
        if (attributes.status !== 'paid') {
          const payment = paymentAction(id, attributes, context);
          return { action: 'ignore', reason: 'not_paid', ...(payment.action === 'convert' && { order: payment.conversion, test }) };
        }
        return paymentAction(id, attributes, context);
      case 'subscription_payment_success':
        if (data.type !== 'subscription-invoices') return { action: 'ignore', reason: 'unexpected_type' };
        if (attributes.status !== undefined && attributes.status !== 'paid') return { action: 'ignore', reason: 'not_paid' };
        return paymentAction(invoiceExternalId(id), attributes, context, idText(attributes.subscription_id), attributes.billing_reason === 'initial');
      case 'order_refunded':
        if (data.type !== 'orders') return { action: 'ignore', reason: 'unexpected_type' };
        return refundAction(id, attributes, test);
      case 'subscription_payment_refunded':
        if (data.type !== 'subscription-invoices') return { action: 'ignore', reason: 'unexpected_type' };
        return refundAction(invoiceExternalId(id), attributes, test);
      default:
        return { action: 'ignore', reason: 'unhandled_event_type' };
    }
  } catch {
    return { action: 'ignore', reason: 'malformed' };
  }
}

/**
 * An order (no `subscription`) or a subscription payment. The initial payment of a subscription
 * converts nothing (its order did) but is where the subscription's attribution is remembered.
 */
function paymentAction(
  external_id: string,
  attributes: Record<string, unknown>,
  { reference, test }: { reference?: string; test: boolean },
  subscription?: string,
  initial = false,
): LemonSqueezyAction {
  const currency = currencyCode(attributes.currency);
  const total = minorUnits(attributes.total);
  if (!currency || total === undefined) return { action: 'ignore', reason: 'malformed' };
  const base = Math.max(0, total - (minorUnits(attributes.tax) ?? 0));
  const customer = idText(attributes.customer_id);
  const withReference = reference ? { reference } : {};
  // A free product or a trial's order pays nothing and remembers nothing (docs/reference.md, "Subscriptions").
  if (base === 0) return { action: 'ignore', reason: 'zero_amount' };
  const conversion = { external_id, amount: fromMinor(base, currency), currency, ...(customer ? { customer_id: customer } : {}) };
  if (initial) return subscription ? { action: 'remember', subscription, ...withReference, payment: conversion, test } : { action: 'ignore', reason: 'initial_payment_is_the_order' };
  return {
    action: 'convert',
    conversion,
    ...withReference,
    ...(customer ? { customer } : {}),
    ...(subscription ? { subscription } : {}),
    test,
  };
}

function refundAction(external_id: string, attributes: Record<string, unknown>, test: boolean): LemonSqueezyAction {
  const refunded = minorUnits(attributes.refunded_amount);
  const total = minorUnits(attributes.total);
  const currency = currencyCode(attributes.currency);
  if (refunded === undefined || refunded <= 0) return { action: 'ignore', reason: 'nothing_refunded' };
  const refund_id = `${external_id}-refunded-${refunded}`;
  const full = attributes.status === 'refunded' || (total !== undefined && refunded >= total);
  if (full) return { action: 'refund', refund: { refund_id, platform_id: external_id, ...(currency ? { currency } : {}) }, test };
  if (!currency || !total) return { action: 'ignore', reason: 'malformed' };
  const base = Math.max(0, total - (minorUnits(attributes.tax) ?? 0));
  const refunded_total = fromMinor(Math.round((refunded * base) / total), currency);
  return { action: 'refund', refund: { refund_id, platform_id: external_id, refunded_total, currency }, test };
}
