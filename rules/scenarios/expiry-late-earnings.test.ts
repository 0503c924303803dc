/**
 * Inactivity expiry and earnings that arrive late (18 months without earning, a variant of the demo).
 * Partner files come days or weeks after the activity: an earning dated inside the period that arrives
 * after the expiry night shows the member was never 18 months without earning, so the expiry is taken
 * back (reinstated) in the transaction that credits the earning, the points returned to the very lots.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { Accounts } from '../../ledger/accounts.js';
import { accrueJob } from '../../jobs/accrue.js';
import { liabilityMovements } from '../../reports/queries.js';
import { poolClocks } from '../../ledger/queries.js';
import {
  memberNumber,
  replaceOnce,
  svoKznCoupon,
  useScenario,
  type Person,
  type Scenario,
} from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const PETROVA: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };
const HOUSEHOLD = { type: 'HOUSEHOLD', id: 'HH-1' } as const;
const MOTHER: Person = { number: memberNumber(11), surname: 'SMIRNOVA', givenName: 'OLGA', group: HOUSEHOLD };
const SON: Person = { number: memberNumber(12), surname: 'SMIRNOV', givenName: 'PAVEL', group: HOUSEHOLD };

/** A DRIVE rental day dated `date`, in the partner's file of `fileDate`: `points` dollars earn as many points. */
function rent(w: Scenario, who: Person, txn: string, date: string, points: number, fileDate = date): string {
  return w.dropPartner('DRIVE', fileDate, [
    {
      txn,
      member: who.number,
      surname: who.surname,
      date,
      type: 'RENTAL_DAY',
      spend: `${points}.00`,
      currency: 'USD',
    },
  ]);
}

const H1 = { type: 'HOUSEHOLD', id: 'H1' } as const;
const BORIS: Person = { number: memberNumber(21), surname: 'ORLOV', givenName: 'BORIS', group: H1 };
const ANNA: Person = { number: memberNumber(22), surname: 'VOLKOVA', givenName: 'ANNA' };

/** 18 months of inactivity instead of the demo's fixed 36-month term. */
const inactivity18 = (y: string) =>
  replaceOnce(
    y,
    'policy: fixedTerm            # points expire 36 months after the end of the month they were earned\n  months: 36',
    'policy: inactivity\n  months: 18',
  );

/**
 * BORIS earns 873 into H1 and ANNA 461 of her own on 10 March 2026; H1's points expire on the night of
 * 11 September 2027, and the members feed puts ANNA into H1 on 20 September. Her SVO–KZN of 5 September
 * 2027 comes on the next night (`late` false) or only after she joined (night of 25 September).
 */
async function anna(w: Scenario, late: boolean) {
  await w.enrol('2026-03-01', BORIS, ANNA);
  w.dropCoupons([
    { ...svoKznCoupon(BORIS, '0741000000021', '2026-03-10'), to: 'AER', flight: '101' },
    svoKznCoupon(ANNA, '0741000000022', '2026-03-10'),
  ]);
  await w.night('2026-03-11');
  expect([await w.poolBalance('H1'), await w.balance(ANNA.number)]).toEqual([873, 461]);
  const september = svoKznCoupon(ANNA, '0741000000023', '2027-09-05');
  if (!late) w.dropCoupons([september]);
  await w.night('2027-09-06');
  const expired = await w.night('2027-09-11');
  expect(expired.expire.counts).toMatchObject(
    late ? { lots: 2, points: 873 + 461 } : { lots: 1, points: 873 },
  );
  w.dropMembers([{ ...ANNA, group: H1, updatedAt: '2027-09-20T09:00:00Z' }]);
  await w.night('2027-09-20');
  expect((await w.member(ANNA.number)).pool_since).toBe('2027-09-20');
  if (late) w.dropCoupons([september]);
  const night = await w.night('2027-09-25');
  return { night, pool: await w.poolBalance('H1'), own: await w.balance(ANNA.number) };
}

const expiryBalance = async (w: Scenario) =>
  Number((await w.knex('accounts').where({ code: Accounts.expiry }).first('balance'))?.balance ?? 0);

const expiryKeys = async (w: Scenario) =>
  (await w.knex('postings').where({ kind: 'EXPIRY' }).orderBy('id').select('idempotency_key')).map(
    (p) => p.idempotency_key as string,
  );

for (const engine of availableEngines()) {
  describe(`inactivity expiry undone by a late earning (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        'policy: fixedTerm            # points expire 36 months after the end of the month they were earned\n  months: 36',
        'policy: inactivity\n  months: 18',
      ),
    );

    it('gives back to their lot the points expired on a night a later-arriving earning shows was inside the period', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      rent(w, IVANOV, 'L-1', '2026-01-10', 1000);
      await w.night('2026-01-10');
      const [lot] = await w.lots(IVANOV.number);
      expect((await w.night('2027-07-10')).expire.counts).toMatchObject({ lots: 1, points: 1000 });
      expect(await w.balance(IVANOV.number)).toBe(0);

      // A rental of 5 July comes in the partner's file of 12 July, inside its 90-day claim window.
      const file = rent(w, IVANOV, 'L-2', '2027-07-05', 100, '2027-07-12');
      // `simulate` foretells the reinstatement on the record whose earning makes it.
      const [shown] = (await w.simulate('partner', file, '2027-07-12')).filter((e) => e.type === 'record');
      expect(shown).toMatchObject({
        status: 'POSTED',
        points: 100,
        message: expect.stringContaining(
          `1,000 points expired from ${Accounts.memberPoints(IVANOV.number)} on 2027-07-10 reinstated`,
        ),
        postings: [
          expect.objectContaining({ kind: 'ACCRUAL' }),
          { key: `EXP:${lot!.id}:REINSTATE`, kind: 'REVERSAL', reverses: `EXP:${lot!.id}` },
        ],
      });
      const night = await w.night('2027-07-12');
      expect(night.accrue.counts).toMatchObject({ 'reinstated.expiries': 1, 'reinstated.points': 1000 });
      expect(await w.balance(IVANOV.number)).toBe(1100);
      expect((await w.member(IVANOV.number)).last_activity_date).toBe('2027-07-05');
      expect(await w.posting(`EXP:${lot!.id}:REINSTATE`)).toMatchObject({
        kind: 'REVERSAL',
        businessDate: '2027-07-12',
        reversalOf: (await w.posting(`EXP:${lot!.id}`))!.id,
        entries: { [Accounts.memberPoints(IVANOV.number)]: 1000, [Accounts.expiry]: -1000 },
      });
      // The very lot, still earned on 10 January 2026, holds them again.
      const lots = await w.lots(IVANOV.number);
      expect(lots.map((l) => [l.id, l.remaining, l.earnedOn])).toEqual([
        [lot!.id, 1000, '2026-01-10'],
        [expect.any(Number), 100, '2027-07-05'],
      ]);
      // The night's liability movements count it against what expired.
      const movements = await liabilityMovements(w.w.t.db, '2027-07-12', '2027-07-12');
      expect(movements.filter((m) => m.kind === 'EXPIRY')).toEqual([
        expect.objectContaining({ reversal: true, points: 1000 }),
      ]);

      // A rerun posts nothing.
      const count = await w.postingCount();
      await w.run(accrueJob, '2027-07-12');
      expect(await w.postingCount()).toBe(count);

      // 18 months after 5 July 2027 everything expires, the lot a second time under its next key.
      expect((await w.night('2029-01-04')).expire.counts.lots).toBe(0);
      expect((await w.night('2029-01-05')).expire.counts).toMatchObject({ lots: 2, points: 1100 });
      expect(await expiryKeys(w)).toEqual([`EXP:${lot!.id}`, `EXP:${lot!.id}:2`, `EXP:${lots[1]!.id}`]);
      expect(await w.balance(IVANOV.number)).toBe(0);
    });

    it('undoes only the expiry nights the late earning falls before and within 18 months of', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      rent(w, IVANOV, 'L-1', '2026-01-10', 1000);
      await w.night('2026-01-10');
      await w.night('2027-07-10'); // the 1000 expire
      rent(w, IVANOV, 'L-2', '2027-08-01', 200);
      await w.night('2027-08-01');
      await w.night('2029-02-01'); // the 200 expire
      expect(await w.balance(IVANOV.number)).toBe(0);
      const [first, second] = await expiryKeys(w);

      // Dated after the first expiry night: it keeps alive what expired on the second only.
      rent(w, IVANOV, 'L-3', '2029-01-20', 30, '2029-02-03');
      const night = await w.night('2029-02-03');
      expect(night.accrue.counts).toMatchObject({ 'reinstated.expiries': 1, 'reinstated.points': 200 });
      expect(await w.posting(`${second}:REINSTATE`)).toBeDefined();
      expect(await w.posting(`${first}:REINSTATE`)).toBeUndefined();
      expect(await w.balance(IVANOV.number)).toBe(230);
    });

    it('gives back what expired when a retro-claim credits a flight flown inside the period', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      rent(w, IVANOV, 'L-1', '2026-01-10', 1000);
      await w.night('2026-01-10');
      // Flown on 5 July 2027 without the card: archived, credited to nobody.
      w.dropCoupons([
        {
          ticket: '0741000000001',
          flight: '245',
          date: '2027-07-05',
          from: 'SVO',
          to: 'KZN',
          booked: 'Y',
          surname: 'IVANOV',
          givenName: 'IVAN',
          card: null,
          fare: '100.00',
        },
      ]);
      await w.night('2027-07-06');
      await w.night('2027-07-10');
      expect(await w.balance(IVANOV.number)).toBe(0);
      const [expired] = await expiryKeys(w);
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2027-07-25',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2027-07-25');
      expect(await w.posting(`${expired}:REINSTATE`)).toMatchObject({
        entries: { [Accounts.memberPoints(IVANOV.number)]: 1000, [Accounts.expiry]: -1000 },
      });
      expect(await w.balance(IVANOV.number)).toBe(1461);
    });

    it('reinstates nothing from a lot whose credit was reversed after it expired', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      rent(w, IVANOV, 'L-1', '2026-01-10', 1000);
      await w.night('2026-01-10');
      const [lot] = await w.lots(IVANOV.number);
      await w.night('2027-07-10'); // the 1,000 expire
      // The partner reverses the rental: the lot had expired, so the reversal takes the 1,000 from EXPIRY.
      rent(w, IVANOV, 'L-1-R', '2027-07-11', -1000);
      await w.night('2027-07-11');
      expect(await w.posting('PTR:DRIVE:L-1:AWARD:REV')).toMatchObject({
        entries: expect.objectContaining({ [Accounts.expiry]: -1000 }),
      });
      expect(await expiryBalance(w)).toBe(0);

      // A late rental inside the period: the expiry should not have happened, but the points it took are
      // gone with their credit; giving them back would pay them out of nothing.
      const file = rent(w, IVANOV, 'L-2', '2027-07-05', 100, '2027-07-12');
      const [shown] = (await w.simulate('partner', file, '2027-07-12')).filter((e) => e.type === 'record');
      expect(shown).toMatchObject({ status: 'POSTED', points: 100 });
      expect(shown!.postings).toEqual([expect.objectContaining({ kind: 'ACCRUAL' })]);
      expect(shown!.message ?? '').not.toContain('reinstated');
      const night = await w.night('2027-07-12');
      expect(night.accrue.counts['reinstated.expiries'] ?? 0).toBe(0);
      expect(await w.posting(`EXP:${lot!.id}:REINSTATE`)).toBeUndefined();
      expect(await w.balance(IVANOV.number)).toBe(100);
      expect(await expiryBalance(w)).toBe(0);
      expect((await w.lots(IVANOV.number)).map((l) => l.remaining)).toEqual([100]);
      expect((await w.member(IVANOV.number)).last_activity_date).toBe('2027-07-05');

      const count = await w.postingCount();
      await w.run(accrueJob, '2027-07-12');
      expect(await w.postingCount()).toBe(count);
    });

    it("reinstates nothing from a lot a merge carried when the merged account's credit was reversed", async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      rent(w, IVANOV, 'L-1', '2026-01-10', 1000);
      await w.night('2026-01-10');
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: PETROVA.number, updatedAt: '2026-02-01T00:00:00Z' },
      ]);
      await w.night('2026-02-01');
      const [carried] = await w.lots(PETROVA.number);
      await w.night('2027-07-10'); // the 1,000 the merge carried expire from the survivor
      expect(await w.balance(PETROVA.number)).toBe(0);
      // The reversal follows the points into the survivor's lot and, expired there, takes them from EXPIRY.
      rent(w, IVANOV, 'L-1-R', '2027-07-11', -1000);
      await w.night('2027-07-11');
      expect(await w.posting('PTR:DRIVE:L-1:AWARD:REV')).toMatchObject({
        entries: expect.objectContaining({ [Accounts.expiry]: -1000 }),
      });

      rent(w, PETROVA, 'L-2', '2027-07-05', 100, '2027-07-12');
      const night = await w.night('2027-07-12');
      expect(night.accrue.counts['reinstated.expiries'] ?? 0).toBe(0);
      expect(await w.posting(`EXP:${carried!.id}:REINSTATE`)).toBeUndefined();
      expect(await w.balance(PETROVA.number)).toBe(100);
      expect(await expiryBalance(w)).toBe(0);
    });

    it('reinstates nothing for an earning reversed in the same file', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      rent(w, IVANOV, 'L-1', '2026-01-10', 1000);
      await w.night('2026-01-10');
      const [lot] = await w.lots(IVANOV.number);
      await w.night('2027-07-10'); // the 1,000 expire

      // The late rental and its reversal in one file: a reversed earning was no activity.
      const record = { member: IVANOV.number, surname: IVANOV.surname, type: 'RENTAL_DAY', currency: 'USD' };
      const file = w.dropPartner('DRIVE', '2027-07-12', [
        { ...record, txn: 'L-2', date: '2027-07-05', spend: '100.00' },
        { ...record, txn: 'L-2-R', date: '2027-07-12', spend: '-100.00' },
      ]);
      const shown = (await w.simulate('partner', file, '2027-07-12')).filter((e) => e.type === 'record');
      expect(shown.flatMap((e) => e.postings.map((p) => p.key))).not.toContain(`EXP:${lot!.id}:REINSTATE`);
      expect(shown.map((e) => e.message ?? '').join(' ')).not.toContain('reinstated');
      const night = await w.night('2027-07-12');
      expect(night.accrue.counts['reinstated.expiries'] ?? 0).toBe(0);
      expect(night.expire.counts.lots ?? 0).toBe(0);
      expect(await expiryKeys(w)).toEqual([`EXP:${lot!.id}`]);
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await expiryBalance(w)).toBe(1000);
      expect((await w.member(IVANOV.number)).last_activity_date).toBe('2026-01-10');

      const count = await w.postingCount();
      await w.run(accrueJob, '2027-07-12');
      expect(await w.postingCount()).toBe(count);
    });

    it("gives back to a pool what expired from it when a member's earning into it arrives late", async () => {
      const w = s();
      await w.enrol('2026-01-01', MOTHER, SON);
      rent(w, MOTHER, 'H-1', '2026-02-01', 300);
      await w.night('2026-02-01');
      expect((await w.night('2027-08-01')).expire.counts).toMatchObject({ points: 300 });
      expect(await w.poolBalance('HH-1')).toBe(0);

      rent(w, SON, 'H-2', '2027-07-28', 50, '2027-08-03');
      const night = await w.night('2027-08-03');
      expect(night.accrue.counts).toMatchObject({ 'reinstated.expiries': 1, 'reinstated.points': 300 });
      expect(await w.poolBalance('HH-1')).toBe(350);
      const [lot] = await w.poolLots('HH-1');
      expect((await w.posting(`EXP:${lot!.id}:REINSTATE`))?.entries).toEqual({
        [Accounts.poolPoints('HH-1')]: 300,
        [Accounts.expiry]: -300,
      });
    });

    describe('a member who has left the pool since the earning', () => {
      const other = useScenario(engine, inactivity18);

      /**
       * MOTHER's 300 earned into HH-1 on 1 February 2026 are due on 1 August 2027. SON, in HH-1 since
       * enrolment, rents on 28 July 2027; the members feed takes him out of HH-1 on `leaves` and, when
       * `rejoins` is given, puts him back then. His rental comes in the file of 29 July, or of `late`.
       */
      async function sonLeaves(w: Scenario, o: { leaves: string; rejoins?: string; late?: string }) {
        await w.enrol('2026-01-01', MOTHER, SON);
        rent(w, MOTHER, 'H-1', '2026-02-01', 300);
        await w.night('2026-02-01');
        const { group: _left, ...sonAlone } = SON;
        const nights = new Map<string, () => void>([
          ['2027-07-29', () => (o.late ? undefined : rent(w, SON, 'H-2', '2027-07-28', 50, '2027-07-29'))],
          ['2027-08-01', () => {}],
          [o.leaves, () => w.dropMembers([{ ...sonAlone, updatedAt: `${o.leaves}T09:00:00Z` }])],
        ]);
        if (o.rejoins)
          nights.set(o.rejoins, () => w.dropMembers([{ ...SON, updatedAt: `${o.rejoins}T09:00:00Z` }]));
        if (o.late) nights.set(o.late, () => rent(w, SON, 'H-2', '2027-07-28', 50, o.late));
        let last;
        for (const date of [...nights.keys()].sort()) {
          nights.get(date)!();
          last = await w.night(date);
        }
        return {
          night: last!,
          pool: await w.poolBalance('HH-1'),
          own: await w.balance(SON.number),
        };
      }

      it('gives back to the pool he was in on the expiry night what it lost, and credits his earning there', async () => {
        const onTime = await sonLeaves(s(), { leaves: '2027-08-02' });
        expect([onTime.pool, onTime.own]).toEqual([350, 0]);

        const w = other();
        const late = await sonLeaves(w, { leaves: '2027-08-02', late: '2027-08-03' });
        expect(late.night.accrue.counts).toMatchObject({
          'reinstated.expiries': 1,
          'reinstated.points': 300,
        });
        expect([late.pool, late.own]).toEqual([350, 0]);
        // The pool's clock counts the rental as it would have on time: nothing expires again.
        expect((await w.night('2027-08-04')).expire.counts.lots ?? 0).toBe(0);
        expect(await w.poolBalance('HH-1')).toBe(350);
        const count = await w.postingCount();
        await w.run(accrueJob, '2027-08-03');
        expect(await w.postingCount()).toBe(count);
      });

      for (const leaves of ['2027-07-30', '2027-08-05'])
        it(`gives back what the pool lost after a member who left it on ${leaves} and came back earned`, async () => {
          const onTime = await sonLeaves(s(), { leaves, rejoins: '2027-08-10' });
          expect([onTime.pool, onTime.own]).toEqual([350, 0]);

          const w = other();
          const late = await sonLeaves(w, { leaves, rejoins: '2027-08-10', late: '2027-08-15' });
          // His new stay began after the expiry night; his first covered the rental (and, left on 5 August,
          // the night too).
          expect((await w.member(SON.number)).pool_since).toBe('2027-08-10');
          expect(late.night.accrue.counts).toMatchObject({
            'reinstated.expiries': 1,
            'reinstated.points': 300,
          });
          expect([late.pool, late.own]).toEqual([350, 0]);
          expect((await w.night('2027-08-16')).expire.counts.lots ?? 0).toBe(0);
        });

      it('gives back nothing to the pool he moved to: his earning was the other pool’s', async () => {
        const w = other();
        const DAD: Person = {
          number: memberNumber(13),
          surname: 'SMIRNOV',
          givenName: 'IGOR',
          group: { type: 'HOUSEHOLD', id: 'HH-2' },
        };
        await w.enrol('2026-01-01', MOTHER, SON, DAD);
        rent(w, MOTHER, 'H-1', '2026-02-01', 300);
        rent(w, DAD, 'H-3', '2026-02-01', 500);
        await w.night('2026-02-01');
        // SON rents on 28 July in HH-1 and moves to HH-2 on the 30th; both pools expire on 1 August.
        w.dropMembers([{ ...SON, group: DAD.group, updatedAt: '2027-07-30T09:00:00Z' }]);
        await w.night('2027-07-30');
        expect((await w.night('2027-08-01')).expire.counts).toMatchObject({ points: 800 });
        rent(w, SON, 'H-2', '2027-07-28', 50, '2027-08-03');
        const late = await w.night('2027-08-03');
        // The rental is HH-1's: it brings back HH-1's 300, and HH-2's 500 stay expired.
        expect(late.accrue.counts).toMatchObject({ 'reinstated.expiries': 1, 'reinstated.points': 300 });
        expect(late.expire.counts.lots ?? 0).toBe(0);
        expect([await w.poolBalance('HH-1'), await w.poolBalance('HH-2')]).toEqual([350, 0]);
      });
    });

    describe('a member who leaves a pool her points moved into', () => {
      // BORIS, in H1, flies on 5 March (an older clock the pool would fall back to) or not at all.
      for (const boris of [undefined, '2026-03-05'])
        it(`keeps the points she brought as recent as her activity (BORIS ${boris ? `active ${boris}` : 'idle'})`, async () => {
          const w = s();
          await w.enrol('2026-03-01', BORIS, ANNA);
          w.dropCoupons([
            svoKznCoupon(ANNA, '0741000000022', '2026-03-10'),
            ...(boris ? [{ ...svoKznCoupon(BORIS, '0741000000021', boris), to: 'AER', flight: '101' }] : []),
          ]);
          await w.night('2026-03-11');
          const borisPoints = boris ? 873 : 0;
          expect([await w.poolBalance('H1'), await w.balance(ANNA.number)]).toEqual([borisPoints, 461]);
          w.dropMembers([{ ...ANNA, group: H1, updatedAt: '2026-03-12T09:00:00Z' }]);
          await w.night('2026-03-12');
          w.dropMembers([{ ...ANNA, updatedAt: '2026-04-01T09:00:00Z' }]);
          expect((await w.night('2026-04-01')).expire.counts.lots ?? 0).toBe(0);
          expect([await w.poolBalance('H1'), await w.balance(ANNA.number)]).toEqual([borisPoints + 461, 0]);
          // What she earns after leaving is her own account's activity, not the pool's.
          w.dropCoupons([svoKznCoupon(ANNA, '0741000000023', '2026-06-10')]);
          await w.night('2026-06-11');

          // The expire job, the warning and the forecast read one clock: her flight of 10 March.
          const [pool] = await w
            .knex('accounts')
            .where({ code: Accounts.poolPoints('H1') })
            .select('id');
          expect((await poolClocks(w.knex)).get(Number(pool!.id))).toBe('2026-03-10');
          expect((await w.night('2027-09-09')).expire.counts.lots ?? 0).toBe(0);
          expect(await w.poolBalance('H1')).toBe(borisPoints + 461);
          expect((await w.night('2027-09-11')).expire.counts).toMatchObject({
            lots: boris ? 2 : 1,
            points: borisPoints + 461,
          });
          expect(await w.poolBalance('H1')).toBe(0);
          expect(await w.balance(ANNA.number)).toBe(461);
        });
    });

    describe('a member who joins a pool after its points expired', () => {
      const other = useScenario(engine, inactivity18);

      it("brings back none of the pool's expired points with a late earning: it ends as the earning on time does", async () => {
        const onTime = await anna(s(), false);
        // On time: her 922 moved into H1 when she joined, BORIS's 873 stayed expired.
        expect([onTime.pool, onTime.own]).toEqual([922, 0]);
        expect(await expiryBalance(s())).toBe(873);

        const w = other();
        const late = await anna(w, true);
        // Late: her own 461 expired on the 11th is hers again; H1's 873 expired before she was in it.
        expect(late.night.accrue.counts).toMatchObject({
          'reinstated.expiries': 1,
          'reinstated.points': 461,
        });
        expect([late.pool, late.own]).toEqual([461, 461]);
        expect(late.pool + late.own).toBe(onTime.pool + onTime.own);
        expect(await expiryBalance(w)).toBe(873);
        const [borisLot] = await w
          .knex('lots as l')
          .join('accounts as a', 'a.id', 'l.account_id')
          .where('a.code', Accounts.poolPoints('H1'))
          .orderBy('l.id')
          .select('l.id');
        expect(await w.posting(`EXP:${borisLot!.id}:REINSTATE`)).toBeUndefined();

        const count = await w.postingCount();
        await w.run(accrueJob, '2027-09-25');
        expect(await w.postingCount()).toBe(count);
      });
    });
  });
}
