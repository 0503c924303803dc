/**
 * Worked examples where the program rules meet: each computed by hand from README and MISSION and
 * checked on both engines, with the ledger invariants, by the scenario harness.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { memberNumber, useScenario, type Person } from './scenario.js';
import { couponsFrom } from './edges.js';

const HOUSEHOLD = { type: 'HOUSEHOLD', id: 'H9' } as const;
const ANNA: Person = { number: memberNumber(41), surname: 'SOKOLOVA', givenName: 'ANNA', group: HOUSEHOLD };
const BORIS: Person = { number: memberNumber(42), surname: 'SOKOLOV', givenName: 'BORIS', group: HOUSEHOLD };

const IVANOV: Person = { number: memberNumber(44), surname: 'IVANOV', givenName: 'IVAN' };
const PETROV: Person = { number: memberNumber(45), surname: 'PETROV', givenName: 'PETR' };

const cpn = couponsFrom(7_000_000_000, ANNA);

for (const engine of availableEngines()) {
  describe(`edge cases of pools (${engine})`, () => {
    const s = useScenario(engine);

    it('a redemption dated while the member was in a pool they have left since is that pool’s', async () => {
      const w = s();
      const CLARA: Person = {
        number: memberNumber(43),
        surname: 'SOKOLOVA',
        givenName: 'CLARA',
        group: { type: 'HOUSEHOLD', id: 'H8' },
      };
      await w.enrol('2026-01-01', ANNA, CLARA);
      w.dropCoupons([
        cpn(ANNA, '2026-02-10', '100.00'),
        cpn(CLARA, '2026-02-10', '100.00', { flight: '247' }),
      ]);
      await w.night('2026-02-11');
      expect([await w.poolBalance('H9'), await w.poolBalance('H8')]).toEqual([461, 461]);
      // ANNA moves to CLARA's household on the 13th; her award of the 12th, taken from H9, comes on the 15th.
      w.dropMembers([{ ...ANNA, group: CLARA.group, updatedAt: '2026-02-13T09:00:00Z' }]);
      await w.night('2026-02-13');
      w.dropRedemptions([
        { id: 'R-2', member: ANNA.number, date: '2026-02-12', service: 'AWARD_TICKET', points: 400 },
      ]);
      await w.night('2026-02-15');
      expect([await w.poolBalance('H9'), await w.poolBalance('H8')]).toEqual([61, 461]);
      const postings = await w.postingCount();
      await w.night('2026-02-15');
      expect(await w.postingCount()).toBe(postings);
    });

    it('a pool stored under a group id no account can carry keeps its members on their own accounts, the night going on', async () => {
      const w = s();
      await w.enrol('2026-01-01', ANNA, IVANOV);
      // Stored as the members feed took it before it refused such an id.
      await w.knex('pools').where({ code: 'H9' }).update({ code: 'H:9' });
      w.dropCoupons([
        cpn(ANNA, '2026-03-10', '100.00'),
        cpn(IVANOV, '2026-03-10', '100.00', { flight: '247' }),
      ]);
      const earned = await w.night('2026-03-11');
      expect([await w.balance(ANNA.number), await w.balance(IVANOV.number)]).toEqual([461, 461]);
      expect(earned.accrue.warnings).toEqual([
        `group id H:9 cannot name a pool account: its members ${ANNA.number} earn into and redeem from their own accounts until the CRM sends them with a group id of letters, digits and _ . -`,
      ]);
      w.dropRedemptions([
        { id: 'R-1', member: ANNA.number, date: '2026-03-12', service: 'SEAT', points: 400 },
        { id: 'R-2', member: IVANOV.number, date: '2026-03-12', service: 'SEAT', points: 400 },
      ]);
      await w.night('2026-03-12');
      expect([await w.balance(ANNA.number), await w.balance(IVANOV.number)]).toEqual([61, 61]);
      const postings = await w.postingCount();
      await w.night('2026-03-12');
      expect(await w.postingCount()).toBe(postings);
    });

    it('a group of another type under a pool’s group id is refused and never spends the pool’s points', async () => {
      const w = s();
      await w.enrol('2026-01-01', { ...IVANOV, group: { type: 'HOUSEHOLD', id: 'G1' } }, PETROV);
      w.dropCoupons([cpn(IVANOV, '2026-03-10', '100.00')]);
      await w.night('2026-03-11');
      expect(await w.poolBalance('G1')).toBe(461);
      const SIDOROV: Person = { number: memberNumber(46), surname: 'SIDOROV', givenName: 'SERGEI' };
      const file = w.dropMembers([
        { ...PETROV, group: { type: 'CORPORATE', id: 'G1' }, updatedAt: '2026-03-12T08:00:00Z' },
        { ...SIDOROV, group: { type: 'CORPORATE', id: 'G1' }, updatedAt: '2026-03-12T09:00:00Z' },
      ]);
      const night = await w.night('2026-03-12');
      expect(night.ingest.counts['members.enrolled'] ?? 0).toBe(0);
      const fileId = await w.inboundFileId(file);
      expect(await w.rejects({ feed: 'members' })).toEqual([
        expect.objectContaining({
          file_id: fileId,
          line: 2,
          field: 'group_type',
          reason: 'INCONSISTENT_FIELDS',
          message: `group G1 is a HOUSEHOLD pool, not CORPORATE: a group id names one pool of one type; nothing applied, ${PETROV.number} stays as it was`,
        }),
        expect.objectContaining({
          file_id: fileId,
          line: 3,
          field: 'group_type',
          reason: 'INCONSISTENT_FIELDS',
          message: expect.stringContaining(`nothing applied, ${SIDOROV.number} is not enrolled`),
        }),
      ]);
      const petrov = await w.member(PETROV.number);
      expect([petrov.pool_id, String(petrov.source_updated_at)]).toEqual([null, '2020-01-01T00:00:00.000Z']);
      expect(await w.member(SIDOROV.number)).toBeUndefined();
      w.dropRedemptions([
        { id: 'R-1', member: PETROV.number, date: '2026-03-13', service: 'SEAT', points: 400 },
      ]);
      await w.night('2026-03-13');
      const [redemption] = await w.activitiesOf(PETROV.number);
      expect([redemption?.status, redemption?.reason]).toEqual(['REJECTED', 'INSUFFICIENT_POINTS']);
      expect(await w.poolBalance('G1')).toBe(461);
    });

    it('a retro-claim of a pool member earns into the pool', async () => {
      const w = s();
      await w.enrol('2026-01-01', ANNA);
      const c = cpn(null, '2026-03-10', '100.00');
      w.dropCoupons([c]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: ANNA.number,
          received: '2026-03-28',
          ticket: c.ticket,
          coupon: 1,
          surname: 'SOKOLOVA',
          givenName: 'ANNA',
        },
      ]);
      await w.night('2026-03-28');
      expect([
        await w.poolBalance('H9'),
        await w.balance(ANNA.number),
        await w.statusBalance(ANNA.number),
      ]).toEqual([461, 0, 10000]);
    });

    it('a partner-airline claim and a hotel stay of a pool member earn into the pool', async () => {
      const w = s();
      await w.enrol('2026-01-01', ANNA);
      w.dropAllianceClaims('LH', [
        {
          id: 'L-1',
          member: ANNA.number,
          surname: 'SOKOLOVA',
          givenName: 'ANNA',
          carrier: 'LH',
          flight: '1447',
          date: '2026-03-10',
          from: 'FRA',
          to: 'SVO',
          cabin: 'Y',
          rbd: 'Y',
        },
      ]);
      await w.night('2026-03-11');
      w.dropHotel('GS', [
        {
          member: ANNA.number,
          surname: 'SOKOLOVA',
          givenName: 'ANNA',
          reservation: 'RES-1',
          checkIn: '2026-03-10',
          checkOut: '2026-03-12',
          revenue: [{ category: '9', amount: '200.00' }],
        },
      ]);
      await w.night('2026-03-13');
      const pool = await w.poolBalance('H9');
      expect(await w.balance(ANNA.number)).toBe(0);
      expect(pool).toBeGreaterThan(400);
    });

    it('a refund after the flyer left the pool takes the points back from the pool', async () => {
      const w = s();
      await w.enrol('2026-01-01', ANNA, BORIS);
      const c = cpn(ANNA, '2026-03-10', '100.00');
      w.dropCoupons([c]);
      await w.night('2026-03-11');
      expect(await w.poolBalance('H9')).toBe(461);
      w.dropMembers([{ ...ANNA, group: undefined, updatedAt: '2026-03-12T00:00:00Z' }]);
      await w.night('2026-03-12');
      w.dropCoupons([{ ...c, status: 'R' }]);
      await w.night('2026-03-13', { foretold: false });
      const a = (await w.activitiesOf(ANNA.number))[0]!;
      expect([a.status, await w.poolBalance('H9'), await w.statusBalance(ANNA.number)]).toEqual([
        'REVERSED',
        0,
        0,
      ]);
    });

    it('a pool redemption cancelled after the member left the pool goes back to the pool', async () => {
      const w = s();
      await w.enrol('2026-01-01', ANNA, BORIS);
      w.dropCoupons([cpn(ANNA, '2026-03-10', '100.00')]);
      await w.night('2026-03-11');
      w.dropRedemptions([
        { id: 'R-1', member: ANNA.number, date: '2026-03-12', service: 'SEAT', points: 400 },
      ]);
      await w.night('2026-03-12');
      w.dropMembers([{ ...ANNA, group: undefined, updatedAt: '2026-03-13T00:00:00Z' }]);
      await w.night('2026-03-13');
      w.dropRedemptions([
        {
          id: 'R-1',
          member: ANNA.number,
          date: '2026-03-14',
          service: 'SEAT',
          points: 400,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-03-14');
      expect([await w.poolBalance('H9'), await w.balance(ANNA.number)]).toEqual([461, 0]);
    });
  });
}
