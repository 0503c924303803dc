/**
 * Cuts a file's lines into message parts (envelope … END line) and blocks of text that belong to no FTL
 * message. Memory stays bounded: a part is buffered only up to MAX_PART_LINES / MAX_PART_CHARS (the format
 * allows about 3000 characters); anything unreadable streams through as a counted block.
 */
import {
  ADDRESS_LINE,
  END_ANY,
  IDENTIFIER_LINE,
  ORIGINATOR_START,
  PRIORITY_LINE,
  isEnvelopeLine,
  isMessageStart,
  readEndLine,
} from './grammar.js';
import { trimLine, type PartReader } from './part.js';

export const MAX_PART_LINES = 2000;
export const MAX_PART_CHARS = 200_000;
/** Envelope lines before the FTL identifier (addresses can run to several lines, not to dozens). */
const MAX_HEADER_LINES = 64;
/** Address lines held back while skipping text, in case they open the next message. */
const MAX_PENDING = 32;

export interface CollectedPart {
  firstLine: number;
  lines: string[];
  hasEnd: boolean;
  suspect: boolean;
  /** The reader the body lines went to, when the header could be read. */
  reader: PartReader | null;
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

function outsideMessage(): string {
  return 'text outside any FTL message (a message starts with its envelope or the FTL identifier and ends with ENDPARTn/ENDFTL)';
}
