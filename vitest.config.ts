import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import type { inject as vitestInject } from 'vitest';
import { defineConfig } from 'vitest/config';
import { onConsoleLog, quietWorkerdOutput } from './test/quiet-output.mjs';

// Only lines that mean something in a passing run (test/quiet-output.mjs).
quietWorkerdOutput();

/**
 * A project whose tests run inside workerd with the production worker and
 * wrangler.toml. Its global setup starts local postback servers; the worker's
 * own postback URLs point at one of them, so a bound queue consumer running for
 * real never reaches Tapfiliate.
 */
function workerdProject(name: string, include: string[], postbackServer: (inject: typeof vitestInject) => string, { serial = false } = {}) {
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        main: './proxy/index.ts',
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          // workerd evicts an object idle for about ten seconds, and a new instance takes the
          // worker's own env again: a test pointing the ledgers at its stand-in
          // (test/ledger-control.ts) would then post to another one after any pause.
          durableObjects: { POSTBACK_LEDGER: { className: 'PostbackLedger', useSQLite: true, unsafePreventEviction: true } },
          bindings: {
            TAPFILIATE_API_KEY: 'test-key',
            POSTBACK_CONVERSION_URL: `${postbackServer(inject)}/1.7/pb/con/c/`,
            POSTBACK_CUSTOMER_URL: `${postbackServer(inject)}/1.7/pb/cus/c/`,
            TAPFILIATE_CLICKS_URL: `${postbackServer(inject)}/1.6/clicks/`,
            TAPFILIATE_REST_URL: `${postbackServer(inject)}/1.6/`,
            // Blank, not missing: a developer's .dev.vars (npm start writes one) must not
            // put the tests in signed trust. A test that needs a secret passes it itself.
            TAPLINE_SIGNING_SECRET: '',
            TAPLINE_SERVER_TOKEN: '',
            STRIPE_WEBHOOK_SECRET: '',
            SHOPIFY_WEBHOOK_SECRET: '',
            PADDLE_WEBHOOK_SECRET: '',
            PADDLE_SANDBOX_WEBHOOK_SECRET: '',
            LEMONSQUEEZY_WEBHOOK_SECRET: '',
            TAPLINE_ADMIN_TOKEN: '',
            TAPLINE_FORWARDER_SECRET: '',
          },
        },
      })),
    ],
    test: { name, include, globalSetup: [`test/${name}/global-setup.ts`], ...(serial && { fileParallelism: false }) },
  };
}

export default defineConfig({
  test: {
    onConsoleLog,
    projects: [
      {
        test: {
          name: 'snippet',
          environment: 'happy-dom',
          include: ['test/snippet/**/*.test.ts'],
          globalSetup: ['test/snippet/global-setup.ts'],
        },
      },
      {
        // Webhook signatures and payload mapping, checked against the platforms' own libraries (stripe) in Node.
        test: {
          name: 'webhooks',
          environment: 'node',
          include: ['test/webhooks/**/*.test.ts'],
        },
      },
      {
        // The docs name real files (ARCHITECTURE.md's code map, every relative link).
        test: { name: 'docs', environment: 'node', include: ['test/docs/**/*.test.ts'] },
      },
      {
        // `npm run events` (scripts/events.mjs) against a fake operator API, in Node.
        test: { name: 'cli', environment: 'node', include: ['test/cli/**/*.test.ts'] },
      },
      {
        // The ledger record's state machine, pure, in Node.
        test: {
          name: 'lifecycle',
          environment: 'node',
          include: ['test/lifecycle/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'postback',
          environment: 'node',
          include: ['test/postback/**/*.test.ts'],
        },
      },
      {
        // The whole path in real Chromium: merchant origin → worker (wrangler, workerd) →
        // local postback server. One stack per file; files run one at a time on 2 cores.
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // The WordPress plugin (integrations/wordpress/) in real WordPress, PHP and MariaDB, against
        // the worker in workerd and the stand-in; WooCommerce is a stand-in (test/wordpress/woocommerce-standin/).
        test: {
          name: 'wordpress',
          environment: 'node',
          include: ['test/wordpress/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
      // The proxy's HTTP surface and its forwarding path, in workerd.
      workerdProject('proxy', ['test/proxy/**/*.test.ts'], (inject) => inject('proxyPostbackServers').worker),
      // One test file per known attack (docs/security.md), in workerd with the real delivery, ledger and rate limit binding,
      // against the local postback server; and a 1,000-request fuzz subset.
      workerdProject('attack', ['test/attack/**/*.test.ts'], (inject) => inject('attackPostbackServers').worker),
      {
        // The property-based fuzz: 10,000 generated requests through the real app in Node, with a
        // recording delivery. The app imports nothing of workerd: the ledger object is proxy/index.ts's alone.
        test: {
          name: 'fuzz',
          environment: 'node',
          include: ['test/fuzz/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      // The Stripe and Shopify routes through the production worker, real queue and ledger.
      workerdProject('webhooks-workerd', ['test/webhooks-workerd/**/*.test.ts'], (inject) => inject('webhookPostbackServers').worker),
      // Refunds (proxy/delivery/refunds.ts): runRefund against the stand-in's REST API, and the refund
      // route and webhooks through the production worker, and ledger.
      workerdProject('refunds', ['test/refunds/**/*.test.ts'], (inject) => inject('refundPostbackServers').worker),
      // The operator API and console page (proxy/routes/admin.ts, console.ts), against a fake and the real ledger.
      // Its files share one stand-in and set its faults: one file at a time.
      workerdProject('admin', ['test/admin/**/*.test.ts'], (inject) => inject('adminPostbackServer'), { serial: true }),
      // Delivery (proxy/delivery): postbacks and the ledger objects with their alarms, in workerd.
      // *.measure.ts print figures and assert nothing: only with TAPLINE_MEASURE=1.
      workerdProject(
        'delivery',
        ['test/delivery/**/*.test.ts', ...(process.env.TAPLINE_MEASURE ? ['test/delivery/**/*.measure.ts'] : [])],
        (inject) => inject('postbackServers').queue,
      ),
    ],
  },
});
