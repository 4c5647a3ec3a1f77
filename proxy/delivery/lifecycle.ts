// The life of one ledger record, as pure functions: (record, event, now) → record.
// The ledger object (ledger.ts) stores records in SQLite (store.ts) and runs
// the tries; it decides nothing itself: every decision about a record is a
// function here. Tested without workerd in test/lifecycle/.
//
//   state     event                         next state       effect
//   ───────   ───────────────────────────   ──────────────   ─────────────────────────────────
//   (none)    accepted                      pending          first try now, inline
//   pending   try starts (canTry)           pending          counted; only a pending record is tried
//   pending   try: sent / Tapfiliate has it sent             answer sent (or duplicate)
//   pending   try: refused (4xx ≠ 408, 429) dead             answer upstream_rejected
//   pending   try: retry, tries left        pending          next try after backoff (≥ Retry-After)
//   pending   try: retry, none left         dead             —
//   other     try starts or ends            unchanged        nothing is tried twice; sent stays sent
//   pending   a full refund tries (refundMeets) reversed     never sent (a dead one too); while its own
//                                                            try runs, the refund waits; sent: run at Tapfiliate
//   pending   a partial refund tries        unchanged        the refund holds: pending, no try due (refundHolds)
//   sent      (the end of its try)          —                its held refunds are tried now (isHeldRefund)
//   reversed  by a full refund's try        —                its held refunds are tried now: reversed with it
//   any       a refund tries while another  unchanged        the refund waits: each plans from what the one
//             refund of the order runs                       before it left
//   (none)    accepted, a kept full refund  reversed         never sent (keptRefundsOnArrival)
//   (none)    accepted, kept partial ones   pending          they hold until it is sent
//   refund    try: order unknown anywhere   unattributed     kept (isKeptRefund), reason conversion_not_found
//   refund    try: order unknown, but its   reversed, or     as a kept refund on arrival: a full one stops it,
//             conversion arrived meanwhile  held             a partial one holds until it is sent (refundFoundNothing)
//   refund    try: REFUNDS=ignore           ignored          reason refunds_ignored; nothing sent
//   answer-   a refund of its order         unchanged        no conversion to the refund: neither its currency
//   only                                                     nor its amount counts (refundedConversion)
//   refund    accepted, another currency    —                refused (currencyRefused): 400, or ignored for a webhook
//   refund    accepted, a running total     pending          its amount: what the total leaves beyond what was accepted (cumulativeRefund)
//   dead      operator retry                pending          a new series of tries, the first now
//   pending   operator retry                pending          the next try now
//   sent      operator retry                sent             409 already_sent (adjusted too: it was sent)
//   reversed  operator retry                reversed         409 not_retryable (ignored too)
//   refund    try: reversed/adjusted/…      that status      its conversion updated (refundApplied)
//   (none)    answered without a postback   unattributed     nothing sent; its reason kept
//                                           or ignored
//   unattr./  answered again                the new answer   history keeps the earlier answers
//   ignored   accepted                      pending          replaced (replacedBy): never a duplicate
//   other     answered without a postback   unchanged        an accepted record is never overwritten
//   any       the inline try has ended      —                the caller's answer (answerOf)
//
// Invariants: `sent`, `reversed` and `adjusted` are final for a postback, so
// nothing is posted for a key twice by this ledger (the one window left, a
// crash between Tapfiliate's 2xx and writing `sent`, is closed by Tapfiliate
// refusing a repeated external_id: docs/operations.md, "Exactly once"). A
// record keeps its job until retention ends, whatever its state.
import type { PostbackJob, PostbackKind } from '../tapfiliate';
import { withoutUndefined } from '../lib/plain';
import type { PlatformName } from '../platforms';

export type RecordKind = 'conversion' | 'customer' | 'refund';
export type RecordStatus = 'pending' | 'sent' | 'dead' | 'reversed' | 'adjusted' | 'unattributed' | 'ignored';
/** Every status, in the order the operator's summary lists them. */
export const RECORD_STATUSES = ['sent', 'pending', 'dead', 'reversed', 'adjusted', 'unattributed', 'ignored'] as const satisfies readonly RecordStatus[];
/** Who sent the event: a browser, the merchant's server, or a payment platform of the table (proxy/platforms/index.ts). */
export type EventSource = 'browser' | 'server' | PlatformName;

/**
 * A refund of (part of) a conversion; `amount` left out means the rest of the
 * order. `refunded_total` (a platform's running total) becomes `amount` when the
 * ledger accepts it: the total less every refund of the order it holds.
 */
export interface RefundJob {
  refund: { refund_id: string; external_id: string; amount?: number; currency?: string; refunded_total?: number };
}
type Job = PostbackJob | RefundJob;

/** What a route hands to delivery. */
export interface Submission {
  job: Job;
  source: EventSource;
  signed: boolean;
  /** Platform ids a later refund looks this conversion up by (a payment_intent, an invoice, an order id). */
  platformIds?: string[];
  /** What the buyer paid in all for a platform order (tax and shipping included), which a refund without goods is a share of. */
  gross?: number;
}

/**
 * An event answered without a postback, kept so the operator can see why
 * (docs/operations.md, "Console"): its job holds what the event said (ids,
 * amount, identifiers), never a visitor's IP or user agent, and is never sent.
 */
export interface Answered {
  job: Job;
  source: EventSource;
  signed: boolean;
  status: 'unattributed' | 'ignored';
  /** Why: no_attribution, zero_amount, not_paid, invalid_order… */
  reason: string;
}

export type Step = PostbackKind | 'refund';

/** One entry of a record's history. */
export interface Attempt {
  at: number;
  outcome: 'sent' | 'duplicate' | 'retry' | 'rejected' | 'out_of_tries' | 'reversed' | 'adjusted' | 'unattributed' | 'ignored' | 'retry_requested';
  step?: Step;
  upstream_status?: number;
  message?: string;
  /** Why an event was answered without a postback. */
  reason?: string;
}

interface Commission {
  id: string;
  amount: number;
}

export interface LedgerRecord {
  key: string;
  kind: RecordKind;
  status: RecordStatus;
  source: EventSource;
  signed: boolean;
  job: Job;
  platform_ids: string[];
  accepted_at: number;
  updated_at: number;
  /** Tries made, over the record's life. */
  attempts: number;
  /** Tries in the current series: an operator's retry starts a new one. */
  series_tries: number;
  next_try_at: number | null;
  /** Postbacks of the job Tapfiliate already has, so a retry resumes after them. */
  done_steps: Step[];
  history: Attempt[];
  /** A conversion's refunds so far, in its currency. */
  refunded_amount: number;
  /** A conversion's commissions as Tapfiliate first reported them, kept so partial refunds never compound. */
  commissions?: Commission[];
  /** Why an `unattributed` or `ignored` record was answered without a postback. */
  reason?: string;
  /** What the buyer paid in all for a platform order (Submission.gross). */
  gross?: number;
}

/** How one try ended, from Tapfiliate's answers (tapfiliate.ts classifies them). */
export type TryOutcome =
  | { result: 'sent'; duplicate: boolean; status?: number }
  | { result: 'rejected'; step: Step; status: number; message: string }
  | { result: 'retry'; step: Step; status?: number; reason: string; retryAfterSeconds?: number }
  | { result: 'reversed' | 'adjusted' | 'unattributed' | 'ignored'; message?: string }
  /** A partial refund of a conversion not sent yet: it holds until the conversion is (refundHolds). */
  | { result: 'hold' };

/** Tries per series, the first included: 12 retries from 30 s doubling to an hour ride out 3 to 6 hours of outage. */
export const MAX_TRIES = 13;
export const BASE_DELAY_MS = 30_000;
const MAX_DELAY_MS = 3_600_000;
/** The history keeps the first entry and the latest ones, this many in all. */
export const MAX_HISTORY = 20;
/**
 * A first try runs inside the request. Until it ends, the record waits with
 * its next try this far ahead, so an object restarted mid-try picks it up.
 */
export const FIRST_TRY_GRACE_MS = 30_000;

export function keyOf(job: Job): string {
  if ('refund' in job) return `ref:${job.refund.refund_id}`;
  if (job.conversion) return `con:${job.conversion.external_id}`;
  if (job.customer) return `cus:${job.customer.customer_id}`;
  throw new Error('empty job');
}

/** Refunds live beside their conversion, so one object can tell whether it was sent. */
export function shardKeyOf(job: Job): string {
  return 'refund' in job ? `con:${job.refund.external_id}` : keyOf(job);
}

function kindOf(job: Job): RecordKind {
  if ('refund' in job) return 'refund';
  return job.conversion ? 'conversion' : 'customer';
}

export function accepted(submission: Submission, now: number): LedgerRecord {
  const { job, source, signed, platformIds = [], gross } = submission;
  return {
    ...(gross === undefined ? {} : { gross }),
    key: keyOf(job),
    kind: kindOf(job),
    status: 'pending',
    source,
    signed,
    job,
    platform_ids: platformIds,
    accepted_at: now,
    updated_at: now,
    attempts: 0,
    series_tries: 0,
    next_try_at: now + FIRST_TRY_GRACE_MS,
    done_steps: [],
    history: [],
    refunded_amount: 0,
  };
}

/** An event answered without a postback: nothing to send, its reason kept. */
export function answered(event: Answered, now: number): LedgerRecord {
  const { status, reason, ...submission } = event;
  const record = accepted(submission, now);
  return withHistory({ ...record, status, reason, next_try_at: null }, { at: now, outcome: status, reason });
}

/**
 * Whether a record only says how an event was answered (answered() made it: never
 * tried), so a later event of its key replaces it. A refund kept or ignored after
 * its try has a reason too, and is not one: a replay of it is a duplicate.
 */
export function isAnswerOnly(record: LedgerRecord): boolean {
  return record.attempts === 0 && record.reason !== undefined && (record.status === 'unattributed' || record.status === 'ignored');
}

/**
 * The conversion a refund meets, of what its key holds: a record that only says
 * how an event was answered is none. Anyone may post an unattributed browser
 * conversion for a guessable order id, so its amount and currency decide nothing
 * about a refund (docs/reference.md, "Refunds").
 */
export function refundedConversion(record: LedgerRecord | undefined): LedgerRecord | undefined {
  return record && !isAnswerOnly(record) ? record : undefined;
}

/**
 * What a key holds once `next` arrives: an answer-only record gives way to
 * anything, keeping its history; an accepted record is never overwritten by an
 * answer (undefined: leave it). An accepted `next` over an accepted record never
 * gets here: that is a duplicate.
 */
export function replacedBy(previous: LedgerRecord | undefined, next: LedgerRecord): LedgerRecord | undefined {
  if (!previous) return next;
  if (!isAnswerOnly(previous)) return undefined;
  const history = [...previous.history, ...next.history];
  return { ...next, history: history.length > MAX_HISTORY ? [history[0], ...history.slice(-(MAX_HISTORY - 1))] : history };
}

/** The guard of every try: only a pending record is tried. */
export function canTry(record: LedgerRecord): boolean {
  return record.status === 'pending';
}

/** A try begins: counted, and pushed ahead so no other try starts while it runs. A record that is not pending is left as it is. */
export function tryStarted(record: LedgerRecord, now: number): LedgerRecord {
  if (!canTry(record)) return record;
  return { ...record, attempts: record.attempts + 1, series_tries: record.series_tries + 1, next_try_at: now + FIRST_TRY_GRACE_MS, updated_at: now };
}

export function stepDone(record: LedgerRecord, step: Step, now: number): LedgerRecord {
  return { ...record, done_steps: [...record.done_steps, step], updated_at: now };
}

/** The record after a try, given how it ended. Only a pending record's try ends: a sent one is never made pending again. */
export function tryFinished(record: LedgerRecord, outcome: TryOutcome, now: number, random = Math.random, baseDelayMs = BASE_DELAY_MS): LedgerRecord {
  if (!canTry(record)) return record;
  const base = { ...record, updated_at: now };
  switch (outcome.result) {
    case 'sent':
      // The step a try ends on is the job's last, the record's kind: every step before it was taken.
      return withHistory(
        { ...base, status: 'sent', next_try_at: null },
        { at: now, outcome: outcome.duplicate ? 'duplicate' : 'sent', step: record.kind, upstream_status: outcome.status },
      );
    case 'rejected':
      return withHistory(
        { ...base, status: 'dead', next_try_at: null },
        { at: now, outcome: 'rejected', step: outcome.step, upstream_status: outcome.status, message: outcome.message },
      );
    case 'retry': {
      const entry: Attempt = { at: now, outcome: 'retry', step: outcome.step, upstream_status: outcome.status, message: outcome.reason };
      if (record.series_tries >= MAX_TRIES) {
        return withHistory({ ...base, status: 'dead', next_try_at: null }, { ...entry, outcome: 'out_of_tries' });
      }
      const delay = Math.max(backoffMs(record.series_tries, random, baseDelayMs), (outcome.retryAfterSeconds ?? 0) * 1000);
      return withHistory({ ...base, status: 'pending', next_try_at: now + Math.ceil(delay) }, entry);
    }
    case 'hold':
      return refundHolds(record, now);
    default: {
      // A refund answered without a change at Tapfiliate says why, as an answered event does (docs/operations.md, "Console").
      const reason = outcome.result === 'unattributed' || outcome.result === 'ignored' ? REFUND_REASONS[outcome.result] : undefined;
      return withHistory({ ...withoutReason(base), ...(reason && { reason }), status: outcome.result, next_try_at: null }, {
        at: now,
        outcome: outcome.result,
        step: 'refund',
        message: outcome.message,
        reason,
      });
    }
  }
}

/** Why a refund's try ended `unattributed` (neither the ledger nor Tapfiliate holds its order: kept) or `ignored` (REFUNDS=ignore). */
const REFUND_REASONS = { unattributed: 'conversion_not_found', ignored: 'refunds_ignored' } as const;

/** A record whose status moves on from `unattributed` or `ignored` no longer shows why it was. */
function withoutReason(record: LedgerRecord): LedgerRecord {
  if (record.reason === undefined) return record;
  const { reason: _reason, ...rest } = record;
  return rest;
}

type RetryVerdict = { record: LedgerRecord } | { refused: 'already_sent' } | { refused: 'not_retryable'; status: 'reversed' | 'unattributed' | 'ignored' };

/**
 * An operator's retry: a dead record starts a new series of tries, a pending
 * one tries now. A sent record (or an adjusted one: it was sent) is never sent
 * again; a reversed or ignored one has nothing to send, and says so.
 */
export function retryRequested(record: LedgerRecord, now: number): RetryVerdict {
  if (record.status === 'sent' || record.status === 'adjusted') return { refused: 'already_sent' };
  if (record.status === 'reversed' || record.status === 'unattributed' || record.status === 'ignored') return { refused: 'not_retryable', status: record.status };
  const series_tries = record.status === 'dead' ? 0 : record.series_tries;
  return { record: withHistory({ ...record, status: 'pending', series_tries, next_try_at: now, updated_at: now }, { at: now, outcome: 'retry_requested' }) };
}

/**
 * What a refund's try does, given its conversion as this object holds it
 * (undefined: none; `busy`: the conversion's own try is running now):
 * `wait` until that try ends; of a conversion that has not reached Tapfiliate
 * (pending, or dead), only a full refund stops it (`reverse_unsent`: it never
 * will be), a partial one `hold`s until it is sent and then takes its share, as
 * if it had come after (docs/reference.md, "Refunds"); `already_reversed`; or
 * `run` the refund at Tapfiliate (delivery/refunds.ts).
 */
export function refundMeets(
  conversion: LedgerRecord | undefined,
  busy: boolean,
  refund: RefundJob['refund'],
): 'wait' | 'reverse_unsent' | 'hold' | 'already_reversed' | 'run' {
  // Busy: the conversion's own try, or another refund of the order, is running; this one plans from what it leaves.
  if (busy) return 'wait';
  if (conversion && (conversion.status === 'pending' || conversion.status === 'dead')) return isFullRefund(refund, conversion) ? 'reverse_unsent' : 'hold';
  if (conversion?.status === 'reversed') return 'already_reversed';
  return 'run';
}

/**
 * A refund whose lookup found its order nowhere, given the conversion its try
 * began with (`met`) and the one the ledger holds now. The lookup holds the order
 * busy, so a conversion that arrived meanwhile was accepted and not tried, and
 * found no kept refund (this one was still running): the refund is then decided
 * as if its conversion had come first (refundMeets), as a kept refund is when its
 * conversion arrives (keptRefundsOnArrival); a `run` or `wait` becomes a `retry`,
 * whose next try meets the conversion. Otherwise, or when it came in another
 * currency, it is `keep`: answered unattributed, and kept. A conversion the try
 * began with was looked up: Tapfiliate's answer stands.
 */
export function refundFoundNothing(
  met: LedgerRecord | undefined,
  arrived: LedgerRecord | undefined,
  busy: boolean,
  refund: RefundJob['refund'],
): 'keep' | 'reverse_unsent' | 'hold' | 'already_reversed' | 'retry' {
  if (met || !arrived || currencyRefused(arrived, refund)) return 'keep';
  const verdict = refundMeets(arrived, busy, refund);
  return verdict === 'run' || verdict === 'wait' ? 'retry' : verdict;
}

/** The amount of a conversion's job, when it has one. */
export function conversionAmount(conversion: LedgerRecord): number | undefined {
  return 'refund' in conversion.job ? undefined : conversion.job.conversion?.amount;
}

/** The currency of a conversion's job, when it names one. */
export function conversionCurrency(conversion: LedgerRecord): string | undefined {
  return 'refund' in conversion.job ? undefined : conversion.job.conversion?.currency;
}

/** Whether a refund takes the whole order back: it names no amount, or all that is left of an order whose amount the ledger holds. */
export function isFullRefund(refund: RefundJob['refund'], conversion: LedgerRecord | undefined): boolean {
  if (refund.amount === undefined) return true;
  const amount = conversion && conversionAmount(conversion);
  return amount !== undefined && Math.round(refund.amount * 100) >= Math.round((amount - conversion!.refunded_amount) * 100);
}

/**
 * A refund in another currency than its conversion's is refused when it
 * arrives (docs/reference.md, "Refunds"): the conversion's currency, or
 * undefined when both agree or either names none.
 */
export function currencyRefused(conversion: LedgerRecord | undefined, refund: RefundJob['refund']): string | undefined {
  const currency = conversion && conversionCurrency(conversion);
  return refund.currency && currency && refund.currency !== currency ? currency : undefined;
}

/** A refund holding for its conversion to be sent: pending, with no try due (the conversion's end of try starts it). */
export function refundHolds(refund: LedgerRecord, now: number): LedgerRecord {
  return withHistory(
    { ...withoutReason(refund), status: 'pending', next_try_at: null, updated_at: now },
    { at: now, outcome: 'retry', step: 'refund', message: 'holds until its conversion is sent' },
  );
}

/** A refund holding for its conversion (refundHolds): tried once the conversion is sent or stopped. */
export const isHeldRefund = (record: LedgerRecord) => record.kind === 'refund' && record.status === 'pending' && record.next_try_at === null;

/** Whether a conversion's end of try releases its held refunds: it was sent, or will never be. */
export const releasesRefunds = (conversion: LedgerRecord) => conversion.kind === 'conversion' && conversion.status !== 'pending' && conversion.status !== 'dead';

/** A refund answered `unattributed`: neither the ledger nor Tapfiliate held its order. It is kept for its conversion, until retention ends. */
export const isKeptRefund = (record: LedgerRecord) =>
  // A try ran and found no order: a record that only logs an answer (a refund naming no order, attempts 0) is never kept.
  record.kind === 'refund' && record.status !== 'pending' && record.attempts > 0 && record.history.at(-1)?.outcome === 'unattributed';

/**
 * A conversion accepted while refunds of its order were kept (they came first):
 * a full one means it is never sent (`reversed`, and the refund with it);
 * partial ones hold until it is sent. A kept refund in another currency is left
 * as it is.
 */
export function keptRefundsOnArrival(conversion: LedgerRecord, kept: LedgerRecord[], now: number): { conversion: LedgerRecord; refunds: LedgerRecord[] } {
  const matching = kept.filter((record) => currencyRefused(conversion, (record.job as RefundJob).refund) === undefined);
  const full = matching.find((record) => isFullRefund((record.job as RefundJob).refund, conversion));
  if (full) {
    const refund = withHistory(
      { ...withoutReason(full), status: 'reversed', next_try_at: null, updated_at: now },
      { at: now, outcome: 'reversed', step: 'refund', message: `applied to ${conversion.key} when it arrived: never sent` },
    );
    return { conversion: reversedBeforeSending(conversion, full.key, now), refunds: [refund] };
  }
  return { conversion, refunds: matching.map((record) => refundHolds(record, now)) };
}

/**
 * A refund given as a running total (Stripe's amount_refunded, Lemon Squeezy's
 * refunded_amount), and a refund with its own id of an order that has them:
 * what the order's refunds count in all is the larger of the running total and
 * the sum of its refunds with their own ids, so one refund seen both ways
 * (Stripe's refund.created and charge.refunded) counts once whichever comes
 * first, and a refund still pending is never counted twice. The refund's
 * amount is what that leaves beyond what the ledger accepted; a running total
 * keeps `refunded_total` on its record to be told apart. Null when nothing is
 * left (the money was counted already: a duplicate).
 */
export function cumulativeRefund(job: RefundJob, records: LedgerRecord[]): RefundJob | null {
  // Accepted refunds, kept ones included; an answer alone (one in another currency) counts nothing,
  // and neither does a refund kept in another currency than this one: it is no part of this total.
  const currency = job.refund.currency;
  const earlier = records
    .filter((record) => !isAnswerOnly(record))
    .map((record) => (record.job as RefundJob).refund)
    .filter((other) => !other.currency || !currency || other.currency === currency);
  const { refunded_total, ...refund } = job.refund;
  const totals = [...earlier, job.refund].flatMap((other) => (other.refunded_total === undefined ? [] : [thousandths(other.refunded_total)]));
  if (totals.length === 0) return job;
  if (earlier.some((other) => other.amount === undefined)) return null;
  // A full refund takes the rest, whatever was counted.
  if (refunded_total === undefined && refund.amount === undefined) return job;
  const counted = earlier.reduce((sum, other) => sum + thousandths(other.amount!), 0);
  const own = earlier.reduce((sum, other) => sum + (other.refunded_total === undefined ? thousandths(other.amount!) : 0), 0) + (refunded_total === undefined ? thousandths(refund.amount!) : 0);
  const left = Math.max(own, ...totals) - counted;
  return left > 0 ? { refund: { ...refund, amount: left / 1000, ...(refunded_total === undefined ? {} : { refunded_total }) } } : null;
}

const thousandths = (amount: number) => Math.round(amount * 1000);

/** A refund arrived before its conversion reached Tapfiliate: the conversion is never sent. */
export function reversedBeforeSending(conversion: LedgerRecord, refundKey: string, now: number): LedgerRecord {
  return withHistory({ ...conversion, status: 'reversed', next_try_at: null, updated_at: now }, { at: now, outcome: 'reversed', step: 'refund', message: `refunded by ${refundKey} before it was sent` });
}

/** A conversion after a refund went through at Tapfiliate. */
export function refundApplied(
  conversion: LedgerRecord,
  change: { status: 'reversed' | 'adjusted'; refunded_amount: number; commissions: Commission[] },
  refundKey: string,
  now: number,
): LedgerRecord {
  return withHistory(
    { ...conversion, status: change.status, refunded_amount: change.refunded_amount, commissions: conversion.commissions ?? change.commissions, updated_at: now },
    { at: now, outcome: change.status, step: 'refund', message: `by ${refundKey}` },
  );
}

/** What the request handler answers once delivery has the event. */
export type DeliveryResult =
  | { status: 'sent' | 'queued' | 'duplicate' | 'reversed' | 'adjusted' | 'unattributed' | 'ignored' }
  | { status: 'rejected'; upstreamStatus: number; message: string }
  /** A refund in another currency than its conversion's (currencyRefused): nothing recorded. */
  | { status: 'currency_mismatch'; currency: string }
  /** The ledger could not be reached: the caller is asked to send it again (a replay is then a duplicate at worst). */
  | { status: 'unavailable' };

export type RetryResult = DeliveryResult | { status: 'already_sent' } | { status: 'not_retryable'; record_status: 'reversed' | 'unattributed' | 'ignored' } | { status: 'not_found' };

/** The caller's answer after the inline try; undefined (the key vanished) is queued. */
export function answerOf(record: LedgerRecord | undefined): DeliveryResult {
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
    default:
      return { status: record.status };
  }
}

/** The ids an operator searches the logs and the ledger by: never the key's secret parts, the body or an IP. */
export function idsOf(record: LedgerRecord): { external_id?: string; customer_id?: string; refund_id?: string } {
  const job = record.job;
  if ('refund' in job) return { refund_id: job.refund.refund_id, external_id: job.refund.external_id };
  if (job.conversion) return { external_id: job.conversion.external_id, ...(job.conversion.customer_id !== undefined && { customer_id: job.conversion.customer_id }) };
  return { customer_id: job.customer!.customer_id };
}

/** Keeps the first entry and the latest ones: how it started and how it stands. */
function withHistory(record: LedgerRecord, entry: Attempt): LedgerRecord {
  const history = [...record.history, withoutUndefined(entry)];
  return { ...record, history: history.length > MAX_HISTORY ? [history[0], ...history.slice(-(MAX_HISTORY - 1))] : history };
}


/**
 * Exponential backoff with "equal jitter": half of each step fixed, half
 * random, so a fleet of failed jobs spreads out instead of hitting a
 * recovering Tapfiliate together.
 */
export function backoffMs(retry: number, random = Math.random, baseDelayMs = BASE_DELAY_MS): number {
  const step = Math.min(MAX_DELAY_MS, baseDelayMs * 2 ** Math.max(0, retry - 1));
  return step / 2 + random() * (step / 2);
}
