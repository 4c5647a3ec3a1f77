// A record as the operator API shows it (docs/reference.md, "Routes and answers"): ids,
// amounts, identifiers, the reason of an event answered without a postback, the job as
// it is sent (its IP masked) and the history. Never the key: a job does not hold it.
import { IDENTIFIER_FIELDS } from '../events/schema';
import { truncateIp } from '../lib/log';
import { withoutUndefined } from '../lib/plain';
import type { PostbackJob } from '../tapfiliate';
import { isAnswerOnly, type Attempt, type EventSource, type LedgerRecord, type RecordKind, type RecordStatus, type RefundJob } from './lifecycle';

interface LedgerEventAttempt {
  at: string;
  outcome: Attempt['outcome'];
  step?: Attempt['step'];
  upstream_status?: number;
  message?: string;
  reason?: string;
}

export interface LedgerEvent {
  key: string;
  kind: RecordKind;
  status: RecordStatus;
  source: EventSource;
  signed: boolean;
  /** Why an `unattributed` or `ignored` event was answered without a postback. */
  reason?: string;
  external_id?: string;
  customer_id?: string;
  refund_id?: string;
  amount?: number;
  currency?: string;
  identifiers: Record<string, string>;
  accepted_at: string;
  updated_at: string;
  attempts: number;
  next_try_at?: string;
  last?: LedgerEventAttempt;
  refunded_amount?: number;
  /** The postbacks (or the refund) as they are sent, by step; only with the history. */
  job?: PostbackJob | RefundJob;
  /** What the buyer paid in all for a platform order (tax and shipping included), when the platform said. */
  gross?: number;
  history?: LedgerEventAttempt[];
}

export function eventView(record: LedgerRecord, withHistory: boolean): LedgerEvent {
  const job = record.job;
  const fields: Partial<LedgerEvent> = {};
  if ('refund' in job) {
    Object.assign(fields, { refund_id: job.refund.refund_id, external_id: job.refund.external_id, amount: job.refund.amount, currency: job.refund.currency });
  } else {
    const postback = (job as PostbackJob).conversion ?? (job as PostbackJob).customer!;
    const conversion = (job as PostbackJob).conversion;
    Object.assign(fields, {
      external_id: conversion?.external_id,
      customer_id: postback.customer_id,
      amount: conversion?.amount,
      currency: conversion?.currency,
    });
    const identifiers: Record<string, string> = {};
    for (const field of IDENTIFIER_FIELDS) {
      const value = (postback as unknown as Record<string, unknown>)[field];
      if (typeof value === 'string') identifiers[field] = value;
    }
    fields.identifiers = identifiers;
  }
  const last = record.history.at(-1);
  const view: LedgerEvent = {
    key: record.key,
    kind: record.kind,
    status: record.status,
    source: record.source,
    signed: record.signed,
    ...(record.reason !== undefined && { reason: record.reason }),
    ...fields,
    identifiers: fields.identifiers ?? {},
    accepted_at: iso(record.accepted_at),
    updated_at: iso(record.updated_at),
    attempts: record.attempts,
    ...(record.status === 'pending' && record.next_try_at !== null && { next_try_at: iso(record.next_try_at) }),
    ...(last && { last: attemptView(last) }),
    ...(record.kind === 'conversion' && record.refunded_amount > 0 && { refunded_amount: record.refunded_amount }),
    // An answer-only record's job was never going to be sent; a refund kept or ignored after its try shows its own.
    ...(withHistory && !isAnswerOnly(record) && { job: jobView(record) }),
    ...(record.gross !== undefined && { gross: record.gross }),
    ...(withHistory && { history: record.history.map(attemptView) }),
  };
  return withoutUndefined(view);
}

/** Each step's body as it goes to Tapfiliate, the shopper's IP cut to its network. */
function jobView(record: LedgerRecord): PostbackJob | RefundJob {
  const job = record.job;
  if ('refund' in job) return job;
  const masked = <Body extends { ip?: string }>(body: Body | undefined) => body && (body.ip === undefined ? body : { ...body, ip: truncateIp(body.ip) });
  return withoutUndefined({ customer: masked(job.customer), conversion: masked(job.conversion) });
}

function attemptView(attempt: Attempt): LedgerEventAttempt {
  return { ...attempt, at: iso(attempt.at) };
}

const iso = (ms: number) => new Date(ms).toISOString();
