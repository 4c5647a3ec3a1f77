// A refund from the merchant's server, through the production app, the real
// ledger and runRefund, against the Tapfiliate stand-in: what Tapfiliate ends up
// holding, and what the ledger records.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { createApp } from '../../proxy/app';
import { createDelivery } from '../../proxy/delivery';
import { drainAll, pointLedgersAt, recordOf, runDueTries } from '../ledger-control';
import { postbackControl } from '../postback/control';

const upstream = postbackControl(inject('refundPostbackServers').route);
const KEY = 'test-key';
const TOKEN = 'refund-route-server-token';

function appEnv(extra: Partial<Env> = {}): Env {
  return {
    ...(workerEnv as Env),
    TAPFILIATE_API_KEY: KEY,
    TAPLINE_SERVER_TOKEN: TOKEN,
    POSTBACK_CONVERSION_URL: upstream.conversionUrl,
    POSTBACK_CUSTOMER_URL: upstream.customerUrl,
    TAPFILIATE_REST_URL: upstream.restUrl,
    ...extra,
  } as Env;
}

const ADMIN_TOKEN = 'refund-route-admin-token';

/** What the operator API (GET /_tap/admin/api/events/:key) shows of a record. */
async function operatorView(key: string) {
  const app = createApp({ createDelivery });
  const ctx = createExecutionContext();
  const response = await app.request(
    `https://shop.example/_tap/admin/api/events/${encodeURIComponent(key)}`,
    { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
    appEnv({ TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN } as Partial<Env>),
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: response.status, json: (await response.json()) as { event?: Record<string, unknown> } & Record<string, unknown> };
}

async function send(path: string, body: unknown, env = appEnv()) {
  const app = createApp({ createDelivery });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const ctx = createExecutionContext();
  try {
    const response = await app.request(
      `https://shop.example${path}`,
      { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) },
      env,
      ctx,
    );
    const json = await response.json();
    await waitOnExecutionContext(ctx);
    return { status: response.status, json, lines: log.mock.calls.map((args) => args.map(String).join(' ')) };
  } finally {
    log.mockRestore();
  }
}

let n = 0;
const nextId = (prefix: string) => `${prefix}-${Date.now()}-${++n}`;

/** A conversion the merchant's server sends; the stand-in gives it one commission of 10%. */
async function convert(external_id: string, amount: number) {
  const result = await send('/_tap/convert', { external_id, amount, currency: 'EUR', referral_code: 'anna' });
  expect(result.json).toEqual({ ok: true, status: 'sent' });
}

const refund = (body: Record<string, unknown>) => send('/_tap/refund', body);
const commissions = async (external_id: string) => (await upstream.commissionsOf(external_id))?.map(({ amount, approved }) => ({ amount, approved }));
const changes = async () => (await upstream.rest()).filter((r) => r.method !== 'GET' && r.status >= 200 && r.status < 300);

describe('refunds through the ledger', () => {
  let undo: () => Promise<void>;
  beforeEach(async () => {
    await upstream.reset();
    undo = await pointLedgersAt({
      POSTBACK_CONVERSION_URL: upstream.conversionUrl,
      POSTBACK_CUSTOMER_URL: upstream.customerUrl,
      TAPFILIATE_REST_URL: upstream.restUrl,
      TAPFILIATE_API_KEY: KEY,
    });
  });
  afterEach(() => undo());

  it('a full refund disapproves the commission; the conversion and the refund record say reversed', async () => {
    const external_id = nextId('FULL');
    await convert(external_id, 100);
    const refund_id = nextId('re');
    expect(await refund({ external_id, refund_id })).toMatchObject({ status: 200, json: { ok: true, status: 'reversed' } });
    expect(await commissions(external_id)).toEqual([{ amount: 10, approved: false }]);
    expect(await recordOf(`con:${external_id}`)).toMatchObject({ status: 'reversed', refunded_amount: 100, commissions: [{ amount: 10 }] });
    expect(await recordOf(`ref:${refund_id}`, `con:${external_id}`)).toMatchObject({ kind: 'refund', status: 'reversed', source: 'server' });
  });

  it('a partial refund reduces the commission; the conversion says adjusted and keeps the original', async () => {
    const external_id = nextId('PART');
    await convert(external_id, 100);
    expect(await refund({ external_id, refund_id: nextId('re'), amount: 25 })).toMatchObject({ status: 200, json: { ok: true, status: 'adjusted' } });
    expect(await commissions(external_id)).toEqual([{ amount: 7.5, approved: null }]);
    expect(await recordOf(`con:${external_id}`)).toMatchObject({ status: 'adjusted', refunded_amount: 25, commissions: [{ amount: 10 }] });
  });

  it('the operator API shows the refund as a refund record, and its conversion with refunded_amount', async () => {
    const external_id = nextId('OPS');
    await convert(external_id, 100);
    const refund_id = nextId('re');
    await refund({ external_id, refund_id, amount: 40 });
    const refundView = await operatorView(`ref:${refund_id}`);
    expect(refundView.status).toBe(200);
    expect(JSON.stringify(refundView.json)).toContain('"kind":"refund"');
    expect(JSON.stringify(refundView.json)).toMatch(/"status":"adjusted"/);
    const conversionView = await operatorView(`con:${external_id}`);
    expect(JSON.stringify(conversionView.json)).toMatch(/"refunded_amount":40/);
    expect(JSON.stringify(conversionView.json)).toMatch(/"status":"adjusted"/);
    expect(JSON.stringify([refundView, conversionView])).not.toContain(KEY);
  });

  it('two partial refunds do not compound: 30 and 20 of 100 leave 5 of a 10 commission', async () => {
    const external_id = nextId('TWO');
    await convert(external_id, 100);
    await refund({ external_id, refund_id: nextId('re'), amount: 30 });
    expect(await refund({ external_id, refund_id: nextId('re'), amount: 20 })).toMatchObject({ json: { status: 'adjusted' } });
    expect(await commissions(external_id)).toEqual([{ amount: 5, approved: null }]);
    expect(await recordOf(`con:${external_id}`)).toMatchObject({ refunded_amount: 50, commissions: [{ amount: 10 }] });
  });

  it('a replayed refund is a duplicate: one change at Tapfiliate', async () => {
    const external_id = nextId('REPLAY');
    await convert(external_id, 100);
    const body = { external_id, refund_id: nextId('re'), amount: 40 };
    expect((await refund(body)).json).toEqual({ ok: true, status: 'adjusted' });
    expect((await refund(body)).json).toEqual({ ok: true, status: 'duplicate' });
    expect(await changes()).toHaveLength(1);
    expect(await commissions(external_id)).toEqual([{ amount: 6, approved: null }]);
  });

  it('a refund before the conversion was sent stops it: never sent, and Tapfiliate is not asked', async () => {
    const external_id = nextId('UNSENT');
    await upstream.setFaults({ always: '503' });
    expect((await send('/_tap/convert', { external_id, amount: 100, referral_code: 'anna' })).json).toEqual({ ok: true, status: 'queued' });
    expect((await refund({ external_id, refund_id: nextId('re') })).json).toEqual({ ok: true, status: 'reversed' });
    await upstream.setFaults({});
    await drainAll();
    expect(await upstream.accepted('conversion')).toEqual([]);
    expect(await upstream.rest()).toEqual([]);
    expect(await recordOf(`con:${external_id}`)).toMatchObject({ status: 'reversed' });
  });

  it('an order neither the ledger nor Tapfiliate knows is unattributed, and nothing changes', async () => {
    const external_id = nextId('NOBODY');
    expect(await refund({ external_id, refund_id: nextId('re'), amount: 5 })).toMatchObject({ status: 200, json: { ok: true, status: 'unattributed' } });
    expect((await upstream.rest()).map((r) => r.method)).toEqual(['GET']);
  });

  it('an order only Tapfiliate knows is refunded from its amount', async () => {
    const external_id = nextId('OLD');
    await upstream.seedConversion({ external_id, amount: 200, commissions: [20] });
    expect((await refund({ external_id, refund_id: nextId('re'), amount: 50 })).json).toEqual({ ok: true, status: 'adjusted' });
    expect(await commissions(external_id)).toEqual([{ amount: 15, approved: null }]);
  });

  it('a 404 from the conversions lookup is unattributed', async () => {
    const external_id = nextId('L404');
    await convert(external_id, 100);
    await upstream.setFaults({ rest: { next: [{ status: 404, message: 'Not Found' }] } });
    expect((await refund({ external_id, refund_id: nextId('re') })).json).toEqual({ ok: true, status: 'unattributed' });
    expect(await commissions(external_id)).toEqual([{ amount: 10, approved: null }]);
  });

  it('Tapfiliate answering 5xx and then 200: queued, retried, and the commission disapproved once', async () => {
    const external_id = nextId('RETRY');
    await convert(external_id, 100);
    const refund_id = nextId('re');
    await upstream.setFaults({ rest: { next: ['503'] } });
    expect(await refund({ external_id, refund_id })).toMatchObject({ status: 202, json: { ok: true, status: 'queued' } });
    expect(await commissions(external_id)).toEqual([{ amount: 10, approved: null }]);
    expect(await runDueTries(`con:${external_id}`)).toBe(true);
    expect(await commissions(external_id)).toEqual([{ amount: 10, approved: false }]);
    expect(await changes()).toHaveLength(1);
    expect(await recordOf(`ref:${refund_id}`, `con:${external_id}`)).toMatchObject({ status: 'reversed' });
    expect(await recordOf(`con:${external_id}`)).toMatchObject({ status: 'reversed' });
  });

  it('a refusal from Tapfiliate is a 422 for a server, and the refund is dead with its message in the record', async () => {
    const external_id = nextId('REFUSED');
    await convert(external_id, 100);
    const refund_id = nextId('re');
    await upstream.setFaults({ rest: { next: ['slow', { status: 422, message: 'Commission already paid out' }], slowMs: 0 } });
    const result = await refund({ external_id, refund_id, amount: 10 });
    expect(result).toMatchObject({ status: 422, json: { ok: false, error: 'upstream_rejected' } });
    expect(JSON.stringify(result.json)).not.toContain('paid out');
    expect(await recordOf(`ref:${refund_id}`, `con:${external_id}`)).toMatchObject({ status: 'dead' });
    expect(await recordOf(`con:${external_id}`)).toMatchObject({ status: 'sent', refunded_amount: 0 });
  });

  it('a test refund is answered and neither recorded nor sent', async () => {
    const external_id = nextId('TEST');
    await convert(external_id, 100);
    const refund_id = nextId('re');
    const result = await refund({ external_id, refund_id, amount: 10, test: true });
    expect(result).toMatchObject({ status: 200, json: { ok: true, status: 'test', postbacks: [{ kind: 'refund', url: upstream.restUrl, body: { refund_id, external_id, amount: 10 } }] } });
    expect(await upstream.rest()).toEqual([]);
    expect(await recordOf(`ref:${refund_id}`, `con:${external_id}`)).toBeUndefined();
  });

  it('REFUNDS=ignore records the refund as ignored and touches nothing at Tapfiliate', async () => {
    await undo();
    undo = await pointLedgersAt({ POSTBACK_CONVERSION_URL: upstream.conversionUrl, TAPFILIATE_REST_URL: upstream.restUrl, TAPFILIATE_API_KEY: KEY, REFUNDS: 'ignore' });
    const external_id = nextId('IGNORE');
    await convert(external_id, 100);
    const refund_id = nextId('re');
    expect((await refund({ external_id, refund_id })).json).toEqual({ ok: true, status: 'ignored' });
    expect(await upstream.rest()).toEqual([]);
    expect(await recordOf(`ref:${refund_id}`, `con:${external_id}`)).toMatchObject({ status: 'ignored' });
    expect(await commissions(external_id)).toEqual([{ amount: 10, approved: null }]);
  });
});
