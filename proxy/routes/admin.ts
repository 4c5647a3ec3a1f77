// The operator API under BASE_PATH/admin/api (docs/reference.md, "Routes and
// answers"; docs/operations.md, "Console"): what happened to an order, what is stuck, and sending it again.
// Behind TAPLINE_ADMIN_TOKEN; every answer is no-store and carries no CORS header.
import { Hono, type MiddlewareHandler } from 'hono';
import * as z from 'zod/mini';
import { adminTokenOf } from '../config';
import { BULK_RETRY_LIMIT, decodeCursor, decodeRetryCursor, RECORD_STATUSES, type CreateDelivery, type EventQuery } from '../delivery';
import { invalidRequest, jsonError, jsonObject, parseWith, type AppContext, type AppEnv } from '../http/context';
import { answerDelivery, refuseUnlessLedger } from '../http/answers';
import { bearerIs } from '../http/trust';
import { truncateIp } from '../lib/log';
import { isIp } from '../lib/network';
import { withoutUndefined } from '../lib/plain';
import { PLATFORMS, secretsOf } from '../platforms';

const KINDS = ['conversion', 'customer', 'refund'] as const;
const SOURCES = ['browser', 'server', ...PLATFORMS.map((platform) => platform.name)] as const;

/** The longest ledger key: a kind prefix and an id of at most 255 characters (proxy/events/schema.ts). */
const MAX_KEY_LENGTH = 300;

/** A date (2026-12-07) or a time (2026-12-07T10:00:05Z, with an offset, or without one: UTC), ISO 8601. */
const ISO_TIME = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i;
const timeSchema = z.optional(z.string().check(z.regex(ISO_TIME, 'must be an ISO 8601 date or time, e.g. 2026-12-07 or 2026-12-07T10:00:00Z')));
/** Prefix search: `ORD-10*`, with this many characters at least before the `*`, so no search asks for everything. */
const MIN_PREFIX = 3;

const cursorSchema = z.optional(z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(1024), z.regex(/^[\w.:~=+/-]*$/, 'is not a cursor this API gave')));

const listQuerySchema = z.object({
  status: z.optional(z.enum(RECORD_STATUSES)),
  kind: z.optional(z.enum(KINDS)),
  source: z.optional(z.enum(SOURCES)),
  from: timeSchema,
  to: timeSchema,
  q: z.optional(
    z.string().check(
      z.trim(),
      z.minLength(1, 'must not be empty'),
      z.maxLength(255),
      z.refine((q) => !q.endsWith('*') || q.length > MIN_PREFIX, `a prefix needs at least ${MIN_PREFIX} characters before the *`),
    ),
  ),
  limit: z.optional(
    z.pipe(
      z.string().check(z.regex(/^\d{1,3}$/, 'must be a whole number from 1 to 100')),
      z.pipe(z.transform(Number), z.number().check(z.gte(1, 'must be at least 1'), z.lte(100, 'must be at most 100'))),
    ),
  ),
  cursor: cursorSchema,
});

/** `cursor`: the previous call's next_cursor, so a bulk retry goes on past the records it has tried (docs/reference.md). */
const bulkRetrySchema = z.strictObject({ status: z.literal('dead', 'must be "dead": only dead records are retried in bulk'), from: timeSchema, to: timeSchema, cursor: cursorSchema });

/**
 * The acceptance range in ms: a bare `from` date is its first millisecond, a
 * bare `to` date its last (UTC). A date that does not exist (2026-02-30) or a
 * range that ends before it starts is a 400 naming the field.
 */
function rangeOf(query: { from?: string; to?: string }): { from?: number; to?: number } {
  const at = (field: 'from' | 'to') => {
    const text = query[field];
    if (text === undefined) return undefined;
    const [, date, time, zone] = ISO_TIME.exec(text)!;
    const ms = Date.parse(time ? `${date}T${time}${zone ?? 'Z'}` : `${date}T00:00:00Z`);
    // Date.parse reads 2026-02-30 as 2 March, with a time or without: the date must come back as it was given.
    const day = Date.parse(`${date}T00:00:00Z`);
    if (!Number.isFinite(ms) || !Number.isFinite(day) || new Date(day).toISOString().slice(0, 10) !== date) {
      throw invalidRequest([{ path: field, message: 'is not a date or time that exists' }]);
    }
    return time || field === 'from' ? ms : ms + 86_400_000 - 1;
  };
  const range = { from: at('from'), to: at('to') };
  if (range.from !== undefined && range.to !== undefined && range.from > range.to) throw invalidRequest([{ path: 'to', message: 'must not be before from' }]);
  return range;
}

/**
 * 503 without the secret; 401 for a missing or wrong token, after counting it
 * against the failure budget (trust.ts tokenBudget), which the right token obeys too.
 */
function adminAuth(): MiddlewareHandler<AppEnv> {
  return async function adminAuth(c, next) {
    const token = adminTokenOf(c.env);
    if (!token) {
      throw jsonError(503, { ok: false, error: 'not_configured', message: 'set TAPLINE_ADMIN_TOKEN (wrangler secret put TAPLINE_ADMIN_TOKEN) to use the console' });
    }
    if (await bearerIs(c, token)) return next();
    throw jsonError(401, { ok: false, error: 'unauthorized', message: 'Authorization must be Bearer TAPLINE_ADMIN_TOKEN' });
  };
}

/** An operator's answer is never stored by a browser or a cache on the way, and nothing here is ever CORS-readable. */
function noStore(): MiddlewareHandler<AppEnv> {
  return async function noStore(c, next) {
    await next();
    c.res.headers.set('cache-control', 'no-store');
    for (const name of [...c.res.headers.keys()]) if (name.startsWith('access-control-')) c.res.headers.delete(name);
  };
}

/**
 * The routes, mounted at BASE_PATH/admin/api by app.ts.
 *
 * @example
 * app.route('/_tap/admin/api', adminApi(createDelivery));
 */
export function adminApi(createDelivery: CreateDelivery): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  api.use('*', noStore(), adminAuth());

  api.get('/summary', async (c) => {
    const summary = await deliveryOf(c, createDelivery).summary();
    return c.json(redact({ ok: true, ...summary }, c.env));
  });

  api.get('/events', async (c) => {
    const { from, to, q, ...filters } = parseWith(listQuerySchema, c.req.query());
    try {
      decodeCursor(filters.cursor);
    } catch {
      throw invalidRequest([{ path: 'cursor', message: 'is not a cursor this API gave' }]);
    }
    const prefix = q?.endsWith('*') ?? false;
    const query: EventQuery = { ...filters, ...withoutUndefined(rangeOf({ from, to })), ...(q !== undefined && { q: prefix ? q.slice(0, -1) : q, prefix }) };
    const page = await deliveryOf(c, createDelivery).list(query);
    return c.json(redact({ ok: true, events: page.events, next_cursor: page.next_cursor }, c.env));
  });

  api.get('/events/:key', async (c) => {
    const event = await deliveryOf(c, createDelivery).get(keyOf(c));
    if (!event) throw notFound();
    return c.json(redact({ ok: true, event }, c.env));
  });

  // Every dead record of a range at once, after an outage or a replaced key: at most BULK_RETRY_LIMIT per call, each once per bulk retry.
  api.post('/retry', async (c) => {
    const { from, to, cursor } = parseWith(bulkRetrySchema, jsonObject(await c.req.text()));
    try {
      decodeRetryCursor(cursor);
    } catch {
      throw invalidRequest([{ path: 'cursor', message: 'is not a next_cursor a bulk retry gave' }]);
    }
    const counts = await deliveryOf(c, createDelivery).retryDead(withoutUndefined({ ...rangeOf({ from, to }), cursor }), BULK_RETRY_LIMIT);
    c.get('log').result = `retried_${counts.retried}`;
    return c.json({ ok: true, ...counts });
  });

  api.post('/events/:key/retry', async (c) => {
    const key = keyOf(c);
    const result = await deliveryOf(c, createDelivery).retry(key);
    c.get('log').result = result.status;
    switch (result.status) {
      case 'not_found':
        throw notFound();
      case 'already_sent':
        throw jsonError(409, { ok: false, error: 'already_sent', message: 'Tapfiliate has this one already; it is never sent twice' });
      case 'not_retryable':
        // Reversed or ignored: nothing was owed to Tapfiliate, so nothing is sent.
        return c.json({ ok: false, error: 'not_retryable', status: result.record_status, message: `a ${result.record_status} record is never sent` }, 409);
      case 'rejected':
        // Tapfiliate's words are in the event's `last.message`; the answer only says it refused.
        c.get('log').upstream_status = result.upstreamStatus;
        return c.json({ ok: false, error: 'upstream_rejected', upstream_status: result.upstreamStatus }, 422);
      default:
        // sent, duplicate, queued, unavailable…: answered as every route answers them.
        return answerDelivery(c, result);
    }
  });

  return api;
}

/** The ledger behind delivery; a deployment without it has nothing to show. */
function deliveryOf(c: AppContext, createDelivery: CreateDelivery) {
  refuseUnlessLedger(c);
  return createDelivery(c.env);
}

/** `:key` arrives percent-encoded (`con%3AORD-5`); Hono has decoded it. */
function keyOf(c: AppContext): string {
  const key = c.req.param('key') ?? '';
  if (!key || key.length > MAX_KEY_LENGTH) {
    throw jsonError(400, { ok: false, error: 'invalid_request', issues: [{ path: 'key', message: `must be a ledger key of 1 to ${MAX_KEY_LENGTH} characters, e.g. con%3AORD-5` }] });
  }
  return key;
}

const notFound = () => jsonError(404, { ok: false, error: 'not_found', message: 'the ledger has no record with this key' });

/** An IPv4 address inside free text (an upstream message, say), also glued to a word (`x_203.0.113.7`). */
const IPV4_IN_TEXT = /(?<!\d)(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}(?!\d)/g;
/**
 * A run of the characters an IPv6 address is written with: where one may be,
 * glued to anything. maskIpv6Run passes a run of fewer than two colons by. One
 * character class repeated, so attacker text costs time in proportion to its length.
 */
const IPV6_RUN = /[0-9A-Fa-f:.]+/g;
/** The shape of an IPv6 address (RFC 4291, section 2.2), cheap to test before isIp parses it. */
const IPV6_SHAPE = /^(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?$/;
/** Two `::`, or `:::`: no address, and not worth parsing. */
const TWO_GAPS = /:::|::.*::/;
/** The longest IPv6 address as text: 0000:0000:0000:0000:0000:ffff:255.255.255.255. */
const MAX_IPV6 = 45;

/** The end of the longest IPv6 address in `run` from `at`, or -1. */
function longestAddressEnd(run: string, at: number): number {
  // Only `::` starts or ends an address with a colon: a single one is not tried, so no parse is wasted on it.
  if (run[at] === ':' && run[at + 1] !== ':') return -1;
  for (let end = Math.min(run.length, at + MAX_IPV6); end > at + 2; end--) {
    // Never just before a colon the run goes on after.
    if ((run[end] === ':' && end < run.length - 1) || (run[end - 1] === ':' && run[end - 2] !== ':')) continue;
    const address = run.slice(at, end);
    if (IPV6_SHAPE.test(address) && !TWO_GAPS.test(address) && isIp(address)) return end;
  }
  return -1;
}

/**
 * Every IPv6 address inside a run, glued to anything (`IP:2001:db8::1`,
 * `x_2001:db8::1`, `ip=2001:db8::1:`, `…:7334dead`), cut to its /48 plus ::x
 * (lib/log.ts truncateIp). Of the addresses that overlap, the one reaching
 * furthest is masked, so nothing of an address's end is shown: in
 * `42:2001:…:370:7348` the eight groups from `42` end inside `370`, those from
 * `2001` take in `7348`. A time (12:30:45) or a MAC address is none, and stays.
 */
function maskIpv6Run(run: string): string {
  if (run.indexOf(':') === run.lastIndexOf(':')) return run;
  let masked = '';
  let done = 0;
  for (let at = 0; at < run.length - 2; at++) {
    let end = longestAddressEnd(run, at);
    if (end < 0) continue;
    // Another address starting inside this one may reach further: the furthest wins, the leftmost of those.
    let start = at;
    for (let later = at + 1; later < end; later++) {
      const reach = longestAddressEnd(run, later);
      if (reach > end) [start, end] = [later, reach];
    }
    masked += run.slice(done, start) + truncateIp(run.slice(start, end));
    done = end;
    at = end - 1;
  }
  return masked + run.slice(done);
}

/**
 * The ledger holds no IP and no secret; this makes sure no answer does either,
 * whatever a record carries: every string that is an IP, or holds one, is
 * cut to its network part (lib/log.ts truncateIp), and every secret is replaced.
 */
export function redact<T>(value: T, env: Partial<Env>): T {
  const secrets = secretsOf(env);
  const clean = (item: unknown): unknown => {
    if (typeof item === 'string') {
      if (isIp(item)) return truncateIp(item);
      // IPv6 first: its /48 plus ::x (docs/security.md, as the operator API shows every IP), also when it ends in a dotted IPv4.
      let text = item.replace(IPV6_RUN, maskIpv6Run);
      text = text.replace(IPV4_IN_TEXT, (address, network: string) => (isIp(address) ? `${network}.x` : address));
      for (const secret of secrets) text = text.split(secret).join('***');
      return text;
    }
    if (Array.isArray(item)) return item.map(clean);
    if (item && typeof item === 'object') return Object.fromEntries(Object.entries(item).map(([name, field]) => [name, clean(field)]));
    return item;
  };
  return clean(value) as T;
}
