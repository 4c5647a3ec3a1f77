// Exactly-once delivery (docs/operations.md, "Delivery"): every job is recorded
// in the ledger and put on the queue in one ledger call, then tried once
// inline; the queue consumer retries what is left, under the ledger's lease.
import { apiKeyOf, upstreamUrlsOf } from '../config';
import { logLine } from '../log';
import { sendPostback, stepsOf, type PostbackJob, type PostbackKind, type PostbackOutcome } from '../tapfiliate';
import { customerLedgerKey, ledgerEntry, ledgerKey, type LedgerEntry, type PostbackMessage } from './ledger';

export { PostbackLedger, ledgerEntry } from './ledger';

/** What the request handler answers once delivery has the job. */
export type DeliveryResult =
  | { status: 'sent' | 'queued' | 'duplicate' }
  | { status: 'rejected'; upstreamStatus: number; message: string }
  /** The queue refused the job: nothing was recorded, and the browser keeps it. */
  | { status: 'unavailable' };

/** The one seam between the HTTP surface and how postbacks reach Tapfiliate; tests pass a recording fake. */
export interface Delivery {
  submit(job: PostbackJob): Promise<DeliveryResult>;
}

/** Undefined when the bindings are missing: there is no delivery without the ledger. */
export type CreateDelivery = (env: Env, ctx: ExecutionContext) => Delivery | undefined;

/**
 * The queued copy waits this long, so it reaches the consumer after the inline
 * try has finished (and then finds the job sent) instead of racing it.
 */
export const INLINE_GRACE_SECONDS = 30;

/**
 * Longer than one job can take (two postbacks of at most 5 s each, plus ledger
 * calls), so an attempt never loses its lease while still running.
 */
export const LEASE_MS = 30_000;

/**
 * Tries per message, the first included. Must equal `max_retries + 1` of the
 * consumer in wrangler.toml (a test checks): the last try logs the dead-letter
 * before the queue moves the message.
 */
export const MAX_TRIES = 13;

export interface DeliveryOptions {
  /** Seconds the backup message waits; tests shorten it. */
  queueDelaySeconds?: number;
  /** Per postback. */
  timeoutMs?: number;
}

/**
 * Durable delivery: the ledger records the id and enqueues the job before
 * anything is sent, so neither an evicted isolate nor a Tapfiliate outage
 * loses it; then one inline try may deliver it at once.
 *
 * @example
 * const result = await createDelivery(env, ctx)?.submit(job); // sent | queued | duplicate | rejected | unavailable
 */
export function createDelivery(env: Env, _ctx: ExecutionContext, options: DeliveryOptions = {}): Delivery | undefined {
  const { queueDelaySeconds = INLINE_GRACE_SECONDS, timeoutMs } = options;
  if (!env.POSTBACK_QUEUE || !env.POSTBACK_LEDGER) return undefined;
  return {
    async submit(job) {
      const key = ledgerKey(job);
      const message: PostbackMessage = { key, job, backup: true };
      const entry = await ledgerEntry(env.POSTBACK_LEDGER, apiKeyOf(env) ?? '', key);
      let accepted: { fresh: boolean; state: string };
      try {
        accepted = await entry.accept(message, queueDelaySeconds, LEASE_MS);
      } catch (error) {
        logLine('queue_send_failed', { level: 'error', key, error: error instanceof Error ? error.message : 'unknown' });
        return { status: 'unavailable' };
      }
      if (!accepted.fresh) {
        logLine('duplicate_suppressed', { stage: 'request', key, state: accepted.state });
        return { status: 'duplicate' };
      }
      let outcome: JobOutcome;
      try {
        outcome = await runJob(message, { env, via: 'inline', attempt: 1, timeoutMs, leased: true });
      } catch (error) {
        // Recorded and queued already: the backup copy delivers it.
        logLine('inline_attempt_failed', { level: 'error', key, error: error instanceof Error ? error.message : 'unknown' });
        return { status: 'queued' };
      }
      switch (outcome.result) {
        case 'sent':
        case 'duplicate':
          return { status: outcome.result };
        case 'rejected':
          // Straight to the DLQ; the backup copy, made before this, then finds it dead-lettered and is acked.
          await deadLetter(env, entry, { key, job }, { via: 'inline', kind: outcome.kind, tries: 1, reason: `rejected_${outcome.status}`, message: outcome.message });
          return { status: 'rejected', upstreamStatus: outcome.status, message: outcome.message };
        default:
          return { status: 'queued' };
      }
    },
  };
}

export type JobOutcome =
  | { result: 'sent' | 'duplicate' }
  | { result: 'already_sent' }
  /** This queue copy predates the job's move to the DLQ. */
  | { result: 'already_dead' }
  | { result: 'busy'; retryInMs: number }
  | { result: 'rejected'; kind: PostbackKind; status: number; message: string }
  | { result: 'retry'; kind: PostbackKind; reason: string; retryAfterSeconds?: number };

interface RunJobOptions {
  env: Env;
  via: 'inline' | 'queue';
  /** The try number logged with each postback. */
  attempt: number;
  timeoutMs?: number;
  /** The caller already holds the lease (the inline try, from accept). */
  leased?: boolean;
  /** When the queue message was made (ms), so a copy that predates a dead-letter is not sent again. */
  madeAt?: number;
}

/**
 * Runs the job's remaining postbacks under the ledger's lease: the customer
 * postback first (skipped when this job or an earlier one already delivered
 * that customer_id), then the conversion. Records each success, so a retry
 * resumes where this one stopped and a sent job is never posted again.
 */
export async function runJob({ key, job }: PostbackMessage, options: RunJobOptions): Promise<JobOutcome> {
  const { env, via, attempt, timeoutMs, leased = false, madeAt } = options;
  const apiKey = apiKeyOf(env) ?? '';
  const urls = upstreamUrlsOf(env);
  const primary = await ledgerEntry(env.POSTBACK_LEDGER, apiKey, key);
  let state: string = 'accepted';
  if (!leased) {
    const claim = await primary.claim(LEASE_MS, madeAt);
    if (claim.state === 'sent') return { result: 'already_sent' };
    if ('stale' in claim) return { result: 'already_dead' };
    if (!claim.granted) return { result: 'busy', retryInMs: claim.retryInMs };
    state = claim.state;
  }

  let result: 'sent' | 'duplicate' = 'sent';
  for (const kind of stepsOf(job)) {
    const body = job[kind]!;
    const ids = idFields(kind, job);
    // A conversion job also records its customer under the customer's own key.
    const customerEntry =
      kind === 'customer' && job.conversion ? await ledgerEntry(env.POSTBACK_LEDGER, apiKey, customerLedgerKey(job.customer!.customer_id)) : undefined;
    if (kind === 'customer') {
      if (state === 'customer_done') continue;
      if (customerEntry && (await customerEntry.state()) === 'sent') {
        logLine('postback_skipped', { via, kind, ...ids, reason: 'customer_already_sent' });
        await primary.advance('customer_done');
        continue;
      }
    }
    const started = Date.now();
    const outcome = await sendPostback(kind, body, { url: urls[kind], apiKey, timeoutMs });
    logAttempt(via, kind, ids, attempt, outcome, Date.now() - started);
    if (outcome.result === 'retry' || outcome.result === 'rejected') {
      await primary.release();
      return { ...outcome, kind };
    }
    if (outcome.result === 'duplicate') result = 'duplicate';
    if (customerEntry) {
      await customerEntry.advance('sent');
      await primary.advance('customer_done');
    }
  }
  await primary.advance('sent');
  return { result };
}

/** The id an operator searches the logs by: the external_id of a conversion, the customer_id of a customer. */
function idFields(kind: PostbackKind, job: PostbackJob): Record<string, string> {
  return kind === 'conversion' ? { external_id: job.conversion!.external_id } : { customer_id: job.customer!.customer_id };
}

/** One line per upstream attempt. Carries ids, never the key, the body or an IP. */
function logAttempt(via: string, kind: PostbackKind, ids: Record<string, string>, attempt: number, outcome: PostbackOutcome, ms: number) {
  logLine('postback_attempt', {
    via,
    kind,
    ...ids,
    attempt,
    result: outcome.result,
    upstream_status: 'status' in outcome ? outcome.status : undefined,
    reason: outcome.result === 'retry' ? outcome.reason : undefined,
    message: outcome.result === 'rejected' ? outcome.message : undefined,
    ms,
  });
}

/**
 * Exponential backoff with "equal jitter": half of each step fixed, half
 * random, so a fleet of failed jobs spreads out instead of hitting a
 * recovering Tapfiliate together.
 */
export function backoffSeconds(retry: number, baseSeconds: number, maxSeconds: number, random = Math.random): number {
  const step = Math.min(maxSeconds, baseSeconds * 2 ** Math.max(0, retry - 1));
  return step / 2 + random() * (step / 2);
}

/** Retries back off from 30 s, doubling, to at most an hour: 12 retries ride out about 6 hours of outage before the DLQ. */
const BASE_DELAY_SECONDS = 30;
const MAX_DELAY_SECONDS = 3600;

export interface ConsumerOptions {
  /** The first retry's delay; the end-to-end suite shortens it. */
  baseDelaySeconds?: number;
  timeoutMs?: number;
  random?: () => number;
}

/**
 * The queue consumer: delivers each job under the ledger, acks what Tapfiliate
 * has, dead-letters at once what it refused, and retries the rest with backoff
 * until the last try, after which the queue moves it to the DLQ.
 *
 * @example
 * export default { fetch: app.fetch, queue: createConsumer() };
 */
export function createConsumer(options: ConsumerOptions = {}) {
  const { baseDelaySeconds = BASE_DELAY_SECONDS, timeoutMs, random = Math.random } = options;

  return async function handlePostbackBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
    async function handle(message: Message<unknown>): Promise<void> {
      const body = message.body as PostbackMessage;
      let outcome: JobOutcome;
      try {
        if (!body || typeof body.key !== 'string' || !body.job) throw new Error('message is not a postback job');
        outcome = await runJob(body, { env, via: 'queue', attempt: message.attempts, timeoutMs, madeAt: message.timestamp.getTime() });
      } catch (error) {
        // Never dropped: an unexpected failure is retried like a 5xx and ends in the DLQ at worst.
        logLine('postback_consumer_error', { level: 'error', message_id: message.id, error: error instanceof Error ? error.message : 'unknown' });
        outcome = { result: 'retry', kind: body?.job?.conversion ? 'conversion' : 'customer', reason: 'consumer_error' };
      }

      if (outcome.result === 'sent' || outcome.result === 'duplicate') return message.ack();
      if (outcome.result === 'already_sent') {
        if (body.backup) logLine('postback_backup_acked', { key: body.key, message_id: message.id });
        else logLine('duplicate_suppressed', { stage: 'queue', key: body.key, message_id: message.id });
        return message.ack();
      }

      if (outcome.result === 'already_dead') {
        logLine('postback_backup_acked', { key: body.key, message_id: message.id, state: 'dead' });
        return message.ack();
      }
      if (outcome.result !== 'busy' && outcome.result !== 'rejected' && outcome.result !== 'retry') return message.ack();
      const kind = outcome.result === 'busy' ? undefined : outcome.kind;
      const reason =
        outcome.result === 'rejected' ? `rejected_${outcome.status}` : outcome.result === 'busy' ? 'in_flight_elsewhere' : outcome.reason;
      const entry = await ledgerEntry(env.POSTBACK_LEDGER, apiKeyOf(env) ?? '', body.key);
      const details = { via: 'queue', kind, tries: message.attempts, reason, message: outcome.result === 'rejected' ? outcome.message : undefined };
      // A refusal will not change by asking again with the merchant's key: straight to the DLQ.
      if (outcome.result === 'rejected') {
        await deadLetter(env, entry, { key: body.key, job: body.job }, details);
        return message.ack();
      }
      if (message.attempts >= MAX_TRIES) {
        // With no retries left, the queue itself moves the retried message to the DLQ.
        await entry.advance('dead').catch(() => {});
        logLine('postback_dead_letter', { level: 'error', key: body.key, message_id: message.id, ...details });
        return message.retry();
      }
      let delaySeconds: number;
      if (outcome.result === 'busy') delaySeconds = Math.ceil(outcome.retryInMs / 1000);
      else {
        const retryAfter = outcome.result === 'retry' ? (outcome.retryAfterSeconds ?? 0) : 0;
        delaySeconds = Math.ceil(Math.max(backoffSeconds(message.attempts, baseDelaySeconds, MAX_DELAY_SECONDS, random), retryAfter));
      }
      logLine('postback_retry_scheduled', { key: body.key, kind, attempt: message.attempts, delay_seconds: delaySeconds, reason });
      message.retry({ delaySeconds });
    }

    await Promise.all(batch.messages.map(handle));
  };
}

/**
 * Puts a refused job on the dead-letter queue now, rather than after a dozen
 * more tries with the key, and marks it dead: copies made before this are
 * acked unsent, while a copy re-driven from the DLQ later is tried again.
 */
async function deadLetter(env: Env, entry: LedgerEntry, message: PostbackMessage, details: Record<string, unknown>): Promise<void> {
  await env.POSTBACK_DLQ.send(message);
  await entry.advance('dead');
  logLine('postback_dead_letter', { level: 'error', key: message.key, ...details });
}
