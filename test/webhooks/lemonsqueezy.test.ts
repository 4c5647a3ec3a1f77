import { createHmac, timingSafeEqual } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lemonSqueezyAction, verifyLemonSqueezyWebhook } from '../../proxy/platforms/lemonsqueezy';
import { fixture, fixtureText } from './load';

const secret = 'ls_whsec_3f9a7c1e5b';
const encoder = new TextEncoder();
const order = fixtureText('lemonsqueezy-order-created.json');
const sign = (body: string | Uint8Array, key = secret) => createHmac('sha256', key).update(body).digest('hex');

/**
 * The check Lemon Squeezy documents ("Signing requests", Node.js): the hex digest of the raw
 * body and the header compared as UTF-8 bytes with crypto.timingSafeEqual, which throws on a
 * length mismatch (a refusal).
 */
function documentedCheck(rawBody: Uint8Array, header: string, key: string): boolean {
  const digest = Buffer.from(createHmac('sha256', key).update(rawBody).digest('hex'), 'utf8');
  const signature = Buffer.from(header, 'utf8');
  try {
    return timingSafeEqual(digest, signature);
  } catch {
    return false;
  }
}

describe('verifyLemonSqueezyWebhook', () => {
  it('accepts the documented example payload signed with node:crypto', async () => {
    const raw = encoder.encode(order);
    expect(await verifyLemonSqueezyWebhook(raw, sign(raw), secret)).toBe(true);
    expect(documentedCheck(raw, sign(raw), secret)).toBe(true);
  });

  it('refuses a tampered body, a wrong secret, an empty secret and a missing header', async () => {
    const raw = encoder.encode(order);
    const tampered = encoder.encode(order.replace('"total": 2880', '"total": 9880'));
    expect(new TextDecoder().decode(tampered)).not.toBe(order);
    expect(await verifyLemonSqueezyWebhook(tampered, sign(raw), secret)).toBe(false);
    expect(await verifyLemonSqueezyWebhook(raw, sign(raw, 'another-secret'), secret)).toBe(false);
    expect(await verifyLemonSqueezyWebhook(raw, sign(raw), '')).toBe(false);
    expect(await verifyLemonSqueezyWebhook(raw, undefined, secret)).toBe(false);
    expect(await verifyLemonSqueezyWebhook(raw, '', secret)).toBe(false);
  });

  it('checks the bytes as received, not a re-encoding of them', async () => {
    const raw = new Uint8Array([...encoder.encode('{"meta":{"event_name":"order_created"},"data":{"id":"1","x":"'), 0xff, ...encoder.encode('"}}')]);
    expect(await verifyLemonSqueezyWebhook(raw, sign(raw), secret)).toBe(true);
    const reencoded = encoder.encode(new TextDecoder().decode(raw));
    expect(await verifyLemonSqueezyWebhook(reencoded, sign(raw), secret)).toBe(false);
  });

  it('agrees with the documented check for any body, secret and header', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 200 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.oneof(
          fc.constant('right'),
          fc.constant('upper'),
          fc.constant('truncated'),
          fc.constant('wrong-secret'),
          fc.string({ maxLength: 70 }),
        ),
        async (body, key, kind) => {
          const right = sign(body, key);
          const header =
            kind === 'right'
              ? right
              : kind === 'upper'
                ? right.toUpperCase()
                : kind === 'truncated'
                  ? right.slice(0, 63)
                  : kind === 'wrong-secret'
                    ? sign(body, `${key}!`)
                    : kind;
          const ours = await verifyLemonSqueezyWebhook(body, header, key);
          expect(ours).toBe(documentedCheck(body, header, key));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('lemonSqueezyAction', () => {
  const orderCreated = () => fixture('lemonsqueezy-order-created.json');
  const renewal = () => fixture('lemonsqueezy-subscription-payment-success.json');

  it('order_created (paid): the order id, the customer, total − tax, the reference', () => {
    expect(lemonSqueezyAction('order_created', orderCreated())).toEqual({
      action: 'convert',
      conversion: { external_id: '2481013', amount: 24, currency: 'USD', customer_id: '3870521' },
      reference: 't1YW5uYT4-Pj4',
      customer: '3870521',
      test: false,
    });
  });

  it('an unpaid order and a zero order convert nothing, and remember nothing', () => {
    const pending = orderCreated();
    pending.data.attributes.status = 'pending';
    // The order comes along, so the ledger can record why it was not credited (docs/operations.md, "Console").
    expect(lemonSqueezyAction('order_created', pending)).toEqual({ action: 'ignore', reason: 'not_paid', order: { external_id: pending.data.id, amount: 24, currency: 'USD', customer_id: expect.any(String) }, test: false });
    const free = orderCreated();
    Object.assign(free.data.attributes, { total: 0, tax: 0 });
    expect(lemonSqueezyAction('order_created', free)).toEqual({ action: 'ignore', reason: 'zero_amount' });
  });

  it('subscription_payment_success: a renewal under its invoice id, of its subscription; the initial payment converts nothing but is remembered', () => {
    expect(lemonSqueezyAction('subscription_payment_success', renewal())).toEqual({
      action: 'convert',
      conversion: { external_id: 'invoice-905112', amount: 29, currency: 'USD', customer_id: '3870521' },
      customer: '3870521',
      subscription: '611822',
      test: false,
    });
    const initial = renewal();
    initial.data.attributes.billing_reason = 'initial';
    // The payment itself comes along, for its record when it has no reference.
    expect(lemonSqueezyAction('subscription_payment_success', initial)).toEqual({
      action: 'remember',
      subscription: '611822',
      payment: { external_id: 'invoice-905112', amount: 29, currency: 'USD', customer_id: '3870521' },
      test: false,
    });
    delete initial.data.attributes.subscription_id;
    expect(lemonSqueezyAction('subscription_payment_success', initial)).toEqual({ action: 'ignore', reason: 'initial_payment_is_the_order' });
  });

  it('test mode is meta.test_mode', () => {
    const test = orderCreated();
    test.meta.test_mode = true;
    expect(lemonSqueezyAction('order_created', test)).toMatchObject({ action: 'convert', test: true });
  });

  it('order_refunded: a partial refund carries the cumulative amount in the conversion’s base, under a cumulative id', () => {
    expect(lemonSqueezyAction('order_refunded', fixture('lemonsqueezy-order-refunded.json'))).toEqual({
      action: 'refund',
      refund: { refund_id: '2481013-refunded-1440', platform_id: '2481013', refunded_total: 12, currency: 'USD' },
      test: false,
    });
    const full = fixture('lemonsqueezy-order-refunded.json');
    Object.assign(full.data.attributes, { status: 'refunded', refunded: true, refunded_amount: 2880 });
    expect(lemonSqueezyAction('order_refunded', full)).toEqual({
      action: 'refund',
      refund: { refund_id: '2481013-refunded-2880', platform_id: '2481013', currency: 'USD' },
      test: false,
    });
  });

  it('the signed meta.event_name wins: a header that disagrees is ignored, a missing one is fine', () => {
    expect(lemonSqueezyAction('order_refunded', orderCreated())).toEqual({ action: 'ignore', reason: 'event_name_mismatch' });
    expect(lemonSqueezyAction(undefined, orderCreated())).toMatchObject({ action: 'convert' });
    const unnamed = orderCreated();
    delete unnamed.meta.event_name;
    expect(lemonSqueezyAction('order_created', unnamed)).toMatchObject({ action: 'convert' });
    expect(lemonSqueezyAction('subscription_payment_success', unnamed)).toEqual({ action: 'ignore', reason: 'unexpected_type' });
  });

  it('JPY orders are whole yen', () => {
    const yen = orderCreated();
    Object.assign(yen.data.attributes, { currency: 'JPY', total: 3300, tax: 300 });
    expect(lemonSqueezyAction('order_created', yen)).toMatchObject({ conversion: { amount: 3000, currency: 'JPY' } });
  });

  it('other events and broken payloads are ignored, never thrown', () => {
    expect(lemonSqueezyAction('subscription_created', { meta: { event_name: 'subscription_created' }, data: { id: '1', type: 'subscriptions', attributes: {} } })).toEqual({
      action: 'ignore',
      reason: 'unhandled_event_type',
    });
    expect(lemonSqueezyAction('order_created', { meta: {}, data: { id: '1', type: 'orders', attributes: { status: 'paid' } } })).toEqual({
      action: 'ignore',
      reason: 'malformed',
    });
    fc.assert(fc.property(fc.string(), fc.anything(), (name, body) => void lemonSqueezyAction(name, body)));
  });
});
