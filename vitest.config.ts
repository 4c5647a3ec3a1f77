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
        plugins: [
          cloudflareTest({
            main: './proxy/index.ts',
            wrangler: { configPath: './wrangler.toml' },
            miniflare: { bindings: { TAPFILIATE_API_KEY: 'test-key' } },
          }),
        ],
        test: {
          name: 'proxy',
          include: ['test/proxy/**/*.test.ts'],
        },
      },
      {
        // Delivery (proxy/delivery): postbacks, inline retry, queue consumer and ledger, in workerd
        // against local postback servers started by the global setup.
        plugins: [
          cloudflareTest({
            main: './proxy/index.ts',
            wrangler: { configPath: './wrangler.toml' },
            miniflare: { bindings: { TAPFILIATE_API_KEY: 'test-key' } },
          }),
        ],
        test: {
          name: 'delivery',
          include: ['test/delivery/**/*.test.ts'],
          globalSetup: ['test/delivery/global-setup.ts'],
        },
      },
    ],
  },
});
