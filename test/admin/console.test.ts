// GET BASE_PATH/admin/: the console's three files, served by the worker under a strict CSP.
import { describe, expect, it } from 'vitest';
import { CONSOLE_FILES } from '../../proxy/generated/console';
import { call } from './helpers';

describe('the console page', () => {
  it('serves one HTML page with a default-src self CSP, no-referrer and no framing', async () => {
    const { status, text, response } = await call('/_tap/admin/');
    expect(status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp.split(';').map((part) => part.trim())).toEqual(expect.arrayContaining(["default-src 'self'", "frame-ancestors 'none'"]));
    expect(csp).not.toMatch(/unsafe|https?:|\*/);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(text).toContain('<title>Tapline console</title>');
  });

  it('loads only its own two files: no inline script or style, no other host', async () => {
    const { text } = await call('/_tap/admin/');
    expect([...text.matchAll(/<script\b([^>]*)>/g)].map((match) => match[1].trim())).toEqual(['defer src="console.js"']);
    expect([...text.matchAll(/<link\b([^>]*)>/g)].map((match) => match[1].trim())).toEqual(['rel="stylesheet" href="console.css" /']);
    expect(text).not.toMatch(/<style|style=|\bon[a-z]+=|https?:\/\//i);
    expect(CONSOLE_FILES['console.js'].source).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect(CONSOLE_FILES['console.css'].source).not.toMatch(/url\(|@import/);
  });

  it.each([
    ['console.js', 'text/javascript; charset=utf-8'],
    ['console.css', 'text/css; charset=utf-8'],
  ])('serves %s as %s, with an ETag that answers 304', async (file, type) => {
    const first = await call(`/_tap/admin/${file}`);
    expect(first.status).toBe(200);
    expect(first.response.headers.get('content-type')).toBe(type);
    expect(first.text).toBe(CONSOLE_FILES[file].source);
    const again = await call(`/_tap/admin/${file}`, { headers: { 'if-none-match': first.response.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('keeps the token in sessionStorage only, never localStorage or a cookie', () => {
    const script = CONSOLE_FILES['console.js'].source;
    expect(script).toContain('sessionStorage');
    expect(script).not.toMatch(/localStorage|document\.cookie|innerHTML|insertAdjacentHTML|eval\(/);
  });

  it('sends /admin to /admin/, and lives under any BASE_PATH', async () => {
    const bare = await call('/_tap/admin');
    expect(bare.status).toBe(308);
    expect(bare.response.headers.get('location')).toBe('/_tap/admin/');
    const moved = await call('/shop/tap/admin/', {}, { BASE_PATH: '/shop/tap' });
    expect(moved.status).toBe(200);
    expect(moved.text).toContain('Tapline console');
    expect((await call('/_tap/admin/', {}, { BASE_PATH: '/shop/tap' })).text).toBe('origin');
  });

  it('serves nothing else under /admin/', async () => {
    for (const path of ['/_tap/admin/index.html', '/_tap/admin/other.js', '/_tap/admin/console.js.map']) {
      expect((await call(path)).status, path).toBe(404);
    }
  });
});

describe('the demo shop', () => {
  it('links its thank-you page to the order in the console', async () => {
    const { default: demoWorker } = await import('../../demo/worker');
    const { createExecutionContext } = await import('cloudflare:test');
    const { env } = await import('cloudflare:workers');
    const response = await demoWorker.fetch(new Request('http://localhost:8787/thank-you?order=ORD-42'), env as never, createExecutionContext());
    expect(await response.text()).toContain('<a href="/_tap/admin/#event=con%3AORD-42">');
  });
});
