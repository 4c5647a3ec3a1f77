// A BASE_PATH other than /_tap, as a merchant may choose when a filter list
// blocks the default path: the snippet posts to the folder it was loaded from,
// so the tag's src is the only change on the page.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, shopPage, startStack, STUB, uniqueId, visit, waitFor, type Stack } from './harness';

describe.skipIf(chromiumMissing)('a renamed BASE_PATH', () => {
  let stack: Stack;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    stack = await startStack({ BASE_PATH: '/assets/px' });
    context = await stack.newContext();
    page = await context.newPage();
  });
  afterAll(async () => {
    await context?.close();
    await stack?.close();
  });

  it('with BASE_PATH=/assets/px the script loads from /assets/px/, and its click and conversion go through /assets/px/', async () => {
    const src = '/assets/px/tap.js';
    const order = uniqueId('ORD');
    stack.merchant.pages.set('/', { html: shopPage({ src }) });
    stack.merchant.pages.set('/thanks', {
      html: shopPage({ src, before: [{ code: STUB }, { code: `tap('convert', { external_id: '${order}' })` }] }),
    });
    await visit(page, stack.merchant.url('www.shop.test', '/?ref=anna'));
    await visit(page, stack.merchant.url('checkout.shop.test', '/thanks'));
    await waitFor('the conversion postback', () => stack.postbacks.accepted('conversion').length === 1);

    const requests = stack.merchant.forwarded.map(({ method, path, status }) => `${method} ${path} ${status}`);
    expect(requests.filter((request) => request.startsWith('POST'))).toEqual(['POST /assets/px/click 200', 'POST /assets/px/convert 200']);
    // tap.js, and the files it loads lazily from its own folder (tap-outbox.js keeps the conversion).
    expect(new Set(requests.filter((request) => request.startsWith('GET')))).toEqual(
      new Set(['GET /assets/px/tap.js 200', 'GET /assets/px/tap-events.js 200', 'GET /assets/px/tap-outbox.js 200']),
    );
    const [click] = stack.postbacks.acceptedClicks();
    expect(stack.postbacks.clicks).toHaveLength(1);
    expect(stack.postbacks.accepted('conversion').map((postback) => postback.fields)).toEqual([
      {
        external_id: order,
        referral_code: 'anna',
        click_id: click.id,
        ip: '127.0.0.1',
        user_agent: await page.evaluate(() => navigator.userAgent),
      },
    ]);
  });
});
