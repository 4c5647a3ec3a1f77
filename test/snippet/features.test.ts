// The snippet's v2 features, each against the real dist/ files: clicks, single-page
// apps, references, cross-domain links, test mode, signed events, the lazy events file.
import { afterEach, describe, expect, it } from 'vitest';
import { STUB, openPage, settle, type Page } from './page';

let page: Page;
afterEach(() => page?.close());

const ORDER = { external_id: 'ORD005', amount: 100, currency: 'EUR' };
const clickOf = (page: Page) => page.clicks.map((click) => click.body);

describe('a new attribution is reported to POST /click', () => {
  it('sends the captured fields, landing page, referrer, cookie domain and lifetime, with the cookie written first', async () => {
    page = await openPage({ url: 'https://www.shop.example/p?ref=anna&coupon=C1', attrs: { 'data-cookie-days': '30' } });
    expect(page.clicks).toHaveLength(1);
    const [click] = page.clicks;
    expect(click.url).toBe('https://www.shop.example/_tap/click');
    expect(click).toMatchObject({ method: 'POST', keepalive: true, credentials: 'include', contentType: expect.stringMatching(/^text\/plain/) });
    expect(click.body).toEqual({
      referral_code: 'anna',
      coupon: 'C1',
      landing_page: 'https://www.shop.example/p?ref=anna&coupon=C1',
      referrer: '',
      cookie_domain: 'shop.example',
      cookie_days: 30,
      ts: page.stored().ts,
      landed_at: expect.any(Number),
    });
    expect(Math.floor(click.body.landed_at / 1000)).toBe(page.stored().ts);
    expect(click.cookie).toMatch(/tap_data=[^;]*anna/);
  });

  it('sends cookie_domain "" for a host-only cookie', async () => {
    page = await openPage({ url: 'http://localhost:8787/?ref=anna' });
    expect(clickOf(page)[0].cookie_domain).toBe('');
  });

  it.each([
    ['a reload of the same landing', 'https://www.shop.example/p?ref=anna', 0],
    ['a reload after the proxy added click_id', 'https://www.shop.example/p?ref=anna', 0, true],
    ['a page without tracking parameters', 'https://www.shop.example/other', 0],
    ['a landing of another affiliate', 'https://www.shop.example/p?ref=bob', 1],
  ])('%s writes and sends %s more', async (_name, second, more, proxyClickId = false) => {
    page = await openPage({ url: 'https://www.shop.example/p?ref=anna' });
    if (proxyClickId) page.window.document.cookie = `tap_data=${encodeURIComponent(JSON.stringify({ ...page.stored(), click_id: 'clk_1' }))}; path=/; domain=shop.example`;
    const writes = page.cookieWrites.length;
    await page.next(second);
    expect(page.clicks).toHaveLength(1 + more);
    expect(page.cookieWrites.length > writes).toBe(more > 0);
  });

  it('first attribution sends no click while something is stored', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna', attrs: { 'data-attribution': 'first' } });
    await page.next('https://www.shop.example/?ref=bob');
    expect(clickOf(page).map((click) => click.referral_code)).toEqual(['anna']);
  });

  it('a failed click keeps the cookie and is not retried', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna', clickReplies: ['network-error'] });
    expect(page.stored()).toMatchObject({ referral_code: 'anna' });
    await page.next('https://www.shop.example/other');
    expect(page.clicks).toHaveLength(1);
    expect(page.sent).toHaveLength(0);
  });

  it('waits for consent', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna', attrs: { 'data-consent': 'required' } });
    expect(page.clicks).toHaveLength(0);
    page.w.tap.consent(true);
    await settle();
    expect(clickOf(page)).toMatchObject([{ referral_code: 'anna' }]);
  });
});

describe('single-page apps', () => {
  it.each(['pushState', 'replaceState'])('history.%s to a URL with ?ref= is a landing', async (method) => {
    page = await openPage({ url: 'https://www.shop.example/' });
    page.run(`history.${method}({}, '', '/p?ref=spa')`);
    await settle();
    expect(page.stored()).toMatchObject({ referral_code: 'spa' });
    expect(clickOf(page)).toMatchObject([{ referral_code: 'spa', landing_page: 'https://www.shop.example/p?ref=spa' }]);
  });

  it('popstate is a landing', async () => {
    page = await openPage({ url: 'https://www.shop.example/' });
    page.window.happyDOM.setURL('https://www.shop.example/back?ref=pop');
    page.window.dispatchEvent(new page.window.PopStateEvent('popstate'));
    expect(page.stored()).toMatchObject({ referral_code: 'pop' });
  });

  it('calls the original with the same this and arguments and returns its result', async () => {
    page = await openPage({
      url: 'https://www.shop.example/',
      before: [`var native = history.pushState;
        history.pushState = function (state, title, url) {
          window.routed = { self: this === history, args: arguments.length, url: url };
          native.apply(this, arguments);
          return 'router-result';
        };`],
    });
    expect(page.run("history.pushState({ a: 1 }, '', '/p?ref=spa')")).toBe('router-result');
    expect(page.w.routed).toEqual({ self: true, args: 3, url: '/p?ref=spa' });
    expect(page.stored()).toMatchObject({ referral_code: 'spa' });
  });

  it('a throw in the app’s own pushState reaches the app; one in ours does not', async () => {
    page = await openPage({ url: 'https://www.shop.example/', before: ["history.pushState = function () { throw new Error('router'); }"] });
    expect(() => page.run("history.pushState({}, '', '/x')")).toThrow('router');
    await page.close();
    page = await openPage({ url: 'https://www.shop.example/' });
    page.run("URLSearchParams = function () { throw new Error('ours'); }");
    expect(page.run("history.pushState({}, '', '/p?ref=spa'); 'ok'")).toBe('ok');
    expect(page.pageErrors).toEqual([]);
  });

  it('wraps once when the script is loaded twice', async () => {
    page = await openPage({ url: 'https://www.shop.example/' });
    const wrapped = page.w.history.pushState;
    const tag = page.window.document.createElement('script');
    tag.src = '/_tap/tap.js?copy';
    page.window.document.body.appendChild(tag);
    await page.window.happyDOM.waitUntilComplete();
    expect(page.w.history.pushState).toBe(wrapped);
    page.run("history.pushState({}, '', '/p?ref=spa')");
    await settle();
    expect(page.clicks).toHaveLength(1);
  });

  it('waits for consent', async () => {
    page = await openPage({ url: 'https://www.shop.example/', attrs: { 'data-consent': 'required' } });
    page.run("history.pushState({}, '', '/p?ref=spa')");
    expect(page.cookieWrites).toEqual([]);
  });
});

describe('references', () => {
  it('tap.reference() encodes the stored attribution, or is null', async () => {
    page = await openPage({ url: 'https://www.shop.example/' });
    expect(page.w.tap.reference()).toBeNull();
    await page.next('https://www.shop.example/?ref=anna');
    expect(page.w.tap.reference()).toBe('t1YW5uYT4-Pj4');
    expect(page.run("tap('reference')")).toBe('t1YW5uYT4-Pj4');
  });

  it('a landing with tap_ref on another domain stores all its identifiers and reports the click', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna&aid=7&sid=fb&coupon=C1&click_id=k9' });
    const stored = page.stored();
    delete stored.ts;
    const reference = page.w.tap.reference();
    page.close();
    page = await openPage({ url: 'https://shop.co.uk/pay?tap_ref=' + reference });
    expect(page.stored()).toEqual({ ...stored, ts: expect.any(Number) });
    expect(clickOf(page)).toMatchObject([stored]);
  });

  it('a parameter of its own beats the same field in tap_ref', async () => {
    page = await openPage({ url: 'https://shop.co.uk/?coupon=OWN&tap_ref=t1YW5uYT4-Pj4' });
    expect(page.stored()).toMatchObject({ referral_code: 'anna', coupon: 'OWN' });
  });

  it.each(['t1', 'nope', 't1!!!', 't1PD4-Pj4-'])('an invalid tap_ref %s is no landing', async (reference) => {
    page = await openPage({ url: 'https://shop.co.uk/?tap_ref=' + reference });
    expect(page.cookieWrites).toEqual([]);
    expect(page.clicks).toEqual([]);
  });
});

describe('data-domains adds tap_ref to followed links to the listed hosts', () => {
  const open = async (stored = '?ref=anna', attrs: Record<string, string> = { 'data-domains': 'checkout.other.com, Pay.Example.net, www.shop.example' }) => {
    page = await openPage({ url: 'https://www.shop.example/' + stored, attrs });
    const document = page.window.document;
    // Rendered after load, as a framework would.
    document.body.innerHTML = `
      <a id="listed" href="https://checkout.other.com/cart?x=1&amp;tap_ref=old"><span id="inner">Pay</span></a>
      <a id="second" href="https://pay.example.net/">Pay</a>
      <a id="other" href="https://evil.example/">Other</a>
      <a id="sub" href="https://a.checkout.other.com/">Sub</a>
      <a id="self" href="https://www.shop.example/next">Self</a>`;
    // The test follows nothing: it only looks at the href after the click.
    document.addEventListener('click', (event) => event.preventDefault());
    return (id: string, type = 'click') => {
      document.getElementById(id)!.dispatchEvent(new page.window.MouseEvent(type, { bubbles: true, cancelable: true }));
      return (document.getElementById(id === 'inner' ? 'listed' : id) as unknown as HTMLAnchorElement).href;
    };
  };

  it('replaces tap_ref on a listed host, from a click on a child element', async () => {
    const follow = await open();
    expect(follow('inner')).toBe('https://checkout.other.com/cart?x=1&tap_ref=t1YW5uYT4-Pj4');
  });

  it('on a middle click (auxclick), with hosts matched in any case', async () => {
    const follow = await open();
    expect(follow('second', 'auxclick')).toBe('https://pay.example.net/?tap_ref=t1YW5uYT4-Pj4');
  });

  it.each(['other', 'sub', 'self'])('never touches the link %s', async (id) => {
    const follow = await open();
    const before = (page.window.document.getElementById(id) as unknown as HTMLAnchorElement).href;
    expect(follow(id)).toBe(before);
  });

  it('does nothing without a stored attribution, without data-domains, or before consent', async () => {
    let follow = await open('');
    expect(follow('second')).toBe('https://pay.example.net/');
    page.close();
    follow = await open('?ref=anna', {});
    expect(follow('second')).toBe('https://pay.example.net/');
    page.close();
    follow = await open('?ref=anna', { 'data-domains': 'pay.example.net', 'data-consent': 'required' });
    expect(follow('second')).toBe('https://pay.example.net/');
  });
});

describe('test mode', () => {
  it.each([
    ['data-test', { 'data-test': '' }, 'https://www.shop.example/p?ref=anna'],
    ['?tap_test=1', {}, 'https://www.shop.example/p?ref=anna&tap_test=1'],
  ])('with %s every body carries test: true, and debug mode says so', async (_name, attrs, url) => {
    page = await openPage({ url, attrs: { ...attrs, 'data-debug': '' } });
    await page.w.tap.convert(ORDER);
    await page.w.tap.customer({ customer_id: 'U1' });
    expect(clickOf(page)[0].test).toBe(true);
    expect(page.sent.map((request) => request.body)).toEqual([{ ...ORDER, test: true }, { customer_id: 'U1', test: true }]);
    expect(page.logs).toContainEqual(['[tap]', 'test']);
  });

  it('?tap_test=1 lasts for the rest of the tab session', async () => {
    page = await openPage({ url: 'https://www.shop.example/?tap_test=1' });
    await page.next('https://www.shop.example/thanks');
    await page.w.tap.convert(ORDER);
    expect(page.sent[0].body.test).toBe(true);
  });

  it('?tap_test=1 is ignored when a real attribution is stored, so a stranger\'s link cannot make a shopper a test', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna', attrs: { 'data-debug': '' } });
    await page.next('https://www.shop.example/p?ref=mallory&tap_test=1');
    await page.next('https://www.shop.example/thanks');
    await page.w.tap.convert(ORDER);
    expect(page.sent[0].body).not.toHaveProperty('test');
    expect(clickOf(page).map((click) => click.test)).toEqual([undefined, undefined]);
    expect(page.ignored()).toContain('test-over-real');
  });

  it('a later landing with tracking parameters and no tap_test ends the session\'s test mode', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna&tap_test=1' });
    await page.next('https://www.shop.example/p?ref=bob');
    await page.next('https://www.shop.example/thanks');
    await page.w.tap.convert(ORDER);
    expect(clickOf(page).map((click) => click.test)).toEqual([true, undefined]);
    expect(page.sent[0].body).not.toHaveProperty('test');
  });

  it('a reload of the test landing stays a test, and a page without tracking parameters keeps it', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna&tap_test=1' });
    await page.next('https://www.shop.example/?ref=anna&tap_test=1');
    await page.next('https://www.shop.example/cart?utm_source=x');
    await page.w.tap.convert(ORDER);
    expect(page.sent[0].body.test).toBe(true);
  });

  it('is off otherwise: no test field at all', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna' });
    await page.w.tap.convert(ORDER);
    expect(page.sent[0].body).not.toHaveProperty('test');
    expect(clickOf(page)[0]).not.toHaveProperty('test');
  });

  it('a test answer is final but not counted as sent: the same id can be sent for real later', async () => {
    const TEST_ANSWER = { ok: true, status: 'test', postbacks: [{ kind: 'conversion', url: 'https://api.tapfiliate.com/1.7/pb/con/c/', body: {} }] };
    page = await openPage({ attrs: { 'data-test': '' }, replies: [{ status: 200, body: TEST_ANSWER }, { status: 200, body: { ok: true, status: 'sent' } }] });
    expect(await page.w.tap.convert(ORDER)).toEqual(TEST_ANSWER);
    expect(JSON.parse(page.w.localStorage.getItem('tap_events'))).toEqual({});
    await page.next('https://www.shop.example/thanks', { attrs: {} });
    expect(page.sent).toHaveLength(1);
    expect(await page.w.tap.convert(ORDER)).toEqual({ ok: true, status: 'sent' });
    expect(page.sent[1].body).toEqual(ORDER);
  });
});

describe('signed events', () => {
  const SIGNED = { signed: '{"external_id":"ORD9","amount":100}', signature: 'ab'.repeat(32), referral_code: 'typed' };

  it.each([
    ['convert', SIGNED, '/convert'],
    ['customer', { signed: '{"customer_id":"U9"}', signature: 'cd'.repeat(32) }, '/customer'],
  ])('tap.%s passes signed and signature through unchanged', async (method, input, path) => {
    page = await openPage();
    expect(await page.w.tap[method](input)).toEqual({ ok: true, status: 'sent' });
    expect(page.sent).toMatchObject([{ url: 'https://www.shop.example/_tap' + path, body: input }]);
  });

  it('the duplicate guard uses the id inside signed', async () => {
    page = await openPage();
    await page.w.tap.convert({ ...SIGNED, external_id: 'OUTER' });
    expect(await page.w.tap.convert({ ...SIGNED, external_id: 'OTHER' })).toEqual({ ok: true, status: 'duplicate' });
    expect(await page.w.tap.convert({ ...SIGNED, signed: '{"external_id":"ORD10"}', external_id: 'OUTER' })).toEqual({ ok: true, status: 'sent' });
  });

  it('an unsigned event with the same id is kept apart from a signed one, either way round: the trust mode decides which one the worker takes', async () => {
    page = await openPage();
    await page.w.tap.convert(SIGNED);
    expect(await page.w.tap.convert({ external_id: 'ORD9' })).toEqual({ ok: true, status: 'sent' });
    expect(await page.w.tap.customer({ customer_id: 'U9' })).toEqual({ ok: true, status: 'sent' });
    expect(await page.w.tap.customer({ signed: '{"customer_id":"U9"}', signature: 'cd'.repeat(32) })).toEqual({ ok: true, status: 'sent' });
    expect(await page.w.tap.convert({ external_id: 'ORD9' })).toEqual({ ok: true, status: 'duplicate' });
    expect(await page.w.tap.convert(SIGNED)).toEqual({ ok: true, status: 'duplicate' });
    expect(page.sent).toHaveLength(4);
  });

  it.each([
    ['signed is not JSON', { signed: 'garbage', signature: 'x', external_id: 'OUT1' }, { signed: 'other garbage', signature: 'y', external_id: 'OUT1' }],
    ['signed has no id', { signed: '{"amount":1}', signature: 'x', external_id: 'OUT2' }, { signed: '{"amount":2}', signature: 'y', external_id: 'OUT2' }],
    ['signed is not a string', { signed: { external_id: 'IN' }, external_id: 'OUT3' }, { signed: { external_id: 'ELSE' }, external_id: 'OUT3' }],
  ])('falls back to the outer id when %s', async (_name, input, again) => {
    page = await openPage();
    await page.w.tap.convert(input);
    expect(await page.w.tap.convert(again)).toEqual({ ok: true, status: 'duplicate' });
    expect(page.sent).toHaveLength(1);
  });

  it('without an id anywhere, nothing is sent', async () => {
    page = await openPage({ attrs: { 'data-debug': '' } });
    expect(await page.w.tap.convert({ signed: '{"amount":1}', signature: 'x' })).toEqual({ ok: false, status: 'skipped', reason: 'no-id' });
    expect(page.sent).toEqual([]);
  });

  it.each(['signature_required', 'invalid_signature', 'signature_expired'])('a 401 %s is final', async (error) => {
    page = await openPage({ replies: [{ status: 401, body: { ok: false, error } }], attrs: { 'data-debug': '' } });
    expect(await page.w.tap.convert(SIGNED)).toEqual({ ok: false, error });
    await page.next('https://www.shop.example/other');
    expect(page.sent).toHaveLength(1);
    expect(page.ignored()).toEqual(['refused convert:ORD9 signed']);
  });
});

describe('the events file loads only where it is used', () => {
  /** How many times the events file was requested since the last look (its tags are removed). */
  const eventsLoads = (page: Page) => {
    const scripts = [...page.window.document.querySelectorAll('script')].filter((script) => /tap-events\.js/.test(script.src));
    for (const script of scripts) script.remove();
    return scripts.length;
  };

  it('a page view without events or a tracking parameter does not load it; a landing loads it to store the landing and send its click', async () => {
    page = await openPage({ url: 'https://www.shop.example/' });
    expect(eventsLoads(page)).toBe(0);
    await page.next('https://www.shop.example/?ref=anna');
    expect(eventsLoads(page)).toBe(1);
    // A reload of the landing is read again, and keeps what is stored: no second click.
    await page.next('https://www.shop.example/?ref=anna');
    expect(eventsLoads(page)).toBe(1);
    await page.next('https://www.shop.example/other');
    expect(eventsLoads(page)).toBe(0);
    expect(page.clicks).toHaveLength(1);
  });

  it('a landing cookie older than data-cookie-days is dropped, not stored', async () => {
    const old = Date.now() - 31 * 24 * 60 * 60 * 1000;
    const LEFT_LONG_AGO = `document.cookie = 'tap_l=' + encodeURIComponent('${old} https://www.shop.example/p?ref=anna') + '; path=/'`;
    page = await openPage({ url: 'https://www.shop.example/other', attrs: { 'data-cookie-days': '30' }, before: [LEFT_LONG_AGO] });
    expect(page.stored()).toBeNull();
    expect(page.clicks).toEqual([]);
    expect(page.cookie()).not.toMatch(/tap_l=/);
  });

  it('a landing left before tap-events.js ran is stored by the next page view, with its own time and URL', async () => {
    // The events file fails to load on the landing (blocked, or the tab closed first).
    const BLOCK_EVENTS = `document.head.appendChild = function (node) {
      if (/tap-events/.test(node.src)) { setTimeout(() => node.onerror && node.onerror()); return node; }
      return Node.prototype.appendChild.call(this, node);
    }`;
    page = await openPage({ url: 'https://www.shop.example/p?ref=anna', before: [BLOCK_EVENTS] });
    expect(page.stored()).toBeNull();
    expect(page.cookie()).toMatch(/(^|; )tap_l=/);
    await page.next('https://www.shop.example/other', { before: ['delete document.head.appendChild'] });
    expect(page.stored()).toMatchObject({ referral_code: 'anna' });
    expect(page.clicks.map((click) => click.body.landing_page)).toEqual(['https://www.shop.example/p?ref=anna']);
    expect(page.cookie()).not.toMatch(/tap_l=/);
  });

  it('the first tap.convert loads it once, from the folder of tap.js with its query', async () => {
    page = await openPage({ src: 'https://cdn.example/_tap/tap.js' });
    await Promise.all([page.w.tap.convert({ external_id: 'A' }), page.w.tap.customer({ customer_id: 'B' })]);
    const scripts = [...page.window.document.querySelectorAll('script')].filter((script) => /tap-events/.test(script.src));
    expect(scripts.map((script) => script.src)).toEqual(['https://cdn.example/_tap/tap-events.js?view=1']);
  });

  it('an event waiting in the outbox loads it on the next page view', async () => {
    page = await openPage({ replies: ['network-error', { status: 200, body: { ok: true, status: 'sent' } }] });
    await page.w.tap.convert(ORDER);
    eventsLoads(page);
    await page.next('https://www.shop.example/other');
    expect(eventsLoads(page)).toBe(1);
    expect(page.sent).toHaveLength(2);
    await page.next('https://www.shop.example/third');
    expect(eventsLoads(page)).toBe(0);
  });
});

describe('an event is kept in the outbox before the events file loads', () => {
  /** Points the events file at a missing URL, as a blocked or broken CDN would. */
  const BREAK_EVENTS_URL = `document.head.appendChild = function (node) {
    if (/tap-events/.test(node.src)) node.src = '/_tap/missing-tap-events.js';
    return Node.prototype.appendChild.call(this, node);
  }`;
  /** Holds the events file back, as a slow network would, until the test calls window.releaseEvents(). */
  const HOLD_EVENTS = `document.head.appendChild = function (node) {
    if (!/tap-events/.test(node.src)) return Node.prototype.appendChild.call(this, node);
    window.releaseEvents = () => Node.prototype.appendChild.call(document.head, node);
    return node;
  }`;
  /** The next page view loads the events file normally (the same document carries over in these tests). */
  const RESTORE = ['delete document.head.appendChild'];
  const outbox = (page: Page) => JSON.parse(page.w.localStorage.getItem('tap_events') ?? 'null');

  it('when the file cannot load, the call resolves offline and the next page view sends the event', async () => {
    page = await openPage({ before: [BREAK_EVENTS_URL] });
    const before = Date.now();
    expect(await page.w.tap.convert(ORDER)).toEqual({ ok: false, status: 'offline', reason: 'not-loaded' });
    expect(page.sent).toEqual([]);
    const entry = outbox(page)['convert:ORD005'];
    expect(JSON.parse(entry.b)).toEqual(ORDER);
    expect(entry.t).toBeGreaterThanOrEqual(before);
    await page.next('https://www.shop.example/other', { before: RESTORE });
    expect(page.sent.map((request) => request.body)).toEqual([ORDER]);
    expect(page.sent[0].url).toBe('https://www.shop.example/_tap/convert');
    expect(outbox(page)).toEqual({ 'convert:ORD005': 1 });
  });

  it('without the file, a repeat is still a duplicate, an event without id is still skipped, and neither is stored', async () => {
    page = await openPage({ before: [BREAK_EVENTS_URL], attrs: { 'data-debug': '' } });
    await page.w.tap.convert(ORDER);
    expect(await page.w.tap.convert(ORDER)).toEqual({ ok: true, status: 'duplicate' });
    expect(await page.w.tap.convert({ amount: 5 })).toEqual({ ok: false, status: 'skipped', reason: 'no-id' });
    expect(await page.w.tap.customer({ signed: '{"amount":1}', signature: 'x' })).toEqual({ ok: false, status: 'skipped', reason: 'no-id' });
    expect(Object.keys(outbox(page))).toEqual(['convert:ORD005']);
    expect(page.ignored()).toEqual(['dup', 'no-id', 'no-id']);
  });

  it('the key of a signed event is the id inside `signed`, marked signed, as tap-events.js would use', async () => {
    page = await openPage({ before: [BREAK_EVENTS_URL] });
    const signed = { signed: '{"external_id":"S1","amount":1}', signature: 'ab', external_id: 'OUTER' };
    expect(await page.w.tap.convert(signed)).toMatchObject({ status: 'offline' });
    expect(await page.w.tap.convert({ ...signed, external_id: 'S1' })).toEqual({ ok: true, status: 'duplicate' });
    expect(Object.keys(outbox(page))).toEqual(['convert:S1 signed']);
    expect(JSON.parse(outbox(page)['convert:S1 signed'].b)).toEqual(signed);
  });

  it('waits for consent: nothing is stored before it, and the event is stored once it is granted', async () => {
    page = await openPage({ before: [BREAK_EVENTS_URL], attrs: { 'data-consent': 'required' } });
    const waiting = page.w.tap.convert(ORDER);
    await settle();
    expect(outbox(page)).toBeNull();
    page.w.tap.consent(true);
    expect(await waiting).toEqual({ ok: false, status: 'offline', reason: 'not-loaded' });
    expect(Object.keys(outbox(page))).toEqual(['convert:ORD005']);
  });

  it('a slow file: the event is stored at once, and sent once when the file arrives', async () => {
    page = await openPage({ before: [HOLD_EVENTS] });
    const result = page.w.tap.convert(ORDER);
    await settle();
    expect(JSON.parse(outbox(page)['convert:ORD005'].b)).toEqual(ORDER);
    page.run('releaseEvents()');
    await page.window.happyDOM.waitUntilComplete();
    expect(await result).toEqual({ ok: true, status: 'sent' });
    expect(page.sent.map((request) => request.body)).toEqual([ORDER]);
    expect(outbox(page)).toEqual({ 'convert:ORD005': 1 });
  });

  it('a page left before the file arrives keeps the event, and the next page view sends it', async () => {
    page = await openPage({ before: [HOLD_EVENTS] });
    page.w.tap.convert(ORDER);
    await settle();
    await page.next('https://www.shop.example/other', { before: RESTORE });
    expect(page.sent.map((request) => request.body)).toEqual([ORDER]);
    expect(outbox(page)).toEqual({ 'convert:ORD005': 1 });
  });

  it("an earlier page view's event and this page view's are each sent once", async () => {
    page = await openPage({ before: [BREAK_EVENTS_URL] });
    await page.w.tap.convert(ORDER);
    // Queued before tap.js loads, so it is stored before the earlier one is replayed.
    await page.next('https://www.shop.example/thanks2', { before: [...RESTORE, STUB, "tap('convert', { external_id: 'ORD006' })"] });
    await settle();
    expect(page.sent.map((request) => request.body.external_id).sort()).toEqual(['ORD005', 'ORD006']);
    expect(outbox(page)).toEqual({ 'convert:ORD005': 1, 'convert:ORD006': 1 });
  });
});

describe('a plain page view', () => {
  // Chromium's first localStorage or sessionStorage access in a page is a slow
  // synchronous call: a page view with nothing to do makes none (npm run bench).
  const COUNT_STORAGE = `for (const name of ['getItem', 'setItem', 'removeItem']) {
    const original = Storage.prototype[name];
    Storage.prototype[name] = function (...args) { (window.storageCalls = window.storageCalls || []).push(name + ' ' + args[0]); return original.apply(this, args); };
  }`;

  it('opens no storage and writes no cookie when the URL has no tracking parameter and nothing waits', async () => {
    page = await openPage({ url: 'https://www.shop.example/product?s=shoes&utm_source=news', before: [COUNT_STORAGE] });
    expect(page.w.storageCalls).toBeUndefined();
    expect(page.allCookieWrites).toEqual([]);
    expect(page.clicks).toEqual([]);
    expect(typeof page.w.tap.reference).toBe('function');
  });

  it('resends an event an earlier page view left, told by the pending cookie', async () => {
    page = await openPage({ replies: ['network-error'] });
    expect(await page.w.tap.convert(ORDER)).toMatchObject({ ok: false, status: 'offline' });
    expect(page.cookie()).toMatch(/(^|; )tap_p=1/);
    page.setReplies([{ status: 200, body: { ok: true, status: 'sent' } }]);
    await page.next('https://www.shop.example/other');
    await settle();
    expect(page.sent.map((request) => request.body)).toEqual([ORDER, ORDER]);
    // Nothing waits any more: the cookie is gone, and the next page view opens no storage.
    expect(page.cookie()).not.toMatch(/tap_p=/);
  });
});

describe('debug mode', () => {
  it('?tap_debug=1 lasts for the rest of the tab session, so the thank-you page logs', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna&tap_debug=1' });
    await page.next('https://www.shop.example/thanks');
    page.logs.length = 0;
    await page.w.tap.convert(ORDER);
    expect(page.logs.filter((line) => line[0] == '[tap]').length).toBeGreaterThan(0);
  });

  it('says a blocked send is offline and kept, not `undefined`', async () => {
    page = await openPage({ attrs: { 'data-debug': '' }, replies: ['network-error'] });
    await page.w.tap.convert(ORDER);
    const lines = page.logs.filter((line) => line[0] == '[tap]').map((line) => line.slice(1).join(' '));
    expect(lines).toContain('convert:ORD005 offline, kept for the next page view');
    expect(lines.join('\n')).not.toMatch(/undefined/);
  });
});
