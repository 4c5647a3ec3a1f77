// Real nginx, Apache and Caddy in front of the worker, each with the configuration
// docs/guides/own-server.md shows, taken from the markdown itself so the guide and
// the test cannot drift. Only the worker's address, the secret and the file of trusted
// certificate authorities are replaced, and the site around the block is the test's
// (its port, its pages). startTlsServer and testPki give the worker an https
// address, as Cloudflare does, with a certificate from a throwaway authority.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const GUIDE = 'docs/guides/own-server.md';
/** What the guide says to replace, exactly as it writes them. */
const WORKER_PLACEHOLDER = 'https://tapline-production.your-subdomain.workers.dev';
const SECRET_PLACEHOLDER = 'your-forwarder-secret';
/** The system's certificate authorities (Debian's bundle), which nginx's and Apache's blocks name; Caddy reads the system's own. */
const CA_FILE_PLACEHOLDER = '/etc/ssl/certs/ca-certificates.crt';

export type ServerKind = 'nginx' | 'apache' | 'caddy';

/** The guide's fenced block for one server, with the worker's address, the secret and the trusted authorities filled in. */
export function guideConfig(kind: ServerKind, workerUrl: string, secret: string, trustedCaFile: string): string {
  const blocks = [...readFileSync(GUIDE, 'utf8').matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].filter((match) => match[1] === kind);
  if (blocks.length !== 1) throw new Error(`${GUIDE}: expected one \`\`\`${kind} block, found ${blocks.length}`);
  const block = blocks[0][2];
  if (!block.includes(WORKER_PLACEHOLDER) || !block.includes(`"${SECRET_PLACEHOLDER}"`)) {
    throw new Error(`${GUIDE}: the ${kind} block no longer names ${WORKER_PLACEHOLDER} and "${SECRET_PLACEHOLDER}"; update web-servers.ts`);
  }
  if (kind !== 'caddy' && !block.includes(CA_FILE_PLACEHOLDER)) throw new Error(`${GUIDE}: the ${kind} block no longer names ${CA_FILE_PLACEHOLDER}; update web-servers.ts`);
  return block.replaceAll(WORKER_PLACEHOLDER, workerUrl).replaceAll(SECRET_PLACEHOLDER, secret).replaceAll(CA_FILE_PLACEHOLDER, trustedCaFile);
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
  /** The worker's origin: its http address, or an https one (startTlsServer) to try the certificate checks. */
  workerUrl: string;
  secret: string;
  /**
   * The certificate authorities the server trusts for an https worker, in place of the
   * system's (Caddy: as SSL_CERT_FILE). Unset, testPki()'s root.
   */
  trustedCaFile?: string;
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
export async function startNginx({ workerUrl, secret, trustedCaFile = testPki().rootCaFile, pages, shopperHeader = false, edit = (block) => block }: WebServerOptions): Promise<WebServer> {
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
${edit(guideConfig('nginx', workerUrl, secret, trustedCaFile))}
  }
}
`;
  writeFileSync(join(folder, 'nginx.conf'), config);
  return run('/usr/sbin/nginx', ['-p', folder, '-c', join(folder, 'nginx.conf'), '-e', join(folder, 'error.log')], port, folder);
}

/** Apache, the shop's `VirtualHost` around the guide's block, checked by `apache2ctl -t` first. */
export async function startApache({ workerUrl, secret, trustedCaFile = testPki().rootCaFile, pages }: WebServerOptions): Promise<WebServer> {
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
${guideConfig('apache', workerUrl, secret, trustedCaFile)}
</VirtualHost>
`;
  const file = join(folder, 'apache.conf');
  writeFileSync(file, config);
  const check = spawnSync('/usr/sbin/apache2ctl', ['-t', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`apache2ctl -t refused the guide's configuration:\n${check.stderr}`);
  return run('/usr/sbin/apache2', ['-f', file, '-DFOREGROUND'], port, folder);
}

/** Caddy, the guide's site block with the test's address in place of the shop's hosts. */
export async function startCaddy({ workerUrl, secret, trustedCaFile = testPki().rootCaFile, pages }: WebServerOptions): Promise<WebServer> {
  const port = await freePort();
  const { folder, root } = siteFolder(pages);
  const site = guideConfig('caddy', workerUrl, secret, trustedCaFile)
    .replace(/^shop\.example, www\.shop\.example \{$/m, `http://127.0.0.1:${port} {`)
    .replace(/^\t# … the rest of your site.*$/m, `\troot * ${root}\n\tfile_server`);
  if (!site.includes(`http://127.0.0.1:${port} {`) || !site.includes('file_server')) throw new Error(`${GUIDE}: the caddy block changed shape; update web-servers.ts`);
  const file = join(folder, 'Caddyfile');
  writeFileSync(file, `{\n\tadmin off\n\tauto_https off\n}\n\n${site}`);
  // Go reads the system's authorities from SSL_CERT_FILE and SSL_CERT_DIR (an empty folder: only the test's file).
  const certDir = join(folder, 'certs');
  mkdirSync(certDir);
  const env = { ...process.env, XDG_DATA_HOME: folder, XDG_CONFIG_HOME: folder, HOME: folder, SSL_CERT_FILE: trustedCaFile, SSL_CERT_DIR: certDir };
  const check = spawnSync('caddy', ['validate', '--config', file, '--adapter', 'caddyfile'], { encoding: 'utf8', env });
  if (check.status !== 0) throw new Error(`caddy validate refused the guide's configuration:\n${check.stderr}`);
  return run('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], port, folder, env);
}

export interface TestPki {
  /** The root the web servers are told to trust (PEM file). */
  rootCaFile: string;
  /** The worker's stand-in certificate for `localhost`: leaf and intermediate, issued under the root, as Cloudflare's are. */
  worker: { cert: string; key: string };
  /** An impostor's certificate for `localhost`, right name and dates, made by itself: no trusted authority signed it. */
  selfMade: { cert: string; key: string };
  /** A certificate the trusted authority issued, but for another name, as a public one would for an attacker's own domain. */
  otherName: { cert: string; key: string };
}

let pki: TestPki | undefined;

/**
 * A throwaway root, an intermediate and the certificates above, made once per test
 * process with openssl (Debian's apache2 recommends ssl-cert, which needs it) and
 * removed when the process exits.
 */
export function testPki(): TestPki {
  if (pki) return pki;
  const folder = mkdtempSync(join(tmpdir(), 'tapline-pki-'));
  process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
  const file = (name: string) => join(folder, name);
  writeFileSync(
    file('openssl.cnf'),
    `[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
[elsewhere]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:elsewhere.test
`,
  );
  const openssl = (...args: string[]) => {
    const result = spawnSync('openssl', args, { cwd: folder, encoding: 'utf8' });
    if (result.error || result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (Debian: apt-get install openssl):\n${result.error ?? result.stderr}`);
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-config', 'openssl.cnf'];
  const selfSigned = (name: string, subject: string, extensions: string) =>
    openssl('req', '-x509', ...key, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', subject, '-extensions', extensions);
  const issued = (name: string, subject: string, extensions: string, issuer: string) => {
    openssl('req', '-new', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-set_serial', `0x${Date.now().toString(16)}${name.length}`, '-days', '2', '-extfile', 'openssl.cnf', '-extensions', extensions, '-out', `${name}.pem`);
  };
  selfSigned('root', '/CN=Tapline test root', 'root');
  issued('intermediate', '/CN=Tapline test intermediate', 'intermediate', 'root');
  issued('worker', '/CN=localhost', 'leaf', 'intermediate');
  selfSigned('self-made', '/CN=localhost', 'leaf');
  issued('other-name', '/CN=elsewhere.test', 'elsewhere', 'intermediate');
  const read = (name: string) => readFileSync(file(name), 'utf8');
  pki = {
    rootCaFile: file('root.pem'),
    worker: { cert: read('worker.pem') + read('intermediate.pem'), key: read('worker.key') },
    selfMade: { cert: read('self-made.pem'), key: read('self-made.key') },
    otherName: { cert: read('other-name.pem') + read('intermediate.pem'), key: read('other-name.key') },
  };
  return pki;
}

export interface TlsServer {
  /** `https://localhost:<port>`: a name, as the worker's is, for the handshake's SNI and the certificate's check. */
  url: string;
  /** TCP connections opened to it, whether or not the handshake went through. */
  connections(): number;
  /** Every request that got through the handshake: the name sent in it (SNI) and the headers. */
  requests: { servername: string | null; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/**
 * An https address for the worker (`forwardTo`, its http origin), as Cloudflare gives it,
 * or, without `forwardTo`, an impostor that answers 200 to whatever reaches it.
 * It listens on 127.0.0.1 and, where the machine has it, on ::1, since `localhost` may be either.
 */
export async function startTlsServer({ cert, key, forwardTo }: { cert: string; key: string; forwardTo?: string }): Promise<TlsServer> {
  const requests: TlsServer['requests'] = [];
  let connections = 0;
  const servers: HttpsServer[] = [];
  const listen = (port: number, host: string) =>
    new Promise<number>((resolveListen, reject) => {
      const server = createHttpsServer({ cert, key }, (request, response) => {
        requests.push({ servername: (request.socket as TLSSocket).servername || null, headers: request.headers });
        if (!forwardTo) return void response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"configured":true,"forwarder":true}');
        const upstream = httpRequest(new URL(request.url ?? '/', forwardTo), { method: request.method, headers: { ...request.headers, host: new URL(forwardTo).host } }, (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
          answer.pipe(response);
        });
        upstream.on('error', () => response.writeHead(502).end());
        request.pipe(upstream);
      });
      server.on('connection', () => connections++);
      server.on('tlsClientError', () => {});
      server.once('error', reject).listen(port, host, () => {
        servers.push(server);
        resolveListen((server.address() as { port: number }).port);
      });
    });
  const port = await listen(0, '127.0.0.1');
  await listen(port, '::1').catch(() => {});
  return {
    url: `https://localhost:${port}`,
    connections: () => connections,
    requests,
    // Caddy keeps its connections to an upstream open: close them rather than wait.
    close: () => Promise.all(servers.map((server) => new Promise((resolveClose) => server.close(resolveClose).closeAllConnections()))).then(() => {}),
  };
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
