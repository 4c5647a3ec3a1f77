// What every attack test shares: the real app with the real delivery (the
// ledger and rate limit as wrangler.toml binds them in workerd), pointed at a
// local postback server, and the attacker's requests.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { inject, vi } from 'vitest';
import { createApp } from '../../proxy/app';
import { createDelivery } from '../../proxy/delivery';
import { ledgersFollow } from '../ledger-control';
import { postbackControl } from '../postback/control';
import type { ReceivedPostback } from '../postback/server.mjs';

export const ORIGIN = 'https://shop.example';
export const KEY = 'test-key'; // what the stand-in expects
export const SECRET = 'attack-suite-signing-secret';
export const TOKEN = 'attack-suite-server-token';

export const upstream = postbackControl(inject('attackPostbackServers').app);

/** The worker's own bindings, with the key and the postbacks pointed at `server`. */
export function attackEnv(extra: Partial<Env> = {}, server = upstream): Env {
  return {
    ...(workerEnv as Env),
    TAPFILIATE_API_KEY: KEY,
    POSTBACK_CONVERSION_URL: server.conversionUrl,
    POSTBACK_CUSTOMER_URL: server.customerUrl,
    ...extra,
  } as Env;
}

export const signedTrust = (extra: Partial<Env> = {}) => attackEnv({ TAPLINE_SIGNING_SECRET: SECRET, ...extra });
export const withServerToken = (extra: Partial<Env> = {}) => attackEnv({ TAPLINE_SERVER_TOKEN: TOKEN, ...extra });

let counter = 0;
/** An id no other test (or earlier run against the same ledger) has used. */
export const uniqueId = (prefix = 'ATK') => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${++counter}`;

/** A random private address per request, so no test (in any file) eats another's rate limit. */
export function freshIp(): string {
  const n = crypto.getRandomValues(new Uint32Array(1))[0] & 0xffffff;
  return `10.${n >> 16}.${(n >> 8) & 255}.${n & 255}`;
}

export interface Sent {
  status: number;
  json: Record<string, unknown>;
  headers: Headers;
  lines: string[];
}

/**
 * One request through a fresh app, to the shop's own address unless `at` names
 * another (a worker behind the merchant's web server). `headers` are the
 * attacker's: Origin defaults to the shop's own and CF-Connecting-IP to a fresh
 * address; pass `undefined` to leave either out.
 */
export async function send(
  path: string,
  body: unknown,
  { env = attackEnv(), headers = {}, at = ORIGIN }: { env?: Env; headers?: Record<string, string | undefined>; at?: string } = {},
): Promise<Sent> {
  const app = createApp({ createDelivery });
  const all: Record<string, string | undefined> = { origin: ORIGIN, 'content-type': 'text/plain;charset=UTF-8', 'cf-connecting-ip': freshIp(), ...headers };
  const init: RequestInit = {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
  await ledgersFollow(env);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const ctx = createExecutionContext();
  try {
    const response = await app.request(`${at}${path}`, init, env, ctx);
    const json = (await response.json()) as Record<string, unknown>;
    await waitOnExecutionContext(ctx);
    return { status: response.status, json, headers: response.headers, lines: log.mock.calls.map((args) => args.map(String).join(' ')) };
  } finally {
    log.mockRestore();
  }
}

/** GET /health with an env (`at` the worker's own address, `headers` what its caller sends). */
export async function health(env: Env, { at = ORIGIN, headers = {} }: { at?: string; headers?: Record<string, string> } = {}) {
  const app = createApp({ createDelivery });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    const response = await app.request(`${at}/_tap/health`, { headers }, env, createExecutionContext());
    return {
      status: response.status,
      json: (await response.json()) as Record<string, unknown>,
      lines: log.mock.calls.map((args) => args.map(String).join(' ')),
    };
  } finally {
    log.mockRestore();
  }
}

/** What the stand-in received for one id, of either kind. */
export async function receivedFor(id: string, server = upstream): Promise<ReceivedPostback[]> {
  return (await server.received()).filter((r) => r.fields.external_id === id || r.fields.customer_id === id);
}

/** The lowercase hex HMAC-SHA256 of `signed`, as the merchant's server computes it. */
export async function sign(signed: string, secret = SECRET): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(signed)));
  return [...mac].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** A signed envelope for `fields`, as a thank-you page passes it to tap.convert. */
export async function signedEvent(fields: Record<string, unknown>, secret = SECRET) {
  const signed = JSON.stringify(fields);
  return { signed, signature: await sign(signed, secret) };
}

export const tapDataCookie = (data: unknown) => `tap_data=${encodeURIComponent(JSON.stringify(data))}`;

/** The env with clicks pointed at `server` too (the worker's own binding points elsewhere). */
export const clicksEnv = (extra: Partial<Env> = {}, server = upstream) => attackEnv({ TAPFILIATE_CLICKS_URL: server.clicksUrl, ...extra });

/** The clicks the stand-in received for one referral code. */
export async function clicksFor(referralCode: string, server = upstream) {
  return (await server.clicks()).filter((r) => r.fields.referral_code === referralCode);
}

export const STRIPE_SECRET = 'whsec_attack_suite';
export const SHOPIFY_SECRET = 'attack-suite-shopify-secret';

/** A Stripe-Signature header for `body`, as Stripe signs it: `t=<seconds>,v1=<hex HMAC of "t.body">`. */
export async function stripeSignature(body: string, { secret = STRIPE_SECRET, timestamp = Math.floor(Date.now() / 1000) } = {}) {
  return `t=${timestamp},v1=${await sign(`${timestamp}.${body}`, secret)}`;
}

/** X-Shopify-Hmac-Sha256 for `body`: the base64 HMAC-SHA256 of its bytes. */
export async function shopifySignature(body: string, secret = SHOPIFY_SECRET) {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body)))));
}
