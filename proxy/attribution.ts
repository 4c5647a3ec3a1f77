import { IDENTIFIER_FIELDS, identifiersSchema, type Identifiers } from './schema';

/** Name of the attribution cookie the snippet writes (contract §4). */
export const COOKIE_NAME = 'tap_data';

/**
 * Identifiers from the tap_data cookie's value (already URI-decoded). The cookie
 * is written by a browser we do not control, so a field that fails validation is
 * dropped on its own and an unreadable cookie counts as no cookie.
 */
export function identifiersFromCookie(value: string | undefined): Identifiers {
  if (!value) return {};
  let data: unknown;
  try {
    data = JSON.parse(value);
  } catch {
    return {};
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return {};
  const identifiers: Identifiers = {};
  for (const field of IDENTIFIER_FIELDS) {
    const parsed = identifiersSchema.shape[field].safeParse((data as Record<string, unknown>)[field]);
    if (parsed.success && parsed.data !== undefined) identifiers[field] = parsed.data;
  }
  return identifiers;
}

/**
 * The cookie's identifiers, overridden field by field by the body's: a coupon
 * typed at checkout must beat the one stored at landing (contract §5).
 */
export function mergeIdentifiers(fromCookie: Identifiers, fromBody: Identifiers): Identifiers {
  const merged: Identifiers = { ...fromCookie };
  for (const field of IDENTIFIER_FIELDS) {
    const value = fromBody[field];
    if (value !== undefined) merged[field] = value;
  }
  return merged;
}

/**
 * Whether Tapfiliate can attribute the event: by coupon, click_id, referral_code,
 * or asset_id and source_id together (one of the pair names no affiliate).
 */
export function hasIdentifier({ coupon, click_id, referral_code, asset_id, source_id }: Identifiers): boolean {
  return Boolean(coupon || click_id || referral_code || (asset_id && source_id));
}

/** Only the identifier fields of a parsed event, in Tapfiliate's order of precedence. */
export function pickIdentifiers(event: Identifiers): Identifiers {
  const picked: Identifiers = {};
  for (const field of IDENTIFIER_FIELDS) {
    if (event[field] !== undefined) picked[field] = event[field];
  }
  return picked;
}
