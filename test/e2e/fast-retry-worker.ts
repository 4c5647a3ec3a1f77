// proxy/index.ts with the ledger's first retry after 1 s instead of 30 s, so
// the retry scenario takes seconds; same app, ledger and bindings.
import { createApp } from '../../proxy/app';
import { createDelivery } from '../../proxy/delivery';
import { PostbackLedger as ProductionLedger } from '../../proxy/delivery/ledger';

export class PostbackLedger extends ProductionLedger {
  protected override retryBaseMs = 1000;
}

const app = createApp({ createDelivery });

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
