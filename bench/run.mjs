// `npm run bench`: figures side by side in one run, never pass/fail.
//   1. handler CPU: the Hono app in-process, delivery recorded;
//   2. throughput and latency through workerd (Miniflare on its own port, autocannon);
//   3. billable operations per conversion (bench/counting-worker.ts in Miniflare);
//   4. the snippet's main-thread time in Chromium against an empty script;
//   5. the operator API's page time with 10,000 records in the ledger (Miniflare).
// Everything listens on and talks to 127.0.0.1 only, and stops by itself.
// BENCH_ONLY=cpu,workerd,ops,chromium,console runs a subset; BENCH_SECONDS sets the load per row.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { ROOT } from './bundle.mjs';
import { heading } from './print.mjs';

// ── Settings: the one place to add what the worker reads ─────────────────────
// wrangler.toml's [vars] are read from the file; these are laid over them, as
// secrets and .dev.vars would be. `upstream` is the local postback stand-in:
// no URL here may leave the machine.
export const API_KEY = 'bench-key';
/** @param {{ url: string, conversionUrl: string, customerUrl: string, clicksUrl?: string, restUrl?: string }} upstream */
export const workerSettings = (upstream) => ({
  TAPFILIATE_API_KEY: API_KEY,
  POSTBACK_CONVERSION_URL: upstream.conversionUrl,
  POSTBACK_CUSTOMER_URL: upstream.customerUrl,
  TAPFILIATE_CLICKS_URL: upstream.clicksUrl ?? `${upstream.url}/1.7/clicks/`,
  TAPFILIATE_REST_URL: upstream.restUrl ?? `${upstream.url}/1.6/`,
  // Blank on purpose (blank means unset): the bench posts unsigned browser events, as a shop in
  // open trust does, and a developer's .dev.vars (npm start writes one) must not change that.
  TAPLINE_SIGNING_SECRET: '',
  TAPLINE_SERVER_TOKEN: 'bench-server-token',
  // Blank too: a webhook secret makes the platform own the orders, and unsigned browser events
  // would all be 401 (docs/security.md, "Webhooks own the orders"). No webhook is benched.
  STRIPE_WEBHOOK_SECRET: '',
  SHOPIFY_WEBHOOK_SECRET: '',
  PADDLE_WEBHOOK_SECRET: '',
  PADDLE_SANDBOX_WEBHOOK_SECRET: '',
  LEMONSQUEEZY_WEBHOOK_SECRET: '',
});
/** Bindings the in-process run (section 1) fakes; its delivery is recorded, so these are never called. */
export const nodeBindings = {
  POSTBACK_LEDGER: { idFromName: () => ({}), get: () => ({}) },
  TAPLINE_RATE_LIMIT: { limit: async () => ({ success: true }) },
};
/** Rate-limit bindings in Miniflare: lifted so a load test is not refused; the check itself still runs. */
export const RATE_LIMIT_FOR_LOAD = 1_000_000_000;
/** The merchant's origin as the worker sees it in section 1. */
const ORIGIN = 'http://shop.bench';
const CPU_GOAL_US = 100;
const HOT_PATH_GOAL = 0.8;
/** An operator's page of events, with 10,000 records (the console issue's goal). */
const CONSOLE_PAGE_GOAL_MS = 1000;
// ─────────────────────────────────────────────────────────────────────────────

const only = new Set((process.env.BENCH_ONLY ?? 'cpu,workerd,ops,chromium,console').split(','));
const started = Date.now();
/** The whole run stops by itself, whatever hangs. */
const DEADLINE_S = Number(process.env.BENCH_DEADLINE_S ?? 600);
setTimeout(() => {
  console.log(`\nbench: stopped after ${DEADLINE_S} s (BENCH_DEADLINE_S)`);
  process.exit(1);
}, DEADLINE_S * 1000).unref();

console.log('# Tapline bench');
console.log(`machine   ${cpus()[0]?.model ?? 'unknown cpu'}, ${cpus().length} cores, Node ${process.version}, ${process.platform}/${process.arch}`);
console.log(`load avg  ${loadavg().map((n) => n.toFixed(2)).join(' ')} (1/5/15 min) at start: other work on the machine skews every figure below`);
// tap.js is what every page view loads; any other dist/*.js loads only where it is used.
for (const file of ['tap.js', ...readdirSync(join(ROOT, 'dist')).filter((f) => f.endsWith('.js') && f !== 'tap.js').sort()]) {
  const code = readFileSync(join(ROOT, 'dist', file));
  const brotli = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  console.log(`snippet   dist/${file} ${code.length} B raw, ${gzipSync(code, { level: 9 }).length} B gzip -9, ${brotli} B brotli -11`);
}

if (only.has('cpu')) {
  heading('1. Handler CPU: the Hono app in-process in Node, delivery recorded');
  const { handlerCpu } = await import('./cpu.mjs');
  const upstream = { url: 'http://127.0.0.1:9', conversionUrl: 'http://127.0.0.1:9/1.7/pb/con/c/', customerUrl: 'http://127.0.0.1:9/1.7/pb/cus/c/' };
  await handlerCpu({ env: { ...(await wranglerVars()), ...workerSettings(upstream), ...nodeBindings }, origin: ORIGIN, goalUs: CPU_GOAL_US });
}

if (only.has('workerd')) {
  heading('2. Throughput and latency through workerd (Miniflare on its own port, autocannon)');
  const { throughput } = await import('./workerd.mjs');
  await throughput({ apiKey: API_KEY, settings: workerSettings, rateLimit: RATE_LIMIT_FOR_LOAD, goal: HOT_PATH_GOAL });
}

// Section 3 waits ~30 s for the queue's delayed backup copies to reach the consumer;
// section 4 runs in that wait (workerd is idle then, apart from a few small batches)
// and prints after it.
/** @type {{ finish(): Promise<() => void> } | undefined} */
let ops;
if (only.has('ops')) {
  const { billableOperations } = await import('./ops.mjs');
  ops = await billableOperations({ apiKey: API_KEY, settings: workerSettings, rateLimit: RATE_LIMIT_FOR_LOAD }).catch((error) => ({
    finish: async () => () => console.log(`  not measured: ${error instanceof Error ? error.stack : error}`),
  }));
}
/** @type {(() => void) | undefined} */
let printChromium;
if (only.has('chromium')) {
  const { snippetInChromium } = await import('./chromium.mjs');
  printChromium = await snippetInChromium({ dist: join(ROOT, 'dist') }).catch((error) => () =>
    console.log(`  not measured: ${error instanceof Error ? error.stack : error}`),
  );
}
if (ops) {
  const print = await ops.finish().catch((error) => () => console.log(`  not measured: ${error instanceof Error ? error.stack : error}`));
  heading('3. Billable operations per conversion (bench/counting-worker.ts in Miniflare)');
  print();
}
if (printChromium) {
  heading('4. The snippet in Chromium: main-thread time of dist/tap.js against an empty script');
  printChromium();
}
if (only.has('console')) {
  heading('5. The operator API with 10,000 records in the ledger (production worker in Miniflare)');
  const { consolePages } = await import('./console.mjs');
  await consolePages({ apiKey: API_KEY, settings: workerSettings, rateLimit: RATE_LIMIT_FOR_LOAD, goalMs: CONSOLE_PAGE_GOAL_MS }).catch((error) =>
    console.log(`  not measured: ${error instanceof Error ? error.stack : error}`),
  );
}
console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s`);

/** wrangler.toml's top-level [vars], as the worker sees them in `wrangler dev`. */
async function wranglerVars() {
  const { unstable_getMiniflareWorkerOptions } = await import('wrangler');
  return /** @type {Record<string, string>} */ (unstable_getMiniflareWorkerOptions(join(ROOT, 'wrangler.toml')).workerOptions.bindings ?? {});
}
