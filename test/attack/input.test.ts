// The attack "Loose input" (and "Ledger bypass", whose cause was an unbounded
// User-Agent): without these rules each hostile value below would be accepted
// and forwarded as is.
import { describe, expect, it } from 'vitest';
import { attackEnv, health, receivedFor, send, uniqueId } from './harness';

const HOSTILE = [
  ['NUL', 'a\u0000b'],
  ['CR/LF', 'a\r\nX-Injected: 1'],
  ['a lone LF', 'a\nb'],
  ['U+202E (right-to-left override)', 'cod\u202Eexe.pdf'],
  ['U+2066 (isolate)', 'a\u2066b'],
  ['a C1 control (U+0085)', 'a\u0085b'],
  ['DEL', 'a\u007fb'],
] as const;

describe('ids and referral codes', () => {
  const fields = [
    ['/_tap/convert', 'external_id'],
    ['/_tap/convert', 'customer_id'],
    ['/_tap/convert', 'referral_code'],
    ['/_tap/convert', 'coupon'],
    ['/_tap/convert', 'click_id'],
    ['/_tap/customer', 'customer_id'],
    ['/_tap/customer', 'referral_code'],
  ] as const;
  for (const [path, field] of fields) {
    for (const [name, value] of HOSTILE) {
      it(`refuses ${name} in ${field} on ${path}: 400 naming ${field}`, async () => {
        const id = uniqueId();
        const body: Record<string, unknown> = path === '/_tap/convert' ? { external_id: id, referral_code: 'aff' } : { customer_id: id, referral_code: 'aff' };
        body[field] = value;
        const answer = await send(path, body);
        expect(answer.status).toBe(400);
        expect(answer.json).toMatchObject({ ok: false, error: 'invalid_request', issues: [{ path: field }] });
        expect(await receivedFor(id)).toEqual([]);
      });
    }
  }

  it('refuses 12345678901234567891 as an external_id: JSON.parse has already lost its digits', async () => {
    const answer = await send('/_tap/convert', '{"external_id":12345678901234567891,"referral_code":"aff"}');
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ issues: [{ path: 'external_id' }] });
    expect(await receivedFor('12345678901234567000')).toEqual([]);
    expect(await receivedFor('12345678901234567891')).toEqual([]);
  });

  it('accepts a long number sent as a string, digit for digit', async () => {
    const big = `9${Date.now()}${Math.floor(Math.random() * 1e6)}`;
    expect((await send('/_tap/convert', { external_id: big, referral_code: 'aff' })).json).toEqual({ ok: true, status: 'sent' });
    expect((await receivedFor(big))[0].fields.external_id).toBe(big);
  });

  it('accepts a safe integer as a number, and sends it as a string', async () => {
    const id = 1_000_000_000 + Math.floor(Math.random() * 1e9) * 1000 + (Date.now() % 1000);
    expect((await send('/_tap/convert', `{"external_id":${id},"referral_code":"aff"}`)).json).toEqual({ ok: true, status: 'sent' });
    expect((await receivedFor(String(id)))[0].fields.external_id).toBe(String(id));
  });

  it('refuses an id over 255 characters', async () => {
    const answer = await send('/_tap/convert', { external_id: 'x'.repeat(256), referral_code: 'aff' });
    expect(answer.json).toMatchObject({ issues: [{ path: 'external_id' }] });
  });
});

describe('meta_data', () => {
  it('refuses a __proto__ key: 400, and nothing is polluted', async () => {
    const external_id = uniqueId();
    const answer = await send('/_tap/convert', `{"external_id":"${external_id}","referral_code":"aff","meta_data":{"__proto__":{"polluted":"yes"}}}`);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ ok: false, error: 'invalid_request', issues: [{ path: 'meta_data.__proto__', message: 'is not allowed' }] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await receivedFor(external_id)).toEqual([]);
  });

  it('refuses a __proto__ key that holds a plain value', async () => {
    const answer = await send('/_tap/convert', `{"external_id":"${uniqueId()}","referral_code":"aff","meta_data":{"__proto__":"x"}}`);
    expect(answer.status).toBe(400);
  });

  it('refuses control characters in a meta_data value', async () => {
    const answer = await send('/_tap/convert', { external_id: uniqueId(), referral_code: 'aff', meta_data: { plan: 'pro\r\nX 1' } });
    expect(answer.json).toMatchObject({ issues: [{ path: 'meta_data.plan' }] });
  });
});

describe('the visitor', () => {
  for (const header of ['not-an-ip', '203.0.113.7, 10.0.0.1', '203.0.113.300', '<script>']) {
    it(`forwards the event without ip when CF-Connecting-IP is ${JSON.stringify(header)}`, async () => {
      const external_id = uniqueId();
      const answer = await send('/_tap/convert', { external_id, referral_code: 'aff' }, { headers: { 'cf-connecting-ip': header } });
      expect(answer.json).toEqual({ ok: true, status: 'sent' });
      expect((await receivedFor(external_id))[0].fields).not.toHaveProperty('ip');
    });
  }

  it('forwards an IPv6 CF-Connecting-IP', async () => {
    const external_id = uniqueId();
    await send('/_tap/convert', { external_id, referral_code: 'aff' }, { headers: { 'cf-connecting-ip': '2001:db8::7' } });
    expect((await receivedFor(external_id))[0].fields.ip).toBe('2001:db8::7');
  });

  it('cuts a 64 KB User-Agent to 512 characters in every postback (the old ledger bypass)', async () => {
    const external_id = uniqueId();
    const answer = await send(
      '/_tap/convert',
      { external_id, customer_id: `CUS-${external_id}`, referral_code: 'aff' },
      { headers: { 'user-agent': 'M'.repeat(64 * 1024) } },
    );
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
    const received = await receivedFor(`CUS-${external_id}`);
    expect(received.map((r) => r.kind)).toEqual(['customer', 'conversion']);
    for (const r of received) expect(r.fields.user_agent).toBe('M'.repeat(512));
    // Through the ledger, once: the same order again is a duplicate.
    expect((await send('/_tap/convert', { external_id, referral_code: 'aff' }, { headers: { 'user-agent': 'M'.repeat(64 * 1024) } })).json).toEqual({
      ok: true,
      status: 'duplicate',
    });
  });

  it('refuses a body over 16 KB: 413', async () => {
    const answer = await send('/_tap/convert', { external_id: uniqueId(), referral_code: 'aff', padding: 'x'.repeat(17 * 1024) });
    expect(answer.status).toBe(413);
    expect(answer.json).toMatchObject({ ok: false, error: 'body_too_large' });
  });
});

describe('ALLOWED_ORIGINS', () => {
  for (const entry of ['null', '*', 'shop.example', 'https://shop.example/path', 'ftp://shop.example', 'http://checkout.example']) {
    it(`fails /health and every event on ${JSON.stringify(entry)}, and the log names it`, async () => {
      const env = attackEnv({ ALLOWED_ORIGINS: `https://www.shop.example, ${entry}` });
      const { json, lines } = await health(env);
      expect(json).toMatchObject({ ok: true, configured: false });
      expect(lines.some((line) => line.includes('ALLOWED_ORIGINS') && line.includes(entry))).toBe(true);

      const external_id = uniqueId();
      const answer = await send('/_tap/convert', { external_id, referral_code: 'aff' }, { env });
      expect(answer.status).toBe(503);
      expect(answer.json).toEqual({ ok: false, error: 'not_configured' });
      expect(answer.lines.some((line) => line.includes('ALLOWED_ORIGINS') && line.includes(entry))).toBe(true);
      expect(await receivedFor(external_id)).toEqual([]);
    });
  }

  it('does not open the proxy to an Origin of `null` when ALLOWED_ORIGINS lists null', async () => {
    const answer = await send('/_tap/convert', { external_id: uniqueId(), referral_code: 'aff' }, { env: attackEnv({ ALLOWED_ORIGINS: 'null' }), headers: { origin: 'null' } });
    expect(answer.status).toBe(403);
  });

  it('accepts real origins', async () => {
    const env = attackEnv({ ALLOWED_ORIGINS: 'https://www.shop.example, https://checkout.shop.example:8443/' });
    expect((await health(env)).json).toMatchObject({ configured: true });
    const answer = await send('/_tap/convert', { external_id: uniqueId(), referral_code: 'aff' }, { env, headers: { origin: 'https://checkout.shop.example:8443' } });
    expect(answer.json).toEqual({ ok: true, status: 'sent' });
  });
});
