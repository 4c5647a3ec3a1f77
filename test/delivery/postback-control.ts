import { env } from 'cloudflare:workers';
import { inject } from 'vitest';
import type { Env } from '../../proxy/env';
import type { PostbackServerName } from './global-setup';

export type Fault = '503' | '429' | 'slow' | 'drop';
export interface FaultSpec {
  next?: Fault[];
  random?: { rate: number; faults: Fault[]; seed?: number };
  down?: boolean;
  slowMs?: number;
}
export interface ReceivedPostback {
  kind: 'conversion' | 'customer';
  fields: Record<string, unknown>;
  apiKey: string | null;
  contentType: string | null;
  status: number;
  fault?: Fault;
}

/** The local postback server started for this test file, seen from inside workerd. */
export function postbackServer(name: PostbackServerName) {
  const url = inject('postbackServers')[name];
  const control = (path: string, init?: RequestInit) => fetch(`${url}/__control/${path}`, init);
  return {
    url,
    /** The worker's env pointed at this server. */
    env(extra: Partial<Env> = {}): Env {
      return {
        ...(env as Env),
        TAPFILIATE_API_KEY: 'test-key',
        POSTBACK_CONVERSION_URL: `${url}/1.7/pb/con/c/`,
        POSTBACK_CUSTOMER_URL: `${url}/1.7/pb/cus/c/`,
        ...extra,
      };
    },
    async setFaults(spec: FaultSpec): Promise<void> {
      await (await control('faults', { method: 'POST', body: JSON.stringify(spec) })).text();
    },
    async reset(): Promise<void> {
      await (await control('reset', { method: 'POST' })).text();
    },
    async received(): Promise<ReceivedPostback[]> {
      return (await control('received')).json();
    },
    async accepted(kind?: 'conversion' | 'customer'): Promise<ReceivedPostback[]> {
      return (await this.received()).filter((r) => r.status >= 200 && r.status < 300 && (!kind || r.kind === kind));
    },
  };
}

export const client = { ip: '203.0.113.7', user_agent: 'Mozilla/5.0 (tests)' };
