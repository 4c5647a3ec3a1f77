// The attack "Squatted orders": WooCommerce order
// numbers are sequential, so an attacker posted the next one first with their
// own referral code; the real order then got `duplicate` and Tapfiliate only
// saw the attacker's. Without the guard the attacker's POST was `sent` and the
// real one `duplicate`.
import { describe, expect, it } from 'vitest';
import { receivedFor, send, signedEvent, signedTrust, tapDataCookie } from './harness';

/** The next order number of a shop whose numbers are sequential (unique per run, so the ledger starts clean). */
const nextOrderNumber = () => `1042${Date.now()}${Math.floor(Math.random() * 1000)}`;

describe('in signed trust', () => {
  const env = signedTrust();

  it('refuses the attacker’s guess at order 1042, and the real order 1042 is then sent, not duplicate', async () => {
    const order = nextOrderNumber();
    const squat = await send('/_tap/convert', `{"external_id":"${order}","amount":0.01,"referral_code":"attacker"}`, { env });
    expect(squat.status).toBe(401);
    expect(squat.json).toMatchObject({ error: 'signature_required' });

    const real = await send('/_tap/convert', await signedEvent({ external_id: order, amount: 120, currency: 'EUR' }), {
      env,
      headers: { cookie: tapDataCookie({ referral_code: 'right-affiliate', ts: 1 }) },
    });
    expect(real.status).toBe(200);
    expect(real.json).toEqual({ ok: true, status: 'sent' });
    const received = await receivedFor(order);
    expect(received).toHaveLength(1);
    expect(received[0].fields).toMatchObject({ external_id: order, amount: 120, referral_code: 'right-affiliate' });
  });

  it('refuses a squatted customer_id on /customer, and the real customer is then sent', async () => {
    const customer_id = `CUS-${nextOrderNumber()}`;
    const squat = await send('/_tap/customer', { customer_id, referral_code: 'attacker' }, { env });
    expect(squat.status).toBe(401);
    expect(squat.json).toMatchObject({ error: 'signature_required' });

    const real = await send('/_tap/customer', { ...(await signedEvent({ customer_id })), referral_code: 'right-affiliate' }, { env });
    expect(real.json).toEqual({ ok: true, status: 'sent' });
    const received = await receivedFor(customer_id);
    expect(received.map((r) => `${r.kind}:${r.status}`)).toEqual(['customer:200']);
    expect(received[0].fields).toMatchObject({ customer_id, referral_code: 'right-affiliate' });
  });

  it('refuses a customer_id squatted through a conversion, and the real order with that customer goes out whole', async () => {
    const order = nextOrderNumber();
    const customer_id = `CUS-${order}`;
    const squat = await send('/_tap/convert', { external_id: `X-${order}`, customer_id, referral_code: 'attacker' }, { env });
    expect(squat.status).toBe(401);

    const real = await send('/_tap/convert', { ...(await signedEvent({ external_id: order, amount: 30, customer_id })), referral_code: 'right-affiliate' }, { env });
    expect(real.json).toEqual({ ok: true, status: 'sent' });
    const received = await receivedFor(customer_id);
    expect(received.map((r) => `${r.kind}:${r.status}`)).toEqual(['customer:200', 'conversion:200']);
    for (const r of received) expect(r.fields.referral_code).toBe('right-affiliate');
  });

  it('does not let an unsigned event squat an id in test mode either', async () => {
    const order = nextOrderNumber();
    const squat = await send('/_tap/convert', { external_id: order, referral_code: 'attacker', test: true }, { env });
    expect(squat.status).toBe(401);
  });
});
