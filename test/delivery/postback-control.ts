import { inject } from 'vitest';
import { postbackControl } from '../postback/control';
import { pointLedgersAt } from '../ledger-control';
import type { PostbackServerName } from './global-setup';

export type { Fault, FaultSpec, ReceivedPostback, Rejection } from '../postback/server.mjs';

/** The key the stand-ins accept. */
export const API_KEY = 'test-key';

/** The local postback server started for this test file, seen from inside workerd. */
export function postbackServer(name: PostbackServerName) {
  const control = postbackControl(inject('postbackServers')[name]);
  return {
    ...control,
    /** Points every ledger object at this server (they post with their own env); returns the undo. */
    useInLedgers(extra: Partial<Env> & { timeoutMs?: number } = {}) {
      return pointLedgersAt({ TAPFILIATE_API_KEY: API_KEY, POSTBACK_CONVERSION_URL: control.conversionUrl, POSTBACK_CUSTOMER_URL: control.customerUrl, ...extra });
    },
  };
}

export const client = { ip: '203.0.113.7', user_agent: 'Mozilla/5.0 (tests)' };

/** Every JSON log line written while `spy` was installed. */
export function parseLogLines(calls: unknown[][]): { event: string; [field: string]: unknown }[] {
  return calls.map(([line]) => {
    try {
      return JSON.parse(String(line));
    } catch {
      return { event: 'not_json', line };
    }
  });
}
