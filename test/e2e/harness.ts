import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { unstable_startWorker } from 'wrangler';
import { startPostbackServer } from '../postback/server.mjs';
import { startMerchantOrigin, type MerchantOrigin } from './merchant';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const API_KEY = 'e2e-secret-key-5f1c';

/** CI must run the browser suite; a laptop without Chromium is told loudly how to get it. */
export const chromiumMissing = !existsSync(CHROMIUM);
if (chromiumMissing) {
  if (process.env.CI) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  console.warn(`\nSKIPPED: end-to-end suite, no Chromium at ${CHROMIUM}. Install it: apt-get install -y chromium\n`);
}

// Flags the workplace needs: no sandbox as root, and no background calls to Google's hosts.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP *.shop.test 127.0.0.1, MAP *.elsewhere.test 127.0.0.1',
];

export type PostbackServer = Awaited<ReturnType<typeof startPostbackServer>>;

export interface Stack {
  postbacks: PostbackServer;
  merchant: MerchantOrigin;
  browser: Browser;
  /** A fresh browser profile: no cookies, no localStorage. */
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

/**
 * The whole path a merchant runs: Chromium → merchant origin (CMS pages, and
 * /_tap/* handed to the worker as a zone route would) → worker in workerd →
 * local postback server.
 */
export async function startStack(vars: Record<string, string> = {}): Promise<Stack> {
  const postbacks = await startPostbackServer({ apiKey: API_KEY });
  const worker = await unstable_startWorker({
    config: 'wrangler.toml',
    bindings: {
      TAPFILIATE_API_KEY: { type: 'secret_text', value: API_KEY },
      POSTBACK_CONVERSION_URL: { type: 'plain_text', value: postbacks.conversionUrl },
      POSTBACK_CUSTOMER_URL: { type: 'plain_text', value: postbacks.customerUrl },
      ...Object.fromEntries(
        Object.entries(vars).map(([name, value]) => [name, { type: 'plain_text' as const, value }]),
      ),
    },
    dev: {
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      watch: false,
      logLevel: 'error',
    },
  });
  await worker.ready;
  const merchant = await startMerchantOrigin((url, init) => worker.fetch(url, init as never) as never);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  return {
    postbacks,
    merchant,
    browser,
    newContext: () => browser.newContext(),
    async close() {
      await browser.close();
      await merchant.close();
      await worker.dispose();
      await postbacks.close();
    },
  };
}

export interface ShopPage {
  /** Script tag attributes, e.g. { 'data-attribution': 'first' }. */
  tag?: Record<string, string>;
  /** Inline script placed before the tag (the stub and early calls). */
  before?: string;
  body?: string;
}

export const STUB = 'window.tap=window.tap||function(){(tap.q=tap.q||[]).push(arguments)}';

/** A page as a CMS theme would render it, with the one script tag pasted into its head. */
export function shopPage({ tag = {}, before, body = '<h1>Shop</h1>' }: ShopPage = {}): string {
  const attributes = Object.entries(tag)
    .map(([name, value]) => ` ${name}="${value}"`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
${before === undefined ? '' : `<script>${before}</script>`}
<script async src="/_tap/tap.js"${attributes}></script>
</head><body>${body}</body></html>`;
}
