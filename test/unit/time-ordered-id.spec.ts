import { timeOrderedId } from '../../src/application/shared/time-ordered-id.js';

describe('a time-ordered id', () => {
  const at = (iso: string) => new Date(iso);

  it('is the prefix, the time in nine base-36 digits, then the random part', () => {
    expect(timeOrderedId('ord_', at('1970-01-01T00:00:00.000Z'), 'Abc')).toBe('ord_000000000Abc');
    expect(timeOrderedId('ord_', at('1970-01-01T00:00:00.035Z'), 'x')).toBe('ord_00000000zx');
    expect(timeOrderedId('ord_', at('1970-01-01T00:00:00.036Z'), 'x')).toBe('ord_000000010x');
    expect(timeOrderedId('ord_', at('2026-11-30T19:40:00.000Z'), '')).toMatch(/^ord_[0-9a-z]{9}$/);
  });

  it('sorts by the time it was made, as bytes and in a locale collation alike, whatever the random part', () => {
    const times = [
      '2026-11-30T19:40:00.000Z',
      '2026-11-30T19:40:00.001Z',
      '2026-11-30T19:40:00.035Z',
      '2026-11-30T19:40:00.036Z',
      '2026-11-30T19:41:00.000Z',
      '2026-12-01T00:00:00.000Z',
      '2027-01-01T00:00:00.000Z',
      '2100-01-01T00:00:00.000Z',
    ];
    // Random parts that would sort the other way round on their own.
    const ids = times.map((time, i) => timeOrderedId('ord_', at(time), String.fromCharCode(0x7a - i).repeat(20)));

    expect([...ids].sort()).toEqual(ids);
    expect([...ids].sort(new Intl.Collator('en-US').compare)).toEqual(ids);
  });

  it('keeps nine digits for times before 1970 and after the year 5138 (only the order is lost there)', () => {
    expect(timeOrderedId('ord_', at('1969-12-31T23:59:59.999Z'), 'r')).toBe('ord_000000000r');
    expect(timeOrderedId('ord_', at('+006000-01-01T00:00:00.000Z'), 'r')).toBe('ord_zzzzzzzzzr');
  });
});
