import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../lib/log.js';
import { openDb } from '../db/connection.js';
import { checkLedger } from '../ledger/check.js';
import { runJob } from '../jobs/runner.js';
import { noProgress } from '../jobs/types.js';
import { addDays } from '../lib/dates.js';
import { runDemo, type DemoResult } from './run.js';
import { dumpXlsx, skipWithoutOpenpyxl } from '../test/harness/openpyxl.js';
import { tableOf } from '../test/harness/report-scenario.js';

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out[p.slice(dir.length)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

describe('the demo', () => {
  let dir: string;
  let result: DemoResult;
  /** Each night's records not credited, as the demo prints them. */
  const rejects = new Map<string, number>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-demo-'));
    result = await runDemo({
      dir,
      members: 200,
      month: '2026-10',
      logger: silentLogger,
      onNight: (s, night) => rejects.set(s.businessDate, night.rejects),
    });
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the history night, every night of the month and the month-end, all succeeding with the ledger sound', async () => {
    expect(result.nights).toHaveLength(32);
    expect(result.nights.filter((n) => n.status !== 'succeeded').map((n) => n.businessDate)).toEqual([]);
    expect(result.monthEnd.status).toBe('succeeded');
    const db = openDb(result.config.database.url);
    try {
      expect((await checkLedger(db.knex)).ok).toBe(true);
      expect(Number((await db.knex('postings').count({ n: '*' }).first())!.n)).toBeGreaterThan(1000);
    } finally {
      await db.close();
    }
  });

  it.skipIf(skipWithoutOpenpyxl())(
    'prints for each night the records not credited that its daily report counts',
    async () => {
      expect(rejects.size).toBe(32);
      for (const day of ['2026-10-01', '2026-10-15', '2026-10-31']) {
        const dump = await dumpXlsx(join(result.config.paths.reports, day, `daily-${day}.xlsx`));
        const summary = tableOf(dump, 'Summary');
        expect([day, rejects.get(day)]).toEqual([
          day,
          summary.cell(summary.row('Records rejected'), `${day} (today)`).value,
        ]);
      }
    },
    120_000,
  );

  it('leaves the month’s reports and exports where it says', () => {
    const reports = readdirSync(join(result.config.paths.reports, '2026-10-31'));
    expect(reports).toContain('daily-2026-10-31.xlsx');
    expect(reports).toContain('monthly-2026-10-31.xlsx');
    const delivered = Object.keys(tree((result.config.transports.outbox as { root: string }).root));
    for (const kind of ['partner-response', 'alliance-claims', 'invoice', 'mailing']) {
      expect(
        delivered.some((p) => p.startsWith(`/${kind}/`)),
        kind,
      ).toBe(true);
    }
  });

  it('a rerun of a night changes neither the ledger nor any file it sent', async () => {
    const db = openDb(result.config.database.url);
    try {
      const date = '2026-10-15';
      const postings = Number((await db.knex('postings').count({ n: '*' }).first())!.n);
      const outbox = tree(result.config.paths.outbox);
      const delivered = tree((result.config.transports.outbox as { root: string }).root);
      const at = new Date(`${addDays(date, 1)}T02:30:00Z`);
      const again = await runJob(
        {
          db,
          config: result.config,
          logger: silentLogger,
          businessDate: date,
          now: () => at,
          progress: noProgress,
          env: {},
        },
        'nightly',
      );
      expect(again.status).toBe('succeeded');
      expect(Number((await db.knex('postings').count({ n: '*' }).first())!.n)).toBe(postings);
      expect(tree(result.config.paths.outbox)).toEqual(outbox);
      expect(tree((result.config.transports.outbox as { root: string }).root)).toEqual(delivered);
    } finally {
      await db.close();
    }
  });
});
