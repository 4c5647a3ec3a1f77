// "Why was order 1043 not credited?" (docs/operations.md, "Console"): every event the
// worker answers is a record, the unattributed and ignored ones with their reason; a
// record shows its job and the step of each try; the list filters by date and id
// prefix; and dead records are retried in bulk. The real ledger objects in workerd,
// delivering to the local Tapfiliate stand-in.
import { runInDurableObject } from 'cloudflare:test';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createDelivery, type LedgerEvent } from '../../proxy/delivery';
import type { LedgerRecord } from '../../proxy/delivery/lifecycle';
import { ledgerAt, shardOf } from '../../proxy/delivery/shards';
import { EventStore } from '../../proxy/delivery/store';
import type { PostbackJob } from '../../proxy/tapfiliate';
import { ledgers, recordOf } from '../ledger-control';
import { postbackControl } from '../postback/control';
import { post, tapDataCookie } from '../proxy/helpers';
import lemonOrderText from '../webhooks/fixtures/lemonsqueezy-order-created.json?raw';
import paddleTransactionText from '../webhooks/fixtures/paddle-transaction-completed.json?raw';
import shopifyOrderText from '../webhooks/fixtures/shopify-orders-paid.json?raw';
import sessionPaymentText from '../webhooks/fixtures/stripe-checkout-session-payment.json?raw';
import { stripeSignature } from '../webhooks-workerd/helpers';
import { ADMIN_TOKEN, API_KEY, bearer, call } from './helpers';

const upstream = postbackControl(inject('adminPostbackServer'));
const SHOPPER_IP = '203.0.113.77';
const SERVER_TOKEN = 'server-token-answered-3f1d';
const STRIPE_SECRET = 'whsec_answered_test_7a6b5c';
const LEMON_SECRET = 'lemon-answered-test-9e8d';
const SHOPIFY_SECRET = 'shopify-answered-test-4c3b';
const PADDLE_SECRET = 'pdl_ntfset_answered_test_2a1f';
const env: Partial<Env> = { TAPLINE_SERVER_TOKEN: SERVER_TOKEN };
const options = { createDelivery };

const run = Date.now().toString(36).toUpperCase();
let n = 0;
const nextId = (prefix = 'ORD') => `${prefix}-${run}-${++n}`;
const answers: string[] = [];

async function admin(path: string, method = 'GET', body?: unknown) {
  const init: RequestInit = { method, headers: { ...bearer(), ...(body !== undefined && { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) };
  const result = await call(`/_tap/admin/api/${path}`, init, env, options);
  answers.push(result.text);
  return { status: result.status, body: result.json() as Record<string, any> };
}
const eventOf = async (key: string) => (await admin(`events/${encodeURIComponent(key)}`)).body.event as LedgerEvent & Record<string, any>;

/** A server event from the merchant's backend. */
async function serverEvent(path: 'convert' | 'customer', fields: Record<string, unknown>) {
  const init = post({ ip: SHOPPER_IP, user_agent: 'Mozilla/5.0 (answered test)', ...fields }, { origin: undefined, authorization: `Bearer ${SERVER_TOKEN}`, 'content-type': 'application/json' });
  const result = await call(`/_tap/${path}`, init, env, options);
  return { status: result.status, body: result.json() as Record<string, any> };
}

/** A browser conversion from the shop's page, with or without the affiliate's cookie. */
async function browserConvert(fields: Record<string, unknown>, cookie?: unknown) {
  const init = post(fields, { ...(cookie !== undefined && { cookie: tapDataCookie(cookie) }), 'cf-connecting-ip': SHOPPER_IP });
  const result = await call('/_tap/convert', init, env, options);
  return { status: result.status, body: result.json() as Record<string, any> };
}

/** A signed Stripe checkout session, paid or not. */
async function stripeSession(fields: Record<string, unknown>) {
  const event = JSON.parse(sessionPaymentText);
  Object.assign(event.data.object, fields);
  event.livemode = true;
  const body = JSON.stringify(event);
  const init = { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': await stripeSignature(body, { secret: STRIPE_SECRET }) }, body };
  const result = await call('/_tap/webhooks/stripe', init, { ...env, STRIPE_WEBHOOK_SECRET: STRIPE_SECRET }, options);
  return { status: result.status, body: result.json() as Record<string, any> };
}

/** A signed Lemon Squeezy order_created, with its attributes changed. */
async function lemonOrder(id: string, attributes: Record<string, unknown>) {
  const event = JSON.parse(lemonOrderText);
  event.data.id = id;
  Object.assign(event.data.attributes, attributes);
  const body = JSON.stringify(event);
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(LEMON_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body)));
  const signature = [...mac].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  const init = { method: 'POST', headers: { 'content-type': 'application/json', 'x-event-name': 'order_created', 'x-signature': signature }, body };
  const result = await call('/_tap/webhooks/lemonsqueezy', init, { ...env, LEMONSQUEEZY_WEBHOOK_SECRET: LEMON_SECRET }, options);
  return { status: result.status, body: result.json() as Record<string, any> };
}

/** HMAC-SHA256 of `data` with `secret`, as bytes. */
async function hmac(secret: string, data: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(data)));
}

/** A Shopify orders/paid, signed as Shopify signs it (base64 HMAC of the body). */
async function shopifyOrder(fields: Record<string, unknown>) {
  const body = JSON.stringify({ ...JSON.parse(shopifyOrderText), ...fields });
  const signature = btoa(String.fromCharCode(...(await hmac(SHOPIFY_SECRET, body))));
  const init = { method: 'POST', headers: { 'content-type': 'application/json', 'x-shopify-topic': 'orders/paid', 'x-shopify-hmac-sha256': signature }, body };
  const result = await call('/_tap/webhooks/shopify', init, { ...env, SHOPIFY_WEBHOOK_SECRET: SHOPIFY_SECRET }, options);
  return { status: result.status, body: result.json() as Record<string, any> };
}

/** A Paddle transaction.completed, signed as Paddle signs it (`ts=…;h1=` hex HMAC of `ts:body`). */
async function paddleTransaction(change: (event: any) => void) {
  const event = JSON.parse(paddleTransactionText);
  change(event);
  const body = JSON.stringify(event);
  const ts = Math.floor(Date.now() / 1000);
  const h1 = [...(await hmac(PADDLE_SECRET, `${ts}:${body}`))].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  const init = { method: 'POST', headers: { 'content-type': 'application/json', 'paddle-signature': `ts=${ts};h1=${h1}` }, body };
  const result = await call('/_tap/webhooks/paddle', init, { ...env, PADDLE_WEBHOOK_SECRET: PADDLE_SECRET }, options);
  return { status: result.status, body: result.json() as Record<string, any> };
}

const acceptedFor = async (external_id: string) => (await upstream.accepted('conversion')).filter((r) => r.fields.external_id === external_id);
const keysOf = (events: LedgerEvent[]) => events.map((event) => event.key);

beforeEach(() => upstream.reset());

describe('every answered event is a record, with its reason', () => {
  it('a server order without an affiliate: unattributed, no_attribution, with its ids and amount; nothing sent', async () => {
    const order = nextId();
    expect(await serverEvent('convert', { external_id: order, amount: 120, currency: 'EUR', customer_id: `C-${order}` })).toEqual({ status: 200, body: { ok: true, status: 'unattributed' } });
    const event = await eventOf(`con:${order}`);
    expect(event).toMatchObject({ status: 'unattributed', reason: 'no_attribution', source: 'server', kind: 'conversion', external_id: order, customer_id: `C-${order}`, amount: 120, currency: 'EUR', attempts: 0 });
    expect(event.job).toBeUndefined();
    expect(event.history).toEqual([expect.objectContaining({ outcome: 'unattributed', reason: 'no_attribution' })]);
    expect(await upstream.received()).toEqual([]);
  });

  it('a zero amount: ignored, zero_amount', async () => {
    const order = nextId();
    expect((await serverEvent('convert', { external_id: order, amount: 0, currency: 'EUR', referral_code: 'anna' })).body.status).toBe('ignored');
    expect(await eventOf(`con:${order}`)).toMatchObject({ status: 'ignored', reason: 'zero_amount', amount: 0, identifiers: { referral_code: 'anna' } });
    expect(await upstream.received()).toEqual([]);
  });

  it('a browser order without a cookie: unattributed, source browser', async () => {
    const order = nextId();
    expect((await browserConvert({ external_id: order, amount: 30, currency: 'EUR' })).body.status).toBe('unattributed');
    expect(await eventOf(`con:${order}`)).toMatchObject({ status: 'unattributed', reason: 'no_attribution', source: 'browser', amount: 30 });
  });

  it('an unpaid Stripe session: ignored, not_paid, with the session id as the order', async () => {
    const session = `cs_live_${run}_unpaid`;
    expect((await stripeSession({ id: session, payment_status: 'unpaid' })).body.status).toBe('ignored');
    expect(await eventOf(`con:${session}`)).toMatchObject({ status: 'ignored', reason: 'not_paid', source: 'stripe', external_id: session });
  });

  it('an unpaid Lemon Squeezy order: ignored, not_paid; its paid event later is sent', async () => {
    const id = `${Date.now()}`;
    expect((await lemonOrder(id, { status: 'pending' })).body.status).toBe('ignored');
    expect(await eventOf(`con:${id}`)).toMatchObject({ status: 'ignored', reason: 'not_paid', source: 'lemonsqueezy', amount: 24, currency: 'USD' });
    expect((await lemonOrder(id, { status: 'paid' })).body.status).toBe('sent');
    expect(await eventOf(`con:${id}`)).toMatchObject({ status: 'sent', history: [{ outcome: 'ignored', reason: 'not_paid' }, { outcome: 'sent' }] });
  });

  it('a cancelled Shopify order: ignored, cancelled, with the order', async () => {
    const id = Number(`9${Date.now()}`);
    expect((await shopifyOrder({ id, admin_graphql_api_id: `gid://shopify/Order/${id}`, cancelled_at: '2026-12-07T10:00:00Z', test: false })).body.status).toBe('ignored');
    expect(await eventOf(`con:${id}`)).toMatchObject({ status: 'ignored', reason: 'cancelled', source: 'shopify', external_id: String(id) });
    expect(await upstream.received()).toEqual([]);
  });

  it('a zero Paddle transaction (a trial): ignored, zero_amount, with the transaction', async () => {
    const id = `txn_answered_${run.toLowerCase()}`;
    const answer = await paddleTransaction((event) => {
      event.data.id = id;
      Object.assign(event.data.details.totals, { subtotal: '0', discount: '0', tax: '0', total: '0', grand_total: '0' });
    });
    expect(answer.body.status).toBe('ignored');
    expect(await eventOf(`con:${id}`)).toMatchObject({ status: 'ignored', reason: 'zero_amount', source: 'paddle', external_id: id, amount: 0 });
  });

  it('a test event records nothing, attributed or not', async () => {
    const attributed = nextId();
    expect((await browserConvert({ external_id: attributed, amount: 30, test: true }, { referral_code: 'anna', ts: 1 })).body.status).toBe('test');
    const unattributed = nextId();
    expect((await browserConvert({ external_id: unattributed, amount: 30, test: true })).body.status).toBe('unattributed');
    const zero = nextId();
    expect((await browserConvert({ external_id: zero, amount: 0, test: true }, { referral_code: 'anna', ts: 1 })).body.status).toBe('ignored');
    for (const order of [attributed, unattributed, zero]) expect((await admin(`events/${encodeURIComponent(`con:${order}`)}`)).status, order).toBe(404);
  });

  it('the summary counts every status, unattributed and ignored included', async () => {
    const before = (await admin('summary')).body;
    await serverEvent('convert', { external_id: nextId(), amount: 5 });
    await serverEvent('convert', { external_id: nextId(), amount: 0, referral_code: 'anna' });
    const after = (await admin('summary')).body;
    for (const window of ['last_24h', 'last_7d']) {
      expect(Object.keys(after[window]).sort()).toEqual(['adjusted', 'dead', 'ignored', 'pending', 'reversed', 'sent', 'unattributed']);
      expect(after[window].unattributed - before[window].unattributed).toBe(1);
      expect(after[window].ignored - before[window].ignored).toBe(1);
    }
  });
});

describe('a recorded answer never blocks a later event of the same id', () => {
  it('a later attributed event of an unattributed order is sent, not duplicate, and the history keeps the first answer', async () => {
    const order = nextId();
    await serverEvent('convert', { external_id: order, amount: 40, currency: 'EUR' });
    expect((await serverEvent('convert', { external_id: order, amount: 40, currency: 'EUR', referral_code: 'anna' })).body).toEqual({ ok: true, status: 'sent' });
    expect(await acceptedFor(order)).toHaveLength(1);
    const event = await eventOf(`con:${order}`);
    expect(event).toMatchObject({ status: 'sent', identifiers: { referral_code: 'anna' } });
    expect(event.reason).toBeUndefined();
    expect(event.history!.map((entry) => entry.outcome)).toEqual(['unattributed', 'sent']);
    // Once accepted, a later attributed event of the same id is a duplicate; a later unattributed one is
    // answered so, and its answer never overwrites the sent record.
    expect((await serverEvent('convert', { external_id: order, amount: 40, referral_code: 'anna' })).body.status).toBe('duplicate');
    expect((await serverEvent('convert', { external_id: order, amount: 40 })).body.status).toBe('unattributed');
    expect(await eventOf(`con:${order}`)).toMatchObject({ status: 'sent', history: [{ outcome: 'unattributed' }, { outcome: 'sent' }] });
    expect(await acceptedFor(order)).toHaveLength(1);
  });

  it('a stranger’s unattributed browser event for an order id never blocks the real order', async () => {
    const order = nextId();
    expect((await browserConvert({ external_id: order, amount: 1 })).body.status).toBe('unattributed');
    expect((await browserConvert({ external_id: order, amount: 80, currency: 'EUR' }, { referral_code: 'anna', ts: 1 })).body.status).toBe('sent');
    expect((await acceptedFor(order)).map((r) => r.fields.amount)).toEqual([80]);
    // And once sent, another unattributed one changes nothing.
    await browserConvert({ external_id: order, amount: 1 });
    expect(await eventOf(`con:${order}`)).toMatchObject({ status: 'sent', amount: 80 });
  });

  it('a paid order after its zero-amount one is sent', async () => {
    const order = nextId();
    await serverEvent('convert', { external_id: order, amount: 0, referral_code: 'anna' });
    expect((await serverEvent('convert', { external_id: order, amount: 15, referral_code: 'anna' })).body.status).toBe('sent');
    expect(await acceptedFor(order)).toHaveLength(1);
  });
});

describe('an event shows its job and the step of each try', () => {
  it('the postback bodies as sent, without the key, the IP masked', async () => {
    const order = nextId();
    await serverEvent('convert', { external_id: order, amount: 25, currency: 'EUR', customer_id: `C-${order}`, referral_code: 'anna' });
    const event = await eventOf(`con:${order}`);
    const sent = (await upstream.accepted('conversion')).find((r) => r.fields.external_id === order)!.fields;
    const job = event.job as { conversion?: object; customer?: object };
    expect(job.conversion).toEqual({ ...sent, ip: '203.0.113.x' });
    expect(job.customer).toMatchObject({ customer_id: `C-${order}`, referral_code: 'anna', ip: '203.0.113.x' });
    expect(JSON.stringify(event)).not.toContain(API_KEY);
    expect(JSON.stringify(event)).not.toContain(SHOPPER_IP);
  });

  it('a refused customer postback is named as the customer step, in the history and the list', async () => {
    const order = nextId();
    await upstream.setFaults({ next: [{ status: 422, message: 'Customer is blocked' }] });
    expect((await serverEvent('convert', { external_id: order, amount: 25, customer_id: `C-${order}`, referral_code: 'anna' })).status).toBe(422);
    const event = await eventOf(`con:${order}`);
    expect(event.status).toBe('dead');
    expect(event.history!.at(-1)).toMatchObject({ outcome: 'rejected', step: 'customer', upstream_status: 422, message: 'Customer is blocked' });
    expect((await admin(`events?q=${order}`)).body.events[0].last).toMatchObject({ step: 'customer', outcome: 'rejected' });
  });
});

describe('filters', () => {
  it('q with a trailing * is a prefix of at least 3 characters; without it, exact', async () => {
    const prefix = `PFX-${run}`;
    const ids = [`${prefix}-1`, `${prefix}-2`, `${prefix}-10`];
    for (const id of ids) await serverEvent('convert', { external_id: id, amount: 1, referral_code: 'anna' });
    await serverEvent('convert', { external_id: `${prefix}-3`, amount: 3 });
    expect(keysOf((await admin(`events?q=${encodeURIComponent(`${prefix}-1*`)}`)).body.events).sort()).toEqual([`con:${prefix}-1`, `con:${prefix}-10`]);
    expect(keysOf((await admin(`events?q=${encodeURIComponent(`${prefix}*`)}&status=unattributed`)).body.events)).toEqual([`con:${prefix}-3`]);
    expect((await admin(`events?q=${encodeURIComponent(`${prefix}*`)}`)).body.events).toHaveLength(4);
    expect(keysOf((await admin(`events?q=${prefix}-1`)).body.events)).toEqual([`con:${prefix}-1`]);
    const short = await admin('events?q=PF*');
    expect(short.status).toBe(400);
    expect(short.body.issues[0].path).toBe('q');
  });

  it('from and to bound the acceptance time, as dates or times', async () => {
    const order = nextId('DATE');
    const before = new Date(Date.now() - 1000).toISOString();
    await serverEvent('convert', { external_id: order, amount: 2, referral_code: 'anna' });
    const after = new Date(Date.now() + 1000).toISOString();
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const found = async (query: string) => keysOf((await admin(`events?q=${order}&${query}`)).body.events);
    expect(await found(`from=${before}&to=${after}`)).toEqual([`con:${order}`]);
    expect(await found(`from=${after}`)).toEqual([]);
    expect(await found(`to=${before}`)).toEqual([]);
    // A bare date `to` counts its whole day.
    expect(await found(`from=${today}&to=${today}`)).toEqual([`con:${order}`]);
    expect(await found(`to=${yesterday}`)).toEqual([]);
    for (const bad of ['from=yesterday', 'to=2026-13-01', `from=${after}&to=${before}`]) {
      const refused = await admin(`events?${bad}`);
      expect(refused.status, bad).toBe(400);
      expect(['from', 'to']).toContain(refused.body.issues[0].path);
    }
  });
});

describe('bulk retry of dead records', () => {
  it('sends each dead record of the range once; a second call sends nothing', async () => {
    const from = new Date().toISOString();
    const orders = [nextId('BULK'), nextId('BULK'), nextId('BULK')];
    await upstream.setFaults({ next: orders.map(() => ({ status: 422, message: 'Referral code anna is not active.' })) });
    for (const order of orders) expect((await serverEvent('convert', { external_id: order, amount: 9, referral_code: 'anna' })).status).toBe(422);
    await upstream.setFaults({});

    const first = await admin('retry', 'POST', { status: 'dead', from });
    expect(first).toEqual({ status: 200, body: { ok: true, retried: 3, sent: 3, queued: 0, rejected: 0, remaining: 0, next_cursor: null } });
    for (const order of orders) {
      expect(await acceptedFor(order)).toHaveLength(1);
      expect((await eventOf(`con:${order}`)).status).toBe('sent');
    }
    const second = await admin('retry', 'POST', { status: 'dead', from });
    expect(second.body).toEqual({ ok: true, retried: 0, sent: 0, queued: 0, rejected: 0, remaining: 0, next_cursor: null });
    for (const order of orders) expect(await acceptedFor(order)).toHaveLength(1);
  });

  it('a record refused again is not picked again: two calls of 500 try each of 501 dead records once, the newest too', async () => {
    // One dead record made for real, then 501 copies of it with their own ids, accepted an hour ago one ms apart.
    const template = nextId('BULK');
    await upstream.setFaults({ next: [{ status: 422, message: 'Referral code anna is not active.' }] });
    expect((await serverEvent('convert', { external_id: template, amount: 9, referral_code: 'anna' })).status).toBe(422);
    const dead = (await recordOf(`con:${template}`))!;
    expect(dead.status).toBe('dead');
    const start = Date.now() - 3_600_000;
    const ids = Array.from({ length: 501 }, (_, index) => `${template}-${String(index).padStart(3, '0')}`);
    const copies = ids.map((id, index): LedgerRecord => {
      const job = structuredClone(dead.job) as PostbackJob;
      job.conversion!.external_id = id;
      return { ...structuredClone(dead), key: `con:${id}`, job, accepted_at: start + index, updated_at: start + index };
    });
    const byShard = new Map<number, LedgerRecord[]>();
    for (const copy of copies) {
      const shard = await shardOf(copy.key);
      byShard.set(shard, [...(byShard.get(shard) ?? []), copy]);
    }
    await Promise.all(
      [...byShard].map(([shard, records]) => runInDurableObject(ledgerAt(ledgers(), shard), (_instance, state) => records.forEach((record) => new EventStore(state.storage.sql).write(record)))),
    );
    const range = { status: 'dead', from: new Date(start).toISOString(), to: new Date(start + 500).toISOString() };

    // Tapfiliate refuses the first 500 postbacks, then takes them. A client passes along the cursor it is given, as the console and the CLI do.
    await upstream.setFaults({ next: ids.slice(0, 500).map(() => ({ status: 422, message: 'Referral code anna is not active.' })) });
    const first = await admin('retry', 'POST', range);
    const second = await admin('retry', 'POST', { ...range, ...(first.body.next_cursor && { cursor: first.body.next_cursor }) });

    const tries = new Map<string, number>();
    for (const postback of await upstream.received()) tries.set(String(postback.fields.external_id), (tries.get(String(postback.fields.external_id)) ?? 0) + 1);
    expect(ids.filter((id) => tries.get(id) !== 1), 'records not tried exactly once').toEqual([]);
    expect(first.body).toEqual({ ok: true, retried: 500, sent: 0, queued: 0, rejected: 500, remaining: 1, next_cursor: expect.any(String) });
    expect(second.body).toEqual({ ok: true, retried: 1, sent: 1, queued: 0, rejected: 0, remaining: 0, next_cursor: null });
  }, 60_000);

  it('takes only status dead and valid times', async () => {
    for (const body of [{}, { status: 'sent' }, { status: 'dead', from: 'soon' }, { status: 'dead', extra: 1 }]) {
      const refused = await admin('retry', 'POST', body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error).toBe('invalid_request');
    }
  });
});

afterAll(() => {
  expect(answers.length).toBeGreaterThan(20);
  const all = answers.join('\n');
  for (const secret of [API_KEY, ADMIN_TOKEN, SERVER_TOKEN, STRIPE_SECRET, SHOPPER_IP]) expect(all).not.toContain(secret);
});
