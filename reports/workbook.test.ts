import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedeyeError } from '../lib/errors.js';
import { renderChart } from './charts.js';
import {
  buildWorkbookBuffer,
  cellAddress,
  ReportWorkbook,
  writeWorkbookFile,
  type ColumnSpec,
  type WorkbookOptions,
} from './workbook.js';
import {
  cellAt,
  dumpXlsx,
  skipWithoutOpenpyxl,
  type DumpedSheet,
  type XlsxDump,
} from '../test/harness/openpyxl.js';

const generatedAt = new Date('2024-05-02T03:15:07Z');
const options: WorkbookOptions = {
  report: { name: 'Daily loyalty report', businessDate: '2024-05-01' },
  clock: () => generatedAt,
};

interface Accrual {
  member: string;
  flown: string;
  points: number | bigint;
  fareMinor: number;
  yenMinor: number;
  dinarMinor: number;
  share: number;
  postedAt: Date;
}

const accrualColumns: ColumnSpec<Accrual>[] = [
  { header: 'Member', type: 'text', value: 'member' },
  { header: 'Flown', type: 'date', value: 'flown' },
  { header: 'Points', type: 'points', value: 'points' },
  { header: 'Fare', type: 'money', currency: 'USD', value: 'fareMinor' },
  { header: 'Fare JPY', type: 'money', currency: 'JPY', value: 'yenMinor' },
  { header: 'Fare KWD', type: 'money', currency: 'KWD', value: 'dinarMinor' },
  { header: 'Share', type: 'percent', value: 'share' },
  { header: 'Posted', type: 'datetime', value: 'postedAt' },
];

const accruals: Accrual[] = [
  {
    member: 'Ivanova Anna Sergeevna, corporate account of a very long partner name',
    flown: '2024-04-30',
    points: 1_234_567,
    fareMinor: 10,
    yenMinor: 15_000,
    dinarMinor: 1_250,
    share: 0.125,
    postedAt: new Date('2024-05-01T22:10:00Z'),
  },
  {
    member: 'Smith John',
    flown: '2024-05-01',
    points: 2n,
    fareMinor: 20,
    yenMinor: 1,
    dinarMinor: 1,
    share: 0.5,
    postedAt: new Date('2024-05-01T23:59:59Z'),
  },
  {
    member: 'Müller Jürgen',
    flown: '2024-05-01',
    points: 300,
    fareMinor: 123_456_789,
    yenMinor: 0,
    dinarMinor: 999,
    share: 0.375,
    postedAt: new Date('2024-05-01T01:00:00Z'),
  },
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'redeye-workbook-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function build(
  fill: (book: ReportWorkbook) => Promise<void>,
  opts: WorkbookOptions = options,
): Promise<Buffer> {
  return (await buildWorkbookBuffer(opts, fill)).bytes;
}

let fileCounter = 0;
async function readBack(bytes: Buffer): Promise<XlsxDump> {
  const path = join(dir, `book-${++fileCounter}.xlsx`);
  await writeFile(path, bytes);
  return dumpXlsx(path);
}

function sheetOf(dump: XlsxDump, name: string): DumpedSheet {
  const sheet = dump.sheets.find((s) => s.name === name);
  if (!sheet) throw new Error(`no sheet ${name} in ${dump.sheets.map((s) => s.name).join(', ')}`);
  return sheet;
}

function cell(sheet: DumpedSheet, address: string) {
  const found = cellAt(sheet, address);
  if (!found) throw new Error(`no cell ${address} in ${sheet.name}`);
  return found;
}

/** The DOS date/time of every entry in a zip's central directory, as UTC ISO strings. */
function zipEntryTimes(zip: Buffer): Map<string, string> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let offset = zip.readUInt32LE(eocd + 16);
  const count = zip.readUInt16LE(eocd + 10);
  const times = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(offset)).toBe(0x02014b50);
    const time = zip.readUInt16LE(offset + 12);
    const date = zip.readUInt16LE(offset + 14);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extra = zip.readUInt16LE(offset + 30);
    const comment = zip.readUInt16LE(offset + 32);
    const name = zip.subarray(offset + 46, offset + 46 + nameLength).toString('utf8');
    const stamp = new Date(
      Date.UTC(
        (date >> 9) + 1980,
        ((date >> 5) & 15) - 1,
        date & 31,
        time >> 11,
        (time >> 5) & 63,
        (time & 31) * 2,
      ),
    );
    times.set(name, stamp.toISOString());
    offset += 46 + nameLength + extra + comment;
  }
  return times;
}

describe('report workbook, read back with openpyxl', () => {
  const skip = skipWithoutOpenpyxl();

  it.skipIf(skip)(
    'lays a section out as an analyst would: title block, styled header, frozen panes, filter',
    async () => {
      const dump = await readBack(
        await build(async (book) => {
          await book.addSheet({
            name: 'Accruals',
            title: 'Accruals by member',
            notes: ['Fares at booking exchange rates'],
            table: { columns: accrualColumns, rows: accruals },
          });
        }),
      );
      expect(dump.warnings).toBe('');
      expect(dump.properties).toMatchObject({ creator: 'Redeye', title: 'Daily loyalty report' });
      expect(dump.properties.created).toBe('2024-05-02T03:15:07');
      expect(dump.properties.modified).toBe('2024-05-02T03:15:07');
      const sheet = sheetOf(dump, 'Accruals');
      expect(cell(sheet, 'A1')).toMatchObject({
        value: 'Daily loyalty report — Accruals by member',
        type: 's',
        bold: true,
      });
      expect(cell(sheet, 'A2').value).toBe('Business date 2024-05-01 · generated 2024-05-02 03:15:07 UTC');
      expect(cell(sheet, 'A3').value).toBe('Fares at booking exchange rates');
      const header = sheet.rows[4]?.map((c) => c.value);
      expect(header).toEqual([
        'Member',
        'Flown',
        'Points',
        'Fare',
        'Fare JPY',
        'Fare KWD',
        'Share',
        'Posted',
      ]);
      for (const c of sheet.rows[4] ?? []) {
        expect(c).toMatchObject({ type: 's', bold: true, fill: 'FF1F5A96' });
      }
      expect(sheet.freezePanes).toBe('A6');
      expect(sheet.autoFilter).toBe('A5:H8');
    },
  );

  it.skipIf(skip)('types every column and gives it the number format a reader expects', async () => {
    const dump = await readBack(
      await build(async (book) => {
        await book.addSheet({
          name: 'Accruals',
          titleBlock: false,
          table: { columns: accrualColumns, rows: accruals },
        });
      }),
    );
    const sheet = sheetOf(dump, 'Accruals');
    expect(sheet.freezePanes).toBe('A2');
    expect(cell(sheet, 'A2')).toMatchObject({ type: 's', numberFormat: '@' });
    expect(cell(sheet, 'B2')).toMatchObject({
      type: 'd',
      value: '2024-04-30T00:00:00',
      numberFormat: 'yyyy-mm-dd',
    });
    expect(cell(sheet, 'C2')).toMatchObject({ type: 'n', value: 1_234_567, numberFormat: '#,##0' });
    expect(cell(sheet, 'C3')).toMatchObject({ type: 'n', value: 2 });
    expect(cell(sheet, 'D2')).toMatchObject({ type: 'n', value: 0.1, numberFormat: '#,##0.00 "USD"' });
    expect(cell(sheet, 'D4')).toMatchObject({ value: 1_234_567.89 });
    expect(cell(sheet, 'E2')).toMatchObject({ value: 15_000, numberFormat: '#,##0 "JPY"' });
    expect(cell(sheet, 'F2')).toMatchObject({ value: 1.25, numberFormat: '#,##0.000 "KWD"' });
    expect(cell(sheet, 'G2')).toMatchObject({ type: 'n', value: 0.125, numberFormat: '0.0%' });
    expect(cell(sheet, 'H2')).toMatchObject({
      type: 'd',
      value: '2024-05-01T22:10:00',
      numberFormat: 'yyyy-mm-dd hh:mm:ss',
    });
  });

  it.skipIf(skip)(
    'sizes columns from their content: long names get wide columns, short ones stay narrow',
    async () => {
      const dump = await readBack(
        await build(async (book) => {
          await book.addSheet({ name: 'Accruals', table: { columns: accrualColumns, rows: accruals } });
        }),
      );
      const widths = sheetOf(dump, 'Accruals').columnWidths;
      expect(widths.A).toBeGreaterThan(60 - 1);
      expect(widths.B).toBeGreaterThanOrEqual(12);
      expect(widths.B).toBeLessThan(20);
      // "123,456.79 USD" is 14 characters: the money column fits it.
      expect(widths.D).toBeGreaterThanOrEqual(16);
    },
  );

  it.skipIf(skip)(
    'writes totals as SUM formulas whose cached results a non-recalculating reader sees',
    async () => {
      const dump = await readBack(
        await build(async (book) => {
          await book.addSheet({
            name: 'Accruals',
            table: { columns: accrualColumns, rows: accruals, totals: { label: 'All members' } },
          });
        }),
      );
      const sheet = sheetOf(dump, 'Accruals');
      // Title, subtitle, blank line, header on row 4, data on rows 5 to 7, totals on row 8.
      expect(cell(sheet, 'A8')).toMatchObject({ value: 'All members', bold: true });
      expect(cell(sheet, 'C8')).toMatchObject({
        value: '=SUM(C5:C7)',
        type: 'f',
        cached: 1_234_869,
        bold: true,
      });
      expect(cell(sheet, 'C8').numberFormat).toBe('#,##0');
      // 0.10 + 0.20 + 1,234,567.89 summed in cents, not in binary floating point.
      expect(cell(sheet, 'D8')).toMatchObject({ value: '=SUM(D5:D7)', cached: 1_234_568.19 });
      expect(cell(sheet, 'D8').numberFormat).toBe('#,##0.00 "USD"');
      expect(cell(sheet, 'F8')).toMatchObject({ cached: 2.25 });
      // Dates, timestamps and percentages are not summed.
      expect(cell(sheet, 'G8').value).toBeNull();
      // The filter covers the data, not the totals, so sorting never moves the totals row.
      expect(sheet.autoFilter).toBe('A4:H7');
    },
  );

  it.skipIf(skip)('keeps outside text that looks like a formula as text', async () => {
    const hostile = ['=1+1', '+cmd', '-2+3', '@SUM(A1)', '=HYPERLINK("http://evil.example","x")', '\t=1+1'];
    const rows = [...hostile.map((name) => ({ name })), { name: { formula: '1+1', result: 2 } }];
    const dump = await readBack(
      await build(async (book) => {
        await book.addSheet({
          name: 'Partners',
          titleBlock: false,
          table: { columns: [{ header: 'Partner reference', type: 'text', value: 'name' }], rows },
        });
      }),
    );
    const sheet = sheetOf(dump, 'Partners');
    hostile.forEach((text, i) => {
      expect(cell(sheet, `A${i + 2}`)).toMatchObject({ value: text, type: 's', cached: text });
    });
    expect(cell(sheet, `A${hostile.length + 2}`)).toMatchObject({ value: '[object Object]', type: 's' });
  });

  it.skipIf(skip)(
    'places chart images at their anchors, on table sheets and on chart-only sheets',
    async () => {
      const bar = await renderChart({
        kind: 'bar',
        title: 'Accrual',
        labels: ['Air', 'Hotels'],
        series: [{ label: 'Points', data: [10, 4] }],
        width: 600,
        height: 300,
      });
      const pie = await renderChart({
        kind: 'pie',
        labels: ['a', 'b'],
        series: [{ label: 'x', data: [1, 2] }],
      });
      const dump = await readBack(
        await build(async (book) => {
          await book.addSheet({
            name: 'Summary',
            images: [
              { png: bar, at: 'B4' },
              { png: pie, at: 'B25', width: 400, height: 200 },
            ],
          });
          await book.addSheet({
            name: 'Detail',
            table: { columns: accrualColumns, rows: accruals },
            images: [{ png: bar, at: 'J5' }],
          });
          await book.addSheet({ name: 'No pictures', table: { columns: accrualColumns, rows: accruals } });
        }),
      );
      expect(dump.pillow).toBe(true);
      expect(dump.warnings).toBe('');
      expect(sheetOf(dump, 'Summary').images).toEqual([
        { anchor: 'B4', width: 600, height: 300, pixelWidth: 600, pixelHeight: 300, format: 'png' },
        { anchor: 'B25', width: 400, height: 200, pixelWidth: 800, pixelHeight: 400, format: 'png' },
      ]);
      expect(sheetOf(dump, 'Detail').images).toEqual([
        { anchor: 'J5', width: 600, height: 300, pixelWidth: 600, pixelHeight: 300, format: 'png' },
      ]);
      expect(sheetOf(dump, 'No pictures').images).toEqual([]);
      expect(cell(sheetOf(dump, 'Detail'), 'C5').value).toBe(1_234_567);
    },
  );

  it.skipIf(skip)('gives every section its own sheet, with valid and unique names', async () => {
    const one = { columns: [{ header: 'n', type: 'integer' as const, value: (n: number) => n }], rows: [1] };
    const dump = await readBack(
      await build(async (book) => {
        await book.addSheet({ name: 'Partner: Hotels/Resorts [EU]', table: one });
        await book.addSheet({ name: 'partner: hotels/resorts [eu]', table: one });
        await book.addSheet({ name: 'A partner name far longer than thirty-one characters', table: one });
        await book.addSheet({ name: 'History', table: one });
      }),
    );
    expect(dump.sheets.map((s) => s.name)).toEqual([
      'Partner_ Hotels_Resorts _EU_',
      'partner_ hotels_resorts _eu (2)',
      'A partner name far longer than',
      'History_',
    ]);
  });

  it.skipIf(skip)(
    'writes an empty section with its header, a zero total and a filter on the header only',
    async () => {
      const dump = await readBack(
        await build(async (book) => {
          await book.addSheet({
            name: 'Rejects',
            table: { columns: accrualColumns, rows: [], totals: true },
          });
        }),
      );
      const sheet = sheetOf(dump, 'Rejects');
      expect(cell(sheet, 'A4').value).toBe('Member');
      expect(cell(sheet, 'A5').value).toBe('Total');
      expect(cell(sheet, 'C5')).toMatchObject({ value: 0, type: 'n' });
      expect(sheet.autoFilter).toBe('A4:H4');
    },
  );

  it.skipIf(skip)('reads rows from an async source, as the ledger queries deliver them', async () => {
    async function* fromDatabase() {
      for (let i = 1; i <= 2500; i++) yield { id: i, points: i * 10 };
    }
    const { bytes, summary } = await buildWorkbookBuffer(options, async (book) => {
      await book.addSheet({
        name: 'Detail',
        titleBlock: false,
        table: {
          columns: [
            { header: 'Id', type: 'integer', value: 'id', total: false },
            { header: 'Points', type: 'points', value: 'points' },
          ],
          rows: fromDatabase(),
          totals: true,
        },
      });
    });
    expect(summary.sheets[0]).toMatchObject({
      dataRows: 2500,
      firstDataRow: 2,
      lastDataRow: 2501,
      totalsRow: 2502,
    });
    expect(summary.sheets[0]?.totals).toEqual({ Points: 31_262_500 });
    const path = join(dir, 'async.xlsx');
    await writeFile(path, bytes);
    const sheet = sheetOf(await dumpXlsx(path, { maxRows: 3000 }), 'Detail');
    expect(cell(sheet, 'B2501').value).toBe(25_000);
    expect(cell(sheet, 'B2502')).toMatchObject({ value: '=SUM(B2:B2501)', cached: 31_262_500 });
  });
});

describe('report workbook bytes', () => {
  async function sample(opts: WorkbookOptions): Promise<Buffer> {
    const chart = await renderChart({ kind: 'bar', labels: ['a'], series: [{ label: 's', data: [1] }] });
    return build(async (book) => {
      await book.addSheet({ name: 'Summary', images: [{ png: chart, at: 'B4' }] });
      await book.addSheet({
        name: 'Accruals',
        table: { columns: accrualColumns, rows: accruals, totals: true },
      });
    }, opts);
  }

  it('are identical for the same data and clock, so a rerun produces the same attachment', async () => {
    const first = await sample(options);
    await new Promise((resolve) => setTimeout(resolve, 2100)); // past the 2-second resolution of zip times
    const second = await sample(options);
    expect(first.equals(second)).toBe(true);
  }, 20_000);

  it('carry the injected clock, not the wall clock, in every zip entry', async () => {
    const bytes = await sample({ ...options, clock: () => new Date('2031-07-08T09:10:12Z') });
    const times = zipEntryTimes(bytes);
    expect(times.size).toBeGreaterThan(8);
    expect([...times.keys()]).toContain('xl/drawings/drawing1.xml');
    expect(new Set(times.values())).toEqual(new Set(['2031-07-08T09:10:12.000Z']));
  });

  it('differ when the clock differs', async () => {
    const later = await sample({ ...options, clock: () => new Date('2024-05-02T04:00:00Z') });
    expect(later.equals(await sample(options))).toBe(false);
  });
});

describe('report workbook errors', () => {
  it('names the sheet, row and column of a value that does not fit its column', async () => {
    const error = await build(async (book) => {
      await book.addSheet({
        name: 'Detail',
        table: {
          columns: [{ header: 'Points', type: 'points', value: (p: number) => p }],
          rows: [1, 2, 2.5],
        },
      });
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedeyeError);
    expect(error).toMatchObject({
      code: 'REPORT_VALUE_INVALID',
      context: { sheet: 'Detail', line: 7, field: 'Points' },
    });
  });

  it('rejects amounts in another currency than the column and dates that do not exist', async () => {
    const money = build(async (book) => {
      await book.addSheet({
        name: 'Billing',
        table: {
          columns: [{ header: 'Amount', type: 'money', currency: 'EUR', value: (m: object) => m }],
          rows: [{ minor: 100, currency: 'USD' }],
        },
      });
    });
    await expect(money).rejects.toMatchObject({ code: 'REPORT_VALUE_INVALID' });
    const date = build(async (book) => {
      await book.addSheet({
        name: 'Dates',
        table: { columns: [{ header: 'Day', type: 'date', value: (d: string) => d }], rows: ['2024-02-30'] },
      });
    });
    await expect(date).rejects.toMatchObject({ code: 'REPORT_VALUE_INVALID' });
  });

  it('rejects a money column without a known currency and a sum over dates', async () => {
    await expect(
      build(async (book) => {
        await book.addSheet({
          name: 'x',
          table: { columns: [{ header: 'A', type: 'money', value: () => 1 }], rows: [] },
        });
      }),
    ).rejects.toMatchObject({ code: 'REPORT_SPEC_INVALID' });
    await expect(
      build(async (book) => {
        await book.addSheet({
          name: 'x',
          table: { columns: [{ header: 'A', type: 'date', value: () => null, total: true }], rows: [] },
        });
      }),
    ).rejects.toMatchObject({ code: 'REPORT_SPEC_INVALID' });
  });

  it('closes the row source when a row is rejected, so a database cursor is released', async () => {
    let closed = false;
    async function* cursor() {
      try {
        yield 1;
        yield 'not a number';
        yield 3;
      } finally {
        closed = true;
      }
    }
    await expect(
      build(async (book) => {
        await book.addSheet({
          name: 'Detail',
          table: { columns: [{ header: 'n', type: 'integer', value: (n: unknown) => n }], rows: cursor() },
        });
      }),
    ).rejects.toMatchObject({ code: 'REPORT_VALUE_INVALID' });
    expect(closed).toBe(true);
  });

  it('refuses a second sheet while the first is still being written', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* slow() {
      await gate;
      yield 1;
    }
    await expect(
      build(async (book) => {
        const first = book.addSheet({
          name: 'a',
          table: { columns: [{ header: 'n', type: 'integer', value: (n: number) => n }], rows: slow() },
        });
        await expect(book.addSheet({ name: 'b' })).rejects.toMatchObject({ code: 'REPORT_WORKBOOK_BUSY' });
        release();
        await first;
      }),
    ).resolves.toBeInstanceOf(Buffer);
  });
});

describe('report workbook output failures', () => {
  it('fails instead of hanging when the output breaks half-way (disk full)', async () => {
    let written = 0;
    const output = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        callback(
          written > 64 * 1024
            ? Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
            : null,
        );
      },
    });
    const book = new ReportWorkbook(output, options);
    function* rows() {
      for (let i = 0; i < 2_000_000; i++) yield i;
    }
    const attempt = (async () => {
      await book.addSheet({
        name: 'Detail',
        table: { columns: [{ header: 'n', type: 'integer', value: (n: number) => n }], rows: rows() },
      });
      await book.finish();
    })();
    await expect(attempt).rejects.toThrow('no space left on device');
  });
});

describe('writeWorkbookFile', () => {
  it('leaves the finished workbook at its path and no temporary file', async () => {
    const target = join(dir, 'daily.xlsx');
    const summary = await writeWorkbookFile(target, options, async (book) => {
      await book.addSheet({ name: 'Accruals', table: { columns: accrualColumns, rows: accruals } });
    });
    expect(summary.sheets.map((s) => s.name)).toEqual(['Accruals']);
    expect(summary.generatedAt.toISOString()).toBe(generatedAt.toISOString());
    const bytes = await readFile(target);
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    expect((await readdir(dir)).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('leaves nothing behind when building fails half-way', async () => {
    const target = join(dir, 'broken.xlsx');
    function* rows() {
      for (let i = 0; i < 5000; i++) yield i;
      throw new Error('database went away');
    }
    await expect(
      writeWorkbookFile(target, options, async (book) => {
        await book.addSheet({
          name: 'Detail',
          table: { columns: [{ header: 'n', type: 'integer', value: (n: number) => n }], rows: rows() },
        });
      }),
    ).rejects.toThrow('database went away');
    const left = await readdir(dir);
    expect(left.filter((f) => f.startsWith('broken'))).toEqual([]);
  });
});

describe('cellAddress', () => {
  it('converts zero-based columns to letters past Z', () => {
    expect(cellAddress(0, 1)).toBe('A1');
    expect(cellAddress(25, 2)).toBe('Z2');
    expect(cellAddress(26, 3)).toBe('AA3');
    expect(cellAddress(701, 4)).toBe('ZZ4');
    expect(cellAddress(702, 5)).toBe('AAA5');
  });
});
