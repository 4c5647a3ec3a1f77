// The operator console (docs/operations.md, "Console"): one page over the
// operator API next to it (api/, contract §10). Every value from the ledger is
// written with textContent, never parsed as HTML; the page runs under
// `default-src 'self'`, so it has no inline script or style.

interface Last {
  at: string;
  outcome: string;
  upstream_status?: number;
  message?: string;
}
interface LedgerEvent {
  key: string;
  kind: string;
  status: string;
  source: string;
  signed?: boolean;
  test?: boolean;
  external_id?: string;
  customer_id?: string;
  refund_id?: string;
  amount?: number;
  currency?: string;
  refunded_amount?: number;
  identifiers?: Record<string, string>;
  accepted_at: string;
  updated_at?: string;
  attempts?: number;
  next_try_at?: string;
  last?: Last;
  history?: Last[];
}
type Counts = Record<string, number>;

const TOKEN = 'tapline-admin-token';
const COUNTED = ['sent', 'pending', 'dead', 'reversed', 'adjusted'];
const IDENTIFIERS = ['referral_code', 'click_id', 'coupon', 'asset_id', 'source_id'];

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** An element with its text (or children), e.g. el('td', 'x', 'status'). */
function el(tag: string, content?: string | Node[] | null, className?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (typeof content === 'string') node.textContent = content;
  else if (content) node.append(...content);
  return node;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: string; message?: string; issues?: { path: string; message: string }[] },
  ) {
    super(body.error ?? `HTTP ${status}`);
  }
}

async function api<T>(path: string, method = 'GET'): Promise<T> {
  const response = await fetch(`api/${path}`, {
    method,
    headers: { authorization: `Bearer ${sessionStorage.getItem(TOKEN) ?? ''}` },
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok && response.status !== 202) throw new ApiError(response.status, body);
  return body as T;
}

function notice(text: string | null): void {
  const box = $('notice');
  box.hidden = !text;
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
  $('app').hidden = true;
  $('signout').hidden = true;
  $('login').hidden = false;
  $<HTMLInputElement>('token').focus();
}

/**
 * A key for a URL. encodeURIComponent throws on a lone UTF-16 surrogate, which a
 * record kept from before v4 may hold in its id: it becomes U+FFFD, so that one
 * record cannot break a page (its link then finds nothing).
 */
const keyPart = (key: string) => encodeURIComponent(key.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
const when = (iso?: string) => (iso ? new Date(iso).toLocaleString() : '');
/** A refund also names its order (external_id); its own id is the refund's. */
const idOf = (event: LedgerEvent) => event.refund_id ?? event.external_id ?? event.customer_id ?? event.key;
const money = (event: LedgerEvent) => (event.amount === undefined ? '' : `${event.amount} ${event.currency ?? ''}`.trim());
const affiliate = (event: LedgerEvent) => IDENTIFIERS.map((name) => event.identifiers?.[name]).find(Boolean) ?? 'no identifier';
const answer = (last?: Last) =>
  last ? [last.outcome, last.upstream_status, last.message].filter((part) => part !== undefined && part !== '').join(' · ') : 'not tried yet';
const badge = (status: string) => el('span', status, `badge ${status}`);

async function showSummary(): Promise<void> {
  const { last_24h, last_7d } = await api<{ last_24h: Counts; last_7d: Counts }>('summary');
  const card = (title: string, counts: Counts) =>
    el('div', [el('h2', title), el('dl', COUNTED.flatMap((status) => [el('dt', status), el('dd', String(counts[status] ?? 0), status)]))], 'card');
  $('summary').replaceChildren(card('Last 24 hours', last_24h), card('Last 7 days', last_7d));
}

let cursor: string | null = null;

async function showEvents(more = false): Promise<void> {
  const query = new URLSearchParams({ limit: '50' });
  const status = $<HTMLSelectElement>('status').value;
  const q = $<HTMLInputElement>('q').value.trim();
  if (status) query.set('status', status);
  if (q) query.set('q', q);
  if (more && cursor) query.set('cursor', cursor);
  const page = await api<{ events: LedgerEvent[]; next_cursor: string | null }>(`events?${query}`);
  const rows = page.events.map((event) => {
    const link = el('a', idOf(event)) as HTMLAnchorElement;
    link.href = `#event=${keyPart(event.key)}`;
    return el('li', [
      el('div', [link, badge(event.status)], 'line'),
      el('div', [el('span', money(event)), el('span', affiliate(event)), el('span', event.source), el('span', when(event.accepted_at))], 'meta'),
      el('div', answer(event.last), 'answer'),
    ]);
  });
  if (more) $('events').append(...rows);
  else $('events').replaceChildren(...(rows.length ? rows : [el('li', 'Nothing here yet.', 'empty')]));
  cursor = page.next_cursor;
  $('more').hidden = !cursor;
}

async function showEvent(key: string): Promise<void> {
  const { event } = await api<{ event: LedgerEvent }>(`events/${keyPart(key)}`);
  const back = el('a', '← All events') as HTMLAnchorElement;
  back.href = '#';
  const fields: [string, string | undefined][] = [
    ['Key', event.key],
    ['Kind', event.kind],
    ['Source', `${event.source}${event.signed ? ', signed' : ''}${event.test ? ', test' : ''}`],
    ['Amount', money(event)],
    ['Refunded', event.refunded_amount ? String(event.refunded_amount) : undefined],
    ['Order', event.external_id],
    ['Customer', event.customer_id],
    ['Refund', event.refund_id],
    ...IDENTIFIERS.map((name): [string, string | undefined] => [name, event.identifiers?.[name]]),
    ['Accepted', when(event.accepted_at)],
    ['Updated', when(event.updated_at)],
    ['Tries', event.attempts === undefined ? undefined : String(event.attempts)],
    ['Next try', when(event.next_try_at)],
    ['Last answer', answer(event.last)],
  ];
  const details = el('dl', fields.filter(([, value]) => value).flatMap(([name, value]) => [el('dt', name), el('dd', value!)]));
  const history = el('ol', (event.history ?? []).map((step) => el('li', [el('time', when(step.at)), el('span', answer(step))])), 'history');
  const parts: Node[] = [back, el('h2', [el('span', idOf(event)), badge(event.status)]), details];
  if (event.status === 'dead' || event.status === 'pending') {
    const button = el('button', 'Retry now') as HTMLButtonElement;
    button.id = 'retry';
    button.onclick = () => retry(event.key, button);
    parts.push(button);
  }
  parts.push(el('h3', 'History'), history.childElementCount ? history : el('p', 'No tries yet.'));
  $('event').replaceChildren(...parts);
}

async function retry(key: string, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    const result = await api<{ status: string }>(`events/${keyPart(key)}/retry`, 'POST');
    notice(`Retried: ${result.status}.`);
  } catch (error) {
    if (error instanceof ApiError && error.body.error === 'upstream_rejected') notice(`Tapfiliate refused it again (${error.body.message ?? 'see the last answer'}).`);
    else fail(error);
  }
  await showEvent(key).catch(fail);
  showSummary().catch(fail);
}

/** The hash holds the open event (`#event=con%3AORD-5`), so a link from elsewhere opens it. */
async function route(): Promise<void> {
  const key = /^#event=(.+)$/.exec(location.hash)?.[1];
  $('event').hidden = !key;
  for (const id of ['summary', 'filters', 'events']) $(id).hidden = Boolean(key);
  $('more').hidden = true;
  if (key) await showEvent(decodeURIComponent(key));
  else await showEvents();
}

async function open(): Promise<void> {
  notice(null);
  try {
    await showSummary();
  } catch (error) {
    return fail(error);
  }
  $('login').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  await route().catch(fail);
}

$('login').onsubmit = (submit) => {
  submit.preventDefault();
  sessionStorage.setItem(TOKEN, $<HTMLInputElement>('token').value.trim());
  $<HTMLInputElement>('token').value = '';
  void open();
};
$('filters').onsubmit = (submit) => {
  submit.preventDefault();
  notice(null);
  showEvents().catch(fail);
};
$('status').onchange = () => showEvents().catch(fail);
$('more').onclick = () => showEvents(true).catch(fail);
$('signout').onclick = signOut;
window.onhashchange = () => {
  notice(null);
  route().catch(fail);
};
if (sessionStorage.getItem(TOKEN)) void open();
else signOut();
