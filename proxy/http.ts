// The HTTP edge every route shares: the app's types, the one JSON error shape,
// and reading what a request carries (its body, and who sent it).
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type * as z from 'zod/mini';
import { apiKeyOf, serverTokenOf, signingSecretOf } from './config';
import { logLine, scrub, type LogFields } from './log';
import { isPlainObject, parseJson } from './plain';

/** Hono's generics for this app: the worker's bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: { route: string; log: LogFields; server?: boolean };
}

export type AppContext = Context<AppEnv>;

/** The one JSON shape of every failure (docs/reference.md, "Answers"). */
interface ErrorBody {
  ok: false;
  error: string;
  issues?: { path: string; message: string }[];
  message?: string;
}

/** Throw this from any middleware or handler; `handleError` answers with it. */
export function jsonError(status: ContentfulStatusCode, body: ErrorBody, headers: HeadersInit = {}): HTTPException {
  return new HTTPException(status, { res: Response.json(body, { status, headers }), message: body.error });
}

/** 400 with one issue per field, each naming the field by its dotted path. */
export function invalidRequest(issues: { path: string; message: string }[]): HTTPException {
  return jsonError(400, { ok: false, error: 'invalid_request', issues });
}

/**
 * The single `app.onError`. An HTTPException keeps its status and JSON; anything
 * else is logged (scrubbed of every secret) and answered 500 without detail.
 */
export function handleError(error: Error, c: AppContext): Response {
  if (error instanceof HTTPException) {
    // The refusal's code (jsonError's message) goes on the request line (docs/operations.md, "Logs").
    const log = c.get('log');
    if (log) log.error = error.message;
    if (error.res?.headers.get('content-type')?.startsWith('application/json')) return error.res;
    return c.json({ ok: false, error: 'request_failed' } satisfies ErrorBody, error.status as ContentfulStatusCode);
  }
  const secrets = [apiKeyOf(c.env ?? {}), signingSecretOf(c.env ?? {}), serverTokenOf(c.env ?? {})];
  logLine('unexpected_error', { level: 'error', route: c.get('route'), error: scrub(`${error.name}: ${error.message}`, secrets) });
  return c.json({ ok: false, error: 'internal_error' } satisfies ErrorBody, 500);
}

/**
 * Media types a JSON body may arrive as. text/plain is what `sendBeacon` and a
 * `keepalive` fetch send without a CORS preflight (Fetch standard,
 * CORS-safelisted request-header).
 */
const JSON_MEDIA_TYPES = new Set(['application/json', 'text/plain']);

/** 415 unless the body is declared JSON or text, then 413 over `maxBytes`. */
export function jsonBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw jsonError(413, { ok: false, error: 'body_too_large', message: `the body is over ${maxBytes} bytes` });
    },
  });
  return async function jsonBody(c, next) {
    // RFC 9110 §8.3.1: the media type is case-insensitive and may carry parameters such as charset.
    const mediaType = (c.req.header('content-type') ?? '').split(';', 1)[0].trim().toLowerCase();
    if (!JSON_MEDIA_TYPES.has(mediaType)) {
      throw jsonError(415, { ok: false, error: 'unsupported_media_type', message: 'send JSON as application/json or text/plain' });
    }
    return limit(c, next);
  };
}

/** The body as a JSON object, or a 400 that says why not. */
export function jsonObject(text: string): Record<string, unknown> {
  const data = parseJson(text);
  if (data === undefined) throw invalidRequest([{ path: '', message: 'the body is not valid JSON' }]);
  if (!isPlainObject(data)) throw invalidRequest([{ path: '', message: 'must be a JSON object' }]);
  return data as Record<string, unknown>;
}

/** A schema's complaints as the answer names them: `{path, message}`, the path dotted (`meta_data.plan`). */
export function issuesOf(error: z.core.$ZodError, pathPrefix = ''): { path: string; message: string }[] {
  return error.issues.map((issue) => ({ path: pathPrefix + issue.path.map(String).join('.'), message: issue.message }));
}

/** Validates against a schema, or throws the 400 that names each field (`meta_data.plan`; '' for the body). */
export function parseWith<Schema extends z.ZodMiniType>(schema: Schema, data: unknown, pathPrefix = ''): z.output<Schema> {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  throw invalidRequest(issuesOf(parsed.error, pathPrefix));
}
