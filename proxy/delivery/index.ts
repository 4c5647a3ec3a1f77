import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { createInlineDelivery } from './inline';
import type { CreateDelivery } from './types';

export type { CreateDelivery, Delivery, DeliveryResult, PostbackJob } from './types';

/**
 * The delivery for this deployment: durable (Queue + ledger) when both bindings
 * exist, inline retry otherwise.
 *
 * @example
 * const result = await createDelivery(env, ctx).submit(job); // { status: 'sent' | 'queued' | 'duplicate' | 'rejected', ... }
 */
export const createDelivery: CreateDelivery = (env, ctx) => createInlineDelivery({ env, ctx });

export async function handlePostbackBatch(
  _batch: MessageBatch<unknown>,
  _env: Env,
  _ctx: ExecutionContext,
): Promise<void> {}

export class PostbackLedger extends DurableObject<Env> {}
