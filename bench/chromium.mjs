// The snippet in Chromium: main-thread time of a page with dist/tap.js against the
// same page with an empty script, over interleaved fresh loads (a fresh browser
// context each), read from CDP Performance.getMetrics. Pages come from a tiny
// server on 127.0.0.1 that serves dist/ (the lazy files a landing loads
// included); the snippet's own requests get an empty 200.
// Dub's base script (bench/dub.mjs) runs in the same interleaved rounds on the same
// landing URL, as the yardstick tap.js's budget is set by.
// BENCH_BEFORE=<folder> (a copy of an earlier dist/) adds its tap.js to the same
// interleaved run, so a change is measured against what it replaces side by side.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { snippetBreakdown } from './bundle.mjs';
import { DUB_COMMIT, dubScript } from './dub.mjs';
import { gzipSync } from 'node:zlib';
import { fmt, median, table } from './print.mjs';

const BEFORE = process.env.BENCH_BEFORE;
const LOADS = Number(process.env.BENCH_CHROMIUM_LOADS ?? 30);
/** On a busy machine a fresh context takes a second or more: the section stops at a round boundary after this. */
const BUDGET_MS = Number(process.env.BENCH_CHROMIUM_BUDGET_S ?? 60) * 1000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// As test/e2e/harness.ts: no sandbox as root, no background calls to Google's hosts.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A file of a dist/ folder, or undefined. */
const fileOf = (/** @type {string} */ folder, /** @type {string} */ name) =>
  /^tap(-\w+)?\.js$/.test(name) && existsSync(join(folder, name)) ? readFileSync(join(folder, name)) : undefined;

const page = (/** @type {string} */ src, attributes = '') => `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<script async src="${src}"${attributes}></script>
</head><body><h1>Shop</h1><p>A product page.</p></body></html>`;

/**
 * Measures, and returns a function that prints the figures (section 3 prints first).
 * @param {{ dist: string }} options the folder tap.js and its lazy files are served from
 * @returns {Promise<() => void>}
 */
export async function snippetInChromium({ dist }) {
  const dub = await dubScript();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (/** @type {string} */ type, /** @type {string | Buffer} */ body) =>
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    if (path === '/empty.html') return send('text/html; charset=utf-8', page('/_tap/empty.js'));
    if (path === '/tap.html') return send('text/html; charset=utf-8', page('/_tap/tap.js'));
    if (path === '/before.html') return send('text/html; charset=utf-8', page('/_before/tap.js'));
    if (path === '/_tap/empty.js') return send('text/javascript', '');
    // Dub on the same landing URL: `ref` is its query parameter, and its click goes to this server.
    if (path === '/dub.html') return send('text/html; charset=utf-8', page('/_dub/script.js', ` data-query-param="ref" data-domains='{"refer":"go.shop.test"}' data-api-host="${origin}/_dub"`));
    if (path === '/_dub/script.js' && 'code' in dub) return send('text/javascript', dub.code);
    if (path === '/_dub/track/click') {
      req.resume();
      return send('application/json', '{"clickId":"bench-click"}');
    }
    const [, folder, name] = /^\/(_tap|_before)\/(.*)$/.exec(path) ?? [];
    const file = folder && fileOf(folder === '_tap' ? dist : String(BEFORE), name);
    if (file) return send('text/javascript', file);
    if (path === '/favicon.ico') return res.writeHead(204).end();
    req.resume();
    send('application/json', '{"ok":true}');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const origin = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;

  const variants = [
    { label: 'empty script', url: `${origin}/empty.html` },
    { label: 'tap.js, a page view', url: `${origin}/tap.html`, every: 3 },
    { label: 'tap.js, a landing (?ref=bench)', url: `${origin}/tap.html?ref=bench` },
    ...('code' in dub ? [{ label: "Dub's base script, a landing", url: `${origin}/dub.html?ref=bench` }] : []),
    ...(BEFORE
      ? [
          { label: 'before: tap.js, a page view', url: `${origin}/before.html`, every: 3 },
          { label: "before: tap.js, a landing", url: `${origin}/before.html?ref=bench` },
        ]
      : []),
  ];
  /** @type {Record<string, { script: number[], task: number[], heap: number[] }>} */
  const samples = Object.fromEntries(variants.map((v) => [v.label, { script: [], task: [], heap: [] }]));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  const started = Date.now();
  try {
    for (let i = 0; i < LOADS && Date.now() - started < BUDGET_MS; i++) {
      // Interleaved, and the order flips every round so neither side always goes first.
      // The rows marked `every` run every third round only, to keep the section short.
      const round = variants.filter((v) => !v.every || i % v.every === 0);
      for (const variant of i % 2 ? round.reverse() : round) {
        const context = await browser.newContext();
        try {
          const tab = await context.newPage();
          const cdp = await context.newCDPSession(tab);
          await cdp.send('Performance.enable', { timeMetric: 'threadTicks' });
          await tab.goto(variant.url, { waitUntil: 'load', timeout: 10_000 });
          // An async script runs before `load`; this leaves room for anything it defers.
          await tab.evaluate(() => new Promise((resolve) => setTimeout(resolve, 50)));
          const { metrics } = await cdp.send('Performance.getMetrics');
          const metric = (/** @type {string} */ name) => metrics.find((m) => m.name === name)?.value ?? NaN;
          samples[variant.label].script.push(metric('ScriptDuration') * 1000);
          samples[variant.label].task.push(metric('TaskDuration') * 1000);
          samples[variant.label].heap.push(metric('JSHeapUsedSize') / 1024);
        } finally {
          await context.close();
        }
      }
    }
  } finally {
    await browser.close();
    await new Promise((resolve) => server.close(() => resolve(undefined)));
  }
  const version = browser.version();
  const breakdown = await snippetBreakdown();

  return () => {
    const base = samples['empty script'];
    table(
      ['interleaved loads, a fresh context each', 'loads', 'ScriptDuration ms', 'TaskDuration ms', 'JS heap KB', 'Δ script', 'Δ task'],
      variants.map(({ label }) => {
        const s = samples[label];
        const delta = (/** @type {number[]} */ a, /** @type {number[]} */ b) => fmt(median(a) - median(b), 2);
        return [
          label,
          String(s.script.length),
          fmt(median(s.script), 2),
          fmt(median(s.task), 2),
          fmt(median(s.heap), 0),
          label === 'empty script' ? '' : delta(s.script, base.script),
          label === 'empty script' ? '' : delta(s.task, base.task),
        ];
      }),
    );
    if ('missing' in dub) console.log(`  ${dub.missing}`);
    else console.log(`  Dub's base script: ${dub.code.length} B minified, ${gzipSync(dub.code, { level: 9 }).length} B gzip (dubinc/analytics@${DUB_COMMIT.slice(0, 7)}, esbuild --target=es2015)`);
    if (base.script.length < LOADS) console.log(`  stopped after ${base.script.length} of ${LOADS} rounds: the ${BUDGET_MS / 1000} s budget (BENCH_CHROMIUM_BUDGET_S) ran out`);
    console.log(`  medians; Δ = median minus the empty script's median. Chromium ${version}, CDP Performance.getMetrics (thread time) after load + 50 ms`);
    const total = breakdown.reduce((sum, { bytes }) => sum + bytes, 0);
    console.log(`  where tap.js's ${total} minified bytes go (esbuild metafile, before gzip):`);
    for (const { file, bytes } of breakdown) console.log(`    ${String(bytes).padStart(5)} B  ${fmt((100 * bytes) / total, 0).padStart(3)}%  ${file}`);
  };
}
