import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../app-env';
import { jsonError } from '../errors';

export interface JsonBodyOptions {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
}

const defaults: JsonBodyOptions = { maxBytes: 16 * 1024 };

/**
 * Media types a JSON body may arrive as. text/plain is what `sendBeacon` and a
 * `keepalive` fetch send without a CORS preflight (Fetch standard, CORS-safelisted
 * request-header).
 */
const JSON_MEDIA_TYPES = new Set(['application/json', 'text/plain']);

/** 415 unless the body is declared JSON or text, then 413 over the size limit. */
export function jsonBody(options: Partial<JsonBodyOptions> = {}): MiddlewareHandler<AppEnv> {
  const { maxBytes } = { ...defaults, ...options };
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw jsonError(413, {
        ok: false,
        error: 'body_too_large',
        message: `the body is over ${maxBytes} bytes`,
      });
    },
  });
  return async function jsonBody(c, next) {
    // RFC 9110 §8.3.1: the media type is case-insensitive and may carry parameters such as charset.
    const mediaType = (c.req.header('content-type') ?? '').split(';', 1)[0].trim().toLowerCase();
    if (!JSON_MEDIA_TYPES.has(mediaType)) {
      throw jsonError(415, {
        ok: false,
        error: 'unsupported_media_type',
        message: 'send JSON as application/json or text/plain',
      });
    }
    return limit(c, next);
  };
}
