// Placeholder: the proxy engineer replaces this with the Hono app.
import type { Env } from './env';
import { handlePostbackBatch } from './delivery';

export { PostbackLedger } from './delivery';

export default {
  async fetch(): Promise<Response> {
    return Response.json({ ok: true });
  },
  queue: handlePostbackBatch,
} satisfies ExportedHandler<Env>;
