// The production worker: the proxy on a route of the merchant's zone, and the
// ledger Durable Object. The queue handler only drains v2's queues after an
// upgrade (docs/operations.md, "Upgrading from v2").
import { createApp } from './app';
import { createDelivery, takeLegacyQueue } from './delivery';

export { PostbackLedger } from './delivery/ledger';

const app = createApp({ createDelivery });

export default {
  fetch: app.fetch,
  queue: takeLegacyQueue(),
} satisfies ExportedHandler<Env>;
