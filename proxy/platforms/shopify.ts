// Shopify order webhooks: HMAC verification and the mapping of an order to a conversion.
// Pure functions on Web Crypto only (they run in workerd).
//
// Rules, and where each comes from:
// - Signature (shopify.dev/docs/apps/build/webhooks/subscribe/https, "Verify a webhook"):
//   `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body bytes, keyed with the
//   app's client secret (or the secret shown where a store's admin creates the webhook).
//   Checked on the bytes as received, before any parsing, through the same one-HMAC,
//   constant-time compare as Stripe's (proxy/lib/hmac.ts hmacMatchesAny).
// - Topics (shopify.dev webhook topics): `orders/paid` and `orders/create` are conversions;
//   anything else is ignored. A cancelled order (`cancelled_at` set) is ignored.
// - external_id: the order id as a string. Shopify's ids can exceed 2^53 (its own sample
//   payload's order id is 820982911946154508), so a JSON.parse'd `id` may already be rounded;
//   the digits of `admin_graphql_api_id` (gid://shopify/Order/<id>) are used when present,
//   else `String(id)`. The same for the customer id.
// - customer_id: the customer's id, else the order's `email`/`contact_email`, else the customer's email.
// - reference: the `note_attributes` entry named `tap_ref` (written into the cart by the theme
//   through /cart/update.js `attributes`, which become the order's note_attributes).
// - coupon: the first `discount_codes[].code`.
// - ip / user_agent: `browser_ip` and `client_details.user_agent`.
// - currency: `currency`, the shop currency, because the amounts below are the shop-currency
//   fields (the `*_set.presentment_money` amounts would go with `presentment_currency`).
// - Amount (our rule, docs/guides/shopify.md; the same base as Stripe's): what the buyer paid for the goods,
//   after discounts, without shipping, tax or tips. Shopify's `current_subtotal_price` (or
//   `subtotal_price` when the current_* fields are absent) is "after discounts, before
//   shipping, duties, taxes and tips" — but in a tax-inclusive shop (`taxes_included: true`)
//   the line prices, hence the subtotal, contain the tax. Then the tax on the goods is taken
//   off: `current_total_tax` minus the tax on shipping (`shipping_lines[].tax_lines[].price`).
//   Never below 0, never above `current_total_price` (or `total_price`); rounded to 3 decimals
//   (no currency has more).
// - Refunds, topic `refunds/create` (docs/reference.md, "Refunds"):
//   (shopify.dev, REST Admin API "Refund"; the `refunds/create` webhook carries it)
//   - a refund counts only when money went back: `transactions` with `kind: "refund"` and
//     `status: "success"`. Refunded line items may move no money (restocked, or store credit)
//     and a pending or failed transaction has moved nothing. Amounts are the `*_set.shop_money`
//     ones (the shop's currency, as the conversion's amount is) when present.
//   - currency, in a shop that sells in several (help.shopify.com multi-currency migration
//     guide, documented: the Transaction and Refund resources changed, and a transaction's
//     `amount`/`currency` are in the presentment currency, the one the buyer paid in; the
//     REST Refund endpoints take `in_shop_currency` to show them in the shop's): the refund's
//     currency is that of the line items' `subtotal_set.shop_money` (documented: RefundLineItem
//     carries its subtotal "in shop and presentment currencies"), so a refund paid back in
//     euros of a dollar shop is compared, and counted, in dollars. Guessed: that the webhook's
//     transactions have no `amount_set`; when one has, its `shop_money` is read first. A
//     refund without line items has only the transactions' money: its currency is theirs,
//     and one in the presentment currency is refused as another currency than the order's
//     (`ignored`, currency_mismatch, recorded) rather than counted at the wrong rate.
//   - what it takes from the commission base is goods (docs/reference.md, "Refunds"): the
//     `refund_line_items` subtotals, after discounts. Without line items, the money less the
//     shipping refunded (`order_adjustments` of kind `shipping_refund` with their tax,
//     `refund_shipping_lines`) is a share of the whole order, scaled to the base by the order's
//     total the conversion's record kept (`gross`); shipping or tax alone takes nothing: ignored.
//   - keyed by the refund's `id`; the conversion is the order (`order_id`), whose id is also
//     the conversion's external_id. Ids can pass 2^53, where JSON.parse loses digits: the
//     refund's id is read from its `admin_graphql_api_id`, the order's from the raw body.
//   - a test refund: `test: true` on the refund or on any of its transactions.
// - Never throws on a payload: anything unexpected is `ignore` with a reason.
import { hmacMatchesAny } from '../lib/hmac';
import { isPlainObject, parseJson } from '../lib/plain';
import { decimal, text } from './fields';
import { platform, type RefundReading } from './platform';

/** A verified Shopify webhook: its topic (a header Shopify signs nothing of, read only after the body's HMAC holds), the body parsed, and as received. */
interface ShopifyEvent {
  topic: string | undefined;
  body: unknown;
  raw: string;
}

export const SHOPIFY_REFUND_TOPIC = 'refunds/create';

export const shopify = platform({
  name: 'shopify',
  routes: [{ path: 'shopify', secret: 'SHOPIFY_WEBHOOK_SECRET' }],
  async verify(request, secret) {
    if (!(await verifyShopifyWebhook(request.bytes, request.header('x-shopify-hmac-sha256'), secret))) return { ok: false, reason: 'invalid_signature' };
    return { ok: true, event: { topic: request.header('x-shopify-topic'), body: parseJson(request.text), raw: request.text } satisfies ShopifyEvent };
  },
  read({ topic, body, raw }: ShopifyEvent) {
    if (topic === SHOPIFY_REFUND_TOPIC) {
      const reading = shopifyRefund(body, raw);
      if (reading.action === 'ignore') return { kind: 'ignore', reason: reading.reason };
      const { action: _action, test, ...refund } = reading;
      return { kind: 'refund', refund, test };
    }
    const action = shopifyAction(topic, body);
    if (action.action === 'ignore') return { kind: 'ignore', reason: action.reason, ...(action.order && { order: action.order, test: isPlainObject(body) && body.test === true }) };
    const { coupon, ...conversion } = action.conversion;
    return {
      kind: 'conversion',
      conversion,
      reference: action.reference,
      // A code typed at checkout beats the one the reference carries.
      identifiers: coupon ? { coupon } : {},
      visitor: { ip: action.ip, user_agent: action.user_agent },
      platformIds: [conversion.external_id],
      ...(action.gross === undefined ? {} : { gross: action.gross }),
      test: isPlainObject(body) && body.test === true,
    };
  },
});

interface ShopifyConversion {
  external_id: string;
  amount: number;
  currency: string;
  customer_id?: string;
  coupon?: string;
}

type ShopifyAction =
  /** `gross`: what the buyer paid in all, which a refund without goods is a share of. */
  | { action: 'convert'; conversion: ShopifyConversion; reference?: string; ip?: string; user_agent?: string; gross?: number }
  /** `order`: the order an ignored event concerns (a cancelled one), for its record. */
  | { action: 'ignore'; reason: string; order?: ShopifyConversion };

const SHOPIFY_TOPICS = ['orders/paid', 'orders/create'] as const;

/** base64 HMAC-SHA256 of the raw bytes, constant time. */
export async function verifyShopifyWebhook(rawBody: Uint8Array, hmacHeader: string | undefined | null, secret: string): Promise<boolean> {
  if (typeof hmacHeader !== 'string' || !secret) return false;
  const signature = base64Bytes(hmacHeader.trim());
  if (!signature || signature.length !== 32) return false;
  // A copy when the bytes do not sit in a plain ArrayBuffer (Web Crypto's BufferSource).
  const data = rawBody.buffer instanceof ArrayBuffer ? (rawBody as Uint8Array<ArrayBuffer>) : new Uint8Array(rawBody);
  return hmacMatchesAny(secret, [signature], data);
}

function base64Bytes(value: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return null;
  try {
    const binary = atob(value);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

/** What the route should do with a verified order webhook. Never throws. */
export function shopifyAction(topic: string | undefined | null, order: unknown): ShopifyAction {
  try {
    if (!SHOPIFY_TOPICS.includes(topic as (typeof SHOPIFY_TOPICS)[number])) return { action: 'ignore', reason: 'unhandled_topic' };
    if (!isPlainObject(order)) return { action: 'ignore', reason: 'malformed' };
    const external_id = shopifyId(order, 'Order');
    const currency = text(order.currency);
    const amount = commissionBase(order);
    if (order.cancelled_at) {
      const known = external_id && currency && amount !== undefined;
      return { action: 'ignore', reason: 'cancelled', ...(known && { order: { external_id, amount, currency: currency.toUpperCase() } }) };
    }
    if (!external_id || !currency || amount === undefined) return { action: 'ignore', reason: 'malformed' };

    const customer = isPlainObject(order.customer) ? order.customer : undefined;
    const customer_id =
      (customer ? shopifyId(customer, 'Customer') : undefined) ??
      text(order.email) ??
      text(order.contact_email) ??
      (customer ? text(customer.email) : undefined);
    const firstCode = Array.isArray(order.discount_codes) && isPlainObject(order.discount_codes[0]) ? text(order.discount_codes[0].code) : undefined;
    const reference = Array.isArray(order.note_attributes)
      ? order.note_attributes.filter(isPlainObject).map((entry) => (entry.name === 'tap_ref' ? text(entry.value) : undefined)).find(Boolean)
      : undefined;
    const ip = text(order.browser_ip);
    const user_agent = isPlainObject(order.client_details) ? text(order.client_details.user_agent) : undefined;
    const gross = decimal(order.current_total_price) ?? decimal(order.total_price);

    return {
      action: 'convert',
      conversion: {
        external_id,
        amount,
        currency: currency.toUpperCase(),
        ...(customer_id ? { customer_id } : {}),
        ...(firstCode ? { coupon: firstCode } : {}),
      },
      ...(reference ? { reference } : {}),
      ...(ip ? { ip } : {}),
      ...(user_agent ? { user_agent } : {}),
      ...(gross === undefined ? {} : { gross }),
    };
  } catch {
    return { action: 'ignore', reason: 'malformed' };
  }
}

/** Goods after discounts, without shipping, tax or tips (see the rules above). */
function commissionBase(order: Record<string, unknown>): number | undefined {
  const subtotal = decimal(order.current_subtotal_price) ?? decimal(order.subtotal_price);
  if (subtotal === undefined) return undefined;
  let base = subtotal;
  if (order.taxes_included === true) {
    const tax = decimal(order.current_total_tax) ?? decimal(order.total_tax) ?? 0;
    let shippingTax = 0;
    if (Array.isArray(order.shipping_lines)) {
      for (const line of order.shipping_lines) {
        if (!isPlainObject(line) || !Array.isArray(line.tax_lines)) continue;
        for (const taxLine of line.tax_lines) if (isPlainObject(taxLine)) shippingTax += decimal(taxLine.price) ?? 0;
      }
    }
    base -= Math.max(0, tax - shippingTax);
  }
  // Never above what the buyer paid in all.
  const total = decimal(order.current_total_price) ?? decimal(order.total_price);
  if (total !== undefined) base = Math.min(base, Math.max(0, total));
  return Math.max(0, Math.round(base * 1000) / 1000);
}

/** The id of an order or customer as a string, exact even beyond 2^53. */
function shopifyId(resource: Record<string, unknown>, kind: 'Order' | 'Customer'): string | undefined {
  const gid = typeof resource.admin_graphql_api_id === 'string' ? resource.admin_graphql_api_id : '';
  const match = new RegExp(`^gid://shopify/${kind}/(\\d+)$`).exec(gid);
  if (match) return match[1];
  const id = resource.id;
  if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) return String(id);
  if (typeof id === 'string' && /^\d+$/.test(id)) return id;
  return undefined;
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
    const amount = decimal(shopMoney(transaction.amount_set) ?? transaction.amount);
    if (amount === undefined || amount <= 0) continue;
    cents += Math.round(amount * 100);
    currency ??= text(shopCurrency(transaction.amount_set) ?? transaction.currency);
  }
  if (cents <= 0) return { action: 'ignore', reason: 'no_money_refunded' };
  const reading = (currency: string | undefined) => ({ action: 'refund' as const, platformIds: [orderId], fallbackExternalId: orderId, ...(currency ? { currency: currency.toUpperCase() } : {}), test });
  // Goods refunded: their subtotal after discounts is what leaves the commission base, in shop money, so in the shop's currency.
  const lines = Array.isArray(refund.refund_line_items) ? refund.refund_line_items.filter(isPlainObject) : [];
  const goodsCents = lines.reduce((sum, line) => sum + Math.round(Math.max(0, decimal(shopMoney(line.subtotal_set) ?? line.subtotal) ?? 0) * 100), 0);
  const goodsCurrency = lines.map((line) => text(shopCurrency(line.subtotal_set))).find(Boolean);
  if (goodsCents > 0) return { ...reading(goodsCurrency ?? currency), refunds: [{ refund_id: id, amount: goodsCents / 100 }] };
  // No goods: shipping (and its tax) refunded alone takes nothing back; any other money is a share of the whole order.
  const rest = cents - shippingCents(refund);
  if (rest <= 0) return { action: 'ignore', reason: 'shipping_or_tax_only' };
  return { ...reading(currency), refunds: [{ refund_id: id, amount: rest / 100 }], ofRecordedGross: true };
}

/** Shipping refunded, its tax included: `order_adjustments` of kind `shipping_refund` (written negative), and `refund_shipping_lines`. */
function shippingCents(refund: Record<string, unknown>): number {
  const unsigned = (value: unknown) => Math.round(Math.abs(decimal(value) ?? 0) * 100);
  let cents = 0;
  for (const adjustment of Array.isArray(refund.order_adjustments) ? refund.order_adjustments.filter(isPlainObject) : []) {
    if (adjustment.kind !== 'shipping_refund') continue;
    cents += unsigned(shopMoney(adjustment.amount_set) ?? adjustment.amount) + unsigned(shopMoney(adjustment.tax_amount_set) ?? adjustment.tax_amount);
  }
  for (const line of Array.isArray(refund.refund_shipping_lines) ? refund.refund_shipping_lines.filter(isPlainObject) : []) {
    cents += unsigned(shopMoney(line.subtotal_amount_set));
  }
  return cents;
}

/** `<field>_set.shop_money`: the shop's currency, as the conversion's amount is. */
const shopMoney = (set: unknown) => (isPlainObject(set) && isPlainObject(set.shop_money) ? set.shop_money.amount : undefined);
const shopCurrency = (set: unknown) => (isPlainObject(set) && isPlainObject(set.shop_money) ? set.shop_money.currency_code : undefined);

function numericId(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && /^\d{1,30}$/.test(value)) return value;
  return undefined;
}
