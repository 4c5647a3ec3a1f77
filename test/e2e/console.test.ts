// The operator console in Chromium, over orders placed through the demo shop
// of `npm start` (demo/worker.ts): find one, open it, retry a dead one, and the
// same from the terminal (scripts/events.mjs). Saves docs/console.png.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, chromiumMissing, startStack, waitFor, type Stack } from './harness';

const ADMIN_TOKEN = 'e2e-admin-token-8b3f';
const SIGNING_SECRET = 'e2e-demo-signing-secret';
const PHONE = { width: 390, height: 844 };
const run = promisify(execFile);

describe.skipIf(chromiumMissing)('the operator console', () => {
  let stack: Stack;
  let context: BrowserContext;
  let page: Page;
  /** Every CSP violation any console page reported. */
  const violations: string[] = [];
  const shop = (path: string) => stack.merchant.url('www.shop.test', path);
  const consoleUrl = (hash = '') => shop(`/_tap/admin/${hash}`);

  /** The demo flow a newcomer follows after `npm start`: land with ?ref=demo, view the product, buy it. */
  async function buy(): Promise<{ order: string; result: string }> {
    const shopper = await stack.newContext();
    const tab = await shopper.newPage();
    await tab.goto(shop('/?ref=demo'));
    await tab.waitForFunction(() => document.getElementById('data')?.textContent?.includes('demo'));
    await tab.click('text=See the product');
    await tab.click('text=Buy now');
    await tab.waitForFunction(() => /"(ok|status)"/.test(document.getElementById('result')?.textContent ?? ''), undefined, { timeout: 15_000 });
    const order = (await tab.textContent('h1'))!.replace('Thank you for your order ', '').trim();
    const result = (await tab.textContent('#result'))!;
    const link = await tab.getAttribute('text=See this order in the console', 'href');
    expect(link).toBe(`/_tap/admin/#event=${encodeURIComponent(`con:${order}`)}`);
    await shopper.close();
    return { order, result };
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

  const events = (...args: string[]) =>
    run(process.execPath, ['scripts/events.mjs', '--url', `http://127.0.0.1:${stack.merchant.port}`, ...args], {
      env: { ...process.env, TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN },
    }).catch((error: { stdout: string; stderr: string; code: number }) => ({ stdout: error.stdout, stderr: error.stderr, code: error.code }));

  beforeAll(async () => {
    stack = await startStack({ TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN }, { entrypoint: 'demo/worker.ts', signingSecret: SIGNING_SECRET, forwardAll: true });
    context = await stack.browser.newContext({ viewport: PHONE });
    page = await newConsole();
  });
  afterAll(async () => {
    await context?.close();
    await stack?.close();
  });

  it('opens an order placed through the demo shop from its thank-you link, after the token', async () => {
    const { order, result } = await buy();
    expect(JSON.parse(result)).toEqual({ ok: true, status: 'sent' });

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
    expect(await page.textContent('#event .history')).toContain('sent · 200');
    expect(await page.$('#retry')).toBeNull();
    expect(await noHorizontalScroll(page)).toBe(true);

    // The token lives in this tab's sessionStorage only.
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length, document.cookie])).toEqual([1, 0, '']);

    // Back to the list: the order is there, and found by its id.
    await page.click('text=← All events');
    await page.waitForSelector(`#events a:text-is("${order}")`);
    await page.fill('#q', order);
    await page.click('#filters button');
    await waitFor('one row for the order', async () => (await page.$$('#events li')).length === 1);
    expect(await page.textContent('#events li')).toMatch(new RegExp(`${order}sent49 EURdemobrowser.*sent · 200`));
    expect(await noHorizontalScroll(page)).toBe(true);
    await page.fill('#q', '');
  });

  it('retries a dead order once Tapfiliate accepts it, and it turns sent', async () => {
    stack.postbacks.setFaults({ next: [{ status: 422, message: 'Referral code demo is not active.' }] });
    const { order, result } = await buy();
    expect(JSON.parse(result)).toEqual({ ok: false, error: 'upstream_rejected' });
    expect(stack.postbacks.accepted('conversion').filter((r) => r.fields.external_id === order)).toEqual([]);

    // The terminal shows it too.
    const listed = await events('--status', 'dead');
    expect(listed.stdout).toMatch(new RegExp(`con:${order}\\s+dead\\s+browser\\s+49 EUR\\s+demo\\s+rejected 422 Referral code demo is not active\\.`));

    await page.goto(consoleUrl());
    await page.waitForSelector(`#events a:text-is("${order}")`);
    // docs/operations.md shows this: the summary, then the sent order and the dead one.
    await page.screenshot({ path: 'docs/console.png' });
    await page.selectOption('#status', 'dead');
    await waitFor('the dead orders only', async () => (await page.$$eval('#events .badge', (badges) => badges.map((badge) => badge.textContent))).every((status) => status === 'dead'));
    expect(await page.textContent('#events li')).toContain(`${order}dead`);
    expect(await page.textContent('#events li')).toContain('rejected · 422 · Referral code demo is not active.');
    expect(await noHorizontalScroll(page)).toBe(true);

    await page.click(`#events a:text-is("${order}")`);
    await page.waitForSelector('#retry');
    expect(await page.textContent('#event h2')).toBe(`${order}dead`);
    expect(await noHorizontalScroll(page)).toBe(true);
    await page.click('#retry');
    await page.waitForFunction(() => document.querySelector('#event h2 .badge')?.textContent === 'sent');
    expect(await page.textContent('#notice')).toBe('Retried: sent.');
    expect(await page.textContent('#event .history')).toMatch(/rejected · 422.*retry_requested.*sent · 200/s);
    expect(await page.$('#retry')).toBeNull();
    expect(stack.postbacks.accepted('conversion').filter((r) => r.fields.external_id === order)).toHaveLength(1);

    const shown = await events('--show', `con:${order}`);
    expect(shown.stdout).toMatch(/^status\s+sent$/m);
    expect(shown.stdout).toMatch(/rejected 422 Referral code demo is not active\.\n.*retry_requested\n.*sent 200/);

    // Sent is final: a second retry from the terminal is refused, and nothing more reaches Tapfiliate.
    const again = await events('--retry', `con:${order}`);
    expect(again.stdout.trim()).toBe(`con:${order}: 409 already_sent: Tapfiliate has it already; it is never sent twice`);
    expect(stack.postbacks.accepted('conversion').filter((r) => r.fields.external_id === order)).toHaveLength(1);
  });

  it('says so when the token is wrong, and keeps nothing', async () => {
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
    expect('code' in cli && cli.code).toBe(1);
    expect(cli.stderr.trim()).toBe('401 unauthorized: the token is not this worker’s TAPLINE_ADMIN_TOKEN');
  });

  it('ran under its strict CSP without a single violation, and no answer held the key', () => {
    expect(violations).toEqual([]);
    const admin = stack.merchant.forwarded.filter((request) => request.path.startsWith('/_tap/admin/api/'));
    expect(admin.length).toBeGreaterThan(5);
    for (const request of admin) {
      expect(request.answer).toMatch(/^cache-control: no-store$/m);
      expect(request.answer).not.toMatch(/^access-control-/m);
      for (const secret of [API_KEY, ADMIN_TOKEN, SIGNING_SECRET, '127.0.0.1']) expect(request.answer).not.toContain(secret);
    }
  });
});
