// Reading a platform's payload defensively: what a platform sends is signed,
// but its shape is still theirs, so every field is checked as it is read. One
// reader per kind of field, shared by every platform.
import { isCurrency } from '../lib/currency';
import { hexBytes, MAX_SIGNATURE_CANDIDATES } from '../lib/hmac';
import { isPlainObject } from '../lib/plain';

/** A non-empty string, trimmed. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** An id as a string: a non-empty string, or a positive safe integer (Lemon Squeezy's ids are numbers). */
export function idText(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? String(value) : undefined;
  return text(value);
}

/** A whole number of minor units, from a number or a digit string (Paddle sends "1099"). */
export function minorUnits(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== 'string' || !/^-?\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

// ISO 4217 minor units (the standard's own table), which is what both platforms mean
// by "the lowest denomination": Paddle documents `decimal_places` per currency (JPY 0),
// Lemon Squeezy documents its amounts "in cents", with no exception listed.
const ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);
const THREE_DECIMAL = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);

function iso4217Exponent(currency: string): 0 | 2 | 3 {
  const code = currency.toUpperCase();
  return ZERO_DECIMAL.has(code) ? 0 : THREE_DECIMAL.has(code) ? 3 : 2;
}

/** Minor units in major units: 1099 USD → 10.99, 1500 JPY → 1500, 12500 KWD → 12.5. */
export function fromMinor(amount: number, currency: string): number {
  const exponent = iso4217Exponent(currency);
  return Number((amount / 10 ** exponent).toFixed(exponent));
}

/** An active ISO 4217 code, upper case, as Tapfiliate takes it; undefined otherwise (proxy/lib/currency.ts). */
export function currencyCode(value: unknown): string | undefined {
  const code = text(value)?.toUpperCase();
  return code && isCurrency(code) ? code : undefined;
}

/** An integer (a count of minor units), as JSON numbers carry it. */
export function integer(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

/** An id, or the id of an expanded object. */
export function idOf(value: unknown): string | undefined {
  return text(value) ?? (isPlainObject(value) ? text(value.id) : undefined);
}

/** Money written in major units ("598.94", as Shopify sends it); numbers are taken too. */
export function decimal(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || !/^-?\d+(\.\d+)?$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/**
 * A `name=value` signature header (Stripe's `t=…,v1=…`, Paddle's `ts=…;h1=…`):
 * the timestamp, the candidate signatures that parse (64 lower-case hex
 * digits), and how many candidates the header listed, counting stopped past
 * MAX_SIGNATURE_CANDIDATES so a list too long is refused however it is padded.
 * No trimming, as the platforms' libraries parse it: whatever this accepts,
 * they accept. Null without a timestamp of digits or without candidates;
 * `strict` (Stripe's reading) also null for an empty candidate, or when none
 * of the candidates parses.
 */
export function parseSignatureHeader(
  header: string,
  { separator, timestamp: timestampName, signature: signatureName, strict }: { separator: string; timestamp: string; signature: string; strict: boolean },
): { timestamp: number; signatures: Uint8Array<ArrayBuffer>[]; candidates: number } | null {
  let timestamp: number | undefined;
  const signatures: Uint8Array<ArrayBuffer>[] = [];
  let candidates = 0;
  for (const part of header.split(separator)) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const name = part.slice(0, at);
    const value = part.slice(at + 1);
    if (name === timestampName) timestamp = /^\d{1,12}$/.test(value) ? Number(value) : Number.NaN;
    else if (name === signatureName) {
      if (++candidates > MAX_SIGNATURE_CANDIDATES) break;
      // stripe-node fails a header with an empty v1 (its compare throws on ''); so does the strict reading.
      if (strict && value === '') return null;
      const bytes = /^[0-9a-f]{64}$/.test(value) ? hexBytes(value) : null;
      if (bytes) signatures.push(bytes);
    }
  }
  if (timestamp === undefined || Number.isNaN(timestamp) || candidates === 0 || (strict && signatures.length === 0)) return null;
  return { timestamp, signatures, candidates };
}
