import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env';
import { jsonError } from '../errors';
import { logLine } from '../log';
import { apiKeyOf } from '../settings';

/** 503 not_configured, with a hint in the log, until the secret is set. */
export function requireApiKey(): MiddlewareHandler<AppEnv> {
  return async function requireApiKey(c, next) {
    if (apiKeyOf(c.env)) return next();
    logLine('not_configured', {
      hint: 'TAPFILIATE_API_KEY is not set: run `wrangler secret put TAPFILIATE_API_KEY` (locally, put it in .dev.vars)',
    });
    throw jsonError(503, { ok: false, error: 'not_configured' });
  };
}
