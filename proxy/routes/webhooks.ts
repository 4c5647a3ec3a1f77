// POST /webhooks/stripe and /webhooks/shopify: paid orders straight from the
// payment platform, into the same ledger and queue as tap.convert, so a webhook
// and a thank-you page for one order send it once (docs/guides/stripe.md,
// docs/guides/shopify.md). The platform's signature is the only credential.
//
// What the platform is answered, and why (both retry anything but a 2xx, Stripe
// for up to three days, Shopify for hours, and may then disable the endpoint):
// - no secret set: 503 not_configured (retried until the operator sets it);
//   TAPFILIATE_API_KEY or a postback URL missing or unsafe: 503 not_configured too,
//   checked before anything is remembered or sent.
// - a missing, wrong or stale signature (Stripe: outside 5 minutes either way):
//   400 invalid_signature. Nothing is parsed before the signature holds.
// - a correctly signed body that is not an event or order we can read, an order
//   that fails the conversion schema, an event type or topic we do not handle, a
//   refund that moved no money, an unpaid session, a zero amount (a zero
//   invoice, a session whose tax and shipping take all of it; docs/reference.md, "Zero amounts"):
//   200 ignored (the reason is in the request log line). A retry would bring the
//   same bytes, so a 2xx is the only answer that stops it.
// - a refund (Stripe charge.refunded and refund.created, Shopify refunds/create):
//   its conversion's commissions are taken back (routes/refund.ts): 200 reversed,
//   adjusted, duplicate or unattributed, 202 queued.
// - a test event (Stripe `livemode: false`, Shopify `test: true`): checked, then
//   200 test with what would be sent, and nothing recorded or sent, unless
//   WEBHOOK_TEST_EVENTS=send.
// - no reference (and, for a Stripe renewal, nothing remembered for the customer):
//   200 unattributed, nothing sent or recorded; Tapfiliate cannot attribute it.
// - a Stripe subscription checkout without a paid first invoice (a trial, a
//   delayed payment): the attribution is remembered for the Stripe customer and
//   the answer is 200 stored; invoice.paid events then convert. Without a
//   reference there is nothing to remember: 200 unattributed. A paid first invoice
//   converts with the invoice id as external_id, so its own invoice.paid meets it
//   in the ledger as a duplicate whichever arrives first.
// - delivery took it: 200 sent, 200 duplicate (a replay: no second postback),
//   202 queued (the queue retries it).
// - Tapfiliate refused it (a 4xx other than "already exists"): 200
//   {ok:false, error:'upstream_rejected'}. A platform retry would be refused the
//   same way and could get the endpoint disabled; the job waits in the dead-letter
//   queue for an operator, who fixes the cause and re-drives it.
// - delivery could not take it (the queue refused): 503 temporarily_unavailable,
//   so the platform retries it.
import type { Handler } from 'hono';
import { hasIdentifier, identifiersFromReference, mergeIdentifiers } from '../identifiers';
import { shopifySecretOf, stripeSecretOf, subscriptionMemoryMsOf, webhookTestEventsOf } from '../config';
import type { CreateDelivery, EventSource } from '../delivery';
import { issuesOf, type AppContext, type AppEnv } from '../http';
import { cleanVisitor } from '../visitor';
import { parseJson } from '../plain';
import { logLine } from '../log';
import { recallSubscription as recallMemory, rememberSubscription as rememberMemory } from '../memory';
import { conversionSchema, identifiersSchema, type Identifiers } from '../schema';
import type { TapResult } from '../../common/contract';
import { conversionJob } from '../events/job';
import { platformRefund } from '../events/refund';
import type { Visitor } from '../tapfiliate';
import { SHOPIFY_REFUND_TOPIC, STRIPE_REFUND_EVENTS, shopifyRefund, stripeRefunds } from '../webhooks/refund-events';
import { verifyShopifyWebhook, shopifyAction } from '../webhooks/shopify';
import { stripeAction, verifyStripeEvent, type StripeEvent } from '../webhooks/stripe';
import { answerDelivery, deliver, isZeroAmount, refuseUnlessConfigured, testAnswer } from '../events/answer';
import { ignored, invalidSignature, requireSecret, unattributed, withoutInvalidOptionals } from '../events/webhook';

export function stripeWebhookRoute(createDelivery: CreateDelivery): Handler<AppEnv> {
  return async function handleStripe(c) {
    const secret = requireSecret(stripeSecretOf(c.env), 'STRIPE_WEBHOOK_SECRET');
    const verdict = await verifyStripeEvent(await c.req.text(), c.req.header('stripe-signature'), secret);
    if (!verdict.ok) {
      // Signed by the secret's holder but not an event: a retry sends the same bytes.
      if (verdict.reason === 'malformed') return ignored(c, 'malformed');
      throw invalidSignature(verdict.reason);
    }
    const event = verdict.event;
    const test = event.livemode === false;
    if ((STRIPE_REFUND_EVENTS as readonly string[]).includes(event.type)) {
      const refund = stripeRefunds(event);
      return refund.action === 'ignore' ? ignored(c, refund.reason) : platformRefund(c, createDelivery, refund, 'stripe');
    }
    const action = stripeAction(event);
    switch (action.action) {
      case 'ignore':
        return ignored(c, action.reason);
      case 'remember': {
        refuseUnlessConfigured(c);
        const identifiers = identifiersFromReference(action.reference);
        if (!hasIdentifier(identifiers)) return unattributed(c);
        await rememberSubscription(c, action.stripe_customer, identifiers);
        c.get('log').result = 'stored';
        return c.json({ ok: true, status: 'stored' } satisfies TapResult, 200);
      }
      case 'convert': {
        refuseUnlessConfigured(c);
        const identifiers = identifiersFromReference(action.reference);
        if (action.remember) await rememberSubscription(c, action.remember.stripe_customer, identifiers);
        return convert(c, createDelivery, action.conversion, identifiers, {}, { source: 'stripe', platformIds: stripePlatformIds(event), test });
      }
      case 'renewal': {
        refuseUnlessConfigured(c);
        // The subscription's own tap_ref when it holds one, else what its checkout left for the customer.
        const fromMetadata = identifiersFromReference(action.reference);
        const identifiers = hasIdentifier(fromMetadata) ? fromMetadata : await recallSubscription(c, action.stripe_customer);
        // Counted from the last attributed payment: every attributed renewal extends the memory.
        if (hasIdentifier(fromMetadata)) await rememberSubscription(c, action.stripe_customer, fromMetadata);
        return convert(c, createDelivery, action.conversion, identifiers, {}, { source: 'stripe', platformIds: stripePlatformIds(event), test });
      }
    }
  };
}

export function shopifyWebhookRoute(createDelivery: CreateDelivery): Handler<AppEnv> {
  return async function handleShopify(c) {
    const secret = requireSecret(shopifySecretOf(c.env), 'SHOPIFY_WEBHOOK_SECRET');
    const raw = new Uint8Array(await c.req.arrayBuffer());
    if (!(await verifyShopifyWebhook(raw, c.req.header('x-shopify-hmac-sha256'), secret))) throw invalidSignature('invalid_signature');
    const topic = c.req.header('x-shopify-topic');
    const text = new TextDecoder().decode(raw);
    const body = parseJson(text);
    if (topic === SHOPIFY_REFUND_TOPIC) {
      const refund = shopifyRefund(body, text);
      return refund.action === 'ignore' ? ignored(c, refund.reason) : platformRefund(c, createDelivery, refund, 'shopify');
    }
    const action = shopifyAction(topic, body);
    if (action.action === 'ignore') return ignored(c, action.reason);
    refuseUnlessConfigured(c);
    const fromCheckout: Identifiers = action.conversion.coupon ? { coupon: action.conversion.coupon } : {};
    const identifiers = mergeIdentifiers(identifiersFromReference(action.reference), fromCheckout);
    return convert(c, createDelivery, action.conversion, identifiers, cleanVisitor(action.ip, action.user_agent), {
      source: 'shopify',
      platformIds: [String(action.conversion.external_id)],
      test: typeof body === 'object' && body !== null && (body as Record<string, unknown>).test === true,
    });
  };
}

/** The Stripe ids a later refund may name this payment by: the session or invoice, its payment_intent and charge. */
function stripePlatformIds(event: StripeEvent): string[] {
  const object = event.data.object;
  return ['id', 'payment_intent', 'invoice', 'charge'].map((field) => object[field]).filter((id): id is string => typeof id === 'string' && id !== '');
}

/** The platform's order as the same conversion job tap.convert makes, through the same delivery. */
async function convert(
  c: AppContext,
  createDelivery: CreateDelivery,
  order: object,
  identifiers: Identifiers,
  visitor: Visitor,
  origin: { source: EventSource; platformIds: string[]; test: boolean },
) {
  const log = c.get('log');
  const parsed = conversionSchema.safeParse(withoutInvalidOptionals(c, { ...order, coupon: undefined }));
  if (!parsed.success) {
    // The platform would send the same order again: say why in the log, and stop it.
    logLine('webhook_invalid_order', { issues: issuesOf(parsed.error).map((issue) => `${issue.path}: ${issue.message}`) });
    return ignored(c, 'invalid_order');
  }
  const conversion = parsed.data;
  log.external_id = conversion.external_id;
  if (isZeroAmount(conversion)) return ignored(c, 'zero_amount');
  const valid = withoutInvalidOptionals(c, identifiers);
  if (!hasIdentifier(valid)) return unattributed(c);
  const job = conversionJob(conversion, valid, visitor);
  if (origin.test && webhookTestEventsOf(c.env) === 'test') {
    log.result = 'test';
    return c.json(testAnswer(c, job), 200);
  }
  return answerDelivery(c, await deliver(c, createDelivery, { job, source: origin.source, signed: true, platformIds: origin.platformIds }), 200);
}


/** Keeps a subscription's attribution for its renewals, for SUBSCRIPTION_MEMORY_DAYS from this payment. */
async function rememberSubscription(c: AppContext, stripeCustomer: string, identifiers: Identifiers): Promise<void> {
  if (!hasIdentifier(identifiers) || !c.env.POSTBACK_LEDGER) return;
  await rememberMemory(c.env, 'stripe', stripeCustomer, JSON.stringify(identifiers), subscriptionMemoryMsOf(c.env));
}

/** What the subscription's checkout (or its last attributed payment) left; reading it extends the memory. */
async function recallSubscription(c: AppContext, stripeCustomer: string): Promise<Identifiers> {
  if (!c.env.POSTBACK_LEDGER) return {};
  const parsed = identifiersSchema.safeParse(parseJson(await recallMemory(c.env, 'stripe', stripeCustomer, subscriptionMemoryMsOf(c.env))));
  return parsed.success ? parsed.data : {};
}
