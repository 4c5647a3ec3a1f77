import type { TestProject } from 'vitest/node';
import { startPostbackServer } from '../postback/server.mjs';

/**
 * Local postback servers for the admin tests: `ledger` for requests run through
 * createApp with the real delivery, `worker` for the worker's own bindings (so
 * nothing bound ever reaches Tapfiliate). Tests drive them through /__control/.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    adminPostbackServers: { ledger: string; worker: string };
  }
}

export default async function setup(project: TestProject) {
  const [ledger, worker] = await Promise.all([startPostbackServer({ apiKey: 'test-key' }), startPostbackServer({ apiKey: 'test-key' })]);
  project.provide('adminPostbackServers', { ledger: ledger.url, worker: worker.url });
  return async () => {
    await Promise.all([ledger.close(), worker.close()]);
  };
}
