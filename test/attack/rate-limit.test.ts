// The attack "Amplification": no rate limit existed, so
// one client could make the worker post with the merchant's key as fast as it
// liked. Now browser events pass TAPLINE_RATE_LIMIT ([[ratelimits]] in
// wrangler.toml, 60 per IP per minute), which Miniflare emulates: these tests
// use the real binding. Without the guard the 61st event was `sent`.
//
// The rest of that finding is delivery's, covered by the delivery project:
// a 4xx-refused job goes to the DLQ at once (test/delivery/faults.test.ts),
// a duplicate enqueues nothing, and shards are keyed by a secret
// (test/delivery/durable.test.ts).
import { env as workerEnv } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshIp, receivedFor, send, TOKEN, uniqueId, withServerToken } from './harness';

const LIMIT = 60; // wrangler.toml: simple = { limit = 60, period = 60 }

/** Miniflare counts in fixed minutes (Date.now() / 60 s): start early enough in one that the burst stays inside it. */
async function startOfAMinute() {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 50));
  return Math.floor(Date.now() / 60_000);
}

describe('the per-IP rate limit', () => {
  beforeAll(() => {
    // Bound for real from wrangler.toml's [[ratelimits]], not a fake.
    expect(typeof (workerEnv as Env).TAPLINE_RATE_LIMIT?.limit).toBe('function');
  });

  it(`answers the ${LIMIT + 1}st browser event of a minute 429 rate_limited with Retry-After, records nothing, and spares other IPs`, { timeout: 30_000 }, async () => {
    const minute = await startOfAMinute();
    const attacker = freshIp();
    for (let i = 0; i < LIMIT; i++) {
      // Unattributed events: accepted (200) and counted, nothing sent.
      const answer = await send('/_tap/convert', { external_id: uniqueId('BURST') }, { headers: { 'cf-connecting-ip': attacker } });
      expect(answer.status, `event ${i + 1}`).toBe(200);
    }
    const external_id = uniqueId();
    const limited = await send('/_tap/convert', { external_id, referral_code: 'attacker' }, { headers: { 'cf-connecting-ip': attacker } });
    const click = await send('/_tap/click', { referral_code: 'attacker' }, { headers: { 'cf-connecting-ip': attacker } });
    const customer = await send('/_tap/customer', { customer_id: external_id, referral_code: 'attacker' }, { headers: { 'cf-connecting-ip': attacker } });
    expect(Math.floor(Date.now() / 60_000), 'the burst crossed a minute; rerun').toBe(minute);

    for (const answer of [limited, click, customer]) {
      expect(answer.status).toBe(429);
      expect(answer.json).toMatchObject({ ok: false, error: 'rate_limited' });
      expect(answer.headers.get('retry-after')).toBe('60');
    }
    expect(await receivedFor(external_id)).toEqual([]);

    // Another IP is unaffected, and the refused id was never recorded: it is sent, not duplicate.
    const other = await send('/_tap/convert', { external_id, referral_code: 'aff' }, { headers: { 'cf-connecting-ip': freshIp() } });
    expect(other.json).toEqual({ ok: true, status: 'sent' });
  });

  it('does not limit server events, even from an IP that browser events exhausted', { timeout: 30_000 }, async () => {
    const minute = await startOfAMinute();
    const backend = freshIp();
    for (let i = 0; i < LIMIT; i++) await send('/_tap/convert', { external_id: uniqueId('BURST') }, { headers: { 'cf-connecting-ip': backend } });
    expect((await send('/_tap/convert', { external_id: uniqueId('BURST') }, { headers: { 'cf-connecting-ip': backend } })).status).toBe(429);

    const env = withServerToken();
    const headers = { origin: undefined, authorization: `Bearer ${TOKEN}`, 'cf-connecting-ip': backend };
    for (let i = 0; i < 5; i++) {
      const answer = await send('/_tap/convert', { external_id: uniqueId('SRV') }, { env, headers });
      expect(answer.status).toBe(200);
    }
    const external_id = uniqueId();
    expect((await send('/_tap/convert', { external_id, referral_code: 'aff' }, { env, headers })).json).toEqual({ ok: true, status: 'sent' });
    expect(Math.floor(Date.now() / 60_000), 'the burst crossed a minute; rerun').toBe(minute);
  });

  it('counts wrong server tokens too, so the token cannot be guessed at speed', { timeout: 30_000 }, async () => {
    const minute = await startOfAMinute();
    const guesser = freshIp();
    const env = withServerToken();
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++) {
      statuses.push((await send('/_tap/convert', { external_id: uniqueId() }, { env, headers: { authorization: `Bearer guess-${i}`, 'cf-connecting-ip': guesser } })).status);
    }
    expect(Math.floor(Date.now() / 60_000), 'the burst crossed a minute; rerun').toBe(minute);
    expect(statuses.slice(0, LIMIT).every((status) => status === 401)).toBe(true);
    expect(statuses[LIMIT]).toBe(429);
  });
});
