// Attack "landing_page and referrer go to Tapfiliate unchecked": javascript:
// URLs, CR/LF and HTML reached the merchant's and affiliates' dashboards. Now
// each is forwarded only when it is an http(s) URL of at most 2,048 characters
// without control characters, and landing_page only on the shop's own host or
// an ALLOWED_ORIGINS host; otherwise it is left out and the click still made.
// Without the guard every value below was forwarded (the 3,000-character one was
// a 400 and no click).
import { describe, expect, it } from 'vitest';
import { clicksEnv, clicksFor, freshIp, send, uniqueId } from './harness';

const env = clicksEnv({ ALLOWED_ORIGINS: 'https://www.shop-eu.example' });

async function clickWith(fields: Record<string, unknown>) {
  const code = uniqueId('anna');
  const answer = await send('/_tap/click', { referral_code: code, ...fields }, { env, headers: { 'cf-connecting-ip': freshIp() } });
  expect(answer.status).toBe(200);
  const clicks = await clicksFor(code);
  expect(clicks, 'the click is still made').toHaveLength(1);
  return clicks[0].fields;
}

describe('landing_page', () => {
  it.each([
    ['a javascript: URL', 'javascript:alert(document.cookie)'],
    ['a data: URL', 'data:text/html,<script>alert(1)</script>'],
    ['CR/LF', 'https://shop.example/\r\nSet-Cookie: x=1'],
    ['a NUL', 'https://shop.example/<img src=x onerror=alert(1)>\u0000'],
    ['another host', 'https://evil.example/?ref=anna'],
    ['a host that only starts like the shop', 'https://shop.example.evil.example/'],
    ['3,000 characters', `https://shop.example/?q=${'a'.repeat(3000)}`],
    ['a relative path', '/relative/path'],
  ])('leaves out %s', async (_name, landing_page) => {
    expect(await clickWith({ landing_page })).not.toHaveProperty('landing_page');
  });

  it.each([['https://shop.example/?ref=anna'], ['https://www.shop-eu.example/de/?ref=anna'], ['http://shop.example/']])('forwards %s', async (landing_page) => {
    expect(await clickWith({ landing_page })).toMatchObject({ landing_page });
  });
});

describe('referrer', () => {
  it.each([
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a LF', 'https://affiliate.example/\n<b>'],
    ['2,100 characters', `https://affiliate.example/${'a'.repeat(2100)}`],
    ['not a URL', 'not a url'],
  ])(
    'leaves out %s',
    async (_name, referrer) => {
      expect(await clickWith({ referrer })).not.toHaveProperty('referrer');
    },
  );

  it('forwards an http(s) referrer on any host', async () => {
    expect(await clickWith({ referrer: 'https://affiliate.example/post' })).toMatchObject({ referrer: 'https://affiliate.example/post' });
  });
});
