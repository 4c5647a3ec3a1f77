import { api, boot } from './api';
import { attempt, ignore } from './log';

type Tap = ((command: string, arg?: unknown) => unknown) & typeof api & { q?: IArguments[] };
const page = window as unknown as { tap?: Tap };
const stub = page.tap;

// A second copy of the script on the page must not capture or send twice.
(stub && stub.data) ||
  attempt(() => {
    const tap = (page.tap = Object.assign((command: string, arg?: unknown) => {
      const run = (api as unknown as Record<string, (arg: unknown) => unknown>)[command];
      return run ? run(arg) : ignore('unknown command');
    }, api) as Tap);
    boot();
    // The stub's queue holds `arguments` objects, replayed in the order they were made.
    const queue = (stub && stub.q) || [];
    for (const args of queue) tap(args[0], args[1]);
  });
