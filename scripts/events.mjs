// @ts-check
// `npm run events`: the operator API (docs/operations.md, "Console") in a terminal.
//
//   TAPLINE_ADMIN_TOKEN=… npm run events -- --url https://shop.example --status dead
//   TAPLINE_ADMIN_TOKEN=… npm run events -- --url https://shop.example --show con:ORD-5
//   TAPLINE_ADMIN_TOKEN=… npm run events -- --url https://shop.example --retry con:ORD-5
//
// The token comes from the environment only, so it stays out of shell history and `ps`.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const USAGE = `usage: npm run events -- --url https://shop.example [--base-path /_tap]
         [--status pending|sent|dead|reversed|adjusted|ignored] [--kind conversion|customer|refund]
         [--source browser|server|stripe|shopify|paddle|lemonsqueezy] [--q ID] [--limit 1-100] [--cursor C]
         [--show KEY] [--retry KEY] [--summary] [--json]
the token is read from TAPLINE_ADMIN_TOKEN`;

/** @param {string} text @returns {never} */
function fail(text) {
  console.error(text);
  process.exit(1);
}

/** @typedef {{ at: string, outcome: string, upstream_status?: number, message?: string }} Last */
/** @typedef {{ key: string, kind: string, status: string, source: string, amount?: number, currency?: string, identifiers?: Record<string, string>, accepted_at: string, attempts?: number, next_try_at?: string, last?: Last, history?: Last[], [field: string]: unknown }} LedgerEvent */

/** @param {Last | undefined} last */
const answerOf = (last) => (last ? [last.outcome, last.upstream_status, last.message].filter((part) => part !== undefined && part !== '').join(' ') : '-');
/** @param {LedgerEvent} event */
const affiliateOf = (event) =>
  ['referral_code', 'click_id', 'coupon', 'asset_id', 'source_id'].map((name) => event.identifiers?.[name]).find(Boolean) ?? '-';

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
    ['ACCEPTED', 'KEY', 'STATUS', 'SOURCE', 'AMOUNT', 'AFFILIATE', 'LAST ANSWER'],
    events.map((event) => [
      event.accepted_at.replace(/\.\d+Z$/, 'Z'),
      event.key,
      event.status,
      event.source,
      event.amount === undefined ? '-' : `${event.amount} ${event.currency ?? ''}`.trim(),
      affiliateOf(event),
      answerOf(event.last).slice(0, 60),
    ]),
  );
}

/**
 * @param {string[]} argv
 * @param {Record<string, string | undefined>} env
 * @returns {Promise<number>} the exit code
 */
export async function main(argv, env, out = console.log) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      'base-path': { type: 'string', default: '/_tap' },
      status: { type: 'string' },
      kind: { type: 'string' },
      source: { type: 'string' },
      q: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      show: { type: 'string' },
      retry: { type: 'string' },
      summary: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return out(USAGE), 0;
  if (!values.url) fail(`--url is required\n${USAGE}`);
  const token = env.TAPLINE_ADMIN_TOKEN?.trim();
  if (!token) fail('set TAPLINE_ADMIN_TOKEN in the environment (the worker’s secret of the same name)');
  const base = `${String(values.url).replace(/\/+$/, '')}/${values['base-path'].replace(/^\/+|\/+$/g, '')}/admin/api/`;

  /** @param {string} path @param {string} [method] @returns {Promise<{ status: number, body: any }>} */
  async function api(path, method = 'GET') {
    let response;
    try {
      response = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}` } });
    } catch (error) {
      return fail(`could not reach ${base}: ${error instanceof Error ? error.message : error}`);
    }
    const body = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
    return { status: response.status, body };
  }
  /** @param {{ status: number, body: any }} answer */
  function explain({ status, body }) {
    const hints = {
      unauthorized: 'the token is not this worker’s TAPLINE_ADMIN_TOKEN',
      not_configured: body.message ?? 'the worker has no TAPLINE_ADMIN_TOKEN',
      rate_limited: 'too many wrong tokens from this address: wait a minute',
      not_found: 'the ledger has no record with this key',
      already_sent: 'Tapfiliate has it already; it is never sent twice',
      not_retryable: `it is ${body.status}: there is nothing to send`,
      upstream_rejected: `Tapfiliate refused it again (HTTP ${body.upstream_status}); --show the key for its words`,
    };
    const issues = (body.issues ?? []).map((/** @type {{path: string, message: string}} */ issue) => `${issue.path}: ${issue.message}`).join('; ');
    return `${status} ${body.error}: ${issues || hints[/** @type {keyof typeof hints} */ (body.error)] || body.message || ''}`;
  }

  if (values.retry) {
    const answer = await api(`events/${encodeURIComponent(values.retry)}/retry`, 'POST');
    if (values.json) out(JSON.stringify(answer.body, null, 2));
    else if (answer.body.ok) out(`${values.retry}: ${answer.body.status}`);
    else out(`${values.retry}: ${explain(answer)}`);
    return answer.body.ok ? 0 : 1;
  }
  if (values.show) {
    const answer = await api(`events/${encodeURIComponent(values.show)}`);
    if (!answer.body.ok) return fail(explain(answer));
    /** @type {LedgerEvent} */
    const event = answer.body.event;
    if (values.json) return out(JSON.stringify(event, null, 2)), 0;
    const { history = [], last, identifiers, ...fields } = event;
    out(table(['FIELD', 'VALUE'], [...Object.entries({ ...fields, ...identifiers }).map(([name, value]) => [name, String(value)]), ['last', answerOf(last)]]));
    out('');
    out(table(['AT', 'ANSWER'], history.map((step) => [step.at, answerOf(step)])));
    return 0;
  }
  if (values.summary) {
    const answer = await api('summary');
    if (!answer.body.ok) return fail(explain(answer));
    if (values.json) return out(JSON.stringify(answer.body, null, 2)), 0;
    const statuses = ['sent', 'pending', 'dead', 'reversed', 'adjusted'];
    out(table(['', ...statuses], [['last 24 h', ...statuses.map((s) => String(answer.body.last_24h[s]))], ['last 7 d', ...statuses.map((s) => String(answer.body.last_7d[s]))]]));
    return 0;
  }
  const query = new URLSearchParams();
  for (const name of /** @type {const} */ (['status', 'kind', 'source', 'q', 'limit', 'cursor'])) if (values[name] !== undefined) query.set(name, values[name]);
  const answer = await api(`events${query.size ? `?${query}` : ''}`);
  if (!answer.body.ok) return fail(explain(answer));
  if (values.json) return out(JSON.stringify(answer.body, null, 2)), 0;
  out(answer.body.events.length ? eventTable(answer.body.events) : 'no events');
  if (answer.body.next_cursor) out(`\nmore: --cursor ${answer.body.next_cursor}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), process.env);
}
