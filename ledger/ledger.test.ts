import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { availableEngines, createTestDatabase, enrolPlain, type TestDb } from '../test/harness/db.js';
import { canonical, fingerprint } from '../lib/fingerprint.js';
import { Accounts } from './accounts.js';
import { checkLedger } from './check.js';
import {
  IdempotencyConflictError,
  InsufficientPointsError,
  InvalidPostingError,
  ReversalBeforeOriginalError,
  UnbalancedPostingError,
  UnknownAccountOwnerError,
} from './errors.js';
import { Ledger, lotExpiry } from './ledger.js';
import { insertMember, insertPool } from './members.js';
import { balanceAsOf, openLots, statement, statusCreditsInWindow } from './queries.js';
import type { PostingInput } from './types.js';

const M1 = '1000000016';
const M2 = '1000000024';

function accrual(
  key: string,
  member: string,
  points: number,
  opts: Partial<PostingInput> & { expiresOn?: string } = {},
): PostingInput {
  return {
    key,
    kind: 'ACCRUAL',
    businessDate: opts.businessDate ?? '2026-11-26',
    channel: 'OWN_FLIGHTS',
    entries: [
      { account: Accounts.memberPoints(member), amount: points, expiresOn: opts.expiresOn ?? '2029-11-30' },
      { account: Accounts.ownFlights, amount: -points },
    ],
    ...opts,
  };
}

/** One own-flights credit in several entries: [member, points, expiry] each. */
function creditOf(
  key: string,
  parts: Array<[member: string, points: number, expiresOn: string]>,
): PostingInput {
  return {
    key,
    kind: 'ACCRUAL',
    businessDate: '2026-11-26',
    entries: [
      ...parts.map(([member, amount, expiresOn]) => ({
        account: Accounts.memberPoints(member),
        amount,
        expiresOn,
      })),
      { account: Accounts.ownFlights, amount: -parts.reduce((n, [, points]) => n + points, 0) },
    ],
  };
}

function redemption(key: string, member: string, points: number, businessDate = '2026-11-27'): PostingInput {
  return {
    key,
    kind: 'REDEMPTION',
    businessDate,
    channel: 'REDEMPTION:AWARD_TICKET',
    entries: [
      { account: Accounts.memberPoints(member), amount: -points },
      { account: Accounts.redemption('AWARD_TICKET'), amount: points },
    ],
  };
}

for (const engine of availableEngines()) {
  describe(`ledger on ${engine}`, () => {
    let t: TestDb;
    let ledger: Ledger;

    beforeEach(async () => {
      t = await createTestDatabase(engine);
      ledger = new Ledger(t.db, { now: () => new Date('2026-11-27T02:00:00Z') });
      for (const number of [M1, M2]) {
        await insertMember(t.db.knex, {
          number,
          status: 'ACTIVE',
          tier: 'MEMBER',
          surname: 'IVANOV',
          givenName: 'IVAN',
        });
      }
    });
    afterEach(async () => {
      await t.cleanup();
    });

    const balance = async (code: string) =>
      Number((await t.db.knex('accounts').where({ code }).first('balance'))?.balance ?? 0);

    it('an accrual credits the member, debits the funding account and opens a lot', async () => {
      const [r] = await ledger.post([accrual('A1', M1, 1500)]);
      expect(r!.status).toBe('posted');
      expect(await balance(Accounts.memberPoints(M1))).toBe(1500);
      expect(await balance(Accounts.ownFlights)).toBe(-1500);
      const lots = await openLots(t.db.knex, Accounts.memberPoints(M1));
      expect(lots).toMatchObject([
        { amount: 1500, remaining: 1500, expiresOn: '2029-11-30', earnedOn: '2026-11-26' },
      ]);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('check moves its progress one step an invariant, to the end, and closes it', async () => {
      await ledger.post([accrual('A1', M1, 1500)]);
      const steps: string[] = [];
      const report = await checkLedger(t.db.knex, {
        start: (label, total) => void steps.push(`start ${label} ${total}`),
        increment: (by = 1) => void steps.push(`+${by}`),
        stop: () => void steps.push('stop'),
      });
      expect(report.ok).toBe(true);
      expect(steps).toEqual([
        `start invariants ${report.checks.length}`,
        ...report.checks.map(() => '+1'),
        'stop',
      ]);
    });

    it('refuses a posting whose entries do not sum to zero, and writes nothing', async () => {
      const bad: PostingInput = {
        key: 'U1',
        kind: 'ACCRUAL',
        businessDate: '2026-11-26',
        entries: [
          { account: Accounts.memberPoints(M1), amount: 100 },
          { account: Accounts.ownFlights, amount: -99 },
        ],
      };
      await expect(ledger.post([accrual('OK1', M1, 10), bad])).rejects.toBeInstanceOf(UnbalancedPostingError);
      expect(await t.db.knex('postings').count({ n: '*' }).first()).toMatchObject({ n: expect.anything() });
      expect(Number((await t.db.knex('postings').count({ n: '*' }).first())!.n)).toBe(0);
    });

    it('balances per unit: points cannot pay for status credits', async () => {
      await expect(
        ledger.post([
          {
            key: 'X',
            kind: 'ADJUSTMENT',
            businessDate: '2026-11-26',
            entries: [
              { account: Accounts.memberPoints(M1), amount: 100 },
              { account: Accounts.statusIssued('SPEND'), amount: -100 },
            ],
          },
        ]),
      ).rejects.toBeInstanceOf(UnbalancedPostingError);
    });

    it('a replay with the same key and content returns the original posting and posts nothing new', async () => {
      const [first] = await ledger.post([accrual('A1', M1, 1500)]);
      const [again] = await ledger.post([accrual('A1', M1, 1500)]);
      expect(again).toEqual({ key: 'A1', status: 'duplicate', postingId: first!.postingId });
      expect(await balance(Accounts.memberPoints(M1))).toBe(1500);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('the same key with different content is an error naming both postings', async () => {
      await ledger.post([accrual('A1', M1, 1500)]);
      const err = await ledger.post([accrual('A1', M1, 1600)]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IdempotencyConflictError);
      expect((err as Error).message).toMatch(/A1 is already used by posting 1/);
    });

    it('a debit larger than the balance is refused with INSUFFICIENT_POINTS and never goes negative', async () => {
      await ledger.post([accrual('A1', M1, 1000)]);
      await expect(ledger.post([redemption('R1', M1, 1001)])).rejects.toBeInstanceOf(InsufficientPointsError);
      const [r] = await ledger.post([redemption('R1', M1, 1001)], { atomic: false });
      expect(r).toMatchObject({ status: 'refused', reason: 'INSUFFICIENT_POINTS' });
      expect(await balance(Accounts.memberPoints(M1))).toBe(1000);
    });

    it('a non-atomic batch commits what it can and reports each refusal', async () => {
      const results = await ledger.post(
        [accrual('A1', M1, 500), redemption('R1', M1, 800), redemption('R2', M1, 300)],
        {
          atomic: false,
        },
      );
      expect(results.map((r) => r.status)).toEqual(['posted', 'refused', 'posted']);
      expect(await balance(Accounts.memberPoints(M1))).toBe(200);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it("inside the caller's transaction: a refused atomic batch leaves nothing, a non-atomic one goes with the caller", async () => {
      await ledger.post([accrual('A1', M1, 1000)]);
      await t.db.transaction(async (trx) => {
        await expect(
          ledger.post([accrual('A2', M1, 100), redemption('R1', M1, 5000)], { trx }),
        ).rejects.toBeInstanceOf(InsufficientPointsError);
        const results = await ledger.post([accrual('A3', M1, 50), redemption('R2', M1, 5000)], {
          trx,
          atomic: false,
        });
        expect(results.map((r) => r.status)).toEqual(['posted', 'refused']);
      });
      await expect(
        t.db.transaction(async (trx) => {
          await ledger.post([accrual('A4', M1, 70)], { trx, atomic: false });
          throw new Error('the caller fails after posting');
        }),
      ).rejects.toThrow('the caller fails after posting');
      expect(await balance(Accounts.memberPoints(M1))).toBe(1050);
      expect(await t.db.knex('postings').orderBy('id').pluck('idempotency_key')).toEqual(['A1', 'A3']);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('debits consume lots earliest expiry first, never-expiring lots last', async () => {
      await ledger.post([
        accrual('A-late', M1, 300, { expiresOn: '2030-01-31' }),
        {
          ...accrual('A-never', M1, 200),
          entries: [
            { account: Accounts.memberPoints(M1), amount: 200, expiresOn: null },
            { account: Accounts.ownFlights, amount: -200 },
          ],
        },
        accrual('A-early', M1, 100, { expiresOn: '2027-03-31' }),
        accrual('A-mid', M1, 100, { expiresOn: '2028-06-30' }),
      ]);
      await ledger.post([redemption('R1', M1, 250)]);
      const lots = await openLots(t.db.knex, Accounts.memberPoints(M1));
      expect(lots.map((l) => [l.expiresOn, l.remaining])).toEqual([
        ['2030-01-31', 250],
        [null, 200],
      ]);
    });

    it('a reversal of a redemption gives back the same lots with their expiry dates', async () => {
      await ledger.post([
        accrual('A1', M1, 100, { expiresOn: '2027-01-31' }),
        accrual('A2', M1, 100, { expiresOn: '2028-01-31' }),
      ]);
      await ledger.post([redemption('R1', M1, 150)]);
      const [rev] = await ledger.post([{ key: 'R1:cancel', reverses: 'R1', businessDate: '2026-11-28' }]);
      expect(rev!.status).toBe('posted');
      const lots = await openLots(t.db.knex, Accounts.memberPoints(M1));
      expect(lots.map((l) => [l.expiresOn, l.remaining])).toEqual([
        ['2027-01-31', 100],
        ['2028-01-31', 100],
      ]);
      const reversal = await t.db.knex('postings').where({ idempotency_key: 'R1:cancel' }).first();
      const original = await t.db.knex('postings').where({ idempotency_key: 'R1' }).first();
      expect(reversal.reversal_of).toBe(original.id);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a reversal is posted once: replayed it is a duplicate, under another key it is refused', async () => {
      await ledger.post([accrual('A1', M1, 100)]);
      await ledger.post([{ key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-28' }]);
      const [again] = await ledger.post([{ key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-28' }]);
      expect(again!.status).toBe('duplicate');
      const [other] = await ledger.post([{ key: 'A1:rev2', reverses: 'A1', businessDate: '2026-11-28' }], {
        atomic: false,
      });
      expect(other).toMatchObject({ status: 'refused', reason: 'ALREADY_REVERSED' });
      expect(await balance(Accounts.memberPoints(M1))).toBe(0);
    });

    it('a reversal replayed with another shortfall setting is a conflict, not a duplicate', async () => {
      await ledger.post([accrual('A1', M1, 100)]);
      await ledger.post([redemption('R1', M1, 70)]);
      const rev = { key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-28' };
      const [first] = await ledger.post([{ ...rev, shortfallTo: Accounts.unrecovered }]);
      expect(first).toMatchObject({ status: 'posted', unrecovered: 70 });
      await expect(ledger.post([rev])).rejects.toBeInstanceOf(IdempotencyConflictError);
      await expect(ledger.post([{ ...rev, shortfallTo: Accounts.adjustment }])).rejects.toThrow(
        `idempotency key A1:rev is already used by posting ${first!.postingId}`,
      );
      const [again] = await ledger.post([{ ...rev, shortfallTo: Accounts.unrecovered }]);
      expect(again).toMatchObject({ status: 'duplicate', postingId: first!.postingId });
      expect(await balance(Accounts.unrecovered)).toBe(-70);
    });

    it('a reversal stored before its hash covered the shortfall account is still a duplicate replayed as before', async () => {
      await ledger.post([accrual('A1', M1, 100), accrual('A2', M1, 50)]);
      // A1's reversal without a shortfall account: its hash is what it always was.
      const plain = { key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-28' };
      const [a1] = await ledger.post([plain]);
      expect(await ledger.post([plain])).toEqual([
        { key: 'A1:rev', status: 'duplicate', postingId: a1!.postingId },
      ]);
      // A2's, posted with one and stored under the hash of the time, which left it out.
      await ledger.post([accrual('A3', M1, 200)]);
      await ledger.post([redemption('R2', M1, 230)]);
      const rev = { key: 'A2:rev', reverses: 'A2', businessDate: '2026-11-28', sourceRef: 'refund' };
      const [a2] = await ledger.post([{ ...rev, shortfallTo: Accounts.unrecovered }]);
      expect(a2).toMatchObject({ status: 'posted', unrecovered: 30 });
      await t.db
        .knex('postings')
        .where({ id: a2!.postingId })
        .update({
          content_hash: fingerprint(canonical(['REVERSAL', rev.businessDate, 'A2', rev.sourceRef])),
        });
      const [again] = await ledger.post([{ ...rev, shortfallTo: Accounts.unrecovered }]);
      expect(again).toMatchObject({ status: 'duplicate', postingId: a2!.postingId });
      await expect(ledger.post([rev])).rejects.toThrow(
        `posting ${a2!.postingId} charged the 30 points it could not take back to UNRECOVERED, offered again without a shortfall account`,
      );
      await expect(ledger.post([{ ...rev, shortfallTo: Accounts.adjustment }])).rejects.toThrow(
        'offered again charging ADJUSTMENT',
      );
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('reversing an accrual whose points were partly spent takes the rest from other lots, or is refused', async () => {
      await ledger.post([
        accrual('A1', M1, 100, { expiresOn: '2027-01-31' }),
        accrual('A2', M1, 100, { expiresOn: '2028-01-31' }),
      ]);
      await ledger.post([redemption('R1', M1, 80)]);
      await ledger.post([{ key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-28' }]);
      expect(await balance(Accounts.memberPoints(M1))).toBe(20);
      expect((await openLots(t.db.knex, Accounts.memberPoints(M1))).map((l) => l.remaining)).toEqual([20]);
      await ledger.post([redemption('R2', M1, 20)]);
      const [r] = await ledger.post([{ key: 'A2:rev', reverses: 'A2', businessDate: '2026-11-28' }], {
        atomic: false,
      });
      expect(r).toMatchObject({ status: 'refused', reason: 'INSUFFICIENT_POINTS' });
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('with a shortfall account, a reversal takes what the account holds (own lot first) and charges the rest there', async () => {
      await ledger.post([
        accrual('A1', M1, 100, { expiresOn: '2027-01-31' }),
        accrual('A2', M1, 100, { expiresOn: '2028-01-31' }),
      ]);
      await ledger.post([redemption('R1', M1, 170)]);
      // A1's lot is spent, A2's holds 30: all 30 come back, 70 of A2's 100 were spent.
      const [r] = await ledger.post([
        { key: 'A2:rev', reverses: 'A2', businessDate: '2026-11-28', shortfallTo: Accounts.unrecovered },
      ]);
      expect(r).toMatchObject({ status: 'posted', unrecovered: 70 });
      expect(await balance(Accounts.memberPoints(M1))).toBe(0);
      expect(await balance(Accounts.unrecovered)).toBe(-70);
      expect(await balance(Accounts.ownFlights)).toBe(-100);
      expect(await openLots(t.db.knex, Accounts.memberPoints(M1))).toEqual([]);
      const posting = await t.db.knex('postings').where({ idempotency_key: 'A2:rev' }).first();
      expect(JSON.parse(String(posting.detail))).toEqual({ unrecovered: 70 });
      // Covered in full, it is the plain mirror: nothing charged, no detail.
      await ledger.post([accrual('A3', M1, 50)]);
      const [full] = await ledger.post([
        { key: 'A3:rev', reverses: 'A3', businessDate: '2026-11-28', shortfallTo: Accounts.unrecovered },
      ]);
      expect(full).toMatchObject({ status: 'posted' });
      expect(full!.unrecovered).toBeUndefined();
      expect(await balance(Accounts.unrecovered)).toBe(-70);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a shortfall reversal dated before later entries takes only what every balance from its date on allows', async () => {
      await ledger.post([accrual('A1', M1, 100, { businessDate: '2026-11-01' })]);
      await ledger.post([redemption('R1', M1, 60, '2026-11-20')]);
      await ledger.post([accrual('A2', M1, 500, { businessDate: '2026-11-25' })]);
      // Dated 10 November: after the redemption of the 20th the member held 40 of A1's 100, so 40 come
      // back though 540 are held now; the 60 redeemed are unrecovered.
      const [r] = await ledger.post([
        { key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-10', shortfallTo: Accounts.unrecovered },
      ]);
      expect(r).toMatchObject({ status: 'posted', unrecovered: 60 });
      expect(await balance(Accounts.memberPoints(M1))).toBe(500);
      const report = await checkLedger(t.db.knex);
      expect(report.checks.flatMap((c) => c.violations)).toEqual([]);
    });

    it('refuses a reversal dated before its original, rather than write the credit off or refuse it for want of points', async () => {
      await ledger.post([accrual('A1', M1, 100, { businessDate: '2026-11-05', expiresOn: '2027-11-30' })]);
      for (const shortfall of [true, false]) {
        const [r] = await ledger.post(
          [
            {
              key: 'A1:rev',
              reverses: 'A1',
              businessDate: '2026-11-04',
              ...(shortfall ? { shortfallTo: Accounts.unrecovered } : {}),
            },
          ],
          { atomic: false },
        );
        expect(r).toMatchObject({ status: 'refused', reason: 'REVERSAL_BEFORE_ORIGINAL' });
        expect(r!.message).toBe(
          'reversal A1:rev is dated 2026-11-04, before posting A1 it reverses (dated 2026-11-05): a reversal cannot take effect before its original',
        );
      }
      await expect(
        ledger.post([{ key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-04' }]),
      ).rejects.toBeInstanceOf(ReversalBeforeOriginalError);
      expect(await t.db.knex('postings').where({ idempotency_key: 'A1:rev' }).first()).toBeUndefined();
      expect(await balance(Accounts.memberPoints(M1))).toBe(100);
      expect(await balance(Accounts.unrecovered)).toBe(0);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a night caught up after a later one posts a reversal of that night’s credit on the credit’s date', async () => {
      await ledger.post([accrual('A1', M1, 100, { businessDate: '2026-11-05', expiresOn: '2027-11-30' })]);
      const rev = {
        key: 'A1:rev',
        reverses: 'A1',
        businessDate: '2026-11-04',
        shortfallTo: Accounts.unrecovered,
      };
      const options = { atomic: false, reversalBeforeOriginal: 'date-at-original' as const };
      const [r] = await ledger.post([rev], options);
      expect(r).toMatchObject({ status: 'posted' });
      expect(r!.unrecovered).toBeUndefined();
      expect(await entriesOf('A1:rev')).toEqual({
        [Accounts.memberPoints(M1)]: -100,
        [Accounts.ownFlights]: 100,
      });
      const posting = await t.db.knex('postings').where({ idempotency_key: 'A1:rev' }).first();
      expect(String(posting.business_date)).toBe('2026-11-05');
      expect(JSON.parse(String(posting.detail))).toEqual({ askedDate: '2026-11-04' });
      expect(await balance(Accounts.memberPoints(M1))).toBe(0);
      expect(await openLots(t.db.knex, Accounts.memberPoints(M1))).toEqual([]);
      // The night run again asks the same: it is the same posting.
      const [again] = await ledger.post([rev], options);
      expect(again).toMatchObject({ status: 'duplicate', postingId: r!.postingId });
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a redemption of an old night run again takes back a later night’s expiry as of that night', async () => {
      const code = Accounts.memberPoints(M1);
      await ledger.post([accrual('A1', M1, 100, { businessDate: '2026-11-01', expiresOn: '2026-11-20' })]);
      const [lot] = await openLots(t.db.knex, code);
      await ledger.post([lotExpiry({ id: lot!.id, code, expiresOn: '2026-11-20' }, 100, 0, '2026-11-20')]);
      // The seat bought on the 15th, posted by that night run again after the expiry of the 20th.
      const [r] = await ledger.post([
        { ...redemption('R1', M1, 30, '2026-11-15'), activityDate: '2026-11-15', memberNumber: M1 },
      ]);
      expect(r).toMatchObject({ status: 'posted', unexpired: 30 });
      const back = await t.db
        .knex('postings')
        .where({ idempotency_key: `EXP:${lot!.id}:REDEEMED` })
        .first();
      expect(String(back.business_date)).toBe('2026-11-20');
      expect(JSON.parse(String(back.detail))).toMatchObject({ askedDate: '2026-11-15' });
      // What the seat left expires again on the night it had expired, not before the lot's date: the
      // 70 points were the member's through the 20th, and November's expired figure is not moved.
      const again = await t.db
        .knex('postings')
        .where({ idempotency_key: `EXP:${lot!.id}:2` })
        .first();
      expect(String(again.business_date)).toBe('2026-11-20');
      expect(await balance(code)).toBe(0);
      expect(await balance(Accounts.expiry)).toBe(70);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a redemption takes back no expiry of a lot earned after its date: refused, or paid from points valid then', async () => {
      const code = Accounts.memberPoints(M1);
      const seat = {
        ...redemption('R1', M1, 60, '2026-11-01'),
        activityDate: '2026-10-30',
        memberNumber: M1,
      };
      // Earned on 3 November, expired the night of 31 December; the failed night of 1 November, caught
      // up after, brings a seat of 30 October, when the member held none of those points.
      await ledger.post([accrual('A1', M1, 100, { businessDate: '2026-11-03', expiresOn: '2026-12-31' })]);
      const [lot] = await openLots(t.db.knex, code);
      await ledger.post([lotExpiry({ id: lot!.id, code, expiresOn: '2026-12-31' }, 100, 0, '2026-12-31')]);
      const [r] = await ledger.post([seat], { atomic: false });
      expect(r).toMatchObject({
        status: 'refused',
        reason: 'INSUFFICIENT_POINTS',
        message: `posting R1 needs 60 from ${code}, which holds 0`,
      });
      expect(await balance(Accounts.expiry)).toBe(100);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);

      // With 500 earned on 1 October, valid on the seat's date, the seat is paid from them and
      // November's 100 stay expired.
      await ledger.post([accrual('A0', M1, 500, { businessDate: '2026-10-01', expiresOn: '2027-12-31' })]);
      const [paid] = await ledger.post([{ ...seat, key: 'R2' }]);
      expect(paid).toMatchObject({ status: 'posted' });
      expect(paid!.unexpired).toBeUndefined();
      expect(await balance(Accounts.expiry)).toBe(100);
      expect(await balance(code)).toBe(440);
      expect(await openLots(t.db.knex, code)).toMatchObject([{ remaining: 440, earnedOn: '2026-10-01' }]);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a lot a transfer carried keeps its earning date: a redemption dated between the two takes back its expiry', async () => {
      const from = Accounts.memberPoints(M1);
      const to = Accounts.memberPoints(M2);
      // Earned by M1 on 1 October, merged into M2 on 27 November, expired the night of 31 December.
      await ledger.post([accrual('A1', M1, 100, { businessDate: '2026-10-01', expiresOn: '2026-12-31' })]);
      await ledger.post([move('T1', M1, M2, 100)]);
      const [lot] = await openLots(t.db.knex, to);
      expect(lot).toMatchObject({ earnedOn: '2026-10-01' });
      await ledger.post([
        lotExpiry({ id: lot!.id, code: to, expiresOn: '2026-12-31' }, 100, 0, '2026-12-31'),
      ]);
      // A seat M2 bought on 30 November with those points, in a night caught up after the expiry.
      const [r] = await ledger.post([
        { ...redemption('R1', M2, 60, '2026-11-30'), activityDate: '2026-11-30', memberNumber: M2 },
      ]);
      expect(r).toMatchObject({ status: 'posted', unexpired: 60 });
      expect(await balance(from)).toBe(0);
      expect(await balance(to)).toBe(0);
      expect(await balance(Accounts.expiry)).toBe(40);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    /** Moves points (lots and dates along) and status credits from one member to another, as a merge does. */
    const move = (key: string, from: string, to: string, points: number, spend = 0): PostingInput => ({
      key,
      kind: 'TRANSFER',
      businessDate: '2026-11-27',
      carryLots: true,
      entries: [
        { account: Accounts.memberPoints(from), amount: -points },
        { account: Accounts.memberPoints(to), amount: points },
      ],
      statusCredits:
        spend > 0
          ? [
              { memberNumber: from, metric: 'SPEND', amount: -spend, activityDate: '2026-11-20' },
              { memberNumber: to, metric: 'SPEND', amount: spend, activityDate: '2026-11-20' },
            ]
          : [],
    });
    const reverse = (key: string, shortfall = true) =>
      ledger.post(
        [
          {
            key: `${key}:rev`,
            reverses: key,
            businessDate: '2026-11-28',
            ...(shortfall ? { shortfallTo: Accounts.unrecovered } : {}),
          },
        ],
        { atomic: false },
      );
    const entriesOf = async (key: string) =>
      Object.fromEntries(
        (
          await t.db
            .knex('entries as e')
            .join('postings as p', 'p.id', 'e.posting_id')
            .join('accounts as a', 'a.id', 'e.account_id')
            .where('p.idempotency_key', key)
            .select('a.code', 'e.amount')
        ).map((r: { code: string; amount: number | string }) => [r.code, Number(r.amount)]),
      );

    it('a reversal takes the points a transfer moved out of the account since from where they went, lots and status credits too', async () => {
      await ledger.post([
        accrual('A1', M1, 100, {
          expiresOn: '2027-01-31',
          statusCredits: [{ memberNumber: M1, metric: 'SPEND', amount: 15000, activityDate: '2026-11-20' }],
        }),
        accrual('A2', M1, 100, { expiresOn: '2028-01-31' }),
      ]);
      // A1's own lot is spent; A2's points move on (a pool joined, an account merged): not spent, moved.
      await ledger.post([redemption('R1', M1, 100)]);
      await ledger.post([move('MOVE', M1, M2, 100, 15000)]);
      await ledger.post([accrual('A3', M2, 50, { expiresOn: '2027-06-30' })]);
      const [r] = await reverse('A1');
      expect(r).toMatchObject({ status: 'posted' });
      expect(r!.unrecovered).toBeUndefined();
      expect(await entriesOf('A1:rev')).toEqual({
        [Accounts.memberPoints(M2)]: -100,
        [Accounts.ownFlights]: 100,
        [Accounts.memberStatus(M2, 'SPEND')]: -15000,
        [Accounts.statusIssued('SPEND')]: 15000,
      });
      // The lot the transfer carried goes, not the survivor's own earlier-expiring one.
      expect(
        (await openLots(t.db.knex, Accounts.memberPoints(M2))).map((l) => [l.remaining, l.expiresOn]),
      ).toEqual([[50, '2027-06-30']]);
      expect(await balance(Accounts.memberStatus(M1, 'SPEND'))).toBe(0);
      expect(await balance(Accounts.memberStatus(M2, 'SPEND'))).toBe(0);
      const window = { from: '2026-01-01', to: '2026-12-31' };
      expect(await statusCreditsInWindow(t.db.knex, M1, 'SPEND', window)).toBe(0);
      expect(await statusCreditsInWindow(t.db.knex, M2, 'SPEND', window)).toBe(0);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a reversal follows the points through every transfer since, and charges what no account holds to the shortfall account', async () => {
      const M3 = '1000000032';
      await enrolPlain(t.db, M3);
      await ledger.post([accrual('A1', M1, 300)]);
      await ledger.post([redemption('R1', M1, 50)]);
      await ledger.post([move('MOVE1', M1, M2, 250)]);
      await ledger.post([redemption('R2', M2, 100)]);
      await ledger.post([move('MOVE2', M2, M3, 150)]);
      await ledger.post([redemption('R3', M3, 120)]);
      const [r] = await reverse('A1');
      // 300 credited: 50 spent by M1, 100 by M2, 120 by M3; M3 holds the last 30.
      expect(r).toMatchObject({ status: 'posted', unrecovered: 270 });
      expect(await entriesOf('A1:rev')).toEqual({
        [Accounts.memberPoints(M3)]: -30,
        [Accounts.unrecovered]: -270,
        [Accounts.ownFlights]: 300,
      });
      for (const m of [M1, M2, M3]) expect(await balance(Accounts.memberPoints(m))).toBe(0);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('without a shortfall account, a reversal the accounts the points went to do not cover is refused whole', async () => {
      await ledger.post([accrual('A1', M1, 100)]);
      await ledger.post([move('MOVE', M1, M2, 100)]);
      await ledger.post([redemption('R1', M2, 60)]);
      const [r] = await reverse('A1', false);
      expect(r).toMatchObject({ status: 'refused', reason: 'INSUFFICIENT_POINTS' });
      expect(r!.message).toContain(Accounts.memberPoints(M1));
      expect(await balance(Accounts.memberPoints(M2))).toBe(40);
      // Covered where they went, it is taken there.
      await ledger.post([accrual('A2', M2, 60)]);
      expect(await reverse('A1', false)).toMatchObject([{ status: 'posted' }]);
      expect(await entriesOf('A1:rev')).toEqual({
        [Accounts.memberPoints(M2)]: -100,
        [Accounts.ownFlights]: 100,
      });
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    const spend = (member: string, amount: number, activityDate = '2026-11-20') => ({
      memberNumber: member,
      metric: 'SPEND' as const,
      amount,
      activityDate,
    });
    const window = { from: '2026-01-01', to: '2026-12-31' };

    it('follows status credits only to the survivor of their own merge, never through STATUS_ISSUED to another', async () => {
      const [M3, M4] = ['1000000032', '1000000040'];
      await enrolPlain(t.db, M3, M4);
      await ledger.post([accrual('A1', M1, 100, { statusCredits: [spend(M1, 15000)] })]);
      await ledger.post([move('MOVE1', M1, M2, 100, 15000)]);
      await ledger.post([accrual('A3', M3, 100, { statusCredits: [spend(M3, 5000)] })]);
      await ledger.post([move('MOVE2', M3, M4, 100, 5000)]);
      expect(await reverse('A1')).toMatchObject([{ status: 'posted' }]);
      expect(await entriesOf('A1:rev')).toEqual({
        [Accounts.memberPoints(M2)]: -100,
        [Accounts.ownFlights]: 100,
        [Accounts.memberStatus(M2, 'SPEND')]: -15000,
        [Accounts.statusIssued('SPEND')]: 15000,
      });
      for (const [member, left] of [
        [M1, 0],
        [M2, 0],
        [M4, 5000],
      ] as const) {
        expect(await balance(Accounts.memberStatus(member, 'SPEND')), member).toBe(left);
        expect(await statusCreditsInWindow(t.db.knex, member, 'SPEND', window), member).toBe(left);
      }
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('takes from the survivor no more status than the merge moved, however many dates it moved them under', async () => {
      await ledger.post([accrual('A1', M1, 100, { statusCredits: [spend(M1, 500, '2025-11-01')] })]);
      // A1's credits lapse before the merge; two later ones, of two dates, are what the merge moves.
      await ledger.post([
        {
          key: 'LAPSE',
          kind: 'STATUS_LAPSE',
          businessDate: '2026-11-27',
          entries: [
            { account: Accounts.memberStatus(M1, 'SPEND'), amount: -500 },
            { account: Accounts.statusLapsed('SPEND'), amount: 500 },
          ],
        },
        accrual('A2', M1, 10, { statusCredits: [spend(M1, 50, '2026-11-10')] }),
        accrual('A3', M1, 10, { statusCredits: [spend(M1, 50, '2026-11-11')] }),
      ]);
      // As the tiers job marks what it lapsed.
      const lapse = await t.db.knex('postings').where({ idempotency_key: 'LAPSE' }).first('id');
      await t.db
        .knex('status_credits')
        .where({ activity_date: '2025-11-01' })
        .update({ lapsed_by: lapse.id });
      await ledger.post([
        {
          ...move('MOVE', M1, M2, 120),
          statusCredits: [
            spend(M1, -50, '2026-11-10'),
            spend(M2, 50, '2026-11-10'),
            spend(M1, -50, '2026-11-11'),
            spend(M2, 50, '2026-11-11'),
          ],
        },
      ]);
      await ledger.post([accrual('A4', M2, 1, { statusCredits: [spend(M2, 900)] })]);
      expect(await reverse('A1')).toMatchObject([{ status: 'posted' }]);
      // 100 moved: that much comes from M2; the rest of the 500, lapsed at M1, is taken there as before.
      expect(await entriesOf('A1:rev')).toMatchObject({
        [Accounts.memberStatus(M1, 'SPEND')]: -400,
        [Accounts.memberStatus(M2, 'SPEND')]: -100,
      });
      expect(await balance(Accounts.memberStatus(M2, 'SPEND'))).toBe(900);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('follows the debits of an original with two entries on one account as one', async () => {
      await ledger.post([
        creditOf('A1', [
          [M1, 60, '2029-11-30'],
          [M1, 40, '2030-11-30'],
        ]),
      ]);
      await ledger.post([move('MOVE', M1, M2, 100)]);
      await ledger.post([accrual('A2', M2, 30)]);
      expect(await reverse('A1', false)).toMatchObject([{ status: 'posted' }]);
      expect(await entriesOf('A1:rev')).toEqual({
        [Accounts.memberPoints(M2)]: -100,
        [Accounts.ownFlights]: 100,
      });
      expect(await balance(Accounts.memberPoints(M2))).toBe(30);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('asks an account the original credited, that points were also moved into, for each point once', async () => {
      await ledger.post([
        creditOf('A1', [
          [M1, 100, '2029-11-30'],
          [M2, 100, '2029-11-30'],
        ]),
      ]);
      await ledger.post([move('MOVE', M1, M2, 100)]);
      await ledger.post([redemption('R1', M2, 150)]);
      const [r] = await reverse('A1');
      // M2 holds 50, which its own credit takes back; M1's points, moved to M2, were spent there.
      expect(r).toMatchObject({ status: 'posted', unrecovered: 150 });
      expect(await entriesOf('A1:rev')).toEqual({
        [Accounts.memberPoints(M2)]: -50,
        [Accounts.unrecovered]: -150,
        [Accounts.ownFlights]: 200,
      });
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('refuses, not writes off, a reversal dated before the transfer that moved its points away', async () => {
      await ledger.post([accrual('A1', M1, 100)]);
      await ledger.post([move('MOVE', M1, M2, 100)]); // dated 2026-11-27
      const [r] = await ledger.post(
        [{ key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-26', shortfallTo: Accounts.unrecovered }],
        { atomic: false },
      );
      expect(r).toMatchObject({ status: 'refused', reason: 'INSUFFICIENT_POINTS' });
      expect([await balance(Accounts.memberPoints(M2)), await balance(Accounts.unrecovered)]).toEqual([
        100, 0,
      ]);
      // Dated after the transfer, it is taken from M2.
      expect(await reverse('A1')).toMatchObject([{ status: 'posted' }]);
      expect(await balance(Accounts.memberPoints(M2))).toBe(0);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a transfer dated after the reversal blocks no write-off when the points are found further on, or were spent', async () => {
      const M3 = '1000000032';
      await enrolPlain(t.db, M3);
      await ledger.post([accrual('A0', M3, 100, { businessDate: '2026-11-20' })]);
      await ledger.post([accrual('A1', M1, 100)]);
      await ledger.post([redemption('R1', M1, 40, '2026-11-26')]);
      await ledger.post([
        { ...move('MOVE1', M1, M2, 60), businessDate: '2026-11-28' },
        { ...move('MOVE2', M2, M3, 60), businessDate: '2026-11-28' },
      ]);
      // Dated the 27th: M3, where the points went on, held 100 of its own then, enough for the 60.
      const [r] = await ledger.post(
        [{ key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-27', shortfallTo: Accounts.unrecovered }],
        { atomic: false },
      );
      expect(r).toMatchObject({ status: 'posted', unrecovered: 40 });
      expect(await entriesOf('A1:rev')).toMatchObject({ [Accounts.memberPoints(M3)]: -60 });
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a status-only merge dated after the reversal does not stop the spent points being written off', async () => {
      const M3 = '1000000032';
      await enrolPlain(t.db, M3);
      await ledger.post([accrual('A1', M1, 100, { statusCredits: [spend(M1, 500)] })]);
      await ledger.post([redemption('R1', M1, 100)]);
      await ledger.post([
        { ...move('MOVE1', M1, M2, 0, 500), entries: [] },
        { ...move('MOVE2', M2, M3, 0, 500), entries: [] },
      ]);
      const [r] = await ledger.post(
        [{ key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-26', shortfallTo: Accounts.unrecovered }],
        { atomic: false },
      );
      expect(r).toMatchObject({ status: 'posted', unrecovered: 100 });
      expect(await entriesOf('A1:rev')).toMatchObject({ [Accounts.memberStatus(M3, 'SPEND')]: -500 });
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('follows what moved on from a destination before what it holds now, which came after', async () => {
      const M3 = '1000000032';
      await enrolPlain(t.db, M3);
      await ledger.post([accrual('A1', M1, 130)]);
      await ledger.post([redemption('R1', M1, 30)]);
      await ledger.post([move('T1', M1, M2, 100)]);
      await ledger.post([move('T2', M2, M3, 100)]);
      // Credited after the member's points left, A2's go the same way but stop at M2.
      await ledger.post([accrual('A2', M1, 30)]);
      await ledger.post([move('T3', M1, M2, 30)]);
      // 130 taken from where the member's points went: M3's 100 (T1's, moved on), then M2's 30 (T3's).
      expect(await reverse('A1')).toMatchObject([{ status: 'posted' }]);
      expect(await entriesOf('A1:rev')).toEqual({
        [Accounts.memberPoints(M3)]: -100,
        [Accounts.memberPoints(M2)]: -30,
        [Accounts.ownFlights]: 130,
      });
      // The 30 spent are what A2's reversal cannot find.
      expect(await reverse('A2')).toMatchObject([{ status: 'posted', unrecovered: 30 }]);
      for (const m of [M1, M2, M3]) expect(await balance(Accounts.memberPoints(m))).toBe(0);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('takes from a transfer no more than it moved, however many paths reach it', async () => {
      const M3 = '1000000032';
      await enrolPlain(t.db, M3);
      await ledger.post([accrual('A0', M3, 500)]);
      await ledger.post([accrual('A1', M1, 130)]);
      await ledger.post([move('T1', M1, M2, 100)]);
      await ledger.post([redemption('R1', M2, 80)]);
      await ledger.post([move('T3', M1, M2, 30)]);
      await ledger.post([move('T2', M2, M3, 50)]);
      // T2 moved 50 of the member's points on: reached through T1 and through T3, it gives 50 in all.
      expect(await reverse('A1')).toMatchObject([{ status: 'posted', unrecovered: 80 }]);
      expect(await entriesOf('A1:rev')).toEqual({
        [Accounts.memberPoints(M3)]: -50,
        [Accounts.unrecovered]: -80,
        [Accounts.ownFlights]: 130,
      });
      expect(await balance(Accounts.memberPoints(M3))).toBe(500);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a later transfer onward that cannot give blocks nothing when the destination covers the share itself', async () => {
      const M3 = '1000000032';
      await enrolPlain(t.db, M3);
      await ledger.post([accrual('A0', M2, 100, { businessDate: '2026-11-20' })]);
      await ledger.post([accrual('A1', M1, 130)]);
      await ledger.post([redemption('R1', M1, 30, '2026-11-26')]);
      await ledger.post([
        { ...move('T1', M1, M2, 100), businessDate: '2026-11-28' },
        { ...move('T2', M2, M3, 200), businessDate: '2026-11-28' },
        accrual('A9', M2, 100, { businessDate: '2026-11-28' }),
      ]);
      // Dated the 27th: M3 held none of it then, but M2 held 100 of its own, enough for T1's share.
      const [r] = await ledger.post(
        [{ key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-27', shortfallTo: Accounts.unrecovered }],
        { atomic: false },
      );
      expect(r).toMatchObject({ status: 'posted', unrecovered: 30 });
      expect(await entriesOf('A1:rev')).toMatchObject({ [Accounts.memberPoints(M2)]: -100 });
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a transfer is reversed as it stands: nothing is followed into the transfer itself', async () => {
      await ledger.post([accrual('A1', M2, 100)]);
      await ledger.post([move('T0', M2, M1, 100)]);
      await ledger.post([move('T1', M1, M2, 100)]);
      const [r] = await reverse('T0', false);
      expect(r).toMatchObject({ status: 'refused', reason: 'INSUFFICIENT_POINTS' });
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    /**
     * A flight refunded (its credit A1 reversed) and a redemption R1 that spent A1's points cancelled,
     * in the order given, each a night apart from 6 November: the member's balance, lots and what went
     * to EXPIRY and UNRECOVERED.
     */
    const refundAndCancel = async (
      member: string,
      order: 'refund first' | 'cancellation first',
      expiries: [string, string],
      expireOn?: string,
    ) => {
      const code = Accounts.memberPoints(member);
      const k = (key: string) => `${member}:${key}`;
      const before = {
        expiry: await balance(Accounts.expiry),
        unrecovered: await balance(Accounts.unrecovered),
      };
      await ledger.post([
        accrual(k('A1'), member, 100, { businessDate: '2026-10-01', expiresOn: expiries[0] }),
        accrual(k('A2'), member, 100, { businessDate: '2026-10-01', expiresOn: expiries[1] }),
      ]);
      await ledger.post([redemption(k('R1'), member, 60, '2026-11-02')]);
      if (expireOn) {
        const [lot] = (await openLots(t.db.knex, code)).filter((l) => l.expiresOn === expiries[0]);
        await ledger.post([lotExpiry({ id: lot!.id, code, expiresOn: lot!.expiresOn }, 40, 0, expireOn)]);
      }
      const refund = (businessDate: string) => ({
        key: k('A1:rev'),
        reverses: k('A1'),
        businessDate,
        shortfallTo: Accounts.unrecovered,
      });
      const cancel = (businessDate: string) => ({ key: k('R1:cancel'), reverses: k('R1'), businessDate });
      if (order === 'refund first') {
        await ledger.post([refund('2026-11-06')]);
        await ledger.post([cancel('2026-11-07')]);
      } else {
        await ledger.post([cancel('2026-11-06')]);
        await ledger.post([refund('2026-11-07')]);
      }
      return {
        balance: await balance(code),
        lots: (await openLots(t.db.knex, code)).map((l) => ({
          remaining: l.remaining,
          expiresOn: l.expiresOn,
        })),
        expiry: (await balance(Accounts.expiry)) - before.expiry,
        unrecovered: (await balance(Accounts.unrecovered)) - before.unrecovered,
      };
    };

    it('a refund and a cancellation of a redemption of its points end the same whichever comes first, after an expiry', async () => {
      const dates: [string, string] = ['2026-11-05', '2026-12-20'];
      const refundFirst = await refundAndCancel(M1, 'refund first', dates, '2026-11-05');
      const cancellationFirst = await refundAndCancel(M2, 'cancellation first', dates, '2026-11-05');
      // A2's 100 whole: A1's 40 expired and its 60 redeemed and given back are all taken back with it.
      expect(cancellationFirst).toEqual({
        balance: 100,
        lots: [{ remaining: 100, expiresOn: '2026-12-20' }],
        expiry: 0,
        unrecovered: 0,
      });
      expect(refundFirst).toEqual(cancellationFirst);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a refund and a cancellation of a redemption of its points leave the same lots whichever comes first', async () => {
      const dates: [string, string] = ['2027-01-31', '2028-12-31'];
      const refundFirst = await refundAndCancel(M1, 'refund first', dates);
      const cancellationFirst = await refundAndCancel(M2, 'cancellation first', dates);
      expect(cancellationFirst).toEqual({
        balance: 100,
        lots: [{ remaining: 100, expiresOn: '2028-12-31' }],
        expiry: 0,
        unrecovered: 0,
      });
      expect(refundFirst).toEqual(cancellationFirst);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('cancellations after a refund give back to the lots the refund took in their place, each share once', async () => {
      const code = Accounts.memberPoints(M1);
      await ledger.post([
        accrual('A1', M1, 100, { expiresOn: '2027-01-31' }),
        accrual('A2', M1, 20, { expiresOn: '2028-12-31' }),
      ]);
      await ledger.post([redemption('R1', M1, 30), redemption('R2', M1, 30)]);
      const [refund] = await ledger.post([
        { key: 'A1:rev', reverses: 'A1', businessDate: '2026-11-28', shortfallTo: Accounts.unrecovered },
      ]);
      // A1's 40 left and A2's 20 in place of what R1 and R2 spent of it; the other 40 unrecovered.
      expect(refund).toMatchObject({ status: 'posted', unrecovered: 40 });
      expect(await openLots(t.db.knex, code)).toEqual([]);
      // A2's 20 come back once, to the first cancellation; the rest goes to A1's lot.
      await ledger.post([{ key: 'R2:cancel', reverses: 'R2', businessDate: '2026-11-28' }]);
      expect((await openLots(t.db.knex, code)).map((l) => [l.expiresOn, l.remaining])).toEqual([
        ['2027-01-31', 10],
        ['2028-12-31', 20],
      ]);
      await ledger.post([{ key: 'R1:cancel', reverses: 'R1', businessDate: '2026-11-28' }]);
      expect((await openLots(t.db.knex, code)).map((l) => [l.expiresOn, l.remaining])).toEqual([
        ['2027-01-31', 40],
        ['2028-12-31', 20],
      ]);
      expect(await balance(code)).toBe(60);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a shortfall account must be one that may go negative and keeps no lots', async () => {
      await ledger.post([accrual('A1', M1, 100)]);
      await ledger.post([redemption('R1', M1, 100)]);
      await expect(
        ledger.post([
          {
            key: 'A1:rev',
            reverses: 'A1',
            businessDate: '2026-11-28',
            shortfallTo: Accounts.memberPoints(M2),
          },
        ]),
      ).rejects.toBeInstanceOf(InvalidPostingError);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a transfer carrying lots keeps their earning and expiry dates', async () => {
      await ledger.post([
        accrual('A1', M1, 100, { expiresOn: '2027-01-31' }),
        accrual('A2', M1, 50, { expiresOn: '2028-01-31' }),
      ]);
      await ledger.post([
        {
          key: 'MERGE:M1',
          kind: 'TRANSFER',
          businessDate: '2026-11-28',
          carryLots: true,
          entries: [
            { account: Accounts.memberPoints(M1), amount: -150 },
            { account: Accounts.memberPoints(M2), amount: 150 },
          ],
        },
      ]);
      expect(
        (await openLots(t.db.knex, Accounts.memberPoints(M2))).map((l) => [l.expiresOn, l.remaining]),
      ).toEqual([
        ['2027-01-31', 100],
        ['2028-01-31', 50],
      ]);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('an expiry debits exactly the lot it names', async () => {
      await ledger.post([
        accrual('A1', M1, 100, { expiresOn: '2027-01-31' }),
        accrual('A2', M1, 70, { expiresOn: '2026-10-31' }),
      ]);
      const [lot] = (await openLots(t.db.knex, Accounts.memberPoints(M1))).filter(
        (l) => l.expiresOn === '2027-01-31',
      );
      await ledger.post([
        {
          key: `EXP:${lot!.id}`,
          kind: 'EXPIRY',
          businessDate: '2027-02-01',
          entries: [
            { account: Accounts.memberPoints(M1), amount: -100, lotId: lot!.id },
            { account: Accounts.expiry, amount: 100 },
          ],
        },
      ]);
      expect(
        (await openLots(t.db.knex, Accounts.memberPoints(M1))).map((l) => [l.expiresOn, l.remaining]),
      ).toEqual([['2026-10-31', 70]]);
    });

    it('status credits are recorded apart from points and summed inside a window', async () => {
      await ledger.post([
        {
          ...accrual('A1', M1, 1500, { activityDate: '2026-05-01' }),
          statusCredits: [{ memberNumber: M1, metric: 'SPEND', amount: 15000, activityDate: '2026-05-01' }],
        },
        {
          ...accrual('A2', M1, 100, { activityDate: '2025-01-01' }),
          statusCredits: [{ memberNumber: M1, metric: 'SPEND', amount: 999, activityDate: '2025-01-01' }],
        },
      ]);
      expect(
        await statusCreditsInWindow(t.db.knex, M1, 'SPEND', { from: '2025-11-27', to: '2026-11-26' }),
      ).toBe(15000);
      expect(await balance(Accounts.memberStatus(M1, 'SPEND'))).toBe(15999);
      expect(await balance(Accounts.memberPoints(M1))).toBe(1600);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('a statement shows every movement with its running balance; balances can be read as of a date', async () => {
      await ledger.post([
        accrual('A1', M1, 1000, { businessDate: '2026-11-01' }),
        accrual('A2', M1, 500, { businessDate: '2026-11-10' }),
      ]);
      await ledger.post([redemption('R1', M1, 300, '2026-11-20')]);
      const lines = await statement(t.db.knex, Accounts.memberPoints(M1));
      expect(lines.map((l) => [l.businessDate, l.amount, l.balance])).toEqual([
        ['2026-11-01', 1000, 1000],
        ['2026-11-10', 500, 1500],
        ['2026-11-20', -300, 1200],
      ]);
      expect(await balanceAsOf(t.db.knex, Accounts.memberPoints(M1), '2026-11-15')).toBe(1500);
      const fromMid = await statement(t.db.knex, Accounts.memberPoints(M1), { from: '2026-11-10' });
      expect(fromMid.map((l) => l.balance)).toEqual([1500, 1200]);
    });

    it('a posting to an unknown member is refused before anything is written', async () => {
      await expect(ledger.post([accrual('A1', '9999999999', 10)])).rejects.toBeInstanceOf(
        UnknownAccountOwnerError,
      );
      await expect(
        ledger.post([
          {
            key: 'bad',
            kind: 'ACCRUAL',
            businessDate: '2026-11-26',
            entries: [
              { account: 'NOPE', amount: 1 },
              { account: Accounts.ownFlights, amount: -1 },
            ],
          },
        ]),
      ).rejects.toBeInstanceOf(InvalidPostingError);
    });

    it('pool accounts hold lots like member accounts', async () => {
      await insertPool(t.db.knex, 'H1', 'HOUSEHOLD');
      await ledger.post([
        {
          key: 'P1',
          kind: 'ACCRUAL',
          businessDate: '2026-11-26',
          memberNumber: M1,
          entries: [
            { account: Accounts.poolPoints('H1'), amount: 400, expiresOn: '2029-01-31' },
            { account: Accounts.ownFlights, amount: -400 },
          ],
        },
      ]);
      expect(await balance(Accounts.poolPoints('H1'))).toBe(400);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('concurrent batches against the same members keep every invariant', async () => {
      const batches = Array.from({ length: 6 }, (_, b) =>
        Array.from({ length: 40 }, (_, i) =>
          i % 4 === 3
            ? redemption(`R-${b}-${i}`, i % 2 ? M1 : M2, 5)
            : accrual(`A-${b}-${i}`, i % 2 ? M1 : M2, 10 + i),
        ),
      );
      const results = await Promise.all(batches.map((b) => ledger.post(b, { atomic: false })));
      const report = await checkLedger(t.db.knex);
      expect(report.checks.flatMap((c) => c.violations)).toEqual([]);
      const posted = results.flat().filter((r) => r.status === 'posted').length;
      expect(Number((await t.db.knex('postings').count({ n: '*' }).first())!.n)).toBe(posted);
    });

    it('a debit dated before later entries must fit every balance from its date on (a rerun of an old night)', async () => {
      await ledger.post([accrual('A1', M1, 100, { businessDate: '2026-11-01' })]);
      await ledger.post([accrual('A2', M1, 900, { businessDate: '2026-11-20' })]);
      // On 10 November the member held 100: a redemption of 500 dated then is refused though 1,000 are held now.
      const [late] = await ledger.post([redemption('R-back', M1, 500, '2026-11-10')], { atomic: false });
      expect(late).toMatchObject({ status: 'refused', reason: 'INSUFFICIENT_POINTS' });
      const [fits] = await ledger.post([redemption('R-back-2', M1, 80, '2026-11-10')], { atomic: false });
      expect(fits!.status).toBe('posted');
      const report = await checkLedger(t.db.knex);
      expect(report.checks.flatMap((c) => c.violations)).toEqual([]);
    });

    it('ledger check finds a balance that went below zero on a past date', async () => {
      await ledger.post([accrual('A1', M1, 100, { businessDate: '2026-11-20' })]);
      await ledger.post([redemption('R1', M1, 50, '2026-11-21')]);
      await t.db
        .knex('entries')
        .where({ business_date: '2026-11-21' })
        .update({ business_date: '2026-11-19' });
      const report = await checkLedger(t.db.knex);
      const past = report.checks.find((c) => c.name === 'no-negative-member-balance-in-the-past')!;
      expect(past.violations).toEqual([`${Accounts.memberPoints(M1)}: -50 at the end of 2026-11-19`]);
    });

    it('ledger check finds EXPIRY giving back points twice: an expiry reinstated after its credit took them back', async () => {
      await ledger.post([accrual('A1', M1, 100)]);
      const [lot] = await openLots(t.db.knex, Accounts.memberPoints(M1));
      const expire = {
        key: `EXP:${lot!.id}`,
        kind: 'EXPIRY' as const,
        businessDate: '2027-07-10',
        entries: [
          { account: Accounts.memberPoints(M1), amount: -100, lotId: lot!.id },
          { account: Accounts.expiry, amount: 100 },
        ],
      };
      await ledger.post([expire]);
      const [rev] = await ledger.post([{ key: 'A1:REV', reverses: 'A1', businessDate: '2027-07-11' }]);
      expect(rev).toMatchObject({ status: 'posted', expired: 100 });
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
      await ledger.post([
        { key: `EXP:${lot!.id}:REINSTATE`, reverses: `EXP:${lot!.id}`, businessDate: '2027-07-12' },
      ]);
      const report = await checkLedger(t.db.knex);
      expect(report.checks.find((c) => c.name === 'expiry-not-negative')!.violations).toEqual([
        `${Accounts.expiry}: -100: more taken back from expiry than expired`,
      ]);
    });

    it('ledger check finds a tampered balance, an unbalanced posting and a lot that no longer covers its account', async () => {
      await ledger.post([accrual('A1', M1, 100)]);
      await t.db
        .knex('accounts')
        .where({ code: Accounts.memberPoints(M1) })
        .update({ balance: 90 });
      await t.db.knex('entries').where({ amount: -100 }).update({ amount: -99 });
      const report = await checkLedger(t.db.knex);
      expect(report.ok).toBe(false);
      const byName = Object.fromEntries(report.checks.map((c) => [c.name, c.violations]));
      expect(byName['postings-balance']).toHaveLength(1);
      expect(byName['balances-equal-entries']!.join()).toContain(Accounts.memberPoints(M1));
      expect(byName['lots-cover-balances']!.join()).toContain('balance 90, open lots hold 100');
    });

    it('ledger check names the key and each entry of a posting that does not balance', async () => {
      await ledger.post([accrual('A1', M1, 100)]);
      const code = Accounts.memberPoints(M1);
      const account = await t.db.knex('accounts').where({ code }).first('id');
      // Tampered consistently: only the posting's own sum gives it away.
      await t.db.knex('entries').where({ account_id: account.id }).update({ amount: 150 });
      await t.db.knex('accounts').where({ id: account.id }).update({ balance: 150 });
      await t.db.knex('lots').where({ account_id: account.id }).update({ amount: 150, remaining: 150 });
      const [posting] = await t.db.knex('postings').where({ idempotency_key: 'A1' }).select('id');
      const entries = await t.db.knex('entries').where({ posting_id: posting.id }).orderBy('id').select('id');
      const report = await checkLedger(t.db.knex);
      expect(report.checks.filter((c) => c.violations.length > 0).map((c) => c.violations)).toEqual([
        [
          `posting ${posting.id} (A1): PTS entries sum to 50: entry ${entries[0].id} ${code} +150, ` +
            `entry ${entries[1].id} ${Accounts.ownFlights} -100`,
        ],
      ]);
    });

    it('ledger check finds an activity whose posting id is not the posting its key names', async () => {
      const [a1, a2] = await ledger.post([accrual('A1', M1, 100), accrual('A2', M1, 200)]);
      const activity = (key: string, postingKey: string | null, postingId: number | null) => ({
        activity_key: key,
        type: 'FLIGHT',
        member_number: M1,
        activity_date: '2026-11-25',
        business_date: '2026-11-26',
        status: 'POSTED',
        posting_key: postingKey,
        posting_id: postingId,
        updated_at: '2026-11-27T02:00:00Z',
      });
      await t.db
        .knex('activities')
        .insert([
          activity('F1', 'A1', a1!.postingId!),
          activity('F2', 'A2', a1!.postingId!),
          activity('F3', 'A1', null),
          activity('F4', null, a2!.postingId!),
        ]);
      const check = async () =>
        (await checkLedger(t.db.knex)).checks.find((c) => c.name === 'activities-link-their-postings')!;
      expect((await check()).violations).toEqual([
        `activity F2 names posting A2 (id ${a2!.postingId}) but links id ${a1!.postingId}`,
        `activity F3 names posting A1 (id ${a1!.postingId}) but links none`,
        `activity F4 links posting id ${a2!.postingId} but names no posting`,
      ]);
      await t.db.knex('activities').where({ activity_key: 'F2' }).update({ posting_id: a2!.postingId });
      await t.db.knex('activities').where({ activity_key: 'F3' }).update({ posting_id: a1!.postingId });
      await t.db.knex('activities').where({ activity_key: 'F4' }).update({ posting_id: null });
      expect(await check()).toMatchObject({ checked: 3, violations: [] });
    });

    it('any sequence of accruals, redemptions and reversals keeps the invariants', async () => {
      type Op =
        | { type: 'accrue'; member: 0 | 1; points: number; months: number }
        | { type: 'redeem'; member: 0 | 1; points: number }
        | { type: 'reverse'; index: number; shortfall: boolean };
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({
          type: fc.constant('accrue' as const),
          member: fc.constantFrom(0 as const, 1 as const),
          points: fc.integer({ min: 1, max: 500 }),
          months: fc.integer({ min: 1, max: 36 }),
        }),
        fc.record({
          type: fc.constant('redeem' as const),
          member: fc.constantFrom(0 as const, 1 as const),
          points: fc.integer({ min: 1, max: 400 }),
        }),
        fc.record({ type: fc.constant('reverse' as const), index: fc.nat(), shortfall: fc.boolean() }),
      );
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
          run++;
          const keys: string[] = [];
          for (const [i, o] of ops.entries()) {
            const key = `${run}-${i}`;
            const member = o.type === 'reverse' ? M1 : [M1, M2][o.member]!;
            if (o.type === 'accrue') {
              await ledger.post([
                accrual(key, member, o.points, {
                  expiresOn: `20${27 + Math.floor(o.months / 12)}-0${1 + (o.months % 9)}-28`,
                }),
              ]);
              keys.push(key);
            } else if (o.type === 'redeem') {
              const [r] = await ledger.post([redemption(key, member, o.points)], { atomic: false });
              if (r!.status === 'posted') keys.push(key);
            } else if (keys.length > 0) {
              const target = keys[o.index % keys.length]!;
              const [r] = await ledger.post(
                [
                  {
                    key: `${key}-rev`,
                    reverses: target,
                    businessDate: '2026-11-29',
                    ...(o.shortfall ? { shortfallTo: Accounts.unrecovered } : {}),
                  },
                ],
                { atomic: false },
              );
              // With a shortfall account only a second reversal of the same posting is refused.
              if (o.shortfall && r!.status === 'refused') expect(r!.reason).toBe('ALREADY_REVERSED');
            }
          }
          const report = await checkLedger(t.db.knex);
          expect(report.checks.flatMap((c) => c.violations)).toEqual([]);
        }),
        { numRuns: engine === 'sqlite' ? 25 : 8 },
      );
    });
  });
}
