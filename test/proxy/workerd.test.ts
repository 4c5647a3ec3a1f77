// The forwarding path for real, inside workerd: the proxy app with the real
// delivery (queue + ledger bound by wrangler.toml), against the local Tapfiliate
// stand-in started by the global setup.
import { createExecutionContext, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { createApp } from '../../proxy/app';
import { createDelivery, type CreateDelivery } from '../../proxy/delivery';
import { postbackControl } from '../postback/control';
import type { ReceivedPostback } from '../postback/server.mjs';
import { pointLedgersAt, runDueTries } from '../ledger-control';
import { post, tapDataCookie } from './helpers';

const upstream = postbackControl(inject('proxyPostbackServers').app);
const worker = postbackControl(inject('proxyPostbackServers').worker);
const KEY = 'test-key'; // what the stand-in expects
const browser = {
  'cf-connecting-ip': '203.0.113.7',
  'user-agent': 'Mozilla/5.0 (workerd test)',
  'x-forwarded-for': '198.51.100.1',
};

/** The project's bindings (queue, ledger, rate limit), with the postbacks pointed at the `app` stand-in. */
function appEnv(extra: Partial<Env> = {}): Env {
  return {
    ...(workerEnv as Env),
    TAPFILIATE_API_KEY: KEY,
    POSTBACK_CONVERSION_URL: upstream.conversionUrl,
    POSTBACK_CUSTOMER_URL: upstream.customerUrl,
    ...extra,
  } as Env;
}

async function send(path: string, body: unknown, env: Env = appEnv(), headers: Record<string, string> = browser, delivery: CreateDelivery = createDelivery) {
  const app = createApp({ createDelivery: delivery });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const ctx = createExecutionContext();
  try {
    const response = await app.request(`https://shop.example${path}`, post(body, headers), env, ctx);
    const json = await response.json();
    await waitOnExecutionContext(ctx);
    return { status: response.status, json, lines: log.mock.calls.map((args) => args.map(String).join(' ')) };
  } finally {
    log.mockRestore();
  }
}

async function waitFor<T>(read: () => Promise<T[]>, count: number, ms = 15_000): Promise<T[]> {
  let found: T[] = [];
  for (let waited = 0; waited < ms; waited += 100) {
    found = await read();
    if (found.length >= count) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return found;
}

let n = 0;
const nextId = () => `ORD-${Date.now()}-${++n}`;

describe('forwarding to the postback API', () => {
  let undo: () => Promise<void>;
  beforeEach(async () => {
    await upstream.reset();
    undo = await pointLedgersAt({ POSTBACK_CONVERSION_URL: upstream.conversionUrl, POSTBACK_CUSTOMER_URL: upstream.customerUrl, TAPFILIATE_API_KEY: KEY });
  });
  afterEach(() => undo());

  it('sends the customer postback, then the conversion, with key, IP and UA from the request', async () => {
    const external_id = nextId();
    const customer_id = `CUS-${external_id}`;
    const { status, json } = await send(
      '/_tap/convert',
      { external_id, amount: '19.90', currency: 'eur', customer_id, ip: '10.9.9.9', user_agent: 'forged' },
      appEnv(),
      { ...browser, cookie: tapDataCookie({ referral_code: 'aff1', ts: 1 }) },
    );
    expect(status).toBe(200);
    expect(json).toEqual({ ok: true, status: 'sent' });
    const received = await upstream.received();
    expect(received.map((r) => `${r.kind}:${r.status}`)).toEqual(['customer:200', 'conversion:200']);
    for (const r of received) {
      expect(r).toMatchObject({ method: 'POST', apiKey: KEY, contentType: expect.stringMatching(/^application\/json/) });
      expect(r.fields).toMatchObject({ ip: '203.0.113.7', user_agent: 'Mozilla/5.0 (workerd test)', referral_code: 'aff1' });
    }
    expect(received[1].fields).toEqual({
      external_id,
      amount: 19.9,
      currency: 'EUR',
      customer_id,
      referral_code: 'aff1',
      ip: '203.0.113.7',
      user_agent: 'Mozilla/5.0 (workerd test)',
    });
  });

  it('answers duplicate from the ledger for an external_id it already accepted, and posts it once', async () => {
    const external_id = nextId();
    expect((await send('/_tap/convert', { external_id, click_id: 'clk' })).json).toEqual({ ok: true, status: 'sent' });
    const again = await send('/_tap/convert', { external_id, click_id: 'clk' });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ ok: true, status: 'duplicate' });
    expect(await upstream.accepted('conversion')).toHaveLength(1);
  });

  it('answers 422 upstream_rejected alone: never the upstream message, and no line carries the key', async () => {
    await undo();
    undo = await pointLedgersAt({ POSTBACK_CONVERSION_URL: upstream.conversionUrl, POSTBACK_CUSTOMER_URL: upstream.customerUrl, TAPFILIATE_API_KEY: 'wrong-key-abcdef' });
    const { status, json, lines } = await send(
      '/_tap/convert',
      { external_id: nextId(), referral_code: 'aff' },
      appEnv({ TAPFILIATE_API_KEY: 'wrong-key-abcdef' }),
    );
    expect(status).toBe(422);
    expect(json).toEqual({ ok: false, error: 'upstream_rejected' });
    // The log keeps Tapfiliate's words for the operator.
    expect(lines.some((line) => line.includes('Authentication Failed'))).toBe(true);
    for (const line of lines) expect(line).not.toContain('wrong-key-abcdef');
  });

  it('sends nothing upstream for an unattributed conversion', async () => {
    const { json } = await send('/_tap/convert', { external_id: nextId() });
    expect(json).toEqual({ ok: true, status: 'unattributed' });
    expect(await upstream.received()).toEqual([]);
  });

  it('passes a path outside the base through with a real fetch', async () => {
    const app = createApp({ createDelivery });
    const ctx = createExecutionContext();
    const response = await app.request(`${upstream.url}/somewhere-else`, {}, appEnv(), ctx);
    expect(response.status).toBe(404);
    await response.text();
  });
});

describe('the ledger behind an inline failure', () => {
  beforeEach(() => worker.reset());

  it('answers 202 queued on an upstream 503, then the ledger object\'s alarm delivers it', async () => {
    // The bound URLs point at `worker`, where the ledger objects (with the worker's env) post.
    await worker.setFaults({ next: ['503'] });
    const external_id = nextId();
    const { status, json } = await send('/_tap/convert', { external_id, coupon: 'SAVE' }, workerEnv as Env, browser);
    expect(status).toBe(202);
    expect(json).toEqual({ ok: true, status: 'queued' });
    expect(await runDueTries(`con:${external_id}`)).toBe(true);
    const accepted = await waitFor(() => worker.accepted('conversion'), 1);
    expect(accepted.map((r) => r.fields.external_id)).toEqual([external_id]);
    expect((await worker.received()).map((r) => r.status)).toEqual([503, 200]);
  });
});

describe('the worker entry', () => {
  beforeEach(() => worker.reset());

  it('serves health from its bindings, and the snippet', async () => {
    const health = await SELF.fetch('https://shop.example/_tap/health');
    // wrangler.toml binds the ledger and the rate limit; vitest.config.ts the key, and no signing secret.
    expect(await health.json()).toEqual({
      ok: true,
      configured: true,
      trust: 'open',
      delivery: { durable: true },
      rate_limit: 'per_ip',
      webhooks: { stripe: false, shopify: false, paddle: false, paddle_sandbox: false, lemonsqueezy: false },
      forwarder: false,
    });
    const snippet = await SELF.fetch('https://shop.example/_tap/tap.js');
    expect(snippet.headers.get('content-type')).toMatch(/^text\/javascript/);
    await snippet.text();
  });

  it('delivers a conversion end to end with the delivery this deployment binds', async () => {
    const external_id = nextId();
    const response = await SELF.fetch(
      'https://shop.example/_tap/convert',
      post({ external_id, customer_id: `CUS-${external_id}`, referral_code: 'aff' }, browser),
    );
    expect([200, 202]).toContain(response.status);
    await response.text();
    const accepted: ReceivedPostback[] = await waitFor(() => worker.accepted(), 2);
    expect(accepted.map((r) => r.kind)).toEqual(['customer', 'conversion']);
    expect(accepted[1].fields).toMatchObject({ external_id, ip: '203.0.113.7' });
  });
});
