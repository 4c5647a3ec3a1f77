// The attack "Forged commissions": anyone could POST
// /_tap/convert with any amount and referral code, with or without an Origin,
// and the worker signed it with the merchant's key. Without the guard every
// request below was answered 200 sent and reached the postback server.
import { describe, expect, it } from 'vitest';
import { attackEnv, ORIGIN, receivedFor, send, signedEvent, signedTrust, uniqueId } from './harness';

/** After a refusal: nothing reached Tapfiliate, and the ledger kept nothing (the same id is still new). */
async function expectNothingForwardedOrRecorded(id: string, accept: () => Promise<{ status: number; json: unknown }>) {
  expect(await receivedFor(id)).toEqual([]);
  const later = await accept();
  expect(later.json).toEqual({ ok: true, status: 'sent' });
  expect((await receivedFor(id)).map((r) => `${r.kind}:${r.status}`)).toEqual(['conversion:200']);
}

describe('signed trust (TAPLINE_SIGNING_SECRET set)', () => {
  const env = signedTrust();
  const realOrder = async (external_id: string) =>
    send('/_tap/convert', { ...(await signedEvent({ external_id, amount: 49, currency: 'EUR' })), referral_code: 'real-affiliate' }, { env });

  it('refuses an unsigned conversion: 401 signature_required', async () => {
    const external_id = uniqueId();
    const forged = await send('/_tap/convert', { external_id, amount: 1e6, referral_code: 'attacker' }, { env });
    expect(forged.status).toBe(401);
    expect(forged.json).toMatchObject({ ok: false, error: 'signature_required' });
    await expectNothingForwardedOrRecorded(external_id, () => realOrder(external_id));
  });

  it('refuses a signature made with another secret: 401 invalid_signature', async () => {
    const external_id = uniqueId();
    const forged = await send('/_tap/convert', { ...(await signedEvent({ external_id, amount: 1e6 }, 'guessed-secret')), referral_code: 'attacker' }, { env });
    expect(forged.status).toBe(401);
    expect(forged.json).toMatchObject({ ok: false, error: 'invalid_signature' });
    await expectNothingForwardedOrRecorded(external_id, () => realOrder(external_id));
  });

  it('refuses a real signature over an edited `signed`: 401 invalid_signature', async () => {
    const external_id = uniqueId();
    const real = await signedEvent({ external_id, amount: 49 });
    const forged = await send('/_tap/convert', { signed: real.signed.replace('49', '4900'), signature: real.signature, referral_code: 'attacker' }, { env });
    expect(forged.status).toBe(401);
    expect(forged.json).toMatchObject({ ok: false, error: 'invalid_signature' });
    await expectNothingForwardedOrRecorded(external_id, () => realOrder(external_id));
  });

  it('refuses a signature that is not hex of the right length: 400, nothing forwarded', async () => {
    const external_id = uniqueId();
    const forged = await send('/_tap/convert', { signed: JSON.stringify({ external_id }), signature: 'zz', referral_code: 'attacker' }, { env });
    expect(forged.status).toBe(400);
    expect(forged.json).toMatchObject({ ok: false, error: 'invalid_request', issues: [{ path: 'signature' }] });
    await expectNothingForwardedOrRecorded(external_id, () => realOrder(external_id));
  });

  it('refuses a replayed event past its exp: 401 signature_expired', async () => {
    const external_id = uniqueId();
    const stale = await signedEvent({ external_id, amount: 49, exp: Math.floor(Date.now() / 1000) - 60 });
    const replayed = await send('/_tap/convert', { ...stale, referral_code: 'attacker' }, { env });
    expect(replayed.status).toBe(401);
    expect(replayed.json).toMatchObject({ ok: false, error: 'signature_expired' });
    await expectNothingForwardedOrRecorded(external_id, () => realOrder(external_id));
  });

  it('accepts an exp in the future', async () => {
    const external_id = uniqueId();
    const fresh = await signedEvent({ external_id, amount: 49, exp: Math.floor(Date.now() / 1000) + 600 });
    expect((await send('/_tap/convert', { ...fresh, referral_code: 'aff' }, { env })).json).toEqual({ ok: true, status: 'sent' });
    expect((await receivedFor(external_id))[0].fields).not.toHaveProperty('exp');
  });

  it('lets the signed fields win, and reads only identifiers from outside `signed`', async () => {
    const external_id = uniqueId();
    const decoy = uniqueId();
    const answer = await send(
      '/_tap/convert',
      {
        ...(await signedEvent({ external_id, amount: 49, currency: 'EUR' })),
        // The attacker's additions: a bigger amount, another order, a customer to squat, meta_data.
        external_id: decoy,
        amount: 99_999,
        currency: 'USD',
        customer_id: `CUS-${decoy}`,
        meta_data: { note: 'forged' },
        // Attribution belongs to the browser, so these are read.
        referral_code: 'cookie-affiliate',
        coupon: 'TYPED',
      },
      { env },
    );
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    const received = await receivedFor(external_id);
    expect(received.map((r) => r.kind)).toEqual(['conversion']);
    expect(received[0].fields).toMatchObject({ external_id, amount: 49, currency: 'EUR', referral_code: 'cookie-affiliate', coupon: 'TYPED' });
    expect(received[0].fields).not.toHaveProperty('customer_id');
    expect(received[0].fields).not.toHaveProperty('meta_data');
    expect(await receivedFor(decoy)).toEqual([]);
    expect(await receivedFor(`CUS-${decoy}`)).toEqual([]);
  });

  it('an identifier inside `signed` wins over the same identifier outside it', async () => {
    // The merchant's server signed the affiliate (a coupon it validated, a referral code from its own
    // records); a browser adding its own must not replace it.
    const external_id = uniqueId();
    const answer = await send(
      '/_tap/convert',
      {
        ...(await signedEvent({ external_id, amount: 20, referral_code: 'signed-affiliate', coupon: 'SIGNED' })),
        referral_code: 'browser-affiliate',
        coupon: 'BROWSER',
        click_id: 'browser-click',
      },
      { env },
    );
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    const [conversion] = await receivedFor(external_id);
    // Outside identifiers the signed fields do not name still count: attribution belongs to the browser.
    expect(conversion.fields).toMatchObject({ referral_code: 'signed-affiliate', coupon: 'SIGNED', click_id: 'browser-click' });
  });

  it('puts no cap on a signed amount: the merchant signed it', async () => {
    const external_id = uniqueId();
    const answer = await send('/_tap/convert', { ...(await signedEvent({ external_id, amount: 250_000 })), referral_code: 'aff' }, { env });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    expect((await receivedFor(external_id))[0].fields.amount).toBe(250_000);
  });
});

describe('open trust (no signing secret)', () => {
  const env = attackEnv();
  const honest = (external_id: string) => () => send('/_tap/convert', { external_id, amount: 10, referral_code: 'aff' }, { env });

  it('refuses the issue’s curl: amount 1e300 → 400 naming amount', async () => {
    const external_id = uniqueId();
    const answer = await send('/_tap/convert', `{"external_id":"${external_id}","amount":1e300,"referral_code":"attacker"}`, { env });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ ok: false, error: 'invalid_request', issues: [{ path: 'amount' }] });
    await expectNothingForwardedOrRecorded(external_id, honest(external_id));
  });

  it('refuses an amount just over MAX_AMOUNT (default 100000), and accepts MAX_AMOUNT itself', async () => {
    const external_id = uniqueId();
    const over = await send('/_tap/convert', { external_id, amount: 100_000.01, referral_code: 'attacker' }, { env });
    expect(over.status).toBe(400);
    expect(over.json).toMatchObject({ issues: [{ path: 'amount' }] });
    expect(await receivedFor(external_id)).toEqual([]);
    const atCap = await send('/_tap/convert', { external_id, amount: '100000', referral_code: 'aff' }, { env });
    expect(atCap.json).toEqual({ ok: true, status: 'sent' });
  });

  it('follows MAX_AMOUNT when it is set', async () => {
    const external_id = uniqueId();
    const answer = await send('/_tap/convert', { external_id, amount: 501, referral_code: 'attacker' }, { env: attackEnv({ MAX_AMOUNT: '500' }) });
    expect(answer.status).toBe(400);
    await expectNothingForwardedOrRecorded(external_id, honest(external_id));
  });

  it('answers 503 not_configured to a signed event it cannot verify (the browser keeps it)', async () => {
    const external_id = uniqueId();
    const answer = await send('/_tap/convert', { ...(await signedEvent({ external_id, amount: 1e6 })), referral_code: 'aff' }, { env });
    expect(answer.status).toBe(503);
    expect(answer.json).toEqual({ ok: false, error: 'not_configured', message: expect.any(String) });
    await expectNothingForwardedOrRecorded(external_id, honest(external_id));
  });
});

describe('the origin policy', () => {
  for (const trust of ['open', 'signed'] as const) {
    const env = trust === 'open' ? attackEnv() : signedTrust();

    it(`refuses a request with no Origin (curl, a server) in ${trust} trust: 403`, async () => {
      const external_id = uniqueId();
      const body = trust === 'open' ? { external_id, referral_code: 'attacker' } : { ...(await signedEvent({ external_id })), referral_code: 'attacker' };
      const answer = await send('/_tap/convert', body, { env, headers: { origin: undefined } });
      expect(answer.status).toBe(403);
      expect(answer.json).toMatchObject({ ok: false, error: 'origin_not_allowed' });
      expect(await receivedFor(external_id)).toEqual([]);
    });

    it(`refuses a foreign Origin in ${trust} trust: 403, readable by that origin`, async () => {
      const external_id = uniqueId();
      const answer = await send('/_tap/customer', { customer_id: external_id, referral_code: 'attacker' }, { env, headers: { origin: 'https://evil.example' } });
      expect(answer.status).toBe(403);
      expect(answer.json).toMatchObject({ ok: false, error: 'origin_not_allowed' });
      expect(answer.headers.get('access-control-allow-origin')).toBe('https://evil.example');
      expect(await receivedFor(external_id)).toEqual([]);
    });
  }

  it('refuses the opaque origin `null` (a sandboxed iframe, a data: URL)', async () => {
    const external_id = uniqueId();
    const answer = await send('/_tap/convert', { external_id, referral_code: 'attacker' }, { headers: { origin: 'null' } });
    expect(answer.status).toBe(403);
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses an origin that only looks like the shop', async () => {
    for (const origin of [`${ORIGIN}.evil.example`, 'http://shop.example', `${ORIGIN}:8443`]) {
      const answer = await send('/_tap/convert', { external_id: uniqueId(), referral_code: 'attacker' }, { headers: { origin } });
      expect(answer.status, origin).toBe(403);
    }
  });
});
