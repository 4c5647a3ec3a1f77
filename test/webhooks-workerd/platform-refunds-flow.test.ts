// Paddle and Lemon Squeezy refunds end to end in workerd: the conversion sent by its
// webhook, then the platform's refund events through the real ledger and refund path
// to the Tapfiliate stand-in's REST API, where the commission is reduced or disapproved.
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { postbackControl } from '../postback/control';
import { ANNA, webhookEnv } from './helpers';
import { lemonSqueezyOrder, lemonSqueezyRefund, paddleAdjustment, paddleTransaction, platformSecrets, postLemonSqueezy, postPaddle } from './platform-helpers';

const upstream = postbackControl(inject('webhookPostbackServers').platformRefunds);
const env = () => webhookEnv(upstream, { ...platformSecrets, TAPFILIATE_REST_URL: upstream.restUrl, REFUNDS: '' });
const commissions = async (externalId: string) => (await upstream.commissionsOf(externalId))?.map(({ amount, approved }) => ({ amount, approved }));

describe('Paddle refunds through the ledger', () => {
  beforeEach(() => upstream.reset());

  it('a partial refund reduces the commission in proportion, a replay is a duplicate, the full refund disapproves it', async () => {
    const { body, data } = paddleTransaction((d) => (d.custom_data = { tap_ref: ANNA }));
    expect((await postPaddle(env(), body)).json).toEqual({ ok: true, status: 'sent' });
    // The stand-in's rule: one commission of 10% of the $25.00 conversion.
    expect(await commissions(data.id)).toEqual([{ amount: 2.5, approved: null }]);

    const partial = paddleAdjustment(data.id);
    expect((await postPaddle(env(), partial)).json).toEqual({ ok: true, status: 'adjusted' });
    // $10.00 of $25.00 refunded: 2.50 × 15 / 25
    expect(await commissions(data.id)).toEqual([{ amount: 1.5, approved: null }]);
    expect((await postPaddle(env(), partial)).json).toEqual({ ok: true, status: 'duplicate' });

    expect((await postPaddle(env(), paddleAdjustment(data.id, { full: true }))).json).toEqual({ ok: true, status: 'reversed' });
    expect(await commissions(data.id)).toEqual([{ amount: 1.5, approved: false }]);
  });

  it('a refund of a transaction nobody knows is unattributed', async () => {
    expect((await postPaddle(env(), paddleAdjustment('txn_nobody_knows_01'))).json).toEqual({ ok: true, status: 'unattributed' });
  });
});

describe('Lemon Squeezy refunds through the ledger', () => {
  beforeEach(() => upstream.reset());

  it('two partial refunds by their cumulative amount, then the rest: adjusted, adjusted, reversed', async () => {
    const { body, id } = lemonSqueezyOrder((e) => (e.meta.custom_data = { tap_ref: ANNA }));
    expect((await postLemonSqueezy(env(), body)).json).toEqual({ ok: true, status: 'sent' });
    expect(await commissions(id)).toEqual([{ amount: 2.4, approved: null }]);

    const half = lemonSqueezyRefund(id, 1440);
    expect((await postLemonSqueezy(env(), half)).json).toEqual({ ok: true, status: 'adjusted' });
    expect(await commissions(id)).toEqual([{ amount: 1.2, approved: null }]);
    expect((await postLemonSqueezy(env(), half)).json).toEqual({ ok: true, status: 'duplicate' });

    // Three quarters refunded in all: a quarter of the commission is left, from the original amount.
    expect((await postLemonSqueezy(env(), lemonSqueezyRefund(id, 2160))).json).toEqual({ ok: true, status: 'adjusted' });
    expect(await commissions(id)).toEqual([{ amount: 0.6, approved: null }]);

    expect((await postLemonSqueezy(env(), lemonSqueezyRefund(id, 2880, { full: true }))).json).toEqual({ ok: true, status: 'reversed' });
    expect((await commissions(id))?.map((c) => c.approved)).toEqual([false]);
  });
});
