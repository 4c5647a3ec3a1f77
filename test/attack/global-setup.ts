import type { TestProject } from 'vitest/node';
import { startPostbackServer } from '../postback/server.mjs';

/**
 * Local postback servers for the attack suite: `app` for requests run through
 * createApp with the real delivery and a test's own env, `worker` for the
 * worker's bound URLs (so a queue consumer running for real never reaches
 * Tapfiliate), `faults` for the one file that injects upstream refusals (a
 * fault spec is global to its server), `money` for money-v4.test.ts, which
 * injects its own. Other files never reset a server: they
 * find their own postbacks by unique ids. Tests drive them through /__control/.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    attackPostbackServers: { app: string; worker: string; faults: string; money: string };
  }
}

export default async function setup(project: TestProject) {
  const [app, worker, faults, money] = await Promise.all([
    startPostbackServer({ apiKey: 'test-key' }),
    startPostbackServer({ apiKey: 'test-key' }),
    startPostbackServer({ apiKey: 'test-key' }),
    startPostbackServer({ apiKey: 'test-key' }),
  ]);
  project.provide('attackPostbackServers', { app: app.url, worker: worker.url, faults: faults.url, money: money.url });
  return async () => {
    await Promise.all([app.close(), worker.close(), faults.close(), money.close()]);
  };
}
