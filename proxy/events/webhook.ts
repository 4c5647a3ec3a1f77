// What every payment-platform webhook answers alike (Stripe, Shopify, Paddle,
// Lemon Squeezy): a missing secret, a bad signature, an event that is not a
// sale, no attribution; and a platform order read by the browser's field rules.
import type { AppContext } from '../http';
import { jsonError } from '../http';
import { logLine } from '../log';
import { secretHint } from '../config';
import type { TapResult } from '../../common/contract';
import { conversionSchema, identifiersSchema } from '../schema';

/** The platform's secret, or 503 not_configured (the platform retries until the operator sets it). */
export function requireSecret(secret: string | undefined, name: string): string {
  if (secret) return secret;
  logLine('not_configured', { hints: [secretHint(name)] });
  throw jsonError(503, { ok: false, error: 'not_configured' });
}

export function invalidSignature(reason: string) {
  return jsonError(400, { ok: false, error: 'invalid_signature', message: reason.replace(/_/g, ' ') });
}

/** A signed event that is no sale to send: a 2xx, so the platform stops sending the same bytes; the reason goes to the log. */
export function ignored(c: AppContext, reason: string): Response {
  c.get('log').result = 'ignored';
  c.get('log').reason = reason;
  return c.json({ ok: true, status: 'ignored' } satisfies TapResult, 200);
}

export function unattributed(c: AppContext): Response {
  c.get('log').result = 'unattributed';
  return c.json({ ok: true, status: 'unattributed' } satisfies TapResult, 200);
}

/**
 * The platform's order by the browser's rules, field by field (shared/contract.md 5a):
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
