import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CURRENCY_CODES,
  Decimal,
  formatMinor,
  fromMinorUnits,
  isCurrencyCode,
  minorUnitExponent,
  parseAmount,
  toMinorUnits,
  tryParseAmount,
} from './money.js';

describe('currency codes', () => {
  it('knows the minor unit of every currency a partner is likely to bill in', () => {
    expect(minorUnitExponent('EUR')).toBe(2);
    expect(minorUnitExponent('RUB')).toBe(2);
    expect(minorUnitExponent('USD')).toBe(2);
    expect(minorUnitExponent('JPY')).toBe(0);
    expect(minorUnitExponent('KRW')).toBe(0);
    expect(minorUnitExponent('ISK')).toBe(0);
    for (const code of ['KWD', 'BHD', 'JOD', 'OMR', 'TND', 'IQD', 'LYD'])
      expect(minorUnitExponent(code)).toBe(3);
    expect(minorUnitExponent('CLF')).toBe(4);
  });

  it('covers the whole active ISO 4217 list with its minor unit', () => {
    // List one of 2024-06-25 has 179 codes; 13 have no minor unit (metals, SDR, bond units, XTS, XXX); XCG came in 2025.
    expect(CURRENCY_CODES.length).toBe(179 - 13 + 1);
    expect(CURRENCY_CODES.every((code) => /^[A-Z]{3}$/.test(code))).toBe(true);
    expect(new Set(CURRENCY_CODES).size).toBe(CURRENCY_CODES.length);
  });

  it('accepts the newest codes and rejects withdrawn ones', () => {
    for (const code of ['XCG', 'ZWG', 'SLE', 'VED', 'MRU', 'STN', 'BYN'])
      expect(isCurrencyCode(code)).toBe(true);
    for (const code of ['HRK', 'LTL', 'MRO', 'STD', 'VEF', 'BYR', 'ZWL'])
      expect(isCurrencyCode(code)).toBe(false);
  });

  it('rejects codes that are not currencies an amount can be held in', () => {
    for (const code of ['XAU', 'XDR', 'XXX', 'XTS', 'eur', 'EURO', '', 'EU'])
      expect(isCurrencyCode(code)).toBe(false);
    expect(minorUnitExponent('XAU')).toBeUndefined();
  });
});

describe('parsing amounts', () => {
  it('reads plain decimal strings exactly', () => {
    expect(parseAmount('12.50').equals('12.5')).toBe(true);
    expect(parseAmount('-3').equals(-3)).toBe(true);
    expect(parseAmount('+0.125').toFixed()).toBe('0.125');
    expect(parseAmount('123456789012345678901234567.123456789').toFixed()).toBe(
      '123456789012345678901234567.123456789',
    );
  });

  it('refuses anything a partner file might send that is not a plain decimal', () => {
    for (const text of [
      '',
      ' 12',
      '12 ',
      '12.',
      '.5',
      '1e5',
      '1,000.00',
      '1 000',
      '12,50',
      'NaN',
      'Infinity',
      '0x10',
      '+-1',
      '--1',
      '1.2.3',
    ]) {
      expect(tryParseAmount(text), text).toBeUndefined();
      expect(() => parseAmount(text), text).toThrow(expect.objectContaining({ code: 'BAD_AMOUNT' }));
    }
  });
});

describe('minor units', () => {
  it('rounds half to even exactly where binary floating point would not', () => {
    // 2.675 * 100 is 267.49999… in floating point; the decimal amount is exactly half way and goes to even.
    expect(toMinorUnits('2.675', 'EUR')).toBe(268);
    expect(toMinorUnits('0.125', 'EUR')).toBe(12);
    expect(toMinorUnits('0.135', 'EUR')).toBe(14);
    expect(toMinorUnits('-0.125', 'EUR')).toBe(-12);
    expect(toMinorUnits('12.3449', 'EUR')).toBe(1234);
  });

  it('rounds to whole yen and to thousandths of a dinar', () => {
    expect(toMinorUnits('1.5', 'JPY')).toBe(2);
    expect(toMinorUnits('2.5', 'JPY')).toBe(2);
    expect(toMinorUnits('1500', 'JPY')).toBe(1500);
    expect(toMinorUnits('1.0005', 'KWD')).toBe(1000);
    expect(toMinorUnits('1.0015', 'KWD')).toBe(1002);
    expect(toMinorUnits(new Decimal('7.25'), 'BHD')).toBe(7250);
  });

  it('never yields a negative zero', () => {
    expect(Object.is(toMinorUnits('-0.001', 'EUR'), 0)).toBe(true);
  });

  it('refuses amounts too large to hold exactly rather than losing cents', () => {
    expect(toMinorUnits('90071992547409.91', 'EUR')).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => toMinorUnits('90071992547409.92', 'EUR')).toThrow(
      expect.objectContaining({ code: 'BAD_AMOUNT' }),
    );
  });

  it('refuses an unknown currency', () => {
    expect(() => toMinorUnits('1', 'XAU')).toThrow(expect.objectContaining({ code: 'BAD_CURRENCY' }));
    expect(() => formatMinor(1, 'EURO')).toThrow(expect.objectContaining({ code: 'BAD_CURRENCY' }));
  });

  it('formats minor units back as the decimal amount', () => {
    expect(formatMinor(12345, 'EUR')).toBe('123.45');
    expect(formatMinor(5, 'EUR')).toBe('0.05');
    expect(formatMinor(-5, 'EUR')).toBe('-0.05');
    expect(formatMinor(0, 'EUR')).toBe('0.00');
    expect(formatMinor(1500, 'JPY')).toBe('1500');
    expect(formatMinor(-1500, 'JPY')).toBe('-1500');
    expect(formatMinor(1, 'KWD')).toBe('0.001');
    expect(formatMinor(10n ** 20n, 'USD')).toBe('1000000000000000000.00');
    expect(fromMinorUnits(1, 'KWD').equals('0.001')).toBe(true);
    expect(() => formatMinor(0.5, 'EUR')).toThrow(RangeError);
  });

  const currency = fc.constantFrom(...CURRENCY_CODES);

  it('round-trips any minor-unit count through its decimal string exactly', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), currency, (minor, code) => {
        expect(toMinorUnits(formatMinor(minor, code), code)).toBe(minor);
      }),
    );
  });

  it('round-trips any amount already at the minor unit exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), currency, (scaled, code) => {
        const exponent = minorUnitExponent(code) ?? 0;
        const amount = new Decimal(scaled.toString()).dividedBy(new Decimal(10).pow(exponent));
        const text = formatMinor(toMinorUnits(amount, code), code);
        expect(parseAmount(text).equals(amount)).toBe(true);
      }),
    );
  });

  it('sends an amount exactly half way between two minor units to the even one', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }), currency, (lower, code) => {
        const exponent = minorUnitExponent(code) ?? 0;
        const half = new Decimal(lower).plus('0.5').dividedBy(new Decimal(10).pow(exponent));
        const rounded = toMinorUnits(half, code);
        expect(Math.abs(rounded % 2)).toBe(0);
        expect([lower, lower + 1]).toContain(rounded);
      }),
    );
  });
});
