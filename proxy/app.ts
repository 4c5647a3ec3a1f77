import { Hono } from 'hono';
import { etag } from 'hono/etag';
import type { AppEnv } from './app-env';
import type { CreateDelivery } from './delivery/types';
import type { Env } from './env';
import { handleError, jsonError } from './errors';
import { SNIPPET_ETAG, SNIPPET_SOURCE } from './generated/snippet';
import { jsonBody } from './middleware/json-body';
import { originPolicy } from './middleware/origin-policy';
import { requestLog } from './middleware/request-log';
import { requireApiKey } from './middleware/require-api-key';
import { conversionJob, customerJob } from './postback-job';
import { health } from './routes/health';
import { eventHandler } from './routes/event';
import { serveSnippet } from './routes/snippet';
import { conversionSchema, customerSchema } from './schema';
import { basePathOf } from './settings';

export interface AppOptions {
  /** How postbacks reach Tapfiliate; tests pass a recording fake. */
  createDelivery: CreateDelivery;
  /** Where a request outside BASE_PATH goes: the zone's origin in production, the demo shop in dev. */
  fetchOrigin: (request: Request) => Response | Promise<Response>;
  snippet: { source: string; etag: string };
  maxBodyBytes: number;
}

const defaults: Omit<AppOptions, 'createDelivery'> = {
  fetchOrigin: (request) => fetch(request),
  snippet: { source: SNIPPET_SOURCE, etag: SNIPPET_ETAG },
  maxBodyBytes: 16 * 1024,
};

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
 * The Tapline proxy as a Hono app: the snippet, the two event routes and health
 * under BASE_PATH, everything else passed to the origin.
 *
 * @example
 * const app = createApp({ createDelivery });
 * export default { fetch: app.fetch, queue: handlePostbackBatch };
 */
export function createApp(options: Pick<AppOptions, 'createDelivery'> & Partial<AppOptions>) {
  const { createDelivery, fetchOrigin, snippet, maxBodyBytes } = { ...defaults, ...options };
  const app = new Hono<AppEnv>({ getPath: (request, { env } = {}) => internalPath(request, env) });

  app.onError(handleError);

  app.all(`${OUTSIDE}/*`, (c) => fetchOrigin(c.req.raw));

  app.use(`${INSIDE}/*`, requestLog({ routeOf: (path) => path.slice(INSIDE.length + 1) || '/' }));
  app.get(`${INSIDE}/tap.js`, etag(), serveSnippet(snippet));
  app.get(`${INSIDE}/health`, health({ createDelivery }));

  const acceptEvent = [originPolicy(), jsonBody({ maxBytes: maxBodyBytes }), requireApiKey()] as const;
  app.options(`${INSIDE}/convert`, originPolicy());
  app.options(`${INSIDE}/customer`, originPolicy());
  app.post(
    `${INSIDE}/convert`,
    ...acceptEvent,
    eventHandler({
      schema: conversionSchema,
      toJob: conversionJob,
      createDelivery,
      logId: (conversion) => conversion.external_id,
    }),
  );
  app.post(
    `${INSIDE}/customer`,
    ...acceptEvent,
    eventHandler({
      schema: customerSchema,
      toJob: customerJob,
      createDelivery,
      logId: () => undefined,
    }),
  );

  // Also matches the base itself.
  app.all(`${INSIDE}/*`, () => {
    throw jsonError(404, { ok: false, error: 'not_found', message: 'Tapline serves tap.js, convert, customer and health here' });
  });

  return app;
}
