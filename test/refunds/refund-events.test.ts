// Reading Stripe's and Shopify's refund events (proxy/platforms/stripe.ts, proxy/platforms/shopify.ts).
import { describe, expect, it } from 'vitest';
import { shopifyRefund } from '../../proxy/platforms/shopify';
import { stripeRefunds, type StripeEvent } from '../../proxy/platforms/stripe';
import chargeRefundedText from '../webhooks/fixtures/stripe-charge-refunded.json?raw';

const chargeRefunded = JSON.parse(chargeRefundedText) as StripeEvent;

function charge(overrides: Record<string, unknown>, previous?: Record<string, unknown>, livemode = true): StripeEvent {
  return {
    ...chargeRefunded,
    livemode,
    data: { object: { ...chargeRefunded.data.object, ...overrides }, ...(previous ? { previous_attributes: previous } : {}) },
  };
}

describe('Stripe charge.refunded', () => {
  it('a whole refund without listed refunds: one full refund keyed by the charge and its running total', () => {
    expect(stripeRefunds(chargeRefunded)).toEqual({
      action: 'refund',
      platformIds: ['pi_3QmPaymentIntent0000001', 'ch_3QmCharge000000000001'],
      refunds: [{ refund_id: 'ch_3QmCharge000000000001/5350' }],
      currency: 'USD',
      gross: 53.5,
      test: true,
    });
  });

  it('a partial refund without listed refunds: the running total, in major units, which the ledger counts against the refunds it accepted', () => {
    const event = charge({ amount_refunded: 2000, refunded: false }, { amount_refunded: 500 });
    expect(stripeRefunds(event)).toMatchObject({ refunds: [{ refund_id: 'ch_3QmCharge000000000001/2000', amount: 20 }], cumulative: true, test: false });
    // previous_attributes is not needed for it.
    expect(stripeRefunds(charge({ amount_refunded: 100, refunded: false }))).toMatchObject({ refunds: [{ amount: 1 }], cumulative: true });
  });

  it('zero- and three-decimal currencies', () => {
    expect(stripeRefunds(charge({ amount_refunded: 500, refunded: false, currency: 'jpy' }, { amount_refunded: 0 }))).toMatchObject({ refunds: [{ amount: 500 }], currency: 'JPY' });
    expect(stripeRefunds(charge({ amount_refunded: 1250, refunded: false, currency: 'kwd' }, { amount_refunded: 0 }))).toMatchObject({ refunds: [{ amount: 1.25 }] });
  });

  it('listed refunds are taken one by one by their re_ ids, oldest first, skipping failed ones; the completing one is whole', () => {
    const event = charge({
      amount_refunded: 5350,
      refunded: true,
      invoice: 'in_1Renewal',
      refunds: {
        object: 'list',
        data: [
          { id: 're_3', amount: 4350, created: 30, status: 'succeeded' },
          { id: 're_2', amount: 999, created: 20, status: 'failed' },
          { id: 're_1', amount: 1000, created: 10, status: 'succeeded' },
        ],
      },
    });
    expect(stripeRefunds(event)).toEqual({
      action: 'refund',
      platformIds: ['pi_3QmPaymentIntent0000001', 'in_1Renewal', 'ch_3QmCharge000000000001'],
      fallbackExternalId: 'in_1Renewal',
      refunds: [{ refund_id: 're_1', amount: 10 }, { refund_id: 're_3' }],
      currency: 'USD',
      gross: 53.5,
      test: false,
    });
  });

  it.each([
    ['no running total', charge({ amount_refunded: undefined })],
    ['a partial refund of nothing', charge({ amount_refunded: 0, refunded: false }, { amount_refunded: 0 })],
    ['no currency', charge({ currency: undefined })],
  ])('%s is ignored', (_name, event) => {
    expect(stripeRefunds(event).action).toBe('ignore');
  });
});

describe('Stripe refund.created', () => {
  const refundCreated = (refund: Record<string, unknown>, livemode = true): StripeEvent => ({
    id: 'evt_r',
    type: 'refund.created',
    livemode,
    data: { object: { id: 're_9', object: 'refund', amount: 1999, currency: 'eur', charge: 'ch_9', payment_intent: 'pi_9', status: 'succeeded', ...refund } },
  });

  it('one refund by its id and amount, found through the payment intent or the charge', () => {
    expect(stripeRefunds(refundCreated({}, false))).toEqual({
      action: 'refund',
      platformIds: ['pi_9', 'ch_9'],
      refunds: [{ refund_id: 're_9', amount: 19.99 }],
      currency: 'EUR',
      // A part of what the checkout paid, which the conversion's record keeps.
      ofRecordedGross: true,
      test: true,
    });
  });

  it.each(['failed', 'canceled'])('a %s refund moved no money: ignored', (status) => {
    expect(stripeRefunds(refundCreated({ status }))).toEqual({ action: 'ignore', reason: `refund_${status}` });
  });

  it('a refund with nothing to find its payment by is ignored', () => {
    expect(stripeRefunds(refundCreated({ charge: null, payment_intent: null }))).toEqual({ action: 'ignore', reason: 'refund_without_payment' });
  });
});

describe('Shopify refunds/create', () => {
  const refund = (overrides: Record<string, unknown> = {}) => ({
    id: 929361465,
    order_id: 450789469,
    created_at: '2026-12-01T10:00:00-05:00',
    refund_line_items: [{ quantity: 1, subtotal: 199, total_tax: 0 }],
    transactions: [
      { id: 1, kind: 'refund', status: 'success', amount: '41.94', currency: 'USD', test: false },
      { id: 2, kind: 'refund', status: 'failure', amount: '10.00', currency: 'USD', test: false },
      { id: 3, kind: 'refund', status: 'pending', amount: '5.00', currency: 'USD', test: false },
      { id: 4, kind: 'sale', status: 'success', amount: '100.00', currency: 'USD', test: false },
    ],
    ...overrides,
  });

  it('refunded goods by their subtotal after discounts, by the refund id, found by the order, once money went back', () => {
    expect(shopifyRefund(refund())).toEqual({
      action: 'refund',
      platformIds: ['450789469'],
      fallbackExternalId: '450789469',
      refunds: [{ refund_id: '929361465', amount: 199 }],
      currency: 'USD',
      test: false,
    });
  });

  it('without line items: the money of successful refund transactions, less shipping, as a share of the order’s total', () => {
    const adjustments = [{ kind: 'shipping_refund', amount: '-10.00', tax_amount: '-1.94' }];
    expect(shopifyRefund(refund({ refund_line_items: [], order_adjustments: adjustments }))).toMatchObject({ refunds: [{ amount: 30 }], ofRecordedGross: true });
    expect(shopifyRefund(refund({ refund_line_items: [] }))).toMatchObject({ refunds: [{ amount: 41.94 }], ofRecordedGross: true });
  });

  it('shipping and its tax refunded alone take nothing back', () => {
    const transactions = [{ kind: 'refund', status: 'success', amount: '11.94', currency: 'USD' }];
    const adjustments = [{ kind: 'shipping_refund', amount: '-10.00', tax_amount: '-1.94' }];
    expect(shopifyRefund(refund({ refund_line_items: [], transactions, order_adjustments: adjustments }))).toEqual({ action: 'ignore', reason: 'shipping_or_tax_only' });
  });

  it("prefers the shop's money when Shopify gives both, and adds transactions in cents", () => {
    const transactions = [
      { kind: 'refund', status: 'success', amount: '50.00', currency: 'EUR', amount_set: { shop_money: { amount: '0.10', currency_code: 'USD' }, presentment_money: { amount: '50.00', currency_code: 'EUR' } } },
      { kind: 'refund', status: 'success', amount: '0.20', currency: 'USD' },
    ];
    expect(shopifyRefund(refund({ transactions, refund_line_items: [] }))).toMatchObject({ refunds: [{ amount: 0.3 }], currency: 'USD' });
  });

  it('a refund that moved no money (restock only) is ignored', () => {
    expect(shopifyRefund(refund({ transactions: [] }))).toEqual({ action: 'ignore', reason: 'no_money_refunded' });
  });

  it('a test transaction makes a test refund', () => {
    const transactions = [{ kind: 'refund', status: 'success', amount: '5.00', currency: 'USD', test: true }];
    expect(shopifyRefund(refund({ transactions }))).toMatchObject({ test: true });
  });

  it('reads ids beyond 2^53 exactly: the refund from its gid, the order from the raw body', () => {
    const raw = '{"id":920982911946154511,"admin_graphql_api_id":"gid://shopify/Refund/920982911946154511","order_id":820982911946154508,"transactions":[{"order_id":820982911946154508,"kind":"refund","status":"success","amount":"5.00","currency":"USD"}]}';
    expect(shopifyRefund(JSON.parse(raw), raw)).toMatchObject({ platformIds: ['820982911946154508'], refunds: [{ refund_id: '920982911946154511', amount: 5 }] });
  });

  it.each([null, [], { id: 'x', order_id: 1 }, { id: 1 }])('%j is ignored as malformed', (body) => {
    expect(shopifyRefund(body)).toEqual({ action: 'ignore', reason: 'malformed_refund' });
  });
});
