import type { Handler } from 'hono';
import type { AppEnv } from '../app-env';
import type { CreateDelivery } from '../delivery/types';
import { apiKeyOf } from '../settings';

export interface HealthOptions {
  createDelivery: CreateDelivery;
}

/** `{ok:true}` plus, without secrets, whether the key is set and delivery survives eviction. */
export function health({ createDelivery }: HealthOptions): Handler<AppEnv> {
  return function health(c) {
    const { durable } = createDelivery(c.env, c.executionCtx);
    return c.json({ ok: true, configured: apiKeyOf(c.env) !== undefined, delivery: { durable } });
  };
}
