import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postbackControl } from './control';
import { describeClick, describePostback, describeRedirected, describeRest, startPostbackServer, type PostbackServer } from './server.mjs';

let postback: PostbackServer;
beforeAll(async () => {
  postback = await startPostbackServer({ apiKey: 'secret-key' });
});
afterAll(() => postback.close());
beforeEach(() => postback.reset());

const json = (body: unknown, key: string | null = 'secret-key'): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
  body: JSON.stringify(body),
});

describe('postback answers', () => {
  const cases: { name: string; path: 'conversionUrl' | 'customerUrl'; init: RequestInit; status: number; body: unknown; html?: boolean }[] = [
    {
      name: 'conversion accepted',
      path: 'conversionUrl',
      init: json({ external_id: 'ORD1', referral_code: 'demo', amount: 10 }),
      status: 200,
      body: expect.objectContaining({ external_id: 'ORD1' }),
    },
    {
      name: 'customer accepted',
      path: 'customerUrl',
      init: json({ customer_id: 'C1', coupon: 'SAVE' }),
      status: 200,
      body: expect.objectContaining({ customer_id: 'C1' }),
    },
    {
      name: 'no key: HTML',
      path: 'conversionUrl',
      init: json({ external_id: 'ORD1', referral_code: 'demo' }, null),
      status: 401,
      body: undefined,
      html: true,
    },
    {
      name: 'wrong key',
      path: 'conversionUrl',
      init: json({ external_id: 'ORD1', referral_code: 'demo' }, 'nope'),
      status: 401,
      body: { message: 'Authentication Failed.' },
    },
    {
      name: 'conversion without external_id',
      path: 'conversionUrl',
      init: json({ referral_code: 'demo' }),
      status: 422,
      body: { message: 'external_id is required.' },
    },
    {
      name: 'customer without customer_id',
      path: 'customerUrl',
      init: json({ referral_code: 'demo' }),
      status: 422,
      body: { message: 'customer_id is required.' },
    },
    {
      name: 'no identifier',
      path: 'conversionUrl',
      init: json({ external_id: 'ORD1' }),
      status: 422,
      body: { message: expect.stringContaining('referral_code') },
    },
    {
      name: 'asset_id without source_id',
      path: 'conversionUrl',
      init: json({ external_id: 'ORD1', asset_id: 'a1' }),
      status: 422,
      body: { message: expect.stringContaining('asset_id with source_id') },
    },
  ];
  it.each(cases)('$name → $status', async ({ path, init, status, body, html }) => {
    const res = await fetch(postback[path], init);
    expect(res.status).toBe(status);
    if (html) {
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('401 Unauthorized');
    } else {
      expect(await res.json()).toEqual(body);
    }
  });

  it('takes a GET with a query, as Tapfiliate documents', async () => {
    const res = await fetch(`${postback.conversionUrl}?referral_code=demo&amount=100&external_id=ORD005`, {
      headers: { 'x-api-key': 'secret-key' },
    });
    expect(res.status).toBe(200);
    expect(postback.accepted('conversion')[0]).toMatchObject({
      method: 'GET',
      fields: { referral_code: 'demo', amount: '100', external_id: 'ORD005' },
    });
  });

  it('rejects a repeated external_id and customer_id with "already exists"', async () => {
    const conversion = { external_id: 'ORD9', click_id: 'k' };
    expect((await fetch(postback.conversionUrl, json(conversion))).status).toBe(200);
    const again = await fetch(postback.conversionUrl, json(conversion));
    expect(again.status).toBe(422);
    expect(((await again.json()) as { message: string }).message).toMatch(/already exists/);
    await fetch(postback.customerUrl, json({ customer_id: 'C9', click_id: 'k' }));
    const customerAgain = await fetch(postback.customerUrl, json({ customer_id: 'C9', click_id: 'k' }));
    expect(customerAgain.status).toBe(422);
    expect(postback.accepted()).toHaveLength(2);
    expect(postback.received).toHaveLength(4);
  });

  it('records method, fields, key and content type', async () => {
    await fetch(postback.customerUrl, json({ customer_id: 'C2', referral_code: 'r' }));
    expect(postback.received[0]).toMatchObject({
      kind: 'customer',
      method: 'POST',
      fields: { customer_id: 'C2', referral_code: 'r' },
      apiKey: 'secret-key',
      contentType: 'application/json',
      status: 200,
    });
    expect(postback.received[0].at).toBeGreaterThan(0);
  });
});

describe('faults', () => {
  const order = { external_id: 'F1', referral_code: 'demo' };

  it('consumes `next` one per request, then answers normally', async () => {
    postback.setFaults({ next: ['503', '429'] });
    const first = await fetch(postback.conversionUrl, json(order));
    const second = await fetch(postback.conversionUrl, json(order));
    const third = await fetch(postback.conversionUrl, json(order));
    expect([first.status, second.status, third.status]).toEqual([503, 429, 200]);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(postback.received.map((r) => r.fault)).toEqual(['503', '429', undefined]);
  });

  it('drops the connection without an answer', async () => {
    postback.setFaults({ next: ['drop'] });
    await expect(fetch(postback.conversionUrl, json(order))).rejects.toThrow();
    expect(postback.received[0]).toMatchObject({ status: 0, fault: 'drop' });
    expect(postback.accepted()).toHaveLength(0);
  });

  it('answers late on `slow`, and still accepts what it was sent', async () => {
    postback.setFaults({ next: ['slow'], slowMs: 300 });
    const started = Date.now();
    const res = await fetch(postback.conversionUrl, json(order));
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('answers 503 to everything while down', async () => {
    postback.setFaults({ down: true });
    const statuses = await Promise.all([1, 2, 3].map(() => fetch(postback.conversionUrl, json(order)).then((r) => r.status)));
    expect(statuses).toEqual([503, 503, 503]);
  });

  it('replays the same random faults for the same seed', async () => {
    const run = async () => {
      postback.reset();
      postback.setFaults({ random: { rate: 0.5, faults: ['503', '429'], seed: 7 } });
      for (let i = 0; i < 20; i++) await fetch(postback.conversionUrl, json({ ...order, external_id: `R${i}` }));
      return postback.received.map((r) => r.status);
    };
    const first = await run();
    expect(first).toEqual(await run());
    expect(first.filter((s) => s !== 200).length).toBeGreaterThan(3);
    expect(first.filter((s) => s === 200).length).toBeGreaterThan(3);
  });
});

describe('control endpoints', () => {
  it('lists, sets faults and resets over HTTP', async () => {
    await fetch(`${postback.url}/__control/faults`, { method: 'POST', body: JSON.stringify({ next: ['503'] }) });
    await fetch(postback.conversionUrl, json({ external_id: 'X', coupon: 'c' }));
    const received = (await (await fetch(`${postback.url}/__control/received`)).json()) as { status: number }[];
    expect(received.map((r) => r.status)).toEqual([503]);
    await fetch(`${postback.url}/__control/reset`, { method: 'POST' });
    expect(postback.received).toHaveLength(0);
    expect((await fetch(postback.conversionUrl, json({ external_id: 'X', coupon: 'c' }))).status).toBe(200);
  });
});

describe('clicks (REST /1.6/clicks/)', () => {
  const click = {
    referral_code: 'anna',
    source_id: 'newsletter',
    meta_data: { campaign: 'spring' },
    ip: '203.0.113.7',
    user_agent: 'Mozilla/5.0 (tests)',
    landing_page: 'https://shop.test/p?ref=anna',
    referrer: 'https://blog.test/',
  };

  it('creates a click and answers its id, recording every field', async () => {
    const res = await fetch(postback.clicksUrl, json(click));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string };
    expect(body).toEqual({ id: expect.stringMatching(/^click-\d+$/) });
    expect(postback.clicks).toHaveLength(1);
    expect(postback.clicks[0]).toMatchObject({ kind: 'click', method: 'POST', fields: click, apiKey: 'secret-key', status: 200, id: body.id });
    expect(postback.acceptedClicks()).toHaveLength(1);
    // Clicks are not postbacks.
    expect(postback.received).toHaveLength(0);
  });

  it('never issues the same click id twice, even across a reset', async () => {
    const first = ((await (await fetch(postback.clicksUrl, json(click))).json()) as { id: string }).id;
    postback.reset();
    const second = ((await (await fetch(postback.clicksUrl, json(click))).json()) as { id: string }).id;
    expect(second).not.toBe(first);
  });

  const refusals: { name: string; init: RequestInit; status: number; body?: unknown; html?: boolean }[] = [
    { name: 'no key: HTML', init: json(click, null), status: 401, html: true },
    { name: 'wrong key', init: json(click, 'nope'), status: 401, body: { message: 'Authentication Failed.' } },
    { name: 'no referral_code', init: json({ ip: '203.0.113.7' }), status: 422, body: { message: 'referral_code is required.' } },
    { name: 'blank referral_code', init: json({ referral_code: '  ' }), status: 422, body: { message: 'referral_code is required.' } },
    { name: 'meta_data not an object', init: json({ referral_code: 'a', meta_data: 'x' }), status: 422, body: { message: 'meta_data must be an object.' } },
    { name: 'body not a JSON object', init: { ...json(null), body: '[1]' }, status: 400, body: { message: 'Request body is not a JSON object.' } },
    { name: 'GET', init: { headers: { 'x-api-key': 'secret-key' } }, status: 405, body: { message: 'Method Not Allowed' } },
  ];
  it.each(refusals)('$name → $status, and no click created', async ({ init, status, body, html }) => {
    const res = await fetch(postback.clicksUrl, init);
    expect(res.status).toBe(status);
    if (html) expect(await res.text()).toContain('401 Unauthorized');
    else expect(await res.json()).toEqual(body);
    expect(postback.acceptedClicks()).toHaveLength(0);
    expect(postback.clicks.every((c) => c.id === undefined)).toBe(true);
  });

  it('keeps its faults apart from the postbacks\' faults', async () => {
    postback.setFaults({ next: ['503'] });
    expect((await fetch(postback.clicksUrl, json(click))).status).toBe(200);
    postback.setFaults({ clicks: { next: ['503'] } });
    expect((await fetch(postback.conversionUrl, json({ external_id: 'CF1', referral_code: 'anna' }))).status).toBe(200);
    expect((await fetch(postback.clicksUrl, json(click))).status).toBe(503);
    expect((await fetch(postback.clicksUrl, json(click))).status).toBe(200);
    expect(postback.clicks.map((c) => c.fault)).toEqual([undefined, '503', undefined]);
  });

  it('prints one line per click with its id, never the key', () => {
    const line = describeClick(
      { kind: 'click', method: 'POST', fields: { referral_code: 'anna' }, apiKey: 'secret-key', contentType: null, status: 200, id: 'click-7', at: 1 },
      'secret-key',
    );
    expect(line).toBe('click POST → 200 [key ok] id=click-7 referral_code=anna');
    expect(line).not.toContain('secret-key');
  });
});

describe('redirects (an injected 302/307 and the /redirected/ capture)', () => {
  const order = { external_id: 'RD1', referral_code: 'demo' };

  it.each(['307', '302'] as const)('answers %s with a Location on the capture path, and records nothing there unless followed', async (status) => {
    postback.setFaults({ next: [status] });
    const res = await fetch(postback.conversionUrl, { ...json(order), redirect: 'manual' });
    expect(res.status).toBe(Number(status));
    const location = res.headers.get('location') ?? '';
    expect(location.startsWith(`${postback.url}/redirected/conversion/`)).toBe(true);
    expect(postback.received[0]).toMatchObject({ fault: status, status: Number(status), location });
    expect(postback.redirected).toHaveLength(0);
    expect(postback.accepted()).toHaveLength(0);
  });

  it('a client that follows a 307 re-posts the key and the body to the capture, which records them', async () => {
    postback.setFaults({ next: ['307'] });
    const res = await fetch(postback.conversionUrl, json(order));
    expect(res.status).toBe(200); // what a naive client sees: a success
    expect(postback.redirected).toHaveLength(1);
    expect(postback.redirected[0]).toMatchObject({ method: 'POST', apiKey: 'secret-key', body: JSON.stringify(order) });
    expect(postback.redirected[0].headers['x-api-key']).toBe('secret-key');
    expect(postback.redirected[0].path).toMatch(/^\/redirected\/conversion\/\d+$/);
    expect(postback.accepted()).toHaveLength(0);
  });

  it('a client that follows a 302 turns it into a GET without the body', async () => {
    postback.setFaults({ next: ['302'] });
    expect((await fetch(postback.customerUrl, json({ customer_id: 'RC1', referral_code: 'demo' }))).status).toBe(200);
    expect(postback.redirected[0]).toMatchObject({ method: 'GET', body: '' });
    expect(postback.redirected[0].path).toMatch(/^\/redirected\/customer\//);
  });

  it('redirects clicks too, through the clicks spec', async () => {
    postback.setFaults({ clicks: { always: '307' } });
    const res = await fetch(postback.clicksUrl, { ...json({ referral_code: 'anna', ip: '203.0.113.9' }), redirect: 'manual' });
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toMatch(/\/redirected\/click\/\d+$/);
    await fetch(postback.clicksUrl, json({ referral_code: 'anna', ip: '203.0.113.9' }));
    expect(postback.redirected).toHaveLength(1);
    expect(JSON.parse(postback.redirected[0].body)).toEqual({ referral_code: 'anna', ip: '203.0.113.9' });
    expect(postback.acceptedClicks()).toHaveLength(0);
  });

  it('prints a followed redirect without the key', () => {
    const line = describeRedirected({ path: '/redirected/conversion/1', method: 'POST', headers: {}, apiKey: 'secret-key', body: '{}', at: 1 });
    expect(line).toContain('REDIRECT FOLLOWED POST /redirected/conversion/1 [key sent]');
    expect(line).not.toContain('secret-key');
  });
});

describe('injected rejections', () => {
  const order = { external_id: 'RJ1', referral_code: 'demo' };
  const wordings = [
    { status: 422, message: 'Coupon already expired' },
    { status: 422, message: 'Conversion with this external_id already exists' },
    { status: 409, message: 'Conflict' },
    { status: 400, message: 'Referral code not found' },
  ];

  it.each(wordings)('answers $status {"message":"$message"}, and creates nothing', async (rejection) => {
    postback.setFaults({ next: [rejection] });
    const res = await fetch(postback.conversionUrl, json(order));
    expect(res.status).toBe(rejection.status);
    expect(await res.json()).toEqual({ message: rejection.message });
    expect(postback.received[0]).toMatchObject({ fault: 'reject', rejection, status: rejection.status });
    // Nothing was created: the same order is accepted next.
    expect((await fetch(postback.conversionUrl, json(order))).status).toBe(200);
  });

  it('sends a chosen raw body and content type', async () => {
    postback.setFaults({ next: [{ status: 409, body: '<h1>Conflict</h1>', contentType: 'text/html' }, { status: 422, body: { errors: ['x'] } }] });
    const first = await fetch(postback.conversionUrl, json(order));
    expect([first.status, first.headers.get('content-type'), await first.text()]).toEqual([409, 'text/html', '<h1>Conflict</h1>']);
    const second = await fetch(postback.conversionUrl, json(order));
    expect([second.status, await second.json()]).toEqual([422, { errors: ['x'] }]);
  });

  it("'reject' alone is a default 422, and `always` answers every request", async () => {
    postback.setFaults({ next: ['reject'] });
    const res = await fetch(postback.conversionUrl, json(order));
    expect([res.status, await res.json()]).toEqual([422, { message: 'Rejected by the stand-in.' }]);
    postback.setFaults({ always: { status: 422, message: 'Coupon already expired' } });
    const statuses = await Promise.all([1, 2, 3].map((i) => fetch(postback.conversionUrl, json({ ...order, external_id: `A${i}` })).then((r) => r.status)));
    expect(statuses).toEqual([422, 422, 422]);
    expect(postback.accepted()).toHaveLength(0);
  });

  it('rejects clicks through the clicks spec', async () => {
    postback.setFaults({ clicks: { next: [{ status: 422, message: 'Affiliate not found' }] } });
    const res = await fetch(postback.clicksUrl, json({ referral_code: 'ghost' }));
    expect([res.status, await res.json()]).toEqual([422, { message: 'Affiliate not found' }]);
    expect(postback.clicks[0]).toMatchObject({ fault: 'reject', status: 422 });
  });

  it('prints the injected message', () => {
    const line = describePostback(
      { kind: 'conversion', method: 'POST', fields: {}, apiKey: null, contentType: null, status: 422, fault: 'reject', rejection: { status: 422, message: 'Coupon already expired' }, at: 1 },
      'k',
    );
    expect(line).toContain('→ 422 (fault reject: Coupon already expired) [no key]');
  });
});

describe('control client', () => {
  it('reads clicks and redirected requests, and sets click faults, over HTTP', async () => {
    const control = postbackControl(postback.url);
    expect(control.clicksUrl).toBe(postback.clicksUrl);
    await control.setFaults({ next: ['307'], clicks: { next: [{ status: 422, message: 'nope' }] } });
    await fetch(control.conversionUrl, json({ external_id: 'CC1', referral_code: 'demo' }));
    await fetch(control.clicksUrl, json({ referral_code: 'demo' }));
    await fetch(control.clicksUrl, json({ referral_code: 'demo' }));
    expect((await control.redirected()).map((r) => r.method)).toEqual(['POST']);
    expect((await control.clicks()).map((c) => c.status)).toEqual([422, 200]);
    expect((await control.acceptedClicks()).map((c) => c.id)).toEqual([expect.stringMatching(/^click-/)]);
    await control.reset();
    expect(await control.clicks()).toEqual([]);
    expect(await control.redirected()).toEqual([]);
  });

  it('refuses a fault spec that is not a JSON object', async () => {
    const res = await fetch(`${postback.url}/__control/faults`, { method: 'POST', body: '[]' });
    expect(res.status).toBe(400);
  });
});

describe('REST v1.6 refunds (conversions lookup, disapprove, set amount)', () => {
  const rest = (path: string, init: RequestInit = {}, key: string | null = 'secret-key') =>
    fetch(`${postback.restUrl}${path}`, { ...init, headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) } });
  const convert = (external_id: string, amount?: number) =>
    fetch(postback.conversionUrl, json({ external_id, referral_code: 'demo', ...(amount === undefined ? {} : { amount }) }));
  const lookup = async (externalId: string) => (await rest(`conversions/?external_id=${encodeURIComponent(externalId)}`)).json() as Promise<{ id: number; commissions: { id: number; amount: number; approved: boolean | null; comment: string | null }[] }[]>;

  it('a conversion accepted by postback has one pending commission of 10% of its amount', async () => {
    await convert('R1', 123.45);
    const [conversion] = await lookup('R1');
    expect(conversion).toEqual({
      id: expect.any(Number),
      external_id: 'R1',
      amount: 123.45,
      commissions: [{ id: expect.any(Number), amount: 12.35, approved: null, comment: null }],
    });
    expect(postback.conversions()).toEqual([conversion]);
  });

  it('a refused or repeated postback makes no second conversion, and one without amount has a 0 commission', async () => {
    await convert('R2', 50);
    await convert('R2', 50);
    await fetch(postback.conversionUrl, json({ external_id: 'R3' })); // no identifier: refused
    await convert('R4');
    expect(postback.conversions().map((c) => [c.external_id, c.commissions.map((m) => m.amount)])).toEqual([
      ['R2', [5]],
      ['R4', [0]],
    ]);
  });

  it('an unknown external_id is an empty list', async () => {
    await convert('R5', 10);
    const res = await rest('conversions/?external_id=nope');
    expect([res.status, await res.json()]).toEqual([200, []]);
  });

  it('disapproves a commission, and again without error', async () => {
    await convert('R6', 80);
    const [{ commissions }] = await lookup('R6');
    for (let i = 0; i < 2; i++) {
      const res = await rest(`commissions/${commissions[0].id}/approved/`, { method: 'DELETE' });
      expect([res.status, await res.json()]).toEqual([200, expect.objectContaining({ id: commissions[0].id, approved: false, amount: 8 })]);
    }
    expect((await lookup('R6'))[0].commissions[0].approved).toBe(false);
    expect(postback.rest.map((r) => [r.method, r.status])).toEqual([
      ['GET', 200],
      ['DELETE', 200],
      ['DELETE', 200],
      ['GET', 200],
    ]);
  });

  it('sets a commission amount and its comment, and records the body', async () => {
    await convert('R7', 100);
    const [{ commissions }] = await lookup('R7');
    const body = { amount: 7.5, comment: 'Refund re_1: 25 of 100 refunded' };
    const res = await rest(`commissions/${commissions[0].id}/`, { method: 'PATCH', body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    expect(postback.conversions()[0].commissions[0]).toMatchObject({ amount: 7.5, comment: body.comment, approved: null });
    expect(postback.rest.at(-1)).toMatchObject({ method: 'PATCH', path: `/1.6/commissions/${commissions[0].id}/`, fields: body, apiKey: 'secret-key' });
  });

  const refusals: { name: string; path: string; init: RequestInit; key?: string | null; status: number; body?: unknown }[] = [
    { name: 'unknown commission (DELETE)', path: 'commissions/999999/approved/', init: { method: 'DELETE' }, status: 404, body: { message: 'Not Found' } },
    { name: 'unknown commission (PATCH)', path: 'commissions/999999/', init: { method: 'PATCH', body: '{"amount":1}' }, status: 404, body: { message: 'Not Found' } },
    { name: 'amount not a number', path: 'commissions/{id}/', init: { method: 'PATCH', body: '{"amount":"1"}' }, status: 422, body: { message: 'amount must be a number.' } },
    { name: 'negative amount', path: 'commissions/{id}/', init: { method: 'PATCH', body: '{"amount":-1}' }, status: 422, body: { message: 'amount must be a number.' } },
    { name: 'body not an object', path: 'commissions/{id}/', init: { method: 'PATCH', body: '[1]' }, status: 400, body: { message: 'Request body is not a JSON object.' } },
    { name: 'POST to the lookup', path: 'conversions/', init: { method: 'POST', body: '{}' }, status: 405, body: { message: 'Method Not Allowed' } },
    { name: 'wrong key', path: 'conversions/?external_id=R8', init: {}, key: 'nope', status: 401, body: { message: 'Authentication Failed.' } },
    { name: 'no key', path: 'conversions/?external_id=R8', init: {}, key: null, status: 401 },
  ];
  it.each(refusals)('$name → $status, and nothing changes', async ({ path, init, key, status, body }) => {
    await convert('R8', 40);
    const id = postback.conversions()[0].commissions[0].id;
    const res = await rest(path.replace('{id}', String(id)), init, key === undefined ? 'secret-key' : key);
    expect(res.status).toBe(status);
    if (body) expect(await res.json()).toEqual(body);
    expect(postback.conversions()[0].commissions[0]).toEqual({ id, amount: 4, approved: null, comment: null });
  });

  it('has its own faults, apart from postbacks and clicks', async () => {
    await convert('R9', 10);
    postback.setFaults({ next: ['503'], clicks: { next: ['503'] }, rest: { next: ['503', { status: 404, message: 'Not Found' }, '429'] } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await rest('conversions/?external_id=R9')).status);
    expect(statuses).toEqual([503, 404, 429, 200]);
    expect(postback.rest.map((r) => r.fault)).toEqual(['503', 'reject', '429', undefined]);
    // The postback fault is still waiting for the next postback.
    expect((await convert('R10', 1)).status).toBe(503);
  });

  it('a fault answers before the change: a 503 on DELETE leaves the commission as it was', async () => {
    await convert('R11', 10);
    const id = postback.conversions()[0].commissions[0].id;
    postback.setFaults({ rest: { next: ['503'] } });
    expect((await rest(`commissions/${id}/approved/`, { method: 'DELETE' })).status).toBe(503);
    expect(postback.conversions()[0].commissions[0].approved).toBeNull();
    expect((await rest(`commissions/${id}/approved/`, { method: 'DELETE' })).status).toBe(200);
    expect(postback.conversions()[0].commissions[0].approved).toBe(false);
  });

  it('seeds a conversion with several commissions, readable and changeable over the control client', async () => {
    const control = postbackControl(postback.url);
    expect(control.restUrl).toBe(postback.restUrl);
    const seeded = await control.seedConversion({ external_id: 'S1', amount: 200, commissions: [20, 5] });
    expect(seeded.commissions.map((c) => c.amount)).toEqual([20, 5]);
    await rest(`commissions/${seeded.commissions[1].id}/approved/`, { method: 'DELETE' });
    expect((await control.commissionsOf('S1'))?.map((c) => c.approved)).toEqual([null, false]);
    expect(await control.commissionsOf('nope')).toBeUndefined();
    expect((await control.rest()).map((r) => r.method)).toEqual(['DELETE']);
    await control.setFaults({ rest: { next: ['503'] } });
    expect((await rest('conversions/?external_id=S1')).status).toBe(503);
    await control.reset();
    expect(await control.conversions()).toEqual([]);
    expect(await control.rest()).toEqual([]);
  });

  it('never issues the same commission id twice, even across a reset', async () => {
    await convert('R12', 10);
    const first = postback.conversions()[0].commissions[0].id;
    postback.reset();
    await convert('R12', 10);
    expect(postback.conversions()[0].commissions[0].id).not.toBe(first);
  });

  it('prints one line per REST call, never the key', () => {
    const line = describeRest(
      { kind: 'rest', method: 'PATCH', path: '/1.6/commissions/7/', fields: { amount: 1 }, apiKey: 'secret-key', contentType: null, status: 200, at: 1 },
      'secret-key',
    );
    expect(line).toBe('rest PATCH /1.6/commissions/7/ → 200 [key ok] amount=1');
    expect(line).not.toContain('secret-key');
  });
});
