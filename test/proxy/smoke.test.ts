import { env, SELF } from 'cloudflare:test';
import { expect, it } from 'vitest';
it('runs in workerd', async () => {
  const res = await SELF.fetch('http://x/_tap/health');
  expect(await res.json()).toEqual({ ok: true });
  expect((env as any).TAPFILIATE_API_KEY).toBe('test-key');
  expect(navigator.userAgent).toBe('Cloudflare-Workers');
});
