// Tapfiliate's own JavaScript calls on Tapline (snippet/compat/index.ts, the call
// table): argument orders, defaults, callbacks, bad arguments, and that only a
// page making one loads tap-compat.js. The real dist/ files in happy-dom.
import { afterEach, describe, expect, it } from 'vitest';
import { STUB, openPage, settle, type Page } from './page';

let page: Page;
afterEach(() => page?.close());

/** Tapfiliate's loader stub, as its docs and its WordPress plugin write it. */
const TAPFILIATE_STUB = "(function(t,a,p){t.TapfiliateObject=a;t[a]=t[a]||function(){(t[a].q=t[a].q||[]).push(arguments)}})(window,'tap');";
const DEBUG = { 'data-debug': '' };

/** The `[tap] tapfiliate …` debug lines, joined. */
const tapfiliateLines = (page: Page) =>
  page.logs
    .filter((line) => line[0] == '[tap]' && line[1] == 'tapfiliate')
    .map((line) => line.slice(2).map((part) => (typeof part == 'string' ? part : JSON.stringify(part))).join(' '));
const compatLoads = (page: Page) => [...page.window.document.querySelectorAll('script')].filter((script) => /tap-compat\.js/.test(script.src)).length;
/** Runs a call after load and waits for its promise. */
const call = (page: Page, code: string) => page.run(code) as Promise<unknown>;

describe("Tapfiliate's calls, queued before tap.js loads (either stub)", () => {
  it.each([
    ["Tapfiliate's stub", TAPFILIATE_STUB],
    ["Tapline's stub", STUB],
  ])('%s: create and detect on the landing, conversion with every option on the thank-you page', async (_name, stub) => {
    page = await openPage({
      url: 'https://www.shop.example/?ref=anna',
      attrs: DEBUG,
      before: [stub, "tap('create', 'ACCOUNT-ID', { integration: 'wordpress' }); tap('detect');"],
    });
    expect(page.stored()).toMatchObject({ referral_code: 'anna' });
    expect(page.clicks.map((click) => click.body.referral_code)).toEqual(['anna']);
    await page.next('https://www.shop.example/checkout/order-received/1042/', {
      before: [
        stub,
        "tap('create', 'ACCOUNT-ID', { integration: 'woocommerce' }); tap('detect');",
        `tap('conversion', 1042, 99.5, {"meta_data":{"product1":"Hoodie - qty: 1"},"coupons":["SAVE10","OTHER"],"customer_id":"cus_9","currency":"EUR"}, 'default');`,
      ],
    });
    await settle();
    expect(page.sent.map((request) => [request.url, request.body])).toEqual([
      [
        'https://www.shop.example/_tap/convert',
        { external_id: 1042, amount: 99.5, currency: 'EUR', customer_id: 'cus_9', coupon: 'SAVE10', meta_data: { product1: 'Hoodie - qty 1' } },
      ],
    ]);
    expect(page.sent[0].cookie).toMatch(/tap_data=[^;]*anna/);
    expect(tapfiliateLines(page).join('\n')).toMatch(/commission_type left out.*default/);
    expect(tapfiliateLines(page).join('\n')).toMatch(/meta_data fitted/);
    expect(page.pageErrors).toEqual([]);
  });

  it('conversionMulti as the WordPress plugin writes it: one conversion, the sum of the sub_amounts', async () => {
    page = await openPage({
      before: [
        TAPFILIATE_STUB,
        `tap('conversionMulti', 77, {"customer_id":"a@b.example","currency":"USD"}, [{"sub_amount":10.1,"commission_type":"default"},{"sub_amount":20.2,"commission_type":"books"}]);`,
      ],
    });
    await settle();
    expect(page.sent.map((request) => request.body)).toEqual([{ external_id: 77, amount: 30.3, currency: 'USD', customer_id: 'a@b.example' }]);
  });

  it.each(['customer', 'trial', 'lead'])("tap('%s', customer_id, { meta_data }) is a customer event", async (command) => {
    page = await openPage({ attrs: DEBUG, before: [TAPFILIATE_STUB, `tap('${command}', 'cus_1', {"meta_data":{"plan":"pro"}});`] });
    await settle();
    expect(page.sent.map((request) => [request.url, request.body])).toEqual([['https://www.shop.example/_tap/customer', { customer_id: 'cus_1', meta_data: { plan: 'pro' } }]]);
    if (command != 'customer') expect(tapfiliateLines(page)).toContain(`${command} sent as a customer: the postback has no customer status`);
  });

  it("replays Tapline's and Tapfiliate's calls in the order they were made", async () => {
    page = await openPage({
      before: [TAPFILIATE_STUB, "tap('conversion', 'T1', 5); tap('conversion', 'T2', 6); tap('customer', 'C1');"],
    });
    await settle();
    expect(page.sent.map((request) => request.body.external_id ?? request.body.customer_id)).toEqual(['T1', 'T2', 'C1']);
  });
});

describe('made after tap.js has loaded', () => {
  it('conversion resolves the TapResult and hands it to its callback, once', async () => {
    page = await openPage();
    const result = await call(page, "window.results = []; tap('conversion', 'A1', '12.50', {}, null, function (r) { window.results.push(r) })");
    expect(result).toEqual({ ok: true, status: 'sent' });
    expect(page.w.results).toEqual([{ ok: true, status: 'sent' }]);
    expect(page.sent.map((request) => request.body)).toEqual([{ external_id: 'A1', amount: '12.50' }]);
  });

  it('the callback may stand where commission_type goes; a reload is a duplicate, told to the callback', async () => {
    page = await openPage();
    await call(page, "tap('conversion', 'A2', 10, { currency: 'eur' }, function (r) { window.first = r })");
    expect(page.w.first).toEqual({ ok: true, status: 'sent' });
    await page.next('https://www.shop.example/thanks');
    await call(page, "tap('conversion', 'A2', 10, { currency: 'eur' }, 'default', function (r) { window.second = r })");
    expect(page.w.second).toEqual({ ok: true, status: 'duplicate' });
    expect(page.sent).toHaveLength(1);
  });

  it('a callback that throws breaks nothing: it is called once, logged, and the next call works', async () => {
    page = await openPage({ attrs: DEBUG });
    await call(page, "window.calls = 0; tap('conversion', 'B1', 1, {}, function () { window.calls++; throw new Error('theme bug') })");
    await call(page, "tap('customer', 'U9', {}, function () { window.calls++; throw new Error('again') })");
    await call(page, "tap('create', 'ACC', {}, function () { window.calls++; throw new Error('create') })");
    expect(page.w.calls).toBe(3);
    expect(page.pageErrors).toEqual([]);
    expect(page.sent.map((request) => request.body)).toEqual([{ external_id: 'B1', amount: 1 }, { customer_id: 'U9' }]);
    expect(tapfiliateLines(page).filter((line) => line.startsWith('callback threw'))).toHaveLength(3);
  });

  it("the callback of a refused conversion gets the proxy's answer", async () => {
    const refusal = { ok: false, error: 'signature_required', message: 'this worker accepts only signed browser events' };
    page = await openPage({ replies: [{ status: 401, body: refusal }] });
    await call(page, "tap('conversion', 'S1', 40, {}, 'default', function (r) { window.answer = r })");
    expect(page.w.answer).toEqual(refusal);
  });
});

describe('detect', () => {
  it('referral_code is stored as if the URL carried it, and its click says so', async () => {
    page = await openPage({ url: 'https://www.shop.example/p', before: [TAPFILIATE_STUB, "tap('detect', { referral_code: 'partner' }, function (data) { window.detected = data })"] });
    await settle();
    expect(page.stored()).toMatchObject({ referral_code: 'partner' });
    expect(page.clicks.map((click) => click.body.landing_page)).toEqual(['https://www.shop.example/p?refc=partner']);
    expect(page.w.detected).toMatchObject({ referral_code: 'partner' });
  });

  it('referral_code_param names one more parameter read as referral_code', async () => {
    page = await openPage({ url: 'https://www.shop.example/?via=bob', before: [TAPFILIATE_STUB, "tap('detect', { referral_code_param: 'via' })"] });
    await settle();
    expect(page.stored()).toMatchObject({ referral_code: 'bob' });
  });

  it('cookie_domain is used as data-cookie-domain when the page is on it; another domain is ignored with a debug line', async () => {
    page = await openPage({ url: 'https://a.www.shop.example/p', before: [TAPFILIATE_STUB, "tap('detect', { referral_code: 'anna', cookie_domain: '.www.shop.example' })"] });
    await settle();
    expect(page.cookieWrites.map((write) => write.split('; ').find((part) => part.startsWith('domain=')))).toEqual(['domain=www.shop.example']);
    page.close();
    page = await openPage({ url: 'https://www.shop.example/p', attrs: DEBUG, before: [TAPFILIATE_STUB, "tap('detect', { referral_code: 'anna', cookie_domain: 'evil.example' })"] });
    await settle();
    expect(page.stored()).toMatchObject({ referral_code: 'anna' });
    expect(tapfiliateLines(page).join('\n')).toMatch(/cookie_domain is not this page's domain, ignored: evil\.example/);
  });

  it('its callback: on a landing only, unless always_callback, then (error, result)', async () => {
    page = await openPage({
      url: 'https://www.shop.example/',
      before: [
        TAPFILIATE_STUB,
        "window.plain = []; window.always = []; tap('detect', {}, function () { window.plain.push([].slice.call(arguments)) }); tap('detect', { always_callback: true }, function (e, r) { window.always.push([e && e.message, r]) })",
      ],
    });
    await settle();
    expect(page.w.plain).toEqual([]);
    expect(page.w.always).toEqual([['nothing detected', null]]);
    await page.next('https://www.shop.example/?ref=anna', {
      before: [TAPFILIATE_STUB, "window.always = []; tap('detect', { always_callback: true }, function (e, r) { window.always.push([e, r && r.referral_code]) })"],
    });
    await settle();
    expect(page.w.always).toEqual([[null, 'anna']]);
  });
});

describe('getTrackingId', () => {
  it('calls back with the stored click_id, or null', async () => {
    page = await openPage();
    expect(await call(page, "tap('getTrackingId', null, function (id) { window.none = id })")).toBeNull();
    expect(page.w.none).toBeNull();
    page.window.document.cookie = 'tap_data=' + encodeURIComponent(JSON.stringify({ referral_code: 'anna', click_id: 'clk_7', ts: 1795000000 })) + '; path=/';
    await call(page, "tap('getTrackingId', null, function (id) { window.id = id })");
    expect(page.w.id).toBe('clk_7');
  });
});

describe('bad arguments: nothing thrown, a clear debug line', () => {
  it.each([
    ['no external_id', "tap('conversion')", 'no-id'],
    ['an empty customer_id', "tap('customer', '  ')", 'no-id'],
  ])('%s: skipped, nothing sent', async (_name, code, reason) => {
    page = await openPage({ attrs: DEBUG });
    await call(page, code);
    expect(page.sent).toEqual([]);
    expect(page.ignored()).toContain(reason);
    expect(page.pageErrors).toEqual([]);
  });

  it.each([
    ['options that are not an object', "tap('conversion', 'X1', 5, 'EUR')", { external_id: 'X1', amount: 5 }, /conversion options must be an object, ignored: EUR/],
    ['commissions that are not an array', "tap('conversionMulti', 'X2', {}, 12)", { external_id: 'X2' }, /commissions must be an array/],
    ['a commission without a number', "tap('conversionMulti', 'X3', {}, [{ sub_amount: 'ten' }, { sub_amount: 4 }])", { external_id: 'X3', amount: 4 }, /left out of the sum/],
    [
      'meta_data past the limits',
      `tap('customer', 'U1', { meta_data: { ${Array.from({ length: 12 }, (_, i) => `k${i}: 'v${i}'`).join(', ')}, ['a'.repeat(70)]: 1 } })`,
      { customer_id: 'U1', meta_data: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, `v${i}`])) },
      /meta_data fitted/,
    ],
  ])('%s: sent without it', async (_name, code, body, line) => {
    page = await openPage({ attrs: DEBUG });
    await call(page, code);
    expect(page.sent.map((request) => request.body)).toEqual([body]);
    expect(tapfiliateLines(page).join('\n')).toMatch(line);
  });

  it('a callback that is not a function, and a Tapline-style call with the same name, change nothing', async () => {
    page = await openPage({ attrs: DEBUG });
    await call(page, "tap('conversion', 'Y1', 1, {}, 'default', 'not a function')");
    await page.run("tap('customer', { customer_id: 'TAPLINE-1' })");
    await settle();
    expect(page.sent.map((request) => request.body)).toEqual([{ external_id: 'Y1', amount: 1 }, { customer_id: 'TAPLINE-1' }]);
    expect(page.pageErrors).toEqual([]);
  });
});

describe('tap-compat.js loads only where a page makes a Tapfiliate call', () => {
  it("a landing and a Tapline thank-you page load none; the first Tapfiliate call loads it once", async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna', before: [STUB, "tap('convert', { external_id: 'N1' })"] });
    expect(compatLoads(page)).toBe(0);
    await call(page, "tap('create', 'ACC'); tap('detect'); tap('conversion', 'N2', 3)");
    await settle();
    expect(compatLoads(page)).toBe(1);
    expect(page.sent.map((request) => request.body.external_id)).toEqual(['N1', 'N2']);
  });
});

describe("Tapfiliate's anonymized links", () => {
  it('?tap_a=&tap_s= are stored as asset_id and source_id, and reported with the click', async () => {
    page = await openPage({ url: 'https://www.shop.example/?tap_a=30-e1d5b2&tap_s=4163-4c7c1f' });
    expect(page.stored()).toMatchObject({ asset_id: '30-e1d5b2', source_id: '4163-4c7c1f' });
    expect(page.clicks.map((click) => [click.body.asset_id, click.body.source_id])).toEqual([['30-e1d5b2', '4163-4c7c1f']]);
  });

  it('aid and sid still win over tap_a and tap_s', async () => {
    page = await openPage({ url: 'https://www.shop.example/?tap_a=1&aid=2&tap_s=3&sid=4' });
    expect(page.stored()).toMatchObject({ asset_id: '2', source_id: '4' });
  });
});
