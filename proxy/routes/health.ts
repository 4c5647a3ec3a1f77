import type { Handler } from 'hono';
import { configProblems, lemonSqueezySecretOf, paddleSandboxSecretOf, paddleSecretOf, shopifySecretOf, stripeSecretOf, trustOf } from '../config';
import type { AppEnv } from '../http';
import { logLine } from '../log';

/**
 * What an operator checks after a deploy, without a secret in it: whether
 * events are accepted (`configured`), the trust mode, whether delivery is
 * durable, whether the rate limit and each webhook are set up. The reasons
 * for `configured: false` go to the log.
 */
export function healthRoute(): Handler<AppEnv> {
  return function health(c) {
    const problems = configProblems(c.env);
    if (problems.length > 0) logLine('not_configured', { hints: problems });
    return c.json({
      ok: true,
      configured: problems.length === 0,
      trust: trustOf(c.env),
      delivery: { durable: Boolean(c.env.POSTBACK_LEDGER) },
      rate_limit: c.env.TAPLINE_RATE_LIMIT ? 'per_ip' : 'none',
      webhooks: {
        stripe: stripeSecretOf(c.env) !== undefined,
        shopify: shopifySecretOf(c.env) !== undefined,
        paddle: paddleSecretOf(c.env) !== undefined,
        paddle_sandbox: paddleSandboxSecretOf(c.env) !== undefined,
        lemonsqueezy: lemonSqueezySecretOf(c.env) !== undefined,
      },
    });
  };
}
