// Stripe webhooks: signature verification and the mapping of an event to what the
// route should do. Pure functions on Web Crypto only (they run in workerd); no Node
// API and no `stripe` package, which the tests use to prove compatibility instead.
//
// Rules, and where each comes from:
// - Signature (docs.stripe.com/webhooks/signature; stripe-node's Webhooks.js): the
//   `Stripe-Signature` header is `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`; the
//   signature is the hex HMAC-SHA256 of `${t}.${rawBody}` keyed with the endpoint secret
//   (the whole `whsec_…` string, as bytes). Any one matching v1 is enough; other schemes
//   are ignored. Default tolerance 300 s, as Stripe's libraries. Ours is two-sided: a
//   timestamp more than the tolerance in the future is refused too (stripe-node accepts
//   those), so anything we accept, stripe-node accepts.
// - Cost (our rule, docs/security.md "Signature cost"): the timestamp is checked before any
//   HMAC, at most 8 v1 entries are read (more is invalid_signature), and the HMAC is computed
//   once and compared with each v1 in constant time (proxy/lib/hmac.ts checkWebhookSignature).
// - Verdicts: no header → missing_signature; a header without t or v1, with more than 8 v1,
//   or no v1 that matches → invalid_signature; a timestamp outside the tolerance → expired
//   (whether or not a v1 matches: it is not computed); a correctly signed body that is not a
//   JSON event object (`type` string, `data.object` object) → malformed.
// - checkout.session.completed (docs.stripe.com/api/checkout/sessions/object;
//   docs.stripe.com/checkout/fulfillment): in `mode: payment` only `payment_status: paid` is a
//   conversion (`unpaid` waits for checkout.session.async_payment_succeeded, which carries the
//   same session and is mapped the same way; `no_payment_required` is not a sale).
//   external_id = session id; reference = `client_reference_id` when it is a Tapline reference,
//   else `metadata.tap_ref` (a merchant's own id in client_reference_id is not one);
//   customer_id = `customer` (id, or the id of an expanded object), else
//   `customer_details.email`.
// - Amount (our rule, docs/guides/stripe.md): the commission base is what the buyer paid for the goods:
//   `amount_total` (after discounts) − `total_details.amount_tax` − `total_details.amount_shipping`,
//   never below 0 and never above `amount_total` (a negative tax or shipping takes nothing off). Stripe puts inclusive and exclusive tax alike into amount_tax, and
//   amount_total always contains it, so subtracting is right for both.
// - Currency exponents (docs.stripe.com/currencies, "Zero-decimal", "Three-decimal" and
//   "Special cases"): zero-decimal BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF;
//   three-decimal BHD JOD KWD OMR TND; everything else two. Special cases: ISK and UGX are
//   "effectively zero-decimal" but Stripe's API keeps them two-decimal for backwards
//   compatibility (500 = 5 ISK), so they are 2 here although UGX is in Stripe's zero-decimal
//   list; HUF and TWD are zero-decimal only for payouts and two-decimal in charges, so 2.
//   Currency codes are upper-cased (Stripe sends lower case; Tapfiliate takes ISO 4217).
// - mode: subscription: when the session has an `invoice` and `payment_status: paid`, that
//   first invoice is converted, with external_id = the invoice id (so the `invoice.paid` for the
//   same invoice meets it in the ledger as a duplicate) and the same amount rule on the
//   session's totals; the handler remembers the reference for the session's `subscription`
//   (docs/reference.md, "Subscriptions"). A session without a paid invoice (a trial) is
//   ignored: nothing was paid, so nothing is remembered.
// - invoice.paid (docs.stripe.com/api/invoices/object; docs.stripe.com/billing/subscriptions/webhooks):
//   a renewal: external_id = invoice id, customer_id = `customer`, amount = `amount_paid` − tax −
//   shipping before tax. Tax is the sum of `total_taxes[].amount` (API 2025-03-31 and later), else
//   `tax` (older versions), else the sum of `total_tax_amounts[].amount` (older still); shipping
//   is `shipping_cost.amount_subtotal` when present. The reference is `tap_ref` in the
//   subscription's metadata: `parent.subscription_details.metadata` (2025-03-31 and later) or
//   `subscription_details.metadata` (older); without one the handler looks up what was
//   remembered for the subscription (`…subscription_details.subscription`, or `subscription`),
//   else what v3 remembered for the customer. Never above `amount_paid`. An invoice that paid 0 (a trial, a 100% coupon), or
//   whose base is 0, is ignored: no commission (docs/reference.md, "Zero amounts").
// - Refunds (docs/reference.md, "Refunds"; the guide says which events to enable):
//   (docs.stripe.com/api/charges/object, docs.stripe.com/api/refunds/object)
//   - charge.refunded: `amount_refunded` is the running total, `refunded` is true once the
//     whole charge is refunded. Each refund listed in `refunds.data` is one refund, by its
//     `re_…` id (so refund.created for the same refund meets it in the ledger as a
//     duplicate); `failed` and `canceled` ones moved no money and are skipped. API versions
//     from 2022-11-15 leave `refunds` out of the charge (docs.stripe.com/changelog/2022-11-15,
//     "The Charges object no longer auto-expands refunds"): the event then names no refund, and
//     goes as a running total, keyed `<charge id>/<amount_refunded>`; the ledger counts only
//     what the refunds of the order it accepted (refund.created's `re_…` ones included) have
//     not, so one refund seen through both events counts once, in either order
//     (docs/reference.md, "Refunds"; delivery/lifecycle.ts cumulativeRefund).
//     A whole refund is sent without an amount, so the commission is disapproved even when
//     the conversion's amount differs from the charge's (tax, shipping). The charge's
//     `amount` goes along as `gross`: the route scales a partial refund to the conversion's
//     amount (the commission base, without tax and shipping) by the share of the charge it
//     refunded.
//   - refund.created: one refund, by its id and `amount`, unless `failed` or `canceled`. It
//     carries no charge amount: the route scales it by the `gross` the conversion's record
//     kept (a checkout's `amount_total`, an invoice's `amount_paid`), as charge.refunded's.
//   - The conversion is looked up by `payment_intent`, then `invoice`, then the charge id:
//     the ids the conversion's record kept. An invoice is also a conversion's own
//     external_id (subscription payments), tried at Tapfiliate when the ledger has none.
//   - `livemode: false` is a test event.
// - Every other type: ignored.
// - Never throws on a payload: anything unexpected is `ignore` with a reason.
import { decodeReference } from '../../common/attribution';
import { checkWebhookSignature } from '../lib/hmac';
import { isPlainObject, parseJson } from '../lib/plain';
import { idOf, integer, parseSignatureHeader, text } from './fields';
import { platform, type RefundReading, type Verdict } from './platform';

export const stripe = platform({
  name: 'stripe',
  routes: [{ path: 'stripe', secret: 'STRIPE_WEBHOOK_SECRET' }],
  verify: (request, secret) => verifyStripeEvent(request.text, request.header('stripe-signature'), secret),
  read(event: StripeEvent) {
    const test = event.livemode === false;
    if ((STRIPE_REFUND_EVENTS as readonly string[]).includes(event.type)) {
      const reading = stripeRefunds(event);
      if (reading.action === 'ignore') return { kind: 'ignore', reason: reading.reason };
      const { action: _action, test: _test, ...refund } = reading;
      return { kind: 'refund', refund, test };
    }
    const action = stripeAction(event);
    const platformIds = stripePlatformIds(event);
    switch (action.action) {
      case 'ignore':
        return { kind: 'ignore', reason: action.reason, ...(action.order && { order: action.order, test }) };
      case 'convert':
        return { kind: 'conversion', conversion: action.conversion, reference: action.reference, platformIds, subscription: action.subscription, gross: action.gross, test };
      case 'renewal':
        // The subscription's own tap_ref when it holds one, else what its first attributed payment left (else v3's memory of the customer).
        return { kind: 'renewal', conversion: action.conversion, reference: action.reference, platformIds, subscription: action.subscription, customer: action.stripe_customer, gross: action.gross, test };
    }
  },
});

/** The Stripe ids a later refund may name this payment by: the session or invoice, its payment_intent and charge. */
function stripePlatformIds(event: StripeEvent): string[] {
  const object = event.data.object;
  return ['id', 'payment_intent', 'invoice', 'charge'].map((field) => object[field]).filter((id): id is string => typeof id === 'string' && id !== '');
}

/** The envelope of a Stripe event; `data.object` is the resource, read defensively. */
export interface StripeEvent {
  id: string;
  type: string;
  object?: string;
  api_version?: string | null;
  created?: number;
  livemode?: boolean;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
}

interface StripeConversion {
  external_id: string;
  amount: number;
  currency: string;
  customer_id?: string;
}

type StripeAction =
  /** `subscription`: the Stripe subscription whose first paid checkout this is. `gross`: what the buyer paid in all, which a refund is a part of. */
  | { action: 'convert'; conversion: StripeConversion; reference?: string; subscription?: string; gross?: number }
  | { action: 'renewal'; stripe_customer: string; subscription?: string; conversion: StripeConversion; reference?: string; gross?: number }
  /** `order`: the order an ignored event concerns (an unpaid checkout), for its record. */
  | { action: 'ignore'; reason: string; order?: StripeConversion };

/** Stripe's default, in seconds. */
const STRIPE_TOLERANCE_SECONDS = 300;


/**
 * Stripe-Signature scheme v1 (t=...,v1=...[,v1=...]), HMAC-SHA256 of `${t}.${rawBody}`,
 * constant-time compare, 5-minute tolerance (either side of now).
 */
export async function verifyStripeEvent(
  rawBody: string,
  header: string | undefined | null,
  secret: string,
  options: { nowSeconds?: number; toleranceSeconds?: number } = {},
): Promise<Verdict<StripeEvent>> {
  if (typeof header !== 'string' || header.trim() === '') return { ok: false, reason: 'missing_signature' };
  const parsed = parseSignatureHeader(header, { separator: ',', timestamp: 't', signature: 'v1', strict: true });
  if (!parsed || !secret) return { ok: false, reason: 'invalid_signature' };

  const { toleranceSeconds = STRIPE_TOLERANCE_SECONDS, nowSeconds } = options;
  const check = await checkWebhookSignature({ secret, data: `${parsed.timestamp}.${rawBody}`, ...parsed, toleranceSeconds, nowSeconds });
  if (check !== 'ok') return { ok: false, reason: check };

  const event = parseJson(rawBody);
  if (!isPlainObject(event) || typeof event.type !== 'string' || !isPlainObject(event.data) || !isPlainObject(event.data.object)) {
    return { ok: false, reason: 'malformed' };
  }
  return { ok: true, event: event as unknown as StripeEvent };
}

/** Stripe's zero-decimal currencies, without ISK and UGX (two-decimal in Stripe's API). */
const ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);
const THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

/** The number of decimals Stripe's API uses for a currency's amounts. */
export function stripeExponent(currency: string): 0 | 2 | 3 {
  const code = String(currency).toUpperCase();
  return ZERO_DECIMAL.has(code) ? 0 : THREE_DECIMAL.has(code) ? 3 : 2;
}

/** A Stripe amount (minor units) in major units, e.g. 1999 USD → 19.99, 500 JPY → 500, 1250 KWD → 1.25. */
export function fromMinorUnits(amount: number, currency: string): number {
  const exponent = stripeExponent(currency);
  return Number((amount / 10 ** exponent).toFixed(exponent));
}

/** What the route should do with a verified event. Never throws. */
export function stripeAction(event: StripeEvent): StripeAction {
  try {
    const object = isPlainObject(event) && isPlainObject(event.data) && isPlainObject(event.data.object) ? event.data.object : undefined;
    const type = isPlainObject(event) && typeof event.type === 'string' ? event.type : '';
    if (!object) return { action: 'ignore', reason: 'malformed' };
    switch (type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        return sessionAction(object);
      case 'invoice.paid':
        return invoiceAction(object);
      default:
        return { action: 'ignore', reason: 'unhandled_event_type' };
    }
  } catch {
    return { action: 'ignore', reason: 'malformed' };
  }
}

function sessionAction(session: Record<string, unknown>): StripeAction {
  const id = text(session.id);
  const currency = text(session.currency);
  if (!id || !currency) return { action: 'ignore', reason: 'malformed' };
  const grossOf = (paid: unknown) => (Number.isSafeInteger(paid) && (paid as number) > 0 ? { gross: fromMinorUnits(paid as number, currency) } : {});
  // A merchant who keeps their own id in client_reference_id passes the reference as metadata.tap_ref (docs/guides/stripe.md).
  const ownId = text(session.client_reference_id);
  const reference = (decodeReference(ownId) ? ownId : undefined) ?? (isPlainObject(session.metadata) ? text(session.metadata.tap_ref) : undefined) ?? ownId;
  const customer = idOf(session.customer);
  const paid = session.payment_status === 'paid';
  const conversion = (external_id: string): StripeConversion | undefined => {
    const total = integer(session.amount_total);
    if (total === undefined) return undefined;
    const details = isPlainObject(session.total_details) ? session.total_details : {};
    const base = paidForGoods(total, integer(details.amount_tax), integer(details.amount_shipping));
    const customer_id = customer ?? (isPlainObject(session.customer_details) ? text(session.customer_details.email) : undefined);
    return {
      external_id,
      amount: fromMinorUnits(base, currency),
      currency: currency.toUpperCase(),
      ...(customer_id ? { customer_id } : {}),
    };
  };
  const withReference = reference ? { reference } : {};

  if (session.mode === 'payment') {
    if (!paid) {
      const order = conversion(id);
      return { action: 'ignore', reason: 'not_paid', ...(order && { order }) };
    }
    const converted = conversion(id);
    return converted ? { action: 'convert', conversion: converted, ...withReference, ...grossOf(session.amount_total) } : { action: 'ignore', reason: 'malformed' };
  }
  if (session.mode === 'subscription') {
    if (!customer) return { action: 'ignore', reason: 'no_customer' };
    const invoice = idOf(session.invoice);
    // A trial: nothing paid, so nothing is remembered either (docs/reference.md, "Subscriptions").
    if (!invoice || !paid) return { action: 'ignore', reason: 'not_paid' };
    const converted = conversion(invoice);
    if (!converted) return { action: 'ignore', reason: 'malformed' };
    const subscription = idOf(session.subscription);
    return { action: 'convert', conversion: converted, ...withReference, ...(subscription ? { subscription } : {}), ...grossOf(session.amount_total) };
  }
  return { action: 'ignore', reason: 'unsupported_mode' };
}

function invoiceAction(invoice: Record<string, unknown>): StripeAction {
  const id = text(invoice.id);
  const currency = text(invoice.currency);
  const paid = integer(invoice.amount_paid);
  if (!id || !currency || paid === undefined) return { action: 'ignore', reason: 'malformed' };
  const customer = idOf(invoice.customer);
  if (!customer) return { action: 'ignore', reason: 'no_customer' };
  const shipping = isPlainObject(invoice.shipping_cost) ? (integer(invoice.shipping_cost.amount_subtotal) ?? 0) : 0;
  const base = paidForGoods(paid, invoiceTax(invoice), shipping);
  if (base === 0) return { action: 'ignore', reason: 'zero_amount' };
  const parent = isPlainObject(invoice.parent) ? invoice.parent : {};
  const details = isPlainObject(parent.subscription_details)
    ? parent.subscription_details
    : isPlainObject(invoice.subscription_details)
      ? invoice.subscription_details
      : {};
  const reference = isPlainObject(details.metadata) ? text(details.metadata.tap_ref) : undefined;
  const subscription = idOf(details.subscription) ?? idOf(invoice.subscription);
  return {
    action: 'renewal',
    stripe_customer: customer,
    ...(subscription ? { subscription } : {}),
    conversion: { external_id: id, amount: fromMinorUnits(base, currency), currency: currency.toUpperCase(), customer_id: customer },
    ...(reference ? { reference } : {}),
    gross: fromMinorUnits(paid, currency),
  };
}

/**
 * What was paid for the goods: `paid` less tax and shipping, never below 0
 * and never above `paid`. A negative tax or shipping (a credit, or a forged
 * field in a test-mode event) takes nothing off and adds nothing.
 */
function paidForGoods(paid: number, ...deductions: (number | undefined)[]): number {
  const ceiling = Math.max(0, paid);
  const taken = deductions.reduce<number>((sum, deduction) => sum + Math.max(0, deduction ?? 0), 0);
  return Math.min(ceiling, Math.max(0, ceiling - taken));
}

/** All tax on an invoice, in minor units, whichever API version shaped it. */
function invoiceTax(invoice: Record<string, unknown>): number {
  const sum = (list: unknown) =>
    Array.isArray(list) ? list.reduce((total: number, entry) => total + (isPlainObject(entry) ? (integer(entry.amount) ?? 0) : 0), 0) : 0;
  if (Array.isArray(invoice.total_taxes)) return sum(invoice.total_taxes);
  const tax = integer(invoice.tax);
  if (tax !== undefined) return tax;
  return sum(invoice.total_tax_amounts);
}


/** True for the Stripe event types this module reads. */
export const STRIPE_REFUND_EVENTS = ['charge.refunded', 'refund.created'] as const;

export function stripeRefunds(event: StripeEvent): RefundReading {
  const object = event.data.object;
  const test = event.livemode === false;
  if (event.type === 'refund.created') {
    const id = text(object.id);
    const currency = text(object.currency);
    if (!id || !currency || !Number.isSafeInteger(object.amount)) return { action: 'ignore', reason: 'malformed_refund' };
    if (isMoneyless(object.status)) return { action: 'ignore', reason: `refund_${object.status}` };
    const platformIds = ids(object.payment_intent, object.charge);
    if (platformIds.length === 0) return { action: 'ignore', reason: 'refund_without_payment' };
    // A part of what the buyer paid, which the conversion's record keeps (`gross`): scaled to the commission base as charge.refunded is.
    return { action: 'refund', platformIds, refunds: [{ refund_id: id, amount: fromMinorUnits(object.amount as number, currency) }], currency: currency.toUpperCase(), ofRecordedGross: true, test };
  }
  if (event.type !== 'charge.refunded') return { action: 'ignore', reason: 'not_a_refund' };

  const chargeId = text(object.id);
  const currency = text(object.currency);
  const total = object.amount_refunded;
  if (!chargeId || !currency || !Number.isSafeInteger(total)) return { action: 'ignore', reason: 'malformed_charge' };
  const whole = object.refunded === true;
  const invoice = idOf(object.invoice);
  const gross = Number.isSafeInteger(object.amount) && (object.amount as number) > 0 ? fromMinorUnits(object.amount as number, currency) : undefined;
  const reading = {
    action: 'refund' as const,
    platformIds: ids(object.payment_intent, object.invoice, chargeId),
    ...(invoice ? { fallbackExternalId: invoice } : {}),
    currency: currency.toUpperCase(),
    ...(gross === undefined ? {} : { gross }),
    test,
  };

  const listed = isPlainObject(object.refunds) && Array.isArray(object.refunds.data) ? object.refunds.data.filter(isPlainObject) : undefined;
  if (listed && listed.length > 0) {
    const refunds = listed
      .filter((refund) => text(refund.id) && Number.isSafeInteger(refund.amount) && !isMoneyless(refund.status))
      .sort((a, b) => Number(a.created ?? 0) - Number(b.created ?? 0))
      .map((refund): { refund_id: string; amount?: number } => ({ refund_id: text(refund.id)!, amount: fromMinorUnits(refund.amount as number, currency) }));
    if (refunds.length === 0) return { action: 'ignore', reason: 'no_refund_moved_money' };
    // The refund that completed the charge takes everything back.
    if (whole) delete refunds[refunds.length - 1].amount;
    return { ...reading, refunds };
  }

  // No list: the running total goes as it is, and the ledger counts what its refunds (refund.created's included) have not.
  if (!whole && (total as number) <= 0) return { action: 'ignore', reason: 'no_refund_step' };
  const refund_id = `${chargeId}/${total}`;
  if (whole) return { ...reading, refunds: [{ refund_id }] };
  return { ...reading, refunds: [{ refund_id, amount: fromMinorUnits(total as number, currency) }], cumulative: true };
}

/** A refund in one of these states moved no money. */
const isMoneyless = (status: unknown) => status === 'failed' || status === 'canceled';

/** The ids present, each an id string or an expanded object's id, without repeats. */
function ids(...values: unknown[]): string[] {
  return [...new Set(values.map(idOf).filter((id): id is string => id !== undefined))];
}
