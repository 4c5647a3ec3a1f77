import { beforeEach, describe, expect, it } from 'vitest';
import { classifyResponse, createPostbackSender, parseRetryAfter, type PostbackKind } from '../../proxy/delivery/postback';
import { client, postbackServer, type Fault } from './postback-control';

const server = postbackServer('postback');
beforeEach(() => server.reset());

const conversion = (external_id: string) => ({ external_id, amount: 10, currency: 'EUR', referral_code: 'demo', ...client });
const customer = (customer_id: string) => ({ customer_id, referral_code: 'demo', ...client });

describe('one postback attempt against the local Tapfiliate stand-in', () => {
  it('posts JSON with the key and the contract headers', async () => {
    const send = createPostbackSender({ env: server.env() });
    const { outcome } = await send('conversion', conversion('ORD-H1'));
    expect(outcome).toEqual({ result: 'ok', status: 200 });
    const [received] = await server.received();
    expect(received).toMatchObject({ kind: 'conversion', apiKey: 'test-key', contentType: 'application/json' });
    expect(received.fields).toMatchObject({ external_id: 'ORD-H1', amount: 10, ip: client.ip });
  });

  const cases: { name: string; kind: PostbackKind; before?: 'same' ; faults?: Fault[]; key?: string; expected: unknown }[] = [
    { name: 'conversion 2xx → ok', kind: 'conversion', expected: { result: 'ok', status: 200 } },
    { name: 'customer 2xx → ok', kind: 'customer', expected: { result: 'ok', status: 200 } },
    { name: 'repeated conversion external_id → duplicate', kind: 'conversion', before: 'same', expected: { result: 'duplicate', status: 422 } },
    { name: 'repeated customer_id ("already exists") → ok', kind: 'customer', before: 'same', expected: { result: 'ok', status: 422 } },
    { name: '503 → retry', kind: 'conversion', faults: ['503'], expected: { result: 'retry', status: 503, reason: 'http_503' } },
    { name: '429 → retry honouring Retry-After', kind: 'conversion', faults: ['429'], expected: { result: 'retry', status: 429, reason: 'http_429', retryAfterSeconds: 1 } },
    { name: 'dropped connection → retry', kind: 'conversion', faults: ['drop'], expected: { result: 'retry', reason: 'network' } },
    { name: 'slower than the timeout → retry', kind: 'customer', faults: ['slow'], expected: { result: 'retry', reason: 'timeout' } },
    { name: 'wrong key → rejected with the one-line message', kind: 'conversion', key: 'wrong', expected: { result: 'rejected', status: 401, message: 'Authentication Failed.' } },
    { name: 'no key (HTML body) → rejected, body not kept', kind: 'conversion', key: '', expected: { result: 'rejected', status: 401, message: 'Tapfiliate answered 401' } },
  ];

  it.each(cases)('$name', async ({ kind, before, faults, key, expected }) => {
    const id = `ID-${Math.random().toString(36).slice(2)}`;
    const body = kind === 'conversion' ? conversion(id) : customer(id);
    const send = createPostbackSender({ env: server.env(key === undefined ? {} : { TAPFILIATE_API_KEY: key }), timeoutMs: 200 });
    if (before) expect((await createPostbackSender({ env: server.env() })(kind, body)).outcome.result).toBe('ok');
    await server.setFaults({ next: faults ?? [], slowMs: 1000 });
    const { outcome, ms } = await send(kind, body);
    expect(outcome).toEqual(expected);
    expect(ms).toBeGreaterThanOrEqual(0);
  });

  it('uses the contract default URLs when the vars are unset', async () => {
    const calls: string[] = [];
    const send = createPostbackSender({
      env: { TAPFILIATE_API_KEY: 'k' },
      fetch: async (input) => {
        calls.push(String(input));
        return new Response('{}');
      },
    });
    await send('customer', customer('C'));
    await send('conversion', conversion('O'));
    expect(calls).toEqual(['https://api.tapfiliate.com/1.7/pb/cus/c/', 'https://api.tapfiliate.com/1.7/pb/con/c/']);
  });
});

describe('answers the stand-in does not produce', () => {
  const cases: { name: string; kind: PostbackKind; response: () => Response; expected: unknown }[] = [
    { name: '409 conversion → duplicate', kind: 'conversion', response: () => new Response('{"message":"Conflict"}', { status: 409 }), expected: { result: 'duplicate', status: 409 } },
    { name: 'errors[] message is read', kind: 'conversion', response: () => Response.json({ errors: [{ message: 'Invalid\n  referral code' }] }, { status: 400 }), expected: { result: 'rejected', status: 400, message: 'Invalid referral code' } },
    { name: 'long message is cut to one short line', kind: 'conversion', response: () => Response.json({ message: 'x'.repeat(500) }, { status: 422 }), expected: { result: 'rejected', status: 422, message: 'x'.repeat(200) } },
    { name: 'non-JSON 400 keeps no body', kind: 'conversion', response: () => new Response('secret-ish <b>stack</b>', { status: 400 }), expected: { result: 'rejected', status: 400, message: 'Tapfiliate answered 400' } },
    { name: '500 → retry', kind: 'customer', response: () => new Response('', { status: 500 }), expected: { result: 'retry', status: 500, reason: 'http_500' } },
    { name: '429 without Retry-After', kind: 'conversion', response: () => new Response('', { status: 429 }), expected: { result: 'retry', status: 429, reason: 'http_429' } },
  ];
  it.each(cases)('$name', async ({ kind, response, expected }) => {
    expect(await classifyResponse(kind, response())).toEqual(expected);
  });

  it('Retry-After: seconds, HTTP-date, garbage, and a cap', () => {
    const now = Date.parse('2026-11-24T12:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter('Tue, 24 Nov 2026 12:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Tue, 24 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('999999', now)).toBe(3600);
  });
});
