// GET /_tap/health says which webhooks have their secret, never the secret.
import { SELF } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { postbackControl } from '../postback/control';
import { request, SHOPIFY_SECRET, STRIPE_SECRET, webhookEnv } from './helpers';

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

  it('the deployed worker (SELF, wrangler.toml with no webhook secret) lists both as false, and its routes answer 503', async () => {
    const health = await SELF.fetch('https://shop.example/_tap/health');
    expect(await health.json()).toMatchObject({ webhooks: { stripe: false, shopify: false }, delivery: { durable: true } });
    for (const platform of ['stripe', 'shopify']) {
      const response = await SELF.fetch(`https://shop.example/_tap/webhooks/${platform}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect({ platform, status: response.status, json: await response.json() }).toEqual({ platform, status: 503, json: { ok: false, error: 'not_configured' } });
    }
  });
});
