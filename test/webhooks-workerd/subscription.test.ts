// A Stripe subscription: the checkout's attribution is remembered for the Stripe
// customer (in the ledger Durable Object), and each invoice.paid is a recurring conversion.
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { encodeReference } from '../../common/attribution';
import { ledgerHolding } from '../ledger-control';
import { postbackControl } from '../postback/control';
import { ANNA, invoicePaidText, postStripe, sessionSubscriptionText, stripeEvent, stripeSignature, unique, webhookEnv } from './helpers';

const upstream = postbackControl(inject('webhookPostbackServers').subscription);
const env = () => webhookEnv(upstream);
const BOB = encodeReference({ referral_code: 'bob' })!;

function subscriptionSession(customer: string, overrides: Record<string, unknown> = {}) {
  const session = JSON.parse(sessionSubscriptionText).data.object as Record<string, unknown>;
  return { ...session, id: unique('cs_test_'), customer, invoice: unique('in_'), subscription: unique('sub_'), client_reference_id: ANNA, metadata: {}, ...overrides };
}

/** An invoice.paid (API 2025-03-31 shape) of `subscription` for `customer`, with no tap_ref in the subscription's metadata unless given. */
function invoicePaid(customer: string, id = unique('in_'), metadata: Record<string, string> = {}, subscription = unique('sub_')) {
  const invoice = JSON.parse(invoicePaidText).data.object as Record<string, any>;
  return stripeEvent('invoice.paid', {
    ...invoice,
    id,
    customer,
    parent: { ...invoice.parent, subscription_details: { ...invoice.parent.subscription_details, metadata, subscription } },
  });
}

describe('POST /webhooks/stripe: subscriptions', () => {
  beforeEach(() => upstream.reset());

  it('a subscription checkout, then three invoice.paid, gives three conversions for one customer, attributed to the checkout; a replay of the last is a duplicate', async () => {
    const customer = unique('cus_');
    const session = subscriptionSession(customer);
    const checkout = await postStripe(env(), stripeEvent('checkout.session.completed', session));
    // The first invoice is paid at checkout: converted now, under the invoice id.
    expect(checkout.json).toEqual({ ok: true, status: 'sent' });

    const subscription = session.subscription as string;
    const first = await postStripe(env(), invoicePaid(customer, session.invoice as string, {}, subscription));
    const second = await postStripe(env(), invoicePaid(customer, unique('in_'), {}, subscription));
    const lastBody = invoicePaid(customer, unique('in_'), {}, subscription);
    const third = await postStripe(env(), lastBody);
    expect([first.json, second.json, third.json]).toEqual([
      { ok: true, status: 'duplicate' }, // the session already sent this invoice
      { ok: true, status: 'sent' },
      { ok: true, status: 'sent' },
    ]);

    const conversions = await upstream.accepted('conversion');
    expect(conversions).toHaveLength(3);
    expect(conversions[0].fields).toEqual({ external_id: session.invoice, amount: 29, currency: 'EUR', customer_id: customer, referral_code: 'anna' });
    for (const conversion of conversions.slice(1)) {
      // amount_paid 3509 − VAT 609 = €29
      expect(conversion.fields).toMatchObject({ amount: 29, currency: 'EUR', customer_id: customer, referral_code: 'anna' });
    }
    expect(new Set(conversions.map((r) => r.fields.external_id)).size).toBe(3);
    // The customer postback went once, with the checkout; renewals skip it.
    expect((await upstream.accepted('customer')).map((r) => r.fields)).toEqual([{ customer_id: customer, referral_code: 'anna' }]);

    // Stripe redelivers the last event (a new signature, the same event).
    const replay = await postStripe(env(), lastBody, await stripeSignature(lastBody, { timestamp: Math.floor(Date.now() / 1000) + 2 }));
    expect(replay.json).toEqual({ ok: true, status: 'duplicate' });
    expect(await upstream.accepted('conversion')).toHaveLength(3);
  });

  it('the first invoice.paid may arrive before the checkout: it is unattributed, and the checkout then converts that invoice', async () => {
    const customer = unique('cus_');
    const session = subscriptionSession(customer);
    const early = await postStripe(env(), invoicePaid(customer, session.invoice as string));
    expect(early.json).toEqual({ ok: true, status: 'unattributed' });
    const checkout = await postStripe(env(), stripeEvent('checkout.session.completed', session));
    expect(checkout.json).toEqual({ ok: true, status: 'sent' });
    expect((await upstream.accepted('conversion')).map((r) => r.fields.external_id)).toEqual([session.invoice]);
  });

  it('a subscription checkout without a paid invoice (a trial) is ignored and remembers nothing; its first paid invoice with the subscription’s tap_ref does', async () => {
    const customer = unique('cus_');
    const trial = subscriptionSession(customer, { payment_status: 'no_payment_required', amount_total: 0, amount_subtotal: 0 });
    const checkout = await postStripe(env(), stripeEvent('checkout.session.completed', trial));
    expect({ status: checkout.status, json: checkout.json }).toEqual({ status: 200, json: { ok: true, status: 'ignored' } });
    const subscription = trial.subscription as string;
    expect((await postStripe(env(), invoicePaid(customer, unique('in_'), {}, subscription))).json).toEqual({ ok: true, status: 'unattributed' });
    expect((await postStripe(env(), invoicePaid(customer, unique('in_'), { tap_ref: ANNA }, subscription))).json).toEqual({ ok: true, status: 'sent' });
    expect((await postStripe(env(), invoicePaid(customer, unique('in_'), {}, subscription))).json).toEqual({ ok: true, status: 'sent' });
    expect((await upstream.accepted('conversion')).map((r) => r.fields.referral_code)).toEqual(['anna', 'anna']);
  });

  it('a subscription checkout without a reference remembers nothing: unattributed, and so are its renewals', async () => {
    const customer = unique('cus_');
    const checkout = await postStripe(env(), stripeEvent('checkout.session.completed', subscriptionSession(customer, { client_reference_id: null, payment_status: 'no_payment_required' })));
    expect(checkout.json).toEqual({ ok: true, status: 'ignored' });
    const paid = subscriptionSession(customer, { client_reference_id: null });
    expect((await postStripe(env(), stripeEvent('checkout.session.completed', paid))).json).toEqual({ ok: true, status: 'unattributed' });
    expect((await postStripe(env(), invoicePaid(customer, unique('in_'), {}, paid.subscription as string))).json).toEqual({ ok: true, status: 'unattributed' });
    expect(await upstream.received()).toEqual([]);
  });

  it('a later checkout of the same customer through another link never takes the first subscription’s renewals', async () => {
    const customer = unique('cus_');
    const first = subscriptionSession(customer);
    await postStripe(env(), stripeEvent('checkout.session.completed', first));
    await postStripe(env(), stripeEvent('checkout.session.completed', subscriptionSession(customer, { client_reference_id: BOB })));
    await upstream.reset();
    await postStripe(env(), invoicePaid(customer, unique('in_'), {}, first.subscription as string));
    expect((await upstream.accepted('conversion'))[0].fields).toMatchObject({ referral_code: 'anna' });
  });

  it('a customer remembered by v3 (per customer) still attributes a renewal until it expires', async () => {
    const customer = unique('cus_');
    const key = `sub:stripe:${customer}`;
    const stub = await ledgerHolding(key);
    await stub.remember(key, JSON.stringify({ referral_code: 'bob' }), 60_000);
    expect((await postStripe(env(), invoicePaid(customer))).json).toEqual({ ok: true, status: 'sent' });
    expect((await upstream.accepted('conversion'))[0].fields).toMatchObject({ referral_code: 'bob' });
  });

  it('an invoice.paid for an unknown customer with no subscription metadata is unattributed, and nothing is sent', async () => {
    const { status, json } = await postStripe(env(), invoicePaid(unique('cus_')));
    expect({ status, json }).toEqual({ status: 200, json: { ok: true, status: 'unattributed' } });
    expect(await upstream.received()).toEqual([]);
  });

  it('an invoice.paid whose subscription metadata carries tap_ref is attributed by it', async () => {
    const customer = unique('cus_');
    const { json } = await postStripe(env(), invoicePaid(customer, unique('in_'), { tap_ref: BOB }));
    expect(json).toEqual({ ok: true, status: 'sent' });
    expect((await upstream.accepted('conversion'))[0].fields).toMatchObject({ customer_id: customer, referral_code: 'bob', amount: 29 });
  });

  it('subscription metadata whose tap_ref is not a reference falls back to the remembered attribution', async () => {
    const customer = unique('cus_');
    const session = subscriptionSession(customer);
    await postStripe(env(), stripeEvent('checkout.session.completed', session));
    await upstream.reset();
    const { json } = await postStripe(env(), invoicePaid(customer, unique('in_'), { tap_ref: 'garbage' }, session.subscription as string));
    expect(json).toEqual({ ok: true, status: 'sent' });
    expect((await upstream.accepted('conversion'))[0].fields).toMatchObject({ referral_code: 'anna' });
  });

  it('an invoice that paid nothing (a trial, a 100% coupon) is ignored', async () => {
    const customer = unique('cus_');
    await postStripe(env(), stripeEvent('checkout.session.completed', subscriptionSession(customer, { payment_status: 'no_payment_required' })));
    const invoice = JSON.parse(invoicePaid(customer)) as Record<string, any>;
    invoice.data.object = { ...invoice.data.object, amount_paid: 0, total_taxes: [] };
    const { json } = await postStripe(env(), JSON.stringify(invoice));
    expect(json).toEqual({ ok: true, status: 'ignored' });
    expect(await upstream.received()).toEqual([]);
  });
});
