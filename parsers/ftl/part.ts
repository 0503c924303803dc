/**
 * One part of an FTL message, from its first envelope line to its END line.
 *
 * `scanHeader` reads the envelope and flight line, `checkEnd` the END line: enough to identify a part and
 * decide whether it can be used. `PartReader` reads the body one line at a time, as the collector hands
 * the lines over, so a line is looked at once on the way in; its records and rejects wait in the reader
 * until the assembler knows what becomes of the part. `readPart` runs the same reader over stored lines:
 * for a part that is rejected whole (its passengers become rejects), for a part seeded from an earlier
 * delivery, and for tests.
 */
import type { IsoDate } from '../../lib/dates.js';
import type { LineAccount, ParseEvent, RecordEvent, RejectEvent } from '../types.js';
import { clipText } from '../types.js';
import {
  ADDRESS_LINE,
  ELEMENT,
  LINE_WIDTH,
  MAX_LINE,
  ORIGINATOR_START,
  PRIORITY_LINE,
  associationMatches,
  interpretSuffix,
  quickFqtCard,
  quickMarketing,
  quickName,
  quickPnr,
  quickPnrEnd,
  quickSlots,
  readCardCore,
  readFqtCard,
  readEndLine,
  readFlightLine,
  readFqtUsage,
  readGroupLine,
  readMarketingFlight,
  readNameElementFully,
  readSingleName,
  singleNameCount,
  readOriginator,
  readPnr,
  resolveFlightDate,
  type CardCore,
  type NameElement,
  type ParsedName,
} from './grammar.js';
import type {
  FtlCard,
  FtlCardUsage,
  FtlFileCounts,
  FtlFlight,
  FtlMarketingFlight,
  FtlOriginator,
  FtlPassenger,
  FtlPassengerWarning,
  FtlRemark,
  FtlSuffixKind,
} from './model.js';
import { DECLINE, fastPath, type TextScan } from './fast.js';
import type { FtlPartReason, FtlRejectReason } from './reasons.js';

export interface PartInput {
  file: string;
  /** Line number of `lines[0]` in its file. */
  firstLine: number;
  lines: readonly string[];
  /** Some decoded text of the file held U+FFFD: check each line for bad bytes. */
  suspect: boolean;
}

/**
 * The input of a part read by the fast path, whose lines are cut only when asked for. A class (see
 * collector.ts, TextPart): a getter on a literal would keep the part's records alive too long.
 */
export class LazyPartInput implements PartInput {
  readonly firstLine: number;
  readonly suspect: boolean;

  constructor(
    readonly file: string,
    private readonly source: {
      readonly firstLine: number;
      readonly suspect: boolean;
      readonly lines: readonly string[];
    },
  ) {
    this.firstLine = source.firstLine;
    this.suspect = source.suspect;
  }

  get lines(): readonly string[] {
    return this.source.lines;
  }
}

export interface PartHeader {
  flightIndex: number;
  flight: FtlFlight;
  /** Message identity: `XX101/2024-05-28/DME`. */
  key: string;
  part: number;
  /** The flight line had no `PARTn` and was read as part 1. */
  partImplied: boolean;
  originator: FtlOriginator | null;
}

export interface PartEnd {
  /** Index of the END line. */
  endIndex: number;
  /** The part ended with ENDFTL. */
  final: boolean;
}

export interface PartFault {
  reason: FtlPartReason;
  message: string;
  /** Line index the part-level reject is attached to. */
  index: number;
}

export interface ScanContext {
  receivedAt: Date;
  receivedOn: IsoDate;
  futureDays: number;
  /** Resolved dates by `DDMMM`, per file. */
  dateCache?: Map<string, IsoDate | null>;
  /** Originator lines already read, per file (the parts of a message repeat theirs). */
  originatorCache?: Map<string, FtlOriginator | null>;
}

export function messageKey(f: {
  carrier: string;
  number: string;
  suffix: string | null;
  date: string;
  board: string;
}) {
  return `${f.carrier}${f.number}${f.suffix ?? ''}/${f.date}/${f.board}`;
}

/**
 * Reads the envelope and the flight line: `lines[0..]` up to the first non-blank line after the FTL
 * identifier. Returns the header, or a fault with the index it concerns (and the flight line's index,
 * -1 when there is none).
 */
export function scanHeader(
  lines: readonly string[],
  firstLine: number,
  ctx: ScanContext,
): { header: PartHeader; fault: null } | { header: null; fault: PartFault; flightIndex: number } {
  const n = lines.length;
  let originator: FtlOriginator | null = null;
  let i = 0;
  let sawFtl = false;
  const fail = (message: string, index: number, flightIndex = -1) => ({
    header: null,
    fault: { reason: 'MALFORMED_HEADER' as const, message, index },
    flightIndex,
  });
  for (; i < n; i++) {
    const t = trimLine(lines[i]!);
    if (t.length === 0) continue;
    if (t === 'FTL') {
      sawFtl = true;
      i++;
      break;
    }
    if (ORIGINATOR_START.test(t)) {
      const cached = ctx.originatorCache?.get(t);
      originator = cached !== undefined ? cached : readOriginator(t, ctx.receivedAt);
      if (cached === undefined) ctx.originatorCache?.set(t, originator);
      continue;
    }
    if (PRIORITY_LINE.test(t) || ADDRESS_LINE.test(t)) continue;
    return fail('expected the envelope (priority, addresses, originator) and the FTL identifier', i);
  }
  if (!sawFtl) return fail('no FTL identifier line', Math.max(0, n - 1));
  while (i < n && trimLine(lines[i]!).length === 0) i++;
  if (i >= n) return fail('no flight line after the FTL identifier', Math.max(0, n - 1));
  const flightText = trimLine(lines[i]!);
  if (readEndLine(flightText) !== null) return fail('no flight line after the FTL identifier', i);
  const read = readFlightLine(flightText);
  if (!read.ok) return fail(read.error, i, i);
  const f = read.value;
  let date = ctx.dateCache?.get(f.dateRaw);
  if (date === undefined) {
    date = resolveFlightDate(f.day, f.month, ctx.receivedOn, ctx.futureDays);
    ctx.dateCache?.set(f.dateRaw, date);
  }
  if (date === null) return fail(`cannot place ${f.dateRaw} in a year`, i, i);
  const flight: FtlFlight = {
    carrier: f.carrier,
    number: f.number,
    numberRaw: f.numberRaw,
    suffix: f.suffix,
    date,
    dateRaw: f.dateRaw,
    board: f.board,
  };
  return {
    header: {
      flightIndex: i,
      flight,
      key: messageKey(flight),
      part: f.part ?? 1,
      partImplied: f.part === null,
      originator,
    },
    fault: null,
  };
}

/** Index of the END line when it is the last non-blank line after `after`, else -1. */
export function findEnd(lines: readonly string[], after: number): number {
  for (let j = lines.length - 1; j > after; j--) {
    const t = trimLine(lines[j]!);
    if (t.length === 0) continue;
    return readEndLine(t) !== null ? j : -1;
  }
  return -1;
}

/** Checks that the part's last non-blank line closes it: ENDPARTn for its PARTn, or ENDFTL. */
export function checkEnd(
  lines: readonly string[],
  firstLine: number,
  header: PartHeader,
): { end: PartEnd; fault: null } | { end: PartEnd | null; fault: PartFault } {
  const endIndex = findEnd(lines, header.flightIndex);
  if (endIndex === -1) {
    return {
      end: null,
      fault: {
        reason: 'MISSING_END',
        message: `PART${header.part} of ${header.key} has no ENDPART${header.part}/ENDFTL line (cut short)`,
        index: header.flightIndex,
      },
    };
  }
  return checkEndAt(endIndex, trimLine(lines[endIndex]!), firstLine, header);
}

/** checkEnd for a part whose END line (`endText`, trimmed) is known to be the last non-blank line. */
export function checkEndAt(
  endIndex: number,
  endText: string,
  firstLine: number,
  header: PartHeader,
): { end: PartEnd; fault: null } | { end: PartEnd | null; fault: PartFault } {
  const end = readEndLine(endText);
  if (end === 'FTL') return { end: { endIndex, final: true }, fault: null };
  if (end !== header.part) {
    return {
      end: { endIndex, final: false },
      fault: {
        reason: 'END_MISMATCH',
        message: `ENDPART${String(end)} (line ${firstLine + endIndex}) does not close PART${header.part} (line ${
          firstLine + header.flightIndex
        }): the part is rejected whole`,
        index: endIndex,
      },
    };
  }
  return { end: { endIndex, final: false }, fault: null };
}

export interface CountedGroup {
  destination: string;
  count: number;
  subclass: string;
  read: number;
}

/** A name element and every non-blank line up to the next name, group or NIL line. */
interface Block {
  index: number;
  text: string;
  /** The (first) name of the element. */
  name: ParsedName;
  /** All names of a multi-name element, or null for one name. */
  more: ParsedName[] | null;
  countMismatch: boolean;
  group: CountedGroup | null;
  rejectReason: FtlRejectReason | null;
  rejectMessage: string;
  recordLines: number;
  rejectLines: number;
  /** Rejects of the block's own lines (allocated on the first). */
  rejects: RejectEvent[] | null;
  pnr: string | null;
  pnrAirline: string | null;
  marketing: FtlMarketingFlight | null;
  cards: FtlCard[];
  remarks: FtlRemark[] | null;
  warnings: FtlPassengerWarning[] | null;
}

/** An `.R/` element waiting for its `.RN/` continuations. */
interface PendingRemark {
  index: number;
  text: string;
  /** The line itself when the remark stands alone on it (its raw form, no rebuilding). */
  line: string | null;
  /** Lines the remark occupies alone: 1 on its own line, 0 when inline on the name line. */
  ownLines: number;
  contLines: number;
  bad: FtlRejectReason | null;
  /** No readable passenger before it. */
  orphan: boolean;
}

export interface PartReaderOptions {
  file: string;
  firstLine: number;
  /** Needed for records; null when the part is read only to be rejected. */
  header: PartHeader | null;
  ownPrograms: ReadonlySet<string>;
  /** The part is given up whole: passenger blocks become rejects with this reason. */
  reject: PartFault | null;
  suspect: boolean;
}

const NO_DATE = '1970-01-01';

/**
 * Reads a part's body line by line. Records and rejects collect in `out` with the line counts that
 * go with them, until the assembler hands them on (or drops them for a re-reading in reject mode).
 */
export class PartReader {
  readonly out: ParseEvent<FtlPassenger>[] = [];
  recordLines = 0;
  records = 0;
  rejectLines = 0;
  rejects = 0;
  structureLines = 0;
  blankLines = 0;
  passengers = 0;
  passengersWithoutUsableCard = 0;
  ownCards = 0;
  partnerCards = 0;
  longLines = 0;
  readonly groups: CountedGroup[] = [];
  private group: CountedGroup | null = null;
  private badGroupLine = 0;
  /** Why the group line at `badGroupLine` was refused, as the passengers under it are told. */
  private badGroupWhy = 'is unreadable';
  private block: Block | null = null;
  /** The remark waiting for continuations (one object, reused: there is at most one at a time). */
  private readonly pending: PendingRemark = {
    index: 0,
    text: '',
    line: null,
    ownLines: 0,
    contLines: 0,
    bad: null,
    orphan: false,
  };
  private hasPending = false;
  /** Lines and characters read by the last fastBlock (or fastRemark), for the collector's part limits. */
  fastLines = 0;
  fastChars = 0;
  /** The name of the block read fast: one object for all of them (records copy its fields). */
  private readonly fastName: ParsedName = { surname: '', givenName: '', title: null, raw: '' };
  /** The codes read fast last time: the same few programs and airlines come back on every passenger. */
  private lastProgram = '';
  private lastOwn: boolean | null = null;
  private lastAirline = '';
  /** The card read by the last fastRemark. */
  private fastCard: FtlCard | null = null;
  private readonly file: string;
  private readonly firstLine: number;
  readonly header: PartHeader | null;
  /** Check each line for U+FFFD (set once the file's decoded text held one). */
  suspect: boolean;
  private readonly own: ReadonlySet<string>;
  private readonly partReject: PartFault | null;
  private readonly flightDate: IsoDate;
  private readonly spare: Block = {
    index: 0,
    text: '',
    name: { surname: '', givenName: '', title: null, raw: '' },
    more: null,
    countMismatch: false,
    group: null,
    rejectReason: null,
    rejectMessage: '',
    recordLines: 0,
    rejectLines: 0,
    rejects: null,
    pnr: null,
    pnrAirline: null,
    marketing: null,
    cards: [],
    remarks: null,
    warnings: null,
  };

  constructor(options: PartReaderOptions) {
    this.file = options.file;
    this.firstLine = options.firstLine;
    this.header = options.header;
    this.own = options.ownPrograms;
    this.partReject = options.reject;
    this.suspect = options.suspect;
    this.flightDate = options.header ? options.header.flight.date : NO_DATE;
  }

  /** A structure line of the envelope or the END line, a blank, or the part-level reject's line. */
  frame(index: number, t: string): void {
    if (this.partReject !== null && index === this.partReject.index) {
      const field = readEndLine(t) !== null ? 'END' : 'header';
      this.reject(index, 1, field, this.partReject.reason, this.partReject.message, t, null);
    } else if (t.length === 0) {
      this.blankLines++;
    } else {
      this.structureLines++;
    }
  }

  /** One body line: `raw` as decoded, `t` trimmed. */
  line(index: number, raw: string, t: string): void {
    if (this.hasPending) {
      if (isContinuation(t)) {
        this.continuation(raw, t);
        return;
      }
      this.finishRemark();
    }
    if (t.length === 0) {
      this.blankLines++;
      return;
    }
    if (t.length > LINE_WIDTH) this.longLine();
    const bad: FtlRejectReason | null =
      t.length > MAX_LINE
        ? 'LINE_TOO_LONG'
        : this.suspect && t.indexOf('\uFFFD') !== -1
          ? 'BAD_ENCODING'
          : null;
    const c = t.charCodeAt(0);
    if (c === 46 /* . */) this.elementLine(index, raw, t, bad);
    else if (c >= 48 && c <= 57) this.nameLine(index, raw, t, bad);
    else if (c === 45 /* - */) this.groupLine(index, t, bad);
    else if (t === 'NIL') {
      this.closeBlock();
      this.structureLines++;
    } else {
      this.reject(
        index,
        1,
        '*',
        bad ?? 'MALFORMED_LINE',
        'expected a group (-), name (1…), element (.X/) or NIL line',
        t,
        this.block,
      );
    }
  }

  /** Closes the last passenger: call once after the last body line. */
  finish(): void {
    if (this.hasPending) this.finishRemark();
    this.closeBlock();
  }

  /**
   * Fast path (fast.ts): reads the passenger block whose name line starts at `p` in the scanned text
   * (line `index` of the part) as line() would: the name line, then its element lines as long as they
   * are of the everyday shapes (a first .L/ and .M/, .R/ FQT cards and their .RN/ continuations). The
   * block is left open, as nameLine leaves it, for the next line to close — or to add to, through line(),
   * when it is an element of another shape. Returns where the first line not read starts, with the lines
   * and characters read in `fastLines` and `fastChars`, or DECLINE when the name line is not of the
   * everyday shape (line() then reads it). It reads no more than `roomLines` lines and `roomChars`
   * characters (what the collector's part limits leave). Nothing changes unless the block is read.
   */
  fastBlock(scan: TextScan, p: number, index: number, roomLines = Infinity, roomChars = Infinity): number {
    const group = this.group;
    if (group === null || this.partReject !== null || this.suspect) return DECLINE;
    const text = scan.text;
    const n = scan.n;
    // `1SURNAME/GIVEN[ TITLE]`: what nameLine reads through readSingleName, with a count of 1.
    if (!quickName(text, p, n)) return DECLINE;
    const e = quickSlots.end;
    if (e - p > LINE_WIDTH || e - p > roomChars || roomLines < 1 || !scan.endsAt(e)) return DECLINE;
    const slash = quickSlots.slash;
    const title = quickSlots.title;
    const givenEnd = quickSlots.givenEnd;
    let lines = 1;
    let chars = e - p;
    let pnrFrom = -1;
    let pnrEnd = -1;
    let pnrLineEnd = -1;
    let marketing: FtlMarketingFlight | null = null;
    // Made with its first card: an empty array would grow a backing store for 17 on the first push.
    let cards: FtlCard[] | null = null;
    let q = scan.next;
    // Element lines on their own (elementLine's `single` shape: `.X/`), until one of another shape.
    while (q < n && text.charCodeAt(q) === 46 /* . */ && text.charCodeAt(q + 2) === 47 /* / */) {
      const code = text.charCodeAt(q + 1);
      if (code === 82 /* R */) {
        const r = this.fastRemark(scan, q, index + lines, roomLines - lines, roomChars - chars);
        if (r === DECLINE) break;
        const card = this.fastCard!;
        if (cards === null) cards = [card];
        else cards.push(card);
        lines += this.fastLines;
        chars += this.fastChars;
        q = r;
        continue;
      }
      let eq: number;
      if (code === 76 /* L */) {
        // elementLine's in-place reading of a first .L/ (a second one is kept as a remark).
        if (pnrFrom !== -1) break;
        const end = quickPnr(text, q + 3, n);
        eq = quickSlots.end;
        if (end === -1 || eq - q > LINE_WIDTH || !scan.endsAt(eq)) break;
        pnrFrom = q + 3;
        pnrEnd = end;
        pnrLineEnd = eq;
      } else if (code === 77 /* M */) {
        if (marketing !== null) break;
        eq = scan.end(q);
        if (eq === -1 || eq - q > LINE_WIDTH || !visible(text.charCodeAt(eq - 1))) break;
        marketing = quickMarketing(text, q + 3, eq, this.flightDate);
        if (marketing === null) {
          const r = readMarketingFlight(text.slice(q + 3, eq), this.flightDate);
          if (!r.ok) break;
          marketing = r.value;
        }
      } else {
        break;
      }
      if (lines + 1 > roomLines || chars + eq - q > roomChars) break;
      lines++;
      chars += eq - q;
      q = scan.next;
    }
    // As line() → nameLine would: close what is open, then open this block.
    if (this.hasPending) this.finishRemark();
    this.closeBlock();
    const name = this.fastName;
    name.surname = text.slice(p + 1, slash);
    name.givenName = text.slice(slash + 1, givenEnd);
    name.title = title;
    name.raw = text.slice(p + 1, e);
    const b = this.spare;
    b.index = index;
    // Read only to reject the block whole, which never happens to one with a group in a part read fast.
    b.text = '';
    b.name = name;
    b.more = null;
    b.countMismatch = false;
    b.group = group;
    b.rejectReason = null;
    b.rejectMessage = '';
    b.recordLines = lines;
    b.rejectLines = 0;
    b.rejects = null;
    b.pnr = pnrFrom === -1 ? null : text.slice(pnrFrom, pnrEnd);
    b.pnrAirline =
      pnrFrom === -1 || pnrEnd === pnrLineEnd ? null : this.airlineCode(text, pnrEnd + 1, pnrLineEnd);
    b.marketing = marketing;
    b.cards = cards ?? [];
    b.remarks = null;
    b.warnings = null;
    this.block = b;
    fastPath.blocks++;
    this.fastLines = lines;
    this.fastChars = chars;
    return q;
  }

  /**
   * An `.R/` line at `q` and its `.RN/` continuations, read as startRemark, continuation and finishRemark
   * would for an FQT card: the card is left in `fastCard`. Returns where the next line starts (lines and
   * characters in fastLines, fastChars), or DECLINE to leave the remark to line().
   */
  private fastRemark(scan: TextScan, q: number, index: number, roomLines: number, roomChars: number): number {
    const text = scan.text;
    const n = scan.n;
    // The everyday card ends its line with its number: no search for the line's end, nothing to trim.
    let quick = quickFqtCard(text, q + 3, n);
    let eq: number;
    if (quick && scan.endsAt(quickSlots.numberEnd)) {
      eq = quickSlots.numberEnd;
      if (eq - q <= LINE_WIDTH && roomLines >= 1 && eq - q <= roomChars) {
        const r = scan.next;
        // Not followed by a continuation (which would join the remark).
        const c = r < n ? text.charCodeAt(r) : 0;
        if (
          c === 49 ||
          ((c !== 46 || (r + 3 < n && text.charCodeAt(r + 1) !== 82)) && (c === 13 || c === 10 || visible(c)))
        ) {
          this.fastCard = this.quickCard(text, q + 3, eq, text.slice(q, eq), this.firstLine + index);
          this.fastLines = 1;
          this.fastChars = eq - q;
          return r;
        }
      }
    } else {
      quick = false;
      eq = scan.end(q);
      if (eq === -1) return DECLINE;
    }
    if (eq - q > LINE_WIDTH) return DECLINE;
    // The text after `.R/` as keepTrailing leaves it: trimmed, or whole when the line fills the width.
    let te = eq;
    while (te > q + 3 && text.charCodeAt(te - 1) === 32) te--;
    if (!visible(text.charCodeAt(te - 1))) return DECLINE;
    const to = eq - q === LINE_WIDTH ? eq : te;
    let joined: string | null = null;
    let lines = 1;
    let chars = eq - q;
    let r = scan.next;
    // Continuations: line() would hand a line to continuation() when its trimmed text starts `.RN/`.
    while (true) {
      if (r >= n) return DECLINE;
      const c = text.charCodeAt(r);
      if (c !== 46) {
        // Not a continuation, unless spaces before it hide one.
        if (c === 13 || c === 10 || visible(c)) break;
        return DECLINE;
      }
      // A line the text cuts short may still turn out to be a continuation.
      if (r + 3 >= n) return DECLINE;
      if (text.charCodeAt(r + 1) !== 82 || text.charCodeAt(r + 2) !== 78 || text.charCodeAt(r + 3) !== 47)
        break;
      const er = scan.end(r);
      if (er === -1 || er - r > LINE_WIDTH) return DECLINE;
      let tr = er;
      while (tr > r + 4 && text.charCodeAt(tr - 1) === 32) tr--;
      if (!visible(text.charCodeAt(tr - 1))) return DECLINE;
      const piece = text.slice(r + 4, er - r === LINE_WIDTH ? er : tr);
      joined = (joined ?? text.slice(q + 3, to)) + piece;
      lines++;
      chars += er - r;
      r = scan.next;
    }
    if (lines > roomLines || chars > roomChars) return DECLINE;
    const s = joined ?? text;
    const f = joined === null ? q + 3 : 0;
    const t = joined === null ? to : joined.length;
    // finishRemark would trim the end (and rebuild the raw text): left to it.
    if (t > f && s.charCodeAt(t - 1) === 32) return DECLINE;
    if (!quick || joined !== null || to !== eq) quick = quickFqtCard(s, f, t);
    const whole = joined === null ? text.slice(q, to) : `.R/${joined}`;
    const line = this.firstLine + index;
    if (quick) {
      this.fastCard = this.quickCard(s, f, t, whole, line);
    } else {
      const body = joined ?? text.slice(f, t);
      const usage = readFqtUsage(body);
      if (usage === null) return DECLINE;
      const core = readFqtCard(body);
      if (core === null) return DECLINE;
      this.fastCard = makeCard(usage, 'R', core, whole, line, this.own);
    }
    this.fastLines = lines;
    this.fastChars = chars;
    return r;
  }

  /** The card of an FQT remark text `s[f..t)` that quickFqtCard has just read, as makeCard makes it. */
  private quickCard(s: string, f: number, t: number, whole: string, line: number): FtlCard {
    const usage = quickSlots.usage;
    const statusEnd = quickSlots.statusEnd;
    const from = quickSlots.numberFrom;
    const end = quickSlots.numberEnd;
    const program = this.programCode(s, from - 3, from - 1);
    const own = this.lastOwn !== null ? this.lastOwn : this.ownProgram(program);
    let suffix: string | null = null;
    let suffixKind: FtlSuffixKind | null = null;
    let bookedSubclass: string | null = null;
    let tier: string | null = null;
    let freeText: string | null = null;
    let association: string | null = null;
    if (end < t) {
      if (
        usage === 'FQTV' &&
        t - end === 2 &&
        s.charCodeAt(end) === 45 &&
        isLatinUpper(s.charCodeAt(end + 1))
      ) {
        // `-B`: the booked subclass, as interpretSuffix reads it.
        suffix = s.slice(end, t);
        suffixKind = 'bookedSubclass';
        bookedSubclass = s[end + 1]!;
      } else {
        const x = interpretSuffix(usage, s.slice(end, t));
        suffix = x.suffix;
        suffixKind = x.suffixKind;
        bookedSubclass = x.bookedSubclass;
        tier = x.tier;
        freeText = x.text;
        association = x.association;
      }
    }
    // The shape of makeCard's cards, field for field.
    return {
      usage,
      program,
      number: s.slice(from, end),
      suffix,
      suffixKind,
      bookedSubclass,
      tier,
      text: freeText,
      association,
      statusCode: statusEnd === -1 ? null : s.slice(f + 5, statusEnd),
      own,
      element: 'R',
      raw: whole,
      line,
    };
  }

  /** `s.slice(from, to)`, as the string read last time when it is the same code (it nearly always is). */
  private programCode(s: string, from: number, to: number): string {
    const last = this.lastProgram;
    if (
      to - from === 2 &&
      last.length === 2 &&
      s.charCodeAt(from) === last.charCodeAt(0) &&
      s.charCodeAt(from + 1) === last.charCodeAt(1)
    ) {
      return last;
    }
    this.lastOwn = null;
    return (this.lastProgram = s.slice(from, to));
  }

  /** Whether `program` is an own program (remembered for the program read last). */
  private ownProgram(program: string): boolean {
    const own = this.own.has(program);
    if (program === this.lastProgram) this.lastOwn = own;
    return own;
  }

  private airlineCode(s: string, from: number, to: number): string {
    const last = this.lastAirline;
    if (to - from === last.length && s.startsWith(last, from)) return last;
    return (this.lastAirline = s.slice(from, to));
  }

  private elementLine(index: number, raw: string, t: string, bad: FtlRejectReason | null): void {
    const block = this.block;
    if (isContinuation(t)) {
      // Continuations of a remark were taken with it: this one follows something else.
      if (block === null)
        this.reject(
          index,
          1,
          '.RN/',
          'NO_PASSENGER',
          'continuation with no passenger name before it',
          t,
          null,
        );
      else
        this.reject(
          index,
          1,
          '.RN/',
          bad ?? 'MALFORMED_REMARK',
          'continuation .RN/ without an .R/ remark before it',
          t,
          block,
        );
      return;
    }
    const c1 = t.charCodeAt(1);
    const single = t.charCodeAt(2) === 47 && c1 >= 65 && c1 <= 90;
    if (single && c1 === 76 /* L */ && block !== null && bad === null && block.pnr === null) {
      const end = quickPnrEnd(t, 3);
      if (end !== -1) {
        block.pnr = t.slice(3, end);
        block.pnrAirline = end === t.length ? null : t.slice(end + 1);
        block.recordLines++;
        return;
      }
    }
    if (single && c1 === 82 /* R */) {
      const full = keepTrailing(raw, t);
      this.startRemark(index, full.slice(3), full === t ? t : null, 1, bad, block === null);
      return;
    }
    let code: string;
    let text: string;
    if (single) {
      code = t[1]!;
      text = t.slice(3);
    } else {
      const m = ELEMENT.exec(t);
      if (m === null) {
        this.reject(index, 1, '*', bad ?? 'MALFORMED_LINE', 'expected an element .<code>/…', t, block);
        return;
      }
      code = m[1]!;
      text = m[2]!;
      if (code === 'R') {
        // Unreachable through the single-letter path above, kept for safety of the pattern path.
        this.startRemark(index, text, null, 1, bad, block === null);
        return;
      }
    }
    if (block === null) {
      this.reject(index, 1, `.${code}/`, 'NO_PASSENGER', 'element with no passenger name before it', t, null);
    } else if (bad !== null) {
      this.reject(index, 1, `.${code}/`, bad, badMessage(bad), t, block);
    } else {
      this.element(block, code, text, index, 1);
    }
  }

  private startRemark(
    index: number,
    text: string,
    line: string | null,
    ownLines: number,
    bad: FtlRejectReason | null,
    orphan: boolean,
  ): void {
    const p = this.pending;
    p.index = index;
    p.text = text;
    p.line = line;
    p.ownLines = ownLines;
    p.contLines = 0;
    p.bad = bad;
    p.orphan = orphan;
    this.hasPending = true;
  }

  private continuation(raw: string, t: string): void {
    const p = this.pending;
    if (t.length > LINE_WIDTH) this.longLine();
    if (t.length > MAX_LINE) p.bad = 'LINE_TOO_LONG';
    else if (this.suspect && t.indexOf('\uFFFD') !== -1) p.bad = 'BAD_ENCODING';
    p.text += keepTrailing(raw, t).slice(4);
    p.line = null;
    p.contLines++;
  }

  private nameLine(index: number, raw: string, t: string, bad: FtlRejectReason | null): void {
    this.closeBlock();
    if (bad !== null) {
      this.reject(index, 1, 'name', bad, badMessage(bad), t, null);
      return;
    }
    // The everyday single name first, without the element objects of the general reading.
    const single = readSingleName(t);
    let r: NameElement | string | null = null;
    if (single === null) {
      r = readNameElementFully(t);
      if (typeof r === 'string') {
        this.reject(
          index,
          1,
          'name',
          'MALFORMED_NAME',
          `${r}: expected 1SURNAME/GIVEN NAMES [TITLE]`,
          t,
          null,
        );
        return;
      }
    }
    const group = this.group;
    // One block object serves every passenger of the part: records take its arrays, never the block.
    const b = this.spare;
    b.index = index;
    b.text = t;
    b.name = single ?? r!.names[0]!;
    b.more = r === null || r.names.length === 1 ? null : r.names;
    b.countMismatch = r === null ? singleNameCount !== 1 : r.count !== r.names.length;
    b.group = group;
    b.rejectReason = null;
    b.rejectMessage = '';
    b.recordLines = 1;
    b.rejectLines = 0;
    b.rejects = null;
    b.pnr = null;
    b.pnrAirline = null;
    b.marketing = null;
    b.cards = [];
    b.remarks = null;
    b.warnings = t.length > LINE_WIDTH ? ['LONG_LINE'] : null;
    if (group === null) {
      b.rejectReason = 'NO_GROUP';
      b.rejectMessage =
        this.badGroupLine > 0
          ? `the destination group line above (line ${this.badGroupLine}) ${this.badGroupWhy}`
          : 'no destination group line (-DEST99C) before this passenger';
    }
    this.block = b;
    if (r === null) return;
    const inline = r.inline;
    for (let k = 0; k < inline.length; k++) {
      if (this.hasPending) this.finishRemark();
      const m = ELEMENT.exec(inline[k]!)!;
      if (m[1] !== 'R') {
        this.element(b, m[1]!, m[2]!, index, 0);
        continue;
      }
      // `t` and its full-width form differ only by trailing spaces, which belong to the last element.
      const text = k === inline.length - 1 ? m[2]! + keepTrailing(raw, t).slice(t.length) : m[2]!;
      this.startRemark(index, text, null, 0, null, false);
    }
  }

  private groupLine(index: number, t: string, bad: FtlRejectReason | null): void {
    this.closeBlock();
    let r = bad === null ? readGroupLine(t) : null;
    const board = this.header?.flight.board;
    // A flight goes somewhere: a group arriving where the flight boards would earn the minimum miles. It
    // is refused as an unreadable group is: the line, and each passenger under it (NO_GROUP).
    const toItself = r !== null && r.ok && r.value.destination === board;
    if (toItself)
      r = {
        ok: false,
        error: `the destination ${board} is the flight's board point: expected another airport`,
      };
    if (r !== null && r.ok) {
      // A fixed shape: spread objects end up megamorphic, and every passenger touches its group.
      const g: CountedGroup = {
        destination: r.value.destination,
        count: r.value.count,
        subclass: r.value.subclass,
        read: 0,
      };
      this.group = g;
      this.groups.push(g);
      this.badGroupLine = 0;
      this.structureLines++;
    } else {
      this.group = null;
      this.badGroupLine = this.firstLine + index;
      this.badGroupWhy = toItself ? `names the board point ${board} as its destination` : 'is unreadable';
      this.reject(
        index,
        1,
        'group',
        bad ?? 'MALFORMED_GROUP',
        r === null ? badMessage(bad!) : r.error,
        t,
        null,
      );
    }
  }

  /** Any element but `.R/`, on its own line (`count` 1) or inline on the name line (0). */
  private element(b: Block, code: string, text: string, index: number, count: number): void {
    const line = this.firstLine + index;
    switch (code) {
      case 'L': {
        const r = readPnr(text);
        if (typeof r === 'string') {
          this.reject(index, count, '.L/', 'MALFORMED_ELEMENT', r, `.L/${text}`, b);
          return;
        }
        if (b.pnr === null) {
          b.pnr = r.pnr;
          b.pnrAirline = r.airline;
        } else {
          addRemark(b, { code, text, line });
          warn(b, 'DUPLICATE_ELEMENT');
        }
        break;
      }
      case 'M': {
        const r = readMarketingFlight(text, this.flightDate);
        if (!r.ok) {
          this.reject(index, count, '.M/', 'MALFORMED_ELEMENT', r.error, `.M/${text}`, b);
          return;
        }
        if (b.marketing === null) {
          b.marketing = r.value;
        } else {
          addRemark(b, { code, text, line });
          warn(b, 'DUPLICATE_ELEMENT');
        }
        break;
      }
      case 'F': {
        const core = readCardCore(text, false);
        if (core === null) {
          this.reject(
            index,
            count,
            '.F/',
            'MALFORMED_ELEMENT',
            'expected .F/<airline> <number>[/<tier>]',
            `.F/${text}`,
            b,
          );
          return;
        }
        b.cards.push(makeCard('FQTV', 'F', core, `.F/${text.trim()}`, line, this.own));
        break;
      }
      default:
        addRemark(b, { code, text: text.trim(), line });
    }
    b.recordLines += count;
  }

  private finishRemark(): void {
    const p = this.pending;
    this.hasPending = false;
    const text = p.text;
    const body = text.length > 0 && text.charCodeAt(text.length - 1) === 32 ? text.trimEnd() : text;
    const whole = p.line !== null && body === text ? p.line : `.R/${body}`;
    const count = p.ownLines + p.contLines;
    const b = this.block;
    if (p.orphan || b === null) {
      this.reject(
        p.index,
        count,
        '.R/',
        'NO_PASSENGER',
        'remark with no passenger name before it',
        whole,
        null,
      );
      return;
    }
    if (p.bad !== null) {
      this.reject(p.index, count, '.R/', p.bad, badMessage(p.bad), whole, b);
      return;
    }
    const usage = readFqtUsage(body);
    if (usage === null) {
      addRemark(b, { code: 'R', text: body, line: this.firstLine + p.index });
      b.recordLines += count;
      return;
    }
    const core = readFqtCard(body);
    if (core === null) {
      this.reject(
        p.index,
        count,
        `.R/${usage}`,
        'MALFORMED_REMARK',
        `expected .R/${usage} [status] <airline> <number>[-suffix]: the remark is not used, the passenger is`,
        whole,
        b,
      );
      return;
    }
    b.cards.push(makeCard(usage, 'R', core, whole, this.firstLine + p.index, this.own));
    b.recordLines += count;
  }

  private longLine(): void {
    this.longLines++;
    if (this.block !== null) warn(this.block, 'LONG_LINE');
  }

  private reject(
    index: number,
    count: number,
    field: string,
    reason: string,
    message: string,
    text: string,
    into: Block | null,
  ): void {
    const ev: RejectEvent = {
      type: 'reject',
      file: this.file,
      line: this.firstLine + index,
      field,
      reason,
      message,
      text: clipText(text),
      lines: count,
    };
    if (into !== null) {
      if (into.rejects === null) into.rejects = [ev];
      else into.rejects.push(ev);
      into.rejectLines += count;
      return;
    }
    this.rejectLines += count;
    this.rejects++;
    this.out.push(ev);
  }

  private closeBlock(): void {
    const b = this.block;
    if (b === null) return;
    this.block = null;
    const partReject = this.partReject;
    const reason = partReject !== null ? partReject.reason : b.rejectReason;
    if (reason !== null) {
      const message = partReject !== null ? `passenger not read: ${partReject.message}` : b.rejectMessage;
      this.reject(b.index, b.recordLines + b.rejectLines, '*', reason, message, b.text, null);
      return;
    }
    this.emitPassengers(b);
    if (b.rejects === null) return;
    for (const r of b.rejects) {
      this.rejectLines += r.lines ?? 1;
      this.rejects++;
      this.out.push(r);
    }
  }

  private emitPassengers(b: Block): void {
    const header = this.header!;
    const more = b.more;
    const count = more === null ? 1 : more.length;
    const g = b.group!;
    for (let k = 0; k < count; k++) {
      const name = more === null ? b.name : more[k]!;
      let cards: FtlCard[];
      let unmatched = false;
      if (more === null) {
        cards = b.cards;
      } else {
        const names = more;
        cards = [];
        for (const card of b.cards) {
          const association = card.association;
          if (association !== null) {
            const hit = names.findIndex((nm) => associationMatches(association, nm));
            if (hit === -1) unmatched = true;
            else if (hit !== k) continue;
          }
          cards.push(card);
        }
      }
      let partnerCards: FtlCard[] | null = null;
      let accrual: FtlCard | null = null;
      let partnerAccrual: FtlCard | null = null;
      let booked: string | null = null;
      for (let ci = 0; ci < cards.length; ci++) {
        const c = cards[ci]!;
        if (c.own) {
          this.ownCards++;
          if (accrual === null && c.usage === 'FQTV') accrual = c;
        } else {
          if (partnerCards === null) partnerCards = [c];
          else partnerCards.push(c);
          this.partnerCards++;
          if (partnerAccrual === null && c.usage === 'FQTV') partnerAccrual = c;
        }
        if (booked === null && c.bookedSubclass !== null) booked = c.bookedSubclass;
      }
      if (accrual === null) accrual = partnerAccrual;
      if (accrual !== null && accrual.bookedSubclass !== null) booked = accrual.bookedSubclass;
      let warnings: FtlPassengerWarning[] | null =
        b.warnings === null ? null : k === 0 ? b.warnings : b.warnings.slice();
      if (cards.length === 0) {
        warnings = noted(warnings, 'NO_USABLE_CARD');
        this.passengersWithoutUsableCard++;
      } else if (accrual === null) {
        warnings = noted(warnings, 'NO_ACCRUAL_CARD');
      }
      if (unmatched) warnings = noted(warnings, 'ASSOCIATION_UNMATCHED');
      if (b.countMismatch && k === 0) warnings = noted(warnings, 'NAME_COUNT_MISMATCH');
      const record: FtlPassenger = {
        message: header.key,
        flight: header.flight,
        originator: header.originator,
        part: header.part,
        held: false,
        destination: g.destination,
        subclass: g.subclass,
        bookedSubclass: booked,
        surname: name.surname,
        givenName: name.givenName,
        title: name.title,
        nameRaw: name.raw,
        nameCount: count,
        nameIndex: k + 1,
        pnr: b.pnr,
        pnrAirline: b.pnrAirline,
        marketingFlight: b.marketing,
        cards,
        partnerCards: partnerCards ?? NONE,
        accrualCard: accrual,
        remarks: b.remarks === null ? NONE : k === 0 ? b.remarks : b.remarks.slice(),
        warnings: warnings ?? NONE,
      };
      // A multi-name element is one set of lines: its first name carries them in the account.
      const lineCount = k === 0 ? b.recordLines : 0;
      const ev: RecordEvent<FtlPassenger> = {
        type: 'record',
        file: this.file,
        line: this.firstLine + b.index,
        record,
        lines: lineCount,
      };
      this.out.push(ev);
      this.recordLines += lineCount;
      this.records++;
      g.read++;
      this.passengers++;
    }
  }
}

/** Shared by every record without partner cards, remarks or warnings: read-only, never grows. */
const NONE: readonly never[] = Object.freeze([]);

function noted(warnings: FtlPassengerWarning[] | null, w: FtlPassengerWarning): FtlPassengerWarning[] {
  if (warnings === null) return [w];
  warnings.push(w);
  return warnings;
}

function addRemark(b: Block, remark: FtlRemark): void {
  if (b.remarks === null) b.remarks = [remark];
  else b.remarks.push(remark);
}

function warn(b: Block, warning: FtlPassengerWarning): void {
  if (b.warnings === null) b.warnings = [warning];
  else if (!b.warnings.includes(warning)) b.warnings.push(warning);
}

function isContinuation(t: string): boolean {
  return t.charCodeAt(1) === 82 && t.charCodeAt(2) === 78 && t.charCodeAt(3) === 47 && t.charCodeAt(0) === 46;
}

/** A full-width line keeps its trailing spaces: the emitter cut it there, possibly mid-text. */
function keepTrailing(raw: string, t: string): string {
  if (raw.length < LINE_WIDTH) return t;
  const full = raw.trimStart();
  return full.length === LINE_WIDTH ? full : t;
}

/**
 * Reads a stored part whole: envelope, body and END line. `header` is null when it could not be read
 * (the part is then rejected whole, `reject` says why); `endIndex` is -1 when there is no END line.
 */
export function readPart(
  input: PartInput,
  header: PartHeader | null,
  flightIndex: number,
  endIndex: number,
  options: { ownPrograms: ReadonlySet<string>; reject: PartFault | null },
): PartReader {
  const lines = input.lines;
  const n = lines.length;
  const reader = new PartReader({
    file: input.file,
    firstLine: input.firstLine,
    header,
    ownPrograms: options.ownPrograms,
    reject: options.reject,
    suspect: input.suspect,
  });
  // The body starts after the flight line; without one, after the line the header failed on.
  const bodyStart = (flightIndex >= 0 ? flightIndex : Math.max(options.reject?.index ?? 0, 0)) + 1;
  const bodyEnd = endIndex >= bodyStart ? endIndex : n;
  for (let i = 0; i < Math.min(bodyStart, n); i++) reader.frame(i, trimLine(lines[i]!));
  for (let i = bodyStart; i < bodyEnd; i++) {
    const raw = lines[i]!;
    reader.line(i, raw, trimLine(raw));
  }
  reader.finish();
  if (endIndex >= bodyStart) {
    reader.frame(endIndex, trimLine(lines[endIndex]!));
    // The END line is the last non-blank one: only blanks can follow it.
    reader.blankLines += n - endIndex - 1;
  }
  return reader;
}

/**
 * Events on their way out, as a list of arrays: a part's events join it as they are, without a copy
 * (and without growing one array event by event), single events are gathered between them.
 */
export class EventQueue<T> {
  private segments: T[][] = [];
  private loose: T[] | null = null;
  size = 0;

  push(ev: T): void {
    if (this.loose === null) {
      this.loose = [ev];
      this.segments.push(this.loose);
    } else {
      this.loose.push(ev);
    }
    this.size++;
  }

  /** Appends `events` as they are: the caller hands them over and does not touch them again. */
  pushAll(events: T[]): void {
    if (events.length === 0) return;
    this.segments.push(events);
    this.loose = null;
    this.size += events.length;
  }

  /** Everything queued, in order, as arrays; the queue is empty after. */
  take(): T[][] {
    const segments = this.segments;
    this.segments = [];
    this.loose = null;
    this.size = 0;
    return segments;
  }
}

/** Where a part's events and counts go when it is handed on. */
export interface PartSink {
  out: EventQueue<ParseEvent<FtlPassenger>>;
  /** Null for a part seeded from an earlier delivery: its lines were accounted when it first arrived. */
  account: LineAccount | null;
  counts: FtlFileCounts | null;
  /**
   * The registry's id of the file the part is of, which its records and rejects carry: another file of
   * the delivery may bear the same name.
   */
  fileId: number | undefined;
}

/**
 * Hands a reader's events on: `held` marks the records of a message that is still incomplete. A seeded
 * part (no account) passes on its records only; its rejects were reported when it first arrived.
 */
export function handOn(reader: PartReader, sink: PartSink, held: boolean): void {
  const out = sink.out;
  const events = reader.out;
  const fileId = sink.fileId;
  if (sink.account === null) {
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      if (ev.type !== 'record') continue;
      if (fileId !== undefined) ev.fileId = fileId;
      out.push(ev);
    }
    return;
  }
  if (held || fileId !== undefined) {
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      if (fileId !== undefined) ev.fileId = fileId;
      if (held && ev.type === 'record') ev.record.held = true;
    }
  }
  // The reader is done with: its events go on as they are.
  out.pushAll(events);
  const a = sink.account;
  a.recordLines += reader.recordLines;
  a.records += reader.records;
  a.rejectLines += reader.rejectLines;
  a.rejects += reader.rejects;
  a.structureLines += reader.structureLines;
  a.blankLines += reader.blankLines;
  const c = sink.counts;
  if (c !== null) {
    c.passengers += reader.passengers;
    if (held) c.passengersHeld += reader.passengers;
    c.passengersWithoutUsableCard += reader.passengersWithoutUsableCard;
    c.ownCards += reader.ownCards;
    c.partnerCards += reader.partnerCards;
    c.longLines += reader.longLines;
  }
}

/** Most lines carry no surrounding spaces: check the ends before paying for trim(). */
export function trimLine(raw: string): string {
  const n = raw.length;
  if (n === 0) return raw;
  return visible(raw.charCodeAt(0)) && visible(raw.charCodeAt(n - 1)) ? raw : raw.trim();
}

/** Printable ASCII or Cyrillic: certainly not whitespace. */
function visible(c: number): boolean {
  return (c > 32 && c < 127) || (c >= 0x400 && c <= 0x4ff);
}

function isLatinUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

function badMessage(reason: FtlRejectReason): string {
  return reason === 'LINE_TOO_LONG'
    ? `line longer than ${MAX_LINE} characters`
    : 'bytes not valid in the configured encoding (U+FFFD after decoding)';
}

function makeCard(
  usage: FtlCardUsage,
  element: 'R' | 'F',
  core: CardCore,
  raw: string,
  line: number,
  own: ReadonlySet<string>,
): FtlCard {
  const s = interpretSuffix(usage, core.rest);
  return {
    usage,
    program: core.program,
    number: core.number,
    suffix: s.suffix,
    suffixKind: s.suffixKind,
    bookedSubclass: s.bookedSubclass,
    tier: s.tier,
    text: s.text,
    association: s.association,
    statusCode: core.statusCode,
    own: own.has(core.program),
    element,
    raw,
    line,
  };
}
