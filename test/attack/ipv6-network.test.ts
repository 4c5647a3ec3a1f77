// Attack "IPv6 escapes the rate limit": 1,000 clicks from 2001:db8:1:2::0 to
// ::3e7 got 1,000 answers of 200 and 1,000 upstream clicks; any VPS has a /64.
// Now the rate limit and the click memory count a client by its network: the
// IPv4 address, or the IPv6 /64. Without the guard clientNetwork did not exist,
// the 61st event from one /64 was accepted, and each address made its own click.
import { describe, expect, it } from 'vitest';
import { clientNetwork } from '../../proxy/lib/network';
import { clicksEnv, clicksFor, send, uniqueId } from './harness';

/** A /64 no other test uses. */
const freshPrefix = () => {
  const group = () => (crypto.getRandomValues(new Uint16Array(1))[0] | 1).toString(16);
  return `2001:db8:${group()}:${group()}`;
};

describe('clientNetwork', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['[2001:db8:1:2::3e7]', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::ffff:c000:201', '192.0.2.1'],
    ['2001:db8:1:2:3:4:192.0.2.1', '2001:db8:1:2::/64'],
  ])('counts %s as %s', (address, network) => {
    expect(clientNetwork(address)).toBe(network);
  });

  it.each(['', 'not-an-ip', '2001:db8::1::2', '1:2:3:4:5:6:7:8:9', '::ffff:300.0.0.1', undefined])('counts %s as unknown', (address) => {
    expect(clientNetwork(address)).toBe('unknown');
  });
});

describe('one /64 is one client', () => {
  it('makes one click for landings from many addresses of one /64', async () => {
    const prefix = freshPrefix();
    const code = uniqueId('v6');
    const env = clicksEnv();
    for (const host of ['0', '1', '3e7', 'dead:beef:1']) {
      const answer = await send('/_tap/click', { referral_code: code }, { env, headers: { 'cf-connecting-ip': `${prefix}::${host}` } });
      expect(answer.status).toBe(200);
    }
    expect(await clicksFor(code)).toHaveLength(1);
  });

  it('answers the 61st event of a minute from one /64 with 429, whichever addresses in it sent them', { timeout: 30_000 }, async () => {
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 50));
    const minute = Math.floor(Date.now() / 60_000);
    const prefix = freshPrefix();
    for (let i = 0; i < 60; i++) {
      const answer = await send('/_tap/convert', { external_id: uniqueId('V6') }, { headers: { 'cf-connecting-ip': `${prefix}::${i.toString(16)}` } });
      expect(answer.status, `event ${i + 1}`).toBe(200);
    }
    const limited = await send('/_tap/convert', { external_id: uniqueId('V6') }, { headers: { 'cf-connecting-ip': `${prefix}::ffff` } });
    expect(Math.floor(Date.now() / 60_000), 'the burst crossed a minute; rerun').toBe(minute);
    expect(limited.status).toBe(429);
    expect(limited.json).toMatchObject({ ok: false, error: 'rate_limited' });
  });
});
