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
//   once and compared with each v1 in constant time (proxy/hmac.ts checkWebhookSignature).
// - Verdicts: no header → missing_signature; a header without t or v1, with more than 8 v1,
//   or no v1 that matches → invalid_signature; a timestamp outside the tolerance → expired
//   (whether or not a v1 matches: it is not computed); a correctly signed body that is not a
//   JSON event object (`type` string, `data.object` object) → malformed.
// - checkout.session.completed (docs.stripe.com/api/checkout/sessions/object;
//   docs.stripe.com/checkout/fulfillment): in `mode: payment` only `payment_status: paid` is a
//   conversion (`unpaid` waits for checkout.session.async_payment_succeeded, which carries the
//   same session and is mapped the same way; `no_payment_required` is not a sale).
//   external_id = session id; reference = `client_reference_id`, else `metadata.tap_ref`;
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
// - mode: subscription: the reference is remembered for the session's Stripe customer. When the
//   session has an `invoice` and `payment_status: paid`, that first invoice is also converted,
//   with external_id = the invoice id (so the `invoice.paid` for the same invoice meets it in
//   the ledger as a duplicate) and the same amount rule on the session's totals.
// - invoice.paid (docs.stripe.com/api/invoices/object; docs.stripe.com/billing/subscriptions/webhooks):
//   a renewal: external_id = invoice id, customer_id = `customer`, amount = `amount_paid` − tax −
//   shipping before tax. Tax is the sum of `total_taxes[].amount` (API 2025-03-31 and later), else
//   `tax` (older versions), else the sum of `total_tax_amounts[].amount` (older still); shipping
//   is `shipping_cost.amount_subtotal` when present. The reference is `tap_ref` in the
//   subscription's metadata: `parent.subscription_details.metadata` (2025-03-31 and later) or
//   `subscription_details.metadata` (older); without one the route looks up the remembered
//   attribution. Never above `amount_paid`. An invoice that paid 0 (a trial, a 100% coupon), or
//   whose base is 0, is ignored: no commission (docs/reference.md, "Zero amounts").
// - charge.refunded and refund.created are refunds, read in refund-events.ts. Every other
//   type: ignored.
// - Never throws on a payload: anything unexpected is `ignore` with a reason.
import { checkWebhookSignature, hexBytes, MAX_SIGNATURE_CANDIDATES } from '../hmac';
import { isPlainObject, parseJson } from '../plain';

type Verdict<T> =
  | { ok: true; event: T }
  | { ok: false; reason: 'missing_signature' | 'invalid_signature' | 'expired' | 'malformed' };

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
  | { action: 'convert'; conversion: StripeConversion; reference?: string; remember?: { stripe_customer: string } }
  | { action: 'remember'; stripe_customer: string; reference?: string }
  | { action: 'renewal'; stripe_customer: string; conversion: StripeConversion; reference?: string }
  | { action: 'ignore'; reason: string };

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
  const parsed = parseSignatureHeader(header);
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

/** t (the last one) and the v1 signatures (as bytes); null when either is missing or t is not digits. */
function parseSignatureHeader(header: string): { timestamp: number; signatures: Uint8Array<ArrayBuffer>[]; candidates: number } | null {
  let timestamp: number | undefined;
  const signatures: Uint8Array<ArrayBuffer>[] = [];
  let candidates = 0;
  for (const item of header.split(',')) {
    const at = item.indexOf('=');
    if (at < 0) continue;
    // No trimming and lower-case hex only, as Stripe's libraries parse it: whatever this accepts, they accept.
    const name = item.slice(0, at);
    const value = item.slice(at + 1);
    if (name === 't') timestamp = /^\d{1,12}$/.test(value) ? Number(value) : Number.NaN;
    else if (name === 'v1') {
      // Counted whatever it holds, so a list too long to read is refused however it is padded.
      candidates++;
      if (candidates > MAX_SIGNATURE_CANDIDATES) break;
      // stripe-node fails a header with an empty v1 (its compare throws on ''); so does this.
      if (value === '') return null;
      const bytes = /^[0-9a-f]{64}$/.test(value) ? hexBytes(value) : null;
      if (bytes) signatures.push(bytes);
    }
  }
  return timestamp === undefined || Number.isNaN(timestamp) || signatures.length === 0 ? null : { timestamp, signatures, candidates };
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
  const reference = text(session.client_reference_id) ?? (isPlainObject(session.metadata) ? text(session.metadata.tap_ref) : undefined);
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
    if (!paid) return { action: 'ignore', reason: 'not_paid' };
    const converted = conversion(id);
    return converted ? { action: 'convert', conversion: converted, ...withReference } : { action: 'ignore', reason: 'malformed' };
  }
  if (session.mode === 'subscription') {
    if (!customer) return { action: 'ignore', reason: 'no_customer' };
    const invoice = idOf(session.invoice);
    if (invoice && paid) {
      const converted = conversion(invoice);
      if (converted && converted.amount > 0) {
        return { action: 'convert', conversion: converted, ...withReference, remember: { stripe_customer: customer } };
      }
    }
    return { action: 'remember', stripe_customer: customer, ...withReference };
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
  return {
    action: 'renewal',
    stripe_customer: customer,
    conversion: { external_id: id, amount: fromMinorUnits(base, currency), currency: currency.toUpperCase(), customer_id: customer },
    ...(reference ? { reference } : {}),
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


function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function integer(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

/** An id, or the id of an expanded object. */
function idOf(value: unknown): string | undefined {
  return text(value) ?? (isPlainObject(value) ? text(value.id) : undefined);
}
