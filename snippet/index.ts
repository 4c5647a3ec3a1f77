import { api, start } from './api';
import { granted } from './consent';
import { watchHistory } from './history';
import { lent } from './loader';
import { attempt, ignore } from './log';
import { DEBUG_KEY, SESSION_COOKIE } from './names';

type Tap = ((command: string, arg?: unknown) => unknown) & typeof api & { q?: IArguments[]; _?: typeof lent };
const page = window as unknown as { tap?: Tap };
const stub = page.tap;

const install = () => {
  const tap = Object.assign((command: string, arg?: unknown) => {
    const run = (api as unknown as Record<string, (arg: unknown) => unknown>)[command];
    return run ? run(arg) : ignore('unknown');
  }, api) as Tap;
  tap._ = lent;
  page.tap = tap;
  // Debug mode lasts for the tab's session, like test mode, so a thank-you page after `?tap_debug=1` logs too.
  if (/[?&]tap_debug=1/.test(location.search)) {
    attempt(() => {
      sessionStorage.setItem(DEBUG_KEY, '1');
      document.cookie = SESSION_COOKIE + '=1; path=/; samesite=lax';
    });
  }
  attempt(watchHistory);
  // The landing is stored before the queue is replayed, so the first event
  // request already carries the cookie the proxy attributes by.
  if (granted) start();
  // The stub's queue holds `arguments` objects, replayed in the order they were made.
  for (const args of Object(stub).q || []) tap(args[0], args[1]);
};

// A second copy of the script on the page must not capture, wrap or send twice.
if (!Object(stub).data) attempt(install);
