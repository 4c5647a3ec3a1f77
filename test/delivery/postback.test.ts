import { beforeEach, describe, expect, it, vi } from 'vitest';
import { classifyResponse, DUPLICATE_MESSAGE, parseRetryAfter, sendPostback, TAPFILIATE_URLS, upstreamMessage, type PostbackKind } from '../../proxy/tapfiliate';
import { upstreamUrlsOf } from '../../proxy/config';
import { API_KEY, client, postbackServer, type Fault, type Rejection } from './postback-control';

// One postback attempt (proxy/tapfiliate.ts) against the local Tapfiliate stand-in, and
// classifyResponse against answers written here rather than by the stand-in.
const server = postbackServer('postback');
beforeEach(() => server.reset());

const conversion = (external_id: string) => ({ external_id, amount: 10, currency: 'EUR', referral_code: 'demo', ...client });
const customer = (customer_id: string) => ({ customer_id, referral_code: 'demo', ...client });
const bodyOf = (kind: PostbackKind, id: string) => (kind === 'conversion' ? conversion(id) : customer(id));
const urlOf = (kind: PostbackKind) => (kind === 'conversion' ? server.conversionUrl : server.customerUrl);
const send = (kind: PostbackKind, body: object, apiKey = API_KEY, timeoutMs?: number) =>
  sendPostback(kind, body, { url: urlOf(kind), apiKey, timeoutMs });
const newId = () => `ID-${Math.random().toString(36).slice(2)}`;

describe('one postback attempt against the local Tapfiliate stand-in', () => {
  it('posts JSON with the key', async () => {
    expect(await send('conversion', conversion('ORD-H1'))).toEqual({ result: 'ok', status: 200 });
    const [received] = await server.received();
    expect(received).toMatchObject({ kind: 'conversion', method: 'POST', apiKey: API_KEY, contentType: 'application/json' });
    expect(received.fields).toMatchObject({ external_id: 'ORD-H1', amount: 10, ip: client.ip });
  });

  const cases: { name: string; kind: PostbackKind; before?: 'same'; faults?: Fault[]; key?: string; expected: unknown }[] = [
    { name: 'conversion 2xx → ok', kind: 'conversion', expected: { result: 'ok', status: 200 } },
    { name: 'customer 2xx → ok', kind: 'customer', expected: { result: 'ok', status: 200 } },
    { name: 'the stand-in’s own repeat answer for a conversion → duplicate', kind: 'conversion', before: 'same', expected: { result: 'duplicate', status: 422 } },
    { name: 'the stand-in’s own repeat answer for a customer → ok', kind: 'customer', before: 'same', expected: { result: 'ok', status: 422 } },
    { name: '503 → retry', kind: 'conversion', faults: ['503'], expected: { result: 'retry', status: 503, reason: 'http_503' } },
    { name: '429 → retry honouring Retry-After', kind: 'conversion', faults: ['429'], expected: { result: 'retry', status: 429, reason: 'http_429', retryAfterSeconds: 1 } },
    { name: 'dropped connection → retry', kind: 'conversion', faults: ['drop'], expected: { result: 'retry', reason: 'network' } },
    { name: 'slower than the timeout → retry', kind: 'customer', faults: ['slow'], expected: { result: 'retry', reason: 'timeout' } },
    { name: 'wrong key → rejected with the one-line message', kind: 'conversion', key: 'wrong', expected: { result: 'rejected', status: 401, message: 'Authentication Failed.' } },
    { name: 'no key (HTML body) → rejected, body not kept', kind: 'conversion', key: '', expected: { result: 'rejected', status: 401, message: 'Tapfiliate answered 401' } },
  ];

  it.each(cases)('$name', async ({ kind, before, faults, key, expected }) => {
    const body = bodyOf(kind, newId());
    if (before) expect((await send(kind, body)).result).toBe('ok');
    await server.setFaults({ next: faults ?? [], slowMs: 1000 });
    expect(await send(kind, body, key ?? API_KEY, 200)).toEqual(expected);
  });

  it('without the URL vars, postbacks go to Tapfiliate’s documented URLs', () => {
    expect(upstreamUrlsOf({ TAPFILIATE_API_KEY: 'k' })).toMatchObject({ customer: TAPFILIATE_URLS.customer, conversion: TAPFILIATE_URLS.conversion });
    expect(TAPFILIATE_URLS).toMatchObject({ customer: 'https://api.tapfiliate.com/1.7/pb/cus/c/', conversion: 'https://api.tapfiliate.com/1.7/pb/con/c/' });
  });
});

describe('duplicate detection is narrow (DUPLICATE_MESSAGE), tested against wordings the rule was not written from', () => {
  // Each wording is injected into the stand-in as a rejection, so the real fetch + classify path reads it.
  const rows: { kind: PostbackKind; rejection: Rejection; duplicate: boolean }[] = [
    // Must count: the assumed wordings, in the case and punctuation variants a server might use, and 409.
    { kind: 'conversion', rejection: { status: 422, message: 'Conversion with external_id X-1042 already exists.' }, duplicate: true },
    { kind: 'conversion', rejection: { status: 400, message: 'conversion with external id 1042 already exists' }, duplicate: true },
    { kind: 'customer', rejection: { status: 422, message: 'Customer with customer_id Y-77 already exists' }, duplicate: true },
    { kind: 'customer', rejection: { status: 422, message: 'CUSTOMER WITH CUSTOMER_ID Y-77 ALREADY EXISTS.' }, duplicate: true },
    { kind: 'conversion', rejection: { status: 409, message: 'Conflict' }, duplicate: true },
    { kind: 'customer', rejection: { status: 409, body: '' }, duplicate: true },
    // Must not count: refusals that merely share words with a duplicate.
    { kind: 'conversion', rejection: { status: 422, message: 'Coupon already expired' }, duplicate: false },
    { kind: 'conversion', rejection: { status: 422, message: 'Referral code already used' }, duplicate: false },
    { kind: 'conversion', rejection: { status: 422, message: 'already' }, duplicate: false },
    { kind: 'conversion', rejection: { status: 422, message: 'Coupon SUMMER exists but is not active' }, duplicate: false },
    { kind: 'conversion', rejection: { status: 422, message: 'No affiliate exists for coupon SUMMER' }, duplicate: false },
    { kind: 'conversion', rejection: { status: 422, message: 'already exists' }, duplicate: false },
    { kind: 'customer', rejection: { status: 422, message: 'Referral code already used' }, duplicate: false },
    { kind: 'conversion', rejection: { status: 422, message: 'Error: Conversion with external_id 5 already exists.' }, duplicate: false },
    // A conversion refused because of its customer is not a duplicate conversion (the rule is per kind).
    { kind: 'conversion', rejection: { status: 422, message: 'Customer with customer_id Y-77 already exists.' }, duplicate: false },
    { kind: 'customer', rejection: { status: 422, message: 'Conversion with external_id X-1 already exists.' }, duplicate: false },
    // The wording without a message field, or as HTML, is no answer at all.
    { kind: 'conversion', rejection: { status: 422, body: { text: 'Conversion with external_id 1 already exists.' } }, duplicate: false },
    { kind: 'conversion', rejection: { status: 422, body: '<p>Conversion with external_id 1 already exists.</p>', contentType: 'text/html' }, duplicate: false },
  ];

  it.each(rows)('$kind answered $rejection.status $rejection.message → duplicate: $duplicate', async ({ kind, rejection, duplicate }) => {
    await server.setFaults({ next: [rejection] });
    const outcome = await send(kind, bodyOf(kind, newId()));
    expect((await server.received())[0]).toMatchObject({ fault: 'reject', status: rejection.status });
    const delivered = kind === 'customer' ? 'ok' : 'duplicate';
    if (duplicate) expect(outcome).toEqual({ result: delivered, status: rejection.status });
    else expect(outcome).toMatchObject({ result: 'rejected', status: rejection.status });
  });

  it('the rule lives in one named place, per kind', () => {
    expect(DUPLICATE_MESSAGE.conversion.test('Conversion with external_id 1 already exists.')).toBe(true);
    expect(DUPLICATE_MESSAGE.customer.test('Conversion with external_id 1 already exists.')).toBe(false);
  });
});

describe('answers the stand-in does not produce', () => {
  const cases: { name: string; kind: PostbackKind; response: () => Response; expected: unknown }[] = [
    { name: 'errors[] message is read', kind: 'conversion', response: () => Response.json({ errors: [{ message: 'Invalid\n  referral code' }] }, { status: 400 }), expected: { result: 'rejected', status: 400, message: 'Invalid referral code' } },
    { name: 'long message is cut to one short line', kind: 'conversion', response: () => Response.json({ message: 'x'.repeat(500) }, { status: 422 }), expected: { result: 'rejected', status: 422, message: `${'x'.repeat(199)}…` } },
    { name: 'non-JSON 400 keeps no body', kind: 'conversion', response: () => new Response('secret-ish <b>stack</b>', { status: 400 }), expected: { result: 'rejected', status: 400, message: 'Tapfiliate answered 400' } },
    { name: '500 → retry', kind: 'customer', response: () => new Response('', { status: 500 }), expected: { result: 'retry', status: 500, reason: 'http_500' } },
    { name: '408 → retry', kind: 'conversion', response: () => new Response('', { status: 408 }), expected: { result: 'retry', status: 408, reason: 'http_408' } },
    { name: '429 without Retry-After', kind: 'conversion', response: () => new Response('', { status: 429 }), expected: { result: 'retry', status: 429, reason: 'http_429' } },
    { name: 'a 3xx is a refusal, not a success', kind: 'conversion', response: () => new Response(null, { status: 302, headers: { location: 'https://elsewhere.example/' } }), expected: { result: 'rejected', status: 302, message: expect.stringContaining('redirect') } },
  ];
  it.each(cases)('$name', async ({ kind, response, expected }) => {
    expect(await classifyResponse(kind, response(), API_KEY)).toEqual(expected);
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

describe('redirects are never followed', () => {
  it.each(['307', '302'] as const)('a %s is refused: nothing reaches the target, no key, no IP', async (fault) => {
    await server.setFaults({ always: fault });
    const outcome = await send('conversion', conversion(newId()));
    expect(outcome).toMatchObject({ result: 'rejected', status: Number(fault) });
    const [received] = await server.received();
    expect(received.location).toContain('/redirected/');
    expect(await server.redirected()).toEqual([]);
  });
});

describe('Tapfiliate’s message never carries the key back', () => {
  // A key with characters that percent-encoding changes, so the encoded form differs from the raw one.
  const key = 'Tk/9+aZ=q&x';
  const forms = {
    raw: key,
    'lower case': key.toLowerCase(),
    'upper case': key.toUpperCase(),
    'percent-encoded': encodeURIComponent(key),
    'percent-encoded, lower-case hex': encodeURIComponent(key).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    'form-encoded': new URLSearchParams({ k: key }).toString().slice(2),
  };
  const leaks = (text: string) => Object.values(forms).some((form) => text.toLowerCase().includes(form.toLowerCase()));

  it.each(Object.entries(forms))('%s: not in upstreamMessage, classifyResponse or the attempt’s outcome', async (_name, form) => {
    const message = `Invalid api key ${form} for this account`;
    const direct = await upstreamMessage(Response.json({ message }, { status: 401 }), key);
    expect(direct).toBe('Invalid api key *** for this account');
    const classified = await classifyResponse('conversion', Response.json({ errors: [{ message }] }, { status: 403 }), key);
    expect(leaks(JSON.stringify(classified))).toBe(false);

    const log = vi.spyOn(console, 'log');
    await server.setFaults({ next: [{ status: 401, message }] });
    const outcome = await send('conversion', conversion(newId()), key);
    expect(outcome).toEqual({ result: 'rejected', status: 401, message: 'Invalid api key *** for this account' });
    expect(leaks(log.mock.calls.flat().map(String).join('\n'))).toBe(false);
    log.mockRestore();
  });
});
