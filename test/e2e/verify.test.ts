// `npm run verify` (scripts/verify.mjs) as a merchant runs it: against the demo
// shop it passes every step; against an install with one fault, it fails and
// names that fault and what to do. The worker behind a web server is checked
// in own-server.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, shopPage, startStack, type Stack } from './harness';
import { runVerify } from './web-servers';

const ADMIN_TOKEN = 'e2e-verify-admin-token';
/** .dev.vars.example's: the demo shop signs its thank-you page with it. */
const DEMO_SIGNING_SECRET = 'dev-signing-secret';

/** The lines of verify's output that failed, each with its fix. */
const failures = (output: string) => output.split('\n').filter((line, i, lines) => line.startsWith('✗') || (line.startsWith('    →') && lines[i - 1]?.startsWith('✗')));

describe.skipIf(chromiumMissing)('npm run verify against the demo shop', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({}, { entrypoint: 'demo/worker.ts', signingSecret: DEMO_SIGNING_SECRET, adminToken: ADMIN_TOKEN, forwardAll: true });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('passes every step, with a signed test conversion and the operator API, and sends nothing to Tapfiliate', { timeout: 60_000 }, async () => {
    const { code, output } = await runVerify([`http://127.0.0.1:${stack.merchant.port}`], { TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN, TAPLINE_SIGNING_SECRET: DEMO_SIGNING_SECRET });
    expect(failures(output)).toEqual([]);
    expect(output).toContain('✓ /_tap/health answers: configured, trust signed');
    expect(output).toContain('✓ / carries the tag');
    expect(output).toMatch(/✓ a landing with \?ref= gets the cookie from the worker: Set-Cookie tap_data/);
    expect(output).toMatch(/✓ a tap_test conversion is answered test \(signed\), nothing sent; it would send: conversion → /);
    expect(output).toContain('✓ the operator API answers with your token');
    expect(output).toContain('All good.');
    expect(code).toBe(0);
    expect(stack.postbacks.received, 'no postback').toEqual([]);
    expect(stack.postbacks.clicks, 'no click').toEqual([]);
  });
});

describe.skipIf(chromiumMissing)('npm run verify names the fault', () => {
  let healthy: Stack;
  let unconfigured: Stack;
  const verify = (stack: Stack) => runVerify([`http://127.0.0.1:${stack.merchant.port}`], { TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN });
  beforeAll(async () => {
    [healthy, unconfigured] = await Promise.all([startStack({}, { adminToken: ADMIN_TOKEN }), startStack({}, { apiKey: '' })]);
    for (const stack of [healthy, unconfigured]) stack.merchant.pages.set('/', { html: shopPage() });
  });
  afterAll(async () => {
    await Promise.all([healthy?.close(), unconfigured?.close()]);
  });

  it('passes a healthy install in open trust', { timeout: 60_000 }, async () => {
    const { code, output } = await verify(healthy);
    expect(failures(output)).toEqual([]);
    expect(code).toBe(0);
  });

  it('no tag on the home page: one ✗, saying where the tag goes', { timeout: 60_000 }, async () => {
    healthy.merchant.pages.set('/', { html: '<!doctype html><title>Shop</title><h1>Shop</h1>' });
    const { code, output } = await verify(healthy);
    expect(failures(output)).toEqual(['✗ / has no <script src="/_tap/tap.js">', expect.stringMatching(/→ paste the two lines of the README into the <head> of every page/)]);
    expect(code).toBe(1);
  });

  it('Tapfiliate\'s own tag still on the page: points at the migration guide', { timeout: 60_000 }, async () => {
    healthy.merchant.pages.set('/', { html: shopPage({ before: '</script><script src="https://script.tapfiliate.com/tapfiliate.js" type="text/javascript" async></script><script>' }) });
    const { code, output } = await verify(healthy);
    expect(failures(output)).toEqual([expect.stringContaining('✗ / still loads Tapfiliate\'s own tag'), expect.stringContaining('docs/guides/from-tapfiliate-js.md')]);
    expect(code).toBe(1);
  });

  it('a missing TAPFILIATE_API_KEY and TAPLINE_ADMIN_TOKEN: each named with the command that sets it', { timeout: 60_000 }, async () => {
    const { code, output } = await verify(unconfigured);
    expect(output).toMatch(/✗ \/_tap\/health answers configured: false.*\n\s+→ .*TAPFILIATE_API_KEY \(npx wrangler secret put TAPFILIATE_API_KEY --env production\)/);
    expect(output).toMatch(/✗ the operator API answers 503: TAPLINE_ADMIN_TOKEN is not set.*\n\s+→ npx wrangler secret put TAPLINE_ADMIN_TOKEN --env production/);
    expect(code).toBe(1);
  });

  it('a forwarder expected but TAPLINE_FORWARDER_SECRET not set: named with the command and the header', { timeout: 60_000 }, async () => {
    const { code, output } = await runVerify([`http://127.0.0.1:${unconfigured.merchant.port}`, '--forwarder'], { TAPLINE_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(output).toMatch(/✗ not through an authenticated forwarder \(forwarder: false\)\n\s+→ set the worker's secret \(npx wrangler secret put TAPLINE_FORWARDER_SECRET --env production\) and send the same value as Tapline-Forwarder/);
    expect(code).toBe(1);
  });

  it('usage: no address is exit code 2', async () => {
    expect((await runVerify([])).code).toBe(2);
    expect((await runVerify(['ftp://shop.example'])).code).toBe(2);
  });
});
