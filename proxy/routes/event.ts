// POST /convert and POST /customer: one event, from the browser or from the
// merchant's server, checked, attributed, and handed to delivery.
import type { Handler } from 'hono';
import { cookieIdentifiers, hasIdentifier, identifiersFromCookieValue, identifiersFromReference, mergeIdentifiers } from '../attribution';
import { apiKeyOf, configProblems, maxAmountOf, signingSecretOf, upstreamUrlsOf, webhooksOwnOrders } from '../config';
import type { CreateDelivery, DeliveryResult, Submission } from '../delivery';
import { cleanVisitor, invalidRequest, jsonError, jsonObject, parseWith, visitorOf, type AppContext, type AppEnv } from '../http';
import { logLine, scrub } from '../log';
import { conversionSchema, customerSchema, serverEventExtrasSchema, IDENTIFIER_FIELDS, type TapResult } from '../schema';
import { conversionJob, customerJob, stepsOf, type PostbackJob } from '../tapfiliate';
import { isServerEvent, signatureRequired, verifySigned } from '../trust';

export type EventKind = 'conversion' | 'customer';

/**
 * The handler for one kind of event. Browser events have passed the origin
 * policy and the rate limit (app.ts); server events, the server token.
 */
export function eventRoute(kind: EventKind, createDelivery: CreateDelivery): Handler<AppEnv> {
  return async function handleEvent(c) {
    const log = c.get('log');
    refuseUnlessConfigured(c);
    const body = jsonObject(await c.req.text());
    const { fields, signed } = await trustedFields(c, body);

    const event = kind === 'conversion' ? parseWith(conversionSchema, fields) : parseWith(customerSchema, fields);
    if ('external_id' in event) log.external_id = event.external_id;
    else log.customer_id = event.customer_id;
    if (isZeroAmount(event)) {
      log.result = 'ignored';
      log.reason = 'zero_amount';
      return c.json({ ok: true, status: 'ignored' } satisfies TapResult, 200);
    }
    const maxAmount = maxAmountOf(c.env);
    if ('amount' in event && event.amount !== undefined && !signed && !isServerEvent(c) && event.amount > maxAmount) {
      throw invalidRequest([{ path: 'amount', message: `must be at most ${maxAmount} unless the event is signed (MAX_AMOUNT)` }]);
    }

    // Attribution: the cookie (or a server event's copy of it, or a reference), then the body's identifiers.
    const extras = isServerEvent(c) ? parseWith(serverEventExtrasSchema, body) : undefined;
    const stored = extras
      ? extras.tap_data
        ? identifiersFromCookieValue(extras.tap_data)
        : identifiersFromReference(extras.reference)
      : cookieIdentifiers(c);
    const identifiers = mergeIdentifiers(stored, event);
    const visitor = extras ? cleanVisitor(extras.ip, extras.user_agent) : visitorOf(c);

    if (!hasIdentifier(identifiers)) {
      log.result = 'unattributed';
      return c.json({ ok: true, status: 'unattributed' } satisfies TapResult, 200);
    }
    const job = 'external_id' in event ? conversionJob(event, identifiers, visitor) : customerJob(event, identifiers, visitor);
    if (event.test) {
      log.result = 'test';
      return c.json(testAnswer(c, job), 200);
    }
    return answerDelivery(c, await deliver(c, createDelivery, { job, source: isServerEvent(c) ? 'server' : 'browser', signed }));
  };
}

/**
 * The fields an event is read from. A signed event's own fields win, and only
 * identifiers (and the test flag) are read from outside `signed`: attribution
 * belongs to the browser, the order to the merchant's server.
 */
async function trustedFields(c: AppContext, body: Record<string, unknown>): Promise<{ fields: Record<string, unknown>; signed: boolean }> {
  if (isServerEvent(c)) return { fields: body, signed: false };
  const secret = signingSecretOf(c.env);
  if (body.signed === undefined) {
    // A webhook owns the orders even in open trust: unsigned, this event could only pre-empt it.
    if (secret || webhooksOwnOrders(c.env)) throw signatureRequired();
    return { fields: body, signed: false };
  }
  if (!secret) {
    logLine('not_configured', { hint: 'a signed event arrived but TAPLINE_SIGNING_SECRET is not set: run `wrangler secret put TAPLINE_SIGNING_SECRET`' });
    throw jsonError(503, { ok: false, error: 'not_configured', message: 'this worker has no signing secret to verify signed events' });
  }
  const inside = await verifySigned(body, secret);
  const outside: Record<string, unknown> = {};
  for (const field of IDENTIFIER_FIELDS) if (body[field] !== undefined) outside[field] = body[field];
  if (body.test !== undefined) outside.test = body.test;
  return { fields: { ...outside, ...inside }, signed: true };
}

/**
 * A conversion whose amount is 0 is not a sale, on every route alike: it is
 * answered `200 ignored` and nothing is sent or recorded (docs/reference.md,
 * "Zero amounts"). One without an amount is a conversion Tapfiliate values itself.
 */
export function isZeroAmount(event: object): boolean {
  return 'amount' in event && event.amount === 0;
}

/** 503 not_configured, with the reason in the log, while a setting is missing or unsafe. */
export function refuseUnlessConfigured(c: AppContext): void {
  const problems = configProblems(c.env);
  if (problems.length === 0) return;
  logLine('not_configured', { hints: problems });
  throw jsonError(503, { ok: false, error: 'not_configured' });
}

/** What a test-mode event would have sent, without the key. Nothing goes upstream, nothing is recorded. */
export function testAnswer(c: AppContext, job: PostbackJob): TapResult {
  const urls = upstreamUrlsOf(c.env);
  return { ok: true, status: 'test', postbacks: stepsOf(job).map((kind) => ({ kind, url: urls[kind], body: job[kind] })) };
}

/** Hands the event to delivery; a deployment without the ledger has no delivery at all. */
export async function deliver(c: AppContext, createDelivery: CreateDelivery, submission: Submission): Promise<DeliveryResult> {
  const delivery = createDelivery(c.env);
  if (!delivery) {
    logLine('not_configured', { hints: ['POSTBACK_LEDGER must be bound (wrangler.toml)'] });
    throw jsonError(503, { ok: false, error: 'not_configured' });
  }
  try {
    return await delivery.submit(submission);
  } catch (error) {
    logLine('delivery_unavailable', { level: 'error', error: scrub(error instanceof Error ? error.message : 'unknown', [apiKeyOf(c.env)]) });
    return { status: 'unavailable' };
  }
}

/**
 * The caller's answer. Tapfiliate's own words went to the log; the caller only
 * learns that it refused: a 422 for a browser or a server, a 200 for a webhook
 * (a platform retries anything but a 2xx, and asking again changes nothing).
 */
export function answerDelivery(c: AppContext, result: DeliveryResult, rejectedStatus: 200 | 422 = 422): Response {
  const log = c.get('log');
  log.result = result.status;
  switch (result.status) {
    case 'sent':
    case 'duplicate':
    case 'reversed':
    case 'adjusted':
    case 'unattributed':
    case 'ignored':
      return c.json({ ok: true, status: result.status } satisfies TapResult, 200);
    case 'queued':
      return c.json({ ok: true, status: 'queued' } satisfies TapResult, 202);
    case 'rejected':
      log.upstream_status = result.upstreamStatus;
      return c.json({ ok: false, error: 'upstream_rejected' } satisfies TapResult, rejectedStatus);
    case 'unavailable':
      return c.json({ ok: false, error: 'temporarily_unavailable', message: 'try again shortly' } satisfies TapResult, 503, {
        'retry-after': '30',
      });
  }
}
