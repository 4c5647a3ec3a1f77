// The forwarding path for real, inside workerd: the proxy app with the real
// delivery, against the local Tapfiliate stand-in started by the global setup.
import { createExecutionContext, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { createApp } from '../../proxy/app';
import { createDelivery } from '../../proxy/delivery';
import type { Env } from '../../proxy/env';
import { postbackControl } from '../postback/control';
import type { ReceivedPostback } from '../postback/server.mjs';
import { post, tapDataCookie } from './helpers';

const upstream = postbackControl(inject('proxyPostbackServers').app);
const KEY = 'test-key'; // what the stand-in expects
const browser = {
  'cf-connecting-ip': '203.0.113.7',
  'user-agent': 'Mozilla/5.0 (workerd test)',
  'x-forwarded-for': '198.51.100.1',
};

/** The inline delivery (no queue or ledger bound), pointed at the stand-in. */
function inlineEnv(extra: Partial<Env> = {}): Env {
  const { POSTBACK_QUEUE: _queue, POSTBACK_LEDGER: _ledger, ...rest } = workerEnv as Env;
  return {
    ...rest,
    TAPFILIATE_API_KEY: KEY,
    POSTBACK_CONVERSION_URL: upstream.conversionUrl,
    POSTBACK_CUSTOMER_URL: upstream.customerUrl,
    ...extra,
  };
}

async function send(path: string, body: unknown, env: Env = inlineEnv(), headers: Record<string, string> = browser) {
  const app = createApp({ createDelivery });
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

let n = 0;
const nextId = () => `ORD-${Date.now()}-${++n}`;

describe('forwarding to the postback API', () => {
  beforeEach(() => upstream.reset());

  it('sends the customer postback, then the conversion, with key, IP and UA from the request', async () => {
    const external_id = nextId();
    const { status, json } = await send('/_tap/convert', {
      external_id,
      amount: '19.90',
      currency: 'eur',
      customer_id: 'CUS-1',
      ip: '10.9.9.9',
      user_agent: 'forged',
    }, inlineEnv(), { ...browser, cookie: tapDataCookie({ referral_code: 'aff1', ts: 1 }) });
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
      customer_id: 'CUS-1',
      referral_code: 'aff1',
      ip: '203.0.113.7',
      user_agent: 'Mozilla/5.0 (workerd test)',
    });
  });

  it('answers 202 queued on an upstream 503, then delivers on a retry', async () => {
    await upstream.setFaults({ next: ['503'] });
    const external_id = nextId();
    const { status, json } = await send('/_tap/convert', { external_id, coupon: 'SAVE' });
    expect(status).toBe(202);
    expect(json).toEqual({ ok: true, status: 'queued' });
    const received = await upstream.received();
    expect(received.map((r) => r.status)).toEqual([503, 200]);
    expect(received[1].fields.external_id).toBe(external_id);
  });

  it('answers duplicate when the postback API already has the external_id, and it stays accepted once', async () => {
    const external_id = nextId();
    expect((await send('/_tap/convert', { external_id, click_id: 'clk' })).json).toEqual({ ok: true, status: 'sent' });
    const again = await send('/_tap/convert', { external_id, click_id: 'clk' });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ ok: true, status: 'duplicate' });
    expect(await upstream.accepted('conversion')).toHaveLength(1);
  });

  it('answers 422 upstream_rejected with one line, never the upstream body or the key', async () => {
    const { status, json, lines } = await send('/_tap/convert', { external_id: nextId(), referral_code: 'aff' }, inlineEnv({ TAPFILIATE_API_KEY: 'wrong-key-abcdef' }));
    expect(status).toBe(422);
    expect(json).toEqual({ ok: false, error: 'upstream_rejected', message: 'Authentication Failed.' });
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
    const response = await app.request(`${upstream.url}/somewhere-else`, {}, inlineEnv(), ctx);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ message: 'Not Found' });
  });
});

describe('the worker entry', () => {
  const worker = postbackControl(inject('proxyPostbackServers').worker);
  beforeEach(() => worker.reset());

  it('serves health and the snippet', async () => {
    const health = await SELF.fetch('https://shop.example/_tap/health');
    expect(await health.json()).toMatchObject({ ok: true, configured: true, delivery: { durable: true } });
    const snippet = await SELF.fetch('https://shop.example/_tap/tap.js');
    expect(snippet.headers.get('content-type')).toMatch(/^text\/javascript/);
    await snippet.text();
  });

  it('delivers a conversion end to end with the delivery this deployment binds', async () => {
    const external_id = nextId();
    const response = await SELF.fetch('https://shop.example/_tap/convert', post({ external_id, customer_id: 'CUS-W', referral_code: 'aff' }, browser));
    expect([200, 202]).toContain(response.status);
    await response.text();
    let accepted: ReceivedPostback[] = [];
    for (let waited = 0; waited < 15_000 && accepted.length < 2; waited += 100) {
      accepted = await worker.accepted();
      if (accepted.length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(accepted.map((r) => r.kind)).toEqual(['customer', 'conversion']);
    expect(accepted[1].fields).toMatchObject({ external_id, ip: '203.0.113.7' });
  });
});
