// Attack "Click inflation": POST /_tap/click with a new landed_at (or ts) each
// time made a new Tapfiliate click, 60 a minute from one IP, for any referral
// code: each an API call with the merchant's key. Now one click per referral
// code and client network per 30 minutes; later landings get its click_id.
// Without the guard the five landings below made five clicks.
import { describe, expect, it } from 'vitest';
import { CLICK_CODES_PER_NETWORK } from '../../proxy/delivery';
import { clicksEnv, clicksFor, freshIp, send, uniqueId } from './harness';

describe('click inflation', () => {
  const env = clicksEnv();

  it('makes one click for five landings of one code from one address, whatever landed_at and ts say, and answers each with its click_id', async () => {
    const code = uniqueId('rival');
    const ip = freshIp();
    const answers = [];
    for (let i = 0; i < 5; i++) {
      const landing = { referral_code: code, ts: 1_700_000_000 + i * 3600, landed_at: Date.now() + i };
      answers.push(await send('/_tap/click', landing, { env, headers: { 'cf-connecting-ip': ip } }));
    }
    const clicks = await clicksFor(code);
    expect(clicks).toHaveLength(1);
    for (const answer of answers) expect(answer.json).toEqual({ ok: true, status: 'stored', click_id: clicks[0].id });
  });

  it('still makes a click for the same code from another network, and for another code from the same one', async () => {
    const code = uniqueId('anna');
    const ip = freshIp();
    await send('/_tap/click', { referral_code: code }, { env, headers: { 'cf-connecting-ip': ip } });
    await send('/_tap/click', { referral_code: code }, { env, headers: { 'cf-connecting-ip': freshIp() } });
    const other = uniqueId('bob');
    await send('/_tap/click', { referral_code: other }, { env, headers: { 'cf-connecting-ip': ip } });
    expect(await clicksFor(code)).toHaveLength(2);
    expect(await clicksFor(other)).toHaveLength(1);
  });

  it(`makes clicks for at most ${CLICK_CODES_PER_NETWORK} referral codes from one network in the window: made-up codes cannot buy API calls`, async () => {
    const ip = freshIp();
    const codes = Array.from({ length: CLICK_CODES_PER_NETWORK + 3 }, () => uniqueId('made-up'));
    const answers = [];
    for (const code of codes) answers.push(await send('/_tap/click', { referral_code: code }, { env, headers: { 'cf-connecting-ip': ip } }));
    const made = (await Promise.all(codes.map((code) => clicksFor(code)))).filter((clicks) => clicks.length > 0);
    expect(made).toHaveLength(CLICK_CODES_PER_NETWORK);
    // Past the budget the landing is still stored, without a click_id.
    for (const answer of answers.slice(CLICK_CODES_PER_NETWORK)) expect(answer.json).toEqual({ ok: true, status: 'stored' });
  });
});
