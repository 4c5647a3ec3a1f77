// The property-based fuzz, shared by the Node project `fuzz` (10,000 runs) and
// the workerd project `attack` (1,000 runs): generated bodies, headers and
// cookies through the real app with a recording delivery, and what must hold
// for every one of them (docs/reference.md, "Fields" and "Answers").
import fc from 'fast-check';
import { encodeReference } from '../../common/attribution';
import { createApp } from '../../proxy/app';
import type { CreateDelivery, DeliveryResult } from '../../proxy/delivery';
import { fakeDelivery } from '../fake-delivery';
import type { PostbackJob } from '../../proxy/tapfiliate';

export const ORIGIN = 'https://shop.example';
export const LISTED = 'https://checkout.shop.example';
export const KEY = 'Fuzz-Key/Secret+7Q';
export const SECRET = 'fuzz-signing-secret';
export const TOKEN = 'fuzz-server-token';
export const MAX_AMOUNT = 100_000;
export const SEED = 20_260_425;

// The rules as docs/reference.md ("Fields and ids") states them, written here from the contract and not imported
// from the code, so a wrong limit or a missing character class in the code fails the fuzz.
/** "An id … is a string of 1–255 characters". */
const ID_MAX_LENGTH = 255;
/** "… with no control characters (C0, C1) and no bidirectional-override characters" (U+202A–U+202E, U+2066–U+2069). */
const FORBIDDEN_ID_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** The identifiers, in the contract's attribution order: coupon > click_id > referral_code > asset_id + source_id. */
const IDENTIFIER_FIELDS = ['coupon', 'click_id', 'referral_code', 'asset_id', 'source_id'] as const;
const SECRETS = [KEY, KEY.toLowerCase(), encodeURIComponent(KEY), SECRET, TOKEN];

// ── Generators ────────────────────────────────────────────────────────────

/** A JSON value written as raw text, so number literals JSON.stringify cannot produce (1e300, 2^64) get through. */
type Raw = { raw: string };
const raw = (text: string): Raw => ({ raw: text });
const json = (value: unknown): Raw => raw(JSON.stringify(value) ?? 'null');

const hostileText = fc.oneof(
  fc.constantFrom('a\u0000b', 'a\r\nb', 'cod\u202Eexe', 'a\u2066b', 'a\u0085b', '\u007f', ' ', '', 'x'.repeat(256), '<script>', '"\'\\/&:{}]', '\uD800', '💸', 'ﬀ', '\u200b'),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const printable = fc.stringMatching(/^[A-Za-z0-9_.-]{1,24}$/);

const idValue: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 40, arbitrary: printable.map(json) },
  // Either side of the contract's length limit.
  { weight: 2, arbitrary: fc.integer({ min: 250, max: 260 }).map((length) => json('i'.repeat(length))) },
  { weight: 2, arbitrary: hostileText.map(json) },
  { weight: 2, arbitrary: fc.integer().map(json) },
  fc.constantFrom(raw('12345678901234567891'), raw('9007199254740993'), raw('1e300'), raw('-0'), raw('1.5'), raw('null'), raw('true'), raw('{}'), raw('[]'), raw('{"__proto__":{"x":1}}')),
  fc.double().map(json),
);

const amountValue: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: 0, max: 200_000, noNaN: true }).map(json) },
  { weight: 4, arbitrary: fc.integer({ min: -10, max: 300_000 }).map(json) },
  fc.constantFrom(raw('1e300'), raw('1e-400'), raw('-1'), raw('100000'), raw('100000.01'), raw('"100000"'), raw('"1e5"'), raw('" 12.5 "'), raw('"12,50"'), raw('"0x10"'), raw('"Infinity"'), raw('null'), raw('[]'), raw('{}')),
  fc.double().map(json),
  fc.string({ maxLength: 12 }).map(json),
);

const metaValue: fc.Arbitrary<Raw> = fc.oneof(
  fc.dictionary(fc.oneof(printable, hostileText, fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString')), fc.oneof(printable, hostileText, fc.integer(), fc.boolean(), fc.double(), fc.constant(null)), { maxKeys: 12 }).map(json),
  fc.constantFrom(raw('{"__proto__":{"polluted":"yes"}}'), raw('{"__proto__":"x","plan":"pro"}'), raw('{"constructor":{"prototype":{"polluted":1}}}'), raw('[1,2]'), raw('"plan"'), raw('null'), raw('{"a":{"b":1}}')),
);

const cookieIdentifiers = fc.record(
  { referral_code: idValue, click_id: idValue, coupon: idValue, asset_id: idValue, source_id: idValue, ts: fc.integer().map(json) },
  { requiredKeys: [] },
);
/** A JSON object as text; `extra` is raw `"key":value` text added last (prototype keys, which no JS object literal can hold). */
const rawObject = (fields: Record<string, Raw>, extra = '') =>
  `{${[...Object.entries(fields).map(([key, value]) => `${JSON.stringify(key)}:${value.raw}`), ...(extra ? [extra] : [])].join(',')}}`;
const prototypeKeys = fc.constantFrom('', '', '', '"__proto__":{"referral_code":"proto","amount":1e300}', '"__proto__":null', '"constructor":{"prototype":{"polluted":1}}', '"external_id":"dup","external_id":"second"');

const tapData: fc.Arbitrary<string> = fc.oneof(
  cookieIdentifiers.map((fields) => encodeURIComponent(rawObject(fields))),
  cookieIdentifiers.map((fields) => rawObject(fields)),
  fc.constantFrom('%7Bnot-json', '%E0%A4%A', '[]', 'null', '{"__proto__":{"referral_code":"x"}}'),
  hostileText,
);

const reference: fc.Arbitrary<string> = fc.oneof(
  fc.record({ referral_code: printable, coupon: printable }, { requiredKeys: [] }).map((fields) => encodeReference(fields) ?? 't1'),
  fc.constantFrom('t1', 't1AAAA', 't1____', 'x'.repeat(300)),
  hostileText,
);

/** Present in about one body of `every`, absent otherwise. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, every = 4) =>
  fc.oneof({ weight: every - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
/** Absent in about one body of `every`. */
const often = <T>(arbitrary: fc.Arbitrary<T>, every = 5) => fc.option(arbitrary, { nil: undefined, freq: every });
const withoutUndefined = <T extends object>(record: T) =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };

/** The fields a body may carry, each a raw JSON value (prototype keys are added by prototypeKeys). */
const bodyFields: fc.Arbitrary<Record<string, Raw>> = fc
  .record({
    external_id: often(idValue, 12),
    customer_id: sometimes(idValue, 2),
    referral_code: often(idValue, 4),
    amount: often(amountValue, 3),
    currency: sometimes(fc.oneof(fc.constantFrom('EUR', 'eur', 'EURO', '€', ''), hostileText).map(json)),
    coupon: sometimes(idValue),
    click_id: sometimes(idValue),
    asset_id: sometimes(idValue),
    source_id: sometimes(idValue),
    meta_data: sometimes(metaValue),
    test: sometimes(fc.oneof(fc.boolean().map(json), fc.constantFrom(raw('"true"'), raw('1')))),
    ip: sometimes(fc.oneof(fc.ipV4(), fc.ipV6(), hostileText).map(json)),
    user_agent: sometimes(fc.oneof(fc.string({ maxLength: 40 }), fc.nat(3000).map((n) => 'U'.repeat(n))).map(json)),
    tap_data: sometimes(tapData.map(json)),
    reference: sometimes(reference.map(json)),
    landing_page: sometimes(fc.webUrl().map(json)),
    cookie_domain: sometimes(fc.constantFrom('shop.example', '.shop.example', 'evil.example', 'a..b', '').map(json)),
    cookie_days: sometimes(fc.oneof(fc.integer({ min: -5, max: 400 }), fc.double()).map(json)),
    ts: sometimes(fc.integer().map(json)),
  })
  .map(withoutUndefined);

type Signing = 'none' | 'valid' | 'wrong' | 'expired' | 'garbage';

/** A body: mostly a JSON object of the fields above (maybe signed), sometimes anything at all. */
const body = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      fields: bodyFields,
      extra: prototypeKeys,
      signing: fc.oneof({ weight: 6, arbitrary: fc.constant<Signing>('none') }, { weight: 3, arbitrary: fc.constant<Signing>('valid') }, fc.constantFrom<Signing>('wrong', 'expired', 'garbage')),
      inside: bodyFields,
      insideExtra: prototypeKeys,
    }),
  },
  { weight: 1, arbitrary: fc.oneof(fc.jsonValue().map((value) => JSON.stringify(value)), fc.string({ maxLength: 64 }), fc.constantFrom('', '{', '{"external_id":', 'null', '[]', '"x"', '1e300', '{"a":1}'.repeat(3000))).map((text) => ({ text })) },
);

const headerText = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
const headers = fc
  .record({
    origin: fc.oneof(
      { weight: 12, arbitrary: fc.constant<string | undefined>(ORIGIN) },
      fc.constantFrom<string | undefined>(undefined, LISTED, 'https://evil.example', 'null', `${ORIGIN}.evil.example`, 'http://shop.example'),
    ),
    authorization: fc.oneof(
      { weight: 14, arbitrary: fc.constant<string | undefined>(undefined) },
      { weight: 4, arbitrary: fc.constant<string | undefined>(`Bearer ${TOKEN}`) },
      fc.constantFrom<string | undefined>('Bearer wrong', 'Bearer ', `Basic ${TOKEN}`, TOKEN, `bearer  ${TOKEN} `),
      headerText,
    ),
    'cf-connecting-ip': fc.oneof(
      { weight: 4, arbitrary: fc.oneof(fc.ipV4(), fc.ipV6()) },
      fc.constantFrom<string | undefined>(undefined, 'not-an-ip', '203.0.113.7, 10.0.0.1', '203.0.113.99', ' 1.2.3.4 ', '::ffff:1.2.3.4'),
      headerText,
    ),
    'user-agent': fc.oneof(
      { weight: 10, arbitrary: headerText },
      fc.constantFrom<string | undefined>(undefined, 'M'.repeat(513), 'M'.repeat(8192), 'M'.repeat(64 * 1024)),
    ),
    'content-type': fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom<string | undefined>('text/plain;charset=UTF-8', 'application/json') },
      fc.constantFrom<string | undefined>(undefined, 'APPLICATION/JSON; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data', 'text/html', ''),
    ),
    cookie: fc.oneof(
      { weight: 2, arbitrary: fc.constant<string | undefined>(undefined) },
      tapData.map((value) => `other=1; tap_data=${value.replace(/[;\r\n\u0000]/g, '')}`).filter((value) => /^[\x20-\x7e]*$/.test(value)),
    ),
  })
  .map(withoutUndefined);

export const requests = fc.record({
  path: fc.constantFrom('/_tap/convert', '/_tap/convert', '/_tap/convert', '/_tap/customer', '/_tap/customer', '/_tap/click'),
  trust: fc.constantFrom<'open' | 'signed'>('open', 'signed'),
  body,
  headers,
  delivery: fc.constantFrom<DeliveryResult['status']>('sent', 'sent', 'queued', 'duplicate', 'rejected', 'unavailable'),
});
export type FuzzRequest = typeof requests extends fc.Arbitrary<infer T> ? T : never;

// ── Building and checking ─────────────────────────────────────────────────

async function hmacHex(text: string, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return [...new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The body's text, and whether it carries a `signed` field the proxy will read. */
async function bodyText(request: FuzzRequest): Promise<{ text: string; hasSigned: boolean }> {
  if ('text' in request.body) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(request.body.text);
    } catch {
      parsed = undefined;
    }
    const hasSigned = Boolean(parsed && typeof parsed === 'object' && !Array.isArray(parsed) && Object.hasOwn(parsed, 'signed'));
    return { text: request.body.text, hasSigned };
  }
  const { fields, extra, signing, inside, insideExtra } = request.body;
  if (signing === 'none') return { text: rawObject(fields as Record<string, Raw>, extra), hasSigned: false };
  const insideFields: Record<string, Raw> = { ...(inside as Record<string, Raw>) };
  if (signing === 'expired') insideFields.exp = json(Math.floor(Date.now() / 1000) - 10);
  const signed = rawObject(insideFields, insideExtra);
  const signature = signing === 'garbage' ? 'not-hex' : await hmacHex(signed, signing === 'wrong' ? 'other-secret' : SECRET);
  return { text: rawObject({ ...(fields as Record<string, Raw>), signed: json(signed), signature: json(signature) }, extra), hasSigned: true };
}

export const FUZZ_ENV = (trust: 'open' | 'signed', base: Partial<Env>): Env =>
  ({
    ...base,
    TAPFILIATE_API_KEY: KEY,
    TAPLINE_SERVER_TOKEN: TOKEN,
    TAPLINE_SIGNING_SECRET: trust === 'signed' ? SECRET : undefined,
    ALLOWED_ORIGINS: LISTED,
    MAX_AMOUNT: '',
    // Clicks off: the click route then needs neither Tapfiliate nor the ledger.
    TAPFILIATE_CLICKS_URL: '',
    // Deterministic: one address (…99) is always over the limit.
    TAPLINE_RATE_LIMIT: { limit: async ({ key }: { key: string }) => ({ success: !key.endsWith('.99') }) },
  }) as Env;

const IDENTIFIER_AND_ID_FIELDS = ['external_id', 'customer_id', ...IDENTIFIER_FIELDS] as const;
const CONVERSION_FIELDS = new Set(['external_id', 'amount', 'currency', 'customer_id', 'meta_data', ...IDENTIFIER_FIELDS, 'ip', 'user_agent']);
const CUSTOMER_FIELDS = new Set(['customer_id', 'meta_data', ...IDENTIFIER_FIELDS, 'ip', 'user_agent']);

export function isIpAddress(value: string): boolean {
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(value)) return true;
  if (!/^[0-9a-f:.]+$/i.test(value) || !value.includes(':')) return false;
  try {
    return new URL(`http://[${value}]/`).hostname.startsWith('[');
  } catch {
    return false;
  }
}

/** Every way a postback body breaks the contract; empty when it is fine. */
export function contractViolations(kind: 'conversion' | 'customer', body: Record<string, unknown>, capped: boolean): string[] {
  const problems: string[] = [];
  const allowed = kind === 'conversion' ? CONVERSION_FIELDS : CUSTOMER_FIELDS;
  for (const key of Reflect.ownKeys(body)) if (typeof key !== 'string' || !allowed.has(key)) problems.push(`unexpected field ${String(key)}`);
  if (Object.getPrototypeOf(body) !== Object.prototype) problems.push('prototype changed');
  for (const field of IDENTIFIER_AND_ID_FIELDS) {
    const value = body[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length < 1 || value.length > ID_MAX_LENGTH || FORBIDDEN_ID_CHARACTERS.test(value) || value !== value.trim()) {
      problems.push(`${field} is not a valid id: ${JSON.stringify(value)}`);
    }
  }
  if (kind === 'conversion' && body.external_id === undefined) problems.push('no external_id');
  if (kind === 'customer' && body.customer_id === undefined) problems.push('no customer_id');
  const { coupon, click_id, referral_code, asset_id, source_id } = body;
  if (!(coupon || click_id || referral_code || (asset_id && source_id))) problems.push('no identifier');
  if (body.amount !== undefined) {
    const amount = body.amount;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) problems.push(`amount ${String(amount)}`);
    else if (capped && amount > MAX_AMOUNT) problems.push(`unsigned browser amount ${amount} over MAX_AMOUNT`);
  }
  if (body.currency !== undefined && !(typeof body.currency === 'string' && /^[A-Z]{3}$/.test(body.currency))) problems.push('currency');
  if (body.ip !== undefined && !(typeof body.ip === 'string' && isIpAddress(body.ip))) problems.push(`ip ${JSON.stringify(body.ip)}`);
  if (body.user_agent !== undefined && !(typeof body.user_agent === 'string' && body.user_agent.length <= 512 && !/[\u0000-\u001f\u007f]/.test(body.user_agent))) {
    problems.push('user_agent');
  }
  if (body.meta_data !== undefined) {
    const meta = body.meta_data as Record<string, unknown>;
    const keys = Reflect.ownKeys(meta);
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta) || keys.length > 10 || Object.getPrototypeOf(meta) !== Object.prototype) problems.push('meta_data shape');
    for (const key of keys) {
      const value = meta[key as string];
      if (typeof key !== 'string' || key === '__proto__' || key.length > 64 || /[":{}\]\\'/&]/.test(key) || FORBIDDEN_ID_CHARACTERS.test(key)) problems.push(`meta_data key ${String(key)}`);
      const ok =
        typeof value === 'boolean' ||
        (typeof value === 'number' && Number.isFinite(value)) ||
        (typeof value === 'string' && value.length <= 255 && !/[":{}\]\\'/&]/.test(value) && !FORBIDDEN_ID_CHARACTERS.test(value));
      if (!ok) problems.push(`meta_data value ${JSON.stringify(value)}`);
    }
  }
  const text = JSON.stringify(body);
  for (const secret of SECRETS) if (text.includes(secret)) problems.push('a secret in the postback');
  return problems;
}

export interface Totals {
  generated: number;
  byStatus: Record<string, number>;
  jobs: number;
  testAnswers: number;
  /** 503 not_configured to a signed event in open trust: documented, and the browser keeps it. */
  signedInOpenTrust: number;
}

export const newTotals = (): Totals => ({ generated: 0, byStatus: {}, jobs: 0, testAnswers: 0, signedInOpenTrust: 0 });

const ANSWERS: Partial<Record<DeliveryResult['status'], DeliveryResult>> = {
  sent: { status: 'sent' },
  queued: { status: 'queued' },
  duplicate: { status: 'duplicate' },
  // The worst upstream: its message holds the key in other cases and encodings, and a referral-code hint.
  rejected: { status: 'rejected', upstreamStatus: 422, message: `bad key ${KEY.toLowerCase()} ${encodeURIComponent(KEY)}; referral code x does not exist` },
  unavailable: { status: 'unavailable' },
};
/** The request being run: what the recording delivery answers, and where it records. */
let current: { answer: DeliveryResult; jobs: PostbackJob[] } = { answer: ANSWERS.sent!, jobs: [] };
const recordingDelivery: CreateDelivery = () =>
  fakeDelivery(async (submission) => {
    current.jobs.push(structuredClone(submission.job as PostbackJob));
    return current.answer;
  });
/** One app for every run, as one isolate serves many requests (Hono compiles its router on the first). */
const app = createApp({ createDelivery: recordingDelivery, fetchOrigin: () => new Response('origin') });

/**
 * Sends one generated request through the app and throws on anything the
 * contract forbids. `env` gives the runtime's bindings (real ones in workerd,
 * placeholders in Node).
 */
export async function runOne(request: FuzzRequest, base: Partial<Env>, ctx: ExecutionContext, totals: Totals, logLines: string[]): Promise<void> {
  const jobs: PostbackJob[] = [];
  current = { answer: ANSWERS[request.delivery]!, jobs };
  const { text, hasSigned } = await bodyText(request);
  const init: RequestInit = { method: 'POST', headers: request.headers as Record<string, string>, body: text };
  const response = await app.request(`${ORIGIN}${request.path}`, init, FUZZ_ENV(request.trust, base), ctx);
  const answerText = await response.text();
  totals.generated++;
  totals.byStatus[response.status] = (totals.byStatus[response.status] ?? 0) + 1;

  const fail = (why: string) => {
    throw new Error(`${why}\n  status ${response.status} ${answerText.slice(0, 300)}\n  body ${text.slice(0, 300)}\n  headers ${JSON.stringify(request.headers).slice(0, 300)}`);
  };
  let answer: { ok?: unknown; status?: string; error?: string; postbacks?: { kind: 'conversion' | 'customer'; body: Record<string, unknown> }[] };
  try {
    answer = JSON.parse(answerText);
  } catch {
    return fail('the answer is not JSON');
  }
  if (typeof answer?.ok !== 'boolean') fail('the answer has no boolean ok');
  if (!/^application\/json/.test(response.headers.get('content-type') ?? '')) fail('the answer is not declared JSON');
  for (const secret of SECRETS) {
    if (answerText.includes(secret) || [...response.headers.values()].join(' ').includes(secret)) fail('a secret in the answer');
  }
  if (response.status >= 500) {
    const documented = response.status === 503 && request.trust === 'open' && hasSigned && answer.error === 'not_configured';
    const unavailable = response.status === 503 && request.delivery === 'unavailable' && answer.error === 'temporarily_unavailable' && jobs.length === 1;
    if (documented) totals.signedInOpenTrust++;
    else if (!unavailable) fail(`a ${response.status}`);
  }
  if (response.status === 422 && JSON.stringify(answer) !== '{"ok":false,"error":"upstream_rejected"}') fail('the 422 says more than upstream_rejected');

  const authorized = request.headers.authorization !== undefined && /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization.trim())?.[1] === TOKEN;
  const capped = !authorized && !hasSigned;
  if (jobs.length > 1) fail('more than one job for one request');
  if (jobs.length === 1 && !(response.status === 200 || response.status === 202 || response.status === 422 || response.status === 503)) fail('a job handed on with a refusal');
  if (jobs.length === 1 && !authorized && request.trust === 'signed' && !hasSigned) fail('an unsigned browser event handed on in signed trust');
  const postbacks: { kind: 'conversion' | 'customer'; body: Record<string, unknown> }[] = [];
  for (const job of jobs) for (const kind of ['customer', 'conversion'] as const) if (job[kind]) postbacks.push({ kind, body: job[kind] as unknown as Record<string, unknown> });
  if (answer.status === 'test' && request.path !== '/_tap/click') {
    totals.testAnswers++;
    for (const postback of answer.postbacks ?? []) postbacks.push(postback);
  }
  totals.jobs += jobs.length;
  for (const { kind, body } of postbacks) {
    const problems = contractViolations(kind, body, capped);
    if (problems.length > 0) fail(`a ${kind} postback breaks the contract: ${problems.join('; ')}\n  postback ${JSON.stringify(body).slice(0, 300)}`);
  }
  for (const line of logLines.splice(0)) for (const secret of SECRETS) if (line.toLowerCase().includes(secret.toLowerCase())) fail(`a secret in a log line: ${line.slice(0, 200)}`);
}

/** The totals as one line per status, for the run's output. */
export function describeTotals(name: string, totals: Totals): string {
  const statuses = Object.entries(totals.byStatus)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ');
  return `[fuzz ${name}] generated ${totals.generated} requests (seed ${SEED}) → ${statuses}; jobs handed to delivery ${totals.jobs}; test-mode answers ${totals.testAnswers}; documented 503 (signed event, open trust) ${totals.signedInOpenTrust}`;
}
