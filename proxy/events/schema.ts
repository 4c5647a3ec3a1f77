// What each route accepts (docs/reference.md, "Fields"). zod/mini: the same
// checks as classic zod with a tree-shakeable API, ~40 KB gzip less in the worker.
import { en } from 'zod/locales';
import * as z from 'zod/mini';
import { FORBIDDEN_ID_CHARACTERS, ID_MAX_LENGTH } from '../../common/attribution';
import { MAX_COOKIE_DAYS } from '../../common/contract';
import { isCurrency } from '../lib/currency';
import { isIp } from '../lib/network';

// zod/mini ships no messages ("Invalid input"); English ones name what is wrong.
z.config(en());

const printable = (value: string) => !FORBIDDEN_ID_CHARACTERS.test(value);
const NOT_PRINTABLE = 'must not contain control or bidirectional-override characters';

/**
 * A lone UTF-16 surrogate has no UTF-8 form: encodeURIComponent throws on it
 * (the console's links, Tapfiliate's REST lookup), so no string field may hold
 * one (docs/reference.md, "Fields and ids"). A regular expression, not
 * String.prototype.isWellFormed, so the fuzz suite's Node and every runtime agree.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const wellFormed = z.refine<string>((value) => !LONE_SURROGATE.test(value), 'must be well-formed Unicode (it holds a lone UTF-16 surrogate)');
/** Any text field: well-formed, nothing else asked. */
const text = () => z.string().check(wellFormed);

/**
 * An id: a string of 1–255 printable characters, or a safe integer (a larger
 * number has already lost digits when JSON.parse read it). Sent on as a string.
 */
const id = z.pipe(
  z.union(
    [
      z.string().check(z.trim()),
      z.number().check(z.refine(Number.isSafeInteger, 'must be a string, or an integer below 2^53 (send long numbers as strings)')),
    ],
    { error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string or an integer') },
  ),
  z.pipe(
    z.transform(String),
    z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(ID_MAX_LENGTH), z.refine(printable, NOT_PRINTABLE), wellFormed),
  ),
);

/**
 * Tapfiliate rejects meta_data with these characters, so they are refused
 * before a postback is wasted on them (Tapfiliate's postback docs, meta_data).
 */
const META_FORBIDDEN = /[":{}\]\\'/&]/;
const META_FORBIDDEN_MESSAGE = 'must not contain " : { } ] \\ \' / &';
const metaText = (min: number, max: number) =>
  z.string().check(
    z.minLength(min),
    z.maxLength(max),
    z.refine((text) => !META_FORBIDDEN.test(text), META_FORBIDDEN_MESSAGE),
    z.refine(printable, NOT_PRINTABLE),
    wellFormed,
  );
// `__proto__` would set the prototype of an object built from the record rather than add a key.
const metaKey = metaText(1, 64).check(z.refine((key) => key !== '__proto__', 'is not allowed'));
const metaValue = z.union([metaText(0, 255), z.number().check(z.refine(Number.isFinite, 'must be a finite number')), z.boolean()]);

// zod skips a `__proto__` key when it builds the record (so metaKey never sees it), and the
// event would go on with that key silently dropped; it is refused before the record is read.
const withoutProtoKey = z.unknown().check(
  z.refine((meta) => !(meta && typeof meta === 'object' && Object.hasOwn(meta, '__proto__')), { error: 'is not allowed', path: ['__proto__'] }),
);

const metaDataSchema = z.pipe(
  withoutProtoKey,
  z.record(metaKey, metaValue).check(z.refine((meta) => Object.keys(meta).length <= 10, 'at most 10 keys')),
);

/** Attribution identifiers, from the tap_data cookie, a reference or the request body. */
export const identifiersSchema = z.object({
  coupon: z.optional(id),
  click_id: z.optional(id),
  referral_code: z.optional(id),
  asset_id: z.optional(id),
  source_id: z.optional(id),
});

const amountSchema = z.pipe(
  z.pipe(
    z.union([z.number(), z.string().check(z.trim(), z.regex(/^\d+(\.\d+)?$/, 'must be a number'))]),
    z.transform(Number),
  ),
  z.number().check(z.refine(Number.isFinite, 'must be a finite number'), z.gte(0)),
);

// Checked against the list (proxy/lib/currency.ts): Tapfiliate would take `XYZ` as it is.
const currencySchema = z.pipe(
  z.string().check(z.regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code'), z.refine((code) => code.length !== 3 || isCurrency(code), 'is not an active ISO 4217 currency code')),
  z.transform((code: string) => code.toUpperCase()),
);

/** Fields every event may carry besides its own: test mode (docs/reference.md, "Test mode"). */
const eventFlags = { test: z.optional(z.boolean()) };

export const conversionSchema = z.extend(identifiersSchema, {
  external_id: id,
  amount: z.optional(amountSchema),
  currency: z.optional(currencySchema),
  customer_id: z.optional(id),
  meta_data: z.optional(metaDataSchema),
  ...eventFlags,
});

export const customerSchema = z.extend(identifiersSchema, {
  customer_id: id,
  meta_data: z.optional(metaDataSchema),
  ...eventFlags,
});

/**
 * `POST /refund`: a refund of a conversion, from the merchant's server
 * (docs/reference.md, "Refunds"). `amount` is this refund alone, in the
 * order's currency; left out, the rest of the order is refunded.
 */
export const refundSchema = z.object({
  external_id: id,
  refund_id: id,
  amount: z.optional(z.pipe(amountSchema, z.number().check(z.gt(0, 'must be more than 0')))),
  currency: z.optional(currencySchema),
  ...eventFlags,
});

/** A signed event's envelope: the merchant's server signed `signed`, the browser passes it on. */
export const signedEnvelopeSchema = z.object({
  signed: z.string().check(z.minLength(2), z.maxLength(8192), wellFormed),
  signature: z.string().check(z.regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits (HMAC-SHA256)')),
});

/** `exp` inside `signed`: Unix seconds after which the proxy refuses it. */
export const signedExpirySchema = z.object({ exp: z.optional(z.number().check(z.refine(Number.isFinite, 'must be Unix seconds'))) });

/**
 * A visitor field a merchant's backend may send blank or null (an order created
 * in the shop's admin has no IP address): left out of the postback, never a
 * reason to refuse the order (docs/guides/wordpress-woocommerce.md).
 */
const blankIsMissing = (schema: z.ZodMiniString<string>) =>
  z.optional(
    z.pipe(
      // Anything else goes on to `schema` as it came, to be checked there.
      z.transform((value: unknown) => (value === null || (typeof value === 'string' && !value.trim()) ? undefined : (value as {}))),
      z.optional(schema),
    ),
  );

/** The shopper, as a merchant's backend saw them. Checked like the edge's own values. */
export const serverEventExtrasSchema = z.object({
  ip: blankIsMissing(z.string().check(z.refine((value) => isIp(value.trim()), 'must be an IPv4 or IPv6 address'))),
  user_agent: blankIsMissing(text()),
  tap_data: z.optional(z.string().check(z.maxLength(4096), wellFormed)),
  reference: z.optional(z.string().check(z.maxLength(200), wellFormed)),
});

/** `POST /click`: a landing the snippet has just stored. */
export const clickSchema = z.object({
  ...identifiersSchema.shape,
  /** Forwarded only when safe to show (routes/click.ts); otherwise left out, not refused. */
  landing_page: z.optional(text()),
  referrer: z.optional(text()),
  cookie_domain: z.optional(z.string().check(z.maxLength(253), z.regex(/^[A-Za-z0-9.-]*$/, 'must be a host name'))),
  cookie_days: z.optional(z.number().check(z.int(), z.gte(1), z.lte(MAX_COOKIE_DAYS))),
  ts: z.optional(z.number().check(z.int(), z.gte(0))),
  /** The landing's time in milliseconds, as the snippet sends it. It does not decide clicks: an attacker writes it (routes/click.ts). */
  landed_at: z.optional(z.number().check(z.int(), z.gte(0))),
  ...eventFlags,
});


export { IDENTIFIER_FIELDS } from '../../common/attribution';

/** A field's complaint as an answer names it: the path dotted (`meta_data.plan`; '' for the body). */
export interface Issue {
  path: string;
  message: string;
}

/** A schema's complaints as the answer names them, each path after `pathPrefix`. */
export function issuesOf(error: z.core.$ZodError, pathPrefix = ''): Issue[] {
  return error.issues.map((issue) => ({ path: pathPrefix + issue.path.map(String).join('.'), message: issue.message }));
}

export type Identifiers = z.output<typeof identifiersSchema>;
/** What a page passes to `tap.convert()`. */
export type ConversionInput = z.input<typeof conversionSchema>;
export type Conversion = z.output<typeof conversionSchema>;
/** What a page passes to `tap.customer()`. */
export type CustomerInput = z.input<typeof customerSchema>;
export type Customer = z.output<typeof customerSchema>;
export type Click = z.output<typeof clickSchema>;

