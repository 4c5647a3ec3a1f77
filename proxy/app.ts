import { Hono } from 'hono';
import { etag } from 'hono/etag';
import { basePathOf, MAX_EVENT_BYTES, MAX_WEBHOOK_BYTES } from './config';
import type { CreateDelivery } from './delivery';
import { SNIPPETS } from './generated/snippet';
import { handleError, jsonBody, jsonError, requestLog, type AppEnv } from './http/context';
import { forwarder, originPolicy, rateLimit, serverAuth } from './http/trust';
import { PLATFORMS } from './platforms';
import { adminApi } from './routes/admin';
import { clickRoute } from './routes/click';
import { consoleRoute } from './routes/console';
import { eventRoute } from './routes/event';
import { healthRoute } from './routes/health';
import { refundRoute } from './routes/refund';
import { snippetRoute, type SnippetFile } from './routes/snippet';
import { webhookRoute } from './routes/webhooks';

export interface AppOptions {
  /** How postbacks reach Tapfiliate: proxy/delivery in production, a recording fake in tests. */
  createDelivery: CreateDelivery;
  /** Where a request outside BASE_PATH goes: the zone's origin in production, the demo shop in dev. */
  fetchOrigin?: (request: Request, env: Env) => Response | Promise<Response>;
  /** The snippet files served under BASE_PATH. */
  snippets?: Record<string, SnippetFile>;
}

// BASE_PATH is a runtime setting but Hono's routes are fixed when the app is
// built, so getPath maps each request onto one of two fixed internal prefixes.
// The two cannot collide: every path gets exactly one of them prepended.
const INSIDE = '/~base';
const OUTSIDE = '/~origin';

function internalPath(request: Request, env: Env | undefined): string {
  const path = new URL(request.url).pathname;
  const base = basePathOf(env);
  if (path === base || path.startsWith(`${base}/`)) return INSIDE + path.slice(base.length);
  return OUTSIDE + path;
}

/**
 * The Tapline proxy as a Hono app. Under BASE_PATH: the snippet, the browser
 * and server events, clicks, webhooks and health (docs/reference.md, "Routes").
 * Everything else goes to the origin.
 *
 * @example
 * const app = createApp({ createDelivery });
 * export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
 */
export function createApp({ createDelivery, fetchOrigin = (request) => fetch(request), snippets = SNIPPETS }: AppOptions) {
  const app = new Hono<AppEnv>({ getPath: (request, { env } = {}) => internalPath(request, env) });
  app.onError(handleError);

  app.all(`${OUTSIDE}/*`, (c) => fetchOrigin(c.req.raw, c.env));
  app.use(`${INSIDE}/*`, requestLog((path) => path.slice(INSIDE.length + 1) || '/'));
  // The merchant's own web server in front of the worker, before anything reads the client or the host.
  app.use(`${INSIDE}/*`, forwarder());

  app.get(`${INSIDE}/health`, healthRoute());
  app.get(`${INSIDE}/:file{[a-z0-9.-]+\\.js}`, etag(), snippetRoute(snippets));

  // Browser events: origin policy, then the rate limit per client network, then the body.
  // A valid server token (serverAuth) skips the first two.
  const event = [serverAuth(), originPolicy(), rateLimit(), jsonBody(MAX_EVENT_BYTES)] as const;
  for (const path of ['click', 'convert', 'customer']) app.options(`${INSIDE}/${path}`, originPolicy());
  app.post(`${INSIDE}/click`, originPolicy(), rateLimit(), jsonBody(MAX_EVENT_BYTES), clickRoute());
  app.post(`${INSIDE}/convert`, ...event, eventRoute('conversion', createDelivery));
  app.post(`${INSIDE}/customer`, ...event, eventRoute('customer', createDelivery));
  app.post(`${INSIDE}/refund`, ...refundRoute(createDelivery));

  // Webhooks, one route per line of the platforms' table: the platform's signature is their only credential.
  for (const platform of PLATFORMS) {
    for (const route of platform.routes) app.post(`${INSIDE}/webhooks/${route.path}`, jsonBody(MAX_WEBHOOK_BYTES), webhookRoute(platform, route, createDelivery));
  }

  // The operator console and its API (docs/operations.md, "Console"); the page's relative URLs need the slash.
  app.get(`${INSIDE}/admin`, (c) => c.redirect(`${new URL(c.req.url).pathname}/`, 308));
  app.get(`${INSIDE}/admin/`, etag(), consoleRoute());
  app.get(`${INSIDE}/admin/:file{console\\.(?:js|css)}`, etag(), consoleRoute());
  app.route(`${INSIDE}/admin/api`, adminApi(createDelivery));

  // Also matches the base itself.
  app.all(`${INSIDE}/*`, () => {
    throw jsonError(404, { ok: false, error: 'not_found', message: 'Tapline serves tap.js, click, convert, customer, refund, webhooks and health here' });
  });

  return app;
}
