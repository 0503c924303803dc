/**
 * One definition of an active member across the reports: the monthly Summary, its Effectiveness sheet
 * and a custom report's members count the same people in a month where one member's only activity was
 * a flight that earned status credits and no award points (a class that earns nothing, spend still
 * counting towards the tier). Such a member is not active: status credits buy nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { Accounts } from '../ledger/accounts.js';
import { Ledger } from '../ledger/ledger.js';
import { insertMember, updateMember } from '../ledger/members.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { dumpXlsx, skipWithoutOpenpyxl } from '../test/harness/openpyxl.js';
import {
  buildScenario,
  memberNumber,
  mergeMember,
  postOne,
  scenarioConfig,
  tableOf,
  type Scenario,
} from '../test/harness/report-scenario.js';
import { monthLabel, num, sqlRows, type ReportResult } from './common.js';
import { customReportData } from './custom.js';
import { monthlyReport } from './monthly.js';
import { produceReport } from './produce.js';
import { activeMembers, membersOnRegister } from './queries.js';

const DAY = '2026-05-31';
const clock = () => new Date('2026-06-01T03:00:00Z');
const CUSTOM = `    - name: active-by-month
      title: Active members by month
      measures: [members]
      dimensions: [month]
      period: month
      chart: { type: none }
    - name: active-by-channel
      title: Active members by channel
      measures: [members, pointsIssued]
      dimensions: [channel]
      period: month
      chart: { type: none }
`;

for (const engine of availableEngines()) {
  describe(`active members on ${engine}`, () => {
    const skip = skipWithoutOpenpyxl();
    let t: TestDb;
    let dir: string;
    let config: LoadedConfig;
    let scenario: Scenario;
    let monthly: ReportResult;
    let custom: ReportResult;
    const statusOnly = memberNumber(40);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-active-'));
      config = scenarioConfig(dir, { customReports: CUSTOM });
      t = await createTestDatabase(engine);
      scenario = await buildScenario(t.db, config, {
        from: '2026-05-01',
        to: DAY,
        members: 30,
        perDay: 4,
      });
      await insertMember(
        t.db.knex,
        {
          number: statusOnly,
          status: 'ACTIVE',
          surname: 'Basic',
          givenName: 'Fare',
          enrolmentDate: '2025-01-10',
          tier: 'MEMBER',
          poolId: null,
        },
        new Date('2026-05-01T00:00:00Z'),
      );
      // The accrual posting of a flight whose class earns no award points: status credits only.
      await scenario.ledger.post([
        {
          key: 'FLOWN:STATUS-ONLY:1',
          kind: 'ACCRUAL',
          businessDate: '2026-05-14',
          activityDate: '2026-05-13',
          channel: 'OWN_FLIGHTS',
          memberNumber: statusOnly,
          entries: [],
          statusCredits: [
            { memberNumber: statusOnly, metric: 'SPEND', amount: 12_900, activityDate: '2026-05-13' },
          ],
        },
      ]);
      monthly = await monthlyReport(t.db, config, DAY, join(dir, 'monthly'), clock);
      custom = await produceReport('active-by-month', t.db, config, DAY, join(dir, 'custom'), clock);
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    /** Members with an accrual or redemption of May that moved award points, read straight from the entries. */
    const earnedOrRedeemed = async () => {
      const [row] = await sqlRows<{ n: unknown }>(
        t.db.knex,
        `SELECT COUNT(DISTINCT p.member_id) AS n FROM postings p
           JOIN entries e ON e.posting_id = p.id JOIN accounts a ON a.id = e.account_id
          WHERE p.business_date BETWEEN '2026-05-01' AND ? AND p.kind IN ('ACCRUAL', 'REDEMPTION')
            AND a.kind IN ('MEMBER_POINTS', 'POOL_POINTS')`,
        [DAY],
      );
      return num(row?.n);
    };

    it('the month has a member whose only activity earned status credits', async () => {
      const [row] = await sqlRows<{ n: unknown }>(
        t.db.knex,
        `SELECT COUNT(DISTINCT p.member_id) AS n FROM postings p
          WHERE p.business_date BETWEEN '2026-05-01' AND ? AND p.kind IN ('ACCRUAL', 'REDEMPTION')`,
        [DAY],
      );
      expect(num(row?.n)).toBe((await earnedOrRedeemed()) + 1);
      const status = await sqlRows<{ balance: unknown }>(
        t.db.knex,
        'SELECT balance FROM accounts WHERE code = ?',
        [Accounts.memberStatus(statusOnly, 'SPEND')],
      );
      expect(num(status[0]?.balance)).toBe(12_900);
    });

    it('counts the same active members in the monthly report and a custom report', async () => {
      const active = await earnedOrRedeemed();
      expect(active).toBeGreaterThan(10);
      expect(monthly.keyFigures.find((f) => f.label === 'Active members')?.value).toBe(active);
      expect(custom.keyFigures).toEqual([{ label: 'Members', value: active }]);
    });

    it.skipIf(skip)(
      'shows one figure on the Summary, the Effectiveness sheet and the custom Data sheet',
      async () => {
        const active = await earnedOrRedeemed();
        const book = await dumpXlsx(monthly.workbookPath);
        const summary = tableOf(book, 'Summary');
        const row = summary.row('Active members (earned or redeemed award points)');
        expect(summary.cell(row, 'Members').value).toBe(active);
        const effectiveness = tableOf(book, 'Effectiveness');
        expect(effectiveness.cell(effectiveness.row('May 2026'), 'Active members').value).toBe(active);
        const data = tableOf(await dumpXlsx(custom.workbookPath), 'Data');
        expect(data.cell(data.row('2026-05'), 'Members').value).toBe(active);
      },
    );

    it('leaves the status-only flight out of a custom report grouped by channel, too', async () => {
      const byChannel = await produceReport('active-by-channel', t.db, config, DAY, join(dir, 'ch'), clock);
      expect(byChannel.keyFigures[0]).toEqual({ label: 'Members', value: await earnedOrRedeemed() });
      const [ownFlights] = await sqlRows<{ n: unknown }>(
        t.db.knex,
        `SELECT COUNT(DISTINCT p.member_id) AS n FROM postings p
           JOIN entries e ON e.posting_id = p.id JOIN accounts a ON a.id = e.account_id
          WHERE p.business_date BETWEEN '2026-05-01' AND ? AND p.kind = 'ACCRUAL'
            AND p.channel = 'OWN_FLIGHTS' AND a.kind IN ('MEMBER_POINTS', 'POOL_POINTS')`,
        [DAY],
      );
      expect(num(ownFlights?.n)).toBeGreaterThan(0);
      const definition = config.reports.custom.find((r) => r.name === 'active-by-channel')!;
      const { cells } = await customReportData(t.db, definition, DAY);
      expect(cells.find((c) => c.keys[0] === 'OWN_FLIGHTS')?.values.members).toBe(num(ownFlights?.n));
    });
  });
}

/**
 * The active rate reads active members against the members on the register at the end of the month,
 * one population: a member closed in the month is no longer one of either, and a member merged into
 * another (directly or through a survivor merged on since) is one person, the survivor. A merge after
 * the period's end maps nothing, so a past period reads the same.
 */
for (const engine of availableEngines()) {
  describe(`active members after closures and merges on ${engine}`, () => {
    const skip = skipWithoutOpenpyxl();
    let t: TestDb;
    let dir: string;
    let config: LoadedConfig;
    let scenario: Scenario;
    // A and B earn in June, B is closed on the 20th; C, D and E earn in March, E is merged into C on the
    // 10th and C into D on the 20th (E keeping C as the account it was merged into, as the ingest leaves it).
    const [a, b, c, d, e] = [51, 52, 53, 54, 55].map(memberNumber) as [
      string,
      string,
      string,
      string,
      string,
    ];

    const earn = (member: string, day: string, points: number) =>
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
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-active-merged-'));
      config = scenarioConfig(dir, { customReports: CUSTOM });
      t = await createTestDatabase(engine);
      const stamp = new Date('2026-03-01T00:00:00Z');
      scenario = {
        config,
        members: [a, b, c, d, e],
        pool: '',
        ledger: new Ledger(t.db, { now: () => stamp }),
      };
      for (const number of [a, b, c, d, e])
        await insertMember(
          t.db.knex,
          { number, status: 'ACTIVE', enrolmentDate: '2025-01-10', tier: 'MEMBER', poolId: null },
          stamp,
        );
      await earn(c, '2026-03-05', 500);
      await earn(d, '2026-03-06', 700);
      await earn(e, '2026-03-07', 300);
      await mergeMember(scenario, e, c, '2026-03-10');
      await mergeMember(scenario, c, d, '2026-03-20');
      await earn(a, '2026-06-05', 1_000);
      await earn(b, '2026-06-05', 1_000);
      await updateMember(t.db.knex, b, { status: 'CLOSED', closedOn: '2026-06-20' });
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('counts a merged member once, as its survivor, and a closed one not at all', async () => {
      // March: A and B on the register, and D, which C and E were merged into; active is D alone.
      expect(await membersOnRegister(t.db, '2026-03-31')).toBe(3);
      expect(await activeMembers(t.db, '2026-03-01', '2026-03-31')).toBe(1);
      // Before C was merged on, C and D were two people, E already part of C.
      expect(await activeMembers(t.db, '2026-03-01', '2026-03-15')).toBe(2);
      // June: B closed on the 20th; A is the month's one active member on a register of A and D.
      expect(await membersOnRegister(t.db, '2026-06-30')).toBe(2);
      expect(await activeMembers(t.db, '2026-06-01', '2026-06-30')).toBe(1);
      // B is still an active member of a period that ended before its closure.
      expect(await activeMembers(t.db, '2026-06-01', '2026-06-19')).toBe(2);
    });

    it('gives a custom report the same members as the monthly report', async () => {
      for (const day of ['2026-03-31', '2026-06-30']) {
        const out = join(dir, `custom-${day}`);
        const custom = await produceReport('active-by-month', t.db, config, day, out, clock);
        expect(custom.keyFigures).toEqual([{ label: 'Members', value: 1 }]);
        const definition = config.reports.custom.find((r) => r.name === 'active-by-channel')!;
        const { cells, totals } = await customReportData(t.db, definition, day);
        expect(cells.find((cell) => cell.keys[0] === 'OWN_FLIGHTS')?.values.members).toBe(1);
        expect(totals.members).toBe(1);
      }
    });

    it.skipIf(skip)(
      'shows an active rate of at most 100% on the Summary and the Effectiveness sheet',
      async () => {
        const months = [
          { day: '2026-03-31', month: '2026-03', members: 3 },
          { day: '2026-06-30', month: '2026-06', members: 2 },
        ];
        for (const { day, month, members } of months) {
          const monthly = await monthlyReport(t.db, config, day, join(dir, `monthly-${day}`), clock);
          expect(monthly.keyFigures.find((f) => f.label === 'Active members')?.value).toBe(1);
          const book = await dumpXlsx(monthly.workbookPath);
          const summary = tableOf(book, 'Summary');
          expect(summary.cell(summary.row('Members on the register'), 'Members').value).toBe(members);
          const active = summary.row('Active members (earned or redeemed award points)');
          expect(summary.cell(active, 'Members').value).toBe(1);
          expect(summary.cell(active, 'Rate').value).toBeCloseTo(1 / members, 9);
          const effectiveness = tableOf(book, 'Effectiveness');
          const row = effectiveness.row(monthLabel(month));
          expect(effectiveness.cell(row, 'Members').value).toBe(members);
          expect(effectiveness.cell(row, 'Active members').value).toBe(1);
          expect(effectiveness.cell(row, 'Active rate').value).toBeCloseTo(1 / members, 9);
        }
      },
    );
  });
}
