import { isValidMoney, sameMoney } from '../../src/domain/shared/money.js';

describe('money', () => {
  it('is an integer amount of minor units with an upper-case ISO currency', () => {
    expect(isValidMoney({ amount: 1999, currency: 'CNY' })).toBe(true);
    expect(isValidMoney({ amount: 19.99, currency: 'CNY' })).toBe(false);
    expect(isValidMoney({ amount: 1999, currency: 'cny' })).toBe(false);
    expect(isValidMoney({ amount: 0, currency: 'CNY' })).toBe(false);
  });
  it('compares amount and currency together', () => {
    expect(sameMoney({ amount: 1, currency: 'EUR' }, { amount: 1, currency: 'USD' })).toBe(false);
  });
});
