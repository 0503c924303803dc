/**
 * Assembles FTL messages from parts that arrive in any order, in several files, over several nights.
 *
 * Event order and what a consumer may credit:
 * - A message's records are emitted when its last missing part arrives (for a one-part message, as
 *   soon as its END line is read), each record with the file (and its `fileId`) and line it came from.
 *   Parts read earlier in the same delivery therefore release their records while a later file is read.
 * - A file's verdict follows all of its events: it is emitted once the file is read and every message
 *   it contributed to is complete, or at the end of the delivery.
 * - At the end of the delivery, parts of still-incomplete messages are read with `held: true` so every
 *   line is accounted for; those records must not be credited. Their raw lines are returned by
 *   `result().held` to be seeded into the next delivery, where the message completes (records then
 *   arrive again, `held: false`, with their original file and line) or times out (`result().expired`).
 *   Rejects of a seeded part were reported when it first arrived and are not repeated.
 * - Messages completed by earlier deliveries (`result().completed`, persisted) are seeded too: a part of
 *   one sent again is a duplicate, ignored and counted, exactly as a second copy within one delivery.
 */
import iconv from 'iconv-lite';
import type { Readable } from 'node:stream';
import { dateInZone, type IsoDate } from '../../lib/dates.js';
import { RedeyeError } from '../../lib/errors.js';
import type { LineAccount, ParseEvent, ParseInput, VerdictEvent } from '../types.js';
import { checkEncoding, clipText } from '../types.js';
import { PartCollector, type CollectedPart, type CollectorSink, type JunkBlock } from './collector.js';
import { TextFeed, fastPath } from './fast.js';
import { LineSplitter } from './lines.js';
import type {
  CompletedFtlMessage,
  FtlDeliveryResult,
  FtlFileCounts,
  FtlFileMeta,
  FtlGroupCountMismatch,
  FtlIncompleteMessage,
  FtlMessageFact,
  FtlMessageFlight,
  FtlParseOptions,
  FtlPartProblem,
  FtlPassenger,
  HeldFtlPart,
} from './model.js';
import {
  LazyPartInput,
  EventQueue,
  PartReader,
  checkEnd,
  checkEndAt,
  findEnd,
  handOn,
  readPart,
  scanHeader,
  trimLine,
  type PartFault,
  type PartHeader,
  type PartInput,
  type PartSink,
  type ScanContext,
} from './part.js';

export const DEFAULT_OWN_PROGRAMS: readonly string[] = ['XX'];
export const DEFAULT_FUTURE_DAYS = 3;
export const DEFAULT_HOLD_TIMEOUT_HOURS = 72;
/** Complete messages listed per file in the verdict meta; beyond this they are only counted. */
const MAX_COMPLETE_FACTS = 1000;
const MAX_PART_PROBLEMS = 1000;
/**
 * Completed message identities remembered to recognise late duplicates, seeded ones included (the oldest
 * are forgotten first).
 */
export const MAX_REMEMBERED = 100_000;

interface FileState {
  name: string;
  fileId: number | undefined;
  /** The file's own (`ParseInput.encoding`), else the delivery's. */
  encoding: string;
  receivedAt: number;
  scan: ScanContext;
  account: LineAccount;
  counts: FtlFileCounts;
  facts: FtlMessageFact[];
  completeFacts: number;
  partProblems: FtlPartProblem[];
  firstReason: { reason: string; message: string } | null;
  /** Parts that joined a message (complete or waiting). */
  usedParts: number;
  duplicateParts: number;
  /** Parts of this file in messages not complete yet. */
  waiting: number;
  heldKeys: string[];
  done: boolean;
  verdictSent: boolean;
}

interface StoredPart {
  input: PartInput;
  header: PartHeader;
  final: boolean;
  endIndex: number;
  /** The body as read on arrival; null for a seeded part, which is read when its message completes. */
  reader: PartReader | null;
  file: FileState | null;
  seed: HeldFtlPart | null;
  receivedAt: number;
  seq: number;
}

interface MessageState {
  key: string;
  flight: FtlMessageFlight;
  parts: Map<number, StoredPart>;
  finalPart: number | null;
}

/** A message completed in this delivery or an earlier one: it had exactly the parts 1 to `finalPart`. */
interface Remembered {
  finalPart: number;
  where: string;
}

export class FtlAssembler {
  readonly encoding: string;
  private readonly ownPrograms: ReadonlySet<string>;
  private readonly futureDays: number;
  private readonly timeZone: string;
  private readonly holdTimeoutMs: number;
  private readonly asOf: Date | undefined;
  private readonly out = new EventQueue<ParseEvent<FtlPassenger>>();
  private readonly messages = new Map<string, MessageState>();
  private readonly completed = new Map<string, Remembered>();
  private readonly files: FileState[] = [];
  private readonly badSeeds: FtlIncompleteMessage[] = [];
  private readonly usedSeeds: HeldFtlPart[] = [];
  private readonly droppedSeeds: HeldFtlPart[] = [];
  private readonly completedNow: CompletedFtlMessage[] = [];
  private seq = 0;
  private latestFile = -Infinity;
  private ended = false;
  private delivery: FtlDeliveryResult | null = null;

  /**
   * @param options parse options (encoding, own programs, year inference, hold timeout)
   * @param held parts held by earlier deliveries (`result().held` of the previous run), in any order
   * @param completed messages completed by earlier deliveries (their `result().completed`), oldest first
   */
  constructor(
    options: FtlParseOptions = {},
    held: readonly HeldFtlPart[] = [],
    completed: readonly CompletedFtlMessage[] = [],
  ) {
    const encoding = options.encoding ?? 'utf-8';
    checkEncoding(encoding);
    this.encoding = encoding;
    this.ownPrograms = new Set(options.ownPrograms ?? DEFAULT_OWN_PROGRAMS);
    this.futureDays = options.futureDays ?? DEFAULT_FUTURE_DAYS;
    this.timeZone = options.timeZone ?? 'UTC';
    try {
      receiptDate(new Date(0), this.timeZone);
    } catch (err) {
      throw new RedeyeError(
        'BAD_OPTION',
        `unknown time zone ${JSON.stringify(this.timeZone)}`,
        { feed: 'ftl' },
        { cause: err },
      );
    }
    this.holdTimeoutMs = (options.holdTimeoutHours ?? DEFAULT_HOLD_TIMEOUT_HOURS) * 3_600_000;
    this.asOf = options.asOf;
    // Before the held parts: one of a message already complete (held before completed messages were
    // remembered) is dropped as the duplicate it is, not held again.
    for (const c of completed) {
      const on = c.completedOn === undefined ? '' : `, complete since the night of ${c.completedOn}`;
      this.remember(c.message, { finalPart: c.finalPart, where: completedWhere(c) + on });
    }
    for (const h of held) this.seed(h);
  }

  /** Reads a delivery: every file, then the end of the delivery. */
  parse(inputs: readonly ParseInput[]): AsyncIterableIterator<ParseEvent<FtlPassenger>> {
    return new FlatEvents(this.batches(inputs, true));
  }

  /**
   * Reads a delivery as parse() does, handing the events out in runs instead of one by one: each item is
   * a non-empty array of events, in order. This is how the nightly ingest reads: a consumer that takes a
   * run at a time pays for one promise per run of records, not one per record (about an eighth of the
   * parser's time on a large file).
   */
  async *parseRuns(inputs: readonly ParseInput[]): AsyncGenerator<readonly ParseEvent<FtlPassenger>[]> {
    for await (const batch of this.batches(inputs, true)) {
      for (let k = 0; k < batch.length; k++) if (batch[k]!.length > 0) yield batch[k]!;
    }
  }

  /** Reads one file of the delivery. Its verdict comes now or, if it waits for parts, later. */
  readFile(input: ParseInput): AsyncIterableIterator<ParseEvent<FtlPassenger>> {
    return new FlatEvents(this.batches([input], false));
  }

  /** Ends the delivery: reads the parts still waiting as held, then the remaining verdicts. */
  *end(): Generator<ParseEvent<FtlPassenger>> {
    this.finish();
    for (const events of this.take()) for (let i = 0; i < events.length; i++) yield events[i]!;
  }

  /** Events come out in batches (one per chunk read); FlatEvents hands them out one by one. */
  private async *batches(
    inputs: readonly ParseInput[],
    finish: boolean,
  ): AsyncGenerator<ParseEvent<FtlPassenger>[][]> {
    for (const input of inputs) {
      if (this.ended) {
        throw new RedeyeError('FTL_DELIVERY_ENDED', 'a file was given after the end of the delivery', {
          feed: 'ftl',
          file: input.name,
        });
      }
      const file = this.openFile(input);
      if (this.out.size > 0) yield this.take();
      const collector = new PartCollector(this.sinkFor(file));
      const splitter = new LineSplitter(collector);
      const feed = new TextFeed(splitter, collector, fastPath.enabled);
      const decoder = iconv.getDecoder(file.encoding);
      let stream: Readable;
      try {
        stream = input.open();
      } catch (err) {
        throw streamFault(input.name, err);
      }
      const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
      let finished = false;
      try {
        while (true) {
          let r: IteratorResult<Buffer | string>;
          try {
            r = await it.next();
          } catch (err) {
            throw streamFault(input.name, err);
          }
          if (r.done) break;
          const chunk = r.value;
          let from = 0;
          while (from < chunk.length) {
            let text: string;
            if (typeof chunk === 'string') {
              text = chunk;
              from = chunk.length;
            } else {
              const to = pieceEnd(chunk, from);
              text = decoder.write(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
              from = to;
            }
            if (!collector.isSuspect && text.indexOf('\uFFFD') !== -1) collector.markSuspect();
            // Small steps, each followed by a hand-over of its records: the consumer takes them while
            // they are young, so the collector has little to copy (records are most of the garbage).
            feed.push(text, false);
            while (feed.step()) if (this.out.size > 0) yield this.take();
            if (this.out.size > 0) yield this.take();
          }
        }
        finished = true;
      } finally {
        if (!finished) stream.destroy();
      }
      const tail = decoder.end() ?? '';
      if (tail.indexOf('\uFFFD') !== -1) collector.markSuspect();
      feed.push(tail, true);
      while (feed.step()) if (this.out.size > 0) yield this.take();
      splitter.end();
      collector.end();
      file.account.lines = collector.lineCount;
      file.done = true;
      this.flushVerdicts(false);
      if (this.out.size > 0) yield this.take();
    }
    if (finish) {
      this.finish();
      if (this.out.size > 0) yield this.take();
    }
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    const asOf = this.asOf?.getTime() ?? (Number.isFinite(this.latestFile) ? this.latestFile : Date.now());
    const held: HeldFtlPart[] = [];
    const expired: FtlIncompleteMessage[] = [...this.badSeeds];
    for (const msg of this.messages.values()) {
      const parts = [...msg.parts.values()].sort((a, b) => a.seq - b.seq);
      let first = Infinity;
      let passengers = 0;
      for (const sp of parts) {
        first = Math.min(first, sp.receivedAt);
        if (sp.file === null || sp.reader === null) continue;
        handOn(sp.reader, this.partSink(sp.file), true);
        passengers += sp.reader.passengers;
        sp.file.waiting--;
        sp.file.counts.partsHeld++;
      }
      const isExpired = asOf - first > this.holdTimeoutMs;
      const heldParts = parts.map(toHeld);
      const missing = missingParts(msg);
      if (isExpired) {
        expired.push({
          message: msg.key,
          flight: msg.flight,
          reason: 'INCOMPLETE_MESSAGE',
          description: `${msg.key} incomplete after ${Math.round((asOf - first) / 3_600_000)} h: ${describeMissing(msg, missing)}`,
          finalPart: msg.finalPart,
          missingParts: missing,
          firstReceivedAt: new Date(first).toISOString(),
          parts: heldParts,
        });
      } else {
        held.push(...heldParts);
      }
      for (const f of filesOf(parts)) {
        f.counts.messagesHeld++;
        f.heldKeys.push(msg.key);
        f.facts.push(this.fact(msg, parts, 'held', passengers, [], isExpired, missing));
      }
    }
    this.delivery = {
      held,
      expired,
      used: this.usedSeeds,
      dropped: this.droppedSeeds,
      completed: this.completedNow,
    };
    this.flushVerdicts(true);
  }

  /** What the delivery leaves: parts to persist for the next one, and messages past the hold timeout. */
  result(): FtlDeliveryResult {
    if (this.delivery === null) {
      throw new RedeyeError('FTL_DELIVERY_OPEN', 'result() is known only after end()', { feed: 'ftl' });
    }
    return this.delivery;
  }

  private take(): ParseEvent<FtlPassenger>[][] {
    return this.out.take();
  }

  private openFile(input: ParseInput): FileState {
    const receivedAt = input.receivedAt.getTime();
    if (!validReceipt(input.receivedAt)) {
      throw new RedeyeError('BAD_INPUT', `file ${input.name} has no valid receipt time`, {
        feed: 'ftl',
        file: input.name,
      });
    }
    this.latestFile = Math.max(this.latestFile, receivedAt);
    if (input.encoding !== undefined) checkEncoding(input.encoding);
    const file: FileState = {
      name: input.name,
      fileId: input.fileId,
      encoding: input.encoding ?? this.encoding,
      receivedAt,
      scan: {
        receivedAt: input.receivedAt,
        receivedOn: receiptDate(input.receivedAt, this.timeZone),
        futureDays: this.futureDays,
        dateCache: new Map(),
        originatorCache: new Map(),
      },
      account: {
        lines: 0,
        recordLines: 0,
        rejectLines: 0,
        structureLines: 0,
        blankLines: 0,
        records: 0,
        rejects: 0,
      },
      counts: {
        parts: 0,
        partsComplete: 0,
        partsHeld: 0,
        partsDuplicate: 0,
        partsRejected: 0,
        messagesComplete: 0,
        messagesHeld: 0,
        passengers: 0,
        passengersHeld: 0,
        passengersWithoutUsableCard: 0,
        ownCards: 0,
        partnerCards: 0,
        longLines: 0,
      },
      facts: [],
      completeFacts: 0,
      partProblems: [],
      firstReason: null,
      usedParts: 0,
      duplicateParts: 0,
      waiting: 0,
      heldKeys: [],
      done: false,
      verdictSent: false,
    };
    this.files.push(file);
    return file;
  }

  private sinkFor(file: FileState): CollectorSink {
    return {
      begin: (lines, firstLine, suspect) => this.begin(file, lines, firstLine, suspect),
      part: (cp) => this.onPart(file, cp),
      junk: (j) => this.onJunk(file, j),
      blank: () => {
        file.account.blankLines++;
      },
    };
  }

  /** Where a part of `file` goes; a seeded part (no file of tonight's) is of the file it first arrived in. */
  private partSink(file: FileState | null, seed: HeldFtlPart | null = null): PartSink {
    return file === null
      ? { out: this.out, account: null, counts: null, fileId: seed?.fileId }
      : { out: this.out, account: file.account, counts: file.counts, fileId: file.fileId };
  }

  /** A part's flight line has arrived: read its header, and its body as it comes. */
  private begin(
    file: FileState,
    lines: readonly string[],
    firstLine: number,
    suspect: boolean,
  ): PartReader | null {
    const scan = scanHeader(lines, firstLine, file.scan);
    if (scan.fault !== null) return null;
    const reader = new PartReader({
      file: file.name,
      firstLine,
      header: scan.header,
      ownPrograms: this.ownPrograms,
      reject: null,
      suspect,
    });
    for (let i = 0; i <= scan.header.flightIndex; i++) reader.frame(i, trimLine(lines[i]!));
    return reader;
  }

  /** Re-reads a part that is given up whole: its passengers become rejects with the part's reason. */
  private rejectPart(
    file: FileState,
    input: PartInput,
    header: PartHeader | null,
    flightIndex: number,
    fault: PartFault,
  ) {
    const endIndex = findEnd(input.lines, Math.max(flightIndex, fault.index - 1));
    const reader = readPart(input, header, flightIndex, endIndex, {
      ownPrograms: this.ownPrograms,
      reject: fault,
    });
    handOn(reader, this.partSink(file), false);
  }

  private onJunk(file: FileState, j: JunkBlock): void {
    file.account.blankLines += j.blank;
    if (j.reason !== 'OUTSIDE_MESSAGE') {
      file.counts.parts++;
      file.counts.partsRejected++;
      this.problem(file, {
        line: j.firstLine,
        reason: j.reason,
        message: j.message,
        messageKey: null,
        part: null,
      });
    }
    if (j.lines === 0) return;
    file.account.rejectLines += j.lines;
    file.account.rejects++;
    this.out.push({
      type: 'reject',
      file: file.name,
      ...(file.fileId === undefined ? {} : { fileId: file.fileId }),
      line: j.firstLine,
      field: '*',
      reason: j.reason,
      message: j.message,
      text: clipText(j.text),
      lines: j.lines,
    });
  }

  private onPart(file: FileState, cp: CollectedPart): void {
    file.counts.parts++;
    // A part read by the fast path cuts its lines only when they are asked for (held, re-read, rejected).
    const input: PartInput =
      cp.end === undefined
        ? { file: file.name, firstLine: cp.firstLine, lines: cp.lines, suspect: cp.suspect }
        : new LazyPartInput(file.name, cp);
    let header: PartHeader | null;
    let flightIndex: number;
    let fault: PartFault | null = null;
    if (cp.reader !== null) {
      header = cp.reader.header!;
      flightIndex = header.flightIndex;
    } else {
      const scan = scanHeader(cp.lines, cp.firstLine, file.scan);
      header = scan.header;
      flightIndex = scan.fault === null ? scan.header.flightIndex : scan.flightIndex;
      fault = scan.fault;
    }
    if (header !== null) {
      const known = cp.end;
      const end =
        known === undefined
          ? checkEnd(cp.lines, cp.firstLine, header)
          : checkEndAt(known.index, known.text, cp.firstLine, header);
      if (end.fault === null && cp.reader !== null) {
        const reader = cp.reader;
        reader.finish();
        reader.frame(
          end.end.endIndex,
          known === undefined ? trimLine(cp.lines[end.end.endIndex]!) : known.text,
        );
        this.addPart({
          input,
          header,
          final: end.end.final,
          endIndex: end.end.endIndex,
          reader,
          file,
          seed: null,
          receivedAt: file.receivedAt,
          seq: this.seq++,
        });
        return;
      }
      fault = end.fault;
    }
    const why = fault!;
    this.rejectPart(file, input, header, flightIndex, why);
    file.counts.partsRejected++;
    this.problem(file, {
      line: cp.firstLine + why.index,
      reason: why.reason,
      message: why.message,
      messageKey: header?.key ?? null,
      part: header?.part ?? null,
    });
  }

  private seed(h: HeldFtlPart): void {
    const receivedAt = new Date(h.receivedAt);
    const input: PartInput = {
      file: h.file,
      firstLine: h.line,
      lines: h.lines,
      suspect: h.lines.some((l) => l.indexOf('\uFFFD') !== -1),
    };
    let problem: string;
    if (validReceipt(receivedAt)) {
      const scan = scanHeader(h.lines, h.line, {
        receivedAt,
        receivedOn: receiptDate(receivedAt, this.timeZone),
        futureDays: this.futureDays,
      });
      if (scan.fault === null) {
        const end = checkEnd(h.lines, h.line, scan.header);
        if (end.fault === null) {
          this.addPart({
            input,
            header: scan.header,
            final: end.end.final,
            endIndex: end.end.endIndex,
            reader: null,
            file: null,
            seed: h,
            receivedAt: receivedAt.getTime(),
            seq: this.seq++,
          });
          return;
        }
        problem = end.fault.message;
      } else {
        problem = scan.fault.message;
      }
    } else {
      problem = 'bad receipt time';
    }
    this.badSeeds.push({
      message: h.message,
      flight: null,
      reason: 'INCOMPLETE_MESSAGE',
      description: `held part ${h.part} of ${h.message} from ${h.file}:${h.line} can no longer be read (${problem})`,
      finalPart: null,
      missingParts: [],
      firstReceivedAt: h.receivedAt,
      parts: [h],
    });
  }

  private addPart(sp: StoredPart): void {
    const h = sp.header;
    const done = this.completed.get(h.key);
    if (done !== undefined) {
      if (h.part <= done.finalPart) {
        this.ignore(
          sp,
          'DUPLICATE_PART',
          `PART${h.part} of ${h.key} was already received (${done.where}): ignored`,
        );
      } else {
        this.ignore(
          sp,
          'UNEXPECTED_PART',
          `PART${h.part} of ${h.key} lies beyond its final part PART${done.finalPart}`,
        );
      }
      return;
    }
    let msg = this.messages.get(h.key);
    if (msg === undefined) {
      const f = h.flight;
      msg = {
        key: h.key,
        flight: { carrier: f.carrier, number: f.number, suffix: f.suffix, date: f.date, board: f.board },
        parts: new Map(),
        finalPart: null,
      };
      this.messages.set(h.key, msg);
    }
    const prior = msg.parts.get(h.part);
    if (prior !== undefined) {
      this.ignore(
        sp,
        'DUPLICATE_PART',
        `PART${h.part} of ${h.key} was already received (${where(prior)}): ignored`,
      );
      return;
    }
    if (msg.finalPart !== null && (h.part > msg.finalPart || sp.final)) {
      this.ignore(
        sp,
        'UNEXPECTED_PART',
        `PART${h.part} of ${h.key} lies beyond its final part PART${msg.finalPart}`,
      );
      return;
    }
    if (sp.final) {
      msg.finalPart = h.part;
      for (const [n, other] of [...msg.parts]) {
        if (n <= h.part) continue;
        msg.parts.delete(n);
        if (other.file) {
          other.file.waiting--;
          other.file.usedParts--;
        }
        this.ignore(
          other,
          'UNEXPECTED_PART',
          `PART${n} of ${h.key} lies beyond its final part PART${h.part}`,
        );
      }
    }
    msg.parts.set(h.part, sp);
    if (sp.file) {
      sp.file.waiting++;
      sp.file.usedParts++;
    }
    if (msg.finalPart !== null && msg.parts.size === msg.finalPart) this.release(msg);
  }

  /** A part that is not used: its lines are rejected (seeded parts are just dropped). */
  private ignore(sp: StoredPart, reason: 'DUPLICATE_PART' | 'UNEXPECTED_PART', message: string): void {
    const file = sp.file;
    if (file === null) {
      this.droppedSeeds.push(sp.seed!);
      return;
    }
    const fault: PartFault = { reason, message, index: sp.header.flightIndex };
    const reader = readPart(sp.input, sp.header, sp.header.flightIndex, sp.endIndex, {
      ownPrograms: this.ownPrograms,
      reject: fault,
    });
    handOn(reader, this.partSink(file), false);
    if (reason === 'DUPLICATE_PART') {
      file.counts.partsDuplicate++;
      file.duplicateParts++;
    } else {
      file.counts.partsRejected++;
    }
    this.problem(file, {
      line: sp.input.firstLine + sp.header.flightIndex,
      reason,
      message,
      messageKey: sp.header.key,
      part: sp.header.part,
    });
  }

  private release(msg: MessageState): void {
    const parts = [...msg.parts.values()].sort((a, b) => a.seq - b.seq);
    const groups = new Map<string, FtlGroupCountMismatch>();
    let passengers = 0;
    for (const sp of parts) {
      const reader =
        sp.reader ??
        readPart(sp.input, sp.header, sp.header.flightIndex, sp.endIndex, {
          ownPrograms: this.ownPrograms,
          reject: null,
        });
      if (sp.seed !== null) this.usedSeeds.push(sp.seed);
      handOn(reader, this.partSink(sp.file, sp.seed), false);
      passengers += reader.passengers;
      for (const g of reader.groups) {
        const k = g.destination + g.subclass;
        const acc = groups.get(k);
        if (acc === undefined) {
          groups.set(k, {
            destination: g.destination,
            subclass: g.subclass,
            declared: g.count,
            read: g.read,
          });
        } else {
          acc.declared = Math.max(acc.declared, g.count);
          acc.read += g.read;
        }
      }
      if (sp.file) {
        sp.file.waiting--;
        sp.file.counts.partsComplete++;
      }
    }
    // The count is two digits: beyond 99 it says nothing to compare with.
    const mismatches = [...groups.values()].filter(
      (g) => g.declared !== g.read && g.read < 100 && g.declared < 100,
    );
    this.messages.delete(msg.key);
    const first = parts[0]!;
    const fileId = first.file?.fileId ?? first.seed?.fileId;
    const done: CompletedFtlMessage = {
      message: msg.key,
      finalPart: msg.finalPart!,
      file: first.input.file,
      line: first.input.firstLine,
      ...(fileId === undefined ? {} : { fileId }),
    };
    this.completedNow.push(done);
    this.remember(msg.key, { finalPart: done.finalPart, where: completedWhere(done) });
    for (const f of filesOf(parts)) {
      f.counts.messagesComplete++;
      if (f.completeFacts < MAX_COMPLETE_FACTS) {
        f.completeFacts++;
        f.facts.push(this.fact(msg, parts, 'complete', passengers, mismatches, false, []));
      }
    }
  }

  private remember(key: string, r: Remembered): void {
    if (this.completed.size >= MAX_REMEMBERED && !this.completed.has(key)) {
      const oldest = this.completed.keys().next();
      if (!oldest.done) this.completed.delete(oldest.value);
    }
    this.completed.set(key, r);
  }

  private fact(
    msg: MessageState,
    parts: StoredPart[],
    status: 'complete' | 'held',
    passengers: number,
    mismatches: FtlGroupCountMismatch[],
    expired: boolean,
    missing: number[],
  ): FtlMessageFact {
    return {
      message: msg.key,
      flight: msg.flight,
      status,
      finalPart: msg.finalPart,
      parts: parts.map((sp) => ({
        part: sp.header.part,
        final: sp.final,
        file: sp.input.file,
        line: sp.input.firstLine,
        seeded: sp.seed !== null,
      })),
      missingParts: missing,
      passengers,
      groupCountMismatches: mismatches,
      expired,
    };
  }

  private problem(file: FileState, p: FtlPartProblem): void {
    if (file.firstReason === null && p.reason !== 'DUPLICATE_PART') {
      file.firstReason = { reason: p.reason, message: p.message };
    }
    if (file.partProblems.length < MAX_PART_PROBLEMS) file.partProblems.push(p);
  }

  private flushVerdicts(final: boolean): void {
    for (const f of this.files) {
      if (f.done && !f.verdictSent && (final || f.waiting === 0)) {
        f.verdictSent = true;
        this.out.push(this.verdict(f));
      }
    }
  }

  private verdict(f: FileState): VerdictEvent {
    const a = f.account;
    const meta: FtlFileMeta = {
      encoding: f.encoding,
      counts: f.counts,
      messages: f.facts,
      partProblems: f.partProblems,
    };
    const base = {
      type: 'verdict' as const,
      file: f.name,
      ...(f.fileId === undefined ? {} : { fileId: f.fileId }),
      account: a,
      meta: meta as unknown as Record<string, unknown>,
    };
    if (a.lines === a.blankLines) {
      return {
        ...base,
        verdict: 'rejected',
        reason: 'EMPTY_FILE',
        message: a.lines === 0 ? 'the file is empty' : 'the file holds only blank lines',
      };
    }
    if (f.usedParts === 0 && f.duplicateParts === 0) {
      const why = f.firstReason ?? { reason: 'NOT_FTL', message: 'no FTL message in the file' };
      return {
        ...base,
        verdict: 'rejected',
        reason: why.reason,
        message: `nothing could be read: ${why.message}`,
      };
    }
    const summary = `${a.records} passenger record(s) in ${f.counts.parts} part(s), ${a.rejects} reject(s)`;
    if (f.heldKeys.length > 0) {
      const shown = f.heldKeys.slice(0, 5).join(', ');
      const more = f.heldKeys.length > 5 ? ` and ${f.heldKeys.length - 5} more` : '';
      return {
        ...base,
        verdict: 'held',
        reason: 'INCOMPLETE_MESSAGE',
        message: `${summary}; waiting for missing parts of ${shown}${more}: records of these messages are not to be credited yet`,
      };
    }
    return { ...base, verdict: 'accepted', message: summary };
  }
}

/**
 * Hands out batched events one at a time with already-settled promises: one promise per event instead
 * of a generator resumption per event, which is most of what reading a large file costs. A batch is a
 * list of arrays of events (see EventQueue).
 */
class FlatEvents<T> implements AsyncIterableIterator<T> {
  private batch: T[][] = [];
  private segment = 0;
  private events: T[] = [];
  private pos = 0;

  constructor(private readonly source: AsyncGenerator<T[][]>) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.pos < this.events.length)
      return Promise.resolve({ value: this.events[this.pos++]!, done: false });
    while (this.segment < this.batch.length) {
      const events = this.batch[this.segment++]!;
      if (events.length > 0) {
        this.events = events;
        this.pos = 1;
        return Promise.resolve({ value: events[0]!, done: false });
      }
    }
    return this.pull();
  }

  async return(): Promise<IteratorResult<T>> {
    this.clear();
    await this.source.return(undefined);
    return { value: undefined, done: true };
  }

  private clear(): void {
    this.batch = [];
    this.segment = 0;
    this.events = [];
    this.pos = 0;
  }

  private async pull(): Promise<IteratorResult<T>> {
    while (true) {
      const r = await this.source.next();
      if (r.done) {
        this.clear();
        return { value: undefined, done: true };
      }
      const batch = r.value;
      for (let k = 0; k < batch.length; k++) {
        const events = batch[k]!;
        if (events.length === 0) continue;
        this.batch = batch;
        this.segment = k + 1;
        this.events = events;
        this.pos = 1;
        return { value: events[0]!, done: false };
      }
    }
  }
}

/** Bytes of a chunk decoded at a time, at least (see pieceEnd). */
const PIECE = 8192;
const LF_END = Buffer.from('\nEND', 'latin1');

/**
 * Where the piece of `chunk` from `from` ends: after the first line starting END at least PIECE bytes on
 * (a part's END line, nearly always), or at the end of the chunk. Decoding the pieces one after the other
 * gives the text of the whole chunk — the decoder keeps what a piece cuts of a character — but as several
 * strings: parts of Latin text stay one-byte strings, faster to decode and to read, when a message beside
 * them is Cyrillic; and a part read by the fast path is not cut between two of them.
 */
function pieceEnd(chunk: Buffer, from: number): number {
  const n = chunk.length;
  if (n - from < 2 * PIECE) return n;
  const at = chunk.indexOf(LF_END, from + PIECE);
  if (at === -1) return n;
  const lf = chunk.indexOf(10, at + 4);
  return lf === -1 ? n : lf + 1;
}

/** A receipt time the calendar can place (years 1 to 9999). */
function validReceipt(at: Date): boolean {
  const y = at.getUTCFullYear();
  return Number.isFinite(y) && y >= 1 && y <= 9999;
}

/** The calendar date of receipt; UTC without building a formatter (which costs milliseconds each). */
function receiptDate(at: Date, timeZone: string): IsoDate {
  return timeZone === 'UTC' ? at.toISOString().slice(0, 10) : dateInZone(at, timeZone);
}

function streamFault(file: string, err: unknown): RedeyeError {
  const reason = err instanceof Error ? err.message : String(err);
  return new RedeyeError(
    'STREAM_FAILED',
    `reading ${file} failed: ${reason}`,
    { feed: 'ftl', file },
    { cause: err },
  );
}

function where(sp: StoredPart): string {
  return `${sp.input.file}:${sp.input.firstLine}`;
}

/** Where a completed message came from, as a duplicate of one of its parts names it. */
function completedWhere(c: CompletedFtlMessage): string {
  const at = `${c.file}:${c.line}`;
  return c.finalPart === 1 ? at : `${c.finalPart} parts from ${at}`;
}

function filesOf(parts: readonly StoredPart[]): FileState[] {
  const seen: FileState[] = [];
  for (const sp of parts) if (sp.file !== null && !seen.includes(sp.file)) seen.push(sp.file);
  return seen;
}

function missingParts(msg: MessageState): number[] {
  const top = msg.finalPart ?? Math.max(0, ...msg.parts.keys());
  const missing: number[] = [];
  for (let n = 1; n <= top; n++) if (!msg.parts.has(n)) missing.push(n);
  return missing;
}

function describeMissing(msg: MessageState, missing: number[]): string {
  const parts = missing.length > 0 ? `missing PART${missing.join(', PART')}` : '';
  const fin = msg.finalPart === null ? 'the final part (ENDFTL) never arrived' : '';
  return [parts, fin].filter((s) => s.length > 0).join('; ');
}

function toHeld(sp: StoredPart): HeldFtlPart {
  if (sp.seed !== null) return sp.seed;
  const fileId = sp.file?.fileId;
  return {
    message: sp.header.key,
    part: sp.header.part,
    final: sp.final,
    file: sp.input.file,
    line: sp.input.firstLine,
    ...(fileId === undefined ? {} : { fileId }),
    receivedAt: new Date(sp.receivedAt).toISOString(),
    lines: [...sp.input.lines],
  };
}
