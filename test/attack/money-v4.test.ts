// Money v4 (docs/security.md, "Attacks"): the holes an attacker's pass on renewals, tokens,
// clicks, strings and the operator API found, one test each, through HTTP against the
// production app, the real ledger and rate limit binding, and this file's own Tapfiliate
// stand-in. Stripe events are signed by the `stripe` package's own helper; Lemon Squeezy's
// with its documented HMAC (it publishes no signer).
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import Stripe from 'stripe';
import { describe, expect, inject, it, vi } from 'vitest';
import { encodeReference } from '../../common/attribution';
import { createApp } from '../../proxy/app';
import { createDelivery } from '../../proxy/delivery';
import { postbackControl } from '../postback/control';
import { invoicePaidText, sessionPaymentText, sessionSubscriptionText } from '../webhooks-workerd/helpers';
import { lemonSqueezyOrder, lemonSqueezyRenewal, platformSecrets } from '../webhooks-workerd/platform-helpers';
import { attackEnv, freshIp, ORIGIN, send, TOKEN, uniqueId } from './harness';

const money = postbackControl(inject('attackPostbackServers').money);
const ADMIN = 'money-v4-admin-token';
const STRIPE_SECRET = 'whsec_money_v4';
const stripe = new Stripe('sk_test_not_used_offline');
const ANNA = encodeReference({ referral_code: 'anna' })!;
const MALLORY = encodeReference({ referral_code: 'mallory' })!;

/** This file's env: postbacks and clicks to its own stand-in, every token and webhook secret set. */
const env = (extra: Partial<Env> = {}) =>
  attackEnv(
    {
      TAPFILIATE_CLICKS_URL: money.clicksUrl,
      TAPFILIATE_REST_URL: money.restUrl,
      TAPLINE_SERVER_TOKEN: TOKEN,
      TAPLINE_ADMIN_TOKEN: ADMIN,
      STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
      ...platformSecrets,
      ...extra,
    },
    money,
  );
const bearer = (token: string) => ({ origin: undefined, authorization: `Bearer ${token}` });
const conversionsOf = async (external_id: string) => (await money.accepted('conversion')).filter((r) => r.fields.external_id === external_id);

async function postStripe(object: Record<string, unknown>, type: string, livemode = true) {
  const payload = JSON.stringify({ id: uniqueId('evt'), object: 'event', api_version: '2025-03-31.basil', created: Math.floor(Date.now() / 1000), livemode, type, data: { object } });
  const header = await stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: STRIPE_SECRET });
  return send('/_tap/webhooks/stripe', payload, { env: env(), headers: { origin: undefined, 'content-type': 'application/json', 'stripe-signature': header } });
}

async function postLemonSqueezy(body: string) {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(platformSecrets.LEMONSQUEEZY_WEBHOOK_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = [...new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body)))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const name = (JSON.parse(body) as { meta: { event_name: string } }).meta.event_name;
  return send('/_tap/webhooks/lemonsqueezy', body, { env: env(), headers: { origin: undefined, 'content-type': 'application/json', 'x-event-name': name, 'x-signature': mac } });
}

/** A GET through the app (the operator API). */
async function get(path: string, headers: Record<string, string>) {
  const app = createApp({ createDelivery });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const ctx = createExecutionContext();
  try {
    const response = await app.request(`${ORIGIN}${path}`, { headers }, env(), ctx);
    const json = (await response.json()) as Record<string, any>;
    await waitOnExecutionContext(ctx);
    return { status: response.status, json };
  } finally {
    log.mockRestore();
  }
}

/** A Stripe subscription checkout with its first invoice paid. */
function subscriptionCheckout(customer: string, subscription: string, reference: string | null, extra: Record<string, unknown> = {}) {
  const session = JSON.parse(sessionSubscriptionText).data.object as Record<string, unknown>;
  return { ...session, id: uniqueId('cs'), customer, subscription, invoice: uniqueId('in'), client_reference_id: reference, metadata: {}, livemode: true, ...extra };
}

/** A renewal of `subscription` whose metadata holds no tap_ref (API 2025-03-31 shape). */
function renewalInvoice(customer: string, subscription: string) {
  const invoice = JSON.parse(invoicePaidText).data.object as Record<string, any>;
  return { ...invoice, id: uniqueId('in'), customer, livemode: true, parent: { ...invoice.parent, subscription_details: { metadata: {}, subscription } } };
}

describe('hole 1: a remembered attribution belongs to its subscription', () => {
  it('Lemon Squeezy: a stranger’s free order under a subscriber’s customer does not take the subscription’s renewals', async () => {
    const { body: order, customer } = lemonSqueezyOrder((e) => (e.meta.custom_data = { tap_ref: ANNA }));
    expect((await postLemonSqueezy(order)).json).toEqual({ ok: true, status: 'sent' });
    const subscription = Number(String(Date.now()).slice(-8));
    const initial = lemonSqueezyRenewal(customer, (e) => {
      e.meta.custom_data = { tap_ref: ANNA };
      e.data.attributes.billing_reason = 'initial';
      e.data.attributes.subscription_id = subscription;
    });
    await postLemonSqueezy(initial.body);
    // The stranger checks out a free product with the subscriber's email, through their own link.
    const free = lemonSqueezyOrder((e) => {
      e.meta.custom_data = { tap_ref: MALLORY };
      e.data.attributes.customer_id = Number(customer);
      Object.assign(e.data.attributes, { total: 0, subtotal: 0, tax: 0 });
    });
    await postLemonSqueezy(free.body);
    const renewal = lemonSqueezyRenewal(customer, (e) => (e.data.attributes.subscription_id = subscription));
    expect((await postLemonSqueezy(renewal.body)).json).toEqual({ ok: true, status: 'sent' });
    expect((await conversionsOf(`invoice-${renewal.id}`))[0].fields).toMatchObject({ referral_code: 'anna' });
  });

  it('Stripe: a later checkout of the same customer does not take the first subscription’s renewals', async () => {
    const customer = uniqueId('cus');
    const first = uniqueId('sub');
    expect((await postStripe(subscriptionCheckout(customer, first, ANNA), 'checkout.session.completed')).json).toEqual({ ok: true, status: 'sent' });
    await postStripe(subscriptionCheckout(customer, uniqueId('sub'), MALLORY), 'checkout.session.completed');
    const renewal = renewalInvoice(customer, first);
    expect((await postStripe(renewal, 'invoice.paid')).json).toEqual({ ok: true, status: 'sent' });
    expect((await conversionsOf(renewal.id))[0].fields).toMatchObject({ referral_code: 'anna' });
  });
});

describe('hole 11: Stripe test-mode events write no renewal memory', () => {
  it('a test-mode subscription checkout leaves nothing for a live renewal', async () => {
    const customer = uniqueId('cus');
    const subscription = uniqueId('sub');
    const test = await postStripe(subscriptionCheckout(customer, subscription, MALLORY, { livemode: false }), 'checkout.session.completed', false);
    expect(test.json).toMatchObject({ ok: true, status: 'test' });
    const renewal = renewalInvoice(customer, subscription);
    expect((await postStripe(renewal, 'invoice.paid')).json).toEqual({ ok: true, status: 'unattributed' });
    expect(await conversionsOf(renewal.id)).toEqual([]);
  });
});

describe('hole 13: Stripe reads metadata.tap_ref when client_reference_id is the merchant’s own id', () => {
  it('client_reference_id "my-own-id" and a valid metadata.tap_ref: the conversion is attributed', async () => {
    const session = { ...(JSON.parse(sessionPaymentText).data.object as Record<string, unknown>), id: uniqueId('cs'), client_reference_id: 'my-own-id', metadata: { tap_ref: ANNA }, livemode: true };
    expect((await postStripe(session, 'checkout.session.completed')).json).toEqual({ ok: true, status: 'sent' });
    expect((await conversionsOf(session.id as string))[0].fields).toMatchObject({ referral_code: 'anna' });
  });
});

/** Miniflare's rate limit counts in fixed minutes: start early enough in one that the burst stays inside it. */
async function startOfAMinute() {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 50));
  return Math.floor(Date.now() / 60_000);
}

describe('hole 2: the failure budget gates every token-bearing request, the right token included', () => {
  it('after 60 wrong guesses from one network, the right server and admin tokens get 429 too', { timeout: 30_000 }, async () => {
    const minute = await startOfAMinute();
    const attacker = freshIp();
    const from = (token: string) => ({ env: env(), headers: { ...bearer(token), 'cf-connecting-ip': attacker } });
    for (let i = 0; i < 60; i++) await send('/_tap/convert', { external_id: uniqueId('GUESS'), referral_code: 'x' }, from(`guess-${i}`));
    expect((await send('/_tap/convert', { external_id: uniqueId('GUESS') }, from('guess-61'))).status).toBe(429);
    const external_id = uniqueId('RIGHT');
    const right = await send('/_tap/convert', { external_id, amount: 10, referral_code: 'anna' }, from(TOKEN));
    const refund = await send('/_tap/refund', { external_id, refund_id: uniqueId('R') }, from(TOKEN));
    const admin = await get('/_tap/admin/api/summary', { authorization: `Bearer ${ADMIN}`, 'cf-connecting-ip': attacker });
    expect(Math.floor(Date.now() / 60_000), 'the burst crossed a minute; rerun').toBe(minute);
    expect([right.status, refund.status, admin.status]).toEqual([429, 429, 429]);
    expect(await conversionsOf(external_id)).toEqual([]);
    // Another network is not held back.
    expect((await send('/_tap/convert', { external_id, amount: 10, referral_code: 'anna' }, { env: env(), headers: bearer(TOKEN) })).json).toEqual({ ok: true, status: 'sent' });
  });
});

describe('hole 5: strings are well-formed Unicode on every route', () => {
  const lone = '\ud800';
  it.each([
    ['/_tap/convert', { external_id: lone, amount: 5, referral_code: 'anna' }, 'external_id'],
    ['/_tap/convert', { external_id: uniqueId('U'), amount: 5, referral_code: `anna${lone}` }, 'referral_code'],
    ['/_tap/customer', { customer_id: `c${'\udc00'}`, referral_code: 'anna' }, 'customer_id'],
    ['/_tap/refund', { external_id: 'ORD-1', refund_id: lone }, 'refund_id'],
  ])('%s with a lone surrogate in %j is a 400 naming %s, and nothing is sent', async (path, body, field) => {
    const answer = await send(path, body, { env: env(), headers: bearer(TOKEN) });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ ok: false, error: 'invalid_request', issues: [expect.objectContaining({ path: field })] });
  });

  it('a landing with a lone surrogate in its referral code is a 400 naming it', async () => {
    const answer = await send('/_tap/click', { referral_code: `x${lone}` }, { env: env({ TAPFILIATE_CLICKS_URL: money.clicksUrl }) });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ issues: [expect.objectContaining({ path: 'referral_code' })] });
  });
});

/** The ledger object a client network's clicks are made in: SHA-256 of `clk:<network>`, 32 objects (the proxy's shard rule). */
async function clickShard(network: string) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`clk:${network}`));
  return new DataView(digest).getUint32(0) % 32;
}

describe('hole 8: the click budget counts only that network’s clicks', () => {
  it('five other networks’ slow clicks in flight in the same ledger object leave a visitor’s click alone', { timeout: 30_000 }, async () => {
    const visitor = freshIp();
    const shard = await clickShard(visitor);
    const others: string[] = [];
    while (others.length < 5) {
      const ip = freshIp();
      if (ip !== visitor && (await clickShard(ip)) === shard) others.push(ip);
    }
    // One landing alone first, so the ledger objects follow this env before the five run at once.
    await send('/_tap/click', { coupon: 'WARMUP' }, { env: env() });
    await money.setFaults({ clicks: { next: ['slow', 'slow', 'slow', 'slow', 'slow'], slowMs: 4000 } });
    const codes = others.map(() => uniqueId('slow'));
    const inFlight = others.map((ip, i) => send('/_tap/click', { referral_code: codes[i] }, { env: env(), headers: { 'cf-connecting-ip': ip } }));
    const arrived = async () => (await money.clicks()).filter((click) => codes.includes(String(click.fields.referral_code))).length;
    for (let poll = 0; poll < 500 && (await arrived()) < 5; poll++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await arrived(), 'the five slow clicks are in flight').toBe(5);
    const answer = await send('/_tap/click', { referral_code: uniqueId('anna') }, { env: env(), headers: { 'cf-connecting-ip': visitor } });
    await Promise.all(inFlight);
    await money.setFaults({});
    expect(answer.json).toMatchObject({ ok: true, status: 'stored', click_id: expect.any(String) });
  });
});

describe('hole 9: an IPv6 /48 has its own budget of referral codes', () => {
  it('51 made-up codes from 51 /64s of one /48 make at most 50 clicks; every landing still stores its cookie', { timeout: 60_000 }, async () => {
    const prefix = `2001:db8:${(crypto.getRandomValues(new Uint16Array(1))[0] | 1).toString(16)}`;
    const codes = Array.from({ length: 51 }, () => uniqueId('made-up'));
    const answers = [];
    for (const [i, code] of codes.entries()) {
      answers.push(await send('/_tap/click', { referral_code: code }, { env: env(), headers: { 'cf-connecting-ip': `${prefix}:${(i + 1).toString(16)}::1` } }));
    }
    for (const answer of answers) expect(answer.headers.get('set-cookie')).toContain('tap_data=');
    const made = (await money.clicks()).filter((click) => codes.includes(String(click.fields.referral_code)));
    expect(made.length).toBeLessThanOrEqual(50);
    // Another /48 is not held back.
    const elsewhere = await send('/_tap/click', { referral_code: codes[50] }, { env: env(), headers: { 'cf-connecting-ip': `2001:db8:ffff:1::1` } });
    expect(elsewhere.json).toMatchObject({ click_id: expect.any(String) });
  });
});

describe('hole 12: IPv6 addresses in Tapfiliate’s words are masked for the operator', () => {
  it('a refusal naming an IPv6 address shows its /48 plus ::x in the record', async () => {
    const external_id = uniqueId('V6');
    await money.setFaults({ next: [{ status: 422, message: 'Click from 2001:db8:abcd:12:3:4:5:6 refused' }] });
    expect((await send('/_tap/convert', { external_id, amount: 5, referral_code: 'anna' }, { env: env(), headers: bearer(TOKEN) })).status).toBe(422);
    const { json } = await get(`/_tap/admin/api/events/${encodeURIComponent(`con:${external_id}`)}`, { authorization: `Bearer ${ADMIN}` });
    const text = JSON.stringify(json);
    expect(text).not.toContain('2001:db8:abcd:12');
    expect(json.event.last.message).toBe('Click from 2001:db8:abcd::x refused');
  });

  it('also when the address is glued to a label or a word', async () => {
    const external_id = uniqueId('V6');
    await money.setFaults({ next: [{ status: 422, message: 'Click from IP:2001:db8:abcd:12:3:4:5:6 and x_2001:db8::1 refused' }] });
    expect((await send('/_tap/convert', { external_id, amount: 5, referral_code: 'anna' }, { env: env(), headers: bearer(TOKEN) })).status).toBe(422);
    const { json } = await get(`/_tap/admin/api/events/${encodeURIComponent(`con:${external_id}`)}`, { authorization: `Bearer ${ADMIN}` });
    const text = JSON.stringify(json);
    expect(text).not.toContain('2001:db8:abcd:12');
    expect(text).not.toContain('2001:db8::1');
    expect(json.event.last.message).toBe('Click from IP:2001:db8:abcd::x and x_2001:db8::x refused');
  });
});
