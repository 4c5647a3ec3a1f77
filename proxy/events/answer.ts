// What an accepted event is answered, shared by the event, refund and webhook
// routes: the configuration check, test mode, the zero-amount rule, the hand-off
// to delivery and the caller's answer (docs/reference.md, "Routes and answers").
import { apiKeyOf, configProblems, upstreamUrlsOf } from '../config';
import type { CreateDelivery, DeliveryResult, Submission } from '../delivery';
import { jsonError, type AppContext } from '../http';
import { logLine, scrub } from '../log';
import type { TapResult } from '../../common/contract';
import { stepsOf, type PostbackJob } from '../tapfiliate';

/**
 * A conversion whose amount is 0 is not a sale, on every route alike: it is
 * answered `200 ignored` and nothing is sent or recorded (docs/reference.md,
 * "Zero amounts"). One without an amount is a conversion Tapfiliate values itself.
 */
export function isZeroAmount(event: object): boolean {
  return 'amount' in event && event.amount === 0;
}

/** 503 not_configured, with the reason in the log, while a setting is missing or unsafe. */
export function refuseUnlessConfigured(c: AppContext): void {
  const problems = configProblems(c.env);
  if (problems.length === 0) return;
  logLine('not_configured', { hints: problems });
  throw jsonError(503, { ok: false, error: 'not_configured' });
}

/** What a test-mode event would have sent, without the key. Nothing goes upstream, nothing is recorded. */
export function testAnswer(c: AppContext, job: PostbackJob): TapResult {
  const urls = upstreamUrlsOf(c.env);
  return { ok: true, status: 'test', postbacks: stepsOf(job).map((kind) => ({ kind, url: urls[kind], body: job[kind] })) };
}

/** Hands the event to delivery; a deployment without the ledger has no delivery at all. */
export async function deliver(c: AppContext, createDelivery: CreateDelivery, submission: Submission): Promise<DeliveryResult> {
  const delivery = createDelivery(c.env);
  if (!delivery) {
    logLine('not_configured', { hints: ['POSTBACK_LEDGER must be bound (wrangler.toml)'] });
    throw jsonError(503, { ok: false, error: 'not_configured' });
  }
  try {
    return await delivery.submit(submission);
  } catch (error) {
    logLine('delivery_unavailable', { level: 'error', error: scrub(error instanceof Error ? error.message : 'unknown', [apiKeyOf(c.env)]) });
    return { status: 'unavailable' };
  }
}

/**
 * The caller's answer. Tapfiliate's own words went to the log; the caller only
 * learns that it refused: a 422 for a browser or a server, a 200 for a webhook
 * (a platform retries anything but a 2xx, and asking again changes nothing).
 */
export function answerDelivery(c: AppContext, result: DeliveryResult, rejectedStatus: 200 | 422 = 422): Response {
  const log = c.get('log');
  log.result = result.status;
  switch (result.status) {
    case 'sent':
    case 'duplicate':
    case 'reversed':
    case 'adjusted':
    case 'unattributed':
    case 'ignored':
      return c.json({ ok: true, status: result.status } satisfies TapResult, 200);
    case 'queued':
      return c.json({ ok: true, status: 'queued' } satisfies TapResult, 202);
    case 'rejected':
      log.upstream_status = result.upstreamStatus;
      return c.json({ ok: false, error: 'upstream_rejected' } satisfies TapResult, rejectedStatus);
    case 'unavailable':
      return c.json({ ok: false, error: 'temporarily_unavailable', message: 'try again shortly' } satisfies TapResult, 503, {
        'retry-after': '30',
      });
  }
}
