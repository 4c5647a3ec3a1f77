import type { Lent } from './loader';

/**
 * What tap.js lends its lazy files as `tap._` (snippet/loader.ts): its
 * logging, the tag's dataset, test mode, consent and the outbox, so no lazy
 * file carries a second copy. Each lazy file sets its module here under its
 * name. Object(): a page that replaced `window.tap` gets nothing set rather than a throw.
 */
export const kernel: Lent = Object(Object((window as unknown as { tap?: { _?: Lent } }).tap)._);
