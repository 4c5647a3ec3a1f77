// Refunds from Stripe and Shopify webhooks through the production app, the real
// ledger and runRefund, against the Tapfiliate stand-in. Stripe payloads are
// signed by the `stripe` package's own helper (its async form: in workerd the
// package signs with Web Crypto, which has no synchronous HMAC), Shopify's with its
// documented HMAC (base64 HMAC-SHA256 of the raw body, X-Shopify-Hmac-Sha256).
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { encodeReference } from '../../common/attribution';
import { createApp } from '../../proxy/app';
import { createDelivery } from '../../proxy/delivery';
import { pointLedgersAt, recordOf } from '../ledger-control';
import { postbackControl } from '../postback/control';
import sessionPaymentText from '../webhooks/fixtures/stripe-checkout-session-payment.json?raw';
import chargeRefundedText from '../webhooks/fixtures/stripe-charge-refunded.json?raw';
import shopifyOrderText from '../webhooks/fixtures/shopify-orders-paid.json?raw';

const KEY = 'test-key';
const STRIPE_SECRET = 'whsec_refunds_workerd_test';
const SHOPIFY_SECRET = 'shpss_refunds_workerd_test';
const ANNA = encodeReference({ referral_code: 'anna' })!;
const stripe = new Stripe('sk_test_not_used_offline');

function appEnv(upstream: ReturnType<typeof postbackControl>, extra: Partial<Env> = {}): Env {
  return {
    ...(workerEnv as Env),
    TAPFILIATE_API_KEY: KEY,
    POSTBACK_CONVERSION_URL: upstream.conversionUrl,
    POSTBACK_CUSTOMER_URL: upstream.customerUrl,
    TAPFILIATE_REST_URL: upstream.restUrl,
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    SHOPIFY_WEBHOOK_SECRET: SHOPIFY_SECRET,
    WEBHOOK_TEST_EVENTS: '',
    ...extra,
  } as Env;
}

async function request(path: string, body: string, headers: Record<string, string>, env: Env) {
  const app = createApp({ createDelivery });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const ctx = createExecutionContext();
  try {
    const response = await app.request(`https://shop.example${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }, env, ctx);
    const json = await response.json();
    await waitOnExecutionContext(ctx);
    return { status: response.status, json };
  } finally {
    log.mockRestore();
  }
}

let n = 0;
const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${++n}`;

describe('Stripe refunds', () => {
  const upstream = postbackControl(inject('refundPostbackServers').stripe);
  let undo: () => Promise<void>;
  beforeEach(async () => {
    await upstream.reset();
    undo = await pointLedgersAt({ POSTBACK_CONVERSION_URL: upstream.conversionUrl, POSTBACK_CUSTOMER_URL: upstream.customerUrl, TAPFILIATE_REST_URL: upstream.restUrl, TAPFILIATE_API_KEY: KEY });
  });
  afterEach(() => undo());

  async function postStripe(event: object, extra: Partial<Env> = {}) {
    const payload = JSON.stringify(event);
    const header = await stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: STRIPE_SECRET });
    return request('/_tap/webhooks/stripe', payload, { 'stripe-signature': header }, appEnv(upstream, extra));
  }

  /** A paid checkout through anna's link; its payment_intent is what a refund names. Its commission base is 40.00 (10% → 4.00). */
  async function checkout(livemode = true) {
    const event = JSON.parse(sessionPaymentText);
    const session = { ...event.data.object, id: unique('cs_live_'), payment_intent: unique('pi_'), client_reference_id: ANNA, livemode };
    const result = await postStripe({ ...event, id: unique('evt_'), livemode, created: Math.floor(Date.now() / 1000), data: { object: session } });
    return { session, result };
  }

  function chargeRefunded(payment_intent: string, charge: Record<string, unknown>, previous: Record<string, unknown>, livemode = true) {
    const event = JSON.parse(chargeRefundedText);
    return {
      ...event,
      id: unique('evt_'),
      livemode,
      created: Math.floor(Date.now() / 1000),
      data: { object: { ...event.data.object, id: unique('ch_'), payment_intent, livemode, ...charge }, previous_attributes: previous },
    };
  }

  function refundCreated(payment_intent: string, refund: Record<string, unknown>, livemode = true) {
    return {
      id: unique('evt_'),
      object: 'event',
      type: 'refund.created',
      livemode,
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: unique('re_'), object: 'refund', amount: 1000, currency: 'usd', charge: unique('ch_'), payment_intent, status: 'succeeded', ...refund } },
    };
  }

  it('a whole charge.refunded disapproves the commission of the checkout it paid', async () => {
    const { session, result } = await checkout();
    expect(result.json).toEqual({ ok: true, status: 'sent' });
    expect(await upstream.commissionsOf(session.id)).toMatchObject([{ amount: 4, approved: null }]);
    const refunded = await postStripe(chargeRefunded(session.payment_intent, { amount_refunded: 5350, refunded: true }, { amount_refunded: 0, refunded: false }));
    expect(refunded).toEqual({ status: 200, json: { ok: true, status: 'reversed' } });
    expect(await upstream.commissionsOf(session.id)).toMatchObject([{ amount: 4, approved: false }]);
    expect(await recordOf(`con:${session.id}`)).toMatchObject({ status: 'reversed' });
  });

  it('a partial charge.refunded reduces it by the share of the charge refunded; the next one is worked out from the original', async () => {
    const { session } = await checkout();
    // 10.00 of a 53.50 charge (tax and shipping included) is 7.48 of the 40.00 commission base.
    const first = chargeRefunded(session.payment_intent, { amount_refunded: 1000, refunded: false }, { amount_refunded: 0 });
    expect((await postStripe(first)).json).toEqual({ ok: true, status: 'adjusted' });
    expect(await upstream.commissionsOf(session.id)).toMatchObject([{ amount: 3.25 }]);
    expect(await recordOf(`con:${session.id}`)).toMatchObject({ refunded_amount: 7.48 });
    const second = chargeRefunded(session.payment_intent, { id: first.data.object.id, amount_refunded: 2000, refunded: false }, { amount_refunded: 1000 });
    expect((await postStripe(second)).json).toEqual({ ok: true, status: 'adjusted' });
    // 20.00 in all is 14.95 of the base: 4 × (40 − 14.95) / 40 from the original 4, where compounding from 3.25 would give 2.03.
    expect(await upstream.commissionsOf(session.id)).toMatchObject([{ amount: 2.51 }]);
    expect(await recordOf(`con:${session.id}`)).toMatchObject({ refunded_amount: 14.95 });
    // The same event again (Stripe retries): one change only.
    expect((await postStripe(second)).json).toEqual({ ok: true, status: 'duplicate' });
    expect((await upstream.rest()).filter((r) => r.method === 'PATCH')).toHaveLength(2);
  });

  it('refund.created and a charge.refunded listing the same re_ refund take it back once', async () => {
    const { session } = await checkout();
    const created = refundCreated(session.payment_intent, { amount: 1000 });
    expect((await postStripe(created)).json).toEqual({ ok: true, status: 'adjusted' });
    const listed = chargeRefunded(
      session.payment_intent,
      { amount_refunded: 1000, refunded: false, refunds: { object: 'list', data: [{ id: created.data.object.id, amount: 1000, status: 'succeeded', created: 1 }] } },
      { amount_refunded: 0 },
    );
    expect((await postStripe(listed)).json).toEqual({ ok: true, status: 'duplicate' });
    expect((await upstream.rest()).filter((r) => r.method === 'PATCH')).toHaveLength(1);
    // 10.00 of the 53.50 the checkout paid is 7.48 of its 40.00 base, as charge.refunded counts it.
    expect(await upstream.commissionsOf(session.id)).toMatchObject([{ amount: 3.25 }]);
  });

  // API versions from 2022-11-15 list no refunds in charge.refunded: one refund of 10.00
  // (7.48 of the 40.00 base) reaches the worker through both events, in either order.
  const unlistedChargeRefunded = (payment_intent: string, amount_refunded: number) =>
    chargeRefunded(payment_intent, { amount_refunded, refunded: false, refunds: undefined }, { amount_refunded: 0 });

  it('refund.created, then a charge.refunded that lists no refunds, for the same 10.00: taken back once', async () => {
    const { session } = await checkout();
    expect((await postStripe(refundCreated(session.payment_intent, { amount: 1000 }))).json).toEqual({ ok: true, status: 'adjusted' });
    expect((await postStripe(unlistedChargeRefunded(session.payment_intent, 1000))).json).toEqual({ ok: true, status: 'duplicate' });
    expect((await upstream.rest()).filter((r) => r.method === 'PATCH')).toHaveLength(1);
    expect(await upstream.commissionsOf(session.id)).toMatchObject([{ amount: 3.25, approved: null }]);
    expect(await recordOf(`con:${session.id}`)).toMatchObject({ status: 'adjusted', refunded_amount: 7.48 });
  });

  it('the same two in the other order: taken back once', async () => {
    const { session } = await checkout();
    expect((await postStripe(unlistedChargeRefunded(session.payment_intent, 1000))).json).toEqual({ ok: true, status: 'adjusted' });
    expect((await postStripe(refundCreated(session.payment_intent, { amount: 1000 }))).json).toEqual({ ok: true, status: 'duplicate' });
    expect((await upstream.rest()).filter((r) => r.method === 'PATCH')).toHaveLength(1);
    expect(await upstream.commissionsOf(session.id)).toMatchObject([{ amount: 3.25, approved: null }]);
    expect(await recordOf(`con:${session.id}`)).toMatchObject({ status: 'adjusted', refunded_amount: 7.48 });
  });

  it('two refunds through both events, interleaved: each counted once, the total ends right', async () => {
    const { session } = await checkout();
    // 10.00, seen first through charge.refunded; then 20.00, whose refund.created comes before its charge.refunded.
    const first = refundCreated(session.payment_intent, { amount: 1000 });
    expect((await postStripe(unlistedChargeRefunded(session.payment_intent, 1000))).json).toEqual({ ok: true, status: 'adjusted' });
    expect((await postStripe(refundCreated(session.payment_intent, { amount: 2000 }))).json).toEqual({ ok: true, status: 'adjusted' });
    // Counted already by the running total of 10.00.
    expect((await postStripe(first)).json).toEqual({ ok: true, status: 'duplicate' });
    // What the running totals left uncounted of the second refund, never more.
    expect((await postStripe(unlistedChargeRefunded(session.payment_intent, 3000))).json).toEqual({ ok: true, status: 'adjusted' });
    expect((await postStripe(unlistedChargeRefunded(session.payment_intent, 3000))).json).toEqual({ ok: true, status: 'duplicate' });
    // 30.00 of the 53.50 charge is 22.43 of the 40.00 base: 4 × 17.57 / 40.
    expect(await recordOf(`con:${session.id}`)).toMatchObject({ refunded_amount: 22.43 });
    expect(await upstream.commissionsOf(session.id)).toMatchObject([{ amount: 1.76 }]);
  });

  it('a refund of a payment Tapline never sent is unattributed, and nothing is asked of Tapfiliate', async () => {
    const refund = refundCreated(unique('pi_'), {});
    const result = await postStripe(refund);
    expect(result).toEqual({ status: 200, json: { ok: true, status: 'unattributed' } });
    expect(await upstream.rest()).toEqual([]);
    // Recorded under the refund's own id, with why, for the console (no order named: no external_id).
    expect(await recordOf(`ref:${refund.data.object.id}`, 'con:')).toMatchObject({ kind: 'refund', status: 'unattributed', reason: 'unknown_order', source: 'stripe' });
  });

  it('a failed refund moved no money: ignored', async () => {
    const { session } = await checkout();
    expect((await postStripe(refundCreated(session.payment_intent, { status: 'failed' }))).json).toEqual({ ok: true, status: 'ignored' });
    expect(await upstream.rest()).toEqual([]);
  });

  it('test-mode events (livemode: false) are answered test: no conversion, no refund', async () => {
    const { session, result } = await checkout(false);
    expect(result).toMatchObject({ status: 200, json: { ok: true, status: 'test' } });
    expect((result.json as { postbacks: unknown[] }).postbacks).toContainEqual(expect.objectContaining({ kind: 'conversion', body: expect.objectContaining({ external_id: session.id, amount: 40 }) }));
    expect(await upstream.received()).toEqual([]);
    const refund = await postStripe(refundCreated(session.payment_intent, {}, false));
    expect(refund).toMatchObject({ status: 200, json: { ok: true, status: 'test', postbacks: [{ kind: 'refund', body: { amount: 10 } }] } });
    expect(await upstream.rest()).toEqual([]);
    expect(await recordOf(`con:${session.id}`)).toBeUndefined();
  });

  it('WEBHOOK_TEST_EVENTS=send delivers test-mode events', async () => {
    const event = JSON.parse(sessionPaymentText);
    const session = { ...event.data.object, id: unique('cs_test_'), payment_intent: unique('pi_'), client_reference_id: ANNA };
    const sent = await postStripe({ ...event, id: unique('evt_'), created: Math.floor(Date.now() / 1000), data: { object: session } }, { WEBHOOK_TEST_EVENTS: 'send' });
    expect(sent.json).toEqual({ ok: true, status: 'sent' });
    const refunded = await postStripe(chargeRefunded(session.payment_intent, { amount_refunded: 5350, refunded: true }, { amount_refunded: 0 }, false), { WEBHOOK_TEST_EVENTS: 'send' });
    expect(refunded.json).toEqual({ ok: true, status: 'reversed' });
    expect(await upstream.commissionsOf(session.id)).toMatchObject([{ approved: false }]);
  });

  it('a forged signature is refused before anything is read', async () => {
    const payload = JSON.stringify(refundCreated('pi_x', {}));
    const header = await stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: 'whsec_someone_else' });
    const result = await request('/_tap/webhooks/stripe', payload, { 'stripe-signature': header }, appEnv(upstream));
    expect(result.status).toBe(400);
    expect(await upstream.rest()).toEqual([]);
  });
});

describe('Shopify refunds/create', () => {
  const upstream = postbackControl(inject('refundPostbackServers').shopify);
  let undo: () => Promise<void>;
  beforeEach(async () => {
    await upstream.reset();
    undo = await pointLedgersAt({ POSTBACK_CONVERSION_URL: upstream.conversionUrl, POSTBACK_CUSTOMER_URL: upstream.customerUrl, TAPFILIATE_REST_URL: upstream.restUrl, TAPFILIATE_API_KEY: KEY });
  });
  afterEach(() => undo());

  async function postShopify(topic: string, body: string, extra: Partial<Env> = {}) {
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(SHOPIFY_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body)));
    const hmac = btoa(String.fromCharCode(...mac));
    return request('/_tap/webhooks/shopify', body, { 'x-shopify-hmac-sha256': hmac, 'x-shopify-topic': topic, 'x-shopify-webhook-id': unique('wh-') }, appEnv(upstream, extra));
  }

  /** A paid order through anna's link (388.00 → a 38.80 commission at the stand-in). */
  async function order(test = false) {
    const id = String(4_000_000_000_000 + Math.floor(Math.random() * 1e9));
    const body = shopifyOrderText.replace(/820982911946154508/g, id).replace('"test": true', `"test": ${test}`);
    return { id, result: await postShopify('orders/paid', body) };
  }

  const refundBody = (orderId: string, amount: string, test = false) => {
    const id = String(5_000_000_000_000 + Math.floor(Math.random() * 1e9));
    return `{"id":${id},"admin_graphql_api_id":"gid://shopify/Refund/${id}","order_id":${orderId},"note":"damaged","refund_line_items":[],"transactions":[{"id":1,"order_id":${orderId},"kind":"refund","status":"success","amount":"${amount}","currency":"USD","test":${test}},{"id":2,"order_id":${orderId},"kind":"refund","status":"failure","amount":"50.00","currency":"USD","test":${test}}]}`;
  };

  it('a partial refund reduces the commission; a replay changes nothing; the rest disapproves it', async () => {
    const { id, result } = await order();
    expect(result.json).toEqual({ ok: true, status: 'sent' });
    expect(await upstream.commissionsOf(id)).toMatchObject([{ amount: 38.8 }]);
    // No line items: 97.00 of the 398.00 paid is 94.56 of the 388.00 goods.
    const partial = refundBody(id, '97.00');
    expect((await postShopify('refunds/create', partial)).json).toEqual({ ok: true, status: 'adjusted' });
    expect(await upstream.commissionsOf(id)).toMatchObject([{ amount: 29.34, approved: null }]);
    expect((await postShopify('refunds/create', partial)).json).toEqual({ ok: true, status: 'duplicate' });
    expect((await postShopify('refunds/create', refundBody(id, '301.00'))).json).toEqual({ ok: true, status: 'reversed' });
    expect(await upstream.commissionsOf(id)).toMatchObject([{ amount: 29.34, approved: false }]);
    expect((await upstream.rest()).filter((r) => r.method !== 'GET').map((r) => r.method)).toEqual(['PATCH', 'DELETE']);
  });

  it('a refund paid back in the buyer’s currency (EUR) of a USD shop is compared in shop money: adjusted, not ignored', async () => {
    const { id } = await order();
    // The line items carry both moneys; the transaction only the presentment one (Shopify's multi-currency guide).
    const money = (shop: string, presentment: string) => ({ shop_money: { amount: shop, currency_code: 'USD' }, presentment_money: { amount: presentment, currency_code: 'EUR' } });
    const body = `{"id":${5_000_000_000_000 + Math.floor(Math.random() * 1e9)},"order_id":${id},"refund_line_items":[{"quantity":1,"subtotal":"18.40","subtotal_set":${JSON.stringify(money('20.00', '18.40'))}}],"transactions":[{"id":3,"order_id":${id},"kind":"refund","status":"success","amount":"20.00","currency":"EUR"}]}`;
    expect((await postShopify('refunds/create', body)).json).toEqual({ ok: true, status: 'adjusted' });
    // 20.00 of the 388.00 goods: 38.80 × 368 / 388.
    expect(await upstream.commissionsOf(id)).toMatchObject([{ amount: 36.8, approved: null }]);
    expect(await recordOf(`con:${id}`)).toMatchObject({ status: 'adjusted', refunded_amount: 20 });
  });

  it('a refund in another currency than its order’s: 200 ignored, recorded with its reason, and it counts nothing later', async () => {
    const { id } = await order();
    const refundId = String(5_000_000_000_000 + Math.floor(Math.random() * 1e9));
    const body = refundBody(id, '97.00').replace(/"id":\d+,"admin_graphql_api_id":"gid:\/\/shopify\/Refund\/\d+"/, `"id":${refundId},"admin_graphql_api_id":"gid://shopify/Refund/${refundId}"`).replaceAll('"currency":"USD"', '"currency":"EUR"');
    expect((await postShopify('refunds/create', body)).json).toEqual({ ok: true, status: 'ignored' });
    expect(await recordOf(`ref:${refundId}`, `con:${id}`)).toMatchObject({ kind: 'refund', status: 'ignored', reason: 'currency_mismatch', source: 'shopify', job: { refund: { currency: 'EUR' } } });
    expect(await upstream.rest()).toEqual([]);
    // The same refund in the right currency is then taken, not a duplicate.
    expect((await postShopify('refunds/create', body.replaceAll('"currency":"EUR"', '"currency":"USD"'))).json).toEqual({ ok: true, status: 'adjusted' });
  });

  it('a refund of an order nobody knows is unattributed', async () => {
    const result = await postShopify('refunds/create', refundBody('4999999999999', '10.00'));
    expect(result).toEqual({ status: 200, json: { ok: true, status: 'unattributed' } });
    expect((await upstream.rest()).map((r) => r.method)).toEqual(['GET']);
  });

  it('test orders and refunds are answered test, and nothing is sent', async () => {
    const { id, result } = await order(true);
    expect(result.json).toMatchObject({ ok: true, status: 'test' });
    expect(await upstream.received()).toEqual([]);
    expect((await postShopify('refunds/create', refundBody(id, '10.00', true))).json).toMatchObject({ ok: true, status: 'test', postbacks: [{ kind: 'refund', body: { amount: 10, currency: 'USD' } }] });
    expect(await upstream.rest()).toEqual([]);
  });

  it('a refund that moved no money is ignored', async () => {
    const { id } = await order();
    const body = `{"id":77,"order_id":${id},"refund_line_items":[{"quantity":1}],"transactions":[]}`;
    expect((await postShopify('refunds/create', body)).json).toEqual({ ok: true, status: 'ignored' });
  });
});
