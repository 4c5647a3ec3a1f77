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

/**
 * Referral codes one IPv6 /48 may have clicks made for in the window, whatever
 * its 65,536 /64s: a /48 is what one site or small ISP gets, free from some
 * hosts, and each made-up code is an API call with the merchant's key
 * (docs/security.md, "Limits that hold in every mode").
 */
export const CLICK_CODES_PER_48 = 50;

/** The /48 of a client network (`a:b:c:d::/64` → `a:b:c:`), or undefined for an IPv4 one. */
export const wideNetworkOf = (network: string) => /^((?:[0-9a-f]{1,4}:){3})[0-9a-f]{1,4}::\/64$/.exec(network)?.[1];

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

  /** Keeps a value unless one is kept already, which then only lives `ttlMs` from now: the first writer wins. */
  rememberFirst(key: string, value: string, ttlMs: number): void {
    const now = Date.now();
    this.sql.exec(
      `INSERT INTO memory (key, value, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = CASE WHEN memory.expires_at <= ? THEN excluded.value ELSE memory.value END, expires_at = excluded.expires_at`,
      key,
      value,
      now + ttlMs,
      now,
    );
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
   * network, and every /64 of an IPv6 /48 (delivery/index.ts clickFor), so it
   * also caps how many codes one network, and one /48, may have clicks made
   * for in the window, each counting only its own clicks, made or in flight:
   * random codes cost at most that many API calls. '' when no click is made. A
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
    const codes = this.clickCodes(`clk:${network}|`);
    const wide = wideNetworkOf(network);
    const wideCodes = wide === undefined ? undefined : this.clickCodes(`clk:${wide}`);
    const spent =
      codes.size >= CLICK_CODES_PER_NETWORK ? 'network' : wideCodes && !wideCodes.has(body.referral_code) && wideCodes.size >= CLICK_CODES_PER_48 ? 'ipv6_48' : undefined;
    if (spent) {
      logLine('click_budget_spent', { level: 'warn', referral_code: body.referral_code, codes: codes.size, budget: spent });
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

  /** The referral codes with a click kept or being made under a key prefix: a network's `clk:<network>|`, or a /48's `clk:<three groups>:`. */
  private clickCodes(prefix: string): Set<string> {
    const keys = this.sql
      .exec<Row>('SELECT key FROM memory WHERE key > ? AND key < ? AND expires_at > ?', prefix, `${prefix}\uffff`, Date.now())
      .toArray()
      .map((row) => String(row.key));
    for (const key of this.clicksInFlight.keys()) if (key.startsWith(prefix)) keys.push(key);
    return new Set(keys.map((key) => key.slice(key.indexOf('|') + 1)));
  }

  /** Whether any value is kept (so the alarm still has something to forget). */
  holdsAny(): boolean {
    return Number(this.sql.exec<Row>('SELECT EXISTS (SELECT 1 FROM memory) AS any').one().any) === 1;
  }

  forgetExpired(now: number): void {
    this.sql.exec('DELETE FROM memory WHERE expires_at <= ?', now);
  }
}
