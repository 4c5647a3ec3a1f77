// Attack "Stripe-Signature with 400 v1= entries": over a 1 MB body, each entry
// cost an HMAC, about 300 ms of CPU per unauthenticated request. Now at most 8
// candidates are read (more is 400 invalid_signature, with no HMAC), the
// timestamp is checked before any HMAC, and one HMAC is compared with each
// candidate. These tests count Web Crypto's HMAC calls, not time. On the old
// code the 9 and the 8 candidates cost 9 and 8 HMACs, the stale one 1.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { attackEnv, send, SHOPIFY_SECRET, shopifySignature, STRIPE_SECRET, stripeSignature, uniqueId } from './harness';

const env = attackEnv({ STRIPE_WEBHOOK_SECRET: STRIPE_SECRET, SHOPIFY_WEBHOOK_SECRET: SHOPIFY_SECRET });
/** A signed event the route ignores, so no delivery (which signs its own shard keys) runs. */
const body = JSON.stringify({ id: uniqueId('evt'), type: 'customer.created', data: { object: { id: 'cus_1' } } });
const wrong = (n: number) => `v1=${n.toString(16).padStart(64, '0')}`;

let hmacs = 0;
beforeEach(() => {
  hmacs = 0;
  const sign = crypto.subtle.sign.bind(crypto.subtle);
  const verify = crypto.subtle.verify.bind(crypto.subtle);
  vi.spyOn(crypto.subtle, 'sign').mockImplementation((...args: Parameters<SubtleCrypto['sign']>) => {
    hmacs++;
    return sign(...args);
  });
  vi.spyOn(crypto.subtle, 'verify').mockImplementation((...args: Parameters<SubtleCrypto['verify']>) => {
    hmacs++;
    return verify(...args);
  });
});
afterEach(() => vi.restoreAllMocks());

const stripe = (signature: string) => send('/_tap/webhooks/stripe', body, { env, headers: { origin: undefined, 'stripe-signature': signature } });

describe('Stripe-Signature', () => {
  it('refuses 9 candidates with 400 invalid_signature, the right one among them, without computing an HMAC', async () => {
    const right = (await stripeSignature(body)).split(',');
    hmacs = 0;
    const answer = await stripe([right[0], ...Array.from({ length: 8 }, (_, i) => wrong(i)), right[1]].join(','));
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ ok: false, error: 'invalid_signature' });
    expect(hmacs).toBe(0);
  });

  it('accepts the right one as the 8th candidate with one HMAC', async () => {
    const [t, v1] = (await stripeSignature(body)).split(',');
    hmacs = 0;
    const answer = await stripe([t, ...Array.from({ length: 7 }, (_, i) => wrong(i)), v1].join(','));
    expect(answer.json).toEqual({ ok: true, status: 'ignored' });
    expect(hmacs).toBe(1);
  });

  it('refuses a stale timestamp with 400 before any HMAC, even with a correct signature', async () => {
    const signature = await stripeSignature(body, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    hmacs = 0;
    const answer = await stripe(signature);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ ok: false, error: 'invalid_signature' });
    expect(hmacs).toBe(0);
  });

  it('refuses 400 candidates over a 1 MB body without computing an HMAC', async () => {
    const big = JSON.stringify({ id: 'evt_big', type: 'customer.created', data: { object: { id: 'cus_1', pad: 'x'.repeat(1024 * 1024 - 200) } } });
    const header = [`t=${Math.floor(Date.now() / 1000)}`, ...Array.from({ length: 400 }, (_, i) => wrong(i))].join(',');
    hmacs = 0;
    const answer = await send('/_tap/webhooks/stripe', big, { env, headers: { origin: undefined, 'stripe-signature': header } });
    expect(answer.status).toBe(400);
    expect(hmacs).toBe(0);
  });
});

describe('X-Shopify-Hmac-Sha256', () => {
  it('costs one HMAC, through the same compare', async () => {
    const order = JSON.stringify({ id: 1 });
    const signature = await shopifySignature(order);
    hmacs = 0;
    const answer = await send('/_tap/webhooks/shopify', order, { env, headers: { origin: undefined, 'x-shopify-topic': 'products/create', 'x-shopify-hmac-sha256': signature } });
    expect(answer.json).toEqual({ ok: true, status: 'ignored' });
    expect(hmacs).toBe(1);
  });
});
