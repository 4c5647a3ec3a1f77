// The ledger's SQL: the `events` and `platform_ids` tables of one object, and
// every query on them. What a record means and how it changes is
// proxy/delivery/lifecycle.ts; when it is written and tried, ledger.ts.
import { idsOf, RECORD_STATUSES, type EventSource, type LedgerRecord, type RecordKind, type RecordStatus } from './lifecycle';

type Row = Record<string, SqlStorageValue>;

export interface ListQuery {
  status?: RecordStatus;
  kind?: RecordKind;
  source?: EventSource;
  /** An id, matched exactly against external_id, customer_id and refund_id; with `prefix`, their start. */
  q?: string;
  prefix?: boolean;
  /** Accepted at or after, at or before (ms). */
  from?: number;
  to?: number;
  limit: number;
  /** Records strictly older than this (accepted_at, then key). */
  before?: { at: number; key: string };
}

export type StatusCounts = Record<RecordStatus, number>;
/** Every id column a search looks in. */
const ID_COLUMNS = ['external_id', 'customer_id', 'refund_id'] as const;
/**
 * Above every character a prefix can be followed by: SQLite compares text as
 * UTF-8 bytes, so `id >= p AND id < p || U+10FFFF` is a prefix match that uses
 * the id's index, unlike LIKE (which folds case and reads `%` and `_`).
 */
const PAST_ANY = '\u{10FFFF}';

export class EventStore {
  constructor(private readonly sql: SqlStorage) {
    // `events`, not v2's `records`: objects of the v2 layout keep their table untouched.
    sql.exec(`CREATE TABLE IF NOT EXISTS events (
      key TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      status TEXT NOT NULL,
      source TEXT NOT NULL,
      external_id TEXT,
      customer_id TEXT,
      refund_id TEXT,
      accepted_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      next_try_at INTEGER,
      record TEXT NOT NULL
    )`);
    sql.exec('CREATE INDEX IF NOT EXISTS events_by_time ON events (accepted_at, key)');
    sql.exec('CREATE INDEX IF NOT EXISTS events_by_status ON events (status, accepted_at, key)');
    sql.exec("CREATE INDEX IF NOT EXISTS events_due ON events (next_try_at) WHERE status = 'pending'");
    sql.exec('CREATE INDEX IF NOT EXISTS events_by_external_id ON events (external_id)');
    sql.exec('CREATE INDEX IF NOT EXISTS events_by_customer_id ON events (customer_id)');
    sql.exec('CREATE INDEX IF NOT EXISTS events_by_refund_id ON events (refund_id)');
    sql.exec('CREATE TABLE IF NOT EXISTS platform_ids (id TEXT PRIMARY KEY, key TEXT NOT NULL, accepted_at INTEGER NOT NULL)');
  }

  read(key: string): LedgerRecord | undefined {
    const row = this.sql.exec<Row>('SELECT record FROM events WHERE key = ?', key).toArray()[0];
    return row ? (JSON.parse(String(row.record)) as LedgerRecord) : undefined;
  }

  /** The record, and the columns the operator's queries and the alarm look it up by. */
  write(record: LedgerRecord): void {
    const ids = idsOf(record);
    this.sql.exec(
      `INSERT OR REPLACE INTO events (key, kind, status, source, external_id, customer_id, refund_id, accepted_at, updated_at, next_try_at, record)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      record.key,
      record.kind,
      record.status,
      record.source,
      ids.external_id ?? null,
      ids.customer_id ?? null,
      ids.refund_id ?? null,
      record.accepted_at,
      record.updated_at,
      record.status === 'pending' ? record.next_try_at : null,
      JSON.stringify(record),
    );
  }

  /** The platform ids a later refund finds this record by. */
  addPlatformIds(record: LedgerRecord): void {
    for (const id of record.platform_ids) this.sql.exec('INSERT OR REPLACE INTO platform_ids (id, key, accepted_at) VALUES (?, ?, ?)', id, record.key, record.accepted_at);
  }

  /** The key of the record that listed this platform id (a payment_intent, an order id), or null. */
  findPlatformId(id: string): string | null {
    return (this.sql.exec<Row>('SELECT key FROM platform_ids WHERE id = ?', id).toArray()[0]?.key as string | undefined) ?? null;
  }

  /** Records newest first. */
  list(query: ListQuery): LedgerRecord[] {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    for (const field of ['status', 'kind', 'source'] as const) {
      if (query[field] !== undefined) {
        where.push(`${field} = ?`);
        args.push(query[field]);
      }
    }
    if (query.q !== undefined) {
      where.push(`(${ID_COLUMNS.map((column) => (query.prefix ? `(${column} >= ? AND ${column} < ?)` : `${column} = ?`)).join(' OR ')})`);
      args.push(...ID_COLUMNS.flatMap(() => (query.prefix ? [query.q!, query.q! + PAST_ANY] : [query.q!])));
    }
    if (query.from !== undefined) {
      where.push('accepted_at >= ?');
      args.push(query.from);
    }
    if (query.to !== undefined) {
      where.push('accepted_at <= ?');
      args.push(query.to);
    }
    if (query.before) {
      where.push('(accepted_at < ? OR (accepted_at = ? AND key < ?))');
      args.push(query.before.at, query.before.at, query.before.key);
    }
    return this.sql
      .exec<Row>(`SELECT record FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY accepted_at DESC, key DESC LIMIT ?`, ...args, query.limit)
      .toArray()
      .map((row) => JSON.parse(String(row.record)) as LedgerRecord);
  }

  /** Records accepted since each time, by status: one query for every window. */
  counts(since: number[]): StatusCounts[] {
    const windows = since.map(() => Object.fromEntries(RECORD_STATUSES.map((status) => [status, 0])) as StatusCounts);
    if (since.length === 0) return windows;
    const columns = since.map((_, index) => `SUM(accepted_at >= ?) AS n${index}`).join(', ');
    for (const row of this.sql.exec<Row>(`SELECT status, ${columns} FROM events WHERE accepted_at >= ? GROUP BY status`, ...since, Math.min(...since))) {
      const status = row.status as keyof StatusCounts;
      if (!(RECORD_STATUSES as readonly string[]).includes(status)) continue;
      since.forEach((_, index) => (windows[index][status] = Number(row[`n${index}`])));
    }
    return windows;
  }

  /**
   * Keys of dead records accepted in the range and last changed before `before`, oldest first, and how many there are in all.
   * A record a bulk retry tried is changed by that try, so the next call of the same bulk retry passes it by.
   */
  dead(range: { from?: number; to?: number; before: number }, limit: number): { keys: string[]; total: number } {
    const where = ["status = 'dead'", 'accepted_at >= ?', 'accepted_at <= ?', 'updated_at < ?'].join(' AND ');
    const args = [range.from ?? 0, range.to ?? Number.MAX_SAFE_INTEGER, range.before];
    const keys = this.sql
      .exec<Row>(`SELECT key FROM events WHERE ${where} ORDER BY accepted_at, key LIMIT ?`, ...args, limit)
      .toArray()
      .map((row) => String(row.key));
    return { keys, total: Number(this.sql.exec<Row>(`SELECT COUNT(*) AS n FROM events WHERE ${where}`, ...args).one().n) };
  }

  /** Every refund record of one order, oldest first. */
  refundsOf(externalId: string): LedgerRecord[] {
    return this.sql
      .exec<Row>("SELECT record FROM events WHERE kind = 'refund' AND external_id = ? ORDER BY accepted_at, key", externalId)
      .toArray()
      .map((row) => JSON.parse(String(row.record)) as LedgerRecord);
  }

  /** Keys of pending records whose try is due, the most overdue first. */
  due(now: number, limit: number): string[] {
    return this.sql
      .exec<Row>("SELECT key FROM events WHERE status = 'pending' AND next_try_at <= ? ORDER BY next_try_at LIMIT ?", now, limit)
      .toArray()
      .map((row) => String(row.key));
  }

  /** The earliest due try, or null when nothing is pending. */
  nextTry(): number | null {
    return this.sql.exec<Row>("SELECT MIN(next_try_at) AS at FROM events WHERE status = 'pending'").one().at as number | null;
  }

  /** Whether any record is kept (so retention still has work). */
  holdsAny(): boolean {
    return Number(this.sql.exec<Row>('SELECT EXISTS (SELECT 1 FROM events) AS any').one().any) === 1;
  }

  /**
   * Retention: records accepted before `before` go, but a record an operator is having tried again is kept until that series ends.
   * A refund holding for a conversion that was never sent (pending, no try due) goes with it.
   */
  forgetBefore(before: number): void {
    this.sql.exec("DELETE FROM events WHERE accepted_at < ? AND (status != 'pending' OR next_try_at IS NULL)", before);
    this.sql.exec('DELETE FROM platform_ids WHERE accepted_at < ?', before);
  }
}
