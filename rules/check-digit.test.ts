import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MemberNumberRule, validateMemberNumber, withCheckDigit } from './check-digit.js';

const demoProgram: MemberNumberRule = { pattern: '\\d{10}', checkDigit: 'luhn' };

/** `number` with the digit at `index` replaced by `digit`. */
function replaceDigit(number: string, index: number, digit: number): string {
  return `${number.slice(0, index)}${digit}${number.slice(index + 1)}`;
}

describe('Luhn member numbers (the demo program: 10 digits, last one a Luhn check digit)', () => {
  it('accepts every member number used in the FTL samples', () => {
    const numbers = [
      '1000000016',
      '1000000024',
      '1000000032',
      '1000000040',
      '1000000057',
      '1000000065',
      '1000000073',
      '1000000081',
      '1000000099',
      '1000000107',
      '0000123455',
    ];
    for (const number of numbers)
      expect(validateMemberNumber(number, demoProgram), number).toEqual({ valid: true });
  });

  it('accepts the textbook Luhn example', () => {
    expect(validateMemberNumber('79927398713', { checkDigit: 'luhn' })).toEqual({ valid: true });
  });

  it('rejects a mistyped number as a check-digit failure', () => {
    expect(validateMemberNumber('1000000017', demoProgram)).toEqual({ valid: false, reason: 'CHECK_DIGIT' });
    expect(validateMemberNumber('0000123456', demoProgram)).toEqual({ valid: false, reason: 'CHECK_DIGIT' });
  });

  it('rejects numbers of the wrong shape as malformed, before looking at the check digit', () => {
    expect(validateMemberNumber('100000016', demoProgram)).toEqual({ valid: false, reason: 'MALFORMED' });
    expect(validateMemberNumber('10000000160', demoProgram)).toEqual({ valid: false, reason: 'MALFORMED' });
    expect(validateMemberNumber('100000001A', demoProgram)).toEqual({ valid: false, reason: 'MALFORMED' });
    expect(validateMemberNumber(' 1000000016', demoProgram)).toEqual({ valid: false, reason: 'MALFORMED' });
    expect(validateMemberNumber('', demoProgram)).toEqual({ valid: false, reason: 'MALFORMED' });
    expect(validateMemberNumber('7', { checkDigit: 'luhn' })).toEqual({ valid: false, reason: 'MALFORMED' });
    expect(validateMemberNumber('12-34', { checkDigit: 'luhn' })).toEqual({
      valid: false,
      reason: 'MALFORMED',
    });
  });

  it('keeps leading zeros when generating a number', () => {
    expect(withCheckDigit('000012345', demoProgram)).toBe('0000123455');
    expect(withCheckDigit('100000001', demoProgram)).toBe('1000000016');
    expect(withCheckDigit('000000000', demoProgram)).toBe('0000000000');
  });

  it('refuses to generate a number the rule would reject', () => {
    expect(() => withCheckDigit('12345', demoProgram)).toThrow(RangeError);
    expect(() => withCheckDigit('12345678A', demoProgram)).toThrow(RangeError);
  });

  it('validates every number it generates', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{9}$/), (base) => {
        expect(validateMemberNumber(withCheckDigit(base, demoProgram), demoProgram)).toEqual({ valid: true });
      }),
    );
  });

  it('catches any single mistyped digit', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^\d{9}$/),
        fc.nat(9),
        fc.integer({ min: 1, max: 9 }),
        (base, index, shift) => {
          const number = withCheckDigit(base, demoProgram);
          const typo = replaceDigit(number, index, (Number(number[index]) + shift) % 10);
          expect(validateMemberNumber(typo, demoProgram)).toEqual({ valid: false, reason: 'CHECK_DIGIT' });
        },
      ),
    );
  });

  it('catches two neighbouring digits swapped, except the 09/90 pair Luhn cannot see', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{9}$/), fc.nat(8), (base, index) => {
        const number = withCheckDigit(base, demoProgram);
        const a = number[index]!;
        const b = number[index + 1]!;
        fc.pre(a !== b && `${a}${b}` !== '09' && `${a}${b}` !== '90');
        const swapped = `${number.slice(0, index)}${b}${a}${number.slice(index + 2)}`;
        expect(validateMemberNumber(swapped, demoProgram).valid).toBe(false);
      }),
    );
  });
});

describe('mod 7 member numbers', () => {
  const mod7: MemberNumberRule = { checkDigit: 'mod7' };

  it('takes the base modulo 7 as the check digit', () => {
    // 123456789 = 7 × 17636684 + 1
    expect(withCheckDigit('123456789', mod7)).toBe('1234567891');
    expect(validateMemberNumber('1234567891', mod7)).toEqual({ valid: true });
    expect(validateMemberNumber('1234567892', mod7)).toEqual({ valid: false, reason: 'CHECK_DIGIT' });
    // 7000 is divisible by 7; a check digit of 7, 8 or 9 can never be right.
    expect(withCheckDigit('7000', mod7)).toBe('70000');
    expect(validateMemberNumber('70007', mod7)).toEqual({ valid: false, reason: 'CHECK_DIGIT' });
  });

  it('stays exact for bases longer than a JavaScript number can hold', () => {
    // 10^6 ≡ 1 (mod 7), so 10^29 ≡ 10^5 ≡ 5, and 10^30 - 1 ≡ 0.
    expect(withCheckDigit(`1${'0'.repeat(29)}`, mod7)).toBe(`1${'0'.repeat(29)}5`);
    expect(withCheckDigit('9'.repeat(30), mod7)).toBe(`${'9'.repeat(30)}0`);
    fc.assert(
      fc.property(fc.stringMatching(/^\d{16,30}$/), (base) => {
        expect(withCheckDigit(base, mod7)).toBe(`${base}${BigInt(base) % 7n}`);
      }),
    );
  });

  it('catches a mistyped digit unless it was replaced by one 7 away', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^\d{12}$/),
        fc.nat(12),
        fc.integer({ min: 0, max: 9 }),
        (base, index, digit) => {
          const number = withCheckDigit(base, mod7);
          const original = Number(number[index]);
          fc.pre(digit !== original);
          const typo = replaceDigit(number, index, digit);
          const inBase = index < base.length;
          const blind = inBase && Math.abs(digit - original) === 7;
          expect(validateMemberNumber(typo, mod7).valid).toBe(blind);
        },
      ),
    );
  });
});

describe('programs without a check digit', () => {
  it('accepts any number that fits the pattern, letters included', () => {
    const rule: MemberNumberRule = { pattern: '[A-Z]{2}\\d{6}', checkDigit: 'none' };
    expect(validateMemberNumber('AB123456', rule)).toEqual({ valid: true });
    expect(validateMemberNumber('AB12345', rule)).toEqual({ valid: false, reason: 'MALFORMED' });
    expect(withCheckDigit('AB000001', rule)).toBe('AB000001');
  });

  it('accepts any non-empty number when no pattern is configured', () => {
    expect(validateMemberNumber('00000082270497', { checkDigit: 'none' })).toEqual({ valid: true });
    expect(validateMemberNumber('', { checkDigit: 'none' })).toEqual({ valid: false, reason: 'MALFORMED' });
  });
});

it('reports a broken pattern as a configuration error', () => {
  expect(() => validateMemberNumber('1', { pattern: '(\\d', checkDigit: 'none' })).toThrow(
    expect.objectContaining({ code: 'CONFIG_INVALID' }),
  );
});
