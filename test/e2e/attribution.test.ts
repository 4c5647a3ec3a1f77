// The attribution scenarios in real Chromium: www.shop.test and checkout.shop.test
// are distinct hosts sharing one cookie, /_tap/* reaches the worker in workerd as
// on a zone route, and the postback server records what Tapfiliate would receive.
// Each landing with a referral code also creates a Tapfiliate click (POST /_tap/click),
// whose id the server-set cookie and then the conversion carry; landing.test.ts
// covers the click itself.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  API_KEY,
  chromiumMissing,
  shopPage,
  startStack,
  STUB,
  thankYouPage,
  freshClientIp,
  uniqueId,
  visit,
  waitFor,
  type Stack,
  type TapWindow,
} from './harness';

describe.skipIf(chromiumMissing)('attribution in a real browser', () => {
  let stack: Stack;
  let context: BrowserContext;
  let page: Page;

  const www = (path: string) => stack.merchant.url('www.shop.test', path);
  const checkout = (path: string) => stack.merchant.url('checkout.shop.test', path);
  const tapData = (on: Page = page) => on.evaluate(() => (window as unknown as TapWindow).tap.data());
  const tapDataCookie = async () => (await context.cookies()).find((cookie) => cookie.name === 'tap_data');
  const requestsToWorker = () => stack.merchant.forwarded.map(({ method, path, status }) => `${method} ${path} ${status}`);
  /** Events only: POST /_tap/convert and /_tap/customer. Clicks are counted by clickPosts. */
  const eventPosts = () => requestsToWorker().filter((request) => /^POST \/_tap\/(convert|customer) /.test(request));
  const clickPosts = () => requestsToWorker().filter((request) => request.startsWith('POST /_tap/click'));
  /** The id the stand-in gave the one click of `referral`: the cookie and the conversion carry it. */
  const clickId = (referral = 'anna') => {
    const clicks = stack.postbacks.acceptedClicks().filter((click) => click.fields.referral_code === referral);
    expect(clicks, `one click for ${referral}`).toHaveLength(1);
    return clicks[0].id!;
  };
  /** ip from CF-Connecting-IP (set by the merchant origin from the socket) and the browser's own user agent. */
  const clientOf = async (on: Page = page) => ({ ip: clientIp, user_agent: await on.evaluate(() => navigator.userAgent) });
  const conversionPostbacks = () => stack.postbacks.received.filter((postback) => postback.kind === 'conversion');
  // The worker may reach the postback server before it answers the browser, so also wait for that answer.
  const oneConversionSent = () =>
    waitFor('one accepted conversion postback, and the worker\'s answers', () => stack.postbacks.accepted('conversion').length === 1 && stack.merchant.inFlight === 0);

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });
  /** This test's client network (see MerchantOrigin.clientIp). */
  let clientIp = '';
  beforeEach(async () => {
    clientIp = stack.merchant.clientIp = freshClientIp();
    stack.postbacks.reset();
    stack.merchant.forwarded.length = 0;
    stack.merchant.workerUp = true;
    stack.merchant.pages.clear();
    stack.merchant.pages.set('/', { html: shopPage() });
    stack.merchant.pages.set('/cart', { html: shopPage({ body: '<h1>Cart</h1>' }) });
    context = await stack.newContext();
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  it('a referral landing on www. is stored and converts on checkout.: customer postback, then conversion with IP, user agent and key', async () => {
    await visit(page, www('/?ref=anna&aid=A1&sid=S1'));
    expect(await tapData()).toEqual({ referral_code: 'anna', asset_id: 'A1', source_id: 'S1', click_id: clickId(), ts: expect.any(Number) });
    const cookie = await tapDataCookie();
    // Written on the registrable domain, so checkout.shop.test reads it too; 90 days by default.
    expect(cookie).toMatchObject({ domain: '.shop.test', path: '/', sameSite: 'Lax', secure: false, httpOnly: false });
    expect(cookie!.expires - Date.now() / 1000).toBeGreaterThan(90 * 86400 - 60);
    expect(cookie!.expires - Date.now() / 1000).toBeLessThanOrEqual(90 * 86400 + 1);

    const order = uniqueId('ORD');
    const customer = uniqueId('CUS');
    stack.merchant.pages.set('/thanks', {
      html: thankYouPage({ external_id: order, amount: 100, currency: 'eur', customer_id: customer }),
    });
    await visit(page, checkout('/thanks'));
    await oneConversionSent();

    const client = await clientOf();
    expect(client.user_agent).toMatch(/Chrome\//);
    const attribution = { referral_code: 'anna', asset_id: 'A1', source_id: 'S1', click_id: clickId() };
    expect(stack.postbacks.received.map(({ kind, status }) => `${kind}:${status}`)).toEqual(['customer:200', 'conversion:200']);
    const [customerPostback, conversionPostback] = stack.postbacks.received;
    for (const postback of [customerPostback, conversionPostback]) {
      expect(postback).toMatchObject({ method: 'POST', apiKey: API_KEY, contentType: 'application/json' });
    }
    expect(customerPostback.fields).toEqual({ customer_id: customer, ...attribution, ...client });
    expect(conversionPostback.fields).toEqual({
      external_id: order,
      amount: 100,
      currency: 'EUR',
      customer_id: customer,
      ...attribution,
      ...client,
    });
  });

  it('under a multi-label public suffix (www.example.co.uk) the cookie goes on example.co.uk, never on co.uk', async () => {
    await visit(page, stack.merchant.url('www.example.co.uk', '/?ref=anna'));
    expect((await context.cookies()).map(({ name, domain }) => `${name} ${domain}`)).toEqual(['tap_data .example.co.uk']);
  });

  it('a thank-you page the shopper leaves as soon as tap.js has run, on a slow network, still delivers its conversion once (keepalive, or the outbox on the next page)', async () => {
    await visit(page, www('/?ref=anna'));
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', {
      html: shopPage({
        tag: { onload: "location.href='/left'" },
        before: [{ code: STUB }, { code: `tap('convert', { external_id: '${order}' })` }],
      }),
    });
    // The next page of the site, with the tag as on every page.
    stack.merchant.pages.set('/left', { html: shopPage({ body: '<h1>Elsewhere on the site</h1>' }) });
    // Files tap.js loads lazily arrive after the shopper has left, as on a slow mobile network.
    stack.merchant.slow.set('/_tap/tap-events.js', 1000);
    try {
      await page.goto(checkout('/thanks'));
      await page.waitForURL(/\/left$/);
      await page.waitForLoadState('networkidle');
      // A conversion arrives well within seconds; a lost one need not hold the suite for long.
      await waitFor('the conversion of the page the shopper left', () => stack.postbacks.accepted('conversion').length === 1 && stack.merchant.inFlight === 0, 5000);
    } finally {
      stack.merchant.slow.clear();
    }

    expect(clickPosts()).toEqual(['POST /_tap/click 200']);
    expect(eventPosts()).toEqual(['POST /_tap/convert 200']);
    expect(conversionPostbacks().map((postback) => postback.fields)).toEqual([
      { external_id: order, referral_code: 'anna', click_id: clickId(), ...(await clientOf()) },
    ]);
  });

  it("tap('convert', …) written before the script tag is queued by the stub and replayed once the script loads", async () => {
    await visit(page, www('/?ref=anna'));
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', {
      html: shopPage({
        before: [
          { code: STUB },
          { code: `tap('convert', { external_id: '${order}', amount: '49.90', currency: 'EUR' }); window.queuedBeforeLoad = tap.q.length` },
        ],
      }),
    });
    await visit(page, checkout('/thanks'));
    await oneConversionSent();

    expect(await page.evaluate(() => (window as unknown as { queuedBeforeLoad: number }).queuedBeforeLoad)).toBe(1);
    expect(conversionPostbacks().map((postback) => postback.fields)).toEqual([
      { external_id: order, amount: 49.9, currency: 'EUR', referral_code: 'anna', click_id: clickId(), ...(await clientOf()) },
    ]);
  });

  it("tap.convert() after the script has loaded resolves {ok: true, status: 'sent'}", async () => {
    await visit(page, www('/?ref=anna'));
    await visit(page, checkout('/cart'));
    const order = uniqueId('ORD');
    const result = await page.evaluate(
      (externalId) => (window as unknown as TapWindow).tap.convert({ external_id: externalId, amount: 12 }),
      order,
    );

    expect(result).toEqual({ ok: true, status: 'sent' });
    expect(conversionPostbacks().map((postback) => [postback.status, postback.fields])).toEqual([
      [200, { external_id: order, amount: 12, referral_code: 'anna', click_id: clickId(), ...(await clientOf()) }],
    ]);
  });

  it('reloading the thank-you page sends nothing new: one conversion reaches the postback server', async () => {
    await visit(page, www('/?ref=anna'));
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', { html: thankYouPage({ external_id: order, amount: 30 }) });
    await visit(page, checkout('/thanks'));
    await oneConversionSent();

    await page.reload();
    await page.waitForFunction(() => typeof (window as unknown as TapWindow).tap?.data === 'function');
    await page.waitForLoadState('networkidle');
    const again = await page.evaluate((id) => (window as unknown as TapWindow).tap.convert({ external_id: id, amount: 30 }), order);

    expect(again).toEqual({ ok: true, status: 'duplicate' });
    expect(eventPosts()).toEqual(['POST /_tap/convert 200']);
    expect(conversionPostbacks().map((postback) => [postback.status, postback.fields.external_id])).toEqual([[200, order]]);
  });

  it('the same order confirmed from a second browser is answered duplicate by the proxy and reaches the postback server once', async () => {
    await visit(page, www('/?ref=anna'));
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', { html: thankYouPage({ external_id: order, amount: 30 }) });
    await visit(page, checkout('/thanks'));
    await oneConversionSent();

    const otherBrowser = await stack.newContext();
    const other = await otherBrowser.newPage();
    await visit(other, checkout('/cart'));
    const again = await other.evaluate(
      (id) => (window as unknown as TapWindow).tap.convert({ external_id: id, amount: 30, referral_code: 'anna' }),
      order,
    );
    await otherBrowser.close();

    expect(again).toEqual({ ok: true, status: 'duplicate' });
    expect(eventPosts()).toEqual(['POST /_tap/convert 200', 'POST /_tap/convert 200']);
    expect(conversionPostbacks().map((postback) => [postback.status, postback.fields.external_id])).toEqual([[200, order]]);
  });

  it('a coupon typed at checkout reaches the postback alongside the stored referral code', async () => {
    await visit(page, www('/?ref=anna'));
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', { html: thankYouPage({ external_id: order, amount: 80, currency: 'USD', coupon: 'SAVE10' }) });
    await visit(page, checkout('/thanks'));
    await oneConversionSent();

    expect(conversionPostbacks().map((postback) => postback.fields)).toEqual([
      { external_id: order, amount: 80, currency: 'USD', coupon: 'SAVE10', referral_code: 'anna', click_id: clickId(), ...(await clientOf()) },
    ]);
  });

  it('a WordPress search (?s=shoes) or a plain visit after a referral leaves the stored attribution unchanged', async () => {
    await visit(page, www('/?ref=anna&aid=A1'));
    const stored = await tapData();
    const cookie = await tapDataCookie();
    expect(stored).toEqual({ referral_code: 'anna', asset_id: 'A1', click_id: clickId(), ts: expect.any(Number) });

    await visit(page, www('/?s=shoes'));
    expect(await tapData()).toEqual(stored);
    await visit(page, www('/cart'));
    expect(await tapData()).toEqual(stored);
    expect(await tapDataCookie()).toEqual(cookie);

    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', { html: thankYouPage({ external_id: order }) });
    await visit(page, checkout('/thanks'));
    await oneConversionSent();
    expect(conversionPostbacks().map((postback) => postback.fields)).toEqual([
      { external_id: order, referral_code: 'anna', asset_id: 'A1', click_id: clickId(), ...(await clientOf()) },
    ]);
  });

  it('with the default last-touch attribution, a second referral link replaces the stored one', async () => {
    await visit(page, www('/?ref=anna&aid=A1'));
    await visit(page, www('/?ref=bob'));
    expect(await tapData()).toEqual({ referral_code: 'bob', click_id: clickId('bob'), ts: expect.any(Number) });

    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', { html: thankYouPage({ external_id: order }) });
    await visit(page, checkout('/thanks'));
    await oneConversionSent();
    expect(conversionPostbacks().map((postback) => postback.fields)).toEqual([
      { external_id: order, referral_code: 'bob', click_id: clickId('bob'), ...(await clientOf()) },
    ]);
  });

  it('with data-attribution="first", a second referral link keeps the stored one', async () => {
    const tag = { 'data-attribution': 'first' };
    stack.merchant.pages.set('/', { html: shopPage({ tag }) });
    await visit(page, www('/?ref=anna&aid=A1'));
    await visit(page, www('/?ref=bob'));
    expect(await tapData()).toEqual({ referral_code: 'anna', asset_id: 'A1', click_id: clickId(), ts: expect.any(Number) });
    // The second landing is not stored, so it creates no click either.
    expect(stack.postbacks.clicks.map((click) => click.fields.referral_code)).toEqual(['anna']);

    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', { html: thankYouPage({ external_id: order }, tag) });
    await visit(page, checkout('/thanks'));
    await oneConversionSent();
    expect(conversionPostbacks().map((postback) => postback.fields)).toEqual([
      { external_id: order, referral_code: 'anna', asset_id: 'A1', click_id: clickId(), ...(await clientOf()) },
    ]);
  });

  it('with data-consent="required", nothing is stored or sent until tap(\'consent\', true); then the queued conversion goes', async () => {
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/', { html: thankYouPage({ external_id: order, amount: 5 }, { 'data-consent': 'required' }) });
    await visit(page, www('/?ref=anna'));

    expect(await tapDataCookie()).toBeUndefined();
    expect(await tapData()).toBeNull();
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(requestsToWorker()).toEqual(['GET /_tap/tap.js 200']);
    expect(stack.postbacks.received).toEqual([]);

    await page.evaluate(() => (window as unknown as TapWindow).tap('consent', true));
    await oneConversionSent();
    expect(await tapData()).toEqual({ referral_code: 'anna', click_id: clickId(), ts: expect.any(Number) });
    expect(await tapDataCookie()).toMatchObject({ domain: '.shop.test' });
    expect(clickPosts()).toEqual(['POST /_tap/click 200']);
    expect(eventPosts()).toEqual(['POST /_tap/convert 200']);
    // The conversion goes in the landing's own page view, racing the click's answer:
    // it carries the click_id only when the server-set cookie came first.
    const [{ click_id: carried, ...fields }] = conversionPostbacks().map((postback) => postback.fields);
    expect(fields).toEqual({ external_id: order, amount: 5, referral_code: 'anna', ...(await clientOf()) });
    expect([undefined, clickId()]).toContain(carried);
  });

  it('when the proxy is down on the thank-you page, the conversion waits in the browser and the next page view delivers it once', async () => {
    await visit(page, www('/?ref=anna'));
    // The click goes once tap-events.js has loaded; a shopper who stays a moment lets it finish.
    await waitFor('the landing\'s click and its answer', () => stack.postbacks.acceptedClicks().some((click) => click.fields.referral_code === 'anna') && stack.merchant.inFlight === 0);
    // The cart page caches tap.js on checkout.shop.test, as any page before the thank-you page would.
    await visit(page, checkout('/cart'));
    stack.merchant.workerUp = false;
    stack.merchant.pages.set('/thanks', { html: shopPage({ body: '<h1>Thank you</h1>' }) });
    await visit(page, checkout('/thanks'));
    const order = uniqueId('ORD');
    const offline = await page.evaluate(
      (id) => (window as unknown as TapWindow).tap.convert({ external_id: id, amount: 70, currency: 'EUR' }),
      order,
    );

    // The worker also serves tap-events.js and tap-outbox.js, so with it down neither can load:
    // tap.js writes the event to the outbox itself then (snippet/api.ts).
    expect(offline).toEqual({ ok: false, status: 'offline', reason: expect.stringMatching(/^(no-answer|not-loaded)$/) });
    expect(await page.evaluate(() => localStorage.getItem('tap_events'))).toContain(order);
    expect(stack.postbacks.received).toEqual([]);

    stack.merchant.workerUp = true;
    await visit(page, checkout('/cart'));
    await oneConversionSent();
    await visit(page, checkout('/cart'));

    expect(eventPosts()).toEqual(['POST /_tap/convert 200']);
    expect(conversionPostbacks().map((postback) => [postback.status, postback.fields])).toEqual([
      [200, { external_id: order, amount: 70, currency: 'EUR', referral_code: 'anna', click_id: clickId(), ...(await clientOf()) }],
    ]);
  });

  it("without any referral, a conversion is 'unattributed' and nothing reaches the postback server", async () => {
    await visit(page, www('/'));
    await visit(page, checkout('/cart'));
    const result = await page.evaluate(() => (window as unknown as TapWindow).tap.convert({ external_id: 'ORD-unattributed', amount: 10 }));

    expect(result).toEqual({ ok: true, status: 'unattributed' });
    expect(await tapDataCookie()).toBeUndefined();
    expect(eventPosts()).toEqual(['POST /_tap/convert 200']);
    expect(stack.postbacks.received).toEqual([]);
  });

  it("works under a strict CSP: script-src 'self' plus the stub's hash, connect-src 'self'", async () => {
    const stubHash = `'sha256-${createHash('sha256').update(STUB).digest('base64')}'`;
    // The value the README gives merchants; it changes only if the stub does.
    expect(stubHash).toBe("'sha256-YMPVr5tfYT6P/yNPwMK2SX2xmT0ke2RmfgKCCuQqqsc='");
    const nonce = 'r4nd0m-per-response';
    const csp = `default-src 'none'; script-src 'self' ${stubHash} 'nonce-${nonce}'; connect-src 'self'`;
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    stack.merchant.pages.set('/', { html: shopPage({ before: STUB }), headers: { 'content-security-policy': csp } });
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', {
      // The stub is the same on every page, so its hash is fixed; the order differs per page, so its call carries the response's nonce.
      html: shopPage({ before: [{ code: STUB }, { code: `tap('convert', { external_id: '${order}', amount: 15 })`, nonce }] }),
      headers: { 'content-security-policy': csp },
    });

    await visit(page, www('/?ref=anna'));
    expect(violations).toEqual([]);
    expect(await tapData()).toEqual({ referral_code: 'anna', click_id: clickId(), ts: expect.any(Number) });
    await visit(page, checkout('/thanks'));
    expect(violations).toEqual([]);
    await oneConversionSent();

    expect(conversionPostbacks().map((postback) => postback.fields)).toEqual([
      { external_id: order, amount: 15, referral_code: 'anna', click_id: clickId(), ...(await clientOf()) },
    ]);
  });

  it('?tap_debug=1 logs each decision with the [tap] prefix; without it the snippet logs nothing', async () => {
    const logged: string[] = [];
    page.on('console', (message) => logged.push(message.text()));
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', { html: thankYouPage({ external_id: order }) });
    await visit(page, www('/?ref=anna'));
    await visit(page, checkout('/thanks'));
    await oneConversionSent();
    await page.evaluate(() => (window as unknown as TapWindow).tap.convert({ amount: 1 }));
    expect(logged.filter((line) => line.startsWith('[tap]'))).toEqual([]);

    await visit(page, www('/?ref=bob&tap_debug=1'));
    await visit(page, checkout('/thanks?tap_debug=1'));
    await page.evaluate(() => (window as unknown as TapWindow).tap.convert({ amount: 1 }));
    expect(logged.filter((line) => line.startsWith('[tap]'))).toEqual([
      `[tap] stored {"referral_code":"bob","ts":${(await tapData())!.ts}} shop.test`,
      '[tap] click [200, Object]',
      '[tap] skip dup',
      '[tap] skip no-id',
    ]);
  });

  it('a page of another origin, not in ALLOWED_ORIGINS, posting to /_tap/convert gets 403 and nothing is forwarded', async () => {
    stack.merchant.pages.set('/evil', { html: '<!doctype html><title>Elsewhere</title><h1>Elsewhere</h1>' });
    await page.goto(stack.merchant.url('evil.elsewhere.test', '/evil'));
    const target = www('/_tap/convert');
    const inPage = await page.evaluate(
      (url) =>
        fetch(url, {
          method: 'POST',
          credentials: 'include',
          body: JSON.stringify({ external_id: 'ORD-forged', amount: 999, referral_code: 'mallory' }),
        }).then(
          (response) => `read ${response.status}`,
          (error: Error) => `blocked ${error.name}`,
        ),
      target,
    );

    // The page may read the refusal (and only that): nothing was forwarded upstream.
    expect(inPage).toBe('read 403');
    expect(requestsToWorker()).toEqual(['POST /_tap/convert 403']);
    const [refusal] = stack.merchant.forwarded;
    expect(JSON.parse(refusal.answer.split('\n\n')[1])).toEqual({
      ok: false,
      error: 'origin_not_allowed',
      message: expect.stringContaining('ALLOWED_ORIGINS'),
    });
    expect(stack.postbacks.received).toEqual([]);
  });

  it('the snippet on an origin not in ALLOWED_ORIGINS is told origin_not_allowed and does not resend', async () => {
    stack.merchant.pages.set('/pay', {
      html: `<!doctype html><script>${STUB}</script><script async src="${www('/_tap/tap.js')}"></script>`,
    });
    await visit(page, stack.merchant.url('pay.elsewhere.test', '/pay'));
    const result = await page.evaluate(() =>
      (window as unknown as TapWindow).tap.convert({ external_id: 'ORD-elsewhere', referral_code: 'anna' }),
    );
    await visit(page, stack.merchant.url('pay.elsewhere.test', '/pay'));

    expect(result).toMatchObject({ ok: false, error: 'origin_not_allowed' });
    expect(eventPosts()).toEqual(['POST /_tap/convert 403']);
    expect(stack.postbacks.received).toEqual([]);
  });

  it('the key is in no response: not in /_tap/tap.js, and in no page, script or answer the browser receives', async () => {
    const seen: Promise<{ url: string; status: number; text: string }>[] = [];
    context.on('response', (response: Response) => {
      seen.push(
        Promise.all([response.body().catch(() => Buffer.alloc(0)), response.headersArray()]).then(([body, headers]) => ({
          url: response.url(),
          status: response.status(),
          text: body.toString('utf8') + JSON.stringify(headers),
        })),
      );
    });

    const snippet = await page.goto(www('/_tap/tap.js'));
    expect(snippet?.status()).toBe(200);
    expect(await snippet?.text()).toBe(readFileSync('dist/tap.js', 'utf8'));
    expect(await snippet?.text()).not.toContain(API_KEY);

    // Every kind of answer the proxy gives a browser: click, sent, duplicate, invalid, 404, health, 403.
    await visit(page, www('/?ref=anna'));
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', { html: thankYouPage({ external_id: order, amount: 10, customer_id: uniqueId('CUS') }) });
    await visit(page, checkout('/thanks'));
    await oneConversionSent();
    await page.reload();
    await page.waitForLoadState('networkidle');
    await page.evaluate(() => (window as unknown as TapWindow).tap.convert({ external_id: 'ORD-bad', amount: -1 }));
    await page.evaluate(() => fetch('/_tap/health').then((response) => response.text()));
    await page.evaluate(() => fetch('/_tap/nowhere').then((response) => response.text()));
    await page.goto(stack.merchant.url('evil.elsewhere.test', '/cart'));
    await page.evaluate((url) => fetch(url, { method: 'POST', body: '{}' }).catch(() => 'blocked'), www('/_tap/convert'));
    await page.waitForLoadState('networkidle');

    // The worker's answers as the origin received them, the 403 included (its page may read it too).
    expect(new Set(requestsToWorker())).toEqual(
      new Set([
        'GET /_tap/tap.js 200',
        'GET /_tap/tap-events.js 200',
        'GET /_tap/tap-outbox.js 200',
        'POST /_tap/click 200',
        'POST /_tap/convert 200',
        'POST /_tap/convert 400',
        'POST /_tap/convert 403',
        'GET /_tap/health 200',
        'GET /_tap/nowhere 404',
      ]),
    );
    expect(stack.merchant.forwarded.filter((request) => request.answer.includes(API_KEY))).toEqual([]);
    // Everything the browser received: pages, scripts and the answers it could read.
    const responses = await Promise.all(seen);
    expect(responses.length).toBeGreaterThanOrEqual(10);
    expect(responses.filter((response) => response.text.includes(API_KEY)).map((response) => response.url)).toEqual([]);
  });
});
