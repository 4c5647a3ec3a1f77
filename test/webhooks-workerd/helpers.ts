// Shared by the webhook routes' workerd tests: the real app and delivery (ledger +
// queue from wrangler.toml) pointed at a local postback stand-in, platform
// signatures made with Web Crypto, and the platforms' fixtures as raw text.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { vi } from 'vitest';
import { encodeReference } from '../../common/attribution';
import { createApp } from '../../proxy/app';
import { createDelivery } from '../../proxy/delivery';
import { ledgersFollow } from '../ledger-control';
import { postbackControl } from '../postback/control';

import chargeRefundedText from '../webhooks/fixtures/stripe-charge-refunded.json?raw';
import invoicePaidText from '../webhooks/fixtures/stripe-invoice-paid.json?raw';
import sessionPaymentText from '../webhooks/fixtures/stripe-checkout-session-payment.json?raw';
import sessionSubscriptionText from '../webhooks/fixtures/stripe-checkout-session-subscription.json?raw';
import shopifyOrderText from '../webhooks/fixtures/shopify-orders-paid.json?raw';

export { chargeRefundedText, invoicePaidText, sessionPaymentText, sessionSubscriptionText, shopifyOrderText };

export const STRIPE_SECRET = 'whsec_workerd_test_5f4e3d2c1b0a';
export const SHOPIFY_SECRET = 'shpss_workerd_test_0a1b2c3d4e5f';
/** What `tap.reference()` gives for a landing through anna's link. */
export const ANNA = encodeReference({ referral_code: 'anna' })!;

export type Upstream = ReturnType<typeof postbackControl>;

/** The worker's env with the real queue and ledger, its postbacks going to `upstream`, and the webhook secrets set. */
export function webhookEnv(upstream: Upstream, extra: Partial<Record<keyof Env, unknown>> = {}): Env {
  return {
    ...(workerEnv as Env),
    TAPFILIATE_API_KEY: 'test-key',
    POSTBACK_CONVERSION_URL: upstream.conversionUrl,
    POSTBACK_CUSTOMER_URL: upstream.customerUrl,
    STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
    SHOPIFY_WEBHOOK_SECRET: SHOPIFY_SECRET,
    // The fixtures are Stripe test-mode events (livemode: false) and a Shopify test order, which
    // these tests deliver; test mode itself is tested in test/refunds/webhooks.test.ts.
    WEBHOOK_TEST_EVENTS: 'send',
    ...extra,
  } as Env;
}

/** One request through the production app with the real createDelivery; every log line is captured. */
export async function request(env: Env, path: string, init: RequestInit) {
  const app = createApp({ createDelivery });
  await ledgersFollow(env);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const ctx = createExecutionContext();
  try {
    const response = await app.request(`https://shop.example/_tap${path}`, init, env, ctx);
    const text = await response.text();
    await waitOnExecutionContext(ctx);
    const lines = log.mock.calls.map((args) => JSON.parse(args.map(String).join(' ')) as Record<string, unknown>);
    return { status: response.status, json: JSON.parse(text) as Record<string, unknown>, lines };
  } finally {
    log.mockRestore();
  }
}

const encoder = new TextEncoder();

async function hmac(secret: string, data: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(data)));
}

/** Stripe-Signature as Stripe's libraries make it: `t=<s>,v1=<hex HMAC-SHA256 of "t.body">`. */
export async function stripeSignature(body: string, { secret = STRIPE_SECRET, timestamp = Math.floor(Date.now() / 1000) } = {}) {
  const bytes = await hmac(secret, `${timestamp}.${body}`);
  return `t=${timestamp},v1=${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body. */
export async function shopifySignature(body: string, secret = SHOPIFY_SECRET) {
  return btoa(String.fromCharCode(...(await hmac(secret, body))));
}

export async function postStripe(env: Env, body: string, signature?: string | null) {
  const header = signature === undefined ? await stripeSignature(body) : signature;
  return request(env, '/webhooks/stripe', {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', ...(header ? { 'stripe-signature': header } : {}) },
    body,
  });
}

export async function postShopify(env: Env, body: string, { topic = 'orders/paid', hmac: header }: { topic?: string; hmac?: string | null } = {}) {
  const signature = header === undefined ? await shopifySignature(body) : header;
  return request(env, '/webhooks/shopify', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': topic,
      'x-shopify-webhook-id': crypto.randomUUID(),
      ...(signature ? { 'x-shopify-hmac-sha256': signature } : {}),
    },
    body,
  });
}

let counter = 0;
/** An id no other test (or earlier run against the same ledger) used. */
export const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${(++counter).toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/** A Stripe event envelope around `object`. */
export function stripeEvent(type: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ id: unique('evt_'), object: 'event', api_version: '2025-03-31.basil', created: Math.floor(Date.now() / 1000), livemode: false, type, data: { object }, ...extra });
}

/** A paid one-off checkout session, shaped like the fixture, with fresh ids. */
export function paymentSession(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const session = JSON.parse(sessionPaymentText).data.object as Record<string, unknown>;
  return { ...session, id: unique('cs_test_'), customer: unique('cus_'), client_reference_id: ANNA, ...overrides };
}
