/// <reference types="vite/client" />
// The signing test vectors published in docs/security.md: each is checked
// against an independent HMAC, then sent through the app, so a vector that
// drifts from the code (or code that drifts from the docs) fails here.
import { describe, expect, it } from 'vitest';
import securityDoc from '../../docs/security.md?raw';
import { call, post, sign } from './helpers';

interface Vector {
  secret: string;
  signed: string;
  signature: string;
}

const block = /```json test-vectors\n([\s\S]*?)\n```/.exec(securityDoc)?.[1];
const vectors: Vector[] = block ? JSON.parse(block) : [];

describe('docs/security.md signing test vectors', () => {
  it('the docs publish vectors, including one with exp and one with non-ASCII characters', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(3);
    expect(vectors.some((vector) => vector.signed.includes('"exp"'))).toBe(true);
    expect(vectors.some((vector) => /[^\x00-\x7f]/.test(vector.signed))).toBe(true);
  });

  it.each(vectors.map((vector, index) => [index, vector] as const))('vector %i: its signature is the HMAC-SHA256 of the signed bytes', async (_index, vector) => {
    expect(await sign(vector.signed, vector.secret)).toBe(vector.signature);
  });

  it.each(vectors.map((vector, index) => [index, vector] as const))('vector %i: the proxy accepts it, with the signed fields', async (_index, vector) => {
    const fields = JSON.parse(vector.signed) as Record<string, unknown>;
    const path = fields.external_id === undefined ? '/_tap/customer' : '/_tap/convert';
    const { response, jobs } = await call({
      path,
      init: post({ signed: vector.signed, signature: vector.signature, referral_code: 'docs' }),
      env: { TAPLINE_SIGNING_SECRET: vector.secret },
    });
    expect(response.status).toBe(200);
    expect(jobs).toHaveLength(1);
    const postback = jobs[0].conversion ?? jobs[0].customer;
    expect(postback).toMatchObject({ referral_code: 'docs' });
    for (const field of ['external_id', 'customer_id'] as const) {
      if (fields[field] !== undefined) expect(postback?.[field as keyof typeof postback]).toBe(String(fields[field]));
    }
  });

  it.each(vectors.map((vector, index) => [index, vector] as const))('vector %i: one changed byte is refused', async (_index, vector) => {
    const tampered = vector.signed.replace(/"(external_id|customer_id)":"?/, (match) => `${match}X`);
    const { response, json, jobs } = await call({
      path: '/_tap/convert',
      init: post({ signed: tampered, signature: vector.signature, referral_code: 'docs' }),
      env: { TAPLINE_SIGNING_SECRET: vector.secret },
    });
    expect(response.status).toBe(401);
    expect(json()).toMatchObject({ ok: false, error: 'invalid_signature' });
    expect(jobs).toHaveLength(0);
  });
});
