import type { ClientInfo } from './client';
import type { ConversionPostback, CustomerPostback, PostbackJob } from './delivery/types';
import type { Conversion, Customer, Identifiers } from './schema';

/**
 * A conversion and, with a customer_id, the customer postback to send before it.
 * The customer carries the identifiers and client, not the order's meta_data.
 */
export function conversionJob(conversion: Conversion, identifiers: Identifiers, client: ClientInfo): PostbackJob {
  const { external_id, amount, currency, customer_id, meta_data } = conversion;
  const postback: ConversionPostback = {
    external_id,
    ...(amount !== undefined && { amount }),
    ...(currency !== undefined && { currency }),
    ...(customer_id !== undefined && { customer_id }),
    ...(meta_data !== undefined && { meta_data }),
    ...identifiers,
    ...client,
  };
  const customer: CustomerPostback | undefined =
    customer_id === undefined ? undefined : { customer_id, ...identifiers, ...client };
  return {
    ...(customer && { customer }),
    conversion: postback,
  };
}

/** A sign-up or lead: a customer postback alone. */
export function customerJob(customer: Customer, identifiers: Identifiers, client: ClientInfo): PostbackJob {
  const postback: CustomerPostback = {
    customer_id: customer.customer_id,
    ...(customer.meta_data !== undefined && { meta_data: customer.meta_data }),
    ...identifiers,
    ...client,
  };
  return { customer: postback };
}
