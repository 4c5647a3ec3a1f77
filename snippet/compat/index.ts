// Entry of tap-compat.js: Tapfiliate's own JavaScript calls on Tapline, so a
// theme written for Tapfiliate's tag keeps working when only the script's URL
// changes (docs/guides/from-tapfiliate-js.md). tap.js loads this file the first
// time a page makes one of these calls, and hands each one over in order with
// all its arguments (snippet/index.ts, snippet/kernel.ts).
//
// What each call does on Tapline. "Documented" is what Tapfiliate's JavaScript
// reference (tapfiliate.com/docs/javascript), its npm wrapper's README
// (Tapfiliate/tapfiliate-js) and its WordPress plugin's generated calls
// (Tapfiliate/tapfiliate-wordpress, snippet/tracking-snippet.php) say;
// "reading" is where they are silent and this is our choice.
//
// | call | Tapfiliate (documented) | Tapline |
// |---|---|---|
// | `create(account_id, options?, callback?)` | starts the tracker for an account; options are a stub; callback once the tracker is ready | nothing is sent: the worker's key names the account. The callback is called at once, with no argument |
// | `detect(options?, callback?)` | reads the URL's tracking parameters and tracks a click; callback only after a tracked click unless `always_callback` | tap.js captures every landing without it; here its options apply: `referral_code` is stored as if the URL carried `refc=<code>` (the click's landing page says so), `referral_code_param` names one more URL parameter read as `referral_code`, `cookie_domain` is used as `data-cookie-domain` when the tag has none and the page's host lies in it. With `data-consent="required"` it waits for consent, as `tap.convert` does: it runs at the first answer if that grants it, and detects nothing if it refuses; the calls after it wait for it. Callback (reading): `callback(attribution)` when this URL or `referral_code` made a landing that is now stored; with `always_callback: true`, `callback(null, attribution)`, or `callback(error, null)` when nothing was detected |
// | `conversion(external_id, amount, options?, commission_type?, callback?)` | a conversion; options `customer_id`, `currency`, `meta_data`, `coupons` | `tap.convert({ external_id, amount, currency, customer_id, coupon, meta_data })`; `coupons` a string or an array whose first entry is the coupon (reading: the postback takes one). `commission_type` is left out: Tapfiliate's postback API documents no such field (debug mode says so). Callback: the TapResult |
// | `conversionMulti(external_id, options?, commissions, callback?)` | a conversion of several `{ sub_amount, commission_type }` | one `tap.convert` whose amount is the sum of the `sub_amount`s; commission types left out as above; an entry without a number ≥ 0 is left out of the sum (debug mode says so). Callback: the TapResult |
// | `customer(customer_id, options?, callback?)` | a customer; options `meta_data` | `tap.customer({ customer_id, meta_data })`. Callback: the TapResult |
// | `trial(…)`, `lead(…)` | a customer with the status trial or lead | as `customer`: Tapfiliate's customer postback has no status, so Tapfiliate records a customer (reading; debug mode says so) |
// | `getTrackingId(null, callback)` | `callback(tracking_id)` or `callback(null)` | `callback(click_id)` from the stored attribution, or `callback(null)`; on a landing (from the URL or from `detect`), once it is stored and its click answered, as that answer brings the `click_id` |
//
// Every call, as documented: queued before tap.js loads or made after it, replayed in
// order. Tapline's own calls beside them (`tap('convert', …)`, `tap.convert`,
// `tap.customer`) run at once, as on any page, but the event they keep waits, before
// it is sent, for the landing of every `detect` made before it is stored, so it
// carries the `referral_code` that `detect` gave (snippet/outbox/index.ts).
// `meta_data` is fitted to the limits Tapfiliate documents (at most 10 keys of at
// most 64 characters, values of at most 255, none of `" : { } ] \ ' / &` or control
// characters): what breaks them is cut out rather than have the proxy refuse the
// whole conversion, and debug mode says so. Every callback is called at
// most once, and one that throws is logged, never thrown into the page. Any other
// call is ignored with a debug line.
import { FORBIDDEN_ID_CHARACTERS, capturable } from '../../common/attribution';
import { capture } from '../capture';
import { kernel, type EventsModule } from '../kernel';
import { Limit, Name } from '../names';
import type { Attribution, ConversionInput, CustomerInput, TapResult } from '../types';

type Callback = (...args: unknown[]) => unknown;
type Options = Record<string, unknown>;

const tap = (window as unknown as { tap: { convert: (event: ConversionInput) => Promise<TapResult>; customer: (event: CustomerInput) => Promise<TapResult>; data: () => Attribution | null } }).tap;

/** The prefix of every line this file logs, so a merchant sees which of their calls it is about. */
const log = (...args: unknown[]) => kernel.log('tapfiliate', ...args);

/** Characters Tapfiliate documents as illegal in meta_data (the proxy refuses them too, proxy/schema.ts). */
const META_FORBIDDEN = /[":{}\]\\'/&]/g;
const META_KEYS = 10;
const META_KEY_LENGTH = 64;
const META_VALUE_LENGTH = 255;

/** Settles once the landing of the last `detect` is stored: the calls after it wait, so they carry its cookie. */
let landed: Promise<unknown> = Promise.resolve();

/** The first function among a call's arguments, called at most once; a throw inside it is logged, never thrown into the page. */
const callbackOf = (args: unknown[]) => {
  let callback = args.find((arg) => typeof arg == 'function') as Callback | undefined;
  return (...results: unknown[]) => {
    const call = callback;
    callback = undefined;
    try {
      call?.(...results);
    } catch (error) {
      log('callback threw', error);
    }
  };
};

/** A call's options object; anything else counts as none, with a debug line. */
const optionsOf = (value: unknown, command: string): Options => {
  if (value != null && typeof value != 'object') log(command, 'options must be an object, ignored:', value);
  return Object(value != null && typeof value == 'object' ? value : {});
};

/** Removes a string's characters that Tapfiliate and the proxy refuse in meta_data. */
const metaText = (text: string, max: number) => text.replace(META_FORBIDDEN, '').replace(new RegExp(FORBIDDEN_ID_CHARACTERS, 'g'), '').slice(0, max);

/** `meta_data` within the limits Tapfiliate documents, or undefined; debug mode says what was cut. */
const fitMetaData = (meta: unknown): ConversionInput['meta_data'] => {
  if (meta == null) return undefined;
  const fitted: Record<string, string | number | boolean> = {};
  let count = 0;
  let changed = typeof meta != 'object';
  for (const [name, value] of Object.entries(Object(meta))) {
    const key = metaText(name, META_KEY_LENGTH);
    const text = typeof value == 'string' ? metaText(value, META_VALUE_LENGTH) : value;
    const fits = typeof text == 'string' || typeof text == 'boolean' || (typeof text == 'number' && Number.isFinite(text));
    if (count < META_KEYS && key && key != '__proto__' && fits) {
      fitted[key] = text as string | number | boolean;
      count++;
      if (key != name || text !== value) changed = true;
    } else changed = true;
  }
  if (changed) log('meta_data fitted to the limits Tapfiliate documents:', fitted);
  return count ? fitted : undefined;
};

/** Sends an event once the last detect's landing is stored, and hands its TapResult to the callback. */
const send = (event: Promise<TapResult> | (() => Promise<TapResult>), args: unknown[]) => {
  const done = callbackOf(args);
  return landed
    .then(event as () => Promise<TapResult>)
    .then((result) => {
      done(result);
      return result;
    });
};

/** Leaves out what is undefined, so the JSON the proxy reads holds only what the call gave. */
const defined = <T extends object>(event: T): T => JSON.parse(JSON.stringify(event));

const warnCommissionType = (type: unknown) => {
  if (type != null && typeof type != 'function') log('commission_type left out: Tapfiliate documents no such postback field', type);
};

const calls: Record<string, (...args: unknown[]) => unknown> = {
  create: (account, ...rest) => {
    log('create', account, '(the worker names the account)');
    callbackOf(rest)();
  },

  detect: (options, ...rest) => {
    const done = callbackOf([options, ...rest]);
    const { referral_code, referral_code_param, cookie_domain, always_callback } = optionsOf(options, 'detect');
    if (kernel.granted() == null) log('detect', 'waits for consent');
    // Consent holds detect as it holds tap.convert (docs/reference.md): it runs at the first
    // answer if that grants it, never if it refuses; the calls after it wait for it.
    landed = landed
      .then(() => kernel.consent)
      .then(() => {
        if (!kernel.granted()) {
          log('detect', 'no consent: nothing detected');
          if (always_callback) done(new Error('no consent'), null);
          return;
        }
        const domain = typeof cookie_domain == 'string' && cookie_domain.replace(/^\./, '').toLowerCase();
        if (domain && !kernel.data.cookieDomain) {
          // A domain the page is not on would make every cookie write fail.
          if (('.' + location.hostname).endsWith('.' + domain)) kernel.data.cookieDomain = domain;
          else log('detect', 'cookie_domain is not this page\'s domain, ignored:', cookie_domain);
        }
        const query = new URLSearchParams(location.search);
        const code = capturable(referral_code) || (typeof referral_code_param == 'string' && capturable(query.get(referral_code_param)));
        let detected = !!capture(query);
        if (code) {
          // Stored as a landing whose URL carries the code, so it is kept, clicked and tested as any other (snippet/events/landing.ts).
          const url = new URL(location.href);
          url.searchParams.set('refc', code);
          kernel.write(Name.LANDING_COOKIE, Date.now() + ' ' + url.href.slice(0, Limit.LANDING_URL), Limit.LANDING_SECONDS);
          detected = true;
        }
        return (detected ? kernel.load<EventsModule>(Name.EVENTS) : Promise.resolve())
          .then((events) => events && events.store())
          .then(() => {
            const stored = detected && tap.data();
            if (stored) always_callback ? done(null, stored) : done(stored);
            else if (always_callback) done(new Error('nothing detected'), null);
          });
      })
      // A page that makes the cookie write throw: logged, and the calls after it still run.
      .catch(log);
    return landed;
  },

  conversion: (externalId, amount, options, commissionType, ...rest) => {
    const { customer_id, currency, meta_data, coupons } = optionsOf(options, 'conversion');
    warnCommissionType(commissionType);
    const coupon = Array.isArray(coupons) ? coupons[0] : coupons;
    const event = { external_id: externalId, amount: amount ?? undefined, currency, customer_id, coupon, meta_data: fitMetaData(meta_data) } as ConversionInput;
    return send(() => tap.convert(defined(event)), [commissionType, ...rest]);
  },

  conversionMulti: (externalId, options, commissions, ...rest) => {
    const { customer_id, currency, meta_data, coupons } = optionsOf(options, 'conversionMulti');
    let total: number | undefined;
    for (const commission of Array.isArray(commissions) ? commissions : []) {
      const { sub_amount, commission_type } = Object(commission);
      const amount = Number(sub_amount);
      warnCommissionType(commission_type);
      if (sub_amount != null && sub_amount !== '' && amount >= 0) total = (total ?? 0) + amount;
      else log('conversionMulti', 'a commission without a sub_amount of a number ≥ 0, left out of the sum:', commission);
    }
    if (!Array.isArray(commissions)) log('conversionMulti', 'commissions must be an array of { sub_amount }, sent without an amount:', commissions);
    const coupon = Array.isArray(coupons) ? coupons[0] : coupons;
    // Float sums (0.1 + 0.2): six decimals are more than any currency has.
    const amount = total == null ? undefined : Number(total.toFixed(6));
    const event = { external_id: externalId, amount, currency, customer_id, coupon, meta_data: fitMetaData(meta_data) } as ConversionInput;
    return send(() => tap.convert(defined(event)), [commissions, ...rest]);
  },

  customer: (customerId, options, ...rest) => {
    const { meta_data } = optionsOf(options, 'customer');
    return send(() => tap.customer(defined({ customer_id: customerId as string, meta_data: fitMetaData(meta_data) })), [options, ...rest]);
  },

  getTrackingId: (...args) => {
    const done = callbackOf(args);
    // This page view's landing, from its URL (tap.js) or from detect, stored and its click answered,
    // since that answer brings click_id: tap-events.js is loaded or loading then, or its landing cookie waits.
    return landed
      .then(() => (kernel.events || kernel.cookie(Name.LANDING_COOKIE) ? kernel.load<EventsModule>(Name.EVENTS) : undefined))
      // A tap-events.js cached from before a deploy (served with a max-age) may lack `clicked`: answer with what is stored.
      .then((events) => events?.clicked?.())
      .then(() => {
        const clickId = Object(tap.data()).click_id ?? null;
        done(clickId);
        return clickId;
      });
  },
};

for (const status of ['trial', 'lead']) {
  calls[status] = (...args) => {
    log(status, 'sent as a customer: the postback has no customer status');
    return calls.customer(...args);
  };
}

/** Runs one call; never throws (tap.js's promise resolves what this returns). */
const compat = (command: string, args: unknown[]): unknown => {
  log(command, ...args);
  const call = Object.prototype.hasOwnProperty.call(calls, command) && calls[command];
  if (!call) {
    kernel.log('skip', 'unknown');
    return undefined;
  }
  try {
    return Promise.resolve(call(...args)).catch((error) => {
      log(error);
    });
  } catch (error) {
    log(error);
  }
};

// Tapline's own events wait for `landed` too when this file was requested before them (snippet/outbox/index.ts).
if (kernel.data) kernel.compat = Object.assign(compat, { landed: () => landed });
