// POST /refund: a refund from the merchant's server (WooCommerce's
// woocommerce_order_refunded hook, any backend), with the server token. Handed
// to delivery as a refund job, which runs it once per refund_id (proxy/refunds.ts).
// docs/reference.md, "Refunds", lists every answer.
import type { Handler, MiddlewareHandler } from 'hono';
import { MAX_EVENT_BYTES, upstreamUrlsOf } from '../config';
import { jsonBody, jsonError, jsonObject, parseWith, type AppContext, type AppEnv } from '../http';
import { logLine } from '../log';
import type { RefundJob } from '../refunds';
import { refundSchema, type TapResult } from '../schema';
import { isServerEvent, serverAuth } from '../trust';
import { refuseUnlessConfigured } from './event';

/** What delivery answers for a refund job (proxy/delivery). */
export type RefundDeliveryResult =
  | { status: 'sent' | 'queued' | 'duplicate' | 'reversed' | 'adjusted' | 'unattributed' | 'ignored' }
  | { status: 'rejected'; upstreamStatus: number; message: string }
  | { status: 'unavailable' };

export interface RefundSubmission {
  job: RefundJob;
  source: 'server' | 'stripe' | 'shopify';
  signed: boolean;
}

/** The part of delivery a refund route needs. */
export type CreateRefundDelivery = (env: Env, ctx: ExecutionContext) => { submit(submission: RefundSubmission): Promise<RefundDeliveryResult> } | undefined;

/** The middleware and handler of `POST /refund`, in order: the server token before anything is read. */
export function refundRoute(createDelivery: CreateRefundDelivery): [MiddlewareHandler<AppEnv>, MiddlewareHandler<AppEnv>, MiddlewareHandler<AppEnv>, Handler<AppEnv>] {
  return [serverAuth(), serverOnly, jsonBody(MAX_EVENT_BYTES), handleRefund];

  async function handleRefund(c: AppContext) {
    refuseUnlessConfigured(c);
    const { external_id, refund_id, amount, currency, test } = parseWith(refundSchema, jsonObject(await c.req.text()));
    c.get('log').external_id = external_id;
    const job: RefundJob = { refund: { refund_id, external_id, ...(amount === undefined ? {} : { amount }), ...(currency ? { currency } : {}) } };
    if (test) {
      c.get('log').result = 'test';
      return c.json(refundTestAnswer(c, job), 200);
    }
    return answerRefund(c, await submitRefund(c, createDelivery, { job, source: 'server', signed: false }));
  }
}

/** A refund is never a browser's: without the token it is refused before its body is read. */
async function serverOnly(c: AppContext, next: () => Promise<void>) {
  if (!isServerEvent(c)) {
    throw jsonError(401, { ok: false, error: 'unauthorized', message: 'a refund is a server event: send Authorization: Bearer TAPLINE_SERVER_TOKEN' });
  }
  await next();
}

/** What a test-mode refund would do, without the key: nothing goes upstream, nothing is recorded. */
export function refundTestAnswer(c: AppContext, job: RefundJob): TapResult {
  return { ok: true, status: 'test', postbacks: [{ kind: 'refund', url: upstreamUrlsOf(c.env).rest, body: job.refund }] };
}

/** Hands the refund to delivery; a deployment without the ledger has no delivery at all. */
export async function submitRefund(c: AppContext, createDelivery: CreateRefundDelivery, submission: RefundSubmission): Promise<RefundDeliveryResult> {
  const delivery = createDelivery(c.env, c.executionCtx);
  if (!delivery) {
    logLine('not_configured', { hints: ['POSTBACK_QUEUE and POSTBACK_LEDGER must be bound (wrangler.toml)'] });
    throw jsonError(503, { ok: false, error: 'not_configured' });
  }
  return delivery.submit(submission);
}

/**
 * The caller's answer (docs/reference.md, "Refunds"): Tapfiliate's own words
 * went to the log. A refusal is a 422 for a server, a 200 for a webhook (a
 * platform retries anything but a 2xx, and asking again changes nothing).
 */
export function answerRefund(c: AppContext, result: RefundDeliveryResult, rejectedStatus: 200 | 422 = 422): Response {
  const log = c.get('log');
  log.result = result.status;
  switch (result.status) {
    case 'queued':
      return c.json({ ok: true, status: 'queued' } satisfies TapResult, 202);
    case 'rejected':
      log.upstream_status = result.upstreamStatus;
      return c.json({ ok: false, error: 'upstream_rejected' } satisfies TapResult, rejectedStatus);
    case 'unavailable':
      return c.json({ ok: false, error: 'temporarily_unavailable', message: 'try again shortly' } satisfies TapResult, 503, { 'retry-after': '30' });
    default:
      return c.json({ ok: true, status: result.status } satisfies TapResult, 200);
  }
}
