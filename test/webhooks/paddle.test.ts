import { createHmac } from 'node:crypto';
import { Environment, EventName, Paddle } from '@paddle/paddle-node-sdk';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { MAX_SIGNATURE_CANDIDATES, paddleAction, verifyPaddleEvent, type PaddleEvent } from '../../proxy/platforms/paddle';
import { fixture, fixtureText } from './load';

const secret = 'pdl_ntfset_01hv8x2d5k9q7w3e6r8t0y2u4i_Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf';
const payload = fixtureText('paddle-transaction-completed.json');
/** As Paddle documents it: `paddle.webhooks`, the client set up for Node (no request is made). */
const sdk = new Paddle('pdl_sdbx_apikey_not_used_offline', { environment: Environment.sandbox }).webhooks;

const h1 = (ts: number, body = payload, key = secret) => createHmac('sha256', key).update(`${ts}:${body}`).digest('hex');
const header = (ts: number, ...signatures: string[]) => [`ts=${ts}`, ...signatures.map((s) => `h1=${s}`)].join(';');
/** Paddle's SDK allows 5 seconds, so every header it checks is made now. */
const fresh = () => Math.floor(Date.now() / 1000);

describe('verifyPaddleEvent and @paddle/paddle-node-sdk agree', () => {
  it('accepts what the SDK verifies, and the SDK verifies what it accepts', async () => {
    const ts = fresh();
    const signature = header(ts, h1(ts));
    expect(await sdk.isSignatureValid(payload, secret, signature)).toBe(true);
    expect(await verifyPaddleEvent(payload, signature, secret)).toEqual({ ok: true, event: JSON.parse(payload) });
  });

  it('the SDK reads the fixture as the transaction.completed it claims to be', async () => {
    const ts = fresh();
    const event = await sdk.unmarshal(payload, secret, header(ts, h1(ts)));
    expect(event.eventType).toBe(EventName.TransactionCompleted);
    const data = event.data as { id: string; customerId: string; details: { totals: { grandTotal: string; tax: string } } };
    expect(data.id).toBe('txn_01hv8wnw6ahk5sfgyjbw1wzfce');
    expect(data.customerId).toBe('ctm_01hv8wp4w3nfhr7hhyb1rxbcj7');
    expect(data.details.totals).toMatchObject({ grandTotal: '2950', tax: '450' });
  });

  it('agrees with the SDK on fresh headers for any body and secret, tampered or not', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.constantFrom('none', 'body', 'secret', 'signature'),
        async (text, key, tamper) => {
          const body = JSON.stringify({ event_type: 'transaction.completed', data: { id: text } });
          const ts = fresh();
          const signed = h1(ts, body, tamper === 'secret' ? `${key}x` : key);
          const sent = tamper === 'body' ? `${body} ` : body;
          const signature = header(ts, tamper === 'signature' ? signed.replace(/^./, (c) => (c === '0' ? '1' : '0')) : signed);
          const ours = (await verifyPaddleEvent(sent, signature, key)).ok;
          const theirs = await sdk.isSignatureValid(sent, key, signature);
          expect(ours).toBe(theirs);
          expect(ours).toBe(tamper === 'none');
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('verifyPaddleEvent', () => {
  const now = 1_776_000_000;

  it('accepts either h1 while a secret is rotated, wherever the right one stands', async () => {
    const good = h1(now);
    const old = h1(now, payload, 'pdl_ntfset_old_secret');
    for (const signature of [header(now, old, good), header(now, good, old)]) {
      expect((await verifyPaddleEvent(payload, signature, secret, { nowSeconds: now })).ok).toBe(true);
    }
    expect(await verifyPaddleEvent(payload, header(now, old, old), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it('refuses a tampered body and a wrong secret', async () => {
    const tampered = payload.replace('"grand_total": "2950"', '"grand_total": "9950"');
    expect(tampered).not.toBe(payload);
    expect(await verifyPaddleEvent(tampered, header(now, h1(now)), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'invalid_signature' });
    expect(await verifyPaddleEvent(payload, header(now, h1(now, payload, 'other')), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'invalid_signature' });
    expect(await verifyPaddleEvent(payload, header(now, h1(now)), '', { nowSeconds: now })).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it('refuses a signature made for another timestamp', async () => {
    expect(await verifyPaddleEvent(payload, header(now, h1(now - 1)), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it('refuses a ts more than 5 minutes old or ahead, before computing any HMAC', async () => {
    const sign = vi.spyOn(crypto.subtle, 'sign');
    try {
      expect(await verifyPaddleEvent(payload, header(now - 301, h1(now - 301)), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'expired' });
      expect(await verifyPaddleEvent(payload, header(now + 301, h1(now + 301)), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'expired' });
      expect(sign).not.toHaveBeenCalled();
      expect((await verifyPaddleEvent(payload, header(now - 300, h1(now - 300)), secret, { nowSeconds: now })).ok).toBe(true);
    } finally {
      sign.mockRestore();
    }
  });

  it('computes one HMAC however many candidates the header lists', async () => {
    const sign = vi.spyOn(crypto.subtle, 'sign');
    try {
      const wrong = Array.from({ length: MAX_SIGNATURE_CANDIDATES }, (_, i) => h1(now, payload, `old-${i}`));
      expect(await verifyPaddleEvent(payload, header(now, ...wrong), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'invalid_signature' });
      expect(sign).toHaveBeenCalledTimes(1);
    } finally {
      sign.mockRestore();
    }
  });

  it('reads at most 8 candidates: 8 with the right one last pass, 9 are refused even with the right one', async () => {
    const wrong = Array.from({ length: 8 }, (_, i) => h1(now, payload, `old-${i}`));
    expect((await verifyPaddleEvent(payload, header(now, ...wrong.slice(0, 7), h1(now)), secret, { nowSeconds: now })).ok).toBe(true);
    expect(await verifyPaddleEvent(payload, header(now, ...wrong, h1(now)), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'invalid_signature' });
    expect(await verifyPaddleEvent(payload, header(now, h1(now), ...wrong), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it.each([undefined, null, '', '  '])('a missing header (%j) is missing_signature', async (value) => {
    expect(await verifyPaddleEvent(payload, value, secret)).toEqual({ ok: false, reason: 'missing_signature' });
  });

  it.each([
    ['no ts', () => `h1=${h1(now)}`],
    ['no h1', () => `ts=${now}`],
    ['a ts that is not digits', () => `ts=${now}x;h1=${h1(now)}`],
    ['upper-case hex', () => header(now, h1(now).toUpperCase())],
    ['a short h1', () => header(now, h1(now).slice(2))],
    ['Stripe’s separators', () => `t=${now},v1=${h1(now)}`],
  ])('%s is invalid_signature', async (_, make) => {
    expect(await verifyPaddleEvent(payload, make(), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it('a correctly signed body that is not an event is malformed', async () => {
    for (const body of ['not json', '[]', '{"event_type":"transaction.completed"}', '{"data":{}}']) {
      expect(await verifyPaddleEvent(body, header(now, h1(now, body)), secret, { nowSeconds: now })).toEqual({ ok: false, reason: 'malformed' });
    }
  });
});

describe('paddleAction', () => {
  const completed = () => fixture<PaddleEvent>('paddle-transaction-completed.json');

  it('transaction.completed: the transaction, its Paddle customer, grand_total − tax, the reference and the subscription', () => {
    expect(paddleAction(completed())).toEqual({
      action: 'convert',
      conversion: { external_id: 'txn_01hv8wnw6ahk5sfgyjbw1wzfce', amount: 25, currency: 'USD', customer_id: 'ctm_01hv8wp4w3nfhr7hhyb1rxbcj7' },
      reference: 't1YW5uYT4-Pj4',
      subscription: 'sub_01hv8wpz3q4fd1v8gmebxmj0wv',
    });
  });

  it('a renewal without custom_data names its subscription so the route can recall the attribution', () => {
    const action = paddleAction(fixture<PaddleEvent>('paddle-transaction-renewal.json'));
    expect(action).toEqual({
      action: 'convert',
      conversion: { external_id: 'txn_01hxrenewal00000000000000a', amount: 30, currency: 'USD', customer_id: 'ctm_01hv8wp4w3nfhr7hhyb1rxbcj7' },
      subscription: 'sub_01hv8wpz3q4fd1v8gmebxmj0wv',
    });
  });

  it('credit lowers the amount; without grand_total the same comes from total − credit − tax', () => {
    const event = completed();
    const totals = (event.data.details as any).totals;
    Object.assign(totals, { credit: '1000', grand_total: '1950' });
    expect((paddleAction(event) as any).conversion.amount).toBe(15);
    delete totals.grand_total;
    expect((paddleAction(event) as any).conversion.amount).toBe(15);
  });

  it.each([
    ['JPY', '4980', '480', 4500],
    ['KRW', '55000', '5000', 50000],
    ['EUR', '1199', '200', 9.99],
    ['KWD', '12500', '0', 12.5],
  ])('%s amounts come in the lowest denomination', (currency, grand, tax, amount) => {
    const event = completed();
    event.data.currency_code = currency;
    Object.assign((event.data.details as any).totals, { grand_total: grand, tax, currency_code: currency });
    expect((paddleAction(event) as any).conversion).toMatchObject({ amount, currency });
  });

  it('a zero transaction (a trial) is ignored, with a subscription or without: nothing paid, nothing remembered', () => {
    const event = completed();
    Object.assign((event.data.details as any).totals, { grand_total: '0', tax: '0' });
    // The transaction is carried, so the ledger records why it was not credited (docs/operations.md, "Console").
    const ignored = { action: 'ignore', reason: 'zero_amount', order: expect.objectContaining({ external_id: event.data.id, amount: 0 }) };
    expect(paddleAction(event)).toEqual(ignored);
    event.data.subscription_id = null;
    expect(paddleAction(event)).toEqual(ignored);
  });

  it('approved refunds: partial by the adjustment subtotal, full for the rest of the order', () => {
    expect(paddleAction(fixture<PaddleEvent>('paddle-adjustment-refund-partial.json'))).toEqual({
      action: 'refund',
      refund: { refund_id: 'adj_01hvgf2s84dr6reszzg29zbvcm', platform_id: 'txn_01hv8wnw6ahk5sfgyjbw1wzfce', amount: 10, currency: 'USD' },
    });
    expect(paddleAction(fixture<PaddleEvent>('paddle-adjustment-refund-full.json'))).toEqual({
      action: 'refund',
      refund: { refund_id: 'adj_01hvgfull0000000000000000f', platform_id: 'txn_01hv8wnw6ahk5sfgyjbw1wzfce', currency: 'USD' },
    });
  });

  it('a refund counts only once approved; a chargeback is a full refund; credits are not refunds', () => {
    const pending = fixture<PaddleEvent>('paddle-adjustment-refund-partial.json');
    pending.event_type = 'adjustment.created';
    pending.data.status = 'pending_approval';
    expect(paddleAction(pending)).toEqual({ action: 'ignore', reason: 'refund_not_approved' });
    const chargeback = fixture<PaddleEvent>('paddle-adjustment-refund-partial.json');
    Object.assign(chargeback.data, { action: 'chargeback', type: 'partial' });
    expect(paddleAction(chargeback)).toEqual({
      action: 'refund',
      refund: { refund_id: 'adj_01hvgf2s84dr6reszzg29zbvcm', platform_id: 'txn_01hv8wnw6ahk5sfgyjbw1wzfce', currency: 'USD' },
    });
    const credit = fixture<PaddleEvent>('paddle-adjustment-refund-partial.json');
    credit.data.action = 'credit';
    expect(paddleAction(credit)).toEqual({ action: 'ignore', reason: 'not_a_refund' });
  });

  it('other events and broken payloads are ignored, never thrown', () => {
    expect(paddleAction({ event_type: 'transaction.paid', data: completed().data })).toEqual({ action: 'ignore', reason: 'unhandled_event_type' });
    expect(paddleAction({ event_type: 'transaction.completed', data: {} })).toEqual({ action: 'ignore', reason: 'malformed' });
    const event = completed();
    (event.data.details as any).totals.grand_total = '29.50';
    delete (event.data.details as any).totals.total;
    expect(paddleAction(event)).toEqual({ action: 'ignore', reason: 'malformed' });
    fc.assert(fc.property(fc.anything(), (data) => void paddleAction({ event_type: 'transaction.completed', data } as PaddleEvent)));
  });
});
