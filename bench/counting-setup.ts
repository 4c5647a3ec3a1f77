// Counters for bench/counting-worker.ts. Imported before the production worker,
// so `fetch` is wrapped before any module of it could keep a reference.
import { AsyncLocalStorage } from 'node:async_hooks';

/** Which scenario the current request or queue message belongs to (the x-bench-tag header). */
export const scenario = new AsyncLocalStorage<string>();
/** scenario → operation → count */
export const tallies = new Map<string, Record<string, number>>();

/** Ledger keys (any string argument of a Durable Object call) → the scenario that last used them. */
export const keyTags = new Map<string, string>();

export function count(operation: string, n = 1): void {
  const tag = scenario.getStore() ?? 'untagged';
  let tally = tallies.get(tag);
  if (!tally) tallies.set(tag, (tally = {}));
  tally[operation] = (tally[operation] ?? 0) + n;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;
const realFetch = globalThis.fetch;

/** Every outbound subrequest, by method and path. Nothing but loopback leaves the bench. */
globalThis.fetch = async function countingFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const url = new URL(request.url);
  count(`subrequest ${request.method} ${url.pathname}`);
  if (!LOOPBACK.test(url.hostname)) return new Response('bench: only loopback is reachable', { status: 502 });
  return realFetch(request);
} as typeof fetch;
