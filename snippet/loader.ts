import { data, fileUrl } from './config';
import { granted } from './consent';
import { cookieValue, parseAttribution } from './cookie';
import { log } from './log';
import { isTest, readOutbox, saveOutbox } from './outbox';

// What only some pages need lives in lazy files next to tap.js, each loaded
// the first time a page needs it (see build.mjs). This keeps what every page
// view loads small.

const loading: Record<string, Promise<unknown>> = {};

/** What tap.js lends its lazy files, as `tap._`: a lazy file reaches it through snippet/kernel.ts. */
export const lent = {
  log,
  data,
  test: isTest,
  read: readOutbox,
  save: saveOutbox,
  granted: () => granted,
  cookie: cookieValue,
  attribution: parseAttribution,
};
/** Each lazy file also sets its module on `tap._` under its name (`tap._.events`). */
export type Lent = typeof lent & Record<string, unknown>;

/**
 * The lazy file `tap-<name>.js`, loaded once: resolves with the module it set
 * on `tap._`, or empty when the file fails to load or does not register (an
 * HTML error page), so no call waits forever. Never rejects.
 */
export const load = <T>(name: string): Promise<T | void> => {
  if (!loading[name]) {
    loading[name] = new Promise((resolve) => {
      const script = document.createElement('script');
      script.src = fileUrl(name);
      // A script's load event fires after it has run (HTML "execute the script element").
      script.onload = script.onerror = () => resolve((lent as Lent)[name]);
      document.head.appendChild(script);
    }).catch(log);
  }
  return loading[name] as Promise<T | void>;
};
