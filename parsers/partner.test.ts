import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesInput, checkFileEvents, collect, csvField, fixtureInput } from './csv-testing.js';
import { parsePartnerFileName, partnerParser, type PartnerActivity } from './partner.js';

const read = (name: string) => collect(partnerParser, [fixtureInput(`partner/${name}`)]);

describe('partner file names', () => {
  it('reads <PARTNER>_<YYYYMMDD>_<SEQ>.csv and its response, from a name or a path', () => {
    expect(parsePartnerFileName('ACME_20240501_7.csv')).toEqual({
      partnerCode: 'ACME',
      date: '2024-05-01',
      sequence: 7,
      response: false,
    });
    expect(parsePartnerFileName('/sftp/in/BANK-1_20241231_0042.resp.csv')).toEqual({
      partnerCode: 'BANK-1',
      date: '2024-12-31',
      sequence: 42,
      response: true,
    });
  });

  it('refuses names off the convention or with an impossible date', () => {
    for (const name of [
      'ACME_20240230_7.csv',
      'ACME_2024051_7.csv',
      'ACME_20240501.csv',
      'ACME_20240501_7.txt',
      '_20240501_7.csv',
      'A B_20240501_7.csv',
    ]) {
      expect(parsePartnerFileName(name), name).toBeNull();
    }
  });

  it('reads a partner code holding _ from the right: what comes before the date and sequence', () => {
    expect(parsePartnerFileName('GRAND_STAY_20261130_0007.csv')).toEqual({
      partnerCode: 'GRAND_STAY',
      date: '2026-11-30',
      sequence: 7,
      response: false,
    });
    expect(parsePartnerFileName('A_B_20240501_7.resp.csv')).toMatchObject({
      partnerCode: 'A_B',
      response: true,
    });
  });

  it('property: every partner code the configuration accepts is read back from its file name', () => {
    // config/schema.ts `code`: a capital or digit, then up to 31 capitals, digits, _ or -.
    const first = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
    const rest = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-');
    const code = fc.tuple(first, fc.array(rest, { maxLength: 31 })).map(([c, cs]) => c + cs.join(''));
    const date = fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2099-12-31T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString().slice(0, 10));
    fc.assert(
      fc.property(code, date, fc.integer({ min: 0, max: 999_999_999 }), fc.boolean(), (c, d, seq, resp) => {
        const name = `${c}_${d.replaceAll('-', '')}_${String(seq).padStart(4, '0')}.${resp ? 'resp.' : ''}csv`;
        expect(parsePartnerFileName(name)).toEqual({
          partnerCode: c,
          date: d,
          sequence: seq,
          response: resp,
        });
      }),
    );
  });
});

describe('partner parser on fixtures', () => {
  it('reads a valid file: records, reversals, empty points, header and trailer facts', async () => {
    const { records, rejects, verdicts } = await read('ACME_20240501_7.csv');
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.record)).toEqual([
      {
        partnerTxnId: 'TX1001',
        reversalOf: null,
        memberNumber: '0012345678',
        surname: 'IVANOV',
        givenName: 'I',
        activityDate: '2024-04-28',
        activityType: 'STAY',
        locationCode: 'MOW01',
        spendAmount: '250.00',
        currency: 'EUR',
        pointsRequested: null,
        promoCode: null,
        sourceFile: 'ACME_20240501_7.csv',
        sourceLine: 2,
      },
      expect.objectContaining({
        partnerTxnId: 'TX1002',
        surname: 'PETROVA, JR',
        pointsRequested: 500,
        promoCode: 'SPRING24',
      }),
      expect.objectContaining({
        partnerTxnId: 'TX0999-R',
        reversalOf: 'TX0999',
        spendAmount: '-80.00',
        pointsRequested: -400,
      }),
      expect.objectContaining({
        partnerTxnId: 'TX1003',
        givenName: null,
        locationCode: null,
        spendAmount: null,
        currency: null,
        pointsRequested: 300,
      }),
    ]);
    expect(verdicts).toEqual([
      {
        type: 'verdict',
        file: 'ACME_20240501_7.csv',
        verdict: 'accepted',
        account: {
          lines: 6,
          recordLines: 4,
          rejectLines: 0,
          structureLines: 2,
          blankLines: 0,
          records: 4,
          rejects: 0,
        },
        meta: {
          partnerCode: 'ACME',
          fileSequence: 7,
          createdAt: '2024-05-01T23:15:00+03:00',
          fileName: { partnerCode: 'ACME', date: '2024-05-01', sequence: 7, response: false },
          trailer: { detailCount: 4, pointsSum: '400', spendSum: '270.50' },
          read: { detailCount: 4, pointsSum: '400', spendSum: '270.50' },
        },
      },
    ]);
  });

  it('rejects bad detail records with the partner interface codes, counting them in the totals', async () => {
    const { records, rejects, verdicts } = await read('ACME_20240502_8.csv');
    expect(records.map((r) => r.record.partnerTxnId)).toEqual(['TX2011']);
    expect(rejects.map((r) => `${r.line} ${r.field} ${r.reason}`)).toEqual([
      '2 activity_date MALFORMED',
      '3 spend_amount BAD_AMOUNT',
      '4 currency BAD_CURRENCY',
      '5 points_requested BAD_AMOUNT',
      '6 spend_amount BAD_AMOUNT',
      '7 * MALFORMED',
      '8 record_type MALFORMED',
      '9 member_number MALFORMED',
      '10 points_requested BAD_AMOUNT',
      '11 activity_type MALFORMED',
      '13 surname MALFORMED',
    ]);
    expect(rejects[0]?.message).toBe(
      'activity_date: expected a real calendar date YYYY-MM-DD, found "2024-04-31"',
    );
    // The response echoes the transaction and member of a line it rejects, wherever they read cleanly.
    expect(rejects.map((r) => [r.line, r.recordRef ?? null, r.memberNumber ?? null])).toEqual([
      [2, 'TX2001', '0012345678'],
      [3, 'TX2002', '0012345678'],
      [4, 'TX2003', '0012345678'],
      [5, 'TX2004', '0012345678'],
      [6, 'TX2005', '0012345678'],
      [7, 'TX2006', '0012345678'],
      [8, null, null],
      [9, 'TX2008', null],
      [10, 'TX2009-R', '0012345678'],
      [11, 'TX2010', '0012345678'],
      [13, 'TX2012', '0012345678'],
    ]);
    // The rule in words: the pattern alone (-?\d+(\.\d+)?) matched amounts it refused for their length.
    expect(rejects[1]?.message).toBe(
      'spend_amount: expected a decimal amount with at most 18 digits before the point and 9 after, found "12.5.0"',
    );
    expect(rejects[3]?.message).toContain('suffix -R');
    expect(rejects[4]?.message).toBe('spend_amount is required: expected spend_amount or points_requested');
    expect(rejects[5]).toMatchObject({ message: 'expected 12 fields in a D record, found 11' });
    expect(rejects[5]?.text).toMatch(/^D,TX2006,/);
    expect(rejects[6]).toMatchObject({
      text: 'X',
      message: 'record_type: expected a record type H, D or T, found "X"',
    });
    expect(rejects[9]?.message).toContain('(also: points_requested BAD_AMOUNT)');
    expect(rejects[10]).toMatchObject({
      message: 'surname: expected UTF-8 text without NUL bytes',
      text: 'IVA\uFFFDNOV',
    });
    expect(verdicts[0]).toMatchObject({
      verdict: 'accepted',
      meta: { read: { detailCount: 11, pointsSum: '-15', spendSum: '800' } },
      account: { lines: 14, records: 1, rejects: 11, structureLines: 2 },
    });
  });

  it('tolerates a BOM and CRLF, and compares sums by value', async () => {
    const { records, verdicts } = await read('bom-crlf-scale.csv');
    expect(records[0]?.record).toMatchObject({
      memberNumber: '000777',
      spendAmount: '1000.5',
      currency: 'USD',
    });
    expect(verdicts[0]).toMatchObject({
      verdict: 'accepted',
      meta: { partnerCode: 'BANK1', createdAt: '2024-05-01T10:00', fileName: null },
    });
  });

  it('accepts a file with nothing to report', async () => {
    const { verdicts } = await read('header-trailer-only.csv');
    expect(verdicts[0]).toMatchObject({
      verdict: 'accepted',
      account: { lines: 2, structureLines: 2, records: 0 },
    });
  });

  it.each([
    ['no-header.csv', 'BAD_HEADER', 'the file must start with an H record'],
    ['bad-header-timestamp.csv', 'BAD_HEADER', 'created_at: expected an ISO 8601 date-time'],
    ['ACME_20240503_9.csv', 'BAD_HEADER', 'file_sequence 10 differs from 9 in the file name'],
    ['two-headers.csv', 'BAD_HEADER', 'a second H record at line 3'],
    ['no-trailer.csv', 'BAD_TRAILER', 'the file has no T record'],
    ['trailer-not-last.csv', 'BAD_TRAILER', 'the T record at line 2 is not the last record'],
    ['trailer-malformed.csv', 'BAD_TRAILER', 'sum of points_requested: expected a signed whole number'],
    ['count-mismatch.csv', 'CONTROL_TOTAL_MISMATCH', 'detail_count 2, read 1'],
    [
      'sums-mismatch.csv',
      'CONTROL_TOTAL_MISMATCH',
      'sum of points_requested 10, read 100; sum of spend_amount 250.01, read 250.00',
    ],
    ['empty.csv', 'EMPTY_FILE', 'the file holds no records'],
    ['blank-lines-only.csv', 'EMPTY_FILE', 'the file holds no records'],
  ])('rejects %s whole with %s', async (name, reason, message) => {
    const { verdicts, events } = await read(name);
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]).toMatchObject({ verdict: 'rejected', reason });
    expect(verdicts[0]?.message).toContain(message);
    const bytes = readFileSync(new URL(`./fixtures/partner/${name}`, import.meta.url));
    expect(checkFileEvents(events, bytes)).toEqual([]);
  });

  it('rejects the file when a quote never closes: the rest is one MALFORMED reject', async () => {
    const { records, rejects, verdicts } = await read('unclosed-quote.csv');
    expect(records).toEqual([]);
    expect(rejects).toEqual([
      expect.objectContaining({ line: 2, lines: 3, reason: 'MALFORMED', field: '*' }),
    ]);
    expect(verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'BAD_TRAILER' });
    expect(verdicts[0]?.message).toContain('never closed');
  });
});

describe('partner points out of range', () => {
  const file = (details: string[], trailer: string) =>
    bytesInput(
      'REDBANK_20261101_00670.csv',
      ['H,REDBANK,670,2026-11-01T01:00:00Z', ...details, trailer].join('\n') + '\n',
    );
  const detail = (txn: string, points: string, spend = '10.00') =>
    `D,${txn},6221012195,NIKITINA,O,2026-10-31,CARD_SPEND,MCC5812,${spend},USD,${points},`;

  it('rejects points_requested above 2,147,483,647 as BAD_AMOUNT on its line; the other record and the file go on', async () => {
    const { records, rejects, verdicts } = await collect(partnerParser, [
      file([detail('RBX0100', '3000000000'), detail('RBX0101', '', '10.00')], 'T,2,3000000000,20.00'),
    ]);
    expect(records.map((r) => [r.line, r.record.partnerTxnId])).toEqual([[3, 'RBX0101']]);
    expect(rejects).toEqual([
      expect.objectContaining({
        file: 'REDBANK_20261101_00670.csv',
        line: 2,
        field: 'points_requested',
        reason: 'BAD_AMOUNT',
        text: '3000000000',
        recordRef: 'RBX0100',
        memberNumber: '6221012195',
        message:
          'points_requested: expected a whole number of points from -2147483648 to 2147483647, found "3000000000"',
      }),
    ]);
    // The partner summed the figure it sent: the trailer still matches, so the file is not refused whole.
    expect(verdicts[0]).toMatchObject({ verdict: 'accepted' });
  });

  it('reads the bounds of an integer column and rejects one past them, a reversal included', async () => {
    const { records, rejects, verdicts } = await collect(partnerParser, [
      file(
        [
          detail('RB1', '2147483647'),
          detail('RB2', '2147483648'),
          detail('RB3-R', '-2147483648', '-10.00'),
          detail('RB4-R', '-2147483649', '-10.00'),
        ],
        'T,4,-2,0.00',
      ),
    ]);
    expect(records.map((r) => [r.record.partnerTxnId, r.record.pointsRequested])).toEqual([
      ['RB1', 2147483647],
      ['RB3-R', -2147483648],
    ]);
    expect(rejects.map((r) => [r.line, r.field, r.reason, r.text])).toEqual([
      [3, 'points_requested', 'BAD_AMOUNT', '2147483648'],
      [5, 'points_requested', 'BAD_AMOUNT', '-2147483649'],
    ]);
    expect(verdicts[0]).toMatchObject({ verdict: 'accepted' });
  });

  it('checks control sums past 2^53 exactly: one point off is a mismatch', async () => {
    // The lines add up to 2^53, and 2^53 + 1 is the same double: a float sum would take the wrong trailer.
    const details = [
      ...Array.from({ length: 9 }, (_, i) => detail(`RB${i}`, '999999999999999')),
      detail('RB9', '7199254741001'),
    ];
    const exact = await collect(partnerParser, [file(details, 'T,10,9007199254740992,100.00')]);
    expect(exact.rejects).toHaveLength(10);
    expect(exact.verdicts[0]).toMatchObject({
      verdict: 'accepted',
      meta: { read: { pointsSum: '9007199254740992' } },
    });
    const off = await collect(partnerParser, [file(details, 'T,10,9007199254740993,100.00')]);
    expect(off.verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'CONTROL_TOTAL_MISMATCH' });
    expect(off.verdicts[0]?.message).toContain(
      'sum of points_requested 9007199254740993, read 9007199254740992',
    );
  });
});

describe('partner parser properties', () => {
  it('never throws and accounts for every line of any input', async () => {
    const token = fc.constantFrom(
      'H',
      'D',
      'T',
      ',',
      '"',
      '\n',
      '\r\n',
      '1',
      '-5',
      '2024-05-01',
      'EUR',
      'X-R',
      '\0',
      '\xff',
      'ё',
    );
    const body = fc.array(token, { maxLength: 80 }).map((t) => t.join(''));
    const bytes = fc.oneof(
      body.map((b) => Buffer.from(b, 'latin1')),
      body.map((b) => Buffer.from(`H,ACME,1,2024-05-01T00:00:00Z\n${b}`, 'utf8')),
      fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
    );
    await fc.assert(
      fc.asyncProperty(bytes, fc.array(fc.nat({ max: 300 }), { maxLength: 5 }), async (buf, cuts) => {
        const { events } = await collect(partnerParser, [bytesInput('ACME_20240501_1.csv', buf, cuts)]);
        expect(checkFileEvents(events, buf)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps no transaction id it cannot read: the reject a report reads holds only ids of the identifier rule', async () => {
    const refOf = async (txn: string) => {
      const file = Buffer.from(
        `H,ACME,1,2024-05-02T00:00:00Z\nD,${txn},0012345678,IVANOV,I,2024-05-01,STAY,MOW01,100,EUR,,\nT,1,0,100\n`,
        'utf8',
      );
      const { rejects } = await collect(partnerParser, [bytesInput('ACME_20240502_1.csv', file, [])]);
      expect(rejects.map((r) => [r.field, r.reason, r.memberNumber])).toEqual([
        ['partner_txn_id', 'MALFORMED', '0012345678'],
      ]);
      return rejects[0]!.recordRef ?? null;
    };
    // An e-mail address put in the id's place would otherwise be kept, and shown to the reporting role,
    // for as long as the reject is: retention blanks a reject's text, not its record_ref.
    expect(await refOf('ivan.ivanov@mail.ru')).toBeNull();
    expect(await refOf('TX 2010')).toBeNull();
    expect(await refOf('БР-17')).toBeNull();
    expect(await refOf('TX\u20280102')).toBeNull();
    expect(await refOf('TX\u20290102')).toBeNull();
    expect(await refOf('T'.repeat(65))).toBeNull();
  });

  it('names the transaction and member of a D line it rejects for another field', async () => {
    const broken = fc.constantFrom(
      ['2024-13-01', '100', 'EUR'], // activity_date
      ['2024-05-01', '1O0', 'EUR'], // spend_amount
      ['2024-05-01', '100', 'EURO'], // currency
    );
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[0-9A-Za-z][0-9A-Za-z_.:-]{0,20}$/).filter((s) => !s.endsWith('-R')),
        fc.stringMatching(/^[0-9]{1,24}$/),
        broken,
        fc.boolean(),
        async (txn, member, [date, spend, currency], short) => {
          const fields = ['D', txn, member, 'IVANOV', 'I', date, 'STAY', 'MOW01', spend, currency, '', ''];
          // A line short of a field is rejected whole: what it does hold in front still names it.
          const line = (short ? fields.slice(0, 11) : fields).join(',');
          const file = `H,ACME,1,2024-05-02T00:00:00Z\n${line}\nT,1,0,0\n`;
          const { rejects } = await collect(partnerParser, [
            bytesInput('ACME_20240502_1.csv', Buffer.from(file), []),
          ]);
          expect(rejects).toHaveLength(1);
          expect(rejects[0]).toMatchObject({ recordRef: txn, memberNumber: member });
        },
      ),
      { numRuns: 100 },
    );
  });

  const text = fc
    .array(fc.constantFrom('A', 'z', 'Ё', ' ', ',', '"', '\n', "'", '-'), { minLength: 1, maxLength: 10 })
    .map((p) => p.join('').trim())
    .filter((s) => s.length > 0);
  const detail = fc
    .record({
      id: fc.stringMatching(/^[0-9A-Za-z][0-9A-Za-z_.:-]{0,20}$/).filter((s) => !s.endsWith('-R')),
      reversal: fc.boolean(),
      memberNumber: fc.stringMatching(/^[0-9A-Za-z]{1,24}$/),
      surname: text,
      givenName: fc.option(text, { nil: null }),
      activityDate: fc
        .date({
          min: new Date('2000-01-01T00:00:00Z'),
          max: new Date('2035-12-31T00:00:00Z'),
          noInvalidDate: true,
        })
        .map((d) => d.toISOString().slice(0, 10)),
      activityType: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/),
      locationCode: fc.option(fc.stringMatching(/^[A-Z0-9]{1,8}$/), { nil: null }),
      spend: fc.option(
        fc.tuple(fc.stringMatching(/^\d{1,9}(\.\d{1,2})?$/), fc.stringMatching(/^[A-Z]{3}$/)),
        { nil: null },
      ),
      points: fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: null }),
      promoCode: fc.option(fc.stringMatching(/^[A-Z0-9]{1,8}$/), { nil: null }),
    })
    .filter((d) => d.spend !== null || d.points !== null);

  it('reads back exactly the generated activities, with matching totals', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(detail, { maxLength: 12 }),
        fc.constantFrom('\n', '\r\n'),
        fc.nat({ max: 999 }),
        fc.array(fc.nat({ max: 3000 }), { maxLength: 4 }),
        async (details, eol, seq, cuts) => {
          const name = `PTNR_20240501_${seq}.csv`;
          const lines = [`H,PTNR,${seq},2024-05-01T22:00:00+03:00`];
          const expected: PartnerActivity[] = [];
          let points = 0;
          let spendCents = 0n;
          let line = 2;
          for (const d of details) {
            const id = d.reversal ? `${d.id}-R` : d.id;
            const sign = d.reversal ? '-' : '';
            const spendAmount = d.spend === null ? null : sign + d.spend[0];
            const pointsRequested = d.points === null ? null : d.reversal ? -d.points : d.points;
            const cells = [
              'D',
              id,
              d.memberNumber,
              d.surname,
              d.givenName ?? '',
              d.activityDate,
              d.activityType,
              d.locationCode ?? '',
              spendAmount ?? '',
              d.spend?.[1] ?? '',
              pointsRequested === null ? '' : String(pointsRequested),
              d.promoCode ?? '',
            ];
            const row = cells.map((c) => csvField(c, ',')).join(',');
            lines.push(row);
            expected.push({
              partnerTxnId: id,
              reversalOf: d.reversal ? d.id : null,
              memberNumber: d.memberNumber,
              surname: d.surname,
              givenName: d.givenName,
              activityDate: d.activityDate,
              activityType: d.activityType,
              locationCode: d.locationCode,
              spendAmount,
              currency: d.spend?.[1] ?? null,
              pointsRequested,
              promoCode: d.promoCode,
              sourceFile: name,
              sourceLine: line,
            });
            line += 1 + (row.match(/\r\n|\r|\n/g)?.length ?? 0);
            points += pointsRequested ?? 0;
            if (spendAmount !== null) {
              const [whole, frac = ''] = spendAmount.replace('-', '').split('.') as [string, string?];
              const cents = BigInt(whole + frac.padEnd(2, '0'));
              spendCents += spendAmount.startsWith('-') ? -cents : cents;
            }
          }
          const abs = (spendCents < 0n ? -spendCents : spendCents).toString().padStart(3, '0');
          lines.push(
            `T,${details.length},${points},${spendCents < 0n ? '-' : ''}${abs.slice(0, -2)}.${abs.slice(-2)}`,
          );
          const bytes = Buffer.from(lines.join(eol) + eol, 'utf8');
          const { records, rejects, verdicts, events } = await collect(partnerParser, [
            bytesInput(name, bytes, cuts),
          ]);
          expect(rejects).toEqual([]);
          expect(records.map((r) => r.record)).toEqual(expected);
          expect(verdicts[0]).toMatchObject({
            verdict: 'accepted',
            meta: { partnerCode: 'PTNR', fileSequence: seq },
          });
          expect(checkFileEvents(events, bytes)).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("personal data in a partner file's refusals", () => {
  const LONG = `NIKITINA${'A'.repeat(200)}`;
  const detail = (surname: string, given: string) =>
    `D,RBX0100,6221012195,${surname},${given},2026-10-31,CARD_SPEND,MCC5812,10.00,USD,100,`;

  it("keeps a refused surname or given name out of the reject's message, in its text alone", async () => {
    const { rejects } = await collect(partnerParser, [
      bytesInput(
        'REDBANK_20261101_00670.csv',
        ['H,REDBANK,670,2026-11-01T01:00:00Z', detail(LONG, 'O'), detail('NIKITINA', LONG), 'T,2,200,20.00']
          .join('\n')
          .concat('\n'),
      ),
    ]);
    expect(rejects.map((r) => [r.field, r.message])).toEqual([
      ['surname', 'surname: expected at most 200 characters'],
      ['given_name', 'given_name: expected at most 200 characters'],
    ]);
    expect(rejects.map((r) => r.text.slice(0, 8))).toEqual(['NIKITINA', 'NIKITINA']);
  });

  it('does not quote a first line that is no H record: it may be a detail, names and all', async () => {
    const { verdicts } = await collect(partnerParser, [
      bytesInput(
        'REDBANK_20261101_00670.csv',
        [detail('NIKITINA', 'OLGA'), 'T,1,100,10.00'].join('\n') + '\n',
      ),
    ]);
    expect(verdicts[0]).toMatchObject({
      verdict: 'rejected',
      reason: 'BAD_HEADER',
      message: 'the file must start with an H record, found a D record at line 1',
    });
  });
});
