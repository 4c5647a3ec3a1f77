// What the snippet and the proxy must agree on, in one place (docs/reference.md:
// "The `tap` API", "The cookie", "Routes and answers"). Constants are inlined into tap.js by esbuild and types
// erase, so sharing them costs the snippet no byte.

/**
 * The attribution cookie: written by the snippet, and again by `POST /_tap/click`.
 * Also a const enum member, which esbuild writes where it is used (tap.js's bytes).
 */
export const enum Cookie {
  NAME = 'tap_data',
}
export const COOKIE_NAME = Cookie.NAME;
/** `data-cookie-days`: the default, and the most the tag may ask for (the proxy refuses more). */
export const DEFAULT_COOKIE_DAYS = 90;
export const MAX_COOKIE_DAYS = 365;
/** The longest `landing_page` or `referrer` a click carries. */
export const MAX_URL_LENGTH = 2048;

/** The routes a browser event is posted to, under the snippet's endpoint. */
export type EventRoute = 'convert' | 'customer';

/** Every JSON answer of the proxy, and the snippet's own when nothing reached the proxy (docs/reference.md, "Answers"). */
export type TapResult =
  | { ok: true; status: 'sent' | 'queued' | 'duplicate' | 'unattributed' | 'ignored' | 'stored' | 'reversed' | 'adjusted'; click_id?: string }
  | { ok: true; status: 'test'; postbacks: { kind: string; url: string; body: unknown }[] }
  | { ok: false; status: 'offline' | 'skipped'; reason: string }
  | { ok: false; error: string; issues?: { path: string; message: string }[]; message?: string };
