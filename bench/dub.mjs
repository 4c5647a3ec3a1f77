// Dub's base script (dubinc/analytics, packages/script/src/base.js), the bench's
// yardstick for tap.js: its source at a pinned commit, bundled as the issue that
// set tap.js's budget measured it (esbuild --bundle --minify --format=iife
// --target=es2015). Dub's source is never kept in this repository: it is
// downloaded into node_modules/.cache (or read from BENCH_DUB_SOURCE, a local
// copy of that file) and checked against its hash.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './bundle.mjs';

export const DUB_COMMIT = 'fb4cfa9846113c68e7e4caa8ea77323b1eef6d07';
const DUB_URL = `https://raw.githubusercontent.com/dubinc/analytics/${DUB_COMMIT}/packages/script/src/base.js`;
/** SHA-256 of base.js at DUB_COMMIT, so a changed download is never benched as Dub. */
const DUB_SHA256 = '0d1d9821409c812d6ca23e929ec9a41bb8e160bb941c2ee8dea30387f8cc3cf4';
const CACHE = join(ROOT, 'node_modules/.cache/tapline-bench', `dub-base-${DUB_COMMIT.slice(0, 7)}.js`);

const sha256 = (/** @type {Buffer | string} */ bytes) => createHash('sha256').update(bytes).digest('hex');

/** base.js at DUB_COMMIT: BENCH_DUB_SOURCE, the cache, or a download into the cache. */
async function source() {
  const path = process.env.BENCH_DUB_SOURCE ?? CACHE;
  if (!existsSync(path)) {
    const response = await fetch(DUB_URL, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`${DUB_URL} answered ${response.status}`);
    mkdirSync(join(CACHE, '..'), { recursive: true });
    writeFileSync(CACHE, Buffer.from(await response.arrayBuffer()));
  }
  const bytes = readFileSync(path);
  if (sha256(bytes) !== DUB_SHA256) throw new Error(`${path} is not base.js at ${DUB_COMMIT.slice(0, 7)} (sha256 ${sha256(bytes).slice(0, 12)}…)`);
  return path;
}

/**
 * Dub's base script, bundled; or the reason it could not be had (no network and
 * no BENCH_DUB_SOURCE), for the bench to print instead of its row.
 * @returns {Promise<{ code: Buffer } | { missing: string }>}
 */
export async function dubScript() {
  try {
    const result = await build({ entryPoints: [await source()], bundle: true, minify: true, format: 'iife', target: 'es2015', write: false, logLevel: 'error' });
    return { code: Buffer.from(result.outputFiles[0].contents) };
  } catch (error) {
    return { missing: `Dub's base script left out: ${/** @type {Error} */ (error).message} (set BENCH_DUB_SOURCE to a copy of ${DUB_URL})` };
  }
}
