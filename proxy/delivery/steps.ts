import { logLine } from '../log';
import type { PostbackAttempt, PostbackKind } from './postback';
import type { ConversionPostback, CustomerPostback, PostbackJob } from './types';

/** The order postbacks go out in: Tapfiliate must know the customer before a conversion names it. */
export function stepsOf(job: PostbackJob): PostbackKind[] {
  const steps: PostbackKind[] = [];
  if (job.customer) steps.push('customer');
  if (job.conversion) steps.push('conversion');
  return steps;
}

export function bodyOf(job: PostbackJob, kind: PostbackKind): CustomerPostback | ConversionPostback {
  const body = kind === 'customer' ? job.customer : job.conversion;
  if (!body) throw new Error(`job has no ${kind} postback`);
  return body;
}

/** The id an operator searches the logs by: the external_id of a conversion, the customer_id of a customer. */
export function idFields(kind: PostbackKind, body: CustomerPostback | ConversionPostback): Record<string, string> {
  return kind === 'conversion'
    ? { external_id: (body as ConversionPostback).external_id }
    : { customer_id: body.customer_id as string };
}

/** One line per upstream attempt. Carries ids, never the key, the body or an IP. */
export function logAttempt(
  via: 'inline' | 'queue',
  kind: PostbackKind,
  body: CustomerPostback | ConversionPostback,
  attempt: number,
  { outcome, ms }: PostbackAttempt,
): void {
  logLine('postback_attempt', {
    via,
    kind,
    ...idFields(kind, body),
    attempt,
    result: outcome.result,
    upstream_status: 'status' in outcome ? outcome.status : undefined,
    reason: outcome.result === 'retry' ? outcome.reason : undefined,
    ms,
  });
}
