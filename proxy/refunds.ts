// Refunds at Tapfiliate (shared/contract.md section 11): not yet built on this branch.
import type { RecordStatus, RefundJob } from './delivery/lifecycle';

export interface RefundContext {
  job: RefundJob['refund'];
  conversion: { status: RecordStatus; amount?: number; refunded_amount: number; commissions?: { id: string; amount: number }[] } | null;
  env: Env;
  timeoutMs?: number;
}

export type RefundOutcome =
  | { result: 'reversed' | 'adjusted'; refunded_amount: number; commissions: { id: string; amount: number }[] }
  | { result: 'unattributed' }
  | { result: 'ignored' }
  | { result: 'retry'; status?: number; reason: string; retryAfterSeconds?: number }
  | { result: 'rejected'; status: number; message: string };

export async function runRefund(_context: RefundContext): Promise<RefundOutcome> {
  return { result: 'ignored' };
}
