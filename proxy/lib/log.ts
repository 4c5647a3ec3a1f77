// Logging: one JSON line per event (logLine), the one scrub for text from
// elsewhere, and the IP cut to its network. The request line every route gets
// is proxy/http/context.ts requestLog.

/**
 * One JSON line per event, for `wrangler tail` and Workers Logs
 * (docs/operations.md lists every event). Never pass a secret, the cookie or
 * a full IP here.
 */
export function logLine(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}

/**
 * Keeps the network part only: 203.0.113.7 → 203.0.113.x, 2001:db8:1:2::5 → 2001:db8:1::x.
 * IPv6 keeps at most three groups, and none past a `::` (RFC 5952 §4.2), which
 * may stand for the whole host part: 2001::5 → 2001::x.
 */
export function truncateIp(ip: string | undefined): string | undefined {
  if (!ip) return undefined;
  if (!ip.includes(':')) return ip.split('.').slice(0, 3).join('.') + '.x';
  const groups = ip.split(':');
  const end = groups.indexOf('');
  return groups.slice(0, Math.min(3, end < 0 ? 3 : end)).join(':') + '::x';
}

const MAX_LINE = 200;

/**
 * Text from elsewhere made fit for a log line: one line, no control
 * characters, at most 200 characters, and each secret removed as written, in
 * any letter case, and percent-encoded.
 */
export function scrub(text: string, secrets: (string | undefined)[] = []): string {
  let line = text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g, ' ').replace(/\s+/g, ' ').trim();
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      line = line.replace(new RegExp(form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), '***');
    }
  }
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line;
}
