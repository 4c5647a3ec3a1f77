// The attack "Echoed messages": Tapfiliate's refusal was
// passed to anonymous callers. The key scrub was exact-match only, so the key
// in lower case or URL-encoded came back, and the messages told anyone which
// referral codes exist. Without the guard the 422 carried `message`.
//
// This file alone uses the `faults` stand-in: a fault spec is global to its server.
// "The key follows redirects" (307/302) and "Loose duplicate matching" are the
// delivery project's (test/delivery/postback.test.ts, faults.test.ts); the two
// tests at the end only check what reaches the caller.
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { postbackControl } from '../postback/control';
import { attackEnv, receivedFor, send, uniqueId } from './harness';

const faults = postbackControl(inject('attackPostbackServers').faults);
// A key with upper case and characters that percent-encoding changes.
const KEY = 'Tap-Key/Secret+9Z=';
const env = attackEnv({ TAPFILIATE_API_KEY: KEY }, faults);
const forms = [KEY, KEY.toLowerCase(), KEY.toUpperCase(), encodeURIComponent(KEY), encodeURIComponent(KEY).toLowerCase()];

describe('a Tapfiliate refusal', () => {
  beforeEach(() => faults.reset());

  it('reaches the caller as exactly {ok:false, error:"upstream_rejected"}: no key in any form, no referral-code hint', async () => {
    const message = `Invalid request for key ${KEY.toLowerCase()} (${encodeURIComponent(KEY)}): referral code "attacker-probe" does not exist.`;
    await faults.setFaults({ next: [{ status: 422, message }] });
    const external_id = uniqueId();
    const answer = await send('/_tap/convert', { external_id, referral_code: 'attacker-probe' }, { env });
    expect(answer.status).toBe(422);
    expect(answer.json).toStrictEqual({ ok: false, error: 'upstream_rejected' });
    const headers = [...answer.headers.entries()].join(' ');
    for (const form of forms) expect(headers).not.toContain(form);

    // The operator still reads why, scrubbed of every form of the key.
    expect(answer.lines.some((line) => line.includes('does not exist'))).toBe(true);
    for (const line of answer.lines) for (const form of forms) expect(line.toLowerCase()).not.toContain(form.toLowerCase());
    expect((await receivedFor(external_id, faults)).map((r) => r.status)).toEqual([422]);
  });

  it('looks the same whether the referral code exists or not', async () => {
    await faults.setFaults({ next: [{ status: 422, message: 'Referral code "nobody" not found.' }, { status: 400, message: 'Affiliate is disabled.' }] });
    const a = await send('/_tap/convert', { external_id: uniqueId(), referral_code: 'nobody' }, { env });
    const b = await send('/_tap/convert', { external_id: uniqueId(), referral_code: 'disabled' }, { env });
    expect([a.status, a.json]).toEqual([b.status, b.json]);
  });

  it('does not echo an HTML or non-JSON body either', async () => {
    await faults.setFaults({ next: [{ status: 403, body: `<html>denied for ${KEY}</html>`, contentType: 'text/html' }] });
    const answer = await send('/_tap/customer', { customer_id: uniqueId(), referral_code: 'x' }, { env });
    expect(answer.json).toStrictEqual({ ok: false, error: 'upstream_rejected' });
  });

  it('reads "Coupon already expired" as a refusal, not a duplicate (loose duplicate matching)', async () => {
    await faults.setFaults({ next: [{ status: 422, message: 'Coupon already expired' }] });
    const answer = await send('/_tap/convert', { external_id: uniqueId(), coupon: 'OLD' }, { env });
    expect(answer.json).toStrictEqual({ ok: false, error: 'upstream_rejected' });
  });

  it('never follows a 307 with the key (the key follows redirects)', async () => {
    await faults.setFaults({ next: ['307'] });
    const answer = await send('/_tap/convert', { external_id: uniqueId(), referral_code: 'aff' }, { env });
    expect(answer.status).not.toBe(200);
    expect(await faults.redirected()).toEqual([]);
  });
});
