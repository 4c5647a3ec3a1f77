// Real nginx, Apache and Caddy in front of the worker, each with the configuration
// docs/guides/own-server.md shows, taken from the markdown itself so the guide and
// the test cannot drift. Only the worker's address and the secret are replaced,
// and the site around the block is the test's (its port, its pages).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const GUIDE = 'docs/guides/own-server.md';
/** What the guide says to replace, exactly as it writes them. */
const WORKER_PLACEHOLDER = 'https://tapline-production.your-subdomain.workers.dev';
const SECRET_PLACEHOLDER = 'your-forwarder-secret';

export type ServerKind = 'nginx' | 'apache' | 'caddy';

/** The guide's fenced block for one server, with the worker's address and the secret filled in. */
export function guideConfig(kind: ServerKind, workerUrl: string, secret: string): string {
  const blocks = [...readFileSync(GUIDE, 'utf8').matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].filter((match) => match[1] === kind);
  if (blocks.length !== 1) throw new Error(`${GUIDE}: expected one \`\`\`${kind} block, found ${blocks.length}`);
  const block = blocks[0][2];
  if (!block.includes(WORKER_PLACEHOLDER) || !block.includes(`"${SECRET_PLACEHOLDER}"`)) {
    throw new Error(`${GUIDE}: the ${kind} block no longer names ${WORKER_PLACEHOLDER} and "${SECRET_PLACEHOLDER}"; update web-servers.ts`);
  }
  return block.replaceAll(WORKER_PLACEHOLDER, workerUrl).replaceAll(SECRET_PLACEHOLDER, secret);
}

/** Which of the three servers this machine has (CI installs them: .ci/run). */
export const installed: Record<ServerKind, boolean> = {
  nginx: existsSync('/usr/sbin/nginx'),
  apache: existsSync('/usr/sbin/apache2'),
  caddy: spawnSync('caddy', ['version']).status === 0,
};

export interface WebServer {
  port: number;
  /** `http://<host>:<port><path>`. */
  url(host?: string, path?: string): string;
  close(): Promise<void>;
}

export interface WebServerOptions {
  workerUrl: string;
  secret: string;
  /** Files served at the site's root, by path, e.g. { 'index.html': '<!doctype html>…' }. */
  pages: Record<string, string>;
  /**
   * nginx only: trust X-Test-Shopper from 127.0.0.1 as the client's address (the guide's
   * "behind a load balancer" setup), so that Chromium, always 127.0.0.1, can be two shoppers.
   */
  shopperHeader?: boolean;
  /** nginx only: a change to the guide's block, to play a merchant's mistake. */
  edit?: (block: string) => string;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolvePort(port));
      });
  });
}

/** A folder the server's unprivileged workers can read: nginx and Apache switch to another user when started as root. */
function siteFolder(pages: Record<string, string>): { folder: string; root: string } {
  const folder = mkdtempSync(join(tmpdir(), 'tapline-web-'));
  const root = join(folder, 'www');
  mkdirSync(root);
  for (const [path, html] of Object.entries(pages)) writeFileSync(join(root, path), html);
  chmodSync(folder, 0o755);
  chmodSync(root, 0o755);
  return { folder, root };
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the web server exited (${child.exitCode}):\n${output()}`);
    const answered = await fetch(`http://127.0.0.1:${port}/__tapline_ready`).then(() => true, () => false);
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`the web server did not listen on ${port}:\n${output()}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
}

async function run(command: string, args: string[], port: number, folder: string, env: NodeJS.ProcessEnv = process.env): Promise<WebServer> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const close = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => output);
  } catch (error) {
    await close();
    throw error;
  }
  return { port, url: (host = '127.0.0.1', path = '/') => `http://${host}:${port}${path}`, close };
}

/** nginx, the shop's `server` block around the guide's `location`. */
export async function startNginx({ workerUrl, secret, pages, shopperHeader = false, edit = (block) => block }: WebServerOptions): Promise<WebServer> {
  const port = await freePort();
  const { folder, root } = siteFolder(pages);
  const temp = (name: string) => `${name}_temp_path ${join(folder, name)};`;
  const config = `daemon off;
worker_processes 1;
pid ${join(folder, 'nginx.pid')};
error_log ${join(folder, 'error.log')} warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 128; }
http {
  access_log off;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  types { text/html html; }
  server {
    listen 127.0.0.1:${port};
    server_name www.shop.test 127.0.0.1;
    root ${root};
    ${shopperHeader ? 'set_real_ip_from 127.0.0.1;\n    real_ip_header X-Test-Shopper;' : ''}
${edit(guideConfig('nginx', workerUrl, secret))}
  }
}
`;
  writeFileSync(join(folder, 'nginx.conf'), config);
  return run('/usr/sbin/nginx', ['-p', folder, '-c', join(folder, 'nginx.conf'), '-e', join(folder, 'error.log')], port, folder);
}

/** Apache, the shop's `VirtualHost` around the guide's block, checked by `apache2ctl -t` first. */
export async function startApache({ workerUrl, secret, pages }: WebServerOptions): Promise<WebServer> {
  const port = await freePort();
  const { folder, root } = siteFolder(pages);
  const modules = ['mpm_event', 'authz_core', 'mime', 'dir', 'proxy', 'proxy_http', 'ssl', 'headers'];
  const config = `ServerRoot ${folder}
ServerName 127.0.0.1
${modules.map((name) => `LoadModule ${name}_module /usr/lib/apache2/modules/mod_${name}.so`).join('\n')}
${process.getuid?.() === 0 ? 'User nobody\nGroup nogroup' : ''}
Listen 127.0.0.1:${port}
PidFile ${join(folder, 'apache.pid')}
ErrorLog ${join(folder, 'error.log')}
Mutex file:${folder}
TypesConfig /etc/mime.types
<VirtualHost 127.0.0.1:${port}>
ServerName 127.0.0.1
DocumentRoot ${root}
DirectoryIndex index.html
<Directory ${root}>
Require all granted
</Directory>
${guideConfig('apache', workerUrl, secret)}
</VirtualHost>
`;
  const file = join(folder, 'apache.conf');
  writeFileSync(file, config);
  const check = spawnSync('/usr/sbin/apache2ctl', ['-t', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`apache2ctl -t refused the guide's configuration:\n${check.stderr}`);
  return run('/usr/sbin/apache2', ['-f', file, '-DFOREGROUND'], port, folder);
}

/** Caddy, the guide's site block with the test's address in place of the shop's hosts. */
export async function startCaddy({ workerUrl, secret, pages }: WebServerOptions): Promise<WebServer> {
  const port = await freePort();
  const { folder, root } = siteFolder(pages);
  const site = guideConfig('caddy', workerUrl, secret)
    .replace(/^shop\.example, www\.shop\.example \{$/m, `http://127.0.0.1:${port} {`)
    .replace(/^\t# … the rest of your site.*$/m, `\troot * ${root}\n\tfile_server`);
  if (!site.includes(`http://127.0.0.1:${port} {`) || !site.includes('file_server')) throw new Error(`${GUIDE}: the caddy block changed shape; update web-servers.ts`);
  const file = join(folder, 'Caddyfile');
  writeFileSync(file, `{\n\tadmin off\n\tauto_https off\n}\n\n${site}`);
  const env = { ...process.env, XDG_DATA_HOME: folder, XDG_CONFIG_HOME: folder, HOME: folder };
  const check = spawnSync('caddy', ['validate', '--config', file, '--adapter', 'caddyfile'], { encoding: 'utf8', env });
  if (check.status !== 0) throw new Error(`caddy validate refused the guide's configuration:\n${check.stderr}`);
  return run('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], port, folder, env);
}

/** `npm run verify` as a merchant runs it: its exit code and its lines. */
export function runVerify(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [resolve('scripts/verify.mjs'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', TAPLINE_ADMIN_TOKEN: '', TAPLINE_SIGNING_SECRET: '', ...env },
    });
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    child.on('exit', (code) => resolveRun({ code, output }));
  });
}
