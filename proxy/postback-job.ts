import type { ClientInfo } from './client';
import type { ConversionPostback, CustomerPostback, PostbackJob } from './delivery/types';
import type { Conversion, Customer, Identifiers } from './schema';

// The delivery types declare ip and user_agent as always present; on Cloudflare
// they are. Where a header is missing (a local request, a client without a
// User-Agent) the field is left out rather than sent empty, which Tapfiliate
// could reject as an invalid IP.
type Enriched<T> = Omit<T, 'ip' | 'user_agent'> & ClientInfo;

/**
 * A conversion and, with a customer_id, the customer postback to send before it.
 * The customer carries the identifiers and client, not the order's meta_data.
 */
export function conversionJob(conversion: Conversion, identifiers: Identifiers, client: ClientInfo): PostbackJob {
  const { external_id, amount, currency, customer_id, meta_data } = conversion;
  const postback: Enriched<ConversionPostback> = {
    external_id,
    ...(amount !== undefined && { amount }),
    ...(currency !== undefined && { currency }),
    ...(customer_id !== undefined && { customer_id }),
    ...(meta_data !== undefined && { meta_data }),
    ...identifiers,
    ...client,
  };
  const customer: Enriched<CustomerPostback> | undefined =
    customer_id === undefined ? undefined : { customer_id, ...identifiers, ...client };
  return {
    ...(customer && { customer: customer as CustomerPostback }),
    conversion: postback as ConversionPostback,
  };
}

/** A sign-up or lead: a customer postback alone. */
export function customerJob(customer: Customer, identifiers: Identifiers, client: ClientInfo): PostbackJob {
  const postback: Enriched<CustomerPostback> = {
    customer_id: customer.customer_id,
    ...(customer.meta_data !== undefined && { meta_data: customer.meta_data }),
    ...identifiers,
    ...client,
  };
  return { customer: postback as CustomerPostback };
}
