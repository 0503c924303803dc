/**
 * Splits decoded text into lines on CR LF, LF and a stray CR, across chunk boundaries, in constant
 * memory: a line longer than MAX_LINE keeps MAX_LINE + 1 characters (so the parser can tell and reject
 * it) and the rest of it is dropped as it streams by.
 */
import { MAX_LINE } from './grammar.js';

/** Receives each line as it is cut. */
export interface LineSink {
  line(raw: string): void;
}

export class LineSplitter {
  private carry = '';
  /** The previous chunk ended with CR: a LF at the start of the next one belongs to it. */
  private skipLf = false;
  /** The current line already exceeded MAX_LINE: drop text until its terminator. */
  private overflow = false;

  constructor(private readonly sink: LineSink) {}

  /** Nothing of a line is kept and no LF is expected: the next text starts a line of its own. */
  get atLineStart(): boolean {
    return this.carry.length === 0 && !this.overflow && !this.skipLf;
  }

  push(text: string): void {
    const n = text.length;
    let start = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (n > 0 && text.charCodeAt(0) === 10) start = 1;
    }
    let nl = text.indexOf('\n', start);
    let cr = text.indexOf('\r', start);
    while (nl !== -1 || cr !== -1) {
      let end: number;
      let next: number;
      if (cr !== -1 && (nl === -1 || cr < nl)) {
        end = cr;
        if (cr + 1 < n) {
          next = text.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
        } else {
          next = n;
          this.skipLf = true;
        }
      } else {
        end = nl;
        next = nl + 1;
      }
      this.line(text, start, end);
      start = next;
      if (nl !== -1 && nl < start) nl = text.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = text.indexOf('\r', start);
    }
    if (start < n) this.keep(text, start, n);
  }

  /** Flushes the last line when the text does not end with a line terminator. */
  end(): void {
    if (this.carry.length > 0 || this.overflow) {
      const line = this.carry;
      this.carry = '';
      this.overflow = false;
      this.sink.line(line);
    }
    this.skipLf = false;
  }

  private line(text: string, start: number, end: number): void {
    let line: string;
    if (this.overflow) {
      line = this.carry;
      this.overflow = false;
    } else if (this.carry.length > 0) {
      line = this.carry + text.slice(start, end);
      if (line.length > MAX_LINE) line = line.slice(0, MAX_LINE + 1);
    } else {
      line = end - start > MAX_LINE ? text.slice(start, start + MAX_LINE + 1) : text.slice(start, end);
    }
    this.carry = '';
    this.sink.line(line);
  }

  private keep(text: string, start: number, end: number): void {
    if (this.overflow) return;
    this.carry = this.carry.length > 0 ? this.carry + text.slice(start, end) : text.slice(start, end);
    if (this.carry.length > MAX_LINE) {
      this.carry = this.carry.slice(0, MAX_LINE + 1);
      this.overflow = true;
    }
  }
}

/** The lines of a whole text, cut as the splitter cuts them. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter({ line: (l) => lines.push(l) });
  splitter.push(text);
  splitter.end();
  return lines;
}
