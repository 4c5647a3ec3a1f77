import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createInlineDelivery } from '../../proxy/delivery/inline';
import { createPostbackSender, type SendPostback } from '../../proxy/delivery/postback';
import type { PostbackJob } from '../../proxy/delivery/types';
import { client, postbackServer } from './postback-control';

const server = postbackServer('inline');
beforeEach(() => server.reset());
afterEach(() => vi.restoreAllMocks());

let sequence = 0;
function job(withCustomer = true): PostbackJob {
  const n = ++sequence;
  return {
    customer: withCustomer ? { customer_id: `CUS-${n}`, referral_code: 'demo', ...client } : undefined,
    conversion: { external_id: `ORD-${n}`, amount: 42, currency: 'EUR', customer_id: withCustomer ? `CUS-${n}` : undefined, referral_code: 'demo', ...client },
  };
}

/** Instant, recorded backoff: the retry logic runs for real, only the waiting is skipped. */
function deliveryWithRecordedSleeps(maxTries = 3) {
  const ctx = createExecutionContext();
  const sleeps: number[] = [];
  const delivery = createInlineDelivery({
    env: server.env(),
    ctx,
    maxTries,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { ctx, sleeps, delivery };
}

const order = async () => (await server.received()).map((r) => `${r.kind}:${r.status}`);

describe('inline delivery (no bindings)', () => {
  it('is not durable', () => {
    expect(deliveryWithRecordedSleeps().delivery.durable).toBe(false);
  });

  it('sends the customer, then the conversion, and answers sent', async () => {
    const { delivery, ctx } = deliveryWithRecordedSleeps();
    expect(await delivery.submit(job())).toEqual({ status: 'sent' });
    await waitOnExecutionContext(ctx);
    expect(await order()).toEqual(['customer:200', 'conversion:200']);
  });

  it('never posts the conversion before the customer answered ok: customer 503 → queued, then both in order', async () => {
    await server.setFaults({ next: ['503', '503'] });
    const { delivery, ctx, sleeps } = deliveryWithRecordedSleeps();
    expect(await delivery.submit(job())).toEqual({ status: 'queued' });
    await waitOnExecutionContext(ctx);
    expect(await order()).toEqual(['customer:503', 'customer:503', 'customer:200', 'conversion:200']);
    // equal jitter at random()=0.5: 3/4 of 1 s, then of 2 s.
    expect(sleeps).toEqual([750, 1500]);
  });

  it('resumes at the conversion when only the conversion failed', async () => {
    const ctx = createExecutionContext();
    const realSend = createPostbackSender({ env: server.env() });
    let conversionTries = 0;
    // The stand-in fails requests in arrival order only, so the first conversion is failed here instead.
    const send: SendPostback = async (kind, body) =>
      kind === 'conversion' && ++conversionTries === 1 ? { outcome: { result: 'retry', reason: 'network' }, ms: 0 } : realSend(kind, body);
    const delivery = createInlineDelivery({ env: server.env(), ctx, send, sleep: async () => {} });
    expect(await delivery.submit(job())).toEqual({ status: 'queued' });
    await waitOnExecutionContext(ctx);
    expect(await order()).toEqual(['customer:200', 'conversion:200']);
    expect(conversionTries).toBe(2);
  });

  it('honours Retry-After when it is longer than the backoff', async () => {
    await server.setFaults({ next: ['429'] });
    const { delivery, ctx, sleeps } = deliveryWithRecordedSleeps();
    expect(await delivery.submit(job(false))).toEqual({ status: 'queued' });
    await waitOnExecutionContext(ctx);
    expect(sleeps).toEqual([1000]);
    expect(await order()).toEqual(['conversion:429', 'conversion:200']);
  });

  it('stops after its tries and logs the job as not delivered', async () => {
    await server.setFaults({ down: true });
    const log = vi.spyOn(console, 'log');
    const { delivery, ctx } = deliveryWithRecordedSleeps(3);
    const pending = job();
    expect(await delivery.submit(pending)).toEqual({ status: 'queued' });
    await waitOnExecutionContext(ctx);
    expect(await order()).toEqual(['customer:503', 'customer:503', 'customer:503']);
    const lines = log.mock.calls.map(([line]) => JSON.parse(String(line)));
    expect(lines).toContainEqual(
      expect.objectContaining({ event: 'postback_not_delivered', kind: 'customer', customer_id: pending.customer!.customer_id, tries: 3, reason: 'tries_exhausted' }),
    );
  });

  it('a rejected customer stops the job: no conversion, and the answer carries the one-line message', async () => {
    const ctx = createExecutionContext();
    const delivery = createInlineDelivery({ env: server.env({ TAPFILIATE_API_KEY: 'wrong' }), ctx });
    expect(await delivery.submit(job())).toEqual({ status: 'rejected', upstreamStatus: 401, message: 'Authentication Failed.' });
    await waitOnExecutionContext(ctx);
    expect(await order()).toEqual(['customer:401']);
  });

  it('a conversion Tapfiliate already has answers duplicate', async () => {
    const { delivery } = deliveryWithRecordedSleeps();
    const pending = job();
    expect(await delivery.submit(pending)).toEqual({ status: 'sent' });
    expect(await delivery.submit(pending)).toEqual({ status: 'duplicate' });
    expect(await server.accepted('conversion')).toHaveLength(1);
  });

  it('logs one JSON line per attempt with ids, status and ms, never the key or a full IP', async () => {
    await server.setFaults({ next: ['503'] });
    const log = vi.spyOn(console, 'log');
    const { delivery, ctx } = deliveryWithRecordedSleeps();
    const pending = job(false);
    await delivery.submit(pending);
    await waitOnExecutionContext(ctx);
    const output = log.mock.calls.map(([line]) => String(line));
    const attempts = output.map((line) => JSON.parse(line)).filter((line) => line.event === 'postback_attempt');
    expect(attempts).toEqual([
      expect.objectContaining({ via: 'inline', kind: 'conversion', external_id: pending.conversion!.external_id, attempt: 1, upstream_status: 503, result: 'retry', ms: expect.any(Number) }),
      expect.objectContaining({ via: 'inline', kind: 'conversion', external_id: pending.conversion!.external_id, attempt: 2, upstream_status: 200, result: 'ok' }),
    ]);
    expect(output.join('\n')).not.toContain('test-key');
    expect(output.join('\n')).not.toContain(client.ip);
  });
});
