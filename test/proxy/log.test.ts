import { expect, it } from 'vitest';
import { truncateIp } from '../../proxy/lib/log';

// Logs keep the network, never the host: no row may print a full address.
it.each([
  ['203.0.113.7', '203.0.113.x'],
  ['2001:db8:1:2:3:4:5:6', '2001:db8:1::x'],
  ['2001:db8:1:2::5', '2001:db8:1::x'],
  ['2001:db8::5', '2001:db8::x'],
  ['2001::5', '2001::x'],
  ['fe80::1', 'fe80::x'],
  ['::1', '::x'],
  ['::ffff:203.0.113.7', '::x'],
])('truncateIp(%s) is %s', (ip, expected) => {
  expect(truncateIp(ip)).toBe(expected);
});

it('logs no address at all when there is none', () => {
  expect(truncateIp(undefined)).toBeUndefined();
  expect(truncateIp('')).toBeUndefined();
});
