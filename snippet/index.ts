import { api, start } from './api';
import { granted } from './consent';
import { watchHistory } from './history';
import type { CompatModule } from './kernel';
import { lent, load } from './loader';
import { attempt, ignore } from './log';
import { Name } from './names';

type Tap = ((command: string, ...args: unknown[]) => unknown) & typeof api & { q?: IArguments[]; _?: typeof lent };
const page = window as unknown as { tap?: Tap };
/** Tapline's stub or Tapfiliate's (`TapfiliateObject`): both queue `arguments` objects in `tap.q`. */
const stub = page.tap;

/**
 * The calls of Tapfiliate's own tag (docs/guides/from-tapfiliate-js.md), read
 * with the type of their first argument: Tapfiliate's `customer` takes an id
 * where Tapline's takes an object (`customerobject`; no other `typeof` starts
 * with `o`). A prefix (`conversion` also reads
 * `conversionMulti`): tap-compat.js ignores, with a debug line, a name it does
 * not know. They run in tap-compat.js, loaded the first time a page makes one,
 * so a page without one pays one regular expression.
 */
const TAPFILIATE = /^(create|detect|conversion|trial|lead|getTrackingId|customer(?!o))/;

const install = () => {
  const tap = Object.assign((command: string, ...args: unknown[]) => {
    const run = (api as unknown as Record<string, (...args: unknown[]) => unknown>)[command];
    if (TAPFILIATE.test(String(command) + typeof args[0])) return load<CompatModule>(Name.COMPAT).then((compat) => compat && compat(command, args));
    return run ? run(...args) : ignore('unknown');
  }, api) as Tap;
  tap._ = lent;
  page.tap = tap;
  attempt(watchHistory);
  // The landing is stored before the queue is replayed, so the first event
  // request already carries the cookie the proxy attributes by.
  if (granted) start();
  // The stub's queue holds `arguments` objects, replayed in the order they were made, with all their arguments.
  for (const args of Object(stub).q || []) tap(...(args as [string]));
};

// A second copy of the script on the page must not capture, wrap or send twice.
if (!Object(stub).data) attempt(install);
