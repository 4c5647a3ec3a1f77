import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'snippet',
          environment: 'happy-dom',
          include: ['test/snippet/**/*.test.ts'],
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
        // The proxy's HTTP surface and its forwarding path, in workerd. The worker's
        // postback URLs point at a local server started by the global setup.
        plugins: [
          cloudflareTest(({ inject }) => ({
            main: './proxy/index.ts',
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                TAPFILIATE_API_KEY: 'test-key',
                POSTBACK_CONVERSION_URL: `${inject('proxyPostbackServers').worker}/1.7/pb/con/c/`,
                POSTBACK_CUSTOMER_URL: `${inject('proxyPostbackServers').worker}/1.7/pb/cus/c/`,
              },
            },
          })),
        ],
        test: {
          name: 'proxy',
          include: ['test/proxy/**/*.test.ts'],
          globalSetup: ['test/proxy/global-setup.ts'],
        },
      },
      {
        // Delivery (proxy/delivery): postbacks, inline retry, queue consumer and ledger, in workerd
        // against local postback servers started by the global setup.
        plugins: [
          // The bound queue's consumer runs for real here, so its vars point at a local server, never at Tapfiliate.
          cloudflareTest(({ inject }) => ({
            main: './proxy/index.ts',
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                TAPFILIATE_API_KEY: 'test-key',
                POSTBACK_CONVERSION_URL: `${inject('postbackServers').queue}/1.7/pb/con/c/`,
                POSTBACK_CUSTOMER_URL: `${inject('postbackServers').queue}/1.7/pb/cus/c/`,
              },
            },
          })),
        ],
        test: {
          name: 'delivery',
          // *.measure.ts print figures and assert nothing: only with TAPLINE_MEASURE=1.
          include: ['test/delivery/**/*.test.ts', ...(process.env.TAPLINE_MEASURE ? ['test/delivery/**/*.measure.ts'] : [])],
          globalSetup: ['test/delivery/global-setup.ts'],
        },
      },
    ],
  },
});
