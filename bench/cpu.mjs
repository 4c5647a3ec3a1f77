// Handler CPU: the Hono app in this Node process, delivery recorded instead of
// sent, so the figure is the proxy's own work per request.
import { performance } from 'node:perf_hooks';
import { importAppForNode } from './bundle.mjs';
import { fmt, table } from './print.mjs';

const ROUND_MS = Number(process.env.BENCH_CPU_ROUND_MS ?? 200);
const ROUNDS = 7;
const WARMUP = 2000;

/**
 * @param {{ env: Record<string, unknown>, origin: string, goalUs: number }} options
 */
export async function handlerCpu({ env, origin, goalUs }) {
  const { createApp } = await importAppForNode();
  /** @type {unknown[]} */
  const recorded = [];
  const createDelivery = () => ({
    durable: true,
    async submit(/** @type {unknown} */ job) {
      recorded.push(job);
      if (recorded.length > 10_000) recorded.length = 0;
      return { status: 'sent' };
    },
  });
  const app = createApp({ createDelivery, fetchOrigin: () => new Response('origin') });
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} };

  const post = (/** @type {string} */ body) =>
    new Request(`${origin}/_tap/convert`, {
      method: 'POST',
      // A browser always sends Content-Length with a string body; without it Hono's body limit
      // has to wrap the body in a counting stream, which no real request needs.
      headers: { 'content-type': 'text/plain', 'content-length': String(new TextEncoder().encode(body).length), origin, 'cf-connecting-ip': '203.0.113.7', 'user-agent': 'bench' },
      body,
    });

  /** @type {[string, (n: number) => Request][]} */
  const rows = [
    ['POST convert, valid (delivery recorded)', (n) => post(`{"external_id":"B-${n}","amount":10,"referral_code":"bench"}`)],
    ['POST convert, invalid (400)', () => post('{"amount":-1}')],
    ['POST convert, no identifier (unattributed)', (n) => post(`{"external_id":"U-${n}","amount":10}`)],
    ['GET tap.js (200)', () => new Request(`${origin}/_tap/tap.js`)],
    ['GET tap.js, If-None-Match (304)', () => new Request(`${origin}/_tap/tap.js`)], // its ETag is filled in below
    ['GET health', () => new Request(`${origin}/_tap/health`)],
  ];

  // Every request logs one JSON line; the line is still built, only not written.
  const { log, info, warn, error } = console;
  const mute = () => {};
  Object.assign(console, { log: mute, info: mute, warn: mute, error: mute });
  const results = [];
  try {
    const etag = (await app.fetch(new Request(`${origin}/_tap/tap.js`), env, ctx)).headers.get('etag') ?? '';
    rows[4][1] = () => new Request(`${origin}/_tap/tap.js`, { headers: { 'if-none-match': etag } });
    // What building the Request costs in Node, which workerd does natively: subtracted nowhere, shown for scale.
    results.push({ label: 'harness: new Request() alone', ...(await timeLoop(async (n) => post(`{"external_id":"B-${n}"}`))), status: '' });
    for (const [label, make] of rows) {
      const statuses = new Set();
      const timing = await timeLoop(async (n) => {
        const response = await app.fetch(make(n), env, ctx);
        if (n % 1024 === 0) statuses.add(response.status);
      });
      results.push({ label, ...timing, status: [...statuses].join(',') });
    }
  } finally {
    Object.assign(console, { log, info, warn, error });
  }

  table(
    ['in-process (Node)', 'µs/event median', 'min round', 'status'],
    results.map((r) => [
      r.label,
      fmt(r.median, 1) + (r.label.startsWith('POST convert, valid') ? `   (goal ≤ ${goalUs})` : ''),
      fmt(r.min, 1),
      String(r.status),
    ]),
  );
  console.log(`  ${ROUNDS} rounds of ${ROUND_MS} ms after ${WARMUP} warm-up calls; sequential awaits, request log line built but not written`);
}

/**
 * Runs `fn` back to back for ROUNDS rounds of ROUND_MS each.
 * @param {(n: number) => Promise<unknown>} fn
 * @returns {Promise<{ median: number, min: number }>} µs per call
 */
async function timeLoop(fn) {
  let n = 0;
  for (let i = 0; i < WARMUP; i++) await fn(n++);
  const perCall = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    let calls = 0;
    let now = started;
    while (now - started < ROUND_MS) {
      for (let i = 0; i < 64; i++) await fn(n++);
      calls += 64;
      now = performance.now();
    }
    perCall.push(((now - started) * 1000) / calls);
  }
  perCall.sort((a, b) => a - b);
  return { median: perCall[Math.floor(perCall.length / 2)], min: perCall[0] };
}
