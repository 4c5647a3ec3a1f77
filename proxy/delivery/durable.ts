import type { Env } from '../env';
import { logLine } from '../log';
import { createInlineDelivery } from './inline';
import { runLedgeredJob, type PostbackMessage } from './job';
import { ledgerKey, ledgerEntry } from './ledger';
import { createPostbackSender, type SendPostback } from './postback';
import type { Delivery, DeliveryResult, PostbackJob } from './types';

/**
 * The queued copy waits this long, so it reaches the consumer after the inline
 * try has finished (and then finds the job sent) instead of racing it.
 */
export const INLINE_GRACE_SECONDS = 30;

export interface DurableDeliveryOptions {
  env: Env;
  ctx: ExecutionContext;
  send?: SendPostback;
  /** Try once inside the request before leaving the job to the queue. */
  inlineFirst?: boolean;
  queueDelaySeconds?: number;
}

/**
 * Durable delivery: the job is put on the queue and recorded in the ledger
 * (once per external_id) before anything else, so neither an evicted isolate
 * nor a Tapfiliate outage loses it. Then one inline try may deliver it at once.
 *
 * @example
 * const delivery = createDurableDelivery({ env, ctx });
 * await delivery.submit(job); // sent | queued | duplicate | rejected
 */
export function createDurableDelivery(options: DurableDeliveryOptions): Delivery {
  const { env, ctx, send = createPostbackSender({ env }), inlineFirst = true } = options;
  const queueDelaySeconds = options.queueDelaySeconds ?? (inlineFirst ? INLINE_GRACE_SECONDS : 0);
  const queue = env.POSTBACK_QUEUE;
  const namespace = env.POSTBACK_LEDGER;
  if (!queue || !namespace) throw new Error('durable delivery needs POSTBACK_QUEUE and POSTBACK_LEDGER');

  return {
    durable: true,
    async submit(job: PostbackJob): Promise<DeliveryResult> {
      const key = ledgerKey(job);
      const message: PostbackMessage = { key, job, ...(inlineFirst ? { backup: true } : {}) };
      // Enqueued before the ledger records the id. The other order leaves a gap
      // (recorded, then the isolate dies) after which a resend is answered
      // duplicate and nothing ever delivers it. A copy enqueued for a duplicate
      // costs one message: the consumer finds the id sent and acknowledges it.
      try {
        await queue.send(message, { delaySeconds: queueDelaySeconds });
      } catch (error) {
        // Not durable for this one job, but not lost either: the inline retry, with
        // Tapfiliate's own external_id check as the guard against a double.
        logLine('queue_send_failed', { level: 'error', key, error: error instanceof Error ? error.message : 'unknown' });
        return createInlineDelivery({ env, ctx, send }).submit(job);
      }
      const { fresh, state } = await ledgerEntry(namespace, key).accept();
      if (!fresh) {
        logLine('duplicate_suppressed', { stage: 'request', key, state });
        return { status: 'duplicate' };
      }
      if (!inlineFirst) return { status: 'queued' };

      const outcome = await runLedgeredJob(message, { env, send, via: 'inline', attempt: 1 });
      switch (outcome.result) {
        case 'sent':
        case 'duplicate':
          return { status: outcome.result };
        case 'rejected':
          // The queued copy still retries it, and leaves it in the DLQ if Tapfiliate keeps refusing.
          return { status: 'rejected', upstreamStatus: outcome.status, message: outcome.message };
        default:
          return { status: 'queued' };
      }
    },
  };
}
