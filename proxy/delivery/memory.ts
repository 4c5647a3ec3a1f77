// Small remembered values, kept in the ledger objects beside the records (the
// `memory` table): the click of a landing, and the attribution of a
// subscription for its renewals. The routes reach them through
// proxy/delivery/index.ts (clickFor, rememberSubscription, recallSubscription).
import { apiKeyOf, upstreamUrlsOf } from '../config';
import { logLine } from '../lib/log';
import { createClick, type ClickBody } from '../tapfiliate';

type Row = Record<string, SqlStorageValue>;

/**
 * One Tapfiliate click per referral code and client network in this window,
 * whatever the body says about its landing (docs/security.md, "Limits that hold in every mode"): a
 * click costs an API call with the merchant's key, and the body is the attacker's.
 */
export const CLICK_MEMORY_MS = 30 * 60 * 1000;

/**
 * Referral codes one client network may have clicks made for in the window.
 * A shopper arrives through one affiliate, rarely two or three; past this the
 * cookie is still set and the conversion still attributed, only without a
 * Tapfiliate click.
 */
export const CLICK_CODES_PER_NETWORK = 5;

export class Memory {
  /** Clicks being made now, so concurrent landings share one. */
  private readonly clicksInFlight = new Map<string, Promise<string>>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec('CREATE TABLE IF NOT EXISTS memory (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL)');
  }

  /** Keeps a small value until `ttlMs` from now, replacing what was kept. */
  remember(key: string, value: string, ttlMs: number): void {
    this.sql.exec('INSERT OR REPLACE INTO memory (key, value, expires_at) VALUES (?, ?, ?)', key, value, Date.now() + ttlMs);
  }

  /** The kept value; with `slideMs`, it is then kept that long from now (a subscription's renewal extends its memory). */
  recall(key: string, slideMs?: number): string | undefined {
    const value = this.sql.exec<Row>('SELECT value FROM memory WHERE key = ? AND expires_at > ?', key, Date.now()).toArray()[0]?.value as string | undefined;
    if (value !== undefined && slideMs !== undefined) this.sql.exec('UPDATE memory SET expires_at = ? WHERE key = ?', Date.now() + slideMs, key);
    return value;
  }

  /**
   * The click for a (referral code, client network), made here once per
   * memory window: one Durable Object request per landing, and concurrent
   * landings share one Tapfiliate click. One object holds every code of a
   * network (delivery/index.ts clickFor), so it also caps how many codes one
   * network may have clicks made for in the window: random codes from one
   * address cost at most that many API calls. '' when no click is made. A
   * refusal (4xx) is remembered, so a retried landing does not ask again; a
   * timeout or a 5xx is not, so the next landing tries again. `remembered` is
   * told of each value kept, for the object's alarm.
   */
  async click(network: string, body: ClickBody, env: Env, timeoutMs: number | undefined, remembered: () => Promise<void>): Promise<string> {
    const memoryKey = `clk:${network}|${body.referral_code}`;
    const kept = this.recall(memoryKey);
    if (kept !== undefined) return kept;
    const running = this.clicksInFlight.get(memoryKey);
    if (running) return running;
    const codes = Number(
      this.sql.exec<Row>('SELECT COUNT(*) AS n FROM memory WHERE key > ? AND key < ? AND expires_at > ?', `clk:${network}|`, `clk:${network}|\uffff`, Date.now()).one().n,
    );
    if (codes + this.clicksInFlight.size >= CLICK_CODES_PER_NETWORK) {
      logLine('click_budget_spent', { level: 'warn', referral_code: body.referral_code, codes });
      return '';
    }
    const making = (async () => {
      const url = upstreamUrlsOf(env).clicks;
      const apiKey = apiKeyOf(env);
      if (!url || !apiKey) return '';
      const created = await createClick(body, { url, apiKey, timeoutMs });
      if (!created.id) logLine('click_not_created', { level: 'warn', referral_code: body.referral_code, upstream_status: created.status, message: created.message });
      const refused = created.status !== undefined && created.status >= 400 && created.status < 500 && created.status !== 408 && created.status !== 429;
      if (created.id || refused) {
        this.remember(memoryKey, created.id ?? '', CLICK_MEMORY_MS);
        await remembered();
      }
      return created.id ?? '';
    })();
    this.clicksInFlight.set(memoryKey, making);
    try {
      return await making;
    } finally {
      this.clicksInFlight.delete(memoryKey);
    }
  }

  /** Whether any value is kept (so the alarm still has something to forget). */
  holdsAny(): boolean {
    return Number(this.sql.exec<Row>('SELECT EXISTS (SELECT 1 FROM memory) AS any').one().any) === 1;
  }

  forgetExpired(now: number): void {
    this.sql.exec('DELETE FROM memory WHERE expires_at <= ?', now);
  }
}
