// Attack "The click route ignores the configuration check": with an unsafe
// TAPFILIATE_CLICKS_URL, /health said configured:false and convert answered 503,
// yet click answered 200 and sent the key in clear text. Now the click route
// obeys the same check. Without the guard both clicks below were 200, and the
// second reached the stand-in.
import { describe, expect, it } from 'vitest';
import { clicksEnv, clicksFor, health, send, uniqueId } from './harness';

describe('the click route obeys the configuration check', () => {
  it('answers 503 not_configured with a plain-http TAPFILIATE_CLICKS_URL, as /health and convert say', async () => {
    const env = clicksEnv({ TAPFILIATE_CLICKS_URL: 'http://clicks.example/1.6/clicks/' });
    expect((await health(env)).json).toMatchObject({ configured: false });
    const convert = await send('/_tap/convert', { external_id: uniqueId(), referral_code: 'anna' }, { env });
    const click = await send('/_tap/click', { referral_code: uniqueId('anna') }, { env });
    expect(convert.status).toBe(503);
    expect(click.status).toBe(503);
    expect(click.json).toEqual({ ok: false, error: 'not_configured' });
    expect(click.headers.get('set-cookie')).toBeNull();
  });

  it('sends nothing upstream while any problem /health reports stands', async () => {
    const env = clicksEnv({ ALLOWED_ORIGINS: 'http://shop.example' });
    const code = uniqueId('anna');
    const click = await send('/_tap/click', { referral_code: code }, { env });
    expect(click.status).toBe(503);
    expect(await clicksFor(code)).toEqual([]);
  });
});
