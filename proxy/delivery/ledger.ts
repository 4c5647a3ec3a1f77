// The ledger: one Durable Object per shard (shards.ts), holding the record of
// every event whose key falls in it, and acting as its outbox. Exactly once
// rests on three facts, all in this file:
// 1. A Durable Object runs one call at a time between awaits, so "is this key
//    new? then record it" in `submit` is atomic: of 20 concurrent posts of one
//    order, one is accepted and 19 are duplicates.
// 2. A record is written before its first postback leaves (the object's output
//    gate holds outgoing requests until the write is durable), and `sent` is
//    final: no try starts for a key that is sent, and `inFlight` keeps two tries
//    of one key from overlapping in this object (a restarted object has none
//    running: its tries died with it).
// 3. The one window: a crash after Tapfiliate's 2xx and before `sent` is
//    written repeats that postback on the next try, and Tapfiliate refuses a
//    repeated external_id (tapfiliate.ts DUPLICATE_MESSAGE), which counts as sent.
// Retries are this object's alarm: due records are worked off in batches, the
// next alarm set before each batch runs. Nothing leaves the ledger but by
// retention (RETENTION_DAYS).
import { DurableObject } from 'cloudflare:workers';
import { apiKeyOf, retentionMsOf, upstreamUrlsOf } from '../config';
import { logLine } from '../log';
import { runRefund } from '../refunds';
import { createClick, type ClickBody } from '../tapfiliate';
import {
  accepted,
  BASE_DELAY_MS,
  FIRST_TRY_GRACE_MS,
  keyOf,
  refundApplied,
  retryRequested,
  reversedBeforeSending,
  shardKeyOf,
  stepDone,
  tryFinished,
  tryStarted,
  type EventSource,
  type LedgerRecord,
  type RecordKind,
  type RecordStatus,
  type RefundJob,
  type Submission,
  type TryOutcome,
} from './lifecycle';
import { idsOf, tryPostbacks } from './runners';
import { eventView, type LedgerEvent } from './view';

/** What the request handler answers once delivery has the event. */
export type DeliveryResult =
  | { status: 'sent' | 'queued' | 'duplicate' | 'reversed' | 'adjusted' | 'unattributed' | 'ignored' }
  | { status: 'rejected'; upstreamStatus: number; message: string }
  /** The ledger could not be reached: the caller is asked to send it again (a replay is then a duplicate at worst). */
  | { status: 'unavailable' };

export type RetryResult = DeliveryResult | { status: 'already_sent' } | { status: 'not_found' };

interface ListQuery {
  status?: RecordStatus;
  kind?: RecordKind;
  source?: EventSource;
  /** An id, matched exactly against external_id, customer_id and refund_id. */
  q?: string;
  limit: number;
  /** Records strictly older than this (accepted_at, then key). */
  before?: { at: number; key: string };
}

export type StatusCounts = Record<'sent' | 'pending' | 'dead' | 'reversed' | 'adjusted', number>;

/** Due records tried per alarm: each try waits on Tapfiliate, not the CPU, and a batch stays well inside one alarm's limits. */
export const ALARM_BATCH = 50;
/** Tries of one batch running at once. */
const BATCH_CONCURRENCY = 10;
/** With nothing pending, the alarm still comes once a day to forget what retention has ended. */
const SWEEP_EVERY_MS = 24 * 60 * 60 * 1000;

type Row = Record<string, SqlStorageValue>;

export class PostbackLedger extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Keys with a try running in this object now. */
  private readonly inFlight = new Set<string>();
  /** Clicks being made now, so concurrent landings share one. */
  private readonly clicksInFlight = new Map<string, Promise<string>>();
  /** The alarm as this instance last set it; undefined until read. */
  private alarmAt: number | null | undefined;
  /** Per request to Tapfiliate; tests shorten it. */
  timeoutMs: number | undefined;
  /** The first retry's delay, doubling after; the end-to-end suite shortens it (test/e2e/fast-retry-worker.ts). */
  protected retryBaseMs = BASE_DELAY_MS;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // `events`, not v2's `records`: objects of the v2 layout keep their table untouched.
    this.sql.exec(`CREATE TABLE IF NOT EXISTS events (
      key TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      status TEXT NOT NULL,
      source TEXT NOT NULL,
      external_id TEXT,
      customer_id TEXT,
      refund_id TEXT,
      accepted_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      next_try_at INTEGER,
      record TEXT NOT NULL
    )`);
    this.sql.exec('CREATE INDEX IF NOT EXISTS events_by_time ON events (accepted_at, key)');
    this.sql.exec('CREATE INDEX IF NOT EXISTS events_by_status ON events (status, accepted_at, key)');
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_due ON events (next_try_at) WHERE status = 'pending'");
    this.sql.exec('CREATE INDEX IF NOT EXISTS events_by_external_id ON events (external_id)');
    this.sql.exec('CREATE INDEX IF NOT EXISTS events_by_customer_id ON events (customer_id)');
    this.sql.exec('CREATE TABLE IF NOT EXISTS platform_ids (id TEXT PRIMARY KEY, key TEXT NOT NULL, accepted_at INTEGER NOT NULL)');
    this.sql.exec('CREATE TABLE IF NOT EXISTS memory (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL)');
  }

  /**
   * Records a new event and makes its first try at once, inside this call:
   * one Durable Object request per conversion on the happy path. A key already
   * held is a duplicate, whatever its state.
   */
  async submit(submission: Submission): Promise<DeliveryResult> {
    const key = keyOf(submission.job);
    const now = Date.now();
    const record = accepted(submission, now);
    if (this.read(key)) {
      logLine('duplicate_suppressed', { key, ...idsOf(record) });
      return { status: 'duplicate' };
    }
    this.write(record);
    for (const id of record.platform_ids) this.sql.exec('INSERT OR REPLACE INTO platform_ids (id, key, accepted_at) VALUES (?, ?, ?)', id, key, now);
    await this.scheduleAlarm(record.next_try_at!);
    return answerOf(await this.attempt(key));
  }

  /** An operator's retry: a dead or pending record is tried now. */
  async retry(key: string): Promise<RetryResult> {
    const record = this.read(key);
    if (!record) return { status: 'not_found' };
    const verdict = retryRequested(record, Date.now());
    if ('refused' in verdict) return { status: verdict.refused };
    if (this.inFlight.has(key)) return { status: 'queued' };
    this.write(verdict.record);
    // As for a first try: should this object stop mid-try, its alarm finds the record.
    await this.scheduleAlarm(Date.now() + FIRST_TRY_GRACE_MS);
    logLine('retry_requested', { key, ...idsOf(record), was: record.status });
    return answerOf(await this.attempt(key));
  }

  async get(key: string): Promise<LedgerEvent | null> {
    const record = this.read(key);
    return record ? eventView(record, true) : null;
  }

  /** This object's records, newest first. */
  async list(query: ListQuery): Promise<{ events: LedgerEvent[]; cursors: { at: number; key: string }[] }> {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    for (const field of ['status', 'kind', 'source'] as const) {
      if (query[field] !== undefined) {
        where.push(`${field} = ?`);
        args.push(query[field]);
      }
    }
    if (query.q !== undefined) {
      where.push('(external_id = ? OR customer_id = ? OR refund_id = ?)');
      args.push(query.q, query.q, query.q);
    }
    if (query.before) {
      where.push('(accepted_at < ? OR (accepted_at = ? AND key < ?))');
      args.push(query.before.at, query.before.at, query.before.key);
    }
    const rows = this.sql
      .exec<Row>(
        `SELECT record FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY accepted_at DESC, key DESC LIMIT ?`,
        ...args,
        query.limit,
      )
      .toArray();
    const records = rows.map((row) => JSON.parse(String(row.record)) as LedgerRecord);
    return { events: records.map((record) => eventView(record, false)), cursors: records.map((record) => ({ at: record.accepted_at, key: record.key })) };
  }

  /** Records accepted since each time, by status. */
  async counts(since: number[]): Promise<StatusCounts[]> {
    return since.map((time) => {
      const counts: StatusCounts = { sent: 0, pending: 0, dead: 0, reversed: 0, adjusted: 0 };
      for (const row of this.sql.exec<Row>('SELECT status, COUNT(*) AS n FROM events WHERE accepted_at >= ? GROUP BY status', time)) {
        if (row.status as string in counts) counts[row.status as keyof StatusCounts] = Number(row.n);
      }
      return counts;
    });
  }

  /** The key of the record that listed this platform id (a payment_intent, an order id), or null. */
  async findPlatformId(id: string): Promise<string | null> {
    return (this.sql.exec<Row>('SELECT key FROM platform_ids WHERE id = ?', id).toArray()[0]?.key as string | undefined) ?? null;
  }

  /**
   * The click for a (referral code, client network), made here once per
   * memory window: one Durable Object request per landing, and concurrent
   * landings share one Tapfiliate click. One object holds every code of a
   * network (memory.ts), so it also caps how many codes one network may have
   * clicks made for in the window: random codes from one address cost at most
   * that many API calls. '' when no click is made. A refusal (4xx) is
   * remembered, so a retried landing does not ask again; a timeout or a 5xx is
   * not, so the next landing tries again.
   */
  async click(network: string, body: ClickBody, ttlMs: number, codesPerNetwork: number): Promise<string> {
    const memoryKey = `clk:${network}|${body.referral_code}`;
    const kept = this.recallNow(memoryKey);
    if (kept !== undefined) return kept;
    const running = this.clicksInFlight.get(memoryKey);
    if (running) return running;
    const codes = Number(
      this.sql.exec<Row>('SELECT COUNT(*) AS n FROM memory WHERE key > ? AND key < ? AND expires_at > ?', `clk:${network}|`, `clk:${network}|\uffff`, Date.now()).one().n,
    );
    if (codes + this.clicksInFlight.size >= codesPerNetwork) {
      logLine('click_budget_spent', { level: 'warn', referral_code: body.referral_code, codes });
      return '';
    }
    const making = (async () => {
      const url = upstreamUrlsOf(this.env).clicks;
      const apiKey = apiKeyOf(this.env);
      if (!url || !apiKey) return '';
      const created = await createClick(body, { url, apiKey, timeoutMs: this.timeoutMs });
      if (!created.id) logLine('click_not_created', { level: 'warn', referral_code: body.referral_code, upstream_status: created.status, message: created.message });
      const refused = created.status !== undefined && created.status >= 400 && created.status < 500 && created.status !== 408 && created.status !== 429;
      if (created.id || refused) await this.remember(memoryKey, created.id ?? '', ttlMs);
      return created.id ?? '';
    })();
    this.clicksInFlight.set(memoryKey, making);
    try {
      return await making;
    } finally {
      this.clicksInFlight.delete(memoryKey);
    }
  }

  /** Keeps a small value until `ttlMs` from now, replacing what was kept. */
  async remember(key: string, value: string, ttlMs: number): Promise<void> {
    const now = Date.now();
    this.sql.exec('INSERT OR REPLACE INTO memory (key, value, expires_at) VALUES (?, ?, ?)', key, value, now + ttlMs);
    await this.scheduleAlarm(now + SWEEP_EVERY_MS);
  }

  /** The kept value; with `slideMs`, it is then kept that long from now (a subscription's renewal extends its memory). */
  async recall(key: string, slideMs?: number): Promise<string | undefined> {
    const value = this.recallNow(key);
    if (value !== undefined && slideMs !== undefined) this.sql.exec('UPDATE memory SET expires_at = ? WHERE key = ?', Date.now() + slideMs, key);
    return value;
  }

  /** Retention, then a batch of due tries. The next alarm is set before the batch runs. */
  async alarm(): Promise<void> {
    const now = Date.now();
    this.alarmAt = null;
    this.forgetExpired(now);
    const due = this.sql
      .exec<Row>("SELECT key FROM events WHERE status = 'pending' AND next_try_at <= ? ORDER BY next_try_at LIMIT ?", now, ALARM_BATCH)
      .toArray()
      .map((row) => String(row.key));
    // If this batch is cut short, the next alarm finds what is left (each started try has pushed its own next_try_at).
    await this.scheduleAlarm(due.length === ALARM_BATCH ? now : now + SWEEP_EVERY_MS);
    if (due.length > 0) logLine('alarm_batch', { due: due.length });
    for (let i = 0; i < due.length; i += BATCH_CONCURRENCY) {
      await Promise.all(due.slice(i, i + BATCH_CONCURRENCY).map((key) => this.attempt(key)));
    }
    await this.scheduleNext();
  }

  /** One try of a pending record, applied to the record. Undefined when the key is unknown; the record unchanged when not pending or busy. */
  private async attempt(key: string): Promise<LedgerRecord | undefined> {
    let record = this.read(key);
    if (!record || record.status !== 'pending' || this.inFlight.has(key)) return record;
    this.inFlight.add(key);
    let outcome: TryOutcome;
    try {
      record = tryStarted(record, Date.now());
      this.write(record);
      if (record.kind === 'refund') outcome = await this.tryRefund(record);
      else
        outcome = await tryPostbacks(record, {
          env: this.env,
          timeoutMs: this.timeoutMs,
          stepDone: (step) => {
            record = stepDone(record!, step, Date.now());
            this.write(record);
          },
        });
    } catch (error) {
      // Never lost: an unexpected failure is retried like a 5xx.
      logLine('delivery_error', { level: 'error', key, error: error instanceof Error ? error.message : 'unknown' });
      outcome = { result: 'retry', step: record.kind === 'refund' ? 'refund' : record.kind, reason: 'error' };
    } finally {
      this.inFlight.delete(key);
    }
    record = tryFinished(record, outcome, Date.now(), Math.random, this.retryBaseMs);
    this.write(record);
    if (record.status === 'dead') logLine('postback_dead', { level: 'error', key, ...idsOf(record), attempts: record.attempts, last: record.history.at(-1) });
    else if (record.status === 'pending') logLine('postback_retry_scheduled', { key, ...idsOf(record), attempt: record.attempts, next_try_at: record.next_try_at });
    if (record.next_try_at !== null) await this.scheduleAlarm(record.next_try_at);
    return record;
  }

  /**
   * A refund lives beside its conversion. One that has not reached Tapfiliate
   * (pending, or dead) is never sent; otherwise Tapfiliate's commissions are
   * taken back (refunds.ts).
   */
  private async tryRefund(record: LedgerRecord): Promise<TryOutcome> {
    const refund = (record.job as RefundJob).refund;
    const conversionKey = shardKeyOf(record.job);
    const conversion = this.read(conversionKey);
    if (conversion && (conversion.status === 'pending' || conversion.status === 'dead')) {
      if (this.inFlight.has(conversionKey)) return { result: 'retry', step: 'refund', reason: 'conversion_in_flight' };
      this.write(reversedBeforeSending(conversion, record.key, Date.now()));
      logLine('conversion_reversed_unsent', { key: conversionKey, refund_id: refund.refund_id });
      return { result: 'reversed', message: 'the conversion had not been sent; it never will be' };
    }
    if (conversion?.status === 'reversed') return { result: 'reversed', message: 'the conversion was already reversed' };
    const outcome = await runRefund({
      job: refund,
      conversion: conversion === undefined ? null : {
        status: conversion.status,
        amount: 'refund' in conversion.job ? undefined : conversion.job.conversion?.amount,
        refunded_amount: conversion.refunded_amount,
        commissions: conversion.commissions,
      },
      env: this.env,
      timeoutMs: this.timeoutMs,
    });
    if (outcome.result === 'reversed' || outcome.result === 'adjusted') {
      if (conversion) this.write(refundApplied(conversion, { status: outcome.result, refunded_amount: outcome.refunded_amount, commissions: outcome.commissions }, record.key, Date.now()));
      return { result: outcome.result };
    }
    if (outcome.result === 'retry') return { ...outcome, step: 'refund' };
    if (outcome.result === 'rejected') return { ...outcome, step: 'refund' };
    return outcome;
  }

  private read(key: string): LedgerRecord | undefined {
    const row = this.sql.exec<Row>('SELECT record FROM events WHERE key = ?', key).toArray()[0];
    return row ? (JSON.parse(String(row.record)) as LedgerRecord) : undefined;
  }

  private write(record: LedgerRecord): void {
    const view = eventView(record, false);
    this.sql.exec(
      `INSERT OR REPLACE INTO events (key, kind, status, source, external_id, customer_id, refund_id, accepted_at, updated_at, next_try_at, record)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      record.key,
      record.kind,
      record.status,
      record.source,
      view.external_id ?? null,
      view.customer_id ?? null,
      view.refund_id ?? null,
      record.accepted_at,
      record.updated_at,
      record.status === 'pending' ? record.next_try_at : null,
      JSON.stringify(record),
    );
  }

  private recallNow(key: string): string | undefined {
    return this.sql.exec<Row>('SELECT value FROM memory WHERE key = ? AND expires_at > ?', key, Date.now()).toArray()[0]?.value as string | undefined;
  }

  private forgetExpired(now: number): void {
    const before = now - retentionMsOf(this.env);
    // A record an operator is having tried again is kept until that series ends.
    this.sql.exec("DELETE FROM events WHERE accepted_at < ? AND status != 'pending'", before);
    this.sql.exec('DELETE FROM platform_ids WHERE accepted_at < ?', before);
    this.sql.exec('DELETE FROM memory WHERE expires_at <= ?', now);
  }

  /** The alarm at the earliest due try, or a day away for retention while anything is kept. */
  private async scheduleNext(): Promise<void> {
    const next = this.sql.exec<Row>("SELECT MIN(next_try_at) AS at FROM events WHERE status = 'pending'").one().at as number | null;
    if (next !== null) return this.scheduleAlarm(Math.max(next, Date.now()));
    const kept = Number(this.sql.exec<Row>('SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM memory) AS n').one().n);
    if (kept > 0) await this.scheduleAlarm(Date.now() + SWEEP_EVERY_MS);
  }

  /** Moves the alarm earlier, never later: one alarm serves every record of the object. */
  private async scheduleAlarm(at: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }
}

/** The caller's answer after the inline try. */
function answerOf(record: LedgerRecord | undefined): DeliveryResult {
  if (!record) return { status: 'queued' };
  switch (record.status) {
    case 'sent':
      return { status: record.history.at(-1)?.outcome === 'duplicate' ? 'duplicate' : 'sent' };
    case 'pending':
      return { status: 'queued' };
    case 'dead': {
      const last = record.history.at(-1);
      return { status: 'rejected', upstreamStatus: last?.upstream_status ?? 0, message: last?.message ?? 'out of tries' };
    }
    case 'ignored':
      return { status: record.history.at(-1)?.outcome === 'unattributed' ? 'unattributed' : 'ignored' };
    default:
      return { status: record.status };
  }
}
