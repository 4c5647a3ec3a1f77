// Signed events (docs/reference.md, "The `tap` API"; docs/security.md, "Signing"): the merchant's server
// signs the order, so no browser can change it. A verdict, not an answer: the
// route turns a refusal into its 400 or 401 (proxy/http/answers.ts).
import { hexBytes, hmacVerify } from '../lib/hmac';
import { isPlainObject, parseJson } from '../lib/plain';
import { issuesOf, signedEnvelopeSchema, signedExpirySchema, type Issue } from './schema';

export type SignedVerdict =
  | { ok: true; fields: Record<string, unknown> }
  | { ok: false; refused: 'invalid_signature' | 'signature_expired' }
  | { ok: false; issues: Issue[] };

/**
 * Checks a signed event and returns the fields inside `signed`. The signature
 * is the hex HMAC-SHA256 of exactly the bytes of `signed`; Web Crypto's
 * verify compares in constant time. No canonical form is needed: the string
 * is verified as received, then parsed.
 */
export async function verifySigned(body: Record<string, unknown>, secret: string, nowSeconds = Date.now() / 1000): Promise<SignedVerdict> {
  const envelope = signedEnvelopeSchema.safeParse({ signed: body.signed, signature: body.signature });
  if (!envelope.success) return { ok: false, issues: issuesOf(envelope.error) };
  const { signed, signature } = envelope.data;
  // The schema let through 64 hex digits only, so the bytes are there.
  if (!(await hmacVerify(secret, hexBytes(signature)!, signed))) return { ok: false, refused: 'invalid_signature' };
  const fields = parseJson(signed);
  if (!isPlainObject(fields)) return { ok: false, issues: [{ path: 'signed', message: 'must be a JSON object' }] };
  const expiry = signedExpirySchema.safeParse(fields);
  if (!expiry.success) return { ok: false, issues: issuesOf(expiry.error, 'signed.') };
  const { exp } = expiry.data;
  if (exp !== undefined && nowSeconds > exp) return { ok: false, refused: 'signature_expired' };
  const { exp: _exp, ...rest } = fields;
  return { ok: true, fields: rest };
}
