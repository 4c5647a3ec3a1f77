// One try of a record's job at Tapfiliate, per kind. The ledger object calls
// these and applies what they return through lifecycle.ts.
import { apiKeyOf, upstreamUrlsOf } from '../config';
import { logLine } from '../lib/log';
import { sendPostback, stepsOf, type PostbackJob, type PostbackOutcome } from '../tapfiliate';
import { idsOf, type LedgerRecord, type Step, type TryOutcome } from './lifecycle';

interface TryOptions {
  env: Env;
  /** Per request to Tapfiliate. */
  timeoutMs?: number;
  /** Called once Tapfiliate has a step, before the next one starts, so a later try resumes after it. */
  stepDone: (step: Step) => void;
}

/**
 * The job's remaining postbacks: the customer first (Tapfiliate must know the
 * customer before a conversion names it; a repeated customer_id is answered
 * "already exists", which counts as done), then the conversion.
 */
export async function tryPostbacks(record: LedgerRecord, { env, timeoutMs, stepDone }: TryOptions): Promise<TryOutcome> {
  const job = record.job as PostbackJob;
  const apiKey = apiKeyOf(env) ?? '';
  const urls = upstreamUrlsOf(env);
  let duplicate = false;
  let status: number | undefined;
  for (const step of stepsOf(job)) {
    if (record.done_steps.includes(step)) continue;
    const started = Date.now();
    const outcome = await sendPostback(step, job[step]!, { url: urls[step], apiKey, timeoutMs });
    logAttempt(record, step, outcome, Date.now() - started);
    if (outcome.result === 'retry') return { result: 'retry', step, status: outcome.status, reason: outcome.reason, retryAfterSeconds: outcome.retryAfterSeconds };
    if (outcome.result === 'rejected') return { result: 'rejected', step, status: outcome.status, message: outcome.message };
    if (outcome.result === 'duplicate') duplicate = true;
    status = outcome.status;
    stepDone(step);
  }
  return { result: 'sent', duplicate, status };
}

/** One line per upstream try. Carries ids, never the key, the body or an IP. */
function logAttempt(record: LedgerRecord, step: Step, outcome: PostbackOutcome, ms: number) {
  logLine('postback_attempt', {
    key: record.key,
    kind: step,
    ...idsOf(record),
    attempt: record.attempts,
    result: outcome.result,
    upstream_status: 'status' in outcome ? outcome.status : undefined,
    reason: outcome.result === 'retry' ? outcome.reason : undefined,
    message: outcome.result === 'rejected' ? outcome.message : undefined,
    ms,
  });
}
