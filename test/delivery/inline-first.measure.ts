// Measurement, not a test: run with `TAPLINE_MEASURE=1 npx vitest run --project delivery inline-first`.
// Compares the two answers issue 5 allows, in workerd with the real Miniflare queue and ledger:
// always enqueue (202 queued) against one inline try first (200 sent), at two upstream latencies.
import { createExecutionContext } from 'cloudflare:test';
import { it, vi } from 'vitest';
import { createDurableDelivery } from '../../proxy/delivery/durable';
import type { PostbackJob } from '../../proxy/delivery/types';
import { client, postbackServer } from './postback-control';

const server = postbackServer('queue');
const ROUNDS = 40;
const run = Math.random().toString(36).slice(2, 8);

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))];

it('inline first vs always enqueue', async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  const rows: string[] = [];
  let n = 0;
  for (const upstreamMs of [0, 150]) {
    for (const inlineFirst of [false, true]) {
      await server.reset();
      if (upstreamMs) await server.setFaults({ random: { rate: 1, faults: ['slow'] }, slowMs: upstreamMs });
      const answer: number[] = [];
      const reached: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const job: PostbackJob = { conversion: { external_id: `M-${run}-${++n}`, amount: 1, referral_code: 'demo', ...client } };
        const started = performance.now();
        await createDurableDelivery({ env: server.env(), ctx: createExecutionContext(), inlineFirst }).submit(job);
        answer.push(performance.now() - started);
        await vi.waitFor(async () => {
          if (!(await server.accepted('conversion')).some((r) => r.fields.external_id === job.conversion!.external_id)) throw new Error('not yet');
        }, { timeout: 20_000, interval: 25 });
        reached.push(performance.now() - started);
      }
      rows.push(
        `${inlineFirst ? 'inline first   ' : 'always enqueue '} upstream +${String(upstreamMs).padStart(3)} ms | answer p50 ${percentile(answer, 50).toFixed(0)} ms p95 ${percentile(answer, 95).toFixed(0)} ms | at Tapfiliate p50 ${percentile(reached, 50).toFixed(0)} ms p95 ${percentile(reached, 95).toFixed(0)} ms`,
      );
    }
  }
  vi.restoreAllMocks();
  console.info(`\n${rows.join('\n')}\n(workerd + Miniflare queue with max_batch_timeout = 1 s; time in workerd advances only on I/O)`);
}, 300_000);
