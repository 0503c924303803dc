/**
 * Money is exact: amounts are decimal strings or `Decimal`s, never JavaScript numbers, and become
 * integers of the currency's minor unit through exactly one half-even rounding. Points are a liability
 * valued in money, so a cent lost to binary floating point shows up in month-end figures that must tie out.
 */
import { Decimal } from 'decimal.js';
import { InputError } from './errors.js';

export { Decimal };

/** An ISO 4217 alphabetic code, upper case (`EUR`, `JPY`, `KWD`). */
export type CurrencyCode = string;

/**
 * ISO 4217 list one, grouped by minor-unit exponent: the list published 2024-06-25, plus XCG (the
 * Caribbean guilder that replaced ANG in 2025; ANG stays for activities dated before the changeover).
 * Codes whose minor unit the standard gives as "N.A." (precious metals, SDR, bond-market units, XTS,
 * XXX) are left out on purpose: no fare or partner spend is denominated in them, and an amount in
 * them cannot be put into minor units.
 */
const CODES_BY_EXPONENT: ReadonlyArray<readonly [number, string]> = [
  [0, 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF'],
  [
    2,
    'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD ' +
      'CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL ' +
      'GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD ' +
      'LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN ' +
      'PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB ' +
      'TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG',
  ],
  [3, 'BHD IQD JOD KWD LYD OMR TND'],
  [4, 'CLF UYW'],
];

const EXPONENTS: ReadonlyMap<string, number> = new Map(
  CODES_BY_EXPONENT.flatMap(([exponent, codes]) => codes.split(' ').map((code) => [code, exponent] as const)),
);

/** Every currency code Redeye accepts, sorted. */
export const CURRENCY_CODES: readonly CurrencyCode[] = [...EXPONENTS.keys()].sort();

export function isCurrencyCode(code: string): boolean {
  return EXPONENTS.has(code);
}

/** Number of decimal places of the currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD), or undefined. */
export function minorUnitExponent(currency: CurrencyCode): number | undefined {
  return EXPONENTS.get(currency);
}

function exponentOf(currency: CurrencyCode): number {
  const exponent = EXPONENTS.get(currency);
  if (exponent === undefined) {
    throw new InputError('BAD_CURRENCY', `not an ISO 4217 currency code: ${JSON.stringify(currency)}`, {
      currency,
    });
  }
  return exponent;
}

// Plain decimal notation only: a sign, digits, and an optional fraction with at least one digit. No
// exponent, no thousands separators, no spaces, no leading or trailing dot: partner files that send
// anything else are rejected rather than guessed at.
const DECIMAL_TEXT = /^[+-]?\d+(?:\.\d+)?$/;

/** The amount in `text`, or undefined when it is not a plain decimal string (`12.50`, `-3`, `0.125`). */
export function tryParseAmount(text: string): Decimal | undefined {
  return DECIMAL_TEXT.test(text) ? new Decimal(text) : undefined;
}

/** The amount in `text`; throws `BAD_AMOUNT` when it is not a plain decimal string. */
export function parseAmount(text: string): Decimal {
  const amount = tryParseAmount(text);
  if (amount === undefined) {
    throw new InputError('BAD_AMOUNT', `not a decimal amount: ${JSON.stringify(text)}`, { value: text });
  }
  return amount;
}

function asDecimal(amount: Decimal | string): Decimal {
  return typeof amount === 'string' ? parseAmount(amount) : amount;
}

/**
 * The amount as an integer count of the currency's minor unit, rounded once, half-even (banker's
 * rounding: 0.125 EUR is 12 cents, 0.135 EUR is 14), so rounding errors over many amounts cancel
 * instead of drifting upwards. Throws when the result would not be a safe JavaScript integer.
 */
export function toMinorUnits(amount: Decimal | string, currency: CurrencyCode): number {
  const exponent = exponentOf(currency);
  // toFixed rounds to decimal places without the significant-digit precision limit of Decimal arithmetic.
  const digits = asDecimal(amount).toFixed(exponent, Decimal.ROUND_HALF_EVEN).replace('.', '');
  const minor = Number(digits);
  if (!Number.isSafeInteger(minor)) {
    throw new InputError('BAD_AMOUNT', `amount too large to hold in minor units: ${digits} ${currency}`, {
      currency,
    });
  }
  return minor === 0 ? 0 : minor; // no negative zero from "-0.00"
}

/** A count of minor units back to its decimal string in the currency (`12345, 'EUR'` → `123.45`). */
export function formatMinor(minor: number | bigint, currency: CurrencyCode): string {
  if (typeof minor === 'number' && !Number.isSafeInteger(minor)) {
    throw new RangeError(`minor units must be a safe integer, got ${minor}`);
  }
  const exponent = exponentOf(currency);
  const negative = minor < 0;
  const digits = (negative ? -BigInt(minor) : BigInt(minor)).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}`;
}

/** A count of minor units as an exact `Decimal` in the currency's major unit. */
export function fromMinorUnits(minor: number | bigint, currency: CurrencyCode): Decimal {
  return new Decimal(formatMinor(minor, currency));
}
