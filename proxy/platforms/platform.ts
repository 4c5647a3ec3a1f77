// The one shape of a payment platform (docs/guides/ has one guide per platform).
// Each platform is one file exporting a `Platform`; platforms/index.ts lists
// them, and routes/webhooks.ts serves every one with the same handler. What a
// platform may answer is a `PlatformReading`: the handler does the rest alike.

/** A webhook as a platform's `verify` reads it: the raw bytes, the same as text, and the headers. */
export interface WebhookRequest {
  bytes: Uint8Array<ArrayBuffer>;
  text: string;
  header(name: string): string | undefined;
}

/** A signature that holds, with the parsed event; else why not. `malformed`: signed, but no event we can read (answered 200 ignored). */
export type Verdict<Event> = { ok: true; event: Event } | { ok: false; reason: 'missing_signature' | 'invalid_signature' | 'expired' | 'malformed' };

/** A platform's order, as the conversion schema then checks it. */
export interface PlatformConversion {
  external_id: string;
  amount: number;
  currency: string;
  customer_id?: string;
}

/** A platform's refund: where its conversion may be found, and the refunds to take back, oldest first. */
export interface PlatformRefund {
  /** Platform ids the conversion's record may hold, tried in order (delivery.findConversion). */
  platformIds: string[];
  /** The conversion's external_id when no record holds those ids. */
  fallbackExternalId?: string;
  /** Each refund by its id; `amount` left out means the rest of the order. */
  refunds: { refund_id: string; amount?: number }[];
  currency?: string;
  /** What the buyer paid in all (Stripe's charge amount), which the refunds' amounts are part of. */
  gross?: number;
  /** The amounts are a part of what the buyer paid in all, which the conversion's record keeps (Shopify, without line items). */
  ofRecordedGross?: boolean;
  /** The amounts are what was refunded so far (Lemon Squeezy, Stripe charge.refunded without its refunds): the ledger counts what the refunds it accepted have not (delivery/lifecycle.ts cumulativeRefund). */
  cumulative?: boolean;
}

/** A refund event as a platform's own reader sees it (Stripe's, Shopify's): the refund and whether it is a test, or why it is ignored. */
export type RefundReading = ({ action: 'refund'; test: boolean } & PlatformRefund) | { action: 'ignore'; reason: string };

/**
 * What a verified event asks for:
 * - `conversion`: a sale; attributed by its reference (and `identifiers` the
 *   platform read itself, such as Shopify's discount code); with a
 *   `subscription`, its attribution is also kept for the renewals, unless one is;
 * - `renewal`: a subscription's payment; attributed by its reference, else by
 *   what the subscription's first attributed paid payment left;
 * - `remember`: a paid payment that converts nothing itself (Lemon Squeezy's
 *   initial subscription payment, whose order converted): only its attribution is kept;
 * - `refund`: money went back to the buyer;
 * - `ignore`: nothing to do, and why (answered 200 ignored).
 * `test` marks a platform's test event (docs/reference.md, "Test mode").
 */
export type PlatformReading =
  | {
      kind: 'conversion' | 'renewal';
      conversion: PlatformConversion;
      reference?: string;
      identifiers?: { coupon?: string };
      visitor?: { ip?: string; user_agent?: string };
      /** Ids a later refund finds this conversion by. */
      platformIds: string[];
      /** What the buyer paid in all (tax and shipping included), kept on the record for a refund without goods. */
      gross?: number;
      /** The subscription whose renewals this attribution covers (the first attributed paid payment writes it). */
      subscription?: string;
      /** A renewal's customer, whose attribution v3 remembered (docs/reference.md, "Subscriptions"): read until it expires. */
      customer?: string;
      test: boolean;
    }
  /** `payment`: the payment's own id, amount and currency, for its record when it is answered unattributed. */
  | { kind: 'remember'; subscription: string; reference?: string; payment?: PlatformConversion; test: boolean }
  | { kind: 'refund'; refund: PlatformRefund; test: boolean }
  /** `order`: the order it concerns, when there is one (an unpaid checkout), so the ledger can record why it was ignored. */
  | { kind: 'ignore'; reason: string; order?: PlatformConversion; test?: boolean };

/** A route of a platform: its path under BASE_PATH/webhooks/, the setting holding its secret, and whether what it verifies is a test event. */
export interface PlatformRoute {
  path: string;
  secret: string;
  test?: boolean;
}

export interface Platform<Name extends string = string, Event = unknown> {
  /** The record's `source`, and the platform's key in the subscription memory. */
  name: Name;
  routes: PlatformRoute[];
  /** Checks the signature over the raw bytes, before anything is parsed; then the event. */
  verify(request: WebhookRequest, secret: string): Promise<Verdict<Event>>;
  /** What the event asks for. Never throws on a payload. */
  read(event: Event): PlatformReading;
}

/** The one way to declare a platform: checks the shape, keeps the name's literal type. */
export const platform = <Name extends string, Event>(definition: Platform<Name, Event>) => definition;
