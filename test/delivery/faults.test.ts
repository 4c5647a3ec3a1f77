import { createExecutionContext } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createConsumer, createDelivery, MAX_TRIES, type DeliveryResult } from '../../proxy/delivery';
import type { PostbackJob } from '../../proxy/tapfiliate';
import { client, ledgerState, postbackServer, recordingQueue, routeLedgerQueue, type ReceivedPostback } from './postback-control';
import { createSimulatedQueue } from './simulated-queue';

// Fault tests: the real consumer, ledger and postback code in workerd, against the
// local postback server with injected faults, on a simulated queue clock.
const server = postbackServer('faults');
/** 'slow' answers after SLOW_MS; postbacks give up after TIMEOUT_MS, so every slow one is a timeout. */
const TIMEOUT_MS = 200;
const SLOW_MS = 400;
const run = Math.random().toString(36).slice(2, 8);

interface LogLine {
  event: string;
  [field: string]: unknown;
}
let logLines: LogLine[];
let restore: (() => Promise<void>) | undefined;
beforeEach(async () => {
  await server.reset();
  logLines = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    try {
      logLines.push(JSON.parse(String(line)));
    } catch {
      logLines.push({ event: 'not_json', line });
    }
  });
});
afterEach(async () => {
  await restore?.();
  restore = undefined;
  vi.restoreAllMocks();
});

function orders(prefix: string, count: number, { customerEvery = 4, poison = -1 } = {}): PostbackJob[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `${prefix}-${run}-${i}`;
    const customer_id = i % customerEvery === 0 ? `C${id}` : undefined;
    const attribution = i === poison ? {} : { referral_code: 'demo' };
    return {
      customer: customer_id ? { customer_id, ...attribution, ...client } : undefined,
      conversion: { external_id: id, amount: i, currency: 'EUR', customer_id, ...attribution, ...client },
    };
  });
}

/** The consumer on a simulated queue that the ledger objects enqueue to; refusals go to a recording DLQ. */
async function world() {
  const dlq = recordingQueue();
  const env = server.env({ POSTBACK_DLQ: dlq.producer });
  const queue = createSimulatedQueue({ handler: createConsumer({ timeoutMs: TIMEOUT_MS }), env, maxTries: MAX_TRIES, concurrency: 10 });
  restore = await routeLedgerQueue(queue.producer);
  async function submitAll(jobs: PostbackJob[], concurrency = 50): Promise<DeliveryResult[]> {
    const results: DeliveryResult[] = [];
    for (let i = 0; i < jobs.length; i += concurrency) {
      results.push(
        ...(await Promise.all(jobs.slice(i, i + concurrency).map((job) => createDelivery(env, createExecutionContext(), { timeoutMs: TIMEOUT_MS })!.submit(job)))),
      );
    }
    return results;
  }
  return { queue, dlq, submitAll };
}

const countBy = (records: ReceivedPostback[], field: string) => {
  const counts = new Map<string, number>();
  for (const record of records) counts.set(String(record.fields[field]), (counts.get(String(record.fields[field])) ?? 0) + 1);
  return counts;
};
const events = (name: string) => logLines.filter((line) => line.event === name);

/** Every conversion accepted exactly once, and no conversion of a job posted before its customer was accepted. */
function expectExactlyOnceInOrder(received: ReceivedPostback[], jobs: PostbackJob[]) {
  const accepted = received.filter((r) => r.status >= 200 && r.status < 300);
  const conversions = countBy(accepted.filter((r) => r.kind === 'conversion'), 'external_id');
  const customers = countBy(accepted.filter((r) => r.kind === 'customer'), 'customer_id');
  expect(conversions.size).toBe(jobs.length);
  expect([...conversions.values()].every((n) => n === 1)).toBe(true);
  const withCustomer = jobs.filter((job) => job.customer);
  expect(customers.size).toBe(withCustomer.length);
  expect([...customers.values()].every((n) => n === 1)).toBe(true);
  for (const job of withCustomer) {
    const customerAccepted = received.findIndex((r) => r.kind === 'customer' && r.fields.customer_id === job.customer!.customer_id && r.status === 200);
    const firstConversion = received.findIndex((r) => r.kind === 'conversion' && r.fields.external_id === job.conversion!.external_id);
    expect(firstConversion).toBeGreaterThan(customerAccepted);
  }
}

describe('fault tests', () => {
  it('1,000 conversions with 30% random faults: each accepted exactly once, none lost, none doubled', async () => {
    const { queue, submitAll } = await world();
    await server.setFaults({ random: { rate: 0.3, faults: ['503', '429', 'slow', 'drop'], seed: 20261124 }, slowMs: SLOW_MS });
    const jobs = orders('F', 1000);
    const results = await submitAll(jobs);
    // Reloads and retrying browsers: every 10th order comes in again.
    const repeats = await submitAll(jobs.filter((_, i) => i % 10 === 0));
    await queue.drain();
    const received = await server.received();

    expectExactlyOnceInOrder(received, jobs);
    expect(queue.deadLetters).toHaveLength(0);
    expect(repeats.every((r) => r.status === 'duplicate')).toBe(true);

    const attempts = events('postback_attempt');
    const delivered = attempts.filter((a) => a.kind === 'conversion' && (a.result === 'ok' || a.result === 'duplicate'));
    const totals = {
      sent: new Set(delivered.map((a) => a.external_id)).size,
      sent_in_request: results.filter((r) => r.status === 'sent').length,
      queued: results.filter((r) => r.status === 'queued').length,
      retried: events('postback_retry_scheduled').length,
      // Copies of a job (a repeat's enqueued copy, a backup) that waited while another copy held the lease.
      retried_while_busy: events('postback_retry_scheduled').filter((e) => e.reason === 'in_flight_elsewhere').length,
      dead_lettered: events('postback_dead_letter').length,
      duplicates_suppressed: events('duplicate_suppressed').length,
      upstream_already_had_it: attempts.filter((a) => a.result === 'duplicate').length + attempts.filter((a) => a.kind === 'customer' && a.upstream_status === 422).length,
      faults_injected: received.filter((r) => r.fault).length,
      simulated_seconds: queue.clock,
    };
    console.info(`fault run totals ${JSON.stringify(totals)}`);

    expect(totals.sent).toBe(1000);
    expect(delivered).toHaveLength(1000);
    expect(totals.sent_in_request + totals.queued).toBe(1000);
    expect(totals.dead_lettered).toBe(0);
    expect(totals.duplicates_suppressed).toBe(100);
    // No failure we did not inject: every 503, 429 and lost connection the delivery saw came from the stand-in.
    const faultsOf = (...kinds: string[]) => received.filter((r) => r.fault && kinds.includes(r.fault)).length;
    const retriesFor = (...reasons: string[]) => attempts.filter((a) => a.result === 'retry' && reasons.includes(String(a.reason))).length;
    expect(retriesFor('http_503')).toBeLessThanOrEqual(faultsOf('503'));
    expect(retriesFor('http_429')).toBeLessThanOrEqual(faultsOf('429'));
    expect(retriesFor('network')).toBeLessThanOrEqual(faultsOf('drop'));
    // And nearly every injected fault that gets an answer surfaced as a retry. Dropped connections are left
    // out: workerd's HTTP client resends a request whose pooled connection died before any answer, and that
    // resend draws a fresh fault (or none) from the stand-in.
    expect(attempts.filter((a) => a.result === 'retry').length).toBeGreaterThan(faultsOf('503', '429', 'slow') * 0.95);
    expect(totals.retried - totals.retried_while_busy).toBe(attempts.filter((a) => a.via === 'queue' && a.result === 'retry').length);
    expect(totals.retried).toBe(queue.retryDelays.length);
    expect(totals.queued).toBeGreaterThan(250);
    expect(totals.retried).toBeGreaterThan(50);
    // A 429 asked for 1 s; backoff starts at 15..30 s, so no failed try was retried sooner than that.
    const backoffDelays = events('postback_retry_scheduled')
      .filter((e) => e.reason !== 'in_flight_elsewhere')
      .map((e) => Number(e.delay_seconds));
    expect(Math.min(...backoffDelays)).toBeGreaterThanOrEqual(15);
  }, 120_000);

  it('Tapfiliate down for the whole first simulated minute, then back: everything arrives, once', async () => {
    const { queue, submitAll } = await world();
    const jobs = orders('D', 200);
    await server.setFaults({ down: true });
    const results = await submitAll(jobs);
    expect(results.every((r) => r.status === 'queued')).toBe(true);
    let acceptedWhileDown = -1;
    await queue.drain(async (clock) => {
      if (clock >= 60 && acceptedWhileDown < 0) {
        acceptedWhileDown = (await server.received()).filter((r) => r.status === 200).length;
        await server.setFaults({});
      }
    });
    const received = await server.received();
    expectExactlyOnceInOrder(received, jobs);
    // Only 503s were injected, so every other answer was a real one: a second try of a delivered
    // id would show here as its 422 "already exists", which the accepted-only count cannot see.
    const answeredConversions = countBy(received.filter((r) => r.kind === 'conversion' && r.status !== 503), 'external_id');
    expect([...answeredConversions.values()].every((n) => n === 1)).toBe(true);
    expect(answeredConversions.size).toBe(jobs.length);
    expect(acceptedWhileDown).toBe(0);
    expect(received.filter((r) => r.status === 503).length).toBeGreaterThanOrEqual(jobs.length * 2);
    expect(queue.deadLetters).toHaveLength(0);
    console.info(`outage run: ${jobs.length} conversions, all delivered by simulated second ${queue.clock}, ${queue.retryDelays.length} retries`);
    expect(queue.clock).toBeLessThan(300);
  }, 60_000);

  it('a poison message (refused with 422) goes to the DLQ at its first real answer and blocks nobody', async () => {
    const { queue, dlq, submitAll } = await world();
    const jobs = orders('P', 40, { poison: 7 });
    // All of them wait in the queue, so the poison shares its batches with the others.
    await server.setFaults({ down: true });
    expect((await submitAll(jobs)).every((r) => r.status === 'queued')).toBe(true);
    await server.setFaults({ random: { rate: 0.3, faults: ['503', 'drop'], seed: 7 } });
    await queue.drain();

    const poison = jobs[7];
    const key = `con:${poison.conversion!.external_id}`;
    expect(dlq.sent).toEqual([{ body: expect.objectContaining({ key, job: poison }), delaySeconds: undefined }]);
    expect(queue.deadLetters).toHaveLength(0);
    expect(events('postback_dead_letter')).toEqual([expect.objectContaining({ key, reason: 'rejected_422' })]);
    // Tried until the stand-in itself answered (injected 503s and drops are retried), then never again.
    const poisonAttempts = events('postback_attempt').filter((a) => a.via === 'queue' && a.external_id === poison.conversion!.external_id);
    expect(poisonAttempts.at(-1)).toMatchObject({ result: 'rejected', upstream_status: 422 });
    expect(poisonAttempts.slice(0, -1).every((a) => a.result === 'retry')).toBe(true);
    expect(poisonAttempts.length).toBeLessThan(MAX_TRIES);
    expect(await ledgerState(key)).toBe('dead');

    const received = await server.received();
    const good = jobs.filter((_, i) => i !== 7);
    const accepted = countBy(received.filter((r) => r.kind === 'conversion' && r.status === 200), 'external_id');
    expect(accepted.size).toBe(good.length);
    expect(good.every((job) => accepted.get(job.conversion!.external_id) === 1)).toBe(true);
    console.info(`poison run: dead-lettered after ${poisonAttempts.length} queue tries, ${good.length} others delivered`);
  }, 60_000);
});
