import { describe, expect, it } from 'vitest';
import { SNIPPETS } from '../../proxy/generated/snippet';

const { source: SNIPPET_SOURCE, etag: SNIPPET_ETAG } = SNIPPETS['tap.js'];
import { stepsOf } from '../../proxy/tapfiliate';
import { fakeDelivery } from '../fake-delivery';
import { call, exhaustedLimit, ORIGIN, post, recordingDelivery, tapDataCookie, type Call } from './helpers';

const order = { external_id: 'ORD005', amount: 100, currency: 'EUR', referral_code: 'demo' };

describe('answers', () => {
  const rows: { name: string; call: Call; status: number; body: unknown }[] = [
    { name: 'a conversion', call: { path: '/_tap/convert', init: post(order) }, status: 200, body: { ok: true, status: 'sent' } },
    {
      name: 'application/json with a charset',
      call: { path: '/_tap/convert', init: post(order, { 'content-type': 'Application/JSON; charset=utf-8' }) },
      status: 200,
      body: { ok: true, status: 'sent' },
    },
    {
      name: 'a customer',
      call: { path: '/_tap/customer', init: post({ customer_id: 'C1', coupon: 'SAVE10' }) },
      status: 200,
      body: { ok: true, status: 'sent' },
    },
    {
      name: 'no identifier anywhere',
      call: { path: '/_tap/convert', init: post({ external_id: 'ORD1' }) },
      status: 200,
      body: { ok: true, status: 'unattributed' },
    },
    {
      name: 'no content type',
      // Bytes, not a string: a string body makes fetch add text/plain itself.
      call: { path: '/_tap/convert', init: { method: 'POST', headers: { origin: ORIGIN }, body: new TextEncoder().encode(JSON.stringify(order)) } },
      status: 415,
      body: { ok: false, error: 'unsupported_media_type', message: expect.any(String) },
    },
    {
      name: 'a form post',
      call: { path: '/_tap/convert', init: post('external_id=1', { 'content-type': 'application/x-www-form-urlencoded' }) },
      status: 415,
      body: { ok: false, error: 'unsupported_media_type', message: expect.any(String) },
    },
    {
      name: 'a body over 16 KB',
      call: { path: '/_tap/convert', init: post({ ...order, padding: 'x'.repeat(17 * 1024) }) },
      status: 413,
      body: { ok: false, error: 'body_too_large', message: expect.any(String) },
    },
    {
      name: 'malformed JSON',
      call: { path: '/_tap/convert', init: post('{"external_id": ') },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: '', message: 'the body is not valid JSON' }] },
    },
    {
      name: 'JSON that is not an object',
      call: { path: '/_tap/convert', init: post('[1,2]') },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: '', message: 'must be a JSON object' }] },
    },
    {
      name: 'a missing external_id',
      call: { path: '/_tap/convert', init: post({ referral_code: 'demo' }) },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: 'external_id', message: 'is required' }] },
    },
    {
      name: 'an amount that is not a number',
      call: { path: '/_tap/convert', init: post({ ...order, amount: 'ten' }) },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: 'amount', message: 'must be a number' }] },
    },
    {
      name: 'a currency that is not ISO 4217',
      call: { path: '/_tap/convert', init: post({ ...order, currency: 'EURO' }) },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: 'currency', message: 'must be a three-letter ISO 4217 code' }] },
    },
    {
      name: 'three letters that are no ISO 4217 currency',
      call: { path: '/_tap/convert', init: post({ ...order, currency: 'XYZ' }) },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: 'currency', message: 'is not an active ISO 4217 currency code' }] },
    },
    {
      name: 'a withdrawn ISO 4217 currency (the kuna, replaced by the euro)',
      call: { path: '/_tap/convert', init: post({ ...order, currency: 'hrk' }) },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: 'currency', message: 'is not an active ISO 4217 currency code' }] },
    },
    {
      name: 'meta_data with a character Tapfiliate rejects',
      call: { path: '/_tap/convert', init: post({ ...order, meta_data: { plan: 'a/b' } }) },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: 'meta_data.plan', message: 'must not contain " : { } ] \\ \' / &' }] },
    },
    {
      name: 'meta_data with 11 keys',
      call: {
        path: '/_tap/convert',
        init: post({ ...order, meta_data: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i])) }),
      },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: 'meta_data', message: 'at most 10 keys' }] },
    },
    {
      name: 'a customer without customer_id',
      call: { path: '/_tap/customer', init: post({ coupon: 'SAVE10' }) },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: 'customer_id', message: 'is required' }] },
    },
    {
      name: 'an external_id that is an object',
      call: { path: '/_tap/convert', init: post({ ...order, external_id: { id: 1 } }) },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: 'external_id', message: 'must be a string or an integer' }] },
    },
    {
      name: 'no API key',
      call: { path: '/_tap/convert', init: post(order), env: { TAPFILIATE_API_KEY: undefined } },
      status: 503,
      body: { ok: false, error: 'not_configured' },
    },
    {
      name: 'an amount above MAX_AMOUNT in an unsigned browser event',
      call: { path: '/_tap/convert', init: post({ ...order, amount: 100 }), env: { MAX_AMOUNT: '99.5' } },
      status: 400,
      body: { ok: false, error: 'invalid_request', issues: [{ path: 'amount', message: expect.stringContaining('at most 99.5') }] },
    },
    {
      name: 'no Origin (not a browser)',
      call: { path: '/_tap/convert', init: post(order, { origin: undefined }) },
      status: 403,
      body: { ok: false, error: 'origin_not_allowed', message: expect.any(String) },
    },
    {
      name: 'a foreign Origin',
      call: { path: '/_tap/convert', init: post(order, { origin: 'https://evil.example' }) },
      status: 403,
      body: { ok: false, error: 'origin_not_allowed', message: expect.any(String) },
    },
    {
      name: 'the site itself as Origin',
      call: { path: '/_tap/convert', init: post(order, { origin: ORIGIN }) },
      status: 200,
      body: { ok: true, status: 'sent' },
    },
    {
      name: 'a listed Origin',
      call: {
        path: '/_tap/convert',
        init: post(order, { origin: 'https://checkout.shop.example' }),
        env: { ALLOWED_ORIGINS: 'https://www.shop.example, https://checkout.shop.example/' },
      },
      status: 200,
      body: { ok: true, status: 'sent' },
    },
    { name: 'an unknown path under the base', call: { path: '/_tap/nope' }, status: 404, body: { ok: false, error: 'not_found', message: expect.any(String) } },
    { name: 'the base itself', call: { path: '/_tap' }, status: 404, body: { ok: false, error: 'not_found', message: expect.any(String) } },
    { name: 'GET on an event route', call: { path: '/_tap/convert' }, status: 404, body: { ok: false, error: 'not_found', message: expect.any(String) } },
  ];

  it.each(rows)('$name → $status', async ({ call: request, status, body }) => {
    const { response, json } = await call(request);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(json()).toEqual(body);
  });

  it.each(rows.filter((row) => row.status >= 400))('sends nothing upstream on $name', async ({ call: request }) => {
    const { jobs } = await call(request);
    expect(jobs).toEqual([]);
  });
});

describe('delivery results', () => {
  const rows = [
    { result: { status: 'sent' as const }, status: 200, body: { ok: true, status: 'sent' } },
    { result: { status: 'queued' as const }, status: 202, body: { ok: true, status: 'queued' } },
    { result: { status: 'duplicate' as const }, status: 200, body: { ok: true, status: 'duplicate' } },
    {
      // Tapfiliate's words go to the log only: they would tell anyone which referral codes exist.
      result: { status: 'rejected' as const, upstreamStatus: 422, message: 'Referral code not found.\nstack: secret-of-upstream' },
      status: 422,
      body: { ok: false, error: 'upstream_rejected' },
    },
    {
      result: { status: 'unavailable' as const },
      status: 503,
      body: { ok: false, error: 'temporarily_unavailable', message: expect.any(String) },
    },
  ];
  it.each(rows)('$result.status → $status', async ({ result, status, body }) => {
    const { response, json } = await call({ path: '/_tap/convert', init: post(order) }, { createDelivery: recordingDelivery(result).create });
    expect(response.status).toBe(status);
    expect(json()).toEqual(body);
  });

  it('answers a retryable 503 without echoing when the ledger cannot be reached, and logs it', async () => {
    const { response, json, lines } = await call(
      { path: '/_tap/convert', init: post(order) },
      { createDelivery: () => fakeDelivery(() => Promise.reject(new Error('kaboom at https://internal.example/x'))) },
    );
    expect(response.status).toBe(503);
    expect(json()).toEqual({ ok: false, error: 'temporarily_unavailable', message: 'try again shortly' });
    expect(lines.some((line) => line.includes('"delivery_unavailable"') && line.includes('kaboom'))).toBe(true);
  });

  it('names the order and the error code on the request line of a refusal (docs/operations.md, "Logs")', async () => {
    const requestLine = (lines: string[]) => JSON.parse(lines.find((line) => line.includes('"event":"request"'))!);
    const invalid = await call({ path: '/_tap/convert', init: post({ ...order, external_id: 'ORD-LOG-1', currency: 'XYZ' }) });
    expect(invalid.response.status).toBe(400);
    expect(requestLine(invalid.lines)).toMatchObject({ status: 400, external_id: 'ORD-LOG-1', error: 'invalid_request' });
    const signedId = await call({
      path: '/_tap/convert',
      init: post({ signed: JSON.stringify({ external_id: 'ORD-LOG-2', amount: 1 }), signature: '0'.repeat(64) }),
      env: { TAPLINE_SIGNING_SECRET: 'log-test-secret' },
    });
    expect(requestLine(signedId.lines)).toMatchObject({ status: 401, external_id: 'ORD-LOG-2', error: 'invalid_signature' });
  });

  it('answers 503 not_configured and hands nothing on when the deployment has no delivery (no ledger)', async () => {
    const { response, json, lines, jobs } = await call({ path: '/_tap/convert', init: post(order), env: { POSTBACK_LEDGER: undefined } });
    expect(response.status).toBe(503);
    expect(json()).toEqual({ ok: false, error: 'not_configured' });
    expect(lines.some((line) => line.includes('POSTBACK_LEDGER must be bound'))).toBe(true);
    expect(jobs).toEqual([]);
  });

  it('keeps the 503 retryable: the unavailable answer carries Retry-After', async () => {
    const { response } = await call({ path: '/_tap/convert', init: post(order) }, { createDelivery: recordingDelivery({ status: 'unavailable' }).create });
    expect(response.headers.get('retry-after')).toBe('30');
  });
});

// Every value asserted here comes from the env the test passes, never from the fake delivery.
describe('health', () => {
  const base = {
    ok: true,
    configured: true,
    trust: 'open',
    delivery: { durable: true },
    rate_limit: 'per_ip',
    webhooks: { stripe: false, shopify: false, paddle: false, paddle_sandbox: false, lemonsqueezy: false },
    forwarder: false,
  };
  const rows: { name: string; env: Partial<Env>; body: Record<string, unknown> }[] = [
    { name: 'the project env: key, queue, ledger and a limiter bound', env: {}, body: base },
    { name: 'no API key', env: { TAPFILIATE_API_KEY: undefined }, body: { ...base, configured: false } },
    { name: 'a blank API key', env: { TAPFILIATE_API_KEY: '  ' }, body: { ...base, configured: false } },
    { name: 'a signing secret', env: { TAPLINE_SIGNING_SECRET: 'shh' }, body: { ...base, trust: 'signed' } },
    {
      name: 'no ledger: no durable delivery, so not configured',
      env: { POSTBACK_LEDGER: undefined },
      body: { ...base, configured: false, delivery: { durable: false } },
    },
    { name: 'no rate limit binding', env: { TAPLINE_RATE_LIMIT: undefined }, body: { ...base, rate_limit: 'none' } },
    { name: 'a Stripe secret', env: { STRIPE_WEBHOOK_SECRET: 'whsec_x' }, body: { ...base, trust: 'webhooks', webhooks: { ...base.webhooks, stripe: true } } },
    { name: 'a Shopify secret', env: { SHOPIFY_WEBHOOK_SECRET: 'shp' }, body: { ...base, trust: 'webhooks', webhooks: { ...base.webhooks, shopify: true } } },
    { name: 'a Paddle secret', env: { PADDLE_WEBHOOK_SECRET: 'pdl' }, body: { ...base, trust: 'webhooks', webhooks: { ...base.webhooks, paddle: true } } },
    // A sandbox signs only test events: the live orders are still the browser's.
    { name: 'a Paddle sandbox secret', env: { PADDLE_SANDBOX_WEBHOOK_SECRET: 'pdl' }, body: { ...base, webhooks: { ...base.webhooks, paddle_sandbox: true } } },
    { name: 'a Lemon Squeezy secret', env: { LEMONSQUEEZY_WEBHOOK_SECRET: 'ls' }, body: { ...base, trust: 'webhooks', webhooks: { ...base.webhooks, lemonsqueezy: true } } },
    {
      name: 'a postback URL that is plain http to another host',
      env: { POSTBACK_CONVERSION_URL: 'http://evil.example/1.7/pb/con/c/' },
      body: { ...base, configured: false },
    },
    { name: 'ALLOWED_ORIGINS with a bare host', env: { ALLOWED_ORIGINS: 'shop.example' }, body: { ...base, configured: false } },
  ];
  it.each(rows)('$name', async ({ env, body }) => {
    const { response, json } = await call({ path: '/_tap/health', env });
    expect(response.status).toBe(200);
    expect(json()).toEqual(body);
  });

  it('never shows a secret', async () => {
    const { text } = await call({
      path: '/_tap/health',
      env: {
        TAPFILIATE_API_KEY: 'key-123456',
        TAPLINE_SIGNING_SECRET: 'sig-123456',
        TAPLINE_SERVER_TOKEN: 'tok-123456',
        STRIPE_WEBHOOK_SECRET: 'whsec_123456',
        PADDLE_WEBHOOK_SECRET: 'pdl-123456',
        LEMONSQUEEZY_WEBHOOK_SECRET: 'ls-123456',
      },
    });
    for (const secret of ['key-123456', 'sig-123456', 'tok-123456', 'whsec_123456', 'pdl-123456', 'ls-123456']) expect(text).not.toContain(secret);
  });
});

describe('rate limit', () => {
  it('answers 429 rate_limited with Retry-After, counted by CF-Connecting-IP, and hands nothing on', async () => {
    const limit = exhaustedLimit();
    const { response, json, jobs } = await call({
      path: '/_tap/convert',
      init: post(order, { 'cf-connecting-ip': '203.0.113.9' }),
      env: { TAPLINE_RATE_LIMIT: limit.binding },
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('60');
    expect(json()).toMatchObject({ ok: false, error: 'rate_limited' });
    expect(limit.keys).toEqual(['203.0.113.9']);
    expect(jobs).toEqual([]);
  });

  it('does not count a server event', async () => {
    const limit = exhaustedLimit();
    const { response, jobs } = await call({
      path: '/_tap/convert',
      init: post(order, { origin: undefined, authorization: 'Bearer server-token' }),
      env: { TAPLINE_RATE_LIMIT: limit.binding, TAPLINE_SERVER_TOKEN: 'server-token' },
    });
    expect(response.status).toBe(200);
    expect(limit.keys).toEqual([]);
    expect(jobs).toHaveLength(1);
  });

  it('counts a wrong server token before refusing it, so tokens cannot be guessed at speed', async () => {
    const limit = exhaustedLimit();
    const { response } = await call({
      path: '/_tap/convert',
      init: post(order, { authorization: 'Bearer guess', 'cf-connecting-ip': '203.0.113.10' }),
      env: { TAPLINE_RATE_LIMIT: limit.binding, TAPLINE_SERVER_TOKEN: 'server-token' },
    });
    expect(response.status).toBe(429);
    expect(limit.keys).toEqual(['203.0.113.10']);
  });
});

describe('test mode', () => {
  it('answers what would have been sent, without the key, and hands nothing to delivery', async () => {
    const { response, json, jobs, text } = await call({
      path: '/_tap/convert',
      init: post({ ...order, customer_id: 'C1', test: true }, { 'cf-connecting-ip': '203.0.113.7' }),
    });
    expect(response.status).toBe(200);
    expect(json()).toEqual({
      ok: true,
      status: 'test',
      postbacks: [
        { kind: 'customer', url: expect.stringMatching(/\/1\.7\/pb\/cus\/c\/$/), body: { customer_id: 'C1', referral_code: 'demo', ip: '203.0.113.7' } },
        {
          kind: 'conversion',
          url: expect.stringMatching(/\/1\.7\/pb\/con\/c\/$/),
          body: { external_id: 'ORD005', amount: 100, currency: 'EUR', customer_id: 'C1', referral_code: 'demo', ip: '203.0.113.7' },
        },
      ],
    });
    expect(jobs).toEqual([]);
    expect(text).not.toContain('test-key');
  });

  it('checks a test event like a real one', async () => {
    const { response } = await call({ path: '/_tap/convert', init: post({ ...order, test: true }, { origin: 'https://evil.example' }) });
    expect(response.status).toBe(403);
  });
});

describe('validation and normalisation', () => {
  it('upper-cases currency, makes amount a number, ids strings, and drops unknown fields', async () => {
    const { jobs } = await call({
      path: '/_tap/convert',
      init: post({ external_id: 5, amount: '12.50', currency: 'eur', referral_code: 'demo', foo: 'bar', program_id: 'x' }),
    });
    expect(jobs[0].conversion).toEqual({ external_id: '5', amount: 12.5, currency: 'EUR', referral_code: 'demo' });
  });
});

describe('attribution', () => {
  const rows: { name: string; cookie?: string; body: Record<string, unknown>; identifiers: Record<string, string> | null }[] = [
    {
      name: 'cookie only',
      cookie: tapDataCookie({ referral_code: 'aff1', click_id: 'clk', ts: 1795550000 }),
      body: { external_id: 'A' },
      identifiers: { referral_code: 'aff1', click_id: 'clk' },
    },
    {
      name: 'the body wins field by field',
      cookie: tapDataCookie({ referral_code: 'aff1', coupon: 'OLD', ts: 1795550000 }),
      body: { external_id: 'A', coupon: 'TYPED', source_id: 'src' },
      identifiers: { referral_code: 'aff1', coupon: 'TYPED', source_id: 'src' },
    },
    {
      name: 'as js-cookie writes it',
      cookie: 'other=1; tap_data={%22referral_code%22:%22aff2%22%2C%22ts%22:1795550000}; x=y',
      body: { external_id: 'A' },
      identifiers: { referral_code: 'aff2' },
    },
    {
      name: 'a field that fails validation is dropped, the rest kept',
      cookie: tapDataCookie({ referral_code: 'x'.repeat(300), asset_id: 'ast', source_id: 'src', click_id: 7.5, coupon: 'a\u202eb' }),
      body: { external_id: 'A' },
      identifiers: { asset_id: 'ast', source_id: 'src' },
    },
    {
      name: 'asset_id and source_id count only as a pair',
      cookie: tapDataCookie({ asset_id: 'ast', ts: 1795550000 }),
      body: { external_id: 'A' },
      identifiers: null,
    },
    {
      name: 'the body completes the pair the cookie started',
      cookie: tapDataCookie({ asset_id: 'ast', ts: 1795550000 }),
      body: { external_id: 'A', source_id: 'src' },
      identifiers: { asset_id: 'ast', source_id: 'src' },
    },
    { name: 'malformed cookie ignored', cookie: 'tap_data=%7Bnot-json', body: { external_id: 'A' }, identifiers: null },
    { name: 'a cookie that is not an object', cookie: tapDataCookie(['aff']), body: { external_id: 'A' }, identifiers: null },
    { name: 'neither', body: { external_id: 'A' }, identifiers: null },
  ];
  it.each(rows)('$name', async ({ cookie, body, identifiers }) => {
    const { json, jobs } = await call({ path: '/_tap/convert', init: post(body, cookie ? { cookie } : {}) });
    if (identifiers === null) {
      expect(json()).toEqual({ ok: true, status: 'unattributed' });
      expect(jobs).toEqual([]);
    } else {
      expect(jobs).toHaveLength(1);
      const { external_id, ...sent } = jobs[0].conversion!;
      expect(external_id).toBe('A');
      expect(sent).toEqual(identifiers);
    }
  });
});

describe('enrichment', () => {
  const headers = {
    cookie: tapDataCookie({ referral_code: 'aff1' }),
    'cf-connecting-ip': '203.0.113.7',
    'user-agent': 'Mozilla/5.0 (real browser)',
    'x-forwarded-for': '198.51.100.99',
  };

  it('takes ip and user agent from the request, never from the body or X-Forwarded-For', async () => {
    const { jobs } = await call({
      path: '/_tap/convert',
      init: post({ ...order, ip: '10.0.0.1', user_agent: 'forged' }, headers),
    });
    expect(jobs[0].conversion).toMatchObject({ ip: '203.0.113.7', user_agent: 'Mozilla/5.0 (real browser)' });
  });

  it('leaves ip out rather than sending it empty when the header is missing', async () => {
    const { jobs } = await call({ path: '/_tap/convert', init: post({ ...order, ip: '10.0.0.1' }, { 'x-forwarded-for': '198.51.100.99' }) });
    expect(jobs[0].conversion).not.toHaveProperty('ip');
  });

  it('builds a customer postback before the conversion when customer_id is present', async () => {
    const { jobs } = await call({
      path: '/_tap/convert',
      init: post({ ...order, customer_id: 'CUS-1', meta_data: { plan: 'pro' } }, headers),
    });
    expect(stepsOf(jobs[0])).toEqual(['customer', 'conversion']);
    expect(jobs[0].customer).toEqual({
      customer_id: 'CUS-1',
      referral_code: 'demo',
      ip: '203.0.113.7',
      user_agent: 'Mozilla/5.0 (real browser)',
    });
    expect(jobs[0].conversion).toEqual({
      external_id: 'ORD005',
      amount: 100,
      currency: 'EUR',
      customer_id: 'CUS-1',
      meta_data: { plan: 'pro' },
      referral_code: 'demo',
      ip: '203.0.113.7',
      user_agent: 'Mozilla/5.0 (real browser)',
    });
  });

  it('sends a customer alone from /customer, with its meta_data', async () => {
    const { jobs } = await call({
      path: '/_tap/customer',
      init: post({ customer_id: 'C7', meta_data: { source: 'signup' } }, headers),
    });
    expect(jobs).toEqual([
      {
        customer: {
          customer_id: 'C7',
          meta_data: { source: 'signup' },
          referral_code: 'aff1',
          ip: '203.0.113.7',
          user_agent: 'Mozilla/5.0 (real browser)',
        },
      },
    ]);
  });
});

describe('origin policy', () => {
  const listed = { ALLOWED_ORIGINS: 'https://www.shop.example,https://checkout.shop.example' };

  it('gives a listed origin CORS with credentials', async () => {
    const { response } = await call({ path: '/_tap/convert', init: post(order, { origin: 'https://www.shop.example' }), env: listed });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://www.shop.example');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('vary')).toMatch(/origin/i);
  });

  it('gives the site itself no CORS headers: it needs none', async () => {
    const { response } = await call({ path: '/_tap/convert', init: post(order, { origin: ORIGIN }), env: listed });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers a preflight from a listed origin', async () => {
    const { response, jobs } = await call({
      path: '/_tap/convert',
      init: {
        method: 'OPTIONS',
        headers: {
          origin: 'https://checkout.shop.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      },
      env: listed,
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://checkout.shop.example');
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(jobs).toEqual([]);
  });

  it('refuses a preflight from any other origin', async () => {
    const { response } = await call({
      path: '/_tap/customer',
      init: { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } },
      env: listed,
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets a refused origin read its 403, so the snippet drops the event instead of resending it', async () => {
    const { response, jobs } = await call({ path: '/_tap/convert', init: post(order, { origin: 'https://evil.example' }), env: listed });
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://evil.example');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('vary')).toMatch(/origin/i);
    expect(jobs).toEqual([]);
  });

  it('keeps CORS headers on a listed origin’s error, so the page can read it', async () => {
    const { response } = await call({ path: '/_tap/convert', init: post('{', { origin: 'https://www.shop.example' }), env: listed });
    expect(response.status).toBe(400);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://www.shop.example');
  });
});

describe('the snippet', () => {
  it('serves the built bytes as cacheable JavaScript with an ETag', async () => {
    const { response, text } = await call({ path: '/_tap/tap.js' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(response.headers.get('etag')).toBe(SNIPPET_ETAG);
    expect(response.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(text).toBe(SNIPPET_SOURCE);
  });

  it('answers 304 with no body to a matching If-None-Match', async () => {
    const { response, text } = await call({ path: '/_tap/tap.js', init: { headers: { 'if-none-match': SNIPPET_ETAG } } });
    expect(response.status).toBe(304);
    expect(text).toBe('');
    expect(response.headers.get('etag')).toBe(SNIPPET_ETAG);
    expect(response.headers.get('cache-control')).toBe('public, max-age=3600');
  });

  it('answers HEAD with the headers only', async () => {
    const { response, text } = await call({ path: '/_tap/tap.js', init: { method: 'HEAD' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe(SNIPPET_ETAG);
    expect(text).toBe('');
  });

  it('sends the bytes again to a stale ETag', async () => {
    const { response, text } = await call({ path: '/_tap/tap.js', init: { headers: { 'if-none-match': '"old"' } } });
    expect(response.status).toBe(200);
    expect(text).toBe(SNIPPET_SOURCE);
  });
});

describe('routing', () => {
  it('passes a path outside the base to the origin untouched', async () => {
    const { response, text, origin, lines } = await call({ path: '/products/1?x=1', init: { headers: { cookie: 'a=b' } } });
    expect(response.status).toBe(200);
    expect(text).toBe('origin saw /products/1');
    expect(origin).toHaveBeenCalledOnce();
    expect(origin.mock.calls[0][0].url).toBe(`${ORIGIN}/products/1?x=1`);
    expect(origin.mock.calls[0][0].headers.get('cookie')).toBe('a=b');
    expect(lines).toEqual([]);
  });

  it('treats a path that only starts like the base as outside it', async () => {
    const { origin } = await call({ path: '/_tapestry' });
    expect(origin).toHaveBeenCalledOnce();
  });

  it('follows BASE_PATH', async () => {
    const inside = await call({ path: '/t/health', env: { BASE_PATH: '/t/' } });
    expect(inside.json()).toMatchObject({ ok: true });
    const outside = await call({ path: '/_tap/health', env: { BASE_PATH: '/t/' } });
    expect(outside.origin).toHaveBeenCalledOnce();
  });
});

describe('logs', () => {
  it('writes one JSON line per request with route, status, external_id, ms and a truncated IP', async () => {
    const { lines } = await call({
      path: '/_tap/convert',
      init: post(order, { 'cf-connecting-ip': '203.0.113.7', cookie: tapDataCookie({ referral_code: 'cookie-only-value' }) }),
    });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]);
    expect(line).toEqual({
      event: 'request',
      route: 'convert',
      method: 'POST',
      status: 200,
      ms: expect.any(Number),
      ip: '203.0.113.x',
      external_id: 'ORD005',
      result: 'sent',
    });
    expect(lines[0]).not.toContain('cookie-only-value');
    expect(lines[0]).not.toContain('203.0.113.7');
  });

  it('logs the upstream status of a rejection', async () => {
    const { lines } = await call(
      { path: '/_tap/convert', init: post(order) },
      { createDelivery: recordingDelivery({ status: 'rejected', upstreamStatus: 422, message: 'nope' }).create },
    );
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ status: 422, result: 'rejected', upstream_status: 422 });
  });

  it('logs a one-line hint when the key is missing', async () => {
    const { lines } = await call({ path: '/_tap/convert', init: post(order), env: { TAPFILIATE_API_KEY: '' } });
    expect(lines.some((line) => line.includes('npx wrangler secret put TAPFILIATE_API_KEY --env production'))).toBe(true);
  });
});

describe('the API key', () => {
  const key = 'sk_live_9f8e7d6c5b4a';
  const requests: Call[] = [
    { path: '/_tap/convert', init: post(order) },
    { path: '/_tap/convert', init: post('{') },
    { path: '/_tap/convert', init: post(order, { origin: 'https://evil.example' }) },
    { path: '/_tap/customer', init: post({ customer_id: 'C', coupon: 'X' }) },
    { path: '/_tap/health' },
    { path: '/_tap/tap.js' },
    { path: '/_tap/nope' },
  ];
  it.each(requests)('appears in no answer and no log line: $init.method $path', async (request) => {
    // The worst case: an upstream that echoes the key in its message, and a delivery that throws with it.
    const echoing = recordingDelivery({ status: 'rejected', upstreamStatus: 401, message: `bad key ${key}` });
    for (const createDelivery of [
      echoing.create,
      () => fakeDelivery(() => Promise.reject(new Error(`failed with ${key}`))),
    ]) {
      const { response, text, lines } = await call({ ...request, env: { TAPFILIATE_API_KEY: key } }, { createDelivery });
      expect(text).not.toContain(key);
      expect([...response.headers.values()].join(' ')).not.toContain(key);
      for (const line of lines) expect(line).not.toContain(key);
    }
  });
});
