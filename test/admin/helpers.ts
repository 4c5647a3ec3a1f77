import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { vi } from 'vitest';
import { createApp, type AppOptions } from '../../proxy/app';
import type { Delivery, LedgerEvent } from '../../proxy/delivery';

export const ORIGIN = 'https://shop.example';
export const ADMIN_TOKEN = 'admin-token-7c1e9f';
export const API_KEY = 'test-key';

/** A rate limit binding that never refuses, with the keys it was asked about. */
export function countingLimit(allow = () => true) {
  const keys: string[] = [];
  const binding: RateLimit = {
    limit: async ({ key }) => {
      keys.push(key);
      return { success: allow() };
    },
  };
  return { keys, binding };
}

/** A conversion as the ledger returns it. */
export function conversion(id: string, fields: Partial<LedgerEvent> = {}): LedgerEvent {
  return {
    key: `con:${id}`,
    kind: 'conversion',
    status: 'sent',
    source: 'browser',
    signed: false,
    external_id: id,
    amount: 49,
    currency: 'EUR',
    identifiers: { referral_code: 'anna' },
    accepted_at: '2026-12-03T10:00:00.000Z',
    updated_at: '2026-12-03T10:00:01.000Z',
    attempts: 1,
    last: { at: '2026-12-03T10:00:01.000Z', outcome: 'sent', upstream_status: 200 },
    history: [{ at: '2026-12-03T10:00:01.000Z', outcome: 'sent', upstream_status: 200 }],
    ...fields,
  };
}

type Retry = Awaited<ReturnType<Delivery['retry']>>;

/** A ledger in memory, recording every call, so the API is tested alone. */
export function fakeDelivery(events: LedgerEvent[] = [], retryAnswer: Retry = { status: 'sent' }) {
  const calls: { method: string; arg: unknown }[] = [];
  const unused = () => Promise.reject(new Error('not used by the operator API'));
  const delivery: Delivery = {
    submit: unused,
    findConversion: unused,
    async get(key) {
      calls.push({ method: 'get', arg: key });
      return structuredClone(events.find((event) => event.key === key) ?? null);
    },
    async list(query) {
      calls.push({ method: 'list', arg: query });
      return { events: structuredClone(events.slice(0, query.limit ?? 50)), next_cursor: null };
    },
    async summary() {
      calls.push({ method: 'summary', arg: undefined });
      const counts = { sent: 1, pending: 2, dead: 3, reversed: 0, adjusted: 0, unattributed: 4, ignored: 5 };
      return { last_24h: counts, last_7d: counts };
    },
    async retry(key) {
      calls.push({ method: 'retry', arg: key });
      return retryAnswer;
    },
    note: unused,
    async retryDead(query, limit) {
      calls.push({ method: 'retryDead', arg: { query, limit } });
      return { retried: 0, sent: 0, queued: 0, rejected: 0, remaining: 0, next_cursor: null };
    },
  };
  return { calls, delivery, create: () => delivery };
}

/** The project's bindings, the key, an admin token and a limiter that never refuses; a test's own `env` wins. */
export function testEnv(env: Partial<Env> = {}): Env {
  return {
    ...(workerEnv as Env),
    TAPFILIATE_API_KEY: API_KEY,
    TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN,
    TAPLINE_RATE_LIMIT: countingLimit().binding,
    ...env,
  } as Env;
}

export const bearer = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` });

/** One request through a fresh app with the given delivery, its log captured. */
export async function call(path: string, init: RequestInit = {}, env: Partial<Env> = {}, options: Partial<AppOptions> = {}) {
  const app = createApp({ createDelivery: fakeDelivery().create, fetchOrigin: () => new Response('origin'), ...options });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const ctx = createExecutionContext();
  try {
    const response = await app.request(ORIGIN + path, init, testEnv(env), ctx);
    const text = await response.text();
    await waitOnExecutionContext(ctx);
    return { response, status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown>, lines: log.mock.calls.map((args) => args.map(String).join(' ')) };
  } finally {
    log.mockRestore();
  }
}
