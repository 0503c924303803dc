import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesInput, checkFileEvents, collect, csvField, fixtureInput } from './csv-testing.js';
import {
  CONSENT_TYPES,
  MEMBER_COLUMNS,
  consentFor,
  consentTypeOf,
  membersParser,
  parseMarketingConsent,
  readMarketingConsent,
  type MarketingConsent,
  type MemberRecord,
} from './members.js';
import { Accounts, describeAccount } from '../ledger/accounts.js';
import { xmlChars } from '../exporters/xml-writer.js';
import { validateMemberNumber, withCheckDigit, type MemberNumberRule } from '../rules/check-digit.js';

const read = (name: string) => collect(membersParser, [fixtureInput(`members/${name}`)]);

describe('marketing consent', () => {
  it('reads one answer, answers per mailing type, and a default with exceptions, by the kind’s full name', () => {
    expect(parseMarketingConsent('')).toBeNull();
    expect(parseMarketingConsent('Y')).toEqual({ all: true, byType: {} });
    expect(parseMarketingConsent(' EXPIRY:Y ; STATEMENT:N ')).toEqual({
      all: null,
      byType: { EXPIRY_WARNING: true, BALANCE_STATEMENT: false },
    });
    expect(parseMarketingConsent('N;STATEMENT:Y')).toEqual({
      all: false,
      byType: { BALANCE_STATEMENT: true },
    });
    expect(parseMarketingConsent('TIER_CHANGE:N;REGISTRATION:Y;CLOSURE:N;CARD:N')).toEqual({
      all: null,
      byType: { TIER_CHANGE: false, INCOMPLETE_REGISTRATION: true, ACCOUNT_CLOSURE: false, CARD: false },
    });
  });

  it('refuses anything else', () => {
    for (const text of [
      'YES',
      'y',
      'STATEMENT',
      'STATEMENT:YES',
      'STATEMENT:Y;N',
      'STATEMENT:Y;STATEMENT:N',
      'STATEMENT:Y;BALANCE_STATEMENT:N',
      'statement:Y',
      'Y;;EXPIRY:N',
      'Y;STATEMENT_TYPO:N',
      'ALL:Y',
      'N;NEWSLETTER:Y',
    ]) {
      expect(parseMarketingConsent(text), text).toBeUndefined();
    }
  });

  it('says which mailing types there are when one names none', () => {
    expect(readMarketingConsent('Y;STATEMENT_TYPO:N')).toEqual({
      expected:
        'mailing types among EXPIRY_WARNING (EXPIRY), BALANCE_STATEMENT (STATEMENT), TIER_CHANGE (TIER), ' +
        'INCOMPLETE_REGISTRATION (REGISTRATION), ACCOUNT_CLOSURE (CLOSURE), CARD; "STATEMENT_TYPO" names none',
    });
    expect(readMarketingConsent('STATEMENT:Y;BALANCE_STATEMENT:N')).toEqual({
      expected: 'each mailing type once; STATEMENT and BALANCE_STATEMENT both name BALANCE_STATEMENT',
    });
  });

  it('answers per type from the type, the default, or no', () => {
    const consent = parseMarketingConsent('N;STATEMENT:Y') as MarketingConsent;
    expect(consentFor(consent, 'STATEMENT')).toBe(true);
    expect(consentFor(consent, 'BALANCE_STATEMENT')).toBe(true);
    expect(consentFor(consent, 'EXPIRY')).toBe(false);
    expect(consentFor(parseMarketingConsent('TIER:Y') as MarketingConsent, 'EXPIRY')).toBe(false);
    expect(consentFor(parseMarketingConsent('Y') as MarketingConsent, 'EXPIRY')).toBe(true);
    expect(consentFor(null, 'EXPIRY')).toBe(false);
  });

  it('reads any answer written with full or short names as the answer per kind, and nothing else', () => {
    const names = Object.keys(CONSENT_TYPES);
    const answers = fc.uniqueArray(fc.tuple(fc.constantFrom(...names), fc.boolean()), {
      selector: ([name]) => consentTypeOf(name),
      maxLength: names.length,
    });
    const space = fc.constantFrom('', ' ', '  ');
    fc.assert(
      fc.property(fc.option(fc.boolean(), { nil: null }), answers, space, (all, byName, pad) => {
        const parts = [
          ...(all === null ? [] : [all ? 'Y' : 'N']),
          ...byName.map(([name, given]) => `${name}${pad}:${pad}${given ? 'Y' : 'N'}`),
        ];
        const consent = parseMarketingConsent(`${pad}${parts.join(`${pad};${pad}`)}${pad}`);
        if (parts.length === 0) {
          expect(consent).toBeNull();
          return;
        }
        expect(consent).toEqual({
          all,
          byType: Object.fromEntries(byName.map(([name, given]) => [consentTypeOf(name), given])),
        });
        for (const kind of ['EXPIRY_WARNING', 'BALANCE_STATEMENT', 'TIER_CHANGE', 'ACCOUNT_CLOSURE']) {
          const own = byName.find(([name]) => consentTypeOf(name) === kind)?.[1];
          expect(consentFor(consent as MarketingConsent, kind)).toBe(own ?? all ?? false);
        }
      }),
    );
    // A name that is no mailing type spoils the whole field, wherever it stands.
    fc.assert(
      fc.property(
        answers,
        fc.stringMatching(/^[A-Z][A-Z0-9_]{0,12}$/).filter((n) => consentTypeOf(n) === undefined),
        fc.nat(),
        (byName, unknown, at) => {
          const parts = byName.map(([name, given]) => `${name}:${given ? 'Y' : 'N'}`);
          parts.splice(at % (parts.length + 1), 0, `${unknown}:N`);
          expect(parseMarketingConsent(parts.join(';'))).toBeUndefined();
        },
      ),
    );
  });
});

describe('members parser on fixtures', () => {
  it('reads full member records in file order, timestamps normalised to UTC', async () => {
    const { records, rejects, verdicts } = await read('valid.csv');
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.record)).toEqual([
      {
        memberNumber: '0012345678',
        status: 'ACTIVE',
        mergedInto: null,
        enrolmentDate: '2019-03-14',
        enrolmentChannel: 'WEB',
        surname: 'IVANOV',
        givenName: 'IVAN',
        surnameLocal: 'Иванов',
        givenNameLocal: 'Иван',
        birthDate: '1980-07-01',
        email: 'ivan@example.ru',
        phone: '+7 495 123-45-67',
        country: 'RU',
        language: 'ru',
        marketingConsent: { all: true, byType: {} },
        groupType: 'HOUSEHOLD',
        groupId: 'HH-1',
        updatedAt: '2024-05-01T07:00:00.000Z',
        sourceFile: 'valid.csv',
        sourceLine: 2,
      },
      expect.objectContaining({
        memberNumber: '0012345679',
        marketingConsent: { all: null, byType: { EXPIRY_WARNING: true, BALANCE_STATEMENT: false } },
        updatedAt: '2024-05-01T08:00:00.000Z',
      }),
      expect.objectContaining({
        memberNumber: '0012345678',
        status: 'SUSPENDED',
        marketingConsent: { all: false, byType: { BALANCE_STATEMENT: true } },
        updatedAt: '2024-05-01T06:00:00.000Z',
      }),
      expect.objectContaining({
        memberNumber: '0000000042',
        status: 'INCOMPLETE',
        surname: null,
        updatedAt: '2024-04-30T12:00:00.500Z',
      }),
      expect.objectContaining({
        status: 'MERGED',
        mergedInto: '0012345678',
        language: 'en-GB',
        groupType: 'CORPORATE',
      }),
    ]);
    expect(verdicts[0]?.verdict).toBe('accepted');
  });

  it('reads a semicolon file whose consent field is quoted', async () => {
    const { records } = await read('semicolon-quoted-consent.csv');
    expect(records[0]?.record).toMatchObject({
      surname: "O'BRIEN; JR",
      marketingConsent: { all: true, byType: { TIER_CHANGE: false } },
      updatedAt: '2024-04-30T23:00:00.000Z',
      email: null,
    });
  });

  it('rejects each bad row with its field and reason', async () => {
    const { records, rejects } = await read('reasons.csv');
    expect(records.map((r) => r.line)).toEqual([2]);
    expect(rejects.map((r) => `${r.line} ${r.field} ${r.reason}`)).toEqual([
      '3 member_number BAD_MEMBER_NUMBER',
      '4 status BAD_STATUS',
      '5 merged_into MISSING_FIELD',
      '6 merged_into INCONSISTENT_FIELDS',
      '7 enrolment_date BAD_DATE',
      '8 enrolment_channel BAD_ENUM',
      '9 surname MISSING_FIELD',
      '10 email BAD_FORMAT',
      '11 marketing_consent BAD_FORMAT',
      '12 country BAD_FORMAT',
      '13 updated_at BAD_TIMESTAMP',
      '14 group_id MISSING_FIELD',
      '15 updated_at MISSING_FIELD',
      '16 * MALFORMED',
      '17 marketing_consent BAD_FORMAT',
      '18 marketing_consent BAD_FORMAT',
      '19 group_id BAD_FORMAT',
      '20 group_id BAD_FORMAT',
      '21 group_id BAD_FORMAT',
    ]);
    expect(rejects[16]?.message).toBe(
      'group_id: expected a group id of 1-40 letters, digits and _ . - (no : or /, which a pool\'s account code cannot carry), found "H:9"',
    );
    expect(rejects[3]?.message).toBe(
      'merged_into: expected no merged_into unless status is MERGED (status is ACTIVE), found "0099"',
    );
    expect(rejects[10]?.message).toContain('with a time zone');
    expect(rejects[15]?.message).toMatch(
      /^marketing_consent: expected mailing types among .*; "STATEMENT_TYPO" names none, found "Y;STATEMENT_TYPO:N"$/,
    );
  });
});

describe('a change stamped after its file came in', () => {
  const file = (...stamps: string[]) =>
    [
      'member_number,status,enrolment_date,enrolment_channel,surname,given_name,updated_at',
      // Enrolled before any arrival the property below draws: only updated_at is on trial.
      ...stamps.map((t, i) => `00${12345670 + i},ACTIVE,2019-12-10,WEB,NIKITINA,OLGA,${t}`),
      '',
    ].join('\n');
  const received = (text: string, at: string) => ({ ...bytesInput('m.csv', text), receivedAt: new Date(at) });

  it('refuses a year typed ahead on updated_at, with its line, as it would keep out every correction', async () => {
    const { records, rejects } = await collect(membersParser, [
      received(file('2026-02-12T09:00:00Z', '2062-02-12T09:00:00Z'), '2026-02-12T23:30:00Z'),
    ]);
    expect(records.map((r) => r.line)).toEqual([2]);
    expect(rejects.map((r) => [r.file, r.line, r.field, r.reason, r.message])).toEqual([
      [
        'm.csv',
        3,
        'updated_at',
        'FUTURE_DATE',
        'updated_at: expected the time of the change, no later than a day after the file came in (2026-02-12T23:30:00.000Z), found "2062-02-12T09:00:00Z"',
      ],
    ]);
  });

  it('takes a change stamped up to a day after the file came in, whatever the zone it is written in, and refuses any later', async () => {
    const received = fc.date({
      min: new Date('2020-01-01T00:00:00Z'),
      max: new Date('2030-12-31T00:00:00Z'),
      noInvalidDate: true,
    });
    // Around the bound: a second either side of a day after receipt, and years away.
    const offset = fc.oneof(
      fc.integer({ min: 86_400 - 3, max: 86_400 + 3 }),
      fc.integer({ min: -40 * 365 * 86_400, max: 40 * 365 * 86_400 }),
    );
    const zone = fc.constantFrom('Z', '+14:00', '-12:00', '+03:00');
    await fc.assert(
      fc.asyncProperty(received, offset, zone, async (at, seconds, tz) => {
        const stamp = new Date(at.getTime() + seconds * 1000);
        const hours = tz === 'Z' ? 0 : Number(tz.slice(0, 3));
        const local = new Date(stamp.getTime() + hours * 3_600_000).toISOString().slice(0, 23);
        const { records, rejects } = await collect(membersParser, [
          { ...bytesInput('m.csv', file(`${local}${tz}`)), receivedAt: at },
        ]);
        if (seconds <= 86_400) {
          expect(records.map((r) => r.record.updatedAt)).toEqual([stamp.toISOString()]);
          expect(rejects).toEqual([]);
        } else {
          expect(records).toEqual([]);
          expect(rejects.map((r) => [r.line, r.field, r.reason])).toEqual([[2, 'updated_at', 'FUTURE_DATE']]);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('an enrolment dated after its file came in', () => {
  const file = (...enrolled: string[]) =>
    [
      'member_number,status,enrolment_date,enrolment_channel,surname,given_name,updated_at',
      ...enrolled.map((d, i) => `00${12345670 + i},ACTIVE,${d},WEB,IVANOV,IVAN,2026-03-01T09:00:00Z`),
      '',
    ].join('\n');

  it('refuses a year typed ahead on enrolment_date, with its line, and takes one up to a day after the file came in', async () => {
    const { records, rejects } = await collect(membersParser, [
      {
        ...bytesInput('m.csv', file('2026-03-01', '2026-03-02', '2026-03-03', '2027-03-01')),
        receivedAt: new Date('2026-03-01T23:30:00Z'),
      },
    ]);
    expect(records.map((r) => [r.line, r.record.enrolmentDate])).toEqual([
      [2, '2026-03-01'],
      [3, '2026-03-02'],
    ]);
    expect(rejects.map((r) => [r.file, r.line, r.field, r.reason])).toEqual([
      ['m.csv', 4, 'enrolment_date', 'FUTURE_DATE'],
      ['m.csv', 5, 'enrolment_date', 'FUTURE_DATE'],
    ]);
    expect(rejects[1]?.message).toBe(
      'enrolment_date: expected the date the member enrolled, no later than a day after the file came in (2026-03-01T23:30:00.000Z), found "2027-03-01"',
    );
  });
});

describe("the program's member-number rule", () => {
  const PROGRAM: MemberNumberRule = { pattern: '^[0-9]{10}$', checkDigit: 'luhn' };
  const file = (...numbers: string[]) =>
    [
      'member_number,status,enrolment_date,enrolment_channel,surname,given_name,updated_at',
      ...numbers.map((n) => `${n},ACTIVE,2024-04-01,WEB,NIKITINA,OLGA,2024-05-01T10:00:00Z`),
      '',
    ].join('\n');

  it('refuses a number that fails the check digit or the pattern, with its line and field', async () => {
    const { records, rejects } = await collect(
      membersParser,
      [bytesInput('m.csv', file('1000000016', '1234567890', 'ABC123', '123456789012345'))],
      { memberNumber: PROGRAM },
    );
    expect(records.map((r) => r.record.memberNumber)).toEqual(['1000000016']);
    expect(rejects.map((r) => `${r.line} ${r.field} ${r.reason}`)).toEqual([
      '3 member_number CHECK_DIGIT',
      '4 member_number BAD_MEMBER_NUMBER',
      '5 member_number BAD_MEMBER_NUMBER',
    ]);
    expect(rejects[0]?.message).toBe(
      'member_number: expected a member number whose luhn check digit holds, found "1234567890"',
    );
  });

  it('refuses a merged_into that fails the check digit, as member_number is refused, with its line', async () => {
    const text = [
      'member_number,status,merged_into,enrolment_date,enrolment_channel,surname,given_name,updated_at',
      '1000000016,MERGED,1000000024,2024-04-01,WEB,,,2024-05-01T10:00:00Z',
      '1000000016,MERGED,1000000025,2024-04-01,WEB,,,2024-05-01T10:00:00Z',
      '1000000016,MERGED,100000002,2024-04-01,WEB,,,2024-05-01T10:00:00Z',
      '',
    ].join('\n');
    const { records, rejects } = await collect(membersParser, [bytesInput('m.csv', text)], {
      memberNumber: PROGRAM,
    });
    expect(records.map((r) => [r.line, r.record.mergedInto])).toEqual([[2, '1000000024']]);
    expect(rejects.map((r) => [r.line, r.field, r.reason, r.message])).toEqual([
      [
        3,
        'merged_into',
        'CHECK_DIGIT',
        'merged_into: expected a member number whose luhn check digit holds, found "1000000025"',
      ],
      [
        4,
        'merged_into',
        'BAD_MEMBER_NUMBER',
        'merged_into: expected a member number of this program (^[0-9]{10}$) with a luhn check digit, found "100000002"',
      ],
    ]);
  });

  it('is not applied without a rule (a file read with no configuration)', async () => {
    const { records } = await collect(membersParser, [bytesInput('m.csv', file('1234567890', 'ABC123'))]);
    expect(records.map((r) => r.record.memberNumber)).toEqual(['1234567890', 'ABC123']);
  });

  it('reads a number exactly when the rule takes it, else refuses it on member_number', async () => {
    const rule = fc.constantFrom<MemberNumberRule>(
      PROGRAM,
      { pattern: '^[0-9]{8,12}$', checkDigit: 'mod7' },
      { pattern: '^[0-9A-Z]{6}$', checkDigit: 'none' },
    );
    const number = fc.oneof(
      fc.stringMatching(/^[0-9]{9}$/).map((base) => withCheckDigit(base, PROGRAM)),
      fc.stringMatching(/^[0-9]{1,15}$/),
      fc.stringMatching(/^[0-9A-Z]{1,24}$/),
    );
    await fc.assert(
      fc.asyncProperty(rule, fc.array(number, { minLength: 1, maxLength: 6 }), async (r, numbers) => {
        const { records, rejects } = await collect(membersParser, [bytesInput('m.csv', file(...numbers))], {
          memberNumber: r,
        });
        const valid = numbers.map((n) => validateMemberNumber(n, r));
        expect(records.map((e) => e.line)).toEqual(
          numbers.flatMap((_, i) => (valid[i]!.valid ? [i + 2] : [])),
        );
        expect(rejects.map((e) => [e.line, e.field, e.reason])).toEqual(
          numbers.flatMap((_, i) => {
            const v = valid[i]!;
            return v.valid
              ? []
              : [[i + 2, 'member_number', v.reason === 'CHECK_DIGIT' ? 'CHECK_DIGIT' : 'BAD_MEMBER_NUMBER']];
          }),
        );
      }),
      { numRuns: 200 },
    );
  });
});

describe('members parser properties', () => {
  const withEmail = (...emails: string[]) =>
    [
      'member_number,status,enrolment_date,enrolment_channel,surname,given_name,email,updated_at',
      ...emails.map((e) => `0012345678,ACTIVE,2019-03-14,WEB,IVANOV,IVAN,${e},2024-05-01T10:00:00Z`),
      '',
    ].join('\n');

  it('refuses an address with a control character, naming file, line and field, rather than storing it', async () => {
    const { records, rejects } = await collect(membersParser, [
      bytesInput(
        'members.csv',
        withEmail('ivan@example.com', 'iv\u0001an@example.com', '\u0001@example.com'),
      ),
    ]);
    expect(records.map((r) => [r.line, r.record.email])).toEqual([[2, 'ivan@example.com']]);
    expect(rejects.map((r) => [r.file, r.line, r.field, r.reason])).toEqual([
      ['members.csv', 3, 'email', 'BAD_FORMAT'],
      ['members.csv', 4, 'email', 'BAD_FORMAT'],
    ]);
    // The address refused stays in the reject's text only, which erasure and the age rule blank.
    expect(rejects[0]!.message).toBe(
      'email: expected an e-mail address of at most 254 characters, without spaces, control or other invisible characters',
    );
    expect(rejects[0]!.text).toBe('iv\u0001an@example.com');
  });

  it("keeps a refused name, birth date, e-mail or phone out of the reject's message, in its text alone", async () => {
    const LONG = `IVANOV${'A'.repeat(200)}`;
    const csv = [
      'member_number,status,enrolment_date,enrolment_channel,surname,given_name,birth_date,email,phone,updated_at',
      `0012345678,ACTIVE,2019-03-14,WEB,${LONG},IVAN,,,,2024-05-01T10:00:00Z`,
      `0012345678,ACTIVE,2019-03-14,WEB,IVANOV,${LONG},,,,2024-05-01T10:00:00Z`,
      '0012345678,ACTIVE,2019-03-14,WEB,IVANOV,IVAN,1980-02-30,,,2024-05-01T10:00:00Z',
      '0012345678,ACTIVE,2019-03-14,WEB,IVANOV,IVAN,,ivan ivanov@mail.example,,2024-05-01T10:00:00Z',
      '0012345678,ACTIVE,2019-03-14,WEB,IVANOV,IVAN,,,+7 phone 1234,2024-05-01T10:00:00Z',
      '',
    ].join('\n');
    const { rejects } = await collect(membersParser, [bytesInput('members.csv', csv)]);
    const refused = [LONG, LONG, '1980-02-30', 'ivan ivanov@mail.example', '+7 phone 1234'];
    expect(rejects.map((r) => r.field)).toEqual(['surname', 'given_name', 'birth_date', 'email', 'phone']);
    rejects.forEach((r, i) => {
      expect(r.message).toMatch(new RegExp(`^${r.field}: expected `));
      expect(r.message).not.toContain(refused[i]!.slice(0, 12));
      // The text, which erasure and retention.rejectTextDays blank, still shows the operator what came.
      expect(r.text).toContain(refused[i]!.slice(0, 12));
    });
  });

  it('takes an address exactly when no character in it is invisible, so a list carries it as stored', async () => {
    // Controls (C0, DEL, C1), format characters (soft hyphen, zero-width, direction marks, BOM),
    // noncharacters, private use and blanks: XML drops the first and the mailing house cannot see the
    // others. A Devanagari vowel sign (a combining mark that shows) is part of an address.
    const hidden = [
      '\u0001',
      '\u0008',
      '\u000b',
      '\u001f',
      '\u007f',
      '\u0085',
      '\u00ad',
      '\u200b',
      '\u200e',
      '\u202e',
      '\u2060',
      '\ufeff',
      '\ufffe',
      '\uffff',
      '\ue000',
      // Blanks outside \p{C} that render as nothing: an address holding one reads as another.
      '\u034f',
      '\u115f',
      '\u1160',
      '\u17b4',
      '\u180b',
      '\u2800',
      '\u3164',
      '\ufe0f',
      '\uffa0',
      '\u{e0100}',
    ];
    const shown = ['a', 'z', '0', '.', '_', '+', '-', 'я', 'ü', '中', '😀', 'क', '\u093e'];
    const part = fc
      .array(fc.constantFrom(...shown, ...hidden), { minLength: 1, maxLength: 8 })
      .map((a) => a.join(''));
    await fc.assert(
      fc.asyncProperty(part, part, async (local, domain) => {
        const email = `i${local}v@e${domain}x.org`;
        const { records, rejects } = await collect(membersParser, [bytesInput('m.csv', withEmail(email))]);
        if (hidden.some((h) => email.includes(h))) {
          expect(records).toEqual([]);
          expect(rejects.map((r) => [r.line, r.field, r.reason])).toEqual([[2, 'email', 'BAD_FORMAT']]);
        } else {
          expect(rejects).toEqual([]);
          expect(records.map((r) => r.record.email)).toEqual([email]);
          expect(xmlChars(email)).toBe(email);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reads a merge exactly when the rule takes its survivor, else refuses it on merged_into', async () => {
    const rule = fc.constantFrom<MemberNumberRule>(
      { pattern: '^[0-9]{10}$', checkDigit: 'luhn' },
      { pattern: '^[0-9]{8,12}$', checkDigit: 'mod7' },
      { pattern: '^[0-9A-Z]{6}$', checkDigit: 'none' },
    );
    const survivor = fc.oneof(
      fc
        .stringMatching(/^[0-9]{9}$/)
        .map((base) => withCheckDigit(base, { pattern: '^[0-9]{10}$', checkDigit: 'luhn' })),
      fc.stringMatching(/^[0-9]{1,15}$/),
      fc.stringMatching(/^[0-9A-Z]{1,24}$/),
    );
    await fc.assert(
      fc.asyncProperty(rule, survivor, async (r, into) => {
        // A merged member the rule takes, so that the survivor alone decides.
        const merged =
          r.checkDigit === 'none'
            ? 'ABC123'
            : withCheckDigit(r.checkDigit === 'luhn' ? '100000001' : '1000000', r);
        fc.pre(into !== merged);
        const text = [
          'member_number,status,merged_into,enrolment_date,enrolment_channel,surname,given_name,updated_at',
          `${merged},MERGED,${into},2024-04-01,WEB,,,2024-05-01T10:00:00Z`,
          '',
        ].join('\n');
        const { records, rejects } = await collect(membersParser, [bytesInput('m.csv', text)], {
          memberNumber: r,
        });
        const check = validateMemberNumber(into, r);
        if (check.valid) {
          expect(records.map((e) => e.record.mergedInto)).toEqual([into]);
          expect(rejects).toEqual([]);
        } else {
          expect(records).toEqual([]);
          expect(rejects.map((e) => [e.line, e.field, e.reason])).toEqual([
            [2, 'merged_into', check.reason === 'CHECK_DIGIT' ? 'CHECK_DIGIT' : 'BAD_MEMBER_NUMBER'],
          ]);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('accepts a group id exactly when it names a pool account, else refuses it on group_id', async () => {
    const id = fc.oneof(
      fc.stringMatching(/^[0-9A-Za-z][0-9A-Za-z_.-]{0,44}$/),
      fc.stringMatching(/^[0-9A-Za-z_./:-]{1,70}$/),
    );
    await fc.assert(
      fc.asyncProperty(id, async (groupId) => {
        const text = [
          'member_number,status,enrolment_date,enrolment_channel,surname,given_name,group_type,group_id,updated_at',
          `0012345678,ACTIVE,2019-03-14,WEB,IVANOV,IVAN,HOUSEHOLD,${groupId},2024-05-01T10:00:00Z`,
          '',
        ].join('\n');
        const { records, rejects } = await collect(membersParser, [bytesInput('m.csv', text)]);
        // What accrue will name as the pool's account: it must be an account code, or the night stops.
        let names = true;
        try {
          describeAccount(Accounts.poolPoints(groupId));
        } catch {
          names = false;
        }
        const plain = /^[0-9A-Za-z]/.test(groupId);
        if (names && plain) {
          expect(records.map((r) => r.record.groupId)).toEqual([groupId]);
          expect(rejects).toEqual([]);
        } else {
          expect(records).toEqual([]);
          expect(rejects.map((r) => [r.line, r.field, r.reason])).toEqual([[2, 'group_id', 'BAD_FORMAT']]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throws and accounts for every line of any input', async () => {
    const token = fc.constantFrom(
      ',',
      ';',
      '"',
      '\n',
      '\r\n',
      'ACTIVE',
      '007',
      'Y;EXPIRY:N',
      '2024-05-01T00:00:00Z',
      '\0',
      '\xe2\x82',
    );
    const header = MEMBER_COLUMNS.map((c) => c.name).join(',');
    const body = fc.array(token, { maxLength: 60 }).map((t) => t.join(''));
    const bytes = fc.oneof(
      body.map((b) => Buffer.from(`${header}\n${b}`, 'latin1')),
      fc.uint8Array({ maxLength: 150 }).map((u) => Buffer.from(u)),
    );
    await fc.assert(
      fc.asyncProperty(bytes, fc.array(fc.nat({ max: 500 }), { maxLength: 4 }), async (buf, cuts) => {
        const { events } = await collect(membersParser, [bytesInput('m.csv', buf, cuts)]);
        expect(checkFileEvents(events, buf)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('reads back exactly the generated members', async () => {
    const text = fc
      .array(fc.constantFrom('A', 'я', 'ü', ' ', ',', ';', '"', '\n'), { minLength: 1, maxLength: 10 })
      .map((p) => p.join('').trim())
      .filter((s) => s.length > 0);
    const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
    const date = fc
      .date({
        min: new Date('1920-01-01T00:00:00Z'),
        max: new Date('2035-12-31T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString().slice(0, 10));
    const consent = fc
      .tuple(
        opt(fc.boolean()),
        fc.uniqueArray(fc.tuple(fc.constantFrom(...Object.keys(CONSENT_TYPES)), fc.boolean()), {
          selector: ([name]) => consentTypeOf(name),
          maxLength: 3,
        }),
      )
      .filter(([all, byType]) => all !== null || byType.length > 0);
    const member = fc
      .record({
        memberNumber: fc.stringMatching(/^[0-9A-Z]{1,24}$/),
        status: fc.constantFrom('ACTIVE', 'INCOMPLETE', 'SUSPENDED', 'CLOSED', 'MERGED') as fc.Arbitrary<
          MemberRecord['status']
        >,
        mergedInto: fc.stringMatching(/^[0-9]{1,12}$/),
        enrolmentDate: date,
        enrolmentChannel: fc.constantFrom('WEB', 'APP', 'AIRPORT', 'CALLCENTER', 'PARTNER') as fc.Arbitrary<
          MemberRecord['enrolmentChannel']
        >,
        surname: text,
        givenName: opt(text),
        surnameLocal: opt(text),
        givenNameLocal: opt(text),
        birthDate: opt(date),
        email: opt(fc.stringMatching(/^[a-z0-9.]{1,10}@[a-z]{1,8}\.[a-z]{2,3}$/)),
        phone: opt(fc.stringMatching(/^\+[0-9]{7,12}$/)),
        country: opt(fc.stringMatching(/^[A-Z]{2}$/)),
        language: opt(fc.stringMatching(/^[a-z]{2}(-[A-Z]{2})?$/)),
        consent: opt(consent),
        group: opt(
          fc.tuple(
            fc.constantFrom('HOUSEHOLD', 'CORPORATE') as fc.Arbitrary<'HOUSEHOLD' | 'CORPORATE'>,
            fc.stringMatching(/^[A-Z0-9][A-Z0-9-]{0,9}$/),
          ),
        ),
        updatedAt: fc.date({
          min: new Date('2000-01-01T00:00:00Z'),
          max: new Date('2035-12-31T00:00:00Z'),
          noInvalidDate: true,
        }),
        offsetMinutes: fc.integer({ min: -12 * 60, max: 14 * 60 }),
      })
      .filter((m) => m.mergedInto !== m.memberNumber);
    await fc.assert(
      fc.asyncProperty(
        fc.array(member, { maxLength: 8 }),
        fc.constantFrom(',', ';'),
        fc.array(fc.nat({ max: 3000 }), { maxLength: 4 }),
        async (members, sep, cuts) => {
          const lines = [MEMBER_COLUMNS.map((c) => c.name).join(sep)];
          let line = 2;
          const expected = members.map((m): MemberRecord => {
            const local = new Date(m.updatedAt.getTime() + m.offsetMinutes * 60_000)
              .toISOString()
              .slice(0, 23);
            const abs = Math.abs(m.offsetMinutes);
            const zone = `${m.offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
            const consentText =
              m.consent === null
                ? ''
                : [
                    ...(m.consent[0] === null ? [] : [m.consent[0] ? 'Y' : 'N']),
                    ...m.consent[1].map(([t, v]) => `${t}:${v ? 'Y' : 'N'}`),
                  ].join(';');
            const cells = [
              m.memberNumber,
              m.status,
              m.status === 'MERGED' ? m.mergedInto : '',
              m.enrolmentDate,
              m.enrolmentChannel,
              m.surname,
              m.givenName ?? '',
              m.surnameLocal ?? '',
              m.givenNameLocal ?? '',
              m.birthDate ?? '',
              m.email ?? '',
              m.phone ?? '',
              m.country ?? '',
              m.language ?? '',
              consentText,
              m.group?.[0] ?? '',
              m.group?.[1] ?? '',
              `${local}${zone}`,
            ];
            const row = cells.map((v) => csvField(v, sep)).join(sep);
            lines.push(row);
            const record: MemberRecord = {
              memberNumber: m.memberNumber,
              status: m.status,
              mergedInto: m.status === 'MERGED' ? m.mergedInto : null,
              enrolmentDate: m.enrolmentDate,
              enrolmentChannel: m.enrolmentChannel,
              surname: m.surname,
              givenName: m.givenName,
              surnameLocal: m.surnameLocal,
              givenNameLocal: m.givenNameLocal,
              birthDate: m.birthDate,
              email: m.email,
              phone: m.phone,
              country: m.country,
              language: m.language,
              marketingConsent:
                m.consent === null
                  ? null
                  : {
                      all: m.consent[0],
                      byType: Object.fromEntries(m.consent[1].map(([t, v]) => [consentTypeOf(t), v])),
                    },
              groupType: m.group?.[0] ?? null,
              groupId: m.group?.[1] ?? null,
              updatedAt: m.updatedAt.toISOString(),
              sourceFile: 'm.csv',
              sourceLine: line,
            };
            line += 1 + (row.match(/\r\n|\r|\n/g)?.length ?? 0);
            return record;
          });
          const bytes = Buffer.from(`${lines.join('\n')}\n`);
          // Received after the latest change generated: none is in the future.
          const { records, rejects, events } = await collect(membersParser, [
            { ...bytesInput('m.csv', bytes, cuts), receivedAt: new Date('2036-01-01T00:00:00Z') },
          ]);
          expect(rejects).toEqual([]);
          expect(records.map((e) => e.record)).toEqual(expected);
          expect(checkFileEvents(events, bytes)).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });
});
