/**
 * A night killed at any instant and rerun ends exactly as one clean run (see killtest.ts), on SQLite and
 * on PostgreSQL: on PostgreSQL both worlds have their own database on the test run's cluster, and a kill
 * also leaves a dead session's advisory lock, an aborted transaction's used sequence values and a
 * half-sent batch for the server to clean up.
 *
 * CI size (default): on SQLite 1,500 members, the month's first three nights (every feed, partner
 * airlines' results included), at least 30 SIGKILLs; on PostgreSQL 600 members, two nights, at least 15.
 * Full size: `npm run killtest` (REDEYE_KILLTEST=full, SQLite unless KILLTEST_ENGINE=postgres; the
 * members, nights, kills, seed and working folder can be set with KILLTEST_MEMBERS, KILLTEST_NIGHTS,
 * KILLTEST_KILLS, KILLTEST_SEED and KILLTEST_DIR; KILLTEST_BIN runs another build of bin/redeye.js).
 * KILLTEST_ENGINE also picks one engine at CI size. Needs the built CLI (`npm run build`; `npm test` and
 * `npm run killtest` build first). The working folder (and the PostgreSQL databases) are removed after
 * a passing CI-size run and kept otherwise, with each attempt's output under logs/ and
 * killtest-report.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableEngines, createTestDatabase, type Engine, type TestDb } from '../harness/db.js';
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

/** Each engine's size: CI's 15-minute budget holds the SQLite run and a smaller PostgreSQL one. */
const SIZE: Record<Engine, { members: number; nights: number; kills: number; minKills: number }> = {
  sqlite: { members: 1_500, nights: 3, kills: 26, minKills: 30 },
  postgres: { members: 600, nights: 2, kills: 13, minKills: 15 },
};
const FULL = { members: 80_000, nights: 3, kills: 36, minKills: 30 };

const chosen = (process.env.KILLTEST_ENGINE || undefined) as Engine | undefined;
if (chosen !== undefined && !(chosen in SIZE))
  throw new Error(`KILLTEST_ENGINE=${String(chosen)}: sqlite or postgres`);
const engines: Engine[] = chosen ? [chosen] : full ? ['sqlite'] : ['sqlite', 'postgres'];

describe.each(engines)(`kill test (${full ? 'full size' : 'CI size'}) on %s`, (engine) => {
  const size = full ? FULL : SIZE[engine];
  it.skipIf(!availableEngines().includes(engine))(
    `a night killed with SIGKILL at ${size.minKills}+ random points and rerun ends exactly as one clean run`,
    async () => {
      // Each engine's worlds in a folder of their own when both run into one KILLTEST_DIR.
      const dir = process.env.KILLTEST_DIR
        ? resolve(process.env.KILLTEST_DIR, engines.length > 1 ? engine : '')
        : mkdtempSync(join(tmpdir(), `redeye-killtest-${engine}-`));
      const seed = num('KILLTEST_SEED', Math.floor(Math.random() * 1_000_000));
      const databases: TestDb[] = [];
      if (engine === 'postgres')
        for (let i = 0; i < 2; i++) databases.push(await createTestDatabase('postgres', { migrate: false }));
      let passed = false;
      try {
        const report = await runKillTest({
          dir,
          members: num('KILLTEST_MEMBERS', size.members),
          month: process.env.KILLTEST_MONTH ?? '2026-10',
          nights: num('KILLTEST_NIGHTS', size.nights),
          kills: num('KILLTEST_KILLS', size.kills),
          minKills: size.minKills,
          seed,
          ...(engine === 'postgres'
            ? { postgres: { reference: databases[0]!.url, killed: databases[1]!.url } }
            : {}),
          log: (line) => console.log(`[killtest ${engine} seed ${seed}] ${line}`),
        });
        expect(report.engine).toBe(engine);
        // Two nights have no partner airlines' results before the second: every feed all the same.
        expect(report.feeds).toEqual(ALL_FEEDS);
        expect(report.kills).toBeGreaterThanOrEqual(size.minKills);
        // Kills landed in the work, not only around it: reading, posting, writing exports and reports.
        for (const step of ['ingest', 'accrue'])
          expect(report.interrupted[step] ?? 0, `kills in ${step}`).toBeGreaterThan(0);
        // Fewer kills on PostgreSQL: not always one in the exports and reports, which SQLite's run covers.
        if (engine === 'sqlite')
          expect((report.interrupted.export ?? 0) + (report.interrupted.report ?? 0)).toBeGreaterThan(0);
        expect(report.unexpectedFailures).toEqual([]);
        expect(report.midStateViolations).toEqual([]);
        expect(report.ledgerCheck.reference).toBe(0);
        expect(report.ledgerCheck.killed).toBe(0);
        expect(report.problems).toEqual([]);
        passed = true;
      } finally {
        const keep = full || process.env.KILLTEST_DIR !== undefined || !passed;
        if (!keep) rmSync(dir, { recursive: true, force: true });
        // A failed run's databases stay for a look (the cluster goes when the test run ends anyway).
        if (!keep) for (const d of databases) await d.cleanup();
        else for (const d of databases) await d.db.close();
      }
    },
    full ? 12 * 3600_000 : 300_000,
  );
});
