// HMAC-SHA256 through Web Crypto, for everything the worker signs or checks:
// signed events and the platforms' webhooks, and finding a subscription v2
// remembered (v2 chose its memory shard by an HMAC with the API key; today's
// ledger shards are chosen without a secret: proxy/delivery/shards.ts).

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

/**
 * The key for a secret, imported once per isolate, not once per request.
 * Secrets come from the worker's settings only, so the map stays as small as
 * their number.
 */
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    keys.set(secret, key);
  }
  return key;
}

export async function hmacSign(secret: string, data: string): Promise<ArrayBuffer> {
  return crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(data));
}

/** Whether `signature` is the HMAC of `data`; Web Crypto compares in constant time. */
export async function hmacVerify(secret: string, signature: Uint8Array<ArrayBuffer>, data: string | Uint8Array<ArrayBuffer>): Promise<boolean> {
  return crypto.subtle.verify('HMAC', await hmacKey(secret), signature, typeof data === 'string' ? encoder.encode(data) : data);
}

/**
 * The most candidate signatures a webhook header may list. Stripe sends one
 * v1 per active endpoint secret (two while a secret is being rolled); a longer
 * list is refused rather than read (docs/security.md, "Signature cost").
 */
export const MAX_SIGNATURE_CANDIDATES = 8;

/**
 * Whether any candidate is the HMAC-SHA256 of `data`. The HMAC is computed
 * once, however many candidates there are, and compared with each of them in
 * constant time, every one of them whatever matched, so neither the cost nor
 * the time says which one did. The caller checks the count and any timestamp
 * first; more than MAX_SIGNATURE_CANDIDATES, or none, is false.
 */
export async function hmacMatchesAny(secret: string, candidates: Uint8Array[], data: string | Uint8Array<ArrayBuffer>): Promise<boolean> {
  if (candidates.length === 0 || candidates.length > MAX_SIGNATURE_CANDIDATES) return false;
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), typeof data === 'string' ? encoder.encode(data) : data));
  let matched = 0;
  for (const candidate of candidates) matched |= Number(sameBytes(mac, candidate));
  return matched === 1;
}

type WebhookSignatureCheck = 'ok' | 'invalid_signature' | 'expired';

/**
 * A platform's webhook signature, in the order that keeps an unauthenticated
 * request cheap (docs/security.md, "Signature cost"): more than
 * MAX_SIGNATURE_CANDIDATES candidates is `invalid_signature` and a timestamp
 * outside the tolerance (either side of now) is `expired`, both before any
 * HMAC; then one HMAC of `data`, compared with every candidate. `candidates`
 * counts what the header listed, including entries that did not parse.
 */
export async function checkWebhookSignature(options: {
  secret: string;
  data: string | Uint8Array<ArrayBuffer>;
  signatures: Uint8Array[];
  candidates?: number;
  timestamp?: number;
  toleranceSeconds?: number;
  nowSeconds?: number;
}): Promise<WebhookSignatureCheck> {
  const { secret, data, signatures, candidates = signatures.length, timestamp, toleranceSeconds = 300 } = options;
  if (candidates > MAX_SIGNATURE_CANDIDATES) return 'invalid_signature';
  if (timestamp !== undefined) {
    const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
    if (!(Math.abs(now - timestamp) <= toleranceSeconds)) return 'expired';
  }
  return (await hmacMatchesAny(secret, signatures, data)) ? 'ok' : 'invalid_signature';
}

/** Byte equality that reads every byte, so the time taken does not say where two MACs differ. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++) difference |= a[index] ^ b[index];
  return difference === 0;
}

/** The bytes of a hex string of even length, or null when it is not one. */
export function hexBytes(hex: string): Uint8Array<ArrayBuffer> | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let index = 0; index < bytes.length; index++) bytes[index] = parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  return bytes;
}
