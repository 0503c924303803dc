/**
 * The dialect of formats/ftl.md, feature by feature, through the parser as the ingest job uses it.
 */
import { describe, expect, it } from 'vitest';
import type { LineAccount } from '../types.js';
import { LINE_WIDTH, ftlParser, type FtlFileMeta, type FtlParseOptions, type FtlPassenger } from './index.js';
import { collect, ftlInput } from './testing.js';

const RECEIVED = '2024-05-28T21:00:00Z';

/** A one-part message around `body` (envelope, identifier, flight line, END). */
function message(body: string[], flight = 'XX101/28MAY DME PART1', end = 'ENDFTL'): string[] {
  return ['MOWKTXX', '.MOWRMXX 281530', 'FTL', flight, ...body, end];
}

async function read(lines: string[] | string, options?: FtlParseOptions, eol = '\n', receivedAt = RECEIVED) {
  const text = typeof lines === 'string' ? lines : lines.join(eol) + eol;
  const got = await collect(ftlParser.parse([ftlInput('t.ftl', text, receivedAt)], options));
  for (const v of got.verdicts) expect(balanced(v.account), `account of ${v.file}`).toBe(true);
  return { ...got, passengers: got.records.map((r) => r.record) };
}

function balanced(a: LineAccount): boolean {
  return a.recordLines + a.rejectLines + a.structureLines + a.blankLines === a.lines;
}

async function one(body: string[], options?: FtlParseOptions): Promise<FtlPassenger> {
  const { passengers } = await read(message(body), options);
  expect(passengers).toHaveLength(1);
  return passengers[0]!;
}

const GROUP = '-LED01Y';

describe('envelope and flight line', () => {
  it.each([
    ['ABC1234/28MAY DME PART1', { carrier: 'ABC', number: '1234', suffix: null }],
    ['U6123/28MAY DME PART1', { carrier: 'U6', number: '123', suffix: null }],
    ['XX101A/28MAY DME PART1', { carrier: 'XX', number: '101', suffix: 'A' }],
    ['XX007/28MAY DME PART1', { carrier: 'XX', number: '7', numberRaw: '007' }],
    ['ЮТ371/28MAY ВНК PART1', { carrier: 'ЮТ', number: '371', board: 'ВНК' }],
    ['XX101/28МАЙ DME PART1', { carrier: 'XX', date: '2024-05-28', dateRaw: '28МАЙ' }],
    ['XX101/28MAY  DME  PART 1', { carrier: 'XX', board: 'DME' }],
  ])('reads the flight line %s', async (flight, expected) => {
    const { passengers } = await read(message([GROUP, '1IVANOV/IVAN MR', '.R/FQTV XX 1000000016'], flight));
    expect(passengers[0]!.flight).toMatchObject(expected);
  });

  it('reads a flight line without PARTn as part 1', async () => {
    const { passengers } = await read(
      message([GROUP, '1IVANOV/IVAN', '.R/FQTV XX 1000000016'], 'XX101/28MAY DME'),
    );
    expect(passengers[0]!.part).toBe(1);
  });

  it('accepts a priority line with several addresses, address lines alone, or no envelope at all', async () => {
    const body = ['FTL', 'XX101/28MAY DME PART1', GROUP, '1IVANOV/IVAN', '.R/FQTV XX 1000000016', 'ENDFTL'];
    for (const envelope of [
      ['QU MOWKTXX LEDKKXX', '.MOWRMXX 281530'],
      ['MOWKTXX LEDKKXX', 'AERKKXX'],
      ['QU'],
      [],
    ]) {
      const { passengers, verdicts } = await read([...envelope, ...body]);
      expect(passengers).toHaveLength(1);
      expect(verdicts[0]!.verdict).toBe('accepted');
    }
  });

  it('accepts the identifier with spaces around it, and lines with leading or trailing spaces', async () => {
    const { passengers } = await read([
      '  MOWKTXX ',
      ' .MOWRMXX 281530',
      '  FTL  ',
      ' XX101/28MAY DME PART1 ',
      ' -LED01Y',
      '1IVANOV/IVAN MR  ',
      '   .R/FQTV XX 1000000016 ',
      ' ENDFTL ',
    ]);
    expect(passengers[0]).toMatchObject({ surname: 'IVANOV', givenName: 'IVAN', title: 'MR' });
    expect(passengers[0]!.accrualCard?.number).toBe('1000000016');
  });

  it.each([
    ['a day that does not exist', 'XX101/31APR DME PART1'],
    ['a designator without a letter', '12101/28MAY DME PART1'],
    ['no board point', 'XX101/28MAY PART1'],
    ['an unknown month', 'XX101/28XYZ DME PART1'],
  ])('rejects the part whole when the flight line has %s', async (_what, flight) => {
    const { passengers, rejects, verdicts } = await read(
      message([GROUP, '1IVANOV/IVAN', '.R/FQTV XX 1000000016'], flight),
    );
    expect(passengers).toEqual([]);
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([
      [4, 'MALFORMED_HEADER'],
      [6, 'MALFORMED_HEADER'],
    ]);
    expect(verdicts[0]).toMatchObject({ verdict: 'rejected', reason: 'MALFORMED_HEADER' });
  });

  it('resolves the originator stamp against the receipt time', async () => {
    const p = await one([GROUP, '1IVANOV/IVAN', '.R/FQTV XX 1000000016']);
    expect(p.originator).toEqual({ address: 'MOWRMXX', stamp: '281530', sentAt: '2024-05-28T15:30:00Z' });
  });
});

describe('destination groups', () => {
  it('reads the arrival airport, count and flown subclass; a count over 99 too', async () => {
    const { passengers, verdicts } = await read(
      message([
        '-LED120Y',
        '1IVANOV/IVAN',
        '.R/FQTV XX 1000000016',
        '-КЗН01Э',
        '1ПЕТРОВ/ИВАН',
        '.R/FQTV XX 1000000024',
      ]),
    );
    expect(passengers.map((p) => [p.destination, p.subclass])).toEqual([
      ['LED', 'Y'],
      ['КЗН', 'Э'],
    ]);
    expect((verdicts[0]!.meta as unknown as FtlFileMeta).messages[0]!.groupCountMismatches).toEqual([]);
  });

  it('reports a declared count that differs from the passengers read, without rejecting anyone', async () => {
    const { passengers, verdicts } = await read(
      message(['-LED03Y', '1IVANOV/IVAN', '.R/FQTV XX 1000000016']),
    );
    expect(passengers).toHaveLength(1);
    const fact = (verdicts[0]!.meta as unknown as FtlFileMeta).messages[0]!;
    expect(fact.groupCountMismatches).toEqual([{ destination: 'LED', subclass: 'Y', declared: 3, read: 1 }]);
  });

  it('refuses a group arriving at the board point (XX999/25OCT DME, -DME01Y) as it refuses a bad group: the line and its passengers', async () => {
    const { passengers, rejects, verdicts } = await read(
      message(
        [
          '-DME01Y',
          '1IVANOV/IVAN',
          '.R/FQTV XX 1000000016',
          '-LED01Y',
          '1PETROVA/ANNA',
          '.R/FQTV XX 1000000024',
        ],
        'XX999/25OCT DME PART1',
      ),
      undefined,
      '\n',
      '2024-10-26T21:00:00Z',
    );
    expect(passengers.map((p) => [p.surname, p.destination, p.flight.board])).toEqual([
      ['PETROVA', 'LED', 'DME'],
    ]);
    expect(rejects.map((r) => [r.line, r.lines, r.field, r.reason, r.text])).toEqual([
      [5, 1, 'group', 'MALFORMED_GROUP', '-DME01Y'],
      [6, 2, '*', 'NO_GROUP', '1IVANOV/IVAN'],
    ]);
    expect(rejects[0]!.message).toMatch(/the destination DME is the flight's board point/);
    expect(rejects[1]!.message).toMatch(/line 5\) names the board point DME as its destination/);
    // Every line accounted for: 3 read (PETROVA and her group), 3 refused, 5 of structure.
    expect(verdicts[0]).toMatchObject({ verdict: 'accepted' });
    expect(verdicts[0]!.account).toMatchObject({ lines: 11, records: 1, rejects: 2, rejectLines: 3 });
    // The group refused is not counted against its declared count.
    expect((verdicts[0]!.meta as unknown as FtlFileMeta).messages[0]!.groupCountMismatches).toEqual([]);
  });

  it('rejects a passenger listed before any group line', async () => {
    const { passengers, rejects } = await read(message(['1IVANOV/IVAN', '.R/FQTV XX 1000000016']));
    expect(passengers).toEqual([]);
    expect(rejects.map((r) => [r.line, r.lines, r.reason])).toEqual([[5, 2, 'NO_GROUP']]);
  });
});

describe('names', () => {
  it.each([
    ['1IVANOV/IVAN MR', 'IVANOV', 'IVAN', 'MR'],
    ['1FOX/ALANMR', 'FOX', 'ALAN', 'MR'],
    ['1PETROVA/ANNAMRS', 'PETROVA', 'ANNA', 'MRS'],
    ['1SMITH/JOHN DR', 'SMITH', 'JOHN', 'DR'],
    ['1LEE/JAMES MSTR', 'LEE', 'JAMES', 'MSTR'],
    ['1ROSSI/GIULIA MISS', 'ROSSI', 'GIULIA', 'MISS'],
    ['1IVANOV/ALEXANDR', 'IVANOV', 'ALEXANDR', null],
    ['1HASSAN/AMR', 'HASSAN', 'AMR', null],
    ['1IVANOVA/MRS', 'IVANOVA', '', 'MRS'],
    ['1ORLOVA/E', 'ORLOVA', 'E', null],
    ['1ORLOVA/EMRS', 'ORLOVA', 'E', 'MRS'],
    ['1VAN DER BERG/ANNA MARIA MS', 'VAN DER BERG', 'ANNA MARIA', 'MS'],
    ["1O'NEIL-SMITH/MARY", "O'NEIL-SMITH", 'MARY', null],
    ['1СМИРНОВ/АНДРЕЙ АНАТОЛЬЕВИЧ', 'СМИРНОВ', 'АНДРЕЙ АНАТОЛЬЕВИЧ', null],
  ])('reads %s as surname, given name and title', async (line, surname, givenName, title) => {
    const p = await one([GROUP, line, '.R/FQTV XX 1000000016']);
    expect(p).toMatchObject({ surname, givenName, title, nameRaw: line.slice(1) });
  });

  it('reads a multi-name element, applying each associated card to its own passenger', async () => {
    const { passengers, records } = await read(
      message([
        '-LED02Y',
        '2SMITH/JOHN MR/ANNA MRS',
        '.L/0Z1234/XX',
        '.R/FQTV XX 1000000016-1SMITH/JOHN',
        '.R/FQTV XX 1000000024-1SMITH/A',
        '.R/FQTR XX 1000000032',
      ]),
    );
    expect(passengers.map((p) => [p.givenName, p.title, p.nameIndex, p.nameCount, p.pnr])).toEqual([
      ['JOHN', 'MR', 1, 2, '0Z1234'],
      ['ANNA', 'MRS', 2, 2, '0Z1234'],
    ]);
    expect(passengers[0]!.cards.map((c) => c.number)).toEqual(['1000000016', '1000000032']);
    expect(passengers[1]!.cards.map((c) => c.number)).toEqual(['1000000024', '1000000032']);
    expect(passengers[0]!.cards[0]).toMatchObject({ association: '1SMITH/JOHN', suffixKind: 'association' });
    // The lines are accounted once, with the first name.
    expect(records.map((r) => r.lines)).toEqual([5, 0]);
  });

  it('keeps a card whose association matches no name on every name, with a warning', async () => {
    const { passengers } = await read(
      message(['-LED02Y', '2SMITH/JOHN/ANNA', '.R/FQTV XX 1000000016-1JONES/PAUL']),
    );
    expect(passengers).toHaveLength(2);
    expect(
      passengers.every((p) => p.cards.length === 1 && p.warnings.includes('ASSOCIATION_UNMATCHED')),
    ).toBe(true);
  });

  it('reads a name element whose count differs from its names, with a warning', async () => {
    const { passengers } = await read(message(['-LED02Y', '3SMITH/JOHN/ANNA', '.R/FQTV XX 1000000016']));
    expect(passengers).toHaveLength(2);
    expect(passengers[0]!.warnings).toContain('NAME_COUNT_MISMATCH');
  });

  it.each([['1IVANOV'], ['1'], ['0IVANOV/IVAN'], ['1IVANOV/'], ['1IVAN0V/IVAN'], ['1234IVANOV/IVAN']])(
    'rejects the name line %s and every element after it until the next name',
    async (line) => {
      const { passengers, rejects } = await read(
        message([
          GROUP,
          line,
          '.L/0M71MG/XX',
          '.R/FQTV XX 1000000016',
          '1PETROV/PAVEL',
          '.R/FQTV XX 1000000024',
        ]),
      );
      expect(passengers.map((p) => p.surname)).toEqual(['PETROV']);
      expect(rejects.map((r) => [r.line, r.reason])).toEqual([
        [6, 'MALFORMED_NAME'],
        [7, 'NO_PASSENGER'],
        [8, 'NO_PASSENGER'],
      ]);
    },
  );

  it.each([
    ['1IVAN0V/IVAN', 'the surname is not a name'],
    ['1IVANOV/IVAN/PETR0VNA', 'a given name is not a name'],
  ])("keeps the refused name %s out of the reject's message, in its text alone", async (line, why) => {
    const { rejects } = await read(message([GROUP, line]));
    expect(rejects).toEqual([
      expect.objectContaining({
        reason: 'MALFORMED_NAME',
        message: `${why}: expected 1SURNAME/GIVEN NAMES [TITLE]`,
        text: line,
      }),
    ]);
  });
});

describe('elements', () => {
  it('reads elements inline on the name line, and on lines of their own', async () => {
    const p = await one([GROUP, '1FOX/ALANMR .L/0M71MG/XX .R/FQTV AI 43214321', '.R/FQTV XX 1000000016']);
    expect(p).toMatchObject({
      surname: 'FOX',
      givenName: 'ALAN',
      title: 'MR',
      pnr: '0M71MG',
      pnrAirline: 'XX',
    });
    expect(p.cards.map((c) => [c.program, c.number])).toEqual([
      ['AI', '43214321'],
      ['XX', '1000000016'],
    ]);
    expect(p.accrualCard?.program).toBe('XX');
  });

  it('treats a dot not followed by a code and a slash as part of the name', async () => {
    const p = await one([GROUP, '1ST. JOHN/MARY', '.R/FQTV XX 1000000016']);
    expect(p.surname).toBe('ST. JOHN');
  });

  it('reads the PNR with and without its airline; a malformed one is rejected alone', async () => {
    expect((await one([GROUP, '1IVANOV/IVAN', '.L/0M71MG', '.R/FQTV XX 1000000016'])).pnrAirline).toBeNull();
    const { passengers, rejects } = await read(
      message([GROUP, '1IVANOV/IVAN', '.L/0M71MG/XXXX', '.R/FQTV XX 1000000016']),
    );
    expect(passengers[0]!.pnr).toBeNull();
    expect(passengers[0]!.accrualCard?.number).toBe('1000000016');
    expect(rejects.map((r) => [r.line, r.reason, r.field])).toEqual([[7, 'MALFORMED_ELEMENT', '.L/']]);
  });

  it('keeps a second PNR as a remark with a warning', async () => {
    const p = await one([GROUP, '1IVANOV/IVAN', '.L/0M71MG/XX', '.L/0M71MH/SU', '.R/FQTV XX 1000000016']);
    expect(p.pnr).toBe('0M71MG');
    expect(p.remarks).toEqual([{ code: 'L', text: '0M71MH/SU', line: 8 }]);
    expect(p.warnings).toContain('DUPLICATE_ELEMENT');
  });

  it('reads the marketing flight and places its day next to the operating date', async () => {
    const { passengers } = await read(
      message(
        [GROUP, '1IVANOV/IVAN', '.M/SU5402Y31DMELED', '.R/FQTV XX 1000000016'],
        'XX101/01JUN DME PART1',
      ),
      undefined,
      '\n',
      '2024-06-01T21:00:00Z',
    );
    expect(passengers[0]!.marketingFlight).toEqual({
      carrier: 'SU',
      number: '5402',
      numberRaw: '5402',
      suffix: null,
      subclass: 'Y',
      day: 31,
      date: '2024-05-31',
      board: 'DME',
      off: 'LED',
      raw: 'SU5402Y31DMELED',
    });
  });

  it('keeps other remarks and elements with the passenger', async () => {
    const p = await one([
      GROUP,
      '1IVANOV/IVAN',
      '.R/TKNE 5551234567890',
      '.I/SU1234Y27MAY',
      '.R/FQTV XX 1000000016',
    ]);
    expect(p.remarks).toEqual([
      { code: 'R', text: 'TKNE 5551234567890', line: 7 },
      { code: 'I', text: 'SU1234Y27MAY', line: 8 },
    ]);
  });

  it('rejects an element that comes before any passenger', async () => {
    const { rejects } = await read(
      message([
        GROUP,
        '.L/0M71MG/XX',
        '.R/FQTV XX 1000000016',
        '.RN/MORE',
        '1IVANOV/IVAN',
        '.R/FQTV XX 1000000024',
      ]),
    );
    expect(rejects.map((r) => [r.line, r.lines, r.reason])).toEqual([
      [6, 1, 'NO_PASSENGER'],
      [7, 2, 'NO_PASSENGER'],
    ]);
  });

  it('rejects a line of no known shape, and reads the passenger around it', async () => {
    const { passengers, rejects } = await read(
      message([GROUP, '1IVANOV/IVAN', 'GARBAGE HERE', '.R/FQTV XX 1000000016']),
    );
    expect(passengers[0]!.accrualCard?.number).toBe('1000000016');
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([[7, 'MALFORMED_LINE']]);
  });
});

describe('frequent-traveller remarks', () => {
  const card = async (remark: string, options?: FtlParseOptions) => {
    const p = await one([GROUP, '1IVANOV/IVAN', remark], options);
    return p.cards[0]!;
  };

  it.each([
    [
      '.R/FQTV XX 1000000016',
      { usage: 'FQTV', program: 'XX', number: '1000000016', statusCode: null, suffix: null },
    ],
    ['.R/FQTV HK1 XX 1000000081', { program: 'XX', number: '1000000081', statusCode: 'HK1' }],
    ['.R/FQTV HK XX 1000000081', { program: 'XX', number: '1000000081', statusCode: 'HK' }],
    ['.R/FQTR IB00000082270497', { usage: 'FQTR', program: 'IB', number: '00000082270497' }],
    ['.R/FQTV SVR12345', { program: 'SVR', number: '12345' }],
    ['.R/FQTV ABC 0000123', { program: 'ABC', number: '0000123' }],
    ['.R/FQTS LH 992001234567890/SEN', { usage: 'FQTS', suffix: '/SEN', suffixKind: 'tier', tier: 'SEN' }],
    ['.R/FQTV BA 12345678-EMER', { suffix: '-EMER', suffixKind: 'tier', tier: 'EMER' }],
    ['.R/FQTV XX 0000123455-B', { number: '0000123455', suffixKind: 'bookedSubclass', bookedSubclass: 'B' }],
    ['.R/FQTU XX 1000000081-C', { usage: 'FQTU', suffixKind: 'text', text: 'C', bookedSubclass: null }],
    ['.R/FQTV XX 1000000016 GOLD MEMBER', { suffix: 'GOLD MEMBER', suffixKind: 'text', text: 'GOLD MEMBER' }],
    ['.R/FQTV XX A1B2C3', { number: 'A1B2C3' }],
  ])('reads %s', async (remark, expected) => {
    expect(await card(remark)).toMatchObject({ ...expected, raw: remark, element: 'R' });
  });

  it('takes the booked subclass from the FQTV suffix, the flown one from the group', async () => {
    const p = await one(['-LED01W', '1GARCIA/LUIS MR', '.R/FQTV XX 0000123455-B']);
    expect(p).toMatchObject({ subclass: 'W', bookedSubclass: 'B' });
  });

  it('reads a PFS-style .F/ element as an FQTV card', async () => {
    expect(await card('.F/XX 1000000032/GOLD')).toMatchObject({
      usage: 'FQTV',
      element: 'F',
      program: 'XX',
      number: '1000000032',
      tier: 'GOLD',
      raw: '.F/XX 1000000032/GOLD',
    });
  });

  it('tells own-program cards from partner cards by the configured program codes', async () => {
    const p = await one([GROUP, '1IVANOV/IVAN', '.R/FQTV LH 992001234567890', '.R/FQTV ЮТ 12345678'], {
      ownPrograms: ['ЮТ'],
    });
    expect(p.cards.map((c) => [c.program, c.own])).toEqual([
      ['LH', false],
      ['ЮТ', true],
    ]);
    expect(p.partnerCards.map((c) => c.program)).toEqual(['LH']);
    expect(p.accrualCard?.program).toBe('ЮТ');
  });

  it('earns on a partner card when there is no own card, and notes a passenger with no accrual card', async () => {
    expect((await one([GROUP, '1IVANOV/IVAN', '.R/FQTV LH 992001234567890'])).accrualCard?.program).toBe(
      'LH',
    );
    const p = await one([GROUP, '1IVANOV/IVAN', '.R/FQTU XX 1000000016']);
    expect(p.accrualCard).toBeNull();
    expect(p.warnings).toEqual(['NO_ACCRUAL_CARD']);
  });

  it.each([
    ['.R/FQTV XX'],
    ['.R/FQTV 1000000016'],
    ['.R/FQTV XX 12345678901234567890123456'],
    ['.R/FQTV XX ABCDEF'],
    ['.R/FQTVXX 123'],
  ])('rejects the malformed remark %s but still reads the passenger', async (remark) => {
    const { passengers, rejects } = await read(
      message([GROUP, '1IVANOV/IVAN', remark, '.R/FQTV XX 1000000016']),
    );
    expect(passengers[0]!.cards.map((c) => c.number)).toEqual(['1000000016']);
    if (remark.startsWith('.R/FQTVXX')) {
      // Not an FQT remark at all: kept as a remark.
      expect(rejects).toEqual([]);
      expect(passengers[0]!.remarks[0]!.text).toBe('FQTVXX 123');
    } else {
      expect(rejects.map((r) => [r.line, r.reason])).toEqual([[7, 'MALFORMED_REMARK']]);
    }
  });

  it('joins .RN/ continuations by plain concatenation, mid-word', async () => {
    const p = await one([
      GROUP,
      '1IVANOV/IVAN',
      '.R/FQTU XX 1000000081-UPGRADE CONFIRMED AT CHECK-IN BY AGENT 447',
      '.RN/1 FOR OPER',
      '.RN/ATIONAL REASONS',
    ]);
    expect(p.cards[0]!.text).toBe('UPGRADE CONFIRMED AT CHECK-IN BY AGENT 4471 FOR OPERATIONAL REASONS');
  });

  it('keeps the space a 64-character line was cut after', async () => {
    const words = 'UPGRADE CONFIRMED AT CHECK-IN BY AGENT NO';
    const first = `.R/FQTU XX 1000000081-${words} `;
    expect(first.length).toBe(LINE_WIDTH);
    const p = await one([GROUP, '1IVANOV/IVAN', first, '.RN/4471']);
    expect(p.cards[0]!.text).toBe(`${words} 4471`);
  });

  it('continues a remark that stands inline on the name line', async () => {
    const p = await one([GROUP, '1IVANOV/IVAN .R/FQTU XX 1000000081-UPGRA', '.RN/DE OK']);
    expect(p.cards[0]!.text).toBe('UPGRADE OK');
  });

  it('rejects a continuation that follows no remark', async () => {
    const { passengers, rejects } = await read(
      message([GROUP, '1IVANOV/IVAN', '.L/0M71MG/XX', '.RN/STRAY', '.R/FQTV XX 1000000016']),
    );
    expect(passengers[0]!.accrualCard?.number).toBe('1000000016');
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([[8, 'MALFORMED_REMARK']]);
  });
});

describe('lines', () => {
  const body = message([GROUP, '1IVANOV/IVAN MR', '.L/0M71MG/XX', '.R/FQTV XX 1000000016']);

  it('reads CR LF, LF and stray CR line endings alike', async () => {
    const expected = (await read(body, undefined, '\n')).passengers;
    expect((await read(body, undefined, '\r\n')).passengers).toEqual(expected);
    expect((await read(body, undefined, '\r')).passengers).toEqual(expected);
    expect((await read(body.join('\r') + '\n')).passengers).toEqual(expected);
  });

  it('counts blank lines after the END line and inside the body as blank', async () => {
    const { verdicts, passengers } = await read(
      [...message([GROUP, '', '1IVANOV/IVAN', '', '.R/FQTV XX 1000000016']), '', '', ''].join('\n'),
    );
    expect(passengers).toHaveLength(1);
    expect(verdicts[0]!.account).toMatchObject({
      lines: 12,
      blankLines: 4,
      recordLines: 2,
      structureLines: 6,
    });
  });

  it('reads lines over 64 characters, and notes them', async () => {
    const long = `1IVANOV/${'IVAN'.repeat(20)}`;
    const { passengers, verdicts } = await read(message([GROUP, long, '.R/FQTV XX 1000000016']));
    expect(passengers[0]!.warnings).toContain('LONG_LINE');
    expect((verdicts[0]!.meta as unknown as FtlFileMeta).counts.longLines).toBe(1);
  });

  it('rejects a line over 4096 characters without holding it whole', async () => {
    const { passengers, rejects } = await read(
      message([GROUP, '1IVANOV/IVAN', `.R/TKNE ${'9'.repeat(100_000)}`, '.R/FQTV XX 1000000016']),
    );
    expect(passengers[0]!.accrualCard?.number).toBe('1000000016');
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([[7, 'LINE_TOO_LONG']]);
    expect(rejects[0]!.text.length).toBeLessThan(300);
  });

  it('reads a NIL body as a complete message without passengers', async () => {
    const { passengers, verdicts } = await read(message(['NIL']));
    expect(passengers).toEqual([]);
    expect(verdicts[0]).toMatchObject({ verdict: 'accepted', account: { lines: 6, structureLines: 6 } });
  });
});
