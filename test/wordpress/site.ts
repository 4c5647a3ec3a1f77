// A real WordPress for the plugin's tests: Debian's WordPress 6.1 (/usr/share/wordpress),
// PHP and a private MariaDB in a temporary folder, installed once per run. Nothing here
// touches the machine's own MariaDB service or /etc/wordpress.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

export const WORDPRESS = '/usr/share/wordpress';
const STANDIN = resolve('test/wordpress/woocommerce-standin');

/** What the suite needs on the machine; the first missing one, or null. */
export function missingTool(): string | null {
  for (const tool of ['php', 'phpunit', 'mariadbd', 'mariadb-install-db', 'mariadb', 'zip', 'unzip']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return tool;
  }
  if (!existsSync(`${WORDPRESS}/wp-settings.php`)) return `wordpress (${WORDPRESS})`;
  if (spawnSync('php', ['-r', 'exit(extension_loaded("mysqli") && extension_loaded("curl") ? 0 : 1);']).status !== 0) return 'php-mysql or php-curl';
  return null;
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer().once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

async function waitUntil(what: string, ready: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Site {
  root: string;
  url: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * A WordPress root of hard links to Debian's files (Debian's own wp-config.php reads
 * /etc/wordpress, so this root has its own), the plugin's zip unpacked and the WooCommerce
 * stand-in linked into its plugins folder, a private MariaDB, WordPress installed, and `php -S`
 * serving it for the requests that must be real HTTP (the settings page, proxy mode).
 */
export async function startSite(): Promise<Site> {
  const dir = mkdtempSync(join(tmpdir(), 'tapline-wp-'));
  const children: ChildProcess[] = [];
  const close = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // 1. MariaDB, private: its own data folder and socket, no TCP.
    const data = join(dir, 'mysql');
    const socket = join(dir, 'mysql.sock');
    mkdirSync(data);
    const user = process.getuid?.() === 0 ? ['--user=root'] : [];
    const init = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...user], { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`mariadb-install-db failed:\n${init.stdout}${init.stderr}`);
    const mariadb = spawn('mariadbd', ['--no-defaults', `--datadir=${data}`, `--socket=${socket}`, '--skip-networking', '--innodb-buffer-pool-size=16M', `--log-error=${join(dir, 'mysql.err')}`, `--pid-file=${join(dir, 'mysql.pid')}`, ...user], { stdio: 'ignore' });
    children.push(mariadb);
    await waitUntil('MariaDB', () => spawnSync('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '-e', 'CREATE DATABASE IF NOT EXISTS wordpress']).status === 0);

    // 2. The WordPress root.
    const root = join(dir, 'wordpress');
    // Hard links when /tmp shares the disk (instant), a copy otherwise.
    if (spawnSync('cp', ['-al', WORDPRESS, root]).status !== 0) {
      rmSync(root, { recursive: true, force: true });
      cpSync(WORDPRESS, root, { recursive: true, verbatimSymlinks: true });
    }
    unlinkSync(join(root, 'wp-config.php'));
    rmSync(join(root, 'wp-content'), { recursive: true });
    mkdirSync(join(root, 'wp-content/plugins'), { recursive: true });
    symlinkSync(`${WORDPRESS}/wp-content/themes`, join(root, 'wp-content/themes'));
    // The plugin as merchants install it: `npm run plugin`'s zip, unpacked into the plugins folder.
    const zip = spawnSync(process.execPath, ['scripts/plugin-zip.mjs'], { encoding: 'utf8' });
    if (zip.status !== 0) throw new Error(`npm run plugin failed:\n${zip.stdout}${zip.stderr}`);
    const unzip = spawnSync('unzip', ['-q', 'dist/tapline-wordpress.zip', '-d', join(root, 'wp-content/plugins')], { encoding: 'utf8' });
    if (unzip.status !== 0) throw new Error(`unzip failed:\n${unzip.stderr}`);
    symlinkSync(STANDIN, join(root, 'wp-content/plugins/woocommerce'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const salt = randomBytes(24).toString('hex');
    writeFileSync(
      join(root, 'wp-config.php'),
      `<?php
global $table_prefix;
define('DB_NAME', 'wordpress');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', 'localhost:${socket}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
foreach (['AUTH_KEY','SECURE_AUTH_KEY','LOGGED_IN_KEY','NONCE_KEY','AUTH_SALT','SECURE_AUTH_SALT','LOGGED_IN_SALT','NONCE_SALT'] as $name) define($name, '${salt}' . $name);
$table_prefix = 'wp_';
define('WP_CONTENT_DIR', __DIR__ . '/wp-content');
define('WP_DEBUG', true);
define('WP_DEBUG_DISPLAY', false);
define('WP_DEBUG_LOG', '${join(dir, 'debug.log')}');
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');
require_once ABSPATH . 'wp-settings.php';
`,
    );
    writeFileSync(
      join(root, 'router.php'),
      `<?php
// php -S: PHP files run as they would under a web server, everything else goes to index.php.
$path = (string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if (str_ends_with($path, '/') && is_file(__DIR__ . $path . 'index.php')) $path .= 'index.php';
$file = __DIR__ . $path;
if ($path !== '/' && is_file($file) && !str_ends_with($path, '.php')) return false;
if (!str_ends_with($path, '.php') || !is_file($file)) { $path = '/index.php'; $file = __DIR__ . '/index.php'; }
$_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = $path;
$_SERVER['SCRIPT_FILENAME'] = $file;
chdir(dirname($file));
require $file;
`,
    );
    const install = spawnSync('php', [resolve('test/wordpress/install.php'), root, url], { encoding: 'utf8' });
    if (install.status !== 0 || !install.stdout.includes('installed')) throw new Error(`WordPress install failed:\n${install.stdout}${install.stderr}`);

    // 3. php -S, with workers, since the Check button in proxy mode asks this same site.
    const php = spawn('php', ['-S', `127.0.0.1:${port}`, '-t', root, join(root, 'router.php')], {
      stdio: 'ignore',
      env: { ...process.env, PHP_CLI_SERVER_WORKERS: '4' },
    });
    children.push(php);
    await waitUntil('php -S', async () => fetch(`${url}/wp-login.php`).then((r) => r.status === 200, () => false));
    return { root, url, env: { TAPLINE_WP_ROOT: root, TAPLINE_WP_SITE: url, TAPLINE_WP_DEBUG_LOG: join(dir, 'debug.log') }, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface Front {
  url: string;
  close(): Promise<void>;
}

/**
 * A small HTTP server between WordPress and the worker: it records the headers of each
 * request (what proxy mode sends), answers the next requests with injected answers when
 * told (`POST /__front/next` with [{status, body}]: a worker that fails, or says something
 * hostile), and passes everything else to the worker. `GET /__front/seen` lists what it saw.
 */
export async function startFront(worker: (url: string, init: RequestInit) => Promise<Response>): Promise<Front> {
  let next: { status: number; body: unknown }[] = [];
  let seen: { method: string; path: string; headers: Record<string, string | string[] | undefined> }[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<Buffer>((done) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => done(Buffer.concat(chunks)));
    });
  const server = createHttpServer(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await read(req);
    const path = req.url ?? '/';
    const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (path === '/__front/next') {
      next.push(...JSON.parse(body.toString() || '[]'));
      return json(200, { ok: true });
    }
    if (path === '/__front/seen') return json(200, seen);
    if (path === '/__front/reset') {
      next = [];
      seen = [];
      return json(200, { ok: true });
    }
    seen.push({ method: req.method ?? 'GET', path, headers: req.headers });
    const injected = next.shift();
    if (injected) return json(injected.status, injected.body);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'expect'].includes(name)) headers.set(name, value);
    }
    let answer: Response;
    try {
      answer = await worker(`http://127.0.0.1${path}`, { method: req.method, headers, body: body.length ? new Uint8Array(body) : undefined });
    } catch (error) {
      return json(599, { ok: false, error: 'front_could_not_reach_the_worker', message: String(error) });
    }
    const out: Record<string, string | string[]> = {};
    answer.headers.forEach((value, name) => (out[name] = value));
    const cookies = answer.headers.getSetCookie();
    if (cookies.length) out['set-cookie'] = cookies;
    res.writeHead(answer.status, out).end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(() => done())) };
}

/** The debug log WordPress wrote, for a failure's message. */
export function debugLog(site: Site): string {
  const file = site.env.TAPLINE_WP_DEBUG_LOG;
  return existsSync(file) ? readFileSync(file, 'utf8').slice(-4000) : '';
}
