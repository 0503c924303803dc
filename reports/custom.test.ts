/**
 * Reports from the configuration's `reports.custom`: the demo's partner points by month, and
 * definitions that use every source, dimension kind, filter and chart type — their figures checked
 * against the ledger and the activity archive read independently.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import type { CustomReportConfig } from '../config/schema.js';
import { useScenario } from '../rules/scenarios/scenario.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { creditedThenCorrected } from '../test/harness/flight-correction.js';
import { dumpXlsx, skipWithoutOpenpyxl } from '../test/harness/openpyxl.js';
import { buildScenario, pngStats, scenarioConfig, tableOf } from '../test/harness/report-scenario.js';
import { num, sqlRows } from './common.js';
import { customReportData, periodStart } from './custom.js';
import { produceReport } from './produce.js';

const DAY = '2026-05-31';
const clock = () => new Date('2026-06-01T03:00:00Z');
const CUSTOM = `    - name: partner-points-by-month
      title: Partner points by month
      measures: [pointsIssued]
      dimensions: [month, partner]
      filters: { channel: [PARTNER_AIRLINE:LH, PARTNER_AIRLINE:IB, PARTNER:GRANDSTAY, PARTNER:DRIVE, PARTNER:REDBANK] }
      period: quarter
      chart: { type: stacked-bar }
      schedule: monthly
    - name: economy-routes
      title: Economy routes this month
      measures: [pointsIssued, members, spend, activities]
      dimensions: [route]
      filters: { cabin: [Y] }
      period: month
      chart: { type: pie }
      schedule: daily
    - name: redemptions-by-tier
      title: Redemptions by tier
      measures: [pointsRedeemed]
      dimensions: [tier]
      period: month
      chart: { type: pie }
    - name: burn-by-day
      title: Burn by day and channel
      measures: [pointsRedeemed, pointsExpired]
      dimensions: [day, channel]
      period: week
      chart: { type: line }
    - name: partner-points-unfiltered
      title: Partner points by month, as the demo has it
      measures: [pointsIssued]
      dimensions: [month, partner]
      period: quarter
      chart: { type: stacked-bar }
    - name: plain-table
      title: Spend by partner, no chart
      measures: [spend]
      dimensions: [partner]
      filters: { partner: [GRANDSTAY, REDBANK] }
      period: year
      chart: { type: none }
`;

describe('custom report periods', () => {
  it('end on the business date', () => {
    expect(periodStart('day', '2026-05-31')).toBe('2026-05-31');
    expect(periodStart('week', '2026-05-31')).toBe('2026-05-25');
    expect(periodStart('month', '2026-05-31')).toBe('2026-05-01');
    expect(periodStart('quarter', '2026-05-31')).toBe('2026-04-01');
    expect(periodStart('quarter', '2026-12-31')).toBe('2026-10-01');
    expect(periodStart('year', '2026-05-31')).toBe('2026-01-01');
  });
});

for (const engine of availableEngines()) {
  describe(`custom reports on ${engine}`, () => {
    const skip = skipWithoutOpenpyxl();
    let t: TestDb;
    let dir: string;
    let config: LoadedConfig;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-custom-'));
      config = scenarioConfig(dir, { customReports: CUSTOM });
      t = await createTestDatabase(engine);
      await buildScenario(t.db, config, { from: '2026-04-01', to: '2026-06-02', members: 30, perDay: 6 });
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it.skipIf(skip)('produces the demo’s partner points by month, as the ledger has them', async () => {
      const report = await produceReport(
        'partner-points-by-month',
        t.db,
        config,
        DAY,
        join(dir, 'out'),
        clock,
      );
      expect(report.workbookPath).toBe(join(dir, 'out', 'partner-points-by-month-2026-05-31.xlsx'));
      const dump = await dumpXlsx(report.workbookPath);
      expect(dump.sheets.map((s) => s.name)).toEqual(['Data', 'By partner']);
      const data = tableOf(dump, 'Data');
      expect(data.headers).toEqual(['Month', 'Partner', 'Partner name', 'Points issued']);
      const expected = await sqlRows<{ month: string; channel: string; total: unknown }>(
        t.db.knex,
        `SELECT ${engine === 'postgres' ? "to_char(p.business_date, 'YYYY-MM')" : 'substr(p.business_date, 1, 7)'} AS month,
                p.channel AS channel, SUM(e.amount) AS total
           FROM postings p JOIN entries e ON e.posting_id = p.id JOIN accounts a ON a.id = e.account_id
           LEFT JOIN postings o ON o.id = p.reversal_of
          WHERE p.business_date BETWEEN '2026-04-01' AND '2026-05-31' AND a.kind IN ('MEMBER_POINTS', 'POOL_POINTS')
            AND COALESCE(o.kind, p.kind) = 'ACCRUAL' AND p.channel <> 'OWN_FLIGHTS'
          GROUP BY 1, 2`,
      );
      expect(data.rows).toHaveLength(expected.length);
      for (const e of expected) {
        const partner = e.channel.split(':')[1];
        const row = data.rows.find((r) => r[0]!.value === e.month && r[1]!.value === partner);
        expect(row, `${e.month} ${partner}`).toBeDefined();
        expect(data.cell(row!, 'Points issued').value).toBe(num(e.total));
      }
      const total = expected.reduce((s, e) => s + num(e.total), 0);
      expect(data.cell(data.totals!, 'Points issued').cached).toBe(total);
      const cross = tableOf(dump, 'By partner');
      expect(cross.headers[0]).toBe('Month');
      expect(cross.rows.map((r) => r[0]!.value)).toEqual(['Apr 2026', 'May 2026']);
      expect(cross.cell(cross.totals!, 'Total').cached).toBe(total);
      expect(report.keyFigures).toEqual([{ label: 'Points issued', value: total }]);
      expect(report.mainChart).toBeDefined();
      expect((await pngStats(report.mainChart!.png)).colours).toBeGreaterThan(20);
      expect(dump.sheets[0]!.images).toHaveLength(1);
    });

    it.skipIf(skip)('joins ledger and activity measures by route, filtered by cabin', async () => {
      const report = await produceReport('economy-routes', t.db, config, DAY, join(dir, 'out'), clock);
      const dump = await dumpXlsx(report.workbookPath);
      const data = tableOf(dump, 'Data');
      expect(data.headers).toEqual(['Route', 'Points issued', 'Members', 'Spend (USD)', 'Activities']);
      const expected = await sqlRows<{ route: string; points: unknown; members: unknown }>(
        t.db.knex,
        `SELECT origin || '-' || destination AS route, SUM(points) AS points, COUNT(DISTINCT member_id) AS members
           FROM activities WHERE type IN ('FLIGHT', 'PARTNER_FLIGHT') AND cabin = 'Y' AND status = 'POSTED'
            AND business_date BETWEEN '2026-05-01' AND '2026-05-31'
          GROUP BY 1`,
      );
      // Activities and spend from the ledger: each credit of May +1 with its flight's spend, each
      // reversal of May −1 with the spend of the flight it reverses.
      const credits = await sqlRows<{ route: string; spend: unknown; n: unknown }>(
        t.db.knex,
        `SELECT a.origin || '-' || a.destination AS route,
                SUM(CASE WHEN p.reversal_of IS NULL THEN 1 ELSE -1 END) AS n,
                SUM(CASE WHEN p.reversal_of IS NULL THEN 1 ELSE -1 END * COALESCE(a.base_spend_minor, 0)) AS spend
           FROM postings p LEFT JOIN postings o ON o.id = p.reversal_of
           JOIN activities a ON a.posting_key = COALESCE(o.idempotency_key, p.idempotency_key)
          WHERE p.business_date BETWEEN '2026-05-01' AND '2026-05-31' AND COALESCE(o.kind, p.kind) = 'ACCRUAL'
            AND a.cabin = 'Y'
          GROUP BY 1`,
      );
      // Reversed flights take their points back in the ledger; the archive still lists them as read.
      const reversed = await sqlRows<{ route: string; points: unknown }>(
        t.db.knex,
        `SELECT a.origin || '-' || a.destination AS route, SUM(e.amount) AS points
           FROM postings r JOIN postings o ON o.id = r.reversal_of JOIN entries e ON e.posting_id = r.id
           JOIN accounts acc ON acc.id = e.account_id JOIN activities a ON a.posting_key = o.idempotency_key
          WHERE r.business_date BETWEEN '2026-05-01' AND '2026-05-31' AND acc.kind = 'MEMBER_POINTS' AND a.cabin = 'Y'
          GROUP BY 1`,
      );
      expect(expected.length).toBeGreaterThan(3);
      for (const e of expected) {
        const row = data.row(e.route);
        const back = num(reversed.find((r) => r.route === e.route)?.points);
        expect(data.cell(row, 'Points issued').value).toBe(num(e.points) + back);
        expect(data.cell(row, 'Members').value).toBe(num(e.members));
        const credited = credits.find((c) => c.route === e.route);
        expect(data.cell(row, 'Spend (USD)').value).toBeCloseTo(num(credited?.spend) / 100, 9);
        expect(data.cell(row, 'Activities').value).toBe(num(credited?.n));
      }
      // Distinct members are not summed; spend is, as money.
      expect(data.cell(data.totals!, 'Members').value).toBeNull();
      expect(data.cell(data.totals!, 'Spend (USD)').numberFormat).toBe('#,##0.00 "USD"');
      expect(dump.sheets.map((s) => s.name)).toEqual(['Data']);
    });

    it.skipIf(skip)('groups by the tier members held at the business date, as a pie', async () => {
      const report = await produceReport('redemptions-by-tier', t.db, config, DAY, join(dir, 'out'), clock);
      const data = tableOf(await dumpXlsx(report.workbookPath), 'Data');
      expect(data.headers).toEqual(['Tier', 'Tier name', 'Points redeemed']);
      const [redeemed] = await sqlRows<{ total: unknown }>(
        t.db.knex,
        `SELECT -SUM(e.amount) AS total FROM postings p JOIN entries e ON e.posting_id = p.id
           JOIN accounts a ON a.id = e.account_id LEFT JOIN postings o ON o.id = p.reversal_of
          WHERE p.business_date BETWEEN '2026-05-01' AND '2026-05-31' AND a.kind = 'MEMBER_POINTS'
            AND COALESCE(o.kind, p.kind) = 'REDEMPTION'`,
      );
      expect(data.cell(data.totals!, 'Points redeemed').cached).toBe(num(redeemed?.total));
      expect(
        data.rows.every((r) => ['MEMBER', 'SILVER', 'GOLD', 'PLATINUM'].includes(String(r[0]!.value))),
      ).toBe(true);
    });

    it.skipIf(skip)('leaves out what has no value for a dimension: own flights have no partner', async () => {
      const filtered = await produceReport(
        'partner-points-by-month',
        t.db,
        config,
        DAY,
        join(dir, 'f'),
        clock,
      );
      const report = await produceReport(
        'partner-points-unfiltered',
        t.db,
        config,
        DAY,
        join(dir, 'u'),
        clock,
      );
      const data = tableOf(await dumpXlsx(report.workbookPath), 'Data');
      expect(data.rows.every((r) => typeof r[1]!.value === 'string' && r[1]!.value !== '(none)')).toBe(true);
      expect(data.cell(data.totals!, 'Points issued').cached).toBe(filtered.keyFigures[0]!.value);
      expect(report.keyFigures).toEqual(filtered.keyFigures);
    });

    it.skipIf(skip)('fills every day of the period, by channel', async () => {
      const report = await produceReport('burn-by-day', t.db, config, DAY, join(dir, 'out'), clock);
      const dump = await dumpXlsx(report.workbookPath);
      expect(dump.sheets.map((s) => s.name)).toEqual(['Data', 'By channel']);
      const cross = tableOf(dump, 'By channel');
      expect(cross.rows.map((r) => r[0]!.value)).toEqual([
        '2026-05-25',
        '2026-05-26',
        '2026-05-27',
        '2026-05-28',
        '2026-05-29',
        '2026-05-30',
        '2026-05-31',
      ]);
      const data = tableOf(dump, 'Data');
      expect(data.headers).toEqual(['Day', 'Channel', 'Channel name', 'Points redeemed', 'Points expired']);
      expect(data.cell(data.totals!, 'Points expired').cached).toBeGreaterThan(0);
      const expiry = data.rows.find((r) => r[1]!.value === 'EXPIRY')!;
      expect(data.cell(expiry, 'Day').value).toBe('2026-05-31T00:00:00');
      expect(data.cell(expiry, 'Channel name').value).toBe('Expiry');
    });

    it.skipIf(skip)('writes a table without a chart when the definition asks for none', async () => {
      const report = await produceReport('plain-table', t.db, config, DAY, join(dir, 'out'), clock);
      expect(report.mainChart).toBeUndefined();
      expect(report.chartPaths).toEqual([]);
      const dump = await dumpXlsx(report.workbookPath);
      const data = tableOf(dump, 'Data');
      expect(data.rows.map((r) => r[0]!.value).sort()).toEqual(['GRANDSTAY', 'REDBANK']);
      expect(dump.sheets[0]!.images).toHaveLength(0);
    });

    it.skipIf(skip)('writes an empty table and no chart for a period with nothing to show', async () => {
      const report = await produceReport(
        'partner-points-by-month',
        t.db,
        config,
        '2025-01-31',
        join(dir, 'empty'),
        clock,
      );
      expect(report.mainChart).toBeUndefined();
      const data = tableOf(await dumpXlsx(report.workbookPath), 'Data');
      expect(data.rows).toHaveLength(0);
    });

    it('gives the same bytes on a rerun', async () => {
      const a = await produceReport('economy-routes', t.db, config, DAY, join(dir, 'a'), clock);
      const b = await produceReport('economy-routes', t.db, config, DAY, join(dir, 'b'), clock);
      expect(readFileSync(a.workbookPath).equals(readFileSync(b.workbookPath))).toBe(true);
      expect(readFileSync(a.mainChart!.path).equals(readFileSync(b.mainChart!.path))).toBe(true);
    });

    it('refuses an unknown report name and a custom report named like a built-in one', async () => {
      await expect(produceReport('no-such-report', t.db, config, DAY)).rejects.toThrow(
        /no report named "no-such-report"/,
      );
      // Refused with the configuration, before any night runs.
      expect(() =>
        scenarioConfig(join(dir, 'clash'), {
          customReports: '    - { name: monthly, title: Clash, measures: [spend], dimensions: [partner] }\n',
        }),
      ).toThrow(
        expect.objectContaining({
          problems: [
            expect.objectContaining({
              path: 'reports.custom[0].name',
              message: '"monthly" is the name of a built-in report or command; choose another',
            }),
          ],
        }),
      );
    });
  });
}

const issuedBy = (dimension: 'channel' | 'route'): CustomReportConfig => ({
  name: `issued-by-${dimension}`,
  title: `Points issued by ${dimension}`,
  measures: ['pointsIssued', 'activities'],
  dimensions: [dimension],
  filters: {},
  period: 'month',
  chart: { type: 'none' },
  schedule: 'manual',
});

for (const engine of availableEngines()) {
  describe(`custom reports on ${engine}: a flight's class correction`, () => {
    const s = useScenario(engine);

    it("is points issued of its channel and its flight's route, and no activity of its own", async () => {
      const w = s();
      await creditedThenCorrected(w);
      const db = w.w.t.db;
      const byChannel = await customReportData(db, issuedBy('channel'), '2026-03-31');
      expect(byChannel.cells.find((c) => c.keys[0] === 'OWN_FLIGHTS')?.values).toEqual({
        pointsIssued: 461,
        activities: 1,
      });
      const byRoute = await customReportData(db, issuedBy('route'), '2026-03-31');
      expect(byRoute.cells).toEqual([{ keys: ['SVO-KZN'], values: { pointsIssued: 461, activities: 1 } }]);
    });
  });
}
