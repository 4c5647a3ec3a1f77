// The operator API's page time with 10,000 records: the production worker in
// Miniflare, the records accepted through POST /_tap/convert (server events)
// into the real ledger objects and delivered to the local stand-in, then each
// listing timed one request at a time, as an operator's browser sends them;
// then one bulk retry of the dead records (5 % of them, 500 of 10,000) after
// the stand-in recovers. A row this build's API refuses (an older worker
// without prefix search, date ranges or bulk retry) prints "not supported".
import { startPostbackChild, startWorker } from './miniflare.mjs';
import { fmt, median, table } from './print.mjs';

const RECORDS = Number(process.env.BENCH_CONSOLE_RECORDS ?? 10_000);
/** Requests in flight while seeding: a busy shop, not a load test. */
const SEED_CONCURRENCY = 32;
/** Timed requests per row, after two untimed ones. */
const SAMPLES = Number(process.env.BENCH_CONSOLE_SAMPLES ?? 30);
const ADMIN_TOKEN = 'bench-admin-token';
/** Of the seeded conversions, this share is refused by the stand-in and so `dead`. */
const REFUSED = 0.05;

/** An API route or parameter this build does not have (400 or 404). */
class Unsupported extends Error {}

/**
 * @param {{ apiKey: string, settings: (upstream: any) => Record<string, string>, rateLimit: number, goalMs: number }} options
 */
export async function consolePages({ apiKey, settings, rateLimit, goalMs }) {
  const upstream = await startPostbackChild(apiKey);
  let worker;
  try {
    const vars = settings(upstream);
    worker = await startWorker({ settings: { ...vars, TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN }, rateLimit });
    const base = `${worker.url}/_tap`;
    await fetch(`${upstream.url}/__control/faults`, {
      method: 'POST',
      body: JSON.stringify({ random: { rate: REFUSED, seed: 7, faults: [{ status: 422, message: 'Referral code bench is not active.' }] } }),
    });

    const run = Date.now().toString(36);
    const seedStarted = Date.now();
    /** Acceptance times of the seeded records, by index: the date range is the middle tenth of them. */
    const acceptedAt = /** @type {number[]} */ ([]);
    const answers = /** @type {Record<string, number>} */ ({});
    let next = 0;
    async function seeder() {
      while (next < RECORDS) {
        const index = next++;
        const response = await fetch(`${base}/convert`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${vars.TAPLINE_SERVER_TOKEN}` },
          body: JSON.stringify({ external_id: `B-${run}-${index}`, amount: 10 + (index % 90), currency: 'EUR', referral_code: 'bench' }),
        });
        acceptedAt[index] = Date.now();
        const body = /** @type {{ status?: string, error?: string }} */ (await response.json());
        const answer = body.status ?? body.error ?? String(response.status);
        answers[answer] = (answers[answer] ?? 0) + 1;
      }
    }
    await Promise.all(Array.from({ length: SEED_CONCURRENCY }, seeder));
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    console.log(
      `  seeded ${RECORDS} conversions through POST /_tap/convert in ${fmt(seedSeconds, 1)} s (${fmt(RECORDS / seedSeconds)} a second): ` +
        Object.entries(answers)
          .map(([answer, count]) => `${count} ${answer}`)
          .join(', '),
    );

    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    /** @param {string} path */
    const get = async (path, method = 'GET', payload = undefined) => {
      const started = performance.now();
      const response = await fetch(`${base}/admin/api/${path}`, { method, headers, body: payload === undefined ? undefined : JSON.stringify(payload) });
      const body = /** @type {any} */ (await response.json());
      if (response.status === 400 || response.status === 404) throw new Unsupported(`${path} answered ${response.status}`);
      if (!response.ok) throw new Error(`${path} answered ${response.status} ${JSON.stringify(body)}`);
      return { ms: performance.now() - started, body };
    };
    const sorted = [...acceptedAt].sort((a, b) => a - b);
    const from = new Date(sorted[Math.floor(RECORDS * 0.45)]).toISOString();
    const to = new Date(sorted[Math.floor(RECORDS * 0.55)]).toISOString();
    const first = await get('events?limit=50');
    const page20 = await (async () => {
      let cursor = first.body.next_cursor;
      for (let page = 2; page < 20 && cursor; page++) cursor = (await get(`events?limit=50&cursor=${encodeURIComponent(cursor)}`)).body.next_cursor;
      return cursor;
    })();
    const rows = [
      ['GET events (first page of 50)', 'events?limit=50'],
      ['GET events, page 20 (by cursor)', `events?limit=50&cursor=${encodeURIComponent(page20)}`],
      ['GET events, the largest page (100)', 'events?limit=100'],
      ['GET events?status=dead', 'events?status=dead&limit=50'],
      ['GET events?q=<one order id>', `events?q=B-${run}-4242`],
      ['GET events?q=<prefix>* (111 ids match)', `events?q=${encodeURIComponent(`B-${run}-42*`)}&limit=50`, (/** @type {any} */ body) => body.events.length === 50 && body.events.every((/** @type {any} */ event) => event.external_id.startsWith(`B-${run}-42`))],
      ['GET events?from=&to= (a tenth of the records)', `events?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&limit=50`, (/** @type {any} */ body) => body.events.every((/** @type {any} */ event) => event.accepted_at >= from && event.accepted_at <= to)],
      ['GET events/:key (with history)', `events/${encodeURIComponent(`con:B-${run}-4242`)}`],
      ['GET summary (24 h and 7 d counts)', 'summary'],
    ];
    const results = [];
    for (const [label, path, check] of /** @type {[string, string, ((body: any) => boolean)?][]} */ (rows)) {
      try {
        // An older API ignores a parameter it does not know: its answer then does not fit the query.
        if (check && !check((await get(path)).body)) throw new Unsupported(`${path}: the answer ignores the query`);
      } catch (error) {
        if (!(error instanceof Unsupported)) throw error;
        results.push([label, '-', 'not supported', '-', '-']);
        continue;
      }
      await get(path);
      const times = [];
      let shown = 0;
      for (let sample = 0; sample < SAMPLES; sample++) {
        const { ms, body } = await get(path);
        times.push(ms);
        shown = body.events?.length ?? (body.event ? 1 : 0);
      }
      times.sort((a, b) => a - b);
      results.push([label, String(shown), fmt(median(times), 1), fmt(times[Math.floor(times.length * 0.95)], 1), fmt(times.at(-1), 1)]);
    }
    // Bulk retry: the stand-in takes everything now; one call retries up to 500 dead records, timed once (a second finds none).
    await fetch(`${upstream.url}/__control/faults`, { method: 'POST', body: '{}' });
    const dead = (await get('summary')).body.last_24h.dead;
    try {
      const retried = await get('retry', 'POST', { status: 'dead' });
      const { retried: count, sent, queued, rejected, remaining } = retried.body;
      results.push([`POST retry {status:"dead"} (${dead} dead: ${sent} sent, ${queued} queued, ${rejected} refused, ${remaining} left)`, String(count), fmt(retried.ms, 1), '-', '-']);
    } catch (error) {
      if (!(error instanceof Unsupported)) throw error;
      results.push([`POST retry {status:"dead"} (${dead} dead)`, '-', 'not supported', '-', '-']);
    }
    table(['row', 'events', 'median ms', 'p95 ms', 'max ms'], results);
    const worst = Math.max(...results.map((row) => Number(row[3])).filter(Number.isFinite));
    console.log(`  goal: a page under ${goalMs} ms with ${RECORDS} records; worst p95 above ${fmt(worst, 1)} ms (${worst < goalMs ? 'met' : 'NOT met'})`);
    console.log('  every listing asks all 32 ledger objects at once and merges their newest by time (proxy/delivery/index.ts)');
  } finally {
    await worker?.dispose();
    await upstream.close();
  }
}
