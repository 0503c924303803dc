/**
 * Member master delta from the CRM and enrolment systems (formats/members.md): a header row naming the
 * columns in any order, one full member record per row. The separator is `,` unless the header row shows
 * `;` (or ParseOptions.delimiter says otherwise).
 *
 * Rows are yielded in file order, several per member if the file has them; applying them in
 * `updatedAt` order, an older row never overwriting a newer one, is the rules layer's work. `updatedAt`
 * is the instant normalised to UTC (`2024-05-01T07:00:00.000Z`), so the strings compare in time order;
 * a timestamp without a time zone is refused (BAD_TIMESTAMP), as its order against others is unknown.
 * One more than a day after the file came in is refused (FUTURE_DATE): a year mistyped ahead (2062 for
 * 2026) would be newer than every record the CRM sends after it, each dropped as older. So is an
 * enrolment_date after the day after the file came in: nobody is sent before they enrol.
 *
 * Required columns: member_number, status, enrolment_date, enrolment_channel, surname, given_name,
 * updated_at. The others may be left out of the header.
 *
 * Value rules: merged_into is given exactly when status is MERGED, and is held to the program's
 * member-number rule as member_number is (CHECK_DIGIT, BAD_MEMBER_NUMBER); surname is required unless the
 * member is INCOMPLETE (enrolment not finished), CLOSED or MERGED; group_type and group_id come
 * together, and group_id names its pool's account (`POOL:<group_id>:PTS`), so holds no `:` or `/`.
 * Personal fields are optional and validated when present.
 *
 * marketing_consent syntax (case as shown, spaces around the separators ignored):
 *
 *     (empty)                        consent not stated
 *     Y | N                          one answer for every mailing type
 *     EXPIRY:Y;STATEMENT:N           per mailing type; types not listed are not stated
 *     N;STATEMENT:Y                  a default first, then exceptions to it
 *
 * A mailing type is one of CONSENT_TYPES: a mailing kind by its name (BALANCE_STATEMENT) or by its short
 * name (STATEMENT), or CARD; the record carries it as the kind's name, whichever was written. A type
 * named twice (STATEMENT and BALANCE_STATEMENT included) or naming no mailing is refused (BAD_FORMAT), as
 * an answer Redeye cannot apply would otherwise fall back to the default and mail against a stated no.
 * In a `;`-separated file the field must be quoted, as any field containing the separator.
 */
import {
  HeaderedCsvHandler,
  IDENTIFIER_RE,
  parseIsoTimestamp,
  csvFeedParser,
  isCalendarDate,
  type ColumnSpec,
  type FieldReader,
  type SourceLine,
} from './csv-common.js';
import type { FeedParser } from './types.js';
import { poolPointsAccount } from '../ledger/accounts.js';
import type { MailingKind } from '../config/schema.js';
import type { MemberNumberRule } from '../rules/check-digit.js';
import { DAYS_AHEAD_OF_RECEIPT } from '../rules/eligibility.js';

export type MemberStatus = 'ACTIVE' | 'INCOMPLETE' | 'SUSPENDED' | 'CLOSED' | 'MERGED';
export type EnrolmentChannel = 'WEB' | 'APP' | 'AIRPORT' | 'CALLCENTER' | 'PARTNER';
export type GroupType = 'HOUSEHOLD' | 'CORPORATE';

/**
 * The mailing types a consent may name, and what each stands for: every mailing kind under its own name
 * and under the short name the members feed has documented since its first version. CARD (the card of a
 * new tier) is a type the program knows and mails in no list of its own: its answer is kept for the day
 * it does, and no list reads it (a TIER_CHANGE mailing announcing a new card is a TIER answer).
 */
export const CONSENT_TYPES = {
  EXPIRY_WARNING: 'EXPIRY_WARNING',
  BALANCE_STATEMENT: 'BALANCE_STATEMENT',
  TIER_CHANGE: 'TIER_CHANGE',
  INCOMPLETE_REGISTRATION: 'INCOMPLETE_REGISTRATION',
  ACCOUNT_CLOSURE: 'ACCOUNT_CLOSURE',
  EXPIRY: 'EXPIRY_WARNING',
  STATEMENT: 'BALANCE_STATEMENT',
  TIER: 'TIER_CHANGE',
  REGISTRATION: 'INCOMPLETE_REGISTRATION',
  CLOSURE: 'ACCOUNT_CLOSURE',
  CARD: 'CARD',
} as const satisfies { [K in MailingKind]: K } & Record<string, MailingKind | 'CARD'>;

export type ConsentType = (typeof CONSENT_TYPES)[keyof typeof CONSENT_TYPES];

/** The type a consent's name stands for (`STATEMENT` → `BALANCE_STATEMENT`); undefined for no type. */
export function consentTypeOf(name: string): ConsentType | undefined {
  return Object.hasOwn(CONSENT_TYPES, name) ? CONSENT_TYPES[name as keyof typeof CONSENT_TYPES] : undefined;
}

export interface MarketingConsent {
  /** The answer for mailing types not listed in `byType`; null when the member gave none. */
  all: boolean | null;
  /** By the type's full name (`BALANCE_STATEMENT`, never `STATEMENT`). */
  byType: Readonly<Partial<Record<ConsentType, boolean>>>;
}

export interface MemberRecord extends SourceLine {
  memberNumber: string;
  status: MemberStatus;
  mergedInto: string | null;
  enrolmentDate: string;
  enrolmentChannel: EnrolmentChannel;
  surname: string | null;
  givenName: string | null;
  surnameLocal: string | null;
  givenNameLocal: string | null;
  birthDate: string | null;
  email: string | null;
  phone: string | null;
  /** ISO 3166-1 alpha-2. */
  country: string | null;
  /** ISO 639-1, optionally with a region: `ru`, `en-GB`. */
  language: string | null;
  marketingConsent: MarketingConsent | null;
  groupType: GroupType | null;
  groupId: string | null;
  /** UTC ISO 8601 with milliseconds: strings compare in time order. */
  updatedAt: string;
}

export const MEMBER_COLUMNS: readonly ColumnSpec[] = [
  { name: 'member_number', required: true },
  { name: 'status', required: true },
  { name: 'merged_into', required: false },
  { name: 'enrolment_date', required: true },
  { name: 'enrolment_channel', required: true },
  { name: 'surname', required: true, personal: true },
  { name: 'given_name', required: true, personal: true },
  { name: 'surname_local', required: false, personal: true },
  { name: 'given_name_local', required: false, personal: true },
  { name: 'birth_date', required: false, personal: true },
  { name: 'email', required: false, personal: true },
  { name: 'phone', required: false, personal: true },
  { name: 'country', required: false },
  { name: 'language', required: false },
  { name: 'marketing_consent', required: false },
  { name: 'group_type', required: false },
  { name: 'group_id', required: false },
  { name: 'updated_at', required: true },
];
const MEMBER = 0;
const STATUS = 1;
const MERGED_INTO = 2;
const ENROLMENT_DATE = 3;
const CHANNEL = 4;
const SURNAME = 5;
const GIVEN = 6;
const SURNAME_LOCAL = 7;
const GIVEN_LOCAL = 8;
const BIRTH_DATE = 9;
const EMAIL = 10;
const PHONE = 11;
const COUNTRY = 12;
const LANGUAGE = 13;
const CONSENT = 14;
const GROUP_TYPE = 15;
const GROUP_ID = 16;
const UPDATED_AT = 17;

const STATUSES: ReadonlySet<MemberStatus> = new Set([
  'ACTIVE',
  'INCOMPLETE',
  'SUSPENDED',
  'CLOSED',
  'MERGED',
]);
const CHANNELS: ReadonlySet<EnrolmentChannel> = new Set(['WEB', 'APP', 'AIRPORT', 'CALLCENTER', 'PARTNER']);
const GROUP_TYPES: ReadonlySet<GroupType> = new Set(['HOUSEHOLD', 'CORPORATE']);
export const GROUP_ID_EXPECTED =
  "a group id of 1-40 letters, digits and _ . - (no : or /, which a pool's account code cannot carry)";
/**
 * The characters no address may hold, as a regular expression's class body: whitespace and `@`'s own
 * place aside, control, format (invisible), surrogate, private-use and unassigned characters (\p{C}),
 * and the blanks outside them that render as nothing — the combining grapheme joiner, variation
 * selectors, Hangul and Khmer fillers, Mongolian selectors, the braille blank.
 */
export const NOT_IN_ADDRESS =
  '\\s@\\p{C}\\u034F\\u115F\\u1160\\u17B4\\u17B5\\u180B-\\u180F\\u2800\\u3164\\uFE00-\\uFE0F\\uFFA0\\u{E0100}-\\u{E01EF}';
// At most 254 characters in all (RFC 5321's limit on a path, and the column's width), counted as code
// points as the column and the XML list's schema count them. An invisible character is refused: stored,
// it would reach the mailing house as another address that reads the same, and the XML list cannot
// carry most of them.
// The class lists combining marks on purpose, each refused on its own, not as part of a character.
const EMAIL_RE = new RegExp(
  // eslint-disable-next-line no-misleading-character-class
  `^(?=.{1,254}$)[^${NOT_IN_ADDRESS}]{1,64}@[^${NOT_IN_ADDRESS}]+\\.[^${NOT_IN_ADDRESS}]+$`,
  'u',
);
const EMAIL_EXPECTED =
  'an e-mail address of at most 254 characters, without spaces, control or other invisible characters';
const PHONE_RE = /^\+?[0-9][0-9 ().-]{3,24}$/;
const COUNTRY_RE = /^[A-Z]{2}$/;
const LANGUAGE_RE = /^[a-z]{2}(-[A-Z]{2})?$/;
const SURNAME_OPTIONAL: ReadonlySet<MemberStatus> = new Set(['INCOMPLETE', 'CLOSED', 'MERGED']);

const TYPE_NAMES = Object.entries(CONSENT_TYPES)
  .filter(([name, type]) => name === type)
  .map(([type]) => {
    const short = Object.keys(CONSENT_TYPES).find((n) => n !== type && consentTypeOf(n) === type);
    return short === undefined ? type : `${type} (${short})`;
  })
  .join(', ');
const CONSENT_EXPECTED =
  'Y, N, or per mailing type like EXPIRY:Y;STATEMENT:N (optionally after a default Y or N)';

/**
 * Reads the marketing_consent syntax above: the consent (null for an empty value), or what was expected
 * instead.
 */
export function readMarketingConsent(
  text: string,
): { consent: MarketingConsent | null } | { expected: string } {
  const value = text.trim();
  if (value === '') return { consent: null };
  let all: boolean | null = null;
  const byType: Partial<Record<ConsentType, boolean>> = {};
  const named = new Map<ConsentType, string>();
  const parts = value.split(';').map((p) => p.trim());
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part === 'Y' || part === 'N') {
      if (i !== 0) return { expected: CONSENT_EXPECTED };
      all = part === 'Y';
      continue;
    }
    const colon = part.indexOf(':');
    if (colon < 0) return { expected: CONSENT_EXPECTED };
    const name = part.slice(0, colon).trim();
    const answer = part.slice(colon + 1).trim();
    if (answer !== 'Y' && answer !== 'N') return { expected: CONSENT_EXPECTED };
    const type = consentTypeOf(name);
    if (type === undefined) {
      return { expected: `mailing types among ${TYPE_NAMES}; ${JSON.stringify(name)} names none` };
    }
    const before = named.get(type);
    if (before !== undefined) {
      return {
        expected:
          before === name
            ? `each mailing type once; ${name} is named twice`
            : `each mailing type once; ${before} and ${name} both name ${type}`,
      };
    }
    named.set(type, name);
    byType[type] = answer === 'Y';
  }
  return { consent: { all, byType } };
}

/** The marketing_consent syntax above read: null for an empty value, undefined when malformed. */
export function parseMarketingConsent(text: string): MarketingConsent | null | undefined {
  const read = readMarketingConsent(text);
  return 'consent' in read ? read.consent : undefined;
}

/**
 * Whether the member agreed to mailings of `type` (a full or short name): its own answer, else the
 * default, else no.
 */
export function consentFor(consent: MarketingConsent | null, type: string): boolean {
  if (consent === null) return false;
  const known = consentTypeOf(type);
  return (known === undefined ? undefined : consent.byType[known]) ?? consent.all ?? false;
}

class MembersHandler extends HeaderedCsvHandler<MemberRecord> {
  /**
   * The latest `updated_at` the file can carry: a change is stamped before its file is written. A day
   * beyond its receipt, as activity dates may be (DAYS_AHEAD_OF_RECEIPT), spares a CRM whose clock stamps
   * its local time as UTC, up to fourteen hours ahead.
   */
  private readonly latest: string;

  constructor(
    file: string,
    private readonly rule: MemberNumberRule | undefined,
    private readonly receivedAt: Date,
  ) {
    super(file, MEMBER_COLUMNS);
    this.latest = new Date(receivedAt.getTime() + DAYS_AHEAD_OF_RECEIPT * 86_400_000).toISOString();
  }

  protected build(r: FieldReader, line: number): MemberRecord {
    const memberNumber = this.rule === undefined ? r.member(MEMBER) : r.programMember(MEMBER, this.rule);
    const status = r.oneOf(STATUS, STATUSES, 'BAD_STATUS');
    // The survivor is held to the rule as the merged member is: a merge into a number no record can
    // enrol would wait for its survivor for ever.
    const mergedInto =
      this.rule === undefined ? r.optMember(MERGED_INTO) : r.optProgramMember(MERGED_INTO, this.rule);
    if (status === 'MERGED' && mergedInto === null) {
      r.fail(MERGED_INTO, 'MISSING_FIELD', 'the surviving member number of a MERGED member', '');
    } else if (mergedInto !== null && status !== 'MERGED') {
      r.fail(
        MERGED_INTO,
        'INCONSISTENT_FIELDS',
        `no merged_into unless status is MERGED (status is ${status})`,
        mergedInto,
      );
    } else if (mergedInto !== null && mergedInto === memberNumber) {
      r.fail(MERGED_INTO, 'INCONSISTENT_FIELDS', 'a member number other than the merged member', mergedInto);
    }
    const surname = SURNAME_OPTIONAL.has(status)
      ? r.optText(SURNAME)
      : r.text(SURNAME, 'the surname of a member that is ACTIVE or SUSPENDED');
    const consentText = r.raw(CONSENT);
    const consent = readMarketingConsent(consentText);
    if ('expected' in consent) r.fail(CONSENT, 'BAD_FORMAT', consent.expected, consentText);
    const groupType = r.optOneOf(GROUP_TYPE, GROUP_TYPES);
    const groupId = r.optMatch(GROUP_ID, IDENTIFIER_RE, GROUP_ID_EXPECTED);
    // The group id names its pool's award account: one the account code cannot carry would be stored as a
    // pool whose points no night could post.
    if (groupId !== null && IDENTIFIER_RE.test(groupId) && poolPointsAccount(groupId) === null)
      r.fail(GROUP_ID, 'BAD_FORMAT', GROUP_ID_EXPECTED, groupId);
    if ((groupType === null) !== (groupId === null)) {
      r.fail(
        groupType === null ? GROUP_TYPE : GROUP_ID,
        'MISSING_FIELD',
        'group_type and group_id together, or neither',
        '',
      );
    }
    const updatedText = r.raw(UPDATED_AT);
    let updatedAt = '';
    if (updatedText === '') {
      r.fail(UPDATED_AT, 'MISSING_FIELD', 'an ISO 8601 timestamp with a time zone', '');
    } else {
      updatedAt = parseIsoTimestamp(updatedText, true) ?? '';
      if (updatedAt === '') {
        r.fail(
          UPDATED_AT,
          'BAD_TIMESTAMP',
          'an ISO 8601 timestamp with a time zone, e.g. 2024-05-01T10:00:00+03:00',
          updatedText,
        );
      } else if (updatedAt > this.latest) {
        r.fail(
          UPDATED_AT,
          'FUTURE_DATE',
          `the time of the change, no later than a day after the file came in (${this.receivedAt.toISOString()})`,
          updatedText,
        );
      }
    }
    // A member enrols before the record of it is sent: an enrolment date past the day after the file
    // came in (the leeway `updated_at` has) is a year typed ahead, which would hold every flight before
    // it ineligible and the member's base tier dated in the future.
    const enrolmentDate = r.date(ENROLMENT_DATE);
    if (isCalendarDate(enrolmentDate) && enrolmentDate > this.latest.slice(0, 10))
      r.fail(
        ENROLMENT_DATE,
        'FUTURE_DATE',
        `the date the member enrolled, no later than a day after the file came in (${this.receivedAt.toISOString()})`,
        enrolmentDate,
      );
    return {
      memberNumber,
      status,
      mergedInto,
      enrolmentDate,
      enrolmentChannel: r.oneOf(CHANNEL, CHANNELS),
      surname,
      givenName: r.optText(GIVEN),
      surnameLocal: r.optText(SURNAME_LOCAL),
      givenNameLocal: r.optText(GIVEN_LOCAL),
      birthDate: r.optDate(BIRTH_DATE),
      email: r.optMatch(EMAIL, EMAIL_RE, EMAIL_EXPECTED),
      phone: r.optMatch(PHONE, PHONE_RE, 'a phone number of digits, optionally with +, spaces, ( ) . -'),
      country: r.optMatch(COUNTRY, COUNTRY_RE, 'an ISO 3166 two-letter country code'),
      language: r.optMatch(
        LANGUAGE,
        LANGUAGE_RE,
        'an ISO 639-1 language code, optionally with a region (en-GB)',
      ),
      marketingConsent: 'consent' in consent ? consent.consent : null,
      groupType,
      groupId,
      updatedAt,
      sourceFile: this.file,
      sourceLine: line,
    };
  }
}

export const membersParser: FeedParser<MemberRecord> = csvFeedParser(
  'members',
  (file, options, input) => new MembersHandler(file, options.memberNumber, input.receivedAt),
);
