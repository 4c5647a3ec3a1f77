// The snippet runs on any CMS page, whatever else the page runs: nothing may throw
// into the page and no promise may reject, and conversions still get through where they can.
import { afterEach, describe, expect, it } from 'vitest';
import { STUB, openPage, type Page, type PageOptions } from './page';

let page: Page;
// happy-dom shares its Storage class between windows, so a page's patch must not outlive its test.
const storage = (globalThis as any).Storage.prototype as Storage;
const { getItem, setItem } = storage;
afterEach(() => {
  page?.close();
  Object.assign(storage, { getItem, setItem });
});

const PROTOTYPE_JS = `
  Array.prototype.toJSON = function () { return '[' + this.map(function (x) { return JSON.stringify(x); }).join(',') + ']'; };
  Array.prototype.each = function () {};
  Object.defineProperty(Array.prototype, 'extra', { value: 1, enumerable: true, writable: true });`;

const conditions: [string, Partial<PageOptions>, string][] = [
  ['localStorage throws on every call', { before: ["Storage.prototype.getItem = Storage.prototype.setItem = function () { throw new DOMException('denied', 'SecurityError'); }"] }, 'sent'],
  ['localStorage itself throws', { before: ["Object.defineProperty(window, 'localStorage', { get: function () { throw new DOMException('denied', 'SecurityError'); } })"] }, 'sent'],
  ['cookies are disabled', { refuseCookie: () => true }, 'sent'],
  ['document.cookie throws (sandboxed frame)', { before: ["Object.defineProperty(document, 'cookie', { get: function () { throw new DOMException('denied', 'SecurityError'); }, set: function () { throw new DOMException('denied', 'SecurityError'); } })"] }, 'sent'],
  ['fetch is missing', { noFetch: 'beacon' }, 'queued'],
  ['fetch and sendBeacon are missing', { noFetch: 'nothing' }, 'offline'],
  ['fetch is replaced by one that throws', { before: ["window.fetch = function () { throw new Error('blocked by an ad blocker'); }"] }, 'offline'],
  ['a prototype.js-style Array.prototype', { before: [PROTOTYPE_JS] }, 'sent'],
  ['JSON.stringify returns undefined', { before: ['JSON.stringify = function () {}'] }, 'any'],
  ['JSON.parse throws', { before: ["JSON.parse = function () { throw new SyntaxError('patched'); }"] }, 'sent'],
  ['console.log throws in debug mode', { before: ["console.log = function () { throw new Error('no console'); }"], attrs: { 'data-debug': '' } }, 'sent'],
  ['URLSearchParams is missing', { before: ['window.URLSearchParams = undefined'] }, 'sent'],
  ['document.querySelector throws', { before: ["document.querySelector = function () { throw new Error('patched'); }"] }, 'sent'],
];

describe.each(conditions)('when %s', (_name, options, expected) => {
  it('no call throws into the page and no promise rejects', async () => {
    page = await openPage({
      url: 'https://www.shop.example/thanks?ref=anna',
      ...options,
      before: [...(options.before ?? []), STUB, "tap('convert', { external_id: 'Q1' })", "tap('consent', true)", "tap('nope')"],
    });
    const results = [
      await page.run("tap.convert({ external_id: 'A1', amount: 5 })"),
      await page.run("tap.convert({ external_id: 'A1', amount: 5 })"),
      await page.run("tap.customer({ customer_id: 'U1' })"),
      await page.run('tap.convert()'),
      await page.run("tap('convert', { external_id: 'A2' })"),
    ];
    page.run('tap.consent(true); tap.data(); tap("data"); tap(); tap(null); tap(Symbol())');
    for (const result of results) expect(typeof result.ok).toBe('boolean');
    if (expected != 'any') expect(results[0].status ?? results[0].error).toBe(expected);
    expect(page.pageErrors).toEqual([]);
  });
});

it('a prototype.js page still stores and sends clean JSON', async () => {
  page = await openPage({ url: 'https://www.shop.example/?ref=anna', before: [PROTOTYPE_JS] });
  await page.w.tap.convert({ external_id: 'A1' });
  expect(page.sent[0].body).toEqual({ external_id: 'A1' });
  await page.next('https://www.shop.example/again');
  expect(await page.w.tap.convert({ external_id: 'A1' })).toEqual({ ok: true, status: 'duplicate' });
});

it('without localStorage, a repeat in the same page view is still a duplicate', async () => {
  page = await openPage({ before: ["Storage.prototype.getItem = Storage.prototype.setItem = function () { throw new Error('denied'); }"] });
  await page.w.tap.convert({ external_id: 'A1' });
  expect(await page.w.tap.convert({ external_id: 'A1' })).toEqual({ ok: true, status: 'duplicate' });
  expect(page.sent).toHaveLength(1);
});

it('an unserialisable conversion resolves skipped instead of throwing', async () => {
  page = await openPage();
  const result = await page.run("var o = { external_id: 'C1' }; o.self = o; tap.convert(o)");
  expect(result).toEqual({ ok: false, status: 'skipped', reason: 'error' });
});
