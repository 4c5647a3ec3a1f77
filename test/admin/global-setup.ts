import type { TestProject } from 'vitest/node';
import { startPostbackServer } from '../postback/server.mjs';

/**
 * The local Tapfiliate stand-in for the admin tests. The worker's bindings
 * point at it, so the ledger objects (which post with the worker's own env)
 * deliver there. Tests drive it through /__control/.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    adminPostbackServer: string;
  }
}

export default async function setup(project: TestProject) {
  const server = await startPostbackServer({ apiKey: 'test-key' });
  project.provide('adminPostbackServer', server.url);
  return () => server.close();
}
