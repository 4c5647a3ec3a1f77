import type { Env } from '../env';
import { logLine } from '../log';
import { customerLedgerKey, ledgerEntry } from './ledger';
import type { PostbackKind, SendPostback } from './postback';
import { bodyOf, idFields, logAttempt, stepsOf } from './steps';
import type { PostbackJob } from './types';

/** What a queue message carries: the job and the ledger key that guards it. */
export interface PostbackMessage {
  key: string;
  job: PostbackJob;
  /** This copy backs up an inline try; finding the job sent is then expected, not a duplicate. */
  backup?: boolean;
}

/**
 * Longer than one job can take (two postbacks of at most 5 s each, plus ledger
 * calls), so an attempt never loses its lease while still running.
 */
export const LEASE_MS = 30_000;

export type JobOutcome =
  | { result: 'sent' | 'duplicate' }
  | { result: 'already_sent' }
  | { result: 'busy'; retryInMs: number }
  | { result: 'rejected'; kind: PostbackKind; status: number; message: string }
  | { result: 'retry'; kind: PostbackKind; reason: string; retryAfterSeconds?: number };

export interface RunJobOptions {
  env: Env;
  send: SendPostback;
  via: 'inline' | 'queue';
  /** The try number logged with each postback. */
  attempt: number;
}

/**
 * Runs the job's remaining postbacks under the ledger's lease: the customer
 * postback first (skipped when this job or any earlier one already delivered
 * that customer_id), then the conversion. Records each success, so a retry
 * resumes where this one stopped and a sent job is never posted again.
 */
export async function runLedgeredJob({ key, job }: PostbackMessage, options: RunJobOptions): Promise<JobOutcome> {
  const { env, send, via, attempt } = options;
  if (!env.POSTBACK_LEDGER) throw new Error('POSTBACK_LEDGER is not bound');
  const primary = ledgerEntry(env.POSTBACK_LEDGER, key);
  const claim = await primary.claim(LEASE_MS);
  if (claim.state === 'sent') return { result: 'already_sent' };
  if (!claim.granted) return { result: 'busy', retryInMs: claim.retryInMs };

  let result: 'sent' | 'duplicate' = 'sent';
  for (const kind of stepsOf(job)) {
    const body = bodyOf(job, kind);
    // A conversion job also records its customer under the customer's own key.
    const customerLedger = kind === 'customer' && job.conversion ? ledgerEntry(env.POSTBACK_LEDGER, customerLedgerKey(body.customer_id as string)) : undefined;
    if (kind === 'customer') {
      if (claim.state === 'customer_done') continue;
      if (customerLedger && (await customerLedger.state()) === 'sent') {
        logLine('postback_skipped', { via, kind, ...idFields(kind, body), reason: 'customer_already_sent' });
        await primary.advance('customer_done');
        continue;
      }
    }
    const sent = await send(kind, body);
    logAttempt(via, kind, body, attempt, sent);
    const { outcome } = sent;
    if (outcome.result === 'retry' || outcome.result === 'rejected') {
      await primary.release();
      return { ...outcome, kind };
    }
    if (outcome.result === 'duplicate') result = 'duplicate';
    if (customerLedger) {
      await customerLedger.advance('sent');
      await primary.advance('customer_done');
    }
  }
  await primary.advance('sent');
  return { result };
}
