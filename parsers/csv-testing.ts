/**
 * Test support shared by the CSV feed tests: inputs from fixtures or bytes (optionally cut into chunks
 * at chosen places, to exercise chunk boundaries), event collection, and the checks every file's
 * events must pass whatever its content.
 */
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import type {
  FeedParser,
  ParseEvent,
  ParseInput,
  ParseOptions,
  RecordEvent,
  RejectEvent,
  VerdictEvent,
} from './types.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export function fixtureInput(relative: string, name = relative.split('/').pop() as string): ParseInput {
  const path = `${FIXTURES}${relative}`;
  // A small highWaterMark cuts even the fixtures into several chunks.
  return {
    name,
    open: () => createReadStream(path, { highWaterMark: 37 }),
    receivedAt: new Date('2024-05-02T03:00:00Z'),
  };
}

/** An input over `bytes`, cut before each offset in `cuts` (offsets beyond the end are ignored). */
export function bytesInput(name: string, bytes: Buffer | string, cuts: readonly number[] = []): ParseInput {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const points = [...new Set(cuts.filter((c) => c > 0 && c < buf.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const at of points) {
    chunks.push(buf.subarray(from, at));
    from = at;
  }
  chunks.push(buf.subarray(from));
  return {
    name,
    open: () => Readable.from(chunks),
    receivedAt: new Date('2024-05-02T03:00:00Z'),
    size: buf.length,
  };
}

export interface Collected<T> {
  events: ParseEvent<T>[];
  records: RecordEvent<T>[];
  rejects: RejectEvent[];
  verdicts: VerdictEvent[];
}

export async function collect<T>(
  parser: FeedParser<T>,
  inputs: ParseInput[],
  options?: ParseOptions,
): Promise<Collected<T>> {
  const events: ParseEvent<T>[] = [];
  for await (const event of parser.parse(inputs, options)) events.push(event);
  return {
    events,
    records: events.filter((e): e is RecordEvent<T> => e.type === 'record'),
    rejects: events.filter((e): e is RejectEvent => e.type === 'reject'),
    verdicts: events.filter((e): e is VerdictEvent => e.type === 'verdict'),
  };
}

/** Physical lines of a file as an editor shows them: LF, CRLF and lone CR end a line; a BOM is no text. */
export function physicalLines(bytes: Buffer): number {
  const text = bytes.toString('latin1').replace(/^\xEF\xBB\xBF/, '');
  if (text.length === 0) return 0;
  const breaks = text.match(/\r\n|\r|\n/g)?.length ?? 0;
  return breaks + (/[\r\n]$/.test(text) ? 0 : 1);
}

/**
 * What must hold for one file's events whatever the input: a single verdict, last; an account that
 * balances, agrees with the events and with an independent count of lines; events in line order
 * without overlapping, inside the file.
 */
export function checkFileEvents<T>(events: ParseEvent<T>[], bytes: Buffer): string[] {
  const problems: string[] = [];
  const verdict = events.at(-1);
  if (verdict?.type !== 'verdict') return ['the last event is not a verdict'];
  if (events.filter((e) => e.type === 'verdict').length !== 1) problems.push('more than one verdict');
  const a = verdict.account;
  if (a.recordLines + a.rejectLines + a.structureLines + a.blankLines !== a.lines) {
    problems.push(`account does not balance: ${JSON.stringify(a)}`);
  }
  const expectedLines = physicalLines(bytes);
  if (a.lines !== expectedLines) problems.push(`account has ${a.lines} lines, the bytes ${expectedLines}`);
  let recordLines = 0;
  let rejectLines = 0;
  let records = 0;
  let rejects = 0;
  let lastEnd = 0;
  for (const e of events) {
    if (e.type === 'verdict') continue;
    const lines = e.lines ?? 1;
    if (e.type === 'record') {
      records++;
      recordLines += lines;
    } else {
      rejects++;
      rejectLines += lines;
    }
    if (lines < 1) problems.push(`event at line ${e.line} spans ${lines} lines`);
    if (e.line <= lastEnd) problems.push(`event at line ${e.line} overlaps the one ending at ${lastEnd}`);
    lastEnd = e.line + lines - 1;
    if (lastEnd > a.lines) problems.push(`event at line ${e.line} ends after the last line ${a.lines}`);
  }
  if (records !== a.records || recordLines !== a.recordLines)
    problems.push('records disagree with the account');
  if (rejects !== a.rejects || rejectLines !== a.rejectLines)
    problems.push('rejects disagree with the account');
  return problems;
}

/** Quotes a CSV field when it needs it (RFC 4180). */
export function csvField(value: string, delimiter: string): string {
  return value.includes(delimiter) || /["\r\n]/.test(value) || value !== value.trim()
    ? `"${value.replace(/"/g, '""')}"`
    : value;
}
