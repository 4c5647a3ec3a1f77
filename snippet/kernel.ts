import type { Kernel } from './loader';

/**
 * What tap.js lends its lazy files as `tap._` (snippet/loader.ts): its
 * transport, logging, test mode and consent, so no lazy file carries a second copy.
 * Object(): a page that replaced `window.tap` gets no registration rather than a throw.
 */
export const kernel: Kernel = Object(Object((window as unknown as { tap?: { _?: Kernel } }).tap)._);
