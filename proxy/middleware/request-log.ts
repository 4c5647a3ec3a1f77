import type { MiddlewareHandler } from 'hono';
import { getConnInfo } from 'hono/cloudflare-workers';
import type { AppEnv } from '../app-env';
import { logLine, truncateIp } from '../log';

export interface RequestLogOptions {
  /** Names the route in the log line from the path Hono routed on (c.req.path). */
  routeOf: (path: string) => string;
  now: () => number;
}

const defaults: RequestLogOptions = {
  routeOf: (path) => path.replace(/^\//, '') || '/',
  now: () => Date.now(),
};

/**
 * One JSON line per request under BASE_PATH, for `wrangler tail`: route, method,
 * status, milliseconds, truncated IP, and what the handler added (external_id,
 * result, upstream status). Never the key, the cookie or a full IP.
 */
export function requestLog(options: Partial<RequestLogOptions> = {}): MiddlewareHandler<AppEnv> {
  const { routeOf, now } = { ...defaults, ...options };
  return async function requestLog(c, next) {
    const started = now();
    c.set('route', routeOf(c.req.path));
    c.set('log', {});
    await next();
    logLine('request', {
      route: c.get('route'),
      method: c.req.method,
      status: c.res.status,
      ms: now() - started,
      ip: truncateIp(getConnInfo(c).remote.address),
      ...c.get('log'),
    });
  };
}
