// Small remembered values, kept in the ledger objects beside the records: the
// click of a landing, and the attribution of a subscription for its renewals.
import { hmacSign } from './hmac';
import { apiKeyOf } from './config';
import { ledgerOf } from './delivery/shards';
import type { ClickBody } from './tapfiliate';

/**
 * One Tapfiliate click per referral code and client network in this window,
 * whatever the body says about its landing (docs/security.md, "Clicks"): a
 * click costs an API call with the merchant's key, and the body is the attacker's.
 */
const CLICK_MEMORY_MS = 30 * 60 * 1000;

/** The click id for this landing: made once per referral code and client network, or remembered. Undefined when none could be made. */
export async function clickFor(env: Env, network: string, body: ClickBody): Promise<string | undefined> {
  return (await (await ledgerOf(env.POSTBACK_LEDGER, `clk:${network}`)).click(network, body, CLICK_MEMORY_MS, CLICK_CODES_PER_NETWORK)) || undefined;
}

/**
 * Referral codes one client network may have clicks made for in the window.
 * A shopper arrives through one affiliate, rarely two or three; past this the
 * cookie is still set and the conversion still attributed, only without a
 * Tapfiliate click.
 */
export const CLICK_CODES_PER_NETWORK = 5;

const subscriptionKey = (platform: string, customer: string) => `sub:${platform}:${customer}`;

/** Keeps a subscription's attribution for SUBSCRIPTION_MEMORY_DAYS from now, replacing an older one. */
export async function rememberSubscription(env: Env, platform: string, customer: string, value: string, ttlMs: number): Promise<void> {
  const key = subscriptionKey(platform, customer);
  await (await ledgerOf(env.POSTBACK_LEDGER, key)).remember(key, value, ttlMs);
}

/**
 * A subscription's attribution, its memory then extended by `ttlMs`: counted
 * from the last attributed payment, an active subscription is never forgotten.
 * Stripe subscriptions remembered by v2 sit in its API-key-sharded objects; one
 * found there is moved here.
 */
export async function recallSubscription(env: Env, platform: string, customer: string, ttlMs: number): Promise<string | undefined> {
  const key = subscriptionKey(platform, customer);
  const ledger = await ledgerOf(env.POSTBACK_LEDGER, key);
  const value = await ledger.recall(key, ttlMs);
  if (value !== undefined || platform !== 'stripe') return value;
  const legacy = await legacyRecall(env, `sub:${customer}`);
  if (legacy !== undefined) await ledger.remember(key, legacy, ttlMs);
  return legacy;
}

/** v2 kept memory in `shard-N`, N from an HMAC of the key with the API key (docs/operations.md, "Upgrading from v2"). */
async function legacyRecall(env: Env, key: string): Promise<string | undefined> {
  const apiKey = apiKeyOf(env);
  if (!apiKey) return undefined;
  const shard = new DataView(await hmacSign(apiKey, key)).getUint32(0) % 32;
  const namespace = env.POSTBACK_LEDGER;
  return namespace.get(namespace.idFromName(`shard-${shard}`)).recall(key);
}

