import { z } from 'zod';

/**
 * Tapfiliate rejects meta_data with these characters, so we reject them
 * before a postback is wasted on them (Tapfiliate postback docs, meta_data).
 */
const META_FORBIDDEN = /[":{}\]\\'/&]/;

const text = (max: number) => z.string().trim().min(1).max(max);

/** Tapfiliate takes ids as strings; merchants' templates often print numbers. */
const idLike = (max: number) =>
  z.union([z.string(), z.number().finite()]).transform(String).pipe(text(max));

const metaKey = z
  .string()
  .min(1)
  .max(64)
  .refine((key) => !META_FORBIDDEN.test(key), 'must not contain " : { } ] \\ \' / &');

const metaValue = z.union([
  z
    .string()
    .max(255)
    .refine((value) => !META_FORBIDDEN.test(value), 'must not contain " : { } ] \\ \' / &'),
  z.number().finite(),
  z.boolean(),
]);

export const metaDataSchema = z
  .record(metaKey, metaValue)
  .refine((meta) => Object.keys(meta).length <= 10, 'at most 10 keys');

/** Attribution identifiers, from the tap_data cookie or the request body. */
export const identifiersSchema = z.object({
  referral_code: text(255).optional(),
  click_id: text(255).optional(),
  asset_id: text(255).optional(),
  source_id: text(255).optional(),
  coupon: text(255).optional(),
});

export const conversionSchema = identifiersSchema.extend({
  external_id: idLike(255),
  amount: z
    .union([z.number(), z.string().trim().regex(/^\d+(\.\d+)?$/, 'must be a number')])
    .transform(Number)
    .pipe(z.number().finite().min(0))
    .optional(),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code')
    .transform((code) => code.toUpperCase())
    .optional(),
  customer_id: idLike(255).optional(),
  meta_data: metaDataSchema.optional(),
});

export const customerSchema = identifiersSchema.extend({
  customer_id: idLike(255),
  meta_data: metaDataSchema.optional(),
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
