// The job an accepted event becomes: the postback bodies Tapfiliate gets, in
// the order they go out (proxy/tapfiliate.ts sends them).
import { withoutUndefined } from '../lib/plain';
import type { Conversion, Customer, Identifiers } from './schema';
import type { ConversionPostback, PostbackJob, Visitor } from '../tapfiliate';

/** The postbacks for a conversion. The customer carries identifiers and visitor, not the order's meta_data. */
export function conversionJob(order: Conversion, identifiers: Identifiers, visitor: Visitor): PostbackJob {
  const { external_id, amount, currency, customer_id, meta_data } = order;
  const conversion: ConversionPostback = { external_id, amount, currency, customer_id, meta_data, ...identifiers, ...visitor };
  const job: PostbackJob = { conversion: withoutUndefined(conversion) };
  if (customer_id !== undefined) job.customer = { customer_id, ...identifiers, ...visitor };
  return job;
}

export function customerJob(customer: Customer, identifiers: Identifiers, visitor: Visitor): PostbackJob {
  const { customer_id, meta_data } = customer;
  return { customer: withoutUndefined({ customer_id, meta_data, ...identifiers, ...visitor }) };
}
