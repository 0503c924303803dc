/**
 * The fast path over decoded text. The general path cuts every line into a string, hands it to the
 * collector, which hands it to the part reader, which looks at it once more to dispatch it. Most of an FTL
 * file is parts of the everyday shape, so the fast path reads a whole part straight from the decoded text
 * instead (`PartCollector.fastPart`), and each passenger block of it in one go (`PartReader.fastBlock`):
 * lines are found with indexOf, read in place by the quick readers of grammar.ts, and only the pieces a
 * record keeps are sliced out.
 *
 * It is a shortcut, never a second grammar: a part is read fast only from its first envelope line to its
 * END line, with the same header reading and the same part reader as the general path, and committed only
 * once its END line is read; a passenger block is read fast only when every line of it has a shape whose
 * general reading is known (and the block ends where the general path would close it). Anything else —
 * a blank or padded line, an unknown element, a long line, bytes that did not decode, a part cut short —
 * goes line by line through the general path, from where the fast path started. The property tests hold
 * the two paths to the same events for arbitrary messages (`fastPath.enabled` switches it off).
 */
import type { PartCollector } from './collector.js';
import type { LineSplitter } from './lines.js';

/**
 * Switch for tests: with `enabled` false every line goes through the general path. `parts` and `blocks`
 * count what the fast path read (the property tests check that it was used, not only that it agrees).
 */
export const fastPath = { enabled: true, parts: 0, blocks: 0 };

/** A fast read declines (a line of another shape, or the text ends first): the general path reads on. */
export const DECLINE = -1;

/** Characters read between two hand-overs of events (the consumer takes records while they are young). */
const SLICE = 8192;

/**
 * Finds line ends in a decoded text the way LineSplitter cuts lines (CR LF, LF, or a stray CR), caching
 * the next CR and LF so that each is searched for once per line.
 */
export class TextScan {
  text = '';
  n = 0;
  /** The text is the last of the file: a line may end without a terminator, and a CR at the end is one. */
  final = false;
  /** Set by end(): where the line after the one asked for starts. */
  next = 0;
  /** The next LF and CR at or after where they were last searched from (-1: none there or after). */
  private lf = -1;
  private cr = -1;
  private lfFrom = Infinity;
  private crFrom = Infinity;

  reset(text: string, final: boolean): void {
    this.text = text;
    this.n = text.length;
    this.final = final;
    this.lfFrom = Infinity;
    this.crFrom = Infinity;
  }

  /**
   * Whether a line ends at `e` — a CR, an LF, or the end of a final text — as end() would have found it
   * for a line with no terminator before `e`. Sets `next`; false also when that cannot be known yet (the
   * text ends there, or with that CR).
   */
  endsAt(e: number): boolean {
    const n = this.n;
    if (e >= n) {
      if (!this.final) return false;
      this.next = n;
      return true;
    }
    const c = this.text.charCodeAt(e);
    if (c === 10) {
      this.next = e + 1;
      return true;
    }
    if (c !== 13) return false;
    if (e + 1 < n) {
      this.next = this.text.charCodeAt(e + 1) === 10 ? e + 2 : e + 1;
      return true;
    }
    if (!this.final) return false;
    this.next = n;
    return true;
  }

  /**
   * Where the line starting at `p` ends (its terminator, or the end of a final text); -1 when the text
   * ends first (or with a CR whose LF may follow). Sets `next`.
   */
  end(p: number): number {
    const text = this.text;
    // A cached position answers for any p from where it was searched up to itself (a fast read that
    // declines comes back to an earlier line).
    let lf = this.lf;
    if (p < this.lfFrom || (lf !== -1 && lf < p)) {
      lf = this.lf = text.indexOf('\n', p);
      this.lfFrom = p;
    }
    let cr = this.cr;
    if (p < this.crFrom || (cr !== -1 && cr < p)) {
      cr = this.cr = text.indexOf('\r', p);
      this.crFrom = p;
    }
    if (cr !== -1 && (lf === -1 || cr < lf)) {
      if (cr + 1 < this.n) {
        this.next = lf === cr + 1 ? cr + 2 : cr + 1;
        return cr;
      }
      if (!this.final) return -1;
      this.next = this.n;
      return cr;
    }
    if (lf !== -1) {
      this.next = lf + 1;
      return lf;
    }
    if (!this.final) return -1;
    this.next = this.n;
    return this.n;
  }
}

/**
 * Feeds a file's decoded text to the collector: whole parts through the fast path where it can, single
 * lines through the line splitter otherwise. The splitter and the collector are those of the general path,
 * so switching between the two at a line boundary loses nothing. A part cut by the end of a piece of text
 * is read by the general path (keeping its text back to read it whole would cost more than it saves).
 */
export class TextFeed {
  private readonly scan = new TextScan();
  private pos = 0;
  /** No END line can start after this index of the piece (unless it is the last): no part can end there. */
  private lastEnd = 0;

  constructor(
    private readonly splitter: LineSplitter,
    private readonly collector: PartCollector,
    private readonly fast: boolean,
  ) {}

  /** The next piece of decoded text; `final` for the last one of the file (possibly empty). */
  push(text: string, final: boolean): void {
    this.scan.reset(text, final);
    this.pos = 0;
    this.lastEnd = final ? text.length : text.lastIndexOf('END');
  }

  /** Reads on for about SLICE characters; true while some of the piece is left. */
  step(): boolean {
    const scan = this.scan;
    const text = scan.text;
    const n = scan.n;
    const splitter = this.splitter;
    const collector = this.collector;
    let p = this.pos;
    const stop = p + SLICE;
    while (p < n && p < stop) {
      if (this.fast && splitter.atLineStart) {
        const r = collector.atRest
          ? p < this.lastEnd
            ? collector.fastPart(scan, p)
            : DECLINE
          : collector.inBody
            ? collector.fastBody(scan, p)
            : DECLINE;
        if (r >= 0) {
          p = r;
          continue;
        }
      }
      // One line through the splitter, with its terminator (or the rest, which it keeps for the next piece).
      const e = scan.end(p);
      if (e === -1) {
        splitter.push(p === 0 ? text : text.slice(p));
        p = n;
        break;
      }
      splitter.push(text.slice(p, scan.next));
      p = scan.next;
    }
    this.pos = p;
    return p < n;
  }
}
