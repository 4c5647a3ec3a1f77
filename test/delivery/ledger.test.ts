// The ledger as the record and the outbox (proxy/delivery/ledger.ts), in workerd with the real
// objects and their alarms, against the local stand-in. Time is the test's: a pending try is made
// due by rewriting its next_try_at (test/ledger-control.ts), never by sleeping.
import { createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject, createExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import worker from '../../proxy/index';
import { createDelivery, type Submission } from '../../proxy/delivery';
import { accepted, MAX_TRIES, type LedgerRecord } from '../../proxy/delivery/lifecycle';
import { ALARM_BATCH } from '../../proxy/delivery/ledger';
import { ledgerAt, shardOf } from '../../proxy/delivery/shards';
import { recallSubscription, rememberSubscription } from '../../proxy/delivery';
import { hmacSign } from '../../proxy/lib/hmac';
import type { PostbackJob } from '../../proxy/tapfiliate';
import { ledgerHolding, ledgers, makeDue, recordOf, runDueTries, statusOf } from '../ledger-control';
import { client, parseLogLines, postbackServer, type ReceivedPostback } from './postback-control';

const server = postbackServer('durable');
const run = Math.random().toString(36).slice(2, 8);
let sequence = 0;
function job(withCustomer = true): PostbackJob {
  const n = `${run}-${++sequence}`;
  const customer_id = withCustomer ? `CUS-${n}` : undefined;
  // As stored: JSON has no undefined fields.
  return JSON.parse(
    JSON.stringify({
      customer: customer_id ? { customer_id, referral_code: 'demo', ...client } : undefined,
      conversion: { external_id: `ORD-${n}`, amount: 9.5, currency: 'EUR', customer_id, referral_code: 'demo', ...client },
    }),
  );
}
const env = workerEnv as Env;
const delivery = () => createDelivery(env)!;
const submission = (pending: PostbackJob, extra: Partial<Submission> = {}): Submission => ({ job: pending, source: 'browser', signed: false, ...extra });
const submit = (pending: PostbackJob) => delivery().submit(submission(pending));
const conKey = (pending: PostbackJob) => `con:${pending.conversion!.external_id}`;
const acceptedConversions = async (externalId: string) => (await server.accepted('conversion')).filter((r) => r.fields.external_id === externalId);

let undo: () => Promise<void>;
let log: { mock: { calls: unknown[][] } };
beforeEach(async () => {
  await server.reset();
  log = vi.spyOn(console, 'log').mockImplementation(() => {});
  undo = await server.useInLedgers();
});
afterEach(async () => {
  await undo();
  vi.restoreAllMocks();
});

describe('a record per accepted event', () => {
  it('sends customer then conversion in the submit call, and keeps the job, source, signed and a history', async () => {
    const pending = job();
    expect(await delivery().submit(submission(pending, { source: 'stripe', signed: true, platformIds: ['pi_1', 'cs_1'] }))).toEqual({ status: 'sent' });
    expect((await server.received()).map((r) => `${r.kind}:${r.status}`)).toEqual(['customer:200', 'conversion:200']);
    const record = await recordOf(conKey(pending));
    expect(record).toMatchObject({ status: 'sent', kind: 'conversion', source: 'stripe', signed: true, job: pending, attempts: 1, done_steps: ['customer', 'conversion'] });
    expect(record!.history).toEqual([{ at: expect.any(Number), outcome: 'sent', step: 'conversion', upstream_status: 200 }]);
    expect(JSON.stringify(record)).not.toContain('test-key');
    expect(await delivery().findConversion('pi_1')).toBe(conKey(pending));
  });

  it('20 concurrent submits of one order: one sent, 19 duplicates, one postback', async () => {
    const pending = job(false);
    const results = await Promise.all(Array.from({ length: 20 }, () => submit(pending)));
    expect(results.filter((r) => r.status === 'sent')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'duplicate')).toHaveLength(19);
    expect(await acceptedConversions(pending.conversion!.external_id)).toHaveLength(1);
  });

  it('a 503 is queued; the alarm sends it once, no sooner than the backoff; the customer is not posted again', async () => {
    await server.setFaults({ next: ['pass', '503'] });
    const pending = job();
    const before = Date.now();
    expect(await submit(pending)).toEqual({ status: 'queued' });
    const waiting = await recordOf(conKey(pending));
    expect(waiting).toMatchObject({ status: 'pending', done_steps: ['customer'], attempts: 1 });
    expect(waiting!.next_try_at!).toBeGreaterThanOrEqual(before + 15_000);
    expect(await runDueTries(conKey(pending))).toBe(true);
    expect(await statusOf(conKey(pending))).toBe('sent');
    expect((await server.accepted()).map((r) => r.kind)).toEqual(['customer', 'conversion']);
    expect((await recordOf(conKey(pending)))!.history.map((h) => h.outcome)).toEqual(['retry', 'sent']);
  });

  it("never tries sooner than Tapfiliate's Retry-After", async () => {
    await server.setFaults({ next: [{ status: 429, retryAfter: '600' }] });
    const pending = job(false);
    const before = Date.now();
    expect(await submit(pending)).toEqual({ status: 'queued' });
    expect((await recordOf(conKey(pending)))!.next_try_at!).toBeGreaterThanOrEqual(before + 600_000);
  });

  it(`is dead after ${MAX_TRIES} tries of 503, keeping its job; an operator's retry after the fix sends it once`, async () => {
    await server.setFaults({ always: '503' });
    const pending = job(false);
    expect(await submit(pending)).toEqual({ status: 'queued' });
    for (let i = 1; i < MAX_TRIES; i++) await runDueTries(conKey(pending));
    const dead = await recordOf(conKey(pending));
    expect(dead).toMatchObject({ status: 'dead', attempts: MAX_TRIES, job: pending });
    expect(dead!.history.at(-1)).toMatchObject({ outcome: 'out_of_tries', upstream_status: 503 });
    expect(dead!.history.length).toBeLessThanOrEqual(20);
    await server.setFaults({});
    expect(await delivery().retry(conKey(pending))).toEqual({ status: 'sent' });
    expect(await delivery().retry(conKey(pending))).toEqual({ status: 'already_sent' });
    expect(await acceptedConversions(pending.conversion!.external_id)).toHaveLength(1);
    expect(await delivery().retry('con:nobody')).toEqual({ status: 'not_found' });
  });

  it('a refused job is dead at once and keeps its job; fixed and retried, it is delivered once, and a later retry sends nothing', async () => {
    await server.setFaults({ always: { status: 401, message: 'Invalid API key' } });
    const pending = job();
    expect(await submit(pending)).toMatchObject({ status: 'rejected', upstreamStatus: 401 });
    expect(await recordOf(conKey(pending))).toMatchObject({ status: 'dead', job: pending });
    const deadLine = parseLogLines(log.mock.calls).find((line) => line.event === 'postback_dead');
    expect(deadLine).toMatchObject({ external_id: pending.conversion!.external_id, customer_id: pending.customer!.customer_id });
    await server.setFaults({});
    expect(await delivery().retry(conKey(pending))).toEqual({ status: 'sent' });
    expect(await delivery().retry(conKey(pending))).toEqual({ status: 'already_sent' });
    expect(await acceptedConversions(pending.conversion!.external_id)).toHaveLength(1);
  });
});

describe('the operator reads', () => {
  it('get has the history; list is newest first with a cursor across objects; summary counts by status', async () => {
    const ids = [job(false), job(false), job(false)];
    await server.setFaults({ next: [{ status: 422, message: 'nope' }] });
    for (const pending of ids) await submit(pending);
    const event = await delivery().get(conKey(ids[0]));
    expect(event).toMatchObject({ key: conKey(ids[0]), status: 'dead', external_id: ids[0].conversion!.external_id, identifiers: { referral_code: 'demo' }, history: [expect.objectContaining({ outcome: 'rejected', upstream_status: 422 })] });
    expect(JSON.stringify(event)).not.toContain(client.ip);
    const first = await delivery().list({ q: undefined, limit: 2 });
    expect(first.events.map((e) => e.key).slice(0, 2)).toEqual([conKey(ids[2]), conKey(ids[1])]);
    const next = await delivery().list({ limit: 2, cursor: first.next_cursor! });
    expect(next.events[0].key).toBe(conKey(ids[0]));
    expect((await delivery().list({ q: ids[1].conversion!.external_id, limit: 10 })).events.map((e) => e.key)).toEqual([conKey(ids[1])]);
    expect((await delivery().list({ status: 'dead', limit: 100 })).events.every((e) => e.status === 'dead')).toBe(true);
    const summary = await delivery().summary();
    expect(summary.last_24h.dead).toBeGreaterThanOrEqual(1);
    expect(summary.last_7d.sent).toBeGreaterThanOrEqual(summary.last_24h.sent);
  });
});

describe('paging', () => {
  it('pages through ids of any script, and on past a page that one object filled alone', async () => {
    // Three orders in one object: each page of 2 it fills by itself.
    const ids: string[] = [];
    for (let i = 0; ids.length < 3; i++) if ((await shardOf(`con:订单-${run}-${i}`)) === 7) ids.push(`订单-${run}-${i}`);
    for (const id of ids) await submit(JSON.parse(JSON.stringify({ conversion: { external_id: id, amount: 1, referral_code: 'demo' } })));
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const { events, next_cursor } = await delivery().list({ limit: 2, cursor });
      seen.push(...events.map((event) => event.external_id!));
      if (!next_cursor) break;
      cursor = next_cursor;
    }
    for (const id of ids) expect(seen).toContain(id);
    expect(new Set(seen).size).toBe(seen.length);
  });
});

describe('retention', () => {
  async function backdate(key: string, days: number) {
    await runInDurableObject(await ledgerHolding(key), (_instance, state) => {
      const at = Date.now() - days * 24 * 60 * 60 * 1000;
      state.storage.sql.exec("UPDATE events SET accepted_at = ?, record = json_set(record, '$.accepted_at', ?) WHERE key = ?", at, at, key);
    });
  }
  it('forgets a record older than RETENTION_DAYS (90 unless set) and keeps a younger one', async () => {
    const old = job(false);
    const young = job(false);
    await submit(old);
    await submit(young);
    await backdate(conKey(old), 91);
    await backdate(conKey(young), 89);
    for (const key of [conKey(old), conKey(young)]) await runDurableObjectAlarm(await ledgerHolding(key));
    expect(await recordOf(conKey(old))).toBeUndefined();
    expect(await statusOf(conKey(young))).toBe('sent');
  });

  it('keeps a record an operator is having tried again (pending) past its retention, until that series ends', async () => {
    await server.setFaults({ always: '503' });
    const pending = job(false);
    expect(await submit(pending)).toEqual({ status: 'queued' });
    await backdate(conKey(pending), 91);
    await runDurableObjectAlarm(await ledgerHolding(conKey(pending)));
    expect(await statusOf(conKey(pending))).toBe('pending');
    // Its series ends here, so no later test sees its try.
    await server.setFaults({});
    await runDueTries(conKey(pending));
    expect(await statusOf(conKey(pending))).toBe('sent');
  });

  it('never keeps less than 30 days, whatever RETENTION_DAYS says', async () => {
    await undo();
    undo = await server.useInLedgers({ RETENTION_DAYS: '7' });
    const pending = job(false);
    await submit(pending);
    await backdate(conKey(pending), 20);
    await runDurableObjectAlarm(await ledgerHolding(conKey(pending)));
    expect(await statusOf(conKey(pending))).toBe('sent');
  });
});

describe('records never move', () => {
  it('rotating TAPFILIATE_API_KEY: every id replayed is a duplicate, nothing sent twice', async () => {
    const orders = Array.from({ length: 20 }, () => job(false));
    for (const pending of orders) expect(await submit(pending)).toEqual({ status: 'sent' });
    await undo();
    undo = await server.useInLedgers({ TAPFILIATE_API_KEY: 'rotated-key' });
    const replays = await Promise.all(orders.map((pending) => createDelivery({ ...env, TAPFILIATE_API_KEY: 'rotated-key' })!.submit(submission(pending))));
    expect(replays.every((r) => r.status === 'duplicate')).toBe(true);
    expect(await server.accepted('conversion')).toHaveLength(20);
  });

  it('a subscription remembered before a rotation still attributes its next renewal after it', async () => {
    const subscription = `sub_${run}_rot`;
    await rememberSubscription({ ...env, TAPFILIATE_API_KEY: 'key-a' }, 'stripe', subscription, '{"referral_code":"anna"}', 60_000);
    expect(await recallSubscription({ ...env, TAPFILIATE_API_KEY: 'key-b' }, 'stripe', { subscription }, 60_000)).toBe('{"referral_code":"anna"}');
  });

  it('the shard of a key is the same for any secret and spreads sequential ids over all 32', async () => {
    const shards = new Set(await Promise.all(Array.from({ length: 2000 }, (_, i) => shardOf(`con:${1000 + i}`))));
    expect(shards.size).toBe(32);
    expect(await shardOf('con:ORD005')).toBe(await shardOf('con:ORD005'));
  });
});

describe('subscriptions are remembered from their last attributed payment', () => {
  it('reading the memory for a renewal extends it by SUBSCRIPTION_MEMORY_DAYS from now', async () => {
    const subscription = `sub_${run}_slide`;
    const ttl = 400 * 24 * 60 * 60 * 1000;
    await rememberSubscription(env, 'stripe', subscription, '{"referral_code":"anna"}', ttl);
    const key = `sub:stripe:subscription:${subscription}`;
    const stub = await ledgerHolding(key);
    // Month 13: a day of memory left.
    await runInDurableObject(stub, (_instance, state) => void state.storage.sql.exec('UPDATE memory SET expires_at = ? WHERE key = ?', Date.now() + 86_400_000, key));
    expect(await recallSubscription(env, 'stripe', { subscription }, ttl)).toBe('{"referral_code":"anna"}');
    const expires = await runInDurableObject(stub, (_instance, state) => Number(state.storage.sql.exec<{ e: number }>('SELECT expires_at AS e FROM memory WHERE key = ?', key).one().e));
    expect(expires).toBeGreaterThan(Date.now() + ttl - 60_000);
  });
});

describe('batches', () => {
  it(`2,000 due retries in one object are all delivered, none twice, at most ${ALARM_BATCH} per alarm`, async () => {
    // Ids that all fall in one shard, written as records whose try is due (an outage of hours).
    const shard = 0;
    const ids: string[] = [];
    for (let i = 0; ids.length < 2000; i++) if ((await shardOf(`con:B-${run}-${i}`)) === shard) ids.push(`B-${run}-${i}`);
    const stub = ledgerAt(ledgers(), shard);
    await runInDurableObject(stub, async (instance, state) => {
      const write = (instance as unknown as { write(record: LedgerRecord): void }).write.bind(instance);
      for (const id of ids) {
        const record = accepted({ job: { conversion: { external_id: id, amount: 1, referral_code: 'demo' } }, source: 'browser', signed: false }, Date.now());
        write({ ...record, attempts: 3, series_tries: 3, next_try_at: 0 });
      }
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    // The object's own alarm chains batches (a full batch sets the next alarm for now); the test runs it too.
    for (let round = 0; round < 200; round++) {
      const pending = await runInDurableObject(stub, (_instance, state) => Number(state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE status = 'pending'").one().n));
      if (pending === 0) break;
      await makeDue(stub);
      await runDurableObjectAlarm(stub);
    }
    const batches = parseLogLines(log.mock.calls).filter((line) => line.event === 'alarm_batch');
    expect(batches.every((line) => Number(line.due) <= ALARM_BATCH)).toBe(true);
    expect(batches.reduce((sum, line) => sum + Number(line.due), 0)).toBeGreaterThanOrEqual(2000);
    const batch = new Set(ids);
    const accepted2xx = (await server.accepted('conversion')).map((r) => String(r.fields.external_id)).filter((id) => batch.has(id));
    expect(new Set(accepted2xx).size).toBe(2000);
    expect(accepted2xx).toHaveLength(2000);
    expect(batches.length).toBeGreaterThanOrEqual(2000 / ALARM_BATCH);
  }, 240_000);
});

describe('upgrading from v2', () => {
  it("a message left on v2's queue is delivered once by the worker's queue handler; the same message again sends nothing", async () => {
    const pending = job();
    const message = { id: 'm1', timestamp: new Date(), attempts: 1, body: { key: conKey(pending), job: pending, backup: true } };
    for (const round of [1, 2]) {
      const ctx = createExecutionContext();
      const batch = createMessageBatch('tapline-postbacks', [{ ...message, id: `m${round}` }]);
      await (worker.queue as unknown as (b: MessageBatch<unknown>, e: Env, c: ExecutionContext) => Promise<void>)(batch, env, ctx);
      const result = await getQueueResult(batch, ctx);
      expect(result.explicitAcks).toEqual([`m${round}`]);
    }
    expect(await acceptedConversions(pending.conversion!.external_id)).toHaveLength(1);
    expect(await statusOf(conKey(pending))).toBe('sent');
  });

  it('a subscription v2 remembered in its API-key-sharded object is still read for the customer, and never extended', async () => {
    const customer = `cus_${run}_v2`;
    const key = `sub:${customer}`;
    const shard = new DataView(await hmacSign('test-key', key)).getUint32(0) % 32;
    const legacy = ledgers().get(ledgers().idFromName(`shard-${shard}`));
    await runInDurableObject(legacy, (_instance, state) => void state.storage.sql.exec('INSERT OR REPLACE INTO memory (key, value, expires_at) VALUES (?, ?, ?)', key, '{"referral_code":"old"}', Date.now() + 60_000));
    const withKey = { ...env, TAPFILIATE_API_KEY: 'test-key' };
    expect(await recallSubscription(withKey, 'stripe', { subscription: `sub_${run}_v2`, customer }, 60_000)).toBe('{"referral_code":"old"}');
    const expires = await runInDurableObject(legacy, (_instance, state) => Number(state.storage.sql.exec<{ e: number }>('SELECT expires_at AS e FROM memory WHERE key = ?', key).one().e));
    expect(expires).toBeLessThan(Date.now() + 61_000);
  });
});

export type { ReceivedPostback };
