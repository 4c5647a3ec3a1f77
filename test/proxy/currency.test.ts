import { describe, expect, it } from 'vitest';
import { ISO_4217, isCurrency } from '../../proxy/lib/currency';

describe('the ISO 4217 list', () => {
  it('holds the active codes, newest included, in any case', () => {
    for (const code of ['EUR', 'usd', 'Jpy', 'XCG', 'ZWG', 'SLE', 'VED', 'VES', 'MRU', 'STN', 'BYN', 'XOF', 'CLF']) expect(isCurrency(code), code).toBe(true);
  });

  it('leaves out withdrawn codes, units that are no money, and made-up ones', () => {
    for (const code of ['HRK', 'ANG', 'ZWL', 'SLL', 'BGN', 'VEF', 'MRO', 'LTL', 'XAU', 'XTS', 'XXX', 'XDR', 'XYZ', 'EURO', '']) expect(isCurrency(code), code).toBe(false);
  });

  it('is a sorted list of three upper-case letters without repeats', () => {
    const codes = [...ISO_4217];
    expect(codes.every((code) => /^[A-Z]{3}$/.test(code))).toBe(true);
    expect(codes).toEqual([...codes].sort());
    expect(codes.length).toBe(164);
  });
});
