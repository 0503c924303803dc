import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesInput, checkFileEvents, collect, csvField, fixtureInput } from './csv-testing.js';
import { FLOWN_COLUMNS, flownParser, type FlownCoupon } from './flown.js';

const read = (name: string, options = {}) => collect(flownParser, [fixtureInput(`flown/${name}`)], options);

function summary(rejects: { line: number; field: string; reason: string }[]) {
  return rejects.map((r) => `${r.line} ${r.field} ${r.reason}`);
}

describe('flown parser on fixtures', () => {
  it('reads a comma file with a matching trailer, keeping leading zeros and exact amounts', async () => {
    const { records, rejects, verdicts } = await read('comma-trailer-match.csv');
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.line)).toEqual([2, 3, 4]);
    const [first, second, third] = records.map((r) => r.record);
    expect(first).toMatchObject({
      ticketNumber: '0741234567890',
      couponNumber: 1,
      issueDate: '2024-04-20',
      pnr: 'K7QX2M',
      operatingCarrier: 'XX',
      operatingFlight: '245',
      marketingCarrier: 'XX',
      marketingFlight: '245',
      flightDate: '2024-05-01',
      cabin: 'Y',
      bookedRbd: 'B',
      flownRbd: 'B',
      passengerSurname: 'IVANOV',
      passengerGivenName: 'IVAN MR',
      ffpCarrier: 'XX',
      ffpNumber: '0012345678',
      fareAmount: '100.00',
      carrierSurchargeAmount: '12.50',
      taxAmount: '8.40',
      currency: 'EUR',
      couponStatus: 'F',
      sourceRef: 'RA-1',
      sourceFile: 'comma-trailer-match.csv',
      sourceLine: 2,
    });
    expect(second).toMatchObject({
      ticketNumber: '0741234567890',
      couponNumber: 2,
      fareAmount: '250.5',
      ffpNumber: '0000000042',
    });
    expect(third).toMatchObject({
      ticketNumber: '0009876543210',
      marketingCarrier: 'YY',
      marketingFlight: '5012',
      ffpCarrier: null,
      ffpNumber: null,
      passengerGivenName: null,
      passengerType: 'INF',
    });
    expect(verdicts).toEqual([
      expect.objectContaining({
        verdict: 'accepted',
        account: {
          lines: 5,
          recordLines: 3,
          rejectLines: 0,
          structureLines: 2,
          blankLines: 0,
          records: 3,
          rejects: 0,
        },
        meta: expect.objectContaining({
          delimiter: ',',
          trailer: { line: 5, count: 3, fareSum: '350.50' },
          read: { dataRows: 3, fareSum: '350.50' },
        }),
      }),
    ]);
  });

  it('reads a semicolon file with a BOM and CRLF line ends, sniffing the separator', async () => {
    const { records, rejects, verdicts } = await read('semicolon-bom-crlf.csv');
    expect(rejects).toEqual([]);
    expect(
      records.map((r) => [r.line, r.record.cabin, r.record.passengerSurname, r.record.fareAmount]),
    ).toEqual([
      [2, 'C', 'IVANOV', '99.99'],
      [3, 'Y', 'MUELLER; JR', '0.01'],
    ]);
    expect(verdicts[0]).toMatchObject({
      verdict: 'accepted',
      meta: { delimiter: ';', trailer: { count: 2, fareSum: '100.00' } },
    });
  });

  it('takes the separator from the options when given', async () => {
    const { records, verdicts } = await read('semicolon-bom-crlf.csv', { delimiter: ';' });
    expect(records).toHaveLength(2);
    const wrong = await read('semicolon-bom-crlf.csv', { delimiter: ',' });
    expect(wrong.records).toHaveLength(0);
    expect(wrong.verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'UNKNOWN_COLUMN' });
    expect(verdicts[0]?.verdict).toBe('accepted');
  });

  it('quotes a malformed row in its own separator', async () => {
    const header = FLOWN_COLUMNS.map((c) => c.name).join(';');
    const { rejects } = await collect(flownParser, [bytesInput('s.csv', `${header}\n0741234567890;1;x\n`)]);
    expect(rejects).toEqual([
      expect.objectContaining({
        line: 2,
        reason: 'MALFORMED',
        text: '0741234567890;1;x',
        message: 'expected 26 fields as in the header row, found 3',
      }),
    ]);
  });

  it('follows the header order and fills the columns left out', async () => {
    const { records, rejects } = await read('reordered-optional-columns-absent.csv');
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.record)).toEqual([
      expect.objectContaining({
        couponNumber: 1,
        pnr: null,
        fareBasis: null,
        sourceRef: null,
        marketingFlight: '245',
        flownRbd: 'B',
      }),
      expect.objectContaining({ couponNumber: 3, bookedRbd: 'Q', flownRbd: 'Q' }),
    ]);
  });

  it('reads quoted separators, quotes and line breaks, and spans the lines of a multi-line record', async () => {
    const { records, verdicts } = await read('quoted-commas-newlines.csv');
    expect(records.map((r) => [r.line, r.lines])).toEqual([
      [2, 1],
      [4, 4],
      [9, 1],
    ]);
    expect(records[0]?.record).toMatchObject({ passengerSurname: "O'NEIL, JR", sourceRef: 'RA "quoted" 7' });
    expect(records[1]?.record).toMatchObject({
      passengerGivenName: 'ANNA\nMARIA',
      sourceRef: 'multi\r\nline\nref',
    });
    expect(verdicts[0]?.account).toEqual({
      lines: 10,
      recordLines: 6,
      rejectLines: 0,
      structureLines: 1,
      blankLines: 3,
      records: 3,
      rejects: 0,
    });
  });

  it('rejects each bad row with its field, reason, expectation and text', async () => {
    const { records, rejects, verdicts } = await read('reasons.csv');
    expect(records.map((r) => r.line)).toEqual([2]);
    expect(summary(rejects)).toEqual([
      '3 flight_date BAD_DATE',
      '4 ticket_number BAD_TICKET',
      '5 coupon_number BAD_COUPON',
      '6 fare_amount BAD_AMOUNT',
      '7 tax_amount BAD_AMOUNT',
      '8 currency BAD_CURRENCY',
      '9 coupon_status BAD_STATUS',
      '10 cabin BAD_ENUM',
      '11 passenger_type BAD_ENUM',
      '12 origin BAD_FORMAT',
      '13 ffp_number BAD_MEMBER_NUMBER',
      '14 passenger_surname MISSING_FIELD',
      '15 ffp_carrier MISSING_FIELD',
      '16 * MALFORMED',
      '17 issue_date BAD_DATE',
    ]);
    expect(rejects[0]).toMatchObject({
      file: 'reasons.csv',
      lines: 1,
      message: 'flight_date: expected a real calendar date YYYY-MM-DD, found "2024-02-30"',
      text: '2024-02-30',
    });
    expect(rejects[5]?.message).toContain('3-letter ISO 4217');
    expect(rejects[6]?.message).toBe('coupon_status: expected one of F, V, R, E, found "X"');
    expect(rejects[11]?.message).toBe('passenger_surname is required: expected the surname as on the ticket');
    expect(rejects[12]?.message).toContain('ffp_carrier and ffp_number together');
    expect(rejects[13]?.message).toBe('expected 26 fields as in the header row, found 27');
    expect(rejects[13]?.text).toMatch(/^0741234567890,1,/);
    expect(rejects[14]?.message).toContain('(also: currency BAD_CURRENCY)');
    expect(verdicts[0]).toMatchObject({
      verdict: 'accepted',
      account: { records: 1, rejects: 15, rejectLines: 15 },
    });
  });

  it('rejects lines with invalid UTF-8 or NUL bytes and keeps the others', async () => {
    const { records, rejects, verdicts } = await read('bad-bytes.csv');
    expect(records.map((r) => r.line)).toEqual([2, 4, 6]);
    expect(records[2]?.record.passengerSurname).toBe('ЖУКОВ');
    expect(summary(rejects)).toEqual(['3 passenger_surname BAD_ENCODING', '5 source_ref BAD_ENCODING']);
    expect(rejects[0]?.message).toBe('passenger_surname: expected UTF-8 text without NUL bytes');
    expect(verdicts[0]?.verdict).toBe('accepted');
  });

  it('rejects the whole file when the trailer count or sum disagrees', async () => {
    const count = await read('trailer-count-mismatch.csv');
    expect(count.records).toHaveLength(2);
    expect(count.verdicts[0]).toMatchObject({
      verdict: 'rejected',
      reason: 'CONTROL_TOTAL_MISMATCH',
      message:
        'trailer at line 4 states 3 rows with fare_amount summing to 200.00; the file holds 2 rows summing to 200.00',
    });
    const sum = await read('trailer-sum-mismatch.csv');
    expect(sum.verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'CONTROL_TOTAL_MISMATCH' });
    expect(sum.verdicts[0]?.message).toContain('summing to 200.01');
  });

  it('counts rejected rows and their readable fares in the trailer check', async () => {
    const { records, rejects, verdicts } = await read('trailer-counts-rejected-rows.csv');
    expect(records).toHaveLength(1);
    expect(summary(rejects)).toEqual(['3 coupon_number BAD_COUPON']);
    expect(verdicts[0]).toMatchObject({
      verdict: 'accepted',
      meta: { read: { dataRows: 2, fareSum: '150.00' } },
    });
  });

  it('rejects the file for a malformed trailer or one that is not last', async () => {
    const malformed = await read('trailer-malformed.csv');
    expect(malformed.verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'BAD_TRAILER' });
    expect(malformed.verdicts[0]?.message).toContain('#TRAILER,<record count>,<sum of fare_amount>');
    const notLast = await read('trailer-not-last.csv');
    expect(notLast.records).toHaveLength(2);
    expect(notLast.verdicts[0]).toMatchObject({
      verdict: 'rejected',
      reason: 'BAD_TRAILER',
      message: 'the trailer at line 3 is not the last line: data follows at line 4',
    });
  });

  it('accepts a file without trailer, last line unterminated', async () => {
    const { records, verdicts } = await read('no-trailer.csv');
    expect(records.map((r) => r.line)).toEqual([2, 3]);
    expect(verdicts[0]).toMatchObject({
      verdict: 'accepted',
      account: { lines: 3 },
      meta: { trailer: null },
    });
  });

  it('rejects the whole file for a header row it cannot map, as one reject over the rest', async () => {
    const missing = await read('missing-column.csv');
    expect(missing.records).toEqual([]);
    expect(summary(missing.rejects)).toEqual(['1 fare_amount BAD_HEADER_ROW']);
    expect(missing.rejects[0]).toMatchObject({
      lines: 4,
      message: 'header lacks required column fare_amount',
    });
    expect(missing.verdicts[0]).toMatchObject({
      verdict: 'rejected',
      reason: 'BAD_HEADER_ROW',
      account: { lines: 4, rejectLines: 4, rejects: 1 },
    });
    const duplicate = await read('duplicate-column.csv');
    expect(duplicate.verdicts[0]).toMatchObject({
      reason: 'BAD_HEADER_ROW',
      message: 'header names column currency twice',
    });
    const unknown = await read('unknown-column.csv');
    expect(unknown.verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'UNKNOWN_COLUMN' });
    expect(unknown.verdicts[0]?.message).toContain('source_rev');
  });

  it('rejects an empty file, and accepts a header with no rows', async () => {
    for (const name of ['empty.csv', 'blank-lines-only.csv']) {
      const { verdicts } = await read(name);
      expect(verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'EMPTY_FILE' });
    }
    expect((await read('blank-lines-only.csv')).verdicts[0]?.account).toMatchObject({
      lines: 3,
      blankLines: 3,
    });
    const header = await read('header-only.csv');
    expect(header.verdicts[0]).toMatchObject({
      verdict: 'accepted',
      account: { lines: 1, structureLines: 1 },
    });
  });

  it('rejects the file when a quote never closes, the rest being one reject', async () => {
    const { records, rejects, verdicts } = await read('unclosed-quote.csv');
    expect(records.map((r) => r.line)).toEqual([2]);
    expect(rejects).toEqual([
      expect.objectContaining({ line: 3, lines: 3, field: '*', reason: 'UNCLOSED_QUOTE' }),
    ]);
    expect(verdicts[0]).toMatchObject({
      verdict: 'rejected',
      reason: 'UNCLOSED_QUOTE',
      account: { lines: 5 },
    });
  });

  it('reads several files in order, one verdict each', async () => {
    const { events } = await collect(flownParser, [
      fixtureInput('flown/no-trailer.csv'),
      fixtureInput('flown/trailer-malformed.csv'),
    ]);
    expect(events.map((e) => `${e.type} ${e.file}`)).toEqual([
      'record no-trailer.csv',
      'record no-trailer.csv',
      'verdict no-trailer.csv',
      'record trailer-malformed.csv',
      'verdict trailer-malformed.csv',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties

const HEADER = FLOWN_COLUMNS.map((c) => c.name).join(',');

const HEADER_ROW = FLOWN_COLUMNS.map((c) => c.name).join(',');
/** A valid coupon row of XX245 SVO-LED, with some cells replaced. */
function couponRow(over: Record<string, string> = {}): string {
  const cells: Record<string, string> = {
    ticket_number: '0741234567890',
    coupon_number: '1',
    issue_date: '2024-04-20',
    pnr: 'K7QX2M',
    operating_carrier: 'XX',
    operating_flight: '245',
    marketing_carrier: 'XX',
    marketing_flight: '245',
    flight_date: '2024-05-01',
    origin: 'SVO',
    destination: 'LED',
    cabin: 'Y',
    booked_rbd: 'B',
    flown_rbd: 'B',
    fare_basis: 'BSTD',
    passenger_surname: 'IVANOV',
    passenger_given_name: 'IVAN MR',
    passenger_type: 'ADT',
    ffp_carrier: 'XX',
    ffp_number: '0012345678',
    fare_amount: '100.00',
    carrier_surcharge_amount: '0.00',
    tax_amount: '10.00',
    currency: 'EUR',
    coupon_status: 'F',
    source_ref: 'RA-1',
    ...over,
  };
  return FLOWN_COLUMNS.map((c) => cells[c.name]).join(',');
}
const readRows = (rows: string[]) =>
  collect(flownParser, [bytesInput('rows.csv', [HEADER_ROW, ...rows, ''].join('\n'))]);

describe('flown parser: flights that go somewhere, flight numbers, amounts', () => {
  it('rejects a coupon from an airport to itself (LED-LED) naming destination, and counts it in the trailer', async () => {
    const { records, rejects, verdicts } = await readRows([
      couponRow({ origin: 'LED', destination: 'LED' }),
      couponRow({ coupon_number: '2' }),
      '#TRAILER,2,200.00',
    ]);
    expect(records.map((r) => r.line)).toEqual([3]);
    expect(rejects).toEqual([
      expect.objectContaining({
        file: 'rows.csv',
        line: 2,
        lines: 1,
        field: 'destination',
        reason: 'BAD_FORMAT',
        message: 'destination: expected an airport other than the origin LED, found "LED"',
        text: 'LED',
      }),
    ]);
    expect(verdicts[0]).toMatchObject({
      verdict: 'accepted',
      account: { lines: 4, records: 1, rejects: 1, recordLines: 1, rejectLines: 1, structureLines: 2 },
      meta: { read: { dataRows: 2, fareSum: '200.00' } },
    });
  });

  it('reads flight numbers of 1-5 digits and a suffix letter, as the FTL has them, and refuses 6 digits', async () => {
    const { records, rejects } = await readRows([
      couponRow({ operating_flight: '12345', marketing_carrier: 'LH', marketing_flight: '99999A' }),
      couponRow({ coupon_number: '2', operating_flight: '1', marketing_flight: '1' }),
      couponRow({ coupon_number: '3', operating_flight: '123456' }),
      couponRow({ coupon_number: '4', marketing_flight: '12345AB' }),
    ]);
    expect(records.map((r) => [r.record.operatingFlight, r.record.marketingFlight])).toEqual([
      ['12345', '99999A'],
      ['1', '1'],
    ]);
    expect(rejects.map((r) => [r.line, r.field, r.reason, r.message])).toEqual([
      [
        4,
        'operating_flight',
        'BAD_FORMAT',
        'operating_flight: expected a flight number of 1-5 digits and an optional letter, found "123456"',
      ],
      [
        5,
        'marketing_flight',
        'BAD_FORMAT',
        'marketing_flight: expected a flight number of 1-5 digits and an optional letter, found "12345AB"',
      ],
    ]);
  });

  it('says what an amount may be: at most 18 digits before the point and 9 after', async () => {
    const { records, rejects } = await readRows([
      couponRow({ fare_amount: '99999999999999999999999.999999' }),
      couponRow({ coupon_number: '2', tax_amount: '1.0000000001' }),
      couponRow({ coupon_number: '3', fare_amount: '999999999999999999.999999999' }),
    ]);
    expect(records.map((r) => r.record.fareAmount)).toEqual(['999999999999999999.999999999']);
    expect(rejects.map((r) => [r.field, r.reason, r.message])).toEqual([
      [
        'fare_amount',
        'BAD_AMOUNT',
        'fare_amount: expected a decimal amount with at most 18 digits before the point and 9 after, without a sign, found "99999999999999999999999.999999"',
      ],
      [
        'tax_amount',
        'BAD_AMOUNT',
        'tax_amount: expected a decimal amount with at most 18 digits before the point and 9 after, without a sign, found "1.0000000001"',
      ],
    ]);
  });
});

describe('flown parser: amounts carry no sign, whatever the coupon status', () => {
  it('refuses a negative fare, surcharge or tax on a flown, void, refunded or exchanged coupon, naming line and field', async () => {
    const { records, rejects, verdicts } = await readRows([
      couponRow({ fare_amount: '150.00', tax_amount: '-100.00' }),
      couponRow({ coupon_number: '2', fare_amount: '-100.00', tax_amount: '200.00' }),
      couponRow({ coupon_number: '3', carrier_surcharge_amount: '-5.00', coupon_status: 'R' }),
      couponRow({ coupon_number: '4', fare_amount: '-100.00', coupon_status: 'V' }),
      couponRow({ coupon_number: '4', tax_amount: '-0.01', coupon_status: 'E' }),
      couponRow({ ticket_number: '0741234567891', fare_amount: '-1', tax_amount: '-2', coupon_status: 'R' }),
      couponRow({ ticket_number: '0741234567892', fare_amount: '0.00', tax_amount: '0', coupon_status: 'R' }),
      // The trailer sums what the file holds, the refused fares too: the rows are refused, not the file.
      '#TRAILER,7,149.00',
    ]);
    expect(records.map((r) => [r.line, r.record.fareAmount, r.record.taxAmount])).toEqual([[8, '0.00', '0']]);
    expect(rejects.map((r) => [r.file, r.line, r.field, r.reason, r.text])).toEqual([
      ['rows.csv', 2, 'tax_amount', 'BAD_AMOUNT', '-100.00'],
      ['rows.csv', 3, 'fare_amount', 'BAD_AMOUNT', '-100.00'],
      ['rows.csv', 4, 'carrier_surcharge_amount', 'BAD_AMOUNT', '-5.00'],
      ['rows.csv', 5, 'fare_amount', 'BAD_AMOUNT', '-100.00'],
      ['rows.csv', 6, 'tax_amount', 'BAD_AMOUNT', '-0.01'],
      ['rows.csv', 7, 'fare_amount', 'BAD_AMOUNT', '-1'],
    ]);
    expect(rejects[0]?.message).toBe(
      'tax_amount: expected a decimal amount with at most 18 digits before the point and 9 after, without a sign, found "-100.00"',
    );
    expect(rejects[5]?.message).toContain('(also: tax_amount BAD_AMOUNT)');
    expect(verdicts[0]).toMatchObject({
      verdict: 'accepted',
      account: { records: 1, rejects: 6 },
      meta: { read: { dataRows: 7, fareSum: '149.00' } },
    });
  });
});

describe('flown parser on any input', () => {
  it('never throws and accounts for every line', async () => {
    const token = fc.constantFrom(
      ',',
      ';',
      '"',
      '\n',
      '\r\n',
      '\r',
      ' ',
      '#TRAILER,1,5',
      '0741234567890',
      '2024-05-01',
      '1',
      'XX',
      '\0',
      '\xff',
      'Ж',
    );
    const body = fc.array(token, { maxLength: 80 }).map((t) => t.join(''));
    const text = fc.oneof(
      body.map((b) => Buffer.from(b, 'latin1')),
      body.map((b) => Buffer.from(`${HEADER}\n${b}`, 'utf8')),
      fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
    );
    await fc.assert(
      fc.asyncProperty(text, fc.array(fc.nat({ max: 600 }), { maxLength: 5 }), async (bytes, cuts) => {
        const { events } = await collect(flownParser, [bytesInput('x.csv', bytes, cuts)]);
        expect(checkFileEvents(events, bytes)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

const upper = (min: number, max: number) => fc.stringMatching(new RegExp(`^[A-Z]{${min},${max}}$`));
const isoDate = fc
  .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2040-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
/** An amount as the extract writes it, without a sign (the coupon status says a refund, not the sign). */
const decimal = fc.stringMatching(/^\d{1,12}(\.\d{1,4})?$/);
/** A decimal of at most 4 places in ten-thousandths, and back: what the trailer's sum is checked against. */
function tenThousandths(amount: string): bigint {
  const [whole, frac = ''] = amount.replace('-', '').split('.') as [string, string?];
  const units = BigInt(whole + frac.padEnd(4, '0'));
  return amount.startsWith('-') ? -units : units;
}
function decimalOf(units: bigint): string {
  const abs = (units < 0n ? -units : units).toString().padStart(5, '0');
  return `${units < 0n ? '-' : ''}${abs.slice(0, -4)}.${abs.slice(-4)}`;
}
/** Free text with the characters that need quoting; trimmed, as the parser trims. */
const freeText = fc
  .array(fc.constantFrom('A', 'b', 'Ж', 'é', ' ', ',', ';', '"', "'", '\n', '\r\n', '-', '1'), {
    minLength: 1,
    maxLength: 12,
  })
  .map((parts) => parts.join('').trim())
  .filter((s) => s.length > 0);
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });

const coupon = fc.record({
  ticketNumber: fc.stringMatching(/^\d{13}$/),
  dashed: fc.boolean(),
  couponNumber: fc.integer({ min: 1, max: 4 }),
  issueDate: isoDate,
  pnr: optional(fc.stringMatching(/^[A-Z0-9]{6}$/)),
  operatingCarrier: fc.stringMatching(/^[A-Z0-9]{2}$/),
  // 1-5 digits, as the FTL's flight line has them (a 5-digit flight is generated often enough).
  operatingFlight: fc.oneof(fc.stringMatching(/^\d{1,5}[A-Z]?$/), fc.stringMatching(/^\d{5}[A-Z]?$/)),
  marketing: optional(fc.tuple(fc.stringMatching(/^[A-Z0-9]{2}$/), fc.stringMatching(/^\d{1,5}[A-Z]?$/))),
  flightDate: isoDate,
  // A flight goes somewhere: a valid coupon never has its destination at its origin.
  route: fc
    .tuple(upper(3, 3), upper(3, 3))
    .filter(([from, to]) => from !== to)
    .map(([origin, destination]) => ({ origin, destination })),
  cabin: fc.constantFrom('F', 'C', 'W', 'Y'),
  bookedRbd: upper(1, 1),
  flownRbd: optional(upper(1, 1)),
  fareBasis: optional(fc.stringMatching(/^[A-Z0-9/]{1,15}$/)),
  passengerSurname: freeText,
  passengerGivenName: optional(freeText),
  passengerType: fc.constantFrom('ADT', 'CHD', 'INF'),
  ffp: optional(fc.tuple(fc.stringMatching(/^[A-Z0-9]{2}$/), fc.stringMatching(/^[0-9A-Z]{1,24}$/))),
  fareAmount: decimal,
  carrierSurchargeAmount: decimal,
  taxAmount: decimal,
  currency: upper(3, 3),
  couponStatus: fc.constantFrom('F', 'V', 'R', 'E'),
  sourceRef: optional(freeText),
});
type GeneratedCoupon = typeof coupon extends fc.Arbitrary<infer T> ? T : never;

function cellsOf(c: GeneratedCoupon): Record<string, string> {
  return {
    ticket_number: c.dashed ? `${c.ticketNumber.slice(0, 3)}-${c.ticketNumber.slice(3)}` : c.ticketNumber,
    coupon_number: String(c.couponNumber),
    issue_date: c.issueDate,
    pnr: c.pnr ?? '',
    operating_carrier: c.operatingCarrier,
    operating_flight: c.operatingFlight,
    marketing_carrier: c.marketing?.[0] ?? '',
    marketing_flight: c.marketing?.[1] ?? '',
    flight_date: c.flightDate,
    origin: c.route.origin,
    destination: c.route.destination,
    cabin: c.cabin,
    booked_rbd: c.bookedRbd,
    flown_rbd: c.flownRbd ?? '',
    fare_basis: c.fareBasis ?? '',
    passenger_surname: c.passengerSurname,
    passenger_given_name: c.passengerGivenName ?? '',
    passenger_type: c.passengerType,
    ffp_carrier: c.ffp?.[0] ?? '',
    ffp_number: c.ffp?.[1] ?? '',
    fare_amount: c.fareAmount,
    carrier_surcharge_amount: c.carrierSurchargeAmount,
    tax_amount: c.taxAmount,
    currency: c.currency,
    coupon_status: c.couponStatus,
    source_ref: c.sourceRef ?? '',
  };
}

function expectedRecord(
  c: GeneratedCoupon,
  present: ReadonlySet<string>,
  file: string,
  line: number,
): FlownCoupon {
  const has = (name: string) => present.has(name);
  const marketing = has('marketing_carrier') && has('marketing_flight') ? c.marketing : null;
  return {
    ticketNumber: c.ticketNumber,
    couponNumber: c.couponNumber,
    issueDate: c.issueDate,
    pnr: has('pnr') ? c.pnr : null,
    operatingCarrier: c.operatingCarrier,
    operatingFlight: c.operatingFlight,
    marketingCarrier: marketing?.[0] ?? c.operatingCarrier,
    marketingFlight: marketing?.[1] ?? c.operatingFlight,
    flightDate: c.flightDate,
    origin: c.route.origin,
    destination: c.route.destination,
    cabin: c.cabin,
    bookedRbd: c.bookedRbd,
    flownRbd: (has('flown_rbd') ? c.flownRbd : null) ?? c.bookedRbd,
    fareBasis: has('fare_basis') ? c.fareBasis : null,
    passengerSurname: c.passengerSurname,
    passengerGivenName: c.passengerGivenName,
    passengerType: c.passengerType,
    ffpCarrier: c.ffp?.[0] ?? null,
    ffpNumber: c.ffp?.[1] ?? null,
    fareAmount: c.fareAmount,
    carrierSurchargeAmount: c.carrierSurchargeAmount,
    taxAmount: c.taxAmount,
    currency: c.currency,
    couponStatus: c.couponStatus,
    sourceRef: has('source_ref') ? c.sourceRef : null,
    sourceFile: file,
    sourceLine: line,
  };
}

describe('flown parser on generated valid files', () => {
  it('reads back exactly the generated coupons, at their lines', async () => {
    const layout = fc.record({
      delimiter: fc.constantFrom(',', ';'),
      eol: fc.constantFrom('\n', '\r\n'),
      bom: fc.boolean(),
      trailer: fc.boolean(),
      sniff: fc.boolean(),
      order: fc.shuffledSubarray(
        FLOWN_COLUMNS.map((c) => c.name),
        { minLength: FLOWN_COLUMNS.length, maxLength: FLOWN_COLUMNS.length },
      ),
      drop: fc.subarray(['pnr', 'marketing', 'flown_rbd', 'fare_basis', 'source_ref']),
      blanks: fc.array(fc.boolean(), { maxLength: 12 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(coupon, { maxLength: 10 }),
        layout,
        fc.array(fc.nat({ max: 4000 }), { maxLength: 4 }),
        async (coupons, l, cuts) => {
          const dropped = new Set(
            l.drop.flatMap((d) => (d === 'marketing' ? ['marketing_carrier', 'marketing_flight'] : [d])),
          );
          const columns = l.order.filter((name) => !dropped.has(name));
          const present = new Set(columns);
          const lines: string[] = [columns.join(l.delimiter)];
          let line = 2;
          const expected: FlownCoupon[] = [];
          let fareSum = 0n;
          coupons.forEach((c, i) => {
            if (l.blanks[i]) {
              lines.push('');
              line++;
            }
            const cells = cellsOf(c);
            const text = columns
              .map((name) => csvField(cells[name] as string, l.delimiter))
              .join(l.delimiter);
            lines.push(text);
            expected.push(expectedRecord(c, present, 'gen.csv', line));
            line += 1 + (text.match(/\r\n|\r|\n/g)?.length ?? 0);
            fareSum += tenThousandths(c.fareAmount);
          });
          if (l.trailer) {
            lines.push(`#TRAILER${l.delimiter}${coupons.length}${l.delimiter}${decimalOf(fareSum)}`);
          }
          const bytes = Buffer.from((l.bom ? '\ufeff' : '') + lines.join(l.eol) + l.eol, 'utf8');
          const { records, rejects, verdicts, events } = await collect(
            flownParser,
            [bytesInput('gen.csv', bytes, cuts)],
            l.sniff ? {} : { delimiter: l.delimiter },
          );
          expect(rejects).toEqual([]);
          expect(records.map((r) => r.record)).toEqual(expected);
          expect(records.map((r) => r.line)).toEqual(expected.map((e) => e.sourceLine));
          expect(verdicts[0]).toMatchObject({ verdict: 'accepted', account: { records: coupons.length } });
          expect(checkFileEvents(events, bytes)).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses each coupon with a negative amount, whatever its status, naming its first, and reads the others', async () => {
    const AMOUNTS = ['fare_amount', 'carrier_surcharge_amount', 'tax_amount'] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(coupon, fc.subarray([...AMOUNTS])), { minLength: 1, maxLength: 8 }),
        fc.constantFrom(',', ';'),
        async (rows, delimiter) => {
          const columns = FLOWN_COLUMNS.map((c) => c.name);
          const lines = [columns.join(delimiter)];
          let fareSum = 0n;
          const expectedRejects: unknown[][] = [];
          rows.forEach(([c, negated], i) => {
            const cells = cellsOf(c);
            for (const name of negated) cells[name] = `-${cells[name]}`;
            lines.push(columns.map((name) => csvField(cells[name] as string, delimiter)).join(delimiter));
            fareSum += tenThousandths(cells.fare_amount!);
            // Reported against the row's first line: the rows before it may span several.
            const first = AMOUNTS.find((name) => negated.includes(name));
            if (first) expectedRejects.push([i, first, 'BAD_AMOUNT', cells[first]]);
          });
          // The trailer counts the refused rows and sums their fares as written: the rows are refused,
          // the file is not.
          lines.push(`#TRAILER${delimiter}${rows.length}${delimiter}${decimalOf(fareSum)}`);
          const bytes = Buffer.from(lines.join('\n') + '\n', 'utf8');
          const { records, rejects, verdicts, events } = await collect(flownParser, [
            bytesInput('gen.csv', bytes),
          ]);
          const lineOf = new Map([...records, ...rejects].map((e) => [e.line, e]));
          const rowLines = [...lineOf.keys()].sort((a, b) => a - b);
          expect(rowLines).toHaveLength(rows.length);
          expect(rejects.map((r) => [rowLines.indexOf(r.line), r.field, r.reason, r.text])).toEqual(
            expectedRejects,
          );
          expect(records.map((r) => r.record.ticketNumber)).toEqual(
            rows.filter(([, negated]) => negated.length === 0).map(([c]) => c.ticketNumber),
          );
          for (const r of records) {
            for (const amount of [r.record.fareAmount, r.record.carrierSurchargeAmount, r.record.taxAmount])
              expect(amount.startsWith('-')).toBe(false);
          }
          expect(verdicts[0]).toMatchObject({
            verdict: 'accepted',
            account: { records: records.length, rejects: expectedRejects.length },
          });
          expect(checkFileEvents(events, bytes)).toEqual([]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('rejects each coupon whose destination is its origin, naming destination, and reads the others', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(coupon, fc.boolean()), { minLength: 1, maxLength: 8 }),
        async (rows) => {
          const columns = FLOWN_COLUMNS.map((c) => c.name);
          const lines = [columns.join(',')];
          for (const [c, toItself] of rows) {
            const cells = cellsOf(c);
            if (toItself) cells.destination = cells.origin!;
            lines.push(columns.map((name) => csvField(cells[name] as string, ',')).join(','));
          }
          const bytes = Buffer.from(lines.join('\n') + '\n', 'utf8');
          const { records, rejects, verdicts, events } = await collect(flownParser, [
            bytesInput('gen.csv', bytes),
          ]);
          expect(records.map((r) => r.record.destination)).toEqual(
            rows.filter(([, toItself]) => !toItself).map(([c]) => c.route.destination),
          );
          expect(rejects.map((r) => [r.field, r.reason, r.text])).toEqual(
            rows
              .filter(([, toItself]) => toItself)
              .map(([c]) => ['destination', 'BAD_FORMAT', c.route.origin]),
          );
          expect(verdicts[0]).toMatchObject({
            account: { records: records.length, rejects: rejects.length },
          });
          expect(checkFileEvents(events, bytes)).toEqual([]);
        },
      ),
      { numRuns: 100 },
    );
  });
});
