// runRefund (proxy/delivery/refunds.ts) against the Tapfiliate stand-in's REST API, in workerd:
// what each refund does to the commissions, and how each answer of Tapfiliate ends.
import { env as workerEnv } from 'cloudflare:workers';
import fc from 'fast-check';
import { beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { refundPlan, runRefund, type RefundContext, type RefundOutcome } from '../../proxy/delivery/refunds';
import { postbackControl } from '../postback/control';

const upstream = postbackControl(inject('refundPostbackServers').run);
beforeEach(() => upstream.reset());

function refundEnv(extra: Partial<Record<keyof Env, unknown>> = {}): Env {
  return { ...(workerEnv as Env), TAPFILIATE_API_KEY: 'test-key', TAPFILIATE_REST_URL: upstream.restUrl, REFUNDS: '', ...extra } as Env;
}

type Conversion = RefundContext['conversion'];
const sent = (amount: number | undefined, refunded_amount = 0, commissions?: { id: string; amount: number }[]): Conversion => ({
  status: 'sent',
  amount,
  refunded_amount,
  commissions,
});

function refund(external_id: string, conversion: Conversion, amount?: number, refund_id = `re_${Math.random().toString(36).slice(2)}`, env = refundEnv()) {
  return runRefund({ job: { refund_id, external_id, amount }, conversion, env, timeoutMs: 2000 });
}

/** The record after an outcome, as the ledger keeps it: the total refunded and the original amounts. */
function after(conversion: Conversion, outcome: RefundOutcome): Conversion {
  if (outcome.result !== 'reversed' && outcome.result !== 'adjusted') return conversion;
  return { ...conversion!, refunded_amount: outcome.refunded_amount, commissions: outcome.commissions };
}

const commissionState = async (externalId: string) => (await upstream.commissionsOf(externalId))?.map(({ amount, approved }) => ({ amount, approved }));
const changes = async () => (await upstream.rest()).filter((r) => r.method !== 'GET' && r.status >= 200 && r.status < 300);

describe('the amount rule (refundPlan)', () => {
  const originals = [
    { id: 'c1', amount: 10 },
    { id: 'c2', amount: 3.33 },
  ];

  it('reduces each commission in proportion to what is left of the order, in cents', () => {
    expect(refundPlan({ orderAmount: 100, refunded: 25, originals })).toEqual({
      full: false,
      refunded: 25,
      amounts: [
        { id: 'c1', amount: 7.5 },
        { id: 'c2', amount: 2.5 },
      ],
    });
  });

  it('is full once the refunds reach the order amount', () => {
    expect(refundPlan({ orderAmount: 100, refunded: 100, originals }).full).toBe(true);
    expect(refundPlan({ orderAmount: 100, refunded: 120, originals })).toEqual({ full: true, refunded: 120, amounts: [] });
    expect(refundPlan({ orderAmount: 0, refunded: 0, originals }).full).toBe(true);
  });

  // Amounts in cents, as platforms send them.
  const cents = (max: number) => fc.integer({ min: 1, max }).map((value) => value / 100);

  it('two partial refunds summing to X leave the same commissions as one refund of X (property)', () => {
    fc.assert(
      fc.property(cents(1_000_000), fc.array(cents(100_000), { minLength: 1, maxLength: 4 }), fc.double({ min: 0, max: 1, noNaN: true }), (order, amounts, split) => {
        const x = Math.round(order * split * 100) / 100;
        const first = Math.round(x * split * 100) / 100;
        const second = Math.round((x - first) * 100) / 100;
        const commissions = amounts.map((amount, index) => ({ id: `c${index}`, amount }));
        const once = refundPlan({ orderAmount: order, refunded: x, originals: commissions });
        // The ledger adds each refund to the running total; the originals stay.
        const afterFirst = refundPlan({ orderAmount: order, refunded: first, originals: commissions });
        const twice = refundPlan({ orderAmount: order, refunded: afterFirst.refunded + second, originals: commissions });
        expect(twice).toEqual(once);
      }),
    );
  });

  it('never raises a commission, never makes one negative (property)', () => {
    fc.assert(
      fc.property(cents(1_000_000), cents(1_000_000), cents(100_000), (order, refunded, commission) => {
        const plan = refundPlan({ orderAmount: order, refunded, originals: [{ id: 'c', amount: commission }] });
        for (const { amount } of plan.amounts) {
          expect(amount).toBeGreaterThanOrEqual(0);
          expect(amount).toBeLessThanOrEqual(commission);
        }
        expect(plan.full).toBe(refunded >= order);
      }),
    );
  });
});

describe('runRefund at Tapfiliate', () => {
  it('a full refund disapproves each commission: reversed, with the original amounts', async () => {
    const seeded = await upstream.seedConversion({ external_id: 'F1', amount: 200, commissions: [20, 5] });
    const outcome = await refund('F1', sent(200));
    expect(outcome).toEqual({
      result: 'reversed',
      refunded_amount: 200,
      commissions: seeded.commissions.map(({ id, amount }) => ({ id: String(id), amount })),
    });
    expect(await commissionState('F1')).toEqual([
      { amount: 20, approved: false },
      { amount: 5, approved: false },
    ]);
    expect((await changes()).map((r) => `${r.method} ${r.path}`)).toEqual(seeded.commissions.map((c) => `DELETE /1.6/commissions/${c.id}/approved/`));
    // The key went with every call.
    expect((await upstream.rest()).every((r) => r.apiKey === 'test-key')).toBe(true);
  });

  it('a refund of the whole amount is full too', async () => {
    await upstream.seedConversion({ external_id: 'F2', amount: 80 });
    expect(await refund('F2', sent(80), 80)).toMatchObject({ result: 'reversed', refunded_amount: 80 });
    expect(await commissionState('F2')).toEqual([{ amount: 8, approved: false }]);
  });

  it('a partial refund sets each commission to its share of what is left, with a comment', async () => {
    await upstream.seedConversion({ external_id: 'P1', amount: 100, commissions: [10, 4] });
    const outcome = await refund('P1', sent(100), 25, 're_partial');
    expect(outcome).toMatchObject({ result: 'adjusted', refunded_amount: 25 });
    expect(await commissionState('P1')).toEqual([
      { amount: 7.5, approved: null },
      { amount: 3, approved: null },
    ]);
    const patches = await changes();
    expect(patches.map((r) => r.fields)).toEqual([
      { amount: 7.5, comment: 'Refund re_partial: 25 of 100 refunded' },
      { amount: 3, comment: 'Refund re_partial: 25 of 100 refunded' },
    ]);
  });

  it('two partial refunds do not compound: 30 then 20 of 100 leave half of each commission', async () => {
    await upstream.seedConversion({ external_id: 'P2', amount: 100, commissions: [10] });
    let conversion = sent(100);
    const first = await refund('P2', conversion, 30);
    expect(first).toMatchObject({ result: 'adjusted', refunded_amount: 30 });
    expect(await commissionState('P2')).toEqual([{ amount: 7, approved: null }]);
    conversion = after(conversion, first);
    const second = await refund('P2', conversion, 20);
    expect(second).toMatchObject({ result: 'adjusted', refunded_amount: 50, commissions: [{ amount: 10 }] });
    // Worked out from the current 7 instead of the original 10, it would be 3.5.
    expect(await commissionState('P2')).toEqual([{ amount: 5, approved: null }]);
    conversion = after(conversion, second);
    // The rest of the order: everything is taken back.
    expect(await refund('P2', conversion, 50)).toMatchObject({ result: 'reversed', refunded_amount: 100 });
    expect(await commissionState('P2')).toEqual([{ amount: 5, approved: false }]);
  });

  it('two partials summing to X leave the same commissions at Tapfiliate as one refund of X (property, through the stand-in)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 100, max: 100_000 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 98 }), fc.integer({ min: 1, max: 99 }), async (orderCents, commissionCents, percent, splitPercent) => {
        await upstream.reset();
        const order = orderCents / 100;
        const x = Math.floor((orderCents * percent) / 100) / 100;
        const first = Math.floor(x * splitPercent) / 100;
        const second = Math.round((x - first) * 100) / 100;
        await upstream.seedConversion({ external_id: 'ONE', amount: order, commissions: [commissionCents / 100] });
        await upstream.seedConversion({ external_id: 'TWO', amount: order, commissions: [commissionCents / 100] });
        await refund('ONE', sent(order), x);
        const conversion = sent(order);
        const outcome = await refund('TWO', conversion, first);
        await refund('TWO', after(conversion, outcome), second);
        expect(await commissionState('TWO')).toEqual(await commissionState('ONE'));
      }),
      { numRuns: 20 },
    );
  });

  it('without a record in the ledger, the order amount is the one Tapfiliate holds', async () => {
    await upstream.seedConversion({ external_id: 'N1', amount: 50, commissions: [5] });
    expect(await refund('N1', null, 10)).toMatchObject({ result: 'adjusted', refunded_amount: 10, commissions: [{ amount: 5 }] });
    expect(await commissionState('N1')).toEqual([{ amount: 4, approved: null }]);
  });

  it('the ledger\'s amount wins over Tapfiliate\'s, and its originals over the current amounts', async () => {
    const seeded = await upstream.seedConversion({ external_id: 'N2', amount: 999, commissions: [6] });
    const id = String(seeded.commissions[0].id);
    expect(await refund('N2', sent(100, 50, [{ id, amount: 12 }]), 25)).toMatchObject({ result: 'adjusted', refunded_amount: 75, commissions: [{ id, amount: 12 }] });
    expect(await commissionState('N2')).toEqual([{ amount: 3, approved: null }]);
  });

  it('an empty list of originals kept by an earlier refund is looked up again', async () => {
    await upstream.seedConversion({ external_id: 'N4', amount: 100, commissions: [10] });
    expect(await refund('N4', sent(100, 10, []), 10)).toMatchObject({ result: 'adjusted', refunded_amount: 20, commissions: [{ amount: 10 }] });
    expect(await commissionState('N4')).toEqual([{ amount: 8, approved: null }]);
  });

  it('a partial refund of a conversion nobody knows the amount of is refused, and nothing changes', async () => {
    await upstream.seedConversion({ external_id: 'N3', commissions: [5] });
    expect(await refund('N3', sent(undefined), 10)).toEqual({ result: 'rejected', status: 422, message: expect.stringContaining('without an amount') });
    expect(await changes()).toEqual([]);
    // A full refund needs no amount.
    expect(await refund('N3', sent(undefined))).toMatchObject({ result: 'reversed' });
  });

  it('an order Tapfiliate does not know (an empty list) is unattributed, and nothing else is called', async () => {
    await upstream.seedConversion({ external_id: 'OTHER', amount: 10 });
    expect(await refund('UNKNOWN', null, 5)).toEqual({ result: 'unattributed' });
    expect((await upstream.rest()).map((r) => `${r.method} ${r.path}`)).toEqual(['GET /1.6/conversions/?external_id=UNKNOWN']);
  });

  it('a 404 from the lookup is unattributed too', async () => {
    await upstream.seedConversion({ external_id: 'L404', amount: 10 });
    await upstream.setFaults({ rest: { next: [{ status: 404, message: 'Not Found' }] } });
    expect(await refund('L404', sent(10))).toEqual({ result: 'unattributed' });
    expect(await changes()).toEqual([]);
  });

  it('an external_id is sent encoded, never as part of the path', async () => {
    await upstream.seedConversion({ external_id: 'a/b?c=d&e', amount: 10 });
    expect(await refund('a/b?c=d&e', null)).toMatchObject({ result: 'reversed' });
    expect((await upstream.rest())[0].path).toBe('/1.6/conversions/?external_id=a%2Fb%3Fc%3Dd%26e');
  });

  it.each([
    ['503', { result: 'retry', status: 503, reason: 'http_503' }],
    ['429', { result: 'retry', status: 429, reason: 'http_429', retryAfterSeconds: 1 }],
    ['drop', { result: 'retry', reason: 'network' }],
    [{ status: 408, message: 'Request Timeout' }, { result: 'retry', status: 408, reason: 'http_408' }],
  ] as const)('a %s from the lookup is retried, and nothing changes', async (fault, expected) => {
    await upstream.seedConversion({ external_id: 'R1', amount: 10 });
    await upstream.setFaults({ rest: { next: [fault] } });
    expect(await refund('R1', sent(10))).toEqual(expected);
    expect(await changes()).toEqual([]);
  });

  it.each([
    ['an object instead of a list', { status: 200, body: { id: 1 } }],
    ['a list of conversions without ids', { status: 200, body: [{ external_id: 'U1', commissions: [] }] }],
    ['a commission id that could change the path', { status: 200, body: [{ id: 1, external_id: 'U1', amount: 10, commissions: [{ id: '../../affiliates', amount: 1 }] }] }],
    ['HTML with a 200', { status: 200, body: '<html>maintenance</html>', contentType: 'text/html' }],
  ])('a lookup answer Tapline cannot read (%s) is refused, and nothing is changed', async (_name, answer) => {
    await upstream.seedConversion({ external_id: 'U1', amount: 10 });
    await upstream.setFaults({ rest: { next: [answer] } });
    expect(await refund('U1', sent(10))).toMatchObject({ result: 'rejected', status: 200 });
    expect(await changes()).toEqual([]);
  });

  it('an answer slower than the timeout is retried', async () => {
    await upstream.seedConversion({ external_id: 'T1', amount: 10 });
    await upstream.setFaults({ rest: { next: ['slow'], slowMs: 3000 } });
    const outcome = await runRefund({ job: { refund_id: 're_t', external_id: 'T1' }, conversion: sent(10), env: refundEnv(), timeoutMs: 200 });
    expect(outcome).toEqual({ result: 'retry', reason: 'timeout' });
  });

  it('a 5xx on the second commission is retried, and the retry disapproves only what is left', async () => {
    const seeded = await upstream.seedConversion({ external_id: 'R2', amount: 100, commissions: [10, 2] });
    const [first, second] = seeded.commissions.map((c) => c.id);
    // The lookup and the first DELETE go through, the second DELETE answers 503.
    expect(await runRefundWithFaultAt(3, 'R2')).toEqual({ result: 'retry', status: 503, reason: 'http_503' });
    expect(await commissionState('R2')).toEqual([
      { amount: 10, approved: false },
      { amount: 2, approved: null },
    ]);
    expect(await refund('R2', sent(100))).toMatchObject({ result: 'reversed' });
    expect((await changes()).map((r) => r.path)).toEqual([`/1.6/commissions/${first}/approved/`, `/1.6/commissions/${second}/approved/`]);
    expect(await commissionState('R2')).toEqual([
      { amount: 10, approved: false },
      { amount: 2, approved: false },
    ]);
  });

  it('a refusal (4xx) is rejected with one safe line: never the key', async () => {
    await upstream.seedConversion({ external_id: 'X1', amount: 100 });
    await upstream.setFaults({ rest: { always: { status: 422, message: 'Commission test-key is already paid out\nsecond line' } } });
    expect(await refund('X1', sent(100), 10)).toEqual({ result: 'rejected', status: 422, message: 'Commission *** is already paid out second line' });
  });

  it('a wrong key is a refusal', async () => {
    await upstream.seedConversion({ external_id: 'X2', amount: 100 });
    expect(await refund('X2', sent(100), 10, 're_k', refundEnv({ TAPFILIATE_API_KEY: 'wrong' }))).toEqual({
      result: 'rejected',
      status: 401,
      message: 'Authentication Failed.',
    });
  });

  it.each(['307', '302'] as const)('a %s is refused and never followed: the key stays here', async (status) => {
    await upstream.seedConversion({ external_id: 'X3', amount: 100 });
    await upstream.setFaults({ rest: { next: [status] } });
    expect(await refund('X3', sent(100))).toMatchObject({ result: 'rejected', status: Number(status) });
    expect(await upstream.redirected()).toEqual([]);
  });

  it('a commission that is gone (404 on the change) is a refusal, not unattributed', async () => {
    const seeded = await upstream.seedConversion({ external_id: 'X4', amount: 100 });
    expect(await refund('X4', sent(100, 0, [{ id: '999999', amount: 10 }, { id: String(seeded.commissions[0].id), amount: 10 }]), 10)).toEqual({
      result: 'rejected',
      status: 404,
      message: 'Tapfiliate answered 404',
    });
  });

  it('logs one refund_attempt line per try: ids, result, how many commissions changed; never the key', async () => {
    await upstream.seedConversion({ external_id: 'G1', amount: 100, commissions: [10, 5] });
    await upstream.setFaults({ rest: { next: ['slow', 'slow', { status: 422, message: 'test-key refused' }], slowMs: 0 } });
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    let lines: unknown[];
    try {
      await refund('G1', sent(100), 10, 're_log');
      await refund('G1', sent(100), 10, 're_log');
      lines = log.mock.calls.map((args) => JSON.parse(String(args[0])));
    } finally {
      log.mockRestore();
    }
    expect(lines).toEqual([
      { event: 'refund_attempt', refund_id: 're_log', external_id: 'G1', amount: 10, result: 'rejected', upstream_status: 422, message: '*** refused', commissions: 1, ms: expect.any(Number) },
      { event: 'refund_attempt', refund_id: 're_log', external_id: 'G1', amount: 10, result: 'adjusted', commissions: 2, ms: expect.any(Number) },
    ]);
  });

  it('REFUNDS=ignore touches nothing at Tapfiliate', async () => {
    await upstream.seedConversion({ external_id: 'I1', amount: 100 });
    expect(await refund('I1', sent(100), undefined, 're_i', refundEnv({ REFUNDS: 'ignore' }))).toEqual({ result: 'ignored' });
    expect(await upstream.rest()).toEqual([]);
  });
});

/**
 * Runs a full refund with one 503 at the `n`-th REST call (1-based). The stand-in
 * consumes one `next` entry per request; a 'slow' of 0 ms answers normally.
 */
async function runRefundWithFaultAt(n: number, externalId: string): Promise<RefundOutcome> {
  await upstream.setFaults({ rest: { next: [...Array.from({ length: n - 1 }, () => 'slow' as const), '503'], slowMs: 0 } });
  return refund(externalId, sent(100));
}
