/**
 * Member-number check digits. A mistyped card number on a partner file or at check-in must not credit
 * someone else's account, so a number whose check digit fails is rejected before any member lookup.
 * Member numbers are strings from end to end: leading zeros are part of the number (`0000123455`).
 */
import { ConfigError } from '../lib/errors.js';

export type CheckDigitScheme = 'luhn' | 'mod7' | 'none';

export interface MemberNumberRule {
  /** Regular expression the whole number must match (anchored for you), e.g. `\d{10}`. */
  pattern?: string;
  checkDigit: CheckDigitScheme;
}

export type MemberNumberCheck = { valid: true } | { valid: false; reason: 'CHECK_DIGIT' | 'MALFORMED' };

const DIGITS = /^\d+$/;

/**
 * Luhn (ISO/IEC 7812-1): from the right, every second digit doubled, digits of products summed; the
 * check digit brings the total to a multiple of 10. It catches every single-digit error and most
 * swaps of neighbouring digits.
 */
function luhnCheckDigit(base: string): number {
  let sum = 0;
  // The rightmost base digit sits next to the check digit, so it is the first one doubled.
  for (let i = base.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = base.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * Mod 7, the airline-document scheme (ticket and coupon serial numbers): the check digit is the base
 * read as an integer, modulo 7. Computed digit by digit so a base of any length stays exact. It misses
 * a digit replaced by one 7 away (0↔7, 1↔8, 2↔9), which is why programs that can choose prefer Luhn.
 */
function mod7CheckDigit(base: string): number {
  let remainder = 0;
  for (let i = 0; i < base.length; i++) remainder = (remainder * 10 + (base.charCodeAt(i) - 48)) % 7;
  return remainder;
}

function checkDigitOf(base: string, scheme: 'luhn' | 'mod7'): number {
  return scheme === 'luhn' ? luhnCheckDigit(base) : mod7CheckDigit(base);
}

// A rule is applied to millions of numbers a night: compile each configured pattern once.
const compiled = new Map<string, RegExp>();

function patternOf(rule: MemberNumberRule): RegExp | undefined {
  if (rule.pattern === undefined) return undefined;
  let regex = compiled.get(rule.pattern);
  if (!regex) {
    try {
      regex = new RegExp(`^(?:${rule.pattern})$`);
    } catch (error) {
      throw new ConfigError(`member-number pattern is not a valid regular expression: ${rule.pattern}`, [
        { path: 'pattern', message: (error as Error).message },
      ]);
    }
    compiled.set(rule.pattern, regex);
  }
  return regex;
}

export function validateMemberNumber(number: string, rule: MemberNumberRule): MemberNumberCheck {
  if (number.length === 0) return { valid: false, reason: 'MALFORMED' };
  const pattern = patternOf(rule);
  if (pattern && !pattern.test(number)) return { valid: false, reason: 'MALFORMED' };
  if (rule.checkDigit === 'none') return { valid: true };
  if (number.length < 2 || !DIGITS.test(number)) return { valid: false, reason: 'MALFORMED' };
  const base = number.slice(0, -1);
  const given = number.charCodeAt(number.length - 1) - 48;
  return given === checkDigitOf(base, rule.checkDigit)
    ? { valid: true }
    : { valid: false, reason: 'CHECK_DIGIT' };
}

/**
 * `base` followed by its check digit under `rule` (unchanged for `none`). Throws a RangeError when the
 * base is not digits or the completed number would not pass the rule's pattern: a generator asking
 * for an impossible number has a bug worth hearing about.
 */
export function withCheckDigit(base: string, rule: MemberNumberRule): string {
  let number = base;
  if (rule.checkDigit !== 'none') {
    if (!DIGITS.test(base))
      throw new RangeError(`a ${rule.checkDigit} base must be digits: ${JSON.stringify(base)}`);
    number = `${base}${checkDigitOf(base, rule.checkDigit)}`;
  }
  const check = validateMemberNumber(number, rule);
  if (!check.valid) {
    throw new RangeError(`${JSON.stringify(number)} does not fit the member-number rule (${check.reason})`);
  }
  return number;
}
