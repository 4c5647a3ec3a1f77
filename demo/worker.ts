// The development worker for `npm start`: the production proxy, with the demo
// shop standing in for the zone's origin. Never deployed (wrangler.toml's main
// is proxy/index.ts).
import { createApp } from '../proxy/app';
import { createDelivery, takeLegacyQueue } from '../proxy/delivery';
import { createDemoShop } from './shop';

export { PostbackLedger } from '../proxy/delivery/ledger';

const shop = createDemoShop();
const app = createApp({ createDelivery, fetchOrigin: (request, env) => shop.fetch(request, env) });

export default {
  fetch: app.fetch,
  queue: takeLegacyQueue(),
} satisfies ExportedHandler<Env>;
