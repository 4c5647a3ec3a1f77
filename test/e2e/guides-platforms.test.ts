// The Paddle and Lemon Squeezy guides, run as written (see guides.test.ts for how a
// guide's ```html tap:… blocks are read): Chromium lands with ?ref=anna, the guide's
// storefront line hands tap.reference() to the platform's checkout, and the platform's
// signed webhook carrying it must reach the Tapfiliate stand-in, attributed, once.
// One stack with both webhook secrets set: the webhooks own the orders here.
import { createHmac } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixtureText } from '../webhooks/load';
import { block, readGuide, type Guide } from './guides';
import { API_KEY, chromiumMissing, freshClientIp, startStack, visit, waitFor, type Stack, type TapWindow } from './harness';

const PADDLE_SECRET = 'pdl_ntfset_e2e_secret';
const LEMONSQUEEZY_SECRET = 'e2e-lemonsqueezy-secret';
type ReferenceWindow = TapWindow & { tap: TapWindow['tap'] & { reference(): string | null } };

describe.skipIf(chromiumMissing)('the Paddle and Lemon Squeezy guides, end to end', () => {
  let stack: Stack;
  let context: BrowserContext;
  let page: Page;

  const www = (path: string) => stack.merchant.url('www.shop.test', path);
  const received = () => stack.postbacks.received.map((postback) => [postback.kind, postback.status, postback.apiKey, postback.fields]);
  /** The click the landing made: the reference carries it to the webhook. */
  const clickId = () => {
    expect(stack.postbacks.clicks).toHaveLength(1);
    return stack.postbacks.acceptedClicks()[0].id!;
  };

  beforeAll(async () => {
    stack = await startStack({}, { paddleSecret: PADDLE_SECRET, lemonSqueezySecret: LEMONSQUEEZY_SECRET });
  });
  afterAll(async () => {
    await stack?.close();
  });
  beforeEach(async () => {
    // One click per referral code and client network per 30 minutes: each test lands from a network of its own.
    stack.merchant.clientIp = freshClientIp();
    stack.postbacks.reset();
    stack.merchant.forwarded.length = 0;
    stack.merchant.requests.length = 0;
    stack.merchant.pages.clear();
    context = await stack.newContext();
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  /** A SaaS site: the guide's tag in <head>, its storefront block on the pricing page. */
  const saas = (guide: Guide, name: string, before = '') => (body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SaaS</title>
${block(guide, 'head', name).html}
<link rel="icon" href="data:,"></head>
<body>${before}${body}</body></html>`;

  /** Lands through anna's link, then opens the pricing page, whose reference then holds the click too. */
  async function landThenPricing() {
    await visit(page, www('/?ref=anna'));
    await waitFor('the landing click', () => stack.postbacks.acceptedClicks().length === 1 && stack.merchant.inFlight === 0);
    await visit(page, www('/pricing'));
    return page.evaluate(() => (window as unknown as ReferenceWindow).tap.reference());
  }

  it('paddle.md: the Buy button opens Paddle.js checkout with customData.tap_ref; transaction.completed with it gives the conversion, attributed', async () => {
    const guide = readGuide('paddle');
    // Paddle.js itself is Paddle's CDN script: a stand-in records what the page opens.
    const paddleJs = '<script>window.Paddle = { Checkout: { open: function (settings) { window.opened = settings; } } };</script>';
    const html = saas(guide, 'paddle', paddleJs);
    stack.merchant.pages.set('/', { html: html('<h1>SaaS</h1><a href="/pricing">Pricing</a>') });
    stack.merchant.pages.set('/pricing', { html: html(`<h1>Pro, $30 a month</h1>\n${block(guide, 'storefront', 'paddle').html}`) });

    const reference = await landThenPricing();
    await page.click('#buy');
    const opened = (await page.evaluate(() => (window as unknown as { opened: unknown }).opened)) as { items: unknown; customData: unknown };
    expect(opened).toEqual({ items: [{ priceId: 'pri_01gsz8x8sawmvhz1pv30nge1ke', quantity: 1 }], customData: { tap_ref: reference } });
    const click_id = clickId();

    // Paddle keeps the custom data on the transaction and notifies the destination.
    const event = JSON.parse(fixtureText('paddle-transaction-completed.json')) as { data: Record<string, unknown> };
    event.data.custom_data = opened.customData;
    const body = JSON.stringify(event);
    const ts = Math.floor(Date.now() / 1000);
    const headers = { 'paddle-signature': `ts=${ts};h1=${createHmac('sha256', PADDLE_SECRET).update(`${ts}:${body}`).digest('hex')}` };
    expect(await stack.post('/_tap/webhooks/paddle', body, headers)).toEqual({ status: 200, json: { ok: true, status: 'sent' } });
    expect(await stack.post('/_tap/webhooks/paddle', body, headers)).toEqual({ status: 200, json: { ok: true, status: 'duplicate' } });

    const fromTheLanding = { referral_code: 'anna', click_id };
    const customer_id = 'ctm_01hv8wp4w3nfhr7hhyb1rxbcj7';
    expect(received()).toEqual([
      ['customer', 200, API_KEY, { customer_id, ...fromTheLanding }],
      ['conversion', 200, API_KEY, { external_id: 'txn_01hv8wnw6ahk5sfgyjbw1wzfce', amount: 25, currency: 'USD', customer_id, ...fromTheLanding }],
    ]);
  });

  it('lemonsqueezy.md: the checkout link gets checkout[custom][tap_ref] when clicked; order_created with it gives the conversion, attributed', async () => {
    const guide = readGuide('lemonsqueezy');
    const html = saas(guide, 'lemonsqueezy');
    stack.merchant.pages.set('/', { html: html('<h1>SaaS</h1><a href="/pricing">Pricing</a>') });
    stack.merchant.pages.set('/pricing', { html: html(`<h1>Pro, $29 a month</h1>\n${block(guide, 'storefront', 'lemonsqueezy').html}`) });
    let checkout: URL | undefined;
    await page.route('https://shop.lemonsqueezy.com/**', async (route) => {
      checkout = new URL(route.request().url());
      await route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Checkout</title><h1>Pay $28.80</h1>' });
    });

    const reference = await landThenPricing();
    await page.click('a.lemonsqueezy-button');
    await waitFor('the checkout page', () => checkout);
    expect(checkout!.pathname).toBe('/buy/5c2f8e1a-7b3d-4e9f-a6c0-1d2e3f4a5b6c');
    expect(checkout!.searchParams.get('checkout[custom][tap_ref]')).toBe(reference);
    const click_id = clickId();

    // Lemon Squeezy passes checkout[custom] to the order's webhook as meta.custom_data.
    const event = JSON.parse(fixtureText('lemonsqueezy-order-created.json')) as { meta: Record<string, unknown> };
    event.meta.custom_data = { tap_ref: checkout!.searchParams.get('checkout[custom][tap_ref]') };
    const body = JSON.stringify(event);
    const headers = { 'x-event-name': 'order_created', 'x-signature': createHmac('sha256', LEMONSQUEEZY_SECRET).update(body).digest('hex') };
    expect(await stack.post('/_tap/webhooks/lemonsqueezy', body, headers)).toEqual({ status: 200, json: { ok: true, status: 'sent' } });
    expect(await stack.post('/_tap/webhooks/lemonsqueezy', body, headers)).toEqual({ status: 200, json: { ok: true, status: 'duplicate' } });

    const fromTheLanding = { referral_code: 'anna', click_id };
    expect(received()).toEqual([
      ['customer', 200, API_KEY, { customer_id: '3870521', ...fromTheLanding }],
      ['conversion', 200, API_KEY, { external_id: '2481013', amount: 24, currency: 'USD', customer_id: '3870521', ...fromTheLanding }],
    ]);
  });
});
