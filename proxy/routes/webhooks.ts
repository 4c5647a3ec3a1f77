// POST /webhooks/stripe and /webhooks/shopify: paid orders straight from the
// payment platform, into the same ledger and queue as tap.convert, so a webhook
// and a thank-you page for one order send it once (docs/guides/stripe.md,
// docs/guides/shopify.md). The platforms retry anything but a 2xx: an event
// that delivery took answers 2xx, one it could not take answers 5xx.
import type { Handler } from 'hono';
import { hasIdentifier, identifiersFromReference, mergeIdentifiers } from '../attribution';
import { apiKeyOf, shopifySecretOf, stripeSecretOf, subscriptionMemoryMsOf } from '../config';
import { ledgerEntry, type CreateDelivery, type DeliveryResult } from '../delivery';
import { cleanVisitor, jsonError, parseJson, parseWith, type AppContext, type AppEnv } from '../http';
import { logLine } from '../log';
import { conversionSchema, identifiersSchema, type Identifiers, type TapResult } from '../schema';
import { conversionJob, type Visitor } from '../tapfiliate';
import { verifyShopifyWebhook, shopifyAction } from '../webhooks/shopify';
import { stripeAction, verifyStripeEvent } from '../webhooks/stripe';
import { deliver, refuseUnlessConfigured } from './event';

export function stripeWebhookRoute(createDelivery: CreateDelivery): Handler<AppEnv> {
  return async function handleStripe(c) {
    const secret = requireSecret(c, stripeSecretOf(c.env), 'STRIPE_WEBHOOK_SECRET');
    const verdict = await verifyStripeEvent(await c.req.text(), c.req.header('stripe-signature'), secret);
    if (!verdict.ok) throw invalidSignature(verdict.reason);
    const action = stripeAction(verdict.event);
    const log = c.get('log');
    switch (action.action) {
      case 'ignore':
        if (action.log) logLine(action.log, { stripe_event: (verdict.event as { type?: string }).type });
        return ignored(c, action.reason);
      case 'remember':
        await rememberSubscription(c, action.stripe_customer, identifiersFromReference(action.reference));
        log.result = 'stored';
        return c.json({ ok: true, status: 'stored' } satisfies TapResult, 200);
      case 'convert': {
        const identifiers = identifiersFromReference(action.reference);
        if (action.remember) await rememberSubscription(c, action.remember.stripe_customer, identifiers);
        return convert(c, createDelivery, action.conversion, identifiers, {});
      }
      case 'renewal': {
        const identifiers = action.reference
          ? identifiersFromReference(action.reference)
          : await recallSubscription(c, action.stripe_customer);
        return convert(c, createDelivery, action.conversion, identifiers, {});
      }
    }
  };
}

export function shopifyWebhookRoute(createDelivery: CreateDelivery): Handler<AppEnv> {
  return async function handleShopify(c) {
    const secret = requireSecret(c, shopifySecretOf(c.env), 'SHOPIFY_WEBHOOK_SECRET');
    const raw = new Uint8Array(await c.req.arrayBuffer());
    if (!(await verifyShopifyWebhook(raw, c.req.header('x-shopify-hmac-sha256'), secret))) throw invalidSignature('invalid_signature');
    const order = parseJson(new TextDecoder().decode(raw));
    const action = shopifyAction(c.req.header('x-shopify-topic'), order);
    if (action.action === 'ignore') return ignored(c, action.reason);
    const fromCheckout: Identifiers = action.conversion.coupon ? { coupon: action.conversion.coupon } : {};
    const identifiers = mergeIdentifiers(identifiersFromReference(action.reference), fromCheckout);
    return convert(c, createDelivery, action.conversion, identifiers, cleanVisitor(action.ip, action.user_agent));
  };
}

function requireSecret(c: AppContext, secret: string | undefined, name: string): string {
  if (secret) return secret;
  logLine('not_configured', { hints: [`${name} is not set: run \`wrangler secret put ${name}\``] });
  throw jsonError(503, { ok: false, error: 'not_configured' });
}

function invalidSignature(reason: string) {
  return jsonError(400, { ok: false, error: 'invalid_signature', message: reason.replace(/_/g, ' ') });
}

function ignored(c: AppContext, reason: string): Response {
  c.get('log').result = 'ignored';
  c.get('log').reason = reason;
  return c.json({ ok: true, status: 'ignored' } satisfies TapResult, 200);
}

/** The platform's order as the same conversion job tap.convert makes, through the same delivery. */
async function convert(c: AppContext, createDelivery: CreateDelivery, order: object, identifiers: Identifiers, visitor: Visitor) {
  refuseUnlessConfigured(c);
  const log = c.get('log');
  const conversion = parseWith(conversionSchema, { ...order, coupon: undefined });
  log.external_id = conversion.external_id;
  if (!hasIdentifier(identifiers)) {
    log.result = 'unattributed';
    return c.json({ ok: true, status: 'unattributed' } satisfies TapResult, 200);
  }
  return answerWebhook(c, await deliver(c, createDelivery, conversionJob(conversion, identifiers, visitor)));
}

/** Like a browser's answer, except that a refusal Tapfiliate gave is final for the platform too (a 2xx): retrying it changes nothing. */
function answerWebhook(c: AppContext, result: DeliveryResult): Response {
  c.get('log').result = result.status;
  switch (result.status) {
    case 'sent':
    case 'duplicate':
      return c.json({ ok: true, status: result.status } satisfies TapResult, 200);
    case 'queued':
      return c.json({ ok: true, status: 'queued' } satisfies TapResult, 202);
    case 'rejected':
      c.get('log').upstream_status = result.upstreamStatus;
      return c.json({ ok: false, error: 'upstream_rejected' } satisfies TapResult, 200);
    case 'unavailable':
      return c.json({ ok: false, error: 'temporarily_unavailable' } satisfies TapResult, 503);
  }
}

const subscriptionKey = (stripeCustomer: string) => `sub:${stripeCustomer}`;

/** Keeps a subscription's attribution for its renewals, for SUBSCRIPTION_MEMORY_DAYS. The first one stays. */
async function rememberSubscription(c: AppContext, stripeCustomer: string, identifiers: Identifiers): Promise<void> {
  if (!hasIdentifier(identifiers) || !c.env.POSTBACK_LEDGER) return;
  const entry = await ledgerEntry(c.env.POSTBACK_LEDGER, apiKeyOf(c.env) ?? '', subscriptionKey(stripeCustomer));
  await entry.remember(JSON.stringify(identifiers), subscriptionMemoryMsOf(c.env));
}

async function recallSubscription(c: AppContext, stripeCustomer: string): Promise<Identifiers> {
  if (!c.env.POSTBACK_LEDGER) return {};
  const entry = await ledgerEntry(c.env.POSTBACK_LEDGER, apiKeyOf(c.env) ?? '', subscriptionKey(stripeCustomer));
  const parsed = identifiersSchema.safeParse(parseJson(await entry.recall()));
  return parsed.success ? parsed.data : {};
}
