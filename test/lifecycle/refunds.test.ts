// What a refund does to its conversion, as the pure transitions of proxy/delivery/lifecycle.ts
// (the refund rows of its table): only a full refund stops an unsent conversion, a partial one
// holds until it is sent, a refund in another currency is refused, refunds that came first are kept and applied on arrival, and a running total
// becomes this refund's own part by what the ledger accepted.
import { describe, expect, it } from 'vitest';
import {
  accepted,
  answered,
  cumulativeRefund,
  isAnswerOnly,
  isFullRefund,
  currencyRefused,
  isHeldRefund,
  isKeptRefund,
  keptRefundsOnArrival,
  refundFoundNothing,
  refundMeets,
  refundedConversion,
  releasesRefunds,
  tryFinished,
  tryStarted,
  type LedgerRecord,
  type RefundJob,
} from '../../proxy/delivery/lifecycle';

const NOW = 1_800_000_000_000;
const conversion = (amount = 1000, currency = 'EUR') =>
  accepted({ job: { conversion: { external_id: 'ORD1', amount, currency, referral_code: 'anna' } }, source: 'server', signed: false }, NOW);
const refundJob = (fields: Partial<RefundJob['refund']> = {}): RefundJob => ({ refund: { refund_id: 're_1', external_id: 'ORD1', ...fields } });
const refund = (fields: Partial<RefundJob['refund']> = {}) => accepted({ job: refundJob(fields), source: 'server', signed: false }, NOW);
/** A refund that ran before its conversion existed anywhere: answered unattributed, kept. */
const kept = (fields: Partial<RefundJob['refund']> = {}) => tryFinished(tryStarted(refund(fields), NOW), { result: 'unattributed' }, NOW);

describe('a refund of an unsent conversion (pending or dead)', () => {
  it('a full one (no amount) reverses it: never sent', () => {
    expect(refundMeets(conversion(), false, refundJob().refund)).toBe('reverse_unsent');
  });

  it('one for all that is left of the order counts as full', () => {
    expect(isFullRefund({ refund_id: 'r', external_id: 'ORD1', amount: 1000 }, conversion())).toBe(true);
    expect(refundMeets(conversion(), false, refundJob({ amount: 1000 }).refund)).toBe('reverse_unsent');
  });

  it('a partial one (0.01 of 1,000) holds: pending with no try due, until the conversion is sent', () => {
    expect(refundMeets(conversion(), false, refundJob({ amount: 0.01 }).refund)).toBe('hold');
    const held = tryFinished(tryStarted(refund({ amount: 0.01 }), NOW), { result: 'hold' }, NOW);
    expect(held).toMatchObject({ status: 'pending', next_try_at: null });
    expect(isHeldRefund(held)).toBe(true);
  });

  it('the conversion’s end of try releases its held refunds when it is sent or stopped, not while it waits or is dead', () => {
    const sent = tryFinished(tryStarted(conversion(), NOW), { result: 'sent', duplicate: false }, NOW);
    const dead = tryFinished(tryStarted(conversion(), NOW), { result: 'rejected', step: 'conversion', status: 401, message: 'no' }, NOW);
    expect([releasesRefunds(sent), releasesRefunds(conversion()), releasesRefunds(dead)]).toEqual([true, false, false]);
  });
});

describe('currencies', () => {
  it('a refund in another currency than its conversion’s is refused; one without a currency, or of an unknown conversion, is not', () => {
    expect(currencyRefused(conversion(100, 'EUR'), refundJob({ currency: 'JPY' }).refund)).toBe('EUR');
    expect(currencyRefused(conversion(100, 'EUR'), refundJob({ currency: 'EUR' }).refund)).toBeUndefined();
    expect(currencyRefused(conversion(100, 'EUR'), refundJob().refund)).toBeUndefined();
    expect(currencyRefused(undefined, refundJob({ currency: 'JPY' }).refund)).toBeUndefined();
  });
});

describe('refunds that came before their conversion', () => {
  it('an unattributed refund is kept', () => {
    expect(isKeptRefund(kept())).toBe(true);
    expect(isKeptRefund(refund())).toBe(false);
  });

  it('a kept full refund: the conversion arrives reversed, never sent, and the refund with it', () => {
    const { conversion: after, refunds } = keptRefundsOnArrival(conversion(100), [kept()], NOW);
    expect(after).toMatchObject({ status: 'reversed', next_try_at: null });
    expect(refunds).toEqual([expect.objectContaining({ key: 'ref:re_1', status: 'reversed' })]);
  });

  it('kept partial refunds: the conversion is sent as usual, and they wait for it', () => {
    const { conversion: after, refunds } = keptRefundsOnArrival(conversion(100), [kept({ amount: 30, currency: 'EUR' })], NOW);
    expect(after.status).toBe('pending');
    expect(refunds.every(isHeldRefund)).toBe(true);
  });

  it('a kept refund in another currency is left alone', () => {
    const { conversion: after, refunds } = keptRefundsOnArrival(conversion(100, 'EUR'), [kept({ currency: 'JPY' })], NOW);
    expect(after.status).toBe('pending');
    expect(refunds).toEqual([]);
  });
});

describe('a refund whose lookup found nothing, while its conversion arrived (the lookup held the order busy)', () => {
  it('no conversion: kept', () => {
    expect(refundFoundNothing(undefined, undefined, false, refundJob().refund)).toBe('keep');
  });

  it('a conversion the try began with was looked up: Tapfiliate’s empty answer stands', () => {
    const sent = tryFinished(tryStarted(conversion(100), NOW), { result: 'sent', duplicate: false }, NOW);
    expect(refundFoundNothing(sent, sent, false, refundJob().refund)).toBe('keep');
  });

  it('a full one stops the conversion that arrived; a partial one holds for it', () => {
    expect(refundFoundNothing(undefined, conversion(100), false, refundJob().refund)).toBe('reverse_unsent');
    expect(refundFoundNothing(undefined, conversion(100), false, refundJob({ amount: 30, currency: 'EUR' }).refund)).toBe('hold');
  });

  it('one in another currency than the conversion that arrived is kept, as a kept refund is left alone', () => {
    expect(refundFoundNothing(undefined, conversion(100, 'EUR'), false, refundJob({ amount: 30, currency: 'JPY' }).refund)).toBe('keep');
  });

  it('a conversion reversed meanwhile (by a kept full refund) is already reversed; one sent or busy is tried again', () => {
    const reversed = keptRefundsOnArrival(conversion(100), [kept()], NOW).conversion;
    expect(refundFoundNothing(undefined, reversed, false, refundJob({ refund_id: 're_2' }).refund)).toBe('already_reversed');
    const sent = tryFinished(tryStarted(conversion(100), NOW), { result: 'sent', duplicate: false }, NOW);
    expect(refundFoundNothing(undefined, sent, false, refundJob().refund)).toBe('retry');
    expect(refundFoundNothing(undefined, conversion(100), true, refundJob().refund)).toBe('retry');
  });
});

describe('what a refund meets of its order', () => {
  const planted = (currency = 'JPY') =>
    answered({ job: { conversion: { external_id: 'ORD1', amount: 10, currency } }, source: 'browser', signed: false, status: 'unattributed', reason: 'no_attribution' }, NOW);

  it('a record that only logs an answer is no conversion: its currency refuses nothing, its amount decides nothing', () => {
    expect(isAnswerOnly(planted())).toBe(true);
    expect(refundedConversion(planted())).toBeUndefined();
    expect(currencyRefused(refundedConversion(planted()), refundJob({ amount: 30, currency: 'EUR' }).refund)).toBeUndefined();
    expect(refundedConversion(conversion())).toEqual(conversion());
  });

  it('a refund kept or ignored says why, and stays a refund (a replay of its id is a duplicate, not a replacement)', () => {
    expect(kept()).toMatchObject({ status: 'unattributed', reason: 'conversion_not_found' });
    expect(kept().history.at(-1)).toMatchObject({ outcome: 'unattributed', reason: 'conversion_not_found' });
    expect(isAnswerOnly(kept())).toBe(false);
    const ignored = tryFinished(tryStarted(refund(), NOW), { result: 'ignored' }, NOW);
    expect(ignored).toMatchObject({ status: 'ignored', reason: 'refunds_ignored' });
    expect(isAnswerOnly(ignored)).toBe(false);
  });

  it('a kept refund applied to its conversion no longer shows the reason it was kept for', () => {
    expect(keptRefundsOnArrival(conversion(100), [kept()], NOW).refunds[0]).not.toHaveProperty('reason');
    expect(keptRefundsOnArrival(conversion(100), [kept({ amount: 30, currency: 'EUR' })], NOW).refunds[0]).not.toHaveProperty('reason');
  });
});

describe('a running total (Stripe amount_refunded, Lemon Squeezy refunded_amount)', () => {
  const acceptedRefund = (amount?: number): LedgerRecord => refund(amount === undefined ? {} : { amount });

  it('is its total less every refund accepted, applied or still pending; the record keeps the total', () => {
    expect(cumulativeRefund(refundJob({ refunded_total: 50 }), [acceptedRefund(30)])).toEqual(refundJob({ amount: 20, refunded_total: 50 }));
    expect(cumulativeRefund(refundJob({ refunded_total: 0.3 }), [acceptedRefund(0.1), acceptedRefund(0.1)])).toEqual(refundJob({ amount: 0.1, refunded_total: 0.3 }));
  });

  it('one refund seen as a running total and by its own id counts once, in either order (Stripe charge.refunded and refund.created)', () => {
    const total = (refunded_total: number) => refund({ amount: refunded_total, refunded_total });
    // Its own id first, then a total that holds nothing more: a duplicate.
    expect(cumulativeRefund(refundJob({ refunded_total: 30 }), [acceptedRefund(30)])).toBeNull();
    // The total first, then the same refund by its own id: a duplicate.
    expect(cumulativeRefund(refundJob({ amount: 30 }), [total(30)])).toBeNull();
    // By its own id, more than the total counted: only what the total has not.
    expect(cumulativeRefund(refundJob({ amount: 40 }), [total(30)])).toEqual(refundJob({ amount: 10 }));
    // A total beyond what was counted: the rest only.
    expect(cumulativeRefund(refundJob({ refunded_total: 60 }), [total(30), acceptedRefund(20)])).toEqual(refundJob({ amount: 10, refunded_total: 60 }));
  });

  it('a refund answered without being accepted (another currency) counts nothing', () => {
    const refused = answered({ job: refundJob({ amount: 30, currency: 'JPY' }), source: 'stripe', signed: true, status: 'ignored', reason: 'currency_mismatch' }, NOW);
    expect(cumulativeRefund(refundJob({ refunded_total: 30 }), [refused])).toEqual(refundJob({ amount: 30, refunded_total: 30 }));
  });

  it('a refund kept in another currency (it came before its conversion, and was left) counts nothing toward a total in the order\'s', () => {
    expect(cumulativeRefund(refundJob({ refunded_total: 30, currency: 'EUR' }), [kept({ amount: 5000, currency: 'JPY' })])).toEqual(
      refundJob({ amount: 30, refunded_total: 30, currency: 'EUR' }),
    );
    expect(cumulativeRefund(refundJob({ refunded_total: 30, currency: 'EUR' }), [kept({ currency: 'JPY' })])).toEqual(refundJob({ amount: 30, refunded_total: 30, currency: 'EUR' }));
    // In the same currency it counts, as any accepted refund does.
    expect(cumulativeRefund(refundJob({ refunded_total: 30, currency: 'EUR' }), [kept({ amount: 10, currency: 'EUR' })])).toEqual(refundJob({ amount: 20, refunded_total: 30, currency: 'EUR' }));
  });

  it('a refund record that only logs an answer, with no try, is never a kept refund, and counts nothing', () => {
    const logged = answered({ job: refundJob({ amount: 30, currency: 'EUR' }), source: 'stripe', signed: true, status: 'unattributed', reason: 'unknown_order' }, NOW);
    expect(isKeptRefund(logged)).toBe(false);
    expect(isKeptRefund(kept({ amount: 30 }))).toBe(true);
    expect(cumulativeRefund(refundJob({ refunded_total: 30 }), [logged])).toEqual(refundJob({ amount: 30, refunded_total: 30 }));
  });

  it('nothing left, or a full refund accepted already: null (a duplicate)', () => {
    expect(cumulativeRefund(refundJob({ refunded_total: 30 }), [acceptedRefund(30)])).toBeNull();
    expect(cumulativeRefund(refundJob({ refunded_total: 30 }), [acceptedRefund()])).toBeNull();
  });

  it('a refund without a total, of an order without one, is as it came', () => {
    const job = refundJob({ amount: 5 });
    expect(cumulativeRefund(job, [acceptedRefund(30)])).toBe(job);
  });
});
