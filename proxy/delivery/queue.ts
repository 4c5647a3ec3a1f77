import type { Env } from '../env';
import { logLine } from '../log';
import { backoffDelay } from './backoff';
import { runLedgeredJob, type JobOutcome, type PostbackMessage } from './job';
import { ledgerEntry } from './ledger';
import { createPostbackSender } from './postback';

/**
 * Tries per message, the first included. Must equal `max_retries + 1` of the
 * consumer in wrangler.toml (a test checks): the last try logs the dead-letter
 * before the queue moves the message.
 */
export const MAX_TRIES = 13;

export interface PostbackBatchHandlerOptions {
  maxTries?: number;
  /** 30 s, 60 s, 2 min ... capped at an hour: 12 retries reach about 6 hours of outage before the DLQ. */
  baseDelaySeconds?: number;
  maxDelaySeconds?: number;
  /** Per postback; tests shorten it. */
  timeoutMs?: number;
  random?: () => number;
}

export type PostbackBatchHandler = (batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) => Promise<void>;

/**
 * The queue consumer: delivers each job (customer, then conversion) under the
 * ledger, acks what Tapfiliate has, and retries the rest with exponential
 * backoff until the last try, after which the queue dead-letters it.
 *
 * @example
 * export default { fetch: app.fetch, queue: createPostbackBatchHandler() };
 */
export function createPostbackBatchHandler(options: PostbackBatchHandlerOptions = {}): PostbackBatchHandler {
  const { maxTries = MAX_TRIES, baseDelaySeconds = 30, maxDelaySeconds = 3600, timeoutMs, random = Math.random } = options;

  return async function handlePostbackBatch(batch, env) {
    const send = createPostbackSender({ env, timeoutMs });

    async function handle(message: Message<unknown>): Promise<void> {
      const body = message.body as PostbackMessage;
      let outcome: JobOutcome;
      try {
        if (!body || typeof body.key !== 'string' || !body.job) throw new Error('message is not a postback job');
        outcome = await runLedgeredJob(body, { env, send, via: 'queue', attempt: message.attempts });
      } catch (error) {
        // Never dropped: an unexpected failure is retried like a 5xx and ends in the DLQ at worst.
        logLine('postback_consumer_error', { level: 'error', message_id: message.id, error: error instanceof Error ? error.message : 'unknown' });
        outcome = { result: 'retry', kind: body?.job?.conversion ? 'conversion' : 'customer', reason: 'consumer_error' };
      }

      switch (outcome.result) {
        case 'sent':
        case 'duplicate':
          message.ack();
          return;
        case 'already_sent':
          if (body.backup) logLine('postback_backup_acked', { key: body.key, message_id: message.id });
          else logLine('duplicate_suppressed', { stage: 'queue', key: body.key, message_id: message.id });
          message.ack();
          return;
      }

      // Not delivered this time: rejected, retryable, or held by another copy of the job.
      const kind = outcome.result === 'busy' ? undefined : outcome.kind;
      const reason =
        outcome.result === 'rejected' ? `rejected_${outcome.status}` : outcome.result === 'busy' ? 'in_flight_elsewhere' : outcome.reason;
      if (message.attempts >= maxTries) {
        if (env.POSTBACK_LEDGER && body?.key) await ledgerEntry(env.POSTBACK_LEDGER, body.key).advance('dead').catch(() => {});
        logLine('postback_dead_letter', {
          level: 'error',
          key: body?.key,
          kind,
          message_id: message.id,
          tries: message.attempts,
          reason,
          message: outcome.result === 'rejected' ? outcome.message : undefined,
        });
        message.retry();
        return;
      }
      let delaySeconds: number;
      if (outcome.result === 'busy') delaySeconds = Math.ceil(outcome.retryInMs / 1000);
      else {
        const backoff = backoffDelay(message.attempts, { baseMs: baseDelaySeconds * 1000, maxMs: maxDelaySeconds * 1000, random }) / 1000;
        const retryAfter = outcome.result === 'retry' ? (outcome.retryAfterSeconds ?? 0) : 0;
        delaySeconds = Math.ceil(Math.max(backoff, retryAfter));
      }
      logLine('postback_retry_scheduled', { key: body?.key, kind, attempt: message.attempts, delay_seconds: delaySeconds, reason });
      message.retry({ delaySeconds });
    }

    await Promise.all(batch.messages.map(handle));
  };
}
