/**
 * The monthly workbook as a reader sees it (Debian's openpyxl, sharing no code with the writer): the
 * sheets in order, their headers, totals that are formulas with the right cached values — the
 * liability tying to the ledger, partner billing to an independent computation — charts on the sheets
 * and beside the workbook, and the same bytes for the same date however the ledger grew since.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { Accounts } from '../ledger/accounts.js';
import { Ledger } from '../ledger/ledger.js';
import { Decimal, toMinorUnits } from '../lib/money.js';
import { useScenario } from '../rules/scenarios/scenario.js';
import { availableEngines, createTestDatabase, enrolPlain, type TestDb } from '../test/harness/db.js';
import { creditedThenCorrected } from '../test/harness/flight-correction.js';
import { dumpXlsx, skipWithoutOpenpyxl, type XlsxDump } from '../test/harness/openpyxl.js';
import {
  buildScenario,
  memberNumber,
  pngStats,
  scenarioConfig,
  tableOf,
  type Scenario,
} from '../test/harness/report-scenario.js';
import { num, sqlRows, type ReportResult } from './common.js';
import { liabilityRollForward } from './liability.js';
import { MONTHLY_STEPS, monthlyReport } from './monthly.js';
import { liabilityMovements, topRoutes } from './queries.js';

const clock = () => new Date('2026-06-01T03:00:00Z');
const SHEETS = [
  'Summary',
  'Earn and burn',
  'Redemptions',
  'Liability',
  'Outstanding points',
  'Expiry forecast',
  'Tier distribution',
  'Tier movements',
  'Partners',
  'Top routes',
  'Effectiveness',
];

for (const engine of availableEngines()) {
  describe(`monthly report on ${engine}`, () => {
    const skip = skipWithoutOpenpyxl();
    let t: TestDb;
    let dir: string;
    let config: LoadedConfig;
    let scenario: Scenario;
    let report: ReportResult;
    let dump: XlsxDump;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-monthly-'));
      config = scenarioConfig(dir);
      t = await createTestDatabase(engine);
      scenario = await buildScenario(t.db, config, {
        from: '2026-04-01',
        to: '2026-06-02',
        members: 30,
        perDay: 5,
        merge: { from: 7, into: 8, on: '2026-05-20' },
      });
      report = await monthlyReport(t.db, config, '2026-05-31', join(dir, 'out'), clock);
      if (!skip) dump = await dumpXlsx(report.workbookPath);
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const ptsAsOf = async (day: string) => {
      const [row] = await sqlRows<{ total: unknown }>(
        t.db.knex,
        `SELECT SUM(e.amount) AS total FROM entries e JOIN accounts a ON a.id = e.account_id
          WHERE a.kind IN ('MEMBER_POINTS', 'POOL_POINTS') AND e.business_date <= ?`,
        [day],
      );
      return num(row?.total);
    };
    const money = (points: number, price: string, currency: string) =>
      toMinorUnits(new Decimal(points).times(price), currency) / 100;

    it('writes the workbook and every chart into the output folder', async () => {
      expect(report.workbookPath).toBe(join(dir, 'out', 'monthly-2026-05-31.xlsx'));
      expect(report.chartPaths.length).toBeGreaterThanOrEqual(10);
      for (const path of report.chartPaths) {
        expect(path.startsWith(join(dir, 'out', 'monthly-2026-05-31-'))).toBe(true);
        const stats = await pngStats(readFileSync(path));
        expect(stats.width).toBe(800);
        expect(stats.colours).toBeGreaterThan(20);
        expect(stats.inked).toBeGreaterThan(2000);
      }
      expect(report.mainChart?.path).toBe(report.chartPaths[0]);
    });

    it.skipIf(skip)('has one sheet per section, each with a styled, frozen, filtered header', () => {
      expect(dump.sheets.map((s) => s.name)).toEqual(SHEETS);
      expect(dump.warnings).toBe('');
      expect(dump.properties.created).toBe('2026-06-01T03:00:00');
      for (const name of SHEETS) {
        const table = tableOf(dump, name);
        expect(table.headers.length).toBeGreaterThan(2);
        const sheet = dump.sheets.find((s) => s.name === name)!;
        expect(sheet.freezePanes).toMatch(/^[A-C]\d+$/);
      }
      const daily = dump.sheets.find((s) => s.name === 'Earn and burn')!;
      expect(daily.autoFilter).toMatch(/^A\d+:G\d+$/);
    });

    it.skipIf(skip)('ties the liability roll-forward to the ledger, in points and in money', async () => {
      const table = tableOf(dump, 'Liability');
      expect(table.headers).toEqual(['Line', 'Section', 'Code', 'Points', 'Value (USD)']);
      const closing = await ptsAsOf('2026-05-31');
      const opening = await ptsAsOf('2026-04-30');
      expect(table.cell(table.rows[0]!, 'Points').value).toBe(opening);
      const totals = table.totals!;
      expect(totals[0]!.value).toBe('Closing balance 2026-05-31');
      const points = table.cell(totals, 'Points');
      expect(points.type).toBe('f');
      expect(String(points.value)).toMatch(/^=SUM\(D\d+:D\d+\)$/);
      expect(points.cached).toBe(closing);
      expect(table.cell(totals, 'Value (USD)').cached).toBeCloseTo(money(closing, '0.0120', 'USD'), 9);
      expect(table.cell(totals, 'Points').numberFormat).toBe('#,##0');
      expect(table.cell(totals, 'Value (USD)').numberFormat).toBe('#,##0.00 "USD"');
      // The movements are the ledger's: redemptions of the month, read independently.
      const [redeemed] = await sqlRows<{ total: unknown }>(
        t.db.knex,
        `SELECT SUM(e.amount) AS total FROM entries e JOIN accounts a ON a.id = e.account_id
           JOIN postings p ON p.id = e.posting_id LEFT JOIN postings o ON o.id = p.reversal_of
          WHERE a.kind = 'MEMBER_POINTS' AND COALESCE(o.kind, p.kind) = 'REDEMPTION'
            AND p.business_date BETWEEN '2026-05-01' AND '2026-05-31'`,
      );
      const redeemedLines = table.rows.filter((r) => table.cell(r, 'Section').value === 'Redeemed');
      expect(redeemedLines.reduce((s, r) => s + Number(table.cell(r, 'Points').value), 0)).toBe(
        num(redeemed?.total),
      );
      const outstanding = tableOf(dump, 'Outstanding points');
      expect(outstanding.cell(outstanding.totals!, 'Points').cached).toBe(closing);
      expect(outstanding.cell(outstanding.totals!, 'Value (USD)').cached).toBeCloseTo(
        money(closing, '0.0120', 'USD'),
        9,
      );
      const summary = tableOf(dump, 'Summary');
      expect(summary.cell(summary.row('Points liability at the end of the period'), 'Points').value).toBe(
        closing,
      );
    });

    it.skipIf(skip)('bills each partner its points at the contract price, in its currency', async () => {
      const table = tableOf(dump, 'Partners');
      expect(table.headers).toEqual([
        'Partner',
        'Name',
        'Kind',
        'Contract',
        'Activities credited',
        'Spend (USD)',
        'Points credited',
        'Currency',
        'Price per point',
        'To bill (USD)',
        'To bill (EUR)',
      ]);
      const expected: Record<string, [string, string, string]> = {
        GRANDSTAY: ['GRANDSTAY-2024', '0.0090', 'USD'],
        DRIVE: ['DRIVE-2025', '0.0100', 'EUR'],
        REDBANK: ['REDBANK-2025', '0.0110', 'USD'],
        LH: ['LH-2025', '0.0105', 'EUR'],
        IB: ['IB-2025', '0.0100', 'EUR'],
      };
      const totals = { USD: 0, EUR: 0 };
      for (const [partner, [contract, price, currency]] of Object.entries(expected)) {
        const [row] = await sqlRows<{ total: unknown }>(
          t.db.knex,
          `SELECT -SUM(e.amount) AS total FROM entries e JOIN accounts a ON a.id = e.account_id
            WHERE a.code = ? AND e.business_date BETWEEN '2026-05-01' AND '2026-05-31'`,
          [Accounts.partner(partner)],
        );
        const points = num(row?.total);
        expect(points).toBeGreaterThan(0);
        const line = table.row(partner);
        expect(table.cell(line, 'Contract').value).toBe(contract);
        expect(table.cell(line, 'Points credited').value).toBe(points);
        expect(table.cell(line, `To bill (${currency})`).value).toBeCloseTo(
          money(points, price, currency),
          9,
        );
        expect(table.cell(line, `To bill (${currency === 'USD' ? 'EUR' : 'USD'})`).value).toBeNull();
        totals[currency as 'USD' | 'EUR'] += toMinorUnits(new Decimal(points).times(price), currency);
      }
      expect(table.cell(table.totals!, 'To bill (USD)').cached).toBeCloseTo(totals.USD / 100, 9);
      expect(table.cell(table.totals!, 'To bill (EUR)').cached).toBeCloseTo(totals.EUR / 100, 9);
      expect(table.cell(table.totals!, 'To bill (EUR)').numberFormat).toBe('#,##0.00 "EUR"');
    });

    it.skipIf(skip)('shows tiers as they were at the end of the month', async () => {
      const table = tableOf(dump, 'Tier distribution');
      expect(table.rows.map((r) => r[0]!.value)).toEqual(['MEMBER', 'SILVER', 'GOLD', 'PLATINUM']);
      expect(table.cell(table.totals!, 'Members').cached).toBe(scenario.members.length - 1);
      // A tier change after the month end does not show in it.
      const later = (await t.db
        .knex('tier_events')
        .where('business_date', '>', '2026-05-31')
        .select('from_tier', 'to_tier')) as Array<{ from_tier: string; to_tier: string }>;
      const now = (await t.db
        .knex('members')
        .whereNot('status', 'MERGED')
        .groupBy('tier')
        .select('tier')
        .count({ n: '*' })) as Array<{ tier: string; n: number | string }>;
      const expected = new Map(now.map((r) => [r.tier, Number(r.n)]));
      for (const e of later) {
        expected.set(e.to_tier, (expected.get(e.to_tier) ?? 0) - 1);
        expected.set(e.from_tier, (expected.get(e.from_tier) ?? 0) + 1);
      }
      for (const r of table.rows)
        expect(table.cell(r, 'Members').value).toBe(expected.get(String(r[0]!.value)) ?? 0);
    });

    it.skipIf(skip)('stores the net cost per point as the four decimals it shows', () => {
      const table = tableOf(dump, 'Effectiveness');
      const header = 'Net cost per point (USD)';
      const costs = table.rows.map((r) => table.cell(r, header)).filter((c) => c.value !== null);
      expect(costs.length).toBeGreaterThan(0);
      for (const cell of costs) {
        expect(cell.numberFormat).toBe('#,##0.0000');
        const value = Number(cell.value);
        expect(String(value), 'no binary tail').toBe(String(Number(value.toFixed(4))));
      }
    });

    it.skipIf(skip)('places charts as pictures on the sheets', () => {
      expect(dump.pillow).toBe(true);
      const images = Object.fromEntries(dump.sheets.map((s) => [s.name, s.images.length]));
      expect(images).toMatchObject({ Summary: 1, 'Earn and burn': 2, Liability: 1, Effectiveness: 2 });
      const summary = dump.sheets.find((s) => s.name === 'Summary')!;
      expect(summary.images[0]).toMatchObject({ format: 'png', pixelWidth: 800, pixelHeight: 400 });
    });

    it('moves its progress one step a read of the ledger, the charts and the workbook, to the end', async () => {
      const steps: string[] = [];
      const shown = await monthlyReport(t.db, config, '2026-05-31', join(dir, 'shown'), clock, {
        start: (label, total) => void steps.push(`start ${label} ${total}`),
        increment: (by = 1) => void steps.push(`+${by}`),
        stop: () => void steps.push('stop'),
      });
      expect(steps).toEqual([
        `start monthly ${MONTHLY_STEPS}`,
        ...Array.from({ length: MONTHLY_STEPS }, () => '+1'),
        'stop',
      ]);
      // The bar changes nothing in what is written.
      expect(readFileSync(shown.workbookPath).equals(readFileSync(report.workbookPath))).toBe(true);
    });

    it('writes the same bytes for the same date, also after later nights have posted more', async () => {
      const again = await monthlyReport(t.db, config, '2026-05-31', join(dir, 'again'), clock);
      expect(readFileSync(again.workbookPath).equals(readFileSync(report.workbookPath))).toBe(true);
      await scenario.ledger.post([
        {
          key: 'LATER:ACCRUAL',
          kind: 'ACCRUAL',
          businessDate: '2026-06-05',
          channel: 'OWN_FLIGHTS',
          entries: [
            { account: Accounts.memberPoints(scenario.members[3]!), amount: 5000, expiresOn: '2029-06-30' },
            { account: Accounts.ownFlights, amount: -5000 },
          ],
        },
        {
          key: 'LATER:REDEMPTION',
          kind: 'REDEMPTION',
          businessDate: '2026-06-05',
          channel: 'REDEMPTION:UPGRADE',
          entries: [
            { account: Accounts.memberPoints(scenario.members[4]!), amount: -100 },
            { account: Accounts.redemption('UPGRADE'), amount: 100 },
          ],
        },
      ]);
      const later = await monthlyReport(t.db, config, '2026-05-31', join(dir, 'later'), clock);
      expect(readFileSync(later.workbookPath).equals(readFileSync(report.workbookPath))).toBe(true);
      for (let i = 0; i < later.chartPaths.length; i++) {
        expect(readFileSync(later.chartPaths[i]!).equals(readFileSync(report.chartPaths[i]!))).toBe(true);
      }
    });
  });
}

/**
 * The Summary and the Liability sheet value the month's points once. At 0.012 USD a point, two
 * redemptions of 802 points are 9.62 each on the Liability sheet (9.624 rounded), 19.24 together,
 * while 1,604 points valued at once are 19.25; three credits of 1,003 points are 12.04 each, 36.12,
 * against 36.11 at once. The lines then need a rounding line of −0.02 to the closing valuation.
 */
for (const engine of availableEngines()) {
  describe(`monthly Summary against the Liability sheet on ${engine}`, () => {
    const skip = skipWithoutOpenpyxl();
    let t: TestDb;
    let dir: string;
    let config: LoadedConfig;
    let dump: XlsxDump;
    const [a, b] = [memberNumber(1), memberNumber(2)];
    const cents = (minor: number) => minor / 100;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-monthly-cents-'));
      config = scenarioConfig(dir);
      t = await createTestDatabase(engine);
      await enrolPlain(t.db, a, b);
      const ledger = new Ledger(t.db, { now: () => new Date('2026-05-01T00:00:00Z') });
      const accrual = (key: string, day: string, member: string, channel: string, points: number) => ({
        key,
        kind: 'ACCRUAL' as const,
        businessDate: day,
        channel,
        entries: [
          { account: Accounts.memberPoints(member), amount: points, expiresOn: '2029-06-30' },
          {
            account: channel === 'OWN_FLIGHTS' ? Accounts.ownFlights : Accounts.partner(channel.slice(8)),
            amount: -points,
          },
        ],
      });
      const redemption = (key: string, member: string, service: string, points: number) => ({
        key,
        kind: 'REDEMPTION' as const,
        businessDate: '2026-06-20',
        channel: `REDEMPTION:${service}`,
        entries: [
          { account: Accounts.memberPoints(member), amount: -points },
          { account: Accounts.redemption(service), amount: points },
        ],
      });
      await ledger.post([
        accrual('MAY:A', '2026-05-10', a, 'OWN_FLIGHTS', 10_000),
        accrual('MAY:B', '2026-05-10', b, 'OWN_FLIGHTS', 10_000),
        accrual('JUN:1', '2026-06-05', a, 'OWN_FLIGHTS', 1_003),
        accrual('JUN:2', '2026-06-06', b, 'PARTNER:GRANDSTAY', 1_003),
        accrual('JUN:3', '2026-06-07', a, 'PARTNER:REDBANK', 1_003),
        redemption('JUN:4', a, 'SEAT', 802),
        redemption('JUN:5', b, 'LOUNGE', 802),
      ]);
      const report = await monthlyReport(t.db, config, '2026-06-30', join(dir, 'out'), clock);
      if (!skip) dump = await dumpXlsx(report.workbookPath);
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it.skipIf(skip)('gives each figure the value the Liability sheet gives its lines', () => {
      const liability = tableOf(dump, 'Liability');
      const section = (name: string) =>
        liability.rows
          .filter((r) => liability.cell(r, 'Section').value === name)
          .reduce((sum, r) => sum + Math.round(Number(liability.cell(r, 'Value (USD)').value) * 100), 0);
      // The month is one where valuing the total rounds apart from the lines.
      expect(section('Redeemed')).toBe(-1924);
      expect(toMinorUnits(new Decimal(1_604).times(config.program.valuePerPoint), 'USD')).toBe(1925);
      expect(section('Issued')).toBe(3612);
      expect(section('Rounding')).toBe(-2);

      const summary = tableOf(dump, 'Summary');
      const value = (figure: string) => summary.cell(summary.row(figure), 'Value (USD)').value;
      expect(value('Points liability at the start of the period')).toBeCloseTo(cents(section('Opening')), 9);
      expect(value('Points issued')).toBeCloseTo(cents(section('Issued')), 9);
      expect(value('Points redeemed')).toBeCloseTo(cents(-section('Redeemed')), 9);
      expect(value('Points expired')).toBeCloseTo(cents(-section('Expired')), 9);
      expect(value('Adjustments and transfers')).toBeCloseTo(cents(section('Adjustments')), 9);
      expect(value('Rounding of the line values to the closing valuation')).toBeCloseTo(-0.02, 9);
      const closing = value('Points liability at the end of the period');
      expect(closing).toBeCloseTo(Number(liability.cell(liability.totals!, 'Value (USD)').cached), 9);
      expect(closing).toBeCloseTo(256.86, 9);
      const effectiveness = tableOf(dump, 'Effectiveness');
      expect(effectiveness.cell(effectiveness.row('Jun 2026'), 'Value issued (USD)').value).toBeCloseTo(
        cents(section('Issued')),
        9,
      );
    });
  });
}

for (const engine of availableEngines()) {
  describe(`monthly report on ${engine}: a flight's class correction is points issued`, () => {
    const s = useScenario(engine);

    it('counts the correction with its flight: routes, the issued line and the month add up to the ledger', async () => {
      const w = s();
      await creditedThenCorrected(w);
      const db = w.w.t.db;
      const config = w.w.config;

      expect(await topRoutes(db, '2026-03-01', '2026-03-31', 10)).toEqual([
        { origin: 'SVO', destination: 'KZN', flights: 1, members: 1, points: 461 },
      ]);
      const rf = await liabilityRollForward(db, config, '2026-03-01', '2026-03-31');
      const line = (code: string) => rf.lines.find((l) => l.code === code)?.points;
      expect({ ownFlights: line('OWN_FLIGHTS'), adjustments: line('ADJUSTMENT') }).toEqual({
        ownFlights: 461,
        adjustments: 0,
      });
      expect({
        opening: rf.opening,
        issued: rf.issued,
        adjustments: rf.adjustments,
        closing: rf.closing,
      }).toEqual({
        opening: 0,
        issued: 461,
        adjustments: 0,
        closing: 461,
      });
      // Earn and burn, by day: the correction is air accrued on its own night.
      const byDay = (await liabilityMovements(db, '2026-03-01', '2026-03-31', { byDay: true }))
        .filter((m) => m.kind === 'ACCRUAL' && m.channel === 'OWN_FLIGHTS')
        .map((m) => [m.day, m.points, m.postings]);
      expect(byDay).toEqual([
        ['2026-03-11', 922, 1],
        ['2026-03-12', -461, 0],
      ]);
      const report = await monthlyReport(db, config, '2026-03-31', join(w.w.dir, 'monthly'));
      expect(report.keyFigures.find((f) => f.label === 'Points issued')?.value).toBe(461);
    });
  });
}
