/**
 * Memory stays flat while a detail sheet of any size is written. The default row count keeps the
 * suite quick; set REDEYE_WORKBOOK_ROWS=1000000 to measure a million rows (figures are printed).
 *
 * Retained memory is measured after a forced garbage collection: without it, the sawtooth of buffers
 * that are already garbage but not yet collected hides whether anything is really piling up.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { renderChart } from './charts.js';
import { ReportWorkbook, type ColumnSpec } from './workbook.js';

interface Detail {
  id: number;
  member: string;
  flown: string;
  points: number;
  fareMinor: number;
}

const columns: ColumnSpec<Detail>[] = [
  { header: 'Activity', type: 'integer', value: 'id', total: false },
  { header: 'Member', type: 'text', value: 'member' },
  { header: 'Flown', type: 'date', value: 'flown' },
  { header: 'Points', type: 'points', value: 'points' },
  { header: 'Fare', type: 'money', currency: 'EUR', value: 'fareMinor' },
];

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

interface Sample {
  row: number;
  rss: number;
  buffers: number;
}

/** A sink that takes `delayMs` per chunk, like a slow disk or network share. */
function sink(delayMs: number): Writable & { bytes: number } {
  const out = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      out.bytes += chunk.length;
      if (delayMs > 0) setTimeout(callback, delayMs);
      else callback();
    },
  }) as Writable & { bytes: number };
  out.bytes = 0;
  return out;
}

async function writeDetail(rows: number, delayMs: number) {
  const samples: Sample[] = [];
  function* detail(): Generator<Detail> {
    for (let i = 1; i <= rows; i++) {
      if (i % 20_000 === 0) {
        collectGarbage();
        const usage = process.memoryUsage();
        // `external` already counts the ArrayBuffers: adding arrayBuffers again counted every Buffer
        // in flight twice, and a slow sink's chunks in flight then read as growth now and then.
        samples.push({ row: i, rss: usage.rss, buffers: usage.external });
      }
      yield {
        id: i,
        member: `Member ${i % 9973} of partner ${i % 37}`,
        flown: `2024-0${1 + (i % 9)}-1${i % 10}`,
        points: (i * 7919) % 100_000,
        fareMinor: (i * 104_729) % 10_000_000,
      };
    }
  }
  const chart = await renderChart({
    kind: 'bar',
    labels: ['Air', 'Partners'],
    series: [{ label: 'Points', data: [3, 1] }],
  });
  const output = sink(delayMs);
  const book = new ReportWorkbook(output, {
    report: { name: 'Monthly loyalty report', businessDate: '2024-05-31' },
    clock: () => new Date('2024-06-01T02:00:00Z'),
  });
  let peakRss = 0;
  const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const started = performance.now();
  await book.addSheet({ name: 'Summary', images: [{ png: chart, at: 'B4' }] });
  await book.addSheet({ name: 'Detail', table: { columns, rows: detail(), totals: true } });
  const result = await book.finish();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  return { samples, seconds, bytes: output.bytes, result, peakRss };
}

function report(label: string, rows: number, run: Awaited<ReturnType<typeof writeDetail>>): void {
  const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
  const first = run.samples[0] as Sample;
  const last = run.samples.at(-1) as Sample;
  console.log(
    `[workbook memory] ${label}: ${rows} rows in ${run.seconds.toFixed(1)} s, ${mb(run.bytes)} MiB xlsx; ` +
      `after GC at ${first.row} rows RSS ${mb(first.rss)} MiB / buffers ${mb(first.buffers)} MiB, ` +
      `at ${last.row} rows RSS ${mb(last.rss)} MiB / buffers ${mb(last.buffers)} MiB; ` +
      `peak RSS ${mb(run.peakRss)} MiB`,
  );
}

/** Growth of retained buffer memory from the first sample after warm-up to the largest later one. */
function bufferGrowth(samples: Sample[]): number {
  const warm = samples.slice(Math.min(2, samples.length - 1));
  const base = (warm[0] as Sample).buffers;
  return Math.max(...warm.map((s) => s.buffers)) - base;
}

describe('streamed detail sheet', () => {
  const rows = Number(process.env.REDEYE_WORKBOOK_ROWS ?? 200_000);

  it(`keeps memory flat while ${rows} rows go through the compressor`, async () => {
    const run = await writeDetail(rows, 0);
    report('fast sink', rows, run);
    expect(run.result.sheets[1]?.dataRows).toBe(rows);
    // Without backpressure the sheet piles up in front of the compressor at ~25 MiB per 100,000 rows.
    expect(bufferGrowth(run.samples)).toBeLessThan(12 * 1024 * 1024);
  }, 600_000);

  it('keeps memory flat when the output is slower than the rows', async () => {
    const slowRows = 120_000;
    const run = await writeDetail(slowRows, 4);
    report('slow sink', slowRows, run);
    expect(run.result.sheets[1]?.dataRows).toBe(slowRows);
    expect(bufferGrowth(run.samples)).toBeLessThan(12 * 1024 * 1024);
  }, 600_000);
});
