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

export interface LedgerRecord {
  state: LedgerState;
  acceptedAt: number;
  updatedAt: number;
  /** While set and in the future, one delivery attempt owns this key. */
  leaseUntil?: number;
}

export type Claim = { granted: true; state: LedgerState } | { granted: false; state: LedgerState; retryInMs: number };

/** Tapfiliate's duplicate guard is the external_id; ours remembers it this long. */
export const RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

const RECORD = 'record';

/** One ledger object per `con:<external_id>` or `cus:<customer_id>`. */
export function ledgerKey(job: PostbackJob): string {
  if (job.conversion) return `con:${job.conversion.external_id}`;
  if (job.customer) return `cus:${job.customer.customer_id}`;
  throw new Error('empty postback job');
}

export function customerLedgerKey(customerId: string): string {
  return `cus:${customerId}`;
}

export function ledgerStub(namespace: DurableObjectNamespace, key: string): DurableObjectStub<PostbackLedger> {
  const ledger = namespace as unknown as DurableObjectNamespace<PostbackLedger>;
  return ledger.get(ledger.idFromName(key));
}

/**
 * Idempotency record for one external_id (or customer_id). A Durable Object is
 * one single-threaded instance per key worldwide with transactional storage, so
 * "is this new? then mark it" is atomic: 20 concurrent posts of one order see
 * exactly one `fresh`. KV could not promise that: its reads are eventually
 * consistent (up to ~60 s across locations), so two tabs could both read
 * "absent" and both send.
 *
 * Every method reads and writes the synchronous SQLite-backed KV API with no
 * await in between, so no other call interleaves.
 */
export class PostbackLedger extends DurableObject<Env> {
  /** Records the key on first sight. `fresh` is true only for the first caller. */
  async accept(): Promise<{ fresh: boolean; state: LedgerState }> {
    const existing = this.read();
    if (existing) return { fresh: false, state: existing.state };
    const now = Date.now();
    this.write({ state: 'accepted', acceptedAt: now, updatedAt: now });
    await this.ctx.storage.setAlarm(now + RETENTION_MS);
    return { fresh: true, state: 'accepted' };
  }

  /** Takes the key for one delivery attempt, unless it is sent or another attempt holds it. */
  async claim(leaseMs: number): Promise<Claim> {
    const now = Date.now();
    const record = this.read() ?? (await this.created(now));
    if (record.state === 'sent') return { granted: false, state: 'sent', retryInMs: 0 };
    if (record.leaseUntil && record.leaseUntil > now) {
      return { granted: false, state: record.state, retryInMs: record.leaseUntil - now };
    }
    this.write({ ...record, leaseUntil: now + leaseMs, updatedAt: now });
    return { granted: true, state: record.state };
  }

  /** Moves the record on and gives up the lease. `sent` is final. */
  async advance(state: LedgerState): Promise<void> {
    const now = Date.now();
    const record = this.read() ?? (await this.created(now));
    if (record.state === 'sent') return;
    this.write({ state, acceptedAt: record.acceptedAt, updatedAt: now });
  }

  /** Gives up the lease after a failed attempt, so the next retry may claim it. */
  async release(): Promise<void> {
    const record = this.read();
    if (record?.leaseUntil) this.write({ state: record.state, acceptedAt: record.acceptedAt, updatedAt: Date.now() });
  }

  /** Drops the record, for a job that could not be handed to the queue at all. */
  async forget(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  async state(): Promise<LedgerState | undefined> {
    return this.read()?.state;
  }

  /** Retention: a record older than RETENTION_MS is forgotten. */
  async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  private read(): LedgerRecord | undefined {
    return this.ctx.storage.kv.get<LedgerRecord>(RECORD);
  }

  private write(record: LedgerRecord): void {
    this.ctx.storage.kv.put(RECORD, record);
  }

  /** A customer record first seen through a conversion job has no accept() of its own. */
  private async created(now: number): Promise<LedgerRecord> {
    const record: LedgerRecord = { state: 'accepted', acceptedAt: now, updatedAt: now };
    this.write(record);
    await this.ctx.storage.setAlarm(now + RETENTION_MS);
    return record;
  }
}
