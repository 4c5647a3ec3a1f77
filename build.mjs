// Bundles the snippet, enforces its size budget, and hands its bytes to the proxy.
//
// Each file is an IIFE. tap.js is what every page view loads; the lazy files
// sit next to it and tap.js loads each the first time a page needs it
// (snippet/kernel.ts): tap-events.js where a landing is stored, a conversion or
// customer is sent, or an earlier one waits to be resent; tap-outbox.js where a
// page calls tap.convert or tap.customer; tap-compat.js where a page makes one
// of Tapfiliate's own calls; tap-ref.js where the tag has `data-domains`.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { buildConsole } from './scripts/build-console.mjs';
import { SNIPPET_BUILD_OPTIONS } from './scripts/snippet-build.mjs';

/** Gzip bytes a lazy file may weigh; `npm test` and CI fail above it. */
export const GZIP_BUDGET = 2048;
/**
 * Bytes tap.js, which every page view loads, may weigh, as `gzip -9 -c
 * dist/tap.js | wc -c` counts them (the gzip tool's own header, with the file
 * name, included): no more than Dub's base script by the same measure (1,692
 * B: dubinc/analytics@fb4cfa9 packages/script/src/base.js, bundled with esbuild
 * `--bundle --minify --format=iife --target=es2015`; `npm run bench` builds it).
 * The README states this figure, and docs/reference.md#sizes every file's.
 */
export const PAGE_VIEW_BUDGET = 1690;

const FILES = {
  'tap.js': 'snippet/index.ts',
  'tap-events.js': 'snippet/events/index.ts',
  'tap-outbox.js': 'snippet/outbox/index.ts',
  'tap-compat.js': 'snippet/compat/index.ts',
  'tap-ref.js': 'snippet/ref/index.ts',
};

/**
 * TAPLINE_BUILD_QUIET=1 (npm start, scripts/start.mjs): one line per build, and
 * none at all when nothing the snippet is built from changed since the last
 * build, so wrangler's own [build] runs after npm start's cost nothing.
 */
const QUIET = process.env.TAPLINE_BUILD_QUIET === '1';
const FINGERPRINT_FILE = 'dist/.fingerprint';
/** Every input of the build: this file, its options and the console's build script, and the sources in snippet/, common/ and console/. */
function fingerprint() {
  const hash = createHash('sha256').update(readFileSync('build.mjs')).update(readFileSync('scripts/snippet-build.mjs')).update(readFileSync('scripts/build-console.mjs'));
  for (const folder of ['snippet', 'common', 'console']) {
    for (const file of readdirSync(folder, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile())) {
      const path = `${file.parentPath}/${file.name}`;
      hash.update(path).update(readFileSync(path));
    }
  }
  return hash.digest('hex');
}
const inputs = fingerprint();
const built = [...Object.keys(FILES).map((name) => `dist/${name}`), 'proxy/generated/snippet.ts', 'proxy/generated/console.ts'].every((path) => existsSync(path));
if (QUIET && built && existsSync(FINGERPRINT_FILE) && readFileSync(FINGERPRINT_FILE, 'utf8') === inputs) process.exit(0);

async function bundle(entryPoint) {
  const result = await build({ ...SNIPPET_BUILD_OPTIONS, entryPoints: [entryPoint], logLevel: 'warning' });
  return result.outputFiles[0].contents;
}

/**
 * Writes only when the bytes change: wrangler runs this build on every dev start
 * and deploy, and a test reading dist/ must never see a half-written file.
 */
function writeIfChanged(path, contents) {
  if (existsSync(path) && Buffer.compare(readFileSync(path), Buffer.from(contents)) === 0) return;
  mkdirSync(path.replace(/\/[^/]*$/, ''), { recursive: true });
  writeFileSync(path, contents);
}

const sizes = (code) => ({
  raw: code.length,
  gzip: gzipSync(code, { level: 9 }).length,
  brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
});

/**
 * `gzip -9 -c <path> | wc -c`: the gzip tool itself, as the budget is stated.
 * Where it is missing, Node's deflate plus the tool's header (10 bytes, the
 * file name and its NUL; RFC 1952 §2.3) stands in for it.
 */
function gzipTool(path) {
  try {
    return execFileSync('gzip', ['-9', '-c', path]).length;
  } catch {
    return gzipSync(readFileSync(path), { level: 9 }).length + path.replace(/.*\//, '').length + 1;
  }
}

const snippets = {};
const gzips = {};
for (const [name, entryPoint] of Object.entries(FILES)) {
  const code = await bundle(entryPoint);
  writeIfChanged(`dist/${name}`, code);
  const size = sizes(code);
  gzips[name] = size.gzip;
  if (!QUIET) console.log(`dist/${name.padEnd(14)} ${size.raw} B raw  ${size.gzip} B gzip  ${size.brotli} B brotli`);
  snippets[name] = {
    source: Buffer.from(code).toString('utf8'),
    etag: `"${createHash('sha256').update(code).digest('base64url').slice(0, 16)}"`,
  };
}

// The worker serves the snippet from a generated module, so a zone route needs
// no static-assets binding and each ETag is fixed at build time.
writeIfChanged(
  'proxy/generated/snippet.ts',
  `// Generated by build.mjs from snippet/. Do not edit.\n` +
    `/** Each file the worker serves under BASE_PATH, by name. */\n` +
    `export const SNIPPETS: Record<string, { source: string; etag: string }> = ${JSON.stringify(snippets, null, 2)};\n`,
);

// The operator console at BASE_PATH/admin/ (docs/operations.md, "Console").
const consoleSize = await buildConsole(writeIfChanged);
if (!QUIET) console.log(`console         ${consoleSize.raw} B raw  ${consoleSize.gzip} B gzip (index.html, console.js, console.css)`);

const sum = (values) => values.reduce((total, value) => total + value, 0);
// The page-view budget by its own measure; the lazy files' by Node's gzip, as printed above.
const pageView = gzipTool('dist/tap.js');
if (QUIET) {
  console.log(`snippet built: tap.js ${pageView} B by gzip -9 -c (budget ${PAGE_VIEW_BUDGET} B); the rest load where used (npm run build for every figure)`);
} else {
  console.log(`every page view: ${pageView} B by gzip -9 -c dist/tap.js (budget ${PAGE_VIEW_BUDGET} B)`);
  // A page may load tap.js and, at most, every lazy file.
  console.log(`worst page:      ${sum(Object.values(gzips))} B gzip (every file)`);
}
const measured = { ...gzips, 'tap.js': pageView };
const budgetOf = (name) => (name === 'tap.js' ? PAGE_VIEW_BUDGET : GZIP_BUDGET);
const over = Object.entries(measured).filter(([name, gzip]) => gzip > budgetOf(name));
for (const [name, gzip] of over) console.error(`${name} is ${gzip - budgetOf(name)} B over its ${budgetOf(name)} B budget`);
if (over.length) process.exit(1);
writeIfChanged(FINGERPRINT_FILE, inputs);
