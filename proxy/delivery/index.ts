import { createDurableDelivery } from './durable';
import { createInlineDelivery } from './inline';
import { createPostbackBatchHandler } from './queue';
import type { CreateDelivery } from './types';

export { PostbackLedger } from './ledger';
export type { CreateDelivery, Delivery, DeliveryResult, PostbackJob } from './types';

/**
 * The delivery for this deployment: durable (Queue + ledger) when both bindings
 * exist, inline retry otherwise. `delivery.durable` tells /health which.
 *
 * @example
 * const result = await createDelivery(env, ctx).submit(job); // { status: 'sent' | 'queued' | 'duplicate' | 'rejected', ... }
 */
export const createDelivery: CreateDelivery = (env, ctx) =>
  env.POSTBACK_QUEUE && env.POSTBACK_LEDGER ? createDurableDelivery({ env, ctx }) : createInlineDelivery({ env, ctx });

/** The queue consumer; proxy/index.ts exports it as `queue`. */
export const handlePostbackBatch = createPostbackBatchHandler();
