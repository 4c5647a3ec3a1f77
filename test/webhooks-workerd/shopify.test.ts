// POST /_tap/webhooks/shopify in workerd: the production app, the real delivery,
// a local Tapfiliate stand-in. Orders are Shopify's sample payload as raw text,
// with fresh ids: its ids exceed 2^53 and must reach Tapfiliate digit for digit.
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { postbackControl } from '../postback/control';
import { postShopify, shopifyOrderText, shopifySignature, webhookEnv } from './helpers';

const upstream = postbackControl(inject('webhookPostbackServers').shopify);
const env = () => webhookEnv(upstream);
const SAMPLE_ORDER_ID = '820982911946154508';
const CUSTOMER_ID = '115310627314723954';
const SAFARI = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15';

let n = 0;
/** The sample order with an 18-digit id of its own (beyond 2^53, like Shopify's). */
function order(edit: (text: string) => string = (text) => text): { id: string; body: string } {
  const id = `9${Date.now()}${String(++n).padStart(4, '0')}`.slice(0, 18);
  const body = edit(shopifyOrderText.replaceAll(SAMPLE_ORDER_ID, id));
  return { id, body };
}

describe('POST /webhooks/shopify: orders/paid', () => {
  beforeEach(() => upstream.reset());

  it('converts with the tap_ref attribution, the discount code as coupon, browser_ip and the user agent, exact ids', async () => {
    const { id, body } = order();
    expect(Number(id) > Number.MAX_SAFE_INTEGER).toBe(true);
    const { status, json } = await postShopify(env(), body);
    expect({ status, json }).toEqual({ status: 200, json: { ok: true, status: 'sent' } });
    const received = await upstream.received();
    expect(received.map((r) => `${r.kind}:${r.status}`)).toEqual(['customer:200', 'conversion:200']);
    const visitor = { ip: '203.0.113.24', user_agent: SAFARI };
    expect(received[0].fields).toEqual({ customer_id: CUSTOMER_ID, coupon: 'ANNA10', referral_code: 'anna', ...visitor });
    // current_subtotal_price 388.00: after discounts, before shipping (10.00) and tax.
    expect(received[1].fields).toEqual({
      external_id: id,
      amount: 388,
      currency: 'USD',
      customer_id: CUSTOMER_ID,
      coupon: 'ANNA10',
      referral_code: 'anna',
      ...visitor,
    });
  });

  it('the same order delivered twice gives one postback (a fresh webhook id, the same order)', async () => {
    const { body } = order();
    const first = await postShopify(env(), body);
    const second = await postShopify(env(), body);
    expect([first.json, second.json]).toEqual([
      { ok: true, status: 'sent' },
      { ok: true, status: 'duplicate' },
    ]);
    expect(await upstream.accepted('conversion')).toHaveLength(1);
  });

  it('orders/create and orders/paid for one order meet in the ledger: one postback', async () => {
    const { body } = order();
    expect((await postShopify(env(), body, { topic: 'orders/create' })).json).toEqual({ ok: true, status: 'sent' });
    expect((await postShopify(env(), body, { topic: 'orders/paid' })).json).toEqual({ ok: true, status: 'duplicate' });
    expect(await upstream.accepted('conversion')).toHaveLength(1);
  });

  it('a tax-inclusive shop: the tax on the goods comes off the subtotal, the tax on shipping does not', async () => {
    const { id, body } = order((text) =>
      text
        .replace('"taxes_included": false', '"taxes_included": true')
        .replace('"current_subtotal_price": "388.00"', '"current_subtotal_price": "121.00"')
        .replace('"current_total_tax": "0.00"', '"current_total_tax": "23.10"')
        .replace('"title": "Generic Shipping", "tax_lines": []', '"title": "Generic Shipping", "tax_lines": [{ "price": "2.10", "rate": 0.21, "title": "VAT" }]'),
    );
    expect(body).toContain('"price": "2.10"');
    await postShopify(env(), body);
    const [conversion] = await upstream.accepted('conversion');
    // 121.00 − (23.10 − 2.10) = 100
    expect(conversion.fields).toMatchObject({ external_id: id, amount: 100 });
  });

  it('no tap_ref and no discount code: 200 unattributed, nothing sent', async () => {
    const { body } = order((text) => text.replace('{ "name": "tap_ref", "value": "t1YW5uYT4-Pj4" }', '{ "name": "other", "value": "x" }').replace(/"discount_codes": \[[^\]]*\]/, '"discount_codes": []'));
    expect(body).not.toContain('tap_ref');
    const { status, json } = await postShopify(env(), body);
    expect({ status, json }).toEqual({ status: 200, json: { ok: true, status: 'unattributed' } });
    expect(await upstream.received()).toEqual([]);
  });

  it('a discount code alone attributes the order (Tapfiliate reads the coupon)', async () => {
    const { body } = order((text) => text.replace('{ "name": "tap_ref", "value": "t1YW5uYT4-Pj4" }', '{ "name": "other", "value": "x" }'));
    expect((await postShopify(env(), body)).json).toEqual({ ok: true, status: 'sent' });
    const [conversion] = await upstream.accepted('conversion');
    expect(conversion.fields).toMatchObject({ coupon: 'ANNA10' });
    expect(conversion.fields).not.toHaveProperty('referral_code');
  });

  it('other topics and cancelled orders are 200 ignored', async () => {
    const { body } = order();
    for (const topic of ['orders/updated', 'orders/cancelled', 'refunds/create', 'app/uninstalled']) {
      const { status, json } = await postShopify(env(), body, { topic });
      expect({ topic, status, json }).toEqual({ topic, status: 200, json: { ok: true, status: 'ignored' } });
    }
    const cancelled = order((text) => text.replace('"cancelled_at": null', '"cancelled_at": "2026-11-25T11:00:00-05:00"'));
    expect((await postShopify(env(), cancelled.body)).json).toEqual({ ok: true, status: 'ignored' });
    expect(await upstream.received()).toEqual([]);
  });
});

describe('POST /webhooks/shopify: X-Shopify-Hmac-Sha256', () => {
  beforeEach(() => upstream.reset());
  const invalid = { status: 400, json: { ok: false, error: 'invalid_signature' } };
  const shape = ({ status, json }: { status: number; json: Record<string, unknown> }) => ({ status, json: { ok: json.ok, error: json.error } });

  it('refuses a tampered body', async () => {
    const { body } = order();
    const hmac = await shopifySignature(body);
    const tampered = body.replace('"current_subtotal_price": "388.00"', '"current_subtotal_price": "3880.00"');
    expect(tampered).not.toBe(body);
    expect(shape(await postShopify(env(), tampered, { hmac }))).toEqual(invalid);
  });

  it('refuses a signature made with another secret', async () => {
    const { body } = order();
    expect(shape(await postShopify(env(), body, { hmac: await shopifySignature(body, 'shpss_other') }))).toEqual(invalid);
  });

  it('refuses a missing or garbled header', async () => {
    const { body } = order();
    for (const hmac of [null, 'not base64!', btoa('short')]) {
      expect(shape(await postShopify(env(), body, { hmac }))).toEqual(invalid);
    }
    expect(await upstream.received()).toEqual([]);
  });

  it('checks the raw bytes: the same JSON re-serialized does not pass', async () => {
    const { body } = order();
    const hmac = await shopifySignature(body);
    expect(shape(await postShopify(env(), JSON.stringify(JSON.parse(body)), { hmac }))).toEqual(invalid);
    expect((await postShopify(env(), body, { hmac })).json).toEqual({ ok: true, status: 'sent' });
  });

  it('a non-ASCII body is signed over its UTF-8 bytes', async () => {
    const { body } = order((text) => text.replace('"first_name": "John"', '"first_name": "Jöhn 東京"'));
    expect((await postShopify(env(), body)).json).toEqual({ ok: true, status: 'sent' });
  });

  it('answers 503 not_configured without SHOPIFY_WEBHOOK_SECRET', async () => {
    const { body } = order();
    const { status, json } = await postShopify(webhookEnv(upstream, { SHOPIFY_WEBHOOK_SECRET: undefined }), body);
    expect({ status, json }).toEqual({ status: 503, json: { ok: false, error: 'not_configured' } });
    expect(await upstream.received()).toEqual([]);
  });
});
