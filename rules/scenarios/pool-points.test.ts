/**
 * A pool member's points live in the pool when the program redeems from it (`pools.redeemFrom: pool`):
 * a member put into a pool by the members feed brings their own points along, and a merge into a pool
 * member moves the merged points into the pool, the lots keeping their dates and status staying personal;
 * a member leaving a pool leaves the pooled points in it. A program whose pools hold no points (`earnInto:
 * member`, `redeemFrom: member`) moves nothing.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { accrueJob } from '../../jobs/accrue.js';
import { Accounts } from '../../ledger/accounts.js';
import { liabilityMovements } from '../../reports/queries.js';
import { cancellationKey, redemptionKey } from '../activity.js';
import { memberNumber, replaceOnce, useScenario, type Person, type Scenario } from './scenario.js';

const HOUSEHOLD = { type: 'HOUSEHOLD', id: 'H1' } as const;
const ANNA: Person = { number: memberNumber(31), surname: 'SOKOLOVA', givenName: 'ANNA' };
const BORIS: Person = { number: memberNumber(32), surname: 'SOKOLOV', givenName: 'BORIS' };
const CLARA: Person = { number: memberNumber(33), surname: 'SOKOLOVA', givenName: 'CLARA', group: HOUSEHOLD };

let tickets = 0;
/** A Y flight from Moscow: SVO–AER earns 873 points, SVO–KZN 461. */
function fly(w: Scenario, who: Person, date: string, fare: string, to = 'AER'): void {
  w.dropCoupons([
    {
      ticket: `074${String(5_000_000_000 + ++tickets).slice(-10)}`,
      flight: '245',
      date,
      from: 'SVO',
      to,
      booked: 'Y',
      surname: who.surname,
      givenName: who.givenName,
      card: { program: 'XX', number: who.number },
      fare,
    },
  ]);
}

const view = (lots: Array<{ remaining: number; earnedOn: string; expiresOn: string | null }>) =>
  lots.map((l) => [l.remaining, l.earnedOn, l.expiresOn]);

for (const engine of availableEngines()) {
  describe(`pool members' points live in the pool (${engine})`, () => {
    const s = useScenario(engine);

    it('moves the points of a member who joins a pool into it, lots and dates kept, so the member can redeem them', async () => {
      const w = s();
      await w.enrol('2026-01-01', ANNA);
      fly(w, ANNA, '2026-02-20', '300.00', 'KZN');
      await w.night('2026-02-21');
      fly(w, ANNA, '2026-03-10', '400.00');
      await w.night('2026-03-11');
      expect(await w.balance(ANNA.number)).toBe(461 + 873);
      const own = view(await w.lots(ANNA.number));
      expect(own).toEqual([
        [461, '2026-02-20', '2029-02-28'],
        [873, '2026-03-10', '2029-03-31'],
      ]);

      w.dropMembers([{ ...ANNA, group: HOUSEHOLD, updatedAt: '2026-03-12T09:00:00Z' }]);
      const joined = await w.night('2026-03-12');
      expect(joined.ingest.counts['members.pooled']).toBe(1);
      expect(await w.balance(ANNA.number)).toBe(0);
      expect(await w.lots(ANNA.number)).toEqual([]);
      expect(await w.poolBalance('H1')).toBe(461 + 873);
      expect(view(await w.poolLots('H1'))).toEqual(own);
      expect(await w.posting(`POOL:${ANNA.number}:H1`)).toMatchObject({
        kind: 'TRANSFER',
        businessDate: '2026-03-12',
        entries: { [Accounts.memberPoints(ANNA.number)]: -1334, [Accounts.poolPoints('H1')]: 1334 },
      });
      // Status is personal: it stays with the member.
      expect(await w.statusBalance(ANNA.number)).toBe(70000);

      w.dropRedemptions([
        { id: 'R-1', member: ANNA.number, date: '2026-03-13', service: 'SEAT', points: 500 },
      ]);
      await w.night('2026-03-13');
      expect(await w.posting('RDM:R-1')).toMatchObject({
        kind: 'REDEMPTION',
        entries: { [Accounts.poolPoints('H1')]: -500, [Accounts.redemption('SEAT')]: 500 },
      });
      expect(await w.poolBalance('H1')).toBe(834);
      // Earliest expiry first: the February lot went, March's is whole.
      expect(view(await w.poolLots('H1'))).toEqual([[834, '2026-03-10', '2029-03-31']]);

      // Rerunning the nights posts nothing new.
      const postings = await w.postingCount();
      await w.night('2026-03-12');
      await w.night('2026-03-13');
      expect(await w.postingCount()).toBe(postings);
      expect(await w.poolBalance('H1')).toBe(834);
    });

    /** ANNA's SVO–KZN flight of 20 February, refunded. */
    const refundOf = (ticket: number) => ({
      ticket: `074${String(5_000_000_000 + ticket).slice(-10)}`,
      flight: '245',
      date: '2026-02-20',
      from: 'SVO',
      to: 'KZN',
      booked: 'Y',
      surname: ANNA.surname,
      givenName: ANNA.givenName,
      card: { program: 'XX', number: ANNA.number },
      fare: '300.00',
      status: 'R' as const,
    });

    it('takes the refund of a flight whose points moved into the pool back from the pool, and what the pool spent since is UNRECOVERED', async () => {
      const w = s();
      await w.enrol('2026-01-01', ANNA, CLARA);
      fly(w, ANNA, '2026-02-20', '300.00', 'KZN');
      await w.night('2026-02-21');
      const ticket = tickets;
      fly(w, CLARA, '2026-03-01', '400.00');
      await w.night('2026-03-02');
      w.dropMembers([{ ...ANNA, group: HOUSEHOLD, updatedAt: '2026-03-12T09:00:00Z' }]);
      await w.night('2026-03-12');
      expect(await w.poolBalance('H1')).toBe(873 + 461);
      // CLARA spends from the pool, earliest expiry first: all of ANNA's February lot and 539 of March's.
      w.dropRedemptions([
        { id: 'R-1', member: CLARA.number, date: '2026-03-13', service: 'SEAT', points: 1000 },
      ]);
      await w.night('2026-03-13');
      expect(await w.poolBalance('H1')).toBe(334);
      w.dropCoupons([refundOf(ticket)]);
      // Foretold by the simulator, which follows the points into the pool as the night does.
      const refund = await w.night('2026-03-14');
      expect(refund.accrue.counts['reject.INSUFFICIENT_POINTS']).toBeUndefined();
      expect(refund.accrue.counts.unrecoveredPoints).toBe(461 - 334);
      const reversals = (await w.postingsOf(ANNA.number)).filter((p) => p.kind === 'REVERSAL');
      expect(reversals).toHaveLength(1);
      const posting = await w.posting(reversals[0]!.key);
      expect(posting?.entries).toEqual({
        [Accounts.poolPoints('H1')]: -334,
        [Accounts.unrecovered]: -(461 - 334),
        [Accounts.ownFlights]: 461,
        [Accounts.memberStatus(ANNA.number, 'SPEND')]: -30000,
        [Accounts.statusIssued('SPEND')]: 30000,
      });
      expect(await w.poolBalance('H1')).toBe(0);
      expect(await w.poolLots('H1')).toEqual([]);
      // Status is personal and stayed with ANNA: it goes from her.
      expect(await w.statusBalance(ANNA.number)).toBe(0);
    });

    it('moves the points of an account merged into a pool member into the pool, and the status credits to the survivor', async () => {
      const w = s();
      await w.enrol('2026-01-01', BORIS, CLARA);
      fly(w, BORIS, '2026-03-10', '400.00');
      await w.night('2026-03-11');
      expect(await w.balance(BORIS.number)).toBe(873);
      const merged = view(await w.lots(BORIS.number));

      w.dropMembers([
        { ...BORIS, status: 'MERGED', mergedInto: CLARA.number, updatedAt: '2026-03-12T09:00:00Z' },
      ]);
      const n = await w.night('2026-03-12');
      expect(n.ingest.counts['members.merged']).toBe(1);
      expect(await w.balance(BORIS.number)).toBe(0);
      expect(await w.balance(CLARA.number)).toBe(0);
      expect(await w.poolBalance('H1')).toBe(873);
      expect(view(await w.poolLots('H1'))).toEqual(merged);
      expect(await w.posting(`MERGE:${BORIS.number}:${CLARA.number}`)).toMatchObject({
        kind: 'TRANSFER',
        entries: {
          [Accounts.memberPoints(BORIS.number)]: -873,
          [Accounts.poolPoints('H1')]: 873,
          [Accounts.memberStatus(BORIS.number, 'SPEND')]: -40000,
          [Accounts.memberStatus(CLARA.number, 'SPEND')]: 40000,
        },
      });
      expect(await w.statusBalance(CLARA.number)).toBe(40000);

      w.dropRedemptions([
        { id: 'R-2', member: CLARA.number, date: '2026-03-13', service: 'LOUNGE', points: 500 },
      ]);
      await w.night('2026-03-13');
      expect(await w.activity('RDM:R-2')).toMatchObject({ status: 'POSTED' });
      expect(await w.poolBalance('H1')).toBe(373);
    });

    it('debits the pool a merge moved them into for a redemption the merged member made before the merge', async () => {
      const w = s();
      await w.enrol('2026-01-01', BORIS, CLARA);
      fly(w, BORIS, '2026-03-10', '400.00');
      await w.night('2026-03-11');
      w.dropMembers([
        { ...BORIS, status: 'MERGED', mergedInto: CLARA.number, updatedAt: '2026-03-12T09:00:00Z' },
      ]);
      await w.night('2026-03-12');
      expect(await w.poolBalance('H1')).toBe(873);
      // Boris's seat of 11 March comes after the merge took his points into Clara's pool.
      w.dropRedemptions([
        { id: 'R-1', member: BORIS.number, date: '2026-03-11', service: 'SEAT', points: 300 },
      ]);
      await w.night('2026-03-13');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'POSTED', points: -300 });
      expect((await w.posting(redemptionKey('R-1')))?.entries).toEqual({
        [Accounts.poolPoints('H1')]: -300,
        [Accounts.redemption('SEAT')]: 300,
      });
      expect(await w.poolBalance('H1')).toBe(573);
    });

    it('debits the pool she was in, not the survivor, for a redemption a pool member made before her merge; its cancellation gives them back to the pool', async () => {
      const w = s();
      await w.enrol('2026-01-01', { ...ANNA, group: HOUSEHOLD }, BORIS, CLARA);
      fly(w, ANNA, '2026-03-10', '400.00');
      fly(w, BORIS, '2026-03-10', '300.00', 'KZN');
      await w.night('2026-03-11');
      // The CRM merges ANNA into BORIS, out of the household: her points were the pool's, and stay there.
      w.dropMembers([
        { ...ANNA, status: 'MERGED', mergedInto: BORIS.number, updatedAt: '2026-03-12T09:00:00Z' },
      ]);
      await w.night('2026-03-12');
      expect([await w.poolBalance('H1'), await w.balance(BORIS.number)]).toEqual([873, 461]);

      // Her seat of 11 March, issued against the household's points, comes the night after.
      const file = w.dropRedemptions([
        { id: 'R-1', member: ANNA.number, date: '2026-03-11', service: 'SEAT', points: 400 },
      ]);
      const entries = { [Accounts.poolPoints('H1')]: -400, [Accounts.redemption('SEAT')]: 400 };
      const shown = (await w.simulate('redemptions', file, '2026-03-13')).flatMap((e) =>
        e.type === 'record' ? [[e.activity, e.status, e.postings.map((p) => p.entries)]] : [],
      );
      expect(shown).toEqual([
        [
          redemptionKey('R-1'),
          'POSTED',
          [Object.entries(entries).map(([account, amount]) => expect.objectContaining({ account, amount }))],
        ],
      ]);
      await w.night('2026-03-13');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'POSTED', points: -400 });
      expect((await w.posting(redemptionKey('R-1')))?.entries).toEqual(entries);
      // Hers, as any pool member's redemption: BORIS was never in the household.
      expect((await w.postingsOf(ANNA.number)).map((p) => p.key)).toContain(redemptionKey('R-1'));
      expect([await w.poolBalance('H1'), await w.balance(BORIS.number)]).toEqual([473, 461]);

      // Cancelled under the survivor's number, the points go back where they came from.
      w.dropRedemptions([
        {
          id: 'R-1',
          member: BORIS.number,
          date: '2026-03-14',
          service: 'SEAT',
          points: 400,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-03-14');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({ status: 'POSTED', points: 400 });
      expect([await w.poolBalance('H1'), await w.balance(BORIS.number)]).toEqual([873, 461]);
    });

    it('debits the pool she was in, not the survivor’s pool, for a redemption a pool member made before her merge, the survivor closed since', async () => {
      const w = s();
      const H2 = { type: 'HOUSEHOLD', id: 'H2' } as const;
      await w.enrol('2026-01-01', { ...ANNA, group: HOUSEHOLD }, { ...BORIS, group: H2 }, CLARA);
      fly(w, ANNA, '2026-03-10', '400.00');
      fly(w, BORIS, '2026-03-10', '300.00', 'KZN');
      await w.night('2026-03-11');
      // ANNA moves to her husband's household as she is merged into his account.
      w.dropMembers([
        {
          ...ANNA,
          group: H2,
          status: 'MERGED',
          mergedInto: BORIS.number,
          updatedAt: '2026-03-12T09:00:00Z',
        },
      ]);
      await w.night('2026-03-12');
      expect([await w.poolBalance('H1'), await w.poolBalance('H2')]).toEqual([873, 461]);
      w.dropRedemptions([
        { id: 'R-1', member: ANNA.number, date: '2026-03-11', service: 'SEAT', points: 400 },
      ]);
      await w.night('2026-03-13');
      expect((await w.posting(redemptionKey('R-1')))?.entries).toEqual({
        [Accounts.poolPoints('H1')]: -400,
        [Accounts.redemption('SEAT')]: 400,
      });
      expect([await w.poolBalance('H1'), await w.poolBalance('H2')]).toEqual([473, 461]);

      // The survivor's closure takes nothing from the household she spent from.
      w.dropMembers([{ ...BORIS, group: H2, status: 'CLOSED', updatedAt: '2026-03-14T09:00:00Z' }]);
      await w.night('2026-03-14');
      w.dropRedemptions([
        { id: 'R-2', member: ANNA.number, date: '2026-03-11', service: 'LOUNGE', points: 100 },
      ]);
      await w.night('2026-03-15');
      expect(await w.activity(redemptionKey('R-2'))).toMatchObject({ status: 'POSTED', points: -100 });
      expect(await w.poolBalance('H1')).toBe(373);
    });

    it('takes back from EXPIRY the pool points a member’s redemption of their last day spends, sent the night after expire took them', async () => {
      const w = s();
      await w.enrol('2026-01-01', ANNA, CLARA);
      // ANNA's March flight (873, expiring 31 March 2029) comes into the pool with her; CLARA earns
      // June's 461 (30 June 2029) into it.
      fly(w, ANNA, '2026-03-10', '400.00');
      await w.night('2026-03-11');
      w.dropMembers([{ ...ANNA, group: HOUSEHOLD, updatedAt: '2026-03-12T09:00:00Z' }]);
      await w.night('2026-03-12');
      fly(w, CLARA, '2026-06-10', '300.00', 'KZN');
      await w.night('2026-06-11');
      expect(view(await w.poolLots('H1'))).toEqual([
        [873, '2026-03-10', '2029-03-31'],
        [461, '2026-06-10', '2029-06-30'],
      ]);
      const march = (await w.poolLots('H1'))[0]!.id;
      expect((await w.night('2029-03-31')).expire.counts).toMatchObject({ lots: 1, points: 873 });
      expect(await w.poolBalance('H1')).toBe(461);

      // CLARA's seat was issued on 31 March against March's pool points; the file comes a night later.
      const file = w.dropRedemptions([
        { id: 'R-1', member: CLARA.number, date: '2029-03-31', service: 'SEAT', points: 500 },
      ]);
      const shown = (await w.simulate('redemptions', file, '2029-04-01')).flatMap((e) =>
        e.type === 'record' ? [[e.activity, e.status, e.message ?? null]] : [],
      );
      expect(shown).toEqual([
        [
          redemptionKey('R-1'),
          'POSTED',
          `500 points of it were valid on 2029-03-31 and expired since: taken back from ${Accounts.expiry}`,
        ],
      ]);
      const night = await w.night('2029-04-01');
      expect(await w.posting(redemptionKey('R-1'))).toMatchObject({
        entries: { [Accounts.poolPoints('H1')]: -500, [Accounts.redemption('SEAT')]: 500 },
        detail: { unexpired: 500 },
      });
      // The pool's expiry is taken back whole, and what the seat left of it expires again.
      expect((await w.posting(`EXP:${march}:REDEEMED`))?.entries).toEqual({
        [Accounts.expiry]: -873,
        [Accounts.poolPoints('H1')]: 873,
      });
      expect((await w.posting(`EXP:${march}:2`))?.entries).toEqual({
        [Accounts.poolPoints('H1')]: -373,
        [Accounts.expiry]: 373,
      });
      // June's lot untouched, nothing left with the members; 373 of March's 873 expired, 500 redeemed.
      expect(view(await w.poolLots('H1'))).toEqual([[461, '2026-06-10', '2029-06-30']]);
      expect(await w.poolBalance('H1')).toBe(461);
      expect([await w.balance(ANNA.number), await w.balance(CLARA.number)]).toEqual([0, 0]);
      expect(night.expire.counts).toMatchObject({ lots: 0, points: 0 });
      const movements = await liabilityMovements(w.w.t.db, '2029-03-31', '2029-04-01');
      const sum = (kind: string) =>
        movements.filter((m) => m.kind === kind).reduce((n, m) => n - m.points, 0);
      expect([sum('EXPIRY'), sum('REDEMPTION')]).toEqual([373, 500]);

      // A rerun posts nothing.
      const count = await w.postingCount();
      await w.run(accrueJob, '2029-04-01');
      await w.night('2029-04-02');
      expect(await w.postingCount()).toBe(count);
      expect(await w.poolBalance('H1')).toBe(461);
    });

    /**
     * `marchFlyer`'s flight of 10 March 2026 (873 points, into H1 for CLARA, her own for ANNA) and ANNA's of
     * 10 June (461), then the expire of 31 March 2029 that takes the March lot, and ANNA joining H1 on
     * 1 April, her June lot moved into the pool. Returns the expired March lot's id.
     */
    async function annaJoinsAfterMarchExpired(w: Scenario, marchFlyer: Person): Promise<number> {
      await w.enrol('2026-01-01', ANNA, CLARA);
      fly(w, marchFlyer, '2026-03-10', '400.00');
      await w.night('2026-03-11');
      const march = (marchFlyer === CLARA ? await w.poolLots('H1') : await w.lots(ANNA.number))[0]!.id;
      fly(w, ANNA, '2026-06-10', '300.00', 'KZN');
      await w.night('2026-06-11');
      expect((await w.night('2029-03-31')).expire.counts).toMatchObject({ lots: 1, points: 873 });
      w.dropMembers([{ ...ANNA, group: HOUSEHOLD, updatedAt: '2029-04-01T09:00:00Z' }]);
      await w.night('2029-04-01');
      expect([await w.balance(ANNA.number), await w.poolBalance('H1')]).toEqual([0, 461]);
      return march;
    }

    /** ANNA's seat R-1 of 30 March 2029 for `points`, read on 2 April: what the simulator shows of it. */
    async function seatOf30March(w: Scenario, points: number): Promise<unknown[][]> {
      const file = w.dropRedemptions([
        { id: 'R-1', member: ANNA.number, date: '2029-03-30', service: 'SEAT', points },
      ]);
      return (await w.simulate('redemptions', file, '2029-04-02')).flatMap((e) =>
        e.type === 'record' ? [[e.activity, e.status, e.message ?? null]] : [],
      );
    }

    it('spends the points a member brought into a pool for her redemption dated before she joined, never reviving its other members’ expired points', async () => {
      const w = s();
      // CLARA's March 873 are the pool's and expire on 31 March 2029; ANNA, in no pool, earns June's 461.
      const claras = await annaJoinsAfterMarchExpired(w, CLARA);
      // Her seat of 30 March, when she held her own 461 and was in no pool, comes on 2 April.
      expect(await seatOf30March(w, 300)).toEqual([[redemptionKey('R-1'), 'POSTED', null]]);
      await w.night('2029-04-02');
      const posting = await w.posting(redemptionKey('R-1'));
      expect(posting?.entries).toEqual({
        [Accounts.poolPoints('H1')]: -300,
        [Accounts.redemption('SEAT')]: 300,
      });
      // CLARA's expired points were never ANNA's to spend: her expiry stands, and the seat takes 300 of
      // the 461 ANNA brought.
      expect(posting?.detail ?? null).toBeNull();
      expect(await w.posting(`EXP:${claras}:REDEEMED`)).toBeUndefined();
      expect(view(await w.poolLots('H1'))).toEqual([[161, '2026-06-10', '2029-06-30']]);
      expect(await w.poolBalance('H1')).toBe(161);
    });

    it('takes back on her own account what expired of her points before she joined a pool, for her redemption dated then, and moves it into the pool', async () => {
      const w = s();
      // ANNA's own March 873 expire on her account on 31 March 2029; her June 461 stay valid. Joining H1
      // on 1 April moves her open June lot; the expired March one stays on her account.
      const march = await annaJoinsAfterMarchExpired(w, ANNA);
      // Her seat of 30 March, when she held 1,334 valid points of her own, read on 2 April.
      expect(await seatOf30March(w, 500)).toEqual([
        [
          redemptionKey('R-1'),
          'POSTED',
          `500 points of it were valid on 2029-03-30 and expired since: taken back from ${Accounts.expiry}`,
        ],
      ]);
      await w.night('2029-04-02');
      expect(await w.posting(redemptionKey('R-1'))).toMatchObject({
        entries: { [Accounts.poolPoints('H1')]: -500, [Accounts.redemption('SEAT')]: 500 },
        detail: { unexpired: 500 },
      });
      // As without the join: March's expiry taken back on her account, the 500 moved into the pool as
      // joining moved the rest, and the 373 left expire again on her account.
      expect((await w.posting(`EXP:${march}:REDEEMED`))?.entries).toEqual({
        [Accounts.expiry]: -873,
        [Accounts.memberPoints(ANNA.number)]: 873,
      });
      expect(await w.posting(`${redemptionKey('R-1')}:POOLED`)).toMatchObject({
        kind: 'TRANSFER',
        entries: { [Accounts.memberPoints(ANNA.number)]: -500, [Accounts.poolPoints('H1')]: 500 },
      });
      expect((await w.posting(`EXP:${march}:2`))?.entries).toEqual({
        [Accounts.memberPoints(ANNA.number)]: -373,
        [Accounts.expiry]: 373,
      });
      expect([await w.balance(ANNA.number), await w.poolBalance('H1')]).toEqual([0, 461]);
      expect(view(await w.poolLots('H1'))).toEqual([[461, '2026-06-10', '2029-06-30']]);
      // A rerun posts nothing.
      const count = await w.postingCount();
      await w.run(accrueJob, '2029-04-02');
      expect(await w.postingCount()).toBe(count);

      // Cancelled: the 500 go back to the lot the move made, past its date, so to EXPIRY.
      w.dropRedemptions([
        {
          id: 'R-1',
          member: ANNA.number,
          date: '2029-04-05',
          service: 'SEAT',
          points: 500,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2029-04-05');
      expect(await w.posting(cancellationKey('R-1'))).toMatchObject({
        entries: { [Accounts.redemption('SEAT')]: -500, [Accounts.expiry]: 500 },
        detail: { lapsed: 500 },
      });
      expect([await w.balance(ANNA.number), await w.poolBalance('H1')]).toEqual([0, 461]);
    });

    it('debits the pool a member was in for her redemption dated before she left it, whose expired points were hers to spend', async () => {
      const w = s();
      await w.enrol('2026-01-01', { ...ANNA, group: HOUSEHOLD }, CLARA);
      // CLARA's March 873 are the household's, ANNA's among them, and expire on 31 March 2029.
      fly(w, CLARA, '2026-03-10', '400.00');
      await w.night('2026-03-11');
      expect((await w.night('2029-03-31')).expire.counts).toMatchObject({ lots: 1, points: 873 });
      // ANNA moves to household H2 on 1 April: her stay in H1 ends, and she joins H2 that night.
      w.dropMembers([{ ...ANNA, group: { type: 'HOUSEHOLD', id: 'H2' }, updatedAt: '2029-04-01T09:00:00Z' }]);
      await w.night('2029-04-01');
      // Her seat of 30 March, issued against H1's points, read on 2 April.
      w.dropRedemptions([
        { id: 'R-1', member: ANNA.number, date: '2029-03-30', service: 'SEAT', points: 300 },
      ]);
      await w.night('2029-04-02');
      expect(await w.posting(redemptionKey('R-1'))).toMatchObject({
        entries: { [Accounts.poolPoints('H1')]: -300, [Accounts.redemption('SEAT')]: 300 },
        detail: { unexpired: 300 },
      });
      expect(await w.posting(`${redemptionKey('R-1')}:POOLED`)).toBeUndefined();
      expect([await w.poolBalance('H1'), await w.poolBalance('H2')]).toEqual([0, 0]);
    });

    it('leaves the pooled points in the pool when the member leaves it; points earned since follow a return', async () => {
      const w = s();
      await w.enrol('2026-01-01', ANNA);
      fly(w, ANNA, '2026-03-10', '400.00');
      await w.night('2026-03-11');
      w.dropMembers([{ ...ANNA, group: HOUSEHOLD, updatedAt: '2026-03-12T09:00:00Z' }]);
      await w.night('2026-03-12');
      expect(await w.poolBalance('H1')).toBe(873);

      w.dropMembers([{ ...ANNA, updatedAt: '2026-04-01T09:00:00Z' }]);
      const left = await w.night('2026-04-01');
      expect(left.ingest.counts['members.pooled'] ?? 0).toBe(0);
      expect((await w.member(ANNA.number)).pool_id).toBeNull();
      expect(await w.poolBalance('H1')).toBe(873);
      expect(view(await w.poolLots('H1'))).toEqual([[873, '2026-03-10', '2029-03-31']]);
      expect(await w.balance(ANNA.number)).toBe(0);

      // Out of the pool she earns for herself; back in it, those points follow her under a key of their own.
      fly(w, ANNA, '2026-04-05', '300.00', 'KZN');
      await w.night('2026-04-06');
      expect(await w.balance(ANNA.number)).toBe(461);
      w.dropMembers([{ ...ANNA, group: HOUSEHOLD, updatedAt: '2026-04-07T09:00:00Z' }]);
      await w.night('2026-04-07');
      expect(await w.balance(ANNA.number)).toBe(0);
      expect(await w.poolBalance('H1')).toBe(873 + 461);
      expect(await w.posting(`POOL:${ANNA.number}:H1:2026-04-07T09:00:00.000Z`)).toMatchObject({
        entries: { [Accounts.memberPoints(ANNA.number)]: -461, [Accounts.poolPoints('H1')]: 461 },
      });
      expect(view(await w.poolLots('H1'))).toEqual([
        [873, '2026-03-10', '2029-03-31'],
        [461, '2026-04-05', '2029-04-30'],
      ]);
    });
  });

  describe(`a member who leaves a pool the night they joined it (${engine})`, () => {
    const s = useScenario(engine);
    const H2 = { type: 'HOUSEHOLD', id: 'H2' } as const;

    /** ANNA with 461 points of her own, earned on 20 February. */
    async function annaHas461(w: Scenario): Promise<void> {
      await w.enrol('2026-01-01', ANNA);
      fly(w, ANNA, '2026-02-20', '300.00', 'KZN');
      await w.night('2026-02-21');
      expect(await w.balance(ANNA.number)).toBe(461);
    }

    it('takes the points she brought on to her next pool, lots and dates kept, so she can spend them; a rerun posts nothing', async () => {
      const w = s();
      await annaHas461(w);
      w.dropMembers([
        { ...ANNA, group: HOUSEHOLD, updatedAt: '2026-03-12T09:00:00Z' },
        { ...ANNA, group: H2, updatedAt: '2026-03-12T10:00:00Z' },
      ]);
      const n = await w.night('2026-03-12');
      expect(n.ingest.counts['members.leftPoolTonight']).toBe(1);
      expect([await w.balance(ANNA.number), await w.poolBalance('H1'), await w.poolBalance('H2')]).toEqual([
        0, 0, 461,
      ]);
      expect(view(await w.poolLots('H2'))).toEqual([[461, '2026-02-20', '2029-02-28']]);
      expect(await w.posting(`UNPOOL:${ANNA.number}:H1:2026-03-12T10:00:00.000Z`)).toMatchObject({
        kind: 'TRANSFER',
        businessDate: '2026-03-12',
        entries: { [Accounts.poolPoints('H1')]: -461, [Accounts.poolPoints('H2')]: 461 },
      });
      // No night of hers in H1: no stay recorded, and nothing left there for anyone.
      expect(await w.knex('past_pool_memberships').count({ n: '*' }).first()).toMatchObject({ n: 0 });

      const postings = await w.postingCount();
      await w.night('2026-03-12');
      expect(await w.postingCount()).toBe(postings);

      w.dropRedemptions([
        { id: 'R-1', member: ANNA.number, date: '2026-03-13', service: 'SEAT', points: 400 },
      ]);
      await w.night('2026-03-13');
      expect(await w.activity('RDM:R-1')).toMatchObject({ status: 'POSTED' });
      expect(await w.poolBalance('H2')).toBe(61);
    });

    it('gives them back to her own account when she leaves for no pool, and leaves a pool she stayed in a night as before', async () => {
      const w = s();
      await annaHas461(w);
      w.dropMembers([
        { ...ANNA, group: HOUSEHOLD, updatedAt: '2026-03-12T09:00:00Z' },
        { ...ANNA, updatedAt: '2026-03-12T10:00:00Z' },
      ]);
      await w.night('2026-03-12');
      expect([await w.balance(ANNA.number), await w.poolBalance('H1')]).toEqual([461, 0]);
      expect(view(await w.lots(ANNA.number))).toEqual([[461, '2026-02-20', '2029-02-28']]);

      // A night in H2 is a stay: leaving on a later night leaves the points in it.
      w.dropMembers([{ ...ANNA, group: H2, updatedAt: '2026-03-13T09:00:00Z' }]);
      await w.night('2026-03-13');
      w.dropMembers([{ ...ANNA, group: HOUSEHOLD, updatedAt: '2026-03-14T09:00:00Z' }]);
      const later = await w.night('2026-03-14');
      expect(later.ingest.counts['members.leftPoolTonight']).toBeUndefined();
      expect([await w.balance(ANNA.number), await w.poolBalance('H1'), await w.poolBalance('H2')]).toEqual([
        0, 0, 461,
      ]);
    });
  });

  describe(`a program whose pools hold no points (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        replaceOnce(y, 'earnInto: pool', 'earnInto: member'),
        'redeemFrom: pool',
        'redeemFrom: member',
      ),
    );

    it('moves nothing into the pool: neither on joining, nor on a merge into a pool member, nor by earning', async () => {
      const w = s();
      await w.enrol('2026-01-01', ANNA, BORIS, CLARA);
      fly(w, ANNA, '2026-03-10', '400.00');
      fly(w, BORIS, '2026-03-10', '300.00', 'KZN');
      await w.night('2026-03-11');
      expect(await w.balance(ANNA.number)).toBe(873);
      expect(await w.balance(BORIS.number)).toBe(461);

      w.dropMembers([
        { ...ANNA, group: HOUSEHOLD, updatedAt: '2026-03-12T09:00:00Z' },
        { ...BORIS, status: 'MERGED', mergedInto: CLARA.number, updatedAt: '2026-03-12T09:00:00Z' },
      ]);
      const n = await w.night('2026-03-12');
      expect(n.ingest.counts['members.pooled'] ?? 0).toBe(0);
      expect(await w.posting(`POOL:${ANNA.number}:H1`)).toBeUndefined();
      expect(await w.balance(ANNA.number)).toBe(873);
      expect(await w.balance(CLARA.number)).toBe(461);
      expect(await w.poolBalance('H1')).toBe(0);

      fly(w, ANNA, '2026-03-12', '300.00', 'KZN');
      w.dropRedemptions([
        { id: 'R-3', member: ANNA.number, date: '2026-03-13', service: 'SEAT', points: 500 },
      ]);
      await w.night('2026-03-13');
      expect(await w.posting('RDM:R-3')).toMatchObject({
        entries: { [Accounts.memberPoints(ANNA.number)]: -500, [Accounts.redemption('SEAT')]: 500 },
      });
      expect(await w.balance(ANNA.number)).toBe(873 + 461 - 500);
      expect(await w.poolBalance('H1')).toBe(0);
    });
  });
}
