// `npm run bench`: figures, never pass/fail. Snippet weight, then the worker's
// answer time in local workerd against the local postback server.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { unstable_startWorker } from 'wrangler';
import { startPostbackServer } from '../test/postback/server.mjs';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 400);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const API_KEY = 'bench-key';

const snippet = readFileSync('dist/tap.js');
console.log(
  `snippet   ${snippet.length} B raw, ${gzipSync(snippet, { level: 9 }).length} B gzip, ${brotliCompressSync(snippet).length} B brotli`,
);

const postbacks = await startPostbackServer({ apiKey: API_KEY });
const worker = await unstable_startWorker({
  config: 'wrangler.toml',
  bindings: {
    TAPFILIATE_API_KEY: { type: 'secret_text', value: API_KEY },
    POSTBACK_CONVERSION_URL: { type: 'plain_text', value: postbacks.conversionUrl },
    POSTBACK_CUSTOMER_URL: { type: 'plain_text', value: postbacks.customerUrl },
  },
  dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, watch: false, logLevel: 'none' },
});
await worker.ready;

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Runs `count` requests, `CONCURRENCY` at a time, and prints latency percentiles and throughput. */
async function measure(label, count, request) {
  const times = [];
  const statuses = new Map();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        const response = await request(i);
        await response.arrayBuffer();
        times.push(performance.now() - t0);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  const ms = (value) => value.toFixed(1).padStart(6);
  console.log(
    `${label.padEnd(34)} p50 ${ms(percentile(times, 50))} ms  p95 ${ms(percentile(times, 95))} ms  p99 ${ms(percentile(times, 99))} ms  ` +
      `${(count / seconds).toFixed(0).padStart(5)} req/s  statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
}

const origin = 'http://shop.bench';
const cookie = `tap_data=${encodeURIComponent(JSON.stringify({ referral_code: 'bench', ts: 1795000000 }))}`;
const post = (path, body) =>
  worker.fetch(`${origin}/_tap/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', cookie, 'cf-connecting-ip': '203.0.113.7', 'user-agent': 'bench' },
    body: JSON.stringify(body),
  });

console.log(`worker    ${REQUESTS} requests per row, ${CONCURRENCY} at a time, local workerd, postback server on loopback`);
const { headers } = await worker.fetch(`${origin}/_tap/tap.js`);
await measure('GET tap.js (304 on ETag)', REQUESTS, () =>
  worker.fetch(`${origin}/_tap/tap.js`, { headers: { 'if-none-match': headers.get('etag') ?? '' } }),
);
await measure('GET health', REQUESTS, () => worker.fetch(`${origin}/_tap/health`));
await measure('POST convert, invalid (400)', REQUESTS, () => post('convert', { amount: -1 }));
const run = Date.now();
await measure('POST convert, sent upstream', REQUESTS, (i) =>
  post('convert', { external_id: `bench-${run}-${i}`, amount: 10, currency: 'eur' }),
);
await measure('POST convert, with customer', REQUESTS, (i) =>
  post('convert', { external_id: `bench-c-${run}-${i}`, customer_id: `cus-${run}-${i}`, amount: 10 }),
);
await measure('POST convert, duplicate', REQUESTS, () => post('convert', { external_id: `bench-${run}-0` }));
console.log(`postback server accepted ${postbacks.accepted().length} postbacks`);

await worker.dispose();
await postbacks.close();
