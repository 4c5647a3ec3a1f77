// Every setting the worker reads, in one place (docs/reference.md, "Settings").
// `Env` itself is generated from wrangler.toml and .dev.vars.example by
// `npm run types` into worker-configuration.d.ts.

/**
 * Tapfiliate's endpoints, documented (proxy/tapfiliate.ts says what each is
 * and what is assumed about it): the defaults of the four upstream settings.
 */
export const TAPFILIATE_URLS = {
  conversion: 'https://api.tapfiliate.com/1.7/pb/con/c/',
  customer: 'https://api.tapfiliate.com/1.7/pb/cus/c/',
  clicks: 'https://api.tapfiliate.com/1.6/clicks/',
  rest: 'https://api.tapfiliate.com/1.6/',
};

declare global {
  namespace Cloudflare {
    interface Env {
      /** Not in wrangler.toml on purpose: unset means Tapfiliate's clicks API, set but empty turns clicks off. */
      TAPFILIATE_CLICKS_URL?: string;
    }
  }
}

const DEFAULT_BASE_PATH = '/_tap';
/** The largest body of a browser or server event: a real one is a few hundred bytes. */
export const MAX_EVENT_BYTES = 16 * 1024;
/** The largest webhook body: a Shopify order with many line items runs to hundreds of KB. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;
/** The largest amount an unsigned browser event may carry (MAX_AMOUNT). */
const DEFAULT_MAX_AMOUNT = 100_000;
/** How long a subscription's attribution is kept for its renewals (SUBSCRIPTION_MEMORY_DAYS). */
const DEFAULT_SUBSCRIPTION_MEMORY_DAYS = 400;

/** A secret or var as set, or undefined when it is missing or blank. */
function setting(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** `/_tap/`, `_tap` and `/_tap` all mean `/_tap`; an empty value falls back to the default. */
export function basePathOf(env: Partial<Env> | undefined): string {
  const raw = (setting(env?.BASE_PATH) ?? '').replace(/\/+$/, '');
  if (!raw) return DEFAULT_BASE_PATH;
  return raw.startsWith('/') ? raw : `/${raw}`;
}

export const apiKeyOf = (env: Partial<Env>) => setting(env.TAPFILIATE_API_KEY);
export const signingSecretOf = (env: Partial<Env>) => setting(env.TAPLINE_SIGNING_SECRET);
export const serverTokenOf = (env: Partial<Env>) => setting(env.TAPLINE_SERVER_TOKEN);
/** The operator API's bearer token (docs/operations.md, "Console"); unset, the API answers 503. */
export const adminTokenOf = (env: Partial<Env>) => setting(env.TAPLINE_ADMIN_TOKEN);
/**
 * What the merchant's own web server may send as Tapline-Forwarder (docs/guides/own-server.md);
 * unset, forwarded headers are never trusted. Two secrets, comma-separated, while one is being
 * rotated: the worker takes both until the web server sends the new one ("Rotating the secret").
 */
export const forwarderSecretsOf = (env: Partial<Env>) =>
  (setting(env.TAPLINE_FORWARDER_SECRET) ?? '')
    .split(',')
    .map((secret) => secret.trim())
    .filter(Boolean);
/** The shortest forwarder secret accepted, and the guide's placeholder, which a copied configuration still holds. */
const MIN_FORWARDER_SECRET = 16;
const FORWARDER_PLACEHOLDER = 'your-forwarder-secret';
/** A forwarder secret anyone could present (the guide's placeholder) or guess: reported by /health, and never followed. */
export const isWeakForwarderSecret = (secret: string) => secret.length < MIN_FORWARDER_SECRET || secret === FORWARDER_PLACEHOLDER;

/** A setting by its name, as set (a platform's webhook secret: proxy/platforms/index.ts names them). */
export function settingOf(env: Partial<Env>, name: string): string | undefined {
  const value = (env as Record<string, unknown>)[name];
  return setting(typeof value === 'string' ? value : undefined);
}

export function maxAmountOf(env: Partial<Env>): number {
  const raw = setting(env.MAX_AMOUNT);
  const value = Number(raw);
  return raw && Number.isFinite(value) && value >= 0 ? value : DEFAULT_MAX_AMOUNT;
}

/** How long the ledger keeps every record (RETENTION_DAYS): 90 days unless set, never under 30. */
const DEFAULT_RETENTION_DAYS = 90;
const MIN_RETENTION_DAYS = 30;
export function retentionMsOf(env: Partial<Env>): number {
  const days = Number(setting(env.RETENTION_DAYS));
  return (Number.isFinite(days) && days > 0 ? Math.max(days, MIN_RETENTION_DAYS) : DEFAULT_RETENTION_DAYS) * 24 * 60 * 60 * 1000;
}

export function subscriptionMemoryMsOf(env: Partial<Env>): number {
  const days = Number(setting(env.SUBSCRIPTION_MEMORY_DAYS));
  return (Number.isFinite(days) && days > 0 ? days : DEFAULT_SUBSCRIPTION_MEMORY_DAYS) * 24 * 60 * 60 * 1000;
}

/** Where postbacks and clicks go. An empty TAPFILIATE_CLICKS_URL (set, but blank) turns clicks off. */
export function upstreamUrlsOf(env: Partial<Env>) {
  return {
    customer: setting(env.POSTBACK_CUSTOMER_URL) ?? TAPFILIATE_URLS.customer,
    conversion: setting(env.POSTBACK_CONVERSION_URL) ?? TAPFILIATE_URLS.conversion,
    clicks: env.TAPFILIATE_CLICKS_URL === undefined ? TAPFILIATE_URLS.clicks : setting(env.TAPFILIATE_CLICKS_URL),
    rest: setting(env.TAPFILIATE_REST_URL) ?? TAPFILIATE_URLS.rest,
  };
}

/** REFUNDS: `reverse` (the default) takes commissions back at Tapfiliate; `ignore` only records and logs refunds. */
export function refundsModeOf(env: Partial<Env>): 'reverse' | 'ignore' {
  return setting(env.REFUNDS)?.toLowerCase() === 'ignore' ? 'ignore' : 'reverse';
}

/** WEBHOOK_TEST_EVENTS: `test` (the default) answers a platform's test events without sending; `send` delivers them. */
export function webhookTestEventsOf(env: Partial<Env>): 'test' | 'send' {
  return setting(env.WEBHOOK_TEST_EVENTS)?.toLowerCase() === 'send' ? 'send' : 'test';
}

/**
 * An upstream URL may carry the key only over https, or over http to this
 * machine for local development; anything else would leak it.
 */
function isSafeUpstream(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'https:') return true;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return parsed.protocol === 'http:' && (host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host));
}

/**
 * ALLOWED_ORIGINS as origins. Only `https://host[:port]` (or `http://` on a
 * loopback host) counts; `null`, `*`, a bare host or a URL with a path is a
 * mistake that would either open the proxy or silently allow nothing.
 */
export function allowedOriginsOf(env: Partial<Env>): { origins: Set<string>; invalid: string[] } {
  return remembered(originsCache, env, () => parseAllowedOrigins(env));
}

function parseAllowedOrigins(env: Partial<Env>): { origins: Set<string>; invalid: string[] } {
  const origins = new Set<string>();
  const invalid: string[] = [];
  for (const entry of (env.ALLOWED_ORIGINS ?? '').split(',')) {
    const value = entry.trim().replace(/\/$/, '');
    if (!value) continue;
    let origin: string | undefined;
    try {
      origin = new URL(value).origin;
    } catch {
      origin = undefined;
    }
    if (origin && origin === value && isSafeUpstream(value)) origins.add(origin);
    else invalid.push(entry.trim());
  }
  return { origins, invalid };
}

/**
 * What keeps events from being accepted, for /health and the 503 log line.
 * Empty when the worker is ready.
 */
export function configProblems(env: Partial<Env>): string[] {
  return remembered(problemsCache, env, () => findProblems(env));
}

/**
 * An isolate keeps one env object for its life, so what is derived from it is
 * worked out once per env rather than on every request.
 */
const originsCache = new WeakMap<object, { origins: Set<string>; invalid: string[] }>();
const problemsCache = new WeakMap<object, string[]>();
function remembered<T>(cache: WeakMap<object, T>, env: Partial<Env>, derive: () => T): T {
  let value = cache.get(env);
  if (value === undefined) {
    value = derive();
    cache.set(env, value);
  }
  return value;
}

/**
 * What to run for a missing secret. The deployed worker is `[env.production]`
 * in wrangler.toml (README, "To production"): a secret put without `--env
 * production` lands on another worker and this one never sees it.
 */
/** The one refusal of a deployment without the ledger: there is no delivery without it. */
export const LEDGER_UNBOUND = 'POSTBACK_LEDGER must be bound (wrangler.toml)';

export function secretHint(name: string): string {
  return `${name} is not set: run \`npx wrangler secret put ${name} --env production\` (locally, put it in .dev.vars)`;
}

function findProblems(env: Partial<Env>): string[] {
  const problems: string[] = [];
  if (!apiKeyOf(env)) problems.push(secretHint('TAPFILIATE_API_KEY'));
  if (forwarderSecretsOf(env).some(isWeakForwarderSecret)) {
    problems.push(`TAPLINE_FORWARDER_SECRET must be a secret of your own of at least ${MIN_FORWARDER_SECRET} characters, e.g. the output of \`openssl rand -hex 32\`, set on the worker and in your web server`);
  }
  const urls = upstreamUrlsOf(env);
  for (const [name, url] of [
    ['POSTBACK_CONVERSION_URL', urls.conversion],
    ['POSTBACK_CUSTOMER_URL', urls.customer],
    ['TAPFILIATE_CLICKS_URL', urls.clicks],
    ['TAPFILIATE_REST_URL', urls.rest],
  ] as const) {
    if (url !== undefined && !isSafeUpstream(url)) problems.push(`${name} must be https:// (or http:// on a loopback host): ${url}`);
  }
  const { invalid } = allowedOriginsOf(env);
  if (invalid.length > 0) problems.push(`ALLOWED_ORIGINS has entries that are not https origins: ${invalid.join(', ')}`);
  if (!env.POSTBACK_LEDGER) problems.push(LEDGER_UNBOUND);
  return problems;
}
