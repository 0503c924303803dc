/**
 * Fuzzed feeds through the night (issue 8): mutated files of every feed go through fetch, ingest and
 * accrue, and no file may crash a job, hang it, or lose a line or a record, and the ledger stays sound
 * (runner.ts says exactly what is checked). `npm test` runs it at CI size, 500 files per feed;
 * `npm run fuzz -- --full` runs 10,000 per feed (run.mjs, which sets the variables read here).
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CORPUS } from './corpus.js';
import { runFuzz } from './runner.js';

const perFeed = Number(process.env.REDEYE_FUZZ_PER_FEED ?? 500);
const batch = Number(process.env.REDEYE_FUZZ_BATCH ?? 250);
const seed = Number(process.env.REDEYE_FUZZ_SEED ?? DEFAULT_CORPUS.seed);
/** The whole run's bound; the watchdog and the per-step bounds catch a hang long before. */
const overallMs = Number(process.env.REDEYE_FUZZ_TIMEOUT_MS ?? 600_000);

describe('fuzzed feeds through fetch, ingest and accrue', () => {
  it(
    `${perFeed} mutated files per feed: no crash, no hang, every line and record accounted for, ledger sound`,
    async () => {
      const report = await runFuzz({
        perFeed,
        batch,
        corpus: { ...DEFAULT_CORPUS, seed },
        log: (line) => console.log(`[fuzz] ${line}`),
        hangReport: process.env.REDEYE_FUZZ_HANG_REPORT,
      });
      const summary = Object.entries(report.feeds).map(
        ([feed, f]) =>
          `${feed.padEnd(17)} ${String(f.files).padStart(6)} files ${(f.bytes / 1_048_576).toFixed(1).padStart(7)} MiB  ${Object.entries(
            f.verdicts,
          )
            .map(([v, n]) => `${v} ${n}`)
            .join(
              ', ',
            )}  records ${f.records}, rejects ${f.rejects}, slowest read ${f.slowestMs.toFixed(0)} ms`,
      );
      console.log(
        `[fuzz] ${report.nights} nights in ${report.seconds} s, peak RSS ${report.peakRssMiB} MiB, slowest step ${(report.slowestStepMs / 1000).toFixed(1)} s (${report.slowestStep}), ${report.postings} postings, ledger ${report.ledger.ok ? 'clean' : 'NOT CLEAN'}\n${summary.join('\n')}`,
      );
      if (process.env.REDEYE_FUZZ_REPORT)
        writeFileSync(process.env.REDEYE_FUZZ_REPORT, `${JSON.stringify({ seed, ...report }, null, 2)}\n`);
      expect(report.findings).toEqual([]);
      expect(report.ledger).toEqual({ ok: true, violations: [] });
      for (const figures of Object.values(report.feeds)) expect(figures.files).toBe(perFeed);
    },
    overallMs,
  );
});
