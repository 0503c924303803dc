/**
 * Hotel stays (OpenTravel HotelStayInfoNotif, ota-hotel-stay.md) whose document leaves out what OpenTravel
 * makes optional: a StayInfos without ChainCode is credited to the partner the file is accepted under, and
 * a `PointsEarned` of 0 proposes no points, so the stay earns by its contract. The simulator shows the
 * same outcome as the night (`night` checks it, and each test reads the simulator's figures itself).
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { hotelKey } from '../activity.js';
import type { SimulationEvent } from '../../jobs/simulate.js';
import { memberNumber, useScenario, type HotelStayInput, type Person, type Scenario } from './scenario.js';

const IVANOV: Person = {
  number: memberNumber(1),
  surname: 'IVANOV',
  givenName: 'IVAN',
  enrolled: '2026-05-01',
};

/** IVANOV's stay of 10–12 June 2026: 100.00 USD of room, 200 points under GRANDSTAY-2024 (2 per dollar). */
const stay = (reservation: string, extra: Partial<HotelStayInput> = {}): HotelStayInput => ({
  member: IVANOV.number,
  surname: 'IVANOV',
  givenName: 'IVAN',
  reservation,
  checkIn: '2026-06-10',
  checkOut: '2026-06-12',
  revenue: [{ category: 'ROOM', amount: '100.00' }],
  ...extra,
});

/** What the simulator shows per stay: the activity it posts, or the reject of one it cannot draft. */
function shown(events: SimulationEvent[]): unknown[] {
  return events.flatMap((e) =>
    e.type === 'record'
      ? [[e.activity, e.status, e.reason, e.points]]
      : e.type === 'reject'
        ? [[e.line, 'REJECTED', e.reason, e.field]]
        : [],
  );
}

async function outcome(w: Scenario, reservation: string): Promise<unknown[]> {
  const a = await w.activity(hotelKey('GRANDSTAY', reservation));
  return [a?.status, a?.reason ?? null, a?.points === undefined ? undefined : Number(a.points)];
}

for (const engine of availableEngines()) {
  describe(`hotel stays (${engine})`, () => {
    const s = useScenario(engine);

    it('credits a stay whose StayInfos names no chain to the partner its file is accepted under, by the file name', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      const file = w.dropHotel(null, [stay('A-1')], 'GS_GSBER01_StayInfoNotif_20260612.xml');
      expect(shown(await w.simulate('hotel', file, '2026-06-13'))).toEqual([
        [hotelKey('GRANDSTAY', 'A-1'), 'POSTED', null, 200],
      ]);
      await w.night('2026-06-13');
      expect(await w.knex('files').where({ direction: 'in', feed: 'hotel' }).first()).toMatchObject({
        verdict: 'accepted',
        partner_code: 'GRANDSTAY',
      });
      expect(await w.activity(hotelKey('GRANDSTAY', 'A-1'))).toMatchObject({
        status: 'POSTED',
        points: 200, // 100.00 × 2
        rule_version: 'GRANDSTAY-2024',
        partner_code: 'GRANDSTAY',
      });
      expect(await w.rejects({ feed: 'hotel' })).toEqual([]);
      expect(await w.balance(IVANOV.number)).toBe(200);
    });

    it('keeps a chain a stay names as its own: unknown, it is NO_CONTRACT; a StayInfos without one is of the document’s chain, not the file name’s', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      // The file name gives NA, no partner's chain: the file is GrandStay's by its first StayInfos.
      const file = w.dropHotelGroups(
        [
          { chain: 'GS', stays: [stay('B-1')] },
          { chain: 'ZZ', stays: [stay('B-2')] },
          { chain: null, stays: [stay('B-3')] },
        ],
        'NA_NABER01_StayInfoNotif_20260612.xml',
      );
      const noContract = 'no hotel partner for chain ZZ (partners[].hotelChains)';
      const simulated = await w.simulate('hotel', file, '2026-06-13');
      expect(shown(simulated)).toEqual([
        [hotelKey('GRANDSTAY', 'B-1'), 'POSTED', null, 200],
        [expect.any(Number), 'REJECTED', 'NO_CONTRACT', 'ChainCode'],
        [hotelKey('GRANDSTAY', 'B-3'), 'POSTED', null, 200],
      ]);
      await w.night('2026-06-13');
      expect(await w.knex('files').where({ direction: 'in', feed: 'hotel' }).first()).toMatchObject({
        verdict: 'accepted',
        partner_code: 'GRANDSTAY',
      });
      expect(await outcome(w, 'B-1')).toEqual(['POSTED', null, 200]);
      expect(await outcome(w, 'B-3')).toEqual(['POSTED', null, 200]);
      expect(
        (await w.rejects({ feed: 'hotel' })).map((r) => [r.record_ref, r.reason, r.field, r.message]),
      ).toEqual([['B-2', 'NO_CONTRACT', 'ChainCode', noContract]]);
      expect(await w.balance(IVANOV.number)).toBe(400);
    });

    it('earns a stay by its contract when the hotel proposes 0 points, credits the points it proposes, and refuses negative ones', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      const file = w.dropHotel('GS', [
        stay('C-1', { pointsEarned: 0 }),
        stay('C-2', { pointsEarned: 350 }),
        stay('C-3', { pointsEarned: -5 }),
      ]);
      expect(shown(await w.simulate('hotel', file, '2026-06-13'))).toEqual([
        [hotelKey('GRANDSTAY', 'C-1'), 'POSTED', null, 200],
        [hotelKey('GRANDSTAY', 'C-2'), 'POSTED', null, 350],
        [hotelKey('GRANDSTAY', 'C-3'), 'REJECTED', 'BAD_AMOUNT', 0],
      ]);
      await w.night('2026-06-13');
      expect(await outcome(w, 'C-1')).toEqual(['POSTED', null, 200]); // 100.00 × 2, as without PointsEarned
      expect(await outcome(w, 'C-2')).toEqual(['POSTED', null, 350]);
      expect(await outcome(w, 'C-3')).toEqual(['REJECTED', 'BAD_AMOUNT', 0]);
      expect(await w.balance(IVANOV.number)).toBe(550);
    });
  });
}
