import type { Env } from './env';

/** Fields a handler adds to the request's log line. */
export interface LogFields {
  external_id?: string;
  result?: string;
  upstream_status?: number;
}

/** Hono's generics for this app: the worker's bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    route: string;
    log: LogFields;
  };
}
