// @ts-check
// `npm run events`: the operator API (docs/operations.md, "Console") in a terminal.
// `npm run events -- --help` says everything; the exit codes are in EXIT below.
//
// The token comes from the environment, or from .dev.vars as `npm start` uses it:
// never from a flag, so it stays out of shell history and `ps`.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Exit codes, as --help lists them. */
export const EXIT = { done: 0, notFound: 1, usage: 2, unreachable: 3 };

const STATUSES = ['pending', 'sent', 'dead', 'reversed', 'adjusted', 'unattributed', 'ignored'];
const KINDS = ['conversion', 'customer', 'refund'];
const SOURCES = ['browser', 'server', 'stripe', 'shopify', 'paddle', 'lemonsqueezy'];
/** A ledger key's kind prefixes; an id without one is looked up under each, in this order. */
const PREFIXES = ['con:', 'cus:', 'ref:'];

export const USAGE = `usage: npm run events -- [ID | --show ID | --retry ID | --retry-dead | --summary] [filters] [--json]

What the worker did with each order: every event it answered, what it sent to
Tapfiliate, at which step it failed and why (docs/operations.md, "Console").
An ID is an order, customer or refund id (ORD-1043) or a ledger key (con:ORD-1043).

Actions (at most one; without one, a list of events, newest first):
  ID, --show ID        one event: its fields, the job it sends, and each try with its step and answer
  --retry ID           send one dead or pending event to Tapfiliate again
  --retry-dead         send every dead event again, each once (with --from/--to: those of that range)
  --summary            how many events of each status, in the last 24 hours and 7 days

Filters (for the list; --retry-dead takes only --from and --to):
  --status STATUS      ${STATUSES.join(' | ')}
  --kind KIND          ${KINDS.join(' | ')}
  --source SOURCE      ${SOURCES.join(' | ')}
  --from TIME          accepted at or after TIME, an ISO 8601 date or time (2026-12-01, 2026-12-07T10:00Z)
  --to TIME            accepted at or before TIME (a bare date counts its whole day)
  --q ID               an id exactly, or the ids starting with a prefix: ORD-10* (3 characters at least)
  --limit N            events per page, 1 to 100 (default 50)
  --cursor CURSOR      the next page, as the previous page printed it

Worker and output:
  --url URL            the worker (default: http://localhost:$PORT, PORT 8787 as for npm start)
  --base-path PATH     the worker's BASE_PATH (default /_tap)
  --json               the API's answer as JSON, for scripts
  -h, --help           this text
The token is TAPLINE_ADMIN_TOKEN from the environment, else (for this machine only) from .dev.vars.
A worker elsewhere must be https://: the token never crosses a network in clear text.

Exit codes:
  0  found or done
  1  not found (no such event, an empty list), or not done (Tapfiliate refused it, or has it already)
  2  usage: an unknown flag, a bad value, flags that do not go together
  3  the worker is unreachable, or refused the token (wrong, missing, or rate limited)

Examples:
  npm run events                                      the latest events of npm start's worker
  npm run events -- ORD-1043                          why order ORD-1043 was (not) credited
  npm run events -- --status unattributed --q 'ORD-10*'
  npm run events -- --status dead --from 2026-12-07 --json
  npm run events -- --retry-dead --from 2026-12-07T09:00Z --to 2026-12-07T12:00Z
  TAPLINE_ADMIN_TOKEN=… npm run events -- --url https://shop.example --summary`;

/** A refusal to run: the message, then the usage. */
class UsageError extends Error {}

/** @typedef {{ at: string, outcome: string, step?: string, upstream_status?: number, message?: string, reason?: string }} Attempt */
/** @typedef {{ key: string, kind: string, status: string, source: string, reason?: string, external_id?: string, customer_id?: string, refund_id?: string, amount?: number, currency?: string, identifiers?: Record<string, string>, accepted_at: string, attempts?: number, next_try_at?: string, last?: Attempt, history?: Attempt[], job?: Record<string, Record<string, unknown>>, [field: string]: unknown }} LedgerEvent */

/** @param {Attempt | undefined} attempt Tapfiliate's answer (or the worker's), in one line. */
const answerOf = (attempt) =>
  attempt ? [attempt.outcome, attempt.upstream_status, attempt.message].filter((part) => part !== undefined && part !== '').join(' ') : '-';
/** @param {LedgerEvent} event */
const affiliateOf = (event) =>
  ['referral_code', 'click_id', 'coupon', 'asset_id', 'source_id'].map((name) => event.identifiers?.[name]).find(Boolean) ??
  (event.kind === 'refund' && event.external_id ? `order ${event.external_id}` : '-');
/** What a row says happened: the reason of an unanswered one, else the last answer. */
const whatOf = (/** @type {LedgerEvent} */ event) => (event.reason ? `reason: ${event.reason}` : answerOf(event.last));
/** Seconds and the zone shown: `2026-12-07 10:04:05Z`. */
const timeOf = (/** @type {string | undefined} */ iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

/**
 * Rows as a plain text table, each column as wide as its widest cell.
 * @param {string[]} header
 * @param {string[][]} rows
 */
export function table(header, rows) {
  const widths = header.map((name, column) => Math.max(name.length, ...rows.map((row) => row[column].length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n');
}

/** @param {LedgerEvent[]} events */
export function eventTable(events) {
  return table(
    ['ACCEPTED (UTC)', 'KEY', 'STATUS', 'SOURCE', 'AMOUNT', 'AFFILIATE', 'STEP', 'ANSWER OR REASON'],
    events.map((event) => [
      timeOf(event.accepted_at),
      event.key,
      event.status,
      event.source,
      event.amount === undefined ? '-' : `${event.amount} ${event.currency ?? ''}`.trim(),
      affiliateOf(event),
      event.last?.step ?? '-',
      whatOf(event).slice(0, 60),
    ]),
  );
}

/** @param {LedgerEvent} event the event, its job and its history, as text */
export function eventText(event) {
  const { history = [], last, identifiers, job, ...fields } = event;
  const lines = [table(['FIELD', 'VALUE'], [...Object.entries({ ...fields, ...identifiers }).map(([name, value]) => [name, String(value)]), ['last', answerOf(last)]])];
  if (job && Object.keys(job).length) {
    lines.push('', 'JOB (the postback bodies as sent, without the key)');
    for (const [step, body] of Object.entries(job)) lines.push(`  ${step}: ${JSON.stringify(body)}`);
  }
  const said = (/** @type {Attempt} */ entry) => (entry.reason ? `reason: ${entry.reason}` : [entry.upstream_status, entry.message].filter((part) => part !== undefined && part !== '').join(' ') || '-');
  lines.push('', history.length ? table(['AT (UTC)', 'STEP', 'OUTCOME', 'TAPFILIATE SAID (OR WHY NOT SENT)'], history.map((entry) => [timeOf(entry.at), entry.step ?? '-', entry.outcome, said(entry)])) : 'no tries yet');
  return lines.join('\n');
}

/**
 * `KEY=value` lines of a dotenv file (wrangler's .dev.vars), quotes removed.
 * @param {string} path
 * @returns {Record<string, string>}
 */
function readDevVars(path) {
  if (!existsSync(path)) return {};
  /** @type {Record<string, string>} */
  const vars = {};
  for (const match of readFileSync(path, 'utf8').matchAll(/^\s*([A-Z_][A-Z0-9_]*)\s*=\s*("?)(.*?)\2\s*$/gm)) vars[match[1]] = match[3];
  return vars;
}

/** @param {string} flag @param {string | undefined} value @param {string[]} allowed */
function oneOf(flag, value, allowed) {
  if (value !== undefined && !allowed.includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')} (got "${value}")`);
}

/** @param {string} flag @param {string | undefined} value */
function isoTime(flag, value) {
  if (value === undefined) return;
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new UsageError(`${flag} must be an ISO 8601 date or time, e.g. 2026-12-07 or 2026-12-07T10:00Z (got "${value}")`);
  }
}

/**
 * The flags, checked: what runs, with what.
 * @param {string[]} argv
 */
export function parse(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        'base-path': { type: 'string' },
        status: { type: 'string' },
        kind: { type: 'string' },
        source: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        q: { type: 'string' },
        limit: { type: 'string' },
        cursor: { type: 'string' },
        show: { type: 'string' },
        retry: { type: 'string' },
        'retry-dead': { type: 'boolean' },
        summary: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // parseArgs's own words ("Unknown option '--stauts'"), without its stack.
    throw new UsageError(error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error));
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`one ID at most (got ${positionals.join(', ')})`);
  if (positionals.length && values.show !== undefined) throw new UsageError('give the ID once: either alone or after --show');
  const show = values.show ?? positionals[0];
  const actions = /** @type {const} */ ([
    ['--show', show !== undefined],
    ['--retry', values.retry !== undefined],
    ['--retry-dead', Boolean(values['retry-dead'])],
    ['--summary', Boolean(values.summary)],
  ]).filter(([, given]) => given);
  if (actions.length > 1) throw new UsageError(`${actions.map(([flag]) => flag).join(' and ')} do not go together: one action at a time`);
  const action = /** @type {string} */ (actions[0]?.[0] ?? 'list');
  const filters = /** @type {const} */ (['status', 'kind', 'source', 'from', 'to', 'q', 'limit', 'cursor']).filter((name) => values[name] !== undefined);
  const allowed = action === 'list' ? filters : action === '--retry-dead' ? ['from', 'to'] : [];
  const refused = filters.filter((name) => !allowed.includes(name));
  if (refused.length) throw new UsageError(`${action} does not take ${refused.map((name) => `--${name}`).join(', ')}`);
  oneOf('--status', values.status, STATUSES);
  oneOf('--kind', values.kind, KINDS);
  oneOf('--source', values.source, SOURCES);
  isoTime('--from', values.from);
  isoTime('--to', values.to);
  if (values.limit !== undefined && !(/^\d{1,3}$/.test(values.limit) && Number(values.limit) >= 1 && Number(values.limit) <= 100)) {
    throw new UsageError(`--limit must be a whole number from 1 to 100 (got "${values.limit}")`);
  }
  if (values.q !== undefined && values.q.endsWith('*') && values.q.slice(0, -1).length < 3) {
    throw new UsageError(`--q with * needs at least 3 characters before it (got "${values.q}")`);
  }
  for (const [flag, id] of /** @type {const} */ ([['--show', show], ['--retry', values.retry], ['--q', values.q]])) {
    if (id !== undefined && !id.trim()) throw new UsageError(`${flag} needs an id`);
  }
  if (values.url !== undefined && !/^https?:\/\/[^/\s]+/.test(values.url)) throw new UsageError(`--url must be http(s)://host[:port] (got "${values.url}")`);
  return { action, values, show };
}

/**
 * Runs the command; prints to `out` (results) and `err` (problems).
 * @param {string[]} argv
 * @param {Record<string, string | undefined>} env
 * @param {{ out?: (text: string) => void, err?: (text: string) => void, devVars?: string }} [io]
 * @returns {Promise<number>} the exit code
 */
export async function main(argv, env, io = {}) {
  const out = io.out ?? console.log;
  const err = io.err ?? console.error;
  /** @type {ReturnType<typeof parse>} */
  let command;
  try {
    command = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    err(`${error.message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { action, values, show } = command;
  if (values.help) return out(USAGE), EXIT.done;

  const url = (values.url ?? `http://localhost:${env.PORT || 8787}`).replace(/\/+$/, '');
  let target;
  try {
    target = new URL(url);
  } catch {
    err(`--url ${url} is not a URL\n\n${USAGE}`);
    return EXIT.usage;
  }
  // The token opens the operator API: never in clear text over a network, and .dev.vars's (npm start's) only to this machine.
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(target.hostname);
  if (target.protocol !== 'https:' && !local) {
    err(`--url ${url}: the token would cross the network unencrypted; use https://\n\n${USAGE}`);
    return EXIT.usage;
  }
  const devVars = local ? readDevVars(io.devVars ?? fileURLToPath(new URL('../.dev.vars', import.meta.url))) : {};
  const token = (env.TAPLINE_ADMIN_TOKEN ?? devVars.TAPLINE_ADMIN_TOKEN ?? '').trim();
  if (!token) {
    err('no token: set TAPLINE_ADMIN_TOKEN in the environment (the worker’s secret of the same name), or run npm start once to write .dev.vars');
    return EXIT.unreachable;
  }
  const basePath = (values['base-path'] ?? '/_tap').replace(/^\/+|\/+$/g, '');
  const base = `${url}/${basePath ? `${basePath}/` : ''}admin/api/`;

  /** Why a call failed, and the exit code that says so. */
  class Failure extends Error {
    /** @param {string} message @param {number} code */
    constructor(message, code) {
      super(message);
      this.code = code;
    }
  }

  /** @param {string} path @param {string} [method] @param {unknown} [body] @returns {Promise<{ status: number, body: any }>} */
  async function api(path, method = 'GET', body = undefined) {
    let response;
    try {
      response = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
      throw new Failure(`could not reach ${base} (${cause}): is the worker running (npm start), or is --url wrong?`, EXIT.unreachable);
    }
    const answer = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}`, message: 'not an answer of the operator API: is --url or --base-path wrong?' }));
    return { status: response.status, body: answer };
  }

  /** A failed answer as a Failure with its exit code. @param {{ status: number, body: any }} answer */
  function failure({ status, body }) {
    const hints = {
      unauthorized: 'the token is not this worker’s TAPLINE_ADMIN_TOKEN',
      not_configured: body.message ?? 'the worker has no TAPLINE_ADMIN_TOKEN',
      rate_limited: 'too many wrong tokens from this address: wait a minute',
      not_found: 'the ledger has no record with this key',
      already_sent: 'Tapfiliate has it already; it is never sent twice',
      not_retryable: `it is ${body.status}: there is nothing to send`,
      upstream_rejected: `Tapfiliate refused it again (HTTP ${body.upstream_status}); --show it for Tapfiliate's words`,
    };
    const issues = (body.issues ?? []).map((/** @type {{path: string, message: string}} */ issue) => `${issue.path}: ${issue.message}`).join('; ');
    const text = `${status} ${body.error}: ${issues || hints[/** @type {keyof typeof hints} */ (body.error)] || body.message || ''}`;
    const code = status === 400 ? EXIT.usage : [404, 409, 422].includes(status) ? EXIT.notFound : EXIT.unreachable;
    return new Failure(text, code);
  }

  /** @param {{ status: number, body: any }} answer */
  const ok = (answer) => {
    if (!answer.body.ok) throw failure(answer);
    return answer.body;
  };
  /** @param {unknown} body */
  const json = (body) => out(JSON.stringify(body, null, 2));

  /**
   * The event of an ID: a key as given, a bare id under each kind's prefix
   * (an order first, then a customer, then a refund).
   * @param {string} id
   * @returns {Promise<LedgerEvent>}
   */
  async function find(id) {
    const keys = PREFIXES.some((prefix) => id.startsWith(prefix)) ? [id] : PREFIXES.map((prefix) => prefix + id);
    for (const key of keys) {
      const answer = await api(`events/${encodeURIComponent(key)}`);
      if (answer.status === 404 && answer.body.error === 'not_found') continue;
      return ok(answer).event;
    }
    throw new Failure(`${id}: no record${keys.length > 1 ? ` (looked for ${keys.join(', ')})` : ''}; npm run events -- --q '${id.replace(/^\w{3}:/, '').slice(0, 20)}*' lists those starting so`, EXIT.notFound);
  }

  try {
    switch (action) {
      case '--show': {
        const event = await find(String(show));
        values.json ? json(event) : out(eventText(event));
        return EXIT.done;
      }
      case '--retry': {
        const event = await find(String(values.retry));
        const answer = await api(`events/${encodeURIComponent(event.key)}/retry`, 'POST');
        if (values.json) json(answer.body);
        if (!answer.body.ok) throw failure(answer);
        if (!values.json) out(`${event.key}: ${answer.body.status}`);
        return EXIT.done;
      }
      case '--retry-dead': {
        const range = Object.fromEntries(/** @type {const} */ (['from', 'to']).filter((name) => values[name] !== undefined).map((name) => [name, values[name]]));
        // 500 per call; each call passes the last one's cursor, so a record refused again is not picked again: every dead record once.
        const total = { ok: true, retried: 0, sent: 0, queued: 0, rejected: 0, remaining: 0, next_cursor: /** @type {string | null} */ (null) };
        do {
          const result = ok(await api('retry', 'POST', { status: 'dead', ...range, ...(total.next_cursor && { cursor: total.next_cursor }) }));
          for (const name of /** @type {const} */ (['retried', 'sent', 'queued', 'rejected'])) total[name] += result[name];
          total.remaining = result.remaining;
          total.next_cursor = result.retried ? result.next_cursor : null;
        } while (total.next_cursor);
        if (values.json) return json(total), EXIT.done;
        out(`retried ${total.retried}: ${total.sent} sent, ${total.queued} queued, ${total.rejected} refused again`);
        if (total.remaining) out(`${total.remaining} dead left in this range: run it again`);
        return EXIT.done;
      }
      case '--summary': {
        const summary = ok(await api('summary'));
        if (values.json) return json(summary), EXIT.done;
        out(table(['', ...STATUSES], [['last 24 h', ...STATUSES.map((s) => String(summary.last_24h[s] ?? 0))], ['last 7 d', ...STATUSES.map((s) => String(summary.last_7d[s] ?? 0))]]));
        return EXIT.done;
      }
      default: {
        const query = new URLSearchParams();
        for (const name of /** @type {const} */ (['status', 'kind', 'source', 'from', 'to', 'q', 'limit', 'cursor'])) if (values[name] !== undefined) query.set(name, String(values[name]));
        const page = ok(await api(`events${query.size ? `?${query}` : ''}`));
        if (values.json) json(page);
        else if (page.events.length) out(eventTable(page.events));
        else err(`no events${query.size ? ` matching ${[...query].map(([name, value]) => `${name}=${value}`).join(' ')}` : ' yet'}`);
        if (page.next_cursor && !values.json) out(`\nmore: --cursor ${page.next_cursor}`);
        return page.events.length ? EXIT.done : EXIT.notFound;
      }
    }
  } catch (error) {
    if (!(error instanceof Failure)) throw error;
    err(error.message);
    return /** @type {number} */ (error.code);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), process.env);
}
