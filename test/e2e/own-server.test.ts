// The worker behind the merchant's own web server (docs/guides/own-server.md):
// real nginx with the guide's configuration in front of the worker, and real
// Chromium as two shoppers. nginx is always 127.0.0.1 to the worker, so without
// the forwarder's rules every shopper would share its address: one rate-limit
// budget, one click memory, nginx's IP sent to Tapfiliate, and the cookie and
// same-origin check on the worker's own host. Apache and Caddy run the guide's
// blocks too (checked by `apache2ctl -t` and `caddy validate` first), each passing
// `npm run verify --forwarder`. Each of the three also forwards to the worker at an
// https address, as Cloudflare serves it, and refuses an impostor there.
import { request as httpRequest } from 'node:http';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, shopPage, startStack, uniqueId, visit, waitFor, type Stack, type TapWindow } from './harness';
import { installed, runVerify, startApache, startCaddy, startNginx, startTlsServer, testPki, type TlsServer, type WebServer, type WebServerOptions } from './web-servers';

// CI installs all three (.ci/run); a laptop without one skips its part.
if (process.env.CI) for (const [kind, present] of Object.entries(installed)) if (!present) throw new Error(`${kind} is not installed: .ci/run installs it`);

const SECRET = 'e2e-forwarder-secret-1c8f4a2b9d7e';
const ADMIN_TOKEN = 'e2e-admin-token-own-server';
const LIMIT = 60;
const [ANNA, BEN] = ['203.0.113.10', '198.51.100.77'];

describe.skipIf(chromiumMissing || !installed.nginx)('behind nginx, with the guide\'s configuration', () => {
  let stack: Stack;
  let nginx: WebServer;
  const shop = (path = '/') => nginx.url('www.shop.test', path);

  beforeAll(async () => {
    // The real per-network limit: the file is about budgets.
    stack = await startStack({}, { forwarderSecret: SECRET, rateLimit: LIMIT, adminToken: ADMIN_TOKEN });
    nginx = await startNginx({ workerUrl: stack.workerUrl, secret: SECRET, pages: { 'index.html': shopPage() }, shopperHeader: true });
  });
  afterAll(async () => {
    await nginx?.close();
    await stack?.close();
  });

  /** A browser whose address, as nginx records it, is `ip`. */
  async function shopper(ip: string): Promise<{ context: BrowserContext; page: Page; clicks: Promise<{ status: number; setCookie: string | null }>[] }> {
    const context = await stack.browser.newContext({ extraHTTPHeaders: { 'X-Test-Shopper': ip } });
    const page = await context.newPage();
    const clicks: Promise<{ status: number; setCookie: string | null }>[] = [];
    context.on('response', (response: Response) => {
      if (new URL(response.url()).pathname === '/_tap/click') clicks.push(response.headerValue('set-cookie').then((setCookie) => ({ status: response.status(), setCookie })));
    });
    return { context, page, clicks };
  }

  it('a landing with ?ref= through nginx gets its click with the shopper\'s IP and a first-party cookie on the shop\'s domain; the conversion carries the shopper\'s IP, not nginx\'s', async () => {
    const code = uniqueId('anna');
    const { context, page, clicks } = await shopper(ANNA);
    try {
      await visit(page, shop(`/?ref=${code}`));
      await waitFor('the click\'s answer', () => clicks.length === 1);
      const answer = await clicks[0];
      expect(answer.status).toBe(200);
      // Set by the worker, for the shop's domain as the browser sees it (the snippet asks for shop.test).
      expect(answer.setCookie).toMatch(/^tap_data=.*;\s*Domain=shop\.test/i);
      const click = (await waitFor('the click at the stand-in', () => stack.postbacks.acceptedClicks().find((received) => received.fields.referral_code === code)))!;
      expect(click.fields).toMatchObject({ ip: ANNA, landing_page: shop(`/?ref=${code}`) });
      const cookies = (await context.cookies()).filter((cookie) => cookie.name === 'tap_data');
      expect(cookies).toHaveLength(1);
      expect(cookies[0].domain).toBe('.shop.test');
      expect(JSON.parse(decodeURIComponent(cookies[0].value))).toMatchObject({ referral_code: code, click_id: click.id });

      const external_id = uniqueId('ORD');
      const result = await page.evaluate((id) => (window as unknown as TapWindow).tap.convert({ external_id: id, amount: 42, currency: 'EUR' }), external_id);
      expect(result).toEqual({ ok: true, status: 'sent' });
      const conversion = stack.postbacks.accepted('conversion').find((postback) => postback.fields.external_id === external_id);
      expect(conversion?.fields).toMatchObject({ referral_code: code, click_id: click.id, ip: ANNA, user_agent: await page.evaluate(() => navigator.userAgent) });
    } finally {
      await context.close();
    }
  });

  it('two shoppers behind the same nginx have their own rate-limit budgets', { timeout: 60_000 }, async () => {
    // Miniflare counts in fixed minutes: start early enough in one that the burst stays inside it.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 40_000) await new Promise((resolveWait) => setTimeout(resolveWait, 60_000 - intoMinute + 50));
    const minute = Math.floor(Date.now() / 60_000);
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++) {
      // From Node, which cannot resolve www.shop.test: nginx's own address, as its own origin.
      const response = await fetch(nginx.url('127.0.0.1', '/_tap/convert'), {
        method: 'POST',
        headers: { origin: nginx.url('127.0.0.1', ''), 'content-type': 'text/plain;charset=UTF-8', 'x-test-shopper': BEN },
        body: JSON.stringify({ external_id: uniqueId('BEN') }),
      });
      statuses.push(response.status);
    }
    expect(statuses.slice(0, LIMIT).every((status) => status === 200), statuses.join(' ')).toBe(true);
    expect(statuses[LIMIT], 'Ben\'s 61st event of the minute').toBe(429);

    const code = uniqueId('anna');
    const { context, page, clicks } = await shopper(ANNA);
    try {
      await visit(page, shop(`/?ref=${code}`));
      await waitFor('the click\'s answer', () => clicks.length === 1);
      expect((await clicks[0]).status, 'Anna\'s landing, behind the same nginx').toBe(200);
      const external_id = uniqueId('ORD');
      const result = await page.evaluate((id) => (window as unknown as TapWindow).tap.convert({ external_id: id, amount: 5 }), external_id);
      expect(result).toEqual({ ok: true, status: 'sent' });
    } finally {
      await context.close();
    }
    expect(Math.floor(Date.now() / 60_000), 'the burst crossed a minute; rerun').toBe(minute);
  });

  it('npm run verify names a server whose secret is not the worker\'s', { timeout: 60_000 }, async () => {
    const wrong = await startNginx({ workerUrl: stack.workerUrl, secret: `${SECRET}-old`, pages: { 'index.html': shopPage() } });
    try {
      const { code, output } = await runVerify([wrong.url(), '--forwarder'], { TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN });
      expect(output).toMatch(/✗ .*\/_tap\/health answers 401: your web server sends a Tapline-Forwarder header the worker does not accept\n\s+→ put the same value/);
      expect(code).toBe(1);
    } finally {
      await wrong.close();
    }
  });

  it('npm run verify names the header a server leaves out, and the worker keeps shoppers\' events (503, not one shared address)', { timeout: 60_000 }, async () => {
    const edit = (block: string) => block.replace(/^\s*proxy_set_header X-Real-IP .*\n/m, '');
    const careless = await startNginx({ workerUrl: stack.workerUrl, secret: SECRET, pages: { 'index.html': shopPage() }, edit });
    try {
      const { code, output } = await runVerify([careless.url(), '--forwarder'], { TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN });
      expect(output).toContain('✗ /_tap/health answers configured: false');
      expect(output).toMatch(/✗ a test landing is answered HTTP 503 .*the forwarder must send X-Real-IP/);
      expect(code).toBe(1);
    } finally {
      await careless.close();
    }
  });

  it('a stranger\'s Host that nginx matches by name and passes on, but no URL holds (www.shop.test:99999), is answered 503, never 500', async () => {
    const { status, body } = await rawGet(nginx.url('127.0.0.1', '/_tap/health'), { host: 'www.shop.test:99999' });
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ configured: false, forwarder: true });
    const event = await rawGet(nginx.url('127.0.0.1', '/_tap/convert'), { host: 'www.shop.test:99999' }, 'POST');
    expect(event.status).toBe(503);
    expect(JSON.parse(event.body)).toMatchObject({ ok: false, error: 'not_configured', message: expect.stringContaining('X-Forwarded-Host') });
  });

  it('npm run verify --forwarder passes through nginx', { timeout: 60_000 }, async () => {
    const { code, output } = await runVerify([nginx.url(), '--forwarder'], { TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(output).toContain('✓ through your web server\'s forwarder');
    expect(output).not.toContain('✗');
    expect(code).toBe(0);
  });

  describe('to the worker\'s https address', () => overHttps(startNginx, () => stack, 502));
});

// Each server's answer when it cannot reach the worker: Apache's mod_proxy says 500 for a failed handshake.
describe.each([
  ['Apache', installed.apache, startApache, 500],
  ['Caddy', installed.caddy, startCaddy, 502],
] as const)('behind %s, with the guide\'s configuration', (_name, present, start, unreachable) => {
  let stack: Stack;
  let server: WebServer;
  beforeAll(async () => {
    if (!present) return;
    stack = await startStack({}, { forwarderSecret: SECRET, adminToken: ADMIN_TOKEN });
    server = await start({ workerUrl: stack.workerUrl, secret: SECRET, pages: { 'index.html': shopPage() } });
  });
  afterAll(async () => {
    await server?.close();
    await stack?.close();
  });

  it.skipIf(!present)('a client\'s Connection header naming the forwarder\'s headers does not take them off on the way to the worker', async () => {
    // Apache's mod_proxy drops every header a client's Connection lists, after RequestHeader has set it (the guide's block unsets Connection).
    const { status, body } = await rawGet(server.url('127.0.0.1', '/_tap/health'), { connection: 'close, Tapline-Forwarder, X-Real-IP, X-Forwarded-Host, X-Forwarded-Proto' });
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ configured: true, forwarder: true });
  });

  it.skipIf(!present)('npm run verify --forwarder passes: health through the forwarder, tap.js with its ETag, the cookie on the shop\'s host, a test conversion', { timeout: 60_000 }, async () => {
    const { code, output } = await runVerify([server.url(), '--forwarder'], { TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(output).toContain('✓ through your web server\'s forwarder');
    expect(output).not.toContain('✗');
    expect(code).toBe(0);
  });

  describe('to the worker\'s https address', () => overHttps(start, () => stack, unreachable, present));
});

/**
 * The guide's block with the worker behind https, as Cloudflare serves it, with a certificate
 * from a throwaway authority the server is told to trust in place of the system's: it must
 * check that certificate, since it hands the worker the secret that picks the IP and host the
 * worker believes (docs/guides/own-server.md, Security).
 */
function overHttps(start: (options: WebServerOptions) => Promise<WebServer>, stackOf: () => Stack, unreachable: number, present = true): void {
  let worker: TlsServer;
  const impostors: Record<'selfMade' | 'otherName', TlsServer> = {} as never;
  beforeAll(async () => {
    if (!present) return;
    const pki = testPki();
    worker = await startTlsServer({ ...pki.worker, forwardTo: stackOf().workerUrl });
    impostors.selfMade = await startTlsServer(pki.selfMade);
    impostors.otherName = await startTlsServer(pki.otherName);
  });
  afterAll(async () => {
    await worker?.close();
    await impostors.selfMade?.close();
    await impostors.otherName?.close();
  });

  it.skipIf(!present)('reaches the worker, sending its name in the handshake and as Host, and checking its certificate against the trusted authority', async () => {
    const server = await start({ workerUrl: worker.url, secret: SECRET, trustedCaFile: testPki().rootCaFile, pages: {} });
    try {
      const response = await fetch(server.url('127.0.0.1', '/_tap/health'));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ configured: true, forwarder: true });
    } finally {
      await server.close();
    }
    const received = worker.requests.at(-1);
    expect(received).toMatchObject({ servername: 'localhost', headers: { host: new URL(worker.url).host, 'tapline-forwarder': SECRET } });
  });

  it.skipIf(!present).each([
    ['a certificate for its name that no trusted authority signed', 'selfMade'],
    // As a public authority issues one for an attacker's own domain.
    ['a certificate the trusted authority issued for another name', 'otherName'],
  ] as const)('refuses an impostor at the worker\'s address with %s: the shopper gets a 5xx the snippet retries, and the secret never reaches it', async (_certificate, kind) => {
    const impostor = impostors[kind];
    const tried = impostor.connections();
    const server = await start({ workerUrl: impostor.url, secret: SECRET, trustedCaFile: testPki().rootCaFile, pages: {} });
    let status: number;
    try {
      status = (await fetch(server.url('127.0.0.1', '/_tap/health'))).status;
    } finally {
      await server.close();
    }
    expect(impostor.connections(), 'the web server never tried the impostor').toBeGreaterThan(tried);
    expect(impostor.requests.map((request) => request.headers), 'what the impostor received').toEqual([]);
    expect(status).toBe(unreachable);
  });
}

/** One request with headers fetch will not send (Host, Connection), as curl would send them. */
function rawGet(url: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const sent = httpRequest(new URL(url), { method, headers: { ...headers, ...(method === 'POST' && { origin: 'https://www.shop.test', 'content-type': 'text/plain' }) } }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolveGet({ status: response.statusCode ?? 0, body: text }));
    });
    sent.on('error', reject);
    sent.end(method === 'POST' ? JSON.stringify({ external_id: 'stranger-host', referral_code: 'x' }) : undefined);
  });
}
