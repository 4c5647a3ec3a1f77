import { afterEach, describe, expect, it } from 'vitest';
import { STUB, openPage, settle, type Page } from './page';

let page: Page;
afterEach(() => page?.close());

const ORDER = { external_id: 'ORD005', amount: 100, currency: 'EUR' };

describe('the stub queue', () => {
  it('replays calls made before load, in order', async () => {
    page = await openPage({
      url: 'https://www.shop.example/thanks?ref=anna',
      before: [STUB, "tap('customer', { customer_id: 'U1' })", "tap('convert', { external_id: 'A' })", "tap('convert', { external_id: 'B' })"],
    });
    expect(page.sent.map((request) => [request.url, request.body])).toEqual([
      ['https://www.shop.example/_tap/customer', { customer_id: 'U1' }],
      ['https://www.shop.example/_tap/convert', { external_id: 'A' }],
      ['https://www.shop.example/_tap/convert', { external_id: 'B' }],
    ]);
  });

  it('keeps the landing before anything loads, and stores it before replaying, so the proxy gets the cookie on the first request', async () => {
    // Records the cookie when the events code is requested, the first step of any queued event.
    const WATCH_EVENTS_LOAD = `document.head.appendChild = function (node) {
      if (/tap-events/.test(node.src)) window.cookieAtEventsLoad = document.cookie;
      return Node.prototype.appendChild.call(this, node);
    }`;
    page = await openPage({ url: 'https://www.shop.example/thanks?ref=anna', before: [WATCH_EVENTS_LOAD, STUB, "tap('convert', { external_id: 'A' })"] });
    expect(decodeURIComponent(page.w.cookieAtEventsLoad)).toMatch(/tap_l=\d+ https:\/\/www\.shop\.example\/thanks\?ref=anna/);
    expect(page.sent).toHaveLength(1);
    expect(page.sent[0].cookie).toMatch(/tap_data=[^;]*anna/);
  });

  it('tap("command", arg) keeps working after load and returns the result', async () => {
    page = await openPage();
    const result = await page.run("tap('convert', { external_id: 'A' })");
    expect(result).toEqual({ ok: true, status: 'sent' });
    expect(page.run("tap('data')")).toBeNull();
  });

  it('a second copy of the script keeps the first one and sends nothing twice', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna', before: [STUB, "tap('convert', { external_id: 'A' })"] });
    const first = page.w.tap;
    const tag = page.window.document.createElement('script');
    tag.src = '/_tap/tap.js?copy';
    page.window.document.body.appendChild(tag);
    await page.window.happyDOM.waitUntilComplete();
    await settle();
    expect(page.w.tap).toBe(first);
    expect(page.sent).toHaveLength(1);
  });
});

describe('what is sent', () => {
  it.each([
    ['convert', ORDER, '/convert'],
    ['convert', { external_id: 7, coupon: 'TYPED', referral_code: 'server' }, '/convert'],
    ['customer', { customer_id: 'U1', meta_data: { plan: 'pro' } }, '/customer'],
  ])('tap.%s(%j) posts it as text/plain JSON with keepalive to %s', async (method, input, path) => {
    page = await openPage({ url: 'https://www.shop.example/thanks' });
    await page.w.tap[method](input);
    expect(page.sent).toEqual([
      {
        url: 'https://www.shop.example/_tap' + path,
        method: 'POST',
        keepalive: true,
        credentials: 'include',
        contentType: expect.stringMatching(/^text\/plain/),
        body: input,
      },
    ]);
  });

  it('does not copy the stored attribution into the body: the proxy reads the cookie', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna&coupon=C' });
    await page.w.tap.convert({ external_id: 'A' });
    expect(page.sent[0].body).toEqual({ external_id: 'A' });
  });

  // The harness adds ?view=N to every src, so the folder is also found past a query.
  it.each([
    ['the folder of its own src', {}, '/_tap/tap.js', 'https://www.shop.example/_tap/convert'],
    ['the folder of a cross-origin src', {}, 'https://cdn.example/_tap/tap.js', 'https://cdn.example/_tap/convert'],
    ['data-endpoint', { 'data-endpoint': 'https://track.shop.example/x/' }, '/_tap/tap.js', 'https://track.shop.example/x/convert'],
    ['a relative data-endpoint', { 'data-endpoint': '/api/tap' }, '/_tap/tap.js', 'https://www.shop.example/api/tap/convert'],
  ])('sends to %s, with credentials', async (_name, attrs, src, url) => {
    page = await openPage({ attrs, src });
    await page.w.tap.convert({ external_id: 'A' });
    expect(page.sent[0].url).toBe(url);
    expect(page.sent[0].credentials).toBe('include');
  });

  it('falls back to sendBeacon where fetch is missing', async () => {
    page = await openPage({ noFetch: 'beacon' });
    expect(await page.w.tap.convert(ORDER)).toEqual({ ok: true, status: 'queued' });
    expect(page.beacons).toEqual([{ url: 'https://www.shop.example/_tap/convert', body: ORDER }]);
    expect(await page.w.tap.convert(ORDER)).toEqual({ ok: true, status: 'duplicate' });
    expect(page.beacons).toHaveLength(1);
  });
});

describe('client-side checks', () => {
  it.each([
    ['convert', undefined, 'no-id'],
    ['convert', {}, 'no-id'],
    ['convert', { external_id: '  ' }, 'no-id'],
    ['convert', { external_id: null, amount: 5 }, 'no-id'],
    ['convert', 'ORD1', 'no-id'],
    ['customer', { external_id: 'A' }, 'no-id'],
  ])('tap.%s(%j) resolves skipped (%s) and sends nothing', async (method, input, reason) => {
    page = await openPage({ attrs: { 'data-debug': '' } });
    expect(await page.w.tap[method](input)).toEqual({ ok: false, status: 'skipped', reason });
    expect(page.sent).toEqual([]);
    expect(page.ignored()).toEqual([reason]);
  });

  it('an unknown command is ignored with a reason', async () => {
    page = await openPage({ attrs: { 'data-debug': '' } });
    expect(page.run("tap('track', 1)")).toEqual({ ok: false, status: 'skipped', reason: 'unknown' });
    expect(page.run("tap('toString')")).toEqual({ ok: false, status: 'skipped', reason: 'unknown' });
  });

  it.each([
    ['data-debug', { 'data-debug': '' }, '', true],
    ['?tap_debug=1', {}, '?tap_debug=1', true],
    ['neither', {}, '', false],
  ])('debug logging with %s: %s', async (_name, attrs, query, logs) => {
    page = await openPage({ url: 'https://www.shop.example/' + query, attrs });
    await page.w.tap.convert({});
    expect(page.logs.length > 0).toBe(logs);
    for (const line of page.logs) expect(line[0]).toBe('[tap]');
  });
});

describe('each external_id is sent once per browser', () => {
  it.each([
    ['sent', { status: 200, body: { ok: true, status: 'sent' } }],
    ['queued', { status: 202, body: { ok: true, status: 'queued' } }],
    ['duplicate at the proxy', { status: 200, body: { ok: true, status: 'duplicate' } }],
    ['unattributed', { status: 200, body: { ok: true, status: 'unattributed' } }],
  ])('after an answer of %s, a reload sends nothing and resolves duplicate', async (_name, reply) => {
    page = await openPage({ replies: [reply] });
    expect(await page.w.tap.convert(ORDER)).toEqual(reply.body);
    await page.next('https://www.shop.example/thanks');
    expect(await page.w.tap.convert(ORDER)).toEqual({ ok: true, status: 'duplicate' });
    expect(page.sent).toHaveLength(1);
  });

  it('a double call in the same page view sends once, even before the answer', async () => {
    page = await openPage();
    const [first, second] = await Promise.all([page.w.tap.convert(ORDER), page.w.tap.convert({ ...ORDER, external_id: 'ORD005' })]);
    expect([first, second]).toEqual([{ ok: true, status: 'sent' }, { ok: true, status: 'duplicate' }]);
    expect(page.sent).toHaveLength(1);
  });

  it('a number and its string are the same external_id', async () => {
    page = await openPage();
    await page.w.tap.convert({ external_id: 5 });
    expect(await page.w.tap.convert({ external_id: '5' })).toEqual({ ok: true, status: 'duplicate' });
  });

  it('a conversion and a customer with the same id are different events', async () => {
    page = await openPage();
    await page.w.tap.convert({ external_id: 'X' });
    expect(await page.w.tap.customer({ customer_id: 'X' })).toEqual({ ok: true, status: 'sent' });
  });

  it('remembers only the newest 50 ids', async () => {
    page = await openPage();
    for (let i = 0; i < 51; i++) await page.w.tap.convert({ external_id: 'O' + i });
    expect(Object.keys(JSON.parse(page.w.localStorage.getItem('tap_events')))).toHaveLength(50);
    expect(await page.w.tap.convert({ external_id: 'O50' })).toEqual({ ok: true, status: 'duplicate' });
    expect(await page.w.tap.convert({ external_id: 'O0' })).toEqual({ ok: true, status: 'sent' });
  });
});

describe('the outbox', () => {
  it.each([
    ['a network error', 'network-error' as const, { ok: false, status: 'offline', reason: 'no-answer' }],
    ['an HTML 404 from a missing route', 'html' as const, { ok: false, status: 'offline', reason: 'no-answer' }],
    ['a 503 from the proxy', { status: 503, body: { ok: false, error: 'not_configured' } }, { ok: false, error: 'not_configured' }],
    ['a 429 from the proxy', { status: 429, body: { ok: false, error: 'rate_limited' } }, { ok: false, error: 'rate_limited' }],
  ])('keeps the event after %s and resends it on the next page view', async (_name, reply, result) => {
    page = await openPage({ replies: [reply] });
    expect(await page.w.tap.convert(ORDER)).toEqual(result);
    page.setReplies([{ status: 200, body: { ok: true, status: 'sent' } }]);
    await page.next('https://www.shop.example/other');
    expect(page.sent.map((request) => request.body)).toEqual([ORDER, ORDER]);
    // Answered now, so a third page view sends nothing more.
    await page.next('https://www.shop.example/third');
    expect(page.sent).toHaveLength(2);
    expect(await page.w.tap.convert(ORDER)).toEqual({ ok: true, status: 'duplicate' });
  });

  it.each([
    [400, { ok: false, error: 'invalid_request', issues: [{ path: 'currency', message: 'must be a three-letter ISO 4217 code' }] }],
    [403, { ok: false, error: 'origin_not_allowed' }],
    [422, { ok: false, error: 'upstream_rejected', message: 'Referral code not found.' }],
  ])('drops the event after a %s: the answer is final', async (status, body) => {
    page = await openPage({ replies: [{ status, body }], attrs: { 'data-debug': '' } });
    expect(await page.w.tap.convert(ORDER)).toEqual(body);
    await page.next('https://www.shop.example/other');
    expect(page.sent).toHaveLength(1);
    expect(page.ignored()).toEqual(['refused convert:ORD005']);
  });

  it('a refused event may be sent again once the page is fixed', async () => {
    page = await openPage({ replies: [{ status: 400, body: { ok: false, error: 'invalid_request' } }, { status: 200, body: { ok: true, status: 'sent' } }] });
    await page.w.tap.convert({ external_id: 'A', currency: 'euro' });
    expect(await page.w.tap.convert({ external_id: 'A', currency: 'EUR' })).toEqual({ ok: true, status: 'sent' });
  });

  it('keeps retrying across page views until the proxy answers', async () => {
    page = await openPage({ replies: ['network-error'] });
    await page.w.tap.convert(ORDER);
    await page.next('https://www.shop.example/2');
    await page.next('https://www.shop.example/3');
    expect(page.sent).toHaveLength(3);
  });

  it('drops an unanswered event after a week', async () => {
    page = await openPage({ replies: ['network-error'], attrs: { 'data-debug': '' } });
    await page.w.tap.convert(ORDER);
    const events = JSON.parse(page.w.localStorage.getItem('tap_events'));
    events['convert:ORD005'].t -= 8 * 864e5;
    page.w.localStorage.setItem('tap_events', JSON.stringify(events));
    await page.next('https://www.shop.example/2');
    expect(page.sent).toHaveLength(1);
    expect(page.ignored()).toContain('expired convert:ORD005');
    expect(JSON.parse(page.w.localStorage.getItem('tap_events'))).not.toHaveProperty(['convert:ORD005']);
  });

  it("keeps another tab's outbox: a save never writes back a stale copy", async () => {
    page = await openPage();
    await page.w.tap.convert({ external_id: 'TAB-A1' });
    // Meanwhile another tab of the same shop keeps an event it could not send.
    const events = JSON.parse(page.w.localStorage.getItem('tap_events'));
    events['convert:TAB-B1'] = { b: JSON.stringify({ external_id: 'TAB-B1' }), t: Date.now() };
    page.w.localStorage.setItem('tap_events', JSON.stringify(events));
    await page.w.tap.convert({ external_id: 'TAB-A2' });
    expect(Object.keys(JSON.parse(page.w.localStorage.getItem('tap_events')))).toEqual(['convert:TAB-A1', 'convert:TAB-B1', 'convert:TAB-A2']);
  });
});

describe('consent', () => {
  const required = { 'data-consent': 'required', 'data-debug': '' };

  it('with data-consent="required" nothing is written or sent before consent', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna', attrs: required, before: [STUB, "tap('convert', { external_id: 'A' })"] });
    expect(page.cookieWrites).toEqual([]);
    expect(page.sent).toEqual([]);
    expect(page.w.localStorage.length).toBe(0);
  });

  it('tap("consent", true) stores the landing and sends what waited, in order', async () => {
    page = await openPage({
      url: 'https://www.shop.example/?ref=anna',
      attrs: required,
      before: [STUB, "tap('convert', { external_id: 'A' })"],
    });
    const waiting = page.w.tap.convert({ external_id: 'B' });
    page.run("tap('consent', true)");
    expect(await waiting).toEqual({ ok: true, status: 'sent' });
    await settle();
    expect(page.stored()).toMatchObject({ referral_code: 'anna' });
    expect(page.sent.map((request) => request.body.external_id)).toEqual(['A', 'B']);
  });

  it('tap.consent(false) drops what waited, and later calls', async () => {
    page = await openPage({ attrs: required });
    const waiting = page.w.tap.convert({ external_id: 'A' });
    page.w.tap.consent(false);
    expect(await waiting).toEqual({ ok: false, status: 'skipped', reason: 'no-consent' });
    expect(await page.w.tap.convert({ external_id: 'B' })).toEqual({ ok: false, status: 'skipped', reason: 'no-consent' });
    expect(page.sent).toEqual([]);
    expect(page.cookieWrites).toEqual([]);
  });

  it('the outbox waits for consent on the next page view too', async () => {
    page = await openPage({ replies: ['network-error', { status: 200, body: { ok: true, status: 'sent' } }] });
    await page.w.tap.convert(ORDER);
    await page.next('https://www.shop.example/2', { attrs: required });
    expect(page.sent).toHaveLength(1);
    // A CMP may call it twice; the second call must not resend what is in flight.
    page.w.tap.consent(true);
    page.w.tap.consent(true);
    await settle();
    expect(page.sent).toHaveLength(2);
  });
});
