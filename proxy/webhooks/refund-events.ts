// Stripe's and Shopify's refund events, read into refunds (docs/reference.md,
// "Refunds"; the guides say which events to enable). Pure functions: the route
// finds the conversion and hands each refund to delivery. Never throws on a payload.
//
// Stripe (docs.stripe.com/api/charges/object, docs.stripe.com/api/refunds/object):
// - charge.refunded: `amount_refunded` is the running total, `refunded` is true once the
//   whole charge is refunded. Each refund listed in `refunds.data` is one refund, by its
//   `re_…` id (so refund.created for the same refund meets it in the ledger as a
//   duplicate); `failed` and `canceled` ones moved no money and are skipped. API versions
//   from 2022-11-15 leave `refunds` out of the charge: the refund is then the step from
//   `previous_attributes.amount_refunded` to `amount_refunded`, keyed `<charge id>/<running total>`.
//   A whole refund is sent without an amount, so the commission is disapproved even when
//   the conversion's amount differs from the charge's (tax, shipping). The charge's
//   `amount` goes along as `gross`: the route scales a partial refund to the conversion's
//   amount (the commission base, without tax and shipping) by the share of the charge it
//   refunded. refund.created carries no charge amount, so its refund is taken as it is.
// - refund.created: one refund, by its id and `amount`, unless `failed` or `canceled`.
// - The conversion is looked up by `payment_intent`, then `invoice`, then the charge id:
//   the ids the conversion's record kept. An invoice is also a conversion's own
//   external_id (subscription payments), tried at Tapfiliate when the ledger has none.
// - `livemode: false` is a test event.
// Shopify (shopify.dev, REST Admin API "Refund"; the `refunds/create` webhook carries it):
// - the refund's money is its `transactions` with `kind: "refund"` and `status: "success"`:
//   what actually went back to the buyer. Refunded line items may move no money (restocked,
//   or store credit) and a pending or failed transaction has moved nothing. Amounts are
//   `amount_set.shop_money.amount` (the shop's currency, as the conversion's amount is) when
//   present, else `amount`.
// - keyed by the refund's `id`; the conversion is the order (`order_id`), whose id is also
//   the conversion's external_id. Ids can pass 2^53, where JSON.parse loses digits: the
//   refund's id is read from its `admin_graphql_api_id`, the order's from the raw body.
// - a test refund: `test: true` on the refund or on any of its transactions.
import { fromMinorUnits, type StripeEvent } from './stripe';
import { isPlainObject } from '../plain';

/** A platform refund: where its conversion may be found, and the refunds to take back, oldest first. */
export interface PlatformRefund {
  /** Platform ids the conversion's record may hold, tried in order (delivery.findConversion). */
  platformIds: string[];
  /** The conversion's external_id when no record holds those ids (e.g. Shopify's order id). */
  fallbackExternalId?: string;
  refunds: { refund_id: string; amount?: number }[];
  currency?: string;
  /** What the buyer paid in all (Stripe's charge amount), which the refunds' amounts are part of. */
  gross?: number;
  test: boolean;
}

type RefundReading = ({ action: 'refund' } & PlatformRefund) | { action: 'ignore'; reason: string };

/** True for the Stripe event types this module reads. */
export const STRIPE_REFUND_EVENTS = ['charge.refunded', 'refund.created'] as const;
export const SHOPIFY_REFUND_TOPIC = 'refunds/create';

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
    return { action: 'refund', platformIds, refunds: [{ refund_id: id, amount: fromMinorUnits(object.amount as number, currency) }], currency: currency.toUpperCase(), test };
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

  const previous = event.data.previous_attributes?.amount_refunded;
  const step = (total as number) - (Number.isSafeInteger(previous) ? (previous as number) : 0);
  if (!whole && (!Number.isSafeInteger(previous) || step <= 0)) return { action: 'ignore', reason: 'no_refund_step' };
  const refund_id = `${chargeId}/${total}`;
  return { ...reading, refunds: [whole ? { refund_id } : { refund_id, amount: fromMinorUnits(step, currency) }] };
}

/** `raw` is the body as received, for ids beyond 2^53. */
export function shopifyRefund(refund: unknown, raw = ''): RefundReading {
  if (!isPlainObject(refund)) return { action: 'ignore', reason: 'malformed_refund' };
  const gid = /^gid:\/\/shopify\/Refund\/(\d+)$/.exec(text(refund.admin_graphql_api_id) ?? '');
  const id = gid ? gid[1] : numericId(refund.id);
  const orderId = /"order_id"\s*:\s*"?(\d{1,30})\b/.exec(raw)?.[1] ?? numericId(refund.order_id);
  if (!id || !orderId) return { action: 'ignore', reason: 'malformed_refund' };
  const transactions = Array.isArray(refund.transactions) ? refund.transactions.filter(isPlainObject) : [];
  const test = refund.test === true || transactions.some((transaction) => transaction.test === true);
  let cents = 0;
  let currency: string | undefined;
  for (const transaction of transactions) {
    if (transaction.kind !== 'refund' || transaction.status !== 'success') continue;
    const shop = isPlainObject(transaction.amount_set) && isPlainObject(transaction.amount_set.shop_money) ? transaction.amount_set.shop_money : undefined;
    const amount = decimal(shop ? shop.amount : transaction.amount);
    if (amount === undefined || amount <= 0) continue;
    cents += Math.round(amount * 100);
    currency ??= text(shop ? shop.currency_code : transaction.currency);
  }
  if (cents <= 0) return { action: 'ignore', reason: 'no_money_refunded' };
  return {
    action: 'refund',
    platformIds: [orderId],
    fallbackExternalId: orderId,
    refunds: [{ refund_id: id, amount: cents / 100 }],
    ...(currency ? { currency: currency.toUpperCase() } : {}),
    test,
  };
}

/** A refund in one of these states moved no money. */
const isMoneyless = (status: unknown) => status === 'failed' || status === 'canceled';

/** The ids present, each an id string or an expanded object's id, without repeats. */
function ids(...values: unknown[]): string[] {
  return [...new Set(values.map(idOf).filter((id): id is string => id !== undefined))];
}

function idOf(value: unknown): string | undefined {
  return text(value) ?? (isPlainObject(value) ? text(value.id) : undefined);
}

function numericId(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && /^\d{1,30}$/.test(value)) return value;
  return undefined;
}

function decimal(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || !/^\d+(\.\d+)?$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}
