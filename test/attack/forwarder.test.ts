// Attack "a forwarder anyone can claim to be": behind the merchant's own web
// server (docs/guides/own-server.md) the worker must take the shopper's IP,
// the shop's host and the scheme from the forwarder's headers; trusting them
// from anyone would let a stranger pick their IP (a fresh rate-limit budget and
// click memory per request) and the host every same-origin rule is checked
// against. They are followed only with Tapline-Forwarder equal to
// TAPLINE_FORWARDER_SECRET; a wrong one is a 401 that counts against the
// sender's failure budget. Without the worker side every forwarded request
// below was checked against the worker's own host and nginx's IP.
import { createExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../proxy/app';
import { createDelivery } from '../../proxy/delivery';
import { attackEnv, clicksEnv, clicksFor, freshIp, health, receivedFor, send, uniqueId } from './harness';

const FORWARDER_SECRET = 'attack-suite-forwarder-secret-3b9e';
/** The worker's own address: a workers.dev host, reached only through the shop's web server. */
const WORKER = 'https://tapline.merchant.workers.dev';
const SHOP = 'https://www.shop.example';
/** The shop's web server, as Cloudflare's edge sees it: one address for every shopper. */
const SERVER_IP = '198.51.100.20';

const forwarderEnv = (extra: Partial<Env> = {}) => clicksEnv({ TAPLINE_FORWARDER_SECRET: FORWARDER_SECRET, ...extra });

/** The four headers the guide's nginx configuration sets, for a shopper at `shopperIp`, plus what a browser sends. */
function throughServer(shopperIp: string, overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    origin: SHOP,
    'cf-connecting-ip': SERVER_IP,
    'user-agent': 'Mozilla/5.0 (shopper)',
    'tapline-forwarder': FORWARDER_SECRET,
    'x-real-ip': shopperIp,
    'x-forwarded-host': 'www.shop.example',
    'x-forwarded-proto': 'https',
    ...overrides,
  };
}

/** Miniflare counts rate limits in fixed minutes: start early enough in one that a burst stays inside it. */
async function startOfAMinute() {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 50));
  return Math.floor(Date.now() / 60_000);
}

describe('an authenticated forwarder', () => {
  it('is followed for the shopper\'s IP and user agent: the conversion reaches Tapfiliate with them, not the server\'s', async () => {
    const external_id = uniqueId('FWD');
    const answer = await send('/_tap/convert', { external_id, amount: 10, referral_code: 'anna' }, { env: forwarderEnv(), at: WORKER, headers: throughServer('203.0.113.7') });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    const [postback] = await receivedFor(external_id);
    expect(postback.fields).toMatchObject({ ip: '203.0.113.7', user_agent: 'Mozilla/5.0 (shopper)' });
  });

  it('is followed for the host: the shop\'s origin passes the same-origin check, the worker\'s own does not', async () => {
    const env = forwarderEnv();
    const shop = await send('/_tap/convert', { external_id: uniqueId('FWD') }, { env, at: WORKER, headers: throughServer(freshIp()) });
    expect(shop.status).toBe(200);
    const own = await send('/_tap/convert', { external_id: uniqueId('FWD') }, { env, at: WORKER, headers: throughServer(freshIp(), { origin: WORKER }) });
    expect(own.status).toBe(403);
    expect(own.json).toMatchObject({ ok: false, error: 'origin_not_allowed' });
  });

  it('is followed for the scheme: behind http, the https origin is another origin, and the cookie is not Secure', async () => {
    const env = forwarderEnv();
    const plain = throughServer(freshIp(), { 'x-forwarded-proto': 'http' });
    expect((await send('/_tap/click', { referral_code: uniqueId('c') }, { env, at: WORKER, headers: plain })).status).toBe(403);
    const answer = await send('/_tap/click', { referral_code: uniqueId('c') }, { env, at: WORKER, headers: { ...plain, origin: 'http://www.shop.example' } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('set-cookie')).not.toMatch(/;\s*Secure/i);
    const secure = await send('/_tap/click', { referral_code: uniqueId('c') }, { env, at: WORKER, headers: throughServer(freshIp()) });
    expect(secure.headers.get('set-cookie')).toMatch(/;\s*Secure/i);
  });

  it('sets the cookie on the shop\'s domain: cookie_domain is checked against the forwarded host', async () => {
    const env = forwarderEnv();
    const answer = await send('/_tap/click', { referral_code: uniqueId('c'), cookie_domain: 'shop.example' }, { env, at: WORKER, headers: throughServer(freshIp()) });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('set-cookie')).toMatch(/^tap_data=.*;\s*Domain=shop\.example/i);
    const workers = await send('/_tap/click', { referral_code: uniqueId('c'), cookie_domain: 'workers.dev' }, { env, at: WORKER, headers: throughServer(freshIp()) });
    expect(workers.status).toBe(400);
    expect(workers.json).toMatchObject({ error: 'invalid_request', issues: [{ path: 'cookie_domain' }] });
  });

  it('applies the landing_page host rule to the shop\'s host', async () => {
    const env = forwarderEnv();
    const onShop = uniqueId('lp');
    await send('/_tap/click', { referral_code: onShop, landing_page: 'https://www.shop.example/?ref=anna' }, { env, at: WORKER, headers: throughServer(freshIp()) });
    expect((await clicksFor(onShop))[0]?.fields).toMatchObject({ landing_page: 'https://www.shop.example/?ref=anna', ip: expect.stringMatching(/^10\./) });
    const onWorker = uniqueId('lp');
    await send('/_tap/click', { referral_code: onWorker, landing_page: `${WORKER}/?ref=anna` }, { env, at: WORKER, headers: throughServer(freshIp()) });
    expect((await clicksFor(onWorker))[0]?.fields).not.toHaveProperty('landing_page');
  });

  it('keeps a click memory per shopper: two shoppers behind one server get a click each, one shopper landing twice gets one', async () => {
    const env = forwarderEnv();
    const code = uniqueId('mem');
    const [anna, ben] = [freshIp(), freshIp()];
    for (const shopper of [anna, ben, anna]) {
      expect((await send('/_tap/click', { referral_code: code }, { env, at: WORKER, headers: throughServer(shopper) })).status).toBe(200);
    }
    const clicks = await clicksFor(code);
    expect(clicks.map((click) => click.fields.ip).sort()).toEqual([anna, ben].sort());
  });

  it('gives each shopper behind one server a rate-limit budget of their own', { timeout: 30_000 }, async () => {
    const minute = await startOfAMinute();
    const env = forwarderEnv();
    const busy = freshIp();
    for (let i = 0; i < 60; i++) {
      const answer = await send('/_tap/convert', { external_id: uniqueId('RL') }, { env, at: WORKER, headers: throughServer(busy) });
      expect(answer.status, `event ${i + 1}`).toBe(200);
    }
    const limited = await send('/_tap/convert', { external_id: uniqueId('RL') }, { env, at: WORKER, headers: throughServer(busy) });
    const other = await send('/_tap/convert', { external_id: uniqueId('RL') }, { env, at: WORKER, headers: throughServer(freshIp()) });
    expect(Math.floor(Date.now() / 60_000), 'the burst crossed a minute; rerun').toBe(minute);
    expect(limited.status).toBe(429);
    expect(other.status, 'another shopper behind the same server').toBe(200);
  });

  it('says forwarder: true on /health, and never the secret', async () => {
    const answer = await health(forwarderEnv(), { at: WORKER, headers: throughServer(freshIp()) as Record<string, string> });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ ok: true, configured: true, forwarder: true });
    expect(JSON.stringify(answer.json)).not.toContain(FORWARDER_SECRET);
    expect((await health(forwarderEnv(), { at: WORKER })).json).toMatchObject({ forwarder: false });
  });

  it('keeps the console\'s links on the shop\'s address: /admin redirects to a path, never to the worker\'s host', async () => {
    const app = createApp({ createDelivery });
    const headers = Object.fromEntries(Object.entries(throughServer(freshIp())).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const response = await app.request(`${WORKER}/_tap/admin`, { headers, redirect: 'manual' }, forwarderEnv(), createExecutionContext());
    expect(response.status).toBe(308);
    expect(response.headers.get('location')).toBe('/_tap/admin/');
  });

  it.each([
    ['shorter than 16 characters', 'short-secret'],
    ['the guide\'s placeholder', 'your-forwarder-secret'],
  ])('fails the health check with a secret %s', async (_name, secret) => {
    const env = forwarderEnv({ TAPLINE_FORWARDER_SECRET: secret });
    const answer = await health(env, { at: WORKER });
    expect(answer.json).toMatchObject({ configured: false });
    expect(answer.lines.join('\n')).toContain('TAPLINE_FORWARDER_SECRET');
  });

  it.each([
    ['X-Real-IP missing', { 'x-real-ip': undefined }],
    ['X-Real-IP not an address', { 'x-real-ip': '203.0.113.7, 10.0.0.1' }],
    ['X-Forwarded-Host missing', { 'x-forwarded-host': undefined }],
    ['X-Forwarded-Host with a path', { 'x-forwarded-host': 'www.shop.example/evil' }],
    ['X-Forwarded-Proto not http(s)', { 'x-forwarded-proto': 'ftp' }],
  ])('answers 503 not_configured (kept by the browser) when the forwarder sends %s, and /health says so', async (_name, overrides) => {
    const env = forwarderEnv();
    const external_id = uniqueId('BAD');
    const answer = await send('/_tap/convert', { external_id, referral_code: 'anna' }, { env, at: WORKER, headers: throughServer(freshIp(), overrides) });
    expect(answer.status).toBe(503);
    expect(answer.json).toMatchObject({ ok: false, error: 'not_configured' });
    expect(answer.lines.join('\n')).toMatch(/X-Real-IP|X-Forwarded-Host|X-Forwarded-Proto/);
    expect(await receivedFor(external_id)).toEqual([]);
    const headers = Object.fromEntries(Object.entries(throughServer(freshIp(), overrides)).filter((entry): entry is [string, string] => entry[1] !== undefined));
    expect((await health(env, { at: WORKER, headers })).json).toMatchObject({ configured: false, forwarder: true });
  });
});

describe('anyone else', () => {
  it('is not followed without Tapline-Forwarder: a spoofed X-Real-IP, host and scheme are ignored', async () => {
    const env = forwarderEnv();
    const spoofer = freshIp();
    const headers = throughServer('203.0.113.99', { 'tapline-forwarder': undefined, 'cf-connecting-ip': spoofer, origin: 'https://shop.example' });
    const external_id = uniqueId('SPOOF');
    const answer = await send('/_tap/convert', { external_id, referral_code: 'anna' }, { env, headers });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    expect((await receivedFor(external_id))[0].fields).toMatchObject({ ip: spoofer });
    // The host: at the worker's own address, the claimed shop's origin is someone else's.
    const elsewhere = await send('/_tap/convert', { external_id: uniqueId('SPOOF') }, { env, at: WORKER, headers: throughServer(freshIp(), { 'tapline-forwarder': undefined }) });
    expect(elsewhere.status).toBe(403);
    expect((await health(env, { at: WORKER, headers: { 'x-real-ip': '203.0.113.99', 'x-forwarded-host': 'www.shop.example' } })).json).toMatchObject({ forwarder: false });
  });

  it('is not followed when the worker has no TAPLINE_FORWARDER_SECRET, whatever Tapline-Forwarder says', async () => {
    const env = clicksEnv();
    const spoofer = freshIp();
    const external_id = uniqueId('NOSECRET');
    const headers = throughServer('203.0.113.98', { 'cf-connecting-ip': spoofer, origin: 'https://shop.example' });
    const answer = await send('/_tap/convert', { external_id, referral_code: 'anna' }, { env, headers });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    expect((await receivedFor(external_id))[0].fields).toMatchObject({ ip: spoofer });
    expect((await health(attackEnv(), { at: WORKER, headers: throughServer(freshIp()) as Record<string, string> })).json).toMatchObject({ forwarder: false });
  });

  it('with a wrong Tapline-Forwarder gets 401 unauthorized on every route, health included, and nothing is sent', async () => {
    const env = forwarderEnv();
    const external_id = uniqueId('WRONG');
    const wrong = throughServer(freshIp(), { 'tapline-forwarder': `${FORWARDER_SECRET}x`, 'cf-connecting-ip': freshIp() });
    const answer = await send('/_tap/convert', { external_id, referral_code: 'anna' }, { env, at: WORKER, headers: wrong });
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ ok: false, error: 'unauthorized' });
    expect(await receivedFor(external_id)).toEqual([]);
    const click = await send('/_tap/click', { referral_code: uniqueId('c') }, { env, at: WORKER, headers: { ...wrong, 'cf-connecting-ip': freshIp() } });
    expect(click.status).toBe(401);
    expect((await health(env, { at: WORKER, headers: { ...wrong, 'cf-connecting-ip': freshIp() } as Record<string, string> })).status).toBe(401);
  });

  it('guessing the secret spends the sender\'s failure budget, whatever X-Real-IP it claims', { timeout: 60_000 }, async () => {
    const minute = await startOfAMinute();
    const env = forwarderEnv();
    const guesser = freshIp();
    const statuses: number[] = [];
    for (let i = 0; i < 200 && !statuses.includes(429); i++) {
      const headers = throughServer(freshIp(), { 'tapline-forwarder': `guess-${i}`, 'cf-connecting-ip': guesser });
      statuses.push((await send('/_tap/convert', { external_id: uniqueId('GUESS') }, { env, at: WORKER, headers })).status);
    }
    expect(Math.floor(Date.now() / 60_000), 'the guesses crossed a minute; rerun').toBe(minute);
    expect(statuses.at(-1), 'the budget ran out').toBe(429);
    expect(statuses.slice(0, -1).every((status) => status === 401)).toBe(true);
  });
});
