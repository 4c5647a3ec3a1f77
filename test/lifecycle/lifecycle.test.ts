// The record's state machine (proxy/delivery/lifecycle.ts) alone, in Node: every row of the table
// at the top of that file, and its invariants under generated sequences of events.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accepted,
  answered,
  answerOf,
  backoffMs,
  isAnswerOnly,
  canTry,
  FIRST_TRY_GRACE_MS,
  keyOf,
  MAX_HISTORY,
  MAX_TRIES,
  refundApplied,
  refundMeets,
  replacedBy,
  retryRequested,
  reversedBeforeSending,
  shardKeyOf,
  stepDone,
  tryFinished,
  tryStarted,
  type LedgerRecord,
  type TryOutcome,
} from '../../proxy/delivery/lifecycle';

const NOW = 1_800_000_000_000;
const conversion = (id = 'ORD1') => accepted({ job: { conversion: { external_id: id, amount: 10, referral_code: 'anna' } }, source: 'browser', signed: false }, NOW);
const retry: TryOutcome = { result: 'retry', step: 'conversion', status: 503, reason: 'http_503' };
const half = () => 0.5;

describe('keys', () => {
  it('con:, cus: and ref: keys; a refund lives with its conversion', () => {
    expect(keyOf({ conversion: { external_id: 'A' } })).toBe('con:A');
    expect(keyOf({ customer: { customer_id: 'C' } })).toBe('cus:C');
    const refund = { refund: { refund_id: 're_1', external_id: 'A' } };
    expect(keyOf(refund)).toBe('ref:re_1');
    expect(shardKeyOf(refund)).toBe('con:A');
  });
});

describe('the table, row by row', () => {
  it('accepted: pending, nothing tried, the first try pushed a grace period ahead', () => {
    expect(conversion()).toMatchObject({ status: 'pending', attempts: 0, next_try_at: NOW + FIRST_TRY_GRACE_MS, history: [], done_steps: [] });
  });

  it('sent: final, no next try, its history says sent (or duplicate when Tapfiliate had it)', () => {
    const sent = tryFinished(tryStarted(conversion(), NOW), { result: 'sent', duplicate: true, status: 422 }, NOW + 5);
    expect(sent).toMatchObject({ status: 'sent', next_try_at: null, attempts: 1 });
    // The entry names the step the try ended on: the job's last.
    expect(sent.history).toEqual([{ at: NOW + 5, outcome: 'duplicate', step: 'conversion', upstream_status: 422 }]);
    expect(retryRequested(sent, NOW)).toEqual({ refused: 'already_sent' });
  });

  it('answered without a postback: unattributed or ignored with its reason, never tried, never retried', () => {
    const job = { conversion: { external_id: 'ORD9', amount: 0 } };
    const record = answered({ job, source: 'server', signed: false, status: 'ignored', reason: 'zero_amount' }, NOW);
    expect(record).toMatchObject({ key: 'con:ORD9', status: 'ignored', reason: 'zero_amount', next_try_at: null, attempts: 0 });
    expect(record.history).toEqual([{ at: NOW, outcome: 'ignored', reason: 'zero_amount' }]);
    expect(canTry(record)).toBe(false);
    expect(isAnswerOnly(record)).toBe(true);
    expect(retryRequested(record, NOW)).toEqual({ refused: 'not_retryable', status: 'ignored' });
    expect(answerOf(answered({ job, source: 'server', signed: false, status: 'unattributed', reason: 'no_attribution' }, NOW))).toEqual({ status: 'unattributed' });
  });

  it('an answer gives way to a later accepted event, which keeps its history; it never overwrites an accepted record', () => {
    const first = answered({ job: { conversion: { external_id: 'ORD1' } }, source: 'server', signed: false, status: 'unattributed', reason: 'no_attribution' }, NOW);
    const again = replacedBy(first, answered({ job: { conversion: { external_id: 'ORD1' } }, source: 'server', signed: false, status: 'ignored', reason: 'zero_amount' }, NOW + 1))!;
    expect(again).toMatchObject({ status: 'ignored', reason: 'zero_amount' });
    expect(again.history.map((entry) => entry.outcome)).toEqual(['unattributed', 'ignored']);
    const accepting = replacedBy(again, conversion())!;
    expect(accepting).toMatchObject({ status: 'pending', accepted_at: NOW });
    expect(accepting.reason).toBeUndefined();
    expect(accepting.history.map((entry) => entry.outcome)).toEqual(['unattributed', 'ignored']);
    expect(isAnswerOnly(accepting)).toBe(false);
    expect(replacedBy(accepting, first)).toBeUndefined();
    expect(replacedBy(undefined, first)).toBe(first);
    // A refund's own unattributed outcome is not an answer-only record: a repeated refund stays a duplicate.
    const refund = accepted({ job: { refund: { refund_id: 're_1', external_id: 'X' } }, source: 'stripe', signed: true }, NOW);
    expect(isAnswerOnly(tryFinished(tryStarted(refund, NOW), { result: 'unattributed' }, NOW))).toBe(false);
  });

  it('refused: dead at once, keeping the job and the step and message', () => {
    const dead = tryFinished(tryStarted(conversion(), NOW), { result: 'rejected', step: 'conversion', status: 401, message: 'Invalid key' }, NOW);
    expect(dead).toMatchObject({ status: 'dead', next_try_at: null, job: conversion().job });
    expect(dead.history.at(-1)).toMatchObject({ outcome: 'rejected', upstream_status: 401, message: 'Invalid key' });
  });

  it('retry with tries left: pending, next try after the backoff and never before Retry-After', () => {
    const once = tryFinished(tryStarted(conversion(), NOW), retry, NOW, half);
    expect(once.status).toBe('pending');
    expect(once.next_try_at).toBe(NOW + backoffMs(1, half));
    const patient = tryFinished(tryStarted(conversion(), NOW), { ...retry, retryAfterSeconds: 900 }, NOW, half);
    expect(patient.next_try_at).toBe(NOW + 900_000);
  });

  it(`retry with none left: dead after ${MAX_TRIES} tries, out_of_tries`, () => {
    let record = conversion();
    for (let i = 0; i < MAX_TRIES; i++) record = tryFinished(tryStarted(record, NOW), retry, NOW, half);
    expect(record).toMatchObject({ status: 'dead', attempts: MAX_TRIES });
    expect(record.history.at(-1)!.outcome).toBe('out_of_tries');
  });

  it("operator's retry: a dead record starts a new series now; a pending one tries now", () => {
    let record = conversion();
    for (let i = 0; i < MAX_TRIES; i++) record = tryFinished(tryStarted(record, NOW), retry, NOW, half);
    const verdict = retryRequested(record, NOW + 1);
    expect(verdict).toMatchObject({ record: { status: 'pending', series_tries: 0, next_try_at: NOW + 1, attempts: MAX_TRIES } });
    const pending = tryFinished(tryStarted(conversion(), NOW), retry, NOW, half);
    expect(retryRequested(pending, NOW + 2)).toMatchObject({ record: { status: 'pending', series_tries: 1, next_try_at: NOW + 2 } });
  });

  it('only a pending record is tried: a try never starts or ends on a sent, dead, reversed or ignored one', () => {
    const sent = tryFinished(tryStarted(conversion(), NOW), { result: 'sent', duplicate: false }, NOW);
    expect(canTry(sent)).toBe(false);
    expect(tryStarted(sent, NOW + 1)).toBe(sent);
    expect(tryFinished(sent, retry, NOW + 1, half)).toBe(sent);
    const dead = tryFinished(tryStarted(conversion(), NOW), { result: 'rejected', step: 'conversion', status: 401, message: 'no' }, NOW);
    expect(tryFinished(dead, { result: 'sent', duplicate: false }, NOW + 1)).toBe(dead);
  });

  it("operator's retry of a reversed or ignored record: not_retryable with its status, not already_sent", () => {
    const reversed = reversedBeforeSending(conversion(), 'ref:re_1', NOW);
    expect(retryRequested(reversed, NOW)).toEqual({ refused: 'not_retryable', status: 'reversed' });
    expect(retryRequested({ ...reversed, status: 'ignored' }, NOW)).toEqual({ refused: 'not_retryable', status: 'ignored' });
    const sent = tryFinished(tryStarted(conversion(), NOW), { result: 'sent', duplicate: false }, NOW);
    expect(retryRequested(refundApplied(sent, { status: 'adjusted', refunded_amount: 1, commissions: [] }, 'ref:a', NOW), NOW)).toEqual({ refused: 'already_sent' });
  });

  it('a refund meets its conversion: waits while it is being tried, a full one reverses it unsent when pending or dead, a partial one holds, else runs at Tapfiliate', () => {
    const pending = conversion();
    const dead = tryFinished(tryStarted(conversion(), NOW), { result: 'rejected', step: 'conversion', status: 401, message: 'no' }, NOW);
    const sent = tryFinished(tryStarted(conversion(), NOW), { result: 'sent', duplicate: false }, NOW);
    const full = { refund_id: 're_1', external_id: 'ORD1' };
    const partial = { ...full, amount: 0.01 };
    expect(refundMeets(pending, true, full)).toBe('wait');
    expect(refundMeets(pending, false, full)).toBe('reverse_unsent');
    expect(refundMeets(dead, false, full)).toBe('reverse_unsent');
    expect(refundMeets(pending, false, partial)).toBe('hold');
    expect(refundMeets(dead, false, partial)).toBe('hold');
    expect(refundMeets(pending, false, { ...full, amount: 10 })).toBe('reverse_unsent');
    expect(refundMeets(reversedBeforeSending(pending, 'ref:x', NOW), false, partial)).toBe('already_reversed');
    expect(refundMeets(sent, false, partial)).toBe('run');
    expect(refundMeets(undefined, false, full)).toBe('run');
  });

  it('a refund of a pending conversion reverses it: never sent', () => {
    expect(reversedBeforeSending(conversion(), 'ref:re_1', NOW)).toMatchObject({ status: 'reversed', next_try_at: null });
  });

  it('a refund applied keeps the first commissions it saw, so partial refunds never compound', () => {
    const sent = tryFinished(tryStarted(conversion(), NOW), { result: 'sent', duplicate: false }, NOW);
    const first = refundApplied(sent, { status: 'adjusted', refunded_amount: 3, commissions: [{ id: 'c1', amount: 1 }] }, 'ref:a', NOW);
    const second = refundApplied(first, { status: 'adjusted', refunded_amount: 5, commissions: [{ id: 'c1', amount: 0.7 }] }, 'ref:b', NOW);
    expect(second).toMatchObject({ status: 'adjusted', refunded_amount: 5, commissions: [{ id: 'c1', amount: 1 }] });
  });

  it('a step done is kept, so a retry resumes after it', () => {
    expect(stepDone(conversion(), 'customer', NOW).done_steps).toEqual(['customer']);
  });
});

describe('invariants under any sequence of tries', () => {
  const outcome = fc.oneof(
    fc.constant<TryOutcome>(retry),
    fc.constant<TryOutcome>({ result: 'sent', duplicate: false, status: 200 }),
    fc.constant<TryOutcome>({ result: 'rejected', step: 'conversion', status: 422, message: 'no' }),
    fc.integer({ min: 0, max: 7200 }).map<TryOutcome>((seconds) => ({ ...retry, retryAfterSeconds: seconds })),
  );
  it('sent stays sent (tries called in every state), history is at most 20 with the first entry kept, and no try is scheduled before now', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(outcome, fc.boolean()), { minLength: 1, maxLength: 60 }), (steps) => {
        let record: LedgerRecord = conversion();
        let now = NOW;
        let first: unknown;
        let everSent = false;
        for (const [next, operator] of steps) {
          now += 1000;
          if (operator) {
            const verdict = retryRequested(record, now);
            if ('record' in verdict) record = verdict.record;
            else expect(record.status).toBe('sent');
          }
          if (everSent) expect(record.status).toBe('sent');
          // The transitions are called in every state: on a record that is not pending, a try neither starts nor ends.
          const before = record;
          record = tryFinished(tryStarted(record, now), next, now, Math.random);
          if (before.status !== 'pending') {
            expect(record).toBe(before);
            continue;
          }
          first ??= record.history[0];
          everSent ||= record.status === 'sent';
          expect(record.history.length).toBeLessThanOrEqual(MAX_HISTORY);
          expect(record.history[0]).toEqual(first);
          if (record.status === 'pending') expect(record.next_try_at!).toBeGreaterThan(now);
          else expect(record.next_try_at).toBeNull();
        }
      }),
    );
  });

  it('backoff: 15–30 s first, doubling, never above an hour', () => {
    expect(backoffMs(1, () => 0)).toBe(15_000);
    expect(backoffMs(1, () => 1)).toBe(30_000);
    expect(backoffMs(20, () => 1)).toBe(3_600_000);
  });
});
