// Delivery: the one seam between the routes and the ledger (docs/operations.md,
// "Delivery"). A route hands over a Submission; the ledger object that holds
// its key records it and makes the first try inside the same call. The object
// itself (ledger.ts) is exported by proxy/index.ts alone, so bundling the app
// never bundles the Durable Object or `cloudflare:workers`.
import { apiKeyOf } from '../config';
import { hmacSign } from '../lib/hmac';
import { logLine } from '../lib/log';
import type { ClickBody, PostbackJob } from '../tapfiliate';
import type { BulkRetryCounts } from './ledger';
import { keyOf, RECORD_STATUSES, shardKeyOf, type Answered, type DeliveryResult, type EventSource, type RecordKind, type RecordStatus, type RetryResult, type Submission } from './lifecycle';
import { wideNetworkOf } from './memory';
import { allLedgers, ledgerOf } from './shards';
import type { ListQuery, StatusCounts } from './store';
import type { LedgerEvent } from './view';

export type { Answered, DeliveryResult, EventSource, RecordKind, RecordStatus, RefundJob, RetryResult, Submission } from './lifecycle';
export { RECORD_STATUSES } from './lifecycle';
export type { BulkRetryCounts } from './ledger';
export type { StatusCounts } from './store';
export type { LedgerEvent } from './view';
export { CLICK_CODES_PER_NETWORK } from './memory';

/** What the operator API asks for: the ledger's own query (store.ts), a page at a time by cursor. */
export type EventQuery = Omit<ListQuery, 'limit' | 'before'> & {
  /** 1–100. */
  limit?: number;
  /** From a previous page's next_cursor. */
  cursor?: string;
};

/** A bulk retry of dead records: their acceptance range, and the cursor of its previous call. */
export interface BulkRetryQuery {
  from?: number;
  to?: number;
  cursor?: string;
}

export interface Delivery {
  submit(submission: Submission): Promise<DeliveryResult>;
  /** Records an event answered without a postback (unattributed, ignored), with its reason: one Durable Object request. */
  note(event: Answered): Promise<void>;
  /** The key of the conversion that recorded this platform id (a payment_intent, an invoice, an order id), or null. */
  findConversion(platformId: string): Promise<string | null>;
  get(key: string): Promise<LedgerEvent | null>;
  /** Newest first, across every ledger object. */
  list(query: EventQuery): Promise<{ events: LedgerEvent[]; next_cursor: string | null }>;
  summary(now?: number): Promise<{ last_24h: StatusCounts; last_7d: StatusCounts }>;
  retry(key: string): Promise<RetryResult>;
  /**
   * Retries the dead records accepted in the range, at most `limit` (500) in all. One bulk retry
   * may take several calls: each passes the previous one's next_cursor, and tries only records
   * no call of the same bulk retry has tried (null when none is left).
   */
  retryDead(query: BulkRetryQuery, limit?: number): Promise<BulkRetryCounts & { next_cursor: string | null }>;
}

/**
 * The delivery of a deployment. The ledger must be bound: the routes refuse
 * first while it is not (config.ts configProblems, http/answers.ts).
 */
export type CreateDelivery = (env: Env) => Delivery;

const DAY_MS = 24 * 60 * 60 * 1000;
const DEFAULT_PAGE = 50;
/** Dead records one bulk retry sends at most: each is a postback inside the request. */
export const BULK_RETRY_LIMIT = 500;

/**
 * Delivery through the ledger objects.
 *
 * @example
 * const result = await createDelivery(env).submit({ job, source: 'browser', signed: false });
 * // sent | queued | duplicate | rejected (and reversed | adjusted | unattributed | ignored for refunds)
 */
export function createDelivery(env: Env): Delivery {
  const namespace = env.POSTBACK_LEDGER;
  return {
    async submit(submission) {
      return (await ledgerOf(namespace, shardKeyOf(submission.job))).submit(submission);
    },

    async note(event) {
      await (await ledgerOf(namespace, shardKeyOf(event.job))).note(event);
    },

    async findConversion(platformId) {
      const found = await Promise.all(allLedgers(namespace).map((ledger) => ledger.findPlatformId(platformId)));
      return found.find((key) => key !== null) ?? null;
    },

    async get(key) {
      if (!key.startsWith('ref:')) return (await ledgerOf(namespace, key)).get(key);
      // A refund lives beside its conversion, whose id its key does not carry: ask every object (refunds are rare).
      const found = await Promise.all(allLedgers(namespace).map((ledger) => ledger.get(key)));
      return found.find((event) => event !== null) ?? null;
    },

    async list(query) {
      const limit = query.limit ?? DEFAULT_PAGE;
      const before = decodeCursor(query.cursor);
      // Each object answers its own newest `limit`; the page is the newest `limit` of them all.
      const pages = await Promise.all(
        allLedgers(namespace).map((ledger) =>
          ledger.list({ status: query.status, kind: query.kind, source: query.source, q: query.q, prefix: query.prefix, from: query.from, to: query.to, limit, before }),
        ),
      );
      const merged = pages
        .flatMap((page) => page.events.map((event, index) => ({ event, cursor: page.cursors[index] })))
        .sort((a, b) => b.cursor.at - a.cursor.at || (a.cursor.key < b.cursor.key ? 1 : a.cursor.key > b.cursor.key ? -1 : 0))
        .slice(0, limit);
      // More may follow when rows were left over, or when an object gave all it was asked for (it may hold more).
      const more = merged.length === limit && (pages.reduce((sum, page) => sum + page.events.length, 0) > limit || pages.some((page) => page.events.length === limit));
      const last = merged.at(-1)?.cursor;
      return { events: merged.map((entry) => entry.event), next_cursor: more && last ? encodeCursor(last) : null };
    },

    async summary(now = Date.now()) {
      const all = await Promise.all(allLedgers(namespace).map((ledger) => ledger.counts([now - DAY_MS, now - 7 * DAY_MS])));
      const sum = (index: number) => {
        const total = Object.fromEntries(RECORD_STATUSES.map((status) => [status, 0])) as StatusCounts;
        for (const counts of all) for (const status of RECORD_STATUSES) total[status] += counts[index][status] ?? 0;
        return total;
      };
      return { last_24h: sum(0), last_7d: sum(1) };
    },

    async retryDead({ from, to, cursor }, limit = BULK_RETRY_LIMIT) {
      // How many each object holds first, so the calls share the limit; then each object retries its share at once.
      const ledgers = allLedgers(namespace);
      const range = { from, to, before: decodeRetryCursor(cursor) };
      const held = await Promise.all(ledgers.map((ledger) => ledger.retryDead(range, 0)));
      // The bulk retry started at the first call, by the earliest of the objects' clocks: each object's own tries come later by its clock,
      // so a record refused again is dead again after it, and the calls that follow pass it by.
      const before = range.before ?? Math.min(...held.map((counts) => counts.before));
      let budget = limit;
      const shares = held.map((counts) => {
        const share = Math.min(counts.remaining, budget);
        budget -= share;
        return share;
      });
      const done = await Promise.all(ledgers.map((ledger, index) => (shares[index] > 0 ? ledger.retryDead({ ...range, before }, shares[index]) : held[index])));
      const total = done.reduce(
        (sum, counts) => ({
          retried: sum.retried + counts.retried,
          sent: sum.sent + counts.sent,
          queued: sum.queued + counts.queued,
          rejected: sum.rejected + counts.rejected,
          remaining: sum.remaining + counts.remaining,
        }),
        { retried: 0, sent: 0, queued: 0, rejected: 0, remaining: 0 },
      );
      return { ...total, next_cursor: total.remaining > 0 ? encodeCursor({ at: before, key: RETRY_CURSOR }) : null };
    },

    async retry(key) {
      if (!key.startsWith('ref:')) return (await ledgerOf(namespace, key)).retry(key);
      const holder = await this.get(key);
      if (!holder) return { status: 'not_found' };
      return (await ledgerOf(namespace, shardKeyOf({ refund: { refund_id: holder.refund_id!, external_id: holder.external_id! } }))).retry(key);
    },
  };
}

/** An opaque cursor: the last event's acceptance time and key. */
function encodeCursor(cursor: { at: number; key: string }): string {
  // base64url of the UTF-8 bytes: a key may hold any character an id may (btoa alone takes Latin-1 only).
  const bytes = new TextEncoder().encode(JSON.stringify([cursor.at, cursor.key]));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Undefined for a missing cursor; a malformed one is the caller's error (the operator API checks it first). */
export function decodeCursor(cursor: string | undefined): { at: number; key: string } | undefined {
  if (!cursor) return undefined;
  try {
    const binary = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));
    const [at, key] = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)))) as unknown[];
    if (typeof at === 'number' && Number.isFinite(at) && typeof key === 'string') return { at, key };
  } catch {
    // Falls through.
  }
  throw new RangeError('invalid cursor');
}

/** What a bulk retry's cursor holds where a page's holds a key: it is never taken for one. */
const RETRY_CURSOR = 'dead-before';

/** A bulk retry's cursor: when that bulk retry started (ms); undefined for none. A malformed one is the caller's error. */
export function decodeRetryCursor(cursor: string | undefined): number | undefined {
  const decoded = decodeCursor(cursor);
  if (decoded && decoded.key !== RETRY_CURSOR) throw new RangeError('invalid cursor');
  return decoded?.at;
}

/** A message left on v2's queue: the job and the key that guarded it. */
interface LegacyMessage {
  key?: unknown;
  job?: PostbackJob;
}

/**
 * The upgrade path from v2 (docs/operations.md, "Upgrading from v2"): while
 * the old queue (and its dead-letter queue) still hold messages, this consumer
 * moves each into the ledger as a record, which delivers it once. A message
 * the ledger already holds is a duplicate and is acked.
 */
export function takeLegacyQueue() {
  return async function takeLegacyMessages(batch: MessageBatch<unknown>, env: Env): Promise<void> {
    const delivery = createDelivery(env);
    for (const message of batch.messages) {
      const body = message.body as LegacyMessage;
      if (!env.POSTBACK_LEDGER || !body?.job || (!body.job.conversion && !body.job.customer)) {
        logLine('legacy_message_unreadable', { level: 'error', message_id: message.id });
        message.ack();
        continue;
      }
      try {
        const result = await delivery.submit({ job: body.job, source: 'browser', signed: false });
        logLine('legacy_message_taken', { key: keyOf(body.job), result: result.status });
        message.ack();
      } catch (error) {
        logLine('legacy_message_failed', { level: 'error', key: keyOf(body.job), error: error instanceof Error ? error.message : 'unknown' });
        message.retry({ delaySeconds: 30 });
      }
    }
  };
}

/**
 * The click id for this landing: made once per referral code and client network, or remembered (delivery/memory.ts). Undefined when none could be made.
 * Every /64 of one IPv6 /48 is counted in the same ledger object, which also keeps the /48's own budget: still one Durable Object request per landing.
 */
export async function clickFor(env: Env, network: string, body: ClickBody): Promise<string | undefined> {
  const wide = wideNetworkOf(network);
  return (await (await ledgerOf(env.POSTBACK_LEDGER, wide === undefined ? `clk:${network}` : `clk:${wide}:/48`)).click(network, body)) || undefined;
}

const tokenBudgetKey = (network: string) => `tok:${network}`;

/** Whether this client network has spent its failure budget for tokens (http/trust.ts tokenBudget). */
export async function tokenBudgetSpent(env: Env, network: string): Promise<boolean> {
  if (!env.POSTBACK_LEDGER) return false;
  const key = tokenBudgetKey(network);
  return (await (await ledgerOf(env.POSTBACK_LEDGER, key)).recall(key)) !== undefined;
}

/** Marks the failure budget of this client network spent for `ms`. */
export async function spendTokenBudget(env: Env, network: string, ms: number): Promise<void> {
  if (!env.POSTBACK_LEDGER) return;
  const key = tokenBudgetKey(network);
  await (await ledgerOf(env.POSTBACK_LEDGER, key)).remember(key, '1', ms);
}

/** v4: the attribution of one subscription (docs/reference.md, "Subscriptions"). */
const subscriptionKey = (platform: string, subscription: string) => `sub:${platform}:subscription:${subscription}`;
/** v3's keys: per customer (Stripe, Lemon Squeezy) or per subscription (Paddle). Still read until they expire, never written. */
const v3Key = (platform: string, id: string) => `sub:${platform}:${id}`;

/**
 * Keeps a subscription's attribution for `ttlMs` from now. Its first
 * attributed paid payment writes it; a later one only extends it, whatever it
 * carries, so no later order can take a subscription's renewals.
 */
export async function rememberSubscription(env: Env, platform: string, subscription: string, value: string, ttlMs: number): Promise<void> {
  const key = subscriptionKey(platform, subscription);
  await (await ledgerOf(env.POSTBACK_LEDGER, key)).rememberFirst(key, value, ttlMs);
}

/**
 * A subscription's attribution, its memory then extended by `ttlMs`: counted
 * from the last attributed payment, an active subscription is never forgotten.
 * Without one, what v3 remembered for the customer (Paddle: for the
 * subscription) is read until it expires, never extended; Stripe's oldest,
 * from v2, sit in its API-key-sharded objects.
 */
export async function recallSubscription(
  env: Env,
  platform: string,
  { subscription, customer }: { subscription?: string; customer?: string },
  ttlMs: number,
): Promise<string | undefined> {
  if (subscription) {
    const key = subscriptionKey(platform, subscription);
    const value = await (await ledgerOf(env.POSTBACK_LEDGER, key)).recall(key, ttlMs);
    if (value !== undefined) return value;
  }
  const v3 = platform === 'paddle' ? subscription : customer;
  if (!v3) return undefined;
  const value = await (await ledgerOf(env.POSTBACK_LEDGER, v3Key(platform, v3))).recall(v3Key(platform, v3));
  if (value !== undefined || platform !== 'stripe') return value;
  return legacyRecall(env, `sub:${v3}`);
}

/** v2 kept memory in `shard-N`, N from an HMAC of the key with the API key (docs/operations.md, "Upgrading from v2"). */
async function legacyRecall(env: Env, key: string): Promise<string | undefined> {
  const apiKey = apiKeyOf(env);
  if (!apiKey) return undefined;
  const shard = new DataView(await hmacSign(apiKey, key)).getUint32(0) % 32;
  const namespace = env.POSTBACK_LEDGER;
  return namespace.get(namespace.idFromName(`shard-${shard}`)).recall(key);
}
