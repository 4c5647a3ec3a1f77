import Cookies from 'js-cookie';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openPage, type Page } from './page';

let page: Page;
afterEach(() => page?.close());

const attribute = (write: string, name: string) => write.split('; ').find((part) => part.toLowerCase().startsWith(name));

describe('the cookie lands on the broadest domain the browser accepts', () => {
  it.each([
    ['https://www.shop.example/?ref=a', 'domain=shop.example'],
    ['https://checkout.shop.example/?ref=a', 'domain=shop.example'],
    ['https://shop.example/?ref=a', 'domain=shop.example'],
    // happy-dom applies the public suffix list, as browsers do.
    ['https://x.pages.dev/?ref=a', 'domain=x.pages.dev'],
    ['https://shop.co.uk/?ref=a', 'domain=shop.co.uk'],
    ['http://192.168.1.20/?ref=a', 'domain=192.168.1.20'],
    ['http://localhost:8787/?ref=a', undefined],
  ])('%s → %s', async (url, domain) => {
    page = await openPage({ url });
    expect(page.stored()).toMatchObject({ referral_code: 'a' });
    const kept = page.cookieWrites.at(-1)!;
    expect(attribute(kept, 'domain=')).toBe(domain);
  });

  it('tries the broadest candidate first and keeps the first accepted', async () => {
    // A browser that treats shop.example as a suffix (say, a private PSL entry) refuses it.
    page = await openPage({
      url: 'https://a.www.shop.example/?ref=a',
      refuseCookie: (write) => write.includes('domain=shop.example;'),
    });
    expect(page.cookieWrites.map((write) => attribute(write, 'domain='))).toEqual([
      'domain=shop.example',
      'domain=www.shop.example',
    ]);
    expect(page.stored()).toMatchObject({ referral_code: 'a' });
  });

  it('falls back to a host-only cookie when every domain is refused', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=a', refuseCookie: (write) => write.includes('domain=') });
    expect(page.cookieWrites.map((write) => attribute(write, 'domain='))).toEqual([
      'domain=shop.example',
      'domain=www.shop.example',
      undefined,
    ]);
    expect(page.stored()).toMatchObject({ referral_code: 'a' });
  });

  it('www. and checkout. share one cookie', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna' });
    await page.next('https://checkout.shop.example/pay');
    expect(page.stored()).toMatchObject({ referral_code: 'anna' });
    expect(page.w.tap.data()).toMatchObject({ referral_code: 'anna' });
  });

  it('data-cookie-domain overrides the probe and is written once', async () => {
    page = await openPage({ url: 'https://a.www.shop.example/?ref=a', attrs: { 'data-cookie-domain': 'www.shop.example' } });
    expect(page.cookieWrites).toHaveLength(1);
    expect(attribute(page.cookieWrites[0], 'domain=')).toBe('domain=www.shop.example');
  });
});

describe('cookie attributes (docs/reference.md, "The cookie")', () => {
  it.each([
    ['https://www.shop.example/?ref=a', {}, 'max-age=7776000', true],
    ['http://localhost:8787/?ref=a', {}, 'max-age=7776000', false],
    ['https://www.shop.example/?ref=a', { 'data-cookie-days': '30' }, 'max-age=2592000', true],
  ])('%s %j → %s, secure %s', async (url, attrs, maxAge, secure) => {
    page = await openPage({ url, attrs });
    const write = page.cookieWrites.at(-1)!;
    expect(write).toMatch(/^tap_data=/);
    expect(attribute(write, 'path=')).toBe('path=/');
    expect(attribute(write, 'samesite=')).toBe('samesite=lax');
    expect(attribute(write, 'max-age=')).toBe(maxAge);
    expect(write.split('; ').includes('secure')).toBe(secure);
  });
});

describe('a cookie written by the proxy or tampered with', () => {
  const withCookie = async (value: string) => {
    page = await openPage({ url: 'https://www.shop.example/thanks' });
    page.window.document.cookie = 'tap_data=' + value + '; path=/';
    return page.w.tap.data();
  };
  it.each([
    ['encoded JSON, as the snippet writes it', encodeURIComponent('{"referral_code":"anna","ts":1795000000}'), { referral_code: 'anna', ts: 1795000000 }],
    ['raw JSON from Set-Cookie', '{"referral_code":"anna","click_id":"c1","ts":1795000000}', { referral_code: 'anna', click_id: 'c1', ts: 1795000000 }],
    ['not JSON', 'anna', null],
    ['broken percent-encoding', '%E0%A4%A', null],
    ['JSON without ts', encodeURIComponent('{"referral_code":"anna"}'), null],
    ['ts as a string', encodeURIComponent('{"referral_code":"anna","ts":"1"}'), null],
    ['an angle bracket in a field', encodeURIComponent('{"referral_code":"<img>","ts":1}'), null],
    ['a number where a code belongs', encodeURIComponent('{"referral_code":5,"ts":1}'), null],
    ['JSON null', 'null', null],
    ['a JSON array', '[1]', null],
  ])('%s', async (_name, value, expected) => {
    expect(await withCookie(value)).toEqual(expected);
  });

  it('first attribution replaces a tampered cookie instead of keeping it', async () => {
    page = await openPage({ url: 'https://www.shop.example/' });
    page.window.document.cookie = 'tap_data=garbage; path=/; domain=shop.example';
    await page.next('https://www.shop.example/?ref=anna', { attrs: { 'data-attribution': 'first' } });
    expect(page.w.tap.data()).toMatchObject({ referral_code: 'anna' });
  });
});

// docs/reference.md promises js-cookie's format; the snippet writes the same format by hand to stay in its
// size budget, so js-cookie itself checks that each side reads what the other wrote.
describe('the cookie format is the one js-cookie reads and writes', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('js-cookie reads the attribution the snippet stored', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna&click_id=c%201' });
    vi.stubGlobal('document', page.window.document);
    expect(JSON.parse(Cookies.get('tap_data')!)).toEqual(page.w.tap.data());
    expect(page.w.tap.data()).toMatchObject({ referral_code: 'anna', click_id: 'c 1' });
  });

  it('the snippet reads attribution that js-cookie stored', async () => {
    page = await openPage({ url: 'https://www.shop.example/thanks' });
    vi.stubGlobal('document', page.window.document);
    const stored = { referral_code: 'ännа/{x}', coupon: 'SAVE;10', ts: 1795000000 };
    Cookies.set('tap_data', JSON.stringify(stored), { path: '/' });
    expect(page.w.tap.data()).toEqual(stored);
  });
});
