// Bundles for the bench: Node cannot import .ts, and Miniflare wants one ES module.
// Output goes to a temporary directory, never into the repository.
import { build } from 'esbuild';
import { SNIPPET_BUILD_OPTIONS } from '../scripts/snippet-build.mjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
const out = mkdtempSync(join(tmpdir(), 'tapline-bench-'));
process.once('exit', () => rmSync(out, { recursive: true, force: true }));

/**
 * A worker entry as wrangler would bundle it: one ES module for workerd, with
 * `cloudflare:*` and `node:*` left to the runtime (nodejs_compat).
 * @param {string} entry path from the repository root
 * @param {{ minify?: boolean, define?: Record<string, string> }} [options]
 * @returns {Promise<string>} the bundle's path
 */
export async function bundleWorker(entry, { minify = false, define = {} } = {}) {
  const outfile = join(out, `${relative(ROOT, resolve(ROOT, entry)).replace(/[^\w]+/g, '_')}.mjs`);
  await build({
    entryPoints: [resolve(ROOT, entry)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    external: ['cloudflare:*', 'node:*'],
    minify,
    define,
    logLevel: 'error',
  });
  return outfile;
}

/**
 * `proxy/app.ts` for Node, to run the Hono app in-process. A `cloudflare:workers`
 * import (the ledger's DurableObject base) gets an empty stand-in: the bench never
 * constructs an object from it.
 * @returns {Promise<{ createApp: (options: Record<string, unknown>) => { fetch: Function } }>}
 */
export async function importAppForNode() {
  const outfile = join(out, 'app.node.mjs');
  await build({
    stdin: { contents: `export { createApp } from ${JSON.stringify(join(ROOT, 'proxy/app.ts'))};`, resolveDir: ROOT, loader: 'ts' },
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
    plugins: [
      {
        name: 'cloudflare-stand-in',
        setup(b) {
          b.onResolve({ filter: /^cloudflare:/ }, (args) => ({ path: args.path, namespace: 'cf-stand-in' }));
          b.onLoad({ filter: /.*/, namespace: 'cf-stand-in' }, () => ({
            contents: 'export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }\n' +
              'export class WorkerEntrypoint extends DurableObject {}\nexport class RpcTarget {}\nexport const env = {};\n',
            loader: 'js',
          }));
        },
      },
    ],
  });
  return import(outfile);
}

/**
 * Where tap.js's bytes go: snippet/index.ts bundled as build.mjs bundles it,
 * with esbuild's metafile, as minified bytes per source file, largest first.
 * @returns {Promise<{ file: string, bytes: number }[]>}
 */
export async function snippetBreakdown() {
  const result = await build({ ...SNIPPET_BUILD_OPTIONS, entryPoints: [resolve(ROOT, 'snippet/index.ts')], metafile: true, logLevel: 'error' });
  const [output] = Object.values(result.metafile.outputs);
  return Object.entries(output.inputs)
    .map(([file, { bytesInOutput }]) => ({ file: relative(ROOT, resolve(ROOT, file)), bytes: bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
}
