// The guides whose thank-you calls are signed by the merchant's server (WordPress
// and WooCommerce, Stripe's success page), run as written in signed trust with the
// secret the guides' samples are signed with. See guides.test.ts for how a guide is
// read. The Stripe guide is also the Stripe end-to-end scenario: storefront →
// hosted checkout on another host → signed webhook → success page, one conversion.
import { createHmac } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixture } from '../webhooks/load';
import { block, pageOf, readGuide } from './guides';
import { API_KEY, chromiumMissing, freshClientIp, startStack, visit, waitFor, type Stack, type TapWindow } from './harness';

/** The secret docs/security.md's test vectors, and so the guides' sample signatures, are made with. */
const EXAMPLE_SECRET = 'tapline-example-secret';
const STRIPE_SECRET = 'whsec_e2e_stripe';

/** Stripe-Signature, scheme v1: HMAC-SHA256 of `${t}.${body}` with the endpoint's secret. */
function stripeSignature(body: string, secret: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

describe.skipIf(chromiumMissing)('the guides, end to end (signed trust)', () => {
  let stack: Stack;
  let context: BrowserContext;
  let page: Page;

  const www = (path: string) => stack.merchant.url('www.shop.test', path);
  const userAgent = () => page.evaluate(() => navigator.userAgent);
  const landingClick = () => {
    expect(stack.postbacks.clicks).toHaveLength(1);
    return stack.postbacks.acceptedClicks()[0].id!;
  };
  const received = () => stack.postbacks.received.map((postback) => [postback.kind, postback.status, postback.apiKey, postback.fields]);
  const eventAnswers = () =>
    stack.merchant.forwarded
      .filter((request) => /^\/_tap\/(convert|customer)$/.test(request.path))
      .map(({ path, status, answer }) => [path, status, JSON.parse(answer.split('\n\n')[1])]);

  beforeAll(async () => {
    stack = await startStack({}, { signingSecret: EXAMPLE_SECRET, stripeSecret: STRIPE_SECRET });
  });
  afterAll(async () => {
    await stack?.close();
  });
  /** This test's client network (see MerchantOrigin.clientIp). */
  let clientIp = '';
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

  it('the stack runs in signed trust: an unsigned conversion is refused', async () => {
    const health = await fetch(`http://127.0.0.1:${stack.merchant.port}/_tap/health`).then((response) => response.json());
    expect(health).toMatchObject({ ok: true, trust: 'signed', webhooks: { stripe: true } });
    const own = `http://127.0.0.1:${stack.merchant.port}`;
    const unsigned = await stack.post('/_tap/convert', JSON.stringify({ external_id: 'ORD-unsigned', amount: 10, referral_code: 'anna' }), { origin: own });
    expect(unsigned).toEqual({ status: 401, json: expect.objectContaining({ ok: false, error: 'signature_required' }) });
    expect(stack.postbacks.received).toEqual([]);
  });

  it('wordpress-woocommerce.md: wp_head prints the tag, woocommerce_thankyou the signed order → customer 7, then order 1042, attributed', async () => {
    const guide = readGuide('wordpress-woocommerce');
    const received_ = pageOf(block(guide, 'thank-you', 'wordpress-woocommerce'), '/checkout/order-received/1042/?key=wc_order_Xq3b9');
    const wordpress = (title: string, content: string) => `<!DOCTYPE html>
<html lang="en-US"><head><meta charset="UTF-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${block(guide, 'head', 'wordpress-woocommerce').html}
<title>${title} – My Shop</title>
<meta name="generator" content="WordPress 6.8"><meta name="generator" content="WooCommerce 9.9">
</head><body class="wp-site-blocks woocommerce-page"><main class="wp-block-group">
${content}
</main></body></html>`;
    stack.merchant.pages.set('/', { html: wordpress('Home', '<h1>My Shop</h1>') });
    stack.merchant.pages.set(received_.path, {
      html: wordpress(
        'Order received',
        `<div class="woocommerce"><div class="woocommerce-order">
<p class="woocommerce-notice woocommerce-thankyou-order-received">Thank you. Your order has been received.</p>
${block(guide, 'thank-you', 'wordpress-woocommerce').html}
<ul class="woocommerce-order-overview"><li class="order">Order number: <strong>1042</strong></li></ul></div></div>`,
      ),
    });

    await visit(page, www('/?ref=anna'));
    await visit(page, www(received_.url));
    await waitFor('one accepted conversion', () => stack.postbacks.accepted('conversion').length === 1 && stack.merchant.inFlight === 0);

    const identifiers = { referral_code: 'anna', click_id: landingClick(), ip: clientIp, user_agent: await userAgent() };
    expect(eventAnswers()).toEqual([['/_tap/convert', 200, { ok: true, status: 'sent' }]]);
    expect(received()).toEqual([
      ['customer', 200, API_KEY, { customer_id: '7', ...identifiers }],
      ['conversion', 200, API_KEY, { external_id: '1042', amount: 49.5, currency: 'EUR', customer_id: '7', ...identifiers }],
    ]);
  });

  it('stripe.md: the Buy form hands tap.reference() to the hosted checkout as client_reference_id; the signed webhook gives one attributed conversion; the success page is answered duplicate; charge.refunded disapproves its commission once', async () => {
    const guide = readGuide('stripe');
    const success = pageOf(block(guide, 'thank-you', 'stripe'), '/thanks?session_id=cs_test_a1B2c3D4');
    const sessionId = new URLSearchParams(success.url.split('?')[1]).get('session_id')!;
    const head = block(guide, 'head', 'stripe').html;
    const shop = (body: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SaaS</title>\n${head}\n</head><body>${body}</body></html>`;
    stack.merchant.pages.set('/', { html: shop('<h1>SaaS</h1><a href="/pricing">Pricing</a>') });
    stack.merchant.pages.set('/pricing', { html: shop(`<h1>Pro plan, €49</h1>\n${block(guide, 'storefront', 'stripe').html}`) });
    // The merchant's server: creates the Checkout Session with the reference and redirects to Stripe's page.
    const checkoutUrl = (reference: string) =>
      stack.merchant.url('pay.elsewhere.test', `/c/pay/${sessionId}?${new URLSearchParams({ client_reference_id: reference })}`);
    stack.merchant.pages.set('/checkout', (request) => ({
      status: 303,
      html: '',
      headers: { location: checkoutUrl(new URLSearchParams(request.body).get('tap_ref') ?? '') },
    }));
    // Stripe's hosted checkout: another host, where the shop's cookie does not reach and no tag runs.
    stack.merchant.pages.set(`/c/pay/${sessionId}`, { html: '<!doctype html><title>Checkout</title><h1>Pay €49.00</h1>' });
    stack.merchant.pages.set(success.path, { html: shop(`<h1>Thank you</h1>\n${block(guide, 'thank-you', 'stripe').html}`) });

    await visit(page, www('/?ref=anna'));
    await visit(page, www('/pricing'));
    const reference = await page.evaluate(() => (window as unknown as TapWindow & { tap: { reference(): string } }).tap.reference());
    expect(reference).toMatch(/^[A-Za-z0-9_-]{1,200}$/);
    await Promise.all([page.waitForURL(/pay\.elsewhere\.test/), page.click('#buy button')]);
    expect(stack.merchant.requests.filter((request) => request.method === 'POST').map(({ path, body }) => [path, body])).toEqual([
      ['/checkout', `tap_ref=${reference}`],
    ]);
    const clientReferenceId = new URL(page.url()).searchParams.get('client_reference_id');
    expect(clientReferenceId).toBe(reference);
    expect(await context.cookies(page.url())).toEqual([]);

    // Stripe confirms the payment to the worker: checkout.session.completed, signed with the endpoint's secret.
    const event = fixture('stripe-checkout-session-payment.json');
    Object.assign(event.data.object, {
      id: sessionId,
      client_reference_id: clientReferenceId,
      currency: 'eur',
      amount_subtotal: 4900,
      amount_total: 4900,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      livemode: true,
    });
    // A live payment: the fixture is from Stripe's test mode, which the worker answers in test mode.
    event.livemode = true;
    const body = JSON.stringify(event);
    const forged = await stack.post('/_tap/webhooks/stripe', body, { 'stripe-signature': stripeSignature(body, 'whsec_not_this_one') });
    expect(forged).toEqual({ status: 400, json: expect.objectContaining({ ok: false, error: 'invalid_signature' }) });
    const webhook = await stack.post('/_tap/webhooks/stripe', body, { 'stripe-signature': stripeSignature(body, STRIPE_SECRET) });
    expect(webhook).toEqual({ status: 200, json: { ok: true, status: 'sent' } });

    const customer = event.data.object.customer as string;
    const fromTheLanding = { referral_code: 'anna', click_id: landingClick() };
    const expected = [
      ['customer', 200, API_KEY, { customer_id: customer, ...fromTheLanding }],
      ['conversion', 200, API_KEY, { external_id: sessionId, amount: 49, currency: 'EUR', customer_id: customer, ...fromTheLanding }],
    ];
    expect(received()).toEqual(expected);

    // Stripe sends the buyer to the success page, which also converts the session: the ledger answers duplicate.
    await visit(page, www(success.url));
    await waitFor('the success page\'s conversion answer', () => eventAnswers().length === 1 && stack.merchant.inFlight === 0);
    expect(eventAnswers()).toEqual([['/_tap/convert', 200, { ok: true, status: 'duplicate' }]]);
    expect(received()).toEqual(expected);

    // The merchant refunds the payment in Stripe: charge.refunded names its payment_intent, and the commission is disapproved.
    expect(stack.postbacks.conversions().find((c) => c.external_id === sessionId)?.commissions).toMatchObject([{ amount: 4.9, approved: null }]);
    const refund = fixture('stripe-charge-refunded.json');
    refund.livemode = true;
    Object.assign(refund.data.object, { payment_intent: event.data.object.payment_intent, amount: 4900, amount_captured: 4900, amount_refunded: 4900, currency: 'eur', livemode: true });
    const refundBody = JSON.stringify(refund);
    const refunded = await stack.post('/_tap/webhooks/stripe', refundBody, { 'stripe-signature': stripeSignature(refundBody, STRIPE_SECRET) });
    expect(refunded).toEqual({ status: 200, json: { ok: true, status: 'reversed' } });
    expect(stack.postbacks.conversions().find((c) => c.external_id === sessionId)?.commissions).toMatchObject([{ amount: 4.9, approved: false }]);
    // Stripe retries: the same refund changes nothing more.
    expect(await stack.post('/_tap/webhooks/stripe', refundBody, { 'stripe-signature': stripeSignature(refundBody, STRIPE_SECRET) })).toEqual({ status: 200, json: { ok: true, status: 'duplicate' } });
    expect(stack.postbacks.rest.filter((r) => r.method === 'DELETE')).toHaveLength(1);
  });
});
