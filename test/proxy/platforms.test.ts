// The platforms' table (proxy/platforms/index.ts) drives every list of platforms:
// a route per line, /health's `webhooks`, the secrets scrubbed and redacted, and
// whether webhooks own the orders. A fifth platform added to the table is
// covered here without a change to this file (ARCHITECTURE.md, "A fifth platform").
import { describe, expect, it } from 'vitest';
import { PLATFORMS, secretsOf, webhooksOwnOrders } from '../../proxy/platforms';
import { call } from './helpers';

const routes = PLATFORMS.flatMap((platform) => platform.routes.map((route) => ({ platform: platform.name, ...route })));

describe('the platforms table', () => {
  it.each(routes)('serves /_tap/webhooks/$path, refused 503 while $secret is not set, its hint in the log', async ({ path, secret }) => {
    const { response, json, lines } = await call({ path: `/_tap/webhooks/${path}`, init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' } });
    expect(response.status).toBe(503);
    expect(json()).toEqual({ ok: false, error: 'not_configured' });
    expect(lines.some((line) => line.includes(`${secret} is not set`))).toBe(true);
  });

  it.each(routes)('with $secret set, /_tap/webhooks/$path checks the signature: an unsigned body is 400 invalid_signature', async ({ path, secret }) => {
    const { response, json } = await call({ path: `/_tap/webhooks/${path}`, init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, env: { [secret]: 'a-secret' } });
    expect(response.status).toBe(400);
    expect(json()).toMatchObject({ ok: false, error: 'invalid_signature' });
  });

  it("/health lists each route's webhook, and says which secrets are set", async () => {
    const [first, ...rest] = routes;
    const { json } = await call({ path: '/_tap/health', env: { [first.secret]: 'a-secret' } });
    const expected = Object.fromEntries([[first.path.replace(/\//g, '_'), true], ...rest.map((route) => [route.path.replace(/\//g, '_'), false])]);
    expect((json() as { webhooks: unknown }).webhooks).toEqual(expected);
  });

  it('every route secret is scrubbed and redacted; only a live route owns the orders', () => {
    const env = Object.fromEntries(routes.map((route, index) => [route.secret, `secret-${index}`])) as Partial<Env>;
    expect(secretsOf(env)).toEqual(expect.arrayContaining(routes.map((_, index) => `secret-${index}`)));
    for (const route of routes) expect(webhooksOwnOrders({ [route.secret]: 'set' } as Partial<Env>)).toBe(!route.test);
  });
});
