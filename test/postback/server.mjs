// @ts-check
// A local stand-in for Tapfiliate's postback API v1.7, for tests and `npm start`.
// Plain Node, no dependencies, so any process (vitest, wrangler dev, a shell) can run it.
//
// Confirmed from Tapfiliate's S2S postback docs (tapfiliate.com/docs/integrations/s2s-postback):
//   - paths /1.7/pb/con/c/ (conversion) and /1.7/pb/cus/c/ (customer), GET with a query or
//     POST with a JSON body, authenticated by the X-Api-Key header;
//   - a conversion requires external_id and one identifier; when several are sent Tapfiliate
//     uses coupon, click_id, referral_code, asset_id, source_id in that order.
// Given by the team brief: no X-Api-Key → 401 with an HTML body; a wrong key → 401
// {"message":"Authentication Failed."}.
// Assumed (not published by Tapfiliate; kept in one place so a correction is one edit):
//   - every other error is JSON {"message": "<one line>"} with status 422;
//   - a repeated conversion external_id → 422 "Conversion with external_id <id> already exists.";
//   - a repeated customer_id → 422 "Customer with customer_id <id> already exists.";
//     a client should read "already exists" on either path as "this was delivered before";
//   - success is 200 with the created object as JSON.

import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

/** @typedef {'503' | '429' | 'slow' | 'drop'} Fault */
/**
 * @typedef {object} FaultSpec
 * @property {Fault[]} [next] consumed one per request, in order, before `random`
 * @property {{ rate: number, faults: Fault[], seed?: number }} [random] a fault on `rate` (0..1) of requests
 * @property {boolean} [down] answers 503 to every postback
 * @property {number} [slowMs] how long a 'slow' fault waits before answering (default 6000)
 */
/**
 * @typedef {object} ReceivedPostback
 * @property {'conversion' | 'customer'} kind
 * @property {string} method
 * @property {Record<string, unknown>} fields query parameters and JSON body, merged
 * @property {string | null} apiKey
 * @property {string | null} contentType
 * @property {number} status what the server answered; 0 when the connection was dropped
 * @property {Fault} [fault]
 * @property {number} at Date.now() when the request arrived
 */
/**
 * @typedef {object} PostbackServer
 * @property {string} url base URL, e.g. http://127.0.0.1:8789
 * @property {string} conversionUrl
 * @property {string} customerUrl
 * @property {ReceivedPostback[]} received every postback request, in arrival order
 * @property {(kind?: 'conversion' | 'customer') => ReceivedPostback[]} accepted the ones answered 2xx
 * @property {(spec: FaultSpec) => void} setFaults replaces the fault spec
 * @property {() => void} reset forgets everything received, accepted and any faults
 * @property {() => Promise<void>} close
 */

export const CONVERSION_PATH = '/1.7/pb/con/c/';
export const CUSTOMER_PATH = '/1.7/pb/cus/c/';
/** Tapfiliate's order of precedence when several identifiers are sent. */
export const IDENTIFIER_FIELDS = ['coupon', 'click_id', 'referral_code', 'asset_id', 'source_id'];
const DEFAULT_SLOW_MS = 6000;
const MAX_BODY_BYTES = 1 << 20;

const UNAUTHORIZED_HTML =
  '<!doctype html><html><head><title>401 Unauthorized</title></head>' +
  '<body><h1>401 Unauthorized</h1></body></html>\n';

/**
 * Starts the stand-in on a free port unless one is given.
 *
 * @example
 * const postback = await startPostbackServer({ apiKey: 'test-key' });
 * postback.setFaults({ next: ['503'] });
 * // ... point POSTBACK_CONVERSION_URL at postback.conversionUrl ...
 * expect(postback.accepted('conversion')).toHaveLength(1);
 * await postback.close();
 *
 * @param {{ port?: number, host?: string, apiKey?: string, print?: boolean }} [options]
 * @returns {Promise<PostbackServer>}
 */
export async function startPostbackServer({ port = 0, host = '127.0.0.1', apiKey = 'dev-key', print = false } = {}) {
  /** @type {ReceivedPostback[]} */
  const received = [];
  /** @type {Set<string>} */
  const conversionIds = new Set();
  /** @type {Set<string>} */
  const customerIds = new Set();
  /** @type {FaultSpec} */
  let faults = {};
  /** @type {() => number} */
  let random = Math.random;
  /** @type {Set<NodeJS.Timeout>} */
  const timers = new Set();

  /** @param {FaultSpec} spec */
  function setFaults(spec) {
    faults = { ...spec, next: [...(spec.next ?? [])] };
    random = spec.random?.seed === undefined ? Math.random : seededRandom(spec.random.seed);
  }

  function reset() {
    received.length = 0;
    conversionIds.clear();
    customerIds.clear();
    setFaults({});
  }

  /** @returns {Fault | undefined} */
  function nextFault() {
    if (faults.down) return '503';
    if (faults.next?.length) return faults.next.shift();
    const spread = faults.random;
    if (spread && spread.faults.length && random() < spread.rate) {
      return spread.faults[Math.floor(random() * spread.faults.length)];
    }
    return undefined;
  }

  /** @param {number} ms */
  function wait(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve(undefined);
      }, ms);
      timers.add(timer);
    });
  }

  /**
   * @param {'conversion' | 'customer'} kind
   * @param {Record<string, unknown>} fields
   * @returns {{ status: number, body: unknown }}
   */
  function answerPostback(kind, fields) {
    const has = (/** @type {string} */ name) =>
      fields[name] !== undefined && fields[name] !== null && String(fields[name]).trim() !== '';
    const idField = kind === 'conversion' ? 'external_id' : 'customer_id';
    if (!has(idField)) return { status: 422, body: { message: `${idField} is required.` } };
    // asset_id and source_id name an affiliate only together.
    if (!(has('coupon') || has('click_id') || has('referral_code') || (has('asset_id') && has('source_id')))) {
      return {
        status: 422,
        body: { message: 'One of coupon, click_id, referral_code, or asset_id with source_id is required.' },
      };
    }
    const id = String(fields[idField]);
    const seen = kind === 'conversion' ? conversionIds : customerIds;
    if (seen.has(id)) {
      const noun = kind === 'conversion' ? 'Conversion' : 'Customer';
      return { status: 422, body: { message: `${noun} with ${idField} ${id} already exists.` } };
    }
    seen.add(id);
    return { status: 200, body: { id: `${kind}-${seen.size}`, ...fields } };
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {'conversion' | 'customer'} kind
   * @param {URL} url
   */
  async function handlePostback(req, res, kind, url) {
    const at = Date.now();
    const contentType = req.headers['content-type'] ?? null;
    const keyHeader = req.headers['x-api-key'];
    const sentKey = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader ?? null;
    /** @type {Record<string, unknown>} */
    const fields = Object.fromEntries(url.searchParams);
    let malformed = false;
    if (req.method === 'POST') {
      const raw = await readBody(req);
      if (raw.trim()) {
        try {
          const parsed = JSON.parse(raw);
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(fields, parsed);
          else malformed = true;
        } catch {
          malformed = true;
        }
      }
    }
    /** @type {ReceivedPostback} */
    const record = { kind, method: req.method ?? 'GET', fields, apiKey: sentKey, contentType, status: 0, at };
    received.push(record);

    const fault = nextFault();
    if (fault) record.fault = fault;
    if (fault === 'drop') {
      report(record);
      req.socket.destroy();
      return;
    }
    if (fault === 'slow') await wait(faults.slowMs ?? DEFAULT_SLOW_MS);
    if (fault === '503') return finish(res, record, 503, { message: 'Service Unavailable' });
    if (fault === '429') {
      res.setHeader('Retry-After', '1');
      return finish(res, record, 429, { message: 'Too Many Requests' });
    }

    if (!sentKey) {
      record.status = 401;
      res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' }).end(UNAUTHORIZED_HTML);
      report(record);
      return;
    }
    if (sentKey !== apiKey) return finish(res, record, 401, { message: 'Authentication Failed.' });
    if (malformed) return finish(res, record, 400, { message: 'Request body is not a JSON object.' });
    const { status, body } = answerPostback(kind, fields);
    finish(res, record, status, body);
  }

  /**
   * @param {import('node:http').ServerResponse} res
   * @param {ReceivedPostback} record
   * @param {number} status
   * @param {unknown} body
   */
  function finish(res, record, status, body) {
    record.status = status;
    if (!res.destroyed) sendJson(res, status, body);
    report(record);
  }

  /** @param {ReceivedPostback} record */
  function report(record) {
    if (print) console.log(describePostback(record, apiKey));
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {URL} url
   */
  async function handleControl(req, res, url) {
    if (req.method === 'GET' && url.pathname === '/__control/received') return sendJson(res, 200, received);
    if (req.method === 'POST' && url.pathname === '/__control/reset') {
      reset();
      return sendJson(res, 200, { ok: true });
    }
    if (req.method === 'POST' && url.pathname === '/__control/faults') {
      try {
        setFaults(JSON.parse((await readBody(req)) || '{}'));
        return sendJson(res, 200, { ok: true });
      } catch {
        return sendJson(res, 400, { message: 'fault spec must be JSON' });
      }
    }
    sendJson(res, 404, { message: 'Not Found' });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://postback.local');
    const kind =
      url.pathname === CONVERSION_PATH ? 'conversion' : url.pathname === CUSTOMER_PATH ? 'customer' : undefined;
    /** @type {Promise<void>} */
    let handled;
    if (url.pathname.startsWith('/__control/')) handled = handleControl(req, res, url);
    else if (!kind) handled = Promise.resolve(sendJson(res, 404, { message: 'Not Found' }));
    else if (req.method !== 'GET' && req.method !== 'POST') {
      handled = Promise.resolve(sendJson(res, 405, { message: 'Method Not Allowed' }));
    } else handled = handlePostback(req, res, kind, url);
    handled.catch(() => {
      if (!res.headersSent && !res.destroyed) sendJson(res, 500, { message: 'Internal Server Error' });
    });
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(undefined));
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  return {
    url,
    conversionUrl: url + CONVERSION_PATH,
    customerUrl: url + CUSTOMER_PATH,
    received,
    accepted: (kind) => received.filter((r) => r.status >= 200 && r.status < 300 && (!kind || r.kind === kind)),
    setFaults,
    reset,
    close: () =>
      new Promise((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * One readable line per postback, for `npm start`. The key itself is never printed.
 * @param {ReceivedPostback} record
 * @param {string} expectedKey
 */
export function describePostback(record, expectedKey) {
  const key = !record.apiKey ? 'no key' : record.apiKey === expectedKey ? 'key ok' : 'wrong key';
  const outcome = record.status === 0 ? 'dropped' : String(record.status);
  const fields = Object.entries(record.fields)
    .map(([name, value]) => `${name}=${typeof value === 'object' ? JSON.stringify(value) : value}`)
    .join(' ');
  const fault = record.fault ? ` (fault ${record.fault})` : '';
  return `postback ${record.kind} ${record.method} → ${outcome}${fault} [${key}] ${fields}`;
}

/** @param {import('node:http').IncomingMessage} req @returns {Promise<string>} */
function readBody(req) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    req.on('data', (/** @type {Buffer} */ chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} body */
function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** mulberry32: a tiny seeded generator, so a fault run can be replayed exactly. */
/** @param {number} seed @returns {() => number} */
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {{ port?: number, host?: string, apiKey?: string, print: boolean }} */
  const options = { print: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--print') options.print = true;
    else if (arg === '--port') options.port = Number(argv[++i]);
    else if (arg === '--host') options.host = argv[++i];
    else if (arg === '--key') options.apiKey = argv[++i];
    else throw new Error(`unknown argument ${arg} (use --port N --host H --key K --print)`);
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startPostbackServer(parseArgs(process.argv.slice(2)));
  console.log(`postback server listening on ${server.url} (conversion ${server.conversionUrl}, customer ${server.customerUrl})`);
  const stop = () => server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
