// POST /_tap/refund (proxy/routes/refund.ts) through the app, with a recording delivery: who may
// send a refund, what it must carry, and what each delivery result answers.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { createApp } from '../../proxy/app';
import type { DeliveryResult, Submission } from '../../proxy/delivery';
import { fakeDelivery } from '../fake-delivery';

const TOKEN = 'server-token-for-refunds';
const ORIGIN = 'https://shop.example';

async function refund(body: unknown, { token = TOKEN as string | null, answer = { status: 'reversed' } as DeliveryResult, env = {} as Partial<Env>, contentType = 'application/json' } = {}) {
  const submissions: Submission[] = [];
  const app = createApp({
    createDelivery: () =>
      fakeDelivery(async (submission) => {
        submissions.push(structuredClone(submission));
        return answer;
      }),
  });
  const headers: Record<string, string> = { 'content-type': contentType };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const ctx = createExecutionContext();
  try {
    const testEnv = { ...(workerEnv as Env), TAPFILIATE_API_KEY: 'test-key', TAPLINE_SERVER_TOKEN: TOKEN, TAPLINE_RATE_LIMIT: { limit: async () => ({ success: true }) }, ...env } as Env;
    const response = await app.request(`${ORIGIN}/_tap/refund`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) }, testEnv, ctx);
    const json = await response.json();
    await waitOnExecutionContext(ctx);
    return { status: response.status, json, submissions, lines: log.mock.calls.map((args) => args.map(String).join(' ')) };
  } finally {
    log.mockRestore();
  }
}

describe('POST /refund', () => {
  it('hands a full refund to delivery as a server refund job', async () => {
    const result = await refund({ external_id: 'WC-1001', refund_id: 'wc-refund-77' });
    expect([result.status, result.json]).toEqual([200, { ok: true, status: 'reversed' }]);
    expect(result.submissions).toEqual([{ job: { refund: { refund_id: 'wc-refund-77', external_id: 'WC-1001' } }, source: 'server', signed: false }]);
  });

  it('carries a partial amount and its currency; integer ids become strings', async () => {
    const result = await refund({ external_id: 1001, refund_id: 77, amount: '12.50', currency: 'eur' }, { answer: { status: 'adjusted' } });
    expect([result.status, result.json]).toEqual([200, { ok: true, status: 'adjusted' }]);
    expect(result.submissions[0].job).toEqual({ refund: { refund_id: '77', external_id: '1001', amount: 12.5, currency: 'EUR' } });
  });

  it.each([
    [{ status: 'queued' }, 202, { ok: true, status: 'queued' }],
    [{ status: 'duplicate' }, 200, { ok: true, status: 'duplicate' }],
    [{ status: 'unattributed' }, 200, { ok: true, status: 'unattributed' }],
    [{ status: 'ignored' }, 200, { ok: true, status: 'ignored' }],
    [{ status: 'rejected', upstreamStatus: 422, message: 'Commission test-key already paid' }, 422, { ok: false, error: 'upstream_rejected' }],
    [{ status: 'unavailable' }, 503, { ok: false, error: 'temporarily_unavailable', message: 'try again shortly' }],
  ] as [DeliveryResult, number, unknown][])('delivery %j → %i', async (answer, status, json) => {
    const result = await refund({ external_id: 'WC-1', refund_id: 'r1', amount: 5 }, { answer });
    expect([result.status, result.json]).toEqual([status, json]);
    // Tapfiliate's words never reach the caller.
    expect(JSON.stringify(result.json)).not.toContain('test-key');
  });

  it('a test refund is answered with what would be done, and nothing is submitted', async () => {
    const result = await refund({ external_id: 'WC-1', refund_id: 'r1', amount: 5, test: true });
    expect([result.status, result.json]).toEqual([
      200,
      { ok: true, status: 'test', postbacks: [{ kind: 'refund', url: expect.stringMatching(/\/1\.6\/$/), body: { refund_id: 'r1', external_id: 'WC-1', amount: 5 } }] },
    ]);
    expect(result.submissions).toEqual([]);
  });

  it.each([
    ['no Authorization header', null, 'unauthorized'],
    ['a wrong token', 'not-the-token', 'unauthorized'],
  ] as const)('%s → 401, before the body is read', async (_name, token, error) => {
    const result = await refund('not json at all', { token, contentType: 'application/x-www-form-urlencoded' });
    expect([result.status, (result.json as { error: string }).error]).toEqual([401, error]);
    expect(result.submissions).toEqual([]);
  });

  it('any token is refused while TAPLINE_SERVER_TOKEN is unset', async () => {
    const result = await refund({ external_id: 'WC-1', refund_id: 'r1' }, { env: { TAPLINE_SERVER_TOKEN: '' } });
    expect(result.status).toBe(401);
    expect(result.submissions).toEqual([]);
  });

  it.each([
    ['no external_id', { refund_id: 'r1' }, 'external_id', 'is required'],
    ['no refund_id', { external_id: 'WC-1' }, 'refund_id', 'is required'],
    ['an empty refund_id', { external_id: 'WC-1', refund_id: '  ' }, 'refund_id', 'must not be empty'],
    ['a refund_id with a control character', { external_id: 'WC-1', refund_id: 'r\u0007' }, 'refund_id', 'control'],
    ['a refund_id over 255 characters', { external_id: 'WC-1', refund_id: 'r'.repeat(256) }, 'refund_id', ''],
    ['a zero amount', { external_id: 'WC-1', refund_id: 'r1', amount: 0 }, 'amount', 'more than 0'],
    ['a negative amount', { external_id: 'WC-1', refund_id: 'r1', amount: -5 }, 'amount', ''],
    ['an amount that is not a number', { external_id: 'WC-1', refund_id: 'r1', amount: 'ten' }, 'amount', 'number'],
    // JSON.parse reads 1e999 as Infinity.
    ['an infinite amount', '{"external_id":"WC-1","refund_id":"r1","amount":1e999}', 'amount', ''],
    ['a bad currency', { external_id: 'WC-1', refund_id: 'r1', currency: 'euro' }, 'currency', 'ISO 4217'],
  ])('%s → 400 naming the field', async (_name, body, path, message) => {
    const result = await refund(body);
    expect(result.status).toBe(400);
    expect(result.json).toEqual({ ok: false, error: 'invalid_request', issues: [{ path, message: expect.stringContaining(message) }] });
    expect(result.submissions).toEqual([]);
  });

  it('a body that is not a JSON object → 400', async () => {
    for (const body of ['[1]', 'nope']) {
      const result = await refund(body);
      expect([result.status, (result.json as { error: string }).error]).toEqual([400, 'invalid_request']);
    }
  });

  it('refuses to take refunds while the worker is not configured (503), before delivery', async () => {
    const result = await refund({ external_id: 'WC-1', refund_id: 'r1' }, { env: { TAPFILIATE_REST_URL: 'http://api.example/1.6/' } });
    expect([result.status, result.json]).toEqual([503, { ok: false, error: 'not_configured' }]);
    expect(result.lines.join('\n')).toContain('TAPFILIATE_REST_URL must be https://');
    expect(result.submissions).toEqual([]);
  });

  it('logs the external_id and the result, never the token', async () => {
    const result = await refund({ external_id: 'WC-9', refund_id: 'r9' }, { answer: { status: 'adjusted' } });
    const line = result.lines.find((l) => l.includes('"event":"request"'));
    expect(JSON.parse(line!)).toMatchObject({ route: 'refund', status: 200, external_id: 'WC-9', result: 'adjusted' });
    expect(result.lines.join('\n')).not.toContain(TOKEN);
  });
});
