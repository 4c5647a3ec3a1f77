// The production worker: the proxy on a route of the merchant's zone, the
// delivery queue's consumer, and the ledger Durable Object.
import { createApp } from './app';
import { createConsumer, createDelivery } from './delivery';

export { PostbackLedger } from './delivery';

const app = createApp({ createDelivery });

export default {
  fetch: app.fetch,
  queue: createConsumer(),
} satisfies ExportedHandler<Env>;
