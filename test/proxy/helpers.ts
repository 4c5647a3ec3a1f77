import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { vi } from 'vitest';
import { createApp, type AppOptions } from '../../proxy/app';
import type { CreateDelivery, DeliveryResult, Submission } from '../../proxy/delivery';
import { fakeDelivery } from '../fake-delivery';
import type { PostbackJob } from '../../proxy/tapfiliate';

export const ORIGIN = 'https://shop.example';

/** A rate limit binding that never refuses, so the surface tests (all from one client) are not counted against each other. */
export const unlimited: RateLimit = { limit: async () => ({ success: true }) };
/** A rate limit binding that refuses everything, with the keys it was asked about. */
export function exhaustedLimit() {
  const keys: string[] = [];
  const binding: RateLimit = {
    limit: async ({ key }) => {
      keys.push(key);
      return { success: false };
    },
  };
  return { keys, binding };
}

/** A delivery that records each job and answers from a script, so the surface is tested alone. */
export function recordingDelivery(answer: DeliveryResult | ((job: PostbackJob) => DeliveryResult) = { status: 'sent' }) {
  const jobs: PostbackJob[] = [];
  const submissions: Submission[] = [];
  const create: CreateDelivery = () =>
    fakeDelivery(async (submission) => {
      const job = submission.job as PostbackJob;
      jobs.push(structuredClone(job));
      submissions.push(structuredClone(submission));
      return typeof answer === 'function' ? answer(job) : answer;
    });
  return { jobs, submissions, create };
}

export interface Call {
  path: string;
  init?: RequestInit;
  env?: Partial<Env>;
}

/**
 * The env a surface test runs with: the project's bindings (queue and ledger
 * bound, so `configProblems` finds nothing), a key, and a limiter that never
 * refuses. A test's own `env` wins.
 */
export function testEnv(env: Partial<Env> = {}): Env {
  return { ...(workerEnv as Env), TAPFILIATE_API_KEY: 'test-key', TAPLINE_RATE_LIMIT: unlimited, ...env } as Env;
}

/** Runs one request through a fresh app, with the console captured so tests can read every log line. */
export async function call({ path, init, env }: Call, options: Partial<AppOptions> = {}) {
  const delivery = recordingDelivery();
  const origin = vi.fn(async (request: Request) => new Response(`origin saw ${new URL(request.url).pathname}`));
  const app = createApp({ createDelivery: delivery.create, fetchOrigin: origin, ...options });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const ctx = createExecutionContext();
  try {
    const response = await app.request(path.startsWith('http') ? path : ORIGIN + path, init, testEnv(env), ctx);
    const text = await response.text();
    await waitOnExecutionContext(ctx);
    const lines = log.mock.calls.map((args) => args.map(String).join(' '));
    return { response, text, json: () => JSON.parse(text) as unknown, lines, jobs: delivery.jobs, origin };
  } finally {
    log.mockRestore();
  }
}

/**
 * A POST the way the snippet sends it: text/plain, so no preflight, with the
 * Origin a browser adds to every POST (the site's own, unless a test passes
 * another, or `origin: undefined` to leave it out).
 */
export function post(body: unknown, headers: Record<string, string | undefined> = {}): RequestInit {
  const all: Record<string, string | undefined> = { origin: ORIGIN, 'content-type': 'text/plain;charset=UTF-8', ...headers };
  return {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/** A Cookie header carrying tap_data as percent-encoded JSON (RFC 6265 §4.1.1 cookie-octet excludes `"` and `,`). */
export function tapDataCookie(data: unknown): string {
  return `tap_data=${encodeURIComponent(JSON.stringify(data))}`;
}

/** The lowercase hex HMAC-SHA256 of `signed` with `secret`, as the merchant's server computes it. */
export async function sign(signed: string, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(signed)));
  return [...mac].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
