/**
 * A partner may hold two contracts in force on the same days, each for its own activity types at its own
 * price. The monthly report's Partners sheet prices each credit by the contract it was made under, as the
 * month-end invoice does, not by whichever contract is found first for the date.
 */
import { describe, expect, it } from 'vitest';
import { billingMonth, partnerCredits } from '../exporters/billing.js';
import { lineChargeMinor } from '../exporters/isxml.js';
import { availableEngines } from '../test/harness/db.js';
import { memberNumber, replaceOnce, useScenario, type Person } from '../rules/scenarios/scenario.js';
import { partnerBilling } from './monthly.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

/** DRIVE's day rentals move to a contract of their own, at twice the price of its rentals. */
const twoContracts = (yaml: string) =>
  replaceOnce(
    yaml,
    `          RENTAL_DAY: { per: spend, rate: "1", capPerActivity: 3000 }
`,
    `      - id: DRIVE-DAYS
        validFrom: 2025-01-01
        claimWindowDays: 90
        pricePerPoint: "0.0200"
        tierBonus: {}
        activities:
          RENTAL_DAY: { per: spend, rate: "1", capPerActivity: 3000 }
`,
  );

for (const engine of availableEngines()) {
  describe(`partner billing in the monthly report, two contracts in force at once (${engine})`, () => {
    const s = useScenario(engine, twoContracts);

    it('prices each credit by the contract it was made under, as the invoice does', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropPartner('DRIVE', '2026-03-10', [
        {
          txn: 'R-1',
          member: IVANOV.number,
          surname: 'IVANOV',
          date: '2026-03-09',
          type: 'RENTAL',
          spend: '80.00',
          currency: 'USD',
        },
        {
          txn: 'D-1',
          member: IVANOV.number,
          surname: 'IVANOV',
          date: '2026-03-09',
          type: 'RENTAL_DAY',
          spend: '120.00',
          currency: 'USD',
        },
      ]);
      await w.night('2026-03-10');
      expect(await w.balance(IVANOV.number)).toBe(620);

      const lines = await partnerBilling(w.w.ctx('2026-03-31').db, w.w.config, '2026-03-01', '2026-03-31');
      expect(
        lines
          .filter((l) => l.partner === 'DRIVE')
          .map((l) => [l.contract, l.pricePerPoint, l.points, l.activities, l.amountMinor]),
      ).toEqual([
        ['DRIVE-2025', '0.0100', 500, 1, 500],
        ['DRIVE-DAYS', '0.0200', 120, 1, 240],
      ]);
    });
  });
}

/** DRIVE-2025 at a price whose products fall between cents. */
const subCentPrice = (yaml: string) =>
  replaceOnce(
    yaml,
    'pricePerPoint: "0.0100"\n        tierBonus',
    'pricePerPoint: "0.00999"\n        tierBonus',
  );

for (const engine of availableEngines()) {
  describe(`partner billing in the monthly report, a contract of two activity types (${engine})`, () => {
    const s = useScenario(engine, subCentPrice);

    it('bills each activity type rounded on its own, as the invoice does', async () => {
      const w = s();
      w.dropFx({ '2026-03-10': { USD: '1.0800' } });
      await w.enrol('2026-03-01', IVANOV);
      const record = { member: IVANOV.number, surname: 'IVANOV', date: '2026-03-10', currency: 'USD' };
      w.dropPartner('DRIVE', '2026-03-11', [
        { ...record, txn: 'R-1', type: 'RENTAL', spend: '180.00' },
        { ...record, txn: 'D-1', type: 'RENTAL_DAY', spend: '1.00' },
      ]);
      await w.night('2026-03-11');
      const db = w.w.ctx('2026-03-31').db;
      const lines = await partnerBilling(db, w.w.config, '2026-03-01', '2026-03-31');
      // 500 points × 0.00999 = 4.995 → 5.00 and 1 × 0.00999 → 0.01: 5.01, where 501 × 0.00999 = 5.00499.
      expect(
        lines
          .filter((l) => l.partner === 'DRIVE')
          .map((l) => [l.contract, l.pricePerPoint, l.points, l.activities, l.amountMinor]),
      ).toEqual([['DRIVE-2025', '0.00999', 501, 2, 501]]);
      const month = billingMonth(
        w.w.config,
        '2026-03-31',
        await partnerCredits(db.knex, '2026-03-01', '2026-03-31'),
      );
      const invoice = month.invoices.find((i) => i.partnerCode === 'DRIVE')!;
      expect(
        invoice.lines.reduce(
          (sum, l) => sum + lineChargeMinor(l.points, l.pricePerPoint, invoice.currency),
          0,
        ),
      ).toBe(501);
    });
  });
}
