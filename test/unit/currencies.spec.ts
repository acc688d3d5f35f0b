import { CURRENCY_EXPONENTS, formatMinorUnits, isCurrency, minorUnitExponent, parseMinorUnits } from '../../src/domain/shared/currencies.js';
import { fenFromYuan, yuanFromFen } from '../../src/infrastructure/channels/alipay-format.js';

describe('ISO 4217 currencies', () => {
  it('knows the common codes with their minor-unit exponent', () => {
    const expected: Record<string, number> = {
      CNY: 2, USD: 2, EUR: 2, JPY: 0, KRW: 0, HKD: 2, TWD: 2, GBP: 2, CHF: 2,
      KWD: 3, BHD: 3, JOD: 3, OMR: 3, TND: 3, IQD: 3, LYD: 3,
      CLP: 0, VND: 0, ISK: 0, PYG: 0, UGX: 0, XAF: 0, XOF: 0, XPF: 0,
      IDR: 2, INR: 2, SGD: 2, AUD: 2, CAD: 2, MOP: 2, THB: 2, MYR: 2, PHP: 2, RUB: 2, BRL: 2, MXN: 2, ZAR: 2,
      CLF: 4, UYW: 4,
    };
    for (const [code, exponent] of Object.entries(expected)) expect([code, minorUnitExponent(code)]).toEqual([code, exponent]);
  });

  it('holds the full list of active codes, each three upper-case letters with an exponent of 0, 2, 3 or 4', () => {
    const codes = Object.keys(CURRENCY_EXPONENTS);
    expect(codes.length).toBeGreaterThanOrEqual(150);
    expect(codes).toEqual([...codes].sort());
    for (const code of codes) {
      expect(code).toMatch(/^[A-Z]{3}$/);
      expect([0, 2, 3, 4]).toContain(CURRENCY_EXPONENTS[code]);
    }
  });

  it('refuses codes that are not active ISO 4217 currencies: made up, lower case, withdrawn, or without minor units', () => {
    for (const code of ['XYZ', 'ABC', 'cny', 'CN', 'CNYY', '', 'HRK', 'CUC', 'ZWL', 'XAU', 'XXX', 'XTS', 'toString', '__proto__']) {
      expect([code, isCurrency(code)]).toEqual([code, false]);
    }
    expect(isCurrency(undefined)).toBe(false);
    expect(() => minorUnitExponent('XYZ')).toThrow(RangeError);
  });

  describe('formatting minor units for a provider (the one place amounts become decimal text)', () => {
    it('places the decimal point by the exponent, without floats', () => {
      expect(formatMinorUnits(1999, 'CNY')).toBe('19.99');
      expect(formatMinorUnits(5, 'CNY')).toBe('0.05');
      expect(formatMinorUnits(100, 'USD')).toBe('1.00');
      expect(formatMinorUnits(1999, 'JPY')).toBe('1999');
      expect(formatMinorUnits(1999, 'KRW')).toBe('1999');
      expect(formatMinorUnits(1999, 'KWD')).toBe('1.999');
      expect(formatMinorUnits(7, 'BHD')).toBe('0.007');
      expect(formatMinorUnits(12345, 'CLF')).toBe('1.2345');
      expect(formatMinorUnits(0, 'EUR')).toBe('0.00');
      // Where floats go wrong: 1.1 + 2.2, or amounts past 2^53 / 100.
      expect(formatMinorUnits(330, 'CNY')).toBe('3.30');
      expect(formatMinorUnits(Number.MAX_SAFE_INTEGER, 'CNY')).toBe('90071992547409.91');
    });

    it('refuses what is not an amount, or a currency it does not know', () => {
      expect(() => formatMinorUnits(19.99, 'CNY')).toThrow(RangeError);
      expect(() => formatMinorUnits(-1, 'CNY')).toThrow(RangeError);
      expect(() => formatMinorUnits(Number.MAX_SAFE_INTEGER + 1, 'CNY')).toThrow(RangeError);
      expect(() => formatMinorUnits(100, 'XYZ')).toThrow(RangeError);
    });

    it('reads a provider amount back by the same exponent', () => {
      expect(parseMinorUnits('19.99', 'CNY')).toBe(1999);
      expect(parseMinorUnits('19.9', 'CNY')).toBe(1990);
      expect(parseMinorUnits('19', 'CNY')).toBe(1900);
      expect(parseMinorUnits('0.05', 'CNY')).toBe(5);
      expect(parseMinorUnits('1999', 'JPY')).toBe(1999);
      expect(parseMinorUnits('1.999', 'KWD')).toBe(1999);
      expect(parseMinorUnits('90071992547409.91', 'CNY')).toBe(Number.MAX_SAFE_INTEGER);
      for (const [text, currency] of [['19.999', 'CNY'], ['19.9', 'JPY'], ['1.', 'CNY'], ['-1.00', 'CNY'], ['1e3', 'CNY'], [' 1.00', 'CNY'], ['90071992547409.92', 'CNY'], ['1.00', 'XYZ']]) {
        expect([text, currency, parseMinorUnits(text, currency)]).toEqual([text, currency, null]);
      }
      expect(parseMinorUnits(1999, 'CNY')).toBeNull();
    });

    it("is what Alipay's yuan conversion uses", () => {
      for (const fen of [1, 5, 99, 100, 1999, 100005, 123456789]) {
        expect(yuanFromFen(fen)).toBe(formatMinorUnits(fen, 'CNY'));
        expect(fenFromYuan(yuanFromFen(fen))).toBe(fen);
      }
    });
  });
});
