// The snippet's own types, so it depends on nothing outside snippet/ and common/.

type Id = string | number;

export type Identifiers = { referral_code?: Id; asset_id?: Id; source_id?: Id; coupon?: Id; click_id?: Id };

/** What a page passes to `tap.convert()`; see docs/reference.md for each field. */
export type ConversionInput = Identifiers & {
  /** Required, here or inside `signed`. */
  external_id?: Id;
  amount?: number | string;
  currency?: string;
  customer_id?: Id;
  meta_data?: Record<string, string | number | boolean>;
  /** A JSON string of the fields above, signed by the merchant's server. */
  signed?: string;
  /** Lowercase hex HMAC-SHA256 of `signed`. */
  signature?: string;
};

/** What a page passes to `tap.customer()`. */
export type CustomerInput = Identifiers & {
  /** Required, here or inside `signed`. */
  customer_id?: Id;
  meta_data?: Record<string, string | number | boolean>;
  signed?: string;
  signature?: string;
};

import type { TapResult } from '../common/contract';
export type { TapResult };

/** The captured identifiers, as stored in the cookie with `ts`. */
export type Attribution = Record<string, string | number>;

export type { EventRoute } from '../common/contract';
