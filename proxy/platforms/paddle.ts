// Paddle Billing notifications: signature verification and the mapping of an event
// to what the route should do. Pure functions on Web Crypto only (they run in
// workerd); the tests prove compatibility with @paddle/paddle-node-sdk's verifier.
//
// Rules, and where each comes from (docs/guides/paddle.md for the merchant's side):
// - Signature (developer.paddle.com, "Verify webhook signatures"): `Paddle-Signature` is
//   `ts=<unix seconds>;h1=<hex>`, the h1 being the hex HMAC-SHA256 of `${ts}:${rawBody}`
//   keyed with the notification destination's secret key. While a secret is rotated Paddle
//   sends one h1 per active secret: any one that matches is enough. At most 8 h1 are read
//   (more is invalid_signature: nobody rotates through nine secrets, and each would be one
//   more comparison for an attacker to buy). The timestamp is checked first (5 minutes
//   either side of now), so a stale header costs no HMAC; then ONE HMAC is computed and
//   compared to every candidate in constant time, all of them, so the time taken does not
//   say which matched (proxy/lib/hmac.ts checkWebhookSignature, as for Stripe). Paddle's SDK allows only 5 seconds and reads only the last h1; ours is
//   5 minutes, two-sided, as for Stripe (docs/guides/paddle.md), and any of up to 8 h1 (the tests check that a
//   one-h1 header fares the same with both).
// - Sandbox: a sandbox account is a separate Paddle account with its own notification
//   destinations and secrets, and nothing in a notification says which it came from. So the
//   sandbox's destination points at its own route (`/webhooks/paddle/sandbox`), verified with
//   PADDLE_SANDBOX_WEBHOOK_SECRET; an event verified there is a test event (docs/reference.md, "Test mode"). A
//   sandbox event sent to the live route fails its signature, and the other way round.
// - transaction.completed (developer.paddle.com, transaction entity): a conversion.
//   external_id = the transaction id (txn_…), customer_id = `customer_id` (ctm_…), currency =
//   `currency_code`. Reference = `custom_data.tap_ref` (Paddle.js `customData`), which Paddle
//   copies onto the subscription and from there onto its renewals.
// - Amount (our rule): what the buyer paid for the goods, after discounts and credits, without
//   tax: `details.totals.grand_total − details.totals.tax` (grand_total = subtotal − discount
//   + tax − credit). Discounts count (they lower the amount); account credit lowers it too,
//   because it was money the buyer did not pay in this transaction, and the amount is never
//   above what Paddle says was paid. Older payloads without grand_total: total − credit − tax.
//   Paddle's amounts are strings in the lowest denomination, converted by the currency's
//   ISO 4217 exponent (fields.ts). Never below 0.
// - A transaction with a `subscription_id` (a first payment, or a renewal with origin
//   `subscription_recurring`) names its subscription: the handler remembers the attribution
//   of its first attributed paid transaction for it and, when a later transaction has no
//   tap_ref, recalls it.
// - A zero-amount transaction (a trial's first transaction, a 100% discount) sends nothing
//   and remembers nothing: ignored, as Stripe's zero invoices are.
// - adjustment.created / adjustment.updated (developer.paddle.com, adjustment entity):
//   `action: "refund"` counts once `status: "approved"` (a refund is created
//   `pending_approval` and approved later, so it is usually the update that counts);
//   `action: "chargeback"` is a full refund unless its status is rejected or reversed.
//   refund_id = the adjustment id (adj_…), found by `transaction_id`. A full adjustment
//   (`type: "full"`, or a chargeback) leaves the amount out: the rest of the order. A partial
//   one refunds `totals.subtotal` (the refunded amount before tax, matching the conversion's
//   amount without tax). Credits, chargeback warnings and reversals are ignored.
// - Every other event type: ignored. Never throws on a payload.
import { checkWebhookSignature, MAX_SIGNATURE_CANDIDATES } from '../lib/hmac';
import { isPlainObject, parseJson } from '../lib/plain';
import { currencyCode, fromMinor, idText, minorUnits, parseSignatureHeader, text } from './fields';
import { platform, type PlatformConversion, type Verdict } from './platform';

export const paddle = platform({
  name: 'paddle',
  routes: [
    { path: 'paddle', secret: 'PADDLE_WEBHOOK_SECRET' },
    // A sandbox account is a separate account with its own secret: what it verifies is a test event (docs/guides/paddle.md).
    { path: 'paddle/sandbox', secret: 'PADDLE_SANDBOX_WEBHOOK_SECRET', test: true },
  ],
  verify: (request, secret) => verifyPaddleEvent(request.text, request.header('paddle-signature'), secret),
  read(event: PaddleEvent) {
    const action = paddleAction(event);
    switch (action.action) {
      case 'ignore':
        return { kind: 'ignore', reason: action.reason, ...(action.order && { order: action.order }) };
      case 'convert': {
        const { conversion, reference, subscription } = action;
        // A transaction of a subscription without its own tap_ref (Paddle copies it onto the renewals) is attributed by what the subscription left.
        return { kind: subscription ? 'renewal' : 'conversion', conversion, reference, subscription, platformIds: [conversion.external_id], test: false };
      }
      case 'refund': {
        const { refund_id, platform_id, amount, currency } = action.refund;
        // The conversion this transaction id was recorded with; without one, the id itself (the conversion's external_id).
        return { kind: 'refund', refund: { platformIds: [platform_id], fallbackExternalId: platform_id, refunds: [{ refund_id, amount }], currency }, test: false };
      }
    }
  },
});

export interface PaddleEvent {
  event_id?: string;
  event_type: string;
  occurred_at?: string;
  notification_id?: string;
  data: Record<string, unknown>;
}

/** A Paddle adjustment as read: a refund of (part of) a transaction. */
interface PaddleRefund {
  refund_id: string;
  /** The platform id the conversion recorded (a Paddle transaction id). */
  platform_id: string;
  /** Undefined: the rest of the order. */
  amount?: number;
  currency?: string;
}

type PaddleAction =
  | { action: 'convert'; conversion: PlatformConversion; reference?: string; subscription?: string }
  | { action: 'refund'; refund: PaddleRefund }
  /** `order`: the transaction an ignored event concerns (a zero amount), for its record. */
  | { action: 'ignore'; reason: string; order?: PlatformConversion };

const PADDLE_TOLERANCE_SECONDS = 300;
export { MAX_SIGNATURE_CANDIDATES };

/** Verifies `Paddle-Signature` over the raw body, then reads the event envelope. */
export async function verifyPaddleEvent(
  rawBody: string,
  header: string | undefined | null,
  secret: string,
  options: { nowSeconds?: number; toleranceSeconds?: number } = {},
): Promise<Verdict<PaddleEvent>> {
  if (typeof header !== 'string' || header.trim() === '') return { ok: false, reason: 'missing_signature' };
  const parsed = parseSignatureHeader(header, { separator: ';', timestamp: 'ts', signature: 'h1', strict: false });
  if (!parsed || !secret) return { ok: false, reason: 'invalid_signature' };

  // The count and the timestamp before any HMAC, then one HMAC for every candidate (proxy/lib/hmac.ts).
  const { toleranceSeconds = PADDLE_TOLERANCE_SECONDS, nowSeconds } = options;
  const check = await checkWebhookSignature({ secret, data: `${parsed.timestamp}:${rawBody}`, ...parsed, toleranceSeconds, nowSeconds });
  if (check !== 'ok') return { ok: false, reason: check };

  const event = parseJson(rawBody);
  if (!isPlainObject(event) || typeof event.event_type !== 'string' || !isPlainObject(event.data)) return { ok: false, reason: 'malformed' };
  return { ok: true, event: event as unknown as PaddleEvent };
}

/** What the route should do with a verified event. Never throws. */
export function paddleAction(event: PaddleEvent): PaddleAction {
  try {
    switch (event.event_type) {
      case 'transaction.completed':
        return transactionAction(event.data);
      case 'adjustment.created':
      case 'adjustment.updated':
        return adjustmentAction(event.data);
      default:
        return { action: 'ignore', reason: 'unhandled_event_type' };
    }
  } catch {
    return { action: 'ignore', reason: 'malformed' };
  }
}

function transactionAction(transaction: Record<string, unknown>): PaddleAction {
  const id = text(transaction.id);
  const totals = isPlainObject(transaction.details) && isPlainObject(transaction.details.totals) ? transaction.details.totals : undefined;
  const currency = currencyCode(transaction.currency_code) ?? currencyCode(totals?.currency_code);
  const base = totals ? commissionBase(totals) : undefined;
  if (!id || !currency || base === undefined) return { action: 'ignore', reason: 'malformed' };

  const reference = isPlainObject(transaction.custom_data) ? text(transaction.custom_data.tap_ref) : undefined;
  const subscription = text(transaction.subscription_id);
  const customer_id = idText(transaction.customer_id);
  const withReference = reference ? { reference } : {};
  // Nothing paid, nothing remembered (docs/reference.md, "Subscriptions"): Paddle copies the tap_ref onto the renewals anyway.
  if (base === 0) return { action: 'ignore', reason: 'zero_amount', order: { external_id: id, amount: 0, currency, ...(customer_id ? { customer_id } : {}) } };
  return {
    action: 'convert',
    conversion: { external_id: id, amount: fromMinor(base, currency), currency, ...(customer_id ? { customer_id } : {}) },
    ...withReference,
    ...(subscription ? { subscription } : {}),
  };
}

/** grand_total − tax (see the rules above), in minor units, never below 0. */
function commissionBase(totals: Record<string, unknown>): number | undefined {
  const tax = minorUnits(totals.tax) ?? 0;
  const grand = minorUnits(totals.grand_total);
  if (grand !== undefined) return Math.max(0, grand - tax);
  const total = minorUnits(totals.total);
  if (total === undefined) return undefined;
  return Math.max(0, total - (minorUnits(totals.credit) ?? 0) - tax);
}

function adjustmentAction(adjustment: Record<string, unknown>): PaddleAction {
  const id = text(adjustment.id);
  const transaction = text(adjustment.transaction_id);
  if (!id || !transaction) return { action: 'ignore', reason: 'malformed' };
  const status = text(adjustment.status);
  const totals = isPlainObject(adjustment.totals) ? adjustment.totals : {};
  const currency = currencyCode(adjustment.currency_code) ?? currencyCode(totals.currency_code);
  const withCurrency = currency ? { currency } : {};

  if (adjustment.action === 'chargeback') {
    if (status === 'rejected' || status === 'reversed') return { action: 'ignore', reason: `chargeback_${status}` };
    return { action: 'refund', refund: { refund_id: id, platform_id: transaction, ...withCurrency } };
  }
  if (adjustment.action !== 'refund') return { action: 'ignore', reason: 'not_a_refund' };
  if (status !== 'approved') return { action: 'ignore', reason: 'refund_not_approved' };
  if (adjustment.type === 'full') return { action: 'refund', refund: { refund_id: id, platform_id: transaction, ...withCurrency } };
  const subtotal = minorUnits(totals.subtotal);
  if (subtotal === undefined || !currency) return { action: 'ignore', reason: 'malformed' };
  return { action: 'refund', refund: { refund_id: id, platform_id: transaction, amount: fromMinor(Math.max(0, subtotal), currency), currency } };
}
