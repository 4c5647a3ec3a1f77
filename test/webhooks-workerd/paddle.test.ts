// POST /_tap/webhooks/paddle in workerd: the production app, the real delivery and
// ledger, a local Tapfiliate stand-in; notifications shaped like Paddle's examples.
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { encodeReference } from '../../common/attribution';
import { postbackControl } from '../postback/control';
import { ANNA, webhookEnv } from './helpers';
import { PADDLE_SANDBOX_SECRET, paddleSignature, paddleTransaction, platformSecrets, postPaddle } from './platform-helpers';

const upstream = postbackControl(inject('webhookPostbackServers').paddle);
const env = (extra: Partial<Record<keyof Env, unknown>> = {}) => webhookEnv(upstream, { ...platformSecrets, WEBHOOK_TEST_EVENTS: '', ...extra });

describe('POST /webhooks/paddle: transactions', () => {
  beforeEach(() => upstream.reset());

  it('a completed transaction with custom_data.tap_ref converts: the transaction, its Paddle customer, grand_total − tax', async () => {
    const { body, data } = paddleTransaction((d) => (d.custom_data = { tap_ref: ANNA }));
    expect(await postPaddle(env(), body)).toMatchObject({ status: 200, json: { ok: true, status: 'sent' } });
    const received = await upstream.accepted();
    expect(received.map((r) => r.kind)).toEqual(['customer', 'conversion']);
    expect(received[0].fields).toEqual({ customer_id: data.customer_id, referral_code: 'anna' });
    // grand_total 2950 − tax 450 = $25.00 (the $5 discount already off)
    expect(received[1].fields).toEqual({ external_id: data.id, amount: 25, currency: 'USD', customer_id: data.customer_id, referral_code: 'anna' });
  });

  it('a replay of the same notification is a duplicate: one postback', async () => {
    const { body } = paddleTransaction((d) => (d.custom_data = { tap_ref: ANNA }));
    const first = await postPaddle(env(), body);
    const again = await postPaddle(env(), body, { signature: await paddleSignature(body, { ts: Math.floor(Date.now() / 1000) + 1 }) });
    expect([first.json, again.json]).toEqual([
      { ok: true, status: 'sent' },
      { ok: true, status: 'duplicate' },
    ]);
    expect(await upstream.accepted('conversion')).toHaveLength(1);
  });

  it('a renewal without tap_ref is attributed by what its subscription’s first transaction left', async () => {
    const first = paddleTransaction((d) => (d.custom_data = { tap_ref: encodeReference({ referral_code: 'bob' }) }));
    expect((await postPaddle(env(), first.body)).json).toEqual({ ok: true, status: 'sent' });
    const renewal = paddleTransaction(
      (d) => {
        d.subscription_id = first.data.subscription_id;
        d.customer_id = first.data.customer_id;
      },
      { renewal: true },
    );
    expect(renewal.data.custom_data).toBeNull();
    expect(renewal.data.origin).toBe('subscription_recurring');
    expect((await postPaddle(env(), renewal.body)).json).toEqual({ ok: true, status: 'sent' });
    const conversions = await upstream.accepted('conversion');
    // grand_total 3540 − tax 540 = $30.00
    expect(conversions.map((r) => r.fields)).toEqual([
      expect.objectContaining({ external_id: first.data.id, referral_code: 'bob' }),
      { external_id: renewal.data.id, amount: 30, currency: 'USD', customer_id: first.data.customer_id, referral_code: 'bob' },
    ]);
  });

  it('a trial’s zero transaction remembers nothing; the first paid transaction of its subscription does, for the renewals', async () => {
    const trial = paddleTransaction((d) => {
      d.custom_data = { tap_ref: ANNA };
      Object.assign(d.details.totals, { subtotal: '0', discount: '0', tax: '0', total: '0', grand_total: '0' });
    });
    expect((await postPaddle(env(), trial.body)).json).toEqual({ ok: true, status: 'ignored' });
    const bare = paddleTransaction((d) => (d.subscription_id = trial.data.subscription_id), { renewal: true });
    expect((await postPaddle(env(), bare.body)).json).toEqual({ ok: true, status: 'unattributed' });
    const first = paddleTransaction((d) => {
      d.subscription_id = trial.data.subscription_id;
      d.custom_data = { tap_ref: ANNA };
    }, { renewal: true });
    expect((await postPaddle(env(), first.body)).json).toEqual({ ok: true, status: 'sent' });
    const renewal = paddleTransaction((d) => (d.subscription_id = trial.data.subscription_id), { renewal: true });
    expect((await postPaddle(env(), renewal.body)).json).toEqual({ ok: true, status: 'sent' });
    expect((await upstream.accepted('conversion')).map((r) => r.fields.external_id)).toEqual([first.data.id, renewal.data.id]);
  });

  it('a customer id that breaks the id rules is left out, and the conversion still goes', async () => {
    const { body, data } = paddleTransaction((d) => {
      d.custom_data = { tap_ref: ANNA };
      d.customer_id = 'ctm_\u202eevil';
    });
    expect((await postPaddle(env(), body)).json).toEqual({ ok: true, status: 'sent' });
    expect((await upstream.accepted()).map((r) => [r.kind, r.fields])).toEqual([
      ['conversion', { external_id: data.id, amount: 25, currency: 'USD', referral_code: 'anna' }],
    ]);
  });

  it('no tap_ref and nothing remembered: 200 unattributed, nothing sent', async () => {
    const { body } = paddleTransaction((d) => (d.custom_data = null));
    expect(await postPaddle(env(), body)).toMatchObject({ status: 200, json: { ok: true, status: 'unattributed' } });
    expect(await upstream.received()).toEqual([]);
  });

  it('a sandbox notification on the sandbox route is a test event: answered with what would be sent, nothing sent', async () => {
    const { body, data } = paddleTransaction((d) => (d.custom_data = { tap_ref: ANNA }));
    const { status, json } = await postPaddle(env(), body, { sandbox: true });
    expect(status).toBe(200);
    expect(json).toMatchObject({ ok: true, status: 'test' });
    expect((json.postbacks as { kind: string; body: Record<string, unknown> }[]).map((p) => [p.kind, p.body.external_id ?? p.body.customer_id])).toEqual([
      ['customer', data.customer_id],
      ['conversion', data.id],
    ]);
    expect(JSON.stringify(json)).not.toContain('test-key');
    expect(await upstream.received()).toEqual([]);
    // Not recorded: the same transaction later on the live route is sent.
    expect((await postPaddle(env(), body)).json).toEqual({ ok: true, status: 'sent' });
  });

  it('WEBHOOK_TEST_EVENTS=send delivers sandbox notifications like live ones', async () => {
    const { body } = paddleTransaction((d) => (d.custom_data = { tap_ref: ANNA }));
    expect((await postPaddle(env({ WEBHOOK_TEST_EVENTS: 'send' }), body, { sandbox: true })).json).toEqual({ ok: true, status: 'sent' });
    expect(await upstream.accepted('conversion')).toHaveLength(1);
  });

  it('refuses what it cannot verify: 503 without the secret, 400 for a wrong, stale or sandbox signature on the live route', async () => {
    const { body } = paddleTransaction((d) => (d.custom_data = { tap_ref: ANNA }));
    expect(await postPaddle(env({ PADDLE_WEBHOOK_SECRET: '' }), body)).toMatchObject({ status: 503, json: { ok: false, error: 'not_configured' } });
    expect(await postPaddle(env({ PADDLE_SANDBOX_WEBHOOK_SECRET: undefined }), body, { sandbox: true })).toMatchObject({ status: 503 });
    const stale = await paddleSignature(body, { ts: Math.floor(Date.now() / 1000) - 301 });
    const sandboxSigned = await paddleSignature(body, { secret: PADDLE_SANDBOX_SECRET });
    for (const signature of [null, stale, sandboxSigned, 'ts=1;h1=00']) {
      expect(await postPaddle(env(), body, { signature })).toMatchObject({ status: 400, json: { ok: false, error: 'invalid_signature' } });
    }
    expect(await upstream.received()).toEqual([]);
  });

  it('other events are 200 ignored', async () => {
    const { body } = paddleTransaction();
    const paid = body.replace('"transaction.completed"', '"transaction.paid"');
    expect(await postPaddle(env(), paid)).toMatchObject({ status: 200, json: { ok: true, status: 'ignored' } });
    expect(await upstream.received()).toEqual([]);
  });
});

describe('POST /webhooks/paddle: what an unauthenticated request costs', () => {
  let hmacs = 0;
  beforeEach(() => {
    hmacs = 0;
    const sign = crypto.subtle.sign.bind(crypto.subtle);
    const verify = crypto.subtle.verify.bind(crypto.subtle);
    vi.spyOn(crypto.subtle, 'sign').mockImplementation((...args: Parameters<SubtleCrypto['sign']>) => (hmacs++, sign(...args)));
    vi.spyOn(crypto.subtle, 'verify').mockImplementation((...args: Parameters<SubtleCrypto['verify']>) => (hmacs++, verify(...args)));
  });
  afterEach(() => vi.restoreAllMocks());

  const body = JSON.stringify({ event_id: 'evt_cost', event_type: 'customer.created', data: { id: 'ctm_cost' } });
  const wrong = (n: number) => `h1=${n.toString(16).padStart(64, '0')}`;
  const now = () => Math.floor(Date.now() / 1000);

  it('9 candidates, the right one among them: 400 without an HMAC; 8 wrong ones: one HMAC; a stale ts: none', async () => {
    const right = (await paddleSignature(body)).split(';')[1];
    hmacs = 0;
    const nine = await postPaddle(env(), body, { signature: [`ts=${now()}`, ...Array.from({ length: 8 }, (_, i) => wrong(i)), right].join(';') });
    expect([nine.status, nine.json.error, hmacs]).toEqual([400, 'invalid_signature', 0]);
    const eight = await postPaddle(env(), body, { signature: [`ts=${now()}`, ...Array.from({ length: 8 }, (_, i) => wrong(i))].join(';') });
    expect([eight.status, hmacs]).toEqual([400, 1]);
    const staleSignature = await paddleSignature(body, { ts: now() - 3600 });
    hmacs = 0;
    const stale = await postPaddle(env(), body, { signature: staleSignature });
    expect([stale.status, hmacs]).toEqual([400, 0]);
    const goodSignature = await paddleSignature(body);
    hmacs = 0;
    const good = await postPaddle(env(), body, { signature: goodSignature });
    expect([good.status, good.json, hmacs]).toEqual([200, { ok: true, status: 'ignored' }, 1]);
  });
});
