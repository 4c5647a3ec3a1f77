/**
 * One JSON line per event, for `wrangler tail` and Workers Logs.
 * Never pass the API key, the cookie or a full IP here.
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
