/// <reference types="vite/client" />
import { createExecutionContext, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import wranglerToml from '../../wrangler.toml?raw';
import { createDelivery } from '../../proxy/delivery';
import { createDurableDelivery, INLINE_GRACE_SECONDS } from '../../proxy/delivery/durable';
import { createPostbackSender } from '../../proxy/delivery/postback';
import { ledgerEntry, RETENTION_MS, shardOf, type PostbackLedger } from '../../proxy/delivery/ledger';
import { createPostbackBatchHandler, MAX_TRIES } from '../../proxy/delivery/queue';
import type { Env } from '../../proxy/env';
import type { PostbackJob } from '../../proxy/delivery/types';
import { client, postbackServer } from './postback-control';
import { createSimulatedQueue } from './simulated-queue';

const server = postbackServer('durable');
beforeEach(() => server.reset());

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

const ledgerState = (key: string) => ledgerEntry((env as Env).POSTBACK_LEDGER!, key).state();
const conversionsFor = async (externalId: string) =>
  (await server.received()).filter((r) => r.kind === 'conversion' && r.fields.external_id === externalId);

describe('createDelivery picks the delivery from the bindings', () => {
  it('durable with POSTBACK_QUEUE and POSTBACK_LEDGER, inline without', () => {
    const ctx = createExecutionContext();
    expect(createDelivery(server.env(), ctx).durable).toBe(true);
    expect(createDelivery(server.env({ POSTBACK_QUEUE: undefined }), ctx).durable).toBe(false);
    expect(createDelivery(server.env({ POSTBACK_LEDGER: undefined }), ctx).durable).toBe(false);
  });

  it('wrangler.toml retries match MAX_TRIES, with a dead-letter queue, at top level and in production', () => {
    const consumers = [...wranglerToml.matchAll(/\[\[(env\.production\.)?queues\.consumers\]\]([\s\S]*?)(?=\n\[)/g)];
    expect(consumers).toHaveLength(2);
    for (const [, , section] of consumers) {
      expect(Number(/max_retries\s*=\s*(\d+)/.exec(section)?.[1]) + 1).toBe(MAX_TRIES);
      expect(section).toMatch(/dead_letter_queue\s*=\s*"tapline-postbacks-dlq"/);
    }
    expect(wranglerToml).toMatch(/\[\[env\.production\.durable_objects\.bindings\]\]\s*name = "POSTBACK_LEDGER"/);
    expect(wranglerToml).toMatch(/new_sqlite_classes = \["PostbackLedger"\]/);
  });
});

describe('durable delivery, inline first', () => {
  it('delivers customer then conversion inside the request and answers sent; the ledger says sent', async () => {
    const pending = job();
    const delivery = createDurableDelivery({ env: server.env(), ctx: createExecutionContext() });
    expect(await delivery.submit(pending)).toEqual({ status: 'sent' });
    expect((await server.received()).map((r) => `${r.kind}:${r.status}`)).toEqual(['customer:200', 'conversion:200']);
    expect(await ledgerState(`con:${pending.conversion!.external_id}`)).toBe('sent');
    expect(await ledgerState(`cus:${pending.customer!.customer_id}`)).toBe('sent');
  });

  it('duplicate storm: the same external_id posted 20 times at once reaches Tapfiliate once', async () => {
    const pending = job(false);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => createDurableDelivery({ env: server.env(), ctx: createExecutionContext() }).submit(pending)),
    );
    expect(results.filter((r) => r.status === 'sent')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'duplicate')).toHaveLength(19);
    expect(await conversionsFor(pending.conversion!.external_id)).toHaveLength(1);
  });

  it('enqueues the job before the ledger records it, so a request that dies in between loses nothing', async () => {
    const pending = job(false);
    const key = `con:${pending.conversion!.external_id}`;
    const ledgerAtEnqueue: (string | undefined)[] = [];
    const producer = { send: async () => void ledgerAtEnqueue.push(await ledgerState(key)) } as unknown as Queue<unknown>;
    const delivery = createDurableDelivery({ env: server.env({ POSTBACK_QUEUE: producer }), ctx: createExecutionContext() });
    expect(await delivery.submit(pending)).toEqual({ status: 'sent' });
    expect(ledgerAtEnqueue).toEqual([undefined]);
  });

  it('holds the lease from the customer postback through the conversion, so a second copy cannot interleave', async () => {
    const entry = ledgerEntry((env as Env).POSTBACK_LEDGER!, `con:lease-through-${run}`);
    expect((await entry.claim(30_000)).granted).toBe(true);
    await entry.advance('customer_done');
    expect(await entry.claim(30_000)).toMatchObject({ granted: false, state: 'customer_done' });
    await entry.release();
    expect(await entry.claim(30_000)).toEqual({ granted: true, state: 'customer_done' });
  });

  it('a reload after the job was sent answers duplicate and posts nothing', async () => {
    const pending = job();
    const delivery = createDurableDelivery({ env: server.env(), ctx: createExecutionContext() });
    await delivery.submit(pending);
    expect(await delivery.submit(pending)).toEqual({ status: 'duplicate' });
    expect(await server.received()).toHaveLength(2);
  });

  it('a second order of a known customer skips the customer postback', async () => {
    const first = job(true);
    const second = job(true, first.customer!.customer_id);
    const delivery = createDurableDelivery({ env: server.env(), ctx: createExecutionContext() });
    await delivery.submit(first);
    expect(await delivery.submit(second)).toEqual({ status: 'sent' });
    expect((await server.received()).map((r) => r.kind)).toEqual(['customer', 'conversion', 'conversion']);
  });

  it('inline failure answers queued; the consumer later resumes at the conversion', async () => {
    const queue = createSimulatedQueue({ handler: createPostbackBatchHandler(), env: server.env(), maxTries: MAX_TRIES });
    const testEnv = server.env({ POSTBACK_QUEUE: queue.producer });
    const realSend = createPostbackSender({ env: testEnv });
    const delivery = createDurableDelivery({
      env: testEnv,
      ctx: createExecutionContext(),
      // The stand-in fails requests in arrival order, so the drop is armed just before the conversion.
      send: async (kind, body) => {
        if (kind === 'conversion') await server.setFaults({ next: ['drop'] });
        return realSend(kind, body);
      },
    });
    const pending = job();
    expect(await delivery.submit(pending)).toEqual({ status: 'queued' });
    expect(await ledgerState(`con:${pending.conversion!.external_id}`)).toBe('customer_done');
    await queue.drain();
    expect((await server.received()).map((r) => `${r.kind}:${r.status}`)).toEqual(['customer:200', 'conversion:0', 'conversion:200']);
    expect(await ledgerState(`con:${pending.conversion!.external_id}`)).toBe('sent');
    // The queued copy waited out the inline grace period, and needed no retry.
    expect(queue.clock).toBe(INLINE_GRACE_SECONDS);
    expect(queue.retryDelays).toEqual([]);
  });

  it('a rejected postback answers rejected with the one-line message; its queued copy keeps it for the DLQ', async () => {
    const queue = createSimulatedQueue({ handler: createPostbackBatchHandler({ random: () => 0 }), env: server.env({ TAPFILIATE_API_KEY: 'wrong' }), maxTries: MAX_TRIES });
    const delivery = createDurableDelivery({ env: server.env({ TAPFILIATE_API_KEY: 'wrong', POSTBACK_QUEUE: queue.producer }), ctx: createExecutionContext() });
    const pending = job(false);
    expect(await delivery.submit(pending)).toEqual({ status: 'rejected', upstreamStatus: 401, message: 'Authentication Failed.' });
    await queue.drain();
    expect(queue.deadLetters).toHaveLength(1);
    expect(queue.deadLetters[0].body).toMatchObject({ key: `con:${pending.conversion!.external_id}`, job: pending });
    expect(await ledgerState(`con:${pending.conversion!.external_id}`)).toBe('dead');
    // equal jitter at random()=0: half of 30 s, 60 s, ... capped at half an hour.
    expect(queue.retryDelays).toEqual([15, 30, 60, 120, 240, 480, 960, 1800, 1800, 1800, 1800, 1800]);
  });
});

describe('the real queue binding (Miniflare)', () => {
  it('enqueued without inline try: the bound consumer delivers it', async () => {
    const queueServer = postbackServer('queue');
    await queueServer.reset();
    const pending = job();
    const delivery = createDurableDelivery({ env: queueServer.env(), ctx: createExecutionContext(), inlineFirst: false });
    expect(await delivery.submit(pending)).toEqual({ status: 'queued' });
    await vi.waitFor(async () => expect(await queueServer.accepted('conversion')).toHaveLength(1), { timeout: 15_000, interval: 200 });
    expect((await queueServer.accepted()).map((r) => r.kind)).toEqual(['customer', 'conversion']);
    await vi.waitFor(async () => expect(await ledgerState(`con:${pending.conversion!.external_id}`)).toBe('sent'));
  });
});

describe('ledger retention', () => {
  it('keeps a record 30 days: the daily sweep forgets older ones and keeps newer ones', async () => {
    const oldKey = `con:retention-old-${run}`;
    // The same shard, so one sweep sees both.
    let newKey = `con:retention-new-${run}`;
    for (let i = 0; shardOf(newKey) !== shardOf(oldKey); i++) newKey = `con:retention-new-${run}-${i}`;
    const namespace = (env as Env).POSTBACK_LEDGER!;
    expect(await ledgerEntry(namespace, oldKey).accept()).toEqual({ fresh: true, state: 'accepted' });
    expect(await ledgerEntry(namespace, oldKey).accept()).toEqual({ fresh: false, state: 'accepted' });
    await ledgerEntry(namespace, newKey).accept();
    const ledger = namespace as unknown as DurableObjectNamespace<PostbackLedger>;
    const shard = ledger.get(ledger.idFromName(`shard-${shardOf(oldKey)}`));
    const alarmAt = await runInDurableObject(shard, (_instance: PostbackLedger, state) => {
      // 31 days ago and 29 days ago.
      state.storage.sql.exec('UPDATE records SET accepted_at = ? WHERE key = ?', Date.now() - RETENTION_MS - 86_400_000, oldKey);
      state.storage.sql.exec('UPDATE records SET accepted_at = ? WHERE key = ?', Date.now() - RETENTION_MS + 86_400_000, newKey);
      return state.storage.getAlarm();
    });
    expect(alarmAt).toBeGreaterThan(Date.now());
    expect(await runDurableObjectAlarm(shard)).toBe(true);
    expect(await ledgerEntry(namespace, oldKey).state()).toBeUndefined();
    expect(await ledgerEntry(namespace, newKey).state()).toBe('accepted');
    expect(await ledgerEntry(namespace, oldKey).accept()).toEqual({ fresh: true, state: 'accepted' });
  });

  it('a held lease makes a concurrent claim wait; sent is final', async () => {
    const stub = ledgerEntry((env as Env).POSTBACK_LEDGER!, `con:lease-${run}`);
    await stub.accept();
    expect(await stub.claim(30_000)).toEqual({ granted: true, state: 'accepted' });
    expect(await stub.claim(30_000)).toMatchObject({ granted: false, state: 'accepted', retryInMs: expect.any(Number) });
    await stub.release();
    expect(await stub.claim(30_000)).toEqual({ granted: true, state: 'accepted' });
    await stub.advance('sent');
    await stub.advance('dead');
    expect(await stub.claim(30_000)).toEqual({ granted: false, state: 'sent', retryInMs: 0 });
  });
});
