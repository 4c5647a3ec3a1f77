import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shopifyAction, verifyShopifyWebhook } from '../../proxy/platforms/shopify';
import { fixture, fixtureText } from './load';

const secret = 'shpss_test_0123456789abcdef';
const raw = fixtureText('shopify-orders-paid.json');
const bytes = new TextEncoder().encode(raw);
/** What Shopify sends in X-Shopify-Hmac-Sha256, computed independently with node:crypto. */
const hmac = (body: Uint8Array | string, key = secret) => createHmac('sha256', key).update(body).digest('base64');

describe('verifyShopifyWebhook', () => {
  it('passes the base64 HMAC-SHA256 of the raw bytes', async () => {
    expect(await verifyShopifyWebhook(bytes, hmac(bytes), secret)).toBe(true);
  });

  it('passes for bytes in a view over a larger buffer', async () => {
    const padded = new Uint8Array(bytes.length + 8);
    padded.set(bytes, 4);
    expect(await verifyShopifyWebhook(padded.subarray(4, 4 + bytes.length), hmac(bytes), secret)).toBe(true);
  });

  it('fails for a tampered body (one byte changed)', async () => {
    const tampered = bytes.slice();
    tampered[raw.indexOf('388.00')] = '9'.charCodeAt(0);
    expect(await verifyShopifyWebhook(tampered, hmac(bytes), secret)).toBe(false);
  });

  it('fails for a re-serialised body (the HMAC is over the bytes as sent, not the JSON)', async () => {
    const reserialised = new TextEncoder().encode(JSON.stringify(JSON.parse(raw)));
    expect(await verifyShopifyWebhook(reserialised, hmac(bytes), secret)).toBe(false);
  });

  it('fails for a wrong secret, and for an empty one', async () => {
    expect(await verifyShopifyWebhook(bytes, hmac(bytes, 'shpss_other'), secret)).toBe(false);
    expect(await verifyShopifyWebhook(bytes, hmac(bytes, ''), '')).toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['hex instead of base64', createHmac('sha256', secret).update(bytes).digest('hex')],
    ['truncated', hmac(bytes).slice(0, 20)],
    ['not base64', '!!!!'],
  ])('fails for a header that is %s', async (_name, header) => {
    expect(await verifyShopifyWebhook(bytes, header, secret)).toBe(false);
  });
});

describe('shopifyAction', () => {
  const order = () => fixture('shopify-orders-paid.json');

  it('orders/paid: the note attribute, the discount code, the browser IP and UA map through', () => {
    expect(shopifyAction('orders/paid', order())).toEqual({
      action: 'convert',
      conversion: {
        external_id: '820982911946154508', // exact, from admin_graphql_api_id: JSON.parse has rounded `id`
        amount: 388, // current_subtotal_price: after the 10.00 discount, before the 10.00 shipping
        currency: 'USD',
        customer_id: '115310627314723954',
        coupon: 'ANNA10',
      },
      reference: 't1YW5uYT4-Pj4',
      ip: '203.0.113.24',
      user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15',
      gross: 398,
    });
    expect(String(order().id)).not.toBe('820982911946154508');
  });

  it('orders/create maps the same way; other topics and cancelled orders are ignored', () => {
    expect(shopifyAction('orders/create', order())).toMatchObject({ action: 'convert', conversion: { external_id: '820982911946154508' } });
    expect(shopifyAction('orders/updated', order())).toEqual({ action: 'ignore', reason: 'unhandled_topic' });
    expect(shopifyAction(undefined, order())).toEqual({ action: 'ignore', reason: 'unhandled_topic' });
    // A cancelled order carries its order, so the ledger records why it was not credited (docs/operations.md, "Console").
    expect(shopifyAction('orders/paid', { ...order(), cancelled_at: '2026-11-25T11:00:00-05:00' })).toEqual({
      action: 'ignore',
      reason: 'cancelled',
      order: { external_id: expect.any(String), amount: expect.any(Number), currency: expect.stringMatching(/^[A-Z]{3}$/) },
    });
    expect(shopifyAction('orders/paid', { cancelled_at: '2026-11-25T11:00:00-05:00' })).toEqual({ action: 'ignore', reason: 'cancelled' });
  });

  it('without a customer the email is the customer_id; without a gid a safe numeric id is used', () => {
    const guest = { ...order(), customer: null };
    expect(shopifyAction('orders/paid', guest)).toMatchObject({ conversion: { customer_id: 'jon@example.com' } });
    const plain = { ...order(), id: 450789469, admin_graphql_api_id: undefined };
    expect(shopifyAction('orders/paid', plain)).toMatchObject({ conversion: { external_id: '450789469' } });
    const rounded = { ...order(), admin_graphql_api_id: undefined };
    expect(shopifyAction('orders/paid', rounded)).toEqual({ action: 'ignore', reason: 'malformed' });
  });

  it('without the note attribute or a discount code, no reference and no coupon', () => {
    const action = shopifyAction('orders/paid', { ...order(), note_attributes: [{ name: 'gift_wrap', value: 'no' }], discount_codes: [] });
    expect(action).not.toHaveProperty('reference');
    expect(action).toMatchObject({ action: 'convert' });
    expect((action as { conversion: object }).conversion).not.toHaveProperty('coupon');
  });

  it('a tax-inclusive shop: the tax on the goods comes off the subtotal, the tax on shipping does not', () => {
    const inclusive = {
      ...order(),
      currency: 'EUR',
      taxes_included: true,
      current_subtotal_price: '121.00',
      current_total_tax: '22.74', // 21.00 on the goods + 1.74 on shipping
      shipping_lines: [{ price: '10.00', tax_lines: [{ price: '1.74', rate: 0.21, title: 'VAT' }] }],
    };
    expect(shopifyAction('orders/paid', inclusive)).toMatchObject({ conversion: { amount: 100, currency: 'EUR' } });
    // The same numbers in a tax-exclusive shop: the subtotal is already without tax.
    expect(shopifyAction('orders/paid', { ...inclusive, taxes_included: false })).toMatchObject({ conversion: { amount: 121 } });
  });

  it('falls back to subtotal_price when the current_* fields are absent', () => {
    const older = { ...order(), current_subtotal_price: undefined, subtotal_price: '55.50' };
    expect(shopifyAction('orders/paid', older)).toMatchObject({ conversion: { amount: 55.5 } });
  });

  it('never throws on malformed orders', () => {
    for (const value of [null, [], 'x', {}, { id: 1 }, { ...order(), currency: null }, { ...order(), current_subtotal_price: 'abc', subtotal_price: null }]) {
      expect(shopifyAction('orders/paid', value)).toMatchObject({ action: 'ignore' });
    }
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      expect(() => shopifyAction('orders/paid', value)).not.toThrow();
      expect(() => shopifyAction('orders/paid', { ...order(), ...(typeof value === 'object' && value && !Array.isArray(value) ? value : {}) })).not.toThrow();
    }), { numRuns: 500, seed: 5 });
  });
});
