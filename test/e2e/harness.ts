import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { unstable_startWorker } from 'wrangler';
import { startPostbackServer } from '../postback/server.mjs';
import type { TapResult } from '../../common/contract';
import { CHROMIUM, chromiumMissing } from './chromium';
import { startMerchantOrigin, type MerchantOrigin } from './merchant';

export const API_KEY = 'e2e-secret-key-5f1c';
/** True when no browser is installed: the suites skip, and global-setup.ts says so (or fails on CI). */
export { chromiumMissing };

// Flags the workplace needs: no sandbox as root, and no background calls to Google's hosts.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP *.shop.test 127.0.0.1, MAP *.elsewhere.test 127.0.0.1, MAP *.co.uk 127.0.0.1',
];

export interface StackOptions {
  /** Another worker entry than wrangler.toml's `main`, with the same bindings. */
  entrypoint?: string;
  /** TAPLINE_SIGNING_SECRET: set, the worker is in "signed" trust; unset (the default), in "open" trust. */
  signingSecret?: string;
  /** TAPLINE_SERVER_TOKEN: unset, server events are refused. */
  serverToken?: string;
  /** STRIPE_WEBHOOK_SECRET: unset, the Stripe webhook answers 503. */
  stripeSecret?: string;
  /** SHOPIFY_WEBHOOK_SECRET: unset, the Shopify webhook answers 503. */
  shopifySecret?: string;
  /** PADDLE_WEBHOOK_SECRET: unset, the Paddle webhook answers 503. */
  paddleSecret?: string;
  /** LEMONSQUEEZY_WEBHOOK_SECRET: unset, the Lemon Squeezy webhook answers 503. */
  lemonSqueezySecret?: string;
  /** Every path goes to the worker, not only BASE_PATH: for the demo worker, whose origin is the demo shop. */
  forwardAll?: boolean;
  /** TAPLINE_FORWARDER_SECRET: set, the worker follows a forwarder that presents it (docs/guides/own-server.md). */
  forwarderSecret?: string;
  /** TAPFILIATE_API_KEY: the stand-in's key unless given; blank, the worker is not configured. */
  apiKey?: string;
  /** TAPLINE_ADMIN_TOKEN: unset, the operator API answers 503. */
  adminToken?: string;
  /** Browser events per client network per minute; by default raised out of the way (see e2eConfig). */
  rateLimit?: number;
}

export type PostbackServer = Awaited<ReturnType<typeof startPostbackServer>>;

export interface Stack {
  postbacks: PostbackServer;
  merchant: MerchantOrigin;
  browser: Browser;
  /** The worker's own address (`http://127.0.0.1:<port>`), as a web server in front of it forwards to it. */
  workerUrl: string;
  /**
   * A request from Node (the merchant's backend, a payment platform) through the
   * merchant origin to the worker, as a zone route would take it: no Origin, no cookie.
   */
  post(path: string, body: string, headers?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }>;
  /** A fresh browser profile: no cookies, no localStorage. */
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

/**
 * The whole path a merchant runs: Chromium → merchant origin (CMS pages, and
 * /_tap/* handed to the worker as a zone route would) → worker in workerd →
 * local postback server.
 */
// Wrangler logs each local queue batch at info level; failures still print.
process.env.WRANGLER_LOG ??= 'error';

/**
 * wrangler.toml, copied into a fresh temporary folder with `main` made absolute
 * and without its [build] command (global-setup.ts builds the snippet once per
 * run). Wrangler looks for .dev.vars and .env files beside the config, so a
 * developer's local secrets (`npm start` writes a .dev.vars that puts the worker
 * in signed trust) cannot reach the suite either. Every browser in the suite is
 * 127.0.0.1, so the per-IP rate limit is raised: a file sends far more than 60
 * events and clicks a minute, and a refused click made tests flaky. The limit
 * itself is tested in workerd (test/attack/rate-limit.test.ts).
 */
export function e2eConfig(rateLimit = 1_000_000): string {
  const source = readFileSync('wrangler.toml', 'utf8');
  const config = source
    .replace(/^\[build\]\n(?:(?!\[).*\n)*/m, '')
    .replace(/^main = "(.+)"$/m, (_, main: string) => `main = ${JSON.stringify(resolve(main))}`)
    .replace(/^simple = \{ limit = 60, period = 60 \}$/m, `simple = { limit = ${rateLimit}, period = 60 }`);
  if (/^\[build\]/m.test(config) || !config.includes(`main = "${resolve('.')}`) || !config.includes(`limit = ${rateLimit},`)) {
    throw new Error('harness.ts: wrangler.toml changed shape; update e2eConfig()');
  }
  const folder = mkdtempSync(join(tmpdir(), 'tapline-e2e-'));
  writeFileSync(join(folder, 'wrangler.toml'), config);
  writeFileSync(join(folder, 'empty.env'), '');
  return join(folder, 'wrangler.toml');
}

export async function startStack(vars: Record<string, string> = {}, options: StackOptions = {}): Promise<Stack> {
  const postbacks = await startPostbackServer({ apiKey: API_KEY });
  // Every secret is given here, blank when unset (the worker reads blank as unset), so
  // nothing a developer has locally (.dev.vars from `npm start` puts the worker in
  // signed trust) changes what the suite runs against.
  const secrets = {
    TAPFILIATE_API_KEY: options.apiKey ?? API_KEY,
    TAPLINE_SIGNING_SECRET: options.signingSecret ?? '',
    TAPLINE_SERVER_TOKEN: options.serverToken ?? '',
    STRIPE_WEBHOOK_SECRET: options.stripeSecret ?? '',
    SHOPIFY_WEBHOOK_SECRET: options.shopifySecret ?? '',
    PADDLE_WEBHOOK_SECRET: options.paddleSecret ?? '',
    PADDLE_SANDBOX_WEBHOOK_SECRET: '',
    LEMONSQUEEZY_WEBHOOK_SECRET: options.lemonSqueezySecret ?? '',
    TAPLINE_FORWARDER_SECRET: options.forwarderSecret ?? '',
    TAPLINE_ADMIN_TOKEN: options.adminToken ?? '',
  };
  const configPath = e2eConfig(options.rateLimit);
  const worker = await unstable_startWorker({
    config: configPath,
    // Only this empty file: no .dev.vars or .env is read.
    envFiles: ['empty.env'],
    ...(options.entrypoint && { entrypoint: resolve(options.entrypoint) }),
    bindings: {
      ...Object.fromEntries(Object.entries(secrets).map(([name, value]) => [name, { type: 'secret_text' as const, value }])),
      POSTBACK_CONVERSION_URL: { type: 'plain_text', value: postbacks.conversionUrl },
      POSTBACK_CUSTOMER_URL: { type: 'plain_text', value: postbacks.customerUrl },
      // Unset, the worker would create clicks at Tapfiliate itself.
      TAPFILIATE_CLICKS_URL: { type: 'plain_text', value: postbacks.clicksUrl },
      // Unset, refunds would reach Tapfiliate's REST API.
      TAPFILIATE_REST_URL: { type: 'plain_text', value: postbacks.restUrl },
      ...Object.fromEntries(
        Object.entries(vars).map(([name, value]) => [name, { type: 'plain_text' as const, value }]),
      ),
    },
    dev: {
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      watch: false,
      // Each run starts with an empty ledger, so a rerun's ids are never duplicates of the last one's.
      persist: false,
      logLevel: 'error',
    },
  });
  await worker.ready;
  const workerUrl = (await worker.url).origin;
  const basePath = options.forwardAll ? '/' : `${(vars.BASE_PATH ?? '/_tap').replace(/\/+$/, '')}/`;
  const merchant = await startMerchantOrigin((url, init) => worker.fetch(url, init as never) as never, basePath);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  return {
    postbacks,
    merchant,
    browser,
    workerUrl,
    newContext: () => browser.newContext(),
    async post(path, body, headers = {}) {
      const response = await fetch(`http://127.0.0.1:${merchant.port}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    },
    async close() {
      await browser.close();
      await merchant.close();
      await worker.dispose();
      await postbacks.close();
      rmSync(dirname(configPath), { recursive: true, force: true });
    },
  };
}

export interface InlineScript {
  code: string;
  /** For a page whose Content-Security-Policy allows inline scripts by nonce. */
  nonce?: string;
}

export interface ShopPage {
  /** Script tag attributes, e.g. { 'data-attribution': 'first' }. */
  tag?: Record<string, string>;
  /** The tag's src; BASE_PATH + /tap.js. */
  src?: string;
  /** Inline scripts placed before the tag (the stub and early calls), each in its own element. */
  before?: string | InlineScript[];
  body?: string;
}

export const STUB = 'window.tap=window.tap||function(){(tap.q=tap.q||[]).push(arguments)}';

/** A page as a CMS theme would render it, with the one script tag pasted into its head. */
export function shopPage({ tag = {}, src = '/_tap/tap.js', before = [], body = '<h1>Shop</h1>' }: ShopPage = {}): string {
  const attributes = Object.entries(tag)
    .map(([name, value]) => ` ${name}="${value}"`)
    .join('');
  const inline = (typeof before === 'string' ? [{ code: before }] : before)
    .map(({ code, nonce }) => `<script${nonce ? ` nonce="${nonce}"` : ''}>${code}</script>\n`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
${inline}<script async src="${src}"${attributes}></script>
</head><body>${body}</body></html>`;
}

/** A thank-you page: the stub, then the conversion call, before the script tag, as the README shows. */
export function thankYouPage(conversion: Record<string, unknown>, tag: Record<string, string> = {}): string {
  return shopPage({ tag, before: [{ code: STUB }, { code: `tap('convert', ${JSON.stringify(conversion)})` }], body: '<h1>Thank you</h1>' });
}

/** `window` of a page where the snippet has loaded, for page.evaluate callbacks. */
export type TapWindow = Window & {
  tap: ((command: string, arg?: unknown) => unknown) & {
    convert(conversion: Record<string, unknown>): Promise<TapResult>;
    customer(customer: Record<string, unknown>): Promise<TapResult>;
    consent(granted: boolean): void;
    data(): Record<string, string | number> | null;
    q?: unknown[];
  };
};

/** Opens `url` and waits until the snippet has booted and the page's requests have settled. */
export async function visit(page: Page, url: string, timeoutMs = 10_000): Promise<void> {
  await page.goto(url);
  await page
    .waitForFunction(() => typeof (window as unknown as TapWindow).tap?.data === 'function', undefined, { timeout: timeoutMs })
    .catch(() => {
      throw new Error(`the snippet did not boot on ${url}: tap.js not loaded, or window.tap has no data()`);
    });
  await page.waitForLoadState('networkidle');
}

const run = Date.now().toString(36);
let sequence = 0;
/** An id no earlier test or run has used, e.g. `ORD-lx2k9a-3`: the worker's ledger outlives a test. */
export const uniqueId = (prefix: string) => `${prefix}-${run}-${++sequence}`;

/** Polls until `read` returns something truthy, or fails after `timeoutMs` naming what it waited for. */
export async function waitFor<T>(what: string, read: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A loopback address no other test of this run (or a recent one, against a kept ledger) is likely to use. */
export function freshClientIp(): string {
  const byte = (min: number) => min + Math.floor(Math.random() * (256 - min - 1));
  return `127.${byte(1)}.${byte(0)}.${byte(1)}`;
}
