import { Readable } from 'node:stream';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { isIsoDate } from '../lib/dates.js';
import { RedeyeError } from '../lib/errors.js';
import {
  DecimalSum,
  MAX_RECORD_CHARS,
  checkHeader,
  isCalendarDate,
  parseIsoTimestamp,
  readCsvFile,
  type CsvReadOptions,
  type CsvRowHandler,
  type FileEnd,
  type RowOutcome,
} from './csv-common.js';
import { bytesInput, checkFileEvents, physicalLines } from './csv-testing.js';
import type { ParseEvent, ParseInput, VerdictEvent } from './types.js';

interface Row {
  fields: string[];
  fault: number;
}

/**
 * A handler that makes a record of every row, except rows whose first field is `#` (structure), `X`
 * (reject) or `STOP` (abandon the file), so the reader's own work can be watched.
 */
class EchoHandler implements CsvRowHandler<Row> {
  end: FileEnd | null = null;
  row(fields: string[], line: number, lines: number, fault: number): RowOutcome<Row> {
    if (fields[0] === '#') return null;
    if (fields[0] === 'X') {
      return {
        type: 'reject',
        file: 'f',
        line,
        lines,
        field: '*',
        reason: 'TEST',
        message: 'x row',
        text: fields.join(','),
      };
    }
    if (fields[0] === 'STOP') {
      return { type: 'abandon', field: '*', reason: 'STOPPED', message: 'stop row', text: fields.join(',') };
    }
    return { type: 'record', file: 'f', line, lines, record: { fields, fault } };
  }
  readerReason(code: string): string {
    return code;
  }
  finish(end: FileEnd) {
    this.end = end;
    return end.abandoned
      ? { verdict: 'rejected' as const, reason: end.abandoned.reason, message: end.abandoned.message }
      : { verdict: 'accepted' as const, meta: { delimiter: end.delimiter } };
  }
}

async function read(
  input: ParseInput,
  options: Partial<CsvReadOptions> = {},
): Promise<{ events: ParseEvent<Row>[]; verdict: VerdictEvent; handler: EchoHandler }> {
  const handler = new EchoHandler();
  const events: ParseEvent<Row>[] = [];
  for await (const e of readCsvFile('flown', input, { candidates: [',', ';'], ...options }, handler))
    events.push(e);
  return { events, verdict: events.at(-1) as VerdictEvent, handler };
}

function records(events: ParseEvent<Row>[]) {
  return events.flatMap((e) =>
    e.type === 'record' ? [{ line: e.line, lines: e.lines, fields: e.record.fields }] : [],
  );
}

describe('DecimalSum', () => {
  it('adds decimals exactly, whatever their scales and signs', () => {
    const sum = new DecimalSum();
    for (const v of ['0.1', '0.2', '10', '-3.05', '0.001']) sum.add(v);
    expect(sum.toString()).toBe('7.251');
    expect(sum.equals('7.2510')).toBe(true);
    expect(sum.equals('7.25')).toBe(false);
  });

  it('stays exact past 2^53', () => {
    const sum = new DecimalSum();
    for (let i = 0; i < 1000; i++) sum.add('999999999999999.99');
    expect(sum.toString()).toBe('999999999999999990.00');
    sum.add('123456789012345678.123456789');
    expect(sum.toString()).toBe('1123456789012345668.123456789');
  });

  it('agrees with a BigInt reference on random amounts', () => {
    const amount = fc
      .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }), fc.integer({ min: 0, max: 9 }))
      .map(([neg, units, scale]) => {
        const digits = units.toString().padStart(scale + 1, '0');
        const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
        return (neg ? '-' : '') + text.replace(/^0+(?=\d)/, '');
      })
      .filter((t) => /^-?\d{1,18}(\.\d{1,9})?$/.test(t));
    fc.assert(
      fc.property(fc.array(amount, { maxLength: 50 }), (values) => {
        const sum = new DecimalSum();
        let total = 0n;
        for (const v of values) {
          sum.add(v);
          const [whole, frac = ''] = v.replace('-', '').split('.') as [string, string?];
          const units = BigInt(whole + frac.padEnd(9, '0'));
          total += v.startsWith('-') ? -units : units;
        }
        const negative = total < 0n;
        const abs = (negative ? -total : total).toString().padStart(10, '0');
        const reference = `${negative ? '-' : ''}${abs.slice(0, -9)}.${abs.slice(-9)}`;
        expect(sum.equals(reference)).toBe(true);
      }),
    );
  });
});

describe('isCalendarDate', () => {
  it('knows leap years and month lengths', () => {
    expect(isCalendarDate('2024-02-29')).toBe(true);
    expect(isCalendarDate('2000-02-29')).toBe(true);
    expect(isCalendarDate('2023-02-29')).toBe(false);
    expect(isCalendarDate('1900-02-29')).toBe(false);
    expect(isCalendarDate('2024-04-31')).toBe(false);
    expect(isCalendarDate('2024-12-31')).toBe(true);
    expect(isCalendarDate('2024-13-01')).toBe(false);
    expect(isCalendarDate('2024-1-01')).toBe(false);
    expect(isCalendarDate('2024-01-01 ')).toBe(false);
    expect(isCalendarDate('20240101')).toBe(false);
  });

  it('answers as lib/dates isIsoDate for years from 1000', () => {
    const text = fc
      .tuple(
        fc.integer({ min: 1000, max: 9999 }),
        fc.integer({ min: 0, max: 14 }),
        fc.integer({ min: 0, max: 33 }),
      )
      .map(([y, m, d]) => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`);
    fc.assert(
      fc.property(fc.oneof(text, fc.string({ maxLength: 12 })), (s) => {
        expect(isCalendarDate(s)).toBe(isIsoDate(s) && Number(s.slice(0, 4)) >= 1000);
      }),
    );
  });
});

describe('parseIsoTimestamp', () => {
  it('normalises an instant to UTC with milliseconds', () => {
    expect(parseIsoTimestamp('2024-05-01T10:00:00+03:00', true)).toBe('2024-05-01T07:00:00.000Z');
    expect(parseIsoTimestamp('2024-05-01T10:00:00.123456Z', true)).toBe('2024-05-01T10:00:00.123Z');
    expect(parseIsoTimestamp('2024-05-01T00:30-0100', true)).toBe('2024-05-01T01:30:00.000Z');
    expect(parseIsoTimestamp('2024-03-01T01:00:00+05:00', true)).toBe('2024-02-29T20:00:00.000Z');
  });

  it('refuses impossible values and, when asked, a missing zone', () => {
    expect(parseIsoTimestamp('2024-05-01T10:00:00', true)).toBeNull();
    expect(parseIsoTimestamp('2024-05-01T10:00:00', false)).toBe('2024-05-01T10:00:00');
    expect(parseIsoTimestamp('2024-05-01T24:00:00Z', true)).toBeNull();
    expect(parseIsoTimestamp('2024-02-30T10:00:00Z', true)).toBeNull();
    expect(parseIsoTimestamp('2024-05-01 10:00:00Z', true)).toBeNull();
    expect(parseIsoTimestamp('2024-05-01T10:00:00+25:00', true)).toBeNull();
  });
});

describe('checkHeader', () => {
  const columns = [
    { name: 'a', required: true },
    { name: 'b', required: false },
  ];
  it('maps names case-insensitively in any order, optional columns may be absent', () => {
    const ok = checkHeader([' B ', 'A'], columns);
    expect(ok.ok && [...ok.positions]).toEqual([1, 0]);
    const partial = checkHeader(['a'], columns);
    expect(partial.ok && [...partial.positions]).toEqual([0, -1]);
  });
  it('refuses missing, repeated, unnamed and unknown columns', () => {
    expect(checkHeader(['b'], columns)).toMatchObject({ ok: false, reason: 'BAD_HEADER_ROW', field: 'a' });
    expect(checkHeader(['a', 'A'], columns)).toMatchObject({
      ok: false,
      reason: 'BAD_HEADER_ROW',
      field: 'a',
    });
    expect(checkHeader(['a', ''], columns)).toMatchObject({
      ok: false,
      reason: 'BAD_HEADER_ROW',
      field: '#2',
    });
    expect(checkHeader(['a', 'c'], columns)).toMatchObject({
      ok: false,
      reason: 'UNKNOWN_COLUMN',
      field: 'c',
    });
  });
});

describe('readCsvFile', () => {
  it('gives a quoted record its true span, CRLF inside the quotes counting once', async () => {
    const text = 'a,b\r\n"x\r\ny\r\nz",q\r\n\r\nc,"d\ne"\r\nlast,1';
    const { events, verdict } = await read(bytesInput('f', text));
    expect(records(events)).toEqual([
      { line: 1, lines: 1, fields: ['a', 'b'] },
      { line: 2, lines: 3, fields: ['x\r\ny\r\nz', 'q'] },
      { line: 6, lines: 2, fields: ['c', 'd\ne'] },
      { line: 8, lines: 1, fields: ['last', '1'] },
    ]);
    expect(verdict.account).toMatchObject({ lines: 8, recordLines: 7, blankLines: 1 });
  });

  it('ends lines at LF, CRLF and a lone CR alike', async () => {
    const { events, verdict } = await read(bytesInput('f', 'a\rb\r\n\rc\n'));
    expect(records(events).map((r) => [r.line, r.fields[0]])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [4, 'c'],
    ]);
    expect(verdict.account).toMatchObject({ lines: 4, blankLines: 1 });
  });

  it('counts whitespace-only and separator-only rows as blank', async () => {
    const { events, verdict } = await read(bytesInput('f', 'a,b\n   \n,,,\n , \n""\nc,d\n\n'));
    expect(records(events).map((r) => r.line)).toEqual([1, 6]);
    expect(verdict.account).toMatchObject({ lines: 7, recordLines: 2, blankLines: 5 });
  });

  it('skips a byte-order mark even when it arrives in pieces', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a;b\nc;d\n')]);
    const { events, verdict } = await read(bytesInput('f', bytes, [1, 2, 4]));
    expect(records(events).map((r) => r.fields)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(verdict.meta).toEqual({ delimiter: ';' });
  });

  it('sniffs the separator from the first line with content, or takes the one given', async () => {
    const text = '\n\na;b,c;d\n1;2,3;4\n';
    expect((await read(bytesInput('f', text))).verdict.meta).toEqual({ delimiter: ';' });
    expect((await read(bytesInput('f', 'a,b\n'))).verdict.meta).toEqual({ delimiter: ',' });
    const fixed = await read(bytesInput('f', text), { delimiter: ',' });
    expect(records(fixed.events)[0]?.fields).toEqual(['a;b', 'c;d']);
  });

  it('sniffs the separator from a first line that arrives a byte at a time', async () => {
    const text = `\r\n${'x;'.repeat(3000)}y,z\n1;2\n`;
    const cuts = Array.from({ length: 7000 }, (_, i) => i + 1);
    const { verdict } = await read(bytesInput('f', text, cuts));
    expect(verdict.meta).toEqual({ delimiter: ';' });
    expect(verdict.account).toMatchObject({ lines: 3, records: 2, blankLines: 1 });
  });

  it('keeps a multi-byte character split between chunks and flags a broken one', async () => {
    const good = Buffer.from('a,Жёлтый\nb,c\n');
    for (let cut = 1; cut < good.length; cut++) {
      const { events } = await read(bytesInput('f', good, [cut]));
      expect(records(events).map((r) => r.fields[1])).toEqual(['Жёлтый', 'c']);
      expect(events.some((e) => e.type === 'record' && e.record.fault !== -1)).toBe(false);
    }
    const broken = Buffer.concat([Buffer.from('a,ok\nb,'), Buffer.from([0xd0]), Buffer.from('x\nc,ok\n')]);
    for (let cut = 1; cut < broken.length; cut++) {
      const { events } = await read(bytesInput('f', broken, [cut]));
      expect(events.flatMap((e) => (e.type === 'record' ? [e.record.fault] : []))).toEqual([-1, 1, -1]);
    }
  });

  it('flags a NUL byte in the field holding it', async () => {
    const { events } = await read(bytesInput('f', 'a,b,c\nd,e\0,f\n'));
    expect(events.flatMap((e) => (e.type === 'record' ? [e.record.fault] : []))).toEqual([-1, 1]);
  });

  it('flags a sequence left incomplete at the end of the file', async () => {
    const { events } = await read(
      bytesInput('f', Buffer.concat([Buffer.from('a,b\nc,'), Buffer.from([0xe2, 0x82])])),
    );
    expect(events.flatMap((e) => (e.type === 'record' ? [e.record.fault] : []))).toEqual([-1, 1]);
  });

  it('makes the rest of the file one reject when a quote never closes', async () => {
    const { events, verdict } = await read(bytesInput('f', 'a,b\n\n"c,d\ne,f\n\ng\n'));
    expect(events.filter((e) => e.type === 'reject')).toEqual([
      expect.objectContaining({ line: 3, lines: 4, reason: 'UNCLOSED_QUOTE', field: '*' }),
    ]);
    expect(verdict).toMatchObject({ verdict: 'rejected', reason: 'UNCLOSED_QUOTE' });
    expect(verdict.account).toMatchObject({ lines: 6, recordLines: 1, rejectLines: 4, blankLines: 1 });
  });

  it('stops at a record over the size limit instead of buffering the file', async () => {
    const huge = `a,b\n\nc,${'x'.repeat(MAX_RECORD_CHARS + 10)}\nd,e\nf,g\n`;
    const { events, verdict } = await read(bytesInput('f', huge, [100, 5000, 70000]));
    expect(records(events).map((r) => r.line)).toEqual([1]);
    expect(events.filter((e) => e.type === 'reject')).toEqual([
      expect.objectContaining({ line: 3, lines: 3, reason: 'RECORD_TOO_LONG' }),
    ]);
    expect(verdict).toMatchObject({ verdict: 'rejected', reason: 'RECORD_TOO_LONG' });
    expect(verdict.account).toMatchObject({ lines: 5, blankLines: 1, rejectLines: 3 });
  });

  it('lets a handler abandon the file: the rest is one reject', async () => {
    const { events, verdict } = await read(bytesInput('f', 'a\nSTOP,1\nb\n\nc\n'));
    expect(records(events).map((r) => r.line)).toEqual([1]);
    expect(events.filter((e) => e.type === 'reject')).toEqual([
      expect.objectContaining({ line: 2, lines: 4, reason: 'STOPPED', text: 'STOP,1' }),
    ]);
    expect(verdict).toMatchObject({ verdict: 'rejected', reason: 'STOPPED' });
  });

  it('tells the handler when a file has no content', async () => {
    const { handler, verdict } = await read(bytesInput('f', '\r\n\n'));
    expect(handler.end?.contentRows).toBe(0);
    expect(verdict.account).toMatchObject({ lines: 2, blankLines: 2 });
    const empty = await read(bytesInput('f', ''));
    expect(empty.verdict.account.lines).toBe(0);
  });

  it('decodes another character set when told', async () => {
    const bytes = iconv.encode('Фамилия,Имя\nИванов,Иван\n', 'windows-1251');
    const { events } = await read(bytesInput('f', bytes), { encoding: 'windows-1251' });
    expect(records(events).map((r) => r.fields)).toEqual([
      ['Фамилия', 'Имя'],
      ['Иванов', 'Иван'],
    ]);
  });

  it('turns a failing stream into a RedeyeError naming the file, after what was read', async () => {
    const input: ParseInput = {
      name: 'broken.csv',
      receivedAt: new Date(),
      open: () =>
        Readable.from(
          (async function* () {
            yield Buffer.from('a,b\nc,d\n');
            throw new Error('connection reset');
          })(),
        ),
    };
    const seen: ParseEvent<Row>[] = [];
    const failure = await (async () => {
      try {
        for await (const e of readCsvFile('flown', input, { candidates: [','] }, new EchoHandler()))
          seen.push(e);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(RedeyeError);
    expect(failure).toMatchObject({
      code: 'FEED_READ_FAILED',
      context: { file: 'broken.csv', feed: 'flown' },
    });
    expect(seen.some((e) => e.type === 'verdict')).toBe(false);
  });

  it('turns a throwing open() into a RedeyeError', async () => {
    const input: ParseInput = {
      name: 'gone.csv',
      receivedAt: new Date(),
      open: () => {
        throw new Error('ENOENT');
      },
    };
    await expect(read(input)).rejects.toMatchObject({ code: 'FEED_READ_FAILED' });
  });

  it('refuses a configuration it cannot honour', async () => {
    await expect(read(bytesInput('f', 'a'), { delimiter: '"' })).rejects.toMatchObject({
      code: 'BAD_OPTION',
    });
    await expect(read(bytesInput('f', 'a'), { encoding: 'klingon-8' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_ENCODING',
    });
  });

  it('closes the source when the consumer stops early', async () => {
    const source = Readable.from([Buffer.from('a\nb\nc\n'.repeat(10_000))]);
    const input: ParseInput = { name: 'f', receivedAt: new Date(), open: () => source };
    for await (const e of readCsvFile('flown', input, { candidates: [','] }, new EchoHandler())) {
      if (e.type === 'record') break;
    }
    expect(source.destroyed).toBe(true);
  });

  it('accounts for every line of any bytes, however they are cut', async () => {
    const token = fc.constantFrom(
      ',',
      ';',
      '"',
      '""',
      '\r',
      '\n',
      '\r\n',
      ' ',
      'a',
      'X',
      '#',
      'STOP',
      '\0',
      '\xff',
      'é',
      '€',
    );
    const csvish = fc.array(token, { maxLength: 60 }).map((t) => Buffer.from(t.join(''), 'latin1'));
    const utf8ish = fc.array(token, { maxLength: 60 }).map((t) => Buffer.from(t.join(''), 'utf8'));
    const bytes = fc.oneof(
      csvish,
      utf8ish,
      fc.uint8Array({ maxLength: 80 }).map((u) => Buffer.from(u)),
    );
    await fc.assert(
      fc.asyncProperty(bytes, fc.array(fc.nat({ max: 90 }), { maxLength: 6 }), async (buf, cuts) => {
        const { events } = await read(bytesInput('f', buf, cuts));
        expect(checkFileEvents(events, buf)).toEqual([]);
        expect(events.at(-1)?.type === 'verdict' && events.at(-1)).toBeTruthy();
      }),
      { numRuns: 400 },
    );
  });

  it('counts physical lines like an editor', () => {
    expect(physicalLines(Buffer.from(''))).toBe(0);
    expect(physicalLines(Buffer.from('a'))).toBe(1);
    expect(physicalLines(Buffer.from('a\n'))).toBe(1);
    expect(physicalLines(Buffer.from('a\r\n\r\nb'))).toBe(3);
    expect(physicalLines(Buffer.from('\r\r\n'))).toBe(2);
  });
});
