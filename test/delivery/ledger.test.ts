import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LEDGER_SHARDS, ledgerEntry, RETENTION_MS, shardOf, type PostbackMessage } from '../../proxy/delivery/ledger';
import { API_KEY, ledgerNamespace, recordingQueue, REFUSAL, routeLedgerQueue, tolerateTestRefusals } from './postback-control';

// The ledger Durable Object on its own (proxy/delivery/ledger.ts): records, leases, retention,
// memory and shards. Delivery through it is in durable.test.ts.
const run = Math.random().toString(36).slice(2, 8);
const entryFor = (key: string, secret = API_KEY) => ledgerEntry(ledgerNamespace(), secret, key);
const messageFor = (key: string): PostbackMessage => ({ key, job: { conversion: { external_id: key, referral_code: 'demo' } }, backup: true });
const shardStub = async (key: string) => {
  const namespace = ledgerNamespace();
  return namespace.get(namespace.idFromName(`shard-${await shardOf(key, API_KEY)}`));
};

let undoTolerance: () => void;
beforeAll(() => {
  undoTolerance = tolerateTestRefusals();
});
afterAll(() => undoTolerance());

let restore: (() => Promise<void>) | undefined;
afterEach(async () => {
  await restore?.();
  restore = undefined;
});
async function recordQueue(fail?: () => Error) {
  const queue = recordingQueue(fail);
  restore = await routeLedgerQueue(queue.producer);
  return queue;
}

describe('ledger: accept records and enqueues in one call', () => {
  it('the first accept is fresh and enqueues one message with the delay; repeats enqueue nothing', async () => {
    const queue = await recordQueue();
    const key = `con:accept-${run}`;
    const entry = await entryFor(key);
    expect(await entry.accept(messageFor(key), 30, 30_000)).toEqual({ fresh: true, state: 'accepted' });
    expect(await entry.accept(messageFor(key), 30, 30_000)).toEqual({ fresh: false, state: 'accepted' });
    expect(await entry.accept(messageFor(key), 30, 30_000)).toEqual({ fresh: false, state: 'accepted' });
    expect(queue.sent).toEqual([{ body: messageFor(key), delaySeconds: 30 }]);
  });

  it('a refused send drops the record and throws, so the next accept is fresh', async () => {
    const key = `con:refused-${run}`;
    await recordQueue(() => new Error(REFUSAL));
    const entry = await entryFor(key);
    await expect(entry.accept(messageFor(key), 0, 30_000)).rejects.toThrow(REFUSAL);
    expect(await entry.state()).toBeUndefined();
    await restore!();
    const queue = await recordQueue();
    expect(await entry.accept(messageFor(key), 0, 30_000)).toEqual({ fresh: true, state: 'accepted' });
    expect(queue.sent).toHaveLength(1);
  });

  it('a record whose message never reached the queue is taken over after a minute, not before', async () => {
    const queue = await recordQueue();
    const key = `con:unqueued-${run}`;
    const entry = await entryFor(key);
    await entry.accept(messageFor(key), 0, 30_000);
    // As if the object had been evicted between writing the record and marking it queued.
    const stub = await shardStub(key);
    const mark = (ageMs: number) =>
      runInDurableObject(stub, (_instance, state) => {
        state.storage.sql.exec('UPDATE records SET queued = 0, accepted_at = ? WHERE key = ?', Date.now() - ageMs, key);
      });
    await mark(10_000);
    expect((await entry.accept(messageFor(key), 0, 30_000)).fresh).toBe(false);
    await mark(61_000);
    expect((await entry.accept(messageFor(key), 0, 30_000)).fresh).toBe(true);
    expect(queue.sent).toHaveLength(2);
  });

  it('accept hands its caller the lease: a claim right after it waits', async () => {
    await recordQueue();
    const key = `con:accept-lease-${run}`;
    const entry = await entryFor(key);
    await entry.accept(messageFor(key), 0, 30_000);
    expect(await entry.claim(30_000)).toMatchObject({ granted: false, state: 'accepted', retryInMs: expect.any(Number) });
  });
});

describe('ledger: leases and states', () => {
  it('a held lease makes a concurrent claim wait; release frees it; sent is final', async () => {
    const entry = await entryFor(`con:lease-${run}`);
    expect(await entry.claim(30_000)).toEqual({ granted: true, state: 'accepted' });
    expect(await entry.claim(30_000)).toMatchObject({ granted: false, state: 'accepted', retryInMs: expect.any(Number) });
    await entry.release();
    expect(await entry.claim(30_000)).toEqual({ granted: true, state: 'accepted' });
    await entry.advance('sent');
    await entry.advance('dead');
    expect(await entry.state()).toBe('sent');
    expect(await entry.claim(30_000)).toEqual({ granted: false, state: 'sent', retryInMs: 0 });
  });

  it('advancing to customer_done keeps the lease, so a second copy of the job cannot interleave', async () => {
    const entry = await entryFor(`con:lease-through-${run}`);
    expect((await entry.claim(30_000)).granted).toBe(true);
    await entry.advance('customer_done');
    expect(await entry.claim(30_000)).toMatchObject({ granted: false, state: 'customer_done' });
    await entry.release();
    expect(await entry.claim(30_000)).toEqual({ granted: true, state: 'customer_done' });
  });

  it('dead ends the lease and does not block a claim (a re-driven message may still deliver)', async () => {
    const entry = await entryFor(`con:dead-${run}`);
    await entry.claim(30_000);
    await entry.advance('dead');
    expect(await entry.claim(30_000)).toEqual({ granted: true, state: 'dead' });
  });
});

describe('ledger: retention and memory', () => {
  it('keeps a record 30 days: the daily sweep forgets older ones and keeps newer ones', async () => {
    await recordQueue();
    const oldKey = `con:retention-old-${run}`;
    // The same shard, so one sweep sees both.
    let newKey = `con:retention-new-${run}`;
    for (let i = 0; (await shardOf(newKey, API_KEY)) !== (await shardOf(oldKey, API_KEY)); i++) newKey = `con:retention-new-${run}-${i}`;
    expect(await (await entryFor(oldKey)).accept(messageFor(oldKey), 0, 1)).toEqual({ fresh: true, state: 'accepted' });
    await (await entryFor(newKey)).accept(messageFor(newKey), 0, 1);
    const shard = await shardStub(oldKey);
    const alarmAt = await runInDurableObject(shard, (_instance, state) => {
      // 31 days ago and 29 days ago.
      state.storage.sql.exec('UPDATE records SET accepted_at = ? WHERE key = ?', Date.now() - RETENTION_MS - 86_400_000, oldKey);
      state.storage.sql.exec('UPDATE records SET accepted_at = ? WHERE key = ?', Date.now() - RETENTION_MS + 86_400_000, newKey);
      return state.storage.getAlarm();
    });
    expect(alarmAt).toBeGreaterThan(Date.now());
    expect(await runDurableObjectAlarm(shard)).toBe(true);
    expect(await (await entryFor(oldKey)).state()).toBeUndefined();
    expect(await (await entryFor(newKey)).state()).toBe('accepted');
    expect(await (await entryFor(oldKey)).accept(messageFor(oldKey), 0, 1)).toEqual({ fresh: true, state: 'accepted' });
  });

  it('remember keeps the first value until its TTL; recall returns it; then a new value may be kept', async () => {
    const key = `mem:first-${run}`;
    const entry = await entryFor(key);
    expect(await entry.recall()).toBeUndefined();
    expect(await entry.remember('first', 60_000)).toBe('first');
    expect(await entry.remember('second', 60_000)).toBe('first');
    expect(await entry.recall()).toBe('first');
    // Expire it in place.
    await runInDurableObject(await shardStub(key), (_instance, state) => {
      state.storage.sql.exec('UPDATE memory SET expires_at = ? WHERE key = ?', Date.now() - 1, key);
    });
    expect(await entry.recall()).toBeUndefined();
    expect(await entry.remember('third', 60_000)).toBe('third');
    expect(await entry.recall()).toBe('third');
  });

  it('a short TTL runs out on its own', async () => {
    const entry = await entryFor(`mem:short-${run}`);
    expect(await entry.remember('soon gone', 50)).toBe('soon gone');
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await entry.recall()).toBeUndefined();
  });

  it('the alarm sweeps expired memory and keeps live memory', async () => {
    const expired = `mem:expired-${run}`;
    let live = `mem:live-${run}`;
    for (let i = 0; (await shardOf(live, API_KEY)) !== (await shardOf(expired, API_KEY)); i++) live = `mem:live-${run}-${i}`;
    await (await entryFor(expired)).remember('old', 60_000);
    await (await entryFor(live)).remember('new', 60_000);
    const shard = await shardStub(expired);
    const rows = () =>
      runInDurableObject(shard, (_instance, state) =>
        state.storage.sql.exec<{ key: string }>('SELECT key FROM memory WHERE key IN (?, ?) ORDER BY key', expired, live).toArray().map((r) => r.key),
      );
    await runInDurableObject(shard, (_instance, state) => {
      state.storage.sql.exec('UPDATE memory SET expires_at = ? WHERE key = ?', Date.now() - 1, expired);
    });
    expect(await rows()).toEqual([expired, live].sort());
    expect(await runDurableObjectAlarm(shard)).toBe(true);
    expect(await rows()).toEqual([live]);
    expect(await (await entryFor(live)).recall()).toBe('new');
  });
});

describe('ledger shards are keyed with a secret (docs/security.md, "Abuse limits")', () => {
  const keys = Array.from({ length: 1000 }, (_, i) => `con:${1000 + i}`);

  it('the same key lands in another shard under another secret, for most keys', async () => {
    const sample = keys.slice(0, 200);
    const a = await Promise.all(sample.map((key) => shardOf(key, 'a')));
    const b = await Promise.all(sample.map((key) => shardOf(key, 'b')));
    const same = a.filter((shard, i) => shard === b[i]).length;
    // Independent mappings agree on about 1 key in 32.
    expect(same).toBeLessThan(sample.length * 0.1);
  });

  it('sequential ids (guessable order numbers) spread over all shards for a fixed secret', async () => {
    const counts = new Array(LEDGER_SHARDS).fill(0);
    for (const shard of await Promise.all(keys.map((key) => shardOf(key, API_KEY)))) counts[shard]++;
    expect(counts.every((n) => n > 0)).toBe(true);
    // 1000 keys over 32 shards average 31; no shard takes a tenth of them.
    expect(Math.max(...counts)).toBeLessThan(100);
  });

  it('knowing the hash does not let an attacker pick ids for one shard: ids aimed at a shard under one secret scatter under another', async () => {
    // The attacker's best effort: ids that all share shard 0 under a secret they guessed.
    const aimed: string[] = [];
    for (const key of keys) if ((await shardOf(key, 'guessed-secret')) === 0) aimed.push(key);
    expect(aimed.length).toBeGreaterThan(10);
    const real = new Set(await Promise.all(aimed.map((key) => shardOf(key, API_KEY))));
    expect(real.size).toBeGreaterThan(aimed.length / 3);
  });

  it('shards are stable for one secret and within range', async () => {
    const first = await shardOf('con:ORD-1', API_KEY);
    expect(await shardOf('con:ORD-1', API_KEY)).toBe(first);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(LEDGER_SHARDS);
  });
});

describe('ledger: a dead-lettered job', () => {
  it('a queue copy made before the job went dead is stale; one made after (a re-drive) may claim it', async () => {
    const key = `con:dead-${run}`;
    const entry = await entryFor(key);
    const madeBefore = Date.now() - 1000;
    await entry.advance('dead');
    expect(await entry.claim(30_000, madeBefore)).toEqual({ granted: false, state: 'dead', stale: true });
    // Without madeAt (the inline path) or with a later copy, the job may be tried again.
    expect(await entry.claim(30_000, Date.now() + 1000)).toEqual({ granted: true, state: 'dead' });
  });
});
