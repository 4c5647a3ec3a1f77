// Signed events (docs/reference.md, "Signed events"): the merchant's server
// signs the order, so no browser can change it.
import { hexBytes, hmacVerify } from './hmac';
import { invalidRequest, jsonError, parseWith } from './http';
import { parseJson } from './plain';
import { signedEnvelopeSchema, signedExpirySchema } from './schema';
import { isPlainObject } from './plain';

type SignatureFailure = 'invalid_signature' | 'signature_expired';

/**
 * Checks a signed event and returns the fields inside `signed`. The signature
 * is the hex HMAC-SHA256 of exactly the bytes of `signed`; Web Crypto's
 * verify compares in constant time. No canonical form is needed: the string
 * is verified as received, then parsed.
 */
export async function verifySigned(body: Record<string, unknown>, secret: string, nowSeconds = Date.now() / 1000): Promise<Record<string, unknown>> {
  const { signed, signature } = parseWith(signedEnvelopeSchema, { signed: body.signed, signature: body.signature });
  // The schema let through 64 hex digits only, so the bytes are there.
  if (!(await hmacVerify(secret, hexBytes(signature)!, signed))) throw refuse('invalid_signature');
  const fields = parseJson(signed);
  if (!isPlainObject(fields)) {
    throw invalidRequest([{ path: 'signed', message: 'must be a JSON object' }]);
  }
  const { exp } = parseWith(signedExpirySchema, fields, 'signed.');
  if (exp !== undefined && nowSeconds > exp) throw refuse('signature_expired');
  const { exp: _exp, ...rest } = fields as Record<string, unknown>;
  return rest;
}

function refuse(error: SignatureFailure | 'signature_required') {
  const messages = {
    signature_required: 'this shop accepts only signed events: pass { signed, signature } from your server',
    invalid_signature: 'the signature does not match `signed` (HMAC-SHA256 with TAPLINE_SIGNING_SECRET)',
    signature_expired: 'the signed event is past its exp',
  };
  return jsonError(401, { ok: false, error, message: messages[error] });
}

export const signatureRequired = () => refuse('signature_required');
