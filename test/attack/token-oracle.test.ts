// Token guessing through the turn of the limiter's window (docs/security.md, "Limits
// that hold in every mode"). The rate limit binding counts in fixed windows (miniflare
// clears its counts on each minute of the clock), while the spent mark lasts a minute
// from the refusal: early in the next window the mark still holds. If a wrong token
// were answered from the limiter alone then, it would get 401 while the right one gets
// 429, and the difference would tell a guesser which guess was right. The test turns
// the window itself through a stand-in limiter that counts as the binding does.
import { describe, expect, it } from 'vitest';
import { freshIp, send, TOKEN, uniqueId, withServerToken } from './harness';

/** The rate limit binding as it counts: at most `limit` per key in a window; `nextWindow` is the clock's turn. */
function fixedWindowLimiter(limit: number) {
  let counts = new Map<string, number>();
  return {
    nextWindow: () => void (counts = new Map()),
    async limit({ key }: RateLimitOptions): Promise<RateLimitOutcome> {
      const used = counts.get(key) ?? 0;
      if (used >= limit) return { success: false };
      counts.set(key, used + 1);
      return { success: true };
    },
  };
}

describe('the failure budget through the turn of the limiter’s window', () => {
  it('while the network is still marked spent, a wrong token is answered as the right one is: 429, the same body', async () => {
    const limiter = fixedWindowLimiter(3);
    const env = withServerToken({ TAPLINE_RATE_LIMIT: limiter });
    const attacker = freshIp();
    const guess = (token: string, path = '/_tap/convert') =>
      send(path, { external_id: uniqueId('GUESS'), amount: 10, referral_code: 'x' }, { env, headers: { origin: undefined, authorization: `Bearer ${token}`, 'cf-connecting-ip': attacker } });

    for (let i = 0; i < 3; i++) expect((await guess(`guess-${i}`)).status, `guess ${i + 1}`).toBe(401);
    expect((await guess('guess-3')).status, 'the budget is spent').toBe(429);

    limiter.nextWindow();
    const wrong = await guess('guess-4');
    const wrongRefund = await guess('guess-5', '/_tap/refund');
    const right = await guess(TOKEN);
    expect([wrong.status, wrongRefund.status, right.status]).toEqual([429, 429, 429]);
    expect(wrong.json).toEqual(right.json);
    expect(wrong.headers.get('retry-after')).toBe(right.headers.get('retry-after'));

    // The mark is this network's alone: another network's wrong token is still a plain 401.
    const other = await send('/_tap/convert', { external_id: uniqueId('OTHER') }, { env, headers: { origin: undefined, authorization: 'Bearer nope' } });
    expect(other.status).toBe(401);
  });
});
