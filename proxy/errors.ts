import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { logLine } from './log';
import { apiKeyOf } from './settings';
import type { AppEnv } from './app-env';

/** The one JSON shape of every failure the proxy answers (contract §5). */
export interface ErrorBody {
  ok: false;
  error: string;
  issues?: { path: string; message: string }[];
  message?: string;
}

/** Throw this from any middleware or handler; `handleError` turns it into the JSON answer. */
export function jsonError(status: ContentfulStatusCode, body: ErrorBody, headers: HeadersInit = {}): HTTPException {
  return new HTTPException(status, { res: Response.json(body, { status, headers }), message: body.error });
}

const ERROR_BY_STATUS: Record<number, string> = {
  400: 'invalid_request',
  403: 'origin_not_allowed',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/**
 * The single `app.onError`. An HTTPException keeps its status and gets the JSON
 * shape; anything else is a 500 that is logged and echoes nothing.
 */
export function handleError(error: Error, c: Context<AppEnv>): Response {
  if (error instanceof HTTPException) {
    const res = error.res;
    if (res?.headers.get('content-type')?.startsWith('application/json')) return res;
    const status = error.status as ContentfulStatusCode;
    return c.json({ ok: false, error: ERROR_BY_STATUS[status] ?? 'request_failed' } satisfies ErrorBody, status);
  }
  logLine('unexpected_error', {
    route: c.get('route'),
    error: scrub(`${error.name}: ${error.message}`, apiKeyOf(c.env)),
  });
  return c.json({ ok: false, error: 'internal_error' } satisfies ErrorBody, 500);
}

/** One line, no control characters, short, and never the key. */
export function scrub(text: string, secret: string | undefined, max = 200): string {
  let line = text.split(/\r?\n/, 1)[0].replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (secret) line = line.split(secret).join('***');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
