import { attempt } from './log';

/** Contract §3, one row per stored field: `field:param,param…`, first present wins. */
export const ROWS = 'referral_code:refc,referral_code,ref asset_id:aid,asset_id,a source_id:sid,source_id,s coupon:coupon click_id:click_id,tap_click_id'
  .split(' ')
  .map((row) => row.split(/[:,]/));

export type Attribution = Record<string, string | number>;

/** A usable identifier: trimmed, 1–100 characters, no control characters or angle brackets. */
export const clean = (value: unknown) =>
  typeof value == 'string' && (value = value.trim()) && !/[\0-\x1f\x7f-\x9f<>]|.{101}/.test(value as string)
    ? (value as string)
    : '';

/**
 * Tracking parameters of the current URL, or undefined when it has none.
 * The one-letter `a` and `s` count only beside a longer one: WordPress uses `?s=` for search.
 */
export const capture = () => {
  const found: Attribution = {};
  let longName: unknown;
  attempt(() => {
    const query = new URLSearchParams(location.search);
    for (const [field, ...names] of ROWS)
      for (const name of names) {
        const value = clean(query.get(name));
        if (value && !found[field]) (found[field] = value), name[1] && (longName = 1);
      }
  });
  return longName && found;
};
