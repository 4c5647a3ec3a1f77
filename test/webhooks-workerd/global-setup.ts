import type { TestProject } from 'vitest/node';
import { startPostbackServer } from '../postback/server.mjs';

/**
 * Local postback servers for the webhook routes' workerd tests: one per test
 * file (so one file's resets and faults never reach another running beside it),
 * plus `worker`, where the worker's own bindings point (a bound queue consumer
 * running a backup message never reaches Tapfiliate). Tests drive them through
 * /__control/ (test/postback/control.ts).
 */
export const WEBHOOK_POSTBACK_SERVERS = ['worker', 'stripe', 'currencies', 'subscription', 'shopify', 'health', 'paddle', 'lemonsqueezy', 'platformRefunds'] as const;
export type WebhookPostbackServer = (typeof WEBHOOK_POSTBACK_SERVERS)[number];

declare module 'vitest' {
  export interface ProvidedContext {
    webhookPostbackServers: Record<WebhookPostbackServer, string>;
  }
}

export default async function setup(project: TestProject) {
  const servers = await Promise.all(WEBHOOK_POSTBACK_SERVERS.map(() => startPostbackServer({ apiKey: 'test-key' })));
  project.provide(
    'webhookPostbackServers',
    Object.fromEntries(WEBHOOK_POSTBACK_SERVERS.map((name, index) => [name, servers[index].url])) as Record<WebhookPostbackServer, string>,
  );
  return async () => {
    await Promise.all(servers.map((server) => server.close()));
  };
}
