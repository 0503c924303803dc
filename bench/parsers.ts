/**
 * `npm run bench -- parsers [--rows 1000000] [--big 4000000] [--passengers 1000000]`:
 * the flown-coupon parser against a bare csv-parse pass over the same generated CSV, and the FTL parser
 * against a bare node:readline pass over the same messages — each floor measured in the same run.
 * Every measurement runs in its own process, so its peak RSS is its own: the flown parser at 1M and at
 * 4M rows must stay within 15% of each other (memory flat whatever the file size).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchFlownParser } from './parsers-csv.js';
import { benchFtlParser } from './parsers-ftl.js';
import { fmt, intOption, line, option, peakRssMb } from './util.js';

interface ChildResult {
  kind: 'flown' | 'ftl';
  size: number;
  recordsPerSecond: number;
  mbPerSecond: number;
  seconds: number;
  floorSeconds: number;
  ratio: number;
  /** FTL only: the parser read one event at a time (a promise per event), against the same floor. */
  perEventRatio?: number;
  peakRssMb: number;
}

/** Runs one measurement in a fresh process and returns what it printed. */
function child(kind: 'flown' | 'ftl', size: number): Promise<ChildResult> {
  const script = fileURLToPath(new URL('./run.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, 'parsers', '--child', kind, '--size', String(size)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${kind} ${size}: child exited ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult);
    });
  });
}

async function measure(kind: 'flown' | 'ftl', size: number): Promise<void> {
  const r = kind === 'flown' ? await benchFlownParser(size) : await benchFtlParser(size);
  const result: ChildResult = {
    kind,
    size,
    recordsPerSecond: r.recordsPerSecond,
    mbPerSecond: r.mbPerSecond,
    seconds: r.seconds,
    floorSeconds: r.floorSeconds,
    ratio: r.ratio,
    ...('perEventRatio' in r ? { perEventRatio: r.perEventRatio } : {}),
    peakRssMb: peakRssMb(),
  };
  console.log(JSON.stringify(result));
}

export default async function run(args: string[]): Promise<void> {
  const kind = option(args, 'child');
  if (kind === 'flown' || kind === 'ftl') return measure(kind, intOption(args, 'size', 1_000_000));
  const rows = intOption(args, 'rows', 1_000_000);
  const big = intOption(args, 'big', 4_000_000);
  const passengers = intOption(args, 'passengers', 1_000_000);
  console.log(
    `parsers benchmark: flown coupons ${fmt(rows)} and ${fmt(big)} rows, FTL ${fmt(passengers)} passengers`,
  );
  const flown = await child('flown', rows);
  const flownBig = await child('flown', big);
  const ftl = await child('ftl', passengers);
  const print = (label: string, r: ChildResult, floor: string, target: number) => {
    console.log(label);
    line('records/s', fmt(r.recordsPerSecond));
    line('MB/s', fmt(r.mbPerSecond, 1));
    line('parser seconds', fmt(r.seconds, 2));
    line(`${floor} seconds`, fmt(r.floorSeconds, 2));
    line(
      `ratio ${floor} / parser`,
      `${r.ratio.toFixed(2)} (target ≥ ${target.toFixed(2)}) ${r.ratio >= target ? 'MET' : 'NOT MET'}`,
    );
    if (r.perEventRatio !== undefined) {
      line(`ratio, parser read per event`, `${r.perEventRatio.toFixed(2)} (figure only)`);
    }
    line('peak RSS', `${fmt(r.peakRssMb)} MB`);
  };
  print(`flown-coupon parser, ${fmt(rows)} rows`, flown, 'csv-parse', 0.6);
  print(`flown-coupon parser, ${fmt(big)} rows`, flownBig, 'csv-parse', 0.6);
  const growth = flownBig.peakRssMb / flown.peakRssMb - 1;
  line(
    `peak RSS ${fmt(big)} vs ${fmt(rows)} rows`,
    `${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}% (target within 15%) ${Math.abs(growth) <= 0.15 ? 'MET' : 'NOT MET'}`,
  );
  print(`FTL parser, ${fmt(passengers)} passengers`, ftl, 'readline', 0.5);
}
