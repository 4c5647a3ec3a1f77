// GET /_tap/health says which webhooks have their secret, never the secret.
import { SELF } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { postbackControl } from '../postback/control';
import { request, SHOPIFY_SECRET, STRIPE_SECRET, webhookEnv } from './helpers';
import { LEMONSQUEEZY_SECRET, PADDLE_SANDBOX_SECRET, PADDLE_SECRET, platformSecrets } from './platform-helpers';

const upstream = postbackControl(inject('webhookPostbackServers').health);

describe('GET /health: webhooks', () => {
  it.each([
    [{}, { stripe: true, shopify: true }],
    [{ STRIPE_WEBHOOK_SECRET: undefined }, { stripe: false, shopify: true }],
    [{ SHOPIFY_WEBHOOK_SECRET: '' }, { stripe: true, shopify: false }],
    [{ STRIPE_WEBHOOK_SECRET: undefined, SHOPIFY_WEBHOOK_SECRET: undefined }, { stripe: false, shopify: false }],
  ] as const)('%j → %j', async (extra, webhooks) => {
    const { status, json } = await request(webhookEnv(upstream, extra), '/health', { method: 'GET' });
    expect(status).toBe(200);
    expect(json).toMatchObject({ ok: true, configured: true, webhooks });
    const text = JSON.stringify(json);
    expect(text).not.toContain(STRIPE_SECRET);
    expect(text).not.toContain(SHOPIFY_SECRET);
  });

  it.each([
    [platformSecrets, { paddle: true, paddle_sandbox: true, lemonsqueezy: true }],
    [{ PADDLE_WEBHOOK_SECRET: PADDLE_SECRET }, { paddle: true, paddle_sandbox: false, lemonsqueezy: false }],
    [{ LEMONSQUEEZY_WEBHOOK_SECRET: ' ' }, { paddle: false, paddle_sandbox: false, lemonsqueezy: false }],
  ] as const)('Paddle and Lemon Squeezy: %j → %j', async (extra, webhooks) => {
    const { json } = await request(webhookEnv(upstream, extra), '/health', { method: 'GET' });
    expect(json).toMatchObject({ ok: true, configured: true, webhooks });
    for (const secret of [PADDLE_SECRET, PADDLE_SANDBOX_SECRET, LEMONSQUEEZY_SECRET]) expect(JSON.stringify(json)).not.toContain(secret);
  });

  it('the deployed worker (SELF, wrangler.toml with no webhook secret) lists both as false, and its routes answer 503', async () => {
    const health = await SELF.fetch('https://shop.example/_tap/health');
    expect(await health.json()).toMatchObject({
      webhooks: { stripe: false, shopify: false, paddle: false, paddle_sandbox: false, lemonsqueezy: false },
      delivery: { durable: true },
    });
    for (const platform of ['stripe', 'shopify', 'paddle', 'paddle/sandbox', 'lemonsqueezy']) {
      const response = await SELF.fetch(`https://shop.example/_tap/webhooks/${platform}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect({ platform, status: response.status, json: await response.json() }).toEqual({ platform, status: 503, json: { ok: false, error: 'not_configured' } });
    }
  });
});
