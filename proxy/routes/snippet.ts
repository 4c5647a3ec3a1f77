import type { Handler } from 'hono';
import type { AppEnv } from '../http/context';

/** A built snippet file: its JavaScript and the ETag fixed at build time. */
export interface SnippetFile {
  source: string;
  etag: string;
}

/**
 * Browsers reuse the script this long without asking; after it they revalidate
 * with If-None-Match, so a new deploy reaches every browser within an hour.
 */
const CACHE_CONTROL = 'public, max-age=3600';

/**
 * The built snippet files, from the module build.mjs generates: no
 * static-assets binding is needed on a zone route. Pair with hono/etag for the 304.
 */
export function snippetRoute(files: Record<string, SnippetFile>): Handler<AppEnv> {
  return function serveSnippet(c, next) {
    const file = Object.hasOwn(files, c.req.param('file') ?? '') ? files[c.req.param('file')!] : undefined;
    if (!file) return next();
    return c.body(file.source, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': CACHE_CONTROL,
      etag: file.etag,
    });
  };
}
