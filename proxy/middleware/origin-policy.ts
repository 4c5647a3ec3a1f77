import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv } from '../app-env';
import { jsonError } from '../errors';
import { allowedOriginsOf } from '../settings';

export interface OriginPolicyOptions {
  /** Preflight cache lifetime in seconds. */
  maxAge: number;
}

const defaults: OriginPolicyOptions = { maxAge: 86400 };

/**
 * Serves requests with no Origin (curl, a server), with the worker's own origin,
 * or with an origin listed in ALLOWED_ORIGINS; listed ones get CORS with
 * credentials so the tap_data cookie travels. Any other Origin is refused before
 * its body is read, so nothing of it is forwarded.
 */
export function originPolicy(options: Partial<OriginPolicyOptions> = {}): MiddlewareHandler<AppEnv> {
  const { maxAge } = { ...defaults, ...options };
  const corsForListed = cors({
    origin: (origin, c) => (allowedOriginsOf(c.env).has(origin) ? origin : null),
    allowMethods: ['POST', 'OPTIONS'],
    credentials: true,
    maxAge,
  });
  return async function originPolicy(c, next) {
    const origin = c.req.header('origin');
    if (origin === undefined) return next();
    if (origin === new URL(c.req.url).origin) return next();
    if (allowedOriginsOf(c.env).has(origin)) return corsForListed(c, next);
    // The refusal itself is readable by the refused page: hidden behind a CORS
    // error, the snippet would take it for "offline" and resend it for a week.
    // A preflight stays unreadable, so no non-simple request follows it.
    throw jsonError(
      403,
      { ok: false, error: 'origin_not_allowed', message: 'this origin is not the site itself and not in ALLOWED_ORIGINS' },
      c.req.method === 'OPTIONS'
        ? {}
        : { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' },
    );
  };
}
