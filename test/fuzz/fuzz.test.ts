// 10,000 generated requests through the real app, in Node (test/fuzz/model.ts
// says what is generated and what must hold): no 5xx but the two designed
// ones, and nothing forwarded that docs/reference.md's rules would refuse. The 1,000-request subset in workerd is test/attack/fuzz.test.ts.
import fc from 'fast-check';
import { expect, it, vi } from 'vitest';
import { contractViolations, describeTotals, KEY, newTotals, requests, runOne, SEED } from './model';

const RUNS = 10_000;
// Placeholders: configProblems wants both bound, and the recording delivery never touches them.
const BINDINGS = { POSTBACK_LEDGER: {} } as unknown as Partial<Env>;
const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;

it(`holds the contract for ${RUNS} generated requests`, async () => {
  const totals = newTotals();
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
  const started = Date.now();
  try {
    await fc.assert(
      fc.asyncProperty(requests, (request) => runOne(request, BINDINGS, ctx, totals, lines)),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  } finally {
    log.mockRestore();
  }
  console.log(`${describeTotals('node', totals)}; ${Date.now() - started} ms`);
  expect(totals.generated).toBe(RUNS);
  expect(Object.keys(totals.byStatus).filter((status) => Number(status) >= 500 && Number(status) !== 503)).toEqual([]);
  // Every kind of answer was reached, so the generator is not stuck in one corner.
  for (const status of ['200', '202', '400', '401', '403', '413', '415', '422', '429', '503']) expect(totals.byStatus[status], status).toBeGreaterThan(0);
});

// The fuzz is only as good as its checker: each of these must be caught.
it.each([
  ['an amount of 1e300', { external_id: 'A', referral_code: 'r', amount: 1e300 }, true],
  ['an unsigned browser amount over MAX_AMOUNT', { external_id: 'A', referral_code: 'r', amount: 100_001 }, true],
  ['a negative amount, even signed', { external_id: 'A', referral_code: 'r', amount: -1 }, false],
  ['CR/LF in an id', { external_id: 'A\r\nB', referral_code: 'r' }, true],
  ['U+202E in a referral code', { external_id: 'A', referral_code: 'a\u202eb' }, true],
  ['an id of 256 characters', { external_id: 'x'.repeat(256), referral_code: 'r' }, true],
  ['no identifier', { external_id: 'A' }, true],
  ['an ip that is not one', { external_id: 'A', referral_code: 'r', ip: 'not-an-ip' }, true],
  ['a user agent over 512', { external_id: 'A', referral_code: 'r', user_agent: 'M'.repeat(513) }, true],
  ['the key in a field', { external_id: 'A', referral_code: KEY }, true],
  ['a __proto__ key in meta_data', { external_id: 'A', referral_code: 'r', meta_data: JSON.parse('{"__proto__":"x"}') }, true],
  ['a field Tapfiliate does not take', { external_id: 'A', referral_code: 'r', signed: '{}' }, true],
])('the contract check catches %s', (_name, body, capped) => {
  expect(contractViolations('conversion', body as Record<string, unknown>, capped)).not.toEqual([]);
});

it('the contract check passes a valid postback', () => {
  expect(contractViolations('conversion', { external_id: '1042', amount: 100_000, currency: 'EUR', referral_code: 'aff', ip: '2001:db8::1', user_agent: 'UA' }, true)).toEqual([]);
});
