// The operator console (docs/operations.md, "Console"): one page over the
// operator API next to it (api/, docs/reference.md "Operator API"). Every value
// from the ledger is written with textContent, never parsed as HTML; the page
// runs under `default-src 'self'`, so it has no inline script or style. One
// record the page cannot show (a malformed id, say) is shown as such and never
// stops the others.

interface Attempt {
  at: string;
  outcome: string;
  step?: string;
  upstream_status?: number;
  message?: string;
  reason?: string;
}
interface LedgerEvent {
  key: string;
  kind: string;
  status: string;
  source: string;
  signed?: boolean;
  test?: boolean;
  reason?: string;
  external_id?: string;
  customer_id?: string;
  refund_id?: string;
  amount?: number;
  currency?: string;
  refunded_amount?: number;
  identifiers?: Record<string, string>;
  job?: Record<string, unknown>;
  accepted_at: string;
  updated_at?: string;
  attempts?: number;
  next_try_at?: string;
  last?: Attempt;
  history?: Attempt[];
}
type Counts = Record<string, number>;
interface BulkRetry {
  retried: number;
  sent: number;
  queued: number;
  rejected: number;
  remaining: number;
  /** Set while the bulk retry has records left: the next call passes it. */
  next_cursor: string | null;
}

const TOKEN = 'tapline-admin-token';
const STATUSES = ['sent', 'pending', 'dead', 'reversed', 'adjusted', 'unattributed', 'ignored'];
const IDENTIFIERS = ['referral_code', 'click_id', 'coupon', 'asset_id', 'source_id'];
const FILTERS = ['status', 'kind', 'source', 'from', 'to', 'q'] as const;
/** The list refreshes itself this often while it is on screen. */
const REFRESH_MS = 15_000;
/** Why an event was answered without a postback, in words (docs/reference.md, "Answers"). */
const REASONS: Record<string, string> = {
  no_attribution: 'no affiliate: no referral code, click id, coupon or remembered subscription',
  zero_amount: 'its amount is 0: not a sale',
  not_paid: 'not paid (yet)',
  invalid_order: 'not an order Tapline can read',
  refunds_ignored: 'REFUNDS=ignore: refunds are recorded, not sent',
  currency_mismatch: 'a refund in another currency than its order',
  conversion_not_found: 'neither the ledger nor Tapfiliate holds its order',
};

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);

/** An element with its text (or children), e.g. el('td', 'x', 'status'). */
function el(tag: string, content?: string | Node[] | null, className?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (typeof content === 'string') node.textContent = content;
  else if (content) node.append(...content);
  return node;
}

/** A percent-encoded id; a lone surrogate (which encodeURIComponent refuses) is replaced, never thrown. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '\ufffd'));
  }
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: string; message?: string; issues?: { path: string; message: string }[]; upstream_status?: number },
  ) {
    super(body.error ?? `HTTP ${status}`);
  }
}

async function api<T>(path: string, method = 'GET', body?: unknown): Promise<T> {
  const response = await fetch(`api/${path}`, {
    method,
    headers: { authorization: `Bearer ${sessionStorage.getItem(TOKEN) ?? ''}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok && response.status !== 202) throw new ApiError(response.status, answer);
  return answer as T;
}

/** One line for the operator: `ok` for what went well, `error` for what did not. */
function notice(text: string | null, tone: 'ok' | 'error' = 'error'): void {
  const box = $('notice');
  box.hidden = !text;
  box.className = tone;
  box.textContent = text ?? '';
}

/** What an operator should do about a failed call, in words. */
function explain(error: unknown): string {
  if (!(error instanceof ApiError)) return 'The worker did not answer. Is it running?';
  switch (error.body.error) {
    case 'unauthorized':
      return 'Wrong token: that is not this worker’s TAPLINE_ADMIN_TOKEN.';
    case 'not_configured':
      return `This worker is not set up for the console: ${error.body.message ?? 'set TAPLINE_ADMIN_TOKEN'}.`;
    case 'rate_limited':
      return 'Too many wrong tokens from this address: wait a minute.';
    case 'invalid_request':
      return (error.body.issues ?? []).map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    case 'not_retryable':
      return `Nothing to send: it is ${(error.body as { status?: string }).status ?? 'final'}.`;
    case 'not_found':
      return 'The ledger has no record with this key (records are kept for RETENTION_DAYS).';
    default:
      return error.body.message ?? error.message;
  }
}

/** Any failure: a refused token sends the operator back to the token form. */
function fail(error: unknown): void {
  if (error instanceof ApiError && ['unauthorized', 'rate_limited', 'not_configured'].includes(error.body.error ?? '')) signOut();
  notice(explain(error));
}

function signOut(): void {
  sessionStorage.removeItem(TOKEN);
  for (const id of ['app', 'signout', 'refresh']) $(id).hidden = true;
  $('login').hidden = false;
  input('token').focus();
}

const TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'long' });
/** A time with its seconds and zone, its ISO form on hover. */
function time(iso?: string): HTMLElement {
  const node = el('time', iso ? TIME.format(new Date(iso)) : '');
  if (iso) {
    node.setAttribute('datetime', iso);
    node.title = iso;
  }
  return node;
}
/** A refund names its order: "refund R-1 of ORD-5". */
function title(event: LedgerEvent): string {
  if (event.kind === 'refund') return `Refund ${event.refund_id ?? event.key} of ${event.external_id ?? 'an unknown order'}`;
  return event.external_id ?? event.customer_id ?? event.key;
}
const money = (event: LedgerEvent) => (event.amount === undefined ? '' : `${event.amount} ${event.currency ?? ''}`.trim());
const affiliate = (event: LedgerEvent) => {
  const found = IDENTIFIERS.map((name) => event.identifiers?.[name]).find(Boolean);
  if (found) return `affiliate ${found}`;
  return event.kind === 'refund' ? '' : 'no affiliate';
};
/** An entry of the history as words: "customer step · rejected · 400 · Customer is blocked". */
function answer(attempt?: Attempt): string {
  if (!attempt) return 'not tried yet';
  return [attempt.step && `${attempt.step} step`, attempt.outcome, attempt.upstream_status, attempt.message].filter((part) => part !== undefined && part !== '').join(' · ');
}
const reason = (code: string) => (REASONS[code] ? `${code}: ${REASONS[code]}` : code);
const badge = (status: string) => el('span', status, `badge ${status}`);
/** Whether this entry says something went wrong. */
const failed = (attempt?: Attempt) => Boolean(attempt && ['rejected', 'out_of_tries', 'retry'].includes(attempt.outcome));

async function showSummary(): Promise<void> {
  const { last_24h, last_7d } = await api<{ last_24h: Counts; last_7d: Counts }>('summary');
  const card = (heading: string, counts: Counts) =>
    el(
      'div',
      [
        el('h2', heading),
        el(
          'dl',
          STATUSES.flatMap((status) => {
            const count = counts[status] ?? 0;
            // Only a dead record needs the operator: red when there is one, quiet at 0.
            return [el('dt', status), el('dd', String(count), count === 0 ? 'zero' : status === 'dead' ? 'alert' : '')];
          }),
        ),
      ],
      'card',
    );
  $('summary').replaceChildren(card('Last 24 hours', last_24h), card('Last 7 days', last_7d));
}

/** The filters as the API takes them; the dates as instants in the browser's zone. */
function filters(): URLSearchParams {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const value = $<HTMLInputElement | HTMLSelectElement>(name).value.trim();
    if (!value) continue;
    if (name === 'from' || name === 'to') {
      const at = new Date(value);
      // datetime-local without seconds ends at its minute's last second for `to`.
      if (!Number.isNaN(at.getTime())) query.set(name, new Date(at.getTime() + (name === 'to' && value.length === 16 ? 59_999 : 0)).toISOString());
    } else query.set(name, value);
  }
  return query;
}

/** What the list searched, for its empty state: "status dead, id ORD-10*, from …". */
function searched(query: URLSearchParams): string {
  const words: Record<string, string> = { status: 'status', kind: 'kind', source: 'source', q: 'id', from: 'from', to: 'to' };
  return [...query]
    .filter(([name]) => name in words)
    .map(([name, value]) => `${words[name]} ${name === 'from' || name === 'to' ? TIME.format(new Date(value)) : value}`)
    .join(', ');
}

let cursor: string | null = null;
let paged = false;

function row(event: LedgerEvent): HTMLElement {
  const link = el('a', title(event)) as HTMLAnchorElement;
  link.href = `#event=${encode(event.key)}`;
  const what = event.reason ? `Reason: ${reason(event.reason)}` : answer(event.last);
  return el('li', [
    el('div', [link, badge(event.status)], 'line'),
    el('div', [el('span', money(event)), el('span', affiliate(event)), el('span', `${event.kind} · ${event.source}`), time(event.accepted_at)], 'meta'),
    el('div', what, `answer${failed(event.last) && !event.reason ? ' failed' : ''}`),
  ]);
}

/** A row for a record the page cannot show, instead of a broken page. */
function unreadable(event: unknown): HTMLElement {
  let key = '';
  try {
    key = String((event as LedgerEvent)?.key ?? '').replace(/[\ud800-\udfff]/g, '\ufffd');
  } catch {
    // Left blank.
  }
  return el('li', `A record this page cannot show${key ? ` (${key})` : ''}: npm run events -- --json shows it as the API gives it.`, 'unreadable');
}

async function showEvents(more = false): Promise<void> {
  const query = filters();
  query.set('limit', '50');
  if (more && cursor) query.set('cursor', cursor);
  const page = await api<{ events: LedgerEvent[]; next_cursor: string | null }>(`events?${query}`);
  const rows = page.events.map((event) => {
    try {
      return row(event);
    } catch {
      return unreadable(event);
    }
  });
  if (more) $('events').append(...rows);
  else {
    const what = searched(query);
    $('events').replaceChildren(...(rows.length ? rows : [el('li', what ? `No events match ${what}.` : 'No events recorded yet: every order the worker answers appears here.', 'empty')]));
  }
  paged = more;
  cursor = page.next_cursor;
  $('more').hidden = !cursor;
  $('refreshed').textContent = `updated ${TIME.format(new Date())}`;
}

/** The job as sent, one body per step (the key never in it). */
function jobView(job: Record<string, unknown>): Node[] {
  return Object.entries(job).flatMap(([step, body]) => [el('h4', step), el('pre', JSON.stringify(body, null, 2), 'job')]);
}

async function showEvent(key: string): Promise<void> {
  const { event } = await api<{ event: LedgerEvent }>(`events/${encode(key)}`);
  const back = el('a', '← All events') as HTMLAnchorElement;
  back.href = '#';
  const fields: [string, string | Node | undefined][] = [
    ['Key', event.key],
    ['Kind', event.kind],
    ['Source', `${event.source}${event.signed ? ', signed' : ''}${event.test ? ', test' : ''}`],
    ['Reason', event.reason && reason(event.reason)],
    ['Amount', money(event)],
    ['Refunded', event.refunded_amount ? String(event.refunded_amount) : undefined],
    ['Order', event.external_id],
    ['Customer', event.customer_id],
    ['Refund', event.refund_id],
    ...IDENTIFIERS.map((name): [string, string | undefined] => [name, event.identifiers?.[name]]),
    ['Accepted', time(event.accepted_at)],
    ['Updated', event.updated_at && time(event.updated_at)],
    ['Tries', event.attempts === undefined ? undefined : String(event.attempts)],
    ['Next try', event.next_try_at && time(event.next_try_at)],
    ['Last answer', answer(event.last)],
  ];
  const details = el(
    'dl',
    fields.filter(([, value]) => value).flatMap(([name, value]) => [el('dt', name), typeof value === 'string' ? el('dd', value) : el('dd', [value!])]),
  );
  const history = el(
    'ol',
    (event.history ?? []).map((entry) =>
      el(
        'li',
        [
          time(entry.at),
          el('span', [
            ...(entry.step ? [el('span', `${entry.step} step`, 'step')] : []),
            el('strong', entry.outcome),
            ...(entry.upstream_status !== undefined || entry.message ? [el('span', `Tapfiliate: ${[entry.upstream_status, entry.message].filter((part) => part !== undefined && part !== '').join(' · ')}`, 'said')] : []),
            ...(entry.reason ? [el('span', `reason: ${entry.reason}`, 'said')] : []),
          ]),
        ],
        failed(entry) ? 'failed' : '',
      ),
    ),
    'history',
  );
  const parts: Node[] = [back, el('h2', [el('span', title(event)), badge(event.status)]), details];
  if (event.status === 'dead' || event.status === 'pending') {
    const button = el('button', 'Retry now') as HTMLButtonElement;
    button.id = 'retry';
    button.onclick = () => retry(event.key, button);
    parts.push(button);
  }
  if (event.reason) {
    // A refund with a reason was tried: kept for its conversion, or recorded under REFUNDS=ignore.
    const said =
      event.kind !== 'refund'
        ? 'Nothing was sent for this event: the worker answered it without a postback, for the reason above. A later event for the same id that names an affiliate is still sent.'
        : event.reason === 'conversion_not_found'
          ? 'Kept: if its order’s conversion arrives while the ledger keeps records, this refund applies to it.'
          : undefined;
    if (said) parts.push(el('p', said, 'nothing'));
  }
  parts.push(el('h3', 'History'), history.childElementCount ? history : el('p', 'No tries yet.'));
  if (event.job && Object.keys(event.job).length) parts.push(el('h3', 'Job: the postbacks as sent (without the key)'), ...jobView(event.job));
  $('event').replaceChildren(...parts);
}

async function retry(key: string, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    const result = await api<{ status: string }>(`events/${encode(key)}/retry`, 'POST');
    notice(result.status === 'queued' ? 'Queued: Tapfiliate did not answer in time; the worker keeps trying.' : `Retried: ${result.status}.`, result.status === 'queued' ? 'error' : 'ok');
  } catch (error) {
    if (error instanceof ApiError && error.body.error === 'upstream_rejected') notice(`Tapfiliate refused it again (HTTP ${error.body.upstream_status}): its words are in the history below.`);
    else fail(error);
  }
  await showEvent(key).catch(fail);
  showSummary().catch(fail);
}

/** "Retry all dead in this range": the filters' dates, 500 records per call, until none is left. */
async function retryDead(button: HTMLButtonElement): Promise<void> {
  const query = filters();
  const range = Object.fromEntries(['from', 'to'].filter((name) => query.has(name)).map((name) => [name, query.get(name)!]));
  const scope = searched(new URLSearchParams(range)) || 'every date';
  if (!confirm(`Send every dead event (${scope}) to Tapfiliate again?`)) return;
  button.disabled = true;
  const total: BulkRetry = { retried: 0, sent: 0, queued: 0, rejected: 0, remaining: 0, next_cursor: null };
  try {
    // Each call passes the last one's cursor, so a record refused again is not picked again: every dead record once.
    do {
      const result = await api<BulkRetry>('retry', 'POST', { status: 'dead', ...range, ...(total.next_cursor && { cursor: total.next_cursor }) });
      for (const name of ['retried', 'sent', 'queued', 'rejected'] as const) total[name] += result[name];
      total.remaining = result.remaining;
      total.next_cursor = result.retried ? result.next_cursor : null;
      if (total.next_cursor) notice(`Retrying dead events (${scope}): ${total.retried} done, ${total.remaining} to go…`, 'ok');
    } while (total.next_cursor);
    const text = `Retried ${total.retried} dead (${scope}): ${total.sent} sent, ${total.queued} queued, ${total.rejected} refused again${total.remaining ? `; ${total.remaining} left, press again` : ''}.`;
    notice(total.retried ? text : `No dead events (${scope}).`, total.rejected || total.remaining ? 'error' : 'ok');
  } catch (error) {
    fail(error);
  } finally {
    button.disabled = false;
  }
  await Promise.all([showSummary(), showEvents()]).catch(fail);
}

/** The hash holds the open event (`#event=con%3AORD-5`), so a link from elsewhere opens it. */
async function route(): Promise<void> {
  const encoded = /^#event=(.+)$/.exec(location.hash)?.[1];
  let key: string | undefined;
  try {
    key = encoded && decodeURIComponent(encoded);
  } catch {
    notice('This link names no event the console can read.');
  }
  $('event').hidden = !key;
  for (const id of ['summary', 'filters', 'events']) $(id).hidden = Boolean(key);
  $('more').hidden = true;
  if (key) await showEvent(key);
  else await showEvents();
}

/** While the list is on screen, in a visible tab, on its first page, and asked for. */
function refresh(): void {
  if (!input('auto').checked || document.hidden || !$('event').hidden || $('app').hidden || paged) return;
  Promise.all([showSummary(), showEvents()]).catch(fail);
}

async function open(): Promise<void> {
  notice(null);
  try {
    await showSummary();
  } catch (error) {
    return fail(error);
  }
  for (const id of ['app', 'signout', 'refresh']) $(id).hidden = false;
  $('login').hidden = true;
  await route().catch(fail);
}

$('zone').textContent = `times in ${Intl.DateTimeFormat().resolvedOptions().timeZone}`;
$('login').onsubmit = (submit) => {
  submit.preventDefault();
  sessionStorage.setItem(TOKEN, input('token').value.trim());
  input('token').value = '';
  void open();
};
$('filters').onsubmit = (submit) => {
  submit.preventDefault();
  notice(null);
  showEvents().catch(fail);
};
for (const id of ['status', 'kind', 'source', 'from', 'to']) $(id).onchange = () => showEvents().catch(fail);
$('clear').onclick = () => {
  for (const name of FILTERS) $<HTMLInputElement | HTMLSelectElement>(name).value = '';
  notice(null);
  showEvents().catch(fail);
};
$('retry-dead').onclick = () => retryDead($<HTMLButtonElement>('retry-dead'));
$('more').onclick = () => showEvents(true).catch(fail);
$('signout').onclick = signOut;
window.onhashchange = () => {
  notice(null);
  route().catch(fail);
};
setInterval(refresh, REFRESH_MS);
document.addEventListener('visibilitychange', refresh);
if (sessionStorage.getItem(TOKEN)) void open();
else signOut();
