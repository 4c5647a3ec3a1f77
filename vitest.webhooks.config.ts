import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/**
 * The webhook routes in workerd, through the production worker (proxy/index.ts,
 * wrangler.toml: real queue and ledger) against local postback stand-ins.
 * `webhooksWorkerd` is self-contained so it can be pasted into vitest.config.ts's
 * `projects` as is; there it equals
 * `workerdProject('webhooks-workerd', ['test/webhooks-workerd/**\/*.test.ts'], (inject) => inject('webhookPostbackServers').worker)`.
 */
export const webhooksWorkerd = {
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: './proxy/index.ts',
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          TAPFILIATE_API_KEY: 'test-key',
          POSTBACK_CONVERSION_URL: `${inject('webhookPostbackServers').worker}/1.7/pb/con/c/`,
          POSTBACK_CUSTOMER_URL: `${inject('webhookPostbackServers').worker}/1.7/pb/cus/c/`,
        },
      },
    })),
  ],
  test: {
    name: 'webhooks-workerd',
    include: ['test/webhooks-workerd/**/*.test.ts'],
    globalSetup: ['test/webhooks-workerd/global-setup.ts'],
  },
};

export default defineConfig({ test: { projects: [webhooksWorkerd] } });
