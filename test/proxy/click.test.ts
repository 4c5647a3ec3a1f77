// POST /_tap/click in workerd, with the real ledger and the local Tapfiliate
// stand-in's clicks endpoint (the project binds TAPFILIATE_CLICKS_URL to it).
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { postbackControl } from '../postback/control';
import { call, post } from './helpers';

const upstream = postbackControl(inject('proxyPostbackServers').worker);
let landedAt = Date.now();
/** A landing as the snippet reports it; each call is a new landing unless `landed_at` is passed. */
const landing = (fields: Record<string, unknown> = {}) => ({
  referral_code: 'anna',
  landing_page: 'https://www.shop.example/?ref=anna',
  referrer: 'https://affiliate.example/',
  cookie_domain: 'shop.example',
  cookie_days: 30,
  ts: Math.floor(landedAt / 1000),
  landed_at: ++landedAt,
  ...fields,
});
/** A client network of its own per test: the click memory outlives a test (one click per code and network per 30 minutes). */
let ip = '';
const browser = () => ({ 'cf-connecting-ip': ip, 'user-agent': 'Mozilla/5.0 (click test)' });
const click = (body: unknown, env = {}, headers = browser()) =>
  call({ path: 'https://www.shop.example/_tap/click', init: post(body, { ...headers, origin: 'https://www.shop.example' }), env });

beforeEach(() => {
  ip = `198.51.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;
  return upstream.reset();
});

describe('POST /_tap/click', () => {
  it('creates a Tapfiliate click with the visitor and landing, and sets the snippet’s cookie again with its click_id', async () => {
    const { response, json } = await click(landing());
    const [created] = await upstream.acceptedClicks();
    expect(created.fields).toMatchObject({
      referral_code: 'anna',
      ip,
      user_agent: 'Mozilla/5.0 (click test)',
      landing_page: 'https://www.shop.example/?ref=anna',
      referrer: 'https://affiliate.example/',
    });
    expect(json()).toEqual({ ok: true, status: 'stored', click_id: created.id });
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^tap_data=[^;]+; Max-Age=2592000; Domain=shop\.example; Path=\/; Secure; SameSite=Lax$/);
    const value = JSON.parse(decodeURIComponent(/^tap_data=([^;]+)/.exec(cookie)![1]));
    expect(value).toEqual({ referral_code: 'anna', click_id: created.id, ts: expect.any(Number) });
  });

  it('creates one click per referral code and client network: a new landing gets the same click_id, another network its own', async () => {
    const once = landing();
    const first = await click(once);
    const again = await click(once);
    const later = await click(landing({ ts: once.ts + 600 }));
    expect(again.json()).toEqual(first.json());
    expect(later.json()).toEqual(first.json());
    expect(await upstream.clicks()).toHaveLength(1);
    await click(landing({ referral_code: 'bob' }));
    await click(landing(), {}, { ...browser(), 'cf-connecting-ip': `${ip.split('.').slice(0, 3).join('.')}.${(Number(ip.split('.')[3]) + 1) % 256}` });
    expect(await upstream.clicks()).toHaveLength(3);
  });

  it('still sets the cookie, without a click_id, when Tapfiliate refuses the click', async () => {
    await upstream.setFaults({ clicks: { always: { status: 422, message: 'Referral code does not exist' } } });
    const { response, json } = await click(landing());
    expect(json()).toEqual({ ok: true, status: 'stored' });
    expect(response.headers.get('set-cookie')).toMatch(/^tap_data=/);
    expect(decodeURIComponent(response.headers.get('set-cookie')!)).not.toContain('click_id');
  });

  it('tries again on the next landing after a 503 or a timeout: only a refusal is remembered', async () => {
    await upstream.setFaults({ clicks: { next: ['503'] } });
    expect((await click(landing())).json()).toEqual({ ok: true, status: 'stored' });
    const retried = await click(landing());
    const [created] = await upstream.acceptedClicks();
    expect(retried.json()).toEqual({ ok: true, status: 'stored', click_id: created.id });
    expect(await upstream.clicks()).toHaveLength(2);
  });

  it('in test mode answers what it would send and creates no click', async () => {
    const { json } = await click(landing({ test: true }));
    expect(json()).toMatchObject({ ok: true, status: 'test', postbacks: [{ kind: 'click', body: { referral_code: 'anna' } }] });
    expect(await upstream.clicks()).toEqual([]);
  });

  it.each([
    ['a cookie domain that is not the host or a parent of it', { cookie_domain: 'elsewhere.example' }, 'cookie_domain'],
    ['an identifier a URL could not have carried', { referral_code: '<script>' }, 'referral_code'],
    ['a cookie lifetime over 365 days', { cookie_days: 400 }, 'cookie_days'],
  ])('refuses %s with a 400 naming the field, and creates no click', async (_name, fields, path) => {
    const { response, json } = await click(landing(fields));
    expect(response.status).toBe(400);
    expect(json()).toMatchObject({ ok: false, error: 'invalid_request', issues: [expect.objectContaining({ path })] });
    expect(await upstream.clicks()).toEqual([]);
  });

  it('still sets the cookie, without a click_id, when the ledger object that makes clicks cannot be reached (never a 5xx)', async () => {
    const unreachable = { idFromName: () => ({}), get: () => ({ click: () => Promise.reject(new Error('ledger unreachable')) }) };
    const { response, json, lines } = await click(landing(), { POSTBACK_LEDGER: unreachable });
    expect(response.status).toBe(200);
    expect(json()).toEqual({ ok: true, status: 'stored' });
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^tap_data=/);
    expect(decodeURIComponent(cookie)).toContain('"referral_code":"anna"');
    expect(decodeURIComponent(cookie)).not.toContain('click_id');
    expect(lines.some((line) => line.includes('"click_unavailable"'))).toBe(true);
    expect(await upstream.acceptedClicks()).toEqual([]);
  });
});
