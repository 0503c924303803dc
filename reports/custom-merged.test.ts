/**
 * A custom report grouped or filtered by tier puts a merged member's points and activities under the
 * tier of the account the member is at the end of the business date, the survivor, where it counts the
 * member: one row's figures are about the same people, and a tier's active members are members the
 * monthly report's tier distribution has in that tier. A merge after the date changes nothing in it, a
 * member closed by the date keeps its points under its own tier, and the period's totals are those of
 * a report not grouped by tier.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { Accounts } from '../ledger/accounts.js';
import { Ledger } from '../ledger/ledger.js';
import { insertMember, updateMember } from '../ledger/members.js';
import type { IsoDate } from '../lib/dates.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import {
  memberNumber,
  mergeMember,
  postOne,
  scenarioConfig,
  type Scenario,
} from '../test/harness/report-scenario.js';
import { customReportData } from './custom.js';
import { produceReport } from './produce.js';
import { tierDistribution } from './queries.js';

const CUSTOM = `    - name: by-tier
      title: Points, members and activities by tier
      measures: [pointsIssued, members, activities]
      dimensions: [tier]
      period: month
      chart: { type: none }
    - name: by-month
      title: Points, members and activities by month
      measures: [pointsIssued, members, activities]
      dimensions: [month]
      period: month
      chart: { type: none }
    - name: gold-by-month
      title: Gold points by month
      measures: [pointsIssued, members, activities]
      dimensions: [month]
      filters: { tier: [GOLD] }
      period: month
      chart: { type: none }
`;
const clock = () => new Date('2026-04-01T03:00:00Z');

for (const engine of availableEngines()) {
  describe(`a custom report by tier after merges on ${engine}`, () => {
    let t: TestDb;
    let dir: string;
    let config: LoadedConfig;
    let scenario: Scenario;
    // C (GOLD) and D (MEMBER) as the reviewer found them: C earns, then is merged into D on the 20th.
    // E (SILVER) earns and is merged into C on the 10th, so its points reach D through C. B (GOLD)
    // earns and is closed on the 25th.
    const [b, c, d, e] = [61, 62, 63, 64].map(memberNumber) as [string, string, string, string];

    const earn = (member: string, day: IsoDate, points: number) =>
      postOne(scenario, {
        key: `FLOWN:${member}:${day}`,
        kind: 'ACCRUAL',
        businessDate: day,
        activityDate: day,
        channel: 'OWN_FLIGHTS',
        memberNumber: member,
        entries: [
          { account: Accounts.memberPoints(member), amount: points, expiresOn: '2029-12-31' },
          { account: Accounts.ownFlights, amount: -points },
        ],
      });

    const report = (name: string, day: IsoDate) =>
      customReportData(
        t.db,
        config.reports.custom.find((r) => r.name === name)!,
        day,
      );

    /** Each tier's points, members and activities, absent figures as 0. */
    const byTier = async (day: IsoDate) => {
      const { cells, totals } = await report('by-tier', day);
      const rows = Object.fromEntries(
        cells.map((cell) => [
          cell.keys[0],
          {
            points: cell.values.pointsIssued ?? 0,
            members: cell.values.members ?? 0,
            activities: cell.values.activities ?? 0,
          },
        ]),
      );
      return { rows, totals };
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-custom-merged-'));
      config = scenarioConfig(dir, { customReports: CUSTOM });
      t = await createTestDatabase(engine);
      const stamp = new Date('2026-03-01T00:00:00Z');
      scenario = { config, members: [b, c, d, e], pool: '', ledger: new Ledger(t.db, { now: () => stamp }) };
      const tiers: Array<[string, string]> = [
        [b, 'GOLD'],
        [c, 'GOLD'],
        [d, 'MEMBER'],
        [e, 'SILVER'],
      ];
      for (const [number, tier] of tiers)
        await insertMember(
          t.db.knex,
          { number, status: 'ACTIVE', enrolmentDate: '2025-01-10', tier, poolId: null },
          stamp,
        );
      await earn(c, '2026-03-05', 500);
      await earn(b, '2026-03-06', 1_000);
      await earn(e, '2026-03-07', 300);
      await mergeMember(scenario, e, c, '2026-03-10');
      await mergeMember(scenario, c, d, '2026-03-20');
      await updateMember(t.db.knex, b, { status: 'CLOSED', closedOn: '2026-03-25' });
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('groups a merged member’s points and activities under the survivor’s tier, where it counts the member', async () => {
      const { rows } = await byTier('2026-03-31');
      expect(rows).toEqual({
        MEMBER: { points: 800, members: 1, activities: 2 },
        // B, closed on the 25th, is no active member at the month's end; what it earned stays under its tier.
        GOLD: { points: 1_000, members: 0, activities: 1 },
      });
      expect(Object.fromEntries(await tierDistribution(t.db, '2026-03-31'))).toEqual({ MEMBER: 1 });
    });

    it('reads a date before the merge into D with C still a GOLD member of its own, E part of it', async () => {
      const { rows, totals } = await byTier('2026-03-15');
      expect(rows).toEqual({ GOLD: { points: 1_800, members: 2, activities: 3 } });
      expect(totals).toEqual({ pointsIssued: 1_800, members: 2, activities: 3 });
      expect(Object.fromEntries(await tierDistribution(t.db, '2026-03-15'))).toEqual({
        GOLD: 2,
        MEMBER: 1,
      });
    });

    it('keeps the totals of a report not grouped by tier', async () => {
      for (const day of ['2026-03-15', '2026-03-31']) {
        const { totals } = await report('by-month', day);
        expect((await byTier(day)).totals).toEqual(totals);
      }
      expect((await report('by-month', '2026-03-31')).totals).toEqual({
        pointsIssued: 1_800,
        members: 1,
        activities: 3,
      });
      const custom = await produceReport('by-tier', t.db, config, '2026-03-31', join(dir, 'by-tier'), clock);
      expect(custom.keyFigures).toEqual([
        { label: 'Points issued', value: 1_800 },
        { label: 'Members', value: 1 },
        { label: 'Activities', value: 3 },
      ]);
    });

    it('filters by the survivor’s tier too', async () => {
      const { cells, totals } = await report('gold-by-month', '2026-03-31');
      expect(cells.map((cell) => [cell.keys, cell.values])).toEqual([
        [['2026-03'], { pointsIssued: 1_000, activities: 1 }],
      ]);
      expect(totals).toEqual({ pointsIssued: 1_000, members: 0, activities: 1 });
    });
  });
}
