/**
 * Throughput of the flown-coupon parser against the floor it cannot beat: a bare csv-parse streaming
 * pass over the same file, timed in the same run so machine speed cancels out of the ratio.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { parse } from 'csv-parse';
import { FlownCsvBuilder } from '../demo/flown-csv.js';
import { csvTokenizerOptions } from '../parsers/csv-common.js';
import { flownParser } from '../parsers/flown.js';

export interface FlownCsvOptions {
  delimiter?: ',' | ';';
  /** Append a `#TRAILER` line with the count and fare sum (default true). */
  trailer?: boolean;
  /** Seed of the deterministic generator (default 1). */
  seed?: number;
  /** First business date of the flights (default 2024-05-01); flights spread over the next 28 days. */
  fromDate?: string;
}

export interface FlownCsvWritten {
  rows: number;
  bytes: number;
  fareSum: string;
}

const AIRPORTS = [
  'SVO',
  'LED',
  'AER',
  'KZN',
  'OVB',
  'SVX',
  'KRR',
  'UFA',
  'IST',
  'DXB',
  'CDG',
  'FRA',
  'PEK',
  'BKK',
];
const SURNAMES = [
  'IVANOV',
  'PETROVA',
  'SMIRNOV',
  'KUZNETSOVA',
  'POPOV',
  'SOKOLOV',
  'LEBEDEVA',
  'KOZLOV',
  'NOVIKOV',
];
const GIVEN = ['IVAN', 'ANNA', 'SERGEI', 'OLGA', 'DMITRY', 'ELENA', 'PAVEL', 'MARIA', 'ALEXEI MR'];
const CABIN_RBD: ReadonlyArray<readonly [string, string]> = [
  ['Y', 'Y'],
  ['Y', 'B'],
  ['Y', 'M'],
  ['Y', 'Q'],
  ['W', 'W'],
  ['C', 'J'],
  ['C', 'C'],
  ['F', 'F'],
];
const FARE_BASIS = ['YFLEX', 'BSTD', 'MSAVER', 'QLOWRT', 'WPREM', 'JFLEX', 'CSTD', 'FFULL'];

/**
 * Writes a flown-coupon CSV of `rows` rows with a header (and by default a trailer) to `path`, streaming
 * in batches so memory stays flat at any size. Rows are varied but deterministic for a seed; about one
 * in a hundred carries a quoted surname with a comma.
 */
export async function writeFlownCsv(
  path: string,
  rows: number,
  options: FlownCsvOptions = {},
): Promise<FlownCsvWritten> {
  const sep = options.delimiter ?? ',';
  const from = Date.parse(`${options.fromDate ?? '2024-05-01'}T00:00:00Z`);
  let seed = (options.seed ?? 1) >>> 0 || 1;
  const next = (n: number): number => {
    // xorshift32: fast, deterministic, good enough to vary test data.
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed % n;
  };
  const out = createWriteStream(path);
  // The demo generator's writer: header from the parser's column list, quoting, trailer totals.
  const csv = new FlownCsvBuilder(sep);
  let bytes = 0;
  const write = async (text: string): Promise<void> => {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  };
  try {
    await write(csv.header());
    let batch = '';
    for (let i = 0; i < rows; i++) {
      const serial = String(1_000_000_000 + i * 7).padStart(10, '0');
      const coupon = 1 + (i % 4);
      const day = next(28);
      const flightDate = new Date(from + day * 86_400_000).toISOString().slice(0, 10);
      const issueDate = new Date(from + (day - 30 - next(60)) * 86_400_000).toISOString().slice(0, 10);
      const o = next(AIRPORTS.length);
      const d = (o + 1 + next(AIRPORTS.length - 1)) % AIRPORTS.length;
      const [cabin, rbd] = CABIN_RBD[next(CABIN_RBD.length)] as readonly [string, string];
      const flight = String(100 + next(1900));
      const codeshare = next(10) === 0;
      let surname = SURNAMES[next(SURNAMES.length)] as string;
      // The separator inside makes the writer quote the field.
      if (next(100) === 0) surname = `${surname}${sep} JR`;
      const member = next(10) < 7;
      const fare = `${50 + next(2000)}.${String(next(100)).padStart(2, '0')}`;
      const fields = [
        `074${serial}`,
        String(coupon),
        issueDate,
        `P${(100_000 + next(899_999)).toString(36).toUpperCase()}`,
        'XX',
        flight,
        codeshare ? 'YY' : '',
        codeshare ? String(5000 + next(999)) : '',
        flightDate,
        AIRPORTS[o] as string,
        AIRPORTS[d] as string,
        cabin,
        rbd,
        rbd,
        FARE_BASIS[next(FARE_BASIS.length)] as string,
        surname,
        GIVEN[next(GIVEN.length)] as string,
        next(20) === 0 ? 'CHD' : 'ADT',
        member ? 'XX' : '',
        member ? String(next(1_000_000_000)).padStart(10, '0') : '',
        fare,
        `${next(80)}.00`,
        `${next(40)}.${String(next(100)).padStart(2, '0')}`,
        'EUR',
        next(50) === 0 ? 'R' : 'F',
        `RA${i}`,
      ];
      batch += csv.line(fields);
      if (batch.length > 256 * 1024) {
        await write(batch);
        batch = '';
      }
    }
    if (options.trailer ?? true) batch += csv.trailer();
    await write(batch);
    out.end();
    await once(out, 'finish');
  } catch (error) {
    out.destroy();
    throw error;
  }
  return { rows, bytes, fareSum: csv.fareSum.toString() };
}

export interface FlownBenchResult {
  rows: number;
  bytes: number;
  /** Parser wall time over the file. */
  seconds: number;
  recordsPerSecond: number;
  mbPerSecond: number;
  /** Wall time of a bare csv-parse pass over the same file. */
  floorSeconds: number;
  /** floorSeconds / seconds: 1 means the parser costs nothing beyond tokenising. */
  ratio: number;
}

/**
 * csv-parse alone, configured exactly as the parser's reader configures it, each row handed to a
 * for-await loop: what is left of the parser's time beyond this is its own work.
 */
async function floorPass(path: string): Promise<number> {
  const started = performance.now();
  let rows = 0;
  for await (const _row of createReadStream(path).pipe(parse(csvTokenizerOptions(',')))) rows++;
  if (rows === 0) throw new Error(`bench file ${path} yielded no rows`);
  return (performance.now() - started) / 1000;
}

async function parserPass(path: string, expected: number): Promise<number> {
  const started = performance.now();
  let records = 0;
  let verdict = '';
  for await (const event of flownParser.parse([
    { name: path, open: () => createReadStream(path), receivedAt: new Date() },
  ])) {
    if (event.type === 'record') records++;
    else if (event.type === 'verdict') verdict = event.verdict;
  }
  const seconds = (performance.now() - started) / 1000;
  if (records !== expected || verdict !== 'accepted') {
    throw new Error(`flown parser read ${records} of ${expected} records, verdict ${verdict || 'missing'}`);
  }
  return seconds;
}

export async function benchFlownParser(rows: number): Promise<FlownBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'redeye-bench-flown-'));
  const path = join(dir, 'flown.csv');
  try {
    await writeFlownCsv(path, rows);
    const { size: bytes } = await stat(path);
    // A short warm-up so neither timed pass pays for compiling the other's code paths.
    const warm = join(dir, 'warm.csv');
    await writeFlownCsv(warm, Math.min(rows, 20_000), { seed: 7 });
    await floorPass(warm);
    await parserPass(warm, Math.min(rows, 20_000));
    // Three interleaved rounds, the best of each kept: on a shared machine a neighbour's burst then
    // slows one pass, not the ratio.
    let floorSeconds = Infinity;
    let seconds = Infinity;
    for (let round = 0; round < 3; round++) {
      floorSeconds = Math.min(floorSeconds, await floorPass(path));
      seconds = Math.min(seconds, await parserPass(path, rows));
    }
    return {
      rows,
      bytes,
      seconds,
      recordsPerSecond: rows / seconds,
      mbPerSecond: bytes / 1_000_000 / seconds,
      floorSeconds,
      ratio: floorSeconds / seconds,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
