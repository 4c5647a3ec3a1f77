// The production worker (or a bench entry that wraps it) in Miniflare on its own
// port, with the bindings wrangler.toml declares: no `wrangler dev` proxy in the way.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from 'wrangler';
import { bundleWorker, ROOT } from './bundle.mjs';

const CONFIG = join(ROOT, 'wrangler.toml');

/**
 * @typedef {object} StartedWorker
 * @property {string} url e.g. http://127.0.0.1:43121
 * @property {Miniflare} mf
 * @property {() => Promise<void>} dispose
 */

/**
 * @param {{ entry?: string, settings: Record<string, string>, rateLimit: number, onLog?: (log: { level: string, message: string }) => void }} options
 * @returns {Promise<StartedWorker>}
 */
export async function startWorker({ entry, settings, rateLimit, onLog }) {
  const config = unstable_readConfig({ config: CONFIG });
  const { workerOptions, define } = unstable_getMiniflareWorkerOptions(CONFIG);
  const scriptPath = await bundleWorker(entry ?? config.main ?? 'proxy/index.ts', { minify: config.minify ?? false, define });
  const ratelimits = Object.fromEntries(
    Object.entries(workerOptions.ratelimits ?? {}).map(([name, limit]) => [
      name,
      { ...limit, simple: { ...limit.simple, limit: rateLimit } },
    ]),
  );
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    // The worker's JSON log lines (one per request) go here instead of the terminal.
    handleStructuredLogs: (log) => (onLog ? onLog(log) : process.env.BENCH_DEBUG && console.error(log)),
    workers: [
      {
        ...workerOptions,
        name: config.name ?? 'tapline',
        modules: true,
        scriptPath,
        modulesRoot: dirname(scriptPath),
        bindings: { ...workerOptions.bindings, ...settings },
        ratelimits,
      },
    ],
  });
  const url = (await mf.ready).origin;
  return { url, mf, dispose: () => mf.dispose() };
}

/**
 * The local Tapfiliate stand-in in a child process, so the load tool in this
 * process and the server never share one event loop.
 * @returns {Promise<{ url: string, conversionUrl: string, customerUrl: string, clicksUrl?: string, stats(): Promise<Record<string, number>>, close(): Promise<void> }>}
 */
export async function startPostbackChild(apiKey) {
  const child = spawn(process.execPath, [join(ROOT, 'bench/postback-child.mjs'), apiKey], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  /** @type {((value: any) => void)[]} */
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  const next = () => new Promise((resolve) => waiting.push(resolve));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const urls = await Promise.race([next(), exited.then(() => Promise.reject(new Error('postback server did not start')))]);
  return {
    ...urls,
    async stats() {
      child.stdin.write('stats\n');
      return next();
    },
    async close() {
      child.stdin.end();
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
      if (child.exitCode === null) child.kill();
    },
  };
}
