/**
 * The contract every feed parser keeps: bytes in, typed records and rejects out, every line accounted
 * for, and a verdict per file. Parsers never throw on bad data; they reject it with a reason code.
 * They throw only for faults outside the data (the stream failing), as a RedeyeError.
 */
import type { MemberNumberRule } from '../rules/check-digit.js';
import type { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { UsageError } from '../lib/errors.js';

export type FeedName =
  | 'ftl'
  | 'flown'
  | 'partner'
  | 'hotel'
  | 'alliance-claims'
  | 'alliance-results'
  | 'redemptions'
  | 'members'
  | 'fx'
  | 'retro-claims';

export const FEED_NAMES: readonly FeedName[] = [
  'ftl',
  'flown',
  'partner',
  'hotel',
  'alliance-claims',
  'alliance-results',
  'redemptions',
  'members',
  'fx',
  'retro-claims',
];

/**
 * The range of an `integer` column (int4 on PostgreSQL), where points and file sequences are kept
 * (`activities.points_requested`, `alliance_claims.points`, `files.sequence`). SQLite would store more and
 * PostgreSQL refuses the insert, and with it the whole file: the parsers hold every feed to this range so
 * a value past it is one record's reject, the same on both engines.
 */
export const MAX_INTEGER_COLUMN = 2_147_483_647;
export const MIN_INTEGER_COLUMN = -2_147_483_648;

/** Where a record or reject came from. Text formats give a line; XML gives an element path and sequence. */
export interface SourcePosition {
  file: string;
  /** 1-based line number of the first line of the record (for XML: the line where the element starts). */
  line: number;
  /** XML only: element path, e.g. `OTA_HotelStayInfoNotifRQ/StayInfos/StayInfo`. */
  path?: string;
  /** XML only: 1-based sequence of the element among its siblings of the same name. */
  seq?: number;
  /**
   * XML only: 1-based place of the record among all the document's records, the unreadable ones counted.
   * A document written on one line gives every record the same line; answers keep its order by this.
   */
  ordinal?: number;
  /**
   * FTL: the registry's id of the file the record or reject came from (`ParseInput.fileId`, or that of the
   * file a part held from an earlier night first arrived in). Two files of one delivery may bear the same
   * name (a DCS that uploads `ftl.txt` every night, a late one read with the next night's): the name
   * alone cannot tell them apart. Absent when the input was given no id.
   */
  fileId?: number;
}

export interface RecordEvent<T> extends SourcePosition {
  type: 'record';
  record: T;
  /** Number of input lines this record consumed (an FTL passenger spans several). */
  lines?: number;
}

export interface RejectEvent extends SourcePosition {
  type: 'reject';
  /** Field (column name, FTL element, XML attribute) at fault; `*` for the whole record or line. */
  field: string;
  /** Reason code, e.g. MALFORMED, BAD_AMOUNT, CHECK_DIGIT (the reason tables are in the README). */
  reason: string;
  /** Human-readable explanation naming what was expected. */
  message: string;
  /** The offending text, truncated to a sane length. */
  text: string;
  /** Number of input lines this reject accounts for (default 1). */
  lines?: number;
  /**
   * The record's own id (a partner transaction id, a claim id, a reservation id) and member number, when
   * they could be read from a record rejected for another field: the partner's response echoes them.
   */
  recordRef?: string;
  memberNumber?: string;
  /** The number the sender gave the record (a hotel's `StayInfo/@SequenceNumber`), when it reads cleanly. */
  sequenceNumber?: number;
}

export type Verdict = 'accepted' | 'rejected' | 'held';

/** Counts that prove every line was accounted for: recordLines + rejectLines + structureLines + blankLines = lines. */
export interface LineAccount {
  lines: number;
  recordLines: number;
  rejectLines: number;
  structureLines: number;
  blankLines: number;
  records: number;
  rejects: number;
}

export interface VerdictEvent {
  type: 'verdict';
  file: string;
  /** The input's `fileId`, when it was given one. */
  fileId?: number;
  verdict: Verdict;
  /** File-level reason code when rejected or held (e.g. CONTROL_TOTAL_MISMATCH, INCOMPLETE_MESSAGE). */
  reason?: string;
  message?: string;
  account: LineAccount;
  /** Feed-specific facts about the file (partner header, sequence, sender, FTL message ids…). */
  meta?: Record<string, unknown>;
}

export type ParseEvent<T> = RecordEvent<T> | RejectEvent | VerdictEvent;

/** One input file of a delivery. */
export interface ParseInput {
  /** Name shown in every record and reject (usually the file name as received). */
  name: string;
  /** Opens the bytes of the file from the start (the simulator reads a file twice: its checksum first). */
  open: () => Readable;
  /** When the file was received: FTL resolves its year-less dates from it. */
  receivedAt: Date;
  /** Size in bytes when known: XML feeds refuse a file over their limit before parsing. */
  size?: number;
  /**
   * The registry's id of the file, when it has one. FTL gives it to the file's records and rejects and
   * keeps it with the parts it holds for a later delivery: files of one delivery may bear the same name.
   */
  fileId?: number;
  /**
   * The file's own character encoding, before `ParseOptions.encoding`: one delivery may mix them, as
   * `simulate` reads its command line's files in `--encoding` and a `--with` file of the same feed in the
   * feed's.
   */
  encoding?: string;
}

export interface ParseOptions {
  /** Character encoding of the file: `utf-8` (default), `cp866`, `windows-1251`, … */
  encoding?: string;
  /** CSV field separator where the format allows a choice (flown coupons: `,` or `;`). */
  delimiter?: string;
  /** XML feeds: documents over this many bytes are refused before parsing. */
  maxBytes?: number;
  /**
   * The program's member-number rule (`program.memberNumber`). The members feed enrols by it: a number
   * that breaks it could never earn, every later activity of it being refused CHECK_DIGIT.
   */
  memberNumber?: MemberNumberRule;
}

export interface FeedParser<T> {
  feed: FeedName;
  /**
   * Reads one delivery (one or more files) and yields its events in order. A verdict event closes each
   * file; rejected files' records must not be posted (the verdict arrives after them, so consumers buffer
   * or stage records until the verdict).
   */
  parse(inputs: ParseInput[], options?: ParseOptions): AsyncIterable<ParseEvent<T>>;
}

/** 3 when `bytes` begin with a UTF-8 byte-order mark (EF BB BF), which is not text; otherwise 0. */
export function utf8BomLength(bytes: Uint8Array): 0 | 3 {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
}

/** Longest offending text kept in a reject, so a huge line cannot bloat the reject table. */
export const MAX_REJECT_TEXT = 200;

export function clipText(text: string): string {
  return text.length > MAX_REJECT_TEXT ? `${text.slice(0, MAX_REJECT_TEXT)}…` : text;
}

/**
 * Refuses an encoding no decoder knows. It is a name given with `--encoding` or in the feed's
 * configuration, not a fault of a file (every file would be refused alike): a usage error, exit 2, the
 * same from every reader.
 */
export function checkEncoding(encoding: string): void {
  if (!iconv.encodingExists(encoding))
    throw new UsageError(
      `unknown character encoding ${JSON.stringify(encoding)}`,
      {},
      { code: 'UNSUPPORTED_ENCODING' },
    );
}
