// The fuzz's 1,000-request subset in workerd, with the worker's real bindings
// (test/fuzz/model.ts; the 10,000 run in Node is test/fuzz/fuzz.test.ts).
// No 5xx but the two designed ones, and nothing forwarded that
// docs/reference.md's rules would refuse.
import { createExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import fc from 'fast-check';
import { expect, it, vi } from 'vitest';
import { describeTotals, newTotals, requests, runOne, SEED } from '../fuzz/model';

const RUNS = 1_000;

it(`holds the contract for ${RUNS} generated requests in workerd`, { timeout: 120_000 }, async () => {
  const totals = newTotals();
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
  const started = Date.now();
  try {
    await fc.assert(
      fc.asyncProperty(requests, (request) => runOne(request, workerEnv as Env, createExecutionContext(), totals, lines)),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  } finally {
    log.mockRestore();
  }
  console.log(`${describeTotals('workerd', totals)}; ${Date.now() - started} ms`);
  expect(totals.generated).toBe(RUNS);
  expect(totals.jobs).toBeGreaterThan(0);
});
