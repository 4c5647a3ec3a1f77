import type { TestProject } from 'vitest/node';
import { startPostbackServer } from '../postback/server.mjs';

/**
 * Local postback servers for the proxy's workerd tests: `app` for requests run
 * through createApp with the inline delivery, `worker` for the worker entry
 * itself (its bindings point there, so a bound queue's consumer never reaches
 * Tapfiliate). Tests drive them through /__control/.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    proxyPostbackServers: { app: string; worker: string };
  }
}

export default async function setup(project: TestProject) {
  const [app, worker] = await Promise.all([
    startPostbackServer({ apiKey: 'test-key' }),
    startPostbackServer({ apiKey: 'test-key' }),
  ]);
  project.provide('proxyPostbackServers', { app: app.url, worker: worker.url });
  return async () => {
    await Promise.all([app.close(), worker.close()]);
  };
}
