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
//
// This file only orchestrates: what a record becomes is lifecycle.ts, its SQL
// is store.ts, the remembered clicks and subscriptions are memory.ts.
import { DurableObject } from 'cloudflare:workers';
import { retentionMsOf } from '../config';
import { logLine } from '../lib/log';
import type { ClickBody } from '../tapfiliate';
import {
  accepted,
  answered,
  answerOf,
  BASE_DELAY_MS,
  canTry,
  conversionAmount,
  cumulativeRefund,
  currencyRefused,
  FIRST_TRY_GRACE_MS,
  isHeldRefund,
  isKeptRefund,
  keptRefundsOnArrival,
  releasesRefunds,
  idsOf,
  isAnswerOnly,
  keyOf,
  refundApplied,
  refundedConversion,
  refundFoundNothing,
  refundMeets,
  replacedBy,
  retryRequested,
  reversedBeforeSending,
  shardKeyOf,
  stepDone,
  tryFinished,
  tryStarted,
  type Answered,
  type DeliveryResult,
  type LedgerRecord,
  type RefundJob,
  type RetryResult,
  type Submission,
  type TryOutcome,
} from './lifecycle';
import { Memory } from './memory';
import { runRefund } from './refunds';
import { tryPostbacks } from './runners';
import { EventStore, type ListQuery, type StatusCounts } from './store';
import { eventView, type LedgerEvent } from './view';

/** What a bulk retry did. */
export interface BulkRetryCounts {
  retried: number;
  sent: number;
  queued: number;
  rejected: number;
  remaining: number;
}

/** Due records tried per alarm: each try waits on Tapfiliate, not the CPU, and a batch stays well inside one alarm's limits. */
export const ALARM_BATCH = 50;
/** Tries of one batch running at once. */
const BATCH_CONCURRENCY = 10;
/** With nothing pending, the alarm still comes once a day to forget what retention has ended. */
const SWEEP_EVERY_MS = 24 * 60 * 60 * 1000;

export class PostbackLedger extends DurableObject<Env> {
  private readonly store: EventStore;
  private readonly memory: Memory;
  /** Keys with a try running in this object now. */
  private readonly inFlight = new Set<string>();
  /** The alarm as this instance last set it; undefined until read. */
  private alarmAt: number | null | undefined;
  /** Per request to Tapfiliate; tests shorten it. */
  timeoutMs: number | undefined;
  /** The first retry's delay, doubling after; the end-to-end suite shortens it (test/e2e/fast-retry-worker.ts). */
  protected retryBaseMs = BASE_DELAY_MS;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new EventStore(ctx.storage.sql);
    this.memory = new Memory(ctx.storage.sql);
  }

  /**
   * Records a new event and makes its first try at once, inside this call:
   * one Durable Object request per conversion on the happy path. A key already
   * held is a duplicate, whatever its state, unless its record only says how an
   * earlier event was answered (unattributed, ignored): that one gives way.
   */
  async submit(submission: Submission): Promise<DeliveryResult> {
    const now = Date.now();
    const held = this.store.read(keyOf(submission.job));
    if (held && !isAnswerOnly(held)) {
      logLine('duplicate_suppressed', { key: held.key, ...idsOf(held) });
      return { status: 'duplicate' };
    }
    let record = replacedBy(held, accepted(submission, now))!;
    const job = submission.job;
    if ('refund' in job) {
      // Checked against its conversion here, where both live (docs/reference.md, "Refunds").
      const currency = currencyRefused(this.conversionOf(job), job.refund);
      if (currency) return { status: 'currency_mismatch', currency };
      const counted = cumulativeRefund(job, this.store.refundsOf(job.refund.external_id));
      if (!counted) {
        logLine('duplicate_suppressed', { key: record.key, ...idsOf(record), reason: 'already_refunded' });
        return { status: 'duplicate' };
      }
      record = replacedBy(held, accepted({ ...submission, job: counted }, now))!;
    } else if (record.kind === 'conversion') {
      // Refunds of this order that came first are kept: a full one means it is never sent.
      const kept = this.store.refundsOf(idsOf(record).external_id!).filter(isKeptRefund);
      if (kept.length > 0) {
        const arrival = keptRefundsOnArrival(record, kept, now);
        record = arrival.conversion;
        for (const refund of arrival.refunds) this.write(refund);
      }
    }
    this.write(record);
    this.store.addPlatformIds(record);
    if (!canTry(record)) return answerOf(record);
    await this.scheduleAlarm(record.next_try_at!);
    return answerOf(await this.attempt(record.key));
  }

  /**
   * An event answered without a postback (docs/operations.md, "Console"):
   * recorded with its reason, unless the key holds an accepted record, which
   * an answer never overwrites. Nothing is sent.
   */
  async note(event: Answered): Promise<void> {
    const record = replacedBy(this.store.read(keyOf(event.job)), answered(event, Date.now()));
    if (!record) return;
    this.write(record);
    // Retention needs the alarm even when nothing is pending.
    await this.scheduleAlarm(Date.now() + SWEEP_EVERY_MS);
  }

  /**
   * Retries up to `limit` dead records accepted in the range and not changed
   * since `before` (this object's now by default, answered back), oldest first,
   * 10 at a time (each as retry() does). `remaining`: such records this call did not reach.
   */
  async retryDead(range: { from?: number; to?: number; before?: number }, limit: number): Promise<BulkRetryCounts & { before: number }> {
    const before = range.before ?? Date.now();
    const { keys, total } = this.store.dead({ ...range, before }, limit);
    const counts: BulkRetryCounts = { retried: 0, sent: 0, queued: 0, rejected: 0, remaining: total - keys.length };
    for (let i = 0; i < keys.length; i += BATCH_CONCURRENCY) {
      for (const result of await Promise.all(keys.slice(i, i + BATCH_CONCURRENCY).map((key) => this.retry(key)))) {
        counts.retried++;
        if (result.status === 'sent' || result.status === 'duplicate') counts.sent++;
        else if (result.status === 'rejected') counts.rejected++;
        else counts.queued++;
      }
    }
    return { ...counts, before };
  }

  /** An operator's retry: a dead or pending record is tried now. */
  async retry(key: string): Promise<RetryResult> {
    const record = this.store.read(key);
    if (!record) return { status: 'not_found' };
    const verdict = retryRequested(record, Date.now());
    if ('refused' in verdict) return verdict.refused === 'already_sent' ? { status: 'already_sent' } : { status: 'not_retryable', record_status: verdict.status };
    if (this.inFlight.has(key)) return { status: 'queued' };
    this.write(verdict.record);
    // As for a first try: should this object stop mid-try, its alarm finds the record.
    await this.scheduleAlarm(Date.now() + FIRST_TRY_GRACE_MS);
    logLine('retry_requested', { key, ...idsOf(record), was: record.status });
    return answerOf(await this.attempt(key));
  }

  async get(key: string): Promise<LedgerEvent | null> {
    const record = this.store.read(key);
    return record ? eventView(record, true) : null;
  }

  /** This object's records, newest first. */
  async list(query: ListQuery): Promise<{ events: LedgerEvent[]; cursors: { at: number; key: string }[] }> {
    const records = this.store.list(query);
    return { events: records.map((record) => eventView(record, false)), cursors: records.map((record) => ({ at: record.accepted_at, key: record.key })) };
  }

  /** Records accepted since each time, by status. */
  async counts(since: number[]): Promise<StatusCounts[]> {
    return this.store.counts(since);
  }

  /** The key of the record that listed this platform id (a payment_intent, an order id), or null. */
  async findPlatformId(id: string): Promise<string | null> {
    return this.store.findPlatformId(id);
  }

  /** The click for a (referral code, client network): memory.ts Memory.click. '' when none is made. */
  async click(network: string, body: ClickBody): Promise<string> {
    return this.memory.click(network, body, this.env, this.timeoutMs, () => this.scheduleAlarm(Date.now() + SWEEP_EVERY_MS));
  }

  /** Keeps a small value until `ttlMs` from now, replacing what was kept. */
  async remember(key: string, value: string, ttlMs: number): Promise<void> {
    this.memory.remember(key, value, ttlMs);
    await this.scheduleAlarm(Date.now() + SWEEP_EVERY_MS);
  }

  /** Keeps a value unless one is kept already, which then only lives `ttlMs` from now (a subscription's attribution). */
  async rememberFirst(key: string, value: string, ttlMs: number): Promise<void> {
    this.memory.rememberFirst(key, value, ttlMs);
    await this.scheduleAlarm(Date.now() + SWEEP_EVERY_MS);
  }

  /** The kept value; with `slideMs`, it is then kept that long from now (a subscription's renewal extends its memory). */
  async recall(key: string, slideMs?: number): Promise<string | undefined> {
    return this.memory.recall(key, slideMs);
  }

  /** Retention, then a batch of due tries. The next alarm is set before the batch runs. */
  async alarm(): Promise<void> {
    const now = Date.now();
    this.alarmAt = null;
    this.store.forgetBefore(now - retentionMsOf(this.env));
    this.memory.forgetExpired(now);
    const due = this.store.due(now, ALARM_BATCH);
    // If this batch is cut short, the next alarm finds what is left (each started try has pushed its own next_try_at).
    await this.scheduleAlarm(due.length === ALARM_BATCH ? now : now + SWEEP_EVERY_MS);
    if (due.length > 0) logLine('alarm_batch', { due: due.length });
    for (let i = 0; i < due.length; i += BATCH_CONCURRENCY) {
      await Promise.all(due.slice(i, i + BATCH_CONCURRENCY).map((key) => this.attempt(key)));
    }
    await this.scheduleNext();
  }

  /** One try of a record, applied to it. Undefined when the key is unknown; the record unchanged when lifecycle says it is not tried, or when it is busy. */
  private async attempt(key: string): Promise<LedgerRecord | undefined> {
    let record = this.store.read(key);
    if (!record || !canTry(record) || this.inFlight.has(key)) return record;
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
      outcome = { result: 'retry', step: record.kind, reason: 'error' };
    } finally {
      this.inFlight.delete(key);
    }
    record = tryFinished(record, outcome, Date.now(), Math.random, this.retryBaseMs);
    this.write(record);
    if (record.status === 'dead') logLine('postback_dead', { level: 'error', key, ...idsOf(record), attempts: record.attempts, last: record.history.at(-1) });
    else if (record.status === 'pending') logLine('postback_retry_scheduled', { key, ...idsOf(record), attempt: record.attempts, next_try_at: record.next_try_at });
    if (record.next_try_at !== null) await this.scheduleAlarm(record.next_try_at);
    // Refunds that held for this conversion run now that it is sent, or stopped (by this try, or by a full refund's).
    const order = record.kind === 'refund' ? this.conversionOf(record.job) : record;
    if (order && releasesRefunds(order)) {
      for (const refund of this.store.refundsOf(idsOf(order).external_id!).filter(isHeldRefund)) await this.attempt(refund.key);
    }
    return record;
  }

  /** The conversion a refund of this job meets (lifecycle.ts refundedConversion: a record that only logs an answer is none). */
  private conversionOf(job: LedgerRecord['job']): LedgerRecord | undefined {
    return refundedConversion(this.store.read(shardKeyOf(job)));
  }

  /** A refund lives beside its conversion; lifecycle.ts refundMeets decides what its try does. */
  private async tryRefund(record: LedgerRecord): Promise<TryOutcome> {
    const refund = (record.job as RefundJob).refund;
    const conversionKey = shardKeyOf(record.job);
    const conversion = this.conversionOf(record.job);
    const verdict = refundMeets(conversion, this.inFlight.has(conversionKey), refund);
    if (verdict !== 'run') return this.refundDecided(record, verdict, conversion);
    // One refund of an order at a time: each plans from the commission the one before it left
    // (a second one meanwhile finds the order busy and waits, as it does for the conversion's own try).
    this.inFlight.add(conversionKey);
    let outcome: TryOutcome;
    try {
      outcome = await this.runRefundOf(record, conversion);
    } finally {
      this.inFlight.delete(conversionKey);
    }
    if (outcome.result !== 'unattributed') return outcome;
    // Its conversion may have arrived while the lookup held the order: it applies now, as a kept refund would.
    const arrived = this.conversionOf(record.job);
    const again = refundFoundNothing(conversion, arrived, this.inFlight.has(conversionKey), refund);
    return again === 'keep' ? outcome : this.refundDecided(record, again, arrived);
  }

  /** What a refund's try does when lifecycle.ts decides it without Tapfiliate (refundMeets, refundFoundNothing). */
  private refundDecided(record: LedgerRecord, verdict: 'wait' | 'retry' | 'hold' | 'reverse_unsent' | 'already_reversed', conversion: LedgerRecord | undefined): TryOutcome {
    switch (verdict) {
      case 'wait':
        return { result: 'retry', step: 'refund', reason: 'conversion_in_flight' };
      case 'retry':
        return { result: 'retry', step: 'refund', reason: 'conversion_arrived' };
      case 'hold':
        return { result: 'hold' };
      case 'reverse_unsent':
        this.write(reversedBeforeSending(conversion!, record.key, Date.now()));
        logLine('conversion_reversed_unsent', { key: conversion!.key, refund_id: (record.job as RefundJob).refund.refund_id });
        return { result: 'reversed', message: 'the conversion had not been sent; it never will be' };
      case 'already_reversed':
        return { result: 'reversed', message: 'the conversion was already reversed' };
    }
  }

  private async runRefundOf(record: LedgerRecord, conversion: LedgerRecord | undefined): Promise<TryOutcome> {
    const refund = (record.job as RefundJob).refund;
    const outcome = await runRefund({
      job: refund,
      conversion: conversion === undefined ? null : {
        status: conversion.status,
        amount: conversionAmount(conversion),
        refunded_amount: conversion.refunded_amount,
        commissions: conversion.commissions,
      },
      env: this.env,
      timeoutMs: this.timeoutMs,
    });
    switch (outcome.result) {
      case 'reversed':
      case 'adjusted':
        if (conversion) this.write(refundApplied(conversion, { status: outcome.result, refunded_amount: outcome.refunded_amount, commissions: outcome.commissions }, record.key, Date.now()));
        return { result: outcome.result };
      case 'retry':
      case 'rejected':
        return { ...outcome, step: 'refund' };
      default:
        return outcome;
    }
  }

  /** Every write of a record goes through here (test/delivery/ledger.test.ts writes records with it). */
  private write(record: LedgerRecord): void {
    this.store.write(record);
  }

  /** The alarm at the earliest due try, or a day away for retention while anything is kept. */
  private async scheduleNext(): Promise<void> {
    const next = this.store.nextTry();
    if (next !== null) return this.scheduleAlarm(Math.max(next, Date.now()));
    if (this.store.holdsAny() || this.memory.holdsAny()) await this.scheduleAlarm(Date.now() + SWEEP_EVERY_MS);
  }

  /** Moves the alarm earlier, never later: one alarm serves every record of the object. */
  private async scheduleAlarm(at: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }
}
