/** Bindings and settings of the worker (contract §6). Optional ones have defaults in code. */
export interface Env {
  TAPFILIATE_API_KEY?: string;
  POSTBACK_CONVERSION_URL?: string;
  POSTBACK_CUSTOMER_URL?: string;
  BASE_PATH?: string;
  ALLOWED_ORIGINS?: string;
  /** Durable delivery (issue 5). Without these the proxy retries inline and says so in its logs. */
  POSTBACK_QUEUE?: Queue<unknown>;
  POSTBACK_LEDGER?: DurableObjectNamespace;
}
