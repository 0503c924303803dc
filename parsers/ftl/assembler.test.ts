/**
 * Messages in parts: out of order, duplicated, across files and across nights (held state persisted as
 * JSON and seeded back), timeouts, and what a file's verdict says; faults outside the data.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RedeyeError } from '../../lib/errors.js';
import type { LineAccount, ParseInput, VerdictEvent } from '../types.js';
import { MAX_PART_LINES } from './collector.js';
import {
  FtlAssembler,
  ftlParser,
  type FtlFileMeta,
  type CompletedFtlMessage,
  type FtlParseOptions,
  type HeldFtlPart,
} from './index.js';
import { collect, ftlInput } from './testing.js';

const NIGHT1 = '2024-06-03T21:00:00Z';
const NIGHT2 = '2024-06-04T21:00:00Z';

/** Part `n` of XX245/03JUN SVO holding the given passengers (surname → member number). */
function part(n: number, final: boolean, people: [string, string][], flight = 'XX245/03JUN SVO'): string {
  const lines = [
    'MOWKTXX',
    `.MOWRMXX 0319${String(n).padStart(2, '0')}`,
    'FTL',
    `${flight} PART${n}`,
    `-AER${String(people.length).padStart(2, '0')}Y`,
  ];
  for (const [surname, number] of people) lines.push(`1${surname}/ANNA MRS`, `.R/FQTV XX ${number}`);
  lines.push(final ? 'ENDFTL' : `ENDPART${n}`);
  return `${lines.join('\r\n')}\r\n`;
}

const P1 = part(1, false, [['ABRAMOVA', '1000000032']]);
const P2 = part(2, false, [['BELOVA', '1000000040']]);
const P3 = part(3, true, [['KOZLOVA', '1000000057']]);

function balanced(a: LineAccount): boolean {
  return a.recordLines + a.rejectLines + a.structureLines + a.blankLines === a.lines;
}

function meta(v: VerdictEvent): FtlFileMeta {
  return v.meta as unknown as FtlFileMeta;
}

async function deliver(
  inputs: ParseInput[],
  options: FtlParseOptions = {},
  held: HeldFtlPart[] = [],
  completed: CompletedFtlMessage[] = [],
) {
  const assembler = new FtlAssembler(options, held, completed);
  const got = await collect(assembler.parse(inputs));
  for (const v of got.verdicts) expect(balanced(v.account), `account of ${v.file}`).toBe(true);
  // The held state goes to the database as JSON and comes back the same.
  const result = JSON.parse(JSON.stringify(assembler.result())) as ReturnType<FtlAssembler['result']>;
  return { ...got, result, surnames: got.records.map((r) => r.record.surname) };
}

describe('parts', () => {
  it('assembles a message whose parts arrive out of order in one file', async () => {
    const { surnames, records, verdicts } = await deliver([ftlInput('all.ftl', P3 + P1 + P2, NIGHT1)]);
    expect(surnames.sort()).toEqual(['ABRAMOVA', 'BELOVA', 'KOZLOVA']);
    expect(records.every((r) => !r.record.held && r.record.message === 'XX245/2024-06-03/SVO')).toBe(true);
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]!.verdict).toBe('accepted');
    expect(meta(verdicts[0]!).messages[0]).toMatchObject({
      status: 'complete',
      finalPart: 3,
      missingParts: [],
    });
  });

  it('assembles parts from separate files of one delivery, each file accepted after its message completes', async () => {
    const { all, surnames } = await deliver([
      ftlInput('p2.ftl', P2, NIGHT1),
      ftlInput('p3.ftl', P3, NIGHT1),
      ftlInput('p1.ftl', P1, NIGHT1),
    ]);
    expect(surnames.sort()).toEqual(['ABRAMOVA', 'BELOVA', 'KOZLOVA']);
    const verdicts = all.filter((e) => e.type === 'verdict') as VerdictEvent[];
    expect(verdicts.map((v) => [v.file, v.verdict])).toEqual([
      ['p2.ftl', 'accepted'],
      ['p3.ftl', 'accepted'],
      ['p1.ftl', 'accepted'],
    ]);
    // Every file's verdict comes after all of its records.
    for (const v of verdicts) {
      const at = all.indexOf(v);
      expect(all.slice(at + 1).some((e) => e.type !== 'verdict' && e.file === v.file)).toBe(false);
    }
    // Records keep the file and line they came from, whichever file completed the message.
    const belova = all.find((e) => e.type === 'record' && e.record.surname === 'BELOVA');
    expect(belova).toMatchObject({ file: 'p2.ftl', line: 6 });
  });

  it('ignores a duplicate part and counts it, in the same file or another', async () => {
    const { surnames, rejects, verdicts } = await deliver([
      ftlInput('a.ftl', P1 + P2 + P3, NIGHT1),
      ftlInput('b.ftl', P2, NIGHT1),
    ]);
    expect(surnames.sort()).toEqual(['ABRAMOVA', 'BELOVA', 'KOZLOVA']);
    expect(rejects.map((r) => [r.file, r.line, r.reason])).toEqual([
      ['b.ftl', 4, 'DUPLICATE_PART'],
      ['b.ftl', 6, 'DUPLICATE_PART'],
    ]);
    const b = verdicts.find((v) => v.file === 'b.ftl')!;
    expect(b.verdict).toBe('accepted');
    expect(meta(b).counts.partsDuplicate).toBe(1);
    expect(meta(b).partProblems[0]).toMatchObject({
      reason: 'DUPLICATE_PART',
      messageKey: 'XX245/2024-06-03/SVO',
      part: 2,
    });
  });

  it('rejects a part beyond the part that ended with ENDFTL', async () => {
    const extra = part(4, false, [['DOROVA', '1000000065']]);
    const { surnames, rejects } = await deliver([ftlInput('a.ftl', extra + P1 + P2 + P3, NIGHT1)]);
    expect(surnames.sort()).toEqual(['ABRAMOVA', 'BELOVA', 'KOZLOVA']);
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([
      [4, 'UNEXPECTED_PART'],
      [6, 'UNEXPECTED_PART'],
    ]);
  });

  it('tells messages apart by flight, suffix, date and board point', async () => {
    const other = [
      part(1, true, [['ONE', '1000000016']], 'XX245/03JUN DME'),
      part(1, true, [['TWO', '1000000024']], 'XX245A/03JUN SVO'),
      part(1, true, [['THREE', '1000000032']], 'XX245/02JUN SVO'),
      part(1, true, [['FOUR', '1000000040']], 'XX0245/03JUN SVO'),
    ];
    const { records, rejects } = await deliver([ftlInput('a.ftl', other.join(''), NIGHT1)]);
    expect(records.map((r) => r.record.message)).toEqual([
      'XX245/2024-06-03/DME',
      'XX245A/2024-06-03/SVO',
      'XX245/2024-06-02/SVO',
      'XX245/2024-06-03/SVO',
    ]);
    expect(rejects).toEqual([]);
  });
});

describe('held parts across deliveries', () => {
  it('holds an incomplete message, then completes it from the seeded parts the next night', async () => {
    const night1 = await deliver([ftlInput('n1.ftl', P1 + P3, NIGHT1)]);
    expect(night1.records.every((r) => r.record.held)).toBe(true);
    expect(night1.verdicts[0]).toMatchObject({ verdict: 'held', reason: 'INCOMPLETE_MESSAGE' });
    expect(meta(night1.verdicts[0]!).messages[0]).toMatchObject({
      status: 'held',
      missingParts: [2],
      finalPart: 3,
    });
    expect(night1.result.held.map((h) => [h.file, h.line, h.part, h.final])).toEqual([
      ['n1.ftl', 1, 1, false],
      ['n1.ftl', 9, 3, true],
    ]);

    const night2 = await deliver([ftlInput('n2.ftl', P2, NIGHT2)], {}, night1.result.held);
    expect(night2.records.map((r) => [r.file, r.line, r.record.surname, r.record.held])).toEqual([
      ['n1.ftl', 6, 'ABRAMOVA', false],
      ['n1.ftl', 14, 'KOZLOVA', false],
      ['n2.ftl', 6, 'BELOVA', false],
    ]);
    expect(night2.verdicts.map((v) => [v.file, v.verdict])).toEqual([['n2.ftl', 'accepted']]);
    expect(night2.verdicts[0]!.account.records).toBe(1);
    expect(night2.result.held).toEqual([]);
    expect(night2.result.used.map((h) => h.part)).toEqual([1, 3]);
    expect(meta(night2.verdicts[0]!).messages[0]!.parts.map((p) => [p.part, p.seeded])).toEqual([
      [1, true],
      [3, true],
      [2, false],
    ]);
  });

  it('keeps holding what is still incomplete, and reports it as incomplete after the hold timeout', async () => {
    const night1 = await deliver([ftlInput('n1.ftl', P1, NIGHT1)]);
    const night2 = await deliver(
      [ftlInput('other.ftl', part(1, true, [['X', '1000000016']], 'XX999/04JUN SVO'), NIGHT2)],
      { holdTimeoutHours: 72 },
      night1.result.held,
    );
    expect(night2.result.held).toEqual(night1.result.held);
    expect(night2.result.expired).toEqual([]);

    const later = await deliver(
      [],
      { holdTimeoutHours: 72, asOf: new Date('2024-06-07T22:00:00Z') },
      night2.result.held,
    );
    expect(later.result.held).toEqual([]);
    expect(later.result.expired).toHaveLength(1);
    expect(later.result.expired[0]).toMatchObject({
      message: 'XX245/2024-06-03/SVO',
      reason: 'INCOMPLETE_MESSAGE',
      finalPart: null,
      missingParts: [],
      firstReceivedAt: '2024-06-03T21:00:00.000Z',
    });
    expect(later.result.expired[0]!.description).toMatch(/final part \(ENDFTL\) never arrived/);
    expect(later.result.expired[0]!.parts).toEqual(night1.result.held);
  });

  it('ignores a part that arrives again after being held', async () => {
    const night1 = await deliver([ftlInput('n1.ftl', P1, NIGHT1)]);
    const night2 = await deliver([ftlInput('n2.ftl', P1 + P2 + P3, NIGHT2)], {}, night1.result.held);
    expect(night2.surnames.sort()).toEqual(['ABRAMOVA', 'BELOVA', 'KOZLOVA']);
    expect(night2.rejects.map((r) => r.reason)).toEqual(['DUPLICATE_PART', 'DUPLICATE_PART']);
    expect(night2.records.find((r) => r.record.surname === 'ABRAMOVA')!.file).toBe('n1.ftl');
  });

  it('ignores and counts a part sent again after its message completed an earlier night, accepting its file', async () => {
    const night1 = await deliver([ftlInput('n1.ftl', P1 + P2 + P3, NIGHT1)]);
    expect(night1.result.completed).toEqual([
      { message: 'XX245/2024-06-03/SVO', finalPart: 3, file: 'n1.ftl', line: 1 },
    ]);
    const completed = night1.result.completed.map((c) => ({ ...c, completedOn: '2024-06-03' }));

    // The DCS sends PART1 again under another stamp, and PART2 with another passenger in it.
    const resent = P1.replace('.MOWRMXX 031901', '.MOWRMXX 041000');
    const changed = part(2, false, [['GROMOVA', '1000000073']]);
    const night2 = await deliver(
      [ftlInput('n2.ftl', resent + changed, NIGHT2)],
      { asOf: new Date('2024-06-10T22:00:00Z') },
      [],
      completed,
    );
    expect(night2.records).toEqual([]);
    expect(night2.rejects.map((r) => [r.line, r.reason])).toEqual([
      [4, 'DUPLICATE_PART'],
      [6, 'DUPLICATE_PART'],
      [12, 'DUPLICATE_PART'],
      [14, 'DUPLICATE_PART'],
    ]);
    expect(night2.rejects[0]!.message).toBe(
      'PART1 of XX245/2024-06-03/SVO was already received (3 parts from n1.ftl:1, complete since the night of 2024-06-03): ignored',
    );
    const v = night2.verdicts[0]!;
    expect(v).toMatchObject({ verdict: 'accepted', file: 'n2.ftl' });
    expect(meta(v).counts).toMatchObject({ parts: 2, partsDuplicate: 2, partsHeld: 0, messagesHeld: 0 });
    expect(night2.result).toMatchObject({ held: [], expired: [], completed: [] });

    // A part beyond its final part is refused, as it is within one delivery.
    const night3 = await deliver(
      [ftlInput('n3.ftl', part(4, true, [['DOROVA', '1000000065']]), NIGHT2)],
      {},
      [],
      completed,
    );
    expect(night3.rejects.map((r) => r.reason)).toEqual(['UNEXPECTED_PART', 'UNEXPECTED_PART']);
    expect(night3.result.held).toEqual([]);
  });

  it('drops a held part of a message completed an earlier night rather than holding it again', async () => {
    // Held the night a part of a complete message came again, before completed messages were remembered.
    const night1 = await deliver([ftlInput('n1.ftl', P1, NIGHT1)]);
    const completed: CompletedFtlMessage[] = [
      { message: 'XX245/2024-06-03/SVO', finalPart: 3, file: 'n0.ftl', line: 1, fileId: 7 },
    ];
    const night2 = await deliver(
      [],
      { asOf: new Date('2024-06-10T22:00:00Z') },
      night1.result.held,
      completed,
    );
    expect(night2.result).toMatchObject({ held: [], expired: [], dropped: night1.result.held });
  });

  it('gives up on a held part that can no longer be read, rather than failing the night', async () => {
    const broken: HeldFtlPart = {
      message: 'XX1/2024-06-03/SVO',
      part: 1,
      final: false,
      file: 'f',
      line: 1,
      receivedAt: NIGHT1,
      lines: ['NOT AN FTL'],
    };
    const { result } = await deliver([], {}, [broken]);
    expect(result.expired).toHaveLength(1);
    expect(result.expired[0]!.description).toMatch(/can no longer be read/);
  });

  it('tells two files of one name apart by their registry id: each record, reject and part is of its own file', async () => {
    // A DCS that uploads ftl.txt every night: a late one read with the next night's, and a part held
    // from the night before under the same name.
    const night1 = await deliver([{ ...ftlInput('ftl.txt', P1, NIGHT1), fileId: 1 }]);
    const P2final = part(2, true, [['BELOVA', '1000000040']]);
    const late = { ...ftlInput('ftl.txt', `THANK YOU\r\n${P2final}`, NIGHT2), fileId: 2 };
    const next = {
      ...ftlInput(
        'ftl.txt',
        P2final +
          part(1, true, [['DOROVA', '1000000065']], 'XX246/03JUN SVO') +
          part(1, false, [['KOZLOVA', '1000000057']], 'XX247/03JUN SVO'),
        NIGHT2,
      ),
      fileId: 3,
    };
    const night2 = await deliver([late, next], {}, night1.result.held);

    expect(night2.records.map((r) => [r.fileId, r.record.surname, r.record.held])).toEqual([
      [1, 'ABRAMOVA', false],
      [2, 'BELOVA', false],
      [3, 'DOROVA', false],
      [3, 'KOZLOVA', true],
    ]);
    expect(night2.rejects.map((r) => [r.fileId, r.reason])).toEqual([
      [2, 'OUTSIDE_MESSAGE'],
      [3, 'DUPLICATE_PART'],
      [3, 'DUPLICATE_PART'],
    ]);
    expect(night2.verdicts.map((v) => [v.fileId, v.verdict])).toEqual([
      [2, 'accepted'],
      [3, 'held'],
    ]);
    expect(night2.result.completed.map((c) => [c.message, c.fileId])).toEqual([
      ['XX245/2024-06-03/SVO', 1],
      ['XX246/2024-06-03/SVO', 3],
    ]);
    expect(night2.result.held.map((h) => [h.message, h.fileId])).toEqual([['XX247/2024-06-03/SVO', 3]]);
  });

  it('reads a seeded part with the year of its own receipt, not of the night it completes', async () => {
    const dec1 = part(1, false, [['DEKABR', '1000000016']], 'XX900/31DEC DME');
    const dec2 = part(2, true, [['YANVAR', '1000000024']], 'XX900/31DEC DME');
    const night1 = await deliver([ftlInput('d1.ftl', dec1, '2024-12-31T22:00:00Z')]);
    const night2 = await deliver([ftlInput('d2.ftl', dec2, '2025-01-02T22:00:00Z')], {}, night1.result.held);
    expect(night2.records.map((r) => r.record.message)).toEqual([
      'XX900/2024-12-31/DME',
      'XX900/2024-12-31/DME',
    ]);
  });
});

describe('file verdicts', () => {
  it('rejects an empty file, and a file of blank lines', async () => {
    for (const text of ['', '\r\n\r\n  \n']) {
      const { verdicts } = await deliver([ftlInput('e.ftl', text, NIGHT1)]);
      expect(verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'EMPTY_FILE' });
    }
  });

  it('rejects a file that is not an FTL in one block of lines', async () => {
    const csv = 'date,flight,member\n2024-06-03,XX245,1000000016\n2024-06-03,XX245,1000000024\n';
    const { rejects, verdicts } = await deliver([ftlInput('c.csv', csv, NIGHT1)]);
    expect(rejects.map((r) => [r.line, r.lines, r.reason])).toEqual([[1, 3, 'OUTSIDE_MESSAGE']]);
    expect(verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'NOT_FTL' });
  });

  it('skips another Type B message to its END line and reads the FTL after it', async () => {
    const pnl = [
      'QU MOWKTXX',
      '.MOWRMXX 031200',
      'PNL',
      'XX245/03JUN SVO PART1',
      '-AER001Y',
      '1IVANOV/IVAN',
      'ENDPNL',
    ].join('\n');
    const { rejects, surnames, verdicts } = await deliver([
      ftlInput('m.ftl', `${pnl}\n${P1}${P2}${P3}`, NIGHT1),
    ]);
    expect(rejects.map((r) => [r.line, r.lines, r.reason])).toEqual([[1, 7, 'NOT_FTL']]);
    expect(surnames).toHaveLength(3);
    expect(verdicts[0]!.verdict).toBe('accepted');
  });

  it('rejects text after the END line but keeps the message', async () => {
    const { rejects, surnames } = await deliver([
      ftlInput('t.ftl', `${P1}${P2}${P3}\r\nTHANK YOU\r\n-AER01Y\r\n`, NIGHT1),
    ]);
    expect(surnames).toHaveLength(3);
    expect(rejects.map((r) => [r.line, r.lines, r.reason])).toEqual([[26, 2, 'OUTSIDE_MESSAGE']]);
  });

  it('rejects a part cut short by the next message, and reads the next message', async () => {
    const cut = P1.replace('ENDPART1\r\n', '');
    const { rejects, surnames, result } = await deliver([
      ftlInput('t.ftl', cut + part(1, true, [['SOLO', '1000000016']], 'XX300/03JUN SVO'), NIGHT1),
    ]);
    expect(surnames).toEqual(['SOLO']);
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([
      [4, 'MISSING_END'],
      [6, 'MISSING_END'],
    ]);
    expect(result.held).toEqual([]);
  });

  it('rejects a part that ends with the file without its END line', async () => {
    const { rejects, verdicts } = await deliver([ftlInput('t.ftl', P1.replace('ENDPART1\r\n', ''), NIGHT1)]);
    expect(rejects.map((r) => r.reason)).toEqual(['MISSING_END', 'MISSING_END']);
    expect(verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'MISSING_END' });
  });

  it('rejects a part far over the size of the format in constant memory', async () => {
    const people: [string, string][] = [];
    for (let i = 0; i < MAX_PART_LINES; i++)
      people.push([`P${'ABCDEFGHIJ'[i % 10]}X`, String(1_000_000_000 + i)]);
    const { rejects, records, verdicts } = await deliver([
      ftlInput('big.ftl', part(1, true, people) + P1 + P2 + P3, NIGHT1),
    ]);
    expect(records).toHaveLength(3);
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatchObject({ line: 1, reason: 'PART_TOO_LONG', lines: 2 * MAX_PART_LINES + 6 });
    expect(verdicts[0]!.verdict).toBe('accepted');
  });
});

describe('faults outside the data', () => {
  it('throws a RedeyeError when the stream fails, naming the file', async () => {
    const failing: ParseInput = {
      name: 'broken.ftl',
      receivedAt: new Date(NIGHT1),
      open: () =>
        new Readable({
          read() {
            this.destroy(new Error('connection reset'));
          },
        }),
    };
    await expect(collect(ftlParser.parse([failing]))).rejects.toMatchObject({
      code: 'STREAM_FAILED',
      context: { file: 'broken.ftl', feed: 'ftl' },
    });
    const cannotOpen: ParseInput = {
      ...failing,
      open: () => {
        throw new Error('no such file');
      },
    };
    await expect(collect(ftlParser.parse([cannotOpen]))).rejects.toBeInstanceOf(RedeyeError);
  });

  it('refuses a receipt time it cannot place in the calendar, naming the file', async () => {
    const input = ftlInput('x.ftl', P1, new Date(Number.NaN));
    await expect(collect(ftlParser.parse([input]))).rejects.toMatchObject({
      code: 'BAD_INPUT',
      context: { file: 'x.ftl' },
    });
    const far = ftlInput('y.ftl', P1, new Date('+012024-06-03T00:00:00Z'));
    await expect(collect(ftlParser.parse([far]))).rejects.toBeInstanceOf(RedeyeError);
  });

  it('refuses an unknown encoding before reading anything', () => {
    expect(() => new FtlAssembler({ encoding: 'klingon-8' })).toThrow(RedeyeError);
  });

  it('drives the same delivery through readFile and end as through parse', async () => {
    const assembler = new FtlAssembler();
    const events = [];
    for (const input of [ftlInput('p2.ftl', P2, NIGHT1), ftlInput('p1.ftl', P1, NIGHT1)]) {
      for await (const ev of assembler.readFile(input)) events.push(ev);
    }
    for (const ev of assembler.end()) events.push(ev);
    expect(events.filter((e) => e.type === 'record')).toHaveLength(2);
    expect(assembler.result().held.map((h) => h.part)).toEqual([2, 1]);
    expect(() => new FtlAssembler().result()).toThrow(RedeyeError);
  });

  it('stops reading and closes the file when the consumer stops early', async () => {
    let destroyed = false;
    const input: ParseInput = {
      name: 'long.ftl',
      receivedAt: new Date(NIGHT1),
      open: () => {
        const stream = Readable.from([Buffer.from(P1 + P2 + P3), Buffer.from(P1)]);
        stream.on('close', () => {
          destroyed = true;
        });
        return stream;
      },
    };
    for await (const ev of ftlParser.parse([input])) if (ev.type === 'record') break;
    await new Promise((resolve) => setImmediate(resolve));
    expect(destroyed).toBe(true);
  });
});
