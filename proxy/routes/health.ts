import type { Handler } from 'hono';
import { configProblems } from '../config';
import { reportedArrival, type AppEnv } from '../http/context';
import { logLine } from '../lib/log';
import { trustOf, webhookSecretsOf } from '../platforms';

/**
 * What an operator checks after a deploy, without a secret in it: whether
 * events are accepted (`configured`), the trust mode, whether delivery is
 * durable, whether the rate limit and each webhook are set up, and whether
 * this request came through an authenticated forwarder. The reasons
 * for `configured: false` go to the log.
 */
export function healthRoute(): Handler<AppEnv> {
  return function health(c) {
    const arrival = reportedArrival(c);
    const problems = arrival.problem ? [...configProblems(c.env), arrival.problem] : configProblems(c.env);
    if (problems.length > 0) logLine('not_configured', { hints: problems });
    return c.json({
      ok: true,
      configured: problems.length === 0,
      trust: trustOf(c.env),
      delivery: { durable: Boolean(c.env.POSTBACK_LEDGER) },
      rate_limit: c.env.TAPLINE_RATE_LIMIT ? 'per_ip' : 'none',
      // One entry per webhook route of the platforms' table: `paddle/sandbox` is `paddle_sandbox`.
      webhooks: Object.fromEntries(webhookSecretsOf(c.env).map(({ path, secret }) => [path.replace(/\//g, '_'), secret !== undefined])),
      // Through the merchant's own web server with the right secret (docs/guides/own-server.md); never the secret.
      forwarder: arrival.forwarded,
    });
  };
}
