/**
 * Worked examples where the program rules meet: each computed by hand from README and MISSION and
 * checked on both engines, with the ledger invariants, by the scenario harness.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { replaceOnce, useScenario, type Scenario } from './scenario.js';
import { claimOutcome, couponsFrom, IVANOV, PETROVA, tierOf } from './edges.js';

const cpn = couponsFrom(5_000_000_000, IVANOV);

for (const engine of availableEngines()) {
  describe(`edge cases of tiers, eligibility and retro-claims (${engine})`, () => {
    const s = useScenario(engine);

    it('refund months later: the refund leaves the window with its credit, status never below live credits', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      const march = cpn(IVANOV, '2026-03-10', '1200.00');
      w.dropCoupons([march]);
      await w.night('2026-03-11');
      w.dropCoupons([cpn(IVANOV, '2026-09-01', '600.00')]);
      await w.night('2026-09-02');
      w.dropCoupons([{ ...march, status: 'R' }]);
      await w.night('2026-10-01');
      expect(await w.statusBalance(IVANOV.number)).toBe(60000);
      await w.night('2027-03-10');
      expect(await w.statusBalance(IVANOV.number)).toBe(60000);
      await w.night('2027-09-01');
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
    });

    it('FTL of 31 December read on the night of 1 January is a flight of 31 December', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropFtl({
        flight: 'XX245',
        date: '2026-12-31',
        board: 'SVO',
        groups: [
          { dest: 'KZN', cls: 'Y', pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number }] },
        ],
      });
      await w.night('2027-01-01');
      const acts = await w.activitiesOf(IVANOV.number);
      expect(acts.map((a) => [a.activity_key, a.status])).toEqual([
        [`FLT:XX245:2026-12-31:SVO-KZN:XX:${IVANOV.number}`, 'POSTED'],
      ]);
    });

    it('a flight on the enrolment day is credited', async () => {
      const w = s();
      await w.enrol('2026-03-10', { ...IVANOV, enrolled: '2026-03-10' });
      w.dropCoupons([cpn(IVANOV, '2026-03-10', '100.00')]);
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    it('a coupon carrying another member’s card: its passenger claims it and is credited', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      const c = cpn(IVANOV, '2026-03-10', '100.00', { surname: 'PETROVA', givenName: 'ANNA' });
      w.dropCoupons([c]);
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(0);
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: PETROVA.number,
          received: '2026-03-28',
          ticket: c.ticket,
          coupon: 1,
          surname: 'PETROVA',
          givenName: 'ANNA',
        },
      ]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(PETROVA.number)).toBe(461);
    });

    it('retro-claim window: 6 months after 31 August is 28 February; 14 days is not pending', async () => {
      const w = s();
      await w.enrol('2025-01-01', IVANOV, PETROVA);
      const a = cpn(null, '2025-08-31', '100.00');
      const b = cpn(null, '2025-08-31', '100.00', { surname: 'PETROVA', givenName: 'ANNA', flight: '246' });
      w.dropCoupons([a, b]);
      await w.night('2025-09-01');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-02-28',
          ticket: a.ticket,
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-02-28');
      w.dropRetroClaims([
        {
          id: 'C-2',
          member: PETROVA.number,
          received: '2026-03-01',
          ticket: b.ticket,
          coupon: 1,
          surname: 'PETROVA',
        },
      ]);
      await w.night('2026-03-01');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await claimOutcome(w, 'C-2')).toEqual(['REJECTED', 'OUT_OF_WINDOW']);
    });

    it('two reviews skipped: Platinum lands softly twice', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([cpn(IVANOV, '2026-01-14', '5000.00')]);
      await w.night('2026-01-15');
      expect(await tierOf(w, IVANOV)).toEqual({
        tier: 'PLATINUM',
        since: '2026-01-15',
        review: '2027-01-15',
      });
      await w.night('2028-02-01');
      expect(await tierOf(w, IVANOV)).toEqual({ tier: 'SILVER', since: '2028-01-15', review: '2029-01-15' });
    });

    it('a credit of 29 February leaves the window on 1 March the next year', async () => {
      const w = s();
      await w.enrol('2028-01-01', IVANOV);
      w.dropCoupons([cpn(IVANOV, '2028-02-29', '600.00')]);
      await w.night('2028-03-01');
      await w.night('2029-02-28');
      expect(await w.statusBalance(IVANOV.number)).toBe(60000);
      await w.night('2029-03-01');
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
    });

    it('merged status credits lapse at the survivor on their own dates', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      w.dropCoupons([cpn(IVANOV, '2026-03-10', '1200.00')]);
      await w.night('2026-03-11');
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: PETROVA.number, updatedAt: '2026-06-01T00:00:00Z' },
      ]);
      await w.night('2026-06-01');
      expect(await w.statusBalance(PETROVA.number)).toBe(120000);
      expect((await tierOf(w, PETROVA)).tier).toBe('SILVER');
      await w.night('2027-03-09');
      expect(await w.statusBalance(PETROVA.number)).toBe(120000);
      await w.night('2027-03-10');
      expect(await w.statusBalance(PETROVA.number)).toBe(0);
    });
  });

  describe(`edge cases of inactivity expiry (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        'policy: fixedTerm            # points expire 36 months after the end of the month they were earned\n  months: 36',
        'policy: inactivity\n  months: 18',
      ),
    );
    const rent = (w: Scenario, txn: string, date: string, spend: string) =>
      w.dropPartner('DRIVE', date, [
        { txn, member: IVANOV.number, surname: 'IVANOV', date, type: 'RENTAL_DAY', spend, currency: 'USD' },
      ]);

    it('a partner reversal is no earning activity; last activity 31 Aug 2026 is due 29 Feb 2028', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      rent(w, 'A-1', '2026-08-31', '300.00');
      await w.night('2026-08-31');
      rent(w, 'A-2', '2026-08-31', '100.00');
      await w.night('2026-09-01');
      w.dropPartner('DRIVE', '2026-09-20', [
        {
          txn: 'A-2-R',
          member: IVANOV.number,
          surname: 'IVANOV',
          date: '2026-09-20',
          type: 'RENTAL_DAY',
          spend: '-100.00',
          currency: 'USD',
        },
      ]);
      await w.night('2026-09-20');
      expect(await w.balance(IVANOV.number)).toBe(300);
      expect((await w.member(IVANOV.number)).last_activity_date).toBe('2026-08-31');
      await w.night('2028-02-28');
      expect(await w.balance(IVANOV.number)).toBe(300);
      await w.night('2028-02-29');
      expect(await w.balance(IVANOV.number)).toBe(0);
    });
  });
}
