/**
 * What `redeye files show` says after a real night of what became of each record: a record the program
 * rules refused keeps the field and message the rule gave it (the ones `redeye simulate` shows), in the
 * words of its own feed, and a retro-claim file shows each claim's outcome.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { filesShow } from './files-show-cli.js';
import { badCheckDigit, memberNumber, svoKznCoupon, useScenario, type Person } from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

interface Shown {
  firstRejects: Array<{
    line: number | null;
    kind: string;
    reason: string;
    field: string | null;
    message: string | null;
  }>;
}

for (const engine of availableEngines()) {
  describe(`files show after the night (${engine})`, () => {
    const s = useScenario(engine);

    it('keeps the field and message of each rule that refused a partner record, as simulate shows them', async () => {
      const w = s();
      await w.enrol('2026-10-01', IVANOV);
      const rec = {
        member: IVANOV.number,
        surname: 'IVANOV',
        date: '2026-10-31',
        type: 'CARD_SPEND',
        spend: '100.00',
        currency: 'USD',
      };
      const name = w.dropPartner('REDBANK', '2026-11-01', [
        { ...rec, txn: 'RB-1', member: badCheckDigit(IVANOV.number) },
        { ...rec, txn: 'RB-2', type: 'GROCERY' },
        { ...rec, txn: 'RB-3', date: '2026-11-05' },
        { ...rec, txn: 'RB-4', surname: 'PETROV' },
      ]);
      const simulated = (await w.simulate('partner', name, '2026-11-01')).flatMap((e) =>
        e.type === 'record' && e.status === 'REJECTED' ? [[e.line, e.reason, e.field, e.message]] : [],
      );
      expect(simulated.map(([, reason, field]) => [reason, field])).toEqual([
        ['CHECK_DIGIT', 'member_number'],
        ['NO_CONTRACT', 'activity_type'],
        ['FUTURE_DATE', 'activity_date'],
        ['NAME_MISMATCH', 'surname'],
      ]);
      await w.night('2026-11-01');

      const shown = JSON.parse(await filesShow(w, 'partner', name)) as Shown;
      expect(shown.firstRejects.map((r) => [r.line, r.reason, r.field, r.message])).toEqual(simulated);
      expect(shown.firstRejects[1]!.message).toBe('no REDBANK contract covers GROCERY on 2026-10-31');
      expect(shown.firstRejects[2]!.message).toMatch(
        /^activity date 2026-11-05 is after the processing date 2026-11-01 and more than a day after its file came in/,
      );
      const text = await filesShow(w, 'partner', name, false);
      expect(text).toMatch(/FUTURE_DATE .* activity_date +activity date 2026-11-05 is after/);
    });

    it('says of a second coupon for a flown flight which coupon stands, not a partner_txn_id', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([{ ...svoKznCoupon(IVANOV, '9589999000001', '2026-03-10'), coupon: 1 }]);
      await w.night('2026-03-11');
      const second = w.dropCoupons([{ ...svoKznCoupon(IVANOV, '9589999000002', '2026-03-10'), coupon: 1 }]);
      await w.night('2026-03-12');

      const shown = JSON.parse(await filesShow(w, 'flown', second)) as Shown;
      expect(shown.firstRejects).toEqual([
        expect.objectContaining({
          kind: 'activity',
          reason: 'DUPLICATE',
          field: 'ticket_number',
          message: 'coupon 9589999000001/1 stands as flown for the same flight and card',
        }),
      ]);
    });

    it('shows what became of each retro-claim of a file: credited with its points, rejected with why, waiting', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      const noCard = { ...svoKznCoupon(IVANOV, '0741000000001', '2026-03-10'), card: null, fare: '120.00' };
      w.dropCoupons([noCard, { ...noCard, ticket: '0741000000002', date: '2026-03-20' }]);
      await w.night('2026-03-21');
      const claims = w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-28',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
        // Received 14 days before the night: it waited for its coupon as long as it could come.
        {
          id: 'C-2',
          member: IVANOV.number,
          received: '2026-03-14',
          ticket: '0741000000009',
          coupon: 1,
          surname: 'IVANOV',
        },
        {
          id: 'C-3',
          member: IVANOV.number,
          received: '2026-03-28',
          ticket: '0741000000002',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-03-28');

      const shown = JSON.parse(await filesShow(w, 'retro-claims', claims)) as Shown & {
        claims: Array<{ status: string; reason: string | null; n: number; points: number }>;
      };
      expect(shown.claims).toEqual([
        { status: 'CREDITED', reason: null, n: 1, points: 461 },
        { status: 'PENDING', reason: 'PENDING', n: 1, points: 0 },
        { status: 'REJECTED', reason: 'NOT_FOUND', n: 1, points: 0 },
      ]);
      expect(shown.firstRejects).toEqual([
        {
          line: 3,
          kind: 'claim',
          reason: 'NOT_FOUND',
          member: IVANOV.number,
          ref: 'C-2',
          field: null,
          message: 'no flown coupon or listed passenger in the archive matches coupon 0741000000009/1',
        },
      ]);
      const text = await filesShow(w, 'retro-claims', claims, false);
      expect(text).toMatch(/what became of its claims/);
      expect(text).toMatch(/CREDITED +1 +461/);
    });
  });
}
