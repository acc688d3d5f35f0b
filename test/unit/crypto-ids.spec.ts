import { CryptoIdGenerator } from '../../src/infrastructure/system/system-clock.js';

describe('CryptoIdGenerator', () => {
  it('makes tokens of the asked length from the 62 letters and digits, none twice, across many refills of its random pool', () => {
    const ids = new CryptoIdGenerator();
    // 20,000 tokens of 20 characters take about 430 KB of random bytes: about a hundred refills of the 4 KiB pool.
    const tokens = Array.from({ length: 20_000 }, () => ids.token(20));
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('uses every character about equally often (no bias towards the first letters of the alphabet)', () => {
    const ids = new CryptoIdGenerator();
    const counts = new Map<string, number>();
    for (const char of ids.token(62 * 2000)) counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // Each character is expected 2,000 times; a binomial spread of about 44 puts every count well within 1,700-2,300.
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(1700);
      expect(count).toBeLessThan(2300);
    }
  });

  it('derives the same name-based id for the same name, and another for another', () => {
    const ids = new CryptoIdGenerator();
    expect(ids.derived('a|b')).toBe(ids.derived('a|b'));
    expect(ids.derived('a|b')).not.toBe(ids.derived('a|c'));
    expect(ids.derived('a|b')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
