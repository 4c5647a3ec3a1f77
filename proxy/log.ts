// Logging: one JSON line per event (logLine), the one scrub for text from
// elsewhere, and the request line every route gets (requestLog).
import type { MiddlewareHandler } from 'hono';
import { getConnInfo } from 'hono/cloudflare-workers';
import { FORBIDDEN_ID_CHARACTERS } from '../common/attribution';
import type { AppContext, AppEnv } from './http';
import { parseJson } from './plain';

/**
 * One JSON line per event, for `wrangler tail` and Workers Logs
 * (docs/operations.md lists every event). Never pass a secret, the cookie or
 * a full IP here.
 */
export function logLine(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}

/**
 * Keeps the network part only: 203.0.113.7 → 203.0.113.x, 2001:db8:1:2::5 → 2001:db8:1::x.
 * IPv6 keeps at most three groups, and none past a `::` (RFC 5952 §4.2), which
 * may stand for the whole host part: 2001::5 → 2001::x.
 */
export function truncateIp(ip: string | undefined): string | undefined {
  if (!ip) return undefined;
  if (!ip.includes(':')) return ip.split('.').slice(0, 3).join('.') + '.x';
  const groups = ip.split(':');
  const end = groups.indexOf('');
  return groups.slice(0, Math.min(3, end < 0 ? 3 : end)).join(':') + '::x';
}

const MAX_LINE = 200;

/**
 * Text from elsewhere made fit for a log line: one line, no control
 * characters, at most 200 characters, and each secret removed as written, in
 * any letter case, and percent-encoded.
 */
export function scrub(text: string, secrets: (string | undefined)[] = []): string {
  let line = text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g, ' ').replace(/\s+/g, ' ').trim();
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      line = line.replace(new RegExp(form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), '***');
    }
  }
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line;
}

/** Fields a handler adds to the request's log line. */
export interface LogFields {
  external_id?: string;
  customer_id?: string;
  result?: string;
  upstream_status?: number;
  reason?: string;
  /** The error code of a refusal (`invalid_request`, `signature_required`…), set by handleError. */
  error?: string;
  /** Optional webhook fields left out because they break the id rules. */
  dropped?: string[];
}

/** Longest id the log repeats from a refused body, as the schema allows (common/attribution.ts). */
const LOGGED_ID_MAX = 255;

/**
 * The `external_id` and `customer_id` of a body the route has already read
 * (signed fields first, as the route reads them), each only when it is a short
 * printable id; a body nobody read, such as one refused for its size or origin,
 * stays unread.
 */
async function idsOfReadBody(c: AppContext): Promise<{ external_id?: string; customer_id?: string }> {
  if (!Object.keys(c.req.bodyCache).length) return {};
  const body = Object(parseJson(await c.req.text().catch(() => undefined)));
  const signed = Object(typeof body.signed === 'string' ? parseJson(body.signed) : undefined);
  const ids: { external_id?: string; customer_id?: string } = {};
  for (const field of ['external_id', 'customer_id'] as const) {
    const value = signed[field] ?? body[field];
    const text = typeof value === 'number' || typeof value === 'string' ? String(value).trim() : '';
    if (text && text.length <= LOGGED_ID_MAX && !FORBIDDEN_ID_CHARACTERS.test(text)) ids[field] = text;
  }
  return ids;
}

/**
 * One JSON line per request under BASE_PATH, for `wrangler tail`: route,
 * method, status, milliseconds, truncated IP, and what the handler added
 * (ids, result, upstream status). Never a secret, the cookie or a full IP.
 */
export function requestLog(routeOf: (path: string) => string): MiddlewareHandler<AppEnv> {
  return async function requestLog(c, next) {
    const started = Date.now();
    c.set('route', routeOf(c.req.path));
    c.set('log', {});
    await next();
    // A refusal before the route named its event still says which order it was, when the body was read.
    if (c.res.status >= 400 && !c.get('log').external_id && !c.get('log').customer_id) Object.assign(c.get('log'), await idsOfReadBody(c));
    logLine('request', {
      route: c.get('route'),
      method: c.req.method,
      status: c.res.status,
      ms: Date.now() - started,
      ip: truncateIp(getConnInfo(c).remote.address),
      ...c.get('log'),
    });
  };
}
