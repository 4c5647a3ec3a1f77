import { data, fileUrl, src } from './config';
import { granted } from './consent';
import { attempt, ignore, log } from './log';

// What only some pages need lives in lazy files next to tap.js, each loaded
// the first time a page needs it (see build.mjs). This keeps what every page
// view loads small.

const loading: Record<string, Promise<object | void>> = {};
const loaded: Record<string, (module: object) => void> = {};

/** What tap.js lends its lazy files, as `tap._`: see snippet/kernel.ts. */
export const kernel = {
  log,
  ignore,
  attempt,
  data,
  src,
  granted: () => granted,
  /** A lazy file hands over its module; one nobody asked for is ignored. */
  ready: (name: string, module: object) => attempt(() => loaded[name](module)),
};
export type Kernel = typeof kernel;

/**
 * The lazy file `tap-<name>.js`, loaded once. Resolves empty when the file
 * fails to load or does not register (an HTML error page), so no call waits
 * forever. Never rejects.
 */
export const load = <T>(name: string): Promise<T | void> => {
  if (!loading[name]) {
    loading[name] = new Promise<object | void>((resolve) => {
      loaded[name] = resolve;
      const script = document.createElement('script');
      script.src = fileUrl(name);
      // After a successful run, the file has already resolved with its module.
      script.onload = script.onerror = () => resolve();
      document.head.appendChild(script);
    }).catch(log);
  }
  return loading[name] as Promise<T | void>;
};
