/**
 * Partner accrual files (formats/partner-accrual.md): no header row, the first field of every line is
 * its record type. One H first, D records, one T last whose figures must match the D records read.
 *
 * The partner is answered with the reason codes of its published interface, so this feed speaks only
 * those: record level MALFORMED (wrong field count, unknown record type, missing or unreadable field,
 * bad date, invalid UTF-8 or NUL), BAD_AMOUNT (spend or points missing, not a number, wrong sign; points
 * outside -2,147,483,648 to 2,147,483,647, what the column keeping them holds) and BAD_CURRENCY; file
 * level BAD_HEADER, BAD_TRAILER, CONTROL_TOTAL_MISMATCH and EMPTY_FILE. The other codes of the interface
 * need the member master, the contracts or the file history and belong to later steps. A quoted field
 * that never closes or a record over 64 KiB makes the rest of the file unreadable: the rest is one
 * MALFORMED reject and the file is rejected BAD_TRAILER, its trailer being unreadable.
 *
 * Trailer figures: detail_count counts every D line (accepted or rejected); the sums cover the D lines
 * whose points_requested and spend_amount are readable, an empty value counting as zero, points out of
 * range included (the partner summed them too). The sums are exact whatever their size (DecimalSum). An
 * empty sum in the trailer stands for zero.
 */
import { basename } from 'node:path';
import {
  CURRENCY_RE,
  DECIMAL_RE,
  DECIMAL_TEXT,
  DecimalSum,
  FieldReader,
  IDENTIFIER_RE,
  MEMBER_NUMBER_RE,
  isCalendarDate,
  parseIsoTimestamp,
  csvFeedParser,
  type CsvRowHandler,
  type FileEnd,
  type FileVerdict,
  type RowOutcome,
  type SourceLine,
} from './csv-common.js';
import {
  MAX_INTEGER_COLUMN,
  MIN_INTEGER_COLUMN,
  clipText,
  type FeedParser,
  type RejectEvent,
} from './types.js';

/** One D record. */
export interface PartnerActivity extends SourceLine {
  partnerTxnId: string;
  /** For a reversal (id ending in `-R`): the partner_txn_id of the credit it reverses. */
  reversalOf: string | null;
  /** As written, leading zeros kept. */
  memberNumber: string;
  surname: string;
  /** Given name or initial; may be empty. */
  givenName: string | null;
  activityDate: string;
  activityType: string;
  locationCode: string | null;
  /** Exact decimal string; null when the partner leaves points to the contract and sends none. */
  spendAmount: string | null;
  currency: string | null;
  /** Signed; null when the program is to compute points from spend. */
  pointsRequested: number | null;
  promoCode: string | null;
}

export interface PartnerTotals {
  detailCount: number;
  /** Exact sums as decimal strings. */
  pointsSum: string;
  spendSum: string;
}

/** The verdict's `meta` for a partner file. */
export interface PartnerFileMeta {
  partnerCode: string | null;
  fileSequence: number | null;
  /** As written in H (ISO 8601). */
  createdAt: string | null;
  /** The parts of the file name when it follows `<PARTNER>_<YYYYMMDD>_<SEQ>.csv`. */
  fileName: PartnerFileName | null;
  /** The T record's figures, when it could be read. */
  trailer: PartnerTotals | null;
  /** The same figures computed from the D records read. */
  read: PartnerTotals;
}

export interface PartnerFileName {
  partnerCode: string;
  /** The file date, YYYY-MM-DD. */
  date: string;
  sequence: number;
  /** True for a response file (`.resp.csv`). */
  response: boolean;
}

/**
 * Reads the name convention `<PARTNER>_<YYYYMMDD>_<SEQ>.csv` (or `.resp.csv`) from a file name or path;
 * null when the name does not follow it or its date is not a real one. The partner code is what comes
 * before the date and sequence, read from the right: a code may hold `_` itself (config/schema.ts `code`).
 */
export function parsePartnerFileName(name: string): PartnerFileName | null {
  const m = /^([A-Za-z0-9_-]+)_(\d{4})(\d{2})(\d{2})_(\d{1,9})\.(resp\.)?csv$/i.exec(basename(name));
  if (m === null) return null;
  const date = `${m[2]}-${m[3]}-${m[4]}`;
  if (!isCalendarDate(date)) return null;
  return { partnerCode: m[1] as string, date, sequence: Number(m[5]), response: m[6] !== undefined };
}

const D_COLUMNS = [
  'record_type',
  'partner_txn_id',
  'member_number',
  'surname',
  'given_name',
  'activity_date',
  'activity_type',
  'location_code',
  'spend_amount',
  'currency',
  'points_requested',
  'promo_code',
] as const;
const TXN = 1;
const MEMBER = 2;
const SURNAME = 3;
const GIVEN = 4;
const DATE = 5;
const TYPE = 6;
const LOCATION = 7;
const SPEND = 8;
const CURRENCY = 9;
const POINTS = 10;
const PROMO = 11;

const PARTNER_CODE_RE = /^[A-Za-z0-9-]{1,16}$/;
const SEQUENCE_RE = /^\d{1,9}$/;
const POINTS_RE = /^-?\d{1,15}$/;
/** An activity_type the reader takes; the configuration holds a contract's activity types to it too. */
export const ACTIVITY_TYPE_RE = /^[A-Z][A-Z0-9_]{0,31}$/;

/** Record-level codes of the reader mapped onto the partner interface's. */
function partnerReason(code: string): string {
  return code === 'BAD_AMOUNT' || code === 'BAD_CURRENCY' ? code : 'MALFORMED';
}

class PartnerHandler implements CsvRowHandler<PartnerActivity> {
  private readonly reader = new FieldReader(
    D_COLUMNS,
    Int32Array.from(D_COLUMNS, (_, i) => i),
    partnerReason,
    new Set(['surname', 'given_name']),
  );
  private readonly fileName: PartnerFileName | null;
  private rows = 0;
  private delimiter = ',';
  private header: { partnerCode: string; fileSequence: number; createdAt: string } | null = null;
  private headerProblem: string | null = null;
  private trailer: (PartnerTotals & { line: number }) | null = null;
  private trailerProblem: string | null = null;
  private details = 0;
  private readonly points = new DecimalSum();
  private readonly spend = new DecimalSum();

  constructor(private readonly file: string) {
    this.fileName = parsePartnerFileName(file);
  }

  readerReason(): string {
    return 'MALFORMED';
  }

  begin(delimiter: string): void {
    this.delimiter = delimiter;
  }

  row(fields: string[], line: number, lines: number, fault: number): RowOutcome<PartnerActivity> {
    const first = this.rows === 0;
    this.rows++;
    const type = (fields[0] as string).trim();
    if (first && type !== 'H') {
      // Not quoted: the line may be a D record, names and all, and a file's refusal is kept for good.
      this.headerProblem = `the file must start with an H record, found ${type === 'D' || type === 'T' ? `a ${type} record` : 'no record type H, D or T'} at line ${line}`;
    }
    if (type === 'H') {
      this.readHeader(fields, line, first, fault);
      return null;
    }
    if (this.trailer !== null && this.trailerProblem === null) {
      this.trailerProblem = `the T record at line ${this.trailer.line} is not the last record: more follows at line ${line}`;
    }
    if (type === 'T') {
      this.readTrailer(fields, line, fault);
      return null;
    }
    if (type !== 'D') {
      return this.rejectLine(
        line,
        lines,
        'record_type',
        `record_type: expected a record type H, D or T, found ${JSON.stringify(clipText(type))}`,
        type,
      );
    }
    const detail = this.readDetail(fields, line, lines, fault);
    return detail?.type === 'reject' ? this.identified(detail, fields) : detail;
  }

  /**
   * A D line rejected whole still names its transaction and member where those fields read cleanly: the
   * response echoes them (partner-accrual.md), or the partner cannot tell which record failed.
   */
  private identified(e: RejectEvent, fields: string[]): RejectEvent {
    const txn = (fields[TXN] ?? '').trim();
    const member = (fields[MEMBER] ?? '').trim();
    return {
      ...e,
      ...(IDENTIFIER_RE.test(txn) ? { recordRef: txn } : {}),
      ...(MEMBER_NUMBER_RE.test(member) ? { memberNumber: member } : {}),
    };
  }

  private rejectLine(line: number, lines: number, field: string, message: string, text: string): RejectEvent {
    return {
      type: 'reject',
      file: this.file,
      line,
      lines,
      field,
      reason: 'MALFORMED',
      message,
      text: clipText(text),
    };
  }

  private readHeader(fields: string[], line: number, first: boolean, fault: number): void {
    if (!first) {
      this.headerProblem ??= `a second H record at line ${line}`;
      return;
    }
    const at = `H record at line ${line}`;
    if (fields.length !== 4) {
      this.headerProblem = `${at}: expected 4 fields H,<partner_code>,<file_sequence>,<created_at>, found ${fields.length}`;
      return;
    }
    if (fault >= 0) {
      this.headerProblem = `${at}: expected UTF-8 text without NUL bytes`;
      return;
    }
    const [, code, seq, created] = fields.map((f) => f.trim()) as [string, string, string, string];
    if (!PARTNER_CODE_RE.test(code)) {
      this.headerProblem = `${at}: partner_code: expected 1-16 letters, digits or -, found ${JSON.stringify(clipText(code))}`;
    } else if (!SEQUENCE_RE.test(seq)) {
      this.headerProblem = `${at}: file_sequence: expected a whole number, found ${JSON.stringify(clipText(seq))}`;
    } else if (parseIsoTimestamp(created, false) === null) {
      this.headerProblem = `${at}: created_at: expected an ISO 8601 date-time, found ${JSON.stringify(clipText(created))}`;
    } else {
      this.header = { partnerCode: code, fileSequence: Number(seq), createdAt: created };
      const name = this.fileName;
      if (name !== null && name.partnerCode.toUpperCase() !== code.toUpperCase()) {
        this.headerProblem = `${at}: partner_code ${code} differs from ${name.partnerCode} in the file name`;
      } else if (name !== null && name.sequence !== Number(seq)) {
        this.headerProblem = `${at}: file_sequence ${seq} differs from ${name.sequence} in the file name`;
      }
    }
  }

  private readTrailer(fields: string[], line: number, fault: number): void {
    if (this.trailer !== null) {
      this.trailerProblem ??= `a second T record at line ${line} (the first is at line ${this.trailer.line})`;
      return;
    }
    const at = `T record at line ${line}`;
    // Marks the trailer as seen even when unreadable, so a missing one is told apart.
    this.trailer = { line, detailCount: -1, pointsSum: '', spendSum: '' };
    if (fields.length !== 4) {
      this.trailerProblem ??= `${at}: expected 4 fields T,<detail_count>,<sum of points_requested>,<sum of spend_amount>, found ${fields.length}`;
      return;
    }
    if (fault >= 0) {
      this.trailerProblem ??= `${at}: expected UTF-8 text without NUL bytes`;
      return;
    }
    const [, count, points, spend] = fields.map((f) => f.trim()) as [string, string, string, string];
    if (!SEQUENCE_RE.test(count)) {
      this.trailerProblem ??= `${at}: detail_count: expected a whole number, found ${JSON.stringify(clipText(count))}`;
    } else if (points !== '' && !/^-?\d{1,18}$/.test(points)) {
      this.trailerProblem ??= `${at}: sum of points_requested: expected a signed whole number, found ${JSON.stringify(clipText(points))}`;
    } else if (spend !== '' && !DECIMAL_RE.test(spend)) {
      this.trailerProblem ??= `${at}: sum of spend_amount: expected ${DECIMAL_TEXT}, found ${JSON.stringify(clipText(spend))}`;
    } else {
      this.trailer = { line, detailCount: Number(count), pointsSum: points || '0', spendSum: spend || '0' };
    }
  }

  private readDetail(
    fields: string[],
    line: number,
    lines: number,
    fault: number,
  ): RowOutcome<PartnerActivity> {
    this.details++;
    const r = this.reader;
    r.use(fields);
    const countOk = fields.length === D_COLUMNS.length;
    if (countOk) {
      // Control sums take what is readable even from a rejected line, as the partner's sums did.
      const points = r.raw(POINTS);
      if (POINTS_RE.test(points)) this.points.add(points);
      const spend = r.raw(SPEND);
      if (DECIMAL_RE.test(spend)) this.spend.add(spend);
    }
    if (!countOk) {
      return this.rejectLine(
        line,
        lines,
        '*',
        `expected ${D_COLUMNS.length} fields in a D record, found ${fields.length}`,
        fields.join(this.delimiter),
      );
    }
    if (fault >= 0) {
      const field = D_COLUMNS[fault] ?? '*';
      return this.rejectLine(
        line,
        lines,
        field,
        `${field}: expected UTF-8 text without NUL bytes`,
        fields[fault] ?? '',
      );
    }
    const txn = r.match(TXN, IDENTIFIER_RE, 'a transaction id of letters, digits and _ . / : -');
    const reversal = txn.endsWith('-R');
    const memberNumber = r.match(MEMBER, MEMBER_NUMBER_RE, 'a member number of 1-24 letters or digits');
    const surname = r.text(SURNAME, 'the member surname');
    const givenName = r.optText(GIVEN);
    const activityDate = r.date(DATE);
    const activityType = r.match(
      TYPE,
      ACTIVITY_TYPE_RE,
      'an activity type of capital letters, digits and _ (e.g. STAY)',
    );
    const locationCode = r.optMatch(
      LOCATION,
      IDENTIFIER_RE,
      'a location code of letters, digits and _ . / : -',
    );
    const spendText = r.raw(SPEND);
    const pointsText = r.raw(POINTS);
    let spendAmount: string | null = null;
    let pointsRequested: number | null = null;
    if (spendText === '' && pointsText === '') {
      r.fail(SPEND, 'BAD_AMOUNT', 'spend_amount or points_requested', '');
    }
    if (spendText !== '') {
      if (!DECIMAL_RE.test(spendText)) {
        r.fail(SPEND, 'BAD_AMOUNT', DECIMAL_TEXT, spendText);
      } else if (spendText.startsWith('-') && !reversal) {
        r.fail(
          SPEND,
          'BAD_AMOUNT',
          'a positive amount (a negative one only on a reversal, id ending in -R)',
          spendText,
        );
      } else {
        spendAmount = spendText;
      }
    }
    const currencyText = r.raw(CURRENCY);
    let currency: string | null = null;
    if (currencyText !== '') {
      if (CURRENCY_RE.test(currencyText)) currency = currencyText;
      else r.fail(CURRENCY, 'BAD_CURRENCY', 'a 3-letter ISO 4217 currency code', currencyText);
    } else if (spendText !== '') {
      r.fail(CURRENCY, 'BAD_CURRENCY', 'the currency of spend_amount', '');
    }
    if (pointsText !== '') {
      if (!POINTS_RE.test(pointsText)) {
        r.fail(POINTS, 'BAD_AMOUNT', 'empty or a signed whole number of points', pointsText);
      } else {
        pointsRequested = Number(pointsText);
        if (pointsRequested > MAX_INTEGER_COLUMN || pointsRequested < MIN_INTEGER_COLUMN) {
          r.fail(
            POINTS,
            'BAD_AMOUNT',
            `a whole number of points from ${MIN_INTEGER_COLUMN} to ${MAX_INTEGER_COLUMN}`,
            pointsText,
          );
        } else if (pointsRequested < 0 && !reversal) {
          r.fail(
            POINTS,
            'BAD_AMOUNT',
            'a positive number (a negative one reverses a credit: id with suffix -R)',
            pointsText,
          );
        } else if (pointsRequested > 0 && reversal) {
          r.fail(
            POINTS,
            'BAD_AMOUNT',
            'a negative number or none on a reversal (id ending in -R)',
            pointsText,
          );
        }
      }
    }
    if (reversal && txn.length === 2) {
      r.fail(TXN, 'MALFORMED', 'the reversed partner_txn_id before the -R suffix', txn);
    }
    const promoCode = r.optMatch(PROMO, IDENTIFIER_RE, 'a promotion code of letters, digits and _ . / : -');
    if (r.problem !== null) return r.reject(this.file, line, lines);
    return {
      type: 'record',
      file: this.file,
      line,
      lines,
      record: {
        partnerTxnId: txn,
        reversalOf: reversal ? txn.slice(0, -2) : null,
        memberNumber,
        surname,
        givenName,
        activityDate,
        activityType,
        locationCode,
        spendAmount,
        currency,
        pointsRequested,
        promoCode,
        sourceFile: this.file,
        sourceLine: line,
      },
    };
  }

  finish(end: FileEnd): FileVerdict {
    const t = this.trailer;
    const read: PartnerTotals = {
      detailCount: this.details,
      pointsSum: this.points.toString(),
      spendSum: this.spend.toString(),
    };
    const meta: PartnerFileMeta = {
      partnerCode: this.header?.partnerCode ?? null,
      fileSequence: this.header?.fileSequence ?? null,
      createdAt: this.header?.createdAt ?? null,
      fileName: this.fileName,
      trailer:
        t !== null && t.detailCount >= 0
          ? { detailCount: t.detailCount, pointsSum: t.pointsSum, spendSum: t.spendSum }
          : null,
      read,
    };
    const reject = (reason: string, message: string): FileVerdict => ({
      verdict: 'rejected',
      reason,
      message,
      meta: { ...meta },
    });
    if (this.rows === 0) return reject('EMPTY_FILE', 'the file holds no records');
    if (this.headerProblem !== null) return reject('BAD_HEADER', this.headerProblem);
    if (end.abandoned !== null)
      return reject('BAD_TRAILER', `${end.abandoned.message}, so the T record cannot be read`);
    if (t === null) return reject('BAD_TRAILER', 'the file has no T record');
    if (this.trailerProblem !== null) return reject('BAD_TRAILER', this.trailerProblem);
    const mismatches: string[] = [];
    if (t.detailCount !== this.details)
      mismatches.push(`detail_count ${t.detailCount}, read ${this.details}`);
    if (!this.points.equals(t.pointsSum))
      mismatches.push(`sum of points_requested ${t.pointsSum}, read ${read.pointsSum}`);
    if (!this.spend.equals(t.spendSum))
      mismatches.push(`sum of spend_amount ${t.spendSum}, read ${read.spendSum}`);
    if (mismatches.length > 0) {
      return reject(
        'CONTROL_TOTAL_MISMATCH',
        `T record at line ${t.line} disagrees with the D records: ${mismatches.join('; ')}`,
      );
    }
    return { verdict: 'accepted', meta: { ...meta } };
  }
}

export const partnerParser: FeedParser<PartnerActivity> = csvFeedParser(
  'partner',
  (file) => new PartnerHandler(file),
  [','],
);
