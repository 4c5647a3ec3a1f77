// IP addresses and user agents: the client network that limits and the click
// memory count by, and the shopper's IP and user agent cleaned for forwarding
// (the edge's own values are read in proxy/http/context.ts visitorOf).

/**
 * What counts as one client (docs/security.md, "Limits that hold in every mode", Rate limit): an IPv4
 * address, or the /64 an IPv6 address is in, written `2001:db8:1:2::/64`. One
 * host or ISP customer gets a whole /64, so counting full IPv6 addresses would
 * give one attacker 2^64 clients. An IPv4-mapped address (`::ffff:192.0.2.1`)
 * is its IPv4 address. Anything that is not an address is 'unknown'.
 */
export function clientNetwork(address: string | undefined | null): string {
  const value = (address ?? '').trim().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (IPV4.test(value)) return value;
  const groups = ipv6Groups(value);
  if (!groups) return 'unknown';
  const mapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (mapped) return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join('.');
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a dotted IPv4 tail read as two groups), or null. */
function ipv6Groups(value: string): number[] | null {
  if (!value.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(value)) return null;
  let text = value;
  const tail = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    if (!IPV4.test(tail[1])) return null;
    const [a, b, c, d] = tail[1].split('.').map(Number);
    text = `${text.slice(0, text.length - tail[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  if (!all.every((group) => /^[0-9A-Fa-f]{1,4}$/.test(group))) return null;
  return all.map((group) => parseInt(group, 16));
}

/** Tapfiliate keeps user agents for fraud checks; nothing real is longer, and a long one would bloat every job. */
const MAX_USER_AGENT = 512;

/** An IP and user agent as Tapfiliate's postbacks carry them (proxy/tapfiliate.ts Visitor); left out when unknown. */
export function cleanVisitor(ip: string | undefined, userAgent: string | undefined): { ip?: string; user_agent?: string } {
  const visitor: { ip?: string; user_agent?: string } = {};
  const address = ip?.trim();
  if (address && isIp(address)) visitor.ip = address;
  const agent = userAgent?.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_USER_AGENT);
  if (agent) visitor.user_agent = agent;
  return visitor;
}

/** Whether a string parses as an IP address (dotted IPv4, or IPv6 as a URL host accepts it). */
export function isIp(value: string): boolean {
  if (IPV4.test(value)) return true;
  if (!value.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(value)) return false;
  try {
    return new URL(`http://[${value}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}
