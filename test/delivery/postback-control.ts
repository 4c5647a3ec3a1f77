import { env } from 'cloudflare:workers';
import { inject } from 'vitest';
import type { Env } from '../../proxy/env';
import { postbackControl } from '../postback/control';
import type { PostbackServerName } from './global-setup';

export type { Fault, FaultSpec, ReceivedPostback } from '../postback/server.mjs';

/** The local postback server started for this test file, seen from inside workerd. */
export function postbackServer(name: PostbackServerName) {
  const control = postbackControl(inject('postbackServers')[name]);
  return {
    ...control,
    /** The worker's env pointed at this server. */
    env(extra: Partial<Env> = {}): Env {
      return {
        ...(env as Env),
        TAPFILIATE_API_KEY: 'test-key',
        POSTBACK_CONVERSION_URL: control.conversionUrl,
        POSTBACK_CUSTOMER_URL: control.customerUrl,
        ...extra,
      };
    },
  };
}

export const client = { ip: '203.0.113.7', user_agent: 'Mozilla/5.0 (tests)' };
