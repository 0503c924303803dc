/**
 * FTL parser throughput against the floor of a bare node:readline pass over the same file. The file is
 * written by the FTL writer (multi-part messages, partner cards, codeshares, `.RN/` continuations,
 * some Cyrillic names), so the parser does its full work: parts, year inference, names, cards, records.
 *
 * The parser is read the way the nightly ingest reads it: runs of events (`FtlAssembler.parseRuns`), as
 * the readline floor is read through its 'line' callback. The same parser read one event at a time
 * (`ftlParser.parse`, a promise per event, what `redeye parse` does) is timed too and reported as
 * `perEventRatio`, so the cost of that protocol is in plain sight.
 *
 * All passes are timed in wall time and in CPU time (user + system of this process: on a shared, busy
 * machine wall time also counts other processes' turns). Each pass first runs `warmup` untimed rounds —
 * the first reading of a large file spends much of its time compiling the parser (the readline floor is
 * mostly built-in code, with little to compile) — then `rounds` timed rounds, the fastest of which
 * counts. The first round of each pass is reported too (`firstSeconds`, `firstFloorSeconds`,
 * `firstRatio`), so a cold start is not hidden.
 *
 * Run alone: `node dist/bench/parsers-ftl.js [passengers] [rounds] [warmup]` prints the figures and peak RSS.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { FtlAssembler, ftlParser } from '../parsers/ftl/index.js';
import { addDays } from '../lib/dates.js';
import {
  encodeFtl,
  writeFtlMessage,
  type FtlWriterCard,
  type FtlWriterMessage,
  type FtlWriterPassenger,
} from '../parsers/ftl/writer.js';
import type { FtlPassenger } from '../parsers/ftl/model.js';
import type { ParseEvent } from '../parsers/types.js';
import { timed } from './util.js';

export interface FtlBenchResult {
  passengers: number;
  bytes: number;
  /** Fastest timed round of the parser, wall time. */
  seconds: number;
  /** Fastest timed round of the parser, CPU time. */
  cpuSeconds: number;
  recordsPerSecond: number;
  mbPerSecond: number;
  /** Fastest timed round of the readline floor, wall and CPU time. */
  floorSeconds: number;
  floorCpuSeconds: number;
  /** floor / parser in wall time (the figure the target is set in) and in CPU time. */
  ratio: number;
  cpuRatio: number;
  /** The very first round of each pass (cold: the parser is compiled while it reads), wall time. */
  firstSeconds: number;
  firstFloorSeconds: number;
  firstRatio: number;
  /** Fastest timed round of the parser read one event at a time (for await over ftlParser.parse). */
  perEventSeconds: number;
  perEventRatio: number;
  rounds: number;
  warmup: number;
}

export interface FtlBenchOptions {
  /** Timed rounds of each pass; the fastest of each counts. Default 3. */
  rounds?: number;
  /** Untimed rounds of each pass before the timed ones. Default 1. */
  warmup?: number;
}

const RECEIVED_AT = new Date('2024-06-30T23:00:00Z');

export async function benchFtlParser(
  passengers: number,
  options: FtlBenchOptions = {},
): Promise<FtlBenchResult> {
  const rounds = Math.max(1, options.rounds ?? 3);
  const warmup = Math.max(0, options.warmup ?? 1);
  const dir = await mkdtemp(join(tmpdir(), 'redeye-bench-ftl-'));
  const file = join(dir, 'bench.ftl');
  try {
    await writeBenchFile(file, passengers);
    const bytes = (await stat(file)).size;
    await readAll(file); // page cache warm for both passes
    const check = (read: number) => {
      if (read !== passengers)
        throw new Error(`FTL bench: parser read ${read} passengers, ${passengers} written`);
    };
    const parse = async () => check(await parserPass(file));
    const parsePerEvent = async () => check(await perEventPass(file));
    const floor = { seconds: Infinity, cpuSeconds: Infinity, first: 0 };
    const parser = { seconds: Infinity, cpuSeconds: Infinity, first: 0 };
    let perEventSeconds = Infinity;
    for (let r = 0; r < warmup + rounds; r++) {
      const f = await timed(() => readlinePass(file));
      const p = await timed(parse);
      const e = await timed(parsePerEvent);
      if (r === 0) {
        floor.first = f.seconds;
        parser.first = p.seconds;
      }
      if (r < warmup) continue;
      floor.seconds = Math.min(floor.seconds, f.seconds);
      floor.cpuSeconds = Math.min(floor.cpuSeconds, f.cpuSeconds);
      parser.seconds = Math.min(parser.seconds, p.seconds);
      parser.cpuSeconds = Math.min(parser.cpuSeconds, p.cpuSeconds);
      perEventSeconds = Math.min(perEventSeconds, e.seconds);
    }
    return {
      passengers,
      bytes,
      seconds: parser.seconds,
      cpuSeconds: parser.cpuSeconds,
      recordsPerSecond: passengers / parser.seconds,
      mbPerSecond: bytes / 1e6 / parser.seconds,
      floorSeconds: floor.seconds,
      floorCpuSeconds: floor.cpuSeconds,
      ratio: floor.seconds / parser.seconds,
      cpuRatio: floor.cpuSeconds / parser.cpuSeconds,
      firstSeconds: parser.first,
      firstFloorSeconds: floor.first,
      firstRatio: floor.first / parser.first,
      perEventSeconds,
      perEventRatio: floor.seconds / perEventSeconds,
      rounds,
      warmup,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readAll(file: string): Promise<void> {
  for await (const chunk of createReadStream(file)) void chunk;
}

async function readlinePass(file: string): Promise<number> {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let lines = 0;
  rl.on('line', () => {
    lines++;
  });
  await once(rl, 'close');
  return lines;
}

function benchInput(file: string) {
  return { name: 'bench.ftl', open: () => createReadStream(file), receivedAt: RECEIVED_AT };
}

function checkVerdict(ev: ParseEvent<FtlPassenger>): void {
  if (ev.type === 'verdict' && ev.verdict !== 'accepted') {
    throw new Error(`FTL bench: file ${ev.verdict}: ${ev.message ?? ''}`);
  }
}

async function parserPass(file: string): Promise<number> {
  let records = 0;
  for await (const run of new FtlAssembler().parseRuns([benchInput(file)])) {
    for (let i = 0; i < run.length; i++) {
      const ev = run[i]!;
      if (ev.type === 'record') records++;
      else checkVerdict(ev);
    }
  }
  return records;
}

async function perEventPass(file: string): Promise<number> {
  let records = 0;
  for await (const ev of ftlParser.parse([benchInput(file)])) {
    if (ev.type === 'record') records++;
    else checkVerdict(ev);
  }
  return records;
}

/** Writes FTL messages holding exactly `passengers` passengers, CR LF, UTF-8. */
export async function writeBenchFile(file: string, passengers: number, seed = 20240630): Promise<void> {
  const out = createWriteStream(file);
  let buffered: Buffer[] = [];
  let size = 0;
  const flush = async () => {
    if (buffered.length === 0) return;
    const ok = out.write(Buffer.concat(buffered));
    buffered = [];
    size = 0;
    if (!ok) await once(out, 'drain');
  };
  for (const message of benchMessages(passengers, seed)) {
    for (const part of writeFtlMessage(message)) {
      const b = encodeFtl(part);
      buffered.push(b);
      size += b.length;
    }
    if (size > 1 << 20) await flush();
  }
  await flush();
  out.end();
  await once(out, 'finish');
}

const SURNAMES = [
  'IVANOV',
  'PETROVA',
  'SMIRNOV',
  'KUZNETSOVA',
  'SOKOLOV',
  'POPOVA',
  'LEBEDEV',
  'KOZLOVA',
  'NOVIKOV',
  'MOROZOVA',
  'SCHMIDT',
  'MUELLER',
  'GARCIA',
  'MARTIN',
  'ROSSI',
  'DUBOIS',
  'SILVA',
  'JOHNSON',
  'VAN DER BERG',
  'OCONNOR',
];
const GIVEN = [
  'IVAN',
  'ANNA',
  'DMITRY',
  'OLGA',
  'SERGEI',
  'ELENA',
  'ALEXANDER KONSTANTINOVICH',
  'MARIA',
  'PAVEL',
  'IRINA',
  'KLAUS',
  'SOPHIE',
  'LUIS',
  'GIULIA',
  'JEAN PIERRE',
  'SARAH',
];
const CYRILLIC = [
  ['СМИРНОВ', 'АНДРЕЙ АНАТОЛЬЕВИЧ'],
  ['ПЕТРОВА', 'ОЛЬГА'],
  ['КУЗНЕЦОВ', 'ИГОРЬ'],
  ['ВОЛКОВА', 'ЕЛЕНА СЕРГЕЕВНА'],
  ['ЗАЙЦЕВ', 'ДМИТРИЙ'],
  ['ОРЛОВА', 'Е'],
] as const;
const TITLES = ['MR', 'MRS', 'MS', 'DR', null] as const;
const DESTINATIONS = ['LED', 'AER', 'SVX', 'KZN', 'KJA', 'OVB', 'IST', 'FRA'];
/** Weighted like a narrow-body cabin: mostly economy subclasses, a few business. */
const SUBCLASSES = ['Y', 'Y', 'Y', 'Y', 'B', 'B', 'M', 'M', 'H', 'K', 'C', 'J', 'W'];
const PARTNERS = ['LH', 'AF', 'IB', 'SU', 'TK'];
const BOARDS = ['DME', 'SVO', 'VKO', 'LED'];

/** Deterministic pseudo-random messages (mulberry32), 20–250 passengers each. */
export function* benchMessages(passengers: number, seed: number): Generator<FtlWriterMessage> {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let left = passengers;
  let flight = 100;
  let member = 1_000_000_000;
  while (left > 0) {
    const count = Math.min(left, 20 + Math.floor(rnd() * 231));
    left -= count;
    const date = addDays('2024-06-01', Math.floor(rnd() * 30));
    // One destination, or two for a flight with an intermediate stop.
    const legs = rnd() < 0.2 ? [pick(DESTINATIONS), pick(DESTINATIONS)] : [pick(DESTINATIONS)];
    // A DCS writes a whole list in one script: one flight in ten lists its names in Cyrillic.
    const cyrillic = rnd() < 0.1;
    const list: FtlWriterPassenger[] = [];
    for (let i = 0; i < count; i++) {
      const cyr = cyrillic ? pick(CYRILLIC) : null;
      const subclass = pick(SUBCLASSES);
      const partner = rnd() < 0.1;
      const cards: FtlWriterCard[] = [
        partner
          ? { program: pick(PARTNERS), number: String(Math.floor(rnd() * 1e12)).padStart(12, '0') }
          : { program: 'XX', number: String(member++), statusCode: rnd() < 0.1 ? 'HK1' : null },
      ];
      if (rnd() < 0.03) {
        cards.push({
          usage: 'FQTU',
          program: 'XX',
          number: String(member),
          suffix: '-UPGRADE CONFIRMED AT CHECK-IN BY AGENT 4471 FOR OPERATIONAL REASONS',
        });
      }
      const p: FtlWriterPassenger = {
        destination: pick(legs),
        subclass,
        surname: cyr ? cyr[0] : pick(SURNAMES),
        givenName: cyr ? cyr[1] : pick(GIVEN),
        title: cyr ? null : pick(TITLES),
        bookedSubclass: rnd() < 0.1 ? 'B' : null,
        pnr: `0${Math.floor(rnd() * 36 ** 5)
          .toString(36)
          .toUpperCase()
          .padStart(5, '0')}`,
        pnrAirline: 'XX',
        marketingFlight:
          rnd() < 0.15
            ? {
                carrier: 'SU',
                number: 6000 + Math.floor(rnd() * 999),
                subclass,
                day: Number(date.slice(8)),
                board: 'DME',
                off: 'LED',
              }
            : null,
        cards,
      };
      list.push(p);
    }
    yield {
      flight: { carrier: 'XX', number: flight++, date, board: pick(BOARDS) },
      passengers: list,
      priority: rnd() < 0.5 ? 'QU' : null,
    };
  }
}

async function main(): Promise<void> {
  const passengers = Number(process.argv[2] ?? 1_000_000);
  const rounds = Number(process.argv[3] ?? 3);
  const warmup = Number(process.argv[4] ?? 1);
  const result = await benchFtlParser(passengers, { rounds, warmup });
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ ...result, peakRssMb: Math.round(peakRssMb) }, null, 2));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
