// What an event is answered, each answer written once and shared by the event,
// click, refund and webhook routes: the configuration check, test mode, the
// zero-amount rule, ignored, unattributed, stored, the signature refusals, the
// hand-off to delivery and the caller's answer (docs/reference.md, "Routes and answers").
import type { TapResult } from '../../common/contract';
import { configProblems, LEDGER_UNBOUND, secretHint, upstreamUrlsOf } from '../config';
import { stepsOf, type PostbackJob } from '../tapfiliate';
import { conversionSchema, identifiersSchema } from '../events/schema';
import type { Answered, CreateDelivery, DeliveryResult, RefundJob, Submission } from '../delivery';
import { logLine, scrub } from '../lib/log';
import { secretsOf } from '../platforms';
import { invalidRequest, jsonError, type AppContext } from './context';

/**
 * A conversion whose amount is 0 is not a sale, on every route alike: it is
 * answered `200 ignored` and nothing is sent (docs/reference.md, "Zero
 * amounts"); a server event's or a webhook's is recorded with that reason, and
 * never blocks a later paid event. One without an amount is a conversion
 * Tapfiliate values itself.
 */
export function isZeroAmount(event: object): boolean {
  return 'amount' in event && event.amount === 0;
}

/** 503 not_configured, with the reasons in the log. */
export function notConfigured(hints: string[], message?: string) {
  logLine('not_configured', { hints });
  return jsonError(503, { ok: false, error: 'not_configured', ...(message && { message }) });
}

/** 503 not_configured, with the reason in the log, while a setting is missing or unsafe. */
export function refuseUnlessConfigured(c: AppContext): void {
  const problems = configProblems(c.env);
  if (problems.length > 0) throw notConfigured(problems);
}

/** 503 not_configured without the ledger, for what reads it alone (the operator API); everything else is refused by refuseUnlessConfigured. */
export function refuseUnlessLedger(c: AppContext): void {
  if (!c.env.POSTBACK_LEDGER) throw notConfigured([LEDGER_UNBOUND], LEDGER_UNBOUND);
}

/** A platform's secret, or 503 not_configured (the platform retries until the operator sets it). */
export function requireSecret(secret: string | undefined, name: string): string {
  if (secret) return secret;
  throw notConfigured([secretHint(name)]);
}

/** The 400 of a webhook whose signature is missing, wrong or stale. */
export function invalidSignature(reason: string) {
  return jsonError(400, { ok: false, error: 'invalid_signature', message: reason.replace(/_/g, ' ') });
}

const SIGNED_EVENT_REFUSALS = {
  signature_required: 'this shop accepts only signed events: pass { signed, signature } from your server',
  invalid_signature: 'the signature does not match `signed` (HMAC-SHA256 with TAPLINE_SIGNING_SECRET)',
  signature_expired: 'the signed event is past its exp',
};

/** The 401 of a browser event whose signature is missing, wrong or past its exp. */
export function signedEventRefused(error: keyof typeof SIGNED_EVENT_REFUSALS) {
  return jsonError(401, { ok: false, error, message: SIGNED_EVENT_REFUSALS[error] });
}

/** Answered with a 2xx and `status`, the reason (if any) in the log line. */
function okAnswer(c: AppContext, status: 'ignored' | 'unattributed' | 'stored' | 'duplicate', reason?: string, extra: object = {}): Response {
  const log = c.get('log');
  log.result = status;
  if (reason) log.reason = reason;
  return c.json({ ok: true, status, ...extra } as TapResult, 200);
}

/**
 * How to record an event answered without a postback (docs/operations.md,
 * "Console"): the ledger keeps it with its reason, so the operator can see why
 * an order was not credited. Left out where nothing is recorded: a test event,
 * a browser event answered `ignored`, an event without an id (docs/reference.md, "Routes and answers").
 */
export interface Note {
  createDelivery: CreateDelivery;
  event: Omit<Answered, 'status' | 'reason'>;
}

/** An event that is no sale to send (a zero amount; a signed webhook we do not handle): a 2xx, so a platform stops sending the same bytes. */
export async function ignored(c: AppContext, reason: string, note?: Note): Promise<Response> {
  await record(c, note, 'ignored', reason);
  return okAnswer(c, 'ignored', reason);
}

/**
 * No identifier (or, for a refund, no order to take it from): Tapfiliate could
 * not attribute it, so nothing is sent; with a note, it is recorded as
 * `unattributed` with its reason.
 */
export async function unattributed(c: AppContext, note?: Note, reason = 'no_attribution'): Promise<Response> {
  await record(c, note, 'unattributed', reason);
  return okAnswer(c, 'unattributed', reason === 'no_attribution' ? undefined : reason);
}

/**
 * Records how an event was answered without a postback (as `ignored` and
 * `unattributed` do), for an answer that another step gives. One Durable Object
 * request, and the answer does not wait on its success: a ledger that cannot be
 * reached loses the record, never the caller's answer.
 */
export async function record(c: AppContext, note: Note | undefined, status: Answered['status'], reason: string): Promise<void> {
  const delivery = note?.createDelivery(c.env);
  if (!note || !delivery) return;
  try {
    await delivery.note({ ...note.event, status, reason });
  } catch (error) {
    logLine('answer_not_recorded', { level: 'warn', reason, error: scrub(error instanceof Error ? error.message : 'unknown', secretsOf(c.env)) });
  }
}
/** Kept, not sent: a landing's cookie, a subscription's attribution. */
export const stored = (c: AppContext, extra: { click_id?: string } = {}) => okAnswer(c, 'stored', undefined, extra);
/** A repeat the ledger has counted already. */
export const duplicate = (c: AppContext, reason: string) => okAnswer(c, 'duplicate', reason);

/** What a test-mode event would have sent, without the key: nothing goes upstream, nothing is recorded. */
export function testAnswer(c: AppContext, postbacks: Extract<TapResult, { status: 'test' }>['postbacks']): Response {
  c.get('log').result = 'test';
  return c.json({ ok: true, status: 'test', postbacks } satisfies TapResult, 200);
}

/** The postbacks of a test-mode job, as they would have gone. */
export function jobPostbacks(c: AppContext, job: PostbackJob) {
  const urls = upstreamUrlsOf(c.env);
  return stepsOf(job).map((kind) => ({ kind, url: shownUrl(urls[kind]), body: job[kind] }));
}

/**
 * An upstream URL as a test answer may show it to anyone: without a user, a password or a
 * query, where an operator might have put a credential (the key itself goes in a header).
 */
function shownUrl(url: string | undefined): string {
  if (!URL.canParse(url ?? '')) return '';
  const parsed = new URL(url!);
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  return parsed.href;
}

/** What test-mode refunds would do. A platform refund whose conversion is unknown has no external_id to show. */
export function refundPostbacks(c: AppContext, jobs: RefundJob[]) {
  const url = shownUrl(upstreamUrlsOf(c.env).rest);
  const body = ({ external_id, ...rest }: RefundJob['refund']) => (external_id ? { external_id, ...rest } : rest);
  return jobs.map((job) => ({ kind: 'refund', url, body: body(job.refund) }));
}

const TEMPORARILY_UNAVAILABLE = { ok: false, error: 'temporarily_unavailable', message: 'try again shortly' } as const satisfies TapResult;

/** The ledger could not be reached: logged, scrubbed of every secret. */
function logUnavailable(c: AppContext, error: unknown): void {
  logLine('delivery_unavailable', { level: 'error', error: scrub(error instanceof Error ? error.message : 'unknown', secretsOf(c.env)) });
}

/** 503 temporarily_unavailable: the ledger could not be reached; the caller sends it again. */
export function temporarilyUnavailable(c: AppContext, error: unknown) {
  logUnavailable(c, error);
  return jsonError(503, TEMPORARILY_UNAVAILABLE, { 'retry-after': '30' });
}

/** Hands the event to delivery (the route has refused first when it is not configured). */
export async function deliver(c: AppContext, createDelivery: CreateDelivery, submission: Submission): Promise<DeliveryResult> {
  try {
    return await createDelivery(c.env).submit(submission);
  } catch (error) {
    logUnavailable(c, error);
    return { status: 'unavailable' };
  }
}

/**
 * The caller's answer. Tapfiliate's own words went to the log; the caller only
 * learns that it refused: a 422 for a browser or a server, a 200 for a webhook
 * (a platform retries anything but a 2xx, and asking again changes nothing).
 */
export function answerDelivery(c: AppContext, result: DeliveryResult, rejectedStatus: 200 | 422 = 422): Response | Promise<Response> {
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
    case 'currency_mismatch':
      // A server is told which field is wrong; a platform is answered 2xx, so it stops sending the same event (the webhook route records it).
      if (rejectedStatus === 200) return ignored(c, 'currency_mismatch');
      throw invalidRequest([{ path: 'currency', message: `must be ${result.currency}, the currency of the refunded conversion` }]);
    case 'unavailable':
      return c.json(TEMPORARILY_UNAVAILABLE, 503, { 'retry-after': '30' });
  }
}

/**
 * A platform's order by the browser's rules, field by field (docs/reference.md, "Fields and ids"):
 * an optional field that breaks the id rules (a 300-character discount code, an email
 * with a control character) is left out and named in the log line's `dropped`; the rest
 * of the order still goes. Required fields are checked by the schema afterwards.
 */
export function withoutInvalidOptionals<T extends object>(c: AppContext, fields: T): T {
  const kept: Record<string, unknown> = { ...(fields as Record<string, unknown>) };
  for (const field of OPTIONAL_ORDER_FIELDS) {
    if (kept[field] === undefined || OPTIONAL_FIELD_SCHEMAS[field].safeParse(kept[field]).success) continue;
    delete kept[field];
    const log = c.get('log');
    log.dropped = [...(log.dropped ?? []), field];
  }
  return kept as T;
}

const OPTIONAL_FIELD_SCHEMAS = { ...identifiersSchema.shape, customer_id: conversionSchema.shape.customer_id };
const OPTIONAL_ORDER_FIELDS = Object.keys(OPTIONAL_FIELD_SCHEMAS) as (keyof typeof OPTIONAL_FIELD_SCHEMAS)[];
