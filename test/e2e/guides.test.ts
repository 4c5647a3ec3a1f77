// The guides in docs/guides/, run as written: each guide's ```html tap:… blocks are
// read from its Markdown, their template expressions replaced by the guide's own
// sample values, and served by the merchant origin in a page of that platform's
// shape. Chromium lands with ?ref=anna, then reaches the thank-you page (or the
// webhook fires), and the Tapfiliate stand-in must receive the attributed event.
//
// This file runs the guides whose browser calls are unsigned, in open trust (plain
// HTML, Ghost, Webflow), and Shopify, whose conversion comes from the webhook, on a
// stack of its own: with a webhook secret set the webhook owns the orders, and
// unsigned browser events are refused (docs/security.md, "Webhooks own the orders").
// guides-signed.test.ts runs WordPress and Stripe in signed trust, and
// guides-platforms.test.ts Paddle and Lemon Squeezy, whose webhooks own the orders.
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixtureText } from '../webhooks/load';
import { block, checkLanding, guidePath, pageOf, parseGuide, readGuide, tapLines, type Guide } from './guides';
import { API_KEY, chromiumMissing, freshClientIp, startStack, visit, waitFor, type Stack, type TapWindow } from './harness';

const SHOPIFY_SECRET = 'e2e-shopify-secret';
type ReferenceWindow = TapWindow & { tap: TapWindow['tap'] & { reference(): string | null } };

describe('the guides as the suite reads them', () => {
  it('every guide in docs/guides/ has a scenario here, in guides-signed.test.ts, in guides-platforms.test.ts, in own-server.test.ts or in tapfiliate-tag.test.ts', () => {
    expect(readdirSync('docs/guides').sort()).toEqual([
      'from-tapfiliate-js.md',
      'ghost.md',
      'lemonsqueezy.md',
      'own-server.md',
      'paddle.md',
      'plain-html.md',
      'shopify.md',
      'stripe.md',
      'webflow.md',
      'wordpress-woocommerce.md',
    ]);
  });

  it('a guide whose block drifts from its sample lines fails to read', () => {
    const markdown = readFileSync(guidePath('ghost'), 'utf8');
    // The block renamed its expression, the sample line did not follow.
    expect(() => parseGuide(markdown.replaceAll("'{{@member.uuid}}'", "'{{@member.id}}'"), 'ghost')).toThrow(/no longer contains \{\{@member\.uuid\}\}/);
    expect(() => parseGuide(markdown.replace(/<!-- sample: .*\n/, ''), 'ghost')).toThrow(/still holds template syntax/);
  });
});

describe.skipIf(chromiumMissing)('the guides, end to end (open trust)', () => {
  let stack: Stack;
  let context: BrowserContext;
  let page: Page;
  /** This test's client network (see MerchantOrigin.clientIp). */
  let clientIp = '';

  const www = (path: string) => stack.merchant.url('www.shop.test', path);
  const userAgent = () => page.evaluate(() => navigator.userAgent);
  /** What the landing stored and Tapfiliate gets with each event: the referral code, the click, the shopper. */
  const attributed = async () => {
    const [click] = stack.postbacks.acceptedClicks();
    expect(stack.postbacks.clicks).toHaveLength(1);
    return { referral_code: 'anna', click_id: click.id, ip: clientIp, user_agent: await userAgent() };
  };
  const received = () => stack.postbacks.received.map((postback) => [postback.kind, postback.status, postback.apiKey, postback.fields]);
  const settled = (kind: 'conversion' | 'customer', timeoutMs?: number) =>
    waitFor(`one accepted ${kind}`, () => stack.postbacks.accepted(kind).length === 1 && stack.merchant.inFlight === 0, timeoutMs);

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });
  beforeEach(async () => {
    clientIp = stack.merchant.clientIp = freshClientIp();
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

  /** A hand-written site: the tag in <head>, the call in the thank-you page's body. */
  async function plainHtml(guide: Guide, bootTimeoutMs?: number) {
    const head = block(guide, 'head', 'plain-html').html;
    const thanks = pageOf(block(guide, 'thank-you', 'plain-html'), '/thanks');
    const html = (body: string) => `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>My shop</title>\n${head}\n<link rel="icon" href="data:,"></head>\n<body>${body}</body></html>`;
    stack.merchant.pages.set('/', { html: html('<h1>My shop</h1><a href="/buy">Buy</a>') });
    stack.merchant.pages.set(thanks.path, { html: html(`<h1>Thank you for your order</h1>\n${block(guide, 'thank-you', 'plain-html').html}`) });
    await visit(page, www('/?ref=anna'), bootTimeoutMs);
    await visit(page, www(thanks.url), bootTimeoutMs);
    await settled('conversion', bootTimeoutMs);
  }

  it('plain-html.md: the tag in every <head>, the call on the thank-you page → customer, then the conversion, attributed', async () => {
    await plainHtml(readGuide('plain-html'));
    const identifiers = await attributed();
    expect(received()).toEqual([
      ['customer', 200, API_KEY, { customer_id: 'USR42', ...identifiers }],
      ['conversion', 200, API_KEY, { external_id: 'ORD005', amount: 100, currency: 'EUR', customer_id: 'USR42', ...identifiers }],
    ]);
  });

  it.each(['plain-html', 'webflow'])('%s.md, "Check it": the landing it gives logs the captured referral_code; the thank-you page in the same tab logs the convert answer, status test; nothing reaches Tapfiliate', async (name) => {
    const guide = readGuide(name);
    const head = block(guide, 'head', name).html;
    const thanks = pageOf(block(guide, 'thank-you', name), '/thanks');
    const html = (body: string) => `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>My shop</title>\n${head}\n</head>\n<body>${body}</body></html>`;
    const landing = checkLanding(name);
    stack.merchant.pages.set(landing.split('?')[0], { html: html('<h1>My shop</h1>') });
    stack.merchant.pages.set(thanks.path, {
      html: html(`<h1>Thank you</h1><div data-tap-amount="">$100.00 USD</div>\n${block(guide, 'thank-you', name).html}`),
    });
    const lines = tapLines(page);

    await visit(page, www(landing));
    await waitFor('a [tap] line with the captured referral_code', () => lines.some((line) => JSON.stringify(line).includes('\\"referral_code\\":\\"anna\\"')));
    await visit(page, www(thanks.url));
    const answer = (await waitFor('the convert answer in the console', () =>
      lines.find((line) => typeof line[0] === 'string' && line[0].startsWith('convert:') && typeof line[1] === 'object'),
    ))!;
    expect(answer[1]).toMatchObject({ ok: true, status: 'test', postbacks: expect.arrayContaining([expect.objectContaining({ kind: 'conversion' })]) });
    expect(stack.postbacks.received).toEqual([]);
  });

  it('a guide that drifts fails its scenario: plain-html.md with a broken tag sends nothing', async () => {
    const broken = parseGuide(readFileSync(guidePath('plain-html'), 'utf8').replace('src="/_tap/tap.js"', 'src="/_tap/tap.j"'), 'plain-html');
    await expect(plainHtml(broken, 2000)).rejects.toThrow(/did not boot/);
    expect(stack.postbacks.received).toEqual([]);
  });

  it('ghost.md: Code injection in the head, the sign-up script before {{ghost_foot}} → the member reaches Tapfiliate as a customer', async () => {
    const guide = readGuide('ghost');
    const signup = pageOf(block(guide, 'thank-you', 'ghost'), '/?action=signup');
    // default.hbs renders every page: {{ghost_head}} prints Code injection, the theme's script sits before {{ghost_foot}}.
    const defaultHbs = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>A Ghost blog</title>
<meta name="generator" content="Ghost 5.0">
${block(guide, 'head', 'ghost').html}
</head>
<body class="home-template"><div class="gh-site"><header class="gh-head"><a class="gh-head-logo" href="/">A Ghost blog</a></header>
<main class="gh-main"><article class="gh-card"><h2>First post</h2></article></main></div>
${block(guide, 'thank-you', 'ghost').html}
</body></html>`;
    stack.merchant.pages.set(signup.path, { html: defaultHbs });

    await visit(page, www('/?ref=anna'));
    expect(stack.postbacks.received).toEqual([]);
    await visit(page, www(signup.url));
    await settled('customer');
    expect(received()).toEqual([['customer', 200, API_KEY, { customer_id: '3f0c6a8e-5b1d-4c2a-9e7f-0a1b2c3d4e5f', ...(await attributed()) }]]);
  });

  it('webflow.md: head code, then the order confirmation page with a data-tap-amount total → the conversion, attributed', async () => {
    const guide = readGuide('webflow');
    const confirmation = pageOf(block(guide, 'thank-you', 'webflow'), '/order-confirmation?orderId=5f3a9c');
    const webflowPage = (body: string) => `<!DOCTYPE html><!-- This site was created in Webflow. https://webflow.com -->
<html data-wf-page="6f1" data-wf-site="6f0"><head><meta charset="utf-8"><title>Shop</title>
<link href="data:text/css," rel="stylesheet" type="text/css">
${block(guide, 'head', 'webflow').html}
</head><body>${body}</body></html>`;
    stack.merchant.pages.set('/', { html: webflowPage('<div class="w-layout-blockcontainer"><h1>Shop</h1></div>') });
    stack.merchant.pages.set(confirmation.path, {
      html: webflowPage(`<div class="w-commerce-commerceorderconfirmationcontainer">
<div class="w-commerce-commercecheckoutsummarytotal" data-tap-amount="">$1,234.50 USD</div></div>
${block(guide, 'thank-you', 'webflow').html}`),
    });

    await visit(page, www('/?ref=anna'));
    await visit(page, www(confirmation.url));
    await settled('conversion');
    expect(received()).toEqual([
      ['conversion', 200, API_KEY, { external_id: '5f3a9c', amount: 1234.5, currency: 'USD', ...(await attributed()) }],
    ]);
  });

  describe('with SHOPIFY_WEBHOOK_SECRET set (webhook trust)', () => {
    let open: Stack;
    beforeAll(async () => {
      open = stack;
      stack = await startStack({}, { shopifySecret: SHOPIFY_SECRET });
    });
    afterAll(async () => {
      await stack?.close();
      stack = open;
    });

    it('shopify.md: theme.liquid writes tap.reference() into the cart; the orders/paid webhook with that note attribute gives the conversion, attributed', async () => {
      const guide = readGuide('shopify');
      const themeLiquid = `<!doctype html>
  <html class="no-js" lang="en"><head><meta charset="utf-8"><title>Shop</title>
  <script>var Shopify = Shopify || {}; Shopify.shop = "shop.myshopify.com"; Shopify.routes = Shopify.routes || {}; Shopify.routes.root = "/";</script>
  ${block(guide, 'head', 'shopify').html}
  </head>
  <body class="template-index"><main id="MainContent" role="main"><h1>Shop</h1></main>
  ${block(guide, 'storefront', 'shopify').html}
  </body></html>`;
      stack.merchant.pages.set('/', { html: themeLiquid });
      stack.merchant.pages.set('/products/shirt', { html: themeLiquid });
      const cart: Record<string, string> = {};
      stack.merchant.pages.set('/cart/update.js', (request) => {
        Object.assign(cart, (JSON.parse(request.body) as { attributes: Record<string, string> }).attributes);
        return { html: JSON.stringify({ token: 'c1', attributes: cart }), headers: { 'content-type': 'application/json' } };
      });

      await visit(page, www('/?ref=anna'));
      await waitFor('the cart attribute', () => cart.tap_ref);
      // The landing writes the cart at its load event, which may come before the click's
      // answer adds click_id to the cookie; the next page view brings the cart up to date.
      await visit(page, www('/products/shirt'));
      const reference = await page.evaluate(() => (window as unknown as ReferenceWindow).tap.reference());
      await waitFor('the cart attribute of the second page', () => cart.tap_ref === reference);
      const cartWrites = stack.merchant.requests.filter((request) => request.method === 'POST');
      expect(cartWrites.map(({ path }) => path)).toEqual(cartWrites.map(() => '/cart/update.js'));
      expect(JSON.parse(cartWrites.at(-1)!.body)).toEqual({ attributes: { tap_ref: reference } });
      const identifiers = await attributed();

      // Shopify carries cart attributes into the order's note_attributes, and sends the paid order.
      const order = JSON.parse(
        fixtureText('shopify-orders-paid.json').replace('"value": "t1YW5uYT4-Pj4"', JSON.stringify({ value: cart.tap_ref }).slice(1, -1)),
      ) as Record<string, unknown>;
      // A real order: the fixture is one of Shopify's test orders, which the worker answers in test mode.
      order.test = false;
      expect(order.note_attributes).toEqual([{ name: 'gift_wrap', value: 'no' }, { name: 'tap_ref', value: reference }]);
      const body = JSON.stringify(order);
      const hmac = createHmac('sha256', SHOPIFY_SECRET).update(body).digest('base64');
      const headers = { 'x-shopify-topic': 'orders/paid', 'x-shopify-hmac-sha256': hmac, 'x-shopify-shop-domain': 'shop.myshopify.com' };
      expect(await stack.post('/_tap/webhooks/shopify', body, headers)).toEqual({ status: 200, json: { ok: true, status: 'sent' } });
      // Shopify retries until it gets a 2xx: the same order again is sent once.
      expect(await stack.post('/_tap/webhooks/shopify', body, headers)).toEqual({ status: 200, json: { ok: true, status: 'duplicate' } });

      const shopper = { ip: '203.0.113.24', user_agent: (order.client_details as { user_agent: string }).user_agent };
      const fromTheLanding = { referral_code: 'anna', click_id: identifiers.click_id };
      expect(received()).toEqual([
        ['customer', 200, API_KEY, { customer_id: '115310627314723954', coupon: 'ANNA10', ...fromTheLanding, ...shopper }],
        [
          'conversion',
          200,
          API_KEY,
          { external_id: '820982911946154508', amount: 388, currency: 'USD', customer_id: '115310627314723954', coupon: 'ANNA10', ...fromTheLanding, ...shopper },
        ],
      ]);
    });
  });
});
