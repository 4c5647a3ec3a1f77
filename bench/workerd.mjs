// Throughput and latency through workerd: the production worker in Miniflare on
// its own port, driven by autocannon, every row measured in this one run.
import autocannon from 'autocannon';
import { startPostbackChild, startWorker } from './miniflare.mjs';
import { fmt, table } from './print.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
/** Requests per row before the measured rows, so workerd's JIT has seen every path. */
const WARMUP_REQUESTS = Number(process.env.BENCH_WARMUP ?? 2000);

/**
 * @param {{ apiKey: string, settings: (upstream: any) => Record<string, string>, rateLimit: number, goal: number }} options
 */
export async function throughput({ apiKey, settings, rateLimit, goal }) {
  const upstream = await startPostbackChild(apiKey);
  let worker;
  try {
    worker = await startWorker({ settings: settings(upstream), rateLimit });
    const base = `${worker.url}/_tap`;
    // As a browser posts from the shop's own pages: same Origin as the worker.
    const browser = { 'content-type': 'text/plain', origin: worker.url, 'cf-connecting-ip': '203.0.113.7', 'user-agent': 'bench' };
    const etag = (await fetch(`${base}/tap.js`)).headers.get('etag') ?? '';
    // A fresh landing each: a new capture time, so the proxy's one-click-per-landing memory never answers for it.
    let landing = Math.floor(Date.now() / 1000);
    const click = () => JSON.stringify({ referral_code: 'bench', landing_page: `${worker?.url}/?ref=bench`, referrer: '', ts: landing++ });
    const clickBody = click();
    const clickProbe = await fetch(`${base}/click`, { method: 'POST', headers: browser, body: clickBody });
    await clickProbe.arrayBuffer();

    /** @typedef {{ label: string, request: autocannon.Options, hot?: boolean, note?: string }} Row */
    /** @type {Row} */
    const health = { label: 'GET /_tap/health (ceiling)', request: { url: `${base}/health` } };
    /** @type {Row[]} */
    const hot = [
      { label: 'GET /_tap/tap.js (200)', request: { url: `${base}/tap.js` }, hot: true },
      { label: 'GET /_tap/tap.js, If-None-Match (304)', request: { url: `${base}/tap.js`, headers: { 'if-none-match': etag } }, hot: true },
      { label: 'POST convert, invalid (400)', request: { url: `${base}/convert`, method: 'POST', headers: browser, body: '{"amount":-1}' }, hot: true },
      {
        label: 'POST convert, no identifier (unattributed)',
        request: { url: `${base}/convert`, method: 'POST', headers: browser, body: '{"external_id":"U-[<id>]","amount":10}', idReplacement: true },
        hot: true,
      },
    ];
    if (clickProbe.status !== 404) {
      hot.push({
        label: 'POST click, a fresh landing (ledger + Tapfiliate click)',
        request: {
          url: `${base}/click`,
          method: 'POST',
          headers: browser,
          requests: [{ setupRequest: (/** @type {any} */ request) => ({ ...request, body: click() }) }],
        },
        hot: true,
      });
    }

    for (const row of [health, ...hot]) await load(row.request, { amount: WARMUP_REQUESTS });
    // Side by side: rounds of one second per row, the ceiling in every round, the order rotating.
    const hotResults = await interleaved([health, ...hot]);
    const ceiling = hotResults[0].rps;
    /** @type {(Row & { result: Result })[]} */
    const rows = [health, ...hot].map((row, i) => ({ ...row, result: hotResults[i] }));

    const durable = {
      label: 'POST convert, durable (queue + ledger + inline postback)',
      request: {
        url: `${base}/convert`,
        method: 'POST',
        headers: browser,
        body: '{"external_id":"B-[<id>]","amount":10,"referral_code":"bench"}',
        idReplacement: true,
      },
    };
    const direct = {
      label: 'POST straight to the postback stand-in',
      request: {
        url: upstream.conversionUrl,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: '{"external_id":"D-[<id>]","amount":10,"referral_code":"bench"}',
        idReplacement: true,
      },
    };
    await load(durable.request, { amount: 200 });
    await load(direct.request, { amount: WARMUP_REQUESTS });
    const before = await upstream.stats();
    // Well inside the 30 s after which each durable request's backup copy reaches the consumer.
    const [durableResult, directResult] = await interleaved([durable, direct]);
    const after = await upstream.stats();
    await worker.dispose();
    worker = undefined;
    rows.push({ ...durable, result: durableResult }, { ...direct, result: directResult });

    table(
      [`${CONNECTIONS} connections, ${SECONDS} s per row`, 'req/s', 'p50 ms', 'p99 ms', 'vs ceiling', 'statuses'],
      rows.map(({ label, hot, result }) => [
        label,
        fmt(result.rps),
        fmt(result.p50, 2),
        fmt(result.p99, 2),
        label === health.label ? '' : `${fmt((100 * result.rps) / ceiling)} %${hot ? ` (goal ≥ ${goal * 100} %)` : ''}`,
        result.statuses,
      ]),
    );
    console.log(`  each row: ${SECONDS} rounds of 1 s, interleaved with the others in its group; p50/p99 over every answer`);
    console.log(`  durable vs direct postback: ${fmt(durableResult.rps)} / ${fmt(directResult.rps)} req/s = ${fmt((100 * durableResult.rps) / directResult.rps, 1)} %, p50 ${fmt(durableResult.p50, 2)} vs ${fmt(directResult.p50, 2)} ms`);
    console.log(`  the stand-in answered ${after.received - before.received} postbacks during the durable and direct rows (${directResult.total} direct): ${after.accepted - before.accepted} accepted`);
    if (clickProbe.status === 404) console.log('  POST /_tap/click: skipped, the worker answers 404 (no click route yet)');
    console.log('  autocannon in this process; workerd and the stand-in in their own processes, all on 2 shared cores.');
  } finally {
    await worker?.dispose();
    await upstream.close();
  }
}

/**
 * @param {autocannon.Options} request
 * @param {{ amount?: number, seconds?: number }} [limit] a fixed number of requests, or seconds
 * @returns {Promise<Result>}
 */
async function load(request, { amount, seconds = SECONDS } = {}) {
  /** @type {number[]} */
  const times = [];
  const result = await new Promise((resolve, reject) => {
    const tracker = autocannon(
      { connections: CONNECTIONS, ...(amount ? { amount } : { duration: seconds }), ...request },
      (error, value) => (error ? reject(error) : resolve(value)),
    );
    // autocannon's own histogram keeps whole milliseconds and 2xx only; these are every answer, in fractions of a ms.
    tracker.on('response', (_client, _status, _bytes, ms) => times.push(ms));
  });
  const statuses = Object.entries(result.statusCodeStats ?? {})
    .map(([status, { count }]) => `${status}×${count}`)
    .join(' ');
  const failed = result.errors + result.timeouts;
  times.sort((a, b) => a - b);
  const at = (/** @type {number} */ p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return {
    total: result.requests.total,
    seconds: result.duration,
    rps: result.requests.total / result.duration,
    p50: at(0.5),
    p99: at(0.99),
    times,
    statuses: statuses + (failed ? ` errors×${failed}` : ''),
  };
}

/**
 * @typedef {{ total: number, seconds: number, rps: number, p50: number, p99: number, times: number[], statuses: string }} Result
 */

/**
 * SECONDS rounds; in each, every row runs for one second, in an order that rotates.
 * @param {{ request: autocannon.Options }[]} rows
 * @returns {Promise<Result[]>} pooled per row
 */
async function interleaved(rows) {
  /** @type {Result[][]} */
  const parts = rows.map(() => []);
  for (let round = 0; round < SECONDS; round++) {
    for (let k = 0; k < rows.length; k++) {
      const i = (k + round) % rows.length;
      parts[i].push(await load(rows[i].request, { seconds: 1 }));
    }
  }
  return parts.map((results) => {
    const total = results.reduce((n, r) => n + r.total, 0);
    const seconds = results.reduce((n, r) => n + r.seconds, 0);
    const times = results.flatMap((r) => r.times).sort((a, b) => a - b);
    const at = (/** @type {number} */ p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
    /** @type {Map<string, number>} */
    const statuses = new Map();
    for (const r of results) {
      for (const part of r.statuses.split(' ').filter(Boolean)) {
        const [status, n] = part.split('×');
        statuses.set(status, (statuses.get(status) ?? 0) + Number(n));
      }
    }
    return {
      total,
      seconds,
      rps: total / seconds,
      p50: at(0.5),
      p99: at(0.99),
      times: [],
      statuses: [...statuses].map(([status, n]) => `${status}×${n}`).join(' '),
    };
  });
}
