// Who may send what (docs/security.md): browser events pass the origin policy
// and the rate limit, and in signed trust carry the merchant's signature;
// server events carry the server token; webhooks are checked by their routes.
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { getConnInfo } from 'hono/cloudflare-workers';
import { allowedOriginsOf, serverTokenOf } from './config';
import { hexBytes, hmacVerify } from './hmac';
import { jsonError, parseJson, parseWith, type AppContext, type AppEnv } from './http';
import { signedEnvelopeSchema, signedExpirySchema } from './schema';

/** Preflight cache lifetime: a day, the most Chromium honours is 2 hours anyway. */
const PREFLIGHT_MAX_AGE = 86400;

/** True once the request has shown a valid server token. */
export const isServerEvent = (c: AppContext) => c.get('server') === true;

/**
 * `Authorization: Bearer $TAPLINE_SERVER_TOKEN` makes a request a server event:
 * no origin policy, no signature, no amount cap. A request that has the header
 * but not the token is refused (after counting against the rate limit, so the
 * token cannot be guessed at speed).
 */
export function serverAuth(): MiddlewareHandler<AppEnv> {
  return async function serverAuth(c, next) {
    const header = c.req.header('authorization');
    if (header === undefined) return next();
    const token = serverTokenOf(c.env);
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    if (token && presented && (await constantTimeEqual(presented, token))) {
      c.set('server', true);
      return next();
    }
    await enforceRateLimit(c);
    throw jsonError(401, { ok: false, error: 'unauthorized', message: 'Authorization must be Bearer TAPLINE_SERVER_TOKEN' });
  };
}

/**
 * Browser events must come from the site itself or an origin in
 * ALLOWED_ORIGINS. Browsers send Origin with every POST, so a request without
 * one is not a browser's and is refused too. Listed origins get CORS with
 * credentials so the tap_data cookie travels. The refusal is readable by the
 * refused page: hidden behind a CORS error, the snippet would take it for
 * "offline" and resend it for a week.
 */
export function originPolicy(): MiddlewareHandler<AppEnv> {
  const corsForListed = cors({
    origin: (origin, c) => (allowedOriginsOf(c.env).origins.has(origin) ? origin : null),
    allowMethods: ['POST', 'OPTIONS'],
    credentials: true,
    maxAge: PREFLIGHT_MAX_AGE,
  });
  return async function originPolicy(c, next) {
    if (isServerEvent(c)) return next();
    const origin = c.req.header('origin');
    if (origin !== undefined && origin === new URL(c.req.url).origin) return next();
    if (origin !== undefined && allowedOriginsOf(c.env).origins.has(origin)) return corsForListed(c, next);
    // A preflight stays unreadable, so no non-simple request follows it.
    const readable = origin && origin !== 'null' && c.req.method !== 'OPTIONS';
    throw jsonError(
      403,
      { ok: false, error: 'origin_not_allowed', message: 'events are accepted from the site itself and ALLOWED_ORIGINS' },
      readable ? { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' } : {},
    );
  };
}

/** The client network a limit counts against: CF-Connecting-IP, set by the edge. */
const clientKey = (c: AppContext) => clientNetwork(getConnInfo(c).remote.address);

/**
 * What counts as one client (docs/security.md, "Client network"): an IPv4
 * address, or the /64 an IPv6 address is in, written `2001:db8:1:2::/64`. One
 * host or ISP customer gets a whole /64, so counting full IPv6 addresses would
 * give one attacker 2^64 clients. An IPv4-mapped address (`::ffff:192.0.2.1`)
 * is its IPv4 address. Anything that is not an address is 'unknown'.
 */
export function clientNetwork(address: string | undefined | null): string {
  const value = (address ?? '').trim().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (IPV4.test(value)) return value;
  const groups = ipv6Groups(value);
  if (!groups) return 'unknown';
  const mapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (mapped) return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join('.');
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a dotted IPv4 tail read as two groups), or null. */
function ipv6Groups(value: string): number[] | null {
  if (!value.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(value)) return null;
  let text = value;
  const tail = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    if (!IPV4.test(tail[1])) return null;
    const [a, b, c, d] = tail[1].split('.').map(Number);
    text = `${text.slice(0, text.length - tail[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  if (!all.every((group) => /^[0-9A-Fa-f]{1,4}$/.test(group))) return null;
  return all.map((group) => parseInt(group, 16));
}

/** A minute: the period of the TAPLINE_RATE_LIMIT binding in wrangler.toml. */
const RATE_LIMIT_PERIOD_SECONDS = 60;

/** Counts one request against the client's limit; 429 once it is spent. */
export async function enforceRateLimit(c: AppContext): Promise<void> {
  const limiter = c.env.TAPLINE_RATE_LIMIT;
  if (!limiter) return;
  const { success } = await limiter.limit({ key: clientKey(c) });
  if (!success) {
    c.get('log').result = 'rate_limited';
    throw jsonError(
      429,
      { ok: false, error: 'rate_limited', message: 'too many events from this address; try again in a minute' },
      { 'retry-after': String(RATE_LIMIT_PERIOD_SECONDS) },
    );
  }
}

/** Browser events per client network (clientNetwork) through the TAPLINE_RATE_LIMIT binding; unbound, no limit (and /health says so). */
export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async function rateLimit(c, next) {
    if (!isServerEvent(c)) await enforceRateLimit(c);
    return next();
  };
}

export type SignatureFailure = 'invalid_signature' | 'signature_expired';

/**
 * Checks a signed event and returns the fields inside `signed`. The signature
 * is the hex HMAC-SHA256 of exactly the bytes of `signed`; Web Crypto's
 * verify compares in constant time. No canonical form is needed: the string
 * is verified as received, then parsed.
 */
export async function verifySigned(body: Record<string, unknown>, secret: string, nowSeconds = Date.now() / 1000): Promise<Record<string, unknown>> {
  const { signed, signature } = parseWith(signedEnvelopeSchema, { signed: body.signed, signature: body.signature });
  // The schema let through 64 hex digits only, so the bytes are there.
  if (!(await hmacVerify(secret, hexBytes(signature)!, signed))) throw refuse('invalid_signature');
  const fields = parseJson(signed);
  if (!fields || typeof fields !== 'object' || Array.isArray(fields)) {
    throw jsonError(400, { ok: false, error: 'invalid_request', issues: [{ path: 'signed', message: 'must be a JSON object' }] });
  }
  const { exp } = parseWith(signedExpirySchema, fields, 'signed.');
  if (exp !== undefined && nowSeconds > exp) throw refuse('signature_expired');
  const { exp: _exp, ...rest } = fields as Record<string, unknown>;
  return rest;
}

function refuse(error: SignatureFailure | 'signature_required') {
  const messages = {
    signature_required: 'this shop accepts only signed events: pass { signed, signature } from your server',
    invalid_signature: 'the signature does not match `signed` (HMAC-SHA256 with TAPLINE_SIGNING_SECRET)',
    signature_expired: 'the signed event is past its exp',
  };
  return jsonError(401, { ok: false, error, message: messages[error] });
}

export const signatureRequired = () => refuse('signature_required');

/** Compares two secrets without leaking where they differ: both are hashed first, then every byte is compared. */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [left, right] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(a)),
    crypto.subtle.digest('SHA-256', encoder.encode(b)),
  ]);
  const x = new Uint8Array(left);
  const y = new Uint8Array(right);
  let difference = 0;
  for (let index = 0; index < x.length; index++) difference |= x[index] ^ y[index];
  return difference === 0;
}
