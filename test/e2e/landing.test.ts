// Attribution that survives, in real Chromium: the landing's Tapfiliate click and
// the server-set cookie (POST /_tap/click), data-cookie-days, single-page apps,
// cross-domain links (data-domains, tap_ref), tap.reference() through a server
// event, and test mode. Each assertion names what the Tapfiliate stand-in received.
import type { BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  API_KEY,
  chromiumMissing,
  shopPage,
  startStack,
  thankYouPage,
  freshClientIp,
  uniqueId,
  visit,
  waitFor,
  type Stack,
  type TapWindow,
} from './harness';

const SERVER_TOKEN = 'e2e-server-token-7d3a';
const DAY = 24 * 60 * 60;

type ReferenceWindow = TapWindow & { tap: TapWindow['tap'] & { reference(): string | null } };

describe.skipIf(chromiumMissing)('the landing, its click and the server-set cookie', () => {
  let stack: Stack;
  let context: BrowserContext;
  let page: Page;

  const www = (path: string) => stack.merchant.url('www.shop.test', path);
  const tapData = (on: Page = page) => on.evaluate(() => (window as unknown as TapWindow).tap.data());
  const reference = (on: Page = page) => on.evaluate(() => (window as unknown as ReferenceWindow).tap.reference());
  const tapDataCookies = async () => (await context.cookies()).filter((cookie) => cookie.name === 'tap_data');
  const userAgent = () => page.evaluate(() => navigator.userAgent);
  const requestsToWorker = () => stack.merchant.forwarded.map(({ method, path, status }) => `${method} ${path} ${status}`);
  /** Answers of POST /_tap/click as the browser received them: status, Set-Cookie and body. */
  let clickAnswers: Promise<{ status: number; setCookie: string | null; body: Record<string, unknown> }>[];
  const oneConversion = () =>
    waitFor('one accepted conversion, and the worker\'s answers', () => stack.postbacks.accepted('conversion').length === 1 && stack.merchant.inFlight === 0);

  beforeAll(async () => {
    stack = await startStack({}, { serverToken: SERVER_TOKEN });
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
    stack.merchant.pages.clear();
    stack.merchant.pages.set('/', { html: shopPage() });
    context = await stack.newContext();
    page = await context.newPage();
    clickAnswers = [];
    context.on('response', (response: Response) => {
      if (new URL(response.url()).pathname !== '/_tap/click') return;
      clickAnswers.push(
        Promise.all([response.headerValue('set-cookie'), response.json()]).then(([setCookie, body]) => ({
          status: response.status(),
          setCookie,
          body,
        })),
      );
    });
  });
  afterEach(async () => {
    await context?.close();
  });

  it('the stack is deterministic: open trust, whatever .dev.vars a developer has', async () => {
    const health = await fetch(`http://127.0.0.1:${stack.merchant.port}/_tap/health`).then((response) => response.json());
    expect(health).toMatchObject({ ok: true, configured: true, trust: 'open' });
  });

  it('a landing with ?ref= creates one Tapfiliate click with the browser\'s IP, UA and landing page; the cookie comes back from the server with click_id; the conversion carries it', async () => {
    await visit(page, www('/?ref=anna'));
    await waitFor('the click answer', () => clickAnswers.length === 1);
    const [answer] = await Promise.all(clickAnswers);

    expect(stack.postbacks.clicks.map(({ method, apiKey, contentType, status }) => ({ method, apiKey, contentType, status }))).toEqual([
      { method: 'POST', apiKey: API_KEY, contentType: 'application/json', status: 200 },
    ]);
    const [click] = stack.postbacks.clicks;
    expect(click.fields).toEqual({ referral_code: 'anna', ip: clientIp, user_agent: await userAgent(), landing_page: www('/?ref=anna') });
    expect(click.id).toEqual(expect.any(String));

    // The server's Set-Cookie: the snippet's name, domain (the registrable one) and lifetime (90 days by default).
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ok: true, status: 'stored', click_id: click.id });
    expect(answer.setCookie).toMatch(/^tap_data=[^;]+; /);
    const attributes = answer.setCookie!.split('; ').slice(1);
    expect(new Set(attributes)).toEqual(new Set([`Max-Age=${90 * DAY}`, 'Domain=shop.test', 'Path=/', 'SameSite=Lax']));
    expect(JSON.parse(decodeURIComponent(answer.setCookie!.split(';')[0].slice('tap_data='.length)))).toEqual({
      referral_code: 'anna',
      click_id: click.id,
      ts: expect.any(Number),
    });
    expect(await tapData()).toEqual({ referral_code: 'anna', click_id: click.id, ts: expect.any(Number) });
    expect((await tapDataCookies()).map(({ domain }) => domain)).toEqual(['.shop.test']);

    // A reload of the same landing stores nothing new, so it sends no click.
    await page.reload();
    await page.waitForLoadState('networkidle');
    expect(requestsToWorker().filter((request) => request.startsWith('POST'))).toEqual(['POST /_tap/click 200']);
    expect(stack.postbacks.clicks).toHaveLength(1);

    const order = uniqueId('ORD');
    stack.merchant.pages.set('/thanks', { html: thankYouPage({ external_id: order, amount: 20, currency: 'EUR' }) });
    await visit(page, stack.merchant.url('checkout.shop.test', '/thanks'));
    await oneConversion();
    expect(stack.postbacks.received.map((postback) => [postback.kind, postback.status, postback.fields])).toEqual([
      [
        'conversion',
        200,
        { external_id: order, amount: 20, currency: 'EUR', referral_code: 'anna', click_id: click.id, ip: clientIp, user_agent: await userAgent() },
      ],
    ]);
    expect(stack.postbacks.clicks).toHaveLength(1);
  });

  it('with data-cookie-days="30" the server-set cookie lives 30 days, and it is the only tap_data cookie on any domain', async () => {
    stack.merchant.pages.set('/', { html: shopPage({ tag: { 'data-cookie-days': '30' } }) });
    await visit(page, www('/?ref=anna'));
    await waitFor('the click answer', () => clickAnswers.length === 1);
    const [answer] = await Promise.all(clickAnswers);
    const [click] = stack.postbacks.acceptedClicks();

    expect(answer.setCookie).toContain(`; Max-Age=${30 * DAY}`);
    expect(answer.setCookie).toContain('; Domain=shop.test');
    const cookies = await tapDataCookies();
    expect(cookies.map(({ domain, path }) => `${domain} ${path}`)).toEqual(['.shop.test /']);
    // Only the server adds click_id: the cookie in the jar is the one the server set.
    expect(JSON.parse(decodeURIComponent(cookies[0].value))).toMatchObject({ referral_code: 'anna', click_id: click.id });
    const lifetime = cookies[0].expires - Date.now() / 1000;
    expect(lifetime).toBeGreaterThan(30 * DAY - 60);
    expect(lifetime).toBeLessThanOrEqual(30 * DAY + 1);

    // The other host of the shop reads the same cookie and writes no second one.
    stack.merchant.pages.set('/cart', { html: shopPage({ tag: { 'data-cookie-days': '30' } }) });
    await visit(page, stack.merchant.url('checkout.shop.test', '/cart'));
    expect((await context.cookies()).filter((cookie) => cookie.name === 'tap_data')).toHaveLength(1);
  });

  it("in a single-page app, history.pushState({}, '', '/p?ref=spa') stores spa and creates its click", async () => {
    await visit(page, www('/'));
    expect(await tapData()).toBeNull();
    await page.evaluate(() => history.pushState({}, '', '/p?ref=spa'));
    await waitFor('the click of the pushState landing', () => stack.postbacks.acceptedClicks().length === 1 && stack.merchant.inFlight === 0);

    const [click] = stack.postbacks.clicks;
    expect(click.fields).toEqual({ referral_code: 'spa', ip: clientIp, user_agent: await userAgent(), landing_page: www('/p?ref=spa') });
    expect(await tapData()).toEqual({ referral_code: 'spa', click_id: click.id, ts: expect.any(Number) });
  });

  it('cross-domain: a link to a data-domains host gets tap_ref, one to another host does not, and the landing there stores the same identifiers and converts', async () => {
    const listed = stack.merchant.url('checkout.elsewhere.test', '/pay');
    const unlisted = stack.merchant.url('other.elsewhere.test', '/pay');
    const tag = { 'data-domains': 'checkout.elsewhere.test' };
    stack.merchant.pages.set('/', {
      html: shopPage({ tag, body: `<a id="listed" href="${listed}">Pay</a> <a id="unlisted" href="${unlisted}">Elsewhere</a>` }),
    });
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/pay', { html: thankYouPage({ external_id: order, amount: 35, currency: 'EUR' }, tag) });

    await visit(page, www('/?ref=anna&aid=A1&sid=S1'));
    await waitFor('the landing\'s click', () => stack.postbacks.acceptedClicks().length === 1 && stack.merchant.inFlight === 0);
    const [click] = stack.postbacks.clicks;
    const stored = await tapData();
    expect(stored).toEqual({ referral_code: 'anna', asset_id: 'A1', source_id: 'S1', click_id: click.id, ts: expect.any(Number) });
    const ref = await reference();
    expect(ref).toMatch(/^[A-Za-z0-9_-]{1,200}$/);

    // A host not listed: the link is followed as written.
    await Promise.all([page.waitForURL(/other\.elsewhere\.test/), page.click('#unlisted')]);
    expect(page.url()).toBe(unlisted);
    expect(stack.postbacks.received).toEqual([]);

    await page.goto(www('/'));
    await page.waitForLoadState('networkidle');
    await Promise.all([page.waitForURL(/checkout\.elsewhere\.test/), page.click('#listed')]);
    expect(new URL(page.url()).searchParams.get('tap_ref')).toBe(ref);
    expect(page.url()).toBe(`${listed}?tap_ref=${ref}`);
    await page.waitForFunction(() => typeof (window as unknown as TapWindow).tap?.data === 'function');
    await oneConversion();

    // Same identifiers on the other registrable domain, in its own cookie.
    expect(await tapData()).toEqual({ ...stored, ts: expect.any(Number) });
    expect((await tapDataCookies()).map(({ domain }) => domain).sort()).toEqual(['.elsewhere.test', '.shop.test']);
    // The reference carries the click_id, so the second landing creates no second click.
    expect(stack.postbacks.clicks).toHaveLength(1);
    expect(stack.postbacks.received.map((postback) => [postback.kind, postback.status, postback.fields])).toEqual([
      [
        'conversion',
        200,
        {
          external_id: order,
          amount: 35,
          currency: 'EUR',
          referral_code: 'anna',
          asset_id: 'A1',
          source_id: 'S1',
          click_id: click.id,
          ip: clientIp,
          user_agent: await userAgent(),
        },
      ],
    ]);
  });

  it("tap.reference() round-trips through a server event's reference (POST /_tap/convert with the server token)", async () => {
    await visit(page, www('/?ref=anna&coupon=ANNA10'));
    await waitFor('the landing\'s click', () => stack.postbacks.acceptedClicks().length === 1 && stack.merchant.inFlight === 0);
    const [click] = stack.postbacks.clicks;
    const ref = await reference();
    expect(ref).toEqual(expect.any(String));
    await context.close();

    // The merchant's backend, later, with no browser: the reference is all it has.
    const order = uniqueId('ORD');
    const body = { external_id: order, amount: 250_000, currency: 'EUR', reference: ref, ip: '198.51.100.7', user_agent: 'Shopper-Agent/1.0' };
    const refused = await stack.post('/_tap/convert', JSON.stringify(body), { authorization: 'Bearer not-the-token' });
    expect(refused).toEqual({ status: 401, json: expect.objectContaining({ ok: false, error: 'unauthorized' }) });
    const answer = await stack.post('/_tap/convert', JSON.stringify(body), { authorization: `Bearer ${SERVER_TOKEN}` });
    expect(answer).toEqual({ status: 200, json: { ok: true, status: 'sent' } });

    expect(stack.postbacks.received.map((postback) => [postback.kind, postback.status, postback.apiKey, postback.fields])).toEqual([
      [
        'conversion',
        200,
        API_KEY,
        {
          external_id: order,
          amount: 250_000,
          currency: 'EUR',
          coupon: 'ANNA10',
          referral_code: 'anna',
          click_id: click.id,
          ip: '198.51.100.7',
          user_agent: 'Shopper-Agent/1.0',
        },
      ],
    ]);
  });

  it('test mode (?tap_test=1): the click and the conversion answer status test, and the stand-in receives nothing', async () => {
    await visit(page, www('/?ref=anna&tap_test=1'));
    await waitFor('the click answer', () => clickAnswers.length === 1);
    const [clickAnswer] = await Promise.all(clickAnswers);
    expect(clickAnswer.status).toBe(200);
    expect(clickAnswer.body).toEqual({
      ok: true,
      status: 'test',
      postbacks: [
        {
          kind: 'click',
          url: stack.postbacks.clicksUrl,
          body: { referral_code: 'anna', ip: clientIp, user_agent: await userAgent(), landing_page: www('/?ref=anna&tap_test=1') },
        },
      ],
    });
    expect(await tapData()).toEqual({ referral_code: 'anna', ts: expect.any(Number) });

    // The same tab, later: test mode lasts for its session.
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/cart', { html: shopPage() });
    await visit(page, www('/cart'));
    const result = await page.evaluate(
      (id) => (window as unknown as TapWindow).tap.convert({ external_id: id, amount: 10, currency: 'EUR' }),
      order,
    );
    expect(result).toEqual({
      ok: true,
      status: 'test',
      postbacks: [
        {
          kind: 'conversion',
          url: stack.postbacks.conversionUrl,
          body: { external_id: order, amount: 10, currency: 'EUR', referral_code: 'anna', ip: clientIp, user_agent: await userAgent() },
        },
      ],
    });
    expect(JSON.stringify(result)).not.toContain(API_KEY);
    await page.waitForLoadState('networkidle');
    expect(stack.postbacks.received).toEqual([]);
    expect(stack.postbacks.clicks).toEqual([]);
    expect(requestsToWorker().filter((request) => request.startsWith('POST'))).toEqual(['POST /_tap/click 200', 'POST /_tap/convert 200']);
  });
});
