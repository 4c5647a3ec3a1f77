// Which ledger object holds a key. The choice uses no secret, so rotating any
// of them (the API key first, when it leaks) never moves a record: an id sent
// before a rotation is still a duplicate after it (docs/operations.md, "Exactly once").
import type { PostbackLedger } from './ledger';

/**
 * Keys are spread over this many ledger objects. Never change it on a live
 * deployment: a key would move to another object and lose its record.
 */
const LEDGER_SHARDS = 32;

/**
 * SHA-256 of the key, not a keyed hash. Anyone can work out which shard an id
 * lands in, and aiming many ids at one shard only makes that object busier:
 * every browser event already passes the rate limit per client network, and
 * one object takes far more requests a second than a shop has orders.
 */
export async function shardOf(key: string): Promise<number> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key));
  return new DataView(digest).getUint32(0) % LEDGER_SHARDS;
}

type LedgerNamespace = DurableObjectNamespace<PostbackLedger>;

/** The ledger object that holds `key`. */
export async function ledgerOf(namespace: LedgerNamespace, key: string) {
  return ledgerAt(namespace, await shardOf(key));
}

export function ledgerAt(namespace: LedgerNamespace, shard: number) {
  return namespace.get(namespace.idFromName(`ledger-${shard}`));
}

/** Every ledger object, for what reads across them (the operator API, a refund's lookup). */
export function allLedgers(namespace: LedgerNamespace) {
  return Array.from({ length: LEDGER_SHARDS }, (_, shard) => ledgerAt(namespace, shard));
}
