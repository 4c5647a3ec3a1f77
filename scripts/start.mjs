// @ts-check
// `npm start`: the whole path on one machine, with no Cloudflare account and no key.
// Builds the snippet, starts the local Tapfiliate stand-in (printing each postback),
// and runs the demo worker (proxy + demo shop) with `wrangler dev` on local workerd.
// PORT (default 8787) is the shop's and worker's port, POSTBACK_PORT (default 8789)
// the stand-in's. Only lines that mean something are printed (see `quiet` below),
// each request once, and colour only on a terminal.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const WORKER_PORT = Number(process.env.PORT ?? 8787);
const POSTBACK_PORT = Number(process.env.POSTBACK_PORT ?? 8789);

// Colour only on a terminal: `npm start > log.txt` gets plain text.
const COLOUR = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const ANSI = /\x1b\[[0-9;]*m/g;
/** @param {string} code @param {string} text */
const paint = (code, text) => (COLOUR ? `\x1b[${code}m${text}\x1b[0m` : text);
/** @param {string} text */
const say = (text) => console.log(`${paint('1', '[start]')} ${text}`);

// 0. Both ports free, or one clear line instead of a server's EADDRINUSE stack trace.
for (const [port, variable] of /** @type {const} */ ([[WORKER_PORT, 'PORT'], [POSTBACK_PORT, 'POSTBACK_PORT']])) {
  const free = await new Promise((resolve) => {
    const probe = createServer()
      .once('error', () => resolve(false))
      .listen(port, () => probe.close(() => resolve(true)));
  });
  if (!free) {
    say(`port ${port} is in use (another npm start?): stop it, or choose another port, e.g. ${variable}=${port + 10} npm start`);
    process.exit(1);
  }
}

// 1. Build, once: wrangler.toml's [build] runs the same step again as wrangler starts and
// whenever snippet/ or common/ change, and in quiet mode build.mjs skips a build whose
// inputs have not changed. A build error or a snippet over its size budget stops here.
const BUILD_ENV = { ...process.env, TAPLINE_BUILD_QUIET: '1' };
const build = spawnSync(process.execPath, ['build.mjs'], { cwd: root, stdio: 'inherit', env: BUILD_ENV });
if (build.status !== 0) {
  say('the snippet did not build (an error, or over its size budget); fix it and run npm start again');
  process.exit(1);
}

// 2. Local secrets. `.dev.vars` is gitignored; the example holds the stand-in's dev key.
if (!existsSync(`${root}/.dev.vars`)) {
  copyFileSync(`${root}/.dev.vars.example`, `${root}/.dev.vars`);
  say('created .dev.vars from .dev.vars.example (dev key and secrets: the demo runs in signed trust)');
}
const apiKey = /^\s*TAPFILIATE_API_KEY\s*=\s*"?([^"\n]*)"?\s*$/m.exec(readFileSync(`${root}/.dev.vars`, 'utf8'))?.[1]?.trim();
if (!apiKey) say('.dev.vars has no TAPFILIATE_API_KEY: the proxy will answer 503 not_configured');
// The console's token: a .dev.vars made before the console existed gets the example's.
let adminToken = /^\s*TAPLINE_ADMIN_TOKEN\s*=\s*"?([^"\n]*)"?\s*$/m.exec(readFileSync(`${root}/.dev.vars`, 'utf8'))?.[1]?.trim();
if (!adminToken) {
  adminToken = 'dev-admin-token';
  appendFileSync(`${root}/.dev.vars`, `\n# The operator console (docs/operations.md, "Console").\nTAPLINE_ADMIN_TOKEN=${adminToken}\n`);
  say('added TAPLINE_ADMIN_TOKEN to .dev.vars for the console');
}

/** @type {import('node:child_process').ChildProcess[]} */
const children = [];
let stopping = false;

/** @param {number} code */
function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 1500).unref();
  Promise.all(children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : null))).then(() =>
    process.exit(code),
  );
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

/**
 * @param {string} name
 * @param {string[]} args
 * @param {(line: string) => void} onLine
 */
function run(name, args, onLine) {
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...BUILD_ENV, WRANGLER_SEND_METRICS: 'false', ...(COLOUR ? { FORCE_COLOR: process.env.FORCE_COLOR ?? '1' } : { NO_COLOR: '1', FORCE_COLOR: '0' }) },
  });
  children.push(child);
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => onLine(COLOUR ? line : line.replace(ANSI, '')));
  }
  child.on('exit', (code) => {
    if (stopping) return;
    say(`${name} stopped (exit ${code}); stopping everything`);
    stop(code || 1);
  });
  return child;
}

// 3. The Tapfiliate stand-in, printing each postback it receives.
const postbackUrl = `http://127.0.0.1:${POSTBACK_PORT}`;
await new Promise((resolve) => {
  run('the postback server', ['test/postback/server.mjs', '--port', String(POSTBACK_PORT), '--key', apiKey || 'dev-key', '--print'], (line) => {
    if (line.startsWith('postback server listening')) resolve(undefined);
    console.log(`${paint('35', '[tapfiliate]')} ${line}`);
  });
});

/**
 * Whether a line of `wrangler dev` says nothing a merchant trying the demo needs:
 * its banner, the bindings table, the build step's own lines (build.mjs prints one
 * line when it builds), the check of generated types (`npm run types` is for
 * those who change settings), and the `Request.cf` lookup that fails without
 * network, with its stack trace. Warnings and errors of the worker still print.
 */
function quiet(/** @type {string} */ raw) {
  const line = raw.replace(/\x1b\[[0-9;]*m/g, '');
  if (/^\s*at .+\(.*\)$|^\s*at [\w.<>]+ /.test(line)) return droppingTrace;
  droppingTrace = false;
  if (/Unable to fetch the `Request\.cf` object|ENOTFOUND workers\.cloudflare\.com/.test(line)) {
    droppingTrace = true;
    return true;
  }
  return (
    !line.trim() ||
    /^\s*(⛅️ wrangler|─{5,}|Binding\s+Resource|env\.\w+ \(|Your Worker has access|Using (secrets|vars) defined|⎔ Starting local server|❓ Your types might be out of date)/.test(line) ||
    /\[custom build\] (Running: |\s*$)/.test(line) ||
    /changed, restarting build/.test(line) ||
    /\[wrangler:info\] Ready on/.test(line) ||
    // wrangler's own line for each request: the proxy's routes print a JSON request line
    // instead (shown by `readable`), and the browser's favicon asks say nothing.
    /\[wrangler:info\] \w+ \/(_tap\/|favicon\.ico)/.test(line)
  );
}

/**
 * The worker's JSON log lines (proxy/log.ts) made readable, one line each:
 * `{"event":"request","route":"/event","method":"POST","status":200,"ms":9,…}`
 * becomes `POST /event 200 (9 ms) external_id=ORD-1 result=sent`. Other lines as they are.
 */
function readable(/** @type {string} */ line) {
  if (!line.startsWith('{"event":')) return line.replace(/^\[wrangler:info\] /, '');
  let fields;
  try {
    fields = JSON.parse(line);
  } catch {
    return line;
  }
  const rest = (/** @type {Record<string, unknown>} */ object) =>
    Object.entries(object)
      .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
  if (fields.event === 'request') {
    const { event, route, method, status, ms, ip, ...more } = fields;
    return `${method} ${route} ${status} (${ms} ms)${Object.keys(more).length ? ` ${rest(more)}` : ''}`;
  }
  const { event, level, ...more } = fields;
  return `${level && level !== 'info' ? `${level}: ` : ''}${event}${Object.keys(more).length ? ` ${rest(more)}` : ''}`;
}
let droppingTrace = false;

// 4. The demo worker on local workerd, its postback URLs pointed at the stand-in.
const wranglerBin = fileURLToPath(new URL('../node_modules/wrangler/bin/wrangler.js', import.meta.url));
run(
  'wrangler dev',
  [
    wranglerBin,
    'dev',
    'demo/worker.ts',
    '--port',
    String(WORKER_PORT),
    '--show-interactive-dev-session=false',
    '--var',
    `POSTBACK_CONVERSION_URL:${postbackUrl}/1.7/pb/con/c/`,
    '--var',
    `POSTBACK_CUSTOMER_URL:${postbackUrl}/1.7/pb/cus/c/`,
    '--var',
    `TAPFILIATE_CLICKS_URL:${postbackUrl}/1.6/clicks/`,
    '--var',
    `TAPFILIATE_REST_URL:${postbackUrl}/1.6/`,
  ],
  (line) => {
    if (/Ready on/.test(line)) {
      say(`Open ${paint('1', `http://localhost:${WORKER_PORT}/?ref=demo`)}, view the product, buy it.`);
      say(`The console: ${paint('1', `http://localhost:${WORKER_PORT}/_tap/admin/`)}, token ${paint('1', adminToken)} (or \`${WORKER_PORT === 8787 ? '' : `PORT=${WORKER_PORT} `}npm run events\` in another terminal).`);
      say('Each postback the local Tapfiliate stand-in receives is printed here. Ctrl-C stops both.');
    }
    if (!quiet(line)) console.log(`${paint('36', '[worker]')} ${readable(line.replace(/^\[custom build\] /, ''))}`);
  },
);
