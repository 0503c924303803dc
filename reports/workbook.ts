/**
 * Report workbooks the way an analyst would build them by hand — a title block, one sheet per section,
 * typed and formatted columns, a styled header with frozen panes and a filter, totals that are real
 * formulas, charts placed on the sheet — written with flat memory however many rows a detail sheet has.
 *
 * Everything goes through exceljs's streaming writer (`stream.xlsx.WorkbookWriter`): rows are written
 * and forgotten, so a million-row sheet costs no more memory than a ten-row one. That writer has styles
 * but no pictures, and it stamps the zip entries with the wall clock. Both gaps are closed here by a
 * small extension of its internals, checked when used (see `WorkbookInternals` and `assertInternals`):
 *
 * - pictures: each sheet with images gets a DrawingML part (`xl/drawings/drawingN.xml`) with a
 *   one-cell anchor per image, its relationships, a `<drawing>` element in the sheet and a content
 *   type override — the same parts Excel writes;
 * - reproducible bytes: every zip entry is dated with the injected clock, as are the document
 *   properties, so the same data and clock give a byte-identical file;
 * - backpressure: the writer ignores it, so a fast row source would pile the whole sheet up in memory
 *   in front of the compressor. We wait for the entry stream to drain before writing on.
 *
 * Sheets are written one after the other: `addSheet` returns when its sheet is complete. Column widths
 * must be known before the first row is written (they precede the rows in the file), so they are
 * computed from the header and the first `widthSampleRows` rows.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { RedeyeError } from '../lib/errors.js';
import { TEMP_SUFFIX } from '../transports/names.js';
import { formatMinor, minorUnitExponent } from '../lib/money.js';
import type { IsoDate } from '../lib/dates.js';
import { safeSheetName, safeText } from './safe-text.js';
import { CHART_PALETTE } from './charts.js';

export { neutraliseCsvField, safeSheetName, safeText } from './safe-text.js';

/** Source of "now" for the generation time and the file's timestamps; injected so reruns match. */
export type Clock = () => Date;

export type ColumnType =
  'text' | 'date' | 'datetime' | 'integer' | 'points' | 'money' | 'decimal' | 'percent';

/** A money cell: minor units of the column's currency, alone or with the currency to check against. */
export type MoneyInput = number | bigint | { minor: number | bigint; currency: string };

export interface ColumnSpec<Row> {
  header: string;
  type: ColumnType;
  /** The row's property or a function of the row; `null`/`undefined` leave the cell empty. */
  value: (keyof Row & string) | ((row: Row) => unknown);
  /** ISO 4217 code of a `money` column; values are in its minor unit and shown with its decimals. */
  currency?: string;
  /** Fraction digits of `decimal` (default 2) and `percent` (default 1) columns. */
  decimals?: number;
  /** Sum this column in the totals row; default yes for integer, points, money and decimal. */
  total?: boolean;
  /** Width in characters instead of the computed one. */
  width?: number;
}

export interface TableSpec<Row> {
  columns: readonly ColumnSpec<Row>[];
  rows: Iterable<Row> | AsyncIterable<Row>;
  /** A totals row below the data with `SUM` formulas and their cached results. */
  totals?: boolean | { label?: string };
  /** Columns kept visible when scrolling right (the header rows are always frozen). */
  freezeColumns?: number;
  /** Filter buttons on the header; default on. */
  autoFilter?: boolean;
}

export interface SheetImage {
  /** PNG bytes, e.g. from `renderChart`. */
  png: Buffer;
  /** Cell of the image's top-left corner, e.g. `H4`. */
  at: string;
  /** Displayed size in pixels; default the PNG's own size. */
  width?: number;
  height?: number;
  /** Alternative text for screen readers. */
  description?: string;
}

export interface SheetSpec<Row> {
  /** Tab name; made valid and unique (Excel's 31 characters, no `[]:*?/\`). */
  name: string;
  /** Section heading in the title block; default the sheet name. */
  title?: string;
  /** Extra lines under the title, e.g. "Values at 0.012 USD per point". */
  notes?: readonly string[];
  /** The report name / business date / generation time block at the top; default on. */
  titleBlock?: boolean;
  table?: TableSpec<Row>;
  images?: readonly SheetImage[];
}

export interface SheetSummary {
  name: string;
  dataRows: number;
  /** 1-based row numbers, absent when the sheet has no table. */
  headerRow?: number;
  firstDataRow?: number;
  lastDataRow?: number;
  totalsRow?: number;
  /** Cached totals by column header, in display units (money in major units). */
  totals: Record<string, number>;
  images: number;
}

export interface WorkbookOptions {
  report: { name: string; businessDate: IsoDate };
  clock: Clock;
  /** Author shown in the document properties; default `Redeye`. */
  creator?: string;
  /** Rows read ahead to size the columns; default 1000. */
  widthSampleRows?: number;
}

export interface WorkbookSummary {
  sheets: SheetSummary[];
  generatedAt: Date;
}

// ---------------------------------------------------------------------------------------------
// The parts of exceljs's streaming writer (4.4) used beyond its typed API. `assertInternals` checks
// them at construction, so an exceljs upgrade that moves them fails loudly instead of writing a
// workbook without its charts.

interface ZipEntryData {
  name: string;
  date?: Date;
}
interface ArchiverInternals {
  append(source: Buffer | string, data: ZipEntryData): unknown;
  abort(): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  emit(event: 'error', error: Error): boolean;
  _moduleAppend(source: unknown, data: ZipEntryData, callback: (error?: Error) => void): void;
}
interface PipeTarget {
  _writableState?: { needDrain?: boolean };
  once(event: 'drain', listener: () => void): unknown;
}
interface SheetRowInternals {
  getCell(column: number): { value: ExcelJS.CellValue; style: Partial<ExcelJS.Style> };
  commit(): void;
}
interface WorksheetInternals {
  columns: Array<{ width?: number; style?: Partial<ExcelJS.Style> }>;
  autoFilter: string | null;
  stream: { pipes?: PipeTarget[]; write(text: string): unknown };
  addRow(values: unknown[]): SheetRowInternals;
  commit(): void;
  _sheetRelsWriter: { addRelationship(rel: { Type: string; Target: string }): string };
  _writeLegacyData(): void;
}
interface WorkbookInternals {
  zip: ArchiverInternals;
  created: Date;
  modified: Date;
  creator: string;
  lastModifiedBy: string;
  title?: string;
  subject?: string;
  addWorksheet(
    name: string,
    options: {
      views?: unknown[];
      pageSetup?: Partial<ExcelJS.PageSetup>;
      headerFooter?: Partial<ExcelJS.HeaderFooter>;
    },
  ): WorksheetInternals;
  addImage(image: { buffer: Buffer; extension: 'png' }): number;
  getImage(id: number): { name: string };
  commit(): Promise<unknown>;
}

function assertInternals(book: WorkbookInternals): void {
  if (
    typeof book.zip?._moduleAppend !== 'function' ||
    typeof book.addImage !== 'function' ||
    typeof book.getImage !== 'function'
  ) {
    throw new RedeyeError(
      'XLSX_WRITER_UNSUPPORTED',
      'this exceljs version does not have the streaming-writer internals the report workbook extends',
    );
  }
}

function assertSheetInternals(sheet: WorksheetInternals): void {
  if (
    typeof sheet._sheetRelsWriter?.addRelationship !== 'function' ||
    typeof sheet._writeLegacyData !== 'function' ||
    typeof sheet.stream?.write !== 'function' ||
    // The sheet's entry stream is piped into archiver as soon as it exists; backpressure reads the
    // pipe's state, and without it memory would grow with the row count instead of failing here.
    sheet.stream.pipes?.[0]?._writableState === undefined
  ) {
    throw new RedeyeError(
      'XLSX_WRITER_UNSUPPORTED',
      'this exceljs version does not have the worksheet-writer internals the report workbook extends',
    );
  }
}

const DRAWING_REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships/drawing';
const IMAGE_REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships/image';
const DRAWING_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.drawing+xml';
const EMU_PER_PIXEL = 9525;

// ---------------------------------------------------------------------------------------------
// Styles

const HEADER_FILL = `FF${(CHART_PALETTE[0] as string).slice(1)}`;
// Named explicitly: a font element without a name makes some readers (LibreOffice) fall back to a serif.
const BASE_FONT: Partial<ExcelJS.Font> = { name: 'Calibri', size: 11, family: 2 };
const THIN = { style: 'thin' as const, color: { argb: 'FFB7C0C9' } };
const HEADER_STYLE: Partial<ExcelJS.Style> = {
  font: { ...BASE_FONT, bold: true, color: { argb: 'FFFFFFFF' } },
  fill: { type: 'pattern', pattern: 'solid', fgColor: { argb: HEADER_FILL } },
  border: { top: THIN, left: THIN, bottom: THIN, right: THIN },
  alignment: { vertical: 'middle' },
};
const TITLE_FONT: Partial<ExcelJS.Font> = { ...BASE_FONT, bold: true, size: 14 };
const SUBTITLE_FONT: Partial<ExcelJS.Font> = { ...BASE_FONT, italic: true, color: { argb: 'FF52606D' } };

// Printed (or converted to PDF), a sheet is one page wide in landscape, so a chart beside its table is
// not cut into pieces on separate pages; the footer says which sheet and page a sheet of paper is.
const PAGE_SETUP: Partial<ExcelJS.PageSetup> = {
  orientation: 'landscape',
  paperSize: 9,
  fitToPage: true,
  fitToWidth: 1,
  fitToHeight: 0,
  margins: { left: 0.5, right: 0.5, top: 0.6, bottom: 0.6, header: 0.3, footer: 0.3 },
};
const PAGE_FOOTER: Partial<ExcelJS.HeaderFooter> = { oddFooter: '&L&A&RPage &P of &N' };

function totalsStyle(numFmt: string | undefined): Partial<ExcelJS.Style> {
  return {
    font: { ...BASE_FONT, bold: true },
    border: {
      top: { style: 'thin', color: { argb: 'FF1F2933' } },
      bottom: { style: 'double', color: { argb: 'FF1F2933' } },
    },
    ...(numFmt !== undefined ? { numFmt } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Columns

interface PreparedColumn<Row> {
  spec: ColumnSpec<Row>;
  index: number;
  numFmt: string;
  /**
   * One style object shared by every data cell of the column: exceljs caches style ids by object
   * identity, so sharing saves rendering and looking up the style XML for each of a million cells.
   */
  style: Partial<ExcelJS.Style>;
  /** Minor-unit exponent of a money column, and 10 to its power. */
  exponent: number;
  scale: number;
  totalled: boolean;
  /** Running sum, exact for integers and minor units (a bigint once beyond 2^53). */
  sum: bigint | number;
  width: number;
  read: (row: Row) => unknown;
}

const INTEGER_FORMAT = '#,##0';

function decimalsFormat(decimals: number): string {
  return decimals > 0 ? `#,##0.${'0'.repeat(decimals)}` : '#,##0';
}

function prepareColumns<Row>(columns: readonly ColumnSpec<Row>[], sheet: string): PreparedColumn<Row>[] {
  if (columns.length === 0) throw new RedeyeError('REPORT_SPEC_INVALID', 'a table needs columns', { sheet });
  return columns.map((spec, index) => {
    const decimals = spec.decimals ?? (spec.type === 'percent' ? 1 : 2);
    if (!Number.isInteger(decimals) || decimals < 0 || decimals > 10) {
      throw new RedeyeError('REPORT_SPEC_INVALID', `decimals must be 0 to 10, got ${decimals}`, {
        sheet,
        field: spec.header,
      });
    }
    let numFmt: string;
    let exponent = 0;
    switch (spec.type) {
      case 'text':
        // Text format: a user who edits the cell later still gets text, not a formula.
        numFmt = '@';
        break;
      case 'date':
        numFmt = 'yyyy-mm-dd';
        break;
      case 'datetime':
        numFmt = 'yyyy-mm-dd hh:mm:ss';
        break;
      case 'integer':
      case 'points':
        numFmt = INTEGER_FORMAT;
        break;
      case 'money': {
        const found = spec.currency === undefined ? undefined : minorUnitExponent(spec.currency);
        if (found === undefined) {
          throw new RedeyeError(
            'REPORT_SPEC_INVALID',
            `money column needs an ISO 4217 currency, got ${spec.currency}`,
            {
              sheet,
              field: spec.header,
            },
          );
        }
        exponent = found;
        numFmt = `${decimalsFormat(exponent)} "${spec.currency}"`;
        break;
      }
      case 'decimal':
        numFmt = decimalsFormat(decimals);
        break;
      case 'percent':
        numFmt = decimals > 0 ? `0.${'0'.repeat(decimals)}%` : '0%';
        break;
      default:
        throw new RedeyeError('REPORT_SPEC_INVALID', `unknown column type ${String(spec.type)}`, {
          sheet,
          field: spec.header,
        });
    }
    const summable =
      spec.type === 'integer' || spec.type === 'points' || spec.type === 'money' || spec.type === 'decimal';
    if (spec.total === true && !summable) {
      throw new RedeyeError('REPORT_SPEC_INVALID', `a ${spec.type} column cannot be summed`, {
        sheet,
        field: spec.header,
      });
    }
    const { value } = spec;
    const read = typeof value === 'function' ? value : (row: Row) => (row as Record<string, unknown>)[value];
    return {
      spec,
      index,
      numFmt,
      style: Object.freeze({ numFmt }),
      exponent,
      scale: 10 ** exponent,
      totalled: spec.total ?? summable,
      sum: 0,
      // Room for the filter button next to the header text.
      width: safeText(spec.header).length + 3,
      read,
    };
  });
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Why a value does not fit its column. */
class Misfit {
  constructor(readonly message: string) {}
}

function safeInteger(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
  if (typeof raw === 'bigint') {
    return raw >= BigInt(Number.MIN_SAFE_INTEGER) && raw <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(raw)
      : undefined;
  }
  return undefined;
}

/** Adds exactly: a plain number while the sum stays a safe integer, a bigint beyond. */
function addInteger(sum: bigint | number, add: number): bigint | number {
  if (typeof sum === 'number') {
    const next = sum + add;
    return Number.isSafeInteger(next) ? next : BigInt(sum) + BigInt(add);
  }
  return sum + BigInt(add);
}

/**
 * The typed cell value for `raw`, adding it to the column's running sum. Hot path: runs once per
 * cell of a million-row sheet, so no Intl, no BigInt unless needed.
 */
function convert<Row>(column: PreparedColumn<Row>, raw: unknown): ExcelJS.CellValue | Misfit {
  if (raw === null || raw === undefined) return null;
  const { spec } = column;
  switch (spec.type) {
    case 'text':
      // Always a plain string: an object such as { formula } from outside can never become a formula.
      return safeText(raw);
    case 'date': {
      if (raw instanceof Date && !Number.isNaN(raw.getTime())) {
        return new Date(Date.UTC(raw.getUTCFullYear(), raw.getUTCMonth(), raw.getUTCDate()));
      }
      const m = typeof raw === 'string' ? ISO_DATE.exec(raw) : null;
      if (!m) return new Misfit(`expected an ISO date (YYYY-MM-DD), got ${JSON.stringify(raw)}`);
      const year = Number(m[1]);
      const month = Number(m[2]) - 1;
      const day = Number(m[3]);
      const date = new Date(Date.UTC(year, month, day));
      if (date.getUTCMonth() !== month || date.getUTCDate() !== day)
        return new Misfit(`not a calendar date: ${raw}`);
      return date;
    }
    case 'datetime': {
      const date = raw instanceof Date ? raw : typeof raw === 'string' ? new Date(raw) : undefined;
      if (date === undefined || Number.isNaN(date.getTime())) {
        return new Misfit(`expected a timestamp, got ${JSON.stringify(raw)}`);
      }
      return date;
    }
    case 'integer':
    case 'points': {
      const value = safeInteger(raw);
      if (value === undefined) return new Misfit(`expected a whole number, got ${String(raw)}`);
      if (column.totalled) column.sum = addInteger(column.sum, value);
      return value;
    }
    case 'money': {
      let minorRaw: unknown = raw;
      if (typeof raw === 'object' && raw !== null && 'minor' in raw) {
        const money = raw as { minor: unknown; currency?: unknown };
        if (money.currency !== spec.currency) {
          return new Misfit(`amount in ${String(money.currency)} in a ${spec.currency} column`);
        }
        minorRaw = money.minor;
      }
      const minor = safeInteger(minorRaw);
      if (minor === undefined) {
        return new Misfit(`expected an amount in minor units of ${spec.currency}, got ${String(minorRaw)}`);
      }
      if (column.totalled) column.sum = addInteger(column.sum, minor);
      // Both operands are exact and IEEE division rounds correctly, so this is the double nearest to
      // the decimal amount — the same number Number("1234.56") gives.
      return minor / column.scale;
    }
    case 'decimal':
    case 'percent': {
      if (typeof raw !== 'number' || !Number.isFinite(raw))
        return new Misfit(`expected a number, got ${String(raw)}`);
      if (column.totalled) column.sum = Number(column.sum) + raw;
      return raw;
    }
  }
}

/** Characters of a whole number written with thousands separators. */
function groupedLength(n: number): number {
  const digits = String(Math.trunc(Math.abs(n))).length;
  return digits + Math.floor((digits - 1) / 3) + (n < 0 ? 1 : 0);
}

/** About how many characters Excel shows for a converted value: used to size the column. */
function displayLength<Row>(column: PreparedColumn<Row>, value: ExcelJS.CellValue): number {
  if (value === null) return 0;
  const { spec } = column;
  switch (spec.type) {
    case 'text':
      return Math.min(String(value).length, 60);
    case 'date':
      return 10;
    case 'datetime':
      return 19;
    case 'integer':
    case 'points':
      return groupedLength(value as number);
    case 'money':
      return groupedLength(value as number) + (column.exponent > 0 ? column.exponent + 1 : 0) + 1 + 3;
    case 'decimal': {
      const decimals = spec.decimals ?? 2;
      return groupedLength(value as number) + (decimals > 0 ? decimals + 1 : 0);
    }
    case 'percent':
      return ((value as number) * 100).toFixed(spec.decimals ?? 1).length + 1;
  }
}

function columnLetter(index: number): string {
  let n = index + 1;
  let letters = '';
  while (n > 0) {
    const rem = (n - 1) % 26;
    letters = String.fromCharCode(65 + rem) + letters;
    n = Math.floor((n - 1) / 26);
  }
  return letters;
}

/** `(0, 1)` → `A1`: zero-based column, one-based row, as in formulas. */
export function cellAddress(columnIndex: number, row: number): string {
  return `${columnLetter(columnIndex)}${row}`;
}

function parseAddress(address: string): { col: number; row: number } | undefined {
  const m = /^([A-Z]{1,3})([1-9]\d{0,6})$/.exec(address.toUpperCase());
  if (!m) return undefined;
  let col = 0;
  for (const ch of m[1] as string) col = col * 26 + (ch.charCodeAt(0) - 64);
  return { col: col - 1, row: Number(m[2]) - 1 };
}

function pngSize(png: Buffer): { width: number; height: number } | undefined {
  const signature = '89504e470d0a1a0a';
  if (png.length < 24 || png.subarray(0, 8).toString('hex') !== signature) return undefined;
  if (png.subarray(12, 16).toString('latin1') !== 'IHDR') return undefined;
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

function xmlAttr(text: string): string {
  return safeText(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/[\t\n\r]/g, ' ');
}

interface PlacedImage {
  mediaName: string;
  col: number;
  row: number;
  widthPx: number;
  heightPx: number;
  description: string;
}

function drawingXml(images: PlacedImage[]): string {
  const anchors = images.map((image, i) => {
    const cx = Math.round(image.widthPx * EMU_PER_PIXEL);
    const cy = Math.round(image.heightPx * EMU_PER_PIXEL);
    return (
      '<xdr:oneCellAnchor>' +
      `<xdr:from><xdr:col>${image.col}</xdr:col><xdr:colOff>0</xdr:colOff>` +
      `<xdr:row>${image.row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>` +
      `<xdr:ext cx="${cx}" cy="${cy}"/>` +
      '<xdr:pic><xdr:nvPicPr>' +
      `<xdr:cNvPr id="${i + 2}" name="Picture ${i + 1}" descr="${xmlAttr(image.description)}"/>` +
      '<xdr:cNvPicPr><a:picLocks noChangeAspect="1"/></xdr:cNvPicPr></xdr:nvPicPr>' +
      `<xdr:blipFill><a:blip r:embed="rId${i + 1}"/><a:stretch><a:fillRect/></a:stretch></xdr:blipFill>` +
      `<xdr:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="${cx}" cy="${cy}"/></a:xfrm>` +
      '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr></xdr:pic>' +
      '<xdr:clientData/></xdr:oneCellAnchor>'
    );
  });
  return (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
    '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"' +
    ' xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"' +
    ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">' +
    anchors.join('') +
    '</xdr:wsDr>'
  );
}

function drawingRelsXml(images: PlacedImage[]): string {
  const rels = images.map(
    (image, i) => `<Relationship Id="rId${i + 1}" Type="${IMAGE_REL}" Target="../media/${image.mediaName}"/>`,
  );
  return (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
    rels.join('') +
    '</Relationships>'
  );
}

function formatStamp(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

// ---------------------------------------------------------------------------------------------

/**
 * A report workbook being written to a stream. Add sheets in order with `addSheet`, then `finish`.
 * If anything fails, call `abort` (the output is then incomplete and must be discarded; the file
 * helpers below do that).
 */
export class ReportWorkbook {
  private readonly book: WorkbookInternals;
  private readonly options: WorkbookOptions;
  private readonly stamp: Date;
  private readonly sheetNames = new Set<string>();
  private readonly summaries: SheetSummary[] = [];
  private readonly drawings: string[] = [];
  private readonly failure: Promise<never>;
  private busy = false;
  private finished = false;

  constructor(output: Writable, options: WorkbookOptions) {
    this.options = options;
    this.stamp = new Date(options.clock().getTime());
    if (Number.isNaN(this.stamp.getTime())) {
      throw new RedeyeError('REPORT_SPEC_INVALID', 'the clock returned an invalid date');
    }
    const book = new ExcelJS.stream.xlsx.WorkbookWriter({
      stream: output,
      useStyles: true,
      // Inline strings: shared strings would keep every distinct text of the workbook in memory.
      useSharedStrings: false,
    }) as unknown as WorkbookInternals;
    assertInternals(book);
    this.book = book;
    book.created = this.stamp;
    book.modified = this.stamp;
    book.creator = options.creator ?? 'Redeye';
    book.lastModifiedBy = options.creator ?? 'Redeye';
    book.title = safeText(options.report.name);
    book.subject = `Business date ${options.report.businessDate}`;

    // Every zip entry (including the two the writer queued in its constructor, which archiver only
    // processes on a later tick) is dated with our clock instead of the wall clock, and the content
    // types learn about the drawings we add.
    const zip = book.zip;
    const moduleAppend = zip._moduleAppend.bind(zip);
    zip._moduleAppend = (source, data, callback) => {
      let content = source;
      if (data.name === '[Content_Types].xml' && this.drawings.length > 0) {
        try {
          content = Buffer.from(this.withDrawingContentTypes(String(source)), 'utf8');
        } catch (error) {
          // We run inside archiver's queue: report through its error event, which fails `finish`.
          zip.emit('error', error as Error);
          callback();
          return;
        }
      }
      moduleAppend(content, { ...data, date: this.stamp }, callback);
    };

    this.failure = new Promise<never>((_, reject) => {
      output.once('error', reject);
      zip.on('error', reject);
    });
    this.failure.catch(() => undefined);
  }

  /** The generation time written into the title blocks and file properties. */
  get generatedAt(): Date {
    return new Date(this.stamp.getTime());
  }

  private withDrawingContentTypes(xml: string): string {
    const overrides = this.drawings
      .map((name) => `<Override PartName="/xl/drawings/${name}.xml" ContentType="${DRAWING_CONTENT_TYPE}"/>`)
      .join('');
    const patched = xml.replace('</Types>', `${overrides}</Types>`);
    if (patched === xml) {
      throw new RedeyeError('XLSX_WRITER_UNSUPPORTED', 'unexpected [Content_Types].xml from exceljs');
    }
    return patched;
  }

  private uniqueSheetName(requested: string): string {
    const base = safeSheetName(requested);
    let name = base;
    for (let n = 2; this.sheetNames.has(name.toLowerCase()); n++) {
      const suffix = ` (${n})`;
      name = `${base.slice(0, 31 - suffix.length)}${suffix}`;
    }
    this.sheetNames.add(name.toLowerCase());
    return name;
  }

  /** Writes one complete sheet. Sheets appear in the order they are added. */
  async addSheet<Row>(spec: SheetSpec<Row>): Promise<SheetSummary> {
    if (this.finished) throw new RedeyeError('REPORT_WORKBOOK_CLOSED', 'the workbook is already finished');
    if (this.busy) {
      throw new RedeyeError('REPORT_WORKBOOK_BUSY', 'sheets are written one at a time: await addSheet first');
    }
    this.busy = true;
    try {
      const summary = await Promise.race([this.writeSheet(spec), this.failure]);
      this.summaries.push(summary);
      return summary;
    } finally {
      this.busy = false;
    }
  }

  private async writeSheet<Row>(spec: SheetSpec<Row>): Promise<SheetSummary> {
    const pull = spec.table ? rowPuller(spec.table.rows) : undefined;
    try {
      return await this.writeSheetFrom(spec, pull);
    } catch (error) {
      await pull?.close().catch(() => undefined);
      throw error;
    }
  }

  private async writeSheetFrom<Row>(
    spec: SheetSpec<Row>,
    pull: RowPuller<Row> | undefined,
  ): Promise<SheetSummary> {
    const name = this.uniqueSheetName(spec.name);
    const table = spec.table;
    const columns = table ? prepareColumns(table.columns, name) : [];
    const images = this.prepareImages(spec.images ?? [], name);

    // Title block rows, then one blank row before the header.
    const titleLines: Array<{ text: string; font: Partial<ExcelJS.Font> }> = [];
    if (spec.titleBlock ?? true) {
      const section = spec.title ?? spec.name;
      const reportName = this.options.report.name;
      titleLines.push({
        text: section === reportName ? reportName : `${reportName} — ${section}`,
        font: TITLE_FONT,
      });
      titleLines.push({
        text: `Business date ${this.options.report.businessDate} · generated ${formatStamp(this.stamp)}`,
        font: SUBTITLE_FONT,
      });
      for (const note of spec.notes ?? []) titleLines.push({ text: note, font: BASE_FONT });
    }
    const headerRow = titleLines.length > 0 ? titleLines.length + 2 : 1;

    // Read ahead to size the columns: widths are written before the first row.
    const sample: ExcelJS.CellValue[][] = [];
    const sampleLimit = this.options.widthSampleRows ?? 1000;
    let done = pull === undefined;
    let rowNumber = headerRow;
    while (!done && sample.length < sampleLimit) {
      let next = (pull as RowPuller<Row>).next();
      if (next instanceof Promise) next = await next;
      if (next.done) {
        done = true;
        break;
      }
      rowNumber++;
      sample.push(this.convertRow(columns, next.value, rowNumber, name));
    }
    for (const column of columns) {
      for (const row of sample) {
        column.width = Math.max(column.width, displayLength(column, row[column.index] ?? null) + 2);
      }
      // A total can be wider than any sampled value.
      if (column.totalled) column.width += 2;
      column.width = column.spec.width ?? Math.min(Math.max(column.width, 8), 60);
    }

    const freezeColumns = table?.freezeColumns ?? 0;
    const views = table ? [{ state: 'frozen', xSplit: freezeColumns, ySplit: headerRow }] : [];
    const sheet = this.book.addWorksheet(name, { views, pageSetup: PAGE_SETUP, headerFooter: PAGE_FOOTER });
    assertSheetInternals(sheet);
    if (columns.length > 0) {
      sheet.columns = columns.map((c) => ({ width: c.width, style: c.style }));
    }

    // Title block.
    for (const line of titleLines) {
      const row = sheet.addRow([]);
      const cell = row.getCell(1);
      cell.value = safeText(line.text);
      cell.style = { font: line.font };
      row.commit();
    }
    if (titleLines.length > 0) sheet.addRow([]).commit();

    const summary: SheetSummary = { name, dataRows: 0, totals: {}, images: images.length };
    if (table) {
      const header = sheet.addRow([]);
      for (const column of columns) {
        const cell = header.getCell(column.index + 1);
        cell.value = safeText(column.spec.header);
        cell.style = HEADER_STYLE;
      }
      header.commit();
      summary.headerRow = headerRow;

      let dataRows = 0;
      const writeRow = (cells: ExcelJS.CellValue[]): void => {
        const row = sheet.addRow(cells);
        for (const column of columns) row.getCell(column.index + 1).style = column.style;
        row.commit();
      };
      for (const cells of sample) {
        writeRow(cells);
        dataRows++;
        const wait = this.drainWait(sheet);
        if (wait) await wait;
      }
      sample.length = 0;
      // The per-row loop only awaits when the source is asynchronous or the compressor is behind.
      while (!done) {
        let next = (pull as RowPuller<Row>).next();
        if (next instanceof Promise) next = await next;
        if (next.done) break;
        rowNumber++;
        writeRow(this.convertRow(columns, next.value, rowNumber, name));
        dataRows++;
        const wait = this.drainWait(sheet);
        if (wait) await wait;
      }

      summary.dataRows = dataRows;
      const lastColumn = columnLetter(columns.length - 1);
      if (dataRows > 0) {
        summary.firstDataRow = headerRow + 1;
        summary.lastDataRow = headerRow + dataRows;
      }
      if (table.autoFilter ?? true) sheet.autoFilter = `A${headerRow}:${lastColumn}${headerRow + dataRows}`;

      if (table.totals) {
        const totalsRow = headerRow + dataRows + 1;
        const row = sheet.addRow([]);
        const label =
          typeof table.totals === 'object' && table.totals.label !== undefined ? table.totals.label : 'Total';
        const labelColumn = columns.find((c) => !c.totalled);
        if (labelColumn) {
          const cell = row.getCell(labelColumn.index + 1);
          cell.value = safeText(label);
          cell.style = totalsStyle(labelColumn.numFmt);
        }
        for (const column of columns) {
          if (!column.totalled) continue;
          const cached = this.totalValue(column);
          summary.totals[column.spec.header] = cached;
          const cell = row.getCell(column.index + 1);
          const letter = columnLetter(column.index);
          // With no data rows there is no range to sum: the total is the constant 0.
          cell.value =
            dataRows > 0
              ? { formula: `SUM(${letter}${headerRow + 1}:${letter}${headerRow + dataRows})`, result: cached }
              : 0;
          cell.style = totalsStyle(column.numFmt);
        }
        row.commit();
        summary.totalsRow = totalsRow;
      }
    }

    if (images.length > 0) this.attachDrawing(sheet, images);
    sheet.commit();
    return summary;
  }

  private convertRow<Row>(
    columns: PreparedColumn<Row>[],
    row: Row,
    rowNumber: number,
    sheet: string,
  ): ExcelJS.CellValue[] {
    const cells = new Array<ExcelJS.CellValue>(columns.length);
    for (const column of columns) {
      const converted = convert(column, column.read(row));
      if (converted instanceof Misfit) {
        throw new RedeyeError('REPORT_VALUE_INVALID', converted.message, {
          sheet,
          line: rowNumber,
          field: column.spec.header,
        });
      }
      cells[column.index] = converted;
    }
    return cells;
  }

  private totalValue<Row>(column: PreparedColumn<Row>): number {
    if (column.spec.type !== 'money') return Number(column.sum);
    return typeof column.sum === 'number'
      ? column.sum / column.scale
      : Number(formatMinor(column.sum, column.spec.currency as string));
  }

  /**
   * A promise to wait on while the compressor has not caught up with the rows written so far, or
   * undefined when writing can go on (the common case, kept free of promise overhead).
   */
  private drainWait(sheet: WorksheetInternals): Promise<unknown> | undefined {
    const target = sheet.stream.pipes?.[0];
    if (!target?._writableState?.needDrain) return undefined;
    return Promise.race([once(target as unknown as NodeJS.EventEmitter, 'drain'), this.failure]);
  }

  private prepareImages(images: readonly SheetImage[], sheet: string): PlacedImage[] {
    return images.map((image) => {
      const size = pngSize(image.png);
      const at = parseAddress(image.at);
      if (!size) throw new RedeyeError('REPORT_SPEC_INVALID', 'an image must be a PNG', { sheet });
      if (!at) throw new RedeyeError('REPORT_SPEC_INVALID', `not a cell address: ${image.at}`, { sheet });
      const id = this.book.addImage({ buffer: image.png, extension: 'png' });
      return {
        mediaName: this.book.getImage(id).name,
        col: at.col,
        row: at.row,
        widthPx: image.width ?? size.width,
        heightPx: image.height ?? size.height,
        description: image.description ?? '',
      };
    });
  }

  private attachDrawing(sheet: WorksheetInternals, images: PlacedImage[]): void {
    const name = `drawing${this.drawings.length + 1}`;
    this.drawings.push(name);
    const writeLegacyData = sheet._writeLegacyData.bind(sheet);
    // The writer calls this last before closing the sheet; <drawing> belongs right before <legacyDrawing>.
    sheet._writeLegacyData = () => {
      const rId = sheet._sheetRelsWriter.addRelationship({
        Type: DRAWING_REL,
        Target: `../drawings/${name}.xml`,
      });
      sheet.stream.write(`<drawing r:id="${rId}"/>`);
      writeLegacyData();
    };
    this.book.zip.append(drawingXml(images), { name: `xl/drawings/${name}.xml` });
    this.book.zip.append(drawingRelsXml(images), { name: `xl/drawings/_rels/${name}.xml.rels` });
  }

  /** Completes the file. The output stream has received every byte when this resolves. */
  async finish(): Promise<WorkbookSummary> {
    if (this.busy) throw new RedeyeError('REPORT_WORKBOOK_BUSY', 'a sheet is still being written');
    if (this.finished) throw new RedeyeError('REPORT_WORKBOOK_CLOSED', 'the workbook is already finished');
    this.finished = true;
    if (this.summaries.length === 0) {
      throw new RedeyeError('REPORT_SPEC_INVALID', 'a workbook needs at least one sheet');
    }
    await Promise.race([this.book.commit(), this.failure]);
    return { sheets: [...this.summaries], generatedAt: this.generatedAt };
  }

  /** Stops writing; the output is incomplete. */
  abort(): void {
    this.finished = true;
    this.book.zip.abort();
  }
}

interface RowPuller<T> {
  next(): IteratorResult<T> | Promise<IteratorResult<T>>;
  /** Lets the source release what it holds (a database cursor) when the sheet stops early. */
  close(): Promise<void>;
}

function rowPuller<T>(rows: Iterable<T> | AsyncIterable<T>): RowPuller<T> {
  const iterator =
    Symbol.asyncIterator in rows
      ? (rows as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (rows as Iterable<T>)[Symbol.iterator]();
  return {
    next: () => iterator.next(),
    close: async () => {
      await iterator.return?.();
    },
  };
}

/**
 * Writes `path` so that a reader (the mailer, an SFTP upload) never sees half of it: `write` fills a
 * temporary file beside it, which is flushed to disk and then renamed, so a crash just after cannot leave
 * the name on empty blocks. On failure the temporary file is removed and the error passed on; a killed
 * run leaves at most a `.part` file, which the retention job sweeps.
 */
export async function writeThroughTemporary<T>(
  path: string,
  write: (temporary: string) => Promise<T>,
): Promise<T> {
  // The suffix the retention job sweeps by, should the run be killed before the rename.
  const temporary = `${path}.${process.pid}${TEMP_SUFFIX}`;
  try {
    const result = await write(temporary);
    const handle = await open(temporary, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    return result;
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Writes a workbook to `path` atomically (see writeThroughTemporary). */
export async function writeWorkbookFile(
  path: string,
  options: WorkbookOptions,
  build: (book: ReportWorkbook) => Promise<void>,
): Promise<WorkbookSummary> {
  return writeThroughTemporary(path, async (temporary) => {
    const output = createWriteStream(temporary);
    const closed = once(output, 'close');
    const book = new ReportWorkbook(output, options);
    try {
      await build(book);
      const summary = await book.finish();
      await closed;
      return summary;
    } catch (error) {
      book.abort();
      output.destroy();
      throw error;
    }
  });
}

/** Builds a (small) workbook in memory, e.g. for a mail attachment or a test. */
export async function buildWorkbookBuffer(
  options: WorkbookOptions,
  build: (book: ReportWorkbook) => Promise<void>,
): Promise<{ bytes: Buffer; summary: WorkbookSummary }> {
  const chunks: Buffer[] = [];
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  const book = new ReportWorkbook(output, options);
  try {
    await build(book);
    const summary = await book.finish();
    return { bytes: Buffer.concat(chunks), summary };
  } catch (error) {
    book.abort();
    throw error;
  }
}
