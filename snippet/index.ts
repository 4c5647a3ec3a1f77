import { api, boot } from './api';
import { ignore } from './log';

type Tap = ((command: string, arg?: unknown) => unknown) & typeof api & { q?: ArrayLike<unknown>[] };
const page = window as unknown as { tap?: Tap };
const stub = page.tap;

// A second copy of the script on the page must not capture or send twice.
if (!(stub && stub.data))
  try {
    const tap = (page.tap = Object.assign((command: string, arg?: unknown) => {
      const run = (api as unknown as Record<string, (arg: unknown) => unknown>)[command];
      return run ? run(arg) : ignore('unknown command');
    }, api) as Tap);
    boot();
    // The stub's queue holds `arguments` objects, replayed in the order they were made.
    const queue = (stub && stub.q) || [];
    for (let i = 0; i < queue.length; i++) tap(queue[i][0] as string, queue[i][1]);
  } catch {
    // Nothing the page did may turn into an error of ours on the page.
  }
