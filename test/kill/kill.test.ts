/**
 * A night killed at any instant and rerun ends with the ledger one clean run leaves (see killtest.ts).
 *
 * CI size (default): 1,500 members, the month's first three nights (every feed, partner airlines'
 * results included), at least 30 SIGKILLs. Full size: `npm run killtest` (REDEYE_KILLTEST=full; the
 * members, nights, kills, seed and working folder can be set with KILLTEST_MEMBERS, KILLTEST_NIGHTS,
 * KILLTEST_KILLS, KILLTEST_SEED and KILLTEST_DIR; KILLTEST_BIN runs another build of bin/redeye.js).
 * Needs the built CLI (`npm run build`; `npm test` and `npm run killtest` build first). The working folder is removed after a passing CI-size run and kept
 * otherwise, with each attempt's output under logs/ and killtest-report.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runKillTest } from './killtest.js';

const full = process.env.REDEYE_KILLTEST === 'full';
const num = (name: string, fallback: number) => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};
const ALL_FEEDS = [
  'alliance-claims',
  'alliance-results',
  'flown',
  'ftl',
  'fx',
  'hotel',
  'members',
  'partner',
  'redemptions',
  'retro-claims',
];

describe(`kill test (${full ? 'full size' : 'CI size'})`, () => {
  it(
    'a night killed with SIGKILL at 30+ random points and rerun ends exactly as one clean run',
    async () => {
      const dir = process.env.KILLTEST_DIR
        ? resolve(process.env.KILLTEST_DIR)
        : mkdtempSync(join(tmpdir(), 'redeye-killtest-'));
      const seed = num('KILLTEST_SEED', Math.floor(Math.random() * 1_000_000));
      const report = await runKillTest({
        dir,
        members: num('KILLTEST_MEMBERS', full ? 80_000 : 1_500),
        month: process.env.KILLTEST_MONTH ?? '2026-10',
        nights: num('KILLTEST_NIGHTS', 3),
        kills: num('KILLTEST_KILLS', full ? 36 : 26),
        minKills: 30,
        seed,
        log: (line) => console.log(`[killtest seed ${seed}] ${line}`),
      });
      expect(report.feeds).toEqual(ALL_FEEDS);
      expect(report.kills).toBeGreaterThanOrEqual(30);
      // Kills landed in the work, not only around it: reading, posting, writing exports and reports.
      for (const step of ['ingest', 'accrue'])
        expect(report.interrupted[step] ?? 0, `kills in ${step}`).toBeGreaterThan(0);
      expect((report.interrupted.export ?? 0) + (report.interrupted.report ?? 0)).toBeGreaterThan(0);
      expect(report.unexpectedFailures).toEqual([]);
      expect(report.midStateViolations).toEqual([]);
      expect(report.ledgerCheck.reference).toBe(0);
      expect(report.ledgerCheck.killed).toBe(0);
      expect(report.problems).toEqual([]);
      if (!full && !process.env.KILLTEST_DIR) rmSync(dir, { recursive: true, force: true });
    },
    full ? 12 * 3600_000 : 300_000,
  );
});
