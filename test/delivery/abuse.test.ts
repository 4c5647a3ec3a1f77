import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createConsumer, createDelivery, MAX_TRIES } from '../../proxy/delivery';
import type { PostbackMessage } from '../../proxy/delivery/ledger';
import { cleanVisitor } from '../../proxy/http';
import { conversionJob, type PostbackJob } from '../../proxy/tapfiliate';
import {
  API_KEY,
  client,
  ledgerState,
  parseLogLines,
  postbackServer,
  recordingQueue,
  REFUSAL,
  routeLedgerQueue,
  tolerateTestRefusals,
  type Rejection,
} from './postback-control';
import { createSimulatedQueue } from './simulated-queue';

// Known attacks on delivery (docs/security.md), each a test that fails on the code before it: in workerd,
// with the real ledger and consumer, against the local stand-in.
const server = postbackServer('abuse');
const run = Math.random().toString(36).slice(2, 8);
let sequence = 0;
function job(withCustomer = false): PostbackJob {
  const n = `${run}-${++sequence}`;
  const customer_id = withCustomer ? `CUS-${n}` : undefined;
  return {
    customer: customer_id ? { customer_id, referral_code: 'demo', ...client } : undefined,
    conversion: { external_id: `ATK-${n}`, amount: 1, customer_id, referral_code: 'demo', ...client },
  };
}
const conKey = (pending: PostbackJob) => `con:${pending.conversion!.external_id}`;
const submit = (pending: PostbackJob, env = server.env()) => createDelivery(env, createExecutionContext())!.submit(pending);

let undoTolerance: () => void;
beforeAll(() => {
  undoTolerance = tolerateTestRefusals();
});
afterAll(() => undoTolerance());

let queue: ReturnType<typeof recordingQueue>;
let restore: (() => Promise<void>) | undefined;
let log: { mock: { calls: unknown[][] } };
beforeEach(async () => {
  await server.reset();
  log = vi.spyOn(console, 'log').mockImplementation(() => {});
  queue = recordingQueue();
  restore = await routeLedgerQueue(queue.producer);
});
afterEach(async () => {
  await restore?.();
  restore = undefined;
  vi.restoreAllMocks();
});
async function routeTo(producer: Queue) {
  await restore?.();
  restore = await routeLedgerQueue(producer);
}

describe('Amplification: duplicates cost no queue message', () => {
  // Before: the job was enqueued before the ledger was asked, so every duplicate wrote a backup message.
  it('the first submit enqueues exactly one message; repeats, at once or later, enqueue none', async () => {
    const pending = job(true);
    expect(await submit(pending)).toEqual({ status: 'sent' });
    expect(queue.sent).toHaveLength(1);
    expect((await Promise.all(Array.from({ length: 5 }, () => submit(pending)))).every((r) => r.status === 'duplicate')).toBe(true);
    expect(await submit(pending)).toEqual({ status: 'duplicate' });
    expect(queue.sent).toHaveLength(1);
    expect(await server.received()).toHaveLength(2);
  });
});

describe('Ledger bypass: no delivery path without the ledger', () => {
  // Before: a refused send fell back to inline delivery without the ledger, on every replay.
  it('the queue refusing a job answers unavailable, posts nothing and records nothing; the resend is fresh', async () => {
    const refusing = recordingQueue(() => new Error(REFUSAL));
    await routeTo(refusing.producer);
    const pending = job(true);
    expect(await submit(pending)).toEqual({ status: 'unavailable' });
    expect(await submit(pending)).toEqual({ status: 'unavailable' });
    expect(await server.received()).toEqual([]);
    expect(await ledgerState(conKey(pending))).toBeUndefined();
    expect(parseLogLines(log.mock.calls).map((l) => l.event)).toContain('queue_send_failed');

    await routeTo(queue.producer);
    expect(await submit(pending)).toEqual({ status: 'sent' });
    expect(queue.sent).toHaveLength(1);
  });

  it('a message too large for the real queue binding is refused the same way (unavailable, nothing sent)', async () => {
    await restore!();
    restore = undefined;
    const huge = 'x'.repeat(64 * 1024);
    const pending = job(true);
    pending.customer!.user_agent = huge;
    pending.conversion!.user_agent = huge;
    expect(await submit(pending)).toEqual({ status: 'unavailable' });
    expect(await server.received()).toEqual([]);
    expect(await ledgerState(conKey(pending))).toBeUndefined();
  });

  it('a 64 KB user agent, cleaned as the routes clean it, never makes a queue message over 128 KB', async () => {
    const visitor = cleanVisitor(client.ip, `Mozilla/5.0 ${'A'.repeat(64 * 1024)}`);
    expect(visitor.user_agent).toHaveLength(512);
    const pending = conversionJob({ external_id: `UA-${run}`, customer_id: `UA-C-${run}`, amount: 1 } as never, { referral_code: 'demo' }, visitor);
    expect(await submit(pending)).toEqual({ status: 'sent' });
    expect(queue.sent).toHaveLength(1);
    expect(new TextEncoder().encode(JSON.stringify(queue.sent[0].body)).length).toBeLessThan(4 * 1024);
  });
});

describe('Amplification: a refusal goes to the DLQ at once', () => {
  async function consume(message: PostbackMessage, env: Env) {
    const batch = createMessageBatch('tapline-postbacks', [{ id: 'm1', timestamp: new Date(), attempts: 1, body: message }]);
    const ctx = createExecutionContext();
    await createConsumer({ random: () => 0 })(batch, env);
    return getQueueResult(batch, ctx);
  }

  // Before: every 4xx was retried 12 more times with the merchant's key, then waited in the DLQ.
  it.each([400, 401, 403, 404, 422])('%i: one upstream attempt, then POSTBACK_DLQ.send and the message acked', async (status) => {
    const dlq = recordingQueue();
    await server.setFaults({ always: { status, message: 'Coupon already expired' } });
    const pending = job();
    const message: PostbackMessage = { key: conKey(pending), job: pending, backup: true };
    const result = await consume(message, server.env({ POSTBACK_DLQ: dlq.producer }));
    expect(await server.received()).toHaveLength(1);
    // The DLQ copy is a plain job (not a backup), so a re-drive is tried again.
    expect(dlq.sent).toEqual([{ body: { key: message.key, job: message.job }, delaySeconds: undefined }]);
    expect(result.explicitAcks).toEqual(['m1']);
    expect(result.retryMessages).toEqual([]);
    expect(await ledgerState(conKey(pending))).toBe('dead');
    expect(parseLogLines(log.mock.calls).find((l) => l.event === 'postback_dead_letter')).toMatchObject({ reason: `rejected_${status}`, tries: 1 });
  });

  it.each([408, 429, 500, 502, 503])('%i is still retried with backoff, not dead-lettered', async (status) => {
    const dlq = recordingQueue();
    await server.setFaults({ always: { status, message: 'try later' } });
    const pending = job();
    const result = await consume({ key: conKey(pending), job: pending }, server.env({ POSTBACK_DLQ: dlq.producer }));
    expect(dlq.sent).toEqual([]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([expect.objectContaining({ msgId: 'm1' })]);
    expect(await ledgerState(conKey(pending))).toBe('accepted');
  });

  it('end to end: a 422 costs the inline try alone; the backup copy finds it dead-lettered and is acked', async () => {
    const dlq = recordingQueue();
    const env = server.env({ POSTBACK_DLQ: dlq.producer });
    const simulated = createSimulatedQueue({ handler: createConsumer(), env, maxTries: MAX_TRIES });
    await routeTo(simulated.producer);
    await server.setFaults({ always: { status: 422, message: 'Referral code already used' } });
    const pending = job();
    expect(await submit(pending, env)).toEqual({ status: 'rejected', upstreamStatus: 422, message: 'Referral code already used' });
    await simulated.drain();
    expect(await server.received()).toHaveLength(1);
    expect(dlq.sent).toEqual([{ body: { key: conKey(pending), job: pending }, delaySeconds: undefined }]);
    expect(simulated.retryDelays).toEqual([]);
    expect(simulated.deadLetters).toEqual([]);
    expect(parseLogLines(log.mock.calls).find((l) => l.event === 'postback_backup_acked')).toMatchObject({ state: 'dead' });
  });
});

describe('Loose duplicate matching: a refusal is never taken as delivered', () => {
  // Before: any 4xx containing "already" answered duplicate, and the conversion was lost.
  const refusals: Rejection[] = [
    { status: 422, message: 'Coupon already expired' },
    { status: 422, message: 'Referral code already used' },
    { status: 400, message: 'already' },
    { status: 422, message: 'Coupon SUMMER exists but is not active' },
    { status: 422, message: 'Customer with customer_id C-1 already exists.' },
  ];
  it.each(refusals)('$status $message → rejected, the ledger not sent', async (rejection) => {
    await server.setFaults({ next: [rejection] });
    const pending = job();
    expect(await submit(pending)).toEqual({ status: 'rejected', upstreamStatus: rejection.status, message: rejection.message });
    expect(await ledgerState(conKey(pending))).not.toBe('sent');
  });
});

describe('The key follows redirects: never', () => {
  // Before: fetch followed a 307 with the key and the IP; a 302 became a GET answered 200 and logged sent.
  it.each(['307', '302'] as const)('%s: nothing reaches the target, the job is refused and not sent; its queued copy is dead-lettered', async (fault) => {
    const dlq = recordingQueue();
    const env = server.env({ POSTBACK_DLQ: dlq.producer });
    const simulated = createSimulatedQueue({ handler: createConsumer(), env, maxTries: MAX_TRIES });
    await routeTo(simulated.producer);
    await server.setFaults({ always: fault });
    const pending = job(true);
    expect(await submit(pending, env)).toMatchObject({ status: 'rejected', upstreamStatus: Number(fault) });
    await simulated.drain();
    const received = await server.received();
    expect(received.every((r) => r.fault === fault && r.location?.includes('/redirected/'))).toBe(true);
    const redirected = await server.redirected();
    expect(redirected).toEqual([]);
    expect(JSON.stringify(redirected)).not.toContain(API_KEY);
    expect(JSON.stringify(redirected)).not.toContain(client.ip);
    expect(await ledgerState(conKey(pending))).toBe('dead');
    expect(dlq.sent).toHaveLength(1);
  });
});

describe('Echoed messages: the key in any form never comes back', () => {
  // Before: the scrub was exact-match only, so the key in another case or URL-encoded came back.
  const key = 'Tk/9+aZ=q&x';
  const forms = [key, key.toLowerCase(), key.toUpperCase(), encodeURIComponent(key), encodeURIComponent(key).toLowerCase()];
  const leaks = (text: string) => forms.some((form) => text.toLowerCase().includes(form.toLowerCase()));

  it('not in what submit returns, nor in any log line, nor in the dead-letter log', async () => {
    const dlq = recordingQueue();
    const env = server.env({ TAPFILIATE_API_KEY: key, POSTBACK_DLQ: dlq.producer });
    const simulated = createSimulatedQueue({ handler: createConsumer(), env, maxTries: MAX_TRIES });
    await routeTo(simulated.producer);
    await server.setFaults({ always: { status: 422, message: `Key ${forms.join(' / ')} cannot use referral code demo` } });
    const result = await submit(job(), env);
    expect(result).toMatchObject({ status: 'rejected', upstreamStatus: 422 });
    expect(leaks(JSON.stringify(result))).toBe(false);
    await simulated.drain();
    const lines = log.mock.calls.map(([line]) => String(line));
    expect(lines.some((line) => line.includes('cannot use referral code'))).toBe(true);
    expect(lines.filter(leaks)).toEqual([]);
  });
});
