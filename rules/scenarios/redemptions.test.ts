/**
 * Redemptions from the award and ancillary systems: points leave in the order they would expire, a
 * cancellation gives back the very lots with their dates, and a redemption larger than the balance is
 * refused, never posted as a negative balance.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { Accounts } from '../../ledger/accounts.js';
import { cancellationKey, redemptionKey } from '../activity.js';
import { memberNumber, useScenario, type Person, type Scenario } from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

function rent(w: Scenario, txn: string, date: string, points: number, fileDate: string): void {
  w.dropPartner('DRIVE', fileDate, [
    {
      txn,
      member: IVANOV.number,
      surname: 'IVANOV',
      date,
      type: 'RENTAL_DAY',
      spend: `${points}.00`,
      currency: 'USD',
    },
  ]);
}

/** Lots of March (500, credited first) and January (1,000, reported late): January expires first. */
async function twoLots(w: Scenario): Promise<void> {
  await w.enrol('2026-01-01', IVANOV);
  rent(w, 'L-MAR', '2026-03-02', 500, '2026-03-03');
  await w.night('2026-03-03');
  rent(w, 'L-JAN', '2026-01-20', 1000, '2026-03-04');
  await w.night('2026-03-04');
  expect(await w.lotSummary(IVANOV.number)).toEqual([
    [1000, '2029-01-31'],
    [500, '2029-03-31'],
  ]);
}

for (const engine of availableEngines()) {
  describe(`redemptions (${engine})`, () => {
    const s = useScenario(engine);

    it('takes points from the earliest-expiring lot first, whatever the order they were credited in', async () => {
      const w = s();
      await twoLots(w);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'AWARD_TICKET', points: 1200 },
      ]);
      await w.night('2026-03-05');
      // January's 1,000 and 200 of March's 500.
      expect(await w.lotSummary(IVANOV.number)).toEqual([[300, '2029-03-31']]);
      expect(await w.balance(IVANOV.number)).toBe(300);
      expect(await w.posting(redemptionKey('R-1'))).toMatchObject({
        kind: 'REDEMPTION',
        entries: {
          [Accounts.memberPoints(IVANOV.number)]: -1200,
          [Accounts.redemption('AWARD_TICKET')]: 1200,
        },
      });
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'POSTED', points: -1200 });
    });

    it('gives a cancelled redemption back to the same lots with their expiry dates', async () => {
      const w = s();
      await twoLots(w);
      const before = await w.lots(IVANOV.number);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'UPGRADE', points: 1200 },
      ]);
      await w.night('2026-03-05');
      w.dropRedemptions([
        {
          id: 'R-1',
          member: IVANOV.number,
          date: '2026-03-06',
          service: 'UPGRADE',
          points: 1200,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-03-06');
      const after = await w.lots(IVANOV.number);
      expect(after.map((l) => [l.id, l.remaining, l.earnedOn, l.expiresOn])).toEqual(
        before.map((l) => [l.id, l.remaining, l.earnedOn, l.expiresOn]),
      );
      expect(await w.balance(IVANOV.number)).toBe(1500);
      const original = await w.posting(redemptionKey('R-1'));
      expect(await w.posting(cancellationKey('R-1'))).toMatchObject({
        kind: 'REVERSAL',
        reversalOf: original!.id,
        entries: { [Accounts.memberPoints(IVANOV.number)]: 1200, [Accounts.redemption('UPGRADE')]: -1200 },
      });
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({
        status: 'REVERSED',
        reason: 'CANCELLED',
      });
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({ status: 'POSTED', points: 1200 });
    });

    it('refuses a redemption larger than the balance (INSUFFICIENT_POINTS) and leaves the lots alone', async () => {
      const w = s();
      await twoLots(w);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'AWARD_TICKET', points: 1501 },
        { id: 'R-2', member: IVANOV.number, date: '2026-03-05', service: 'EXCESS_BAGGAGE', points: 1500 },
      ]);
      await w.night('2026-03-05');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INSUFFICIENT_POINTS',
        points: -1501,
      });
      expect(await w.posting(redemptionKey('R-1'))).toBeUndefined();
      expect(await w.activity(redemptionKey('R-2'))).toMatchObject({ status: 'POSTED' });
      expect(await w.balance(IVANOV.number)).toBe(0);
      // The refused one cannot be cancelled: it was never issued.
      w.dropRedemptions([
        {
          id: 'R-1',
          member: IVANOV.number,
          date: '2026-03-06',
          service: 'AWARD_TICKET',
          points: 1501,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-03-06');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'UNKNOWN_REDEMPTION',
      });
      expect(await w.balance(IVANOV.number)).toBe(0);
    });

    it('a cancellation that comes before its redemption waits for it, and a second cancellation is a duplicate', async () => {
      const w = s();
      await twoLots(w);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'SEAT', points: 100 },
        {
          id: 'R-9',
          member: IVANOV.number,
          date: '2026-03-05',
          service: 'SEAT',
          points: 100,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-03-05');
      w.dropRedemptions([
        {
          id: 'R-1',
          member: IVANOV.number,
          date: '2026-03-06',
          service: 'SEAT',
          points: 100,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-03-06');
      w.dropRedemptions([
        {
          id: 'R-1',
          member: IVANOV.number,
          date: '2026-03-07',
          service: 'SEAT',
          points: 100,
          status: 'CANCELLED',
          reference: 'again',
        },
      ]);
      await w.night('2026-03-07');
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({
        status: 'PENDING',
        reason: 'UNKNOWN_REDEMPTION',
      });
      expect((await w.rejects({ feed: 'redemptions' })).map((r) => [r.reason, r.record_ref])).toEqual([
        ['DUPLICATE', 'R-1'],
      ]);
      expect(await w.balance(IVANOV.number)).toBe(1500);
      // R-9 itself arrives: debited, then the cancellation that waited for it gives the points back.
      const lotsBefore = await w.lots(IVANOV.number);
      w.dropRedemptions([
        { id: 'R-9', member: IVANOV.number, date: '2026-03-04', service: 'SEAT', points: 100 },
      ]);
      const night = await w.night('2026-03-08');
      expect(night.accrue.counts.cancellationsAwaited).toBe(1);
      expect(await w.activity(redemptionKey('R-9'))).toMatchObject({
        status: 'REVERSED',
        reason: 'CANCELLED',
      });
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({
        status: 'POSTED',
        reason: null,
        points: 100,
      });
      expect(await w.balance(IVANOV.number)).toBe(1500);
      expect((await w.lots(IVANOV.number)).map((l) => [l.id, l.remaining, l.expiresOn])).toEqual(
        lotsBefore.map((l) => [l.id, l.remaining, l.expiresOn]),
      );
      const again = await w.night('2026-03-09');
      expect(again.accrue.counts.activities).toBe(0);
    });

    it('a cancellation listed before its redemption in the same file waits for it that night: debited, then given back', async () => {
      const w = s();
      await twoLots(w);
      const lotsBefore = await w.lots(IVANOV.number);
      w.dropRedemptions([
        {
          id: 'R-5',
          member: IVANOV.number,
          date: '2026-03-05',
          service: 'SEAT',
          points: 300,
          status: 'CANCELLED',
        },
        { id: 'R-5', member: IVANOV.number, date: '2026-03-05', service: 'SEAT', points: 300 },
      ]);
      const night = await w.night('2026-03-05');
      expect(night.accrue.counts.cancellationsAwaited).toBe(1);
      expect(await w.activity(redemptionKey('R-5'))).toMatchObject({
        status: 'REVERSED',
        reason: 'CANCELLED',
      });
      expect(await w.activity(cancellationKey('R-5'))).toMatchObject({
        status: 'POSTED',
        reason: null,
        points: 300,
      });
      expect(await w.balance(IVANOV.number)).toBe(1500);
      expect((await w.lots(IVANOV.number)).map((l) => [l.id, l.remaining, l.expiresOn])).toEqual(
        lotsBefore.map((l) => [l.id, l.remaining, l.expiresOn]),
      );
      expect((await w.night('2026-03-06')).accrue.counts.activities).toBe(0);
    });

    it('refuses redemptions for a closed account or an unknown member', async () => {
      const w = s();
      await twoLots(w);
      w.dropMembers([{ ...IVANOV, status: 'CLOSED', updatedAt: '2026-03-05T00:00:00Z' }]);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'CHARITY', points: 100 },
        { id: 'R-2', member: memberNumber(77), date: '2026-03-05', service: 'CHARITY', points: 100 },
      ]);
      await w.night('2026-03-05');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'ACCOUNT_CLOSED',
      });
      expect(await w.activity(redemptionKey('R-2'))).toMatchObject({
        status: 'REJECTED',
        reason: 'MEMBER_UNKNOWN',
      });
      expect(await w.balance(IVANOV.number)).toBe(1500);
    });

    it('debits a partner reward from a partner the configuration does not know, and says so naming file and line', async () => {
      const w = s();
      await twoLots(w);
      const reward = (id: string, points: number, partner: string) => ({
        id,
        member: IVANOV.number,
        date: '2026-03-05',
        service: 'PARTNER_REWARD',
        points,
        partner,
      });
      const file = w.dropRedemptions([
        reward('R-1', 100, 'GRANDSTAY'),
        reward('R-2', 200, 'ACME'),
        reward('R-3', 300, 'ACME'),
      ]);
      const night = await w.night('2026-03-05');
      // The member had the rewards: each is debited as any redemption is.
      for (const id of ['R-1', 'R-2', 'R-3'])
        expect(await w.activity(redemptionKey(id))).toMatchObject({ status: 'POSTED' });
      expect(await w.balance(IVANOV.number)).toBe(900);
      // GRANDSTAY is a partner of the program; ACME is not, and its bill could not be matched.
      expect(night.ingest.warnings).toEqual([
        `${file}:3 field partner_code: 2 PARTNER_REWARD redemption(s) from partner ACME, which is not in the ` +
          "configuration's partners: read as any other, but that partner's bill cannot be matched to a partner " +
          'of the program',
      ]);
      expect(night.ingest.counts['redemptions.unknownRewardPartner']).toBe(2);

      // R-2 sent again the next night is refused as read before: nothing new to say of its partner.
      w.dropRedemptions([reward('R-2', 200, 'ACME')]);
      const next = await w.night('2026-03-06');
      expect(next.ingest.counts['redemptions.unknownRewardPartner']).toBeUndefined();
      expect(next.ingest.warnings).toEqual([]);
      expect(await w.balance(IVANOV.number)).toBe(900);
    });
  });
}
