/**
 * The writer emits what a DCS emits (64-character lines, .RN/ continuations, parts of about 3000
 * characters that repeat the envelope, flight line and current group), and the parser reads it back.
 */
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { RedeyeError } from '../../lib/errors.js';
import {
  LINE_WIDTH,
  encodeFtl,
  ftlParser,
  writeFtlMessage,
  type FtlWriterMessage,
  type FtlWriterPassenger,
} from './index.js';
import { collect, ftlInput } from './testing.js';

const base: FtlWriterPassenger = {
  destination: 'LED',
  subclass: 'Y',
  surname: 'IVANOV',
  givenName: 'IVAN',
  title: 'MR',
  pnr: '0M71MG',
  pnrAirline: 'XX',
  cards: [{ program: 'XX', number: '1000000016' }],
};

function msg(passengers: FtlWriterPassenger[], extra: Partial<FtlWriterMessage> = {}): FtlWriterMessage {
  return { flight: { carrier: 'XX', number: 101, date: '2024-05-28', board: 'DME' }, passengers, ...extra };
}

async function readBack(parts: string[], encoding?: string) {
  const inputs = parts.map((p, i) =>
    ftlInput(`p${i + 1}.ftl`, encodeFtl(p, encoding), '2024-05-28T23:00:00Z'),
  );
  return collect(ftlParser.parse(inputs, { encoding }));
}

describe('FTL writer', () => {
  it('writes a message the way the samples look', () => {
    const parts = writeFtlMessage(
      msg(
        [
          base,
          {
            ...base,
            surname: 'SCHMIDT',
            givenName: 'KLAUS',
            subclass: 'C',
            pnr: '0D26CC',
            cards: [{ program: 'LH', number: '992001234567890' }],
          },
        ],
        {
          priority: 'QU',
          originator: { address: 'MOWRMXX', sentAt: new Date('2024-05-28T15:30:00Z') },
        },
      ),
    );
    expect(parts).toEqual([
      [
        'QU MOWKTXX',
        '.MOWRMXX 281530',
        'FTL',
        'XX101/28MAY DME PART1',
        '-LED01Y',
        '1IVANOV/IVAN MR',
        '.L/0M71MG/XX',
        '.R/FQTV XX 1000000016',
        '-LED01C',
        '1SCHMIDT/KLAUS MR',
        '.L/0D26CC/XX',
        '.R/FQTV LH 992001234567890',
        'ENDFTL',
        '',
      ].join('\r\n'),
    ]);
  });

  it('writes NIL for a flight without listed passengers, with LF endings on request, zero-padding the number', () => {
    expect(
      writeFtlMessage(msg([], { flight: { carrier: 'XX', number: 7, date: '2024-12-31', board: 'DME' } }), {
        lineEnding: '\n',
      }),
    ).toEqual(['MOWKTXX\n.MOWRMXX 311200\nFTL\nXX007/31DEC DME PART1\nNIL\nENDFTL\n']);
  });

  it('cuts a long remark at exactly 64 characters onto .RN/ lines, and the parser joins it back', async () => {
    const text =
      '-UPGRADE CONFIRMED AT CHECK-IN BY AGENT 4471 FOR OPERATIONAL REASONS AND A VERY LONG EXPLANATION THAT GOES ON';
    const parts = writeFtlMessage(
      msg([
        {
          ...base,
          cards: [...base.cards, { usage: 'FQTU', program: 'XX', number: '1000000016', suffix: text }],
        },
      ]),
    );
    const lines = parts[0]!.split('\r\n');
    expect(Math.max(...lines.map((l) => l.length))).toBe(LINE_WIDTH);
    const at = lines.findIndex((l) => l.startsWith('.R/FQTU'));
    expect(lines[at]!.length).toBe(LINE_WIDTH);
    expect(lines[at + 1]!.startsWith('.RN/')).toBe(true);
    const { records } = await readBack(parts);
    expect(records[0]!.record.cards[1]!.suffix).toBe(text);
  });

  it('splits a long list into parts of at most the limit, each repeating the envelope, flight line and group', async () => {
    const passengers = Array.from({ length: 120 }, (_, i) => ({
      ...base,
      surname: `PASSENGER${String.fromCharCode(65 + (i % 26))}${String.fromCharCode(65 + Math.floor(i / 26))}`,
      subclass: i < 100 ? 'Y' : 'C',
      cards: [{ program: 'XX', number: String(1_000_000_000 + i) }],
    }));
    const parts = writeFtlMessage(
      msg(passengers, { originator: { address: 'MOWRMXX', sentAt: new Date('2024-05-28T15:30:00Z') } }),
      {
        maxPartChars: 3000,
      },
    );
    expect(parts.length).toBeGreaterThan(2);
    parts.forEach((p, i) => {
      const lines = p.split('\r\n');
      expect(p.length).toBeLessThanOrEqual(3000);
      expect(lines.slice(0, 4)).toEqual([
        'MOWKTXX',
        '.MOWRMXX 281530',
        'FTL',
        `XX101/28MAY DME PART${i + 1}`,
      ]);
      expect(lines[4]).toMatch(/^-LED(100Y|20C)$/);
      expect(lines.at(-2)).toBe(i === parts.length - 1 ? 'ENDFTL' : `ENDPART${i + 1}`);
    });
    const { records, verdicts } = await readBack([...parts].reverse());
    expect(records.map((r) => r.record.surname).sort()).toEqual(passengers.map((p) => p.surname).sort());
    expect(verdicts.every((v) => v.verdict === 'accepted')).toBe(true);
  });

  it('shortens a name too long for the line: the given name first, down to an initial, then the surname', async () => {
    const longGiven = {
      ...base,
      surname: 'KONSTANTINOPOLSKAYA',
      givenName: 'ALEXANDRA VLADIMIROVNA MARIA TERESA ELISABETH',
    };
    const longBoth = { ...base, surname: 'A'.repeat(70), givenName: 'BORIS' };
    const parts = writeFtlMessage(msg([longGiven, longBoth]));
    const names = parts[0]!.split('\r\n').filter((l) => /^\d/.test(l));
    expect(names.every((l) => l.length <= LINE_WIDTH)).toBe(true);
    const { records } = await readBack(parts);
    const [a, b] = records.map((r) => r.record);
    expect(a!.surname).toBe('KONSTANTINOPOLSKAYA');
    expect(longGiven.givenName.startsWith(a!.givenName)).toBe(true);
    expect(a!.title).toBe('MR');
    expect(b!.givenName).toBe('B');
    expect('A'.repeat(70).startsWith(b!.surname)).toBe(true);
  });

  it('appends the booked subclass to the first FQTV card when it differs from the flown one', async () => {
    const parts = writeFtlMessage(
      msg([
        { ...base, subclass: 'J', bookedSubclass: 'C' },
        { ...base, surname: 'SAME', bookedSubclass: 'Y' },
      ]),
    );
    expect(parts[0]).toContain('.R/FQTV XX 1000000016-C');
    const { records } = await readBack(parts);
    expect(records.map((r) => [r.record.surname, r.record.bookedSubclass])).toEqual([
      ['IVANOV', 'C'],
      ['SAME', null],
    ]);
  });

  it('encodes to a code page and reads back the same Cyrillic names', async () => {
    const passenger = { ...base, surname: 'ЁЛКИНА', givenName: 'НАТАЛЬЯ', title: null };
    const parts = writeFtlMessage(
      msg([passenger], { flight: { carrier: 'ЮТ', number: 371, date: '2024-05-28', board: 'ВНК' } }),
    );
    for (const encoding of ['cp866', 'windows-1251']) {
      expect(iconv.decode(encodeFtl(parts[0]!, encoding), encoding)).toBe(parts[0]);
      const { records } = await readBack(parts, encoding);
      expect(records[0]!.record).toMatchObject({
        surname: 'ЁЛКИНА',
        givenName: 'НАТАЛЬЯ',
        flight: { carrier: 'ЮТ', board: 'ВНК' },
      });
    }
  });

  it('writes a parsed record back to the same record', async () => {
    const first = await readBack(
      writeFtlMessage(
        msg([
          {
            ...base,
            marketingFlight: {
              carrier: 'SU',
              number: 6120,
              subclass: 'Y',
              day: 28,
              board: 'DME',
              off: 'LED',
            },
            remarks: [{ code: 'I', text: 'SU1234Y27MAY' }],
          },
        ]),
      ),
    );
    const again = await readBack(writeFtlMessage(msg(first.records.map((r) => r.record))));
    expect(again.records.map((r) => r.record)).toEqual(first.records.map((r) => r.record));
  });

  it('refuses a passenger it cannot write', () => {
    expect(() => writeFtlMessage(msg([{ ...base, surname: ' ' }]))).toThrow(RedeyeError);
    expect(() => writeFtlMessage(msg([{ ...base, givenName: '', title: null }]))).toThrow(RedeyeError);
    expect(() => writeFtlMessage(msg([{ ...base, givenName: 'JOHN/ANNA' }]))).toThrow(/names are letters/);
    expect(() => writeFtlMessage(msg([{ ...base, cards: [{ program: 'XX', number: '' }] }]))).toThrow(
      /card XX/,
    );
    expect(() => writeFtlMessage(msg([{ ...base, cards: [{ program: '12', number: '123' }] }]))).toThrow(
      /card 12/,
    );
    expect(() => writeFtlMessage(msg([{ ...base, destination: 'LEDX' }]))).toThrow(/destination/);
    expect(() =>
      writeFtlMessage(
        msg([base], { flight: { carrier: 'XX', number: 1, date: '28.05.2024', board: 'DME' } }),
      ),
    ).toThrow(RedeyeError);
  });
});
