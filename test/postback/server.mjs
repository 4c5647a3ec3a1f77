// @ts-check
// A local stand-in for Tapfiliate's postback API v1.7 and its REST clicks endpoint (API v1.6),
// for tests and `npm start`. Plain Node, no dependencies, so any process (vitest, wrangler dev,
// a shell) can run it.
//
// What it assumes about Tapfiliate, in one place so a correction is one edit.
// [doc]   = documented by Tapfiliate; [told]  = reported by merchants who use the API, not published; [guess] = not published,
//           chosen here, and the first thing to check against the real API.
//   Postbacks (tapfiliate.com/docs/integrations/s2s-postback):
//   - [doc]   paths /1.7/pb/con/c/ (conversion) and /1.7/pb/cus/c/ (customer), GET with a query or
//             POST with a JSON body, authenticated by the X-Api-Key header;
//   - [doc]   a conversion requires external_id and one identifier; when several are sent Tapfiliate
//             uses coupon, click_id, referral_code, asset_id, source_id in that order;
//   - [told]  no X-Api-Key → 401 with an HTML body; a wrong key → 401 {"message":"Authentication Failed."};
//   - [doc]   errors are JSON {"message": "..."} (the REST reference: "JSON is returned by all API
//             responses, including errors"); [guess] the status of a refused postback is 422 and the
//             message one line;
//   - [guess] a repeated conversion external_id → 422 "Conversion with external_id <id> already exists.";
//   - [guess] a repeated customer_id → 422 "Customer with customer_id <id> already exists.";
//             the real wording is unknown, which is why rejections with any status and message can be
//             injected (FaultSpec, below) to check that a client's duplicate rule is narrow;
//   - [guess] success is 200 with the created object as JSON.
//   Clicks (tapfiliate.com/docs/rest, "Create a click"; the click-id guide,
//   tapfiliate.com/docs/guides/migrating-from-referral-code-to-click-id-based-api-tracking):
//   - [doc]   POST /1.6/clicks/ with a JSON body, X-Api-Key; referral_code required; optional
//             source_id, meta_data, ip, user_agent, landing_page, referrer; the answer carries the
//             click's "id", which a later conversion or customer sends as click_id;
//   - [guess] success is 200 with {"id": "<click id>"} only (some third-party descriptions say 201:
//             a client should take any 2xx); ids here are "click-<n>", unique for the server's life;
//   - [guess] no key → 401 HTML and a wrong key → 401 {"message":"Authentication Failed."}, as postbacks;
//   - [guess] a missing or empty referral_code → 422 {"message":"referral_code is required."};
//             meta_data that is not an object → 422; a body that is not a JSON object → 400;
//   - [guess] an unknown referral code is accepted (the stand-in knows no affiliates), as postbacks are.
//   REST v1.6 for refunds (tapfiliate.com/docs/rest/; proxy/tapfiliate.ts says what is documented):
//   - [doc]   GET /1.6/conversions/?external_id=… answers a JSON array of conversions, each with
//             integer `id`, `external_id`, `amount` and `commissions` [{id, amount, approved, comment}];
//   - [guess] an unknown external_id is 200 [] (a 404 can be injected through `rest` faults);
//   - [guess] every conversion accepted by postback gets ONE commission of 10% of its amount,
//             rounded to cents (0 without an amount), pending (`approved: null`); ids are integers,
//             unique for the server's life. /__control/conversions can seed other shapes;
//   - [doc]   DELETE /1.6/commissions/<id>/approved/ disapproves (`approved: false`) and [guess]
//             answers 200 with the commission, also when it was already disapproved;
//   - [doc]   PATCH /1.6/commissions/<id>/ with {amount, comment} sets them; [guess] 200 with the
//             commission; an amount that is not a finite number ≥ 0 → 422; a body that is not a
//             JSON object → 400;
//   - [guess] an unknown commission → 404 {"message":"Not Found"}; the key is checked as for postbacks.
//   Never real behaviour, only injectable: 503/429/slow/drop, 302/307 redirects, rejections with a
//   chosen status and body (see FaultSpec).

import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

/**
 * '302' and '307' answer with that status and a Location on this server's /redirected/ capture
 * path; 'reject' is what a record shows for an injected Rejection (in `next` alone it means the
 * default rejection, 422 {"message":"Rejected by the stand-in."}).
 * 'pass' answers normally: in `next`, it lets one request through before the faults after it.
 * @typedef {'503' | '429' | 'slow' | 'drop' | '302' | '307' | 'reject' | 'pass'} Fault
 */
/**
 * An injected refusal: answered with `status` and, by default, JSON {"message": message}. A string
 * `body` is sent as is (with `contentType`, default text/plain); any other `body` as JSON.
 * @typedef {object} Rejection
 * @property {number} status
 * @property {string} [message]
 * @property {unknown} [body]
 * @property {string} [contentType]
 * @property {string} [retryAfter] sent as the Retry-After header
 */
/** @typedef {Fault | Rejection} Injection */
/**
 * Faults apply before the key is checked, like a proxy or load balancer in front of the API.
 * @typedef {object} FaultSpec
 * @property {Injection[]} [next] consumed one per request, in order, before `random`
 * @property {{ rate: number, faults: Injection[], seed?: number }} [random] a fault on `rate` (0..1) of requests
 * @property {boolean} [down] answers 503 to every request
 * @property {Injection} [always] answers every request with this fault (after `down`, before `next`)
 * @property {number} [slowMs] how long a 'slow' fault waits before answering (default 6000)
 * @property {Omit<FaultSpec, 'clicks' | 'rest'>} [clicks] faults for the clicks endpoint, which are separate:
 *   the rest of a spec applies to the two postback paths only
 * @property {Omit<FaultSpec, 'clicks' | 'rest'>} [rest] faults for the REST refund endpoints
 *   (conversions lookup, disapprove, set amount), separate in the same way
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
 * @property {Rejection} [rejection] the injected rejection, when `fault` is 'reject'
 * @property {string} [location] the Location answered, when `fault` is '302' or '307'
 * @property {number} at Date.now() when the request arrived
 */
/**
 * @typedef {object} ReceivedClick
 * @property {'click'} kind
 * @property {string} method
 * @property {Record<string, unknown>} fields the JSON body
 * @property {string | null} apiKey
 * @property {string | null} contentType
 * @property {number} status what the server answered; 0 when the connection was dropped
 * @property {string} [id] the click id answered, when the click was created
 * @property {Fault} [fault]
 * @property {Rejection} [rejection]
 * @property {string} [location]
 * @property {number} at
 */
/**
 * One request to the REST refund endpoints.
 * @typedef {object} ReceivedRest
 * @property {'rest'} kind
 * @property {string} method
 * @property {string} path path and query, e.g. /1.6/commissions/1001/approved/
 * @property {Record<string, unknown>} fields the JSON body ({} when there is none)
 * @property {string | null} apiKey
 * @property {string | null} contentType
 * @property {number} status what the server answered; 0 when the connection was dropped
 * @property {Fault} [fault]
 * @property {Rejection} [rejection]
 * @property {string} [location]
 * @property {number} at
 */
/**
 * A commission as the stand-in holds it (and answers it).
 * @typedef {object} StandInCommission
 * @property {number} id
 * @property {number} amount
 * @property {boolean | null} approved null while pending, false once disapproved
 * @property {string | null} comment
 */
/**
 * @typedef {object} StandInConversion
 * @property {number} id
 * @property {string} external_id
 * @property {number | null} amount
 * @property {StandInCommission[]} commissions
 */
/**
 * Whatever arrived at /redirected/…: what a client that follows a redirect would have sent on.
 * @typedef {object} RedirectedRequest
 * @property {string} path
 * @property {string} method
 * @property {Record<string, string>} headers lower-case names; repeated headers joined with ", "
 * @property {string | null} apiKey the X-Api-Key header, if any
 * @property {string} body the raw body
 * @property {number} at
 */
/**
 * @typedef {object} PostbackServer
 * @property {string} url base URL, e.g. http://127.0.0.1:8789
 * @property {string} conversionUrl
 * @property {string} customerUrl
 * @property {string} clicksUrl Tapfiliate's REST "create a click" endpoint
 * @property {ReceivedPostback[]} received every postback request, in arrival order
 * @property {(kind?: 'conversion' | 'customer') => ReceivedPostback[]} accepted the ones answered 2xx
 * @property {ReceivedClick[]} clicks every request to the clicks endpoint, in arrival order
 * @property {() => ReceivedClick[]} acceptedClicks the ones answered 2xx
 * @property {string} restUrl Tapfiliate's REST v1.6 base (TAPFILIATE_REST_URL)
 * @property {ReceivedRest[]} rest every request to the REST refund endpoints, in arrival order
 * @property {() => StandInConversion[]} conversions the conversions the stand-in holds, with their commissions
 * @property {(seed: ConversionSeed) => StandInConversion} seedConversion adds a conversion as if Tapfiliate had it
 * @property {RedirectedRequest[]} redirected every request that reached the /redirected/ capture path
 * @property {(spec: FaultSpec) => void} setFaults replaces the fault spec (postbacks, and `clicks`)
 * @property {() => void} reset forgets everything received, clicks, redirected requests and any faults
 * @property {() => Promise<void>} close
 */

/**
 * A conversion Tapfiliate knows without a postback here (made in its dashboard, or by an earlier
 * integration): `commissions` are their amounts, default one of 10% of `amount`.
 * @typedef {object} ConversionSeed
 * @property {string} external_id
 * @property {number} [amount]
 * @property {number[]} [commissions]
 */

export const CONVERSION_PATH = '/1.7/pb/con/c/';
export const CUSTOMER_PATH = '/1.7/pb/cus/c/';
export const CLICKS_PATH = '/1.6/clicks/';
export const REST_PATH = '/1.6/';
const REST_CONVERSIONS_PATH = '/1.6/conversions/';
const REST_COMMISSION = /^\/1\.6\/commissions\/(\d+)\/(approved\/)?$/;
/** The stand-in's commission rule: 10% of the conversion's amount. */
const COMMISSION_RATE = 0.1;
/** Where an injected redirect points; everything that arrives below it is recorded. */
export const REDIRECTED_PATH = '/redirected/';
/** Tapfiliate's order of precedence when several identifiers are sent. */
export const IDENTIFIER_FIELDS = ['coupon', 'click_id', 'referral_code', 'asset_id', 'source_id'];
const DEFAULT_SLOW_MS = 6000;
const MAX_BODY_BYTES = 1 << 20;
/** @type {Rejection} */
const DEFAULT_REJECTION = { status: 422, message: 'Rejected by the stand-in.' };

const UNAUTHORIZED_HTML =
  '<!doctype html><html><head><title>401 Unauthorized</title></head>' +
  '<body><h1>401 Unauthorized</h1></body></html>\n';

/**
 * Starts the stand-in on a free port unless one is given.
 *
 * @example
 * const postback = await startPostbackServer({ apiKey: 'test-key' });
 * postback.setFaults({ next: ['503', { status: 422, message: 'Coupon already expired' }, '307'] });
 * // ... point POSTBACK_CONVERSION_URL at postback.conversionUrl ...
 * expect(postback.accepted('conversion')).toHaveLength(1);
 * expect(postback.redirected).toHaveLength(0); // the key never followed the 307
 * await postback.close();
 *
 * @param {{ port?: number, host?: string, apiKey?: string, print?: boolean }} [options]
 * @returns {Promise<PostbackServer>}
 */
export async function startPostbackServer({ port = 0, host = '127.0.0.1', apiKey = 'dev-key', print = false } = {}) {
  /** @type {ReceivedPostback[]} */
  const received = [];
  /** @type {ReceivedClick[]} */
  const clicks = [];
  /** @type {RedirectedRequest[]} */
  const redirected = [];
  /** @type {ReceivedRest[]} */
  const rest = [];
  /** Conversions by external_id, with their commissions, as the REST API answers them. @type {Map<string, StandInConversion>} */
  const tapConversions = new Map();
  /** Not reset, like click ids: a commission id never names two commissions. */
  let restSequence = 1000;
  /** @type {Set<string>} */
  const conversionIds = new Set();
  /** @type {Set<string>} */
  const customerIds = new Set();
  /** Not reset, so a click id is never issued twice by one server. */
  let clickSequence = 0;
  let redirectSequence = 0;
  const postbackFaults = faultState();
  const clickFaults = faultState();
  const restFaults = faultState();
  /** @type {Set<NodeJS.Timeout>} */
  const timers = new Set();
  let baseUrl = '';

  /** @param {FaultSpec} spec */
  function setFaults(spec) {
    const { clicks: forClicks, rest: forRest, ...forPostbacks } = spec ?? {};
    postbackFaults.set(forPostbacks);
    clickFaults.set(forClicks ?? {});
    restFaults.set(forRest ?? {});
  }

  function reset() {
    received.length = 0;
    clicks.length = 0;
    redirected.length = 0;
    rest.length = 0;
    tapConversions.clear();
    conversionIds.clear();
    customerIds.clear();
    setFaults({});
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
    const has = (/** @type {string} */ name) => present(fields[name]);
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
    if (kind === 'conversion') {
      const amount = Number(fields.amount);
      seedConversion({ external_id: id, amount: Number.isFinite(amount) ? amount : undefined });
    }
    return { status: 200, body: { id: `${kind}-${seen.size}`, ...fields } };
  }

  /**
   * @param {Record<string, unknown>} fields
   * @returns {{ status: number, body: unknown, id?: string }}
   */
  function answerClick(fields) {
    if (!present(fields.referral_code)) return { status: 422, body: { message: 'referral_code is required.' } };
    const meta = fields.meta_data;
    if (meta !== undefined && (meta === null || typeof meta !== 'object' || Array.isArray(meta))) {
      return { status: 422, body: { message: 'meta_data must be an object.' } };
    }
    const id = `click-${++clickSequence}`;
    return { status: 200, body: { id }, id };
  }

  /**
   * @param {ConversionSeed} seed
   * @returns {StandInConversion}
   */
  function seedConversion({ external_id, amount, commissions }) {
    const base = typeof amount === 'number' && Number.isFinite(amount) ? amount : null;
    const amounts = commissions ?? [Math.round((base ?? 0) * COMMISSION_RATE * 100) / 100];
    /** @type {StandInConversion} */
    const conversion = {
      id: ++restSequence,
      external_id: String(external_id),
      amount: base,
      commissions: amounts.map((value) => ({ id: ++restSequence, amount: value, approved: null, comment: null })),
    };
    tapConversions.set(conversion.external_id, conversion);
    return conversion;
  }

  /** @param {number} id */
  function findCommission(id) {
    for (const conversion of tapConversions.values()) {
      const commission = conversion.commissions.find((c) => c.id === id);
      if (commission) return commission;
    }
    return undefined;
  }

  /**
   * @param {string} method
   * @param {URL} url
   * @param {Record<string, unknown> | null | undefined} body
   * @returns {{ status: number, body: unknown }}
   */
  function answerRest(method, url, body) {
    if (url.pathname === REST_CONVERSIONS_PATH) {
      if (method !== 'GET') return { status: 405, body: { message: 'Method Not Allowed' } };
      const externalId = url.searchParams.get('external_id');
      const list = [...tapConversions.values()].filter((c) => externalId === null || c.external_id === externalId);
      return { status: 200, body: list };
    }
    const match = REST_COMMISSION.exec(url.pathname);
    if (!match) return { status: 404, body: { message: 'Not Found' } };
    const commission = findCommission(Number(match[1]));
    if (match[2]) {
      if (method !== 'DELETE' && method !== 'PUT') return { status: 405, body: { message: 'Method Not Allowed' } };
      if (!commission) return { status: 404, body: { message: 'Not Found' } };
      commission.approved = method === 'PUT';
      return { status: 200, body: commission };
    }
    if (method === 'GET') return commission ? { status: 200, body: commission } : { status: 404, body: { message: 'Not Found' } };
    if (method !== 'PATCH') return { status: 405, body: { message: 'Method Not Allowed' } };
    if (!body) return { status: 400, body: { message: 'Request body is not a JSON object.' } };
    if (!commission) return { status: 404, body: { message: 'Not Found' } };
    if (typeof body.amount !== 'number' || !Number.isFinite(body.amount) || body.amount < 0) {
      return { status: 422, body: { message: 'amount must be a number.' } };
    }
    commission.amount = body.amount;
    if (typeof body.comment === 'string') commission.comment = body.comment;
    return { status: 200, body: commission };
  }

  /**
   * Applies the next fault, if any. True when the request has been answered (or dropped).
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {ReceivedPostback | ReceivedClick | ReceivedRest} record
   * @param {ReturnType<typeof faultState>} state
   */
  async function applyFault(req, res, record, state) {
    const injection = state.next();
    if (!injection || injection === 'pass') return false;
    const rejection = typeof injection === 'object' ? injection : injection === 'reject' ? DEFAULT_REJECTION : undefined;
    record.fault = rejection ? 'reject' : /** @type {Fault} */ (injection);
    if (rejection) {
      record.rejection = rejection;
      reject(res, record, rejection);
      return true;
    }
    if (injection === 'drop') {
      report(record);
      req.socket.destroy();
      return true;
    }
    if (injection === 'slow') {
      await wait(state.spec.slowMs ?? DEFAULT_SLOW_MS);
      return false;
    }
    if (injection === '503') {
      finish(res, record, 503, { message: 'Service Unavailable' });
      return true;
    }
    if (injection === '429') {
      res.setHeader('Retry-After', '1');
      finish(res, record, 429, { message: 'Too Many Requests' });
      return true;
    }
    if (injection === '302' || injection === '307') {
      const location = `${baseUrl}${REDIRECTED_PATH}${record.kind}/${++redirectSequence}`;
      record.location = location;
      res.setHeader('Location', location);
      finish(res, record, Number(injection), { message: injection === '302' ? 'Found' : 'Temporary Redirect' });
      return true;
    }
    return false;
  }

  /**
   * @param {import('node:http').ServerResponse} res
   * @param {ReceivedPostback | ReceivedClick | ReceivedRest} record
   * @param {Rejection} rejection
   */
  function reject(res, record, rejection) {
    const status = Number(rejection.status) || DEFAULT_REJECTION.status;
    record.status = status;
    if (!res.destroyed) {
      if (rejection.retryAfter !== undefined) res.setHeader('Retry-After', rejection.retryAfter);
      if (typeof rejection.body === 'string') {
        res.writeHead(status, { 'content-type': rejection.contentType ?? 'text/plain; charset=utf-8' }).end(rejection.body);
      } else {
        const body = rejection.body !== undefined ? rejection.body : { message: rejection.message ?? DEFAULT_REJECTION.message };
        res.writeHead(status, { 'content-type': rejection.contentType ?? 'application/json' }).end(JSON.stringify(body));
      }
    }
    report(record);
  }

  /**
   * The key check every API shares. True when the request has been answered.
   * @param {import('node:http').ServerResponse} res
   * @param {ReceivedPostback | ReceivedClick | ReceivedRest} record
   */
  function refuseKey(res, record) {
    if (!record.apiKey) {
      record.status = 401;
      res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' }).end(UNAUTHORIZED_HTML);
      report(record);
      return true;
    }
    if (record.apiKey !== apiKey) {
      finish(res, record, 401, { message: 'Authentication Failed.' });
      return true;
    }
    return false;
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {'conversion' | 'customer'} kind
   * @param {URL} url
   */
  async function handlePostback(req, res, kind, url) {
    const at = Date.now();
    /** @type {Record<string, unknown>} */
    const fields = Object.fromEntries(url.searchParams);
    let malformed = false;
    if (req.method === 'POST') {
      const parsed = parseObject(await readBody(req));
      if (parsed) Object.assign(fields, parsed);
      else if (parsed === null) malformed = true;
    }
    /** @type {ReceivedPostback} */
    const record = { kind, method: req.method ?? 'GET', fields, apiKey: header(req, 'x-api-key'), contentType: header(req, 'content-type'), status: 0, at };
    received.push(record);

    if (await applyFault(req, res, record, postbackFaults)) return;
    if (refuseKey(res, record)) return;
    if (malformed) return finish(res, record, 400, { message: 'Request body is not a JSON object.' });
    const { status, body } = answerPostback(kind, fields);
    finish(res, record, status, body);
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   */
  async function handleClick(req, res) {
    const at = Date.now();
    const parsed = parseObject(await readBody(req));
    /** @type {ReceivedClick} */
    const record = { kind: 'click', method: req.method ?? 'POST', fields: parsed ?? {}, apiKey: header(req, 'x-api-key'), contentType: header(req, 'content-type'), status: 0, at };
    clicks.push(record);

    if (await applyFault(req, res, record, clickFaults)) return;
    if (refuseKey(res, record)) return;
    if (!parsed) return finish(res, record, 400, { message: 'Request body is not a JSON object.' });
    const { status, body, id } = answerClick(parsed);
    if (id) record.id = id;
    finish(res, record, status, body);
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {URL} url
   */
  async function handleRest(req, res, url) {
    const at = Date.now();
    const raw = await readBody(req);
    const parsed = parseObject(raw);
    const method = req.method ?? 'GET';
    /** @type {ReceivedRest} */
    const record = { kind: 'rest', method, path: url.pathname + url.search, fields: parsed ?? {}, apiKey: header(req, 'x-api-key'), contentType: header(req, 'content-type'), status: 0, at };
    rest.push(record);

    if (await applyFault(req, res, record, restFaults)) return;
    if (refuseKey(res, record)) return;
    const { status, body } = answerRest(method, url, parsed === undefined && method !== 'PATCH' ? {} : parsed);
    finish(res, record, status, body);
  }

  /**
   * Records whatever a redirected client sent on, and answers 200 as a naive client would like.
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {URL} url
   */
  async function handleRedirected(req, res, url) {
    /** @type {Record<string, string>} */
    const headers = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    /** @type {RedirectedRequest} */
    const record = { path: url.pathname + url.search, method: req.method ?? 'GET', headers, apiKey: headers['x-api-key'] ?? null, body: await readBody(req), at: Date.now() };
    redirected.push(record);
    if (print) console.log(describeRedirected(record));
    sendJson(res, 200, { id: 'redirected' });
  }

  /**
   * @param {import('node:http').ServerResponse} res
   * @param {ReceivedPostback | ReceivedClick | ReceivedRest} record
   * @param {number} status
   * @param {unknown} body
   */
  function finish(res, record, status, body) {
    record.status = status;
    if (!res.destroyed) sendJson(res, status, body);
    report(record);
  }

  /** @param {ReceivedPostback | ReceivedClick | ReceivedRest} record */
  function report(record) {
    if (!print) return;
    if (record.kind === 'click') console.log(describeClick(record, apiKey));
    else if (record.kind === 'rest') console.log(describeRest(record, apiKey));
    else console.log(describePostback(record, apiKey));
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {URL} url
   */
  async function handleControl(req, res, url) {
    if (req.method === 'GET' && url.pathname === '/__control/received') return sendJson(res, 200, received);
    if (req.method === 'GET' && url.pathname === '/__control/clicks') return sendJson(res, 200, clicks);
    if (req.method === 'GET' && url.pathname === '/__control/redirected') return sendJson(res, 200, redirected);
    if (req.method === 'GET' && url.pathname === '/__control/rest') return sendJson(res, 200, rest);
    if (req.method === 'GET' && url.pathname === '/__control/conversions') return sendJson(res, 200, [...tapConversions.values()]);
    if (req.method === 'POST' && url.pathname === '/__control/conversions') {
      const seed = parseObject(await readBody(req));
      if (!seed || typeof seed.external_id !== 'string' || !seed.external_id) {
        return sendJson(res, 400, { message: 'a seed is a JSON object with an external_id' });
      }
      return sendJson(res, 200, seedConversion(/** @type {ConversionSeed} */ (/** @type {unknown} */ (seed))));
    }
    if (req.method === 'POST' && url.pathname === '/__control/reset') {
      reset();
      return sendJson(res, 200, { ok: true });
    }
    if (req.method === 'POST' && url.pathname === '/__control/faults') {
      /** @type {unknown} */
      let spec;
      try {
        spec = JSON.parse((await readBody(req)) || '{}');
      } catch {
        return sendJson(res, 400, { message: 'fault spec must be JSON' });
      }
      if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return sendJson(res, 400, { message: 'fault spec must be a JSON object' });
      setFaults(/** @type {FaultSpec} */ (spec));
      return sendJson(res, 200, { ok: true });
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
    else if (url.pathname.startsWith(REDIRECTED_PATH)) handled = handleRedirected(req, res, url);
    else if (url.pathname === CLICKS_PATH) {
      handled = req.method === 'POST' ? handleClick(req, res) : Promise.resolve(sendJson(res, 405, { message: 'Method Not Allowed' }));
    } else if (url.pathname.startsWith(REST_PATH)) handled = handleRest(req, res, url);
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
  baseUrl = url;

  return {
    url,
    conversionUrl: url + CONVERSION_PATH,
    customerUrl: url + CUSTOMER_PATH,
    clicksUrl: url + CLICKS_PATH,
    restUrl: url + REST_PATH,
    received,
    accepted: (kind) => received.filter((r) => r.status >= 200 && r.status < 300 && (!kind || r.kind === kind)),
    clicks,
    acceptedClicks: () => clicks.filter((r) => r.status >= 200 && r.status < 300),
    redirected,
    rest,
    conversions: () => [...tapConversions.values()],
    seedConversion,
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

/** One endpoint's faults: its spec and its random source. */
function faultState() {
  const state = {
    /** @type {FaultSpec} */
    spec: {},
    /** @type {() => number} */
    random: Math.random,
    /** @param {FaultSpec} spec */
    set(spec) {
      state.spec = { ...spec, next: [...(spec.next ?? [])] };
      state.random = spec.random?.seed === undefined ? Math.random : seededRandom(spec.random.seed);
    },
    /** @returns {Injection | undefined} */
    next() {
      const spec = state.spec;
      if (spec.down) return '503';
      if (spec.always) return spec.always;
      if (spec.next?.length) return spec.next.shift();
      const spread = spec.random;
      if (spread && spread.faults.length && state.random() < spread.rate) {
        return spread.faults[Math.floor(state.random() * spread.faults.length)];
      }
      return undefined;
    },
  };
  return state;
}

/** @param {unknown} value */
function present(value) {
  return value !== undefined && value !== null && String(value).trim() !== '';
}

/**
 * The JSON object in a body; undefined for an empty body, null for anything else.
 * @param {string} raw
 * @returns {Record<string, unknown> | null | undefined}
 */
function parseObject(raw) {
  if (!raw.trim()) return undefined;
  try {
    const parsed = JSON.parse(raw);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** @param {import('node:http').IncomingMessage} req @param {string} name */
function header(req, name) {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

/** @param {string | null} sent @param {string} expectedKey */
function describeKey(sent, expectedKey) {
  return !sent ? 'no key' : sent === expectedKey ? 'key ok' : 'wrong key';
}

/** @param {ReceivedPostback | ReceivedClick | ReceivedRest} record */
function describeOutcome(record) {
  const outcome = record.status === 0 ? 'dropped' : String(record.status);
  const fault = !record.fault
    ? ''
    : record.fault === 'reject'
      ? ` (fault reject${record.rejection?.message ? `: ${record.rejection.message}` : ''})`
      : ` (fault ${record.fault}${record.location ? ` → ${record.location}` : ''})`;
  return outcome + fault;
}

/** @param {Record<string, unknown>} fields */
function describeFields(fields) {
  return Object.entries(fields)
    .map(([name, value]) => `${name}=${typeof value === 'object' ? JSON.stringify(value) : value}`)
    .join(' ');
}

/**
 * One readable line per postback, for `npm start`. The key itself is never printed.
 * @param {ReceivedPostback} record
 * @param {string} expectedKey
 */
export function describePostback(record, expectedKey) {
  return `postback ${record.kind} ${record.method} → ${describeOutcome(record)} [${describeKey(record.apiKey, expectedKey)}] ${describeFields(record.fields)}`;
}

/**
 * One readable line per click, for `npm start`. The key itself is never printed.
 * @param {ReceivedClick} record
 * @param {string} expectedKey
 */
export function describeClick(record, expectedKey) {
  const id = record.id ? ` id=${record.id}` : '';
  return `click ${record.method} → ${describeOutcome(record)} [${describeKey(record.apiKey, expectedKey)}]${id} ${describeFields(record.fields)}`;
}

/**
 * One readable line per REST call, for `npm start`. The key itself is never printed.
 * @param {ReceivedRest} record
 * @param {string} expectedKey
 */
export function describeRest(record, expectedKey) {
  const fields = describeFields(record.fields);
  return `rest ${record.method} ${record.path} → ${describeOutcome(record)} [${describeKey(record.apiKey, expectedKey)}]${fields ? ` ${fields}` : ''}`;
}

/**
 * One line per request that followed a redirect: that should never happen. Says whether a key came along, never which.
 * @param {RedirectedRequest} record
 */
export function describeRedirected(record) {
  return `REDIRECT FOLLOWED ${record.method} ${record.path} [${record.apiKey ? 'key sent' : 'no key'}] ${record.body.length} body bytes`;
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
  console.log(
    `postback server listening on ${server.url} (conversion ${server.conversionUrl}, customer ${server.customerUrl}, clicks ${server.clicksUrl}, REST ${server.restUrl})`,
  );
  const stop = () => server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
