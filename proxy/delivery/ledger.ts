import { DurableObject } from 'cloudflare:workers';
import { hmacSign } from '../hmac';
import type { PostbackJob } from '../tapfiliate';

/**
 * - `accepted`: taken from a request and on the queue, not yet at Tapfiliate.
 * - `customer_done`: the customer postback succeeded; the conversion is next.
 * - `sent`: Tapfiliate has it. Nothing is posted for this key again.
 * - `dead`: tries exhausted, the job sits in the dead-letter queue. A re-driven
 *   message may still deliver it, so `dead` does not block a claim.
 */
export type LedgerState = 'accepted' | 'customer_done' | 'sent' | 'dead';

export type Claim =
  | { granted: true; state: LedgerState }
  | { granted: false; state: LedgerState; retryInMs: number }
  /** The job went to the dead-letter queue after this copy was made: the DLQ holds the copy to re-drive. */
  | { granted: false; state: 'dead'; stale: true };

/** What a queue message carries: the job and the ledger key that guards it. */
export interface PostbackMessage {
  key: string;
  job: PostbackJob;
  /** This copy backs up an inline try; finding the job sent is then expected, not a duplicate. */
  backup?: boolean;
}

/** Tapfiliate's duplicate guard is the external_id; ours remembers it this long. */
export const RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
const SWEEP_EVERY_MS = 24 * 60 * 60 * 1000;
/**
 * A record accepted this long ago whose message never reached the queue (the
 * object was evicted mid-send) is taken again by the next request for its id.
 */
const UNQUEUED_TAKEOVER_MS = 60_000;

/**
 * Keys are spread over this many ledger objects. Never change it on a live
 * deployment: a key would move to another object and lose its record.
 */
export const LEDGER_SHARDS = 32;

/** One ledger record per `con:<external_id>` or `cus:<customer_id>`. */
export function ledgerKey(job: PostbackJob): string {
  if (job.conversion) return `con:${job.conversion.external_id}`;
  if (job.customer) return customerLedgerKey(job.customer.customer_id);
  throw new Error('empty postback job');
}

export const customerLedgerKey = (customerId: string) => `cus:${customerId}`;

/**
 * The shard of a key: HMAC-SHA256 keyed with a secret, so no caller can aim
 * every id at one object. The secret is the API key; rotating it moves keys
 * to other shards (docs/operations.md says what that means).
 */
export async function shardOf(key: string, secret: string): Promise<number> {
  return new DataView(await hmacSign(secret, key)).getUint32(0) % LEDGER_SHARDS;
}

/**
 * The ledger record for one key, in the object that owns it.
 *
 * @example
 * const entry = await ledgerEntry(env.POSTBACK_LEDGER, apiKey, 'con:ORD005');
 * if ((await entry.accept(message, 0)).fresh) { ... }
 */
export async function ledgerEntry(namespace: DurableObjectNamespace<PostbackLedger>, secret: string, key: string) {
  const stub = namespace.get(namespace.idFromName(`shard-${await shardOf(key, secret)}`));
  return {
    accept: (message: PostbackMessage, delaySeconds: number, leaseMs: number) => stub.accept(key, message, delaySeconds, leaseMs),
    claim: (leaseMs: number, madeAt?: number) => stub.claim(key, leaseMs, madeAt),
    advance: (state: LedgerState) => stub.advance(key, state),
    release: () => stub.release(key),
    state: () => stub.state(key),
    remember: (value: string, ttlMs: number) => stub.remember(key, value, ttlMs),
    recall: () => stub.recall(key),
  };
}

export type LedgerEntry = Awaited<ReturnType<typeof ledgerEntry>>;

/** The one binding the ledger uses itself (typed apart from Env, which names this class). */
interface LedgerBindings {
  POSTBACK_QUEUE: Queue;
}

interface Row extends Record<string, SqlStorageValue> {
  state: LedgerState;
  accepted_at: number;
  updated_at: number;
  lease_until: number | null;
  queued: number;
}

/**
 * Idempotency records by external_id (and customer_id), and small remembered
 * values (a subscription's attribution, a landing's click id). A Durable Object
 * is one single-threaded instance worldwide with transactional storage, so
 * "is this new? then mark it" is atomic: 20 concurrent posts of one order see
 * exactly one `fresh`. KV's reads are eventually consistent, so two tabs could
 * both read "absent" and both send.
 *
 * Keys share LEDGER_SHARDS objects rather than one object each: a new object
 * per order costs a fresh SQLite database, and a shard handles far more
 * requests per second than a shop has orders.
 */
export class PostbackLedger extends DurableObject<LedgerBindings> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: LedgerBindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS records (
      key TEXT PRIMARY KEY,
      state TEXT NOT NULL,
      accepted_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      lease_until INTEGER,
      queued INTEGER NOT NULL DEFAULT 1
    )`);
    this.sql.exec('CREATE INDEX IF NOT EXISTS records_accepted_at ON records (accepted_at)');
    this.sql.exec('CREATE TABLE IF NOT EXISTS memory (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL)');
  }

  /**
   * Records the key and puts its job on the queue, in one call: the record is
   * written first (so a concurrent request sees it), the message sent, and the
   * record marked queued. A duplicate costs no queue message. If the send
   * fails the record is dropped, so the browser's resend is taken as new.
   * The first caller also gets the lease for its inline try.
   */
  async accept(key: string, message: PostbackMessage, delaySeconds: number, leaseMs: number): Promise<{ fresh: boolean; state: LedgerState }> {
    const now = Date.now();
    const existing = this.read(key);
    if (existing && (existing.queued || now - existing.accepted_at < UNQUEUED_TAKEOVER_MS)) return { fresh: false, state: existing.state };
    if (existing) this.sql.exec('DELETE FROM records WHERE key = ?', key);
    this.sql.exec(
      'INSERT INTO records (key, state, accepted_at, updated_at, lease_until, queued) VALUES (?, ?, ?, ?, ?, 0)',
      key,
      'accepted',
      now,
      now,
      now + leaseMs,
    );
    try {
      await this.env.POSTBACK_QUEUE.send(message, { delaySeconds });
    } catch (error) {
      this.sql.exec('DELETE FROM records WHERE key = ?', key);
      throw error;
    }
    this.sql.exec('UPDATE records SET queued = 1 WHERE key = ?', key);
    await this.scheduleSweep();
    return { fresh: true, state: 'accepted' };
  }

  /**
   * Takes the key for one delivery attempt, unless it is sent, another attempt
   * holds it, or (for a queue message made at `madeAt`) the job was
   * dead-lettered after that copy was made.
   */
  async claim(key: string, leaseMs: number, madeAt?: number): Promise<Claim> {
    const now = Date.now();
    const existing = this.read(key);
    const row = existing ?? this.insert(key, now);
    if (row.state === 'sent') return { granted: false, state: 'sent', retryInMs: 0 };
    if (row.state === 'dead' && madeAt !== undefined && madeAt < row.updated_at) return { granted: false, state: 'dead', stale: true };
    if (row.lease_until && row.lease_until > now) return { granted: false, state: row.state, retryInMs: row.lease_until - now };
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

  async state(key: string): Promise<LedgerState | undefined> {
    return this.read(key)?.state;
  }

  /** Keeps a small value until `ttlMs` from now; the first write wins, later ones are ignored. Returns the kept value. */
  async remember(key: string, value: string, ttlMs: number): Promise<string> {
    const now = Date.now();
    const kept = this.sql
      .exec<{ value: string }>('SELECT value FROM memory WHERE key = ? AND expires_at > ?', key, now)
      .toArray()[0]?.value;
    if (kept !== undefined) return kept;
    this.sql.exec('INSERT OR REPLACE INTO memory (key, value, expires_at) VALUES (?, ?, ?)', key, value, now + ttlMs);
    await this.scheduleSweep();
    return value;
  }

  async recall(key: string): Promise<string | undefined> {
    return this.sql.exec<{ value: string }>('SELECT value FROM memory WHERE key = ? AND expires_at > ?', key, Date.now()).toArray()[0]
      ?.value;
  }

  /** Retention: forgets records older than RETENTION_MS and expired memory, once a day while any remain. */
  async alarm(): Promise<void> {
    const now = Date.now();
    this.sql.exec('DELETE FROM records WHERE accepted_at < ?', now - RETENTION_MS);
    this.sql.exec('DELETE FROM memory WHERE expires_at <= ?', now);
    const left =
      this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM records').one().n +
      this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM memory').one().n;
    this.sweepScheduled = left > 0;
    if (left > 0) await this.ctx.storage.setAlarm(now + SWEEP_EVERY_MS);
  }

  private read(key: string): Row | undefined {
    return this.sql.exec<Row>('SELECT state, accepted_at, updated_at, lease_until, queued FROM records WHERE key = ?', key).toArray()[0];
  }

  /** A record first seen by a claim or advance (a customer through its conversion job, a re-driven message). */
  private insert(key: string, now: number): Row {
    this.sql.exec('INSERT INTO records (key, state, accepted_at, updated_at) VALUES (?, ?, ?, ?)', key, 'accepted', now, now);
    return { state: 'accepted', accepted_at: now, updated_at: now, lease_until: null, queued: 1 };
  }

  /** Set once this instance knows its sweep alarm is scheduled, so later writes skip the storage read. */
  private sweepScheduled = false;

  private async scheduleSweep(): Promise<void> {
    if (this.sweepScheduled) return;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
    this.sweepScheduled = true;
  }
}
