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

  it("replays Tapfiliate's calls in the order they were made", async () => {
    page = await openPage({
      before: [TAPFILIATE_STUB, "tap('conversion', 'T1', 5); tap('conversion', 'T2', 6); tap('customer', 'C1');"],
    });
    await settle();
    expect(page.sent.map((request) => request.body.external_id ?? request.body.customer_id)).toEqual(['T1', 'T2', 'C1']);
  });
});

describe("Tapline's calls next to Tapfiliate's", () => {
  /**
   * Holds the named lazy files back, as a slow network would, until the test calls
   * `release.<name>()`, or `fail.<name>()` to have it answer 404. Each one's tag is
   * in the page meanwhile (a type that does not run), as a requested script's is.
   */
  const hold = (...names: string[]) => `window.release = {}; window.fail = {}; document.head.appendChild = function (node) {
    const name = (/tap-(\\w+)\\.js/.exec(node.src || '') || [])[1];
    if (!${JSON.stringify(names)}.includes(name)) return Node.prototype.appendChild.call(this, node);
    const requested = node.cloneNode();
    requested.type = 'text/x-requested';
    Node.prototype.appendChild.call(this, requested);
    window.release[name] = () => Node.prototype.appendChild.call(document.head, node);
    window.fail[name] = () => {
      node.src = node.src.replace('.js', '-missing.js');
      Node.prototype.appendChild.call(document.head, node);
    };
    return node;
  }`;
  const HOLD_COMPAT = hold('compat');
  /** Runs `code` in the page, then lets what it loads run and settle. */
  const step = async (code: string) => {
    page.run(code);
    await page.window.happyDOM.waitUntilComplete();
    await settle();
  };

  it.each([
    ['queued', "tap('detect', { referral_code: 'anna' }); tap('convert', { external_id: 'M1' });"],
    ['queued, with its Tapfiliate call before it', "tap('create', 'ACC'); tap('detect', { referral_code_param: 'via' }); tap('customer', { customer_id: 'M1' });"],
  ])("a Tapline event made after detect stored a code waits for it, though tap-compat.js arrives last (%s)", async (_name, calls) => {
    page = await openPage({ url: 'https://www.shop.example/thanks?via=anna', before: [HOLD_COMPAT, TAPFILIATE_STUB, calls] });
    await settle();
    expect(page.sent).toEqual([]);
    await step('release.compat()');
    expect(page.sent.map((request) => request.body.external_id ?? request.body.customer_id)).toEqual(['M1']);
    expect(page.sent[0].cookie).toMatch(/tap_data=[^;]*anna/);
  });

  it('tap-outbox.js first, tap-events.js next, tap-compat.js last: sent once, after detect stored the code', async () => {
    page = await openPage({ url: 'https://www.shop.example/thanks?via=anna', before: [hold('compat', 'events'), TAPFILIATE_STUB, "tap('detect', { referral_code_param: 'via' }); tap('convert', { external_id: 'M1' });"] });
    // tap-events.js resends what the outbox holds as it loads: not the event tap-outbox.js is keeping.
    await step('release.events()');
    expect(page.sent).toEqual([]);
    await step('release.compat()');
    expect(page.sent.map((request) => request.body.external_id)).toEqual(['M1']);
    expect(page.sent[0].cookie).toMatch(/tap_data=[^;]*anna/);
  });

  it('an event kept while tap-compat.js never arrives is not lost: the next page view sends it, once', async () => {
    page = await openPage({ url: 'https://www.shop.example/thanks?via=anna', before: [hold('compat', 'events'), TAPFILIATE_STUB, "tap('detect', { referral_code_param: 'via' }); tap('convert', { external_id: 'M3' });"] });
    await step('release.events()');
    expect(page.sent).toEqual([]);
    // The shopper leaves before tap-compat.js arrives.
    await page.next('https://www.shop.example/', { before: ['delete document.head.appendChild'] });
    expect(page.sent.map((request) => request.body.external_id)).toEqual(['M3']);
    await page.next('https://www.shop.example/again', { before: [] });
    expect(page.sent).toHaveLength(1);
  });

  it('a tap-compat.js that fails to load (404) holds nothing back: the event is sent', async () => {
    page = await openPage({ url: 'https://www.shop.example/thanks?via=anna', before: [hold('compat', 'events'), TAPFILIATE_STUB, "tap('detect', { referral_code_param: 'via' }); tap('convert', { external_id: 'M4' });"] });
    await step('release.events()');
    expect(page.sent).toEqual([]);
    await step('fail.compat()');
    expect(page.sent.map((request) => request.body.external_id)).toEqual(['M4']);
  });

  it('a page without a Tapfiliate call sends at once, and loads no tap-compat.js', async () => {
    page = await openPage({ before: [HOLD_COMPAT, STUB, "tap('convert', { external_id: 'M2' })"] });
    await settle();
    expect(page.sent.map((request) => request.body.external_id)).toEqual(['M2']);
    expect(compatLoads(page)).toBe(0);
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

describe("the theme's unsigned call next to a signed one for the same order (docs/guides/from-tapfiliate-js.md, section 4)", () => {
  const SIGNED_CALL = `tap('convert', { signed: '{"external_id":"ORD-7","amount":10}', signature: '${'ab'.repeat(32)}' })`;
  /** A worker in signed trust: an unsigned event is refused for good, a signed one is taken. */
  const signedTrust = (body: { signed?: string }) =>
    body.signed ? { status: 200, body: { ok: true, status: 'sent' } } : { status: 401, body: { ok: false, error: 'signature_required' } };
  /** A worker in open trust: it takes an unsigned event, and cannot verify a signed one yet (the browser keeps it). */
  const openTrust = (body: { signed?: string }) =>
    body.signed ? { status: 503, body: { ok: false, error: 'not_configured' } } : { status: 200, body: { ok: true, status: 'sent' } };

  it('signed trust, the signed call made while the unsigned one waits for its answer: the signed one is still sent, and carries the order', async () => {
    let release!: () => void;
    const slowNetwork = new Promise<void>((done) => (release = done));
    page = await openPage({ answer: (body) => (body.signed ? signedTrust(body) : slowNetwork.then(() => signedTrust(body))) });
    const unsigned = call(page, "tap('conversion', 'ORD-7', 10)");
    await settle();
    expect(page.sent).toHaveLength(1);
    const signed = call(page, SIGNED_CALL);
    await settle();
    release();
    expect(await unsigned).toEqual({ ok: false, error: 'signature_required' });
    expect(await signed).toEqual({ ok: true, status: 'sent' });
    expect(page.sent.map((request) => request.body.signed ?? 'unsigned')).toEqual(['unsigned', '{"external_id":"ORD-7","amount":10}']);
    // A reload sends neither again: the refused one is final, the signed one accepted.
    await page.next('https://www.shop.example/thanks');
    expect(await call(page, SIGNED_CALL)).toEqual({ ok: true, status: 'duplicate' });
    expect(page.sent).toHaveLength(2);
  });

  it('open trust, the signed call made first: the unsigned one is still sent, and the signed one waits in the browser for the secret', async () => {
    page = await openPage({ answer: openTrust });
    expect(await call(page, SIGNED_CALL)).toEqual({ ok: false, error: 'not_configured' });
    expect(await call(page, "tap('conversion', 'ORD-7', 10)")).toEqual({ ok: true, status: 'sent' });
    expect(page.sent.map((request) => request.body.signed ?? 'unsigned')).toEqual(['{"external_id":"ORD-7","amount":10}', 'unsigned']);
    // The signing secret is set: the kept signed event is resent on the next page view, and the worker's ledger answers duplicate.
    page.setReplies([{ status: 200, body: { ok: true, status: 'duplicate' } }]);
    await page.next('https://www.shop.example/other', { answer: undefined });
    await settle();
    expect(page.sent.slice(2).map((request) => request.body.signed)).toEqual(['{"external_id":"ORD-7","amount":10}']);
    expect(JSON.parse(page.window.localStorage.getItem('tap_events')!)).toEqual({ 'convert:ORD-7 signed': 1, 'convert:ORD-7': 1 });
  });

  it('two signed calls for the same order are still one', async () => {
    page = await openPage({ answer: signedTrust });
    await call(page, SIGNED_CALL);
    expect(await call(page, SIGNED_CALL)).toEqual({ ok: true, status: 'duplicate' });
    expect(page.sent).toHaveLength(1);
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

  it('with data-consent="required" it waits for consent, and runs once it is granted', async () => {
    page = await openPage({
      url: 'https://www.shop.example/p',
      attrs: { 'data-consent': 'required' },
      before: [TAPFILIATE_STUB, "tap('detect', { referral_code: 'anna' }, function (data) { window.detected = data }); tap('conversion', 'C-1', 20);"],
    });
    await settle();
    expect(page.stored()).toBeNull();
    expect(page.clicks).toEqual([]);
    expect(page.sent).toEqual([]);
    page.run("tap('consent', true)");
    await settle();
    expect(page.stored()).toMatchObject({ referral_code: 'anna' });
    expect(page.clicks.map((click) => click.body.landing_page)).toEqual(['https://www.shop.example/p?refc=anna']);
    expect(page.w.detected).toMatchObject({ referral_code: 'anna' });
    // The conversion after it waited for it, and carries its code.
    expect(page.sent.map((request) => request.body.external_id)).toEqual(['C-1']);
    expect(page.sent[0].cookie).toMatch(/tap_data=[^;]*anna/);
  });

  it('with data-consent="required" and consent refused, nothing is detected; always_callback hears why', async () => {
    page = await openPage({
      url: 'https://www.shop.example/?via=bob',
      attrs: { 'data-consent': 'required' },
      before: [TAPFILIATE_STUB, "window.heard = []; tap('detect', { referral_code_param: 'via', always_callback: true }, function (e, r) { window.heard.push([e && e.message, r]) })"],
    });
    await settle();
    expect(page.w.heard).toEqual([]);
    page.w.tap.consent(false);
    await settle();
    expect(page.w.heard).toEqual([['no consent', null]]);
    expect(page.stored()).toBeNull();
    expect(page.clicks).toEqual([]);
    expect(page.cookie()).toBe('');
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
  it.each([
    ['queued alone', ''],
    ['queued after detect', "tap('detect');"],
  ])("on the landing page view, %s: the click_id of this landing, once the click's answer has set it", async (_name, detect) => {
    let release!: () => void;
    const slowNetwork = new Promise<void>((done) => (release = done));
    const clickId = JSON.stringify({ referral_code: 'anna', click_id: 'clk_1', ts: 1795000000 });
    page = await openPage({
      url: 'https://www.shop.example/?ref=anna',
      // The worker's Set-Cookie, on the domain the click names (the one the snippet wrote).
      answerClick: (body) => slowNetwork.then(() => ({ status: 200, body: { ok: true, status: 'stored' }, cookie: `tap_data=${encodeURIComponent(clickId)}; path=/; domain=${body.cookie_domain}` })),
      before: [TAPFILIATE_STUB, `${detect} tap('getTrackingId', null, function (id) { window.ids = (window.ids || []).concat([id]) });`],
    });
    await settle();
    expect(page.clicks).toHaveLength(1);
    expect(page.w.ids).toBeUndefined();
    release();
    await settle();
    expect(page.w.ids).toEqual(['clk_1']);
  });

  it('calls back with the stored click_id, or null', async () => {
    page = await openPage();
    expect(await call(page, "tap('getTrackingId', null, function (id) { window.none = id })")).toBeNull();
    expect(page.w.none).toBeNull();
    page.window.document.cookie = 'tap_data=' + encodeURIComponent(JSON.stringify({ referral_code: 'anna', click_id: 'clk_7', ts: 1795000000 })) + '; path=/';
    await call(page, "tap('getTrackingId', null, function (id) { window.id = id })");
    expect(page.w.id).toBe('clk_7');
  });

  it('calls back with a tap-events.js cached from before it told when a click is answered (a deploy within max-age)', async () => {
    const clickId = JSON.stringify({ referral_code: 'anna', click_id: 'clk_8', ts: 1795000000 });
    page = await openPage({
      url: 'https://www.shop.example/?ref=anna',
      answerClick: (body) => ({ status: 200, body: { ok: true, status: 'stored' }, cookie: `tap_data=${encodeURIComponent(clickId)}; path=/; domain=${body.cookie_domain}` }),
    });
    // The module an older tap-events.js registers: no `clicked`.
    page.run('delete tap._.events.clicked');
    expect(await call(page, "tap('getTrackingId', null, function (id) { window.id = id })")).toBe('clk_8');
    expect(page.w.id).toBe('clk_8');
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

  it('tap_a and tap_s win over the one-letter a and s, wherever they stand in the URL', async () => {
    page = await openPage({ url: 'https://www.shop.example/?a=1&s=2&tap_a=3&tap_s=4' });
    expect(page.stored()).toMatchObject({ asset_id: '3', source_id: '4' });
  });

  it('aid and sid still win over tap_a and tap_s', async () => {
    page = await openPage({ url: 'https://www.shop.example/?tap_a=1&aid=2&tap_s=3&sid=4' });
    expect(page.stored()).toMatchObject({ asset_id: '2', source_id: '4' });
  });
});
