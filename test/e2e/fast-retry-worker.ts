// proxy/index.ts with durable delivery's waits cut from 30 s to 1 s, so the
// retry scenario takes seconds; same app, ledger, queue consumer and bindings.
import { createApp } from '../../proxy/app';
import { createConsumer, createDelivery } from '../../proxy/delivery';

export { PostbackLedger } from '../../proxy/delivery';

const app = createApp({ createDelivery: (env, ctx) => createDelivery(env, ctx, { queueDelaySeconds: 1 }) });

export default {
  fetch: app.fetch,
  queue: createConsumer({ baseDelaySeconds: 1 }),
} satisfies ExportedHandler<Env>;
