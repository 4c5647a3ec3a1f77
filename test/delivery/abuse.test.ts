/// <reference types="vite/client" />
import { env as workerEnv } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDelivery } from '../../proxy/delivery';
import { cleanVisitor } from '../../proxy/lib/network';
import type { PostbackJob } from '../../proxy/tapfiliate';
import { recordOf, statusOf } from '../ledger-control';
import { API_KEY, client, parseLogLines, postbackServer, type Rejection } from './postback-control';

// Known attacks on delivery (docs/security.md), each a test that fails on code without its guard: in
// workerd, with the real ledger objects, against the local stand-in.
const server = postbackServer('abuse');
const run = Math.random().toString(36).slice(2, 8);
let sequence = 0;
function job(withCustomer = false): PostbackJob {
  const n = `${run}-${++sequence}`;
  const customer_id = withCustomer ? `CUS-${n}` : undefined;
  return {
    customer: customer_id ? { customer_id, referral_code: 'demo', ...client } : undefined,
    conversion: { external_id: `ATK-${n}`, amount: 1, customer_id, referral_code: 'demo', ...client },
  };
}
const conKey = (pending: PostbackJob) => `con:${pending.conversion!.external_id}`;
const submit = (pending: PostbackJob) => createDelivery(workerEnv as Env).submit({ job: pending, source: 'browser', signed: false });

let undo: () => Promise<void>;
let log: { mock: { calls: unknown[][] } };
beforeEach(async () => {
  await server.reset();
  log = vi.spyOn(console, 'log').mockImplementation(() => {});
  undo = await server.useInLedgers();
});
afterEach(async () => {
  await undo();
  vi.restoreAllMocks();
});

describe('Amplification: a repeat costs no postback, a refusal costs one', () => {
  it('five concurrent repeats and a later one of a sent order are duplicates; Tapfiliate saw one postback', async () => {
    const pending = job();
    expect(await submit(pending)).toEqual({ status: 'sent' });
    expect((await Promise.all(Array.from({ length: 5 }, () => submit(pending)))).every((r) => r.status === 'duplicate')).toBe(true);
    expect(await submit(pending)).toEqual({ status: 'duplicate' });
    expect(await server.received()).toHaveLength(1);
  });

  it('a 422 is dead at its first answer: one try, no retry scheduled, the job kept', async () => {
    await server.setFaults({ always: { status: 422, message: 'Referral code does not exist' } });
    const pending = job(true);
    expect(await submit(pending)).toEqual({ status: 'rejected', upstreamStatus: 422, message: 'Referral code does not exist' });
    const record = await recordOf(conKey(pending));
    expect(record).toMatchObject({ status: 'dead', attempts: 1, next_try_at: null, job: pending });
    expect(await server.received()).toHaveLength(1);
  });

  it('a 64 KB user agent, cleaned as the routes clean it, makes a record of a few KB', async () => {
    const pending = job();
    // Through the routes' own guard (proxy/lib/network.ts cleanVisitor, which every route's visitor passes).
    pending.conversion!.user_agent = cleanVisitor(undefined, 'x'.repeat(64 * 1024)).user_agent;
    expect(await submit(pending)).toEqual({ status: 'sent' });
    expect(JSON.stringify(await recordOf(conKey(pending))).length).toBeLessThan(4 * 1024);
  });
});

describe('Loose duplicate matching: a refusal is never taken as delivered', () => {
  const refusals: Rejection[] = [
    { status: 422, message: 'Coupon already expired' },
    { status: 422, message: 'Referral code already used' },
    { status: 400, message: 'already' },
    { status: 422, message: 'Coupon SUMMER exists but is not active' },
    { status: 422, message: 'Customer with customer_id C-1 already exists.' },
  ];
  it.each(refusals)('$status $message → rejected, the record dead, not sent', async (rejection) => {
    await server.setFaults({ next: [rejection] });
    const pending = job();
    expect(await submit(pending)).toEqual({ status: 'rejected', upstreamStatus: rejection.status, message: rejection.message });
    expect(await statusOf(conKey(pending))).toBe('dead');
  });
});

describe('The key follows redirects: never', () => {
  it.each(['307', '302'] as const)('%s: nothing reaches the target, the job is refused and dead, never retried', async (fault) => {
    await server.setFaults({ always: fault });
    const pending = job(true);
    expect(await submit(pending)).toMatchObject({ status: 'rejected', upstreamStatus: Number(fault) });
    const received = await server.received();
    expect(received.every((r) => r.fault === fault && r.location?.includes('/redirected/'))).toBe(true);
    const redirected = await server.redirected();
    expect(redirected).toEqual([]);
    expect(await statusOf(conKey(pending))).toBe('dead');
  });
});

describe('Echoed messages: the key in any form never comes back', () => {
  const key = 'Tk/9+aZ=q&x';
  const forms = [key, key.toLowerCase(), key.toUpperCase(), encodeURIComponent(key), encodeURIComponent(key).toLowerCase()];
  const leaks = (text: string) => forms.some((form) => text.toLowerCase().includes(form.toLowerCase()));

  it('not in what submit returns, nor in the record, nor in any log line', async () => {
    await undo();
    undo = await server.useInLedgers({ TAPFILIATE_API_KEY: key });
    await server.setFaults({ always: { status: 422, message: `Key ${forms.join(' / ')} cannot use referral code demo` } });
    const pending = job();
    const result = await submit(pending);
    expect(result).toMatchObject({ status: 'rejected', upstreamStatus: 422 });
    expect(leaks(JSON.stringify(result))).toBe(false);
    expect(leaks(JSON.stringify(await recordOf(conKey(pending))))).toBe(false);
    const lines = log.mock.calls.map(([line]) => String(line));
    expect(lines.some((line) => line.includes('cannot use referral code'))).toBe(true);
    expect(lines.filter(leaks)).toEqual([]);
    expect(parseLogLines(log.mock.calls).find((line) => line.event === 'postback_dead')).toMatchObject({ external_id: pending.conversion!.external_id });
    expect(API_KEY).not.toBe(key);
  });
});
