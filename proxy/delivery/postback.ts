import type { Env } from '../env';
import { apiKeyOf, DEFAULT_CONVERSION_URL, DEFAULT_CUSTOMER_URL } from '../settings';
import type { ConversionPostback, CustomerPostback } from './types';


export type PostbackKind = 'customer' | 'conversion';

/**
 * How one postback attempt ended.
 * - `ok`: Tapfiliate took it (2xx, or "already exists" for a customer).
 * - `duplicate`: Tapfiliate already has a conversion with this external_id.
 * - `rejected`: any other 4xx; sending the same body again will not help.
 * - `retry`: 5xx, 429, timeout or network error; the same body may succeed later.
 */
export type PostbackOutcome =
  | { result: 'ok'; status: number }
  | { result: 'duplicate'; status: number }
  | { result: 'rejected'; status: number; message: string }
  | { result: 'retry'; status?: number; reason: string; retryAfterSeconds?: number };

export interface PostbackAttempt {
  outcome: PostbackOutcome;
  ms: number;
}

export interface PostbackSenderOptions {
  env: Env;
  /** Injected for unit tests; the real one otherwise. */
  fetch?: typeof fetch;
  /** Tapfiliate normally answers in well under a second; 5 s leaves room without holding a request forever. */
  timeoutMs?: number;
}

export type SendPostback = (
  kind: PostbackKind,
  body: CustomerPostback | ConversionPostback,
) => Promise<PostbackAttempt>;

/**
 * Tapfiliate answers a repeated conversion external_id (and a known customer_id)
 * with a 4xx whose message says so; there is no dedicated status code for it.
 */
const ALREADY_EXISTS = /already|duplicate|exists|not unique|been used/i;

/** A Retry-After beyond this is treated as this: a queue retry is cheap, a lost hour is not. */
const MAX_RETRY_AFTER_SECONDS = 3600;

const MAX_MESSAGE_LENGTH = 200;

/**
 * Creates the function that makes one postback attempt and classifies the answer.
 *
 * @example
 * const send = createPostbackSender({ env });
 * const { outcome, ms } = await send('conversion', { external_id: 'ORD005', ip, user_agent, referral_code: 'abc' });
 */
export function createPostbackSender(options: PostbackSenderOptions): SendPostback {
  const { env, fetch: fetchImpl = (input, init) => fetch(input, init), timeoutMs = 5000 } = options;
  const urls: Record<PostbackKind, string> = {
    customer: env.POSTBACK_CUSTOMER_URL || DEFAULT_CUSTOMER_URL,
    conversion: env.POSTBACK_CONVERSION_URL || DEFAULT_CONVERSION_URL,
  };

  return async function sendPostback(kind, body) {
    const started = Date.now();
    let response: Response;
    try {
      response = await fetchImpl(urls[kind], {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKeyOf(env) ?? '' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const reason = isTimeout(error) ? 'timeout' : 'network';
      return { outcome: { result: 'retry', reason }, ms: Date.now() - started };
    }
    const outcome = await classifyResponse(kind, response);
    return { outcome, ms: Date.now() - started };
  };
}

/** Maps Tapfiliate's answer to an outcome. Reads the body only for a 4xx, and keeps one line of it. */
export async function classifyResponse(kind: PostbackKind, response: Response): Promise<PostbackOutcome> {
  const { status } = response;
  if (status >= 200 && status < 300) {
    await discardBody(response);
    return { result: 'ok', status };
  }
  if (status === 429 || status >= 500 || status < 200) {
    await discardBody(response);
    return { result: 'retry', status, reason: `http_${status}`, retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')) };
  }
  if (status >= 300 && status < 400) {
    // fetch follows redirects, so a 3xx here means a loop or a misconfigured URL: not the body's fault.
    await discardBody(response);
    return { result: 'retry', status, reason: `http_${status}` };
  }
  const message = await readOneLineMessage(response);
  if (status === 409 || ALREADY_EXISTS.test(message)) {
    return kind === 'customer' ? { result: 'ok', status } : { result: 'duplicate', status };
  }
  return { result: 'rejected', status, message: message || `Tapfiliate answered ${status}` };
}

/** RFC 9110 §10.2.3: Retry-After is either delay-seconds or an HTTP-date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  let seconds: number;
  if (/^\d+$/.test(trimmed)) seconds = Number(trimmed);
  else {
    const date = Date.parse(trimmed);
    if (Number.isNaN(date)) return undefined;
    seconds = Math.ceil((date - now) / 1000);
  }
  return Math.min(Math.max(seconds, 0), MAX_RETRY_AFTER_SECONDS);
}

/**
 * Tapfiliate's errors are JSON `{"message": "..."}` (401 without a key is HTML).
 * Only a message field is kept, flattened to one short line: never the raw body.
 */
async function readOneLineMessage(response: Response): Promise<string> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    return '';
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return '';
  }
  const message = pickMessage(parsed);
  return message.replace(/\s+/g, ' ').trim().slice(0, MAX_MESSAGE_LENGTH);
}

function pickMessage(parsed: unknown): string {
  if (!parsed || typeof parsed !== 'object') return '';
  const record = parsed as Record<string, unknown>;
  for (const key of ['message', 'error', 'detail']) {
    if (typeof record[key] === 'string') return record[key];
  }
  if (Array.isArray(record.errors) && record.errors.length > 0) {
    const first = record.errors[0];
    if (typeof first === 'string') return first;
    return pickMessage(first);
  }
  return '';
}

async function discardBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Nothing to free.
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}
