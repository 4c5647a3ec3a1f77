// POST /_tap/webhooks/stripe in workerd: the production app, the real delivery
// (ledger Durable Object + queue from wrangler.toml), a local Tapfiliate stand-in.
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { decodeReference } from '../../common/attribution';
import { postbackControl } from '../postback/control';
import {
  ANNA,
  chargeRefundedText,
  paymentSession,
  postStripe,
  sessionPaymentText as paymentSessionFixture,
  stripeEvent,
  stripeSignature,
  unique,
  webhookEnv,
} from './helpers';

const upstream = postbackControl(inject('webhookPostbackServers').stripe);
const env = () => webhookEnv(upstream);

describe('POST /webhooks/stripe: a paid one-off checkout', () => {
  beforeEach(() => upstream.reset());

  it('the reference used throughout is what tap.reference() gives for anna (and what the fixtures carry)', async () => {
    expect(decodeReference(ANNA)).toEqual({ referral_code: 'anna' });
    expect(JSON.parse(paymentSessionFixture).data.object.client_reference_id).toBe(ANNA);
  });

  it('sends the customer postback, then one conversion: session id, amount without tax and shipping, currency, Stripe customer', async () => {
    const session = paymentSession();
    const { status, json } = await postStripe(env(), stripeEvent('checkout.session.completed', session));
    expect({ status, json }).toEqual({ status: 200, json: { ok: true, status: 'sent' } });
    const received = await upstream.received();
    expect(received.map((r) => `${r.kind}:${r.status}`)).toEqual(['customer:200', 'conversion:200']);
    expect(received[0].fields).toEqual({ customer_id: session.customer, referral_code: 'anna' });
    // amount_total 5350 − tax 850 − shipping 500 = 4000 cents.
    expect(received[1].fields).toEqual({ external_id: session.id, amount: 40, currency: 'USD', customer_id: session.customer, referral_code: 'anna' });
    expect(received[1].apiKey).toBe('test-key');
  });

  it('takes metadata.tap_ref when there is no client_reference_id, and the email when there is no customer', async () => {
    const session = paymentSession({ client_reference_id: null, metadata: { tap_ref: ANNA }, customer: null });
    const { json } = await postStripe(env(), stripeEvent('checkout.session.completed', session));
    expect(json).toEqual({ ok: true, status: 'sent' });
    const conversions = await upstream.accepted('conversion');
    expect(conversions.map((r) => r.fields)).toEqual([
      { external_id: session.id, amount: 40, currency: 'USD', customer_id: 'jenny.rosen@example.com', referral_code: 'anna' },
    ]);
  });

  it('the same event delivered twice gives one postback; the second answer is duplicate', async () => {
    const body = stripeEvent('checkout.session.completed', paymentSession());
    const first = await postStripe(env(), body);
    const second = await postStripe(env(), body, await stripeSignature(body, { timestamp: Math.floor(Date.now() / 1000) + 1 }));
    expect([first.json, second.json]).toEqual([
      { ok: true, status: 'sent' },
      { ok: true, status: 'duplicate' },
    ]);
    expect(await upstream.accepted('conversion')).toHaveLength(1);
    expect(second.lines.some((line) => line.event === 'duplicate_suppressed')).toBe(true);
  });

  it('a signed thank-you page tap.convert with {CHECKOUT_SESSION_ID} and the webhook meet in the ledger: one conversion', async () => {
    const session = paymentSession();
    const { request } = await import('./helpers');
    // With the webhook set up, the page must be signed (docs/security.md, "Webhooks own the orders").
    const secret = 'workerd-signing-secret';
    const signed = JSON.stringify({ external_id: session.id, amount: 40, currency: 'USD' });
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(signed)));
    const signature = [...mac].map((byte) => byte.toString(16).padStart(2, '0')).join('');
    const signedEnv = webhookEnv(upstream, { TAPLINE_SIGNING_SECRET: secret });
    const cookie = `tap_data=${encodeURIComponent(JSON.stringify({ referral_code: 'anna', ts: 1 }))}`;
    const headers = { 'content-type': 'text/plain', origin: 'https://shop.example', cookie };
    const unsigned = await request(env(), '/convert', { method: 'POST', headers, body: signed });
    expect(unsigned.json).toMatchObject({ ok: false, error: 'signature_required' });
    const page = await request(signedEnv, '/convert', { method: 'POST', headers, body: JSON.stringify({ signed, signature }) });
    expect(page.json).toEqual({ ok: true, status: 'sent' });
    const hook = await postStripe(signedEnv, stripeEvent('checkout.session.completed', session));
    expect(hook.json).toEqual({ ok: true, status: 'duplicate' });
    expect(await upstream.accepted('conversion')).toHaveLength(1);
  });
});

describe('POST /webhooks/stripe: signatures and configuration', () => {
  beforeEach(() => upstream.reset());

  const invalid = { status: 400, json: { ok: false, error: 'invalid_signature' } };

  it('refuses a tampered body', async () => {
    const body = stripeEvent('checkout.session.completed', paymentSession());
    const signature = await stripeSignature(body);
    const tampered = body.replace('"amount_total":5350', '"amount_total":9350');
    expect(tampered).not.toBe(body);
    const { status, json } = await postStripe(env(), tampered, signature);
    expect({ status, json: { ok: json.ok, error: json.error } }).toEqual(invalid);
  });

  it('refuses a signature made with another secret', async () => {
    const body = stripeEvent('checkout.session.completed', paymentSession());
    const { status, json } = await postStripe(env(), body, await stripeSignature(body, { secret: 'whsec_someone_else' }));
    expect({ status, json: { ok: json.ok, error: json.error } }).toEqual(invalid);
  });

  it('refuses a timestamp older than 5 minutes (and one more than 5 minutes ahead)', async () => {
    const body = stripeEvent('checkout.session.completed', paymentSession());
    const now = Math.floor(Date.now() / 1000);
    for (const timestamp of [now - 301, now - 3600, now + 400]) {
      const { status, json } = await postStripe(env(), body, await stripeSignature(body, { timestamp }));
      expect({ status, json: { ok: json.ok, error: json.error } }).toEqual(invalid);
    }
    const fresh = await postStripe(env(), body, await stripeSignature(body, { timestamp: now - 240 }));
    expect(fresh.json).toEqual({ ok: true, status: 'sent' });
  });

  it('refuses a request without Stripe-Signature, or with a garbled one', async () => {
    const body = stripeEvent('checkout.session.completed', paymentSession());
    for (const header of [null, 'nonsense', `t=${Math.floor(Date.now() / 1000)},v1=`]) {
      const { status, json } = await postStripe(env(), body, header);
      expect({ status, json: { ok: json.ok, error: json.error } }).toEqual(invalid);
    }
  });

  it('nothing reaches Tapfiliate after a refused signature', async () => {
    const body = stripeEvent('checkout.session.completed', paymentSession());
    await postStripe(env(), body, await stripeSignature(body, { secret: 'whsec_wrong' }));
    expect(await upstream.received()).toEqual([]);
  });

  it('answers 503 not_configured without STRIPE_WEBHOOK_SECRET, and says which secret in the log', async () => {
    const body = stripeEvent('checkout.session.completed', paymentSession());
    const { status, json, lines } = await postStripe(webhookEnv(upstream, { STRIPE_WEBHOOK_SECRET: undefined }), body);
    expect({ status, json }).toEqual({ status: 503, json: { ok: false, error: 'not_configured' } });
    expect(JSON.stringify(lines.find((line) => line.event === 'not_configured'))).toContain('STRIPE_WEBHOOK_SECRET');
    const blank = await postStripe(webhookEnv(upstream, { STRIPE_WEBHOOK_SECRET: '' }), body);
    expect(blank.status).toBe(503);
    expect(await upstream.received()).toEqual([]);
  });

  it('answers 503 not_configured, before sending anything, when TAPFILIATE_API_KEY is missing', async () => {
    const body = stripeEvent('checkout.session.completed', paymentSession());
    const { status, json } = await postStripe(webhookEnv(upstream, { TAPFILIATE_API_KEY: undefined }), body);
    expect({ status, json }).toEqual({ status: 503, json: { ok: false, error: 'not_configured' } });
    expect(await upstream.received()).toEqual([]);
  });
});

describe('POST /webhooks/stripe: what is not a conversion', () => {
  beforeEach(() => upstream.reset());

  it('an unrelated event type is 200 ignored', async () => {
    for (const type of ['customer.created', 'payment_intent.succeeded', 'invoice.created']) {
      const { status, json } = await postStripe(env(), stripeEvent(type, { id: unique('obj_'), object: 'thing' }));
      expect({ type, status, json }).toEqual({ type, status: 200, json: { ok: true, status: 'ignored' } });
    }
    expect(await upstream.received()).toEqual([]);
  });

  it('charge.refunded of a payment Tapline never sent is 200 unattributed, and nothing is sent', async () => {
    const body = chargeRefundedText.replace('evt_3QmRefund0000000000000', unique('evt_')).replace(/pi_3QmPaymentIntent0000001/g, unique('pi_'));
    const { status, json, lines } = await postStripe(env(), body);
    expect({ status, json }).toEqual({ status: 200, json: { ok: true, status: 'unattributed' } });
    expect(lines.find((line) => line.event === 'request')).toMatchObject({ result: 'unattributed' });
    expect(await upstream.received()).toEqual([]);
  });

  it('a session without a reference is 200 unattributed and nothing is sent or recorded', async () => {
    const session = paymentSession({ client_reference_id: null, metadata: {} });
    const { status, json } = await postStripe(env(), stripeEvent('checkout.session.completed', session));
    expect({ status, json }).toEqual({ status: 200, json: { ok: true, status: 'unattributed' } });
    expect(await upstream.received()).toEqual([]);
    // Not recorded: once attributed (say, a fixed integration), the same session still goes out.
    const later = await postStripe(env(), stripeEvent('checkout.session.completed', { ...session, client_reference_id: ANNA }));
    expect(later.json).toEqual({ ok: true, status: 'sent' });
  });

  it('a reference that is not one of tap.reference() counts as none', async () => {
    const session = paymentSession({ client_reference_id: 'user_42' });
    const { json } = await postStripe(env(), stripeEvent('checkout.session.completed', session));
    expect(json).toEqual({ ok: true, status: 'unattributed' });
    expect(await upstream.received()).toEqual([]);
  });

  it('an unpaid session is ignored; its async_payment_succeeded converts it', async () => {
    const session = paymentSession({ payment_status: 'unpaid' });
    const pending = await postStripe(env(), stripeEvent('checkout.session.completed', session));
    expect(pending.json).toEqual({ ok: true, status: 'ignored' });
    const paid = await postStripe(env(), stripeEvent('checkout.session.async_payment_succeeded', { ...session, payment_status: 'paid' }));
    expect(paid.json).toEqual({ ok: true, status: 'sent' });
    expect((await upstream.accepted('conversion')).map((r) => r.fields.external_id)).toEqual([session.id]);
  });

  it('a correctly signed body that is not an event is 200 ignored (a retry would send the same bytes)', async () => {
    for (const body of ['{"nope":true}', '[1,2]', 'not json']) {
      const { status, json } = await postStripe(env(), body);
      expect({ status, json }).toEqual({ status: 200, json: { ok: true, status: 'ignored' } });
    }
  });

  it('an id the conversion schema refuses is 200 ignored with the reason logged, not a 400 Stripe would retry', async () => {
    const session = paymentSession({ id: `cs_${'x'.repeat(300)}` });
    const { status, json, lines } = await postStripe(env(), stripeEvent('checkout.session.completed', session));
    expect({ status, json }).toEqual({ status: 200, json: { ok: true, status: 'ignored' } });
    expect(lines.find((line) => line.event === 'webhook_invalid_order')).toMatchObject({ issues: [expect.stringMatching(/^external_id/)] });
    expect(await upstream.received()).toEqual([]);
  });
});

describe('POST /webhooks/stripe: Tapfiliate answers', () => {
  beforeEach(() => upstream.reset());

  it('a refusal (422) is 200 upstream_rejected so Stripe stops retrying; a replay sends nothing more', async () => {
    await upstream.setFaults({ always: { status: 422, message: 'Affiliate is disabled.' } });
    const body = stripeEvent('checkout.session.completed', paymentSession({ customer: null, customer_details: {} }));
    const { status, json, lines } = await postStripe(env(), body);
    expect({ status, json }).toEqual({ status: 200, json: { ok: false, error: 'upstream_rejected' } });
    expect(lines.find((line) => line.event === 'request')).toMatchObject({ result: 'rejected', upstream_status: 422 });
    await upstream.reset();
    const replay = await postStripe(env(), body);
    expect(replay.json).toEqual({ ok: true, status: 'duplicate' });
    expect(await upstream.received()).toEqual([]);
  });

  it('Tapfiliate down (503) is 202 queued: delivery has the job, Stripe need not retry', async () => {
    await upstream.setFaults({ always: '503' });
    const { status, json } = await postStripe(env(), stripeEvent('checkout.session.completed', paymentSession()));
    expect({ status, json }).toEqual({ status: 202, json: { ok: true, status: 'queued' } });
  });
});
