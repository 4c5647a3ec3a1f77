// The production worker: the proxy on a route of the merchant's zone, plus the
// delivery queue consumer and ledger Durable Object (proxy/delivery).
import { createApp } from './app';
import { createDelivery, handlePostbackBatch } from './delivery';
import type { Env } from './env';

export { PostbackLedger } from './delivery';

const app = createApp({ createDelivery });

export default {
  fetch: app.fetch,
  queue: handlePostbackBatch,
} satisfies ExportedHandler<Env>;
