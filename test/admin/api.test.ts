// The operator API's edge, against a ledger in memory: the token, the query,
// what every answer carries and what none may.
import { env as workerEnv } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { redact } from '../../proxy/routes/admin';
import type { LedgerEvent } from '../../proxy/delivery';
import { ADMIN_TOKEN, API_KEY, bearer, call, conversion, countingLimit, fakeDelivery } from './helpers';

const ROUTES: [string, string][] = [
  ['GET', '/_tap/admin/api/summary'],
  ['GET', '/_tap/admin/api/events'],
  ['GET', '/_tap/admin/api/events/con%3AORD-1'],
  ['POST', '/_tap/admin/api/events/con%3AORD-1/retry'],
];

describe('the admin token', () => {
  it.each(ROUTES)('%s %s answers 503 not_configured without TAPLINE_ADMIN_TOKEN, even to a token', async (method, path) => {
    for (const token of ['', '   ']) {
      const { status, json, response } = await call(path, { method, headers: bearer() }, { TAPLINE_ADMIN_TOKEN: token });
      expect(status).toBe(503);
      expect(json()).toMatchObject({ ok: false, error: 'not_configured' });
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
  });

  it.each(ROUTES)('%s %s answers 401 without the header, with another scheme, and with a wrong token', async (method, path) => {
    const fake = fakeDelivery([conversion('ORD-1')]);
    for (const headers of [{}, { authorization: ADMIN_TOKEN }, { authorization: `Basic ${ADMIN_TOKEN}` }, bearer('wrong'), bearer(`${ADMIN_TOKEN}x`), bearer(ADMIN_TOKEN.slice(0, -1))]) {
      const { status, json } = await call(path, { method, headers }, {}, { createDelivery: fake.create });
      expect(status, JSON.stringify(headers)).toBe(401);
      expect(json()).toMatchObject({ ok: false, error: 'unauthorized' });
    }
    // Nothing reached the ledger.
    expect(fake.calls).toEqual([]);
  });

  it.each(ROUTES)('%s %s answers with the right token', async (method, path) => {
    const fake = fakeDelivery([conversion('ORD-1', { status: 'dead' })]);
    const { status, json } = await call(path, { method, headers: { authorization: `bearer   ${ADMIN_TOKEN} ` } }, {}, { createDelivery: fake.create });
    expect(status).toBe(200);
    expect(json()).toMatchObject({ ok: true });
    expect(fake.calls).toHaveLength(1);
  });

  it('counts every refused token against the client’s rate limit, and never the right one', async () => {
    const limit = countingLimit();
    const env = { TAPLINE_RATE_LIMIT: limit.binding };
    const from = (ip: string, headers: Record<string, string> = {}) => ({ headers: { 'cf-connecting-ip': ip, ...headers } });
    await call('/_tap/admin/api/summary', from('198.51.100.4', bearer('guess-1')), env);
    await call('/_tap/admin/api/summary', from('198.51.100.4'), env);
    await call('/_tap/admin/api/summary', from('198.51.100.4', bearer()), env);
    expect(limit.keys).toEqual(['198.51.100.4', '198.51.100.4']);
  });

  it('refuses a wrong token with 429 once the limit is spent, and then the right token too from that network (docs/security.md, "Tokens")', async () => {
    const env = { TAPLINE_RATE_LIMIT: countingLimit(() => false).binding };
    const ip = `198.51.100.${Math.floor(Math.random() * 200) + 20}`;
    const wrong = await call('/_tap/admin/api/summary', { headers: { ...bearer('guess'), 'cf-connecting-ip': ip } }, env);
    expect(wrong.status).toBe(429);
    expect(wrong.json()).toMatchObject({ ok: false, error: 'rate_limited' });
    expect(wrong.response.headers.get('cache-control')).toBe('no-store');
    expect((await call('/_tap/admin/api/summary', { headers: { ...bearer(), 'cf-connecting-ip': ip } }, env)).status).toBe(429);
    expect((await call('/_tap/admin/api/summary', { headers: { ...bearer(), 'cf-connecting-ip': '203.0.113.9' } }, env)).status).toBe(200);
  });

  it('hits the real rate limit binding (60 a minute per IP) after enough wrong tokens', async () => {
    const ip = `192.0.2.${Math.floor(Math.random() * 200) + 20}`;
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 70; attempt++) {
      const { status } = await call('/_tap/admin/api/summary', { headers: { ...bearer(`guess-${attempt}`), 'cf-connecting-ip': ip } }, { TAPLINE_RATE_LIMIT: workerEnv.TAPLINE_RATE_LIMIT });
      statuses.push(status);
    }
    expect(statuses.slice(0, 10).every((status) => status === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
  });
});

describe('every answer', () => {
  it('is no-store and carries no CORS header, even to another origin or a preflight', async () => {
    const headers = { ...bearer(), origin: 'https://evil.example' };
    for (const [method, path, status] of [
      ['GET', '/_tap/admin/api/summary', 200],
      ['GET', '/_tap/admin/api/events?limit=0', 400],
      ['GET', '/_tap/admin/api/events/con%3Anope', 404],
      ['GET', '/_tap/admin/api/nothing', 404],
      ['OPTIONS', '/_tap/admin/api/summary', 404],
    ] as const) {
      const { response } = await call(path, { method, headers: { ...headers, 'access-control-request-method': 'GET' } });
      expect(response.status, `${method} ${path}`).toBe(status);
      expect(response.headers.get('cache-control'), path).toBe('no-store');
      expect([...response.headers.keys()].filter((name) => name.startsWith('access-control-')), path).toEqual([]);
    }
  });

  it('answers 503 when the ledger is not bound', async () => {
    const { status, json } = await call('/_tap/admin/api/summary', { headers: bearer() }, { POSTBACK_LEDGER: undefined });
    expect(status).toBe(503);
    expect(json()).toMatchObject({ ok: false, error: 'not_configured' });
  });
});

describe('GET events', () => {
  it('hands each filter to the ledger, limit as a number', async () => {
    const fake = fakeDelivery();
    const cursor = btoa(JSON.stringify([1764756000000, 'con:ORD-8'])).replace(/=+$/, '');
    const { status } = await call(
      `/_tap/admin/api/events?status=dead&kind=conversion&source=stripe&q=%20ORD-9%20&limit=7&cursor=${encodeURIComponent(cursor)}`,
      { headers: bearer() },
      {},
      { createDelivery: fake.create },
    );
    expect(status).toBe(200);
    expect(fake.calls).toEqual([{ method: 'list', arg: { status: 'dead', kind: 'conversion', source: 'stripe', q: 'ORD-9', prefix: false, limit: 7, cursor } }]);
  });

  it('reads q ending in * as a prefix, and from/to as a range in ms (a bare `to` date to its last millisecond)', async () => {
    const fake = fakeDelivery();
    const { status } = await call(`/_tap/admin/api/events?q=ORD-10*&from=2026-12-07T10:00:00%2B01:00&to=2026-12-07`, { headers: bearer() }, {}, { createDelivery: fake.create });
    expect(status).toBe(200);
    expect(fake.calls[0].arg).toEqual({ q: 'ORD-10', prefix: true, from: Date.parse('2026-12-07T09:00:00Z'), to: Date.parse('2026-12-08T00:00:00Z') - 1 });
  });

  it('refuses a date that does not exist, with a time or without, naming the field (the list and the bulk retry)', async () => {
    for (const [field, value] of [['from', '2026-02-30T10:00Z'], ['from', '2026-02-30'], ['to', '2026-04-31T23:59:59+02:00'], ['from', '2026-02-29 10:00']] as const) {
      const fake = fakeDelivery();
      const listed = await call(`/_tap/admin/api/events?${field}=${encodeURIComponent(value)}`, { headers: bearer() }, {}, { createDelivery: fake.create });
      expect(listed.status, value).toBe(400);
      expect(listed.json(), value).toMatchObject({ ok: false, error: 'invalid_request', issues: [{ path: field, message: 'is not a date or time that exists' }] });
      const init = { method: 'POST', headers: { ...bearer(), 'content-type': 'application/json' }, body: JSON.stringify({ status: 'dead', [field]: value }) };
      const retried = await call('/_tap/admin/api/retry', init, {}, { createDelivery: fake.create });
      expect(retried.status, value).toBe(400);
      expect(retried.json(), value).toMatchObject({ issues: [{ path: field }] });
      expect(fake.calls, value).toEqual([]);
    }
    // 2028 is a leap year: its 29 February exists.
    expect((await call('/_tap/admin/api/events?from=2028-02-29T10:00Z', { headers: bearer() })).status).toBe(200);
  });

  it('POST retry hands the range and the limit of 500 to the ledger', async () => {
    const fake = fakeDelivery();
    const { status, json } = await call(
      '/_tap/admin/api/retry',
      { method: 'POST', headers: { ...bearer(), 'content-type': 'application/json' }, body: JSON.stringify({ status: 'dead', to: '2026-12-07T12:00:00Z' }) },
      {},
      { createDelivery: fake.create },
    );
    expect(status).toBe(200);
    expect(json()).toEqual({ ok: true, retried: 0, sent: 0, queued: 0, rejected: 0, remaining: 0, next_cursor: null });
    expect(fake.calls).toEqual([{ method: 'retryDead', arg: { query: { to: Date.parse('2026-12-07T12:00:00Z') }, limit: 500 } }]);
  });

  it('POST retry refuses a cursor no bulk retry gave (a page cursor included), naming it', async () => {
    const pageCursor = btoa(JSON.stringify([Date.now(), 'con:ORD-1'])).replace(/=+$/, '');
    for (const cursor of ['not a cursor!', 'bm9wZQ', pageCursor, '']) {
      const fake = fakeDelivery();
      const { status, json } = await call(
        '/_tap/admin/api/retry',
        { method: 'POST', headers: { ...bearer(), 'content-type': 'application/json' }, body: JSON.stringify({ status: 'dead', cursor }) },
        {},
        { createDelivery: fake.create },
      );
      expect(status, cursor).toBe(400);
      expect(json()).toMatchObject({ ok: false, error: 'invalid_request', issues: [{ path: 'cursor' }] });
      expect(fake.calls).toEqual([]);
    }
  });

  it('passes no filter when none is given (the ledger defaults the limit to 50)', async () => {
    const fake = fakeDelivery([conversion('A'), conversion('B')]);
    const { json } = await call('/_tap/admin/api/events', { headers: bearer() }, {}, { createDelivery: fake.create });
    expect(fake.calls).toEqual([{ method: 'list', arg: {} }]);
    expect(json()).toMatchObject({ ok: true, events: [{ key: 'con:A' }, { key: 'con:B' }], next_cursor: null });
  });

  it.each([
    ['status=lost', 'status'],
    ['kind=order', 'kind'],
    ['source=woo', 'source'],
    ['q=', 'q'],
    ['q=%20%20', 'q'],
    [`q=${'x'.repeat(256)}`, 'q'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['limit=5.5', 'limit'],
    ['limit=-1', 'limit'],
    ['cursor=', 'cursor'],
    ['cursor=%3Cscript%3E', 'cursor'],
    [`cursor=${btoa('not json')}`, 'cursor'],
    [`cursor=${btoa('["soon","con:x"]')}`, 'cursor'],
  ])('refuses %s with a 400 naming %s', async (query, field) => {
    const fake = fakeDelivery();
    const { status, json } = await call(`/_tap/admin/api/events?${query}`, { headers: bearer() }, {}, { createDelivery: fake.create });
    expect(status).toBe(400);
    expect(json()).toMatchObject({ ok: false, error: 'invalid_request', issues: [{ path: field, message: expect.any(String) }] });
    expect(fake.calls).toEqual([]);
  });

  it.each(['1', '100'])('takes limit=%s', async (limit) => {
    const fake = fakeDelivery();
    expect((await call(`/_tap/admin/api/events?limit=${limit}`, { headers: bearer() }, {}, { createDelivery: fake.create })).status).toBe(200);
    expect(fake.calls[0].arg).toEqual({ limit: Number(limit) });
  });
});

describe('GET events/:key and POST events/:key/retry', () => {
  it('decodes the key, and answers 404 not_found for a key the ledger lacks', async () => {
    const fake = fakeDelivery([conversion('ORD/5 ü')]);
    const found = await call(`/_tap/admin/api/events/${encodeURIComponent('con:ORD/5 ü')}`, { headers: bearer() }, {}, { createDelivery: fake.create });
    expect(found.status).toBe(200);
    expect(found.json()).toMatchObject({ ok: true, event: { key: 'con:ORD/5 ü', history: [{ outcome: 'sent' }] } });
    const missing = await call('/_tap/admin/api/events/con%3AORD-404', { headers: bearer() }, {}, { createDelivery: fake.create });
    expect(missing.status).toBe(404);
    expect(missing.json()).toMatchObject({ ok: false, error: 'not_found' });
    expect(fake.calls.map((c) => c.arg)).toEqual(['con:ORD/5 ü', 'con:ORD-404']);
  });

  it('refuses a key longer than any ledger key with a 400 naming key', async () => {
    const { status, json } = await call(`/_tap/admin/api/events/con%3A${'x'.repeat(400)}`, { headers: bearer() });
    expect(status).toBe(400);
    expect(json()).toMatchObject({ issues: [{ path: 'key' }] });
  });

  it.each([
    [{ status: 'sent' }, 200, { ok: true, status: 'sent' }],
    [{ status: 'queued' }, 202, { ok: true, status: 'queued' }],
    [{ status: 'duplicate' }, 200, { ok: true, status: 'duplicate' }],
    [{ status: 'rejected', upstreamStatus: 422, message: `Bad key ${API_KEY} from 203.0.113.7` }, 422, { ok: false, error: 'upstream_rejected', upstream_status: 422 }],
    [{ status: 'already_sent' }, 409, { ok: false, error: 'already_sent' }],
    [{ status: 'not_retryable', record_status: 'reversed' }, 409, { ok: false, error: 'not_retryable', status: 'reversed' }],
    [{ status: 'not_found' }, 404, { ok: false, error: 'not_found' }],
  ] as const)('answers a retry that ends %j with %i', async (answer, status, body) => {
    const fake = fakeDelivery([], answer as never);
    const result = await call('/_tap/admin/api/events/con%3AORD-7/retry', { method: 'POST', headers: bearer() }, {}, { createDelivery: fake.create });
    expect(result.status).toBe(status);
    expect(result.json()).toMatchObject(body);
    // Tapfiliate's own words stay in the event's history, never in this answer.
    expect(result.text).not.toContain('Bad key');
    expect(fake.calls).toEqual([{ method: 'retry', arg: 'con:ORD-7' }]);
  });

  it('retries on POST only', async () => {
    expect((await call('/_tap/admin/api/events/con%3AORD-7/retry', { headers: bearer() })).status).toBe(404);
  });
});

describe('nothing secret in an answer', () => {
  const secrets = { TAPLINE_SIGNING_SECRET: 'signing-secret-1', TAPLINE_SERVER_TOKEN: 'server-token-2', STRIPE_WEBHOOK_SECRET: 'whsec_3', SHOPIFY_WEBHOOK_SECRET: 'shopify-4' };

  // The ledger keeps no IP and no secret; a record that somehow held them must still not show them.
  // `ip` and `visitor` are fields a LedgerEvent never has.
  const leaky = conversion('ORD-LEAK', {
    status: 'dead',
    ip: '203.0.113.7',
    visitor: { ip: '2001:db8:1:2::5', user_agent: 'Mozilla/5.0' },
    last: { at: '2026-12-03T10:00:01.000Z', outcome: 'rejected', upstream_status: 401, message: `key ${API_KEY} refused for 198.51.100.23 (token ${ADMIN_TOKEN})` },
    history: [{ at: '2026-12-03T10:00:01.000Z', outcome: 'rejected', message: `signing-secret-1 server-token-2 whsec_3 shopify-4 10.1.2.3` }],
  } as Partial<LedgerEvent>);

  it.each(['/_tap/admin/api/events', '/_tap/admin/api/events/con%3AORD-LEAK', '/_tap/admin/api/summary'])('%s holds no key, token, secret or full IP', async (path) => {
    const fake = fakeDelivery([leaky]);
    const { status, text } = await call(path, { headers: bearer() }, secrets, { createDelivery: fake.create });
    expect(status).toBe(200);
    for (const secret of [API_KEY, ADMIN_TOKEN, ...Object.values(secrets), '203.0.113.7', '2001:db8:1:2::5', '198.51.100.23', '10.1.2.3']) expect(text).not.toContain(secret);
  });

  it('masks IPv4 to its /24 and IPv6 to its /48, in fields and in text', async () => {
    const fake = fakeDelivery([leaky]);
    const { json } = await call('/_tap/admin/api/events/con%3AORD-LEAK', { headers: bearer() }, secrets, { createDelivery: fake.create });
    const event = json().event as Record<string, any>;
    expect(event.ip).toBe('203.0.113.x');
    expect(event.visitor).toEqual({ ip: '2001:db8:1::x', user_agent: 'Mozilla/5.0' });
    expect(event.last.message).toBe('key *** refused for 198.51.100.x (token ***)');
    expect(event.history[0].message).toBe('*** *** *** *** 10.1.2.x');
    // What is not an IP stays as it was.
    expect(event).toMatchObject({ external_id: 'ORD-LEAK', amount: 49, accepted_at: '2026-12-03T10:00:00.000Z' });
  });

  it('masks IPv6 addresses inside text to their /48 plus ::x, and leaves times alone', () => {
    expect(redact({ message: 'Click from 2001:db8:abcd:12:3:4:5:6 refused at 10:00:01, again from 2001:DB8:abcd::7.' }, {})).toEqual({
      message: 'Click from 2001:db8:abcd::x refused at 10:00:01, again from 2001:DB8:abcd::x.',
    });
  });

  it('masks an IPv6 address glued to a label or a word, and no time or MAC address', () => {
    expect(redact({ message: 'Click from IP:2001:db8:abcd:12:3:4:5:6', id: 'x_2001:db8::1', at: 'ip=2001:db8:ab::7: refused at 12:30:45 by 00:1a:2b:3c:4d:5e' }, {})).toEqual({
      message: 'Click from IP:2001:db8:abcd::x',
      id: 'x_2001:db8::x',
      at: 'ip=2001:db8:ab::x: refused at 12:30:45 by 00:1a:2b:3c:4d:5e',
    });
    expect(redact({ message: 'from x_203.0.113.77 and v198.51.100.9' }, {})).toEqual({ message: 'from x_203.0.113.x and v198.51.100.x' });
    // Behind a label of hex digits, the eight groups counted from the label must not end inside the address's last group.
    expect(redact({ a: 'Click 42:2001:db8:85a3:8d3:1319:8a2e:370:7348 refused', b: 'ab:2001:db8:85a3:1234:5678:9abc:def0:4321' }, {})).toEqual({
      a: 'Click 42:2001:db8:85a3::x refused',
      b: 'ab:2001:db8:85a3::x',
    });
    // Glued to hex letters after it, the address ends inside the run's last group: masked, and none of its end shown.
    expect(
      redact(
        {
          a: 'blocked 2001:db8:85a3:0:0:8a2e:370:7334deadline',
          b: 'ip:2001:db8:85a3:8d3:1319:8a2e:370:7348abc',
          c: '2001:db8:85a3:8d3:1319:8a2e:370:7348e',
          d: 'from 2001:db8:85a3::8a2e:370:7334before',
        },
        {},
      ),
    ).toEqual({ a: 'blocked 2001:db8:85a3::xdeadline', b: 'ip:2001:db8:85a3::xabc', c: '2001:db8:85a3::xe', d: 'from 2001:db8:85a3::xbefore' });
  });


  it('leaves ids that merely look like numbers alone', () => {
    expect(redact({ id: '1.2.3', version: '999.1.1.1', n: 5 }, {})).toEqual({ id: '1.2.3', version: '999.1.1.1', n: 5 });
  });
});
