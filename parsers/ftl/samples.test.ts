/**
 * Every sample of shared/samples/ftl reads the way its README says. The same expectations run over the
 * project's own copies in fixtures/, so they hold without the shared folder too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { LineAccount, VerdictEvent } from '../types.js';
import { FtlAssembler, ftlParser, type FtlFileMeta, type FtlPassenger } from './index.js';
import { collect, ftlInput } from './testing.js';

const here = dirname(fileURLToPath(import.meta.url));
const shared = join(here, '..', '..', '..', 'shared', 'samples', 'ftl');
const dirs = [{ label: 'project fixtures', dir: join(here, 'fixtures') }];
if (existsSync(shared)) dirs.unshift({ label: 'shared samples', dir: shared });

function balanced(a: LineAccount): boolean {
  return a.recordLines + a.rejectLines + a.structureLines + a.blankLines === a.lines;
}

function meta(v: VerdictEvent): FtlFileMeta {
  return v.meta as unknown as FtlFileMeta;
}

describe.each(dirs)('FTL samples ($label)', ({ dir }) => {
  const read = (name: string, receivedAt: string) =>
    ftlInput(name, readFileSync(join(dir, name)), receivedAt);
  const parse = (names: string[], receivedAt: string) =>
    collect(ftlParser.parse(names.map((n) => read(n, receivedAt))));

  it('01: reads three passengers of XX101 DME 28MAY, the LH card kept apart as a partner card', async () => {
    const { records, rejects, verdicts } = await parse(['01-simple.ftl'], '2024-05-28T21:00:00Z');
    expect(rejects).toEqual([]);
    expect(records.map((r) => [r.record.surname, r.record.destination, r.record.subclass])).toEqual([
      ['IVANOV', 'LED', 'Y'],
      ['PETROVA', 'LED', 'Y'],
      ['SCHMIDT', 'LED', 'C'],
    ]);
    const [ivanov, petrova, schmidt] = records.map((r) => r.record) as [
      FtlPassenger,
      FtlPassenger,
      FtlPassenger,
    ];
    expect(ivanov.flight).toMatchObject({
      carrier: 'XX',
      number: '101',
      suffix: null,
      date: '2024-05-28',
      board: 'DME',
    });
    expect(ivanov.accrualCard).toMatchObject({ program: 'XX', number: '1000000016', own: true });
    expect(petrova.accrualCard).toMatchObject({ program: 'XX', number: '1000000024', own: true });
    expect(schmidt.cards).toHaveLength(1);
    expect(schmidt.partnerCards).toEqual(schmidt.cards);
    expect(schmidt.accrualCard).toMatchObject({ program: 'LH', number: '992001234567890', own: false });
    expect(ivanov.originator).toEqual({
      address: 'MOWRMXX',
      stamp: '281530',
      sentAt: '2024-05-28T15:30:00Z',
    });
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]).toMatchObject({
      verdict: 'accepted',
      account: { lines: 16, records: 3, rejects: 0 },
    });
    expect(balanced(verdicts[0]!.account)).toBe(true);
  });

  it('02: the two parts complete one message of four passengers, whichever file comes first', async () => {
    for (const order of [
      ['02-multipart-part1.ftl', '02-multipart-part2.ftl'],
      ['02-multipart-part2.ftl', '02-multipart-part1.ftl'],
    ]) {
      const { records, verdicts } = await parse(order, '2024-06-03T21:00:00Z');
      const byName = new Map(records.map((r) => [r.record.surname, r.record]));
      expect([...byName.keys()].sort()).toEqual(['ABRAMOV', 'BELOVA', 'KOZLOV', 'MORGAN']);
      for (const name of ['ABRAMOV', 'BELOVA', 'KOZLOV']) {
        expect(byName.get(name)).toMatchObject({ destination: 'AER', subclass: 'Y', held: false });
      }
      expect(byName.get('MORGAN')).toMatchObject({
        destination: 'AER',
        subclass: 'J',
        bookedSubclass: 'C',
        held: false,
      });
      expect(records.every((r) => r.record.message === 'XX245/2024-06-03/SVO')).toBe(true);
      expect(verdicts.map((v) => [v.file, v.verdict]).sort()).toEqual([
        ['02-multipart-part1.ftl', 'accepted'],
        ['02-multipart-part2.ftl', 'accepted'],
      ]);
      expect(verdicts.every((v) => balanced(v.account))).toBe(true);
    }
  });

  it('02: either part alone is held, nothing credited, and the part is returned for the next delivery', async () => {
    for (const name of ['02-multipart-part1.ftl', '02-multipart-part2.ftl']) {
      const assembler = new FtlAssembler();
      const { records, verdicts } = await collect(assembler.parse([read(name, '2024-06-03T21:00:00Z')]));
      expect(records.length).toBeGreaterThan(0);
      expect(records.every((r) => r.record.held)).toBe(true);
      expect(verdicts[0]).toMatchObject({ verdict: 'held', reason: 'INCOMPLETE_MESSAGE' });
      expect(balanced(verdicts[0]!.account)).toBe(true);
      const held = assembler.result().held;
      expect(held).toHaveLength(1);
      expect(held[0]).toMatchObject({ message: 'XX245/2024-06-03/SVO', file: name, line: 1 });
    }
  });

  it('03: reads the variants: spaced identifier, 4-digit flight, inline element, codeshare, status code, .RN/, glued card', async () => {
    const { records, rejects, verdicts } = await parse(['03-variants.ftl'], '2024-07-12T22:00:00Z');
    expect(rejects).toEqual([]);
    const [novikov, orlova, garcia] = records.map((r) => r.record) as [
      FtlPassenger,
      FtlPassenger,
      FtlPassenger,
    ];
    expect(novikov.flight).toMatchObject({
      carrier: 'XX',
      number: '302',
      numberRaw: '0302',
      date: '2024-07-12',
      board: 'LED',
    });
    expect(novikov).toMatchObject({
      surname: 'NOVIKOV',
      givenName: 'ALEXANDER KONSTANTINOVICH',
      title: 'MR',
      pnr: '0P33QQ',
      destination: 'SVX',
      subclass: 'Y',
    });
    expect(novikov.accrualCard).toMatchObject({ program: 'XX', number: '1000000073' });
    expect(orlova).toMatchObject({
      surname: 'ORLOVA',
      givenName: 'E',
      title: null,
      destination: 'SVX',
      subclass: 'Y',
    });
    expect(orlova.marketingFlight).toMatchObject({
      carrier: 'SU',
      number: '6120',
      subclass: 'Y',
      day: 12,
      board: 'LED',
      off: 'SVX',
    });
    expect(orlova.accrualCard).toMatchObject({
      usage: 'FQTV',
      program: 'XX',
      number: '1000000081',
      statusCode: 'HK1',
    });
    const upgrade = orlova.cards.find((c) => c.usage === 'FQTU');
    expect(upgrade?.text).toBe('UPGRADE CONFIRMED AT CHECK-IN BY AGENT 4471 FOR OPERATIONAL REASONS');
    expect(garcia).toMatchObject({
      surname: 'GARCIA',
      destination: 'SVX',
      subclass: 'W',
      bookedSubclass: 'B',
    });
    expect(garcia.cards.map((c) => [c.program, c.number, c.own])).toEqual([
      ['IB', '00000082270497', false],
      ['XX', '0000123455', true],
    ]);
    expect(garcia.accrualCard).toMatchObject({ program: 'XX', number: '0000123455', bookedSubclass: 'B' });
    expect(verdicts[0]).toMatchObject({ verdict: 'accepted', account: { lines: 20, blankLines: 1 } });
    expect(balanced(verdicts[0]!.account)).toBe(true);
  });

  it('04: keeps a Cyrillic name as written', async () => {
    const { records } = await parse(['04-cyrillic-utf8.ftl'], '2024-08-15T21:00:00Z');
    expect(records).toHaveLength(1);
    expect(records[0]!.record).toMatchObject({
      surname: 'СМИРНОВ',
      givenName: 'АНДРЕЙ АНАТОЛЬЕВИЧ',
      destination: 'KZN',
      subclass: 'Y',
    });
    expect(records[0]!.record.accrualCard?.number).toBe('1000000099');
  });

  it('05: a NIL message is complete with no passengers, and 31DEC received in January is last year', async () => {
    const { records, verdicts } = await parse(['05-nil-year-end.ftl'], '2025-01-02T03:00:00Z');
    expect(records).toEqual([]);
    expect(verdicts[0]!.verdict).toBe('accepted');
    expect(meta(verdicts[0]!).messages[0]).toMatchObject({
      message: 'XX900/2024-12-31/DME',
      status: 'complete',
      passengers: 0,
    });
    expect(balanced(verdicts[0]!.account)).toBe(true);
  });

  it('06: rejects the bad lines with their line numbers and still reads the good passengers', async () => {
    const { records, rejects, verdicts } = await parse(['06-malformed.ftl'], '2024-09-20T21:00:00Z');
    expect(records.map((r) => [r.line, r.record.surname])).toEqual([
      [6, 'KUZNETSOV'],
      [16, 'LEBEDEV'],
    ]);
    const kuznetsov = records[0]!.record;
    expect(kuznetsov.cards).toEqual([]);
    expect(kuznetsov.warnings).toContain('NO_USABLE_CARD');
    expect(records[1]!.record).toMatchObject({ destination: 'KJA', subclass: 'Y' });
    expect(records[1]!.record.accrualCard?.number).toBe('1000000024');
    expect(rejects.map((r) => [r.line, r.lines, r.reason])).toEqual([
      [8, 1, 'MALFORMED_REMARK'],
      [9, 1, 'MALFORMED_NAME'],
      [10, 1, 'NO_PASSENGER'],
      [11, 1, 'MALFORMED_GROUP'],
      [12, 3, 'NO_GROUP'],
    ]);
    expect(rejects[4]!.text).toBe('1ZAITSEV/IGOR MR');
    const v = verdicts[0]!;
    expect(v.verdict).toBe('accepted');
    expect(v.account).toEqual({
      lines: 19,
      recordLines: 5,
      rejectLines: 7,
      structureLines: 7,
      blankLines: 0,
      records: 2,
      rejects: 5,
    });
    expect(meta(v).counts.passengersWithoutUsableCard).toBe(1);
  });

  it('07: a part whose END does not match its PART is rejected whole, nothing credited', async () => {
    const { records, rejects, verdicts } = await parse(['07-end-mismatch.ftl'], '2024-09-20T21:00:00Z');
    expect(records).toEqual([]);
    expect(verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'END_MISMATCH' });
    expect(verdicts[0]!.message).toMatch(/ENDPART3 \(line 9\) does not close PART1 \(line 4\)/);
    expect(rejects.map((r) => [r.line, r.lines, r.reason, r.field])).toEqual([
      [6, 3, 'END_MISMATCH', '*'],
      [9, 1, 'END_MISMATCH', 'END'],
    ]);
    expect(balanced(verdicts[0]!.account)).toBe(true);
  });
});
