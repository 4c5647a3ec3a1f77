import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import type { PostbackJob } from './types';

/**
 * - `accepted`: taken from a request, not yet at Tapfiliate.
 * - `customer_done`: the customer postback succeeded; the conversion is next.
 * - `sent`: Tapfiliate has it. Nothing is posted for this key again.
 * - `dead`: tries exhausted, the job sits in the dead-letter queue. A re-driven
 *   message may still deliver it, so `dead` does not block a claim.
 */
export type LedgerState = 'accepted' | 'customer_done' | 'sent' | 'dead';

export type Claim = { granted: true; state: LedgerState } | { granted: false; state: LedgerState; retryInMs: number };

/** Tapfiliate's duplicate guard is the external_id; ours remembers it this long. */
export const RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
const SWEEP_EVERY_MS = 24 * 60 * 60 * 1000;

/**
 * Keys are spread over this many ledger objects. Never change it on a live
 * deployment: a key would move to another object and lose its record.
 */
export const LEDGER_SHARDS = 32;

/** One ledger record per `con:<external_id>` or `cus:<customer_id>`. */
export function ledgerKey(job: PostbackJob): string {
  if (job.conversion) return `con:${job.conversion.external_id}`;
  if (job.customer) return `cus:${job.customer.customer_id}`;
  throw new Error('empty postback job');
}

export function customerLedgerKey(customerId: string): string {
  return `cus:${customerId}`;
}

/** FNV-1a: a stable, cheap spread of keys over the shards. */
export function shardOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % LEDGER_SHARDS;
}

export interface LedgerEntry {
  accept(): Promise<{ fresh: boolean; state: LedgerState }>;
  claim(leaseMs: number): Promise<Claim>;
  advance(state: LedgerState): Promise<void>;
  release(): Promise<void>;
  forget(): Promise<void>;
  state(): Promise<LedgerState | undefined>;
}

/**
 * The ledger record for one key, in the one object that owns it.
 *
 * @example
 * const entry = ledgerEntry(env.POSTBACK_LEDGER, 'con:ORD005');
 * if ((await entry.accept()).fresh) { ... }
 */
export function ledgerEntry(namespace: DurableObjectNamespace, key: string): LedgerEntry {
  const ledger = namespace as unknown as DurableObjectNamespace<PostbackLedger>;
  const stub = ledger.get(ledger.idFromName(`shard-${shardOf(key)}`));
  return {
    accept: () => stub.accept(key),
    claim: (leaseMs) => stub.claim(key, leaseMs),
    advance: (state) => stub.advance(key, state),
    release: () => stub.release(key),
    forget: () => stub.forget(key),
    state: () => stub.state(key),
  };
}

interface Row extends Record<string, SqlStorageValue> {
  state: LedgerState;
  accepted_at: number;
  lease_until: number | null;
}

/**
 * Idempotency records by external_id (and customer_id). A Durable Object is one
 * single-threaded instance worldwide with transactional storage, so "is this
 * new? then mark it" is atomic: 20 concurrent posts of one order see exactly
 * one `fresh`. KV cannot promise that: its reads are eventually consistent (up
 * to ~60 s across locations), so two tabs could both read "absent" and both send.
 *
 * Keys are hashed over LEDGER_SHARDS objects rather than one object each: a new
 * object per order costs a fresh SQLite database (measured ~60 ms locally), and
 * a shard handles far more requests per second than a shop has orders.
 * Each method runs synchronous SQL with no await in between, so no other call
 * interleaves with it.
 */
export class PostbackLedger extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS records (
      key TEXT PRIMARY KEY,
      state TEXT NOT NULL,
      accepted_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      lease_until INTEGER
    )`);
    this.sql.exec('CREATE INDEX IF NOT EXISTS records_accepted_at ON records (accepted_at)');
  }

  /** Records the key on first sight. `fresh` is true only for the first caller. */
  async accept(key: string): Promise<{ fresh: boolean; state: LedgerState }> {
    const existing = this.read(key);
    if (existing) return { fresh: false, state: existing.state };
    this.insert(key, Date.now());
    await this.scheduleSweep();
    return { fresh: true, state: 'accepted' };
  }

  /** Takes the key for one delivery attempt, unless it is sent or another attempt holds it. */
  async claim(key: string, leaseMs: number): Promise<Claim> {
    const now = Date.now();
    const existing = this.read(key);
    const row = existing ?? this.insert(key, now);
    if (row.state === 'sent') return { granted: false, state: 'sent', retryInMs: 0 };
    if (row.lease_until && row.lease_until > now) {
      return { granted: false, state: row.state, retryInMs: row.lease_until - now };
    }
    this.sql.exec('UPDATE records SET lease_until = ?, updated_at = ? WHERE key = ?', now + leaseMs, now, key);
    if (!existing) await this.scheduleSweep();
    return { granted: true, state: row.state };
  }

  /**
   * Moves the record on. `sent` is final. The lease ends only with the job
   * (`sent`, `dead`): after `customer_done` the conversion is still to come, and
   * a second copy of the job must not claim it in between.
   */
  async advance(key: string, state: LedgerState): Promise<void> {
    const now = Date.now();
    const existing = this.read(key);
    const row = existing ?? this.insert(key, now);
    if (row.state === 'sent') return;
    const leaseUntil = state === 'sent' || state === 'dead' ? null : row.lease_until;
    this.sql.exec('UPDATE records SET state = ?, lease_until = ?, updated_at = ? WHERE key = ?', state, leaseUntil, now, key);
    if (!existing) await this.scheduleSweep();
  }

  /** Gives up the lease after a failed attempt, so the next retry may claim it. */
  async release(key: string): Promise<void> {
    this.sql.exec('UPDATE records SET lease_until = NULL, updated_at = ? WHERE key = ?', Date.now(), key);
  }

  /** Drops the record, for a job that could not be handed to the queue at all. */
  async forget(key: string): Promise<void> {
    this.sql.exec('DELETE FROM records WHERE key = ?', key);
  }

  async state(key: string): Promise<LedgerState | undefined> {
    return this.read(key)?.state;
  }

  /** Retention: forgets records older than RETENTION_MS, once a day while any remain. */
  async alarm(): Promise<void> {
    this.sql.exec('DELETE FROM records WHERE accepted_at < ?', Date.now() - RETENTION_MS);
    const left = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM records').one().n;
    if (left > 0) await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
  }

  private read(key: string): Row | undefined {
    return this.sql.exec<Row>('SELECT state, accepted_at, lease_until FROM records WHERE key = ?', key).toArray()[0];
  }

  /** Also for a customer record first seen through a conversion job, which has no accept() of its own. */
  private insert(key: string, now: number): Row {
    this.sql.exec('INSERT INTO records (key, state, accepted_at, updated_at) VALUES (?, ?, ?, ?)', key, 'accepted', now, now);
    return { state: 'accepted', accepted_at: now, lease_until: null };
  }

  private async scheduleSweep(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
  }
}
