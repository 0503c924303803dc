/**
 * The liability roll-forward ties to the ledger: its closing balance is the sum of the member and pool
 * award balances read straight from the entries, the same figure the stored balances hold (which
 * `ledger check` proves equal to the entries), on SQLite and PostgreSQL, for the month just closed
 * and for a month whose later postings must not leak into it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLedger } from '../ledger/check.js';
import { Decimal, toMinorUnits } from '../lib/money.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { buildScenario, scenarioConfig } from '../test/harness/report-scenario.js';
import { num, sqlRows } from './common.js';
import { liabilityRollForward, rollForwardValues } from './liability.js';
import { allocateValue } from './monthly.js';
import { outstandingLots } from './queries.js';

for (const engine of availableEngines()) {
  describe(`liability roll-forward on ${engine}`, () => {
    let t: TestDb;
    let dir: string;
    const config = () => scenarioConfig(dir);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-liability-'));
      t = await createTestDatabase(engine);
      await buildScenario(t.db, config(), {
        from: '2026-04-01',
        to: '2026-06-02',
        members: 30,
        perDay: 5,
        merge: { from: 7, into: 8, on: '2026-05-20' },
      });
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const entriesSum = async (asOf: string) => {
      const [row] = await sqlRows<{ total: unknown }>(
        t.db.knex,
        `SELECT SUM(e.amount) AS total FROM entries e JOIN accounts a ON a.id = e.account_id
          WHERE a.kind IN ('MEMBER_POINTS', 'POOL_POINTS') AND e.business_date <= ?`,
        [asOf],
      );
      return num(row?.total);
    };

    it('closes on the balances of the ledger as of today, which ledger check proves', async () => {
      const report = await checkLedger(t.db.knex);
      expect(report.ok).toBe(true);
      const rf = await liabilityRollForward(t.db, config(), '2026-06-01', '2026-06-02');
      const [stored] = await sqlRows<{ total: unknown }>(
        t.db.knex,
        "SELECT SUM(balance) AS total FROM accounts WHERE kind IN ('MEMBER_POINTS', 'POOL_POINTS')",
      );
      expect(rf.closing).toBe(num(stored?.total));
      expect(rf.closing).toBe(await entriesSum('2026-06-02'));
      expect(rf.checks).toEqual({ storedBalances: rf.closing, openLots: rf.closing });
    });

    it('ties a past month exactly, whatever was posted after it', async () => {
      const rf = await liabilityRollForward(t.db, config(), '2026-05-01', '2026-05-31');
      expect(rf.opening).toBe(await entriesSum('2026-04-30'));
      expect(rf.closing).toBe(await entriesSum('2026-05-31'));
      // Postings dated June exist and are not in May's figures.
      expect(await entriesSum('2026-06-02')).not.toBe(rf.closing);
      const movements = rf.lines.filter((l) => l.section !== 'opening');
      expect(rf.opening + movements.reduce((s, l) => s + l.points, 0)).toBe(rf.closing);
      expect(rf.lines.some((l) => l.code === 'UNEXPLAINED')).toBe(false);
      expect(rf.checks).toEqual({ storedBalances: rf.closing, openLots: rf.closing });
      // Every kind of movement of the scenario is there, on its own line.
      const line = (code: string) => rf.lines.find((l) => l.code === code)!;
      for (const code of [
        'OWN_FLIGHTS',
        'PARTNER_AIRLINE:LH',
        'PARTNER:GRANDSTAY',
        'REDEMPTION:AWARD_TICKET',
      ]) {
        expect(line(code).points).not.toBe(0);
      }
      expect(line('EXPIRY').points).toBeLessThan(0);
      expect(line('ADJUSTMENT').points).toBeGreaterThan(0);
      // A merge moves points between members: no change to the liability.
      expect(line('TRANSFER').points).toBe(0);
      expect(rf.issued - rf.redeemed - rf.expired + rf.adjustments).toBe(rf.closing - rf.opening);
    });

    it('gives a balance at every calendar month end, months without a movement carrying it on', async () => {
      // Nothing is posted after 2 June: July and August are quiet, and still months of the trend.
      const rf = await liabilityRollForward(t.db, config(), '2026-09-01', '2026-09-30');
      const june = await entriesSum('2026-06-30');
      expect(rf.monthEnds).toEqual([
        { month: '2026-03', points: await entriesSum('2026-03-31') },
        { month: '2026-04', points: await entriesSum('2026-04-30') },
        { month: '2026-05', points: await entriesSum('2026-05-31') },
        { month: '2026-06', points: june },
        { month: '2026-07', points: june },
        { month: '2026-08', points: june },
        { month: '2026-09', points: june },
      ]);
      expect([rf.opening, rf.closing]).toEqual([june, june]);
    });

    it('values the closing balance at the value per point, and the lines add up to it', async () => {
      const c = config();
      const rf = await liabilityRollForward(t.db, c, '2026-05-01', '2026-05-31');
      const expected = toMinorUnits(new Decimal(rf.closing).times(c.program.valuePerPoint), 'USD');
      expect(rf.closingValueMinor).toBe(expected);
      expect(rf.lines.reduce((s, l) => s + l.valueMinor, 0)).toBe(expected);
      // The section values the Summary shows roll forward to the same closing value.
      const v = rollForwardValues(rf);
      expect(v.opening + v.issued - v.redeemed - v.expired + v.adjustments + v.rounding).toBe(expected);
    });

    it('counts award points only: status credits on the same postings stay out', async () => {
      const [status] = await sqlRows<{ total: unknown }>(
        t.db.knex,
        "SELECT SUM(balance) AS total FROM accounts WHERE kind = 'MEMBER_STATUS'",
      );
      expect(num(status?.total)).toBeGreaterThan(0);
      const rf = await liabilityRollForward(t.db, config(), '2026-06-01', '2026-06-02');
      expect(rf.closing).toBe(await entriesSum('2026-06-02'));
    });

    it('reads outstanding lots as of a past date, and they cover the balance then', async () => {
      for (const day of ['2026-04-15', '2026-05-20', '2026-05-31']) {
        const lots = await outstandingLots(t.db, day);
        expect(lots.reduce((s, l) => s + l.points, 0)).toBe(await entriesSum(day));
      }
    });

    it('refuses a period that is not the days of one month from the 1st', async () => {
      await expect(liabilityRollForward(t.db, config(), '2026-05-02', '2026-05-31')).rejects.toThrow(
        /one month from the 1st/,
      );
    });
  });
}

describe('allocateValue', () => {
  it('splits a valuation into parts that add up to it exactly', () => {
    const config = scenarioConfig(mkdtempSync(join(tmpdir(), 'redeye-allocate-')));
    const parts = [1, 1, 1, 1234, 7, 333];
    const values = allocateValue(config, parts);
    const total = parts.reduce((s, p) => s + p, 0);
    expect(values.reduce((s, v) => s + v, 0)).toBe(
      toMinorUnits(new Decimal(total).times(config.program.valuePerPoint), 'USD'),
    );
    // Each part is within one minor unit of its own valuation.
    parts.forEach((p, i) => {
      const exact = new Decimal(p).times(config.program.valuePerPoint).times(100);
      expect(Math.abs(values[i]! - exact.toNumber())).toBeLessThan(1);
    });
  });
});
