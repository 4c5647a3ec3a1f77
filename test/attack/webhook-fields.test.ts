// Attack "Webhook amounts and fields": an invoice with tax: -100000 sent more
// than was paid; a payment session with tax above its total sent a 0-amount
// conversion while a 0 invoice was ignored; a 300-character Shopify discount
// code was forwarded as coupon; an email that broke the id rules dropped the
// whole order instead of only customer_id. Now webhook fields obey the
// browser's rules, and a zero amount is `200 ignored` on every route
// (docs/reference.md, "Zero amounts"). Without the guard each test below failed.
import { describe, expect, it } from 'vitest';
import { encodeReference } from '../../common/attribution';
import {
  attackEnv,
  receivedFor,
  send,
  SHOPIFY_SECRET,
  shopifySignature,
  STRIPE_SECRET,
  stripeSignature,
  TOKEN,
  uniqueId,
} from './harness';

const env = attackEnv({ STRIPE_WEBHOOK_SECRET: STRIPE_SECRET, SHOPIFY_WEBHOOK_SECRET: SHOPIFY_SECRET, TAPLINE_SERVER_TOKEN: TOKEN });
const ANNA = encodeReference({ referral_code: 'anna' })!;

async function stripeEvent(type: string, object: Record<string, unknown>) {
  const body = JSON.stringify({ id: uniqueId('evt'), type, data: { object } });
  return send('/_tap/webhooks/stripe', body, { env, headers: { origin: undefined, 'stripe-signature': await stripeSignature(body) } });
}

async function shopifyOrder(fields: Record<string, unknown>) {
  const id = `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const order = {
    id: Number(id),
    admin_graphql_api_id: `gid://shopify/Order/${id}`,
    currency: 'EUR',
    current_subtotal_price: '100.00',
    current_total_price: '100.00',
    note_attributes: [{ name: 'tap_ref', value: ANNA }],
    ...fields,
  };
  const body = JSON.stringify(order);
  const answer = await send('/_tap/webhooks/shopify', body, {
    env,
    headers: { origin: undefined, 'x-shopify-topic': 'orders/paid', 'x-shopify-hmac-sha256': await shopifySignature(body) },
  });
  return { id, answer };
}

describe('amounts', () => {
  it('an invoice with a negative tax sends at most what was paid', async () => {
    const id = uniqueId('in');
    const answer = await stripeEvent('invoice.paid', {
      id,
      currency: 'eur',
      amount_paid: 5000,
      tax: -100000,
      customer: uniqueId('cus'),
      subscription_details: { metadata: { tap_ref: ANNA } },
    });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    const [received] = await receivedFor(id);
    expect(received.fields.amount).toBe(50);
  });

  it('a payment session whose tax is above its total is ignored as a zero amount, not sent as 0', async () => {
    const id = uniqueId('cs');
    const answer = await stripeEvent('checkout.session.completed', {
      id,
      mode: 'payment',
      payment_status: 'paid',
      currency: 'eur',
      amount_total: 1000,
      total_details: { amount_tax: 5000, amount_shipping: 0 },
      client_reference_id: ANNA,
    });
    expect(answer.json).toEqual({ ok: true, status: 'ignored' });
    expect(await receivedFor(id)).toEqual([]);
  });

  it('a payment session with a negative shipping sends at most its total', async () => {
    const id = uniqueId('cs');
    await stripeEvent('checkout.session.completed', {
      id,
      mode: 'payment',
      payment_status: 'paid',
      currency: 'eur',
      amount_total: 1000,
      total_details: { amount_tax: 0, amount_shipping: -9000 },
      client_reference_id: ANNA,
    });
    const [received] = await receivedFor(id);
    expect(received.fields.amount).toBe(10);
  });

  it('a Shopify order never sends more than its total price', async () => {
    const { id, answer } = await shopifyOrder({ current_subtotal_price: '900.00', current_total_price: '25.00' });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    const [received] = await receivedFor(id);
    expect(received.fields.amount).toBe(25);
  });
});

describe('zero amounts, the same rule on every route', () => {
  it('a zero-amount browser conversion is 200 ignored, nothing sent', async () => {
    const external_id = uniqueId();
    const answer = await send('/_tap/convert', { external_id, amount: 0, referral_code: 'anna' }, { env: attackEnv() });
    expect(answer.json).toEqual({ ok: true, status: 'ignored' });
    expect(await receivedFor(external_id)).toEqual([]);
  });

  it('a zero-amount server event is 200 ignored, nothing sent', async () => {
    const external_id = uniqueId();
    const answer = await send('/_tap/convert', { external_id, amount: 0, referral_code: 'anna' }, { env, headers: { origin: undefined, authorization: `Bearer ${TOKEN}` } });
    expect(answer.json).toEqual({ ok: true, status: 'ignored' });
    expect(await receivedFor(external_id)).toEqual([]);
  });

  it('a zero Shopify order is 200 ignored, nothing sent', async () => {
    const { id, answer } = await shopifyOrder({ current_subtotal_price: '0.00', current_total_price: '0.00' });
    expect(answer.json).toEqual({ ok: true, status: 'ignored' });
    expect(await receivedFor(id)).toEqual([]);
  });
});

describe('optional fields are dropped one by one', () => {
  it('a 300-character discount code is left out, the order still sent by its reference', async () => {
    const { id, answer } = await shopifyOrder({ discount_codes: [{ code: 'X'.repeat(300) }] });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    const [received] = await receivedFor(id);
    expect(received.fields).toMatchObject({ external_id: id, referral_code: 'anna' });
    expect(received.fields).not.toHaveProperty('coupon');
  });

  it('an email that breaks the id rules is left out as customer_id, the order still sent', async () => {
    const { id, answer } = await shopifyOrder({ email: `buyer\u0007@example.com` });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    const received = await receivedFor(id);
    expect(received).toHaveLength(1);
    expect(received[0].kind).toBe('conversion');
    expect(received[0].fields).not.toHaveProperty('customer_id');
  });

  it('a Stripe session whose customer email is too long still sends the order, without customer_id', async () => {
    const id = uniqueId('cs');
    const answer = await stripeEvent('checkout.session.completed', {
      id,
      mode: 'payment',
      payment_status: 'paid',
      currency: 'eur',
      amount_total: 1000,
      customer_details: { email: `${'a'.repeat(300)}@example.com` },
      client_reference_id: ANNA,
    });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    const received = await receivedFor(id);
    expect(received.map((r) => r.kind)).toEqual(['conversion']);
  });
});

describe('refund ids obey the id rules', () => {
  // Only a correctly signed payload gets here; still, an id Tapline could not record or show is not taken.
  it.each([
    ['a control character', 're_\u0007bell'],
    ['a lone surrogate', 're_\ud800'],
    ['300 characters', `re_${'x'.repeat(297)}`],
  ])('a Stripe refund whose id has %s is 200 ignored (invalid_refund), nothing looked up', async (_name, refundId) => {
    const answer = await stripeEvent('refund.created', { id: refundId, object: 'refund', amount: 1000, currency: 'eur', payment_intent: uniqueId('pi'), status: 'succeeded' });
    expect(answer.json).toEqual({ ok: true, status: 'ignored' });
    expect(answer.lines.join('\n')).toContain('"reason":"invalid_refund"');
  });
});
