/**
 * Properties over generated input: whatever the bytes, the parser never throws and accounts for every
 * line; whatever the passengers, what the writer writes the parser reads back; the fast paths of the
 * hot loop give the answers of the general readings.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LineAccount, ParseEvent, ParseInput } from '../types.js';
import { readCardCore, readFqtCard, readNameElement, readNameElementFully, splitTitle } from './grammar.js';
import {
  FtlAssembler,
  encodeFtl,
  writeFtlMessage,
  type FtlCardUsage,
  type FtlPassenger,
  type FtlWriterCard,
  type FtlWriterMessage,
  type FtlWriterPassenger,
  type CompletedFtlMessage,
  type FtlFileMeta,
  type HeldFtlPart,
} from './index.js';
import { collect, ftlInput } from './testing.js';

const RUNS = Number(process.env.FTL_PROPERTY_RUNS ?? 150);

function balanced(a: LineAccount): boolean {
  return a.recordLines + a.rejectLines + a.structureLines + a.blankLines === a.lines;
}

/** The invariants every delivery keeps, whatever its content. */
function checkDelivery(inputs: ParseInput[], events: ParseEvent<FtlPassenger>[]): void {
  const verdicts = events.filter((e) => e.type === 'verdict');
  expect(verdicts.map((v) => v.file).sort()).toEqual(inputs.map((i) => i.name).sort());
  for (const v of verdicts) {
    expect(balanced(v.account)).toBe(true);
    const own = events.filter((e) => e.type !== 'verdict' && e.file === v.file);
    expect(own.filter((e) => e.type === 'record')).toHaveLength(v.account.records);
    expect(own.filter((e) => e.type === 'reject')).toHaveLength(v.account.rejects);
    const lines = own.reduce((n, e) => n + (e.type === 'verdict' ? 0 : (e.lines ?? 1)), 0);
    expect(lines).toBe(v.account.recordLines + v.account.rejectLines);
    // Nothing of a file comes after its verdict.
    expect(events.slice(events.indexOf(v) + 1).some((e) => e.type !== 'verdict' && e.file === v.file)).toBe(
      false,
    );
  }
}

async function deliver(inputs: ParseInput[], encoding?: string) {
  const assembler = new FtlAssembler({ encoding });
  const { all } = await collect(assembler.parse(inputs));
  checkDelivery(inputs, all);
  // Read in runs (as the nightly ingest reads), the same events in the same order.
  const runs: ParseEvent<FtlPassenger>[] = [];
  for await (const run of new FtlAssembler({ encoding }).parseRuns(inputs)) {
    expect(run.length).toBeGreaterThan(0);
    runs.push(...run);
  }
  expect(runs).toEqual(all);
  return { all, result: assembler.result() };
}

/** Lines an FTL file is made of, well formed or not, to shuffle into arbitrary files. */
const FTL_LINES = [
  'QU MOWKTXX',
  'MOWKTXX',
  '.MOWRMXX 281530',
  'FTL',
  ' FTL ',
  'PNL',
  'XX101/28MAY DME PART1',
  'XX101/28MAY DME PART2',
  'XX101/31FEB DME PART1',
  'ENDPART1',
  'ENDPART2',
  'ENDFTL',
  'ENDPNL',
  'NIL',
  '-LED02Y',
  '-LEDXXY',
  '-DME01Y',
  '1IVANOV/IVAN MR',
  '2SMITH/JOHN MR/ANNA MRS',
  '1FOX/ALANMR .R/FQTV AI 43214321',
  '1',
  '1IVANOV',
  '.L/0M71MG/XX',
  '.L/',
  '.M/SU6120Y12LEDSVX',
  '.M/BAD',
  '.R/FQTV XX 1000000016',
  '.R/FQTV HK1 XX 1000000081-B',
  '.R/FQTU XX 1000000081-UPGRADE CONFIRMED AT CHECK-IN BY AGENT 4471 FOR',
  '.RN/ OPERATIONAL REASONS',
  '.R/FQTV XX',
  '.F/XX 1000000032/GOLD',
  '.I/SU1234Y27MAY',
  '. NOT AN ELEMENT',
  'RANDOM TEXT',
  '',
  '   ',
  '1СМИРНОВ/АНДРЕЙ',
  '\u0000\u0007',
];

describe('any input', () => {
  it('never throws on arbitrary bytes and accounts for every line', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1, max: 64 }),
        async (bytes, chunk) => {
          await deliver([ftlInput('bytes.ftl', bytes, '2024-05-28T21:00:00Z', chunk)]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('never throws on shuffled FTL lines, line endings and encodings, over several files', async () => {
    const file = fc.record({
      lines: fc.array(
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...FTL_LINES) },
          { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
          { weight: 1, arbitrary: fc.constantFrom(...FTL_LINES).map((l) => `  ${l}  `) },
        ),
        { maxLength: 60 },
      ),
      eol: fc.constantFrom('\r\n', '\n', '\r'),
      chunk: fc.integer({ min: 1, max: 200 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(file, { minLength: 1, maxLength: 3 }),
        fc.constantFrom('utf-8', 'cp866', 'windows-1251'),
        async (files, encoding) => {
          const inputs = files.map((f, i) =>
            ftlInput(`f${i}.ftl`, encodeFtl(f.lines.join(f.eol), encoding), '2024-05-28T21:00:00Z', f.chunk),
          );
          await deliver(inputs, encoding);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Writer → parser

const LATIN = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const CYRILLIC = 'АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ';

const word = (alphabet: string, max: number) =>
  fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: max }).map((cs) => cs.join(''));

/** Names that read back unchanged: within the line, and not ending in something that reads as a title. */
const nameParts = fc
  .constantFrom(LATIN, CYRILLIC)
  .chain((alphabet) =>
    fc.record({
      surname: fc.array(word(alphabet, 8), { minLength: 1, maxLength: 2 }).map((ws) => ws.join(' ')),
      givenName: fc.array(word(alphabet, 8), { minLength: 1, maxLength: 2 }).map((ws) => ws.join(' ')),
      title: fc.constantFrom(null, 'MR', 'MRS', 'MS', 'DR', 'MSTR', 'MISS'),
    }),
  )
  .filter((n) => n.title !== null || splitTitle(n.givenName).title === null);

const cardArb: fc.Arbitrary<FtlWriterCard> = fc
  .record({
    usage: fc.constantFrom<FtlCardUsage>('FQTV', 'FQTU', 'FQTR', 'FQTS'),
    program: fc.constantFrom('XX', 'LH', 'IB', 'SU', 'ЮТ', 'SVR'),
    number: fc
      .tuple(word('0123456789', 12), fc.option(word('ABC', 3), { nil: undefined }))
      .map(([d, l]) => (l ?? '') + d),
    statusCode: fc.constantFrom(null, 'HK1', 'KK2'),
    element: fc.constantFrom<'R' | 'F'>('R', 'R', 'R', 'F'),
    suffix: fc.oneof(
      fc.constant(null),
      fc.constantFrom('-B', '-C', '-EMER', '/SEN', '/GOLD'),
      fc
        .array(fc.constantFrom(...`${LATIN}0123456789 -`), { minLength: 1, maxLength: 140 })
        .map((cs) => `-${cs.join('').trim()}X`),
    ),
  })
  .map((c) =>
    c.element === 'F'
      ? {
          program: c.program,
          number: c.number,
          element: 'F' as const,
          suffix: c.suffix?.startsWith('/') ? c.suffix : null,
        }
      : c,
  );

const passengerArb: fc.Arbitrary<FtlWriterPassenger> = fc
  .record({
    name: nameParts,
    destination: fc.constantFrom('LED', 'AER', 'КЗН'),
    subclass: fc.constantFrom('Y', 'B', 'C', 'Э'),
    pnr: fc.option(
      word(`${LATIN}0123456789`, 6).filter((p) => p.length >= 4),
      { nil: null },
    ),
    pnrAirline: fc.constantFrom(null, 'XX', 'ЮТ'),
    marketing: fc.option(
      fc.record({
        carrier: fc.constantFrom('SU', 'AF'),
        number: fc.integer({ min: 1, max: 99999 }),
        subclass: fc.constantFrom('Y', 'M'),
        day: fc.integer({ min: 1, max: 28 }),
        board: fc.constant('DME'),
        off: fc.constant('LED'),
      }),
      { nil: null },
    ),
    cards: fc.array(cardArb, { minLength: 1, maxLength: 3 }),
    remarks: fc.array(
      fc.oneof(
        fc.record({ code: fc.constant('I'), text: fc.constant('SU1234Y27MAY') }),
        fc.record({ code: fc.constant('R'), text: word('0123456789', 80).map((d) => `TKNE ${d}`) }),
      ),
      { maxLength: 2 },
    ),
  })
  .map((p) => ({
    destination: p.destination,
    subclass: p.subclass,
    surname: p.name.surname,
    givenName: p.name.givenName,
    title: p.name.title,
    pnr: p.pnr,
    pnrAirline: p.pnr === null ? null : p.pnrAirline,
    marketingFlight: p.marketing,
    cards: p.cards,
    remarks: p.remarks,
  }));

/** What the writer puts on the wire, in the order it lists passengers (by group of first appearance). */
function expectedReading(passengers: readonly FtlWriterPassenger[]) {
  const groups = new Map<string, FtlWriterPassenger[]>();
  for (const p of passengers) {
    const key = `${p.destination}/${p.subclass}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups.values()].flat().map((p) => ({
    destination: p.destination,
    subclass: p.subclass,
    surname: p.surname,
    givenName: p.givenName,
    title: p.title ?? null,
    pnr: p.pnr ?? null,
    pnrAirline: p.pnrAirline ?? null,
    marketing: p.marketingFlight
      ? { ...p.marketingFlight, number: String(p.marketingFlight.number), suffix: null }
      : null,
    cards: p.cards.map((c) => ({
      usage: c.element === 'F' ? 'FQTV' : (c.usage ?? 'FQTV'),
      program: c.program,
      number: c.number,
      suffix: c.suffix ?? null,
      statusCode: c.element === 'F' ? null : (c.statusCode ?? null),
      element: c.element ?? 'R',
    })),
    remarks: (p.remarks ?? []).map((r) => ({ code: r.code, text: r.text })),
  }));
}

function reading(r: FtlPassenger) {
  return {
    destination: r.destination,
    subclass: r.subclass,
    surname: r.surname,
    givenName: r.givenName,
    title: r.title,
    pnr: r.pnr,
    pnrAirline: r.pnrAirline,
    marketing: r.marketingFlight
      ? {
          carrier: r.marketingFlight.carrier,
          number: r.marketingFlight.number,
          suffix: r.marketingFlight.suffix,
          subclass: r.marketingFlight.subclass,
          day: r.marketingFlight.day,
          board: r.marketingFlight.board,
          off: r.marketingFlight.off,
        }
      : null,
    cards: r.cards.map((c) => ({
      usage: c.usage,
      program: c.program,
      number: c.number,
      suffix: c.suffix,
      statusCode: c.statusCode,
      element: c.element,
    })),
    remarks: r.remarks.map((x) => ({ code: x.code, text: x.text })),
  };
}

describe('writer → parser', () => {
  it('reads back the passengers written, whatever the part size, line ending, encoding and file order', async () => {
    const messageArb = fc.record({
      passengers: fc.array(passengerArb, { maxLength: 25 }),
      carrier: fc.constantFrom('XX', 'ЮТ', 'S7'),
      number: fc.integer({ min: 1, max: 99999 }),
      // Some groups arrive where the flight boards: refused, never read (a flight goes somewhere).
      board: fc.constantFrom('DME', 'LED', 'КЗН'),
      date: fc.date({
        min: new Date('2024-01-01T00:00:00Z'),
        max: new Date('2026-12-31T00:00:00Z'),
        noInvalidDate: true,
      }),
      maxPartChars: fc.constantFrom(500, 1200, 3000),
      eol: fc.constantFrom<'\r\n' | '\n'>('\r\n', '\n'),
      encoding: fc.constantFrom('utf-8', 'cp866', 'windows-1251'),
      order: fc.func(fc.integer()),
      split: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(messageArb, async (m) => {
        const date = m.date.toISOString().slice(0, 10);
        const message: FtlWriterMessage = {
          flight: { carrier: m.carrier, number: m.number, date, board: m.board },
          passengers: m.passengers,
        };
        const toItself = m.passengers.filter((p) => p.destination === m.board);
        const parts = writeFtlMessage(message, { maxPartChars: m.maxPartChars, lineEnding: m.eol });
        for (const p of parts) {
          const lines = p.split(m.eol).slice(0, -1);
          expect(lines.every((l) => l.length <= 64)).toBe(true);
          if (lines.filter((l) => /^\d/.test(l)).length > 1)
            expect(p.length).toBeLessThanOrEqual(m.maxPartChars);
        }
        const received = new Date(`${date}T23:00:00Z`);
        const shuffled = [...parts].sort((a, b) => m.order(a) - m.order(b));
        const texts = m.split ? shuffled : [shuffled.join('')];
        const inputs = texts.map((t, i) => ftlInput(`w${i}.ftl`, encodeFtl(t, m.encoding), received));
        const { all, result } = await deliver(inputs, m.encoding);
        // Each passenger of a group arriving at the board point is refused (NO_GROUP), and so is the
        // group line, as often as the parts repeat it (MALFORMED_GROUP); nothing else.
        const rejects = all.flatMap((e) => (e.type === 'reject' ? [e] : []));
        expect(rejects.filter((r) => r.reason === 'NO_GROUP')).toHaveLength(toItself.length);
        expect(
          rejects.filter((r) => r.reason !== 'NO_GROUP').map((r) => [r.reason, r.field, r.text]),
        ).toEqual(
          rejects
            .filter((r) => r.reason !== 'NO_GROUP')
            .map(() => ['MALFORMED_GROUP', 'group', expect.stringMatching(`^-${m.board}\\d\\d`)]),
        );
        expect(rejects.some((r) => r.reason === 'MALFORMED_GROUP')).toBe(toItself.length > 0);
        expect(result.held).toEqual([]);
        const records = all.flatMap((e) => (e.type === 'record' ? [e.record] : []));
        const byPart = [...records].sort((a, b) => a.part - b.part);
        expect(byPart.map(reading)).toEqual(
          expectedReading(m.passengers.filter((p) => p.destination !== m.board)),
        );
        expect(records.every((r) => r.destination !== r.flight.board)).toBe(true);
        expect(records.every((r) => r.flight.date === date && !r.held)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('held parts → next delivery', () => {
  it('credits every passenger exactly once when the parts of a message arrive over two nights', async () => {
    const arb = fc.record({
      passengers: fc.array(passengerArb, { minLength: 1, maxLength: 20 }),
      firstNight: fc.func(fc.boolean()),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ passengers, firstNight }) => {
        const message: FtlWriterMessage = {
          flight: { carrier: 'XX', number: 245, date: '2024-06-03', board: 'SVO' },
          passengers,
        };
        const parts = writeFtlMessage(message, { maxPartChars: 500 });
        const night1 = parts.filter((p) => firstNight(p));
        const night2 = parts.filter((p) => !firstNight(p));
        const a1 = new FtlAssembler();
        const d1 = await collect(
          a1.parse(night1.map((t, i) => ftlInput(`n1-${i}.ftl`, t, '2024-06-03T22:00:00Z'))),
        );
        checkDelivery(
          night1.map((_, i) => ftlInput(`n1-${i}.ftl`, '', '2024-06-03T22:00:00Z')),
          d1.all,
        );
        const held = JSON.parse(JSON.stringify(a1.result().held)) as HeldFtlPart[];
        const a2 = new FtlAssembler({}, held);
        const d2 = await collect(
          a2.parse(night2.map((t, i) => ftlInput(`n2-${i}.ftl`, t, '2024-06-04T22:00:00Z'))),
        );
        const credited = [...d1.records, ...d2.records].filter((r) => !r.record.held).map((r) => r.record);
        expect(credited.sort((a, b) => a.part - b.part).map(reading)).toEqual(expectedReading(passengers));
        expect(a2.result().held).toEqual([]);
        // Whatever the first night held was either used the second night or completed the first.
        expect(a2.result().used.length).toBe(night2.length > 0 ? held.length : 0);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it('credits nothing again and holds nothing when parts of a completed message are sent again a later night', async () => {
    const arb = fc.record({
      passengers: fc.array(passengerArb, { minLength: 1, maxLength: 20 }),
      firstNight: fc.func(fc.boolean()),
      again: fc.func(fc.boolean()),
      stamp: fc.integer({ min: 0, max: 2359 }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ passengers, firstNight, again, stamp }) => {
        const message: FtlWriterMessage = {
          flight: { carrier: 'XX', number: 245, date: '2024-06-03', board: 'SVO' },
          passengers,
        };
        const parts = writeFtlMessage(message, { maxPartChars: 500 });
        const nights = [parts.filter((p) => firstNight(p)), parts.filter((p) => !firstNight(p))];
        let held: HeldFtlPart[] = [];
        const completed: CompletedFtlMessage[] = [];
        let credited = 0;
        for (const [n, night] of nights.entries()) {
          const a = new FtlAssembler({}, held, completed);
          const at = `2024-06-0${3 + n}T22:00:00Z`;
          const d = await collect(a.parse(night.map((t, i) => ftlInput(`n${n}-${i}.ftl`, t, at))));
          credited += d.records.filter((r) => !r.record.held).length;
          held = JSON.parse(JSON.stringify(a.result().held)) as HeldFtlPart[];
          completed.push(...(JSON.parse(JSON.stringify(a.result().completed)) as CompletedFtlMessage[]));
        }
        expect(credited).toBe(passengers.length);
        expect(completed.map((c) => [c.message, c.finalPart])).toEqual([
          ['XX245/2024-06-03/SVO', parts.length],
        ]);

        // Some parts come again, under another stamp, days later: duplicates, in a file accepted.
        const chosen = parts.filter((p) => again(p));
        const resent = (chosen.length > 0 ? chosen : parts.slice(0, 1)).map((p) =>
          p.replace(/^(\.[A-Z0-9]{7}) \d{6}$/m, `$1 06${String(stamp).padStart(4, '0')}`),
        );
        const a3 = new FtlAssembler({ asOf: new Date('2024-06-20T22:00:00Z') }, held, completed);
        const inputs = [ftlInput('again.ftl', resent.join(''), '2024-06-06T22:00:00Z')];
        const d3 = await collect(a3.parse(inputs));
        checkDelivery(inputs, d3.all);
        expect(d3.records).toEqual([]);
        expect(new Set(d3.rejects.map((r) => r.reason))).toEqual(new Set(['DUPLICATE_PART']));
        const v = d3.verdicts[0]!;
        expect(v.verdict).toBe('accepted');
        expect((v.meta as unknown as FtlFileMeta).counts.partsDuplicate).toBe(resent.length);
        expect(a3.result()).toMatchObject({ held: [], expired: [], completed: [] });
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Fast paths

/**
 * The card grammar as a specification, in patterns: an optional status code (two letters and up to three
 * digits, or a known bare code), then a 2–3 character program with a letter and a number of up to 25
 * letters/digits with a digit, spaced or glued.
 */
function specCard(text: string) {
  const t = text.slice(5).trimStart();
  const status = /^([A-Z]{2})(\d{0,3}) +(.*)$/.exec(t);
  if (
    status &&
    (status[2] !== '' ||
      [
        'HK',
        'KK',
        'KL',
        'HN',
        'NN',
        'RR',
        'TK',
        'UC',
        'UN',
        'NO',
        'HX',
        'HL',
        'HS',
        'LL',
        'DK',
        'GK',
        'PN',
        'KD',
        'SS',
      ].includes(status[1]!))
  ) {
    const core = specNumber(status[3]!);
    if (core) return { ...core, statusCode: status[1]! + status[2]! };
  }
  return specNumber(t);
}

function specNumber(t: string) {
  const spaced = /^([A-Z0-9А-ЯЁ]{2,3}) +([A-Z0-9]{1,25})(?=$|[ /-])(.*)$/.exec(t);
  if (spaced && /[A-ZА-ЯЁ]/.test(spaced[1]!) && /\d/.test(spaced[2]!)) {
    return { program: spaced[1]!, number: spaced[2]!, statusCode: null, rest: spaced[3]! };
  }
  const glued = /^([A-Z0-9А-ЯЁ]{2})([A-Z0-9А-ЯЁ]{1,26})(?=$|[ /-])(.*)$/.exec(t);
  if (!glued) return null;
  let program = glued[1]!;
  let number = glued[2]!;
  if (/^[A-ZА-ЯЁ]+$/.test(program) && /^[A-ZА-ЯЁ]\d+$/.test(number)) {
    program += number[0];
    number = number.slice(1);
  }
  if (!/[A-ZА-ЯЁ]/.test(program) || number.length > 25 || !/^[A-Z0-9]*\d[A-Z0-9]*$/.test(number)) return null;
  return { program, number, statusCode: null, rest: glued[3]! };
}

describe('fast paths', () => {
  const token = fc.constantFrom(
    'XX',
    'HK1',
    'HK',
    'HX',
    'SVR',
    'S7',
    'ЮТ',
    '12',
    'AB1',
    'XX1',
    '1000000016',
    'A1B2',
    '00000082270497',
    'IB00000082270497',
    'X'.repeat(26),
    '9'.repeat(26),
  );
  const sep = fc.constantFrom(' ', '  ', '-', '/', '-B', '/SEN', '');

  it('reads an FQT card as the card grammar says', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('FQTV', 'FQTU'),
        fc.array(fc.tuple(token, sep), { maxLength: 4 }),
        (usage, pieces) => {
          const text = `${usage} ${pieces.map(([t, s]) => t + s).join('')}`;
          expect(readFqtCard(text)).toEqual(specCard(text));
          expect(readCardCore(text, true, 5)).toEqual(specCard(text));
        },
      ),
      { numRuns: RUNS * 20 },
    );
  });

  it('reads a name element the same through the fast path as through the general reading', () => {
    const piece = fc.constantFrom(
      '1',
      '2',
      '12',
      '0',
      'IVANOV',
      'IVAN',
      'VAN DER',
      ' ',
      '/',
      'MR',
      'MRS',
      'ALANMR',
      "O'NEIL",
      '-',
      '.',
      ' .L/0M71MG',
      'СМИРНОВ',
      'Ё',
      'é',
      '\u0483',
      '7',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const text = pieces.join('').trim();
        expect(readNameElement(text)).toEqual(readNameElementFully(text));
      }),
      { numRuns: RUNS * 20 },
    );
  });
});
