// Billable operations per conversion: bench/counting-worker.ts (the production
// worker with counters around its bindings and fetch) in Miniflare, one request
// per scenario. v2 also counted its queue's delayed backup copies through the
// consumer; the ledger has none, and the figures beside v2's show it.
import { startPostbackServer } from '../test/postback/server.mjs';
import { startWorker } from './miniflare.mjs';
import { table } from './print.mjs';

/** How long to wait for the consumer after the requests: the backup copy is delayed (30 s today). */
const CONSUMER_DEADLINE_MS = Number(process.env.BENCH_CONSUMER_WAIT_MS ?? 60_000);

/**
 * Sends the scenarios and returns at once; `finish()` waits for the queue and returns a printer.
 * @param {{ apiKey: string, settings: (upstream: any) => Record<string, string>, rateLimit: number }} options
 */
export async function billableOperations({ apiKey, settings, rateLimit }) {
  const upstream = await startPostbackServer({ apiKey });
  /** @type {Awaited<ReturnType<typeof startWorker>> | undefined} */
  let worker;
  try {
    worker = await startWorker({ entry: 'bench/counting-worker.ts', settings: settings(upstream), rateLimit });
  } catch (error) {
    await upstream.close();
    throw error;
  }
  const base = worker.url;
  const run = Date.now().toString(36);
  const post = async (/** @type {string} */ tag, /** @type {string} */ path, /** @type {object} */ body, /** @type {Record<string, string>} */ headers = {}) => {
    const response = await fetch(`${base}/_tap/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: base, 'cf-connecting-ip': '203.0.113.7', 'user-agent': 'bench', 'x-bench-tag': tag, ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    let status = String(response.status);
    try {
      const answer = JSON.parse(text);
      if (answer && typeof answer.status === 'string') status += ` ${answer.status}`;
      else if (answer && typeof answer.error === 'string') status += ` ${answer.error}`;
    } catch {}
    return status;
  };

  // A server event carries the token: with the rate limit binding it reads the failure budget's mark first (docs/operations.md).
  const server = { authorization: `Bearer ${settings(upstream).TAPLINE_SERVER_TOKEN}` };
  /** @type {[string, string, object, Record<string, string>?][]} scenario, path, body, headers */
  const scenarios = [
    ['conversion', 'convert', { external_id: `O-${run}-1`, amount: 10, referral_code: 'bench' }],
    ['duplicate', 'convert', { external_id: `O-${run}-1`, amount: 10, referral_code: 'bench' }],
    ['with customer_id', 'convert', { external_id: `O-${run}-2`, customer_id: `C-${run}-2`, amount: 10, referral_code: 'bench' }],
    ['unattributed', 'convert', { external_id: `O-${run}-3`, amount: 10 }],
    ['unattributed server event', 'convert', { external_id: `O-${run}-4`, amount: 10 }, server],
    ['click (a landing)', 'click', { referral_code: 'bench', landing_page: `${base}/?ref=bench`, ts: Math.floor(Date.now() / 1000) }],
  ];
  /** @type {Record<string, string>} */
  const answers = {};
  for (const [tag, path, body, headers] of scenarios) answers[tag] = await post(tag, path, body, headers);
  await new Promise((resolve) => setTimeout(resolve, 300)); // waitUntil work
  const counts = async () => /** @type {Promise<Record<string, Record<string, number>>>} */ ((await fetch(`${base}/__bench/counts`)).json());
  const atRequest = await counts();
  const sentAt = Date.now();

  return {
    async finish() {
      let final = atRequest;
      let waited = 0;
      try {
        // Done when every message written has been read and answered (ack or retry), or at the deadline.
        for (;;) {
          final = await counts();
          const pending = Object.values(final).some((tally) => {
            const sum = (/** @type {RegExp} */ re) => Object.entries(tally).reduce((n, [op, v]) => (re.test(op) ? n + v : n), 0);
            const written = sum(/^queue write/);
            const read = sum(/^queue read/);
            return read < written || sum(/^queue (ack|retry)/) < read;
          });
          waited = Date.now() - sentAt;
          if (!pending || waited > CONSUMER_DEADLINE_MS) break;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      } finally {
        await worker?.dispose();
        await upstream.close();
      }
      return () => printOps({ scenarios: scenarios.map(([tag]) => tag), answers, atRequest, final, waited, postbacks: upstream.received.length });
    },
  };
}

/**
 * @param {{ scenarios: string[], answers: Record<string, string>, atRequest: Record<string, Record<string, number>>, final: Record<string, Record<string, number>>, waited: number, postbacks: number }} data
 */
function printOps({ scenarios, answers, atRequest, final, waited, postbacks }) {
  const clickTag = 'click (a landing)';
  const shown = scenarios.filter((tag) => !(tag === clickTag && answers[tag].startsWith('404')));
  // Whatever the counters could not attribute to a scenario shows in a column of its own.
  if (final.untagged) {
    shown.push('untagged');
    answers.untagged = '';
  }
  const operations = [...new Set(shown.flatMap((tag) => Object.keys(final[tag] ?? {})))].sort(byKind);
  const phase = (/** @type {string} */ tag, /** @type {(op: string) => boolean} */ match) => {
    const sum = (/** @type {Record<string, number> | undefined} */ tally) =>
      Object.entries(tally ?? {}).reduce((n, [op, v]) => (match(op) ? n + v : n), 0);
    const inRequest = sum(atRequest[tag]);
    const later = sum(final[tag]) - inRequest;
    return later ? `${inRequest} + ${later}` : String(inRequest);
  };
  const groups = /** @type {[string, (op: string) => boolean][]} */ ([
    ['= Durable Object requests', (op) => op.startsWith('DO request')],
    ['= queue operations (write, read, delete, retry)', (op) => op.startsWith('queue')],
    ['= subrequests', (op) => op.startsWith('subrequest')],
  ]);
  table(
    ['per event: in the request + in the consumer', ...shown],
    [
      ['answer', ...shown.map((tag) => answers[tag])],
      ...operations.map((op) => [op, ...shown.map((tag) => phase(tag, (o) => o === op))]),
      ...groups.map(([label, match]) => [label, ...shown.map((tag) => phase(tag, match))]),
    ],
  );
  console.log(`  consumer figures after waiting ${(waited / 1000).toFixed(0)} s for the delayed backup copies; ${postbacks} postbacks reached the stand-in`);
  if (answers[clickTag]?.startsWith('404')) console.log('  POST /_tap/click: skipped, the worker answers 404 (no click route yet)');

  // Before and after, side by side: v2's figures are this script's output at commit 4a9242a
  // (the queue and the API-key-sharded ledger), "in the request + in the consumer".
  const v2 = /** @type {Record<string, [string, string]>} */ ({
    conversion: ['2 + 1', '1 + 2'],
    'with customer_id': ['5 + 1', '1 + 2'],
    duplicate: ['1', '0'],
    'click (a landing)': ['2', '0'],
  });
  const total = (/** @type {string} */ tag, /** @type {RegExp} */ re) => String(sumOf(final[tag] ?? {}, re));
  console.log('');
  table(
    ['before (v2, 4a9242a) → now', 'DO requests', 'queue operations'],
    Object.entries(v2).map(([tag, [requests, queue]]) => [tag, `${requests} → ${total(tag, /^DO request/)}`, `${queue} → ${total(tag, /^queue/)}`]),
  );
  if (final.untagged) {
    console.log('  note: "untagged" is work inside the ledger objects that no request header reaches: the postbacks a submit() makes itself, and each object creating its tables when it wakes up.');
  }
}

/** @param {Record<string, number>} tally @param {RegExp} re */
function sumOf(tally, re) {
  return Object.entries(tally).reduce((n, [op, v]) => (re.test(op) ? n + v : n), 0);
}

/** DO requests, then queue operations, then subrequests, then the rest. */
function byKind(/** @type {string} */ a, /** @type {string} */ b) {
  const rank = (/** @type {string} */ op) =>
    op.startsWith('DO request') ? 0 : op.startsWith('DO') ? 1 : op.startsWith('queue') ? 2 : op.startsWith('subrequest') ? 3 : 4;
  return rank(a) - rank(b) || a.localeCompare(b);
}
