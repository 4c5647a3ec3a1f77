import type { Env } from './env';

/** Tapfiliate's postback v1.7 endpoints (contract §6). */
export const DEFAULT_CONVERSION_URL = 'https://api.tapfiliate.com/1.7/pb/con/c/';
export const DEFAULT_CUSTOMER_URL = 'https://api.tapfiliate.com/1.7/pb/cus/c/';
export const DEFAULT_BASE_PATH = '/_tap';

/** `/_tap/`, `_tap` and `/_tap` all mean `/_tap`; an empty value falls back to the default. */
export function basePathOf(env: Env | undefined): string {
  const raw = (env?.BASE_PATH ?? '').trim().replace(/\/+$/, '');
  if (!raw) return DEFAULT_BASE_PATH;
  return raw.startsWith('/') ? raw : `/${raw}`;
}

/** ALLOWED_ORIGINS as origins (scheme://host[:port]), so `https://shop.example/` matches the header `https://shop.example`. */
export function allowedOriginsOf(env: Env): Set<string> {
  const origins = new Set<string>();
  for (const entry of (env.ALLOWED_ORIGINS ?? '').split(',')) {
    const value = entry.trim();
    if (!value) continue;
    try {
      origins.add(new URL(value).origin);
    } catch {
      origins.add(value);
    }
  }
  return origins;
}

export function apiKeyOf(env: Env): string | undefined {
  return env.TAPFILIATE_API_KEY?.trim() || undefined;
}
