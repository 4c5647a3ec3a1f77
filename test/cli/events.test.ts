// `npm run events` (scripts/events.mjs) against a small fake of the operator API:
// each exit code, the help, an unknown flag, bare ids, conflicting flags, and the
// token and URL found the way npm start leaves them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, main, USAGE } from '../../scripts/events.mjs';

const TOKEN = 'cli-test-token';
const event = (key: string, fields: Record<string, unknown> = {}) => ({
  key,
  kind: key.startsWith('cus:') ? 'customer' : key.startsWith('ref:') ? 'refund' : 'conversion',
  status: 'sent',
  source: 'server',
  signed: true,
  identifiers: { referral_code: 'alice' },
  accepted_at: '2026-12-07T10:04:05.123Z',
  updated_at: '2026-12-07T10:04:06.000Z',
  attempts: 1,
  ...fields,
});
/** What the fake holds, by key. */
const records: Record<string, ReturnType<typeof event>> = {
  'con:ORD-1': event('con:ORD-1', {
    status: 'dead',
    external_id: 'ORD-1',
    amount: 10,
    currency: 'EUR',
    job: { customer: { customer_id: 'C-1', referral_code: 'alice' }, conversion: { external_id: 'ORD-1', amount: 10, customer_id: 'C-1' } },
    last: { at: '2026-12-07T10:04:06.000Z', outcome: 'rejected', step: 'customer', upstream_status: 400, message: 'Customer refused' },
    history: [{ at: '2026-12-07T10:04:06.000Z', outcome: 'rejected', step: 'customer', upstream_status: 400, message: 'Customer refused' }],
  }),
  'cus:C-9': event('cus:C-9', { customer_id: 'C-9' }),
  'con:ORD-1043': event('con:ORD-1043', { status: 'unattributed', reason: 'no_attribution', identifiers: {}, external_id: 'ORD-1043', amount: 99, currency: 'USD' }),
};
let requests: { method: string; url: string; authorization?: string; body: string }[] = [];
let server: Server;
let url: string;
let retryAnswer: [number, unknown] = [200, { ok: true, status: 'sent' }];
let bulkOf501 = false;

const bodyOf = (request: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = '';
    request.on('data', (chunk) => (text += chunk)).on('end', () => resolve(text));
  });

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const body = await bodyOf(request);
    requests.push({ method: request.method!, url: request.url!, authorization: request.headers.authorization, body });
    const send = (status: number, answer: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    if (request.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { ok: false, error: 'unauthorized' });
    const path = new URL(request.url!, 'http://x');
    const match = /^\/_tap\/admin\/api\/events\/([^/]+)(\/retry)?$/.exec(path.pathname);
    if (match) {
      const record = records[decodeURIComponent(match[1])];
      if (!record) return send(404, { ok: false, error: 'not_found' });
      return match[2] ? send(...retryAnswer) : send(200, { ok: true, event: record });
    }
    if (path.pathname === '/_tap/admin/api/events') {
      const q = path.searchParams.get('q');
      const events = Object.values(records).filter((record) => !q || record.key.slice(4) === q || (q.endsWith('*') && record.key.slice(4).startsWith(q.slice(0, -1))));
      return send(200, { ok: true, events, next_cursor: null });
    }
    if (path.pathname === '/_tap/admin/api/retry') {
      // As the worker answers 501 dead records whose oldest 500 are refused again: a call without the cursor picks those 500 again.
      if (bulkOf501) return send(200, JSON.parse(body).cursor === 'c1' ? { ok: true, retried: 1, sent: 1, queued: 0, rejected: 0, remaining: 0, next_cursor: null } : { ok: true, retried: 500, sent: 0, queued: 0, rejected: 500, remaining: 1, next_cursor: 'c1' });
      return send(200, { ok: true, retried: 2, sent: 1, queued: 0, rejected: 1, remaining: 0, next_cursor: null });
    }
    if (path.pathname === '/_tap/admin/api/summary') return send(200, { ok: true, last_24h: { sent: 1, dead: 1 }, last_7d: { sent: 2, dead: 1, unattributed: 1 } });
    send(404, { ok: false, error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  requests = [];
  retryAnswer = [200, { ok: true, status: 'sent' }];
  bulkOf501 = false;
});

/** The CLI in this process, with no .dev.vars: what it printed and its exit code. */
async function events(args: string[], env: Record<string, string | undefined> = { TAPLINE_ADMIN_TOKEN: TOKEN }, devVars = '/nonexistent/.dev.vars') {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, env, { out: (text) => out.push(text), err: (text) => err.push(text), devVars });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('usage (exit 2) and help (exit 0)', () => {
  it('--help has a line for every flag and examples, and exits 0', async () => {
    const { code, out } = await events(['--help']);
    expect(code).toBe(EXIT.done);
    for (const flag of ['--show', '--retry ', '--retry-dead', '--summary', '--status', '--kind', '--source', '--from', '--to', '--q', '--limit', '--cursor', '--url', '--base-path', '--json', '--help']) {
      expect(out).toMatch(new RegExp(`^\\s+(-h, |ID, )?${flag.trim()}\\b.*?\\s{2,}\\S`, 'm'));
    }
    expect(out).toMatch(/Exit codes:[^]*0 {2}found[^]*1 {2}not found[^]*2 {2}usage[^]*3 {2}the worker is unreachable/);
    expect(out).toMatch(/Examples:\n {2}npm run events/);
  });

  it('a mistyped flag gives its name and the usage, exit 2, no stack trace, nothing asked', async () => {
    const { code, err } = await events(['--stauts', 'dead', '--url', url]);
    expect(code).toBe(EXIT.usage);
    expect(err).toContain("Unknown option '--stauts'");
    expect(err).toContain(USAGE);
    expect(err).not.toMatch(/^\s+at /m);
    expect(requests).toHaveLength(0);
  });

  it('the real script: exit 2 and no Node stack trace for an unknown flag', () => {
    const run = spawnSync(process.execPath, ['scripts/events.mjs', '--nope'], { encoding: 'utf8', env: { ...process.env, TAPLINE_ADMIN_TOKEN: TOKEN } });
    expect(run.status).toBe(EXIT.usage);
    expect(run.stderr).toContain("Unknown option '--nope'");
    expect(run.stderr).not.toMatch(/ERR_PARSE_ARGS|^\s+at /m);
  });

  it.each([
    [['--summary', '--show', 'ORD-1'], /--show and --summary do not go together/],
    [['--retry', 'ORD-1', '--retry-dead'], /--retry and --retry-dead do not go together/],
    [['--show', 'ORD-1', '--status', 'dead'], /--show does not take --status/],
    [['--retry-dead', '--status', 'sent'], /--retry-dead does not take --status/],
    [['--status', 'lost'], /--status must be one of pending, sent, dead, reversed, adjusted, unattributed, ignored/],
    [['--from', 'yesterday'], /--from must be an ISO 8601 date or time/],
    [['--limit', '500'], /--limit must be a whole number from 1 to 100/],
    [['--q', 'OR*'], /--q with \* needs at least 3 characters/],
    [['ORD-1', 'ORD-2'], /one ID at most/],
  ])('%j is refused before anything is asked', async (args, message) => {
    const { code, err } = await events([...args, '--url', url]);
    expect(code).toBe(EXIT.usage);
    expect(err).toMatch(message);
    expect(requests).toHaveLength(0);
  });
});

describe('found (0) and not found (1)', () => {
  it('--show takes a bare order id: ORD-1 is con:ORD-1, with its job and the step of each try', async () => {
    const { code, out } = await events(['--url', url, '--show', 'ORD-1']);
    expect(code).toBe(EXIT.done);
    expect(requests.map((request) => request.url)).toEqual(['/_tap/admin/api/events/con%3AORD-1']);
    expect(out).toMatch(/customer: \{"customer_id":"C-1","referral_code":"alice"\}/);
    expect(out).toMatch(/^2026-12-07 10:04:06Z\s+customer\s+rejected\s+400 Customer refused$/m);
  });

  it('a bare id alone is --show, and a customer id is found under cus:', async () => {
    const { code, out } = await events(['--url', url, 'C-9']);
    expect(code).toBe(EXIT.done);
    expect(requests.map((request) => request.url)).toEqual(['/_tap/admin/api/events/con%3AC-9', '/_tap/admin/api/events/cus%3AC-9']);
    expect(out).toMatch(/^key\s+cus:C-9$/m);
  });

  it('--retry takes a bare id too, and posts to its key', async () => {
    const { code, out } = await events(['--url', url, '--retry', 'ORD-1']);
    expect(code).toBe(EXIT.done);
    expect(requests.at(-1)).toMatchObject({ method: 'POST', url: '/_tap/admin/api/events/con%3AORD-1/retry' });
    expect(out).toBe('con:ORD-1: sent');
  });

  it('an unknown id exits 1, naming the keys looked for', async () => {
    const { code, err } = await events(['--url', url, '--show', 'ORD-404']);
    expect(code).toBe(EXIT.notFound);
    expect(err).toContain('con:ORD-404, cus:ORD-404, ref:ORD-404');
  });

  it('a retry Tapfiliate refuses again exits 1', async () => {
    retryAnswer = [422, { ok: false, error: 'upstream_rejected', upstream_status: 400 }];
    const { code, err } = await events(['--url', url, '--retry', 'con:ORD-1']);
    expect(code).toBe(EXIT.notFound);
    expect(err).toMatch(/422 upstream_rejected: Tapfiliate refused it again \(HTTP 400\)/);
  });

  it('the list: a table with the reason of an unattributed order; an empty one exits 1 saying what it searched', async () => {
    const found = await events(['--url', url, '--q', 'ORD-10*']);
    expect(found.code).toBe(EXIT.done);
    expect(requests[0].url).toBe('/_tap/admin/api/events?q=ORD-10*');
    expect(found.out).toMatch(/^2026-12-07 10:04:05Z\s+con:ORD-1043\s+unattributed\s+server\s+99 USD\s+-\s+-\s+reason: no_attribution$/m);
    const none = await events(['--url', url, '--q', 'ORD-9*']);
    expect(none.code).toBe(EXIT.notFound);
    expect(none.err).toBe('no events matching q=ORD-9*');
  });

  it('--json prints the API answer as it is', async () => {
    const { code, out } = await events(['--url', url, '--summary', '--json']);
    expect(code).toBe(EXIT.done);
    expect(JSON.parse(out)).toEqual({ ok: true, last_24h: { sent: 1, dead: 1 }, last_7d: { sent: 2, dead: 1, unattributed: 1 } });
  });

  it('--retry-dead posts the range and reports the counts', async () => {
    const { code, out } = await events(['--url', url, '--retry-dead', '--from', '2026-12-07', '--to', '2026-12-07T12:00Z']);
    expect(code).toBe(EXIT.done);
    expect(requests[0]).toMatchObject({ method: 'POST', url: '/_tap/admin/api/retry' });
    expect(JSON.parse(requests[0].body)).toEqual({ status: 'dead', from: '2026-12-07', to: '2026-12-07T12:00Z' });
    expect(out).toBe('retried 2: 1 sent, 0 queued, 1 refused again');
  });

  it('--retry-dead passes each call’s cursor to the next until none is left: every dead record once', async () => {
    bulkOf501 = true;
    const { code, out } = await events(['--url', url, '--retry-dead', '--from', '2026-12-07']);
    expect(code).toBe(EXIT.done);
    expect(requests.map((request) => JSON.parse(request.body))).toEqual([
      { status: 'dead', from: '2026-12-07' },
      { status: 'dead', from: '2026-12-07', cursor: 'c1' },
    ]);
    expect(out).toBe('retried 501: 1 sent, 0 queued, 500 refused again');
    const json = await events(['--url', url, '--retry-dead', '--json']);
    expect(JSON.parse(json.out)).toEqual({ ok: true, retried: 501, sent: 1, queued: 0, rejected: 500, remaining: 0, next_cursor: null });
  });
});

describe('the worker and its token (exit 3)', () => {
  it('without --url or a token in the environment: npm start’s port and .dev.vars', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapline-cli-'));
    writeFileSync(join(dir, '.dev.vars'), `TAPFILIATE_API_KEY=dev-key\nTAPLINE_ADMIN_TOKEN="${TOKEN}"\n`);
    const port = new URL(url).port;
    const { code } = await events(['--summary'], { PORT: port }, join(dir, '.dev.vars'));
    expect(code).toBe(EXIT.done);
    expect(requests[0].authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('never sends the token in clear text to another machine, and sends .dev.vars’s only to this one', async () => {
    const plain = await events(['--url', 'http://shop.example', '--summary']);
    expect(plain.code).toBe(EXIT.usage);
    expect(plain.err).toContain('use https://');
    const dir = mkdtempSync(join(tmpdir(), 'tapline-cli-'));
    writeFileSync(join(dir, '.dev.vars'), `TAPLINE_ADMIN_TOKEN=${TOKEN}\n`);
    const remote = await events(['--url', 'https://shop.example', '--summary'], {}, join(dir, '.dev.vars'));
    expect(remote.code).toBe(EXIT.unreachable);
    expect(remote.err).toContain('no token');
    expect(requests).toHaveLength(0);
  });

  it('a wrong token exits 3 and says so', async () => {
    const { code, err } = await events(['--url', url, '--summary'], { TAPLINE_ADMIN_TOKEN: 'wrong' });
    expect(code).toBe(EXIT.unreachable);
    expect(err).toContain('401 unauthorized: the token is not this worker’s TAPLINE_ADMIN_TOKEN');
  });

  it('no worker listening exits 3 and names the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { code, err } = await events(['--url', `http://127.0.0.1:${port}`, 'ORD-1']);
    expect(code).toBe(EXIT.unreachable);
    expect(err).toContain(`could not reach http://127.0.0.1:${port}/_tap/admin/api/`);
  });
});
