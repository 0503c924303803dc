import { describe, expect, it } from 'vitest';
import {
  allianceClaimsParser,
  allianceResultsParser,
  isIsoTimestamp,
  type AllianceClaim,
  type AllianceResult,
} from './alliance.js';
import { collect, expectBalanced, fixture, inputOf, split } from './fixtures/xml/support.js';

async function parseClaims(content: Buffer | string) {
  const events = await collect(allianceClaimsParser.parse([inputOf('XY_RE_000042.xml', content)]));
  expectBalanced(events);
  return split(events);
}

async function parseResults(content: Buffer | string) {
  const events = await collect(allianceResultsParser.parse([inputOf('RE_XY_000042.res.xml', content)]));
  expectBalanced(events);
  return split(events);
}

const claimsText = fixture('alliance-claims.xml').toString('utf8');
const resultsText = fixture('alliance-results.xml').toString('utf8');

describe('alliance claims', () => {
  it('reads the claims, the file facts and the control count', async () => {
    const { records, rejects, verdict } = await parseClaims(claimsText);
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.record)).toEqual<AllianceClaim[]>([
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
    ]);
    expect(records.map((r) => [r.path, r.seq, r.line, r.lines])).toEqual([
      ['AccrualClaims/Claim', 1, 9, 23],
      ['AccrualClaims/Claim', 2, 32, 19],
    ]);
    expect(verdict).toMatchObject({
      verdict: 'accepted',
      account: { lines: 54, recordLines: 42, rejectLines: 0, structureLines: 12, blankLines: 0 },
      meta: {
        sender: 'XY',
        receiver: 'RE',
        sequence: 42,
        createdAt: '2026-11-26T03:15:00+03:00',
        declaredCount: 2,
        claimElements: 2,
      },
    });
  });

  it('rejects the whole file when the control count does not match, after listing its claims', async () => {
    const { records, verdict } = await parseClaims(claimsText.replace('<ClaimCount>2<', '<ClaimCount>3<'));
    expect(records).toHaveLength(2);
    expect(verdict).toMatchObject({
      verdict: 'rejected',
      reason: 'CONTROL_TOTAL_MISMATCH',
      meta: { declaredCount: 3, claimElements: 2 },
    });
    expect(verdict.message).toContain('3');
  });

  it('counts rejected claims in the control total too', async () => {
    const { records, rejects, verdict } = await parseClaims(
      claimsText.replace('<Surname>Иванов</Surname>', ''),
    );
    expect(records).toHaveLength(1);
    expect(rejects).toHaveLength(1);
    expect(verdict.verdict).toBe('accepted');
  });

  it('refuses a file whose header or control element is missing or invalid', async () => {
    const cases: [string, string][] = [
      [claimsText.replace(/<FileHeader>[\s\S]*<\/FileHeader>/, ''), 'BAD_HEADER'],
      [claimsText.replace('<FileSequence>42</FileSequence>', '<FileSequence>0</FileSequence>'), 'BAD_HEADER'],
      [
        claimsText.replace('<FileSequence>42</FileSequence>', '<FileSequence>4x2</FileSequence>'),
        'BAD_HEADER',
      ],
      [claimsText.replace('2026-11-26T03:15:00+03:00', '2026-11-26 03:15'), 'BAD_HEADER'],
      [claimsText.replace('<ReceiverProgram>RE<', '<ReceiverProgram>XY<'), 'BAD_HEADER'],
      [claimsText.replace(/<Control>[\s\S]*<\/Control>/, ''), 'BAD_TRAILER'],
      [claimsText.replace('<ClaimCount>2</ClaimCount>', '<ClaimCount>two</ClaimCount>'), 'BAD_TRAILER'],
      [
        claimsText.replace('</Control>', '</Control><Control><ClaimCount>2</ClaimCount></Control>'),
        'BAD_TRAILER',
      ],
    ];
    for (const [text, reason] of cases) {
      const { verdict } = await parseClaims(text);
      expect(verdict, reason).toMatchObject({ verdict: 'rejected', reason });
    }
  });

  it('rejects a claim by field: missing, invalid, repeated element, duplicate id', async () => {
    const second = claimsText.indexOf('<Claim>', claimsText.indexOf('</Claim>'));
    const cases: [string, string, string, string][] = [
      [claimsText.replace('<Surname>Иванов</Surname>', ''), 'MALFORMED', 'Member/Surname', ''],
      [claimsText.replace('2026-11-24', '2026-02-29'), 'MALFORMED', 'Flight/FlightDate', '2026-02-29'],
      [
        claimsText.replace('<Origin>FRA</Origin>', '<Origin>fra</Origin>'),
        'MALFORMED',
        'Flight/Origin',
        'fra',
      ],
      [
        claimsText.replace('<Destination>SVO</Destination>', '<Destination>FRA</Destination>'),
        'MALFORMED',
        'Flight/Destination',
        'FRA',
      ],
      [claimsText.replace('<CouponNumber>1<', '<CouponNumber>5<'), 'MALFORMED', 'Flight/CouponNumber', '5'],
      [
        claimsText.replace('<Cabin>J</Cabin>', '<Cabin>J</Cabin><Cabin>Y</Cabin>'),
        'MALFORMED',
        'Flight/Cabin',
        'Y',
      ],
      [
        claimsText.replace('XY-20261126-0002', 'XY-20261126-0001'),
        'DUPLICATE',
        'ClaimId',
        'XY-20261126-0001',
      ],
    ];
    for (const [text, reason, field, value] of cases) {
      const { rejects, records } = await parseClaims(text);
      expect(rejects, field).toHaveLength(1);
      expect(records).toHaveLength(1);
      expect(rejects[0]).toMatchObject({ reason, field, path: 'AccrualClaims/Claim' });
      if (value) expect(rejects[0]!.text).toBe(value);
      else expect(rejects[0]!.text).toContain('<Claim>');
      expect(rejects[0]!.message).toContain(field);
    }
    const dup = await parseClaims(claimsText.replace('XY-20261126-0002', 'XY-20261126-0001'));
    expect(dup.rejects[0]).toMatchObject({ seq: 2, line: claimsText.slice(0, second).split('\n').length });
  });

  it('reads flight numbers of 1-5 digits and a suffix letter, as the FTL and the flown coupons carry them', async () => {
    const five = await parseClaims(
      claimsText
        .replace('<OperatingFlightNumber>812<', '<OperatingFlightNumber>12345<')
        .replace('<MarketingFlightNumber>5812<', '<MarketingFlightNumber>00812A<'),
    );
    expect(five.rejects).toEqual([]);
    expect(five.records[1]!.record.flight).toMatchObject({
      operatingFlightNumber: '12345',
      marketingFlightNumber: '00812A',
    });
    for (const bad of ['123456', '12345AB', '1234a', '']) {
      const { rejects, records } = await parseClaims(
        claimsText.replace('<OperatingFlightNumber>812<', `<OperatingFlightNumber>${bad}<`),
      );
      expect(records, bad).toHaveLength(1);
      expect(rejects[0], bad).toMatchObject({
        reason: 'MALFORMED',
        field: 'Flight/OperatingFlightNumber',
        seq: 2,
      });
      if (bad !== '') expect(rejects[0]!.message).toContain('1-5 digits and an optional letter');
    }
  });

  it('rejects a claim from an airport to itself on Flight/Destination, naming the origin', async () => {
    const { records, rejects, verdict } = await parseClaims(
      claimsText.replace('<Destination>LED</Destination>', '<Destination>SVO</Destination>'),
    );
    expect(records.map((r) => r.record.claimId)).toEqual(['XY-20261126-0001']);
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatchObject({
      reason: 'MALFORMED',
      field: 'Flight/Destination',
      text: 'SVO',
      seq: 2,
      // The results file answers it by its id.
      recordRef: 'XY-20261126-0002',
    });
    expect(rejects[0]!.message).toBe('Flight/Destination: expected an airport other than the origin SVO');
    expect(verdict.verdict).toBe('accepted');
  });

  it('tolerates white space around values, any prefix, and element order', async () => {
    const variant = claimsText
      .replace(
        '<AccrualClaims xmlns="urn:redeye:alliance:1.0">',
        '<c:AccrualClaims xmlns:c="urn:redeye:alliance:1.0">',
      )
      .replace('</AccrualClaims>', '</c:AccrualClaims>')
      .replace(/<(\/?)([A-Z][A-Za-z]*)>/g, '<$1c:$2>')
      .replace('<c:Number>000123456</c:Number>', '<c:Number>\n        000123456\n      </c:Number>')
      .replace(
        '<c:Origin>FRA</c:Origin>\n      <c:Destination>SVO</c:Destination>',
        '<c:Destination>SVO</c:Destination><c:Origin>FRA</c:Origin>',
      );
    const base = await parseClaims(claimsText);
    const other = await parseClaims(variant);
    expect(other.records.map((r) => r.record)).toEqual(base.records.map((r) => r.record));
    expect(other.verdict.verdict).toBe('accepted');
  });

  it('refuses another version of the interface and a results file', async () => {
    const v2 = await parseClaims(claimsText.replace('urn:redeye:alliance:1.0', 'urn:redeye:alliance:2.0'));
    expect(v2.verdict).toMatchObject({ verdict: 'rejected', reason: 'WRONG_DOCUMENT' });
    const results = await parseClaims(resultsText);
    expect(results.verdict).toMatchObject({ verdict: 'rejected', reason: 'WRONG_DOCUMENT' });
  });

  it('accepts an empty daily file that keeps the sequence', async () => {
    const empty = claimsText
      .replace(/ {2}<Claim>[\s\S]*<\/Claim>\n/, '')
      .replace('<ClaimCount>2<', '<ClaimCount>0<');
    const { records, verdict } = await parseClaims(empty);
    expect(records).toEqual([]);
    expect(verdict).toMatchObject({ verdict: 'accepted', meta: { sequence: 42, declaredCount: 0 } });
  });
});

describe('alliance numbers the archive keeps in integer columns', () => {
  it('reads a file sequence of 2,147,483,647 and refuses one past it BAD_HEADER, naming the element', async () => {
    const withSequence = (n: string) =>
      claimsText.replace('<FileSequence>42</FileSequence>', `<FileSequence>${n}</FileSequence>`);
    expect((await parseClaims(withSequence('2147483647'))).verdict).toMatchObject({
      verdict: 'accepted',
      meta: { sequence: 2147483647 },
    });
    const past = (await parseClaims(withSequence('2147483648'))).verdict;
    expect(past).toMatchObject({ verdict: 'rejected', reason: 'BAD_HEADER' });
    expect(past.message).toBe('FileHeader/FileSequence: expected a whole number from 1 to 2147483647');

    const answering = (n: string) =>
      resultsText.replace('<r:FileSequence>42</r:FileSequence>', `<r:FileSequence>${n}</r:FileSequence>`);
    expect((await parseResults(answering('2147483647'))).verdict).toMatchObject({ verdict: 'accepted' });
    const answeringPast = (await parseResults(answering('2147483648'))).verdict;
    expect(answeringPast).toMatchObject({ verdict: 'rejected', reason: 'BAD_HEADER' });
    expect(answeringPast.message).toContain('FileHeader/AnsweredFile/FileSequence');
  });

  it('reads PointsCredited of 2,147,483,647 and rejects one past it on its field', async () => {
    const at = await parseResults(resultsText.replace('>2750<', '>2147483647<'));
    expect(at.rejects).toEqual([]);
    const past = await parseResults(resultsText.replace('>2750<', '>2147483648<'));
    expect(past.rejects[0]).toMatchObject({
      reason: 'MALFORMED',
      field: 'Accepted/PointsCredited',
      text: '2147483648',
    });
  });
});

describe('alliance results', () => {
  it('reads accepted and rejected results and which claims file they answer', async () => {
    const { records, rejects, verdict } = await parseResults(resultsText);
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.record)).toEqual<AllianceResult[]>([
      { claimId: 'XY-20261126-0001', status: 'accepted', pointsCredited: 2750, tierHeld: 'GOLD' },
      {
        claimId: 'XY-20261126-0002',
        status: 'rejected',
        reasonCode: 'NAME_MISMATCH',
        reasonText: 'Surname does not match member 7712345',
      },
    ]);
    expect(verdict).toMatchObject({
      verdict: 'accepted',
      meta: {
        sender: 'RE',
        receiver: 'XY',
        createdAt: '2026-11-27T01:02:03Z',
        answers: { sender: 'XY', receiver: 'RE', sequence: 42 },
        declaredCount: 2,
        resultElements: 2,
      },
    });
    expect(records.map((r) => [r.path, r.seq])).toEqual([
      ['AccrualResults/Result', 1],
      ['AccrualResults/Result', 2],
    ]);
  });

  it('rejects results it cannot read and refuses a file answering someone else', async () => {
    const unknownCode = await parseResults(resultsText.replace('NAME_MISMATCH', 'NOT_OUR_CODE'));
    expect(unknownCode.rejects[0]).toMatchObject({
      reason: 'MALFORMED',
      field: 'Rejected/ReasonCode',
      text: 'NOT_OUR_CODE',
    });
    const both = await parseResults(
      resultsText.replace(
        '</r:Accepted>',
        '</r:Accepted><r:Rejected><r:ReasonCode>MALFORMED</r:ReasonCode><r:ReasonText>x</r:ReasonText></r:Rejected>',
      ),
    );
    expect(both.rejects[0]).toMatchObject({ reason: 'MALFORMED', seq: 1 });
    const neither = await parseResults(resultsText.replace(/<r:Accepted>[\s\S]*<\/r:Accepted>/, ''));
    expect(neither.rejects[0]).toMatchObject({ reason: 'MALFORMED', seq: 1 });
    const negative = await parseResults(resultsText.replace('>2750<', '>-5<'));
    expect(negative.rejects[0]).toMatchObject({ field: 'Accepted/PointsCredited', text: '-5' });
    const elsewhere = await parseResults(
      resultsText.replace(
        '<r:SenderProgram>XY</r:SenderProgram>\n      <r:ReceiverProgram>RE',
        '<r:SenderProgram>ZZ</r:SenderProgram>\n      <r:ReceiverProgram>RE',
      ),
    );
    expect(elsewhere.verdict).toMatchObject({ verdict: 'rejected', reason: 'BAD_HEADER' });
    expect(elsewhere.verdict.message).toContain('ZZ');
    const mismatch = await parseResults(resultsText.replace('<r:ResultCount>2<', '<r:ResultCount>1<'));
    expect(mismatch.verdict.reason).toBe('CONTROL_TOTAL_MISMATCH');
    expect((await parseResults(claimsText)).verdict.reason).toBe('WRONG_DOCUMENT');
  });
});

describe('ISO 8601 timestamps', () => {
  it('insists on an offset and on real dates and times', () => {
    for (const ok of ['2026-11-26T03:15:00Z', '2026-11-26T03:15:00.123+03:00', '2024-02-29T23:59:59-14:00']) {
      expect(isIsoTimestamp(ok), ok).toBe(true);
    }
    for (const bad of [
      '2026-11-26T03:15:00',
      '2026-11-26 03:15:00Z',
      '2026-02-29T00:00:00Z',
      '2026-11-26T24:00:00Z',
      '2026-11-26T03:60:00Z',
      '2026-11-26T03:15:00+14:30',
      '2026-11-26T03:15Z',
    ]) {
      expect(isIsoTimestamp(bad), bad).toBe(false);
    }
  });
});
