import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { vi } from 'vitest';
import { createApp, type AppOptions } from '../../proxy/app';
import type { CreateDelivery, DeliveryResult, PostbackJob } from '../../proxy/delivery/types';
import type { Env } from '../../proxy/env';

export const ORIGIN = 'https://shop.example';

/** A delivery that records each job and answers from a script, so the surface is tested alone. */
export function recordingDelivery(answer: DeliveryResult | ((job: PostbackJob) => DeliveryResult) = { status: 'sent' }) {
  const jobs: PostbackJob[] = [];
  const create: CreateDelivery = () => ({
    durable: false,
    async submit(job) {
      jobs.push(structuredClone(job));
      return typeof answer === 'function' ? answer(job) : answer;
    },
  });
  return { jobs, create };
}

export interface Call {
  path: string;
  init?: RequestInit;
  env?: Partial<Env>;
}

/** Runs one request through a fresh app, with the console captured so tests can read every log line. */
export async function call({ path, init, env }: Call, options: Partial<AppOptions> = {}) {
  const delivery = recordingDelivery();
  const origin = vi.fn(async (request: Request) => new Response(`origin saw ${new URL(request.url).pathname}`));
  const app = createApp({ createDelivery: delivery.create, fetchOrigin: origin, ...options });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const ctx = createExecutionContext();
  try {
    const response = await app.request(
      path.startsWith('http') ? path : ORIGIN + path,
      init,
      { ...(workerEnv as Env), TAPFILIATE_API_KEY: 'test-key', ...env },
      ctx,
    );
    const text = await response.text();
    await waitOnExecutionContext(ctx);
    const lines = log.mock.calls.map((args) => args.map(String).join(' '));
    return { response, text, json: () => JSON.parse(text) as unknown, lines, jobs: delivery.jobs, origin };
  } finally {
    log.mockRestore();
  }
}

/** A POST the way the snippet sends it: text/plain, so no preflight. */
export function post(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/** A Cookie header carrying tap_data as percent-encoded JSON (RFC 6265 §4.1.1 cookie-octet excludes `"` and `,`). */
export function tapDataCookie(data: unknown): string {
  return `tap_data=${encodeURIComponent(JSON.stringify(data))}`;
}
