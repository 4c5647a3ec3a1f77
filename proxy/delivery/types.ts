import type { Env } from '../env';
import type { Identifiers } from '../schema';

/** Identifiers Tapfiliate attributes by: the same fields the event schema validates. */
export type PostbackIdentifiers = Identifiers;

/** JSON body of Tapfiliate's customer postback (POST $POSTBACK_CUSTOMER_URL). */
export interface CustomerPostback extends PostbackIdentifiers {
  customer_id: string;
  meta_data?: Record<string, string | number | boolean>;
  /** Left out, not sent empty, when the request had no CF-Connecting-IP or User-Agent. */
  ip?: string;
  user_agent?: string;
}

/** JSON body of Tapfiliate's conversion postback (POST $POSTBACK_CONVERSION_URL). */
export interface ConversionPostback extends PostbackIdentifiers {
  external_id: string;
  amount?: number;
  currency?: string;
  customer_id?: string;
  meta_data?: Record<string, string | number | boolean>;
  /** Left out, not sent empty, when the request had no CF-Connecting-IP or User-Agent. */
  ip?: string;
  user_agent?: string;
}

/**
 * One unit of work for delivery: a customer postback, a conversion postback,
 * or both, in that order. Validated and enriched already; delivery never
 * looks at the browser request again.
 */
export interface PostbackJob {
  customer?: CustomerPostback;
  conversion?: ConversionPostback;
}

/** What the request handler answers once delivery has taken the job. */
export type DeliveryResult =
  | { status: 'sent' | 'queued' | 'duplicate' }
  | { status: 'rejected'; upstreamStatus: number; message: string };

/** The one seam between the HTTP surface and how postbacks reach Tapfiliate. */
export interface Delivery {
  /** true when jobs survive isolate eviction (Queue + ledger bound). */
  readonly durable: boolean;
  submit(job: PostbackJob): Promise<DeliveryResult>;
}

export type CreateDelivery = (env: Env, ctx: ExecutionContext) => Delivery;
