// Tapfiliate's own tag on Tapline, in real Chromium: the loader and calls exactly
// as Tapfiliate's docs and its WordPress plugin write them, with only the script's
// URL changed (docs/guides/from-tapfiliate-js.md). The Tapfiliate stand-in shows
// what arrived.
import { createHmac } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { block, pageOf, readGuide } from './guides';
import { chromiumMissing, freshClientIp, startStack, visit, waitFor, type Stack } from './harness';

/** Tapfiliate's loader stub, as its docs and its WordPress plugin (snippet/tracking-snippet.php) write it. */
const LOADER = "(function(t,a,p){t.TapfiliateObject=a;t[a]=t[a]||function(){ (t[a].q=t[a].q||[]).push(arguments)}})(window,'tap');";

/** A theme page: Tapfiliate's integration with its script's URL swapped for Tapline's, the calls after it as the docs place them. */
const themePage = (calls: string, body = '<h1>Shop</h1>') => `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<script src="/_tap/tap.js" type="text/javascript" async></script>
<script type="text/javascript">
${LOADER}
${calls}
</script>
</head><body>${body}</body></html>`;

let sequence = 0;
/** A WooCommerce order number no other test of this run (or the stand-in's memory of it) has used. */
const orderNumber = () => (Date.now() % 1e8) * 100 + ++sequence;

type CompatWindow = Window & { tap: ((...args: unknown[]) => Promise<unknown>) & { data(): Record<string, unknown> | null } };

describe.skipIf(chromiumMissing)("Tapfiliate's tag on Tapline (open trust)", () => {
  let stack: Stack;
  let context: BrowserContext;
  let page: Page;
  let pageErrors: Error[];
  let clientIp = '';

  const www = (path: string) => stack.merchant.url('www.shop.test', path);
  const userAgent = () => page.evaluate(() => navigator.userAgent);
  const settled = () => waitFor('the worker to answer everything', () => stack.merchant.inFlight === 0);

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
    stack.merchant.pages.clear();
    context = await stack.newContext();
    page = await context.newPage();
    pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error));
  });
  afterEach(async () => {
    await context?.close();
  });

  it('docs/guides/from-tapfiliate-js.md as written: its tag on the landing, its thank-you call after the order → the conversion, attributed', async () => {
    const guide = readGuide('from-tapfiliate-js');
    const head = block(guide, 'head', 'from-tapfiliate-js').html;
    const thanks = pageOf(block(guide, 'thank-you', 'from-tapfiliate-js'), '/thanks');
    const html = (body: string) => `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>My shop</title>\n${head}</head>\n<body>${body}</body></html>`;
    stack.merchant.pages.set('/', { html: html('<h1>My shop</h1>') });
    stack.merchant.pages.set(thanks.path, { html: html(`<h1>Thank you</h1>\n${block(guide, 'thank-you', 'from-tapfiliate-js').html}`) });
    await visit(page, www('/?ref=anna'));
    await visit(page, www(thanks.url));
    await waitFor('the conversion', () => stack.postbacks.accepted('conversion').length === 1 && stack.merchant.inFlight === 0);
    const [click] = stack.postbacks.acceptedClicks();
    expect(stack.postbacks.received.map((postback) => [postback.kind, postback.fields])).toEqual([
      ['customer', { customer_id: 'cus_9', referral_code: 'anna', click_id: click.id, ip: clientIp, user_agent: await userAgent() }],
      ['conversion', { external_id: 'ORD-1042', amount: 99.5, currency: 'EUR', customer_id: 'cus_9', referral_code: 'anna', click_id: click.id, ip: clientIp, user_agent: await userAgent() }],
    ]);
  });

  it("the WordPress plugin's calls: create and detect on the landing, then the order-received page's conversion with its options and commission type; a reload is a duplicate", async () => {
    stack.merchant.pages.set('/', { html: themePage("tap('create', 'ACCOUNT-ID', {integration: 'woocommerce'});\ntap('detect');") });
    await visit(page, www('/?ref=anna'));
    await waitFor('the landing click', () => stack.postbacks.acceptedClicks().length === 1);
    const [click] = stack.postbacks.acceptedClicks();
    expect(click.fields).toMatchObject({ referral_code: 'anna', landing_page: www('/?ref=anna') });

    const order = orderNumber();
    const options = JSON.stringify({ meta_data: { product1: 'Hoodie - qty: 1', product2: 'Cap - qty: 2' }, customer_id: 'shopper@example.com', currency: 'EUR' });
    stack.merchant.pages.set('/checkout/order-received/', {
      html: themePage(`tap('create', 'ACCOUNT-ID', {integration: 'woocommerce'});\ntap('detect');\ntap('conversion', ${order}, 99.5, ${options}, 'default');`, '<h1>Order received</h1>'),
    });
    await visit(page, www('/checkout/order-received/'));
    await waitFor('the conversion', () => stack.postbacks.accepted('conversion').length === 1);
    const [conversion] = stack.postbacks.accepted('conversion');
    expect(conversion.fields).toMatchObject({
      external_id: String(order),
      amount: 99.5,
      currency: 'EUR',
      customer_id: 'shopper@example.com',
      referral_code: 'anna',
      click_id: click.id,
      ip: clientIp,
      user_agent: await userAgent(),
    });
    // Tapfiliate refuses these characters in meta_data, and so does the worker: they are cut out, not the order.
    expect(conversion.fields.meta_data).toEqual({ product1: 'Hoodie - qty 1', product2: 'Cap - qty 2' });
    expect(conversion.fields).not.toHaveProperty('commission_type');

    // The shopper reloads the order-received page: nothing more reaches Tapfiliate, and a callback hears "duplicate".
    await page.reload();
    await page.waitForLoadState('networkidle');
    const again = await page.evaluate(
      ([id, opts]) => new Promise((resolve) => (window as unknown as CompatWindow).tap('conversion', id, 99.5, JSON.parse(opts as string), 'default', resolve)),
      [order, options] as const,
    );
    expect(again).toEqual({ ok: true, status: 'duplicate' });
    await settled();
    expect(stack.postbacks.received.filter((postback) => postback.kind === 'conversion')).toHaveLength(1);
    expect(pageErrors).toEqual([]);
  });

  it('every other call, made after load with its callback: create, detect, customer, trial, lead, conversionMulti, getTrackingId; each callback once, and a throwing one breaks nothing', async () => {
    stack.merchant.pages.set('/', { html: themePage("tap('create', 'ACCOUNT-ID');\ntap('detect');") });
    await visit(page, www('/?ref=bob'));
    await waitFor('the landing click, and its id in the cookie', async () => stack.postbacks.acceptedClicks().length === 1 && stack.merchant.inFlight === 0);
    const [click] = stack.postbacks.acceptedClicks();
    const order = orderNumber();

    const calls = await page.evaluate(async (order) => {
      const tap = (window as unknown as CompatWindow).tap;
      const heard: Record<string, unknown[][]> = {};
      const listen = (name: string, fail = false) => (...args: unknown[]) => {
        (heard[name] ||= []).push(args.map((arg) => (arg instanceof Error ? 'Error: ' + arg.message : arg)));
        if (fail) throw new Error('a theme bug in ' + name);
      };
      await tap('create', 'ACCOUNT-ID', {}, listen('create', true));
      await tap('detect', { always_callback: true }, listen('detect'));
      await tap('customer', 'cus-' + order, { meta_data: { plan: 'pro' } }, listen('customer', true));
      await tap('trial', 'trial-' + order, {}, listen('trial'));
      await tap('lead', 'lead-' + order, {}, listen('lead'));
      await tap('conversionMulti', order, { currency: 'USD' }, [{ sub_amount: 10.1, commission_type: 'default' }, { sub_amount: 20.2, commission_type: 'books' }], listen('conversionMulti'));
      await tap('getTrackingId', null, listen('getTrackingId'));
      return heard;
    }, order);

    expect(calls).toEqual({
      create: [[]],
      // This URL is still the landing: with always_callback, (null, what is stored).
      detect: [[null, { referral_code: 'bob', click_id: click.id, ts: expect.any(Number) }]],
      customer: [[{ ok: true, status: 'sent' }]],
      trial: [[{ ok: true, status: 'sent' }]],
      lead: [[{ ok: true, status: 'sent' }]],
      conversionMulti: [[{ ok: true, status: 'sent' }]],
      getTrackingId: [[click.id]],
    });
    await settled();
    expect(stack.postbacks.accepted('customer').map((postback) => [postback.fields.customer_id, postback.fields.referral_code])).toEqual([
      [`cus-${order}`, 'bob'],
      [`trial-${order}`, 'bob'],
      [`lead-${order}`, 'bob'],
    ]);
    expect(stack.postbacks.accepted('conversion').map((postback) => postback.fields)).toEqual([
      expect.objectContaining({ external_id: String(order), amount: 30.3, currency: 'USD', referral_code: 'bob', click_id: click.id }),
    ]);
    expect(pageErrors).toEqual([]);
  });

  it("an anonymized link (?tap_a=&tap_s=) is captured, and the conversion carries asset_id and source_id", async () => {
    stack.merchant.pages.set('/', { html: themePage("tap('create', 'ACCOUNT-ID', {integration: 'javascript'});\ntap('detect');") });
    await visit(page, www('/?tap_a=30-e1d5b2&tap_s=4163-4c7c1f'));
    expect(await page.evaluate(() => (window as unknown as CompatWindow).tap.data())).toMatchObject({ asset_id: '30-e1d5b2', source_id: '4163-4c7c1f' });

    const order = orderNumber();
    stack.merchant.pages.set('/thanks', { html: themePage(`tap('create', 'ACCOUNT-ID', {integration: 'javascript'});\ntap('conversion', '${order}', 42, {currency: 'EUR'});`) });
    await visit(page, www('/thanks'));
    await waitFor('the conversion', () => stack.postbacks.accepted('conversion').length === 1);
    expect(stack.postbacks.accepted('conversion')[0].fields).toMatchObject({ external_id: String(order), amount: 42, asset_id: '30-e1d5b2', source_id: '4163-4c7c1f' });
  });
});

describe.skipIf(chromiumMissing)("Tapfiliate's tag on Tapline (signed trust)", () => {
  const SIGNING_SECRET = 'e2e-signing-secret-31c9';
  let stack: Stack;
  let context: BrowserContext;

  beforeAll(async () => {
    stack = await startStack({}, { signingSecret: SIGNING_SECRET });
  });
  afterAll(async () => {
    await stack?.close();
  });
  afterEach(async () => {
    await context?.close();
  });

  it('an unsigned conversion from the theme is refused, sends nothing, and its callback gets the TapResult', async () => {
    stack.merchant.clientIp = freshClientIp();
    context = await stack.newContext();
    const page = await context.newPage();
    stack.merchant.pages.set('/', { html: themePage("tap('create', 'ACCOUNT-ID');\ntap('detect');") });
    await visit(page, stack.merchant.url('www.shop.test', '/?ref=anna'));
    const order = orderNumber();
    stack.merchant.pages.set('/thanks', {
      html: themePage(`tap('create', 'ACCOUNT-ID');\ntap('conversion', '${order}', 10, {}, 'default', function (result) { (window.heard = window.heard || []).push(result) });`),
    });
    await visit(page, stack.merchant.url('www.shop.test', '/thanks'));
    const heard = await waitFor('the callback', () => page.evaluate(() => (window as unknown as { heard?: unknown[] }).heard));
    expect(heard).toEqual([expect.objectContaining({ ok: false, error: 'signature_required' })]);
    expect(stack.postbacks.received.filter((postback) => postback.kind === 'conversion')).toEqual([]);
  });

  it("docs/guides/from-tapfiliate-js.md section 4: the theme's unsigned conversion and the signed call for the same order, the signed one made while the unsigned one waits for its answer → the signed one carries the order, once", async () => {
    stack.merchant.clientIp = freshClientIp();
    stack.postbacks.reset();
    context = await stack.newContext();
    const page = await context.newPage();
    stack.merchant.pages.set('/', { html: themePage("tap('create', 'ACCOUNT-ID');\ntap('detect');") });
    await visit(page, stack.merchant.url('www.shop.test', '/?ref=anna'));

    const order = String(orderNumber());
    const signed = JSON.stringify({ external_id: order, amount: 25, currency: 'EUR' });
    const signature = createHmac('sha256', SIGNING_SECRET).update(signed).digest('hex');
    // A slow network for the theme's call: it stays in flight until the signed call has been made.
    let release!: () => void;
    const slowNetwork = new Promise<void>((done) => (release = done));
    let unsignedSent!: () => void;
    const unsignedInFlight = new Promise<void>((done) => (unsignedSent = done));
    await page.route('**/_tap/convert', async (route) => {
      if (!route.request().postData()?.includes('"signed"')) {
        unsignedSent();
        await slowNetwork;
      }
      await route.continue();
    });
    stack.merchant.pages.set('/thanks', {
      html: themePage(`tap('create', 'ACCOUNT-ID');\ntap('conversion', '${order}', 25, { currency: 'EUR' }, 'default', function (result) { window.theme = result });`),
    });
    await page.goto(stack.merchant.url('www.shop.test', '/thanks'));
    await unsignedInFlight;
    const signedCall = page.evaluate(
      ([signed, signature]) => (window as unknown as CompatWindow).tap('convert', { signed, signature }),
      [signed, signature] as const,
    );
    // The signed one is sent at once (not held as a duplicate of the theme's call), and taken.
    expect(await signedCall).toEqual({ ok: true, status: 'sent' });
    release();
    const theme = await waitFor("the theme's callback", () => page.evaluate(() => (window as unknown as { theme?: unknown }).theme));
    expect(theme).toEqual(expect.objectContaining({ ok: false, error: 'signature_required' }));
    await waitFor('the worker to answer everything', () => stack.merchant.inFlight === 0);
    expect(stack.postbacks.received.filter((postback) => postback.kind === 'conversion').map((postback) => [postback.fields.external_id, postback.fields.amount, postback.fields.referral_code])).toEqual([
      [order, 25, 'anna'],
    ]);
  });
});
