// Money v4, refunds (docs/security.md, "Attacks"): one test per hole an attacker's pass
// found in refunds, through HTTP against the production app, the real ledger and the
// Tapfiliate stand-in (its commissions are 10% of each conversion). Platform events are
// signed as the platforms sign them (Shopify and Lemon Squeezy: their documented HMACs;
// Paddle: `ts:body`, as @paddle/paddle-node-sdk verifies it).
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { drainAll, pointLedgersAt, recordOf } from '../ledger-control';
import { postbackControl } from '../postback/control';
import { ANNA, postShopify, request, shopifyOrderText, webhookEnv } from '../webhooks-workerd/helpers';
import { lemonSqueezyOrder, lemonSqueezyRefund, paddleAdjustment, paddleTransaction, platformSecrets, postLemonSqueezy, postPaddle } from '../webhooks-workerd/platform-helpers';

const KEY = 'test-key';
const TOKEN = 'money-v4-server-token';
const upstream = postbackControl(inject('refundPostbackServers').money);
const env = (extra: Partial<Env> = {}) =>
  webhookEnv(upstream, { ...platformSecrets, TAPFILIATE_REST_URL: upstream.restUrl, TAPLINE_SERVER_TOKEN: TOKEN, REFUNDS: '', WEBHOOK_TEST_EVENTS: '', ...extra });
const commissions = async (externalId: string) => (await upstream.commissionsOf(externalId))?.map(({ amount, approved }) => ({ amount, approved }));

let n = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++n}`;

/** A server event (the merchant's backend), with the server token. */
const server = (path: string, body: unknown) =>
  request(env(), path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
const convert = (external_id: string, amount: number, currency = 'EUR') => server('/convert', { external_id, amount, currency, referral_code: 'anna' });
const refund = (external_id: string, fields: Record<string, unknown> = {}) => server('/refund', { external_id, refund_id: unique('re'), ...fields });
const conversionsSent = async (external_id: string) => (await upstream.accepted('conversion')).filter((r) => r.fields.external_id === external_id);

let undo: () => Promise<void>;
beforeEach(async () => {
  await upstream.reset();
  undo = await pointLedgersAt({ POSTBACK_CONVERSION_URL: upstream.conversionUrl, POSTBACK_CUSTOMER_URL: upstream.customerUrl, TAPFILIATE_REST_URL: upstream.restUrl, TAPFILIATE_API_KEY: KEY, REFUNDS: '' });
});
afterEach(() => undo());

describe('hole 3: cumulative refunds count what was accepted, not only what Tapfiliate applied', () => {
  it('Lemon Squeezy: 25% refunded (pending behind a REST 503), then 50% in all: the commission ends at half', async () => {
    const { body, id } = lemonSqueezyOrder((e) => (e.meta.custom_data = { tap_ref: ANNA }));
    expect((await postLemonSqueezy(env(), body)).json).toEqual({ ok: true, status: 'sent' });
    expect(await commissions(id)).toEqual([{ amount: 2.4, approved: null }]);
    await upstream.setFaults({ rest: { next: ['503'] } });
    expect((await postLemonSqueezy(env(), lemonSqueezyRefund(id, 720))).json).toEqual({ ok: true, status: 'queued' });
    // Half of the order in all: this event's own part is the second quarter.
    expect((await postLemonSqueezy(env(), lemonSqueezyRefund(id, 1440))).json).toMatchObject({ ok: true });
    await drainAll();
    expect(await commissions(id)).toEqual([{ amount: 1.2, approved: null }]);
    expect(await recordOf(`con:${id}`)).toMatchObject({ refunded_amount: 12 });
  });
});

describe('hole 4: a refund before its conversion is kept, and applied when the conversion arrives', () => {
  it('a full refund first: answered unattributed; the conversion then is never sent, and is reversed', async () => {
    const id = unique('EARLY-FULL');
    expect((await refund(id)).json).toEqual({ ok: true, status: 'unattributed' });
    const converted = await convert(id, 100);
    expect(converted.status).toBe(200);
    expect(await conversionsSent(id)).toEqual([]);
    expect(await recordOf(`con:${id}`)).toMatchObject({ status: 'reversed' });
  });

  it('a partial refund first: the conversion is sent, and its commission ends as if the refund had come after', async () => {
    const id = unique('EARLY-PART');
    expect((await refund(id, { amount: 30, currency: 'EUR' })).json).toEqual({ ok: true, status: 'unattributed' });
    expect((await convert(id, 100)).json).toEqual({ ok: true, status: 'sent' });
    await drainAll();
    expect(await conversionsSent(id)).toHaveLength(1);
    expect(await commissions(id)).toEqual([{ amount: 7, approved: null }]);
    expect(await recordOf(`con:${id}`)).toMatchObject({ status: 'adjusted', refunded_amount: 30 });
  });

  it('Lemon Squeezy order_refunded before order_created: the order is never sent', async () => {
    const { body, id } = lemonSqueezyOrder((e) => (e.meta.custom_data = { tap_ref: ANNA }));
    expect((await postLemonSqueezy(env(), lemonSqueezyRefund(id, 2880, { full: true }))).json).toEqual({ ok: true, status: 'unattributed' });
    await postLemonSqueezy(env(), body);
    expect(await conversionsSent(id)).toEqual([]);
    expect(await recordOf(`con:${id}`)).toMatchObject({ status: 'reversed' });
  });
});

describe('hole 6: only a full refund stops an unsent conversion', () => {
  it('a 0.01 refund of a 1,000 EUR conversion pending after a 503 leaves it to be sent, then takes its share', async () => {
    const id = unique('BIG');
    await upstream.setFaults({ next: ['503'] });
    expect((await convert(id, 1000)).json).toEqual({ ok: true, status: 'queued' });
    const partial = await refund(id, { amount: 250, currency: 'EUR' });
    expect(partial.json).toMatchObject({ ok: true });
    expect(partial.json.status).not.toBe('reversed');
    expect(await recordOf(`con:${id}`)).toMatchObject({ status: 'pending' });
    await drainAll();
    expect(await conversionsSent(id)).toHaveLength(1);
    // 100.00 of commission, a quarter refunded.
    expect(await commissions(id)).toEqual([{ amount: 75, approved: null }]);
  });

  it('a full refund of a pending conversion still stops it (control: held before the fix too)', async () => {
    const id = unique('STOP');
    await upstream.setFaults({ next: ['503'] });
    expect((await convert(id, 1000)).json).toEqual({ ok: true, status: 'queued' });
    expect((await refund(id)).json).toEqual({ ok: true, status: 'reversed' });
    await drainAll();
    expect(await conversionsSent(id)).toEqual([]);
  });
});

describe('hole 10: a refund in another currency than its conversion is refused', () => {
  it('a server event: 400 naming currency, and the conversion is untouched', async () => {
    const id = unique('EUR');
    expect((await convert(id, 100)).json).toEqual({ ok: true, status: 'sent' });
    const yen = await refund(id, { amount: 5000, currency: 'JPY' });
    expect(yen.status).toBe(400);
    expect(yen.json).toMatchObject({ ok: false, error: 'invalid_request', issues: [{ path: 'currency' }] });
    expect(await commissions(id)).toEqual([{ amount: 10, approved: null }]);
  });

  it('a Paddle refund: ignored, and the commission is untouched', async () => {
    const { body, data } = paddleTransaction((d) => (d.custom_data = { tap_ref: ANNA }));
    expect((await postPaddle(env(), body)).json).toEqual({ ok: true, status: 'sent' });
    const other = paddleAdjustment(data.id, { edit: (adjustment) => (adjustment.currency_code = 'JPY') });
    expect((await postPaddle(env(), other)).json).toEqual({ ok: true, status: 'ignored' });
    expect(await commissions(data.id)).toEqual([{ amount: 2.5, approved: null }]);
  });
});

describe('hole 7: Shopify refunds by goods', () => {
  /** The fixture's order through anna's link: goods 388.00 after discounts (38.80 of commission), shipping 10.00, 398.00 paid. */
  async function order() {
    const id = String(6_000_000_000_000 + Math.floor(Math.random() * 1e9));
    const body = shopifyOrderText.replace(/820982911946154508/g, id).replace('"test": true', '"test": false');
    expect((await postShopify(env(), body)).json).toEqual({ ok: true, status: 'sent' });
    return id;
  }
  const refundOf = (orderId: string, amount: string, extra: string) => {
    const id = String(7_000_000_000_000 + Math.floor(Math.random() * 1e9));
    return `{"id":${id},"admin_graphql_api_id":"gid://shopify/Refund/${id}","order_id":${orderId},"transactions":[{"id":1,"order_id":${orderId},"kind":"refund","status":"success","amount":"${amount}","currency":"USD"}],${extra}}`;
  };

  it('a refund of shipping alone changes no commission', async () => {
    const id = await order();
    const shipping = refundOf(id, '10.00', '"refund_line_items":[],"order_adjustments":[{"id":9,"kind":"shipping_refund","amount":"-10.00","tax_amount":"0.00"}]');
    expect((await postShopify(env(), shipping, { topic: 'refunds/create' })).json).toEqual({ ok: true, status: 'ignored' });
    expect(await commissions(id)).toEqual([{ amount: 38.8, approved: null }]);
  });

  it('a refund without line items is scaled by the goods’ share of the order', async () => {
    const id = await order();
    // 39.80 of the 398.00 paid is 38.80 of the 388.00 goods: a tenth.
    expect((await postShopify(env(), refundOf(id, '39.80', '"refund_line_items":[]'), { topic: 'refunds/create' })).json).toEqual({ ok: true, status: 'adjusted' });
    expect(await commissions(id)).toEqual([{ amount: 34.92, approved: null }]);
  });

  it('refunded goods reduce the base by their subtotal after discounts, shipping refunded beside them or not', async () => {
    const id = await order();
    const goods = refundOf(
      id,
      '204.00',
      '"refund_line_items":[{"id":3,"quantity":1,"line_item_id":866550311766439020,"subtotal":194.0,"total_tax":0.0,"subtotal_set":{"shop_money":{"amount":"194.00","currency_code":"USD"}}}],"order_adjustments":[{"id":9,"kind":"shipping_refund","amount":"-10.00","tax_amount":"0.00"}]',
    );
    expect((await postShopify(env(), goods, { topic: 'refunds/create' })).json).toEqual({ ok: true, status: 'adjusted' });
    expect(await commissions(id)).toEqual([{ amount: 19.4, approved: null }]);
  });
});

describe('a review of the refund paths', () => {
  it('two refunds of one sent order running at once: each plans from what the other left (30 then 20 of 100: half the commission left)', async () => {
    const id = unique('TWO');
    expect((await convert(id, 100)).json).toEqual({ ok: true, status: 'sent' });
    // Both refunds wait for their first REST answer, so the alarm tries them side by side.
    await upstream.setFaults({ rest: { next: ['503', '503'] } });
    expect((await refund(id, { amount: 30, currency: 'EUR' })).json).toEqual({ ok: true, status: 'queued' });
    expect((await refund(id, { amount: 20, currency: 'EUR' })).json).toEqual({ ok: true, status: 'queued' });
    await upstream.setFaults({ rest: { slowMs: 300, next: ['slow', 'slow', 'slow', 'slow'] } });
    await drainAll();
    expect(await commissions(id)).toEqual([{ amount: 5, approved: null }]);
    expect(await recordOf(`con:${id}`)).toMatchObject({ status: 'adjusted', refunded_amount: 50 });
  });

  it('a partial refund held for an unsent conversion ends when a full refund stops that conversion, never pending for ever', async () => {
    const id = unique('HELD');
    await upstream.setFaults({ next: ['503'] });
    expect((await convert(id, 100)).json).toEqual({ ok: true, status: 'queued' });
    const partialId = unique('re');
    expect((await server('/refund', { external_id: id, refund_id: partialId, amount: 30, currency: 'EUR' })).json).toMatchObject({ ok: true, status: 'queued' });
    expect((await refund(id)).json).toEqual({ ok: true, status: 'reversed' });
    expect(await recordOf(`ref:${partialId}`, `con:${id}`)).toMatchObject({ status: 'reversed' });
    await drainAll();
    expect(await conversionsSent(id)).toEqual([]);
  });
});

describe('a second review of kept refunds', () => {
  const ADMIN = 'money-v4-admin-token';
  /** The record as the operator API shows it (GET /_tap/admin/api/events/:key). */
  const eventOf = async (key: string, extra: Partial<Env> = {}) =>
    (await request(env({ TAPLINE_ADMIN_TOKEN: ADMIN, ...extra }), `/admin/api/events/${encodeURIComponent(key)}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json.event as Record<string, unknown>;
  /** Until the stand-in has been asked to look this order up: the refund's lookup is under way. */
  async function lookupStarted(external_id: string) {
    for (let i = 0; i < 200; i++) {
      if ((await upstream.rest()).some((r) => r.method === 'GET' && r.path.includes(encodeURIComponent(external_id)))) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no lookup of ${external_id} reached the stand-in`);
  }
  /**
   * A browser conversion in open trust (no webhook owns the orders), without the affiliate's cookie:
   * anyone can post one for a guessable order id, and it is recorded only as an answer (unattributed).
   */
  const browserConvert = (body: Record<string, unknown>) =>
    request(env({ STRIPE_WEBHOOK_SECRET: '', SHOPIFY_WEBHOOK_SECRET: '', PADDLE_WEBHOOK_SECRET: '', PADDLE_SANDBOX_WEBHOOK_SECRET: '', LEMONSQUEEZY_WEBHOOK_SECRET: '' }), '/convert', {
      method: 'POST',
      headers: { origin: 'https://shop.example', 'content-type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify(body),
    });
  /** A refund whose lookup at Tapfiliate is slow, and its conversion arriving while it looks. */
  async function conversionDuringLookup(id: string, fields: Record<string, unknown> = {}) {
    await upstream.setFaults({ rest: { slowMs: 1500, next: ['slow'] } });
    const refunding = refund(id, fields);
    await lookupStarted(id);
    // The order is busy with the refund's lookup, so the conversion is accepted and waits.
    expect((await convert(id, 100)).json).toEqual({ ok: true, status: 'queued' });
    return (await refunding).json;
  }

  it('a full refund whose conversion arrives while it looks the order up: the conversion is never sent, and is reversed', async () => {
    const id = unique('DURING-FULL');
    // The refund's try, back from an empty lookup, finds the conversion: stopped, never sent.
    expect(await conversionDuringLookup(id)).toEqual({ ok: true, status: 'reversed' });
    await drainAll();
    expect(await conversionsSent(id)).toEqual([]);
    expect(await recordOf(`con:${id}`)).toMatchObject({ status: 'reversed' });
  });

  it('a partial refund whose conversion arrives while it looks the order up: sent, and the commission ends as if the refund had come after', async () => {
    const id = unique('DURING-PART');
    // It holds until the conversion is sent.
    expect(await conversionDuringLookup(id, { amount: 30, currency: 'EUR' })).toEqual({ ok: true, status: 'queued' });
    await drainAll();
    expect(await conversionsSent(id)).toHaveLength(1);
    expect(await commissions(id)).toEqual([{ amount: 7, approved: null }]);
    expect(await recordOf(`con:${id}`)).toMatchObject({ status: 'adjusted', refunded_amount: 30 });
  });

  it('a kept refund shows its reason (conversion_not_found), and its job', async () => {
    const id = unique('KEPT-REASON');
    const refund_id = unique('re');
    expect((await server('/refund', { external_id: id, refund_id, amount: 30, currency: 'EUR' })).json).toEqual({ ok: true, status: 'unattributed' });
    expect(await eventOf(`ref:${refund_id}`)).toMatchObject({ status: 'unattributed', reason: 'conversion_not_found', job: { refund: { refund_id, amount: 30 } } });
    // A replay of the same refund id is still a duplicate: a kept refund is not a mere answer.
    expect((await server('/refund', { external_id: id, refund_id, amount: 30, currency: 'EUR' })).json).toEqual({ ok: true, status: 'duplicate' });
  });

  it('a refund under REFUNDS=ignore shows its reason (refunds_ignored)', async () => {
    await undo();
    undo = await pointLedgersAt({ POSTBACK_CONVERSION_URL: upstream.conversionUrl, TAPFILIATE_REST_URL: upstream.restUrl, TAPFILIATE_API_KEY: KEY, REFUNDS: 'ignore' });
    const ignoring = (body: unknown) =>
      request(env({ REFUNDS: 'ignore' }), '/refund', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
    const id = unique('IGNORE-REASON');
    const refund_id = unique('re');
    expect((await ignoring({ external_id: id, refund_id })).json).toEqual({ ok: true, status: 'ignored' });
    expect(await eventOf(`ref:${refund_id}`, { REFUNDS: 'ignore' })).toMatchObject({ status: 'ignored', reason: 'refunds_ignored' });
  });

  it('an unattributed browser conversion planted in another currency does not refuse the merchant’s refund: it is kept, and applies when the real conversion arrives', async () => {
    const id = unique('PLANTED');
    const planted = await browserConvert({ external_id: id, amount: 10, currency: 'JPY' });
    expect(planted.json).toEqual({ ok: true, status: 'unattributed' });
    const early = await refund(id, { amount: 30, currency: 'EUR' });
    expect(early.status).toBe(200);
    expect(early.json).toEqual({ ok: true, status: 'unattributed' });
    expect((await convert(id, 100)).json).toEqual({ ok: true, status: 'sent' });
    await drainAll();
    expect(await conversionsSent(id)).toHaveLength(1);
    expect(await commissions(id)).toEqual([{ amount: 7, approved: null }]);
    expect(await recordOf(`con:${id}`)).toMatchObject({ status: 'adjusted', refunded_amount: 30 });
  });

  it('an unattributed browser conversion planted with a small amount does not turn a partial refund into a full one', async () => {
    const id = unique('PLANTED-AMOUNT');
    // Tapfiliate holds the order (sent before Tapline), the ledger only a stranger's answer-only record of it.
    await upstream.seedConversion({ external_id: id, amount: 100 });
    const planted = await browserConvert({ external_id: id, amount: 1, currency: 'EUR' });
    expect(planted.json).toEqual({ ok: true, status: 'unattributed' });
    expect((await refund(id, { amount: 30, currency: 'EUR' })).json).toEqual({ ok: true, status: 'adjusted' });
    expect(await commissions(id)).toEqual([{ amount: 7, approved: null }]);
  });
});
