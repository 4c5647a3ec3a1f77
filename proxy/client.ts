import type { Context } from 'hono';
import { getConnInfo } from 'hono/cloudflare-workers';
import type { AppEnv } from './app-env';

/** Who sent the request, as Cloudflare saw it. */
export interface ClientInfo {
  ip?: string;
  user_agent?: string;
}

/**
 * IP from CF-Connecting-IP only, which Cloudflare's edge sets and a client
 * cannot forge; X-Forwarded-For is client-controlled and never read. Values in
 * the body are never consulted.
 */
export function clientInfo(c: Context<AppEnv>): ClientInfo {
  const ip = getConnInfo(c).remote.address?.trim();
  const userAgent = c.req.header('user-agent')?.trim();
  return { ...(ip ? { ip } : {}), ...(userAgent ? { user_agent: userAgent } : {}) };
}
