// The WordPress plugin (integrations/wordpress/) in real WordPress 6.1, PHP and MariaDB, end to
// end against the worker in workerd and the local Tapfiliate stand-in. WooCommerce itself cannot
// be installed here: its API comes from test/wordpress/woocommerce-standin/ (see its header).
// The PHPUnit suite (test/wordpress/tests/) drives the plugin's hooks; this file starts what it
// talks to, runs it, and prints its outcome.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { unstable_startWorker } from 'wrangler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eConfig } from '../e2e/harness';
import { startPostbackServer } from '../postback/server.mjs';
import { debugLog, missingTool, startFront, startSite, type Front, type Site } from './site';

const API_KEY = 'wp-suite-key';
const SERVER_TOKEN = 'wp-suite-server-token-7f3a';
const FORWARDER_SECRET = 'wp-suite-forwarder-secret-19c2';

const missing = missingTool();
if (missing && process.env.CI) throw new Error(`the WordPress suite needs ${missing}: bash .ci/run installs it`);
if (missing) console.warn(`\nSKIPPED: WordPress suite, no ${missing}. Install: apt-get install -y php-cli php-mysql php-curl php-xml php-mbstring phpunit wordpress mariadb-server zip unzip\n`);

/** Every PHP file of the plugin and of its tests. */
function phpFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? phpFiles(path) : name.endsWith('.php') ? [path] : [];
  });
}

/** Runs a command to its end without blocking this process's servers. */
function runPhp(command: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(command[0], command.slice(1), { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

describe.skipIf(missing)('WordPress plugin', () => {
  let postbacks: Awaited<ReturnType<typeof startPostbackServer>>;
  let worker: Awaited<ReturnType<typeof unstable_startWorker>>;
  let front: Front;
  let site: Site;
  let configPath: string;

  beforeAll(async () => {
    // The worker serves the built snippet: `npm test` builds it first; a lone run of this project may not have.
    if (!existsSync('proxy/generated/snippet.ts') && spawnSync(process.execPath, ['build.mjs']).status !== 0) throw new Error('node build.mjs failed');
    postbacks = await startPostbackServer({ apiKey: API_KEY });
    configPath = e2eConfig();
    worker = await unstable_startWorker({
      config: configPath,
      envFiles: ['empty.env'],
      bindings: {
        TAPFILIATE_API_KEY: { type: 'secret_text', value: API_KEY },
        TAPLINE_SERVER_TOKEN: { type: 'secret_text', value: SERVER_TOKEN },
        TAPLINE_FORWARDER_SECRET: { type: 'secret_text', value: FORWARDER_SECRET },
        ...Object.fromEntries(
          ['TAPLINE_SIGNING_SECRET', 'STRIPE_WEBHOOK_SECRET', 'SHOPIFY_WEBHOOK_SECRET', 'PADDLE_WEBHOOK_SECRET', 'PADDLE_SANDBOX_WEBHOOK_SECRET', 'LEMONSQUEEZY_WEBHOOK_SECRET'].map((name) => [
            name,
            { type: 'secret_text' as const, value: '' },
          ]),
        ),
        POSTBACK_CONVERSION_URL: { type: 'plain_text', value: postbacks.conversionUrl },
        POSTBACK_CUSTOMER_URL: { type: 'plain_text', value: postbacks.customerUrl },
        TAPFILIATE_CLICKS_URL: { type: 'plain_text', value: postbacks.clicksUrl },
        TAPFILIATE_REST_URL: { type: 'plain_text', value: postbacks.restUrl },
      },
      dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, watch: false, persist: false, logLevel: 'error' },
    });
    await worker.ready;
    front = await startFront((url, init) => worker.fetch(url, init as never) as never);
    site = await startSite();
  });

  afterAll(async () => {
    await site?.close();
    await front?.close();
    await worker?.dispose();
    await postbacks?.close();
    // Wrangler's bundler still watches its folder for a moment after dispose(): removed when this process exits.
    if (configPath) process.once('exit', () => rmSync(dirname(configPath), { recursive: true, force: true }));
  });

  it('every PHP file passes php -l', () => {
    const files = [...phpFiles('integrations/wordpress'), ...phpFiles('test/wordpress')];
    expect(files.length).toBeGreaterThan(15);
    const failed = files.filter((file) => spawnSync('php', ['-l', file], { encoding: 'utf8' }).status !== 0);
    expect(failed).toEqual([]);
  });

  it('passes the PHPUnit suite: orders, refunds, renewals, retries, settings, proxy mode', async () => {
    // Asynchronous: the front and the stand-in answer PHP from this very process.
    const run = await runPhp(['phpunit', '--configuration', 'test/wordpress/phpunit.xml', '--testdox', '--colors=never', '--do-not-cache-result'], {
      ...site.env,
      TAPLINE_TEST_FRONT: front.url,
      TAPLINE_TEST_STANDIN: postbacks.url,
      TAPLINE_TEST_TOKEN: SERVER_TOKEN,
      TAPLINE_TEST_FORWARDER_SECRET: FORWARDER_SECRET,
    });
    // PHPUnit's own report is the test's output: one line per PHP test.
    const report = `${run.stdout}${run.stderr}`
      .split('\n')
      .filter((line) => !/^PHPUnit \d|^Runtime:|^Configuration:|^Time: |^$/.test(line))
      .join('\n');
    console.log(`PHPUnit (test/wordpress/tests/):\n${report}`);
    if (run.status !== 0) console.log(`WordPress debug.log:\n${debugLog(site)}`);
    expect(run.status).toBe(0);
  });
});
