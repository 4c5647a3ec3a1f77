// Who may send what (docs/security.md): browser events pass the origin policy
// and the rate limit; server events carry the server token; the merchant's own
// web server in front of the worker carries the forwarder secret. The signature of a
// signed event is checked in proxy/events/signature.ts, webhooks' by proxy/platforms/.
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { timingSafeEqual } from 'hono/utils/buffer';
import { allowedOriginsOf, forwarderSecretsOf, isWeakForwarderSecret, serverTokenOf } from '../config';
import { clientNetwork, isIp } from '../lib/network';
import { spendTokenBudget, tokenBudgetSpent } from '../delivery';
import { logLine } from '../lib/log';
import { arrivalOf, jsonError, type AppContext, type AppEnv, type Arrival } from './context';

/** Preflight cache lifetime: a day, the most Chromium honours is 2 hours anyway. */
const PREFLIGHT_MAX_AGE = 86400;

/** True once the request has shown a valid server token. */
export const isServerEvent = (c: AppContext) => c.get('server') === true;

/**
 * `Authorization: Bearer $TAPLINE_SERVER_TOKEN` makes a request a server event:
 * no origin policy, no signature, no amount cap. A request that has the header
 * but not the token is refused, after counting against the failure budget
 * (tokenBudget), which the right token obeys too.
 */
export function serverAuth(): MiddlewareHandler<AppEnv> {
  return async function serverAuth(c, next) {
    if (c.req.header('authorization') === undefined) return next();
    if (await bearerIs(c, serverTokenOf(c.env))) {
      c.set('server', true);
      return next();
    }
    throw jsonError(401, { ok: false, error: 'unauthorized', message: 'Authorization must be Bearer TAPLINE_SERVER_TOKEN' });
  };
}

/**
 * Whether the request's `Authorization: Bearer …` is `token` (compared in constant time),
 * after counting the answer against the failure budget (tokenBudget), which a right one obeys too.
 */
export async function bearerIs(c: AppContext, token: string | undefined): Promise<boolean> {
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
  const valid = Boolean(token && presented && (await timingSafeEqual(presented, token)));
  await tokenBudget(c, valid);
  return valid;
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
    if (origin !== undefined && origin === arrivalOf(c).origin) return next();
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

/** The client network a limit counts against: CF-Connecting-IP, set by the edge, or an authenticated forwarder's X-Real-IP. */
const clientKey = (c: AppContext) => clientNetwork(arrivalOf(c).ip);

/** A minute: the period of the TAPLINE_RATE_LIMIT binding in wrangler.toml. */
const RATE_LIMIT_PERIOD_SECONDS = 60;

/** Counts one request against the client's limit; 429 once it is spent. */
export async function enforceRateLimit(c: AppContext): Promise<void> {
  const limiter = c.env.TAPLINE_RATE_LIMIT;
  if (!limiter) return;
  const { success } = await limiter.limit({ key: clientKey(c) });
  if (!success) throw rateLimited(c);
}

function rateLimited(c: AppContext) {
  c.get('log').result = 'rate_limited';
  return jsonError(
    429,
    { ok: false, error: 'rate_limited', message: 'too many events from this address; try again in a minute' },
    { 'retry-after': String(RATE_LIMIT_PERIOD_SECONDS) },
  );
}

/**
 * The failure budget of a request that carries a token (server events,
 * refunds, the operator API; docs/security.md, "Limits that hold in every
 * mode"). A wrong token counts against the client network's rate limit; once
 * the limit refuses one, the network is marked spent in a ledger object until
 * the window ends, and every token from it, the right one included, is
 * answered 429 until then: a guess that happens to be right is told nothing.
 * The mark is read for a wrong token too, before the limit is asked: the limit
 * counts in windows of the clock, the mark for a minute from the refusal, and
 * early in the next window a wrong token answered by the limit alone would be
 * a 401 beside the right one's 429.
 * The right token is never counted, so a busy backend is not slowed; it costs
 * one read of the mark. Without the limit binding there is no budget (and
 * /health says so).
 */
export async function tokenBudget(c: AppContext, valid: boolean): Promise<void> {
  if (!c.env.TAPLINE_RATE_LIMIT) return;
  const network = clientKey(c);
  if (await budgetStore(() => tokenBudgetSpent(c.env, network), false)) throw rateLimited(c);
  if (valid) return;
  try {
    await enforceRateLimit(c);
  } catch (error) {
    await budgetStore(() => spendTokenBudget(c.env, network, RATE_LIMIT_PERIOD_SECONDS * 1000), undefined);
    throw error;
  }
}

/** The mark lives in a ledger object; should that be out of reach, the limit itself still holds the wrong tokens back. */
async function budgetStore<T>(call: () => Promise<T>, otherwise: T): Promise<T> {
  try {
    return await call();
  } catch (error) {
    logLine('token_budget_unavailable', { level: 'error', error: error instanceof Error ? error.message : 'unknown' });
    return otherwise;
  }
}

/** Browser events per client network (clientNetwork) through the TAPLINE_RATE_LIMIT binding; unbound, no limit (and /health says so). */
export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async function rateLimit(c, next) {
    if (!isServerEvent(c)) await enforceRateLimit(c);
    return next();
  };
}

/**
 * The merchant's own web server in front of the worker (docs/guides/own-server.md):
 * a request whose Tapline-Forwarder is TAPLINE_FORWARDER_SECRET (compared in
 * constant time) is the shop's, for the shopper at X-Real-IP, on the host
 * X-Forwarded-Host and the scheme X-Forwarded-Proto. Without the header, or
 * without the secret set, those headers are ignored. A wrong one is a 401,
 * after counting against the sender's own network (CF-Connecting-IP: what it
 * claims as X-Real-IP is not believed), so the secret cannot be guessed at speed.
 * A secret /health calls unsafe (short, or the guide's placeholder) is treated as unset.
 * While a secret is rotated, the setting holds the new and the old one, comma-separated.
 */
export function forwarder(): MiddlewareHandler<AppEnv> {
  return async function forwarder(c, next) {
    // The guide's placeholder is public: followed, it would let anyone choose X-Real-IP (a fresh budget per guess at a token).
    const secrets = forwarderSecretsOf(c.env).filter((secret) => !isWeakForwarderSecret(secret));
    const presented = c.req.header('tapline-forwarder')?.trim();
    if (secrets.length === 0 || presented === undefined) return next();
    // Every secret is compared (at most two, during a rotation), so the time taken says nothing about which matched.
    const matches = await Promise.all(secrets.map((secret) => timingSafeEqual(presented, secret)));
    if (!matches.includes(true)) {
      await tokenBudget(c, false);
      throw jsonError(401, { ok: false, error: 'unauthorized', message: 'Tapline-Forwarder must be TAPLINE_FORWARDER_SECRET' });
    }
    c.set('arrival', forwardedArrival(c));
    return next();
  };
}

/** A host as X-Forwarded-Host may name it: a DNS name (with the root's trailing dot, as a browser may ask for it) or an IP, and a port. One value, no path, no user. */
const FORWARDED_HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.?|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/** What the authenticated forwarder says, or the first of its headers that is missing or malformed. */
function forwardedArrival(c: AppContext): Arrival {
  const ip = c.req.header('x-real-ip')?.trim();
  const host = c.req.header('x-forwarded-host')?.trim().toLowerCase();
  const proto = c.req.header('x-forwarded-proto')?.trim().toLowerCase();
  const broken = (problem: string): Arrival => ({ ip: undefined, origin: 'null', hostname: '', secure: false, forwarded: true, problem });
  if (!ip || !isIp(ip)) return broken('the forwarder must send X-Real-IP: the shopper\'s IP address as your web server saw it (nginx: $remote_addr)');
  const badHost = 'the forwarder must send X-Forwarded-Host: the shop\'s host as the browser asked for it (nginx: $http_host)';
  if (!host || !FORWARDED_HOST.test(host)) return broken(badHost);
  if (proto !== 'https' && proto !== 'http') return broken('the forwarder must send X-Forwarded-Proto: https or http (nginx: $scheme)');
  // nginx passes on a Host it matched by name whatever follows (`:99999`), and a default server any Host: no URL holds some.
  let url: URL;
  try {
    url = new URL(`${proto}://${host}`);
  } catch {
    return broken(badHost);
  }
  return { ip, origin: url.origin, hostname: url.hostname, secure: proto === 'https', forwarded: true };
}
