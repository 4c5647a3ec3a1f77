// Attack "A browser event pre-empts the webhook": in open trust, an unsigned
// POST /_tap/convert with a Checkout session id (shown in the URL before paying)
// was `sent` with the attacker's referral code and any amount; the real signed
// checkout.session.completed was then `duplicate`. /customer could claim a
// guest's email the same way. Now any webhook secret makes the platform own the
// orders: unsigned browser convert and customer are 401 signature_required. Without
// that rule the squat is `sent` and /health says "open".
import { describe, expect, it } from 'vitest';
import { encodeReference } from '../../common/attribution';
import { attackEnv, health, receivedFor, send, signedEvent, signedTrust, STRIPE_SECRET, stripeSignature, tapDataCookie, TOKEN, uniqueId } from './harness';

const SECRETS = ['STRIPE_WEBHOOK_SECRET', 'SHOPIFY_WEBHOOK_SECRET', 'PADDLE_WEBHOOK_SECRET', 'LEMONSQUEEZY_WEBHOOK_SECRET'];

describe.each(SECRETS)('with %s set, in open trust', (name) => {
  const env = attackEnv({ [name]: 'a-webhook-secret' } as Partial<Env>);

  it('refuses an unsigned browser convert and customer with 401 signature_required, and sends nothing', async () => {
    const external_id = uniqueId('cs_live');
    const convert = await send('/_tap/convert', { external_id, amount: 100000, referral_code: 'mallory' }, { env });
    const customer = await send('/_tap/customer', { customer_id: `${external_id}@example.com`, referral_code: 'mallory' }, { env });
    for (const answer of [convert, customer]) {
      expect(answer.status).toBe(401);
      expect(answer.json).toMatchObject({ ok: false, error: 'signature_required' });
    }
    expect(await receivedFor(external_id)).toEqual([]);
    expect(await receivedFor(`${external_id}@example.com`)).toEqual([]);
  });

  it('says "trust": "webhooks" on /health', async () => {
    expect((await health(env)).json).toMatchObject({ trust: 'webhooks' });
  });

  it('still takes server events with the server token', async () => {
    const external_id = uniqueId('SRV');
    const server = attackEnv({ [name]: 'a-webhook-secret', TAPLINE_SERVER_TOKEN: TOKEN } as Partial<Env>);
    const answer = await send('/_tap/convert', { external_id, amount: 10, referral_code: 'anna' }, { env: server, headers: { origin: undefined, authorization: `Bearer ${TOKEN}` } });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
  });
});

describe('the webhook keeps its order', () => {
  it('the squat is refused, and the signed checkout.session.completed for that session is sent with its own affiliate', async () => {
    const env = attackEnv({ STRIPE_WEBHOOK_SECRET: STRIPE_SECRET });
    const session = uniqueId('cs_live');
    const squat = await send('/_tap/convert', { external_id: session, amount: 100000, referral_code: 'mallory' }, { env });
    expect(squat.status).toBe(401);

    const body = JSON.stringify({
      id: uniqueId('evt'),
      type: 'checkout.session.completed',
      data: {
        object: {
          id: session,
          mode: 'payment',
          payment_status: 'paid',
          currency: 'eur',
          amount_total: 12000,
          total_details: { amount_tax: 0, amount_shipping: 0 },
          client_reference_id: encodeReference({ referral_code: 'anna' }),
        },
      },
    });
    const real = await send('/_tap/webhooks/stripe', body, { env, headers: { origin: undefined, 'stripe-signature': await stripeSignature(body) } });
    expect(real.json).toEqual({ ok: true, status: 'sent' });
    const received = await receivedFor(session);
    expect(received).toHaveLength(1);
    expect(received[0].fields).toMatchObject({ external_id: session, amount: 120, referral_code: 'anna' });
  });

  it('in signed trust with a webhook, /health says "signed" and a signed browser event is still sent', async () => {
    const env = signedTrust({ STRIPE_WEBHOOK_SECRET: STRIPE_SECRET });
    expect((await health(env)).json).toMatchObject({ trust: 'signed' });
    const external_id = uniqueId();
    const answer = await send('/_tap/convert', await signedEvent({ external_id, amount: 10 }), { env, headers: { cookie: tapDataCookie({ referral_code: 'anna', ts: 1 }) } });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
  });
});
