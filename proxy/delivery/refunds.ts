// A refund takes the affiliate's commission back (docs/reference.md, "Refunds"):
// a full refund disapproves each commission of the conversion at Tapfiliate, a
// partial one sets each to its share of what is left of the order. The ledger
// runs this once per refund id, beside the refund's conversion, and retries a
// `retry` like a postback; everything Tapline assumes about Tapfiliate's REST API
// is in proxy/tapfiliate.ts. Whether a refund reaches Tapfiliate at all is
// decided in lifecycle.ts refundMeets.
import { apiKeyOf, refundsModeOf, upstreamUrlsOf } from '../config';
import { logLine } from '../lib/log';
import type { RecordStatus, RefundJob } from './lifecycle';
import {
  disapproveCommission,
  findTapfiliateConversion,
  setCommissionAmount,
  type RestOptions,
  type RestOutcome,
  type TapfiliateCommission,
} from '../tapfiliate';

/** A commission as the conversion's record keeps it: its amount before any refund. */
interface OriginalCommission {
  id: string;
  amount: number;
}

export interface RefundContext {
  job: RefundJob['refund'];
  /** The conversion as the ledger holds it, or null when the ledger has no record of it. */
  conversion: { status: RecordStatus; amount?: number; refunded_amount: number; commissions?: OriginalCommission[] } | null;
  env: Env;
  timeoutMs?: number;
}

export type RefundOutcome =
  /** `commissions` are the original amounts, for the conversion's record. */
  | { result: 'reversed' | 'adjusted'; refunded_amount: number; commissions: OriginalCommission[] }
  | { result: 'unattributed' }
  /** REFUNDS=ignore. */
  | { result: 'ignored' }
  | { result: 'retry'; status?: number; reason: string; retryAfterSeconds?: number }
  | { result: 'rejected'; status: number; message: string };

/**
 * What a refund does to the commissions, from the ORIGINAL commission amounts:
 * after refunds totalling `refunded` of an order of `orderAmount`, each
 * commission is original × (orderAmount − refunded) / orderAmount, in cents.
 * Working from the originals and the running total (never from the last
 * adjusted amount) is what keeps two partial refunds from compounding: two
 * refunds of 30 and 20 leave the same commission as one of 50.
 * `full` when nothing of the order is left (or the order amount is unknown and
 * the refund is not partial), and the commissions are disapproved instead.
 *
 * @example
 * refundPlan({ orderAmount: 100, refunded: 25, originals: [{ id: 'c1', amount: 10 }] })
 * // { full: false, refunded: 25, amounts: [{ id: 'c1', amount: 7.5 }] }
 */
export function refundPlan({ orderAmount, refunded, originals }: { orderAmount: number; refunded: number; originals: OriginalCommission[] }): {
  full: boolean;
  refunded: number;
  amounts: OriginalCommission[];
} {
  const orderCents = toCents(orderAmount);
  const refundedCents = toCents(refunded);
  if (refundedCents >= orderCents) return { full: true, refunded: fromCents(Math.max(refundedCents, orderCents)), amounts: [] };
  const leftCents = orderCents - refundedCents;
  return {
    full: false,
    refunded: fromCents(refundedCents),
    amounts: originals.map(({ id, amount }) => ({ id, amount: fromCents(Math.round((toCents(amount) * leftCents) / orderCents)) })),
  };
}

/** Amounts are added and divided in whole cents, so 0.1 + 0.2 of a refund is 0.3 and a total never drifts. */
const toCents = (amount: number) => Math.round(amount * 100);
const fromCents = (cents: number) => cents / 100;

/**
 * Runs one refund against Tapfiliate. Looks the conversion up first (its
 * commission ids, which ones are already disapproved, and the order amount
 * when the ledger has none); the original amounts come from the record when an
 * earlier refund kept them, else from this lookup, and are handed back to be
 * kept. Every call is safe to repeat: a retry skips commissions already
 * disapproved and sets the same amounts again.
 */
export async function runRefund(context: RefundContext): Promise<RefundOutcome> {
  const started = Date.now();
  const { outcome, changed } = await tryRefund(context);
  const { refund_id, external_id, amount } = context.job;
  logLine('refund_attempt', {
    refund_id,
    external_id,
    amount,
    result: outcome.result,
    upstream_status: 'status' in outcome ? outcome.status : undefined,
    reason: outcome.result === 'retry' ? outcome.reason : undefined,
    message: outcome.result === 'rejected' ? outcome.message : undefined,
    commissions: changed,
    ms: Date.now() - started,
  });
  return outcome;
}

/** The refund itself, and how many commissions it changed at Tapfiliate (for the log). */
async function tryRefund({ job, conversion, env, timeoutMs }: RefundContext): Promise<{ outcome: RefundOutcome; changed: number }> {
  let changed = 0;
  const done = (outcome: RefundOutcome) => ({ outcome, changed });
  if (refundsModeOf(env) === 'ignore') return done({ result: 'ignored' });
  const options: RestOptions = { baseUrl: upstreamUrlsOf(env).rest, apiKey: apiKeyOf(env) ?? '', timeoutMs };

  const lookup = await findTapfiliateConversion(job.external_id, options);
  if (lookup.result !== 'ok') return done(failed(lookup));
  const found = lookup.value;
  if (!found) return done({ result: 'unattributed' });

  // An empty list kept by an earlier refund (Tapfiliate had made no commission yet) is looked at again.
  const originals: OriginalCommission[] = conversion?.commissions?.length ? conversion.commissions : found.commissions.map(({ id, amount }) => ({ id, amount }));
  const orderAmount = conversion?.amount ?? found.amount;
  const before = conversion?.refunded_amount ?? 0;

  if (job.amount !== undefined && orderAmount === undefined) {
    // A share of an unknown whole cannot be worked out; taking everything back would be wrong too.
    return done({ result: 'rejected', status: 422, message: 'a partial refund of a conversion without an amount (neither the ledger nor Tapfiliate holds one)' });
  }
  const plan =
    job.amount === undefined || orderAmount === undefined
      ? { full: true, refunded: orderAmount ?? before, amounts: [] }
      : refundPlan({ orderAmount, refunded: before + job.amount, originals });

  try {
    if (plan.full) {
      const approval = new Map(found.commissions.map((commission): [string, TapfiliateCommission['approved']] => [commission.id, commission.approved]));
      for (const { id } of originals) {
        if (approval.get(id) === false) continue;
        const outcome = await disapproveCommission(id, options);
        if (outcome.result !== 'ok') return done(failed(outcome));
        changed++;
      }
      return done({ result: 'reversed', refunded_amount: plan.refunded, commissions: originals });
    }
    const comment = `Refund ${job.refund_id}: ${plan.refunded} of ${orderAmount} refunded`;
    for (const { id, amount } of plan.amounts) {
      const outcome = await setCommissionAmount(id, amount, comment, options);
      if (outcome.result !== 'ok') return done(failed(outcome));
      changed++;
    }
    return done({ result: 'adjusted', refunded_amount: plan.refunded, commissions: originals });
  } catch (error) {
    // Only a kept commission id that cannot go into a path gets here: asking again changes nothing.
    return done({ result: 'rejected', status: 0, message: error instanceof Error ? error.message : 'refund failed' });
  }
}

/** A commission call that did not succeed. A 404 there (the commission is gone) is a refusal, not "unknown order". */
function failed(outcome: Exclude<RestOutcome<unknown>, { result: 'ok' }>): RefundOutcome {
  if (outcome.result === 'retry') return outcome;
  if (outcome.result === 'not_found') return { result: 'rejected', status: 404, message: 'Tapfiliate answered 404' };
  return outcome;
}
