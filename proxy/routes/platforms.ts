// POST /webhooks/paddle (and /webhooks/paddle/sandbox) and /webhooks/lemonsqueezy:
// the merchant-of-record checkouts, into the same ledger as tap.convert and the
// other webhooks (docs/guides/paddle.md, docs/guides/lemonsqueezy.md). The
// platform's signature is the only credential.
//
// The answers are the Stripe and Shopify routes' (routes/webhooks.ts), for the same
// reasons: 503 not_configured without the secret (or with any setting /health
// reports), 400 invalid_signature, 200 ignored for a signed body we do not handle,
// 200 unattributed without a reference or a remembered one, 200 stored for a
// zero-amount first payment whose attribution is kept for the renewals, 200 sent /
// duplicate, 202 queued, 200 upstream_rejected. A platform's test event (a Paddle
// sandbox notification, a Lemon Squeezy `meta.test_mode`) is checked the same way and
// answered 200 test with what would have been sent, unless WEBHOOK_TEST_EVENTS=send.
//
// Lemon Squeezy counts only a 200 as delivered and retries anything else three times;
// a 202 queued is therefore retried, and answered duplicate: harmless, and kept so
// that every route answers the contract's statuses.
import type { Handler } from 'hono';
import { hasIdentifier, identifiersFromReference } from '../identifiers';
import { lemonSqueezySecretOf, paddleSandboxSecretOf, paddleSecretOf, subscriptionMemoryMsOf, webhookTestEventsOf } from '../config';
import type { CreateDelivery, RefundJob } from '../delivery';
import { jsonError, type AppContext, type AppEnv } from '../http';
import { parseJson } from '../plain';
import { logLine } from '../log';
import { recallSubscription as recallMemory, rememberSubscription as rememberMemory } from '../memory';
import { conversionSchema, identifiersSchema, type Identifiers } from '../schema';
import type { TapResult } from '../../common/contract';
import { conversionJob } from '../events/job';
import { refundTestAnswer } from '../events/refund';
import { lemonSqueezyAction, verifyLemonSqueezyWebhook, type LemonSqueezyRefund } from '../webhooks/lemonsqueezy';
import { paddleAction, verifyPaddleEvent, type PlatformConversion, type PlatformRefund } from '../webhooks/paddle';
import { answerDelivery, deliver, isZeroAmount, refuseUnlessConfigured, testAnswer } from '../events/answer';
import { ignored, invalidSignature, requireSecret, unattributed, withoutInvalidOptionals } from '../events/webhook';

type Platform = 'paddle' | 'lemonsqueezy';

/** `sandbox`: the route the Paddle sandbox account's notification destination points at. */
export function paddleWebhookRoute(createDelivery: CreateDelivery, { sandbox = false } = {}): Handler<AppEnv> {
  return async function handlePaddle(c) {
    const secret = sandbox
      ? requireSecret(paddleSandboxSecretOf(c.env), 'PADDLE_SANDBOX_WEBHOOK_SECRET')
      : requireSecret(paddleSecretOf(c.env), 'PADDLE_WEBHOOK_SECRET');
    const verdict = await verifyPaddleEvent(await c.req.text(), c.req.header('paddle-signature'), secret);
    if (!verdict.ok) {
      if (verdict.reason === 'malformed') return ignored(c, 'malformed');
      throw invalidSignature(verdict.reason);
    }
    const action = paddleAction(verdict.event);
    const test = sandbox;
    switch (action.action) {
      case 'ignore':
        return ignored(c, action.reason);
      case 'remember':
        return remember(c, 'paddle', action.subscription, action.reference, test);
      case 'convert': {
        refuseUnlessConfigured(c);
        // The transaction's own tap_ref (Paddle copies it onto the subscription's renewals), else what its subscription left.
        const fromReference = identifiersFromReference(action.reference);
        const identifiers =
          hasIdentifier(fromReference) || !action.subscription ? fromReference : await recallSubscription(c, 'paddle', action.subscription);
        return convert(c, createDelivery, {
          platform: 'paddle',
          conversion: action.conversion,
          identifiers,
          test,
          platformIds: [action.conversion.external_id],
          remember: action.subscription,
        });
      }
      case 'refund':
        refuseUnlessConfigured(c);
        return refund(c, createDelivery, 'paddle', action.refund, test);
    }
  };
}

export function lemonSqueezyWebhookRoute(createDelivery: CreateDelivery): Handler<AppEnv> {
  return async function handleLemonSqueezy(c) {
    const secret = requireSecret(lemonSqueezySecretOf(c.env), 'LEMONSQUEEZY_WEBHOOK_SECRET');
    const raw = new Uint8Array(await c.req.arrayBuffer());
    if (!(await verifyLemonSqueezyWebhook(raw, c.req.header('x-signature'), secret))) throw invalidSignature('invalid_signature');
    const action = lemonSqueezyAction(c.req.header('x-event-name'), parseJson(new TextDecoder().decode(raw)));
    switch (action.action) {
      case 'ignore':
        return ignored(c, action.reason);
      case 'remember':
        return remember(c, 'lemonsqueezy', action.customer, action.reference, action.test);
      case 'convert': {
        refuseUnlessConfigured(c);
        // A renewal without custom data is attributed by what the customer's attributed order left.
        const fromReference = identifiersFromReference(action.reference);
        const identifiers =
          hasIdentifier(fromReference) || !action.renewal || !action.customer
            ? fromReference
            : await recallSubscription(c, 'lemonsqueezy', action.customer);
        return convert(c, createDelivery, {
          platform: 'lemonsqueezy',
          conversion: action.conversion,
          identifiers,
          test: action.test,
          platformIds: [action.conversion.external_id],
          remember: action.customer,
        });
      }
      case 'refund':
        refuseUnlessConfigured(c);
        return refund(c, createDelivery, 'lemonsqueezy', action.refund, action.test);
    }
  };
}

interface PlatformOrder {
  platform: Platform;
  conversion: PlatformConversion;
  identifiers: Identifiers;
  test: boolean;
  /** The ids a later refund finds this conversion by. */
  platformIds: string[];
  /** The subscription (Paddle) or customer (Lemon Squeezy) whose renewals this attribution also covers. */
  remember?: string;
}

/** The platform's order as the same conversion job tap.convert makes, through the same delivery. */
async function convert(c: AppContext, createDelivery: CreateDelivery, order: PlatformOrder): Promise<Response> {
  const parsed = conversionSchema.safeParse(withoutInvalidOptionals(c, order.conversion));
  if (!parsed.success) {
    // The platform would send the same order again: say why in the log, and stop it.
    logLine('webhook_invalid_order', { issues: parsed.error.issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`) });
    return ignored(c, 'invalid_order');
  }
  c.get('log').external_id = parsed.data.external_id;
  if (isZeroAmount(parsed.data)) return ignored(c, 'zero_amount');
  const identifiers = withoutInvalidOptionals(c, order.identifiers);
  if (!hasIdentifier(identifiers)) return unattributed(c);
  const job = conversionJob(parsed.data, identifiers, {});
  if (order.test && webhookTestEventsOf(c.env) === 'test') {
    c.get('log').result = 'test';
    return c.json(testAnswer(c, job), 200);
  }
  // Every attributed payment extends the memory (SUBSCRIPTION_MEMORY_DAYS from the last one).
  if (order.remember) await rememberSubscription(c, order.platform, order.remember, identifiers);
  const result = await deliver(c, createDelivery, { job, source: order.platform, signed: true, platformIds: order.platformIds });
  return answerDelivery(c, result, 200);
}

/**
 * A refund by the platform id its conversion recorded (shared/contract.md section 11):
 * the ledger finds the conversion, and its refund path takes the commission back.
 */
async function refund(
  c: AppContext,
  createDelivery: CreateDelivery,
  platform: Platform,
  refund: PlatformRefund | LemonSqueezyRefund,
  test: boolean,
): Promise<Response> {
  const delivery = createDelivery(c.env);
  if (!delivery) {
    logLine('not_configured', { hints: ['POSTBACK_LEDGER must be bound (wrangler.toml)'] });
    throw jsonError(503, { ok: false, error: 'not_configured' });
  }
  // The conversion this platform id was recorded with; without one, the id itself (the
  // conversion's external_id on both platforms), for Tapfiliate to know or not.
  const found = await delivery.findConversion(refund.platform_id);
  const key = found?.startsWith('con:') ? found : null;
  const external_id = key ? key.slice('con:'.length) : refund.platform_id;
  c.get('log').external_id = external_id;
  let amount: number | undefined = 'amount' in refund ? refund.amount : undefined;
  if ('refunded_total' in refund && refund.refunded_total !== undefined) {
    // Lemon Squeezy says what was refunded so far: this refund is the part the ledger has not counted yet.
    const counted = key ? ((await delivery.get(key))?.refunded_amount ?? 0) : 0;
    amount = Number((refund.refunded_total - counted).toFixed(3));
    // Nothing left to count: this cumulative amount was counted already (a replay).
    if (amount <= 0) {
      c.get('log').result = 'duplicate';
      c.get('log').reason = 'already_refunded';
      return c.json({ ok: true, status: 'duplicate' } satisfies TapResult, 200);
    }
  }
  const job: RefundJob = {
    refund: { refund_id: refund.refund_id, external_id, ...(amount === undefined ? {} : { amount }), ...(refund.currency ? { currency: refund.currency } : {}) },
  };
  if (test && webhookTestEventsOf(c.env) === 'test') {
    c.get('log').result = 'test';
    return c.json(refundTestAnswer(c, [job]), 200);
  }
  // No platform ids: those name the conversion, and a later refund must find it, not this refund.
  return answerDelivery(c, await deliver(c, createDelivery, { job, source: platform, signed: true }), 200);
}


/** A payment that only starts a subscription (a trial): its attribution is kept for the renewals, nothing is sent. */
async function remember(c: AppContext, platform: Platform, key: string, reference: string | undefined, test: boolean): Promise<Response> {
  refuseUnlessConfigured(c);
  const identifiers = identifiersFromReference(reference);
  if (!hasIdentifier(identifiers)) return unattributed(c);
  if (test) return nothingToSend(c);
  await rememberSubscription(c, platform, key, identifiers);
  return stored(c);
}

/** A test event that would only have been remembered: nothing would have been sent, and nothing is kept. */
function nothingToSend(c: AppContext): Response {
  c.get('log').result = 'test';
  return c.json({ ok: true, status: 'test', postbacks: [] } satisfies TapResult, 200);
}

function stored(c: AppContext): Response {
  c.get('log').result = 'stored';
  return c.json({ ok: true, status: 'stored' } satisfies TapResult, 200);
}

// The remembered attribution of a subscription (proxy/memory.ts), keyed by platform so
// that a Paddle and a Lemon Squeezy id can never meet. Recalling it extends it.
async function rememberSubscription(c: AppContext, platform: Platform, key: string, identifiers: Identifiers): Promise<void> {
  if (!hasIdentifier(identifiers) || !c.env.POSTBACK_LEDGER) return;
  await rememberMemory(c.env, platform, key, JSON.stringify(identifiers), subscriptionMemoryMsOf(c.env));
}

async function recallSubscription(c: AppContext, platform: Platform, key: string): Promise<Identifiers> {
  if (!c.env.POSTBACK_LEDGER) return {};
  const parsed = identifiersSchema.safeParse(parseJson(await recallMemory(c.env, platform, key, subscriptionMemoryMsOf(c.env))));
  return parsed.success ? parsed.data : {};
}
