import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/errors.js';
import { allianceClaimsParser, allianceResultsParser } from './alliance.js';
import {
  collect,
  expectBalanced,
  fixture,
  FIXTURES,
  inputOf,
  physicalLines,
  SHARED_FORMATS,
  split,
  validateWithSchema,
  xmllintOrSkip,
} from './fixtures/xml/support.js';
import { fxParser } from './fx.js';
import { createHotelParser, hotelParser, parseOtaMoney, type HotelStay } from './hotel.js';
import type { FeedParser, ParseInput, ParseOptions } from './types.js';

const OWN = { ownPrograms: ['RE'] };
const SAMPLE = join(SHARED_FORMATS, 'ota/samples/OTA_HotelStayInfoNotifRQ-2011B.xml');
const OTA_RQ_XSD = join(SHARED_FORMATS, 'ota/2017B/OTA_HotelStayInfoNotifRQ.xsd');

async function parseHotel(content: Buffer | string, options: Parameters<typeof hotelParser.parse>[1] = OWN) {
  const events = await collect(hotelParser.parse([inputOf('stays.xml', content)], options));
  expectBalanced(events);
  return { events, ...split(events) };
}

/** 1-based line of the first line containing `needle`, computed without the parser. */
function lineOf(text: string, needle: string): number {
  return physicalLines(text).findIndex((l) => l.includes(needle)) + 1;
}

describe('hotel: OpenTravel sample instance', () => {
  const present = existsSync(SAMPLE);

  it.skipIf(!present)(
    'reads the one stay of OTA_HotelStayInfoNotifRQ-2011B with its CR line ends',
    async () => {
      const bytes = readFileSync(SAMPLE);
      const { records, rejects, verdict } = await parseHotel(bytes, { ownPrograms: ['MRW'] });
      expect(rejects).toEqual([]);
      expect(verdict.verdict).toBe('accepted');
      expect(records).toHaveLength(1);
      const stay = records[0]!.record;
      expect(stay).toMatchObject({
        chainCode: 'MI',
        brandCode: 'MC',
        hotelCode: 'WASJW',
        memberNumber: '123456789',
        program: 'MRW',
        own: true,
        memberSource: 'CustLoyalty',
        surname: 'Gastwart',
        givenName: 'Dieter',
        reservationId: '71294827',
        reservationIdType: '14',
        checkIn: '2005-10-18',
        checkOut: '2005-10-21',
        activityDate: '2005-10-21',
      });
      expect(stay.sequenceNumber).toBeUndefined();
      expect(stay.pointsEarned).toBeUndefined();
      // 4 telephone + 5 food + 3 parking + 3 room + 3 tax + 1 pay-per-view details; category 17 is the total.
      expect(stay.revenue).toHaveLength(19);
      expect(stay.revenue.filter((r) => r.category === '9')).toEqual([
        { category: '9', amount: '399.00', currency: 'USD', transactionDate: '2005-10-18' },
        { category: '9', amount: '399.00', currency: 'USD', transactionDate: '2005-10-19' },
        { category: '9', amount: '399.00', currency: 'USD', transactionDate: '2005-10-20' },
      ]);
      expect(stay.summaries).toEqual([{ category: '17', amount: '1668.94', currency: 'USD' }]);
      const cents = stay.revenue.reduce((sum, r) => sum + Math.round(Number(r.amount) * 100), 0);
      expect(cents).toBe(166894);

      const text = bytes.toString('utf8');
      const lines = physicalLines(text);
      expect(verdict.account.lines).toBe(lines.length);
      expect(lines.length).toBeGreaterThan(100); // the CR line ends were honoured
      const first = lineOf(text, '<StayInfo>');
      const last = lineOf(text, '</StayInfo>');
      expect(records[0]!.line).toBe(first);
      const nonBlank = lines.slice(first - 1, last).filter((l) => l.trim() !== '').length;
      expect(verdict.account.recordLines).toBe(nonBlank);
      expect(records[0]!.path).toBe('OTA_HotelStayInfoNotifRQ/StayInfos/StayInfo');
      expect(records[0]!.seq).toBe(1);
    },
  );

  it.skipIf(!present)('counts the sample stay as another program when MRW is not ours', async () => {
    const { records, verdict } = await parseHotel(readFileSync(SAMPLE), OWN);
    expect(records[0]!.record.own).toBe(false);
    expect(verdict.meta).toMatchObject({
      stays: 1,
      ownStays: 0,
      otherProgramStays: 1,
      otherPrograms: { MRW: 1 },
    });
  });

  it.skipIf(!present || !xmllintOrSkip())(
    'the sample and our hotel fixture validate against OpenTravel 2017B',
    () => {
      const check = validateWithSchema(OTA_RQ_XSD, [SAMPLE, join(FIXTURES, 'hotel-stays.xml')]);
      expect(check.output).not.toContain('fails to validate');
      expect(check.ok).toBe(true);
    },
  );
});

describe('hotel: project fixtures', () => {
  it('reads four stays: both member sources, other programs counted, categories, dates', async () => {
    const bytes = fixture('hotel-stays.xml');
    const { records, rejects, verdict } = await parseHotel(bytes);
    expect(rejects).toEqual([]);
    expect(verdict.verdict).toBe('accepted');
    const stays = records.map((r) => r.record);
    expect(stays[0]).toEqual<HotelStay>({
      chainCode: 'NA',
      brandCode: 'NAC',
      hotelCode: 'BERMIT',
      sequenceNumber: 1,
      memberNumber: '000123456',
      program: 'RE',
      own: true,
      memberSource: 'SelectedLoyalty',
      pointsEarned: 1500,
      bonusCode: 'DBL',
      surname: 'Иванов',
      givenName: 'Пётр',
      reservationId: 'NA7781203',
      reservationIdType: '14',
      revenue: [
        { category: '9', amount: '129.00', currency: 'EUR', transactionDate: '2026-11-20' },
        { category: '9', amount: '129.00', currency: 'EUR', transactionDate: '2026-11-21' },
        { category: '9', amount: '149.50', currency: 'EUR', transactionDate: '2026-11-22' },
        { category: '2', amount: '38.40', currency: 'EUR', transactionDate: '2026-11-21' },
      ],
      summaries: [{ category: '17', amount: '445.90', currency: 'EUR' }],
      checkIn: '2026-11-20',
      checkOut: '2026-11-23',
      activityDate: '2026-11-23',
    });
    // Member only in the profile; of two memberships the one in our program; name from that profile;
    // minor units with DecimalPlaces; an inclusive ExpireDate moves check-out to the next day.
    expect(stays[1]).toMatchObject({
      sequenceNumber: 2,
      memberNumber: '7712345',
      program: 'RE',
      own: true,
      memberSource: 'CustLoyalty',
      surname: "O'Brien & Söhne",
      givenName: 'Anna-Lena',
      revenue: [
        { category: '9', amount: '450.00', currency: 'EUR', transactionDate: '2026-11-22' },
        { category: '9', amount: '-25.00', currency: 'EUR', transactionDate: '2026-11-24' },
      ],
      checkIn: '2026-11-22',
      checkOut: '2026-11-25',
      activityDate: '2026-11-25',
    });
    expect(stays.slice(2).map((s) => [s.program, s.memberNumber, s.own, s.checkIn, s.checkOut])).toEqual([
      ['XY', 'XY4411', false, '2026-11-23', '2026-11-24'],
      ['XY', 'XY9020', false, '2026-11-21', '2026-11-24'],
    ]);
    expect(verdict.meta).toMatchObject({
      stays: 4,
      ownStays: 2,
      otherProgramStays: 2,
      otherPrograms: { XY: 2 },
      rejectedStays: 0,
      echoToken: 'NA-20261124-7',
      timeStamp: '2026-11-24T02:10:00+01:00',
      version: '1.0',
    });
    const text = bytes.toString('utf8');
    expect(records.map((r) => r.line)).toEqual(
      [1, 2, 3, 4].map((n) => lineOf(text, `SequenceNumber="${n}"`)),
    );
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
  });

  it('rejects broken stays by path, sequence and field, and keeps the good one', async () => {
    const { records, rejects, verdict } = await parseHotel(fixture('hotel-rejects.xml'));
    expect(rejects.map((r) => [r.seq, r.reason, r.field])).toEqual([
      [1, 'MALFORMED', 'LoyaltyPointsAccruals/SelectedLoyalty/@AccountID'],
      [2, 'BAD_AMOUNT', 'RevenueCategories/RevenueCategory/RevenueDetails/RevenueDetail[2]/@Amount'],
      [3, 'MALFORMED', 'RevenueCategories/RevenueCategory/RevenueDetails/RevenueDetail/@TransactionDate'],
      [4, 'BAD_CURRENCY', 'RevenueCategories/RevenueCategory/SummaryAmount/@CurrencyCode'],
      [5, 'MALFORMED', 'ReservationID/@ID'],
      [6, 'MALFORMED', 'HotelReservation/RoomStays/RoomStay/RoomRates/RoomRate/Rates/Rate/@ExpireDate'],
      [7, 'MALFORMED', 'LoyaltyPointsAccruals/SelectedLoyalty/@ProgramCode'],
    ]);
    expect(rejects.every((r) => r.path === 'OTA_HotelStayInfoNotifRQ/StayInfos/StayInfo')).toBe(true);
    expect(rejects[1]).toMatchObject({ text: '12,50', line: 10 });
    // The message says what an amount may be, limits included.
    expect(rejects[1]!.message).toContain(
      'is not an amount (decimal, at most 15 digits before the point and 3 after, DecimalPlaces 0-3)',
    );
    expect(rejects[2]!.text).toBe('2026-02-30');
    expect(rejects[0]!.text).toContain('<StayInfo SequenceNumber="1">');
    expect(records.map((r) => [r.seq, r.record.memberNumber, r.record.pointsEarned])).toEqual([
      [8, '1000008', 250],
    ]);
    expect(verdict.verdict).toBe('accepted');
    expect(verdict.account).toEqual({
      lines: 80,
      recordLines: 7,
      rejectLines: 67,
      structureLines: 5,
      blankLines: 1,
      records: 1,
      rejects: 7,
    });
    expect(verdict.meta).toMatchObject({ stays: 8, ownStays: 1, rejectedStays: 7 });
  });

  it('reads the same records whatever the line ends (LF, CRLF, CR)', async () => {
    const lf = fixture('hotel-stays.xml').toString('utf8');
    const base = await parseHotel(lf);
    for (const eol of ['\r\n', '\r']) {
      const other = await parseHotel(lf.replace(/\n/g, eol));
      expect(other.records).toEqual(base.records);
      expect(other.verdict.account).toEqual(base.verdict.account);
    }
  });

  it('decodes the predefined entities and character references, nothing else', async () => {
    const doc = fixture('hotel-stays.xml')
      .toString('utf8')
      .replace(
        '<ota:Surname>Иванов</ota:Surname>',
        '<ota:Surname>&#x418;&#1074;&#x430;&#x43D;&#x43E;&#x432; &lt;&quot;&apos;&gt;</ota:Surname>',
      );
    const { records } = await parseHotel(doc);
    expect(records[0]!.record.surname).toBe(`Иванов <"'>`);
  });

  it('refuses a message without stays, a different message, and a foreign namespace', async () => {
    const empty = await parseHotel(
      '<OTA_HotelStayInfoNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1"><StayInfos/></OTA_HotelStayInfoNotifRQ>',
    );
    expect(empty.verdict).toMatchObject({ verdict: 'rejected', reason: 'EMPTY_FILE' });
    const other = await parseHotel(fixture('alliance-claims.xml'));
    expect(other.verdict).toMatchObject({ verdict: 'rejected', reason: 'WRONG_DOCUMENT' });
    expect(other.verdict.message).toContain('{urn:redeye:alliance:1.0}AccrualClaims');
    const wrongNs = await parseHotel(
      fixture('hotel-stays.xml')
        .toString('utf8')
        .replace('http://www.opentravel.org/OTA/2003/05', 'http://example.com/OTA'),
    );
    expect(wrongNs.verdict.reason).toBe('WRONG_DOCUMENT');
    expect(wrongNs.records).toEqual([]);
  });

  it('keeps the EchoToken as sent for the response to echo, one OpenTravel does not admit only as a warning', async () => {
    const doc = (echo: string) =>
      `<OTA_HotelStayInfoNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="${echo}" Version="1"><StayInfos/></OTA_HotelStayInfoNotifRQ>`;
    // Refused whole, still answered: its response needs the token too.
    const kept = await parseHotel(doc(' GS&amp;1 '));
    expect(kept.verdict).toMatchObject({ verdict: 'rejected', reason: 'EMPTY_FILE' });
    expect(kept.verdict.meta).toMatchObject({ echoToken: ' GS&1 ' });
    expect((await parseHotel(doc('Ü'.repeat(128)))).verdict.meta?.echoToken).toBe('Ü'.repeat(128));
    const long = (await parseHotel(doc('x'.repeat(129)))).verdict.meta;
    expect(long?.echoToken).toBeUndefined();
    expect(long?.warnings).toEqual([
      'stays.xml: its EchoToken of 129 characters is not echoed in the response (OpenTravel allows 1 to 128)',
    ]);
    expect((await parseHotel(doc(''))).verdict.meta?.echoToken).toBeUndefined();
  });

  it('needs ownPrograms, from the call or from the factory', async () => {
    expect(() => hotelParser.parse([inputOf('x.xml', '<a/>')])).toThrow(ConfigError);
    const fixed = createHotelParser({ ownPrograms: ['xy'] });
    const events = await collect(fixed.parse([inputOf('stays.xml', fixture('hotel-stays.xml'))]));
    const { records, verdict } = split(events);
    expect(records.map((r) => r.record.own)).toEqual([false, false, true, true]);
    // Where none of a stay's memberships is ours, the first one is reported (NAREW before RE).
    expect(verdict.meta).toMatchObject({ ownStays: 2, otherPrograms: { NAREW: 2 } });
  });

  it('reads PointsEarned as the points the hotel proposes: 0 however written proposes none, a negative is kept', async () => {
    const withPoints = (text: string) =>
      fixture('hotel-stays.xml').toString('utf8').replace('PointsEarned="1500"', `PointsEarned="${text}"`);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -99_999_999, max: 99_999_999 }),
        fc.constantFrom('', '+'),
        fc.nat({ max: 3 }),
        async (points, plus, zeros) => {
          const digits = '0'.repeat(zeros) + String(Math.abs(points));
          if (digits.length > 8) return;
          const text = points < 0 ? `-${digits}` : `${plus}${digits}`;
          const { records, rejects } = await parseHotel(withPoints(text));
          expect(rejects).toEqual([]);
          const stay = records[0]!.record;
          if (points === 0) expect(stay).not.toHaveProperty('pointsEarned');
          else expect(stay.pointsEarned).toBe(points);
        },
      ),
      { numRuns: 200 },
    );
    // Empty or blank is no attribute, as for every attribute read.
    for (const none of ['-0', '', '  '])
      expect((await parseHotel(withPoints(none))).records[0]!.record, none).not.toHaveProperty(
        'pointsEarned',
      );
    for (const bad of ['1.5', '1,000', '1e3', '123456789', 'ten']) {
      const { rejects } = await parseHotel(withPoints(bad));
      expect(
        rejects.map((r) => [r.seq, r.reason, r.field]),
        bad,
      ).toEqual([[1, 'BAD_AMOUNT', 'LoyaltyPointsAccruals/SelectedLoyalty[2]/@PointsEarned']]);
    }
  });

  it('gives each stay its StayInfos’ hotel; a later StayInfos without ChainCode takes the first one’s chain and brand', async () => {
    const text = fixture('hotel-stays.xml').toString('utf8');
    const split = (second: string) =>
      text.replace(
        /(<ota:StayInfo SequenceNumber="3">)/,
        `</ota:StayInfos>\n  <ota:StayInfos ${second}>\n    $1`,
      );
    const hotels = async (doc: string) => {
      const { records, verdict } = await parseHotel(doc);
      expect(verdict.verdict).toBe('accepted');
      return {
        stays: records.map((r) => [r.record.chainCode, r.record.brandCode, r.record.hotelCode]),
        document: [verdict.meta?.chainCode, verdict.meta?.brandCode],
      };
    };
    expect(await hotels(split('HotelCode="BERKRZ" BrandCode="OTHER"'))).toEqual({
      stays: [
        ['NA', 'NAC', 'BERMIT'],
        ['NA', 'NAC', 'BERMIT'],
        ['NA', 'NAC', 'BERKRZ'],
        ['NA', 'NAC', 'BERKRZ'],
      ],
      document: ['NA', 'NAC'],
    });
    // A chain a StayInfos names is its own, known or not.
    expect((await hotels(split('ChainCode="ZZ" HotelCode="ZZ01"'))).stays.slice(2)).toEqual([
      ['ZZ', undefined, 'ZZ01'],
      ['ZZ', undefined, 'ZZ01'],
    ]);
    // A document that names no chain leaves its stays without one: the file name says whose it is.
    expect(await hotels(text.replace('ChainCode="NA" BrandCode="NAC" ', ''))).toEqual({
      stays: Array.from({ length: 4 }, () => [undefined, undefined, 'BERMIT']),
      document: [undefined, undefined],
    });
  });

  it('refuses each stay of a HotelCode longer than OpenTravel’s 16 characters: a stay’s key holds it', async () => {
    const text = fixture('hotel-stays.xml').toString('utf8');
    const withCode = (code: string) => text.replace('HotelCode="BERMIT"', `HotelCode="${code}"`);
    expect((await parseHotel(withCode('H'.repeat(16)))).rejects.map((r) => r.field)).not.toContain(
      'StayInfos/@HotelCode',
    );
    const { records, rejects } = await parseHotel(withCode('H'.repeat(17)));
    expect(records).toEqual([]);
    expect(new Set(rejects.map((r) => [r.reason, r.field].join(' ')))).toEqual(
      new Set(['MALFORMED StayInfos/@HotelCode']),
    );
  });

  it('reads OTA Money exactly', () => {
    expect(parseOtaMoney('1.50')).toBe('1.50');
    expect(parseOtaMoney('+007.5')).toBe('7.5');
    expect(parseOtaMoney('.5')).toBe('0.5');
    expect(parseOtaMoney('-0.00')).toBe('0.00');
    expect(parseOtaMoney('8500', '2')).toBe('85.00');
    expect(parseOtaMoney('5', '3')).toBe('0.005');
    expect(parseOtaMoney('12.5', '2')).toBe('12.5');
    expect(parseOtaMoney('8500', '0')).toBe('8500');
    for (const bad of ['', '.', '-', '1,5', '1e3', '1.2345', '0x10', ' 1', '1 000', '1234567890123456']) {
      expect(parseOtaMoney(bad), bad).toBeNull();
    }
    expect(parseOtaMoney('85', '7')).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------------------
// Hostile documents, for every XML feed

const FEEDS: [string, FeedParser<unknown>, ParseOptions][] = [
  ['hotel', hotelParser as FeedParser<unknown>, OWN as ParseOptions],
  ['alliance-claims', allianceClaimsParser as FeedParser<unknown>, {}],
  ['alliance-results', allianceResultsParser as FeedParser<unknown>, {}],
  ['fx', fxParser as FeedParser<unknown>, {}],
];

async function parseWith(parser: FeedParser<unknown>, options: ParseOptions, inputs: ParseInput[]) {
  return collect(parser.parse(inputs, options));
}

describe.each(FEEDS)('hostile input: %s', (_name, parser, options) => {
  /** A file refused whole: no records, at most one `*` reject holding its lines, a rejected verdict. */
  const refuse = async (content: Buffer | string, reason: string, opts: ParseOptions = {}) => {
    const events = await parseWith(parser, { ...options, ...opts }, [inputOf('hostile.xml', content)]);
    expectBalanced(events);
    const { records, rejects, verdict } = split(events);
    expect(records).toEqual([]);
    expect(verdict).toMatchObject({ type: 'verdict', verdict: 'rejected', reason });
    expect(rejects.length).toBe(verdict.account.lines - verdict.account.blankLines > 0 ? 1 : 0);
    for (const r of rejects)
      expect(r).toMatchObject({ field: '*', reason, lines: verdict.account.rejectLines });
    return { verdict, reject: rejects[0] };
  };

  it('refuses a DOCTYPE, an external entity (XXE) and a parameter entity before parsing', async () => {
    const xxe = await refuse(fixture('hostile-xxe.xml'), 'DOCTYPE_FORBIDDEN');
    expect(JSON.stringify(xxe)).not.toContain('root:'); // nothing from /etc/passwd
    expect(xxe.reject).toMatchObject({ line: 2, text: '<!DOCTYPE OTA_HotelStayInfoNotifRQ [', lines: 12 });
    await refuse(fixture('hostile-parameter-entity.xml'), 'DOCTYPE_FORBIDDEN');
    await refuse('<!DOCTYPE x SYSTEM "http://attacker.invalid/x.dtd"><x/>', 'DOCTYPE_FORBIDDEN');
    await refuse('<x><!-- <!DOCTYPE hidden in a comment --></x>', 'DOCTYPE_FORBIDDEN');
  });

  it('refuses billion laughs at once', async () => {
    const started = performance.now();
    const { verdict } = await refuse(fixture('hostile-billion-laughs.xml'), 'DOCTYPE_FORBIDDEN');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(verdict).toMatchObject({ message: expect.stringContaining('line 2') });
  });

  it('never expands an entity that is not predefined', async () => {
    const { verdict: v } = await refuse('<x a="&secret;"/>', 'NOT_WELL_FORMED');
    expect(v).toMatchObject({ message: expect.stringContaining('&secret;') });
    await refuse('<x>&nbsp;</x>', 'NOT_WELL_FORMED');
    await refuse('<x>AT&T</x>', 'NOT_WELL_FORMED');
    await refuse('<x>&#0;</x>', 'NOT_WELL_FORMED');
    await refuse('<x>&#xD800;</x>', 'NOT_WELL_FORMED');
  });

  it('refuses a document over the limit by its declared size without opening it', async () => {
    const input = inputOf('big.xml', '<x/>', {
      size: 10_000_001,
      open: () => {
        throw new Error('must not be opened');
      },
    });
    const events = await parseWith(parser, { ...options, maxBytes: 10_000_000 }, [input]);
    expect(events).toEqual([
      expect.objectContaining({
        type: 'verdict',
        verdict: 'rejected',
        reason: 'TOO_LARGE',
        meta: expect.objectContaining({ bytesRead: 0 }),
      }),
    ]);
    expectBalanced(events);
  });

  it('stops reading a stream that lies about its size at the limit', async () => {
    const maxBytes = 64 * 1024;
    const chunk = 16 * 1024;
    let pulled = 0;
    let opened = 0;
    const input: ParseInput = {
      name: 'endless.xml',
      size: 100,
      receivedAt: new Date(),
      open: () => {
        opened++;
        return new Readable({
          highWaterMark: chunk,
          read() {
            // Past this point a reader that ignored the limit would get an error instead of a verdict.
            if (pulled >= maxBytes + 3 * chunk) {
              this.destroy(new Error('read past the limit'));
              return;
            }
            pulled += chunk;
            this.push(Buffer.alloc(chunk, pulled === chunk ? 0x3c : 0x20));
          },
        });
      },
    };
    const events = await parseWith(parser, { ...options, maxBytes }, [input]);
    expect(opened).toBe(1);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'verdict', verdict: 'rejected', reason: 'TOO_LARGE' });
    expect(pulled).toBeLessThanOrEqual(maxBytes + 2 * chunk);
    expect(events[0]).toMatchObject({ account: { lines: 0, records: 0, rejects: 0 } });
  });

  it('accepts a document of exactly the limit and refuses one byte more', async () => {
    const base = '<x/>\n';
    const at = Buffer.byteLength(base);
    const ok = await parseWith(parser, { ...options, maxBytes: at }, [inputOf('limit.xml', base)]);
    expect(split(ok).verdict.reason).not.toBe('TOO_LARGE');
    await refuse(base, 'TOO_LARGE', { maxBytes: at - 1 });
  });

  it('refuses invalid UTF-8, UTF-16 and a mismatched declaration', async () => {
    const broken = Buffer.concat([
      Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<x>\n<y>Ив'),
      Buffer.from([0xd0, 0x28]),
      Buffer.from('</y></x>'),
    ]);
    const { verdict: v, reject } = await refuse(broken, 'BAD_ENCODING');
    expect(v).toMatchObject({ meta: expect.objectContaining({ line: 3 }) });
    expect(reject).toMatchObject({ line: 3, lines: 3 });
    await refuse(Buffer.from([0x3c, 0x78, 0x3e, 0xc0, 0xaf, 0x3c, 0x2f, 0x78, 0x3e]), 'BAD_ENCODING'); // overlong '/'
    await refuse(Buffer.from([0x3c, 0x78, 0x3e, 0xed, 0xa0, 0x80, 0x3c, 0x2f, 0x78, 0x3e]), 'BAD_ENCODING'); // surrogate
    await refuse(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<x/>', 'utf16le')]), 'BAD_ENCODING');
    await refuse('<?xml version="1.0" encoding="ISO-8859-1"?><x/>', 'BAD_ENCODING');
  });

  it('refuses a document that is not well-formed, with the position', async () => {
    const { verdict: v } = await refuse('<?xml version="1.0"?>\n<x>\n  <y>\n</x>\n', 'NOT_WELL_FORMED');
    expect(v).toMatchObject({
      meta: expect.objectContaining({ line: 4 }),
      message: expect.stringMatching(/^line 4, column \d+/),
    });
    await refuse('<x a="1" a="2"/>', 'NOT_WELL_FORMED');
    await refuse('<x a="<"/>', 'NOT_WELL_FORMED');
    await refuse('<x/><y/>', 'NOT_WELL_FORMED');
    await refuse('<p:x/>', 'NOT_WELL_FORMED');
    await refuse('<x>\u0007</x>', 'NOT_WELL_FORMED');
    await refuse('<x><!-- never closed </x>', 'NOT_WELL_FORMED');
    await refuse('', 'EMPTY_FILE');
    await refuse('<x>'.repeat(100) + '</x>'.repeat(100), 'TOO_DEEP');
  });

  it('refuses a document with more nodes than the tree may hold, before building it (real limits)', async () => {
    // The reviewer's padding, scaled down to just over the limits: 1,000,002 elements (the root is one); 257 attributes on
    // one element; 1,000,200 attributes in 5,001 elements of 200.
    const elements = await refuse(`<x>\n${'<y/>'.repeat(1_000_001)}\n</x>`, 'TOO_MANY_ELEMENTS');
    expect(elements.verdict).toMatchObject({
      file: 'hostile.xml',
      message: 'line 2, column 3999997: more than 1000000 elements (CDATA sections included) in the document',
    });
    expect(elements.reject).toMatchObject({ line: 2, lines: 3 });
    const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}=""`).join('');
    const one = await refuse(`<x>\n<y${attrs(257)}/>\n</x>`, 'TOO_MANY_ATTRIBUTES');
    expect(one.verdict.message).toBe('line 2, column 1: an element has more than 256 attributes');
    const all = await refuse(`<x>${`<y${attrs(200)}/>\n`.repeat(5_001)}</x>`, 'TOO_MANY_ATTRIBUTES');
    expect(all.verdict.message).toBe('line 5001, column 1: more than 1000000 attributes in the document');
  });

  it('keeps each file of a delivery separate: a refused file does not affect the next', async () => {
    const good = {
      hotel: fixture('hotel-stays.xml'),
      'alliance-claims': fixture('alliance-claims.xml'),
      'alliance-results': fixture('alliance-results.xml'),
      fx: fixture('fx-daily.xml'),
    }[parser.feed as string]!;
    const alone = await parseWith(parser, options, [inputOf('good.xml', good)]);
    const events = await parseWith(parser, options, [
      inputOf('bad.xml', fixture('hostile-xxe.xml')),
      inputOf('good.xml', good),
    ]);
    const first = events.findIndex((e) => e.type === 'verdict');
    expect(events[first]).toMatchObject({ file: 'bad.xml', reason: 'DOCTYPE_FORBIDDEN' });
    expect(events.slice(first + 1)).toEqual(alone);
    expect(split(alone).verdict.verdict).toBe('accepted');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Properties

const NASTY = [
  '<!DOCTYPE x>',
  '&',
  '&lt;',
  '&amp;',
  '<',
  '>',
  ']]>',
  '\u0000',
  '<y>',
  '</',
  '"',
  "'",
  '\uFFFE',
  'é',
  '&#0;',
  '&#x1F600;',
  '&nbsp;',
  '\r',
  '\n',
  '<!--',
  '<?',
  '<![CDATA[',
];

/** Edits of a valid document: byte flips, cuts, and insertions of markup fragments. */
const mutation: fc.Arbitrary<Edit[]> = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...NASTY) }),
  ),
  { minLength: 1, maxLength: 4 },
);

type Edit =
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'cut'; at: number; length: number }
  | { kind: 'insert'; at: number; text: string };

function mutate(doc: Buffer, edits: Edit[]): Buffer {
  let out = Buffer.from(doc);
  for (const e of edits) {
    const at = out.length === 0 ? 0 : e.at % out.length;
    if (e.kind === 'byte') out[at] = e.value;
    else if (e.kind === 'cut') out = Buffer.concat([out.subarray(0, at), out.subarray(at + e.length)]);
    else out = Buffer.concat([out.subarray(0, at), Buffer.from(e.text, 'utf8'), out.subarray(at)]);
  }
  return out;
}

describe.each(FEEDS)('properties: %s', (name, parser, options) => {
  const seed = fixture(
    {
      hotel: 'hotel-stays.xml',
      'alliance-claims': 'alliance-claims.xml',
      'alliance-results': 'alliance-results.xml',
      fx: 'fx-history.xml',
    }[name]!,
  );

  const oneVerdictPerFile = async (files: Buffer[]) => {
    const inputs = files.map((bytes, i) => inputOf(`f${i}.xml`, bytes));
    const events = await parseWith(parser, options, inputs);
    const verdicts = events.filter((e) => e.type === 'verdict');
    expect(verdicts.map((v) => v.file)).toEqual(inputs.map((i) => i.name));
    // Per file: its events, closed by its verdict, balanced.
    let start = 0;
    for (const [i, v] of events.entries()) {
      if (v.type !== 'verdict') continue;
      const own = events.slice(start, i + 1);
      expect(own.every((e) => e.file === v.file)).toBe(true);
      expectBalanced(own);
      start = i + 1;
    }
    expect(start).toBe(events.length);
  };

  it('never throws on arbitrary bytes and ends every file with one verdict', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 1, maxLength: 3 }),
        async (files) => {
          await oneVerdictPerFile(files.map((f) => Buffer.from(f)));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never throws on damaged versions of a valid document', async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async (edits) => {
        await oneVerdictPerFile([mutate(seed, edits), seed]);
      }),
      { numRuns: 300 },
    );
  });
});
