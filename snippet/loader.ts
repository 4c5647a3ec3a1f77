import { data, fileUrl } from './config';
import { consentAnswer, granted } from './consent';
import { cookieValue, parseAttribution, writeCookie } from './cookie';
import type { Lent } from './kernel';
import { log } from './log';

// What only some pages need lives in lazy files next to tap.js, each loaded
// the first time a page needs it (see build.mjs and snippet/kernel.ts). This
// keeps what every page view loads small.

const loading: Record<string, Promise<unknown>> = {};

/**
 * The lazy file `tap-<name>.js`, loaded once: resolves with the module it set
 * on `tap._`, or empty when the file fails to load or does not register (an
 * HTML error page), so no call waits forever. Never rejects.
 */
export const load = <T>(name: string): Promise<T | void> =>
  (loading[name] ||= new Promise((resolve) => {
    const script = document.createElement('script');
    script.src = fileUrl(name);
    // A script's load event fires after it has run (HTML "execute the script element").
    script.onload = script.onerror = () => resolve((lent as unknown as Record<string, unknown>)[name]);
    document.head.appendChild(script);
  }).catch(log)) as Promise<T | void>;

/** What tap.js lends its lazy files, as `tap._` (the protocol: snippet/kernel.ts). */
export const lent: Lent = { log, data, granted: () => granted, consent: consentAnswer, load, cookie: cookieValue, write: writeCookie, attribution: parseAttribution };
