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
    ],
  },
});
