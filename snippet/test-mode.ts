// Test mode, read the same way by tap.js and its lazy files. No imports but
// names, so each bundles it without pulling in anything else.
import { Name } from './names';

/**
 * Test mode (docs/reference.md): `data-test`, or `?tap_test=1` earlier in this
 * tab, looked up only when SESSION_COOKIE (`tap_s`, snippet/names.ts, spelled
 * out for a literal expression) says this browser session has used it, so a
 * shopper's page opens no sessionStorage. Every body then carries `test: true`.
 */
export const isTest = (data: DOMStringMap) => {
  try {
    return 'test' in data || (/(^|; )tap_s=1/.test(document.cookie) && sessionStorage.getItem(Name.TEST_KEY) == '1');
  } catch {
    return false;
  }
};
