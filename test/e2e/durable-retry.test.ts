// Scenario 10: Tapfiliate answers 503 twice, then 200. The browser is told
// `queued` at once and the queue consumer delivers the conversion exactly once.
//
// wrangler.toml's worker waits 30 s before the queued copy runs and 15–30 s
// before its first retry, 45–60 s in all; the suite runs the same code with
// both waits at 1 s (fast-retry-worker.ts). TAPLINE_E2E_REAL_DELAYS=1 runs the
// production entry and its real waits instead.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, chromiumMissing, shopPage, startStack, uniqueId, visit, waitFor, type Stack, type TapWindow } from './harness';

const realDelays = process.env.TAPLINE_E2E_REAL_DELAYS === '1';
const deliveryTimeoutMs = realDelays ? 90_000 : 30_000;

describe.skipIf(chromiumMissing)('durable delivery seen from the browser', () => {
  let stack: Stack;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    stack = await startStack({}, realDelays ? {} : { entrypoint: 'test/e2e/fast-retry-worker.ts' });
    stack.merchant.pages.set('/', { html: shopPage() });
    stack.merchant.pages.set('/cart', { html: shopPage({ body: '<h1>Cart</h1>' }) });
    context = await stack.newContext();
    page = await context.newPage();
  });
  afterAll(async () => {
    await context?.close();
    await stack?.close();
  });

  it(
    "Tapfiliate answers 503 twice, then 200: the browser is told 'queued' and exactly one conversion arrives",
    async () => {
      await visit(page, stack.merchant.url('www.shop.test', '/?ref=anna'));
      await visit(page, stack.merchant.url('checkout.shop.test', '/cart'));
      stack.postbacks.setFaults({ next: ['503', '503'] });
      const order = uniqueId('ORD');
      const result = await page.evaluate(
        (id) => (window as unknown as TapWindow).tap.convert({ external_id: id, amount: 60, currency: 'EUR' }),
        order,
      );
      expect(result).toEqual({ ok: true, status: 'queued' });

      const startedAt = Date.now();
      await waitFor('the conversion accepted after two 503s', () => stack.postbacks.accepted('conversion').length === 1, deliveryTimeoutMs);
      console.log(`e2e: 503, 503, 200 delivered ${((Date.now() - startedAt) / 1000).toFixed(1)} s after the browser was told queued`);
      // Longer than a retry step: a second copy would show up here.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      // The browser counts 'queued' as done: the next page view resends nothing.
      await visit(page, stack.merchant.url('checkout.shop.test', '/cart'));

      const fields = {
        external_id: order,
        amount: 60,
        currency: 'EUR',
        referral_code: 'anna',
        // The landing's Tapfiliate click, which the server-set cookie carries.
        click_id: stack.postbacks.acceptedClicks()[0].id,
        ip: '127.0.0.1',
        user_agent: await page.evaluate(() => navigator.userAgent),
      };
      expect(stack.postbacks.received.map(({ kind, status, apiKey }) => [kind, status, apiKey])).toEqual([
        ['conversion', 503, API_KEY],
        ['conversion', 503, API_KEY],
        ['conversion', 200, API_KEY],
      ]);
      expect(stack.postbacks.received.map((postback) => postback.fields)).toEqual([fields, fields, fields]);
      expect(stack.merchant.forwarded.filter((request) => request.method === 'POST').map(({ path, status }) => `${path} ${status}`)).toEqual([
        '/_tap/click 200',
        '/_tap/convert 202',
      ]);
    },
    realDelays ? 150_000 : 60_000,
  );
});
