// Placeholder seam: the delivery engineer replaces this file (inline retry first, then Queue + ledger).
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import type { CreateDelivery } from './types';

export const createDelivery: CreateDelivery = () => ({
  durable: false,
  async submit() {
    throw new Error('delivery not implemented yet');
  },
});

export async function handlePostbackBatch(
  _batch: MessageBatch<unknown>,
  _env: Env,
  _ctx: ExecutionContext,
): Promise<void> {}

export class PostbackLedger extends DurableObject<Env> {}
