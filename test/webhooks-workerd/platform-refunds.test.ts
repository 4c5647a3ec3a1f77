// Paddle and Lemon Squeezy refunds through the app with a recording delivery: which
// refund each event becomes (its id, the conversion it takes back, the amount), and
// what each delivery result answers. The refund path itself is tested in test/refunds/.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { createApp } from '../../proxy/app';
import type { Delivery, DeliveryResult, LedgerEvent, Submission } from '../../proxy/delivery';
import { lemonSqueezyRefund, paddleAdjustment, paddleSignature, platformSecrets, PADDLE_SANDBOX_SECRET, LEMONSQUEEZY_SECRET } from './platform-helpers';

interface Ledger {
  /** platform id → the conversion key that recorded it. */
  conversions?: Record<string, string>;
  /** conversion key → what the ledger counts as refunded. */
  refunded?: Record<string, number>;
  answer?: DeliveryResult;
}

async function post(path: string, body: string, headers: Record<string, string>, ledger: Ledger = {}, extra: Partial<Env> = {}) {
  const submissions: Submission[] = [];
  const delivery: Delivery = {
    async submit(submission) {
      submissions.push(structuredClone(submission));
      return ledger.answer ?? { status: 'reversed' };
    },
    findConversion: async (platformId) => ledger.conversions?.[platformId] ?? null,
    get: async (key) => (ledger.refunded?.[key] === undefined ? null : ({ key, refunded_amount: ledger.refunded[key] } as unknown as LedgerEvent)),
    list: () => Promise.reject(new Error('not used')),
    summary: () => Promise.reject(new Error('not used')),
    retry: () => Promise.reject(new Error('not used')),
    note: async () => {},
    retryDead: () => Promise.reject(new Error('not used')),
  };
  const app = createApp({ createDelivery: () => delivery });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const ctx = createExecutionContext();
  try {
    const env = { ...(workerEnv as Env), TAPFILIATE_API_KEY: 'test-key', ...platformSecrets, ...extra } as Env;
    const response = await app.request(`https://shop.example/_tap${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }, env, ctx);
    const json = await response.json();
    await waitOnExecutionContext(ctx);
    return { status: response.status, json, submissions };
  } finally {
    log.mockRestore();
  }
}

const postPaddle = async (body: string, ledger?: Ledger, { sandbox = false, env = {} as Partial<Env> } = {}) =>
  post(
    sandbox ? '/webhooks/paddle/sandbox' : '/webhooks/paddle',
    body,
    { 'paddle-signature': await paddleSignature(body, sandbox ? { secret: PADDLE_SANDBOX_SECRET } : {}) },
    ledger,
    env,
  );

async function lsHeaders(body: string) {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(LEMONSQUEEZY_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body)));
  return { 'x-event-name': 'order_refunded', 'x-signature': [...mac].map((b) => b.toString(16).padStart(2, '0')).join('') };
}
const postLemonSqueezy = async (body: string, ledger?: Ledger, env: Partial<Env> = {}) => post('/webhooks/lemonsqueezy', body, await lsHeaders(body), ledger, env);

describe('Paddle adjustments', () => {
  it('an approved partial refund: the adjustment id, the transaction’s conversion, the subtotal refunded', async () => {
    const body = paddleAdjustment('txn_partial_1');
    const id = JSON.parse(body).data.id as string;
    const result = await postPaddle(body, { conversions: { txn_partial_1: 'con:txn_partial_1' }, answer: { status: 'adjusted' } });
    expect([result.status, result.json]).toEqual([200, { ok: true, status: 'adjusted' }]);
    expect(result.submissions).toEqual([
      { job: { refund: { refund_id: id, external_id: 'txn_partial_1', amount: 10, currency: 'USD' } }, source: 'paddle', signed: true },
    ]);
  });

  it('a full refund and a chargeback leave the amount out: the rest of the order', async () => {
    for (const body of [paddleAdjustment('txn_full_1', { full: true }), paddleAdjustment('txn_full_1', { edit: (d) => (d.action = 'chargeback') })]) {
      const result = await postPaddle(body, { conversions: { txn_full_1: 'con:txn_full_1' } });
      expect(result.json).toEqual({ ok: true, status: 'reversed' });
      expect(result.submissions.map((s) => (s.job as { refund: object }).refund)).toEqual([{ refund_id: JSON.parse(body).data.id, external_id: 'txn_full_1', currency: 'USD' }]);
    }
  });

  it('a transaction the ledger never recorded is still refunded by its id (Tapfiliate may know it); delivery answers unattributed when nobody does', async () => {
    const result = await postPaddle(paddleAdjustment('txn_unknown'), { answer: { status: 'unattributed' } });
    expect(result.json).toEqual({ ok: true, status: 'unattributed' });
    expect(result.submissions.map((s) => (s.job as { refund: { external_id: string } }).refund.external_id)).toEqual(['txn_unknown']);
  });

  it('a replay is what delivery says: duplicate', async () => {
    const body = paddleAdjustment('txn_dup');
    expect((await postPaddle(body, { answer: { status: 'duplicate' } })).json).toEqual({ ok: true, status: 'duplicate' });
  });

  it('Tapfiliate refusing it is a 200 upstream_rejected: Paddle must not retry', async () => {
    const result = await postPaddle(paddleAdjustment('txn_rej'), { answer: { status: 'rejected', upstreamStatus: 404, message: 'secret-bearing words' } });
    expect([result.status, result.json]).toEqual([200, { ok: false, error: 'upstream_rejected' }]);
  });

  it('a refund awaiting approval sends nothing', async () => {
    const result = await postPaddle(paddleAdjustment('txn_pending', { edit: (d) => (d.status = 'pending_approval') }));
    expect(result.json).toEqual({ ok: true, status: 'ignored' });
    expect(result.submissions).toEqual([]);
  });

  it('a sandbox refund is a test event: what would be refunded, nothing submitted', async () => {
    const result = await postPaddle(paddleAdjustment('txn_sandbox'), {}, { sandbox: true });
    expect(result.json).toMatchObject({ ok: true, status: 'test', postbacks: [{ kind: 'refund', body: { external_id: 'txn_sandbox', amount: 10 } }] });
    expect(result.submissions).toEqual([]);
  });
});

describe('Lemon Squeezy order_refunded', () => {
  it('partial refunds: each carries its cumulative total in the base, which the ledger turns into its own part (lifecycle.ts cumulativeRefund)', async () => {
    // total 2880 with tax 480: refunded 1440 is half, 12.00 of the 24.00 base; then 2160 is three quarters, 18.00.
    const first = await postLemonSqueezy(lemonSqueezyRefund('777001', 1440), { conversions: { '777001': 'con:777001' }, refunded: { 'con:777001': 0 }, answer: { status: 'adjusted' } });
    expect(first.json).toEqual({ ok: true, status: 'adjusted' });
    const second = await postLemonSqueezy(lemonSqueezyRefund('777001', 2160), { conversions: { '777001': 'con:777001' }, refunded: { 'con:777001': 12 }, answer: { status: 'adjusted' } });
    expect([...first.submissions, ...second.submissions]).toEqual([
      { job: { refund: { refund_id: '777001-refunded-1440', external_id: '777001', refunded_total: 12, currency: 'USD' } }, source: 'lemonsqueezy', signed: true },
      { job: { refund: { refund_id: '777001-refunded-2160', external_id: '777001', refunded_total: 18, currency: 'USD' } }, source: 'lemonsqueezy', signed: true },
    ]);
  });

  it('a full refund leaves the amount out', async () => {
    const full = await postLemonSqueezy(lemonSqueezyRefund('777002', 2880, { full: true }), { conversions: { '777002': 'con:777002' }, refunded: { 'con:777002': 12 } });
    expect(full.submissions.map((s) => (s.job as { refund: object }).refund)).toEqual([{ refund_id: '777002-refunded-2880', external_id: '777002', currency: 'USD' }]);
  });

  it('a test-mode refund is answered in test mode, nothing submitted', async () => {
    const body = JSON.stringify({ ...JSON.parse(lemonSqueezyRefund('777004', 1440)), meta: { event_name: 'order_refunded', test_mode: true } });
    const result = await postLemonSqueezy(body);
    expect(result.json).toMatchObject({ ok: true, status: 'test', postbacks: [{ kind: 'refund', body: { refund_id: '777004-refunded-1440', refunded_total: 12 } }] });
    expect(result.submissions).toEqual([]);
  });
});
