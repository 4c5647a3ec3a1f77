/// <reference types="vite/client" />
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import wranglerToml from '../../wrangler.toml?raw';
import { createConsumer, createDelivery, INLINE_GRACE_SECONDS, LEASE_MS, MAX_TRIES, runJob } from '../../proxy/delivery';
import { ledgerEntry, type PostbackMessage } from '../../proxy/delivery/ledger';
import type { PostbackJob } from '../../proxy/tapfiliate';
import { API_KEY, client, ledgerNamespace, ledgerState, parseLogLines, postbackServer, recordingQueue, routeLedgerQueue } from './postback-control';
import { createSimulatedQueue } from './simulated-queue';

// Delivery through the ledger (proxy/delivery/index.ts): submit, its inline try, and the queue
// consumer, in workerd against the local stand-in. The ledger's own rules are in ledger.test.ts.
const server = postbackServer('durable');
const run = Math.random().toString(36).slice(2, 8);
let sequence = 0;
function job(withCustomer = true, customerId?: string): PostbackJob {
  const n = `${run}-${++sequence}`;
  const customer_id = customerId ?? `CUS-${n}`;
  return {
    customer: withCustomer ? { customer_id, referral_code: 'demo', ...client } : undefined,
    conversion: { external_id: `ORD-${n}`, amount: 9.5, customer_id: withCustomer ? customer_id : undefined, referral_code: 'demo', ...client },
  };
}
const conKey = (pending: PostbackJob) => `con:${pending.conversion!.external_id}`;
const submit = (pending: PostbackJob, env = server.env()) => createDelivery(env, createExecutionContext())!.submit(pending);
const conversionsFor = async (externalId: string) => (await server.received()).filter((r) => r.kind === 'conversion' && r.fields.external_id === externalId);

/** Where the ledger's messages go in this file unless a test routes them elsewhere. */
let queue: ReturnType<typeof recordingQueue>;
let restore: (() => Promise<void>) | undefined;
beforeEach(async () => {
  await server.reset();
  vi.spyOn(console, 'log').mockImplementation(() => {});
  queue = recordingQueue();
  restore = await routeLedgerQueue(queue.producer);
});
afterEach(async () => {
  await restore?.();
  restore = undefined;
  vi.restoreAllMocks();
});

describe('createDelivery', () => {
  it('needs both POSTBACK_QUEUE and POSTBACK_LEDGER: without either there is no delivery at all', () => {
    const ctx = createExecutionContext();
    expect(createDelivery(server.env(), ctx)).toBeDefined();
    expect(createDelivery(server.env({ POSTBACK_QUEUE: undefined }), ctx)).toBeUndefined();
    expect(createDelivery(server.env({ POSTBACK_LEDGER: undefined }), ctx)).toBeUndefined();
  });

  it('wrangler.toml retries match MAX_TRIES, with a dead-letter queue and its producer, at top level and in production', () => {
    const consumers = [...wranglerToml.matchAll(/\[\[(env\.production\.)?queues\.consumers\]\]([\s\S]*?)(?=\n\[)/g)];
    expect(consumers).toHaveLength(2);
    for (const [, , section] of consumers) {
      expect(Number(/max_retries\s*=\s*(\d+)/.exec(section)?.[1]) + 1).toBe(MAX_TRIES);
      expect(section).toMatch(/dead_letter_queue\s*=\s*"tapline-postbacks-dlq"/);
    }
    const dlqProducers = [...wranglerToml.matchAll(/\[\[(env\.production\.)?queues\.producers\]\]\s*binding = "POSTBACK_DLQ"\s*queue = "tapline-postbacks-dlq"/g)];
    expect(dlqProducers).toHaveLength(2);
    expect(wranglerToml).toMatch(/\[\[env\.production\.durable_objects\.bindings\]\]\s*name = "POSTBACK_LEDGER"/);
    expect(wranglerToml).toMatch(/new_sqlite_classes = \["PostbackLedger"\]/);
  });
});

describe('delivery: submit records, enqueues, then tries inline', () => {
  it('delivers customer then conversion inside the request and answers sent; both ledger keys say sent', async () => {
    const pending = job();
    expect(await submit(pending)).toEqual({ status: 'sent' });
    expect((await server.received()).map((r) => `${r.kind}:${r.status}`)).toEqual(['customer:200', 'conversion:200']);
    expect(await ledgerState(conKey(pending))).toBe('sent');
    expect(await ledgerState(`cus:${pending.customer!.customer_id}`)).toBe('sent');
  });

  it('the job is recorded and on the queue (with the grace delay) before anything is posted', async () => {
    const pending = job(false);
    const seenAtEnqueue: { state?: string; posted: number }[] = [];
    const producer = {
      async send(body: unknown, options?: QueueSendOptions) {
        seenAtEnqueue.push({ state: await ledgerState(conKey(pending)), posted: (await server.received()).length });
        queue.sent.push({ body, delaySeconds: options?.delaySeconds });
      },
    } as unknown as Queue;
    await restore!();
    restore = await routeLedgerQueue(producer);
    expect(await submit(pending)).toEqual({ status: 'sent' });
    expect(seenAtEnqueue).toEqual([{ state: 'accepted', posted: 0 }]);
    expect(queue.sent).toEqual([{ body: { key: conKey(pending), job: pending, backup: true }, delaySeconds: INLINE_GRACE_SECONDS }]);
  });

  it('duplicate storm: the same external_id submitted 20 times at once reaches Tapfiliate once and enqueues once', async () => {
    const pending = job(false);
    const results = await Promise.all(Array.from({ length: 20 }, () => submit(pending)));
    expect(results.filter((r) => r.status === 'sent')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'duplicate')).toHaveLength(19);
    expect(await conversionsFor(pending.conversion!.external_id)).toHaveLength(1);
    expect(queue.sent).toHaveLength(1);
  });

  it('a reload after the job was sent answers duplicate, posts nothing and enqueues nothing', async () => {
    const pending = job();
    await submit(pending);
    expect(await submit(pending)).toEqual({ status: 'duplicate' });
    expect(await server.received()).toHaveLength(2);
    expect(queue.sent).toHaveLength(1);
  });

  it('a second order of a known customer skips the customer postback', async () => {
    const first = job(true);
    const second = job(true, first.customer!.customer_id);
    await submit(first);
    expect(await submit(second)).toEqual({ status: 'sent' });
    expect((await server.received()).map((r) => r.kind)).toEqual(['customer', 'conversion', 'conversion']);
  });

  it('inline failure answers queued; the consumer later resumes at the conversion', async () => {
    const simulated = createSimulatedQueue({ handler: createConsumer(), env: server.env(), maxTries: MAX_TRIES });
    await restore!();
    restore = await routeLedgerQueue(simulated.producer);
    // Faults apply in arrival order: the customer passes (a 1 ms "slow"), the conversion's connection drops.
    await server.setFaults({ next: ['slow', 'drop'], slowMs: 1 });
    const pending = job();
    expect(await submit(pending)).toEqual({ status: 'queued' });
    expect(await ledgerState(conKey(pending))).toBe('customer_done');
    await simulated.drain();
    expect((await server.received()).map((r) => `${r.kind}:${r.status}`)).toEqual(['customer:200', 'conversion:0', 'conversion:200']);
    expect(await ledgerState(conKey(pending))).toBe('sent');
    // The queued copy waited out the inline grace period, and needed no retry.
    expect(simulated.clock).toBe(INLINE_GRACE_SECONDS);
    expect(simulated.retryDelays).toEqual([]);
  });

  it('after an inline success the backup copy is acked without posting again', async () => {
    const simulated = createSimulatedQueue({ handler: createConsumer(), env: server.env(), maxTries: MAX_TRIES });
    await restore!();
    restore = await routeLedgerQueue(simulated.producer);
    const log = vi.spyOn(console, 'log');
    const pending = job();
    expect(await submit(pending)).toEqual({ status: 'sent' });
    await simulated.drain();
    expect(await server.received()).toHaveLength(2);
    expect(parseLogLines(log.mock.calls).map((l) => l.event)).toContain('postback_backup_acked');
  });

  it('a refused postback answers rejected with the one-line message and goes to the DLQ at once; the backup copy is acked unsent', async () => {
    const dlq = recordingQueue();
    const env = server.env({ TAPFILIATE_API_KEY: 'wrong', POSTBACK_DLQ: dlq.producer });
    const simulated = createSimulatedQueue({ handler: createConsumer({ random: () => 0 }), env: { ...env, POSTBACK_DLQ: dlq.producer }, maxTries: MAX_TRIES });
    await restore!();
    restore = await routeLedgerQueue(simulated.producer);
    const pending = job(false);
    expect(await submit(pending, env)).toEqual({ status: 'rejected', upstreamStatus: 401, message: 'Authentication Failed.' });
    await simulated.drain();
    expect(dlq.sent).toEqual([{ body: { key: conKey(pending), job: pending }, delaySeconds: undefined }]);
    expect(simulated.deadLetters).toEqual([]);
    expect(simulated.retryDelays).toEqual([]);
    // The inline try alone; never a dozen more with the key.
    expect(await server.received()).toHaveLength(1);
    expect(await ledgerState(conKey(pending), 'wrong')).toBe('dead');
  });
});

describe('runJob', () => {
  it('waits while another attempt holds the lease, and does nothing once the job is sent', async () => {
    const pending = job(false);
    const message: PostbackMessage = { key: conKey(pending), job: pending };
    const entry = await ledgerEntry(ledgerNamespace(), API_KEY, message.key);
    await entry.claim(LEASE_MS);
    expect(await runJob(message, { env: server.env(), via: 'queue', attempt: 1 })).toMatchObject({ result: 'busy', retryInMs: expect.any(Number) });
    await entry.release();
    expect(await runJob(message, { env: server.env(), via: 'queue', attempt: 2 })).toEqual({ result: 'sent' });
    expect(await runJob(message, { env: server.env(), via: 'queue', attempt: 3 })).toEqual({ result: 'already_sent' });
    expect(await server.received()).toHaveLength(1);
  });

  it('logs one JSON line per attempt with ids, status and ms, never the key or a full IP', async () => {
    await server.setFaults({ next: ['503'] });
    const log = vi.spyOn(console, 'log');
    const pending = job(false);
    const message: PostbackMessage = { key: conKey(pending), job: pending };
    expect(await runJob(message, { env: server.env(), via: 'queue', attempt: 4 })).toMatchObject({ result: 'retry', reason: 'http_503' });
    expect(await runJob(message, { env: server.env(), via: 'queue', attempt: 5 })).toEqual({ result: 'sent' });
    const output = log.mock.calls.map(([line]) => String(line));
    expect(parseLogLines(log.mock.calls).filter((line) => line.event === 'postback_attempt')).toEqual([
      expect.objectContaining({ via: 'queue', kind: 'conversion', external_id: pending.conversion!.external_id, attempt: 4, upstream_status: 503, result: 'retry', ms: expect.any(Number) }),
      expect.objectContaining({ via: 'queue', kind: 'conversion', external_id: pending.conversion!.external_id, attempt: 5, upstream_status: 200, result: 'ok' }),
    ]);
    expect(output.join('\n')).not.toContain(API_KEY);
    expect(output.join('\n')).not.toContain(client.ip);
  });
});

describe('the consumer', () => {
  async function consume(message: PostbackMessage, env: Env, attempts = 1) {
    const batch = createMessageBatch('tapline-postbacks', [{ id: 'm1', timestamp: new Date(), attempts, body: message }]);
    const ctx = createExecutionContext();
    await createConsumer({ random: () => 0 })(batch, env);
    return getQueueResult(batch, ctx);
  }

  it('retries with equal-jitter backoff until its last try, after which the queue dead-letters it', async () => {
    await server.setFaults({ down: true });
    const simulated = createSimulatedQueue({ handler: createConsumer({ random: () => 0 }), env: server.env(), maxTries: MAX_TRIES });
    await restore!();
    restore = await routeLedgerQueue(simulated.producer);
    const pending = job(false);
    expect(await submit(pending)).toEqual({ status: 'queued' });
    await simulated.drain();
    expect(simulated.deadLetters).toHaveLength(1);
    expect(simulated.deadLetters[0]).toMatchObject({ attempts: MAX_TRIES, body: { key: conKey(pending), job: pending } });
    // random()=0: half of 30 s, 60 s, ... capped at half an hour.
    expect(simulated.retryDelays).toEqual([15, 30, 60, 120, 240, 480, 960, 1800, 1800, 1800, 1800, 1800]);
    expect(await ledgerState(conKey(pending))).toBe('dead');
    expect(await server.received()).toHaveLength(1 + MAX_TRIES);
  });

  it('a message that is not a job is retried, never dropped', async () => {
    const result = await consume({ nonsense: true } as unknown as PostbackMessage, server.env());
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([expect.objectContaining({ msgId: 'm1' })]);
  });
});

describe('the real queue binding (Miniflare)', () => {
  it('a job left queued by a failed inline try is delivered by the bound consumer', async () => {
    await restore!();
    restore = undefined;
    // The bound consumer (proxy/index.ts) posts to the 'queue' stand-in (vitest.config.ts).
    const queueServer = postbackServer('queue');
    await queueServer.reset();
    await queueServer.setFaults({ next: ['503'] });
    const pending = job();
    const result = await createDelivery(queueServer.env(), createExecutionContext(), { queueDelaySeconds: 0 })!.submit(pending);
    expect(result).toEqual({ status: 'queued' });
    await vi.waitFor(async () => expect(await queueServer.accepted('conversion')).toHaveLength(1), { timeout: 20_000, interval: 200 });
    expect((await queueServer.received()).map((r) => `${r.kind}:${r.status}`)).toEqual(['customer:503', 'customer:200', 'conversion:200']);
    await vi.waitFor(async () => expect(await ledgerState(conKey(pending))).toBe('sent'));
  }, 30_000);
});
