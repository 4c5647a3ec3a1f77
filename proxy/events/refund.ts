// Refunds into delivery, shared by the refund and webhook routes: the test-mode
// answer, and a platform's refunds (proxy/webhooks/refund-events.ts) matched to
// their conversion and handed over one by one. The ledger runs each once per
// refund_id (proxy/refunds.ts); docs/reference.md, "Refunds", lists the answers.
import { apiKeyOf, upstreamUrlsOf, webhookTestEventsOf } from '../config';
import type { CreateDelivery, DeliveryResult, EventSource, RefundJob } from '../delivery';
import { jsonError, type AppContext } from '../http';
import { logLine, scrub } from '../log';
import type { TapResult } from '../../common/contract';
import type { PlatformRefund } from '../webhooks/refund-events';
import { answerDelivery, deliver, refuseUnlessConfigured } from './answer';

/** What test-mode refunds would do, without the key: nothing goes upstream, nothing is recorded. */
export function refundTestAnswer(c: AppContext, jobs: RefundJob[]): TapResult {
  const url = upstreamUrlsOf(c.env).rest;
  // A platform refund whose conversion is unknown has no external_id to show.
  const body = ({ external_id, ...rest }: RefundJob['refund']) => (external_id ? { external_id, ...rest } : rest);
  return { ok: true, status: 'test', postbacks: jobs.map((job) => ({ kind: 'refund', url, body: body(job.refund) })) };
}

/**
 * A platform's refunds: the conversion found through the ids its record kept
 * (else the platform's own order id), then each refund handed to delivery,
 * oldest first. A platform event is answered 200 even when Tapfiliate refuses
 * (asking again changes nothing); a test event is answered without anything
 * recorded or sent, unless WEBHOOK_TEST_EVENTS=send.
 */
export async function platformRefund(c: AppContext, createDelivery: CreateDelivery, refund: PlatformRefund, source: EventSource): Promise<Response> {
  refuseUnlessConfigured(c);
  const { external_id, base } = await conversionOf(c, createDelivery, refund);
  const log = c.get('log');
  if (external_id) log.external_id = external_id;
  // A part of what the buyer paid (tax and shipping included) is that share of the commission base.
  const share = refund.gross !== undefined && base !== undefined && base < refund.gross ? base / refund.gross : 1;
  const jobs: RefundJob[] = refund.refunds.map(({ refund_id, amount }) => ({
    refund: {
      refund_id,
      external_id: external_id ?? '',
      ...(amount === undefined ? {} : { amount: Math.round(amount * share * 100) / 100 }),
      ...(refund.currency ? { currency: refund.currency } : {}),
    },
  }));
  if (refund.test && webhookTestEventsOf(c.env) === 'test') {
    log.result = 'test';
    return c.json(refundTestAnswer(c, jobs), 200);
  }
  if (!external_id) {
    log.result = 'unattributed';
    return c.json({ ok: true, status: 'unattributed' } satisfies TapResult, 200);
  }
  let answer: DeliveryResult | undefined;
  for (const job of jobs) {
    const result = await deliver(c, createDelivery, { job, source, signed: true });
    answer = answer === undefined || weight(result) > weight(answer) ? result : answer;
  }
  return answerDelivery(c, answer!, 200);
}

/** Which of several refunds' results a platform is answered: one it must send again, then a refusal, then a wait. */
function weight(result: DeliveryResult): number {
  return result.status === 'unavailable' ? 3 : result.status === 'rejected' ? 2 : result.status === 'queued' ? 1 : 0;
}

/**
 * The refunded conversion's external_id (undefined when nothing names it) and,
 * when a refund's amount must be scaled to it, the amount the ledger sent it with.
 */
async function conversionOf(c: AppContext, createDelivery: CreateDelivery, refund: PlatformRefund): Promise<{ external_id?: string; base?: number }> {
  const delivery = createDelivery(c.env);
  if (!delivery) {
    logLine('not_configured', { hints: ['POSTBACK_LEDGER must be bound (wrangler.toml)'] });
    throw jsonError(503, { ok: false, error: 'not_configured' });
  }
  try {
    for (const id of refund.platformIds) {
      const key = await delivery.findConversion(id);
      if (!key?.startsWith('con:')) continue;
      const base = refund.gross === undefined ? undefined : (await delivery.get(key))?.amount;
      return { external_id: key.slice('con:'.length), base };
    }
  } catch (error) {
    logLine('delivery_unavailable', { level: 'error', error: scrub(error instanceof Error ? error.message : 'unknown', [apiKeyOf(c.env)]) });
    throw jsonError(503, { ok: false, error: 'temporarily_unavailable', message: 'try again shortly' }, { 'retry-after': '30' });
  }
  return { external_id: refund.fallbackExternalId };
}
