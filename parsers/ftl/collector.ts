/**
 * Cuts a file's lines into message parts (envelope … END line) and blocks of text that belong to no FTL
 * message. Memory stays bounded: a part is buffered only up to MAX_PART_LINES / MAX_PART_CHARS (the format
 * allows about 3000 characters); anything unreadable streams through as a counted block.
 */
import {
  ADDRESS_LINE,
  END_ANY,
  IDENTIFIER_LINE,
  MAX_LINE,
  ORIGINATOR_START,
  PRIORITY_LINE,
  isEnvelopeLine,
  isMessageStart,
  readEndLine,
} from './grammar.js';
import { DECLINE, fastPath, type TextScan } from './fast.js';
import { splitLines } from './lines.js';
import { trimLine, type PartReader } from './part.js';

export const MAX_PART_LINES = 2000;
export const MAX_PART_CHARS = 200_000;
/** Envelope lines before the FTL identifier (addresses can run to several lines, not to dozens). */
const MAX_HEADER_LINES = 64;
/** Address lines held back while skipping text, in case they open the next message. */
const MAX_PENDING = 32;
/** Envelope lines before the identifier that a fast part takes; more go through the general path. */
const MAX_FAST_HEADER = 16;

export interface CollectedPart {
  firstLine: number;
  /** The part's lines (cut from its text on first use when the part was read by the fast path). */
  readonly lines: readonly string[];
  hasEnd: boolean;
  suspect: boolean;
  /** The reader the body lines went to, when the header could be read. */
  reader: PartReader | null;
  /** Fast path: the END line, known without the lines (its index and trimmed text). */
  end?: { index: number; text: string };
}

export type JunkReason = 'OUTSIDE_MESSAGE' | 'NOT_FTL' | 'MALFORMED_HEADER' | 'PART_TOO_LONG';

/** Consecutive lines given up together: `lines` non-blank (rejected) and `blank` blank ones. */
export interface JunkBlock {
  reason: JunkReason;
  message: string;
  firstLine: number;
  lines: number;
  blank: number;
  text: string;
}

export interface CollectorSink {
  /** The flight line has arrived: a reader for the body, or null when the header is unreadable. */
  begin(lines: readonly string[], firstLine: number, suspect: boolean): PartReader | null;
  part(part: CollectedPart): void;
  junk(block: JunkBlock): void;
  blank(): void;
}

/**
 * A part read by the fast path: its lines are cut from its text only when asked for (a part that is held,
 * re-read or rejected). A class, not an object literal with a getter: such a literal gets a map of its
 * own, kept in old space, which would keep every young record of the part alive until a full collection.
 */
class TextPart implements CollectedPart {
  readonly hasEnd = true;
  private cut: string[] | null = null;

  constructor(
    readonly firstLine: number,
    private readonly text: string,
    readonly suspect: boolean,
    readonly reader: PartReader,
    readonly end: { index: number; text: string },
  ) {}

  get lines(): readonly string[] {
    return (this.cut ??= splitLines(this.text));
  }
}

const OUTSIDE = 0;
const HEADER = 1;
const BODY = 2;
const JUNK = 3;

export class PartCollector {
  /** Decoded text contained U+FFFD: parts from then on check every line. */
  private suspect = false;
  private reader: PartReader | null = null;
  /** The file had an FTL identifier line somewhere. */
  sawFtl = false;
  private lineNo = 0;
  private mode = OUTSIDE;
  private lines: string[] = [];
  private firstLine = 0;
  private chars = 0;
  private headerFtl = false;
  private headerTypeB = false;
  private junkBlock: JunkBlock | null = null;
  private pending: string[] = [];
  private pendingFirst = 0;

  constructor(private readonly sink: CollectorSink) {}

  /** Called when decoded text holds U+FFFD, before its lines arrive. */
  markSuspect(): void {
    this.suspect = true;
    if (this.reader !== null) this.reader.suspect = true;
  }

  get isSuspect(): boolean {
    return this.suspect;
  }

  /** Lines seen so far. */
  get lineCount(): number {
    return this.lineNo;
  }

  /** Between messages: the next line may start a part, which the fast path may read whole. */
  get atRest(): boolean {
    return this.mode === OUTSIDE;
  }

  /** Inside the body of a part being read line by line. */
  get inBody(): boolean {
    return this.mode === BODY;
  }

  /**
   * Fast path (fast.ts) inside a part read line by line (one that began in an earlier piece of text, or
   * whose envelope the fast path did not take): the passenger block whose name line starts at `p`, read
   * as body() would read its lines. Returns where the next line starts, or DECLINE.
   */
  fastBody(scan: TextScan, p: number): number {
    const reader = this.reader;
    const c = scan.text.charCodeAt(p);
    if (reader === null || c < 49 || c > 57) return DECLINE;
    const lines = this.lines;
    // No further than the part limits allow: body() rejects a part at the line that crosses them.
    const r = reader.fastBlock(
      scan,
      p,
      lines.length,
      MAX_PART_LINES - lines.length,
      MAX_PART_CHARS - this.chars,
    );
    if (r < 0) return DECLINE;
    // The block's lines join the part's, as body() keeps them.
    const text = scan.text;
    for (let q = p; q < r; q = scan.next) lines.push(text.slice(q, scan.end(q)));
    this.lineNo += reader.fastLines;
    this.chars += reader.fastChars;
    return r;
  }

  /**
   * Fast path (fast.ts): reads the part whose first envelope line starts at `pos` — envelope, flight line,
   * body and END line — as `line()` would, and hands it on. Returns where the next line starts, or
   * DECLINE when the part is not one the fast path reads or the text ends before its END line (the
   * general path then reads its first line, and on). Nothing changes unless the part is handed on.
   */
  fastPart(scan: TextScan, pos: number): number {
    const text = scan.text;
    const n = scan.n;
    // Envelope and identifier: non-blank lines with nothing around them, then the flight line.
    const header: string[] = [];
    let chars = 0;
    let p = pos;
    let identified = false;
    while (true) {
      if (p >= n) return DECLINE;
      const e = scan.end(p);
      if (e === -1) return DECLINE;
      if (e === p || e - p > MAX_LINE || !visible(text.charCodeAt(p)) || !visible(text.charCodeAt(e - 1))) {
        return DECLINE;
      }
      const raw = text.slice(p, e);
      header.push(raw);
      chars += raw.length;
      p = scan.next;
      if (identified) {
        if (raw.charCodeAt(0) === 69 && readEndLine(raw) !== null) return DECLINE;
        break;
      }
      if (raw === 'FTL') identified = true;
      else if (header.length > MAX_FAST_HEADER || !isEnvelopeLine(raw)) return DECLINE;
    }
    const firstLine = this.lineNo + 1;
    const reader = this.sink.begin(header, firstLine, this.suspect);
    if (reader === null) return DECLINE;
    // Body: passenger blocks read fast where they can be, any other line as body() reads it.
    let index = header.length;
    while (true) {
      if (p >= n) return DECLINE;
      const c = text.charCodeAt(p);
      if (c >= 49 && c <= 57) {
        const r = reader.fastBlock(scan, p, index);
        if (r >= 0) {
          index += reader.fastLines;
          chars += reader.fastChars;
          if (index > MAX_PART_LINES || chars > MAX_PART_CHARS) return DECLINE;
          p = r;
          continue;
        }
      }
      const e = scan.end(p);
      if (e === -1) return DECLINE;
      if (e - p > MAX_LINE) return DECLINE;
      const raw = text.slice(p, e);
      const t = trimLine(raw);
      if (t.length > 0) {
        const c0 = t.charCodeAt(0);
        if (c0 === 69 /* E */ && readEndLine(t) !== null) {
          // The part is whole: hand it on as finishPart(true) would, its lines cut only if needed.
          const part = new TextPart(firstLine, text.slice(pos, e), this.suspect, reader, { index, text: t });
          this.lineNo += index + 1;
          this.sawFtl = true;
          fastPath.parts++;
          this.sink.part(part);
          return scan.next;
        }
        if ((c0 === 46 || c0 === 70 || c0 === 81) && isMessageStart(t)) return DECLINE;
      }
      index++;
      chars += raw.length;
      if (index > MAX_PART_LINES || chars > MAX_PART_CHARS) return DECLINE;
      reader.line(index - 1, raw, t);
      p = scan.next;
    }
  }

  line(raw: string): void {
    const no = ++this.lineNo;
    const t = trimLine(raw);
    switch (this.mode) {
      case BODY:
        this.body(raw, t, no);
        return;
      case OUTSIDE:
        if (t.length === 0) {
          this.sink.blank();
        } else if (t === 'FTL' || isEnvelopeLine(t)) {
          this.startHeader([raw], no);
        } else {
          this.startJunk('OUTSIDE_MESSAGE', outsideMessage(), no, t);
          if (END_ANY.test(t)) this.closeJunk();
        }
        return;
      case HEADER:
        this.header(raw, t);
        return;
      default:
        this.junk(raw, t, no);
    }
  }

  end(): void {
    switch (this.mode) {
      case HEADER:
        if (this.headerFtl) {
          this.finishPart(false);
        } else {
          this.headerToJunk(null);
          this.closeJunk();
        }
        break;
      case BODY:
        this.finishPart(false);
        break;
      case JUNK:
        this.flushPending();
        this.closeJunk();
        break;
    }
    this.mode = OUTSIDE;
  }

  private startHeader(lines: string[], first: number): void {
    this.mode = HEADER;
    this.reader = null;
    this.lines = [];
    this.firstLine = first;
    this.chars = 0;
    this.headerFtl = false;
    this.headerTypeB = false;
    for (const l of lines) this.noteHeader(l, l.trim());
  }

  private noteHeader(raw: string, t: string): void {
    this.lines.push(raw);
    this.chars += raw.length;
    if (t === 'FTL') {
      this.headerFtl = true;
      this.sawFtl = true;
    } else if (ORIGINATOR_START.test(t) || PRIORITY_LINE.test(t)) {
      this.headerTypeB = true;
    }
  }

  private header(raw: string, t: string): void {
    if (t.length === 0) {
      this.lines.push(raw);
      if (this.lines.length > MAX_HEADER_LINES) this.headerToJunk(null);
      return;
    }
    if (!this.headerFtl) {
      if (t === 'FTL' || isEnvelopeLine(t)) {
        this.noteHeader(raw, t);
        if (this.lines.length > MAX_HEADER_LINES) this.headerToJunk(null);
        return;
      }
      this.lines.push(raw);
      this.headerToJunk(t);
      if (END_ANY.test(t)) this.closeJunk();
      return;
    }
    // First non-blank line after the identifier: the flight line, whatever it holds.
    this.lines.push(raw);
    this.chars += raw.length;
    if (readEndLine(t) !== null) {
      this.finishPart(true);
      return;
    }
    this.mode = BODY;
    this.reader = this.sink.begin(this.lines, this.firstLine, this.suspect);
  }

  private body(raw: string, t: string, no: number): void {
    if (t.length > 0) {
      const c = t.charCodeAt(0);
      if (c === 69 /* E */ && readEndLine(t) !== null) {
        this.lines.push(raw);
        this.finishPart(true);
        return;
      }
      if ((c === 46 || c === 70 || c === 81) && isMessageStart(t)) {
        this.cut(raw, no);
        return;
      }
    }
    const lines = this.lines;
    lines.push(raw);
    this.chars += raw.length;
    if (this.reader !== null) this.reader.line(lines.length - 1, raw, t);
    if (lines.length > MAX_PART_LINES || this.chars > MAX_PART_CHARS) this.overflow();
  }

  /** A new message starts inside a part that never ended: trailing address lines belong to the new one. */
  private cut(raw: string, no: number): void {
    const lines = this.lines;
    let k = lines.length;
    while (k > 1) {
      const t = lines[k - 1]!.trim();
      if (t.length !== 0 && !ADDRESS_LINE.test(t)) break;
      k--;
    }
    const moved = lines.splice(k);
    this.finishPart(false);
    this.startHeader([...moved, raw], no - moved.length);
  }

  private overflow(): void {
    let blank = 0;
    for (const l of this.lines) if (l.trim().length === 0) blank++;
    this.junkBlock = {
      reason: 'PART_TOO_LONG',
      message: `part longer than ${MAX_PART_LINES} lines or ${MAX_PART_CHARS} characters (the format allows about 3000 characters): rejected whole`,
      firstLine: this.firstLine,
      lines: this.lines.length - blank,
      blank,
      text: this.lines[0]!.trim(),
    };
    this.lines = [];
    this.reader = null;
    this.mode = JUNK;
  }

  private finishPart(hasEnd: boolean): void {
    const part: CollectedPart = {
      firstLine: this.firstLine,
      lines: this.lines,
      hasEnd,
      suspect: this.suspect,
      reader: this.reader,
    };
    this.lines = [];
    this.reader = null;
    this.chars = 0;
    this.mode = OUTSIDE;
    this.sink.part(part);
  }

  /** The envelope did not lead to an FTL identifier: the lines so far (and `offending`) are skipped. */
  private headerToJunk(offending: string | null): void {
    let reason: 'OUTSIDE_MESSAGE' | 'NOT_FTL' | 'MALFORMED_HEADER';
    let message: string;
    if (offending !== null && IDENTIFIER_LINE.test(offending)) {
      reason = 'NOT_FTL';
      message = `a ${offending} message, not an FTL: skipped to its END line`;
    } else if (this.headerTypeB) {
      reason = 'MALFORMED_HEADER';
      message = 'Type B envelope without the FTL identifier line: message skipped';
    } else {
      reason = 'OUTSIDE_MESSAGE';
      message = outsideMessage();
    }
    let blank = 0;
    for (const l of this.lines) if (l.trim().length === 0) blank++;
    this.junkBlock = {
      reason,
      message,
      firstLine: this.firstLine,
      lines: this.lines.length - blank,
      blank,
      text: this.lines[0]!.trim(),
    };
    this.lines = [];
    this.mode = JUNK;
  }

  private startJunk(reason: JunkReason, message: string, no: number, text: string): void {
    this.junkBlock = { reason, message, firstLine: no, lines: 1, blank: 0, text };
    this.mode = JUNK;
  }

  private junk(raw: string, t: string, no: number): void {
    if (t.length === 0 || ADDRESS_LINE.test(t)) {
      if (this.pending.length === 0) this.pendingFirst = no;
      this.pending.push(raw);
      if (this.pending.length > MAX_PENDING) this.flushPending();
      return;
    }
    if (isMessageStart(t)) {
      const moved = this.pending;
      const first = moved.length > 0 ? this.pendingFirst : no;
      this.pending = [];
      this.closeJunk();
      this.startHeader([...moved, raw], first);
      return;
    }
    this.flushPending();
    this.junkBlock!.lines++;
    if (END_ANY.test(t)) this.closeJunk();
  }

  private flushPending(): void {
    const j = this.junkBlock!;
    for (const l of this.pending) {
      if (l.trim().length === 0) j.blank++;
      else j.lines++;
    }
    this.pending = [];
  }

  private closeJunk(): void {
    const j = this.junkBlock;
    this.junkBlock = null;
    this.mode = OUTSIDE;
    if (j) this.sink.junk(j);
  }
}

/** Printable ASCII or Cyrillic: certainly not whitespace (what trimLine leaves alone). */
function visible(c: number): boolean {
  return (c > 32 && c < 127) || (c >= 0x400 && c <= 0x4ff);
}

function outsideMessage(): string {
  return 'text outside any FTL message (a message starts with its envelope or the FTL identifier and ends with ENDPARTn/ENDFTL)';
}
