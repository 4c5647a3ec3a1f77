// Billable operations per conversion: bench/counting-worker.ts (the production
// worker with counters around its bindings and fetch) in Miniflare, one request
// per scenario, then the queue's delayed backup copies through the consumer.
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
  const post = async (/** @type {string} */ tag, /** @type {string} */ path, /** @type {object} */ body) => {
    const response = await fetch(`${base}/_tap/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: base, 'cf-connecting-ip': '203.0.113.7', 'user-agent': 'bench', 'x-bench-tag': tag },
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

  /** @type {[string, string, object][]} scenario, path, body */
  const scenarios = [
    ['conversion', 'convert', { external_id: `O-${run}-1`, amount: 10, referral_code: 'bench' }],
    ['duplicate', 'convert', { external_id: `O-${run}-1`, amount: 10, referral_code: 'bench' }],
    ['with customer_id', 'convert', { external_id: `O-${run}-2`, customer_id: `C-${run}-2`, amount: 10, referral_code: 'bench' }],
    ['unattributed', 'convert', { external_id: `O-${run}-3`, amount: 10 }],
    ['click (a landing)', 'click', { referral_code: 'bench', landing_page: `${base}/?ref=bench`, ts: Math.floor(Date.now() / 1000) }],
  ];
  /** @type {Record<string, string>} */
  const answers = {};
  for (const [tag, path, body] of scenarios) answers[tag] = await post(tag, path, body);
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

  // What could go, read off the figures above; each note only when its figures show it.
  const inRequest = (/** @type {string} */ tag, /** @type {string} */ op) => atRequest[tag]?.[op] ?? 0;
  const inConsumer = (/** @type {string} */ tag, /** @type {RegExp} */ re) =>
    sumOf(final[tag] ?? {}, re) - sumOf(atRequest[tag] ?? {}, re);
  const notes = [];
  const backupQueue = inConsumer('conversion', /^queue/);
  if (backupQueue > 0) {
    notes.push(
      `The backup copy of a conversion that was delivered inline costs 1 queue write, then ${backupQueue} queue operations and ` +
        `${inConsumer('conversion', /^DO request/)} DO request(s) in the consumer once its delay runs out, only to find it sent. ` +
        `The ledger already holds the job: its own alarm could re-drive records still "accepted" after the grace period, and the queue would carry only what failed inline.`,
    );
  }
  if (inRequest('conversion', 'DO request: accept()') && inRequest('conversion', 'DO request: claim()')) {
    notes.push('accept() and claim() are separate DO requests in one conversion: one accept-and-claim call would save one.');
  }
  if (inRequest('with customer_id', 'DO request: advance()') >= 3) {
    notes.push(
      `With a customer_id the request takes ${sumOf(atRequest['with customer_id'] ?? {}, /^DO request/)} DO requests. The primary record's advance('customer_done') ` +
        `repeats what the customer's own record (advance('sent') on cus:…) already says, and a retry checks that record with state() anyway: one DO request could go.`,
    );
  }
  if (inRequest('conversion', 'DO storage: getAlarm()') > 0) {
    notes.push(
      'Each new ledger record reads the alarm (getAlarm) to schedule the retention sweep; the object could remember in memory that its alarm is set, ' +
        'so only its first write after a wake-up pays for it.',
    );
  }
  if (sumOf(final.duplicate ?? {}, /^(queue|subrequest)/) === 0 && sumOf(final.duplicate ?? {}, /^DO request/) === 1) {
    notes.push('A duplicate costs one DO request and nothing else: nothing to remove there.');
  }
  if (final.untagged) {
    notes.push('The "untagged" column is work no single event caused: each ledger object creates its tables (IF NOT EXISTS) whenever it wakes up.');
  }
  for (const note of notes) console.log(`  note: ${note}`);
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
