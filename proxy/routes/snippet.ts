import type { Handler } from 'hono';
import type { AppEnv } from '../app-env';

export interface SnippetOptions {
  source: string;
  etag: string;
  /**
   * Browsers reuse the script this long without asking; after it they revalidate
   * with If-None-Match, so a new deploy reaches every browser within an hour.
   */
  cacheControl: string;
}

const defaults: Pick<SnippetOptions, 'cacheControl'> = { cacheControl: 'public, max-age=3600' };

/**
 * The built snippet, from the module build.mjs generates: no static-assets
 * binding is needed on a zone route, and the ETag is fixed at build time.
 * Pair with hono/etag for the 304.
 */
export function serveSnippet(options: Pick<SnippetOptions, 'source' | 'etag'> & Partial<SnippetOptions>): Handler<AppEnv> {
  const { source, etag, cacheControl } = { ...defaults, ...options };
  return function serveSnippet(c) {
    return c.body(source, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': cacheControl,
      etag,
    });
  };
}
