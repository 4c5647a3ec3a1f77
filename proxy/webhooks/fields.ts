// Reading a platform's payload defensively: what Paddle and Lemon Squeezy send is
// signed, but its shape is still theirs, so every field is checked as it is read.
import { isCurrency } from '../currency';

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

/** An active ISO 4217 code, upper case, as Tapfiliate takes it; undefined otherwise (proxy/currency.ts). */
export function currencyCode(value: unknown): string | undefined {
  const code = text(value)?.toUpperCase();
  return code && isCurrency(code) ? code : undefined;
}
