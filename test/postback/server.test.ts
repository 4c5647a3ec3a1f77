import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPostbackServer, type PostbackServer } from './server.mjs';

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
