#!/usr/bin/env node
/* global process, console */
/**
 * `npm run fuzz -- [--full] [--per-feed N] [--batch N] [--seed S] [--report FILE]`
 *
 * Runs test/fuzz/fuzz.test.ts at the size asked for: by default the CI size of `npm test` (500 mutated
 * files per feed), with `--full` 10,000 per feed (100,000 files through fetch, ingest and accrue, in
 * nights of 1,000 per feed). The corpus is deterministic from `--seed`; a finding names the file by its
 * index, so `corpusFile(seeds, feed, index, { seed })` rebuilds it. `--report` writes the run's figures
 * as JSON. If a step hangs, the watchdog kills the run and writes what hung to
 * `$TMPDIR/redeye-fuzz-hang.txt`.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const options = { perFeed: 500, batch: 250, seed: 20261001, report: '' };
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = () => {
    const v = args[++i];
    if (v === undefined) throw new Error(`${arg} needs a value`);
    return v;
  };
  if (arg === '--full') Object.assign(options, { perFeed: 10_000, batch: 1_000 });
  else if (arg === '--per-feed') options.perFeed = Number(value());
  else if (arg === '--batch') options.batch = Number(value());
  else if (arg === '--seed') options.seed = Number(value());
  else if (arg === '--report') options.report = resolve(value());
  else {
    console.error(
      `unknown option ${arg}\nusage: npm run fuzz -- [--full] [--per-feed N] [--batch N] [--seed S] [--report FILE]`,
    );
    process.exit(2);
  }
}
for (const [k, v] of Object.entries(options)) {
  if (k !== 'report' && !(Number.isSafeInteger(v) && v > 0)) {
    console.error(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a positive whole number`);
    process.exit(2);
  }
}

const hangReport = join(tmpdir(), 'redeye-fuzz-hang.txt');
// A generous bound for the whole run: the watchdog and the per-step bounds catch a hang long before.
const timeoutMs = 600_000 + options.perFeed * 10 * 100;
console.log(
  `fuzz: ${options.perFeed} files per feed in nights of ${options.batch}, seed ${options.seed}${options.report ? `, report ${options.report}` : ''}`,
);
const child = spawn('npx', ['vitest', 'run', 'test/fuzz/fuzz.test.ts'], {
  stdio: 'inherit',
  env: {
    ...process.env,
    REDEYE_FUZZ_PER_FEED: String(options.perFeed),
    REDEYE_FUZZ_BATCH: String(options.batch),
    REDEYE_FUZZ_SEED: String(options.seed),
    REDEYE_FUZZ_TIMEOUT_MS: String(timeoutMs),
    REDEYE_FUZZ_HANG_REPORT: hangReport,
    ...(options.report ? { REDEYE_FUZZ_REPORT: options.report } : {}),
  },
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
