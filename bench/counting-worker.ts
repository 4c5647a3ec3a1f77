// A bench-only entry: the production worker (proxy/index.ts) with counters around
// what Cloudflare bills — Durable Object requests (stub method calls), queue
// writes, reads, acks and retries, and outbound subrequests — per scenario.
// bench/ops.mjs serves it with Miniflare; nothing here changes what the proxy does.
//   GET  /__bench/counts  → { [scenario]: { [operation]: n } }
//   POST /__bench/reset   → forgets all counts
// A request's scenario is its x-bench-tag header; its queue messages carry the tag
// in an envelope that the consumer wrapper removes before the production handler sees them.
import { count, keyTags, scenario, tallies } from './counting-setup';
import worker, * as productionModule from '../proxy/index';

export * from '../proxy/index';

// Loose types on purpose: the bench wraps whatever bindings the worker has.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

const ENVELOPE = '__benchScenario';

function countingStub(stub: Any): Any {
  return new Proxy(stub, {
    get(target, property) {
      const value = target[property];
      if (typeof property !== 'string' || property === 'then' || typeof value !== 'function') return value;
      // Called as a method: `value.apply` on an RPC stub would be a remote call named "apply".
      return (...args: unknown[]) => {
        count(`DO request: ${property}()`);
        const tag = scenario.getStore();
        if (tag) for (const arg of args) if (typeof arg === 'string') keyTags.set(arg, tag);
        return target[property](...args);
      };
    },
  });
}

function countingNamespace(namespace: Any): Any {
  return new Proxy(namespace, {
    get(target, property) {
      const value = target[property];
      if (typeof value !== 'function') return value;
      if (property === 'get' || property === 'getByName') return (...args: unknown[]) => countingStub(target[property](...args));
      return (...args: unknown[]) => target[property](...args);
    },
  });
}

const inEnvelope = (body: unknown) => ({ [ENVELOPE]: scenario.getStore() ?? 'untagged', body });

const COUNTED = Symbol('bench: counted');

/** Inside the ledger object: SQL statements and rows, and alarm calls, counted per scenario. */
function instrumentStorage(ctx: Any): void {
  try {
    const storage = ctx.storage;
    // On the prototype, once: `ctx.storage` need not hand out the same wrapper twice.
    const proto = Object.getPrototypeOf(storage);
    if (!proto[COUNTED]) {
      proto[COUNTED] = true;
      for (const name of ['getAlarm', 'setAlarm', 'deleteAlarm', 'get', 'put', 'delete', 'list']) {
        const original = proto[name];
        if (typeof original !== 'function') continue;
        Object.defineProperty(proto, name, {
          configurable: true,
          writable: true,
          value: function (this: unknown, ...args: unknown[]) {
            count(`DO storage: ${name}()`);
            return original.apply(this, args);
          },
        });
      }
    }
    const sql = storage.sql;
    const exec = sql?.exec;
    if (typeof exec !== 'function') return;
    sql.exec = (...args: unknown[]) => {
      count('DO SQL: statements');
      const cursor = exec.apply(sql, args);
      // The ledger reads its cursors at once (toArray, one), so the row counts are final a microtask later.
      const tag = scenario.getStore();
      queueMicrotask(() =>
        scenario.run(tag ?? 'untagged', () => {
          count('DO SQL: rows read', cursor.rowsRead ?? 0);
          count('DO SQL: rows written', cursor.rowsWritten ?? 0);
        }),
      );
      return cursor;
    };
  } catch (error) {
    // Counting storage is a bonus; the DO requests are counted at the stub.
    count(`DO storage: not counted (${error instanceof Error ? error.message : 'unknown'})`);
  }
}

function countingQueue(queue: Any): Any {
  return {
    send(body: unknown, options?: { delaySeconds?: number }) {
      count(`queue write: send (delay ${options?.delaySeconds ?? 0} s)`);
      return queue.send(inEnvelope(body), options);
    },
    sendBatch(messages: { body: unknown; delaySeconds?: number }[], options?: Any) {
      count('queue write: sendBatch message', messages.length);
      return queue.sendBatch(messages.map((message) => ({ ...message, body: inEnvelope(message.body) })), options);
    },
  };
}

const wrapped = new WeakMap<object, unknown>();
/** The env with every Durable Object namespace and queue producer counted, found by shape, not by name. */
function countingEnv(env: Record<string, unknown>): Any {
  return new Proxy(env, {
    get(target, property) {
      const value = Reflect.get(target, property) as Any;
      if (!value || typeof value !== 'object') return value;
      if (!wrapped.has(value)) {
        if (typeof value.idFromName === 'function') wrapped.set(value, countingNamespace(value));
        else if (typeof value.send === 'function' && typeof value.sendBatch === 'function') wrapped.set(value, countingQueue(value));
        else wrapped.set(value, value);
      }
      return wrapped.get(value);
    },
  });
}

const production = worker as Any;

// The ledger object with the same name, so wrangler.toml's binding finds it: its env is
// counted, its storage too, and each call runs in the scenario of the key it was given.
const Ledger = (productionModule as Any).PostbackLedger;
export class PostbackLedger extends Ledger {
  constructor(ctx: Any, env: Any) {
    instrumentStorage(ctx);
    super(ctx, countingEnv(env));
  }
}
for (const name of Object.getOwnPropertyNames(Ledger.prototype)) {
  const original = Ledger.prototype[name];
  if (name === 'constructor' || typeof original !== 'function') continue;
  Object.defineProperty(PostbackLedger.prototype, name, {
    configurable: true,
    writable: true,
    value: function (this: Any, ...args: unknown[]) {
      // Private helpers are methods too: without a key of their own they keep the caller's scenario.
      const tag =
        args.map((arg) => (typeof arg === 'string' ? keyTags.get(arg) : undefined)).find(Boolean) ?? scenario.getStore() ?? 'untagged';
      return scenario.run(tag, () => original.apply(this, args));
    },
  });
}

export default {
  async fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === '/__bench/counts') return Response.json(Object.fromEntries(tallies));
    if (pathname === '/__bench/reset' && request.method === 'POST') {
      tallies.clear();
      return Response.json({ ok: true });
    }
    return scenario.run(request.headers.get('x-bench-tag') ?? 'untagged', () => {
      count('worker request');
      return production.fetch(request, countingEnv(env), ctx);
    });
  },

  /** Each message runs as a batch of one, inside its scenario; the production handler treats messages one by one anyway. */
  async queue(batch: MessageBatch<unknown>, env: Record<string, unknown>, ctx: ExecutionContext): Promise<void> {
    await Promise.all(
      batch.messages.map((message) => {
        const envelope = message.body as Any;
        const tag = envelope && typeof envelope === 'object' && ENVELOPE in envelope ? String(envelope[ENVELOPE]) : 'untagged';
        const body = envelope && typeof envelope === 'object' && ENVELOPE in envelope ? envelope.body : envelope;
        return scenario.run(tag, () => {
          count('queue read: message delivered');
          const one = {
            id: message.id,
            timestamp: message.timestamp,
            attempts: message.attempts,
            body,
            ack: () => (count('queue ack (delete)'), message.ack()),
            retry: (options?: QueueRetryOptions) => (count('queue retry'), message.retry(options)),
          };
          const single = {
            queue: batch.queue,
            messages: [one],
            ackAll: () => one.ack(),
            retryAll: (options?: QueueRetryOptions) => one.retry(options),
          };
          return production.queue(single, countingEnv(env), ctx);
        });
      }),
    );
  },
};
