// GET BASE_PATH/admin/: the operator console's page, script and style
// (console/, built by scripts/build-console.mjs). Static and secret-free: the
// token is asked for by the page and only the API behind it checks it.
import type { Handler } from 'hono';
import { CONSOLE_FILES } from '../generated/console';
import type { AppEnv } from '../http/context';

/**
 * The page runs under this policy: its own files only, no inline script or
 * style, no framing, no form posted elsewhere. A script injected through an
 * event's data would have nowhere to load from and nowhere to send the token.
 */
const CONSOLE_CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function consoleRoute(files = CONSOLE_FILES): Handler<AppEnv> {
  return function serveConsole(c, next) {
    const name = c.req.param('file') || 'index.html';
    const file = Object.hasOwn(files, name) ? files[name] : undefined;
    if (!file) return next();
    return c.body(file.source, 200, {
      'content-type': file.type,
      // Revalidated every time (hono/etag answers 304), so a deploy shows at once.
      'cache-control': 'no-cache',
      etag: file.etag,
      'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    });
  };
}
