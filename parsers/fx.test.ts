import { describe, expect, it } from 'vitest';
import { collect, expectBalanced, fixture, inputOf, split } from './fixtures/xml/support.js';
import { fxParser } from './fx.js';

async function parseFx(content: Buffer | string) {
  const events = await collect(fxParser.parse([inputOf('eurofxref.xml', content)]));
  expectBalanced(events);
  return split(events);
}

const ENVELOPE = (cubes: string) =>
  `<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref"><Cube>${cubes}</Cube></gesmes:Envelope>`;

describe('fx: ECB reference rates', () => {
  it('reads the daily file with single-quoted attributes, rates as exact strings', async () => {
    const { records, rejects, verdict } = await parseFx(fixture('fx-daily.xml'));
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.record)).toEqual([
      { date: '2026-11-26', currency: 'USD', rate: '1.0479' },
      { date: '2026-11-26', currency: 'JPY', rate: '163.52' },
      { date: '2026-11-26', currency: 'CHF', rate: '0.9312' },
      { date: '2026-11-26', currency: 'GBP', rate: '0.8345' },
      { date: '2026-11-26', currency: 'IDR', rate: '16742.10' },
    ]);
    expect(records.map((r) => [r.path, r.seq, r.line, r.lines])).toEqual([
      ['Envelope/Cube/Cube[1]/Cube', 1, 9, 1],
      ['Envelope/Cube/Cube[1]/Cube', 2, 10, 1],
      ['Envelope/Cube/Cube[1]/Cube', 3, 11, 1],
      ['Envelope/Cube/Cube[1]/Cube', 4, 12, 1],
      ['Envelope/Cube/Cube[1]/Cube', 5, 13, 1],
    ]);
    expect(verdict).toMatchObject({
      verdict: 'accepted',
      account: {
        lines: 16,
        recordLines: 5,
        rejectLines: 0,
        structureLines: 11,
        blankLines: 0,
        records: 5,
        rejects: 0,
      },
      meta: {
        days: 1,
        firstDate: '2026-11-26',
        lastDate: '2026-11-26',
        subject: 'Reference rates',
        sender: 'European Central Bank',
      },
    });
  });

  it('reads the history layout with other prefixes and attributes lines shared by two rates once', async () => {
    const { records, verdict } = await parseFx(fixture('fx-history.xml'));
    expect(records.map((r) => `${r.record.date} ${r.record.currency} ${r.record.rate}`)).toEqual([
      '2026-11-26 USD 1.0479',
      '2026-11-26 GBP 0.8345',
      '2026-11-25 USD 1.0512',
      '2026-11-25 GBP 0.8361',
      '2026-11-24 USD 1.0498',
      '2026-11-24 GBP 0.8359',
    ]);
    expect(records.map((r) => r.line)).toEqual([5, 5, 7, 8, 11, 12]);
    expect(records.map((r) => r.lines)).toEqual([1, 0, 1, 1, 1, 1]);
    expect(records.map((r) => r.path)).toEqual([
      'Envelope/Cube/Cube[1]/Cube',
      'Envelope/Cube/Cube[1]/Cube',
      'Envelope/Cube/Cube[2]/Cube',
      'Envelope/Cube/Cube[2]/Cube',
      'Envelope/Cube/Cube[3]/Cube',
      'Envelope/Cube/Cube[3]/Cube',
    ]);
    expect(verdict.account).toEqual({
      lines: 15,
      recordLines: 5,
      rejectLines: 0,
      structureLines: 10,
      blankLines: 0,
      records: 6,
      rejects: 0,
    });
    expect(verdict.meta).toMatchObject({ days: 3, firstDate: '2026-11-24', lastDate: '2026-11-26' });
  });

  it('rejects bad currencies, bad rates, repeats and a day with an impossible date', async () => {
    const { records, rejects, verdict } = await parseFx(fixture('fx-bad.xml'));
    expect(records.map((r) => r.record)).toEqual([
      { date: '2026-11-26', currency: 'USD', rate: '1.0479' },
      { date: '2026-11-26', currency: 'HUF', rate: '412.30' },
    ]);
    expect(rejects.map((r) => [r.path, r.seq, r.field, r.reason, r.text])).toEqual([
      ['Envelope/Cube/Cube[1]/Cube', 2, '@currency', 'BAD_CURRENCY', 'usd'],
      ['Envelope/Cube/Cube[1]/Cube', 3, '@rate', 'BAD_RATE', '0,9312'],
      ['Envelope/Cube/Cube[1]/Cube', 4, '@rate', 'BAD_RATE', '-0.8345'],
      ['Envelope/Cube/Cube[1]/Cube', 5, '@rate', 'BAD_RATE', '0.0000'],
      ['Envelope/Cube/Cube[1]/Cube', 6, '@rate', 'BAD_RATE', '<Cube currency="NOK"/>'],
      ['Envelope/Cube/Cube[1]/Cube', 7, '@currency', 'BAD_CURRENCY', 'EUR'],
      ['Envelope/Cube/Cube[1]/Cube', 8, '@currency', 'DUPLICATE', 'USD'],
      ['Envelope/Cube/Cube', 2, '@time', 'MALFORMED', '2026-11-31'],
    ]);
    expect(rejects[7]!.line).toBe(16);
    expect(verdict).toMatchObject({
      verdict: 'accepted',
      account: {
        lines: 20,
        recordLines: 2,
        rejectLines: 10,
        structureLines: 8,
        blankLines: 0,
        records: 2,
        rejects: 8,
      },
    });
  });

  it('rejects a code that looks like a currency but is not one', async () => {
    const { records, rejects } = await parseFx(
      ENVELOPE(
        `<Cube time="2026-11-26"><Cube currency="ABC" rate="1.5"/><Cube currency="SEK" rate="11.2"/></Cube>`,
      ),
    );
    expect(rejects.map((r) => [r.reason, r.text])).toEqual([['BAD_CURRENCY', 'ABC']]);
    expect(records.map((r) => r.record.currency)).toEqual(['SEK']);
  });

  it('refuses a file without rates, and a document that is not the ECB envelope', async () => {
    expect((await parseFx(ENVELOPE(''))).verdict).toMatchObject({
      verdict: 'rejected',
      reason: 'EMPTY_FILE',
    });
    // Rates outside the eurofxref namespace are not ECB rates.
    const unqualified = await parseFx(
      '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"><Cube><Cube time="2026-11-26"><Cube currency="USD" rate="1.1"/></Cube></Cube></gesmes:Envelope>',
    );
    expect(unqualified.verdict.reason).toBe('EMPTY_FILE');
    expect(unqualified.records).toEqual([]);
    expect((await parseFx(fixture('hotel-stays.xml'))).verdict).toMatchObject({
      verdict: 'rejected',
      reason: 'WRONG_DOCUMENT',
    });
  });

  it('refuses an envelope padded with empty elements as a file (TOO_MANY_ELEMENTS), never a crash', async () => {
    const padded = ENVELOPE(
      `<Cube time="2026-11-26"><Cube currency="USD" rate="1.0479"/></Cube>\n${'<x/>'.repeat(20)}`,
    );
    const events = await collect(
      fxParser.parse([inputOf('eurofxref.xml', padded)], { xmlLimits: { maxElements: 10 } }),
    );
    expectBalanced(events);
    const { records, rejects, verdict } = split(events);
    expect(records).toEqual([]);
    expect(rejects).toMatchObject([{ field: '*', reason: 'TOO_MANY_ELEMENTS', line: 2 }]);
    expect(verdict).toMatchObject({
      file: 'eurofxref.xml',
      verdict: 'rejected',
      reason: 'TOO_MANY_ELEMENTS',
      message: 'line 2, column 25: more than 10 elements (CDATA sections included) in the document',
    });
    // The same envelope within the limit is read.
    const ok = split(
      await collect(fxParser.parse([inputOf('eurofxref.xml', padded)], { xmlLimits: { maxElements: 25 } })),
    );
    expect(ok.verdict).toMatchObject({ verdict: 'accepted' });
    expect(ok.records).toHaveLength(1);
  });
});
