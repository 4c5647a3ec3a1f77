// zod/mini: the same validation as classic zod with a functional, tree-shakeable
// API, which keeps the worker bundle small (classic zod pulls in ~40 KB gzip more).
import { en } from 'zod/locales';
import * as z from 'zod/mini';

// zod/mini ships no messages ("Invalid input"); English ones name what is wrong.
z.config(en());

/**
 * Tapfiliate rejects meta_data with these characters, so we reject them
 * before a postback is wasted on them (Tapfiliate postback docs, meta_data).
 */
const META_FORBIDDEN = /[":{}\]\\'/&]/;
const META_FORBIDDEN_MESSAGE = 'must not contain " : { } ] \\ \' / &';

const text = (max: number) => z.string().check(z.trim(), z.minLength(1), z.maxLength(max));

/** Tapfiliate takes ids as strings; merchants' templates often print numbers. */
const idLike = (max: number) =>
  z.pipe(
    z.pipe(
      z.union([z.string(), z.number().check(z.refine(Number.isFinite, 'must be a finite number'))], {
        error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string or a number'),
      }),
      z.transform(String),
    ),
    text(max),
  );

const metaKey = z
  .string()
  .check(z.minLength(1), z.maxLength(64), z.refine((key) => !META_FORBIDDEN.test(key), META_FORBIDDEN_MESSAGE));

const metaValue = z.union([
  z.string().check(z.maxLength(255), z.refine((value) => !META_FORBIDDEN.test(value), META_FORBIDDEN_MESSAGE)),
  z.number().check(z.refine(Number.isFinite, 'must be a finite number')),
  z.boolean(),
]);

export const metaDataSchema = z
  .record(metaKey, metaValue)
  .check(z.refine((meta) => Object.keys(meta).length <= 10, 'at most 10 keys'));

/** Attribution identifiers, from the tap_data cookie or the request body. */
export const identifiersSchema = z.object({
  referral_code: z.optional(text(255)),
  click_id: z.optional(text(255)),
  asset_id: z.optional(text(255)),
  source_id: z.optional(text(255)),
  coupon: z.optional(text(255)),
});

const amountSchema = z.pipe(
  z.pipe(
    z.union([z.number(), z.string().check(z.trim(), z.regex(/^\d+(\.\d+)?$/, 'must be a number'))]),
    z.transform(Number),
  ),
  z.number().check(z.refine(Number.isFinite, 'must be a finite number'), z.gte(0)),
);

const currencySchema = z.pipe(
  z.string().check(z.regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code')),
  z.transform((code: string) => code.toUpperCase()),
);

export const conversionSchema = z.extend(identifiersSchema, {
  external_id: idLike(255),
  amount: z.optional(amountSchema),
  currency: z.optional(currencySchema),
  customer_id: z.optional(idLike(255)),
  meta_data: z.optional(metaDataSchema),
});

export const customerSchema = z.extend(identifiersSchema, {
  customer_id: idLike(255),
  meta_data: z.optional(metaDataSchema),
});

export const IDENTIFIER_FIELDS = ['coupon', 'click_id', 'referral_code', 'asset_id', 'source_id'] as const;

export type Identifiers = z.output<typeof identifiersSchema>;
/** What a page passes to `tap.convert()`. */
export type ConversionInput = z.input<typeof conversionSchema>;
export type Conversion = z.output<typeof conversionSchema>;
/** What a page passes to `tap.customer()`. */
export type CustomerInput = z.input<typeof customerSchema>;
export type Customer = z.output<typeof customerSchema>;

/** Every JSON answer of the proxy (contract §5), and the snippet's own ones (§2). */
export type TapResult =
  | { ok: true; status: 'sent' | 'queued' | 'duplicate' | 'unattributed' }
  | { ok: false; status: 'offline' | 'skipped'; reason: string }
  | { ok: false; error: string; issues?: { path: string; message: string }[]; message?: string };
