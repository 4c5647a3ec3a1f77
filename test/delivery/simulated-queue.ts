import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';

interface SimulatedMessage {
  id: string;
  body: unknown;
  attempts: number;
  /** Simulated seconds. */
  dueAt: number;
}

export interface SimulatedQueueOptions {
  /** The consumer under test, called exactly as the runtime calls `queue()`. */
  handler: (batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) => Promise<void>;
  env: Env;
  /** Queues' rule: after this many tries a retried message goes to the dead-letter queue. */
  maxTries: number;
  batchSize?: number;
  /** Batches handed to the consumer at once, as several consumer invocations would be. */
  concurrency?: number;
}

/**
 * A producer binding plus Cloudflare Queues' delivery rules on a simulated clock.
 * The consumer runs for real in workerd through createMessageBatch/getQueueResult;
 * the delays it asks for via message.retry({ delaySeconds }) advance the clock
 * instead of being waited out.
 */
export function createSimulatedQueue(options: SimulatedQueueOptions) {
  const { handler, env, maxTries, batchSize = 10, concurrency = 8 } = options;
  const pending: SimulatedMessage[] = [];
  const deadLetters: SimulatedMessage[] = [];
  const retryDelays: number[] = [];
  let clock = 0;
  let sequence = 0;

  const enqueue = (body: unknown, delaySeconds = 0) => {
    pending.push({ id: `msg-${++sequence}`, body: structuredClone(body), attempts: 1, dueAt: clock + delaySeconds });
  };

  const producer = {
    async send(body: unknown, sendOptions?: QueueSendOptions) {
      enqueue(body, sendOptions?.delaySeconds);
    },
    async sendBatch(messages: Iterable<MessageSendRequest<unknown>>, batchOptions?: QueueSendBatchOptions) {
      for (const message of messages) enqueue(message.body, message.delaySeconds ?? batchOptions?.delaySeconds);
    },
  } as unknown as Queue<unknown>;

  async function deliver(messages: SimulatedMessage[]): Promise<void> {
    const batch = createMessageBatch('tapline-postbacks', messages.map(({ id, body, attempts }) => ({ id, body, attempts, timestamp: new Date(0) })));
    const ctx = createExecutionContext();
    // cloudflare:test's messages record that retry() was called but not its delaySeconds, so the wrapper keeps them.
    const askedDelays = new Map<string, number>();
    await handler(withRecordedDelays(batch, askedDelays), env, ctx);
    const result = await getQueueResult(batch, ctx);
    const retried = new Map(result.retryMessages.map((r: { msgId: string; delaySeconds?: number }) => [r.msgId, r.delaySeconds ?? askedDelays.get(r.msgId) ?? 0]));
    for (const message of messages) {
      const acked = result.ackAll || result.explicitAcks.includes(message.id);
      const retry = result.outcome !== 'ok' || result.retryBatch.retry || (!acked && retried.has(message.id));
      if (!retry) continue;
      if (message.attempts >= maxTries) {
        deadLetters.push(message);
        continue;
      }
      const delay = retried.get(message.id) ?? result.retryBatch.delaySeconds ?? 0;
      retryDelays.push(delay);
      pending.push({ ...message, attempts: message.attempts + 1, dueAt: clock + delay });
    }
  }

  return {
    producer,
    deadLetters,
    retryDelays,
    get clock() {
      return clock;
    },
    get pending() {
      return pending.length;
    },
    /**
     * Delivers everything until the queue is empty: jumps the clock to the next
     * due message, calls `beforeTick(clock)` (to change the world at that time),
     * then hands every due message to the consumer in batches.
     */
    async drain(beforeTick: (clock: number) => Promise<void> | void = () => {}, maxTicks = 500): Promise<number> {
      let ticks = 0;
      while (pending.length > 0) {
        if (++ticks > maxTicks) throw new Error(`queue not drained after ${maxTicks} ticks`);
        clock = Math.max(clock, Math.min(...pending.map((m) => m.dueAt)));
        await beforeTick(clock);
        const due = pending.filter((m) => m.dueAt <= clock);
        for (const message of due) pending.splice(pending.indexOf(message), 1);
        const batches: SimulatedMessage[][] = [];
        for (let i = 0; i < due.length; i += batchSize) batches.push(due.slice(i, i + batchSize));
        for (let i = 0; i < batches.length; i += concurrency) {
          await Promise.all(batches.slice(i, i + concurrency).map(deliver));
        }
      }
      return ticks;
    },
  };
}

function withRecordedDelays(batch: MessageBatch<unknown>, delays: Map<string, number>): MessageBatch<unknown> {
  const messages = batch.messages.map(
    (message): Message<unknown> => ({
      id: message.id,
      timestamp: message.timestamp,
      body: message.body,
      attempts: message.attempts,
      ack: () => message.ack(),
      retry: (options?: QueueRetryOptions) => {
        if (options?.delaySeconds !== undefined) delays.set(message.id, options.delaySeconds);
        message.retry(options);
      },
    }),
  );
  return {
    queue: batch.queue,
    messages,
    ackAll: () => batch.ackAll(),
    retryAll: (options?: QueueRetryOptions) => {
      for (const message of messages) if (options?.delaySeconds !== undefined) delays.set(message.id, options.delaySeconds);
      batch.retryAll(options);
    },
  } as unknown as MessageBatch<unknown>;
}
