/**
 * Activities an earlier night left for the night of their date (a partner record dated ahead): the night
 * decides them before tonight's records, so `simulate` must too — they take cap room and give the points
 * a redemption draws on — and show them on a line of their own, counted in the totals.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { allianceKey, partnerKey, redemptionKey } from '../activity.js';
import type { SimulationEvent } from '../../jobs/simulate.js';
import { memberNumber, useScenario, type Person } from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

const spend = (txn: string, date: string, amount: string) => ({
  txn,
  member: IVANOV.number,
  surname: 'IVANOV',
  date,
  type: 'CARD_SPEND',
  spend: amount,
  currency: 'USD',
});

const dueOf = (events: SimulationEvent[]) => events.filter((e) => e.type === 'due');
const summaryOf = (events: SimulationEvent[]) =>
  events.find((e): e is Extract<SimulationEvent, { type: 'summary' }> => e.type === 'summary')!;

for (const engine of availableEngines()) {
  describe(`simulate decides what an earlier night left due tonight (${engine})`, () => {
    const s = useScenario(engine);
    const outcome = async (w: ReturnType<typeof s>, txn: string) => {
      const a = await w.activity(partnerKey('REDBANK', txn));
      return [a?.status, a?.reason, a?.points];
    };

    it('a partner record dated ahead to tonight takes its cap room first: tonight’s record of the month is capped', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const first = w.dropPartner('REDBANK', '2026-03-20', [spend('D-1', '2026-03-21', '30000.00')]);
      await w.night('2026-03-20');
      expect(await w.activity(partnerKey('REDBANK', 'D-1'))).toMatchObject({
        status: 'PENDING',
        reason: 'DATED_AHEAD',
      });
      const second = w.dropPartner('REDBANK', '2026-03-21', [spend('D-2', '2026-03-21', '30000.00')]);

      // Simulated for the night before its date, D-1 still waits: no line, nothing counted.
      const early = await w.simulate('partner', second, '2026-03-20');
      expect(dueOf(early)).toEqual([]);
      expect(summaryOf(early)).toMatchObject({ records: 1, posted: 0, held: 1, points: 0 });

      const shown = await w.simulate('partner', second, '2026-03-21');
      expect(dueOf(shown)).toEqual([
        expect.objectContaining({
          file: first,
          fileId: await w.inboundFileId(first),
          line: 2,
          night: '2026-03-20',
          activity: partnerKey('REDBANK', 'D-1'),
          status: 'POSTED',
          points: 30000,
        }),
      ]);
      // Listed before the files: the night decides it ahead of them.
      expect(shown[0]!.type).toBe('due');
      expect(shown.find((e) => e.type === 'record')).toMatchObject({
        activity: partnerKey('REDBANK', 'D-2'),
        status: 'PARTIAL',
        reason: 'CAP_EXCEEDED',
        points: 20000,
      });
      expect(summaryOf(shown)).toMatchObject({
        records: 2,
        posted: 2,
        points: 50000,
        due: { records: 1, posted: 1, points: 30000 },
        files: [{ file: second, records: 1, posted: 1, points: 20000 }],
      });

      // The night bears it out (the harness holds it to what the simulator showed, due lines included).
      await w.night('2026-03-21');
      expect(await outcome(w, 'D-1')).toEqual(['POSTED', null, 30000]);
      expect(await outcome(w, 'D-2')).toEqual(['PARTIAL', 'CAP_EXCEEDED', 20000]);
      expect(await w.balance(IVANOV.number)).toBe(50000);
    });

    it('a reversal dated ahead to tonight frees its cap room first, and once posted waits no more', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropPartner('REDBANK', '2026-03-10', [spend('D-1', '2026-03-10', '30000.00')]);
      await w.night('2026-03-10');
      w.dropPartner('REDBANK', '2026-03-20', [
        { ...spend('D-1-R', '2026-03-21', '0'), spend: undefined, currency: undefined, points: -30000 },
      ]);
      await w.night('2026-03-20');
      expect(await w.activity(partnerKey('REDBANK', 'D-1-R'))).toMatchObject({
        status: 'PENDING',
        reason: 'DATED_AHEAD',
      });
      w.dropPartner('REDBANK', '2026-03-21', [spend('D-2', '2026-03-21', '40000.00')]);
      await w.night('2026-03-21');
      expect(await outcome(w, 'D-1')).toEqual(['REVERSED', 'REVERSED_BY_PARTNER', 30000]);
      expect(await outcome(w, 'D-1-R')).toEqual(['POSTED', null, -30000]);
      expect(await outcome(w, 'D-2')).toEqual(['POSTED', null, 40000]);
      expect(await w.balance(IVANOV.number)).toBe(40000);
    });

    it('a partner airline’s claim dated ahead to tonight, once credited, waits no more', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropAllianceClaims('LH', [
        {
          id: 'LH-1',
          member: IVANOV.number,
          surname: IVANOV.surname,
          carrier: 'LH',
          flight: '1444',
          date: '2026-03-21',
          from: 'FRA',
          to: 'SVO',
          cabin: 'C',
          rbd: 'C',
        },
      ]);
      await w.night('2026-03-20');
      expect(await w.activity(allianceKey('LH', 'LH-1'))).toMatchObject({
        status: 'PENDING',
        reason: 'DATED_AHEAD',
      });
      await w.night('2026-03-21');
      // Posted with the reason it waited for, the claim would read as still held on the daily report.
      expect(await w.activity(allianceKey('LH', 'LH-1'))).toMatchObject({
        status: 'POSTED',
        reason: null,
        points: 2514,
      });
      expect(await w.balance(IVANOV.number)).toBe(2514);
    });

    it('the points of a record dated ahead to tonight are there for tonight’s redemption', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropPartner('REDBANK', '2026-03-20', [spend('D-1', '2026-03-21', '1000.00')]);
      await w.night('2026-03-20');
      expect(await w.balance(IVANOV.number)).toBe(0);
      const file = w.dropRedemptions([
        { id: 'R-9', member: IVANOV.number, date: '2026-03-21', service: 'SEAT', points: 500 },
      ]);

      const shown = await w.simulate('redemptions', file, '2026-03-21');
      expect(dueOf(shown)).toMatchObject([
        { activity: partnerKey('REDBANK', 'D-1'), status: 'POSTED', points: 1000 },
      ]);
      expect(shown.find((e) => e.type === 'record')).toMatchObject({
        activity: redemptionKey('R-9'),
        status: 'POSTED',
        points: -500,
      });

      await w.night('2026-03-21');
      expect(await w.activity(redemptionKey('R-9'))).toMatchObject({ status: 'POSTED', points: -500 });
      expect(await w.balance(IVANOV.number)).toBe(500);
    });
  });
}
