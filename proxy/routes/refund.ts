// POST /refund: a refund from the merchant's server (WooCommerce's
// woocommerce_order_refunded hook, any backend), with the server token. A refund
// job, run once per refund_id by the ledger (proxy/delivery/refunds.ts).
// docs/reference.md, "Refunds", lists every answer.
import type { Handler, MiddlewareHandler } from 'hono';
import { MAX_EVENT_BYTES } from '../config';
import type { CreateDelivery, RefundJob } from '../delivery';
import { refundSchema } from '../events/schema';
import { answerDelivery, deliver, refundPostbacks, refuseUnlessConfigured, testAnswer } from '../http/answers';
import { jsonBody, jsonError, jsonObject, parseWith, type AppContext, type AppEnv } from '../http/context';
import { isServerEvent, serverAuth } from '../http/trust';

/** The middleware and handler of `POST /refund`, in order: the server token before anything is read. */
export function refundRoute(createDelivery: CreateDelivery): [MiddlewareHandler<AppEnv>, MiddlewareHandler<AppEnv>, MiddlewareHandler<AppEnv>, Handler<AppEnv>] {
  return [serverAuth(), serverOnly, jsonBody(MAX_EVENT_BYTES), handleRefund];

  async function handleRefund(c: AppContext) {
    refuseUnlessConfigured(c);
    const { external_id, refund_id, amount, currency, test } = parseWith(refundSchema, jsonObject(await c.req.text()));
    c.get('log').external_id = external_id;
    const job: RefundJob = { refund: { refund_id, external_id, ...(amount === undefined ? {} : { amount }), ...(currency ? { currency } : {}) } };
    if (test) return testAnswer(c, refundPostbacks(c, [job]));
    return answerDelivery(c, await deliver(c, createDelivery, { job, source: 'server', signed: false }));
  }
}

/** A refund is never a browser's: without the token it is refused before its body is read. */
async function serverOnly(c: AppContext, next: () => Promise<void>) {
  if (!isServerEvent(c)) {
    throw jsonError(401, { ok: false, error: 'unauthorized', message: 'a refund is a server event: send Authorization: Bearer TAPLINE_SERVER_TOKEN' });
  }
  await next();
}
