/**
 * Worked examples where the program rules meet: each computed by hand from README and MISSION and
 * checked on both engines, with the ledger invariants, by the scenario harness.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { partnerKey } from '../activity.js';
import { replaceOnce, useScenario, type Person, type Scenario } from './scenario.js';
import { claimOutcome, couponsFrom, IVANOV, PETROVA } from './edges.js';

const cpn = couponsFrom(6_000_000_000, IVANOV);
const rent = (w: Scenario, who: Person, txn: string, date: string, spend: string, fileDate = date) =>
  w.dropPartner('DRIVE', fileDate, [
    { txn, member: who.number, surname: who.surname, date, type: 'RENTAL_DAY', spend, currency: 'USD' },
  ]);

for (const engine of availableEngines()) {
  describe(`edge cases of fixed-term expiry, partners and promotions (${engine})`, () => {
    const s = useScenario(engine);

    it('a flight credited on the 365th day: points, but its status is outside the rolling window', async () => {
      const w = s();
      await w.enrol('2025-01-01', IVANOV);
      w.dropCoupons([cpn(IVANOV, '2025-03-10', '1200.00')]);
      await w.night('2026-03-10');
      const m = await w.member(IVANOV.number);
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number), m.tier]).toEqual([
        461,
        0,
        'MEMBER',
      ]);
    });

    it('a capped rental reversed takes back what was credited', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      rent(w, IVANOV, 'K-1', '2026-03-10', '3240.00', '2026-03-11');
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(3000);
      rent(w, IVANOV, 'K-1-R', '2026-03-12', '-3240.00', '2026-03-12');
      await w.night('2026-03-12');
      expect(await w.activity(partnerKey('DRIVE', 'K-1-R'))).toMatchObject({
        status: 'POSTED',
        points: -3000,
      });
      expect(await w.balance(IVANOV.number)).toBe(0);
    });

    it('an FTL passenger listed with another member’s card is credited to the passenger who claims it', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      w.dropFtl({
        flight: 'XX245',
        date: '2026-03-10',
        board: 'SVO',
        groups: [
          {
            dest: 'KZN',
            cls: 'Y',
            pax: [{ surname: 'PETROVA', givenName: 'ANNA', title: ' MRS', card: IVANOV.number }],
          },
        ],
      });
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(0);
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: PETROVA.number,
          received: '2026-03-28',
          carrier: 'XX',
          flight: '245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          surname: 'PETROVA',
          givenName: 'ANNA',
        },
      ]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(PETROVA.number)).toBe(461);
    });

    it('nights skipped over a lot’s expiry date: the next night expires it', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      rent(w, IVANOV, 'E-1', '2026-03-10', '1000.00');
      await w.night('2026-03-10');
      await w.night('2029-04-02');
      expect(await w.balance(IVANOV.number)).toBe(0);
    });

    it('SOCHI-SUMMER on a flight of 31 August from AER credited in September', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([cpn(IVANOV, '2026-08-31', '100.00', { from: 'AER', to: 'SVO' })]);
      await w.night('2026-09-05');
      expect(await w.balance(IVANOV.number)).toBe(873 + 436);
    });
  });

  describe(`edge cases of inactivity expiry and merges (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        'policy: fixedTerm            # points expire 36 months after the end of the month they were earned\n  months: 36',
        'policy: inactivity\n  months: 18',
      ),
    );

    it('a cancellation after inactivity expiry gives back points that expire again', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      rent(w, IVANOV, 'I-1', '2026-03-10', '500.00');
      await w.night('2026-03-10');
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-06-01', service: 'SEAT', points: 200 },
      ]);
      await w.night('2026-06-01');
      await w.night('2027-09-10');
      expect(await w.balance(IVANOV.number)).toBe(0);
      w.dropRedemptions([
        {
          id: 'R-1',
          member: IVANOV.number,
          date: '2027-10-01',
          service: 'SEAT',
          points: 200,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2027-10-01');
      await w.night('2027-10-02');
      expect(await w.balance(IVANOV.number)).toBe(0);
    });

    it('nights skipped over the inactivity due date: the next night expires', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      rent(w, IVANOV, 'I-1', '2026-03-10', '500.00');
      await w.night('2026-03-10');
      await w.night('2027-09-15');
      expect(await w.balance(IVANOV.number)).toBe(0);
    });

    it('a merge does not move the survivor’s last activity back', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      rent(w, IVANOV, 'I-1', '2026-03-10', '500.00');
      await w.night('2026-03-10');
      rent(w, PETROVA, 'I-2', '2026-06-10', '500.00');
      await w.night('2026-06-10');
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: PETROVA.number, updatedAt: '2026-07-01T00:00:00Z' },
      ]);
      await w.night('2026-07-01');
      expect((await w.member(PETROVA.number)).last_activity_date).toBe('2026-06-10');
      await w.night('2027-09-10');
      expect(await w.balance(PETROVA.number)).toBe(1000);
      await w.night('2027-12-10');
      expect(await w.balance(PETROVA.number)).toBe(0);
    });
  });
}
