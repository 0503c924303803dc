/**
 * A custom report's activities and spend for a past period, produced again after a later night
 * reversed one of its credits: both are read from the ledger (credits of the period less reversals of
 * the period, with the spend of the activity each was posted for), so a partner's reversal record is
 * no activity of its own, the figures equal an independent reading of the ledger, and the workbook is
 * the same bytes on a rerun. The night of the reversal shows it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import type { CustomReportConfig } from '../config/schema.js';
import type { IsoDate } from '../lib/dates.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { dumpXlsx, skipWithoutOpenpyxl } from '../test/harness/openpyxl.js';
import {
  buildScenario,
  reversal,
  sameFiles,
  scenarioConfig,
  stay,
  tableOf,
  type Scenario,
} from '../test/harness/report-scenario.js';
import { num, sqlRows, type ReportResult } from './common.js';
import { customReportData } from './custom.js';
import { produceReport } from './produce.js';
import { partnerActivities } from './queries.js';

const MAY_END = '2026-05-31';
const JUNE_NIGHT = '2026-06-03';
const clock = (day: string) => () => new Date(`${day}T21:00:00Z`);
const CUSTOM = `    - name: partner-activities
      title: Partner activities
      measures: [activities, spend]
      dimensions: [partner]
      period: month
      chart: { type: bar }
`;

for (const engine of availableEngines()) {
  describe(`custom activities and spend on ${engine}: from the ledger as of the period`, () => {
    const skip = skipWithoutOpenpyxl();
    let t: TestDb;
    let dir: string;
    let config: LoadedConfig;
    let scenario: Scenario;
    let member: string;

    /**
     * Each partner's credits posted in the period less its reversals posted in the period, and their
     * spend, read independently: the credit's activity found by its posting key, not by posting id.
     */
    async function ledgerFigures(
      from: IsoDate,
      to: IsoDate,
    ): Promise<Map<string, { n: number; spend: number }>> {
      const rows = await sqlRows<{ channel: string; n: unknown; spend: unknown }>(
        t.db.knex,
        `SELECT COALESCE(o.channel, p.channel) AS channel,
                SUM(CASE WHEN p.reversal_of IS NULL THEN 1 ELSE -1 END) AS n,
                SUM(CASE WHEN p.reversal_of IS NULL THEN 1 ELSE -1 END * COALESCE(act.base_spend_minor, 0)) AS spend
           FROM postings p
           LEFT JOIN postings o ON o.id = p.reversal_of
           LEFT JOIN activities act ON act.posting_key = COALESCE(o.idempotency_key, p.idempotency_key)
          WHERE p.business_date >= ? AND p.business_date <= ? AND COALESCE(o.kind, p.kind) = 'ACCRUAL'
          GROUP BY 1`,
        [from, to],
      );
      const figures = new Map<string, { n: number; spend: number }>();
      for (const r of rows) {
        const partner = /^(?:PARTNER|PARTNER_AIRLINE):(.+)$/.exec(r.channel)?.[1];
        if (partner) figures.set(partner, { n: num(r.n), spend: num(r.spend) });
      }
      return figures;
    }

    /** The Data sheet's figures by partner, and its totals. */
    async function workbookFigures(report: ReportResult) {
      const data = tableOf(await dumpXlsx(report.workbookPath), 'Data');
      expect(data.headers).toEqual(['Partner', 'Partner name', 'Activities', 'Spend (USD)']);
      const rows = new Map(
        data.rows.map((r) => [
          String(data.cell(r, 'Partner').value),
          {
            n: data.cell(r, 'Activities').value as number,
            spend: Math.round((data.cell(r, 'Spend (USD)').value as number) * 100),
          },
        ]),
      );
      return {
        rows,
        n: data.cell(data.totals!, 'Activities').cached as number,
        spend: Math.round((data.cell(data.totals!, 'Spend (USD)').cached as number) * 100),
      };
    }

    function totalOf(figures: Map<string, { n: number; spend: number }>) {
      return [...figures.values()].reduce((s, f) => ({ n: s.n + f.n, spend: s.spend + f.spend }), {
        n: 0,
        spend: 0,
      });
    }

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-custom-as-of-'));
      config = scenarioConfig(dir, { customReports: CUSTOM });
      t = await createTestDatabase(engine);
      scenario = await buildScenario(t.db, config, {
        from: '2026-05-01',
        to: MAY_END,
        members: 30,
        perDay: 8,
      });
      member = scenario.members[12]!;
      // May: a stay credited and reversed by the partner's record in the month, another credited.
      await stay(scenario, { key: 'GS-C-1', day: '2026-05-10', member, spendMinor: 40_000, points: 800 });
      await stay(scenario, { key: 'GS-C-2', day: '2026-05-11', member, spendMinor: 25_000, points: 500 });
      await reversal(scenario, { key: 'GS-C-1', day: '2026-05-20', member, spendMinor: 40_000, points: 800 });
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('counts credits less reversals of the period with their spend, as the ledger and the Partners sheet have them', async () => {
      const want = await ledgerFigures('2026-05-01', MAY_END);
      expect(want.get('GRANDSTAY')!.n).toBeGreaterThan(1);
      const { cells, totals } = await customReportData(t.db, config.reports.custom[0]!, MAY_END);
      const got = new Map(cells.map((c) => [c.keys[0]!, { n: c.values.activities, spend: c.values.spend }]));
      expect(got).toEqual(want);
      expect(totals).toEqual({ activities: totalOf(want).n, spend: totalOf(want).spend });

      // The monthly Partners sheet reads the same credits by contract and activity date.
      const partners = new Map<string, { n: number; spend: number }>();
      for (const a of await partnerActivities(t.db, '2026-05-01', MAY_END)) {
        const into = partners.get(a.partner) ?? { n: 0, spend: 0 };
        partners.set(a.partner, { n: into.n + a.credited, spend: into.spend + a.spend });
      }
      expect(got).toEqual(partners);
    });

    it('keeps every dimension: each groups the same credits, less what has no value for it', async () => {
      /** Credits less reversals of May and their spend where `where` holds, read independently. */
      const independent = async (where: string) => {
        const [row] = await sqlRows<{ n: unknown; spend: unknown }>(
          t.db.knex,
          `SELECT SUM(CASE WHEN p.reversal_of IS NULL THEN 1 ELSE -1 END) AS n,
                  SUM(CASE WHEN p.reversal_of IS NULL THEN 1 ELSE -1 END * COALESCE(act.base_spend_minor, 0)) AS spend
             FROM postings p
             LEFT JOIN postings o ON o.id = p.reversal_of
             LEFT JOIN activities act ON act.posting_key = COALESCE(o.idempotency_key, p.idempotency_key)
            WHERE p.business_date BETWEEN '2026-05-01' AND '2026-05-31' AND COALESCE(o.kind, p.kind) = 'ACCRUAL'
              AND ${where}`,
        );
        return { n: num(row?.n), spend: num(row?.spend) };
      };
      const all = await independent('1 = 1');
      const cases: Array<[Array<CustomReportConfig['dimensions'][number]>, string]> = [
        [['day'], '1 = 1'],
        [['month'], '1 = 1'],
        [['channel'], '1 = 1'],
        [['day', 'channel'], '1 = 1'],
        [['tier'], 'p.member_id IS NOT NULL'],
        [['route'], 'act.origin IS NOT NULL AND act.destination IS NOT NULL'],
        [['cabin'], 'act.cabin IS NOT NULL'],
        [['serviceType'], '1 = 0'],
      ];
      expect(all.n).toBeGreaterThan(100);
      for (const [dimensions, where] of cases) {
        const definition = { ...config.reports.custom[0]!, dimensions };
        const { cells, totals } = await customReportData(t.db, definition, MAY_END);
        const sum = cells.reduce(
          (s, c) => ({ n: s.n + (c.values.activities ?? 0), spend: s.spend + (c.values.spend ?? 0) }),
          { n: 0, spend: 0 },
        );
        const want = where === '1 = 1' ? all : await independent(where);
        expect(sum, dimensions.join(', ')).toEqual(want);
        expect({ n: totals.activities, spend: totals.spend }, dimensions.join(', ')).toEqual(want);
      }
      // A filter by a dimension keeps what the group by it shows.
      const economy = await customReportData(
        t.db,
        { ...config.reports.custom[0]!, dimensions: ['route'], filters: { cabin: ['Y'] } },
        MAY_END,
      );
      expect({ n: economy.totals.activities, spend: economy.totals.spend }).toEqual(
        await independent(`act.cabin = 'Y' AND act.origin IS NOT NULL AND act.destination IS NOT NULL`),
      );
    });

    it.skipIf(skip)(
      'writes the same bytes for May after a June night reversed a May credit, and June shows the reversal',
      async () => {
        const first = await produceReport(
          'partner-activities',
          t.db,
          config,
          MAY_END,
          join(dir, 'first'),
          clock(MAY_END),
        );
        // June 3rd: the partner reverses the other May stay.
        await reversal(scenario, { key: 'GS-C-2', day: JUNE_NIGHT, member, spendMinor: 25_000, points: 500 });
        const rerun = await produceReport(
          'partner-activities',
          t.db,
          config,
          MAY_END,
          join(dir, 'rerun'),
          clock(MAY_END),
        );
        sameFiles(first, rerun);
        // May as the ledger has it, which the June reversal did not change either.
        const may = await workbookFigures(rerun);
        const want = await ledgerFigures('2026-05-01', MAY_END);
        expect(may.rows).toEqual(want);
        expect({ n: may.n, spend: may.spend }).toEqual(totalOf(want));

        const june = await produceReport(
          'partner-activities',
          t.db,
          config,
          JUNE_NIGHT,
          join(dir, 'june'),
          clock(JUNE_NIGHT),
        );
        const after = await workbookFigures(june);
        expect(after.rows).toEqual(new Map([['GRANDSTAY', { n: -1, spend: -25_000 }]]));
        expect(after.rows).toEqual(await ledgerFigures('2026-06-01', JUNE_NIGHT));
      },
    );
  });
}
