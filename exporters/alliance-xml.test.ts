import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { RedeyeError } from '../lib/errors.js';
import {
  ALLIANCE_REASON_CODES,
  allianceClaimsParser,
  allianceResultsParser,
  RULES,
  type AllianceClaim,
  type AllianceResult,
  type ClaimsFile,
  type ResultsFile,
} from '../parsers/alliance.js';
import {
  ALLIANCE_XSD,
  collect,
  expectBalanced,
  fixture,
  inputOf,
  split,
  validateWithSchema,
  writeTemp,
  xmllintOrSkip,
} from '../parsers/fixtures/xml/support.js';
import { MAX_INTEGER_COLUMN } from '../parsers/types.js';
import { escapeXmlAttr } from '../parsers/xml-common.js';
import { writeClaimsFile, writeResultsFile } from './alliance-xml.js';

// Every document written in this file is validated against the XSD at the end (see 'XSD validation').
const written: string[] = [];
const remember = (xml: string) => {
  if (written.length < 400) written.push(xml);
  return xml;
};

async function readClaims(xml: string) {
  const events = await collect(allianceClaimsParser.parse([inputOf('claims.xml', xml)]));
  expectBalanced(events);
  return split(events);
}

async function readResults(xml: string) {
  const events = await collect(allianceResultsParser.parse([inputOf('results.xml', xml)]));
  expectBalanced(events);
  return split(events);
}

const CLAIMS: ClaimsFile = {
  sender: 'XY',
  receiver: 'RE',
  sequence: 42,
  createdAt: '2026-11-26T03:15:00+03:00',
  claims: [
    {
      claimId: 'XY-20261126-0001',
      member: { program: 'RE', number: '000123456', surname: 'Иванов', givenName: 'Пётр' },
      flight: {
        operatingCarrier: 'XY',
        operatingFlightNumber: '0071',
        marketingCarrier: 'XY',
        marketingFlightNumber: '0071',
        date: '2026-11-24',
        origin: 'FRA',
        destination: 'SVO',
        cabin: 'J',
        flownRbd: 'D',
        fareBasis: 'DOWRT',
        ticketNumber: '0571234567890',
        couponNumber: 1,
      },
    },
    {
      claimId: 'XY-20261126-0002',
      member: { program: 'RE', number: '7712345', surname: "O'Brien & Sons <Ltd>" },
      flight: {
        operatingCarrier: 'XY',
        operatingFlightNumber: '812',
        marketingCarrier: 'RE',
        marketingFlightNumber: '5812',
        date: '2026-11-25',
        origin: 'SVO',
        destination: 'LED',
        cabin: 'Y',
        flownRbd: 'M',
      },
    },
  ],
};

const RESULTS: ResultsFile = {
  sender: 'RE',
  receiver: 'XY',
  createdAt: '2026-11-27T01:02:03Z',
  answers: { sender: 'XY', receiver: 'RE', sequence: 42 },
  results: [
    { claimId: 'XY-20261126-0001', status: 'accepted', pointsCredited: 2750, tierHeld: 'GOLD' },
    {
      claimId: 'XY-20261126-0002',
      status: 'rejected',
      reasonCode: 'NAME_MISMATCH',
      reasonText: 'Surname does not match member 7712345',
    },
  ],
};

describe('alliance writer', () => {
  it('writes the documented layout byte for byte (the claims fixture is its output)', () => {
    const xml = remember(writeClaimsFile(CLAIMS));
    expect(xml).toBe(fixture('alliance-claims.xml').toString('utf8'));
  });

  it('is deterministic: same data, same bytes, whatever the key order of the input', () => {
    const reordered: ClaimsFile = {
      claims: CLAIMS.claims.map((c) => ({
        flight: Object.fromEntries(Object.entries(c.flight).reverse()) as AllianceClaim['flight'],
        member: Object.fromEntries(Object.entries(c.member).reverse()) as AllianceClaim['member'],
        claimId: c.claimId,
      })),
      createdAt: CLAIMS.createdAt,
      sequence: CLAIMS.sequence,
      receiver: CLAIMS.receiver,
      sender: CLAIMS.sender,
    };
    expect(writeClaimsFile(reordered)).toBe(writeClaimsFile(CLAIMS));
    expect(writeResultsFile(RESULTS)).toBe(writeResultsFile(structuredClone(RESULTS)));
  });

  it('writes results that read back as written', async () => {
    const xml = remember(writeResultsFile(RESULTS));
    expect(
      xml.startsWith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<AccrualResults xmlns="urn:redeye:alliance:1.0">\n',
      ),
    ).toBe(true);
    const { records, verdict } = await readResults(xml);
    expect(records.map((r) => r.record)).toEqual(RESULTS.results);
    expect(verdict).toMatchObject({
      verdict: 'accepted',
      meta: { sender: 'RE', receiver: 'XY', answers: RESULTS.answers },
    });
  });

  it('escapes awkward text and keeps it exactly, line breaks and CR included', async () => {
    const claim: AllianceClaim = {
      ...CLAIMS.claims[0]!,
      claimId: `A&B<C>"D'E]]>F`,
      member: { program: 'RE', number: '0007', surname: `&amp; <b> "x" 'y' ]]>`, givenName: 'Ёлка\u00a0Ж' },
    };
    const xml = remember(writeClaimsFile({ ...CLAIMS, claims: [claim] }));
    expect(xml).toContain('<ClaimId>A&amp;B&lt;C&gt;"D\'E]]&gt;F</ClaimId>');
    expect(xml).toContain('<Surname>&amp;amp; &lt;b&gt; "x" \'y\' ]]&gt;</Surname>');
    expect((await readClaims(xml)).records[0]!.record).toEqual(claim);

    const text = 'Line one\r\nline two\ttabbed\rold Mac & <done>';
    const results = remember(
      writeResultsFile({
        ...RESULTS,
        results: [{ claimId: 'Z', status: 'rejected', reasonCode: 'MALFORMED', reasonText: text }],
      }),
    );
    expect(results).toContain('Line one&#13;\nline two\ttabbed&#13;old Mac &amp; &lt;done&gt;');
    expect((await readResults(results)).records[0]!.record).toMatchObject({ reasonText: text });
  });

  it('refuses input the schema would refuse, naming the field', () => {
    const claim = CLAIMS.claims[0]!;
    const bad: [string, () => string, string][] = [
      [
        'surname with a leading space',
        () =>
          writeClaimsFile({ ...CLAIMS, claims: [{ ...claim, member: { ...claim.member, surname: ' X' } }] }),
        'Member/Surname',
      ],
      [
        'control character',
        () =>
          writeClaimsFile({
            ...CLAIMS,
            claims: [{ ...claim, member: { ...claim.member, surname: 'A\u0007' } }],
          }),
        'Member/Surname',
      ],
      [
        'lone surrogate',
        () => writeClaimsFile({ ...CLAIMS, claims: [{ ...claim, claimId: 'x\ud800' }] }),
        'ClaimId',
      ],
      ['U+FFFE', () => writeClaimsFile({ ...CLAIMS, claims: [{ ...claim, claimId: 'x\ufffe' }] }), 'ClaimId'],
      [
        '65 characters',
        () => writeClaimsFile({ ...CLAIMS, claims: [{ ...claim, claimId: 'Ж'.repeat(65) }] }),
        'ClaimId',
      ],
      [
        'lower-case airport',
        () =>
          writeClaimsFile({ ...CLAIMS, claims: [{ ...claim, flight: { ...claim.flight, origin: 'fra' } }] }),
        'Flight/Origin',
      ],
      [
        'impossible date',
        () =>
          writeClaimsFile({
            ...CLAIMS,
            claims: [{ ...claim, flight: { ...claim.flight, date: '2026-02-29' } }],
          }),
        'Flight/FlightDate',
      ],
      [
        'coupon 0',
        () =>
          writeClaimsFile({
            ...CLAIMS,
            claims: [{ ...claim, flight: { ...claim.flight, couponNumber: 0 } }],
          }),
        'Flight/CouponNumber',
      ],
      ['duplicate claim id', () => writeClaimsFile({ ...CLAIMS, claims: [claim, claim] }), 'ClaimId'],
      ['sequence 0', () => writeClaimsFile({ ...CLAIMS, sequence: 0 }), 'FileHeader/FileSequence'],
      [
        'no offset',
        () => writeClaimsFile({ ...CLAIMS, createdAt: '2026-11-26T03:15:00' }),
        'FileHeader/CreatedAt',
      ],
      [
        'fractional points',
        () =>
          writeResultsFile({
            ...RESULTS,
            results: [{ claimId: 'A', status: 'accepted', pointsCredited: 1.5, tierHeld: 'GOLD' }],
          }),
        'Accepted/PointsCredited',
      ],
      [
        'unknown reason',
        () =>
          writeResultsFile({
            ...RESULTS,
            results: [{ claimId: 'A', status: 'rejected', reasonCode: 'NOPE' as never, reasonText: 'x' }],
          }),
        'Rejected/ReasonCode',
      ],
      [
        'empty reason text',
        () =>
          writeResultsFile({
            ...RESULTS,
            results: [{ claimId: 'A', status: 'rejected', reasonCode: 'MALFORMED', reasonText: '' }],
          }),
        'Rejected/ReasonText',
      ],
      [
        'answers another file',
        () => writeResultsFile({ ...RESULTS, answers: { sender: 'ZZ', receiver: 'RE', sequence: 1 } }),
        'FileHeader/AnsweredFile',
      ],
    ];
    for (const [what, write, field] of bad) {
      let error: unknown;
      try {
        write();
      } catch (e) {
        error = e;
      }
      expect(error, what).toBeInstanceOf(RedeyeError);
      expect((error as RedeyeError).code, what).toBe('INVALID_ALLIANCE_FILE');
      expect((error as RedeyeError).context.field, what).toBe(field);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Arbitraries: valid files, with the text that usually breaks writers

const AWKWARD = [
  '&',
  '<',
  '>',
  '"',
  "'",
  ']]>',
  ' ',
  'Ж',
  'ё',
  'Щ',
  'ß',
  'ü',
  '😀',
  '\u00a0',
  '\u2028',
  '0',
  '00',
  '&amp;',
  '<!--',
  '\u0301',
];
const rawText = fc
  .array(
    fc.oneof(
      fc.constantFrom(...AWKWARD),
      fc.string({ unit: 'binary', maxLength: 3 }),
      fc.string({ maxLength: 6 }),
    ),
    {
      minLength: 1,
      maxLength: 12,
    },
  )
  .map((parts) => parts.join(''));
const lineText = (max: number) =>
  rawText
    .map((s) =>
      [...s.replace(/\p{Cc}/gu, '')]
        .slice(0, max)
        .join('')
        .replace(/^ +| +$/g, ''),
    )
    .filter((s) => RULES.name(s) === null);
const freeText = fc
  .array(fc.oneof(rawText, fc.constantFrom('\n', '\r\n', '\t', '\r')), { minLength: 1, maxLength: 6 })
  .map((parts) =>
    parts
      .join('')
      .replace(/[^\P{Cc}\t\n\r]/gu, '')
      .replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, ''),
  )
  .filter((s) => RULES.reasonText(s) === null);

const program = fc.stringMatching(/^[A-Z0-9]{2,8}$/);
const carrier = fc.oneof(fc.stringMatching(/^[A-Z0-9]{2}$/), fc.stringMatching(/^[A-Z]{3}$/));
// 1-5 digits and a suffix letter, as the FTL and the flown coupons carry them; five digits often.
const flightNumber = fc.oneof(fc.stringMatching(/^[0-9]{1,5}[A-Z]?$/), fc.stringMatching(/^[0-9]{5}[A-Z]?$/));
const airport = fc.stringMatching(/^[A-Z]{3}$/);
const letter = fc.stringMatching(/^[A-Z]$/);
const isoDate = fc
  .date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const timestamp = fc
  .tuple(
    isoDate,
    fc.stringMatching(/^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$/),
    fc.option(fc.stringMatching(/^\.[0-9]{1,9}$/), { nil: '' }),
    fc.oneof(
      fc.constant('Z'),
      fc.stringMatching(/^[+-](0[0-9]|1[0-3]):[0-5][0-9]$/),
      fc.constantFrom('+14:00', '-14:00'),
    ),
  )
  .map(([d, t, f, z]) => `${d}T${t}${f}${z}`);

const claimArb: fc.Arbitrary<AllianceClaim> = fc
  .record({
    claimId: lineText(64),
    member: fc.record(
      {
        program,
        number: fc.oneof(fc.stringMatching(/^[A-Z0-9]{1,20}$/), fc.stringMatching(/^0{1,6}[0-9]{1,10}$/)),
        surname: lineText(64),
        givenName: lineText(64),
      },
      { requiredKeys: ['program', 'number', 'surname'] },
    ),
    flight: fc.record(
      {
        operatingCarrier: carrier,
        operatingFlightNumber: flightNumber,
        marketingCarrier: carrier,
        marketingFlightNumber: flightNumber,
        date: isoDate,
        origin: airport,
        destination: airport,
        cabin: letter,
        flownRbd: letter,
        fareBasis: fc.stringMatching(/^[A-Z0-9]{1,15}$/),
        ticketNumber: fc.stringMatching(/^[0-9]{13}$/),
        couponNumber: fc.integer({ min: 1, max: 4 }),
      },
      {
        requiredKeys: [
          'operatingCarrier',
          'operatingFlightNumber',
          'marketingCarrier',
          'marketingFlightNumber',
          'date',
          'origin',
          'destination',
          'cabin',
          'flownRbd',
        ],
      },
    ),
  })
  // A flight goes somewhere: a claim from an airport to itself is rejected (tested below).
  .filter((c) => c.flight.origin !== c.flight.destination);

const pair = fc.tuple(program, program).filter(([a, b]) => a !== b);

const claimsFileArb: fc.Arbitrary<ClaimsFile> = fc
  .record({
    parties: pair,
    sequence: fc.integer({ min: 1, max: MAX_INTEGER_COLUMN }),
    createdAt: timestamp,
    claims: fc.uniqueArray(claimArb, { selector: (c) => c.claimId, maxLength: 6 }),
  })
  .map(({ parties: [sender, receiver], ...rest }) => ({ sender, receiver, ...rest }));

const resultArb: fc.Arbitrary<AllianceResult> = fc.oneof(
  fc.record({
    claimId: lineText(64),
    status: fc.constant('accepted' as const),
    pointsCredited: fc.integer({ min: 0, max: MAX_INTEGER_COLUMN }),
    tierHeld: fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/),
  }),
  fc.record({
    claimId: lineText(64),
    status: fc.constant('rejected' as const),
    reasonCode: fc.constantFrom(...ALLIANCE_REASON_CODES),
    reasonText: freeText,
  }),
);

const resultsFileArb: fc.Arbitrary<ResultsFile> = fc
  .record({
    parties: pair,
    sequence: fc.integer({ min: 1, max: MAX_INTEGER_COLUMN }),
    createdAt: timestamp,
    results: fc.uniqueArray(resultArb, { selector: (r) => r.claimId, maxLength: 6 }),
  })
  .map(({ parties: [sender, receiver], sequence, createdAt, results }) => ({
    sender,
    receiver,
    createdAt,
    answers: { sender: receiver, receiver: sender, sequence },
    results,
  }));

describe('alliance round trips', () => {
  it('claims: write then parse gives the same claims and file facts', async () => {
    await fc.assert(
      fc.asyncProperty(claimsFileArb, async (file) => {
        const xml = remember(writeClaimsFile(file));
        expect(writeClaimsFile(file)).toBe(xml);
        const { records, rejects, verdict } = await readClaims(xml);
        expect(rejects).toEqual([]);
        expect(records.map((r) => r.record)).toEqual(file.claims);
        expect(verdict).toMatchObject({
          verdict: 'accepted',
          meta: {
            sender: file.sender,
            receiver: file.receiver,
            sequence: file.sequence,
            createdAt: file.createdAt,
            declaredCount: file.claims.length,
          },
        });
      }),
      { numRuns: 200 },
    );
  });

  it('results: write then parse gives the same results and answered file', async () => {
    await fc.assert(
      fc.asyncProperty(resultsFileArb, async (file) => {
        const xml = remember(writeResultsFile(file));
        const { records, rejects, verdict } = await readResults(xml);
        expect(rejects).toEqual([]);
        expect(records.map((r) => r.record)).toEqual(file.results);
        expect(verdict).toMatchObject({
          verdict: 'accepted',
          meta: {
            sender: file.sender,
            receiver: file.receiver,
            createdAt: file.createdAt,
            answers: file.answers,
          },
        });
      }),
      { numRuns: 200 },
    );
  });
});

describe('alliance claims the reader refuses', () => {
  const withOneClaim = claimsFileArb.filter((f) => f.claims.length > 0);

  it('generates five-digit flight numbers, and never a valid claim from an airport to itself', () => {
    const claims = fc.sample(claimArb, { numRuns: 300, seed: 20261128 });
    expect(claims.some((c) => /^[0-9]{5}[A-Z]?$/.test(c.flight.operatingFlightNumber))).toBe(true);
    expect(claims.every((c) => c.flight.origin !== c.flight.destination)).toBe(true);
  });

  it('a claim whose destination is its origin: rejected MALFORMED on Flight/Destination, the others read', async () => {
    await fc.assert(
      fc.asyncProperty(withOneClaim, fc.nat(), async (file, pick) => {
        const k = pick % file.claims.length;
        const bad = file.claims[k]!;
        // The writer refuses it, naming the field…
        const looped = { ...bad, flight: { ...bad.flight, destination: bad.flight.origin } };
        const claims = file.claims.map((c, i) => (i === k ? looped : c));
        expect(() => writeClaimsFile({ ...file, claims })).toThrow(
          expect.objectContaining({
            code: 'INVALID_ALLIANCE_FILE',
            context: expect.objectContaining({ field: 'Flight/Destination' }),
          }),
        );
        // …and a partner's file holding it has that claim rejected, by its id, and the rest read.
        const xml = remember(writeClaimsFile(file));
        let seen = -1;
        const edited = xml.replace(/<Destination>[A-Z]{3}<\/Destination>/g, (m) =>
          ++seen === k ? `<Destination>${bad.flight.origin}</Destination>` : m,
        );
        const { records, rejects, verdict } = await readClaims(edited);
        expect(rejects).toHaveLength(1);
        expect(rejects[0]).toMatchObject({
          reason: 'MALFORMED',
          field: 'Flight/Destination',
          seq: k + 1,
          text: bad.flight.origin,
          recordRef: bad.claimId,
        });
        expect(rejects[0]!.message).toContain(`other than the origin ${bad.flight.origin}`);
        expect(records.map((r) => r.record)).toEqual(file.claims.filter((_, i) => i !== k));
        expect(verdict.verdict).toBe('accepted');
      }),
      { numRuns: 100 },
    );
  });

  it('a flight number of six digits or two letters: rejected MALFORMED on the field', async () => {
    await fc.assert(
      fc.asyncProperty(
        withOneClaim,
        fc.nat(),
        fc.constantFrom('OperatingFlightNumber', 'MarketingFlightNumber'),
        fc.oneof(fc.stringMatching(/^[0-9]{6,7}[A-Z]?$/), fc.stringMatching(/^[0-9]{1,5}[A-Z]{2}$/)),
        async (file, pick, element, number) => {
          const k = pick % file.claims.length;
          const xml = remember(writeClaimsFile(file));
          let seen = -1;
          const pattern = new RegExp(`<${element}>[0-9A-Z]+</${element}>`, 'g');
          const edited = xml.replace(pattern, (m) =>
            ++seen === k ? `<${element}>${number}</${element}>` : m,
          );
          const { records, rejects } = await readClaims(edited);
          expect(rejects).toHaveLength(1);
          expect(rejects[0]).toMatchObject({
            reason: 'MALFORMED',
            field: `Flight/${element}`,
            seq: k + 1,
            text: number,
          });
          expect(records).toHaveLength(file.claims.length - 1);
        },
      ),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------

describe.skipIf(!xmllintOrSkip())('XSD validation with xmllint', () => {
  afterAll(() => {
    written.length = 0;
  });

  it('validates every file the writer produced in these tests', () => {
    // Test files run in order, so the writer and round-trip tests above have filled `written`.
    expect(written.length).toBeGreaterThan(100);
    const files = writeTemp(written, 'written');
    const check = validateWithSchema(ALLIANCE_XSD, files);
    expect(
      check.output
        .split('\n')
        .filter((l) => l.includes('fails') || l.includes('error'))
        .slice(0, 5),
    ).toEqual([]);
    expect(check.ok).toBe(true);
  });

  it('validates the hand-written fixtures and refuses a broken file (the check can fail)', () => {
    const good = validateWithSchema(
      ALLIANCE_XSD,
      writeTemp([fixture('alliance-claims.xml').toString(), fixture('alliance-results.xml').toString()]),
    );
    expect(good.ok).toBe(true);
    const broken = writeClaimsFile(CLAIMS).replace('<Surname>Иванов</Surname>', '<Surname> Иванов</Surname>');
    const bad = validateWithSchema(ALLIANCE_XSD, writeTemp([broken]));
    expect(bad.ok).toBe(false);
    expect(bad.output).toContain('Surname');
    const noControl = writeResultsFile(RESULTS).replace(/ {2}<Control>[\s\S]*<\/Control>\n/, '');
    expect(validateWithSchema(ALLIANCE_XSD, writeTemp([noControl])).ok).toBe(false);
  });

  it('agrees with the TypeScript field rules on awkward values', () => {
    // A throwaway schema declaring one element per simple type of ours, and one document holding many
    // values, one per line: xmllint reports invalid ones by line, which we compare with RULES.
    const dir = mkdtempSync(join(tmpdir(), 'redeye-xsd-'));
    const types = {
      Name: 'PersonName',
      Free: 'FreeText',
      Stamp: 'Timestamp',
      Day: 'Date',
      Program: 'ProgramCode',
      Flight: 'FlightNumber',
    } as const;
    const rules: Record<keyof typeof types, (v: string) => string | null> = {
      Name: RULES.name,
      Free: RULES.reasonText,
      Stamp: RULES.timestamp,
      Day: RULES.date,
      Program: RULES.program,
      Flight: RULES.flightNumber,
    };
    const xsd = join(dir, 'probe.xsd');
    writeFileSync(
      xsd,
      `<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:ra="urn:redeye:alliance:1.0" targetNamespace="urn:redeye:probe" elementFormDefault="qualified">
  <xs:import namespace="urn:redeye:alliance:1.0" schemaLocation="${ALLIANCE_XSD}"/>
  <xs:element name="Values"><xs:complexType><xs:choice minOccurs="0" maxOccurs="unbounded">
${Object.entries(types)
  .map(([el, type]) => `    <xs:element name="${el}" type="ra:${type}"/>`)
  .join('\n')}
  </xs:choice></xs:complexType></xs:element>
</xs:schema>
`,
    );
    const two = (lo: number, hi: number) =>
      fc.integer({ min: lo, max: hi }).map((n) => String(n).padStart(2, '0'));
    const nearStamp = fc
      .tuple(
        fc.constantFrom('0000', '0099', '0999', '1000', '2024', '2026', '9999'),
        two(0, 13),
        two(0, 32),
        two(0, 25),
        two(0, 61),
        two(0, 61),
        fc.constantFrom('', '.5', '.123456789', '.1234567890'),
        fc.constantFrom('Z', '', '+14:00', '+14:01', '-13:59', '+03:60', '+15:00', 'z'),
      )
      .map(([y, mo, d, h, mi, s, f, z]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${f}${z}`);
    const values = fc
      .sample(
        fc.oneof(
          fc.tuple(
            fc.constant('Name' as const),
            fc.oneof(
              rawText,
              lineText(70),
              fc.constantFrom('', ' a', 'a ', '\u00a0a\u00a0', 'a\u0085', 'Ж'.repeat(64), '😀'.repeat(65)),
            ),
          ),
          fc.tuple(
            fc.constant('Free' as const),
            fc.oneof(
              freeText,
              rawText.map((s) => `${s}\n`),
              fc.constantFrom('a\nb', '\ta', 'a\u007f'),
            ),
          ),
          fc.tuple(fc.constant('Stamp' as const), nearStamp),
          fc.tuple(
            fc.constant('Day' as const),
            nearStamp.map((s) => s.slice(0, 10)),
          ),
          fc.tuple(
            fc.constant('Program' as const),
            fc.oneof(program, fc.constantFrom('a1', 'ABCDEFGHI', 'R', 'R E')),
          ),
          fc.tuple(
            fc.constant('Flight' as const),
            fc.oneof(
              flightNumber,
              fc.stringMatching(/^[0-9]{0,7}[A-Za-z]{0,2}$/),
              // Digits of other scripts: neither JavaScript's \d nor the XSD's [0-9] takes them.
              fc.constantFrom('12345', '123456', '1234A', '12345Z', '\u0661\u0662', ' 123', '12 3'),
            ),
          ),
        ),
        { numRuns: 600, seed: 20261127 },
      )
      // Characters no XML 1.0 document can carry, even as references; the writer refuses them (tested above).
      // eslint-disable-next-line no-control-regex -- these control characters are exactly what is excluded
      .filter(([, v]) => !/[\0-\x08\x0B\x0C\x0E-\x1F\p{Cs}\uFFFE\uFFFF]/u.test(v));
    const FIRST_VALUE_LINE = 3;
    const doc = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<Values xmlns="urn:redeye:probe">',
      ...values.map(([el, v]) => `<${el}>${escapeXmlAttr(v)}</${el}>`),
      '</Values>',
      '',
    ].join('\n');
    const file = join(dir, 'values.xml');
    writeFileSync(file, doc, 'utf8');
    const check = validateWithSchema(xsd, [file]);
    // Only schema-validity complaints: a parser error would hide every per-value verdict.
    expect(check.output).not.toMatch(/parser error|failed to compile|WXS schema .* failed/);
    const failing = new Set(
      [...check.output.matchAll(/values\.xml:(\d+): element \w+: Schemas validity error/g)].map((m) =>
        Number(m[1]),
      ),
    );
    const disagreements = values
      .map(([el, v], i) => ({ el, v, xsd: !failing.has(i + FIRST_VALUE_LINE), ts: rules[el](v) === null }))
      .filter((d) => d.xsd !== d.ts);
    expect(disagreements).toEqual([]);
    // Both verdicts occur, or the comparison proves little.
    expect(failing.size).toBeGreaterThan(50);
    expect(failing.size).toBeLessThan(values.length - 50);
  });
});
