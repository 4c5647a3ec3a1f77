import { afterEach, describe, expect, it } from 'vitest';
import { openPage, type Page } from './page';

let page: Page;
afterEach(() => page?.close());

const landOn = async (query: string, attrs: Record<string, string> = {}) => {
  page = await openPage({ url: 'https://www.shop.example/landing' + query, attrs });
  const stored = page.stored();
  if (stored) delete stored.ts;
  return stored;
};

describe('every parameter alias of docs/reference.md is stored under its field', () => {
  it.each([
    ['?refc=anna', { referral_code: 'anna' }],
    ['?referral_code=anna', { referral_code: 'anna' }],
    ['?ref=anna', { referral_code: 'anna' }],
    ['?aid=7&ref=x', { asset_id: '7', referral_code: 'x' }],
    ['?asset_id=7&ref=x', { asset_id: '7', referral_code: 'x' }],
    ['?sid=fb&ref=x', { source_id: 'fb', referral_code: 'x' }],
    ['?source_id=fb&ref=x', { source_id: 'fb', referral_code: 'x' }],
    ['?coupon=SAVE10', { coupon: 'SAVE10' }],
    ['?click_id=c1', { click_id: 'c1' }],
    ['?tap_click_id=c1', { click_id: 'c1' }],
  ])('%s', async (query, expected) => {
    expect(await landOn(query)).toEqual(expected);
  });
});

describe('the first parameter of a row wins, whatever the URL order', () => {
  it.each([
    ['?ref=c&referral_code=b&refc=a', { referral_code: 'a' }],
    ['?ref=c&referral_code=b', { referral_code: 'b' }],
    ['?a=3&asset_id=2&aid=1&ref=x', { asset_id: '1', referral_code: 'x' }],
    ['?s=3&source_id=2&ref=x', { source_id: '2', referral_code: 'x' }],
    ['?tap_click_id=2&click_id=1', { click_id: '1' }],
    ['?refc=&ref=b', { referral_code: 'b' }],
  ])('%s', async (query, expected) => {
    expect(await landOn(query)).toEqual(expected);
  });
});

describe('one-letter a and s count only beside another tracking parameter (WordPress ?s= is search)', () => {
  it.each([
    ['?s=shoes', null],
    ['?a=7', null],
    ['?a=7&s=fb', null],
    ['?s=shoes&page=2', null],
    ['?s=fb&ref=anna', { source_id: 'fb', referral_code: 'anna' }],
    ['?a=7&coupon=X', { asset_id: '7', coupon: 'X' }],
    ['?a=7&s=fb&click_id=c', { asset_id: '7', source_id: 'fb', click_id: 'c' }],
  ])('%s', async (query, expected) => {
    expect(await landOn(query)).toEqual(expected);
  });
});

describe('values are trimmed, at most 100 characters, free of control characters and angle brackets', () => {
  it.each([
    ['?ref=%20anna%20', { referral_code: 'anna' }],
    ['?ref=' + 'x'.repeat(100), { referral_code: 'x'.repeat(100) }],
    ['?ref=' + 'x'.repeat(101), null],
    ['?ref=%3Cscript%3E', null],
    ['?ref=a%3Eb', null],
    ['?ref=a%0Ab', null],
    ['?ref=a%00b', null],
    ['?ref=a%7Fb', null],
    ['?ref=%20%20', null],
    ['?ref=%3Cx%3E&refc=ok', { referral_code: 'ok' }],
    ['?ref=caf%C3%A9%20%26%20co', { referral_code: 'café & co' }],
  ])('%s', async (query, expected) => {
    expect(await landOn(query)).toEqual(expected);
  });
});

describe('attribution over two landings', () => {
  it.each([
    ['last', '', '?ref=bob', 'bob'],
    ['first', 'first', '?ref=bob', 'anna'],
    ['last', '', '?utm_source=x', 'anna'],
    ['first', 'first', '', 'anna'],
  ])('%s attribution, second landing %s keeps %s', async (_name, mode, second, expected) => {
    const attrs: Record<string, string> = mode ? { 'data-attribution': mode } : {};
    page = await openPage({ url: 'https://www.shop.example/?ref=anna', attrs });
    const first = page.stored();
    await page.next('https://www.shop.example/' + second);
    expect(page.stored().referral_code).toBe(expected);
    if (expected == 'anna') expect(page.stored()).toEqual(first);
  });

  it('last attribution replaces every field, not only the new ones', async () => {
    page = await openPage({ url: 'https://www.shop.example/?ref=anna&coupon=A' });
    await page.next('https://www.shop.example/?click_id=c9');
    expect(page.stored()).toEqual({ click_id: 'c9', ts: expect.any(Number) });
  });

  it('a visit without tracking parameters writes no cookie at all', async () => {
    page = await openPage({ url: 'https://www.shop.example/?s=shoes&utm_campaign=x' });
    expect(page.cookieWrites).toEqual([]);
  });

  it('stores the capture time in Unix seconds', async () => {
    const before = Math.floor(Date.now() / 1000);
    page = await openPage({ url: 'https://www.shop.example/?ref=anna' });
    expect(page.stored().ts).toBeGreaterThanOrEqual(before);
    expect(page.stored().ts).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
  });
});
