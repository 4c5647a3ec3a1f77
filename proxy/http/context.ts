// The HTTP edge every route shares: the app's types, the one JSON error shape,
// the request's log line, and reading what a request carries (its body, its
// cookie, and who sent it).
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getConnInfo } from 'hono/cloudflare-workers';
import { getCookie } from 'hono/cookie';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type * as z from 'zod/mini';
import { FORBIDDEN_ID_CHARACTERS } from '../../common/attribution';
import { COOKIE_NAME } from '../../common/contract';
import { identifiersFromCookieValue } from '../events/identifiers';
import { issuesOf, type Identifiers } from '../events/schema';
import { logLine, scrub, truncateIp } from '../lib/log';
import { cleanVisitor } from '../lib/network';
import { isPlainObject, parseJson } from '../lib/plain';
import { secretsOf } from '../platforms';
import type { Visitor } from '../tapfiliate';

/** Hono's generics for this app: the worker's bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: { route: string; log: LogFields; server?: boolean; arrival?: Arrival };
}

export type AppContext = Context<AppEnv>;

/** The one JSON shape of every failure (docs/reference.md, "Routes and answers"). */
interface ErrorBody {
  ok: false;
  error: string;
  issues?: { path: string; message: string }[];
  message?: string;
}

/** Throw this from any middleware or handler; `handleError` answers with it. */
export function jsonError(status: ContentfulStatusCode, body: ErrorBody, headers: HeadersInit = {}): HTTPException {
  return new HTTPException(status, { res: Response.json(body, { status, headers }), message: body.error });
}

/** 400 with one issue per field, each naming the field by its dotted path. */
export function invalidRequest(issues: { path: string; message: string }[]): HTTPException {
  return jsonError(400, { ok: false, error: 'invalid_request', issues });
}

/**
 * The single `app.onError`. An HTTPException keeps its status and JSON; anything
 * else is logged (scrubbed of every secret) and answered 500 without detail.
 */
export function handleError(error: Error, c: AppContext): Response {
  if (error instanceof HTTPException) {
    // The refusal's code (jsonError's message) goes on the request line (docs/operations.md, "Logs").
    const log = c.get('log');
    if (log) log.error = error.message;
    if (error.res?.headers.get('content-type')?.startsWith('application/json')) return error.res;
    return c.json({ ok: false, error: 'request_failed' } satisfies ErrorBody, error.status as ContentfulStatusCode);
  }
  logLine('unexpected_error', { level: 'error', route: c.get('route'), error: scrub(`${error.name}: ${error.message}`, secretsOf(c.env ?? {})) });
  return c.json({ ok: false, error: 'internal_error' } satisfies ErrorBody, 500);
}

/**
 * Media types a JSON body may arrive as. text/plain is what `sendBeacon` and a
 * `keepalive` fetch send without a CORS preflight (Fetch standard,
 * CORS-safelisted request-header).
 */
const JSON_MEDIA_TYPES = new Set(['application/json', 'text/plain']);

/** 415 unless the body is declared JSON or text, then 413 over `maxBytes`. */
export function jsonBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw jsonError(413, { ok: false, error: 'body_too_large', message: `the body is over ${maxBytes} bytes` });
    },
  });
  return async function jsonBody(c, next) {
    // RFC 9110 §8.3.1: the media type is case-insensitive and may carry parameters such as charset.
    const mediaType = (c.req.header('content-type') ?? '').split(';', 1)[0].trim().toLowerCase();
    if (!JSON_MEDIA_TYPES.has(mediaType)) {
      throw jsonError(415, { ok: false, error: 'unsupported_media_type', message: 'send JSON as application/json or text/plain' });
    }
    return limit(c, next);
  };
}

/** The body as a JSON object, or a 400 that says why not. */
export function jsonObject(text: string): Record<string, unknown> {
  const data = parseJson(text);
  if (data === undefined) throw invalidRequest([{ path: '', message: 'the body is not valid JSON' }]);
  if (!isPlainObject(data)) throw invalidRequest([{ path: '', message: 'must be a JSON object' }]);
  return data as Record<string, unknown>;
}

/** Validates against a schema, or throws the 400 that names each field (`meta_data.plan`; '' for the body). */
export function parseWith<Schema extends z.ZodMiniType>(schema: Schema, data: unknown, pathPrefix = ''): z.output<Schema> {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  throw invalidRequest(issuesOf(parsed.error, pathPrefix));
}

/**
 * Who sent a request and which site it was for: what everything derived from
 * the client or the host reads (the same-origin check, the landing_page host
 * rule, the cookie's domain and Secure, the rate limit, the click memory, the
 * IP sent to Tapfiliate). Cloudflare's edge says it (CF-Connecting-IP, the
 * request's URL), or the merchant's own web server once it has shown
 * TAPLINE_FORWARDER_SECRET (proxy/http/trust.ts `forwarder`,
 * docs/security.md, "Behind your own web server").
 */
export interface Arrival {
  /** The shopper's IP as sent, not yet checked (visitorOf keeps it only when it parses). */
  ip: string | undefined;
  /** The shop's origin as a browser on it writes Origin, e.g. `https://www.shop.example`. */
  origin: string;
  hostname: string;
  secure: boolean;
  /** True when an authenticated forwarder said so. */
  forwarded: boolean;
  /** A forwarder's header that is missing or malformed: nothing that depends on it may be answered. */
  problem?: string;
}

/** What the edge says: the socket's CF-Connecting-IP and the request's own URL. */
function edgeArrival(c: Context): Arrival {
  const url = new URL(c.req.url);
  return { ip: getConnInfo(c).remote.address, origin: url.origin, hostname: url.hostname, secure: url.protocol === 'https:', forwarded: false };
}

/** The arrival as told, even when a forwarder's header is broken: for /health and the log line. */
export function reportedArrival(c: AppContext): Arrival {
  return c.get('arrival') ?? edgeArrival(c);
}

/**
 * The arrival everything derived from the client or the host uses. A forwarder
 * that showed the secret but left out or garbled a header gets 503
 * not_configured (the snippet keeps the event) rather than every shopper
 * counted as the web server.
 */
export function arrivalOf(c: AppContext): Arrival {
  const arrival = reportedArrival(c);
  if (arrival.problem) {
    logLine('not_configured', { hints: [arrival.problem] });
    throw jsonError(503, { ok: false, error: 'not_configured', message: arrival.problem });
  }
  return arrival;
}

/**
 * The shopper as the edge, or the merchant's authenticated forwarder, saw
 * them: the IP from CF-Connecting-IP (set by the edge; a client cannot forge
 * it, and X-Forwarded-For it can) or the forwarder's X-Real-IP, kept only when
 * it parses as an IP, and the User-Agent cut to 512 characters.
 */
export function visitorOf(c: AppContext): Visitor {
  return cleanVisitor(arrivalOf(c).ip, c.req.header('user-agent'));
}

/** The request's own tap_data cookie (Hono's getCookie percent-decodes it). */
export function cookieIdentifiers(c: AppContext): Identifiers {
  return identifiersFromCookieValue(getCookie(c, COOKIE_NAME));
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
      ip: truncateIp(reportedArrival(c).ip),
      ...c.get('log'),
    });
  };
}
