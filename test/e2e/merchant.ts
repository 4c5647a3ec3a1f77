import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Forwards one request to the worker the way a Cloudflare zone route would. */
export type WorkerFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface MerchantPage {
  html: string;
  /** 200 unless given: e.g. 303 with a Location header, as a checkout handler answers. */
  status?: number;
  headers?: Record<string, string>;
}

/** A request the CMS itself answered (not /_tap/*), with its body, e.g. a form post or Shopify's /cart/update.js. */
export interface CmsRequest {
  method: string;
  host: string;
  path: string;
  query: URLSearchParams;
  body: string;
}

export interface ForwardedRequest {
  method: string;
  path: string;
  status: number;
  /** The worker's answer as text: its headers, one `name: value` per line, then the body. */
  answer: string;
}

export interface MerchantOrigin {
  port: number;
  /** `http://<host>:<port><path>`, for hosts mapped to 127.0.0.1 by Chromium's resolver rules. */
  url(host: string, path?: string): string;
  /** Pages served by the CMS, keyed by path without query, for any host and method. Replaced wholesale per test. */
  pages: Map<string, MerchantPage | ((request: CmsRequest) => MerchantPage)>;
  /** Every request the CMS answered itself, in arrival order. */
  requests: CmsRequest[];
  /** Set to false to make every /_tap/* request fail at the network level, as when the worker is unreachable. */
  workerUp: boolean;
  /** Milliseconds to hold a worker path (e.g. '/_tap/tap-events.js') before forwarding it: a slow mobile network. */
  slow: Map<string, number>;
  /** Every request that reached the worker, and its answer: also those a browser hides from the page, such as a CORS refusal. */
  forwarded: ForwardedRequest[];
  /** Requests handed to the worker whose answer has not come back yet. */
  inFlight: number;
  /**
   * The CF-Connecting-IP to send instead of the socket's address. Every browser here is 127.0.0.1,
   * and the worker makes one click per referral code and client network per 30 minutes, so each
   * test gets a network of its own (harness.ts `freshClientIp`).
   */
  clientIp?: string;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * A stand-in for the merchant's CMS: it serves its own pages, and hands every
 * request under `basePath` to the worker with Host, cookies and body intact,
 * adding CF-Connecting-IP from the socket, as Cloudflare's edge does.
 */
export async function startMerchantOrigin(
  workerFetch: WorkerFetch,
  basePath = '/_tap/',
): Promise<MerchantOrigin> {
  const origin: Omit<MerchantOrigin, 'port' | 'url' | 'close'> = {
    pages: new Map(),
    requests: [],
    workerUp: true,
    slow: new Map(),
    forwarded: [],
    inFlight: 0,
  };

  const forward = async (req: IncomingMessage, res: ServerResponse) => {
    if (!origin.workerUp) {
      res.socket?.destroy();
      return;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name === 'x-forwarded-for') continue;
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    headers.set('cf-connecting-ip', origin.clientIp ?? req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '');
    const requestBody = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
    const url = `http://${req.headers.host}${req.url}`;
    const delay = origin.slow.get(new URL(url).pathname);
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
    const answer = await workerFetch(url, { method: req.method, headers, body: requestBody, redirect: 'manual' });
    const path = new URL(url).pathname;
    const body = Buffer.from(await answer.arrayBuffer());
    const headerLines = [...answer.headers].map(([name, value]) => `${name}: ${value}`).join('\n');
    origin.forwarded.push({ method: req.method ?? 'GET', path, status: answer.status, answer: `${headerLines}\n\n${body}` });
    const outHeaders: Record<string, string | string[]> = {};
    answer.headers.forEach((value, name) => {
      if (name !== 'set-cookie' && name !== 'content-encoding' && name !== 'content-length') outHeaders[name] = value;
    });
    const cookies = answer.headers.getSetCookie();
    if (cookies.length) outHeaders['set-cookie'] = cookies;
    res.writeHead(answer.status, outHeaders);
    res.end(body);
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path.startsWith(basePath)) {
      origin.inFlight++;
      forward(req, res)
        .catch((error) => {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(String(error));
        })
        .finally(() => origin.inFlight--);
      return;
    }
    readBody(req)
      .then((body) => {
        const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
        const request = { method: req.method ?? 'GET', host: url.hostname, path, query: url.searchParams, body: Buffer.from(body).toString('utf8') };
        origin.requests.push(request);
        const found = origin.pages.get(path);
        const page = typeof found === 'function' ? found(request) : found;
        if (!page) {
          res.writeHead(404, { 'content-type': 'text/html' });
          res.end('<!doctype html><title>Not found</title>');
          return;
        }
        res.writeHead(page.status ?? 200, { 'content-type': 'text/html; charset=utf-8', ...page.headers });
        res.end(page.html);
      })
      .catch((error) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return Object.assign(origin, {
    port,
    url: (host: string, path = '/') => `http://${host}:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
