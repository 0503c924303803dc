/**
 * Reports for a past date, produced again after later nights changed what is not the ledger: the
 * archive's status of an activity (a flight refunded, a partner credit reversed) and the register
 * (a member merged or closed). The figures come from the ledger as of the date, so the workbook is the
 * same bytes, and the night of the change shows it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import type { CustomReportConfig } from '../config/schema.js';
import { Accounts } from '../ledger/accounts.js';
import { Ledger } from '../ledger/ledger.js';
import { runJob } from '../jobs/runner.js';
import { updateMember } from '../ledger/members.js';
import { useWorld } from '../test/harness/context.js';
import { memberNumber, useScenario, type Coupon, type Person } from '../rules/scenarios/scenario.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { ftlThenCoupon, IVANOV, xx245Coupon } from '../test/harness/flight-correction.js';
import { dumpXlsx, skipWithoutOpenpyxl } from '../test/harness/openpyxl.js';
import {
  archiveRow,
  buildScenario,
  memberId,
  mergeMember,
  postOne,
  reversal,
  sameFiles,
  scenarioConfig,
  stay,
  tableOf,
  type Scenario,
} from '../test/harness/report-scenario.js';
import { num, sqlRows, type ReportResult } from './common.js';
import { customReportData } from './custom.js';
import { dailyReport } from './daily.js';
import { monthlyReport } from './monthly.js';
import {
  activeAccountsSql,
  activeMembers,
  liabilityMovements,
  membersOnRegister,
  tierDistribution,
  topRoutes,
} from './queries.js';

const dailyClock = (day: string) => () => new Date(`${day}T21:00:00Z`);
const monthlyClock = () => new Date('2026-05-31T21:00:00Z');

/** A credited flight's archive row: its flight and coupon records were seen. */
const SEEN = { seen_ftl: true, seen_coupon: true };

for (const engine of availableEngines()) {
  describe(`top routes on ${engine}: from the postings of the date`, () => {
    const skip = skipWithoutOpenpyxl();
    const D1 = '2026-06-01';
    const D2 = '2026-06-02';
    const KEY = 'FLOWN:5559990001:1';
    const POINTS = 1_234;
    let t: TestDb;
    let dir: string;
    let config: LoadedConfig;
    let scenario: Scenario;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-routes-'));
      const loaded = scenarioConfig(dir);
      // Every route listed, so the routes add up to the own-flight channel.
      config = { ...loaded, reports: { ...loaded.reports, topRoutes: 100 } };
      t = await createTestDatabase(engine);
      scenario = await buildScenario(t.db, config, { from: '2026-05-01', to: D2, members: 30, perDay: 8 });
      // Night 1: a flight on a route of its own is credited.
      const member = scenario.members[11]!;
      const postingId = await postOne(scenario, {
        key: KEY,
        kind: 'ACCRUAL',
        businessDate: D1,
        activityDate: D1,
        channel: 'OWN_FLIGHTS',
        memberNumber: member,
        entries: [
          { account: Accounts.memberPoints(member), amount: POINTS, expiresOn: '2029-06-30' },
          { account: Accounts.ownFlights, amount: -POINTS },
        ],
      });
      await t.db.knex('activities').insert(
        archiveRow(D1, {
          ...SEEN,
          activity_key: `FLIGHT:XX777:${D1}:SVX:5559990001`,
          type: 'FLIGHT',
          member_number: member,
          member_id: await memberId(scenario, member),
          channel: 'OWN_FLIGHTS',
          carrier: 'XX',
          flight_number: '777',
          origin: 'SVX',
          destination: 'LED',
          cabin: 'Y',
          ticket_number: '5559990001',
          coupon_number: 1,
          coupon_status: 'F',
          points: POINTS,
          posting_key: KEY,
          posting_id: postingId,
        }),
      );
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    /** Top routes and the own-flight line of the accrual by channel, as the workbook shows them. */
    async function routesOf(report: ReportResult) {
      const dump = await dumpXlsx(report.workbookPath);
      const routes = tableOf(dump, 'Top routes');
      const channels = tableOf(dump, 'Accrual by channel');
      return {
        route: (name: string) => {
          const row = routes.rows.find((r) => routes.cell(r, 'Route').value === name);
          return row
            ? {
                flights: routes.cell(row, 'Flights credited').value,
                points: routes.cell(row, 'Points').value,
              }
            : undefined;
        },
        total: routes.cell(routes.totals!, 'Points').cached,
        ownFlights: channels.cell(channels.row('OWN_FLIGHTS'), 'Net points').value,
      };
    }

    it.skipIf(skip)(
      'a flight credited on one night and refunded on the next: the first night reads the same again, the second shows the refund',
      async () => {
        const first = await dailyReport(t.db, config, D1, join(dir, 'd1-first'), dailyClock(D1));
        const before = await routesOf(first);
        expect(before.route('SVX-LED')).toEqual({ flights: 1, points: POINTS });
        expect(before.total).toBe(before.ownFlights);

        // Night 2: the coupon comes back refunded; the accrue job reverses the credit and marks the
        // flight REVERSED in the archive.
        await postOne(scenario, { key: `${KEY}:REV`, reverses: KEY, businessDate: D2 });
        await t.db
          .knex('activities')
          .where({ posting_key: KEY })
          .update({ status: 'REVERSED', reason: 'NOT_FLOWN', coupon_status: 'R' });

        const rerun = await dailyReport(t.db, config, D1, join(dir, 'd1-rerun'), dailyClock(D1));
        sameFiles(first, rerun);

        const second = await dailyReport(t.db, config, D2, join(dir, 'd2'), dailyClock(D2));
        const after = await routesOf(second);
        expect(after.route('SVX-LED')).toEqual({ flights: -1, points: -POINTS });
        // The scenario reverses an earlier own flight on Tuesdays too: the routes still add up.
        expect(after.total).toBe(after.ownFlights);
      },
    );

    it('adds up to the own-flight accruals of a month, reversals included', async () => {
      const routes = await topRoutes(t.db, '2026-05-01', '2026-05-31', 100);
      const ownFlights = (await liabilityMovements(t.db, '2026-05-01', '2026-05-31'))
        .filter((m) => m.kind === 'ACCRUAL' && m.channel === 'OWN_FLIGHTS')
        .reduce((s, m) => s + m.points, 0);
      expect(routes.length).toBeGreaterThan(5);
      expect(routes.reduce((s, r) => s + r.points, 0)).toBe(ownFlights);
      const [reversed] = await sqlRows<{ n: unknown }>(
        t.db.knex,
        `SELECT COUNT(*) AS n FROM postings p JOIN postings o ON o.id = p.reversal_of
          WHERE p.business_date BETWEEN '2026-05-01' AND '2026-05-31' AND o.channel = 'OWN_FLIGHTS'`,
      );
      const [credited] = await sqlRows<{ n: unknown }>(
        t.db.knex,
        `SELECT COUNT(*) AS n FROM postings p
          WHERE p.business_date BETWEEN '2026-05-01' AND '2026-05-31' AND p.channel = 'OWN_FLIGHTS'
            AND p.kind = 'ACCRUAL'`,
      );
      expect(routes.reduce((s, r) => s + r.flights, 0)).toBe(num(credited?.n) - num(reversed?.n));
    });
  });

  describe(`members on the register on ${engine}: as of the date`, () => {
    const skip = skipWithoutOpenpyxl();
    const MONTH_END = '2026-05-31';
    let t: TestDb;
    let dir: string;
    let config: LoadedConfig;
    let scenario: Scenario;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-register-'));
      config = scenarioConfig(dir);
      t = await createTestDatabase(engine);
      scenario = await buildScenario(t.db, config, {
        from: '2026-05-01',
        to: MONTH_END,
        members: 30,
        perDay: 5,
      });
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    /** A merge as the member-master ingest makes it (`mergeMember`), of a member holding points. */
    async function merge(from: string, into: string, day: string, options: { closedOn: boolean }) {
      expect(await mergeMember(scenario, from, into, day, options)).toBeGreaterThan(0);
    }

    it.skipIf(skip)('counts a member merged or closed after the date on that date', async () => {
      const first = await monthlyReport(t.db, config, MONTH_END, join(dir, 'first'), monthlyClock);
      const all = scenario.members.length;
      expect(await membersOnRegister(t.db, MONTH_END)).toBe(all);

      const [a, b, c, d] = [7, 8, 9, 10].map((i) => scenario.members[i]!);
      await merge(a!, b!, '2026-06-18', { closedOn: true });
      // Written by something other than the ingest: no closing date, the merge's posting dates it.
      await merge(c!, b!, '2026-06-25', { closedOn: false });
      await updateMember(t.db.knex, d!, { status: 'CLOSED', closedOn: '2026-06-20' });

      expect(await membersOnRegister(t.db, MONTH_END)).toBe(all);
      const tiers = await tierDistribution(t.db, MONTH_END);
      expect([...tiers.values()].reduce((s, n) => s + n, 0)).toBe(all);
      expect(await membersOnRegister(t.db, '2026-06-17')).toBe(all);
      expect(await membersOnRegister(t.db, '2026-06-18')).toBe(all - 1);
      expect(await membersOnRegister(t.db, '2026-06-20')).toBe(all - 2);
      expect(await membersOnRegister(t.db, '2026-06-25')).toBe(all - 3);

      const rerun = await monthlyReport(t.db, config, MONTH_END, join(dir, 'rerun'), monthlyClock);
      sameFiles(first, rerun);
      const dump = await dumpXlsx(rerun.workbookPath);
      const distribution = tableOf(dump, 'Tier distribution');
      expect(distribution.cell(distribution.totals!, 'Members').cached).toBe(all);
    });
  });

  describe(`members on the register on ${engine}: as the ledger knew them at the date`, () => {
    const skip = skipWithoutOpenpyxl();
    const world = useWorld(engine);
    const HEADER =
      'member_number,status,merged_into,enrolment_date,enrolment_channel,surname,given_name,updated_at';

    /** One night of the members feed: its file fetched and read. */
    async function night(day: string, ...rows: string[]) {
      const w = world();
      const name = `members_${day.replaceAll('-', '')}.csv`;
      writeFileSync(join(w.dir, 'inbox', 'members', name), [HEADER, ...rows, ''].join('\n'));
      const ctx = w.ctx(day);
      expect((await runJob(ctx, 'fetch')).status).toBe('succeeded');
      expect((await runJob(ctx, 'ingest')).status).toBe('succeeded');
    }

    it.skipIf(skip)(
      'leaves a member whose record came a night after their enrolment date off the registers before that night',
      async () => {
        const w = world();
        const report = (out: string) =>
          monthlyReport(
            w.t.db,
            w.config,
            '2026-10-31',
            join(w.dir, out),
            () => new Date('2026-11-01T03:00:00Z'),
          );
        await night('2026-10-31', '1000000016,ACTIVE,,2026-10-15,WEB,IVANOV,IVAN,2026-10-15T09:00:00Z');
        const first = await report('first');
        expect(await membersOnRegister(w.t.db, '2026-10-31')).toBe(1);

        // The CRM enrolled 1000000024 on the 31st in the evening; its delta came with the next night's.
        await night('2026-11-01', '1000000024,ACTIVE,,2026-10-31,APP,PETROVA,ANNA,2026-10-31T20:40:00Z');
        const stored = await w.t.db.knex('members').orderBy('number').select('number', 'registered_on');
        expect(stored.map((m) => [m.number, String(m.registered_on).slice(0, 10)])).toEqual([
          ['1000000016', '2026-10-31'],
          ['1000000024', '2026-11-01'],
        ]);
        expect(await membersOnRegister(w.t.db, '2026-10-31')).toBe(1);
        expect(Object.fromEntries(await tierDistribution(w.t.db, '2026-10-31'))).toEqual({ MEMBER: 1 });
        expect(await membersOnRegister(w.t.db, '2026-11-01')).toBe(2);
        sameFiles(first, await report('rerun'));
      },
    );

    /** October's monthly report, made on 1 November, into `out`. */
    const october = (out: string) =>
      monthlyReport(
        world().t.db,
        world().config,
        '2026-10-31',
        join(world().dir, out),
        () => new Date('2026-11-01T03:00:00Z'),
      );

    it.skipIf(skip)(
      'keeps a member closed in October off October’s register after the CRM reopens the account in November',
      async () => {
        const w = world();
        await night(
          '2026-10-01',
          '1000000016,ACTIVE,,2026-09-15,WEB,IVANOV,IVAN,2026-09-15T09:00:00Z',
          '1000000024,ACTIVE,,2026-09-20,APP,PETROVA,ANNA,2026-09-20T10:00:00Z',
        );
        await night('2026-10-10', '1000000016,CLOSED,,2026-09-15,WEB,IVANOV,IVAN,2026-10-10T08:00:00Z');
        expect(await membersOnRegister(w.t.db, '2026-10-31')).toBe(1);
        const first = await october('first');

        await night('2026-11-05', '1000000016,ACTIVE,,2026-09-15,WEB,IVANOV,IVAN,2026-11-05T07:30:00Z');
        expect(
          await w.t.db.knex('members').where({ number: '1000000016' }).first('status', 'closed_on'),
        ).toEqual({
          status: 'ACTIVE',
          closed_on: null,
        });
        expect(await membersOnRegister(w.t.db, '2026-10-09')).toBe(2);
        expect(await membersOnRegister(w.t.db, '2026-10-10')).toBe(1);
        expect(await membersOnRegister(w.t.db, '2026-10-31')).toBe(1);
        expect(Object.fromEntries(await tierDistribution(w.t.db, '2026-10-31'))).toEqual({ MEMBER: 1 });
        expect(await membersOnRegister(w.t.db, '2026-11-04')).toBe(1);
        // Back on the register from the night that read the reopening.
        expect(await membersOnRegister(w.t.db, '2026-11-05')).toBe(2);
        sameFiles(first, await october('rerun'));

        // Closed again: November's register before that night keeps the member, October's still does not.
        await night('2026-11-20', '1000000016,CLOSED,,2026-09-15,WEB,IVANOV,IVAN,2026-11-20T08:00:00Z');
        expect(await membersOnRegister(w.t.db, '2026-11-19')).toBe(2);
        expect(await membersOnRegister(w.t.db, '2026-11-20')).toBe(1);
        expect(await membersOnRegister(w.t.db, '2026-10-31')).toBe(1);
        sameFiles(first, await october('again'));
      },
    );

    it.skipIf(skip)(
      'counts a member merged in October as its survivor in October’s active members after the account is reopened',
      async () => {
        const w = world();
        await night(
          '2026-10-01',
          '1000000016,ACTIVE,,2026-09-15,WEB,IVANOV,IVAN,2026-09-15T09:00:00Z',
          '1000000024,ACTIVE,,2026-09-20,APP,PETROVA,ANNA,2026-09-20T10:00:00Z',
        );
        const ledger = new Ledger(w.t.db, { now: () => new Date('2026-10-05T23:30:00Z') });
        const [earned] = await ledger.post([
          {
            key: 'FLOWN:1000000016:2026-10-05',
            kind: 'ACCRUAL',
            businessDate: '2026-10-05',
            activityDate: '2026-10-04',
            channel: 'OWN_FLIGHTS',
            memberNumber: '1000000016',
            entries: [
              { account: Accounts.memberPoints('1000000016'), amount: 1_200, expiresOn: '2029-10-31' },
              { account: Accounts.ownFlights, amount: -1_200 },
            ],
          },
        ]);
        expect(earned?.status).toBe('posted');
        await night(
          '2026-10-20',
          '1000000016,MERGED,1000000024,2026-09-15,WEB,IVANOV,IVAN,2026-10-20T08:00:00Z',
        );
        const activeAccounts = async () => {
          const accounts = activeAccountsSql('2026-10-01', '2026-10-31');
          const rows = await sqlRows<{ number: string }>(
            w.t.db.knex,
            `SELECT DISTINCT m.number AS number FROM (${accounts.sql}) a JOIN members m ON m.id = a.account_id`,
            accounts.bindings,
          );
          return rows.map((r) => r.number);
        };
        expect(await membersOnRegister(w.t.db, '2026-10-31')).toBe(1);
        expect(await activeAccounts()).toEqual(['1000000024']);
        const first = await october('first');

        // The CRM takes the merge back: the account is open again, its points stay with the survivor.
        await night('2026-11-05', '1000000016,ACTIVE,,2026-09-15,WEB,IVANOV,IVAN,2026-11-05T07:30:00Z');
        expect(
          await w.t.db.knex('members').where({ number: '1000000016' }).first('status', 'merged_into'),
        ).toEqual({
          status: 'ACTIVE',
          merged_into: null,
        });
        expect(await membersOnRegister(w.t.db, '2026-10-31')).toBe(1);
        expect(await activeAccounts()).toEqual(['1000000024']);
        expect(await activeMembers(w.t.db, '2026-10-01', '2026-10-31')).toBe(1);
        expect(await membersOnRegister(w.t.db, '2026-11-05')).toBe(2);
        sameFiles(first, await october('rerun'));
      },
    );
  });

  describe(`partner activities on ${engine}: credits standing from the ledger`, () => {
    const skip = skipWithoutOpenpyxl();
    const MONTH_END = '2026-05-31';
    let t: TestDb;
    let dir: string;
    let config: LoadedConfig;
    let scenario: Scenario;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-partners-'));
      config = scenarioConfig(dir);
      t = await createTestDatabase(engine);
      scenario = await buildScenario(t.db, config, {
        from: '2026-05-01',
        to: MONTH_END,
        members: 30,
        perDay: 8,
      });
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    /** GRANDSTAY's credits in May less its reversals in May, and their spend, read independently. */
    async function expected(): Promise<{ credited: number; spendMinor: number }> {
      const [row] = await sqlRows<{ credited: unknown; spend: unknown }>(
        t.db.knex,
        `SELECT SUM(CASE WHEN p.reversal_of IS NULL THEN 1 ELSE -1 END) AS credited,
                SUM(CASE WHEN p.reversal_of IS NULL THEN 1 ELSE -1 END * COALESCE(act.base_spend_minor, 0)) AS spend
           FROM postings p
           LEFT JOIN postings o ON o.id = p.reversal_of
           LEFT JOIN activities act ON act.posting_key = COALESCE(o.idempotency_key, p.idempotency_key)
          WHERE p.business_date BETWEEN '2026-05-01' AND '2026-05-31'
            AND COALESCE(o.channel, p.channel) = 'PARTNER:GRANDSTAY'`,
      );
      return { credited: num(row?.credited), spendMinor: num(row?.spend) };
    }

    it.skipIf(skip)(
      'counts a credit reversed in the month once less, not its reversal record as one more, and reads the same later',
      async () => {
        const member = scenario.members[12]!;
        await stay(scenario, {
          key: 'GS-T-1',
          day: '2026-05-10',
          member,
          spendMinor: 40_000,
          points: 800,
          archive: SEEN,
        });
        await stay(scenario, {
          key: 'GS-T-2',
          day: '2026-05-11',
          member,
          spendMinor: 25_000,
          points: 500,
          archive: SEEN,
        });
        await reversal(scenario, { key: 'GS-T-1', day: '2026-05-20', member, points: 800, archive: SEEN });

        const first = await monthlyReport(t.db, config, MONTH_END, join(dir, 'first'), monthlyClock);
        const partners = tableOf(await dumpXlsx(first.workbookPath), 'Partners');
        const line = partners.row('GRANDSTAY');
        const want = await expected();
        expect(want.credited).toBeGreaterThan(1);
        expect(partners.cell(line, 'Activities credited').value).toBe(want.credited);
        expect(partners.cell(line, 'Spend (USD)').value).toBeCloseTo(want.spendMinor / 100, 9);

        // A June night reverses the other May stay: May's report does not move.
        await reversal(scenario, { key: 'GS-T-2', day: '2026-06-03', member, points: 500, archive: SEEN });
        const rerun = await monthlyReport(t.db, config, MONTH_END, join(dir, 'rerun'), monthlyClock);
        sameFiles(first, rerun);
      },
    );
  });
}

const PETROV: Person = { number: memberNumber(2), surname: 'PETROV', givenName: 'PETR' };
/** PETROV's ticket, its coupon presented on IVANOV's card. */
const petrovOnIvanovsCard: Coupon = { ...xx245Coupon, surname: 'PETROV', givenName: 'PETR MR' };
const pointsByRoute = (period: CustomReportConfig['period']): CustomReportConfig => ({
  name: 'points-by-route',
  title: 'Points by route',
  measures: ['pointsIssued', 'activities'],
  dimensions: ['route'],
  filters: {},
  period,
  chart: { type: 'none' },
  schedule: 'manual',
});

for (const engine of availableEngines()) {
  describe(`top routes on ${engine}: a credit taken back before a retro-claim credited the flight again`, () => {
    const s = useScenario(engine);

    it('keeps the route of the first credit and its reversal on the nights before the claim', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROV);
      // Night of 11 March: the FTL lists IVANOV on his card and credits him; night of 12 March: the
      // coupon is PETROV's, so the credit is taken back.
      await ftlThenCoupon(w, 'Y', petrovOnIvanovsCard);
      const db = w.w.t.db;
      const figures = async (day: string) => ({
        routes: await topRoutes(db, day, day, 10),
        custom: (await customReportData(db, pointsByRoute('day'), day)).cells,
      });
      const before = { d11: await figures('2026-03-11'), d12: await figures('2026-03-12') };
      const svoKzn = { origin: 'SVO', destination: 'KZN' };
      expect(before.d11.routes).toEqual([{ ...svoKzn, flights: 1, members: 1, points: 461 }]);
      expect(before.d12.routes).toEqual([{ ...svoKzn, flights: -1, members: 0, points: -461 }]);

      // PETROV claims the flight by his ticket: the claim's credit is made under keys of its own, and the
      // flight's archive row now holds it.
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: PETROV.number,
          received: '2026-03-28',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'PETROV',
          givenName: 'PETR',
        },
      ]);
      await w.night('2026-03-28');
      expect(await w.balance(PETROV.number)).toBe(461);
      expect({ d11: await figures('2026-03-11'), d12: await figures('2026-03-12') }).toEqual(before);

      // The month: IVANOV's credit, its reversal and PETROV's credit, all on the route, which adds up
      // to the own-flight line.
      const month = await topRoutes(db, '2026-03-01', '2026-03-31', 10);
      expect(month).toEqual([{ ...svoKzn, flights: 1, members: 2, points: 461 }]);
      const ownFlights = (await liabilityMovements(db, '2026-03-01', '2026-03-31'))
        .filter((m) => m.kind === 'ACCRUAL' && m.channel === 'OWN_FLIGHTS')
        .reduce((sum, m) => sum + m.points, 0);
      expect(ownFlights).toBe(461);
      const custom = await customReportData(db, pointsByRoute('month'), '2026-03-31');
      expect(custom.cells).toEqual([{ keys: ['SVO-KZN'], values: { pointsIssued: 461, activities: 1 } }]);
    });
  });
}
