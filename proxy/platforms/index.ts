// The payment platforms, one line each. Everything that lists platforms
// follows this table: the webhook routes (app.ts), /health's `webhooks`, the
// operator API's sources, which secrets are scrubbed and redacted, and whether
// webhooks own the orders. Adding a platform: ARCHITECTURE.md, "A fifth platform".
import { adminTokenOf, apiKeyOf, forwarderSecretsOf, serverTokenOf, settingOf, signingSecretOf } from '../config';
import { lemonSqueezy } from './lemonsqueezy';
import { paddle } from './paddle';
import { shopify } from './shopify';
import { stripe } from './stripe';

export const PLATFORMS = [stripe, shopify, paddle, lemonSqueezy] as const;

export type PlatformName = (typeof PLATFORMS)[number]['name'];
export type { Platform, PlatformReading, PlatformRefund, PlatformRoute, WebhookRequest } from './platform';

/** Each platform route's secret as set, by the route's path (`paddle/sandbox` for the Paddle sandbox). */
export function webhookSecretsOf(env: Partial<Env>): { path: string; secret: string | undefined; test: boolean }[] {
  return PLATFORMS.flatMap((platform) =>
    platform.routes.map((route) => ({ path: route.path, secret: settingOf(env, route.secret), test: route.test === true })),
  );
}

/**
 * Whether a payment platform's webhook reports the orders. Then it owns them:
 * an unsigned browser event could only take an order's id, or a customer's,
 * before the platform's signed one arrives (docs/security.md, "Webhooks own the orders").
 * A sandbox's secret does not count: its events are tests.
 */
export function webhooksOwnOrders(env: Partial<Env>): boolean {
  return webhookSecretsOf(env).some(({ secret, test }) => secret !== undefined && !test);
}

/**
 * "signed" when browser events must carry the merchant's signature,
 * "webhooks" when they must because a webhook owns the orders and there is no
 * signing secret (so browser orders are refused), "open" otherwise.
 */
export function trustOf(env: Partial<Env>): 'signed' | 'webhooks' | 'open' {
  if (signingSecretOf(env)) return 'signed';
  return webhooksOwnOrders(env) ? 'webhooks' : 'open';
}

/** Every secret the worker holds, set ones only: the one list that log lines are scrubbed of and operator answers redacted of. */
export function secretsOf(env: Partial<Env>): string[] {
  return [apiKeyOf(env), adminTokenOf(env), signingSecretOf(env), serverTokenOf(env), ...forwarderSecretsOf(env), ...webhookSecretsOf(env).map(({ secret }) => secret)].filter(
    (secret): secret is string => secret !== undefined,
  );
}
