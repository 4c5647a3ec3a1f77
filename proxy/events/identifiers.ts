// Where an event's identifiers come from: the tap_data cookie (or a server
// event's copy of it), a reference passed through a hosted checkout, and the
// body (docs/reference.md, "The cookie" and "Fields and ids").
import { IDENTIFIER_FIELDS, decodeReference } from '../../common/attribution';
import { isPlainObject, parseJson } from '../lib/plain';
import { identifiersSchema, type Identifiers } from './schema';

/**
 * Identifiers from a tap_data value. It comes from a browser we do not
 * control, so each field that fails validation is dropped on its own, and an
 * unreadable value counts as none. Accepts the value percent-encoded as
 * stored, or already decoded (as PHP's $_COOKIE gives it).
 */
export function identifiersFromCookieValue(value: string | undefined): Identifiers {
  if (!value) return {};
  let data = parseJson(value);
  if (data === undefined) {
    try {
      data = parseJson(decodeURIComponent(value));
    } catch {
      return {};
    }
  }
  if (!isPlainObject(data)) return {};
  const identifiers: Identifiers = {};
  for (const field of IDENTIFIER_FIELDS) {
    const parsed = identifiersSchema.shape[field].safeParse((data as Record<string, unknown>)[field]);
    if (parsed.success && parsed.data !== undefined) identifiers[field] = parsed.data;
  }
  return identifiers;
}

/** A reference from `tap.reference()`, or nothing when it is not one. */
export function identifiersFromReference(reference: string | undefined): Identifiers {
  return decodeReference(reference) ?? {};
}

/**
 * Layers of identifiers, later ones winning field by field: a coupon typed at
 * checkout beats the one stored at landing. Only identifier fields are read,
 * so a whole event may be a layer.
 */
export function mergeIdentifiers(...layers: Identifiers[]): Identifiers {
  const merged: Identifiers = {};
  for (const layer of layers) {
    for (const field of IDENTIFIER_FIELDS) {
      if (layer[field] !== undefined) merged[field] = layer[field];
    }
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
