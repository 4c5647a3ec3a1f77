// The dev-only worker of `npm start`: the proxy with the demo shop as its origin.
import { createExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import demoWorker from '../../demo/worker';
import { sign } from './helpers';

async function get(path: string, extra: Partial<Env> = {}) {
  const response = await demoWorker.fetch(new Request(`http://localhost:8787${path}`), { ...env, ...extra } as never, createExecutionContext());
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe('demo worker', () => {
  it.each(['/?ref=demo', '/product', '/thank-you?order=ORD-1'])('serves %s with the stub and the snippet tag', async (path) => {
    const { status, type, text } = await get(path);
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/html/);
    expect(text).toContain('window.tap=window.tap||function(){(tap.q=tap.q||[]).push(arguments)}');
    expect(text).toContain('<script async src="/_tap/tap.js"');
  });

  it('calls tap.convert on the thank-you page with a customer_id, and keeps the order id inert', async () => {
    const { text } = await get('/thank-you?order=ORD-9%3C/script%3E%3Cscript%3Ealert(1)');
    expect(text).toContain('tap.convert(conversion)');
    expect(text).toContain('"external_id":"ORD-9scriptscriptalert1"');
    expect(text).toContain('"customer_id":"CUS-ORD-9scriptscriptalert1"');
    expect(text).not.toContain('<script>alert');
  });

  it('signs the order on the thank-you page when the worker has a signing secret', async () => {
    const { text } = await get('/thank-you?order=ORD-7', { TAPLINE_SIGNING_SECRET: 'demo-secret' });
    const conversion = JSON.parse(/var conversion = (\{.*\});/.exec(text)![1]) as { signed: string; signature: string };
    expect(JSON.parse(conversion.signed)).toMatchObject({ external_id: 'ORD-7', amount: 49, currency: 'EUR', customer_id: 'CUS-ORD-7' });
    expect(conversion.signature).toBe(await sign(conversion.signed, 'demo-secret'));
  });

  it('still routes /_tap to the proxy', async () => {
    const { status, text } = await get('/_tap/health');
    expect(status).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ ok: true });
  });
});
