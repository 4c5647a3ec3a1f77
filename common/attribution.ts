// The attribution rules the snippet and the proxy share. Plain code with no
// imports: esbuild bundles it into tap.js, and the worker imports it as is.
// The rules themselves are documented in docs/reference.md.

/** The identifiers Tapfiliate attributes by, in its order of precedence. */
export const IDENTIFIER_FIELDS = ['coupon', 'click_id', 'referral_code', 'asset_id', 'source_id'] as const;
type IdentifierField = (typeof IDENTIFIER_FIELDS)[number];

/** Longest id (external_id, customer_id or identifier) the proxy accepts. */
export const ID_MAX_LENGTH = 255;

/** Longest value the snippet captures from a landing URL; a longer one is ignored. */
const CAPTURE_MAX_LENGTH = 100;

/**
 * Characters no id may contain: C0 and C1 controls and DEL, which break log
 * lines and headers, and the bidirectional embeddings, overrides and isolates
 * (Unicode UAX #9, U+202A–U+202E and U+2066–U+2069), which make an id read
 * differently from what it is.
 */
export const FORBIDDEN_ID_CHARACTERS = /[\0-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

/**
 * A value the snippet may store from a URL: trimmed, 1–100 characters, none
 * of the forbidden characters and no angle brackets. Anything else is ''.
 */
export function capturable(value: unknown): string {
  const trimmed = typeof value === 'string' ? value.trim() : '';
  const refused = trimmed.length > CAPTURE_MAX_LENGTH || FORBIDDEN_ID_CHARACTERS.test(trimmed) || /[<>]/.test(trimmed);
  return refused ? '' : trimmed;
}

/** The fields a reference carries, in the order they are written. */
export const REFERENCE_FIELDS = ['referral_code', 'asset_id', 'source_id', 'coupon', 'click_id'] as const;

/**
 * PREFIX marks a string as a reference of this format, so a merchant's own
 * client_reference_id never decodes. A const enum, so esbuild writes the values
 * where they are used (tap.js's bytes).
 */
const enum Reference {
  PREFIX = 't1',
  MAX_LENGTH = 200,
}

/**
 * The stored attribution as one string of [A-Za-z0-9_-] (at most 200
 * characters), fit for Stripe's `client_reference_id`: `t1` followed by the
 * base64url (RFC 4648 §5, no padding) of the UTF-8 of the five fields joined
 * by `>`, which no captured value contains. Empty fields stay empty. Null when
 * nothing is stored or the result would be too long.
 *
 * @example
 * encodeReference({ referral_code: 'anna' }) // 't1YW5uYT4-Pj4'
 */
export function encodeReference(attribution: Partial<Record<IdentifierField, unknown>> | null): string | null {
  const stored: Partial<Record<IdentifierField, unknown>> = Object(attribution);
  const text = REFERENCE_FIELDS.map((field) => capturable(String(stored[field] ?? ''))).join('>');
  // unescape(encodeURIComponent()) turns the text into the UTF-8 bytes btoa expects.
  const base64 = btoa(unescape(encodeURIComponent(text)));
  const reference = Reference.PREFIX + base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  // All five empty joins to '>>>>': nothing to carry.
  return /[^>]/.test(text) && reference.length <= Reference.MAX_LENGTH ? reference : null;
}

/** The identifiers in a reference, or null when it is not one. Every value passes `capturable`. */
export function decodeReference(reference: unknown): Partial<Record<IdentifierField, string>> | null {
  if (typeof reference !== 'string' || reference.length > Reference.MAX_LENGTH || !/^t1[\w-]+$/.test(reference)) return null;
  const identifiers: Partial<Record<IdentifierField, string>> = {};
  let values: string[];
  try {
    values = decodeURIComponent(escape(atob(reference.slice(Reference.PREFIX.length).replace(/-/g, '+').replace(/_/g, '/')))).split('>');
  } catch {
    return null;
  }
  // Every field present, each one valid, and at least one not empty.
  const valid = values.length === REFERENCE_FIELDS.length && values.every((value) => !value || capturable(value));
  REFERENCE_FIELDS.forEach((field, index) => {
    if (values[index]) identifiers[field] = capturable(values[index]);
  });
  return valid && values.some(Boolean) ? identifiers : null;
}
