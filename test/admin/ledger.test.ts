// The operator API over the real ledger objects in workerd, with events
// accepted through the app and delivered to the local Tapfiliate stand-in.
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createDelivery, type LedgerEvent } from '../../proxy/delivery';
import { shardOf } from '../../proxy/delivery/shards';
import { postbackControl } from '../postback/control';
import { post, tapDataCookie } from '../proxy/helpers';
import { ADMIN_TOKEN, API_KEY, bearer, call } from './helpers';

const upstream = postbackControl(inject('adminPostbackServer'));
const SHOPPER_IP = '203.0.113.77';
const SERVER_TOKEN = 'server-token-5a2b';
/**
 * Laid over the worker's own bindings (the ledger objects post with those) and the admin token (helpers.ts).
 * No webhook or signing secret: either would refuse these unsigned browser orders.
 */
const env: Partial<Env> = { TAPLINE_SERVER_TOKEN: SERVER_TOKEN };
const options = { createDelivery };

const run = Date.now().toString(36);
let n = 0;
const nextId = (prefix = 'ORD') => `${prefix}-${run}-${++n}`;

/** Every answer this file received, to check at the end that none held a secret or a full IP. */
const answers: string[] = [];

async function admin(path: string, method = 'GET') {
  const result = await call(`/_tap/admin/api/${path}`, { method, headers: bearer() }, env, options);
  answers.push(result.text);
  return { status: result.status, body: result.json() as Record<string, any> };
}

/** A browser conversion from the shop's own page, with the affiliate's cookie. */
async function convert(fields: Record<string, unknown>) {
  const init = post(fields, { cookie: tapDataCookie({ referral_code: 'anna', ts: 1 }), 'cf-connecting-ip': SHOPPER_IP, 'user-agent': 'Mozilla/5.0 (admin test)' });
  const result = await call('/_tap/convert', init, env, options);
  return { status: result.status, body: result.json() };
}

/** A server event, from the merchant's backend. */
async function serverEvent(path: 'convert' | 'customer', fields: Record<string, unknown>) {
  const init = post({ ...fields, ip: SHOPPER_IP }, { origin: undefined, authorization: `Bearer ${SERVER_TOKEN}`, 'content-type': 'application/json' });
  const result = await call(`/_tap/${path}`, init, env, options);
  return { status: result.status, body: result.json() };
}

/** Every page of a listing, following next_cursor. */
async function allPages(query: string, limit: number) {
  const pages: LedgerEvent[][] = [];
  let cursor: string | null = null;
  do {
    const { status, body } = await admin(`events?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(status).toBe(200);
    pages.push(body.events);
    cursor = body.next_cursor;
  } while (cursor && pages.length < 200);
  return pages;
}

const acceptedFor = async (external_id: string) => (await upstream.accepted('conversion')).filter((r) => r.fields.external_id === external_id);

beforeEach(() => upstream.reset());

describe('retry', () => {
  it('sends a dead conversion once Tapfiliate accepts it, exactly once, and then answers 409 already_sent', async () => {
    const id = nextId();
    await upstream.setFaults({ next: [{ status: 422, message: 'Referral code anna is not active.' }] });
    expect(await convert({ external_id: id, amount: 30, currency: 'EUR' })).toEqual({ status: 422, body: { ok: false, error: 'upstream_rejected' } });

    const dead = await admin(`events/${encodeURIComponent(`con:${id}`)}`);
    expect(dead.body.event).toMatchObject({ key: `con:${id}`, status: 'dead', last: { outcome: 'rejected', upstream_status: 422, message: 'Referral code anna is not active.' } });
    expect(await acceptedFor(id)).toEqual([]);

    // The affiliate is fixed at Tapfiliate; the stand-in now accepts.
    const retried = await admin(`events/${encodeURIComponent(`con:${id}`)}/retry`, 'POST');
    expect(retried).toEqual({ status: 200, body: { ok: true, status: 'sent' } });
    expect(await acceptedFor(id)).toHaveLength(1);

    const sent = await admin(`events/con%3A${encodeURIComponent(id)}`);
    expect(sent.body.event.status).toBe('sent');
    expect(sent.body.event.history.map((step: { outcome: string }) => step.outcome)).toEqual(['rejected', 'retry_requested', 'sent']);

    expect(await admin(`events/con%3A${encodeURIComponent(id)}/retry`, 'POST')).toMatchObject({ status: 409, body: { ok: false, error: 'already_sent' } });
    expect(await acceptedFor(id)).toHaveLength(1);
  });

  it('tries a pending conversion now: 202 queued while Tapfiliate is down, 200 sent once it is back', async () => {
    const id = nextId();
    await upstream.setFaults({ down: true });
    expect(await convert({ external_id: id, amount: 12 })).toEqual({ status: 202, body: { ok: true, status: 'queued' } });
    expect((await admin(`events/con%3A${id}`)).body.event).toMatchObject({ status: 'pending', next_try_at: expect.any(String) });
    expect(await admin(`events/con%3A${id}/retry`, 'POST')).toEqual({ status: 202, body: { ok: true, status: 'queued' } });
    await upstream.setFaults({});
    expect(await admin(`events/con%3A${id}/retry`, 'POST')).toEqual({ status: 200, body: { ok: true, status: 'sent' } });
    expect(await acceptedFor(id)).toHaveLength(1);
  });

  it('answers 422 upstream_rejected when Tapfiliate refuses again, and the record stays dead', async () => {
    const id = nextId();
    await upstream.setFaults({ always: { status: 422, message: 'Referral code anna is not active.' } });
    await convert({ external_id: id });
    const again = await admin(`events/con%3A${id}/retry`, 'POST');
    expect(again).toEqual({ status: 422, body: { ok: false, error: 'upstream_rejected', upstream_status: 422 } });
    expect((await admin(`events/con%3A${id}`)).body.event.status).toBe('dead');
  });

  it('answers 404 for a key the ledger does not hold', async () => {
    expect(await admin(`events/con%3A${nextId('NOPE')}/retry`, 'POST')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect(await admin(`events/con%3A${nextId('NOPE')}`)).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });
});

describe('listing', () => {
  it('filters by status, kind, source and exact id', async () => {
    const sent = nextId();
    const dead = nextId();
    const fromServer = nextId();
    const customer = nextId('CUS');
    await convert({ external_id: sent, amount: 10 });
    await upstream.setFaults({ next: [{ status: 422, message: 'no' }] });
    await convert({ external_id: dead, amount: 11 });
    await serverEvent('convert', { external_id: fromServer, amount: 12, referral_code: 'bob' });
    await serverEvent('customer', { customer_id: customer, referral_code: 'bob' });

    const ids = (events: LedgerEvent[]) => events.map((event) => event.key);
    const mine = (events: LedgerEvent[]) => ids(events).filter((key) => key.includes(run));

    expect(ids((await admin(`events?q=${sent}`)).body.events)).toEqual([`con:${sent}`]);
    // Exact, not a prefix or a substring.
    expect((await admin(`events?q=${sent.slice(0, -1)}`)).body.events).toEqual([]);
    expect(ids((await admin(`events?q=${customer}`)).body.events)).toEqual([`cus:${customer}`]);

    const deadOnes = mine((await allPages('status=dead', 100)).flat());
    expect(deadOnes).toContain(`con:${dead}`);
    expect(deadOnes).not.toContain(`con:${sent}`);
    expect(mine((await allPages('status=sent', 100)).flat())).toEqual(expect.arrayContaining([`con:${sent}`, `con:${fromServer}`, `cus:${customer}`]));
    expect(mine((await allPages('kind=customer', 100)).flat())).toEqual([`cus:${customer}`]);
    const fromServers = mine((await allPages('source=server', 100)).flat());
    expect(fromServers).toEqual(expect.arrayContaining([`con:${fromServer}`, `cus:${customer}`]));
    expect(fromServers).not.toContain(`con:${sent}`);
    expect(mine((await allPages('status=sent&source=server&kind=conversion', 100)).flat())).toEqual([`con:${fromServer}`]);

    const event = (await admin(`events?q=${fromServer}`)).body.events[0];
    expect(event).toMatchObject({ kind: 'conversion', status: 'sent', source: 'server', amount: 12, identifiers: { referral_code: 'bob' }, last: { outcome: 'sent' } });
    // A list row carries no history; one event does.
    expect(event.history).toBeUndefined();
  });

  it('pages newest first across ledger objects, each record exactly once', async () => {
    const keys: string[] = [];
    for (let index = 0; index < 14; index++) {
      const id = nextId('PAGE');
      keys.push(`con:${id}`);
      await convert({ external_id: id, amount: index + 1 });
    }
    // The keys land in several of the ledger's objects.
    expect(new Set(await Promise.all(keys.map(shardOf))).size).toBeGreaterThan(3);

    const pages = await allPages('kind=conversion', 3);
    const listed = pages.flat();
    expect(pages.slice(0, -1).every((page) => page.length === 3)).toBe(true);
    const seen = listed.map((event) => event.key).filter((key) => keys.includes(key));
    expect(seen.sort()).toEqual([...keys].sort());
    expect(new Set(listed.map((event) => event.key)).size).toBe(listed.length);
    // Newest first, ties (one millisecond) by key, as the cursor orders them.
    const order = listed.map((event) => [Date.parse(event.accepted_at), event.key] as const);
    expect(order).toEqual([...order].sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? 1 : -1)));
  });
});

describe('summary', () => {
  it('counts records by status accepted in the last 24 hours and 7 days', async () => {
    const before = (await admin('summary')).body;
    await convert({ external_id: nextId() });
    await upstream.setFaults({ next: [{ status: 422, message: 'no' }] });
    await convert({ external_id: nextId() });
    await upstream.setFaults({ down: true });
    await convert({ external_id: nextId() });
    const after = (await admin('summary')).body;
    for (const window of ['last_24h', 'last_7d']) {
      expect(after[window].sent - before[window].sent, window).toBe(1);
      expect(after[window].dead - before[window].dead, window).toBe(1);
      expect(after[window].pending - before[window].pending, window).toBe(1);
    }
    await upstream.setFaults({});
  });
});

afterAll(() => {
  // Every answer above: the events carried the shopper's IP and were sent with the key, the
  // token opened each request, and the worker held the secrets.
  expect(answers.length).toBeGreaterThan(20);
  const all = answers.join('\n');
  // The user agent is shown in the job, as it was sent (docs/reference.md, "Privacy"); the IP never is.
  for (const secret of [API_KEY, ADMIN_TOKEN, SERVER_TOKEN, SHOPPER_IP]) expect(all).not.toContain(secret);
});
