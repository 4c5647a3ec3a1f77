// A page that frames the shop must not turn its own visitors into the shop's
// clicks (docs/security.md, "Frames"): in a frame, tap.js captures nothing and
// sends no click. Checked from a page of the shop itself (where the frame could
// write the cookie) and from another site, with a landing URL in the frame.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromiumMissing, shopPage, startStack, visit, waitFor, type Stack, type TapWindow } from './harness';

describe.skipIf(chromiumMissing)('the shop in a frame', () => {
  let stack: Stack;
  let context: BrowserContext;
  let page: Page;

  const framer = (src: string) => `<!doctype html><html><head><meta charset="utf-8"><title>Framer</title></head>
<body><h1>Someone else's page</h1><iframe id="shop" src="${src}" width="400" height="300"></iframe></body></html>`;
  const clicksAtWorker = () => stack.merchant.forwarded.filter(({ method, path }) => method === 'POST' && path.startsWith('/_tap/click'));
  const tapCookies = async () => (await context.cookies()).filter(({ name }) => name.startsWith('tap_'));

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });
  beforeEach(async () => {
    stack.postbacks.reset();
    stack.merchant.forwarded.length = 0;
    stack.merchant.pages.clear();
    stack.merchant.pages.set('/', { html: shopPage() });
    context = await stack.newContext();
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  it.each([
    ['a page of the shop itself', 'www.shop.test'],
    ['another site', 'framer.elsewhere.test'],
  ])('framed by %s, a landing URL makes no click and stores nothing', async (_name, framerHost) => {
    stack.merchant.pages.set('/framer', { html: framer(stack.merchant.url('www.shop.test', '/?ref=anna&sid=s1&aid=a1')) });
    await page.goto(stack.merchant.url(framerHost, '/framer'));
    const frame = (await waitFor('the framed shop page', () => page.frames().find((candidate) => candidate.url().includes('ref=anna'))))!;
    // tap.js did run in the frame: its API is there.
    await frame.waitForFunction(() => typeof (window as unknown as TapWindow).tap?.data === 'function');
    await page.waitForLoadState('networkidle');
    expect(await frame.evaluate(() => (window as unknown as TapWindow).tap.data())).toBeNull();
    expect(clicksAtWorker()).toEqual([]);
    expect(stack.postbacks.clicks).toEqual([]);
    expect(await tapCookies()).toEqual([]);
    // A cross-site frame may be denied storage altogether (Chromium's third-party storage rules): nothing stored either way.
    expect(
      await frame.evaluate(() => {
        try {
          return localStorage.length + sessionStorage.length;
        } catch {
          return 0;
        }
      }),
    ).toBe(0);
  });

  it('the same landing opened as the page itself is captured (the check above can fail)', async () => {
    await visit(page, stack.merchant.url('www.shop.test', '/?ref=anna&sid=s1&aid=a1'));
    await waitFor('the click', () => stack.postbacks.clicks.length === 1);
    expect(await page.evaluate(() => (window as unknown as TapWindow).tap.data())).toMatchObject({ referral_code: 'anna' });
  });
});
