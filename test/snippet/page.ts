// A merchant page in happy-dom that loads the real dist/tap.js through the
// <script> tag of the README, with fetch, sendBeacon and console under test control.
import { resolve } from 'node:path';
import { Window } from 'happy-dom';
import { vi } from 'vitest';

const DIST = resolve(__dirname, '../../dist');
// test/snippet/global-setup.ts has just built it.

/** `cookie`: a cookie the answer sets, as the proxy's Set-Cookie would, before the page reads the answer. */
export type Reply = { status: number; body?: unknown; cookie?: string } | 'network-error' | 'html';
/** One POST; `cookie` is what document.cookie held when it was made, as the proxy would see it. */
export type Sent = { url: string; method?: string; keepalive?: boolean; credentials?: string; contentType: string; body: any; cookie?: string };

export type PageOptions = {
  url?: string;
  /** Attributes of the tap.js tag, e.g. `{ 'data-consent': 'required' }`. */
  attrs?: Record<string, string>;
  src?: string;
  /** Inline scripts run before tap.js, e.g. the stub and queued calls, or a hostile library. */
  before?: string[];
  /** Answers for POSTs in order; the last one repeats. Default 200 sent. */
  replies?: Reply[];
  /** Answers each event (convert, customer) by what it carries, as a worker in a given trust mode would; wins over `replies`. */
  answer?: (body: any) => Reply | Promise<Reply>;
  /** The same for POST /click; wins over `clickReplies`. */
  answerClick?: (body: any) => Reply | Promise<Reply>;
  /** Removes window.fetch before tap.js loads; `beacon` also gives navigator.sendBeacon. */
  noFetch?: 'beacon' | 'nothing';
  /** Answers for POST /click; default 200 stored. */
  clickReplies?: Reply[];
  /** Simulates a browser that silently refuses some cookie writes (document.cookie = …). */
  refuseCookie?: (write: string) => boolean;
};

/** Where the tests' pages live; each serves dist/ under /_tap/. */
const PAGE_ORIGINS = ['https://cdn.example', 'https://www.shop.example', 'https://checkout.shop.example', 'https://shop.example', 'https://a.www.shop.example', 'https://x.pages.dev', 'https://shop.co.uk', 'http://localhost:8787', 'http://192.168.1.20'];

export const STUB = 'window.tap=window.tap||function(){(tap.q=tap.q||[]).push(arguments)}';

export type Page = Awaited<ReturnType<typeof openPage>>;

/** Opens a page and loads tap.js; `next()` is a later page view in the same browser. */
export const openPage = async (options: PageOptions = {}) => {
  const window = new Window({
    url: options.url ?? 'https://www.shop.example/thanks',
    settings: {
      enableJavaScriptEvaluation: true,
      suppressInsecureJavaScriptEnvironmentWarning: true,
      fetch: {
        virtualServers: PAGE_ORIGINS.map((origin) => ({ url: origin + '/_tap/', directory: DIST })),
      },
    },
  });
  /** Events (convert, customer); landings' clicks are in `clicks`. */
  const sent: Sent[] = [];
  const clicks: Sent[] = [];
  /** Answers for POST /click in order; the last one repeats. */
  let clickReplies: Reply[] = options.clickReplies ?? [{ status: 200, body: { ok: true, status: 'stored' } }];
  const beacons: { url: string; body: unknown }[] = [];
  const logs: unknown[][] = [];
  const pageErrors: unknown[] = [];
  let replies = options.replies ?? [{ status: 200, body: { ok: true, status: 'sent' } }];

  const fetchMock = vi.fn(async (url: string, init: RequestInit = {}) => {
    let cookie = '';
    try {
      cookie = window.document.cookie;
    } catch {} // a page under test may make document.cookie throw
    const request = new Request(new URL(url, window.location.href), init);
    const isClick = request.url.endsWith('/click');
    const record: Sent = {
      url: request.url,
      method: init.method,
      keepalive: init.keepalive,
      credentials: init.credentials,
      contentType: request.headers.get('content-type') ?? '',
      body: JSON.parse(await request.text()),
    };
    // Not enumerable, so tests comparing whole requests need not spell it out.
    Object.defineProperty(record, 'cookie', { value: cookie });
    (isClick ? clicks : sent).push(record);
    const queue = isClick ? clickReplies : replies;
    const answer = isClick ? options.answerClick : options.answer;
    const reply = answer ? await answer(record.body) : queue.length > 1 ? queue.shift()! : queue[0];
    if (reply == 'network-error') throw new TypeError('Failed to fetch');
    if (reply == 'html') return new Response('<h1>Not found</h1>', { status: 404 });
    if (reply.cookie) native.set!.call(window.document, reply.cookie);
    return new Response(JSON.stringify(reply.body ?? {}), { status: reply.status });
  });

  const w = window as unknown as Record<string, any>;
  w.console.log = (...args: unknown[]) => logs.push(args);
  window.addEventListener('error', (event) => pageErrors.push((event as unknown as ErrorEvent).error ?? event));

  // Every cookie write goes through here, so tests see the attributes the snippet chose.
  // `cookieWrites` are those of the attribution cookie, tap_data; `allCookieWrites` add the
  // landing and pending cookies (snippet/names.ts).
  const allCookieWrites: string[] = [];
  const cookieWrites: string[] = [];
  let proto = Object.getPrototypeOf(window.document);
  while (!Object.getOwnPropertyDescriptor(proto, 'cookie')) proto = Object.getPrototypeOf(proto);
  const native = Object.getOwnPropertyDescriptor(proto, 'cookie')!;
  Object.defineProperty(window.document, 'cookie', {
    configurable: true,
    get: () => native.get!.call(window.document),
    set: (write: string) => {
      allCookieWrites.push(write);
      if (write.startsWith('tap_data=')) cookieWrites.push(write);
      if (!options.refuseCookie?.(write)) native.set!.call(window.document, write);
    },
  });

  let views = 0;
  const load = async () => {
    if (options.noFetch) {
      w.fetch = undefined;
      w.navigator.sendBeacon =
        options.noFetch == 'beacon'
          ? vi.fn((url: string, body: string) => (beacons.push({ url, body: JSON.parse(body) }), true))
          : undefined;
    } else w.fetch = fetchMock;
    for (const code of options.before ?? []) {
      const inline = window.document.createElement('script');
      inline.textContent = code;
      window.document.body.appendChild(inline);
    }
    const tag = window.document.createElement('script');
    tag.async = true;
    // A fresh query per page view: happy-dom runs an already-loaded script URL only once.
    tag.src = (options.src ?? '/_tap/tap.js') + '?view=' + ++views;
    for (const [name, value] of Object.entries(options.attrs ?? {})) tag.setAttribute(name, value);
    window.document.body.appendChild(tag);
    await window.happyDOM.waitUntilComplete();
    await settle();
  };
  await load();

  return {
    window,
    w,
    sent,
    clicks,
    beacons,
    logs,
    pageErrors,
    fetchMock,
    cookieWrites,
    allCookieWrites,
    /** The `[tap] skip <reason>` reasons logged in debug mode. */
    ignored: () => logs.filter((line) => line[0] == '[tap]' && line[1] == 'skip').map((line) => line[2]),
    /** Runs code in the page, as the merchant's own script would. */
    run: (code: string) => window.eval(code),
    setReplies: (next: Reply[]) => (replies = next),
    setClickReplies: (next: Reply[]) => (clickReplies = next),
    /** A later page view in the same browser: same cookies and storage, a fresh script. */
    next: async (url: string, overrides: Partial<PageOptions> = {}) => {
      Object.assign(options, overrides);
      window.happyDOM.setURL(url);
      window.eval('delete window.tap');
      window.document.body.innerHTML = '';
      await load();
    },
    cookie: () => window.document.cookie,
    stored: () => {
      const match = window.document.cookie.match(/(?:^|; )tap_data=([^;]*)/);
      return match && JSON.parse(decodeURIComponent(match[1]));
    },
    close: () => window.happyDOM.close(),
  };
};

/** Lets pending fetch mocks and promise chains finish. */
export const settle = () => new Promise((done) => setTimeout(done, 10));
