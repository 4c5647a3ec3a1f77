// POST /_tap/webhooks/lemonsqueezy in workerd: the production app, the real delivery
// and ledger, a local Tapfiliate stand-in; webhooks shaped like Lemon Squeezy's examples.
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { encodeReference } from '../../common/attribution';
import { ledgerHolding, recordOf } from '../ledger-control';
import { postbackControl } from '../postback/control';
import { ANNA, webhookEnv } from './helpers';
import { lemonSqueezyOrder, lemonSqueezyRenewal, platformSecrets, postLemonSqueezy } from './platform-helpers';

const upstream = postbackControl(inject('webhookPostbackServers').lemonsqueezy);
const env = (extra: Partial<Record<keyof Env, unknown>> = {}) => webhookEnv(upstream, { ...platformSecrets, WEBHOOK_TEST_EVENTS: '', ...extra });

describe('POST /webhooks/lemonsqueezy: orders and subscription payments', () => {
  beforeEach(() => upstream.reset());

  it('a paid order_created with meta.custom_data.tap_ref converts: the order id, the customer, total − tax', async () => {
    const { body, id, customer } = lemonSqueezyOrder((e) => (e.meta.custom_data = { tap_ref: ANNA }));
    expect(await postLemonSqueezy(env(), body)).toMatchObject({ status: 200, json: { ok: true, status: 'sent' } });
    const received = await upstream.accepted();
    expect(received.map((r) => r.kind)).toEqual(['customer', 'conversion']);
    // total 2880 (after the $5 discount) − tax 480 = $24.00
    expect(received[1].fields).toEqual({ external_id: id, amount: 24, currency: 'USD', customer_id: customer, referral_code: 'anna' });
  });

  it('a replay is a duplicate: one postback', async () => {
    const { body } = lemonSqueezyOrder((e) => (e.meta.custom_data = { tap_ref: ANNA }));
    const first = await postLemonSqueezy(env(), body);
    const again = await postLemonSqueezy(env(), body);
    expect([first.json, again.json]).toEqual([
      { ok: true, status: 'sent' },
      { ok: true, status: 'duplicate' },
    ]);
    expect(await upstream.accepted('conversion')).toHaveLength(1);
  });

  it('a renewal without custom data is attributed by its subscription’s initial payment, which is not sent twice', async () => {
    const bob = { tap_ref: encodeReference({ referral_code: 'bob' }) };
    const order = lemonSqueezyOrder((e) => (e.meta.custom_data = bob));
    expect((await postLemonSqueezy(env(), order.body)).json).toEqual({ ok: true, status: 'sent' });
    const subscription = Number(order.id);
    const initial = lemonSqueezyRenewal(order.customer, (e) => {
      e.meta.custom_data = bob;
      e.data.attributes.billing_reason = 'initial';
      e.data.attributes.subscription_id = subscription;
    });
    expect((await postLemonSqueezy(env(), initial.body)).json).toEqual({ ok: true, status: 'stored' });
    const renewal = lemonSqueezyRenewal(order.customer, (e) => (e.data.attributes.subscription_id = subscription));
    expect((await postLemonSqueezy(env(), renewal.body)).json).toEqual({ ok: true, status: 'sent' });
    const conversions = await upstream.accepted('conversion');
    // total 3480 − tax 580 = $29.00
    expect(conversions.map((r) => r.fields)).toEqual([
      expect.objectContaining({ external_id: order.id, referral_code: 'bob' }),
      { external_id: `invoice-${renewal.id}`, amount: 29, currency: 'USD', customer_id: order.customer, referral_code: 'bob' },
    ]);
  });

  it('what v3 remembered for the customer still attributes a renewal until it expires, and is never extended', async () => {
    const customer = String(Date.now() % 1e9);
    const key = `sub:lemonsqueezy:${customer}`;
    const stub = await ledgerHolding(key);
    await stub.remember(key, JSON.stringify({ referral_code: 'bob' }), 60_000);
    const renewal = lemonSqueezyRenewal(customer, (e) => (e.data.attributes.subscription_id = Number(customer) + 1));
    expect((await postLemonSqueezy(env(), renewal.body)).json).toEqual({ ok: true, status: 'sent' });
    expect((await upstream.accepted('conversion'))[0].fields).toMatchObject({ referral_code: 'bob' });
    // Not carried into the subscription's own memory: the next renewal reads v3's again, and it still expires on time.
    const own = `sub:lemonsqueezy:subscription:${Number(customer) + 1}`;
    expect(await (await ledgerHolding(own)).recall(own)).toBeUndefined();
  });

  it('an initial subscription payment without a reference: 200 unattributed, recorded under its own id with its reason', async () => {
    const initial = lemonSqueezyRenewal(String(Date.now() % 1e9), (e) => {
      delete e.meta.custom_data;
      e.data.attributes.billing_reason = 'initial';
    });
    expect((await postLemonSqueezy(env(), initial.body)).json).toEqual({ ok: true, status: 'unattributed' });
    expect(await upstream.received()).toEqual([]);
    expect(await recordOf(`con:invoice-${initial.id}`)).toMatchObject({ status: 'unattributed', reason: 'no_attribution', source: 'lemonsqueezy' });
  });

  it('no custom data and nothing remembered: 200 unattributed, nothing sent', async () => {
    const { body } = lemonSqueezyOrder((e) => delete e.meta.custom_data);
    expect(await postLemonSqueezy(env(), body)).toMatchObject({ status: 200, json: { ok: true, status: 'unattributed' } });
    expect(await upstream.received()).toEqual([]);
  });

  it('meta.test_mode is a test event: answered with what would be sent, nothing sent; WEBHOOK_TEST_EVENTS=send sends it', async () => {
    const { body, id } = lemonSqueezyOrder((e) => {
      e.meta.custom_data = { tap_ref: ANNA };
      e.meta.test_mode = true;
    });
    const { status, json } = await postLemonSqueezy(env(), body);
    expect(status).toBe(200);
    expect(json).toMatchObject({ ok: true, status: 'test' });
    expect((json.postbacks as { kind: string; body: Record<string, unknown> }[]).find((p) => p.kind === 'conversion')?.body).toMatchObject({ external_id: id, amount: 24 });
    expect(await upstream.received()).toEqual([]);
    expect((await postLemonSqueezy(env({ WEBHOOK_TEST_EVENTS: 'send' }), body)).json).toEqual({ ok: true, status: 'sent' });
  });

  it('refuses what it cannot verify: 503 without the secret, 400 for a missing or wrong signature', async () => {
    const { body } = lemonSqueezyOrder((e) => (e.meta.custom_data = { tap_ref: ANNA }));
    expect(await postLemonSqueezy(env({ LEMONSQUEEZY_WEBHOOK_SECRET: undefined }), body)).toMatchObject({ status: 503, json: { ok: false, error: 'not_configured' } });
    for (const signature of [null, '0'.repeat(64), 'not-hex']) {
      expect(await postLemonSqueezy(env(), body, { signature })).toMatchObject({ status: 400, json: { ok: false, error: 'invalid_signature' } });
    }
    expect(await upstream.received()).toEqual([]);
  });

  it('an unpaid order and other events are 200 ignored', async () => {
    const pending = lemonSqueezyOrder((e) => (e.data.attributes.status = 'pending'));
    expect((await postLemonSqueezy(env(), pending.body)).json).toEqual({ ok: true, status: 'ignored' });
    const created = lemonSqueezyOrder((e) => (e.meta.event_name = 'subscription_created'));
    expect((await postLemonSqueezy(env(), created.body)).json).toEqual({ ok: true, status: 'ignored' });
    expect(await upstream.received()).toEqual([]);
  });
});
