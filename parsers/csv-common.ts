/**
 * Shared machinery of the CSV feeds (flown coupons, partner accrual, redemptions, members, retro-claims):
 * one streaming reader built on csv-parse that accounts for every physical line, and the field validators
 * the feeds share.
 *
 * Reason codes produced by the CSV feeds. Record level (a RejectEvent, the line is not posted):
 *
 * | code               | feeds                  | meaning                                                          |
 * |--------------------|------------------------|------------------------------------------------------------------|
 * | MALFORMED          | all                    | wrong field count; partner: any unreadable field (bad date, …)   |
 * | BAD_ENCODING       | header-row feeds       | the line holds invalid UTF-8 or a NUL byte (partner: MALFORMED)  |
 * | MISSING_FIELD      | header-row feeds       | a required value is empty                                        |
 * | BAD_DATE           | header-row feeds       | not a real calendar date YYYY-MM-DD                              |
 * | BAD_TIMESTAMP      | members                | not an ISO 8601 date-time with a time zone                       |
 * | BAD_AMOUNT         | flown, partner         | not a decimal of ≤ 18 digits before the point and ≤ 9 after;     |
 * |                    |                        | partner: also points (sign, -2^31 to 2^31-1), spend rules        |
 * | BAD_CURRENCY       | flown, partner         | not a 3-letter ISO 4217 code                                     |
 * | BAD_TICKET         | flown, retro-claims    | not 13 digits (a `-` after the 3-digit prefix is tolerated)      |
 * | BAD_COUPON         | flown, retro-claims    | coupon number not 1–4                                            |
 * | BAD_POINTS         | redemptions            | points not a positive integer up to 2,147,483,647                |
 * | BAD_MEMBER_NUMBER  | header-row feeds       | member number not 1–24 letters/digits (check digit: rules layer);|
 * |                    |                        | members: not of the program's pattern (program.memberNumber)     |
 * | CHECK_DIGIT        | members                | member number (or merged_into) fails the program's check digit   |
 * | BAD_STATUS         | flown, redemptions, members | status not one of the documented values                     |
 * | BAD_ENUM           | flown, redemptions, members | cabin, passenger type, service type, channel, group type…   |
 * | BAD_FORMAT         | header-row feeds       | a code or text field not in its expected shape (airport, …)      |
 * | INCONSISTENT_FIELDS| members                | fields contradict each other (merged_into without MERGED, …)     |
 * | RECEIVED_BEFORE_FLIGHT | retro-claims       | a claim by flight received before its flight_date                |
 * | FUTURE_DATE        | members                | updated_at more than a day after the file came in                |
 * | UNCLOSED_QUOTE     | header-row feeds       | the reject covering a never-closed quoted field (file rejected)  |
 * | RECORD_TOO_LONG    | header-row feeds       | the reject covering a record over 64 KiB (file rejected)         |
 * | BAD_HEADER_ROW     | header-row feeds       | the reject covering an unusable header row and the unread rest   |
 * | UNKNOWN_COLUMN     | header-row feeds       | the same, when the header names a column the interface lacks     |
 *
 * File level (VerdictEvent.reason, the verdict is `rejected`):
 *
 * | code                   | feeds            | meaning                                                           |
 * |------------------------|------------------|-------------------------------------------------------------------|
 * | EMPTY_FILE             | all              | no line with content                                              |
 * | BAD_HEADER_ROW         | header-row feeds | a required column missing, a column twice, or a column unnamed    |
 * | UNKNOWN_COLUMN         | header-row feeds | a column the published interface does not define                  |
 * | UNCLOSED_QUOTE         | header-row feeds | a quoted field never closes: the rest of the file is unreadable   |
 * | RECORD_TOO_LONG        | header-row feeds | a record over 64 KiB: the rest of the file is unreadable          |
 * | BAD_TRAILER            | flown, partner   | trailer malformed, repeated, not last; partner: T missing         |
 * | CONTROL_TOTAL_MISMATCH | flown, partner   | trailer figures differ from the rows read                         |
 * | BAD_HEADER             | partner          | H missing, malformed, repeated, or contradicting the file name    |
 *
 * The partner feed answers its partners with the codes of partner-accrual.md only, so it maps the
 * record-level codes above onto MALFORMED, BAD_AMOUNT and BAD_CURRENCY and the file-level ones onto
 * BAD_HEADER, BAD_TRAILER, CONTROL_TOTAL_MISMATCH and EMPTY_FILE (see partner.ts).
 */
import { Readable } from 'node:stream';
import { isUtf8 } from 'node:buffer';
import { Parser as CsvParser, type CsvError, type Options as CsvOptions } from 'csv-parse';
import iconv from 'iconv-lite';
import { RedeyeError } from '../lib/errors.js';
import { validateMemberNumber, type MemberNumberRule } from '../rules/check-digit.js';
import {
  clipText,
  checkEncoding,
  utf8BomLength,
  type FeedName,
  type FeedParser,
  type LineAccount,
  type ParseEvent,
  type ParseInput,
  type ParseOptions,
  type RecordEvent,
  type RejectEvent,
  type Verdict,
} from './types.js';

/** Where a record came from; every typed record carries it so staged records keep their origin. */
export interface SourceLine {
  sourceFile: string;
  /** 1-based physical line where the record starts. */
  sourceLine: number;
}

/**
 * Longest record the reader accepts, in characters. Real rows are well under 2 KB; a longer one means a
 * quote that never closes or a file without line breaks, and csv-parse would otherwise buffer the rest of
 * the file in memory.
 */
export const MAX_RECORD_CHARS = 64 * 1024;

/** Bytes the delimiter sniffer reads at most while looking for the end of the first line. */
const SNIFF_LIMIT = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;

// ---------------------------------------------------------------------------------------------------
// The reader

/** The problem that ends reading a file: everything from `line` to the end is one reject. */
export interface AbandonFile {
  type: 'abandon';
  field: string;
  reason: string;
  message: string;
  text: string;
}

/** What a handler makes of one row: an event to yield, `null` for a structure line, or the end of reading. */
export type RowOutcome<T> = RecordEvent<T> | RejectEvent | AbandonFile | null;

export interface FileEnd {
  /** The account so far, complete (lines included). */
  account: Readonly<LineAccount>;
  /** Rows with content seen (header, data, structure), before any abandonment. */
  contentRows: number;
  /** Set when reading stopped early; the verdict must reject the file. */
  abandoned: { line: number; reason: string; message: string } | null;
  delimiter: string;
}

export interface FileVerdict {
  verdict: Verdict;
  reason?: string;
  message?: string;
  meta?: Record<string, unknown>;
}

/** One file's interpretation of rows; a new handler is made per file. */
export interface CsvRowHandler<T> {
  /** Told the separator before the first row, so rejects can quote a row as it was written. */
  begin?(delimiter: string): void;
  /**
   * Called for every row with content, in file order. `encodingFault` is the index of the first field
   * holding a NUL or an invalid UTF-8 sequence, or -1.
   */
  row(fields: string[], line: number, lines: number, encodingFault: number): RowOutcome<T>;
  /** Reason code for a reject the reader makes itself (UNCLOSED_QUOTE, RECORD_TOO_LONG). */
  readerReason(code: string): string;
  finish(end: FileEnd): FileVerdict;
}

export interface CsvReadOptions {
  /** Fixed separator; when absent the first line with content decides among `candidates`. */
  delimiter?: string | undefined;
  candidates: readonly string[];
  /** Character set of the file (default UTF-8); others are decoded with iconv-lite. */
  encoding?: string | undefined;
}

interface ReaderState {
  lastCpEnd: number;
  lastEmpty: number;
  correction: number;
  lastPhysEnd: number;
  abandoned: { line: number; reject: Omit<RejectEvent, 'lines'> } | null;
  contentRows: number;
}

/**
 * Reads one CSV file and yields its events, ending with its verdict. Bad data never throws: it becomes a
 * reject or a rejecting verdict. Only a failing stream (or an unknown encoding, a configuration fault)
 * throws, as a RedeyeError.
 *
 * Line numbers are physical lines (LF, CRLF or a lone CR each end one), counted by the reader itself
 * from the bytes, independently of csv-parse. csv-parse's own `lines` counts CR and LF of a CRLF inside a
 * quoted field separately; the reader subtracts those so multi-line records get their true span.
 */
export function readCsvFile<T>(
  feed: FeedName,
  input: ParseInput,
  options: CsvReadOptions,
  handler: CsvRowHandler<T>,
): AsyncIterableIterator<ParseEvent<T>> {
  return flatten(readCsvBatches(feed, input, options, handler));
}

/** The events of one file in the arrays csv-parse hands them over in; the verdict comes last, alone. */
async function* readCsvBatches<T>(
  feed: FeedName,
  input: ParseInput,
  options: CsvReadOptions,
  handler: CsvRowHandler<T>,
): AsyncGenerator<ParseEvent<T>[], void, undefined> {
  const file = input.name;
  const fixedDelimiter = checkDelimiter(options.delimiter);
  const decoder = makeDecoder(options.encoding);
  let source: Readable;
  try {
    source = input.open();
  } catch (error) {
    throw readFault(feed, file, error);
  }

  const account: LineAccount = {
    lines: 0,
    recordLines: 0,
    rejectLines: 0,
    structureLines: 0,
    blankLines: 0,
    records: 0,
    rejects: 0,
  };
  const bytes = new ByteScan();
  const state: ReaderState = {
    lastCpEnd: 0,
    lastEmpty: 0,
    correction: 0,
    lastPhysEnd: 0,
    abandoned: null,
    contentRows: 0,
  };

  const chunks = decodedChunks(source, decoder, bytes)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let delimiter = fixedDelimiter;
  let parser: RowParser | undefined;
  let feeder: Readable | undefined;
  try {
    if (delimiter === undefined) {
      delimiter = await sniffDelimiter(chunks, head, options.candidates);
    }
    const sep = delimiter;
    handler.begin?.(sep);

    const onRow = (
      fields: string[],
      cpEnd: number,
      emptyLines: number,
    ): RecordEvent<T> | RejectEvent | null => {
      if (state.abandoned !== null) return null;
      const blanks = emptyLines - state.lastEmpty;
      state.lastEmpty = emptyLines;
      const cpStart = state.lastCpEnd + 1 + blanks;
      state.lastCpEnd = cpEnd;
      let span = cpEnd - cpStart + 1;
      const line = cpStart - state.correction;
      if (span > 1) {
        const pairs = countCrlfPairs(fields);
        span -= pairs;
        state.correction += pairs;
      }
      account.blankLines += blanks;
      state.lastPhysEnd = line + span - 1;
      if (isBlankRow(fields)) {
        account.blankLines += span;
        return null;
      }
      state.contentRows++;
      const fault = bytes.suspicious ? findEncodingFault(fields) : -1;
      const out = handler.row(fields, line, span, fault);
      if (out === null) {
        account.structureLines += span;
        return null;
      }
      switch (out.type) {
        case 'record':
          account.recordLines += span;
          account.records++;
          return out;
        case 'reject':
          account.rejectLines += span;
          account.rejects++;
          return out;
        case 'abandon':
          state.abandoned = {
            line,
            reject: {
              type: 'reject',
              file,
              line,
              field: out.field,
              reason: out.reason,
              message: out.message,
              text: clipText(out.text),
            },
          };
          bytes.stopFeeding = true;
          return null;
      }
    };

    const onSkip = (err: CsvError | undefined): undefined => {
      if (state.abandoned !== null || err === undefined) return undefined;
      const emptyLines = parser?.info.empty_lines ?? state.lastEmpty;
      const blanks = emptyLines - state.lastEmpty;
      state.lastEmpty = emptyLines;
      account.blankLines += blanks;
      const line = state.lastCpEnd + 1 + blanks - state.correction;
      state.contentRows++;
      const unclosed = err.code === 'CSV_QUOTE_NOT_CLOSED';
      const code = unclosed ? 'UNCLOSED_QUOTE' : 'RECORD_TOO_LONG';
      const message = unclosed
        ? `a quoted field opened at or after line ${line} is never closed: the rest of the file cannot be read`
        : `the record starting at line ${line} exceeds ${MAX_RECORD_CHARS} characters (a quote that never closes, or no line breaks): the rest of the file cannot be read`;
      state.abandoned = {
        line,
        reject: {
          type: 'reject',
          file,
          line,
          field: '*',
          reason: handler.readerReason(code),
          message,
          text: '',
        },
      };
      bytes.stopFeeding = true;
      return undefined;
    };

    parser = new RowParser(onRow, { ...csvTokenizerOptions(sep), on_skip: onSkip });
    const csv = parser;
    feeder = Readable.from(replay(head, chunks), { objectMode: false });
    feeder.on('error', (error) => csv.destroy(error));
    feeder.pipe(csv);

    yield* parser as AsyncIterable<Array<RecordEvent<T> | RejectEvent>>;
    if (bytes.fault !== undefined) throw bytes.fault;

    account.lines = bytes.lines();
    const abandoned = state.abandoned as ReaderState['abandoned'];
    let end: FileEnd['abandoned'] = null;
    if (abandoned !== null) {
      const lines = account.lines - abandoned.line + 1;
      account.rejectLines += lines;
      account.rejects++;
      end = { line: abandoned.line, reason: abandoned.reject.reason, message: abandoned.reject.message };
      yield [{ ...abandoned.reject, lines }];
    } else {
      account.blankLines += account.lines - state.lastPhysEnd;
    }
    const verdict = handler.finish({
      account,
      contentRows: state.contentRows,
      abandoned: end,
      delimiter: sep,
    });
    yield [{ type: 'verdict', file, ...verdict, account: { ...account } }];
  } catch (error) {
    throw readFault(feed, file, error);
  } finally {
    feeder?.destroy();
    parser?.destroy();
    source.destroy();
  }
}

/**
 * How the reader configures csv-parse: every line ending, no BOM handling (the byte scan strips it),
 * relaxed column counts and quotes (the feeds judge fields themselves; a stray quote inside a field
 * stays text), empty lines skipped and counted, and a bounded record so a quote that never closes
 * cannot buffer the whole file. Exported so benchmarks can time csv-parse alone under the same options.
 */
export function csvTokenizerOptions(delimiter: string): CsvOptions {
  return {
    delimiter,
    record_delimiter: ['\r\n', '\n', '\r'],
    bom: false,
    encoding: 'utf8',
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: MAX_RECORD_CHARS,
  };
}

/**
 * csv-parse with the rows intercepted as they are pushed, while `info` still describes the row just
 * ended. (Its `on_record` hook would do the same but builds two context objects per row, which costs
 * more than the rest of the row's handling.) Events leave in one array per input chunk, so the
 * consumer pays the stream's per-item cost once per chunk instead of once per row.
 */
class RowParser extends CsvParser {
  private batch: unknown[] = [];

  constructor(
    private readonly onRow: (fields: string[], cpEnd: number, emptyLines: number) => unknown,
    options: CsvOptions,
  ) {
    super(options);
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) {
      this.release();
      return super.push(null, encoding);
    }
    let out: unknown;
    try {
      out = this.onRow(chunk as string[], this.info.lines, this.info.empty_lines);
    } catch (error) {
      // Thrown here it would escape the stream machinery and crash the process.
      this.destroy(error as Error);
      return false;
    }
    if (out !== null) this.batch.push(out);
    return true;
  }

  override _transform(
    chunk: Buffer,
    encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    super._transform(chunk, encoding, (error?: Error | null) => {
      this.release();
      callback(error);
    });
  }

  override _flush(callback: (error?: Error | null) => void): void {
    super._flush((error?: Error | null) => {
      this.release();
      callback(error);
    });
  }

  private release(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    super.push(batch);
  }
}

function readFault(feed: FeedName, file: string, error: unknown): RedeyeError {
  if (error instanceof RedeyeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new RedeyeError(
    'FEED_READ_FAILED',
    `cannot read ${file}: ${message}`,
    { feed, file },
    { cause: error },
  );
}

function checkDelimiter(delimiter: string | undefined): string | undefined {
  if (delimiter === undefined) return undefined;
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\r' || delimiter === '\n') {
    throw new RedeyeError(
      'BAD_OPTION',
      `CSV delimiter must be one character other than a quote or a line break, got ${JSON.stringify(delimiter)}`,
    );
  }
  return delimiter;
}

type Decoder = { write(buf: Buffer): string; end(): string | undefined } | null;

function makeDecoder(encoding: string | undefined): Decoder {
  if (encoding === undefined) return null;
  const normalized = encoding.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (normalized === 'utf8') return null;
  checkEncoding(encoding);
  return iconv.getDecoder(encoding, { stripBOM: false });
}

/**
 * Watches the bytes on their way to csv-parse: strips a UTF-8 byte-order mark, counts physical lines,
 * and flags the file as suspicious once a NUL or an invalid UTF-8 sequence passed, after which every row
 * is scanned for them (csv-parse turns invalid sequences into U+FFFD). A clean file pays two native
 * scans per chunk and nothing per row.
 */
class ByteScan {
  suspicious = false;
  stopFeeding = false;
  fault: unknown = undefined;
  private breaks = 0;
  private lastWasCr = false;
  private trailingContent = false;
  private bomChecked = false;
  private pendingHead: Buffer | null = null;
  private utf8Carry: Buffer | null = null;

  /** Returns the bytes to pass on (BOM removed), or null while the first three bytes are incomplete. */
  take(chunk: Buffer): Buffer | null {
    if (!this.bomChecked) {
      const joined = this.pendingHead === null ? chunk : Buffer.concat([this.pendingHead, chunk]);
      if (joined.length < 3) {
        this.pendingHead = joined;
        return null;
      }
      this.pendingHead = null;
      this.bomChecked = true;
      chunk = joined.subarray(utf8BomLength(joined));
    }
    this.scan(chunk);
    return chunk;
  }

  /** What remains at the end of input (a file shorter than a BOM). */
  flush(): Buffer | null {
    if (this.utf8Carry !== null) {
      this.suspicious = true;
      this.utf8Carry = null;
    }
    if (this.pendingHead === null) return null;
    const rest = this.pendingHead;
    this.pendingHead = null;
    this.bomChecked = true;
    const out = rest.subarray(utf8BomLength(rest));
    this.scan(out);
    if (this.utf8Carry !== null) {
      this.suspicious = true;
      this.utf8Carry = null;
    }
    return out;
  }

  lines(): number {
    return this.breaks + (this.trailingContent ? 1 : 0);
  }

  private scan(buf: Buffer): void {
    const len = buf.length;
    if (len === 0) return;
    let i = buf.indexOf(LF);
    while (i !== -1) {
      if (i > 0 ? buf[i - 1] !== CR : !this.lastWasCr) this.breaks++;
      i = buf.indexOf(LF, i + 1);
    }
    i = buf.indexOf(CR);
    while (i !== -1) {
      this.breaks++;
      i = buf.indexOf(CR, i + 1);
    }
    const last = buf[len - 1];
    this.lastWasCr = last === CR;
    this.trailingContent = last !== LF && last !== CR;
    if (!this.suspicious) this.checkText(buf);
  }

  private checkText(buf: Buffer): void {
    if (buf.indexOf(0) !== -1) {
      this.suspicious = true;
      return;
    }
    let body = buf;
    if (this.utf8Carry !== null) {
      // Complete the sequence split by the previous chunk with this chunk's continuation bytes.
      let k = 0;
      while (k < 3 && k < buf.length && ((buf[k] as number) & 0xc0) === 0x80) k++;
      const joined = Buffer.concat([this.utf8Carry, buf.subarray(0, k)]);
      this.utf8Carry = null;
      if (!isUtf8(joined)) {
        this.suspicious = true;
        return;
      }
      body = buf.subarray(k);
    }
    const cut = incompleteTail(body);
    if (!isUtf8(body.subarray(0, cut))) {
      this.suspicious = true;
      return;
    }
    if (cut < body.length) this.utf8Carry = Buffer.from(body.subarray(cut));
  }
}

/** Index where an incomplete multi-byte UTF-8 sequence starts at the end of `buf`, or its length. */
function incompleteTail(buf: Buffer): number {
  const len = buf.length;
  for (let i = len - 1; i >= 0 && i >= len - 4; i--) {
    const b = buf[i] as number;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return len - i < need ? i : len;
  }
  return len;
}

async function* decodedChunks(
  source: Readable,
  decoder: Decoder,
  scan: ByteScan,
): AsyncGenerator<Buffer, void, undefined> {
  try {
    for await (const raw of source as AsyncIterable<Buffer | string>) {
      let chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
      if (decoder !== null) chunk = Buffer.from(decoder.write(chunk), 'utf8');
      const out = scan.take(chunk);
      if (out !== null && out.length > 0 && !scan.stopFeeding) yield out;
    }
    if (decoder !== null) {
      const rest = decoder.end();
      if (rest) {
        const out = scan.take(Buffer.from(rest, 'utf8'));
        if (out !== null && out.length > 0 && !scan.stopFeeding) yield out;
      }
    }
    const tail = scan.flush();
    if (tail !== null && tail.length > 0 && !scan.stopFeeding) yield tail;
  } catch (error) {
    // Kept aside: csv-parse would otherwise see a clean end and the file would look complete.
    scan.fault = error;
  }
}

async function* replay(
  head: Buffer[],
  rest: AsyncIterator<Buffer, void, undefined>,
): AsyncGenerator<Buffer, void, undefined> {
  for (const chunk of head) yield chunk;
  head.length = 0;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}

/**
 * Reads ahead until the first line with content is complete and picks the candidate separator that
 * occurs most often in it (the first candidate on a tie). The chunks read stay in `head` for replay.
 * Only the new bytes of each chunk are looked at, so a source trickling single bytes costs no more.
 */
async function sniffDelimiter(
  chunks: AsyncIterator<Buffer, void, undefined>,
  head: Buffer[],
  candidates: readonly string[],
): Promise<string> {
  const fallback = candidates[0] ?? ',';
  if (candidates.length < 2) return fallback;
  let seen = 0;
  let start = -1;
  let stop = -1;
  while (stop < 0 && seen < SNIFF_LIMIT) {
    const next = await chunks.next();
    if (next.done) break;
    const chunk = next.value;
    head.push(chunk);
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      const lineEnd = b === LF || b === CR;
      if (start < 0 && !lineEnd) start = seen + i;
      else if (start >= 0 && lineEnd) {
        stop = seen + i;
        break;
      }
    }
    seen += chunk.length;
  }
  if (start < 0) return fallback;
  const bytes = Buffer.concat(head);
  const line = bytes.toString('utf8', start, stop < 0 ? Math.min(bytes.length, SNIFF_LIMIT) : stop);
  let best = fallback;
  let bestCount = -1;
  for (const candidate of candidates) {
    const count = line.split(candidate).length - 1;
    if (count > bestCount) {
      best = candidate;
      bestCount = count;
    }
  }
  return best;
}

function countCrlfPairs(fields: string[]): number {
  let pairs = 0;
  for (const field of fields) {
    let i = field.indexOf('\r\n');
    while (i !== -1) {
      pairs++;
      i = field.indexOf('\r\n', i + 2);
    }
  }
  return pairs;
}

/** A row of nothing but separators and spaces, as spreadsheet exports pad files with, counts as blank. */
function isBlankRow(fields: string[]): boolean {
  for (const field of fields) {
    if (field.length !== 0 && field.trim().length !== 0) return false;
  }
  return true;
}

function findEncodingFault(fields: string[]): number {
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as string;
    // U+FFFD is what the decoder made of an invalid sequence; a file carrying the character literally
    // is treated the same once it also holds a real fault.
    if (field.indexOf('\0') !== -1 || field.indexOf('\uFFFD') !== -1) return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------------
// Field validation

/** A decimal amount as the feeds write it. The length bounds keep absurd values out of exact sums. */
export const DECIMAL_RE = /^-?\d{1,18}(\.\d{1,9})?$/;
/** What DECIMAL_RE accepts, in words, for reject messages (the pattern alone hid its length bounds). */
export const DECIMAL_TEXT = 'a decimal amount with at most 18 digits before the point and 9 after';
const UNSIGNED_DECIMAL_RE = /^\d{1,18}(\.\d{1,9})?$/;
export const CURRENCY_RE = /^[A-Z]{3}$/;
const TICKET_RE = /^(\d{3})-?(\d{10})$/;
export const MEMBER_NUMBER_RE = /^[0-9A-Za-z]{1,24}$/;
export const CARRIER_RE = /^[A-Z0-9]{2}$/;
/**
 * A flight number as the CSV feeds write it: 1–5 digits, as ftl.md's flight line has them (the FTL reader's
 * own pattern, parsers/ftl/grammar.ts), and an optional suffix letter, so the coupon of any flight the FTL
 * credits can be read. `activities.flight_number` (varchar(8)) holds the 6 characters at most.
 */
export const FLIGHT_NUMBER_RE = /^\d{1,5}[A-Z]?$/;
/** What FLIGHT_NUMBER_RE accepts, in words, for reject messages. */
export const FLIGHT_NUMBER_TEXT = 'a flight number of 1-5 digits and an optional letter';
export const AIRPORT_RE = /^[A-Z]{3}$/;
export const RBD_RE = /^[A-Z]$/;
export const IDENTIFIER_RE = /^[0-9A-Za-z][0-9A-Za-z_./:-]{0,63}$/;
const MAX_TEXT = 200;

/**
 * A real calendar date `YYYY-MM-DD` with a year from 1000 on. Same answer as lib/dates isIsoDate for
 * such years, without building a Date: feeds check two dates per row, millions of rows a night.
 */
export function isCalendarDate(s: string): boolean {
  if (s.length !== 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return false;
  const y = digits(s, 0, 4);
  const m = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  if (y < 1000 || m < 1 || m > 12 || d < 1) return false;
  if (m !== 2) return d <= (DAYS_IN_MONTH[m] as number);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (leap ? 29 : 28);
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number written by `count` ASCII digits at `from`, or -1. */
function digits(s: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * An ISO 8601 date-time: `YYYY-MM-DDTHH:MM[:SS[.fraction]]` with `Z` or `±HH[:]MM`. Returns the instant as
 * a UTC ISO string (millisecond precision, so strings compare in time order), or null. Without a zone
 * the instant is unknown; `zoneRequired: false` then returns the text as written.
 */
export function parseIsoTimestamp(text: string, zoneRequired: boolean): string | null {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
    text,
  );
  if (m === null) return null;
  const [, date, hh, mi, ss, frac, zone] = m as unknown as [
    string,
    string,
    string,
    string,
    string?,
    string?,
    string?,
  ];
  if (!isCalendarDate(date)) return null;
  const h = Number(hh);
  const min = Number(mi);
  const s = ss === undefined ? 0 : Number(ss);
  if (h > 23 || min > 59 || s > 59) return null;
  if (zone === undefined) return zoneRequired ? null : text;
  let offset = 0;
  if (zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(-2));
    if (oh > 23 || om > 59) return null;
    offset = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const epoch = Date.UTC(y, mo - 1, d, h, min, s, ms) - offset * 60_000;
  const instant = new Date(epoch);
  return Number.isNaN(instant.getTime()) ? null : instant.toISOString();
}

/**
 * Exact sum of decimal strings (already validated by DECIMAL_RE). Values are scaled to the largest number
 * of decimals seen and added as integers: in a double while the total stays below 2^53, in a BigInt past
 * that, so a million fares cost a million float additions and not a million BigInt allocations.
 */
export class DecimalSum {
  private scale = 0;
  private big = 0n;
  private small = 0;

  add(text: string): void {
    const negative = text.charCodeAt(0) === 45;
    const body = negative ? text.slice(1) : text;
    const dot = body.indexOf('.');
    const whole = dot < 0 ? body : body.slice(0, dot);
    const frac = dot < 0 ? '' : body.slice(dot + 1);
    if (frac.length > this.scale) this.rescale(frac.length);
    const digits = frac.length === this.scale ? whole + frac : whole + frac.padEnd(this.scale, '0');
    if (digits.length <= 15) {
      const n = Number(digits);
      if (Math.abs(this.small) > 9_007_199_254_740_991 - 1e15) this.flush();
      this.small += negative ? -n : n;
    } else {
      const n = BigInt(digits);
      this.big += negative ? -n : n;
    }
  }

  /** The total with as many decimals as the most precise value added. */
  toString(): string {
    const total = this.big + BigInt(this.small);
    return formatScaled(total, this.scale);
  }

  /** Whether `text` (a decimal string) has the same value as the total, whatever its number of decimals. */
  equals(text: string): boolean {
    const other = toScaled(text);
    if (other === null) return false;
    const total = this.big + BigInt(this.small);
    const scale = Math.max(this.scale, other.scale);
    return total * 10n ** BigInt(scale - this.scale) === other.units * 10n ** BigInt(scale - other.scale);
  }

  private flush(): void {
    this.big += BigInt(this.small);
    this.small = 0;
  }

  private rescale(scale: number): void {
    this.flush();
    this.big *= 10n ** BigInt(scale - this.scale);
    this.scale = scale;
  }
}

function toScaled(text: string): { units: bigint; scale: number } | null {
  // Any length: a total may outgrow the digits a single amount is allowed.
  if (!/^-?\d+(\.\d+)?$/.test(text)) return null;
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  const [whole, frac = ''] = body.split('.') as [string, string?];
  const units = BigInt(whole + frac);
  return { units: negative ? -units : units, scale: frac.length };
}

function formatScaled(units: bigint, scale: number): string {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return negative ? `-${digits}` : digits;
}

export interface FieldProblem {
  field: string;
  reason: string;
  message: string;
  text: string;
}

/**
 * Reads and validates the fields of one row by column index, keeping the first problem found and the
 * names of later ones. One reader serves a whole file: `use` points it at the next row, so valid rows
 * allocate nothing but their record.
 */
export class FieldReader {
  fields: string[] = [];
  problem: FieldProblem | null = null;
  private more: string[] = [];

  /**
   * @param names column names, indexed like the validators' `c` argument
   * @param positions for each column, its field index in the row, or -1 when the file lacks the column
   * @param reasonFor maps the reader's reason codes onto a feed's own (identity by default)
   * @param personal the columns holding personal data (names, birth date, e-mail, phone)
   */
  constructor(
    readonly names: readonly string[],
    public positions: Int32Array,
    private readonly reasonFor: (code: string) => string = (code) => code,
    private readonly personal: ReadonlySet<string> = new Set(),
  ) {}

  use(fields: string[]): void {
    this.fields = fields;
    if (this.problem !== null) {
      this.problem = null;
      this.more = [];
    }
  }

  /** The trimmed value of column `c`, '' when absent or empty. */
  raw(c: number): string {
    const i = this.positions[c] as number;
    if (i < 0) return '';
    const value = this.fields[i];
    return value === undefined ? '' : value.trim();
  }

  /** Records a problem with column `c`; the first one names the reject, later ones are listed in it. */
  fail(c: number, code: string, expected: string, text: string): void {
    const field = this.names[c] ?? '*';
    const reason = this.reasonFor(code);
    if (this.problem === null) {
      // A personal value refused stays only in the reject's text, which erasure and the age rule blank:
      // the message outlives both (files show, the daily report's reject detail).
      const message =
        text.length === 0
          ? `${field} is required: expected ${expected}`
          : this.personal.has(field)
            ? `${field}: expected ${expected}`
            : `${field}: expected ${expected}, found ${JSON.stringify(clipText(text))}`;
      this.problem = { field, reason, message, text };
    } else {
      this.more.push(`${field} ${reason}`);
    }
  }

  /** A reject for the row, naming its first problem and listing the others. */
  reject(file: string, line: number, lines: number): RejectEvent {
    const p = this.problem as FieldProblem;
    const message = this.more.length === 0 ? p.message : `${p.message} (also: ${this.more.join(', ')})`;
    return {
      type: 'reject',
      file,
      line,
      lines,
      field: p.field,
      reason: p.reason,
      message,
      text: clipText(p.text),
    };
  }

  // Required-value validators return a placeholder ('' or 0) after recording a problem: the record they
  // would fill is discarded whenever `problem` is set. Optional ones return null for an empty value.

  /** Free text, bounded in length. */
  text(c: number, expected = 'text'): string {
    const v = this.raw(c);
    if (v.length === 0) this.fail(c, 'MISSING_FIELD', expected, v);
    else if (v.length > MAX_TEXT) this.fail(c, 'BAD_FORMAT', `at most ${MAX_TEXT} characters`, v);
    return v;
  }

  optText(c: number): string | null {
    const v = this.raw(c);
    if (v.length === 0) return null;
    if (v.length > MAX_TEXT) this.fail(c, 'BAD_FORMAT', `at most ${MAX_TEXT} characters`, v);
    return v;
  }

  /** A value matching `re`, else BAD_FORMAT (or `code`). */
  match(c: number, re: RegExp, expected: string, code = 'BAD_FORMAT'): string {
    const v = this.raw(c);
    if (v.length === 0) this.fail(c, 'MISSING_FIELD', expected, v);
    else if (!re.test(v)) this.fail(c, code, expected, v);
    return v;
  }

  optMatch(c: number, re: RegExp, expected: string, code = 'BAD_FORMAT'): string | null {
    const v = this.raw(c);
    if (v.length === 0) return null;
    if (!re.test(v)) this.fail(c, code, expected, v);
    return v;
  }

  date(c: number): string {
    const v = this.raw(c);
    if (v.length === 0) this.fail(c, 'MISSING_FIELD', 'a date YYYY-MM-DD', v);
    else if (!isCalendarDate(v)) this.fail(c, 'BAD_DATE', 'a real calendar date YYYY-MM-DD', v);
    return v;
  }

  optDate(c: number): string | null {
    const v = this.raw(c);
    if (v.length === 0) return null;
    if (!isCalendarDate(v)) this.fail(c, 'BAD_DATE', 'a real calendar date YYYY-MM-DD', v);
    return v;
  }

  /** A decimal amount kept exactly as written; `unsigned` refuses a minus sign. */
  amount(c: number, unsigned = false): string {
    const v = this.raw(c);
    const expected = unsigned ? `${DECIMAL_TEXT}, without a sign` : DECIMAL_TEXT;
    if (v.length === 0) this.fail(c, 'MISSING_FIELD', expected, v);
    else if (!(unsigned ? UNSIGNED_DECIMAL_RE : DECIMAL_RE).test(v)) this.fail(c, 'BAD_AMOUNT', expected, v);
    return v;
  }

  currency(c: number): string {
    return this.match(c, CURRENCY_RE, 'a 3-letter ISO 4217 currency code', 'BAD_CURRENCY');
  }

  /** A ticket number as 13 digits, the tolerated `-` after the airline prefix removed. */
  ticket(c: number): string {
    const v = this.raw(c);
    if (v.length === 0) {
      this.fail(c, 'MISSING_FIELD', 'a 13-digit ticket number', v);
      return v;
    }
    return this.toTicket(c, v);
  }

  optTicket(c: number): string | null {
    const v = this.raw(c);
    return v.length === 0 ? null : this.toTicket(c, v);
  }

  private toTicket(c: number, v: string): string {
    if (v.length === 13 && ALL_DIGITS_RE.test(v)) return v;
    const m = TICKET_RE.exec(v);
    if (m === null) {
      this.fail(c, 'BAD_TICKET', '13 digits (a - after the 3-digit prefix is allowed)', v);
      return v;
    }
    return `${m[1] as string}${m[2] as string}`;
  }

  coupon(c: number): number {
    const v = this.raw(c);
    if (v.length === 0) {
      this.fail(c, 'MISSING_FIELD', 'a coupon number 1-4', v);
      return 0;
    }
    return this.toCoupon(c, v);
  }

  optCoupon(c: number): number | null {
    const v = this.raw(c);
    return v.length === 0 ? null : this.toCoupon(c, v);
  }

  private toCoupon(c: number, v: string): number {
    if (v.length === 1 && v >= '1' && v <= '4') return v.charCodeAt(0) - 48;
    this.fail(c, 'BAD_COUPON', 'a coupon number 1-4', v);
    return 0;
  }

  member(c: number): string {
    return this.match(c, MEMBER_NUMBER_RE, MEMBER_NUMBER_EXPECTED, 'BAD_MEMBER_NUMBER');
  }

  /**
   * A number of this program (`rule`: its pattern and check digit) where a feed creates the member: a
   * number refused here would otherwise be enrolled, and then refused CHECK_DIGIT on every activity.
   */
  programMember(c: number, rule: MemberNumberRule): string {
    const v = this.member(c);
    if (!MEMBER_NUMBER_RE.test(v)) return v;
    const check = validateMemberNumber(v, rule);
    if (check.valid) return v;
    if (check.reason === 'CHECK_DIGIT')
      this.fail(c, 'CHECK_DIGIT', `a member number whose ${rule.checkDigit} check digit holds`, v);
    else
      this.fail(
        c,
        'BAD_MEMBER_NUMBER',
        `a member number of this program${rule.pattern === undefined ? '' : ` (${rule.pattern})`}${rule.checkDigit === 'none' ? '' : ` with a ${rule.checkDigit} check digit`}`,
        v,
      );
    return v;
  }

  optMember(c: number): string | null {
    return this.optMatch(c, MEMBER_NUMBER_RE, MEMBER_NUMBER_EXPECTED, 'BAD_MEMBER_NUMBER');
  }

  /** An optional number of this program, held to `rule` as programMember holds one. */
  optProgramMember(c: number, rule: MemberNumberRule): string | null {
    return this.raw(c).length === 0 ? null : this.programMember(c, rule);
  }

  /** A value from a fixed list; `code` is BAD_STATUS for status columns, BAD_ENUM otherwise. */
  oneOf<E extends string>(c: number, allowed: ReadonlySet<E>, code = 'BAD_ENUM'): E {
    const v = this.raw(c);
    if (v.length === 0) this.fail(c, 'MISSING_FIELD', listOf(allowed), v);
    else if (!allowed.has(v as E)) this.fail(c, code, listOf(allowed), v);
    return v as E;
  }

  optOneOf<E extends string>(c: number, allowed: ReadonlySet<E>, code = 'BAD_ENUM'): E | null {
    const v = this.raw(c);
    if (v.length === 0) return null;
    if (!allowed.has(v as E)) this.fail(c, code, listOf(allowed), v);
    return v as E;
  }
}

function listOf(allowed: ReadonlySet<string>): string {
  return `one of ${[...allowed].join(', ')}`;
}

const ALL_DIGITS_RE = /^\d+$/;
const MEMBER_NUMBER_EXPECTED = 'a member number of 1-24 letters or digits';

// ---------------------------------------------------------------------------------------------------
// Header-row feeds

export interface ColumnSpec {
  name: string;
  /** A required column must appear in the header row; an optional one may be left out (its values read as empty). */
  required: boolean;
  /** Its values are personal data: a reject's message does not quote one it refuses. */
  personal?: true;
}

/** The columns of `columns` holding personal data. */
export const personalColumns = (columns: readonly ColumnSpec[]): ReadonlySet<string> =>
  new Set(columns.filter((c) => c.personal).map((c) => c.name));

export type HeaderCheck =
  | { ok: true; positions: Int32Array; header: string[] }
  | { ok: false; field: string; reason: 'BAD_HEADER_ROW' | 'UNKNOWN_COLUMN'; message: string };

/**
 * Maps a header row onto a feed's columns. Names are compared trimmed and case-insensitively. A column
 * the interface does not define rejects the file rather than being skipped: most often it is a misspelt
 * optional column whose values would otherwise vanish without a trace.
 */
export function checkHeader(fields: string[], columns: readonly ColumnSpec[]): HeaderCheck {
  const header = fields.map((f) => f.trim().toLowerCase());
  const positions = new Int32Array(columns.length).fill(-1);
  const index = new Map(columns.map((col, i) => [col.name, i]));
  const unknown: string[] = [];
  for (let i = 0; i < header.length; i++) {
    const name = header[i] as string;
    if (name.length === 0) {
      return {
        ok: false,
        field: `#${i + 1}`,
        reason: 'BAD_HEADER_ROW',
        message: `header column ${i + 1} has no name`,
      };
    }
    const c = index.get(name);
    if (c === undefined) {
      unknown.push(name);
      continue;
    }
    if (positions[c] !== -1) {
      return {
        ok: false,
        field: name,
        reason: 'BAD_HEADER_ROW',
        message: `header names column ${name} twice`,
      };
    }
    positions[c] = i;
  }
  if (unknown.length > 0) {
    return {
      ok: false,
      field: unknown[0] as string,
      reason: 'UNKNOWN_COLUMN',
      message: `header names column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} not in the interface (expected names: ${columns.map((c) => c.name).join(', ')})`,
    };
  }
  const missing = columns.filter((col, i) => col.required && positions[i] === -1).map((col) => col.name);
  if (missing.length > 0) {
    return {
      ok: false,
      field: missing[0] as string,
      reason: 'BAD_HEADER_ROW',
      message: `header lacks required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
    };
  }
  return { ok: true, positions, header };
}

/**
 * The common life of a header-row feed: the first row with content is the header, every later row is
 * checked for field count and encoding, then built into a record by the feed. Subclasses can take rows
 * before that (flown's trailer) and add to the verdict.
 */
export abstract class HeaderedCsvHandler<T> implements CsvRowHandler<T> {
  protected reader: FieldReader | null = null;
  protected header: string[] = [];
  protected dataRows = 0;
  protected delimiter = ',';

  constructor(
    protected readonly file: string,
    protected readonly columns: readonly ColumnSpec[],
  ) {}

  /** Builds the record from the reader's current row; returns null after recording a problem. */
  protected abstract build(r: FieldReader, line: number): T | null;

  /** Hook for rows that are not data (a trailer); returns undefined to treat the row as data. */
  protected special(_fields: string[], _line: number, _lines: number): RowOutcome<T> | undefined {
    return undefined;
  }

  /** Hook seeing every data row after its record (null when rejected) is made. */
  protected afterData(_r: FieldReader, _fieldCountOk: boolean, _record: T | null): void {}

  protected meta(end: FileEnd): Record<string, unknown> {
    return { delimiter: end.delimiter, columns: this.header };
  }

  /** The verdict when nothing at file level went wrong; subclasses check their trailers here. */
  protected verdictOf(_end: FileEnd): FileVerdict {
    return { verdict: 'accepted' };
  }

  readerReason(code: string): string {
    return code;
  }

  begin(delimiter: string): void {
    this.delimiter = delimiter;
  }

  row(fields: string[], line: number, lines: number, fault: number): RowOutcome<T> {
    let r = this.reader;
    if (r === null) {
      const check = checkHeader(fields, this.columns);
      if (!check.ok) {
        return {
          type: 'abandon',
          field: check.field,
          reason: check.reason,
          message: check.message,
          text: fields.join(this.delimiter),
        };
      }
      this.header = check.header;
      r = this.reader = new FieldReader(
        this.columns.map((c) => c.name),
        check.positions,
        undefined,
        personalColumns(this.columns),
      );
      return null;
    }
    const special = this.special(fields, line, lines);
    if (special !== undefined) return special;
    this.dataRows++;
    r.use(fields);
    const countOk = fields.length === this.header.length;
    let out: RowOutcome<T>;
    let record: T | null = null;
    if (!countOk) {
      out = {
        type: 'reject',
        file: this.file,
        line,
        lines,
        field: '*',
        reason: 'MALFORMED',
        message: `expected ${this.header.length} fields as in the header row, found ${fields.length}`,
        text: clipText(fields.join(this.delimiter)),
      };
    } else if (fault >= 0) {
      out = {
        type: 'reject',
        file: this.file,
        line,
        lines,
        field: this.header[fault] ?? '*',
        reason: 'BAD_ENCODING',
        message: `${this.header[fault] ?? 'line'}: expected UTF-8 text without NUL bytes`,
        text: clipText(fields[fault] ?? ''),
      };
    } else {
      const built = this.build(r, line);
      if (built === null || r.problem !== null) {
        out = r.reject(this.file, line, lines);
      } else {
        record = built;
        out = { type: 'record', file: this.file, line, lines, record };
      }
    }
    this.afterData(r, countOk, record);
    return out;
  }

  finish(end: FileEnd): FileVerdict {
    const meta = this.meta(end);
    if (end.contentRows === 0) {
      return {
        verdict: 'rejected',
        reason: 'EMPTY_FILE',
        message: 'the file has no header row and no data',
        meta,
      };
    }
    if (end.abandoned !== null) {
      return { verdict: 'rejected', reason: end.abandoned.reason, message: end.abandoned.message, meta };
    }
    const v = this.verdictOf(end);
    return { ...v, meta: { ...meta, ...v.meta } };
  }
}

/**
 * The FeedParser of a delimited feed: each file of a delivery read on its own, by a handler made for it.
 * Without a configured separator the first line with content chooses among `candidates`; a feed whose
 * format allows one separator only gives that one.
 */
export function csvFeedParser<T>(
  feed: FeedName,
  handlerFor: (file: string, options: ParseOptions, input: ParseInput) => CsvRowHandler<T>,
  candidates: readonly string[] = [',', ';'],
): FeedParser<T> {
  return {
    feed,
    parse(inputs: ParseInput[], options: ParseOptions = {}): AsyncIterable<ParseEvent<T>> {
      const delimiter = options.delimiter ?? (candidates.length === 1 ? candidates[0] : undefined);
      return readCsvFiles(inputs, (input) =>
        readCsvFile(
          feed,
          input,
          { delimiter, candidates, encoding: input.encoding ?? options.encoding },
          handlerFor(input.name, options, input),
        ),
      );
    },
  };
}

/** The events of several files in order. */
export function readCsvFiles<T>(
  inputs: readonly ParseInput[],
  readOne: (input: ParseInput) => AsyncIterable<ParseEvent<T>>,
): AsyncIterable<ParseEvent<T>> {
  if (inputs.length === 1) return readOne(inputs[0] as ParseInput);
  return (async function* () {
    for (const input of inputs) yield* readOne(input);
  })();
}

/**
 * Hands out the events of arrays one by one. An async generator doing the same costs about three
 * promise turns per event, this one promise; over a million rows that is a measurable share of the
 * parse. `return` reaches the source, so a consumer leaving early still closes the file.
 */
function flatten<E>(batches: AsyncGenerator<E[], void, undefined>): AsyncIterableIterator<E> {
  let current: E[] = [];
  let index = 0;
  const iterator: AsyncIterableIterator<E> = {
    next(): Promise<IteratorResult<E>> {
      if (index < current.length) return Promise.resolve({ value: current[index++] as E, done: false });
      return batches.next().then((step): Promise<IteratorResult<E>> | IteratorResult<E> => {
        if (step.done === true) return { value: undefined, done: true };
        current = step.value;
        index = 0;
        return iterator.next();
      });
    },
    return(): Promise<IteratorResult<E>> {
      current = [];
      return batches.return(undefined).then(() => ({ value: undefined, done: true }));
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
