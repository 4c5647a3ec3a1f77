import type { TestProject } from 'vitest/node';
import { startPostbackServer } from '../postback/server.mjs';

/**
 * One local postback server per test file, so faults injected by one file never
 * reach another running in parallel. Tests in workerd drive them through the
 * server's /__control/ endpoints.
 */
export const POSTBACK_SERVER_NAMES = ['postback', 'durable', 'faults', 'abuse', 'queue'] as const;
export type PostbackServerName = (typeof POSTBACK_SERVER_NAMES)[number];

declare module 'vitest' {
  export interface ProvidedContext {
    postbackServers: Record<PostbackServerName, string>;
  }
}

export default async function setup(project: TestProject) {
  const servers = await Promise.all(POSTBACK_SERVER_NAMES.map(() => startPostbackServer({ apiKey: 'test-key' })));
  project.provide(
    'postbackServers',
    Object.fromEntries(POSTBACK_SERVER_NAMES.map((name, index) => [name, servers[index].url])) as Record<PostbackServerName, string>,
  );
  return async () => {
    await Promise.all(servers.map((server) => server.close()));
  };
}
