import { REFERENCE_FIELDS, capturable } from '../common/attribution';
import type { Attribution } from './types';

/**
 * The URL parameters of each stored field, in the order of REFERENCE_FIELDS
 * (referral_code, asset_id, source_id, coupon, click_id); first present wins
 * (docs/reference.md). `tap_a` and `tap_s` are Tapfiliate's anonymized links,
 * used when a program turns referral codes off.
 */
const PARAMETERS = [['refc', 'referral_code', 'ref'], ['aid', 'asset_id', 'tap_a', 'a'], ['sid', 'source_id', 'tap_s', 's'], ['coupon'], ['click_id', 'tap_click_id']];

/**
 * Whether a query may carry a landing: any parameter above but the one-letter
 * ones, or any `tap_` one (`tap_ref`, `tap_a`, `tap_test`). A page view without one
 * reads no storage at all.
 */
export const TRACKING = /[?&](refc?|referral_code|aid|asset_id|sid|source_id|coupon|click_id|tap_\w+)=/;

/**
 * The tracking parameters of a landing's query, or undefined when it has none.
 * `reference`, the decoded `tap_ref` if any, fills each field that no parameter of
 * its own sets. The one-letter `a` and `s` count only beside another tracking
 * parameter: WordPress uses `?s=` for search.
 */
export const capture = (query: URLSearchParams, reference?: Attribution | null | void): Attribution | undefined => {
  const found: Attribution = { ...reference };
  // A decoded reference always carries at least one identifier.
  let tracked = !!reference;
  REFERENCE_FIELDS.forEach((field, index) => {
    for (const name of PARAMETERS[index]) {
      const value = capturable(query.get(name));
      if (value) {
        found[field] = value;
        if (name.length > 1) tracked = true;
        break;
      }
    }
  });
  return tracked ? found : undefined;
};
