import { subtractMinorUnits, sumMinorUnits } from '../../src/domain/shared/money.js';

describe('money', () => {
  describe('sums of amounts (report totals)', () => {
    const max = Number.MAX_SAFE_INTEGER;

    it('are exact past 2^53, as decimal digits', () => {
      expect(sumMinorUnits(max, max, 1)).toBe('18014398509481983');
      expect(String(max + max + 1)).not.toBe('18014398509481983'); // what a number would have said
      expect(sumMinorUnits('18014398509481983', max)).toBe('27021597764222974');
      expect(sumMinorUnits()).toBe('0');
      expect(sumMinorUnits('99999999999999999999999999', 1)).toBe('100000000000000000000000000');
    });

    it('subtract exactly, and a net may be negative', () => {
      expect(subtractMinorUnits('27021597764222974', max)).toBe('18014398509481983');
      expect(subtractMinorUnits(500, '1999')).toBe('-1499');
      expect(subtractMinorUnits('0', 0)).toBe('0');
    });

    it('refuse what is not an integer of minor units', () => {
      expect(() => sumMinorUnits(1.5)).toThrow(RangeError);
      expect(() => sumMinorUnits(max + 1)).toThrow(RangeError);
      expect(() => sumMinorUnits('19.99')).toThrow(RangeError);
      expect(() => sumMinorUnits('1e3')).toThrow(RangeError);
      expect(() => subtractMinorUnits('', 1)).toThrow(RangeError);
    });
  });
});
