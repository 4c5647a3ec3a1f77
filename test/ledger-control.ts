// Test access to the ledger objects in workerd: find the one holding a key,
// make its pending tries due now (a clock the test controls, not a sleep),
// run its alarm, and point every object at this file's stand-in.
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import type { PostbackLedger } from '../proxy/delivery/ledger';
import type { LedgerRecord } from '../proxy/delivery/lifecycle';
import { allLedgers, ledgerOf } from '../proxy/delivery/shards';

export const ledgers = () => env.POSTBACK_LEDGER as unknown as DurableObjectNamespace<PostbackLedger>;
export const ledgerHolding = (key: string) => ledgerOf(ledgers(), key);

/** The stored record of a key, or undefined. */
export async function recordOf(key: string, shardKey = key): Promise<LedgerRecord | undefined> {
  return runInDurableObject(await ledgerHolding(shardKey), (_instance, state) => {
    const row = state.storage.sql.exec<{ record: string }>('SELECT record FROM events WHERE key = ?', key).toArray()[0];
    return row ? (JSON.parse(row.record) as LedgerRecord) : undefined;
  });
}

export const statusOf = async (key: string, shardKey = key) => (await recordOf(key, shardKey))?.status;

/** Every pending try of the object that holds `shardKey` becomes due now, and its alarm runs. Returns whether one ran. */
export async function runDueTries(shardKey: string): Promise<boolean> {
  const stub = await ledgerHolding(shardKey);
  await makeDue(stub);
  return runDurableObjectAlarm(stub);
}

export async function makeDue(stub: DurableObjectStub<PostbackLedger>): Promise<void> {
  await runInDurableObject(stub, async (_instance, state) => {
    state.storage.sql.exec("UPDATE events SET next_try_at = 0, record = json_set(record, '$.next_try_at', 0) WHERE status = 'pending'");
    // A pending record always has the object's alarm set (ledger.ts); runDurableObjectAlarm runs it now.
    if ((await state.storage.getAlarm()) === null) await state.storage.setAlarm(Date.now() + 60_000);
  });
}

/** Runs every object's alarm with its pending tries due, until none is pending or `rounds` is reached. */
export async function drainAll(rounds = 30): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    let pending = 0;
    for (const stub of allLedgers(ledgers())) {
      pending += await runInDurableObject(stub, (_instance, state) =>
        Number(state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE status = 'pending'").one().n),
      );
    }
    if (pending === 0) return;
    await Promise.all(allLedgers(ledgers()).map(async (stub) => {
      await makeDue(stub);
      await runDurableObjectAlarm(stub);
    }));
  }
}

/**
 * The ledger objects post with their own env (the worker's bindings), not the
 * env a test hands the app, so a file with its own stand-in points every
 * object at it. Returns the undo.
 */
export async function pointLedgersAt(overrides: Partial<Env> & { timeoutMs?: number }): Promise<() => Promise<void>> {
  const { timeoutMs, ...vars } = overrides;
  const saved: { env: Env; timeoutMs: number | undefined }[] = [];
  const stubs = allLedgers(ledgers());
  await Promise.all(
    stubs.map((stub, shard) =>
      runInDurableObject(stub, (instance) => {
        const object = instance as unknown as { env: Env; timeoutMs: number | undefined };
        saved[shard] = { env: object.env, timeoutMs: object.timeoutMs };
        object.env = { ...object.env, ...vars };
        object.timeoutMs = timeoutMs;
      }),
    ),
  );
  return async () => {
    await Promise.all(
      stubs.map((stub, shard) =>
        runInDurableObject(stub, (instance) => {
          Object.assign(instance as unknown as object, saved[shard]);
        }),
      ),
    );
  };
}

/** Forgets every remembered value (clicks, subscriptions) in every object, so a test starts from none. */
export async function forgetMemory(): Promise<void> {
  await Promise.all(allLedgers(ledgers()).map((stub) => runInDurableObject(stub, (_instance, state) => void state.storage.sql.exec('DELETE FROM memory'))));
}

const DELIVERY_SETTINGS = ['TAPFILIATE_API_KEY', 'POSTBACK_CONVERSION_URL', 'POSTBACK_CUSTOMER_URL', 'TAPFILIATE_CLICKS_URL', 'REFUNDS', 'TAPFILIATE_REST_URL', 'RETENTION_DAYS'] as const;
let applied = '';

/**
 * For suites that run the app with an env of their own: the ledger objects
 * take the delivery settings of that env (each test file has its own workerd
 * and its own objects, so files never see each other's). Cheap when nothing changed.
 */
export async function ledgersFollow(env: Partial<Env>): Promise<void> {
  const settings = Object.fromEntries(DELIVERY_SETTINGS.map((name) => [name, (env as Record<string, unknown>)[name]]));
  const wanted = JSON.stringify(settings);
  if (wanted === applied) return;
  applied = wanted;
  await pointLedgersAt(settings as Partial<Env>);
}
