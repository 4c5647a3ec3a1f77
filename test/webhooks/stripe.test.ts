import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { fromMinorUnits, stripeAction, stripeExponent, verifyStripeEvent, type StripeEvent } from '../../proxy/platforms/stripe';
import { fixture, fixtureText } from './load';

const stripe = new Stripe('sk_test_not_used_offline');
const secret = 'whsec_test_3c2f1e0d9b8a7f6e5d4c3b2a1f0e9d8c';
const payload = fixtureText('stripe-checkout-session-payment.json');
const now = Math.floor(Date.now() / 1000);

/** Stripe's own test header, made by the official package. */
const stripeHeader = (body = payload, options: { timestamp?: number; secret?: string } = {}) =>
  stripe.webhooks.generateTestHeaderString({ payload: body, secret: options.secret ?? secret, timestamp: options.timestamp ?? now });
/** The bare v1 signature, computed independently with node:crypto. */
const sign = (timestamp: number, body = payload, key = secret) => createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex');

describe('verifyStripeEvent against the official stripe package', () => {
  it('accepts a payload signed by stripe.webhooks.generateTestHeaderString', async () => {
    const verdict = await verifyStripeEvent(payload, stripeHeader(), secret);
    expect(verdict).toEqual({ ok: true, event: JSON.parse(payload) });
  });

  it('accepts a payload signed by generateTestHeaderStringAsync', async () => {
    const header = await stripe.webhooks.generateTestHeaderStringAsync({ payload, secret, timestamp: now - 10 });
    expect((await verifyStripeEvent(payload, header, secret)).ok).toBe(true);
  });

  it('refuses a tampered body', async () => {
    const tampered = payload.replace('"amount_total": 5350', '"amount_total": 9350');
    expect(tampered).not.toBe(payload);
    expect(await verifyStripeEvent(tampered, stripeHeader(), secret)).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it('refuses a wrong secret', async () => {
    expect(await verifyStripeEvent(payload, stripeHeader(payload, { secret: 'whsec_other' }), secret)).toEqual({ ok: false, reason: 'invalid_signature' });
    expect(await verifyStripeEvent(payload, stripeHeader(), '')).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it('refuses a timestamp older than 5 minutes, and accepts one at exactly 5 minutes', async () => {
    expect(await verifyStripeEvent(payload, stripeHeader(payload, { timestamp: now - 301 }), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'expired' });
    expect((await verifyStripeEvent(payload, stripeHeader(payload, { timestamp: now - 300 }), secret, { nowSeconds: now })).ok).toBe(true);
    expect(await verifyStripeEvent(payload, stripeHeader(payload, { timestamp: now - 3600 }), secret)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a timestamp more than 5 minutes in the future, and honours toleranceSeconds', async () => {
    expect(await verifyStripeEvent(payload, stripeHeader(payload, { timestamp: now + 301 }), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'expired' });
    const header = stripeHeader(payload, { timestamp: now - 60 });
    expect(await verifyStripeEvent(payload, header, secret, { nowSeconds: now, toleranceSeconds: 30 })).toEqual({ ok: false, reason: 'expired' });
  });

  it.each([undefined, null, '', '   '])('a missing header (%j) is missing_signature', async (header) => {
    expect(await verifyStripeEvent(payload, header, secret)).toEqual({ ok: false, reason: 'missing_signature' });
  });

  it('accepts a header with several v1 signatures when one of them is right, wherever it is', async () => {
    const good = sign(now);
    const bad = sign(now, payload, 'whsec_rotated_old');
    for (const header of [`t=${now},v1=${bad},v1=${good}`, `t=${now},v1=${good},v1=${bad}`, `t=${now},v1=${bad},v1=${good},v0=${bad}`]) {
      expect((await verifyStripeEvent(payload, header, secret)).ok, header).toBe(true);
    }
    expect(await verifyStripeEvent(payload, `t=${now},v1=${bad},v1=${bad}`, secret)).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it.each([
    ['no t', () => `v1=${sign(now)}`],
    ['no v1', () => `t=${now}`],
    ['only v0', () => `t=${now},v0=${sign(now)}`],
    ['t not a number', () => `t=abc,v1=${sign(now)}`],
    ['upper-case hex', () => `t=${now},v1=${sign(now).toUpperCase()}`],
    ['garbage', () => 'nonsense'],
  ])('refuses a header with %s', async (_name, header) => {
    expect(await verifyStripeEvent(payload, header(), secret)).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it('a correctly signed body that is not a Stripe event is malformed', async () => {
    for (const body of ['not json', '[]', '{"type":"x"}', '{"type":"x","data":{"object":null}}']) {
      expect(await verifyStripeEvent(body, `t=${now},v1=${sign(now, body)}`, secret), body).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('the reverse: whatever header we accept, stripe.webhooks.constructEvent accepts, and vice versa', async () => {
    const good = sign(now);
    const stamps = [`t=${now}`, `t=${now}`, `t=${now - 1000}`, 't=abc', ''];
    const others = [
      `v1=${good}`,
      `v1=${sign(now - 1000)}`,
      `v1=${sign(now, payload, 'whsec_other')}`,
      `v1=${good.toUpperCase()}`,
      `v0=${good}`,
      ` v1=${good}`,
      `v1=${good} `,
      'v1=',
      'junk',
    ];
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...stamps), fc.array(fc.constantFrom(...others), { maxLength: 4 }), fc.nat(4), async (stamp, rest, at) => {
        const parts = [...rest];
        if (stamp) parts.splice(at % (parts.length + 1), 0, stamp);
        const header = parts.join(',');
        const ours = (await verifyStripeEvent(payload, header, secret, { nowSeconds: now })).ok;
        let theirs = true;
        try {
          stripe.webhooks.constructEvent(payload, header, secret, 300, undefined, now * 1000);
        } catch {
          theirs = false;
        }
        if (ours) accepted++;
        else refused++;
        expect(ours, header).toBe(theirs);
      }),
      { numRuns: 500, seed: 11 },
    );
    expect(refused).toBeGreaterThan(50);
    expect(accepted).toBeGreaterThan(20);
  });
});

describe('stripeAction', () => {
  const event = (name: string) => fixture<StripeEvent>(name);
  const withObject = (name: string, change: (object: Record<string, any>) => void, type?: string): StripeEvent => {
    const copy = event(name);
    change(copy.data.object);
    if (type) copy.type = type;
    return copy;
  };

  it('checkout.session.completed, mode payment, paid: a conversion for the session, without tax and shipping', () => {
    expect(stripeAction(event('stripe-checkout-session-payment.json'))).toEqual({
      action: 'convert',
      conversion: {
        external_id: 'cs_test_a1PaymentSessionExample0000000000000000000000000000',
        amount: 40, // 5350 total − 850 tax − 500 shipping, in cents
        currency: 'USD',
        customer_id: 'cus_RPaymentCustomer1',
      },
      reference: 't1YW5uYT4-Pj4',
      // What the buyer paid in all, kept for refund.created, which names no charge amount.
      gross: 53.5,
    });
  });

  it('takes metadata.tap_ref when there is no client_reference_id, and client_reference_id first when both are there', () => {
    const metadataOnly = withObject('stripe-checkout-session-payment.json', (s) => {
      s.client_reference_id = null;
      s.metadata = { tap_ref: 't1bWV0YT4-Pj4' };
    });
    expect(stripeAction(metadataOnly)).toMatchObject({ reference: 't1bWV0YT4-Pj4' });
    const both = withObject('stripe-checkout-session-payment.json', (s) => (s.metadata = { tap_ref: 't1bWV0YT4-Pj4' }));
    expect(stripeAction(both)).toMatchObject({ reference: 't1YW5uYT4-Pj4' });
    const neither = withObject('stripe-checkout-session-payment.json', (s) => (s.client_reference_id = null));
    expect(stripeAction(neither)).not.toHaveProperty('reference');
  });

  it('uses the email as customer_id when the session has no customer, and an expanded customer\'s id', () => {
    const guest = withObject('stripe-checkout-session-payment.json', (s) => (s.customer = null));
    expect(stripeAction(guest)).toMatchObject({ conversion: { customer_id: 'jenny.rosen@example.com' } });
    const expanded = withObject('stripe-checkout-session-payment.json', (s) => (s.customer = { id: 'cus_Expanded1', object: 'customer' }));
    expect(stripeAction(expanded)).toMatchObject({ conversion: { customer_id: 'cus_Expanded1' } });
  });

  it('an unpaid payment session is ignored; its async_payment_succeeded is the conversion', () => {
    const unpaid = withObject('stripe-checkout-session-payment.json', (s) => (s.payment_status = 'unpaid'));
    // The order comes along, so the ledger can record why it was not credited (docs/operations.md, "Console").
    expect(stripeAction(unpaid)).toEqual({ action: 'ignore', reason: 'not_paid', order: expect.objectContaining({ external_id: unpaid.data.object.id, amount: 40, currency: 'USD' }) });
    const succeeded = withObject('stripe-checkout-session-payment.json', () => {}, 'checkout.session.async_payment_succeeded');
    expect(stripeAction(succeeded)).toMatchObject({ action: 'convert', conversion: { amount: 40 } });
  });

  it('a subscription session with a paid first invoice converts that invoice and names its subscription', () => {
    expect(stripeAction(event('stripe-checkout-session-subscription.json'))).toEqual({
      action: 'convert',
      conversion: { external_id: 'in_1QmFirstInvoice000001', amount: 29, currency: 'EUR', customer_id: 'cus_RSubscriber00001' },
      reference: 't1c2FtPj4-Pg',
      subscription: 'sub_1QmSubscription00001',
      gross: 29,
    });
  });

  it('a subscription session without a paid invoice (a trial) is ignored: nothing paid, nothing remembered', () => {
    const trial = withObject('stripe-checkout-session-subscription.json', (s) => {
      s.payment_status = 'no_payment_required';
      s.amount_total = 0;
    });
    expect(stripeAction(trial)).toEqual({ action: 'ignore', reason: 'not_paid' });
    const noInvoice = withObject('stripe-checkout-session-subscription.json', (s) => (s.invoice = null));
    expect(stripeAction(noInvoice)).toEqual({ action: 'ignore', reason: 'not_paid' });
  });

  it('a client_reference_id that is not a Tapline reference (the merchant’s own id) gives way to metadata.tap_ref', () => {
    const own = withObject('stripe-checkout-session-payment.json', (s) => {
      s.client_reference_id = 'my-own-id';
      s.metadata = { tap_ref: 't1c2FtPj4-Pg' };
    });
    expect(stripeAction(own)).toMatchObject({ action: 'convert', reference: 't1c2FtPj4-Pg' });
  });

  it('invoice.paid (API 2025-03-31+): a renewal without tax, referenced by parent.subscription_details.metadata', () => {
    expect(stripeAction(event('stripe-invoice-paid.json'))).toEqual({
      action: 'renewal',
      stripe_customer: 'cus_RSubscriber00001',
      subscription: 'sub_1QmSubscription00001',
      conversion: { external_id: 'in_1QmRenewalInvoice00002', amount: 29, currency: 'EUR', customer_id: 'cus_RSubscriber00001' },
      reference: 't1c2FtPj4-Pg',
      gross: 35.09,
    });
  });

  it('invoice.paid (older API): the `tax` field and subscription_details.metadata, in JPY', () => {
    expect(stripeAction(event('stripe-invoice-paid-legacy.json'))).toEqual({
      action: 'renewal',
      stripe_customer: 'cus_RLegacyCustomer1',
      subscription: 'sub_1LegacySubscription1',
      conversion: { external_id: 'in_1LegacyRenewal0000003', amount: 10909, currency: 'JPY', customer_id: 'cus_RLegacyCustomer1' },
      reference: 't1bGVnYWN5Pj4-Pg',
      gross: 12000,
    });
    const oldest = withObject('stripe-invoice-paid-legacy.json', (i) => delete i.tax);
    expect(stripeAction(oldest)).toMatchObject({ conversion: { amount: 10909 } });
  });

  it('invoice.paid without a tap_ref has no reference (the route looks up the remembered one); a 0 invoice is ignored', () => {
    const bare = withObject('stripe-invoice-paid.json', (i) => (i.parent.subscription_details.metadata = {}));
    const action = stripeAction(bare);
    expect(action).toMatchObject({ action: 'renewal', stripe_customer: 'cus_RSubscriber00001' });
    expect(action).not.toHaveProperty('reference');
    const free = withObject('stripe-invoice-paid.json', (i) => {
      i.amount_paid = 0;
      i.total_taxes = [];
    });
    expect(stripeAction(free)).toEqual({ action: 'ignore', reason: 'zero_amount' });
  });

  it('a refund is not a conversion (refund-events.ts reads it); other types are ignored', () => {
    expect(stripeAction(event('stripe-charge-refunded.json'))).toEqual({ action: 'ignore', reason: 'unhandled_event_type' });
    const other = withObject('stripe-charge-refunded.json', () => {}, 'customer.created');
    expect(stripeAction(other)).toEqual({ action: 'ignore', reason: 'unhandled_event_type' });
  });

  it('never throws on malformed payloads', () => {
    const weird: unknown[] = [
      null,
      [],
      'x',
      {},
      { type: 'invoice.paid' },
      { type: 'invoice.paid', data: null },
      { type: 'invoice.paid', data: { object: [] } },
      { type: 'invoice.paid', data: { object: { id: 'in_1', currency: 'usd', amount_paid: '100', customer: 'cus_1' } } },
      { type: 'invoice.paid', data: { object: { id: 'in_1', currency: 'usd', amount_paid: 100 } } },
      { type: 'checkout.session.completed', data: { object: { id: 'cs_1', currency: 'usd', mode: 'payment', payment_status: 'paid', amount_total: 1e300 } } },
      { type: 'checkout.session.completed', data: { object: { id: 'cs_1', currency: 'usd', mode: 'subscription', payment_status: 'paid' } } },
      { type: 'checkout.session.completed', data: { object: { id: 'cs_1', currency: 'usd', mode: 'setup' } } },
      { type: 'checkout.session.completed', data: { object: { id: 5, currency: null } } },
    ];
    for (const value of weird) {
      const action = stripeAction(value as StripeEvent);
      expect(action.action, JSON.stringify(value)).toBe('ignore');
    }
    fc.assert(fc.property(fc.jsonValue(), fc.constantFrom('checkout.session.completed', 'invoice.paid', 'charge.refunded'), (object, type) => {
      expect(() => stripeAction({ id: 'evt', type, data: { object: object as Record<string, unknown> } })).not.toThrow();
    }), { numRuns: 500, seed: 3 });
  });
});

describe('currencies: minor units → major units, by Stripe\'s exponents', () => {
  const table: [currency: string, minor: number, major: number][] = [
    ['JPY', 500, 500],
    ['jpy', 12000, 12000],
    ['KRW', 15000, 15000],
    ['CLP', 1000, 1000],
    ['VND', 250000, 250000],
    ['XOF', 5000, 5000],
    ['KWD', 1250, 1.25],
    ['KWD', 5120, 5.12],
    ['BHD', 10000, 10],
    ['JOD', 1005, 1.005],
    ['OMR', 1, 0.001],
    ['TND', 2500, 2.5],
    ['EUR', 1999, 19.99],
    ['USD', 5, 0.05],
    ['usd', 100, 1],
    ['GBP', 0, 0],
    // Stripe's special cases: two-decimal in the API.
    ['ISK', 500, 5],
    ['UGX', 500, 5],
    ['HUF', 150000, 1500],
    ['TWD', 10000, 100],
  ];
  it.each(table)('%s %d → %d', (currency, minor, major) => {
    expect(fromMinorUnits(minor, currency)).toBe(major);
  });

  it('exponents: 0 for Stripe\'s zero-decimal list (without ISK and UGX), 3 for BHD JOD KWD OMR TND, else 2', () => {
    const zero = ['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'];
    expect(zero.map(stripeExponent)).toEqual(zero.map(() => 0));
    expect(['BHD', 'JOD', 'KWD', 'OMR', 'TND'].map(stripeExponent)).toEqual([3, 3, 3, 3, 3]);
    expect(['ISK', 'UGX', 'HUF', 'TWD', 'USD', 'EUR', 'XYZ'].map(stripeExponent)).toEqual([2, 2, 2, 2, 2, 2, 2]);
  });

  it.each([
    ['jpy', 5000, 5000],
    ['krw', 33000, 33000],
    ['kwd', 12340, 12.34],
    ['bhd', 7500, 7.5],
    ['eur', 4999, 49.99],
    ['usd', 10050, 100.5],
    ['isk', 990000, 9900],
  ])('a %s checkout of %d minor units gives a postback amount of %d', (currency, minor, major) => {
    const session = fixture<StripeEvent>('stripe-checkout-session-payment.json');
    Object.assign(session.data.object, { currency, amount_total: minor, total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 } });
    expect(stripeAction(session)).toMatchObject({ conversion: { amount: major, currency: currency.toUpperCase() } });
  });
});
