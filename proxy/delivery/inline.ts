import type { Env } from '../env';
import { logLine } from '../log';
import { backoffDelay } from './backoff';
import { createPostbackSender, type PostbackKind, type PostbackOutcome, type SendPostback } from './postback';
import { bodyOf, idFields, logAttempt, stepsOf } from './steps';
import type { Delivery, DeliveryResult, PostbackJob } from './types';

export interface InlineDeliveryOptions {
  env: Env;
  ctx: ExecutionContext;
  send?: SendPostback;
  /** Tries per postback, the first one included. */
  maxTries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * waitUntil work is cut off about 30 s after the response, so a Retry-After
   * longer than this cannot be honoured inline: the job is logged as lost.
   */
  maxRetryAfterMs?: number;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

let warnedNotDurable = false;

/**
 * Delivery without bindings: the first attempt inside the request, then a few
 * retries in `ctx.waitUntil`. It survives short Tapfiliate hiccups, but not an
 * outage longer than ~20 s or an evicted isolate; hence the warning.
 *
 * @example
 * const delivery = createInlineDelivery({ env, ctx });
 * const result = await delivery.submit({ conversion: { external_id: 'ORD005', ip, user_agent, referral_code: 'abc' } });
 */
export function createInlineDelivery(options: InlineDeliveryOptions): Delivery {
  const {
    env,
    ctx,
    send = createPostbackSender({ env }),
    maxTries = 3,
    baseDelayMs = 1000,
    maxDelayMs = 8000,
    maxRetryAfterMs = 20_000,
    random = Math.random,
    sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
  } = options;

  if (!warnedNotDurable) {
    warnedNotDurable = true;
    logLine('delivery_not_durable', {
      level: 'warn',
      message: 'POSTBACK_QUEUE and POSTBACK_LEDGER are not bound: postbacks are retried in-request only and can be lost in a long Tapfiliate outage',
    });
  }

  async function attempt(job: PostbackJob, kind: PostbackKind, tryNumber: number): Promise<PostbackOutcome> {
    const body = bodyOf(job, kind);
    const result = await send(kind, body);
    logAttempt('inline', kind, body, tryNumber, result);
    return result.outcome;
  }

  /** Finishes the job from `steps[0]`, whose first try already failed with `failed`. */
  async function retryInBackground(job: PostbackJob, steps: PostbackKind[], failed: PostbackOutcome): Promise<void> {
    let last: PostbackOutcome | undefined = failed;
    for (const kind of steps) {
      let tryNumber = last ? 2 : 1;
      for (; tryNumber <= maxTries; tryNumber++) {
        if (last?.result === 'retry') {
          const retryAfterMs = (last.retryAfterSeconds ?? 0) * 1000;
          if (retryAfterMs > maxRetryAfterMs) return giveUp(job, kind, tryNumber - 1, 'retry_after_too_long');
          await sleep(Math.max(retryAfterMs, backoffDelay(tryNumber - 1, { baseMs: baseDelayMs, maxMs: maxDelayMs, random })));
        }
        last = await attempt(job, kind, tryNumber);
        if (last.result !== 'retry') break;
      }
      if (!last || last.result === 'retry') return giveUp(job, kind, maxTries, 'tries_exhausted');
      if (last.result === 'rejected') return giveUp(job, kind, tryNumber, 'rejected');
      last = undefined;
    }
  }

  function giveUp(job: PostbackJob, kind: PostbackKind, tries: number, reason: string): void {
    logLine('postback_not_delivered', { level: 'error', via: 'inline', kind, ...idFields(kind, bodyOf(job, kind)), tries, reason });
  }

  return {
    durable: false,
    async submit(job: PostbackJob): Promise<DeliveryResult> {
      const steps = stepsOf(job);
      let result: DeliveryResult = { status: 'sent' };
      for (let index = 0; index < steps.length; index++) {
        const outcome = await attempt(job, steps[index], 1);
        if (outcome.result === 'retry') {
          ctx.waitUntil(retryInBackground(job, steps.slice(index), outcome));
          return { status: 'queued' };
        }
        if (outcome.result === 'rejected') {
          return { status: 'rejected', upstreamStatus: outcome.status, message: outcome.message };
        }
        if (outcome.result === 'duplicate') result = { status: 'duplicate' };
      }
      return result;
    },
  };
}
