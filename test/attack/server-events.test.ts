// Server events: the merchant's backend posts with
// `Authorization: Bearer $TAPLINE_SERVER_TOKEN`, as Tapfiliate's CMS guide does
// from a WooCommerce order hook. A wrong token must not open that door: if the header were
// ignored, every one of these would be forwarded.
import { describe, expect, it } from 'vitest';
import { encodeReference } from '../../common/attribution';
import { attackEnv, receivedFor, send, signedTrust, TOKEN, uniqueId, withServerToken } from './harness';

const server = (extra: Record<string, string | undefined> = {}) => ({ origin: undefined, authorization: `Bearer ${TOKEN}`, ...extra });

describe('the server token', () => {
  const env = withServerToken();
  const refused = [
    ['a wrong token', `Bearer not-${TOKEN}`],
    ['the token with a suffix', `Bearer ${TOKEN}x`],
    ['an empty bearer', 'Bearer '],
    ['another scheme', `Basic ${btoa(`user:${TOKEN}`)}`],
    ['the bare token', TOKEN],
  ] as const;

  for (const [name, authorization] of refused) {
    it(`refuses ${name}: 401 unauthorized, nothing forwarded`, async () => {
      const external_id = uniqueId();
      const answer = await send('/_tap/convert', { external_id, amount: 5e6, referral_code: 'attacker' }, { env, headers: { authorization } });
      expect(answer.status).toBe(401);
      expect(answer.json).toMatchObject({ ok: false, error: 'unauthorized' });
      expect(await receivedFor(external_id)).toEqual([]);
      // Not recorded: the real server event for the same order is still new.
      const real = await send('/_tap/convert', { external_id, amount: 10, referral_code: 'aff' }, { env, headers: server() });
      expect(real.json).toEqual({ ok: true, status: 'sent' });
    });
  }

  it('refuses any token while TAPLINE_SERVER_TOKEN is unset', async () => {
    const answer = await send('/_tap/convert', { external_id: uniqueId(), referral_code: 'aff' }, { env: attackEnv(), headers: server() });
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ error: 'unauthorized' });
  });

  it('refuses a wrong token even from the shop’s own origin', async () => {
    const answer = await send('/_tap/customer', { customer_id: uniqueId(), referral_code: 'aff' }, { env, headers: { authorization: 'Bearer nope' } });
    expect(answer.status).toBe(401);
  });
});

describe('a valid server event', () => {
  it('needs no Origin and no signature (even in signed trust), and forwards the body’s ip and user_agent', async () => {
    const external_id = uniqueId();
    const answer = await send(
      '/_tap/convert',
      { external_id, amount: 80, ip: '203.0.113.50', user_agent: 'Shopper UA/1.0', referral_code: 'aff' },
      { env: signedTrust({ TAPLINE_SERVER_TOKEN: TOKEN }), headers: server({ 'cf-connecting-ip': '192.0.2.1', 'user-agent': 'WordPress/6.5' }) },
    );
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    expect((await receivedFor(external_id))[0].fields).toMatchObject({ external_id, amount: 80, ip: '203.0.113.50', user_agent: 'Shopper UA/1.0' });
  });

  it('has no amount cap', async () => {
    const external_id = uniqueId();
    const answer = await send('/_tap/convert', { external_id, amount: 5_000_000, referral_code: 'aff' }, { env: withServerToken(), headers: server() });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    expect((await receivedFor(external_id))[0].fields.amount).toBe(5_000_000);
  });

  const cookie = { referral_code: 'cookie-aff', click_id: 'clk-9', ts: 1795550000 };
  const attributions = [
    ['tap_data percent-encoded, as the browser stores it', { tap_data: encodeURIComponent(JSON.stringify(cookie)) }, { referral_code: 'cookie-aff', click_id: 'clk-9' }],
    ['tap_data decoded, as PHP’s $_COOKIE gives it', { tap_data: JSON.stringify(cookie) }, { referral_code: 'cookie-aff', click_id: 'clk-9' }],
    ['a reference from tap.reference()', { reference: encodeReference({ referral_code: 'ref-aff', coupon: 'SAVE' }) }, { referral_code: 'ref-aff', coupon: 'SAVE' }],
  ] as const;
  for (const [name, extra, identifiers] of attributions) {
    it(`attributes by ${name}`, async () => {
      const external_id = uniqueId();
      const answer = await send('/_tap/convert', { external_id, amount: 12, ...extra }, { env: withServerToken(), headers: server() });
      expect(answer.json).toEqual({ ok: true, status: 'sent' });
      expect((await receivedFor(external_id))[0].fields).toMatchObject({ external_id, ...identifiers });
    });
  }

  it('uses the body’s tap_data, not the request’s own cookie (the backend’s request carries no shopper cookie)', async () => {
    const external_id = uniqueId();
    await send(
      '/_tap/convert',
      { external_id, tap_data: JSON.stringify({ referral_code: 'body-aff' }) },
      { env: withServerToken(), headers: server({ cookie: `tap_data=${encodeURIComponent(JSON.stringify({ referral_code: 'header-aff' }))}` }) },
    );
    expect((await receivedFor(external_id))[0].fields.referral_code).toBe('body-aff');
  });

  it('refuses an ip that is not an IP address: 400 naming ip', async () => {
    const external_id = uniqueId();
    for (const ip of ['not-an-ip', '1.2.3.4, 5.6.7.8', '999.1.1.1', '1.2.3.4\r\nX-Injected: 1']) {
      const answer = await send('/_tap/convert', { external_id, ip, referral_code: 'aff' }, { env: withServerToken(), headers: server() });
      expect(answer.status, ip).toBe(400);
      expect(answer.json).toMatchObject({ error: 'invalid_request', issues: [{ path: 'ip' }] });
    }
    expect(await receivedFor(external_id)).toEqual([]);
  });

  // A zero amount is answered `ignored` and recorded, so its extras are checked first like any other's.
  it.each([
    ['ip', { ip: 'not-an-ip' }],
    ['tap_data', { tap_data: '\ud800' }],
    ['reference', { reference: 'ref\udc00' }],
  ])('refuses a zero-amount order with a bad %s: 400 naming it, not 200 ignored', async (field, extras) => {
    const answer = await send('/_tap/convert', { external_id: uniqueId('ZERO'), amount: 0, ...extras }, { env: withServerToken(), headers: server() });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: 'invalid_request', issues: [expect.objectContaining({ path: field })] });
  });

  it('leaves out a blank or null ip and user_agent instead of refusing the order (an order made in the shop admin)', async () => {
    for (const [ip, user_agent] of [['', ''], ['  ', ' '], [null, null]]) {
      const external_id = uniqueId();
      const answer = await send('/_tap/convert', { external_id, ip, user_agent, referral_code: 'aff' }, { env: withServerToken(), headers: server() });
      expect(answer.status, JSON.stringify([ip, user_agent])).toBeLessThan(300);
      const [received] = await receivedFor(external_id);
      expect(received.fields).toMatchObject({ external_id, referral_code: 'aff' });
      expect(received.fields).not.toHaveProperty('ip');
      expect(received.fields).not.toHaveProperty('user_agent');
    }
  });

  it('cuts a long user_agent to 512 characters', async () => {
    const external_id = uniqueId();
    await send('/_tap/convert', { external_id, user_agent: 'U'.repeat(10_000), referral_code: 'aff' }, { env: withServerToken(), headers: server() });
    expect((await receivedFor(external_id))[0].fields.user_agent).toBe('U'.repeat(512));
  });
});
