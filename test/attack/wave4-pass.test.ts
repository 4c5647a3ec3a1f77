// Wave 4's attacker pass over the forwarder (docs/guides/own-server.md,
// docs/security.md, "Behind your own web server") and `npm run verify`. Each
// block is one attack that got through before its fix:
// - a Host header nginx passes on (it matches the server block by name and
//   does not check the port) but no URL can hold, e.g. `www.shop.example:99999`:
//   the guide's `X-Forwarded-Host $http_host` handed it to the worker, which
//   answered 500 internal_error for it on every route, /health included;
// - a TAPLINE_FORWARDER_SECRET the health check calls unsafe (the guide's
//   placeholder, a short one) was still followed: a stranger presenting the
//   placeholder chose X-Real-IP per request, a fresh failure budget per guess
//   at the operator's or the server's token;
// - verify followed the home page's redirect to another site and sent it
//   TAPLINE_ADMIN_TOKEN;
// - a forged webhook (up to 1 MB) was parsed after its 400, by the request
//   log looking for the order's id, and its made-up ids went into the log;
// - rotating TAPLINE_FORWARDER_SECRET refused every event in between (401,
//   final for a browser);
// - a test answer showed a credential put in an upstream URL setting.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../proxy/app';
import { createDelivery } from '../../proxy/delivery';
import { verify } from '../../scripts/verify.mjs';
import { attackEnv, freshIp, health, send, uniqueId } from './harness';

const FORWARDER_SECRET = 'attack-wave4-forwarder-secret-7d1e';
const WORKER = 'https://tapline.merchant.workers.dev';
const SERVER_IP = '198.51.100.21';

/** What the guide's nginx sends for a client whose Host header is `host`. */
function throughNginx(host: string, overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    origin: 'https://www.shop.example',
    'cf-connecting-ip': SERVER_IP,
    'tapline-forwarder': FORWARDER_SECRET,
    'x-real-ip': freshIp(),
    'x-forwarded-host': host,
    'x-forwarded-proto': 'https',
    ...overrides,
  };
}

describe('a Host header nginx passes on as X-Forwarded-Host', () => {
  const env = attackEnv({ TAPLINE_FORWARDER_SECRET: FORWARDER_SECRET });

  it.each([
    ['a port past 65535', 'www.shop.example:99999'],
    ['an IPv4 address out of range', '999.1.1.1'],
    ['an IPv6 literal that is not an address', '[1:2]'],
    ['a punycode label that decodes to nothing', 'xn--a'],
  ])('with %s is refused 503 not_configured naming X-Forwarded-Host, never a 500', async (_name, host) => {
    const external_id = uniqueId('HOST');
    const answer = await send('/_tap/convert', { external_id, referral_code: 'anna' }, { env, at: WORKER, headers: throughNginx(host) });
    expect(answer.status).toBe(503);
    expect(answer.json).toMatchObject({ ok: false, error: 'not_configured', message: expect.stringContaining('X-Forwarded-Host') });
    const headers = Object.fromEntries(Object.entries(throughNginx(host)).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const check = await health(env, { at: WORKER, headers });
    expect(check.status).toBe(200);
    expect(check.json).toMatchObject({ configured: false, forwarder: true });
  });
});

describe('a forwarder secret the health check calls unsafe', () => {
  /** Miniflare counts rate limits in fixed minutes: start early enough in one that a burst stays inside it. */
  async function startOfAMinute() {
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 50));
    return Math.floor(Date.now() / 60_000);
  }

  it.each([
    ['the guide\'s placeholder', 'your-forwarder-secret'],
    ['shorter than 16 characters', 'short-secret'],
  ])('(%s) is never followed: /health says forwarder: false to whoever presents it', async (_name, secret) => {
    const env = attackEnv({ TAPLINE_FORWARDER_SECRET: secret });
    const headers = { 'tapline-forwarder': secret, 'x-real-ip': '203.0.113.5', 'x-forwarded-host': 'www.shop.example', 'x-forwarded-proto': 'https' };
    const check = await health(env, { at: WORKER, headers });
    expect(check.json).toMatchObject({ configured: false, forwarder: false });
  });

  it('gives no fresh budget per guess at TAPLINE_ADMIN_TOKEN to a stranger presenting the guide\'s placeholder', { timeout: 60_000 }, async () => {
    const minute = await startOfAMinute();
    const env = attackEnv({ TAPLINE_FORWARDER_SECRET: 'your-forwarder-secret', TAPLINE_ADMIN_TOKEN: 'attack-wave4-admin-token-0f3c9a' });
    const guesser = freshIp();
    const statuses: number[] = [];
    for (let i = 0; i < 120 && !statuses.includes(429); i++) {
      const app = createApp({ createDelivery });
      const headers = {
        authorization: `Bearer guess-${i}`,
        'cf-connecting-ip': guesser,
        'tapline-forwarder': 'your-forwarder-secret',
        'x-real-ip': freshIp(),
        'x-forwarded-host': 'www.shop.example',
        'x-forwarded-proto': 'https',
      };
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      const ctx = createExecutionContext();
      try {
        const response = await app.request(`${WORKER}/_tap/admin/api/summary`, { headers }, env, ctx);
        await response.arrayBuffer();
        await waitOnExecutionContext(ctx);
        statuses.push(response.status);
      } finally {
        log.mockRestore();
      }
    }
    expect(Math.floor(Date.now() / 60_000), 'the guesses crossed a minute; rerun').toBe(minute);
    expect(statuses.at(-1), 'the guesser\'s own budget ran out').toBe(429);
    expect(statuses.slice(0, -1).every((status) => status === 401)).toBe(true);
  });
});

describe('npm run verify', () => {
  afterEach(() => vi.unstubAllGlobals());

  /** A shop whose home page redirects to `target`; every other address answers as a healthy Tapline would. */
  function redirectingShop(target: string) {
    const sent: { url: string; authorization: string | null }[] = [];
    vi.stubGlobal('fetch', async (input: string | URL, init: RequestInit = {}) => {
      const url = new URL(String(input));
      sent.push({ url: url.href, authorization: new Headers(init.headers).get('authorization') });
      if (url.pathname === '/') {
        const home = new Response('<script async src="/_tap/tap.js"></script>', { headers: { 'content-type': 'text/html' } });
        Object.defineProperty(home, 'url', { value: target });
        return home;
      }
      if (url.pathname.endsWith('/health')) return Response.json({ ok: true, configured: true, trust: 'open', delivery: { durable: true }, rate_limit: 'per_ip', forwarder: true });
      if (url.pathname.endsWith('/admin/api/summary')) return Response.json({ ok: true, last_24h: {} });
      return Response.json({ ok: false, error: 'not_found' }, { status: 404 });
    });
    return sent;
  }

  const options = (url: string) => ({ url: new URL(url), basePath: '/_tap', page: '/', forwarder: true, adminToken: 'merchant-admin-token-secret' });

  it('never sends TAPLINE_ADMIN_TOKEN to the other site the home page redirects to, and says why it stops', async () => {
    const sent = redirectingShop('https://parked.example/');
    const lines = await verify(options('https://shop.example'));
    expect(sent.filter((request) => new URL(request.url).hostname === 'parked.example' && request.authorization)).toEqual([]);
    expect(lines.some((line) => !line.ok && line.text.includes('parked.example'))).toBe(true);
  });

  it('never sends TAPLINE_ADMIN_TOKEN over plain http to a shop that is not on this machine', async () => {
    const sent = redirectingShop('http://www.shop.example/');
    await verify(options('https://shop.example'));
    expect(sent.filter((request) => request.url.startsWith('http:') && request.authorization)).toEqual([]);
  });

  it('still follows the apex to www of the same shop, and checks the operator API there with the token', async () => {
    const sent = redirectingShop('https://www.shop.example/');
    const lines = await verify(options('https://shop.example'));
    expect(sent.some((request) => request.url === 'https://www.shop.example/_tap/admin/api/summary' && request.authorization === 'Bearer merchant-admin-token-secret')).toBe(true);
    expect(lines.find((line) => line.text.includes('operator API'))).toMatchObject({ ok: true });
  });
});

describe('a forged webhook', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each(['stripe', 'shopify', 'paddle', 'lemonsqueezy'])('to /webhooks/%s is never parsed, not even for the log line, and its ids never reach the log', async (path) => {
    const env = attackEnv({ STRIPE_WEBHOOK_SECRET: 'whsec_wave4', SHOPIFY_WEBHOOK_SECRET: 'wave4-shopify', PADDLE_WEBHOOK_SECRET: 'wave4-paddle', LEMONSQUEEZY_WEBHOOK_SECRET: 'wave4-lemon' });
    const body = JSON.stringify({ external_id: 'FORGED-ORDER-1', customer_id: 'victim@shop.example', padding: 'x'.repeat(200_000) });
    const parse = vi.spyOn(JSON, 'parse');
    const headers = { origin: undefined, 'content-type': 'application/json', 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`, 'x-shopify-hmac-sha256': btoa('x'.repeat(32)), 'paddle-signature': `ts=${Math.floor(Date.now() / 1000)};h1=${'0'.repeat(64)}`, 'x-signature': '0'.repeat(64) };
    const answer = await send(`/_tap/webhooks/${path}`, body, { env, headers });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ ok: false, error: 'invalid_signature' });
    expect(parse.mock.calls.filter(([text]) => text === body)).toEqual([]);
    expect(answer.lines.join('\n')).not.toMatch(/FORGED-ORDER-1|victim@shop\.example/);
  });
});

describe('the shop\'s host as a browser may write it', () => {
  it('in capitals and with the root\'s trailing dot (www.shop.example.) is the shop, as on a route of the zone: the event is taken, not refused 503', async () => {
    const env = attackEnv({ TAPLINE_FORWARDER_SECRET: FORWARDER_SECRET });
    const external_id = uniqueId('DOT');
    const answer = await send('/_tap/convert', { external_id, referral_code: 'anna' }, { env, at: WORKER, headers: throughNginx('WWW.Shop.Example.', { origin: 'https://www.shop.example.' }) });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    const other = await send('/_tap/convert', { external_id: uniqueId('DOT') }, { env, at: WORKER, headers: throughNginx('www.shop.example.', { origin: 'https://www.shop.example' }) });
    expect(other.status, 'the dotted and the plain name are two origins to a browser').toBe(403);
  });
});

describe('a forwarder secret being rotated', () => {
  // Between `wrangler secret put` and the web server's reload, a worker that took one secret
  // only answered every shopper's event 401, which the snippet takes as final: lost orders.
  const OLD = FORWARDER_SECRET;
  const NEW = 'attack-wave4-forwarder-secret-new-9c2a';
  const env = attackEnv({ TAPLINE_FORWARDER_SECRET: `${NEW}, ${OLD}` });

  it('takes the new and the old secret while the setting holds both, and the shopper is followed through either', async () => {
    for (const secret of [OLD, NEW]) {
      const shopper = freshIp();
      const answer = await send('/_tap/convert', { external_id: uniqueId('ROT'), referral_code: 'anna' }, { env, at: WORKER, headers: throughNginx('www.shop.example', { 'tapline-forwarder': secret, 'x-real-ip': shopper }) });
      expect(answer.json, secret).toEqual({ ok: true, status: 'sent' });
    }
    const check = await health(env, { at: WORKER, headers: { 'tapline-forwarder': NEW, 'x-real-ip': freshIp(), 'x-forwarded-host': 'www.shop.example', 'x-forwarded-proto': 'https' } });
    expect(check.json).toMatchObject({ configured: true, forwarder: true });
    expect(JSON.stringify(check.json)).not.toContain(NEW);
  });

  it('refuses any other secret, and once the old one is taken out of the setting, the old one too', async () => {
    const wrong = await send('/_tap/convert', { external_id: uniqueId('ROT') }, { env, at: WORKER, headers: throughNginx('www.shop.example', { 'tapline-forwarder': `${NEW}, ${OLD}` }) });
    expect(wrong.status).toBe(401);
    const after = attackEnv({ TAPLINE_FORWARDER_SECRET: NEW });
    const old = await send('/_tap/convert', { external_id: uniqueId('ROT') }, { env: after, at: WORKER, headers: throughNginx('www.shop.example') });
    expect(old.status).toBe(401);
  });

  it('a weak secret in the pair fails the health check, and only the strong one is followed', async () => {
    const weak = attackEnv({ TAPLINE_FORWARDER_SECRET: `${NEW},your-forwarder-secret` });
    const check = await health(weak, { at: WORKER });
    expect(check.json).toMatchObject({ configured: false });
    const placeholder = await send('/_tap/convert', { external_id: uniqueId('ROT') }, { env: weak, at: WORKER, headers: throughNginx('www.shop.example', { 'tapline-forwarder': 'your-forwarder-secret' }) });
    expect(placeholder.status, 'the placeholder is public: never followed').not.toBe(200);
  });
});

describe('a test answer names the upstream URLs', () => {
  // An operator may put a credential in a URL setting (a proxy's user and password, a query token):
  // a test event's answer, which anyone may ask for, showed it.
  it('without a user, a password or a query', async () => {
    const base = attackEnv();
    const conversion = new URL(base.POSTBACK_CONVERSION_URL!);
    conversion.username = 'proxyuser';
    conversion.password = 'proxy-password-123';
    conversion.search = '?token=query-token-456';
    const env = attackEnv({ POSTBACK_CONVERSION_URL: conversion.href });
    const answer = await send('/_tap/convert', { external_id: uniqueId('URL'), amount: 10, referral_code: 'anna', test: true }, { env });
    expect(answer.json).toMatchObject({ ok: true, status: 'test' });
    const shown = JSON.stringify(answer.json);
    for (const secret of ['proxyuser', 'proxy-password-123', 'query-token-456']) expect(shown).not.toContain(secret);
    expect(shown).toContain(`${conversion.host}${conversion.pathname}`);
  });
});
