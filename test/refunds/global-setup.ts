import type { TestProject } from 'vitest/node';
import { startPostbackServer } from '../postback/server.mjs';

/**
 * Local Tapfiliate stand-ins for the refund tests: one per test file (so one
 * file's resets and faults never reach another running beside it), plus
 * `worker`, where the worker's own bindings point. Tests drive them through
 * /__control/ (test/postback/control.ts).
 */
export const REFUND_POSTBACK_SERVERS = ['worker', 'run', 'route', 'stripe', 'shopify', 'money'] as const;
export type RefundPostbackServer = (typeof REFUND_POSTBACK_SERVERS)[number];

declare module 'vitest' {
  export interface ProvidedContext {
    refundPostbackServers: Record<RefundPostbackServer, string>;
  }
}

export default async function setup(project: TestProject) {
  const servers = await Promise.all(REFUND_POSTBACK_SERVERS.map(() => startPostbackServer({ apiKey: 'test-key' })));
  project.provide(
    'refundPostbackServers',
    Object.fromEntries(REFUND_POSTBACK_SERVERS.map((name, index) => [name, servers[index].url])) as Record<RefundPostbackServer, string>,
  );
  return async () => {
    await Promise.all(servers.map((server) => server.close()));
  };
}
