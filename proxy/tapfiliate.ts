// Everything Tapline knows or assumes about Tapfiliate's APIs, in one place.
// The local stand-in (test/postback/server.mjs) answers the same way; when
// Tapfiliate's real behaviour turns out different, this file is the one edit.
//
// Documented (Tapfiliate's S2S postback docs and REST API reference):
//   - postback v1.7: POST JSON to /1.7/pb/cus/c/ and /1.7/pb/con/c/ with X-Api-Key;
//   - a conversion needs external_id and one identifier, read in the order
//     coupon, click_id, referral_code, asset_id + source_id;
//   - REST v1.6 `POST /clicks/` with referral_code, ip, user_agent,
//     landing_page, referrer answers the click with its `id`.
// Assumed (not published):
//   - errors are JSON with a `message` (a 401 without a key is HTML);
//   - a repeated id is a 4xx saying "Conversion with external_id … already
//     exists" (or "Customer with customer_id …"), or a 409. See DUPLICATE_MESSAGE.
//
// Refunds (REST v1.6 under TAPFILIATE_REST_URL, the same X-Api-Key; docs/reference.md, "Refunds").
// [doc] = in Tapfiliate's REST reference (tapfiliate.com/docs/rest/), as a public OpenAPI
// rendering of it gives it (api-evangelist/tapfiliate), not read on tapfiliate.com itself;
// [clients] = what public API clients send and read; [guess] = chosen here. None of it has
// been checked against a live account: the first thing to verify before relying on refunds.
//   - [doc]     `GET conversions/?external_id=<id>` lists conversions (a JSON array, paginated
//               with a Link header; one external_id is one conversion, so one page is enough);
//   - [clients] the list filters by `external_id` (TapfiliateNet, tapfiliate-api for Haskell,
//               and several merchants' scripts call it so);
//   - [clients] an unknown external_id is an empty list `[]` (scripts test `length === 0`);
//               [guess] a 404 means the same, and both are `unattributed`;
//   - [doc]     a conversion carries `id`, `external_id`, `amount` and `commissions`, each with
//               `id`, `amount` and `approved`; [clients] ids are integers (TapfiliateNet,
//               Haskell) or strings: both are read, and an id must look like one before it
//               goes into a path; [guess] `approved` is true, false (disapproved) or null
//               (pending), and amounts may arrive as numeric strings;
//   - [doc]     `DELETE commissions/<id>/approved/` disapproves a commission (1FF's PHP SDK for
//               v1.6 uses this path; clients of v1.4 used `/approval/`); [guess] it answers 2xx
//               with the commission, and disapproving a pending commission works the same;
//               an already disapproved commission (approved === false) is not sent again;
//   - [doc]     `PATCH commissions/<id>/` with `{amount}` sets a commission's amount;
//               [clients] `comment` goes with it (TapfiliateNet's CommissionUpdateRequest);
//               [guess] it answers 2xx with the commission;
//   - [guess]   failures answer like postbacks: 5xx/408/429 are worth retrying, other 4xx are
//               refusals with a JSON `message`.
import { scrub } from './lib/log';
import { isPlainObject, withoutUndefined } from './lib/plain';

/** The endpoints, as the defaults of their settings (proxy/config.ts). */
export { TAPFILIATE_URLS } from './config';

/** Who the shopper is, as the edge saw them; left out, not sent empty, when unknown. */
export interface Visitor {
  ip?: string;
  user_agent?: string;
}

/** The identifiers Tapfiliate attributes by (documented; read in the order coupon, click_id, referral_code, asset_id + source_id). */
export interface PostbackIdentifiers {
  coupon?: string;
  click_id?: string;
  referral_code?: string;
  asset_id?: string;
  source_id?: string;
}

/** meta_data as Tapfiliate takes it: at most 10 flat keys (proxy/events/schema.ts checks them). */
export type MetaData = Record<string, string | number | boolean>;

/** JSON body of the customer postback. */
type CustomerPostback = { customer_id: string; meta_data?: MetaData } & PostbackIdentifiers & Visitor;
/** JSON body of the conversion postback. */
export type ConversionPostback = {
  external_id: string;
  amount?: number;
  currency?: string;
  customer_id?: string;
  meta_data?: MetaData;
} & PostbackIdentifiers &
  Visitor;

export type PostbackKind = 'customer' | 'conversion';

/**
 * One unit of delivery: with a customer_id, the customer postback goes first
 * (Tapfiliate must know the customer before a conversion names it), then the
 * conversion. A sign-up is a customer postback alone.
 */
export interface PostbackJob {
  customer?: CustomerPostback;
  conversion?: ConversionPostback;
}

/** The postbacks of a job in the order they go out. */
export function stepsOf(job: PostbackJob): PostbackKind[] {
  return (['customer', 'conversion'] as const).filter((kind) => job[kind] !== undefined);
}

/**
 * How Tapfiliate says an id was already recorded, per postback kind. Narrow on
 * purpose: any other 4xx ("Coupon already expired", or a conversion refused
 * because of its customer) is a refusal, and reading it as a duplicate would
 * lose the conversion.
 */
export const DUPLICATE_MESSAGE: Record<PostbackKind, RegExp> = {
  conversion: /^conversion with external[_ ]id .+ already exists\.?$/i,
  customer: /^customer with customer[_ ]id .+ already exists\.?$/i,
};

/**
 * How one postback attempt ended.
 * - `ok`: Tapfiliate took it (2xx, or "already exists" for a customer).
 * - `duplicate`: Tapfiliate already has a conversion with this external_id.
 * - `rejected`: any other answer that sending the same body again will not change.
 * - `retry`: 5xx, 408, 429, a timeout or a network error.
 */
export type PostbackOutcome =
  | { result: 'ok'; status: number }
  | { result: 'duplicate'; status: number }
  | { result: 'rejected'; status: number; message: string }
  | { result: 'retry'; status?: number; reason: string; retryAfterSeconds?: number };

/** A Retry-After beyond this is treated as this: a queue retry is cheap, a lost hour is not. */
const MAX_RETRY_AFTER_SECONDS = 3600;
/** Tapfiliate normally answers in well under a second; 5 s leaves room without holding a request. */
const UPSTREAM_TIMEOUT_MS = 5000;

interface UpstreamOptions {
  url: string;
  apiKey: string;
  timeoutMs?: number;
}

/**
 * POSTs JSON with the key. Redirects are never followed: a 3xx would carry
 * the key and the shopper's IP to wherever it points (and a 302 would turn
 * the POST into a GET that looks delivered).
 */
async function postJson({ url, apiKey, timeoutMs = UPSTREAM_TIMEOUT_MS }: UpstreamOptions, body: object): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
}

/** Makes one postback attempt and classifies Tapfiliate's answer. */
export async function sendPostback(kind: PostbackKind, body: object, options: UpstreamOptions): Promise<PostbackOutcome> {
  let response: Response;
  try {
    response = await postJson(options, body);
  } catch (error) {
    return { result: 'retry', reason: isTimeout(error) ? 'timeout' : 'network' };
  }
  return classifyResponse(kind, response, options.apiKey);
}

/** Maps Tapfiliate's answer to an outcome. Reads the body only for a 4xx, and keeps one safe line of it. */
export async function classifyResponse(kind: PostbackKind, response: Response, apiKey: string): Promise<PostbackOutcome> {
  const { status } = response;
  if (status >= 200 && status < 300) {
    await discardBody(response);
    return { result: 'ok', status };
  }
  const failed = await retryOrRedirect(response);
  if (failed) return failed;
  const message = await upstreamMessage(response, apiKey);
  if (status === 409 || DUPLICATE_MESSAGE[kind].test(message)) {
    return kind === 'customer' ? { result: 'ok', status } : { result: 'duplicate', status };
  }
  return { result: 'rejected', status, message: message || `Tapfiliate answered ${status}` };
}

/** The body of `POST /1.6/clicks/`. */
export interface ClickBody extends Visitor {
  referral_code: string;
  source_id?: string;
  landing_page?: string;
  referrer?: string;
}

/**
 * The answers every call to Tapfiliate reads alike: a 408, 429 or 5xx is
 * retried (not sooner than its Retry-After); a redirect, or an opaque one
 * (status 0), means a wrong URL and is refused, never followed. Undefined for
 * the answers each caller reads itself.
 */
async function retryOrRedirect(
  response: Response,
): Promise<{ result: 'retry'; status: number; reason: string; retryAfterSeconds?: number } | { result: 'rejected'; status: number; message: string } | undefined> {
  const { status } = response;
  if (status === 408 || status === 429 || status >= 500) {
    await discardBody(response);
    return { result: 'retry', status, reason: `http_${status}`, retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')) };
  }
  if (status < 400) {
    await discardBody(response);
    return { result: 'rejected', status, message: `Tapfiliate answered with a redirect (${status}); redirects are never followed` };
  }
  return undefined;
}

/**
 * Creates a Tapfiliate click and returns its id, or undefined when Tapfiliate
 * refused or did not answer: the cookie is set either way.
 */
export async function createClick(click: ClickBody, options: UpstreamOptions): Promise<{ id?: string; status?: number; message?: string }> {
  let response: Response;
  try {
    response = await postJson(options, withoutUndefined(click));
  } catch (error) {
    return { message: isTimeout(error) ? 'timeout' : 'network' };
  }
  if (response.status < 200 || response.status >= 300) {
    return { status: response.status, message: await upstreamMessage(response, options.apiKey) };
  }
  let id: unknown;
  try {
    id = ((await response.json()) as { id?: unknown }).id;
  } catch {
    id = undefined;
  }
  const text = typeof id === 'number' || typeof id === 'string' ? String(id).trim() : '';
  return /^[A-Za-z0-9_-]{1,100}$/.test(text) ? { id: text, status: response.status } : { status: response.status, message: 'no click id' };
}

/** A commission as Tapline reads it: the id that goes into a path, and the amount. */
export interface TapfiliateCommission {
  id: string;
  amount: number;
  /** true approved, false disapproved, null pending (or not said). */
  approved: boolean | null;
}

/** The conversion Tapfiliate holds for an external_id. */
interface TapfiliateConversion {
  id: string;
  external_id: string;
  amount?: number;
  commissions: TapfiliateCommission[];
}

/**
 * How one REST call ended, classified like a postback: `retry` for 5xx, 408,
 * 429, a timeout or a network error; `not_found` for a 404; `rejected` for any
 * other answer that asking again will not change (a 4xx, a redirect, an answer
 * that cannot be read).
 */
export type RestOutcome<T> =
  | { result: 'ok'; status: number; value: T }
  | { result: 'not_found'; status: 404 }
  | { result: 'rejected'; status: number; message: string }
  | { result: 'retry'; status?: number; reason: string; retryAfterSeconds?: number };

export interface RestOptions {
  /** TAPFILIATE_REST_URL, e.g. https://api.tapfiliate.com/1.6/ */
  baseUrl: string;
  apiKey: string;
  timeoutMs?: number;
}

/** An id that may go into a URL path: what Tapfiliate's ids look like, and nothing that could change the path. */
const REST_ID = /^[A-Za-z0-9_-]{1,100}$/;

/** The conversion with this external_id and its commissions; `value` is null when Tapfiliate has none. */
export async function findTapfiliateConversion(externalId: string, options: RestOptions): Promise<RestOutcome<TapfiliateConversion | null>> {
  const outcome = await restCall('GET', `conversions/?external_id=${encodeURIComponent(externalId)}`, options);
  if (outcome.result === 'not_found') return { result: 'ok', status: 404, value: null };
  if (outcome.result !== 'ok') return outcome;
  if (!Array.isArray(outcome.value)) return unreadable(outcome.status, 'the conversions lookup did not answer a list');
  // The filter is Tapfiliate's; the exact match is checked here anyway.
  const found = outcome.value.find((item) => isPlainObject(item) && String(item.external_id) === externalId);
  if (found === undefined) return { result: 'ok', status: outcome.status, value: null };
  const conversion = readConversion(found);
  return conversion ? { result: 'ok', status: outcome.status, value: conversion } : unreadable(outcome.status, 'a conversion without a readable id or commissions');
}

/** Disapproves one commission. */
export async function disapproveCommission(commissionId: string, options: RestOptions): Promise<RestOutcome<null>> {
  return withoutValue(await restCall('DELETE', `commissions/${pathId(commissionId)}/approved/`, options));
}

/** Sets one commission's amount, with a comment the affiliate can read. */
export async function setCommissionAmount(commissionId: string, amount: number, comment: string, options: RestOptions): Promise<RestOutcome<null>> {
  return withoutValue(await restCall('PATCH', `commissions/${pathId(commissionId)}/`, options, { amount, comment }));
}

function pathId(id: string): string {
  if (!REST_ID.test(id)) throw new Error('a commission id that cannot go into a path');
  return id;
}

function withoutValue(outcome: RestOutcome<unknown>): RestOutcome<null> {
  return outcome.result === 'ok' ? { result: 'ok', status: outcome.status, value: null } : outcome;
}

function unreadable(status: number, message: string): RestOutcome<never> {
  return { result: 'rejected', status, message };
}

/**
 * One REST call with the key. Like postbacks, redirects are never followed (a
 * 3xx would carry the key elsewhere), and nothing waits past the timeout.
 */
async function restCall(method: 'GET' | 'DELETE' | 'PATCH', path: string, options: RestOptions, body?: object): Promise<RestOutcome<unknown>> {
  const { apiKey, timeoutMs = UPSTREAM_TIMEOUT_MS } = options;
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  let response: Response;
  try {
    response = await fetch(new URL(path, base), {
      method,
      headers: { accept: 'application/json', 'x-api-key': apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return { result: 'retry', reason: isTimeout(error) ? 'timeout' : 'network' };
  }
  const { status } = response;
  if (status >= 200 && status < 300) {
    let text: string;
    try {
      text = await response.text();
    } catch {
      return { result: 'retry', status, reason: 'network' };
    }
    if (!text.trim()) return { result: 'ok', status, value: null };
    try {
      return { result: 'ok', status, value: JSON.parse(text) };
    } catch {
      return { result: 'rejected', status, message: `Tapfiliate answered ${status} with a body that is not JSON` };
    }
  }
  const failed = await retryOrRedirect(response);
  if (failed) return failed;
  const message = await upstreamMessage(response, apiKey);
  if (status === 404) return { result: 'not_found', status };
  return { result: 'rejected', status, message: message || `Tapfiliate answered ${status}` };
}

function readConversion(item: Record<string, unknown>): TapfiliateConversion | null {
  const id = readId(item.id);
  const list = item.commissions ?? [];
  if (id === undefined || !Array.isArray(list)) return null;
  const commissions: TapfiliateCommission[] = [];
  for (const entry of list) {
    if (!isPlainObject(entry)) return null;
    const commissionId = readId(entry.id);
    const amount = readAmount(entry.amount);
    if (commissionId === undefined || amount === undefined) return null;
    commissions.push({ id: commissionId, amount, approved: typeof entry.approved === 'boolean' ? entry.approved : null });
  }
  return withoutUndefined({ id, external_id: String(item.external_id), amount: readAmount(item.amount), commissions });
}

function readId(value: unknown): string | undefined {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : typeof value === 'string' ? value.trim() : '';
  return REST_ID.test(text) ? text : undefined;
}

function readAmount(value: unknown): number | undefined {
  const amount = typeof value === 'number' ? value : typeof value === 'string' && value.trim() ? Number(value) : Number.NaN;
  return Number.isFinite(amount) ? amount : undefined;
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
 * The one place Tapfiliate's words are made safe: only a `message`-like
 * field of a JSON body, one short line, the key removed in any case or
 * encoding. It goes to the log, never to a caller.
 */
export async function upstreamMessage(response: Response, apiKey: string): Promise<string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await response.text());
  } catch {
    return '';
  }
  return scrub(pickMessage(parsed), [apiKey]);
}

function pickMessage(parsed: unknown): string {
  if (!parsed || typeof parsed !== 'object') return '';
  const record = parsed as Record<string, unknown>;
  for (const key of ['message', 'error', 'detail']) {
    if (typeof record[key] === 'string') return record[key];
  }
  if (Array.isArray(record.errors) && record.errors.length > 0) {
    const first = record.errors[0];
    return typeof first === 'string' ? first : pickMessage(first);
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
