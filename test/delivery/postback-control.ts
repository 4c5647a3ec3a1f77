import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { inject } from 'vitest';
import { LEDGER_SHARDS, ledgerEntry, type PostbackLedger } from '../../proxy/delivery/ledger';
import { postbackControl } from '../postback/control';
import type { PostbackServerName } from './global-setup';

export type { Fault, FaultSpec, ReceivedPostback, Rejection } from '../postback/server.mjs';

/** The key the stand-ins accept; also the secret the ledger shards by. */
export const API_KEY = 'test-key';

/** The local postback server started for this test file, seen from inside workerd. */
export function postbackServer(name: PostbackServerName) {
  const control = postbackControl(inject('postbackServers')[name]);
  return {
    ...control,
    /** The worker's env pointed at this server. */
    env(extra: Partial<Env> = {}): Env {
      return {
        ...env,
        TAPFILIATE_API_KEY: API_KEY,
        POSTBACK_CONVERSION_URL: control.conversionUrl,
        POSTBACK_CUSTOMER_URL: control.customerUrl,
        ...extra,
      };
    },
  };
}

export const client = { ip: '203.0.113.7', user_agent: 'Mozilla/5.0 (tests)' };

export const ledgerNamespace = () => env.POSTBACK_LEDGER as unknown as DurableObjectNamespace<PostbackLedger>;
export const ledgerState = async (key: string, secret = API_KEY) => (await ledgerEntry(ledgerNamespace(), secret, key)).state();

export interface SentMessage {
  body: unknown;
  delaySeconds?: number;
}

/** A queue producer that records what it is given, or refuses everything with `fail`. */
export function recordingQueue(fail?: () => Error) {
  const sent: SentMessage[] = [];
  const producer = {
    // Throws synchronously: a rejected promise made here and awaited inside the ledger object would
    // also be reported as unhandled in this (the test's) context.
    send(body: unknown, options?: QueueSendOptions): Promise<void> {
      if (fail) throw fail();
      sent.push({ body: structuredClone(body), delaySeconds: options?.delaySeconds });
      return Promise.resolve();
    },
    async sendBatch() {
      throw new Error('sendBatch is not used by delivery');
    },
  } as unknown as Queue;
  return { producer, sent };
}

/**
 * The ledger objects enqueue with their own POSTBACK_QUEUE binding (the env
 * they were built with), not with the env a test passes to createDelivery, so
 * a test swaps the binding inside every shard object. Returns the undo.
 */
export async function routeLedgerQueue(producer: Queue): Promise<() => Promise<void>> {
  const namespace = ledgerNamespace();
  const stubs = Array.from({ length: LEDGER_SHARDS }, (_, shard) => namespace.get(namespace.idFromName(`shard-${shard}`)));
  const saved: unknown[] = [];
  await Promise.all(
    stubs.map((stub, shard) =>
      runInDurableObject(stub, (instance) => {
        const object = instance as unknown as { env: { POSTBACK_QUEUE: Queue } };
        saved[shard] = object.env;
        object.env = { ...object.env, POSTBACK_QUEUE: producer };
      }),
    ),
  );
  return async () => {
    await Promise.all(
      stubs.map((stub, shard) =>
        runInDurableObject(stub, (instance) => {
          (instance as unknown as { env: unknown }).env = saved[shard];
        }),
      ),
    );
  };
}

/** Every JSON log line written while `spy` was installed. */
export function parseLogLines(calls: unknown[][]): { event: string; [field: string]: unknown }[] {
  return calls.map(([line]) => {
    try {
      return JSON.parse(String(line));
    } catch {
      return { event: 'not_json', line };
    }
  });
}

/** The message of every error a test's refusing queue throws. */
export const REFUSAL = 'Queue send failed (test refusal)';

/**
 * A refused send makes the ledger's accept() reject over RPC, as designed; the
 * pool also reports that rejection as "Uncaught (in promise)" from inside the
 * object, which vitest would count as an unhandled error. This passes on every
 * unhandled rejection except the ones a test caused on purpose (REFUSAL).
 * Returns the undo.
 */
export function tolerateTestRefusals(): () => void {
  const original = process.listeners('unhandledRejection');
  process.removeAllListeners('unhandledRejection');
  const filter = (reason: unknown, promise: Promise<unknown>) => {
    if (String((reason as Error | undefined)?.message ?? reason).includes(REFUSAL)) return;
    for (const listener of original) listener(reason, promise);
  };
  process.on('unhandledRejection', filter);
  return () => {
    process.removeListener('unhandledRejection', filter);
    for (const listener of original) process.on('unhandledRejection', listener);
  };
}
