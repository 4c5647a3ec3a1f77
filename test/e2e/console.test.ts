// The operator console in Chromium, over orders placed through the demo shop
// of `npm start` (demo/worker.ts): why an order was not credited (its reason),
// which step Tapfiliate refused, a retry, a bulk retry after the stand-in
// recovers, and the same from the terminal (scripts/events.mjs). On a 390 px
// phone, under the page's strict CSP. `npm run screenshots` refreshes
// docs/console.png (TAPLINE_SCREENSHOTS=1); TAPLINE_SHOTS_DIR also keeps each shot there.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, chromiumMissing, startStack, waitFor, type Stack } from './harness';

const ADMIN_TOKEN = 'e2e-admin-token-8b3f';
const SIGNING_SECRET = 'e2e-demo-signing-secret';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1100, height: 1000 };
const run = promisify(execFile);

/** A screenshot only when asked: `npm test` never rewrites a tracked file. */
async function shot(page: Page, name: string, forDocs = false): Promise<void> {
  const dir = process.env.TAPLINE_SHOTS_DIR;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
  }
  if (forDocs && process.env.TAPLINE_SCREENSHOTS) await page.screenshot({ path: 'docs/console.png' });
}

describe.skipIf(chromiumMissing)('the operator console', () => {
  let stack: Stack;
  let context: BrowserContext;
  let page: Page;
  /** Every CSP violation any console page reported. */
  const violations: string[] = [];
  const shop = (path: string) => stack.merchant.url('www.shop.test', path);
  const consoleUrl = (hash = '') => shop(`/_tap/admin/${hash}`);

  /** The demo flow a newcomer follows after `npm start`: land (with ?ref=demo, or not), view the product, buy it. */
  async function buy(ref: string | null = 'demo'): Promise<{ order: string; result: string; outcome: string }> {
    const shopper = await stack.newContext();
    const tab = await shopper.newPage();
    await tab.goto(shop(ref ? `/?ref=${ref}` : '/'));
    await tab.waitForFunction(() => !/loading/.test(document.getElementById('arrived')?.textContent ?? 'loading'));
    await tab.click('text=See the product');
    await tab.click('text=Buy now');
    await tab.waitForFunction(() => /"(ok|status)"/.test(document.getElementById('result')?.textContent ?? ''), undefined, { timeout: 15_000 });
    const order = (await tab.textContent('h1'))!.replace('Thank you for your order ', '').trim();
    const result = (await tab.textContent('#result'))!;
    const outcome = (await tab.textContent('#outcome'))!;
    const link = await tab.getAttribute('text=See this order in the console', 'href');
    expect(link).toBe(`/_tap/admin/#event=${encodeURIComponent(`con:${order}`)}`);
    await shopper.close();
    return { order, result, outcome };
  }

  async function newConsole(): Promise<Page> {
    const tab = await context.newPage();
    tab.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    await tab.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => console.error(`Content Security Policy: ${event.violatedDirective} ${event.blockedURI}`));
    });
    return tab;
  }

  async function signIn(tab: Page, token = ADMIN_TOKEN): Promise<void> {
    await tab.fill('#token', token);
    await tab.click('#login button');
  }

  const noHorizontalScroll = (tab: Page) => tab.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
  const rows = () => page.$$eval('#events li', (items) => items.map((item) => item.textContent ?? ''));
  async function search(q: string): Promise<void> {
    await page.fill('#q', q);
    await page.click('#filters button:text-is("Search")');
  }

  const events = (...args: string[]) =>
    run(process.execPath, ['scripts/events.mjs', '--url', `http://127.0.0.1:${stack.merchant.port}`, ...args], {
      env: { ...process.env, TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN },
    }).then(
      (done) => ({ ...done, code: 0 }),
      (error: { stdout: string; stderr: string; code: number }) => ({ stdout: error.stdout, stderr: error.stderr, code: error.code }),
    );

  beforeAll(async () => {
    stack = await startStack({ TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN }, { entrypoint: 'demo/worker.ts', signingSecret: SIGNING_SECRET, forwardAll: true });
    context = await stack.browser.newContext({ viewport: PHONE, timezoneId: 'Europe/Paris' });
    page = await newConsole();
  });
  afterAll(async () => {
    await context?.close();
    await stack?.close();
  });

  it('opens an order placed through the demo shop from its thank-you link: its job, each try, times with seconds and zone', async () => {
    const { order, result, outcome } = await buy();
    expect(JSON.parse(result)).toEqual({ ok: true, status: 'sent' });
    expect(outcome).toBe('Sent to Tapfiliate: a conversion of 49 EUR credited to the affiliate demo. The terminal shows the postback it received.');

    const response = await page.goto(consoleUrl(`#event=${encodeURIComponent(`con:${order}`)}`));
    expect(response!.headers()['content-security-policy']).toMatch(/^default-src 'self'/);
    await signIn(page);
    await page.waitForSelector('#event h2');
    expect(await page.textContent('#event h2')).toBe(`${order}sent`);
    const details = (await page.textContent('#event dl'))!;
    expect(details).toContain(`con:${order}`);
    expect(details).toContain('49 EUR');
    expect(details).toContain('browser, signed');
    expect(details).toContain('referral_codedemo');
    // Seconds and the zone (the browser's: Paris), the ISO time on hover.
    expect(await page.textContent('#event dd time')).toMatch(/\d{1,2}:\d{2}:\d{2}.*(CET|CEST|GMT\+1|GMT\+2)/);
    expect(await page.getAttribute('#event dd time', 'datetime')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    // One try took both postbacks; its entry names the step it ended on, with Tapfiliate's answer.
    expect(await page.$$eval('#event .history li > span', (spans) => spans.map((span) => span.textContent))).toEqual(['conversion stepsentTapfiliate: 200']);
    // The job as sent: both postbacks, the shopper's IP masked, never the key.
    const job = await page.$$eval('#event pre.job', (pres) => pres.map((pre) => JSON.parse(pre.textContent!)));
    expect(job).toEqual([expect.objectContaining({ customer_id: `CUS-${order}`, referral_code: 'demo' }), expect.objectContaining({ external_id: order, amount: 49, currency: 'EUR', referral_code: 'demo' })]);
    expect(job[1].ip).toMatch(/\.x$|::x$/);
    expect(await page.textContent('#event')).not.toContain(API_KEY);
    expect(await page.$('#retry')).toBeNull();
    expect(await noHorizontalScroll(page)).toBe(true);
    await shot(page, 'event-sent');

    // The token lives in this tab's sessionStorage only.
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length, document.cookie])).toEqual([1, 0, '']);

    // Back to the list: the order is there, found by its id, and by a prefix.
    await page.click('text=← All events');
    await page.waitForSelector(`#events a:text-is("${order}")`);
    await search(order);
    await waitFor('one row for the order', async () => (await rows()).length === 1);
    expect((await rows())[0]).toMatch(new RegExp(`^${order}sent49 EURaffiliate democonversion · browser.*\\d:\\d{2}:\\d{2}.*sent · 200`));
    await search(`${order.slice(0, -2)}*`);
    await waitFor('the prefix finds it', async () => (await rows()).some((row) => row.startsWith(order)));
    // The summary counts every status, and a dead count of 0 is quiet, not red.
    expect(await page.$$eval('#summary .card:first-child dt', (dts) => dts.map((dt) => dt.textContent))).toEqual(['sent', 'pending', 'dead', 'reversed', 'adjusted', 'unattributed', 'ignored']);
    expect(await page.getAttribute('#summary .card:first-child dt:text-is("dead") + dd', 'class')).toBe('zero');
    // An empty result says what it searched.
    await search('NOPE-12345');
    await waitFor('the empty state', async () => (await rows())[0] === 'No events match id NOPE-12345.');
    expect(await noHorizontalScroll(page)).toBe(true);
    await page.click('#clear');
  });

  it('finds an order nobody was credited for, and reads why', async () => {
    const { order, result, outcome } = await buy(null);
    expect(JSON.parse(result)).toEqual({ ok: true, status: 'unattributed' });
    expect(outcome).toMatch(/^Not credited to anyone: no affiliate link brought this browser here/);
    expect(stack.postbacks.accepted().filter((r) => r.fields.external_id === order)).toEqual([]);

    await page.goto(consoleUrl());
    await page.selectOption('#status', 'unattributed');
    await search(order);
    await waitFor('the unattributed order', async () => (await rows()).length === 1 && (await rows())[0].startsWith(order));
    expect((await rows())[0]).toContain('unattributed');
    expect((await rows())[0]).toContain('no affiliate');
    expect((await rows())[0]).toContain('Reason: no_attribution: no affiliate: no referral code, click id, coupon or remembered subscription');
    await page.click(`#events a:text-is("${order}")`);
    await page.waitForSelector('#event h2');
    expect(await page.textContent('#event dl')).toContain('Reasonno_attribution: no affiliate');
    expect(await page.textContent('#event .nothing')).toMatch(/^Nothing was sent for this event/);
    expect(await page.textContent('#event .history')).toContain('unattributedreason: no_attribution');
    expect(await page.$('#retry')).toBeNull();

    const shown = await events(order);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^status\s+unattributed$/m);
    expect(shown.stdout).toMatch(/^reason\s+no_attribution$/m);
    await page.click('text=← All events');
    await page.click('#clear');
  });

  it('names the refused step: a customer postback Tapfiliate refused, in the console and the terminal', async () => {
    stack.postbacks.setFaults({ next: [{ status: 422, message: 'Customer email is blocked.' }] });
    const { order, result, outcome } = await buy();
    expect(JSON.parse(result)).toEqual({ ok: false, error: 'upstream_rejected' });
    expect(outcome).toMatch(/^Refused by Tapfiliate: it did not accept the postback for the affiliate demo.*Its words are in the console/);

    await page.goto(consoleUrl(`#event=${encodeURIComponent(`con:${order}`)}`));
    await page.waitForSelector('#retry');
    expect(await page.textContent('#event h2')).toBe(`${order}dead`);
    const entry = (await page.textContent('#event .history li:last-child'))!;
    expect(entry).toMatch(/customer step.*rejected.*Tapfiliate: 422 · Customer email is blocked\./);
    expect(await page.getAttribute('#event .history li:last-child', 'class')).toBe('failed');

    const listed = await events('--status', 'dead');
    expect(listed.stdout).toMatch(new RegExp(`con:${order}\\s+dead\\s+browser\\s+49 EUR\\s+demo\\s+customer\\s+rejected 422 Customer email is blocked\\.`));
    const shown = await events('--show', order);
    expect(shown.stdout).toMatch(/^\S+ \S+Z\s+customer\s+rejected\s+422 Customer email is blocked\.$/m);

    // The list, as docs/operations.md shows it: a sent order, an unattributed one with its reason, a dead one with its step.
    await page.setViewportSize(DESKTOP);
    await page.goto(consoleUrl());
    await page.waitForSelector(`#events a:text-is("${order}")`);
    await shot(page, 'list', true);
    await page.goto(consoleUrl(`#event=${encodeURIComponent(`con:${order}`)}`));
    await page.waitForSelector('#retry');
    await shot(page, 'event-dead-customer-step');
    await page.setViewportSize(PHONE);
    await shot(page, 'event-dead-phone');
    expect(await noHorizontalScroll(page)).toBe(true);

    // Retried once Tapfiliate accepts it: sent, said in green, not in the box for errors.
    await page.click('#retry');
    await page.waitForFunction(() => document.querySelector('#event h2 .badge')?.textContent === 'sent');
    expect(await page.textContent('#notice')).toBe('Retried: sent.');
    expect(await page.getAttribute('#notice', 'class')).toBe('ok');
    expect(await page.textContent('#event .history')).toMatch(/rejected.*retry_requested.*sent/s);
    expect(stack.postbacks.accepted('conversion').filter((r) => r.fields.external_id === order)).toHaveLength(1);

    // Sent is final: a second retry from the terminal is refused (exit 1), and nothing more reaches Tapfiliate.
    const again = await events('--retry', order);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe('409 already_sent: Tapfiliate has it already; it is never sent twice');
    expect(stack.postbacks.accepted('conversion').filter((r) => r.fields.external_id === order)).toHaveLength(1);
  });

  it('retries every dead order of a date range at once, after the stand-in recovers', async () => {
    stack.postbacks.setFaults({ next: [{ status: 422, message: 'Referral code demo is not active.' }, { status: 422, message: 'Referral code demo is not active.' }] });
    const first = await buy();
    const second = await buy();
    for (const { result } of [first, second]) expect(JSON.parse(result)).toEqual({ ok: false, error: 'upstream_rejected' });
    stack.postbacks.setFaults({});

    await page.goto(consoleUrl());
    await page.waitForSelector(`#events a:text-is("${second.order}")`);
    // From five minutes ago, in the browser's own zone, to now.
    await page.evaluate(() => {
      const local = (at: Date) => new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
      (document.getElementById('from') as HTMLInputElement).value = local(new Date(Date.now() - 300_000));
    });
    await page.selectOption('#status', 'dead');
    await waitFor('the two dead orders', async () => (await rows()).filter((row) => row.includes('dead')).length >= 2);
    expect(await noHorizontalScroll(page)).toBe(true);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#retry-dead');
    await page.waitForSelector('#notice:not([hidden])');
    expect(await page.textContent('#notice')).toMatch(/^Retried 2 dead \(from .+\): 2 sent, 0 queued, 0 refused again\.$/);
    expect(await page.getAttribute('#notice', 'class')).toBe('ok');
    await waitFor('no dead order left', async () => (await rows())[0]?.startsWith('No events match status dead'));
    for (const { order } of [first, second]) expect(stack.postbacks.accepted('conversion').filter((r) => r.fields.external_id === order)).toHaveLength(1);

    // Nothing dead is left: a second bulk retry, from the terminal, sends nothing.
    const again = await events('--retry-dead');
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe('retried 0: 0 sent, 0 queued, 0 refused again');
    await page.click('#clear');
  });

  it('refreshes its list by itself, and shows the rest when one record cannot be shown', async () => {
    await page.goto(consoleUrl());
    await page.waitForSelector('#events li');
    const { order } = await buy();
    // The list refreshes on a timer and when the tab comes back into view; the latter needs no waiting.
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await page.waitForSelector(`#events a:text-is("${order}")`);

    // A record whose key holds a lone surrogate (encodeURIComponent throws on it) beside a good one.
    await page.route('**/_tap/admin/api/events?*', (route) =>
      route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify({
          ok: true,
          next_cursor: null,
          events: [
            { key: 'con:BAD-\ud800', kind: 'conversion', status: 'sent', source: 'server', external_id: 'BAD-\ud800', identifiers: {}, accepted_at: '2026-12-07T10:00:00.000Z' },
            { key: 'con:ODD', kind: 'conversion', status: 'sent', source: 'server', external_id: 'ODD', identifiers: null, accepted_at: 'not a time' },
            { key: 'con:GOOD-1', kind: 'conversion', status: 'sent', source: 'server', external_id: 'GOOD-1', identifiers: {}, accepted_at: '2026-12-07T10:00:00.000Z' },
          ],
        }),
      }),
    );
    await search('any');
    await page.waitForSelector('#events a:text-is("GOOD-1")');
    expect(await page.$$eval('#events li', (items) => items.length)).toBe(3);
    expect(await page.getAttribute('#events li:first-child a', 'href')).toBe('#event=con%3ABAD-%EF%BF%BD');
    await page.unroute('**/_tap/admin/api/events?*');
    await page.click('#clear');
  });

  it('says so when the token is wrong, and keeps nothing; the terminal exits 3', async () => {
    const stranger = await stack.browser.newContext({ viewport: PHONE });
    const tab = await stranger.newPage();
    await tab.goto(consoleUrl());
    await signIn(tab, 'not-the-token');
    await tab.waitForSelector('#notice:not([hidden])');
    expect(await tab.textContent('#notice')).toBe('Wrong token: that is not this worker’s TAPLINE_ADMIN_TOKEN.');
    expect(await tab.isVisible('#login')).toBe(true);
    expect(await tab.isVisible('#app')).toBe(false);
    expect(await tab.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await noHorizontalScroll(tab)).toBe(true);
    await stranger.close();

    const cli = await run(process.execPath, ['scripts/events.mjs', '--url', `http://127.0.0.1:${stack.merchant.port}`], {
      env: { ...process.env, TAPLINE_ADMIN_TOKEN: 'not-the-token' },
    }).catch((error: { stderr: string; code: number }) => error);
    expect('code' in cli && cli.code).toBe(3);
    expect(cli.stderr.trim()).toBe('401 unauthorized: the token is not this worker’s TAPLINE_ADMIN_TOKEN');
  });

  it('ran under its strict CSP without a single violation, and no answer held the key or a full IP', () => {
    expect(violations).toEqual([]);
    const admin = stack.merchant.forwarded.filter((request) => request.path.startsWith('/_tap/admin/api/'));
    expect(admin.length).toBeGreaterThan(10);
    for (const request of admin) {
      expect(request.answer).toMatch(/^cache-control: no-store$/m);
      expect(request.answer).not.toMatch(/^access-control-/m);
      for (const secret of [API_KEY, ADMIN_TOKEN, SIGNING_SECRET, '127.0.0.1']) expect(request.answer).not.toContain(secret);
    }
  });
});
