// HMAC-SHA256 through Web Crypto, for everything the worker signs or checks:
// signed events, the ledger's shard keys, and the Stripe and Shopify webhooks.

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

/**
 * The key for a secret, imported once per isolate: every event signs a shard
 * key with it. Secrets come from the worker's settings only, so the map stays
 * as small as their number.
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

/** The bytes of a hex string of even length, or null when it is not one. */
export function hexBytes(hex: string): Uint8Array<ArrayBuffer> | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let index = 0; index < bytes.length; index++) bytes[index] = parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  return bytes;
}
