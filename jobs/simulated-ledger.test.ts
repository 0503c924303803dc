/**
 * The simulated ledger must answer as the ledger will: for any history of credits, redemptions and
 * transfers (merges, moves into a pool), dated in any order, the next posting is foretold with the
 * ledger's own verdict — posted, or refused with the same reason and message — and a reversal with the
 * same points charged to UNRECOVERED and the same accounts it follows the points into.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { availableEngines, createTestDatabase, enrolPlain, type TestDb } from '../test/harness/db.js';
import { Accounts } from '../ledger/accounts.js';
import { checkLedger } from '../ledger/check.js';
import { Ledger, lotExpiry } from '../ledger/ledger.js';
import { openLots } from '../ledger/queries.js';
import type { PostingInput, PostingRequest } from '../ledger/types.js';
import { SimulatedLedger } from './simulated-ledger.js';

type Step =
  | { type: 'credit'; who: number; points: number; day: number; also?: { who: number; points: number } }
  | { type: 'redeem'; who: number; points: number; day: number }
  | { type: 'move'; from: number; to: number; points: number; spend: number; day: number };

const day = (d: number) => `2026-11-${String(d).padStart(2, '0')}`;

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    type: fc.constant('credit' as const),
    who: fc.nat(2),
    points: fc.integer({ min: 1, max: 400 }),
    day: fc.integer({ min: 1, max: 20 }),
    // A second entry, on the same member's account or another's.
    also: fc.option(fc.record({ who: fc.nat(2), points: fc.integer({ min: 1, max: 400 }) }), {
      nil: undefined,
    }),
  }),
  fc.record({
    type: fc.constant('redeem' as const),
    who: fc.nat(2),
    points: fc.integer({ min: 1, max: 400 }),
    day: fc.integer({ min: 1, max: 20 }),
  }),
  fc.record({
    type: fc.constant('move' as const),
    from: fc.nat(2),
    to: fc.nat(2),
    // A merge moves points and status credits; a status-only one (0 points) happens too.
    points: fc.integer({ min: 0, max: 400 }),
    spend: fc.integer({ min: 0, max: 4000 }),
    day: fc.integer({ min: 1, max: 20 }),
  }),
);

const spend = (memberNumber: string, amount: number, activityDate: string) => ({
  memberNumber,
  metric: 'SPEND' as const,
  amount,
  activityDate,
});

/** What a result says that a user reads: the verdict, its reason and message, the points written off. */
const verdict = (r: { status: string; reason?: string; message?: string; unrecovered?: number }) => ({
  status: r.status,
  reason: r.reason,
  message: r.message,
  unrecovered: r.unrecovered,
});

for (const engine of availableEngines()) {
  describe(`the simulated ledger foretells the ledger (${engine})`, () => {
    let t: TestDb;
    let run = 0;

    beforeAll(async () => {
      t = await createTestDatabase(engine);
    });
    afterAll(async () => {
      await t.cleanup();
    });

    /** Three fresh members for a run, and the ledger's postings of a history between them. */
    async function history(steps: Step[]): Promise<{ members: string[]; credits: string[]; ledger: Ledger }> {
      const r = ++run;
      const members = [0, 1, 2].map((i) => String(2_000_000_000 + r * 10 + i));
      await enrolPlain(t.db, ...members);
      const ledger = new Ledger(t.db, { now: () => new Date('2026-11-27T02:00:00Z') });
      const credits: string[] = [];
      for (const [i, s] of steps.entries()) {
        const key = `R${r}:${i}`;
        const account = (who: number) => Accounts.memberPoints(members[who]!);
        let posting: PostingInput;
        if (s.type === 'credit') {
          posting = {
            key,
            kind: 'ACCRUAL',
            businessDate: day(s.day),
            channel: 'OWN_FLIGHTS',
            entries: [
              { account: account(s.who), amount: s.points, expiresOn: day(s.day).replace('2026', '2029') },
              ...(s.also
                ? [
                    {
                      account: account(s.also.who),
                      amount: s.also.points,
                      expiresOn: day(s.day).replace('2026', '2030'),
                    },
                  ]
                : []),
              { account: Accounts.ownFlights, amount: -s.points - (s.also?.points ?? 0) },
            ],
            // Status credits with it, ten per point, to the first member credited.
            statusCredits: [spend(members[s.who]!, s.points * 10, day(s.day))],
          };
          credits.push(key);
        } else if (s.type === 'redeem') {
          posting = {
            key,
            kind: 'REDEMPTION',
            businessDate: day(s.day),
            entries: [
              { account: account(s.who), amount: -s.points },
              { account: Accounts.redemption('SEAT'), amount: s.points },
            ],
          };
        } else {
          if (s.from === s.to || s.points + s.spend === 0) continue;
          posting = {
            key,
            kind: 'TRANSFER',
            businessDate: day(s.day),
            carryLots: true,
            entries:
              s.points > 0
                ? [
                    { account: account(s.from), amount: -s.points },
                    { account: account(s.to), amount: s.points },
                  ]
                : [],
            statusCredits:
              s.spend > 0
                ? [spend(members[s.from]!, -s.spend, day(s.day)), spend(members[s.to]!, s.spend, day(s.day))]
                : [],
          };
        }
        await ledger.post([posting], { atomic: false });
      }
      return { members, credits, ledger };
    }

    it('gives every reversal and redemption after any history the verdict the ledger then gives it', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(step, { minLength: 1, maxLength: 10 }),
          fc.nat(),
          fc.boolean(),
          fc.integer({ min: 1, max: 25 }),
          fc.integer({ min: 1, max: 400 }),
          async (steps, pick, shortfall, date, points) => {
            const { members, credits, ledger } = await history(steps);
            const probe: PostingRequest =
              credits.length > 0 && pick % 3 !== 0
                ? {
                    key: `${credits[pick % credits.length]}:rev`,
                    reverses: credits[pick % credits.length]!,
                    businessDate: day(date),
                    ...(shortfall ? { shortfallTo: Accounts.unrecovered } : {}),
                  }
                : {
                    key: `${members[0]}:probe`,
                    kind: 'REDEMPTION',
                    businessDate: day(date),
                    entries: [
                      { account: Accounts.memberPoints(members[pick % 3]!), amount: -points },
                      { account: Accounts.redemption('SEAT'), amount: points },
                    ],
                  };
            const simulated = new SimulatedLedger(t.db.knex);
            const foretold = await simulated.post(probe);
            // What each account holds afterwards, as foretold: where the points were taken, and how many.
            const codes = [
              ...members.flatMap((m) => [Accounts.memberPoints(m), Accounts.memberStatus(m, 'SPEND')]),
              Accounts.unrecovered,
            ];
            const after = new Map<string, number>();
            for (const code of codes) after.set(code, await simulated.balanceAfter(code));
            const [result] = await ledger.post([probe], { atomic: false });
            expect(verdict(foretold)).toEqual(verdict(result!));
            for (const code of codes) {
              const row = await t.db.knex('accounts').where({ code }).first('balance');
              expect(after.get(code), code).toBe(Number(row?.balance ?? 0));
            }
          },
        ),
        { numRuns: engine === 'sqlite' ? 120 : 40 },
      );
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });

    it('judges a redemption dated before later entries by the balance at every date since, as the ledger does', async () => {
      const { members, ledger } = await history([
        { type: 'credit', who: 0, points: 100, day: 5 },
        { type: 'redeem', who: 0, points: 100, day: 8 },
        { type: 'credit', who: 0, points: 100, day: 12 },
      ]);
      const probe: PostingInput = {
        key: `${members[0]}:early`,
        kind: 'REDEMPTION',
        businessDate: day(6),
        entries: [
          { account: Accounts.memberPoints(members[0]!), amount: -50 },
          { account: Accounts.redemption('SEAT'), amount: 50 },
        ],
      };
      const foretold = await new SimulatedLedger(t.db.knex).post(probe);
      expect(foretold).toMatchObject({ status: 'refused', reason: 'INSUFFICIENT_POINTS' });
      expect(foretold.message).toContain('as of 2026-11-06 and after');
      const [result] = await ledger.post([probe], { atomic: false });
      expect(verdict(foretold)).toEqual(verdict(result!));
    });

    it('takes back no expiry of a lot earned after a redemption’s date, as the ledger does', async () => {
      // 100 earned on 12 November expire on the 15th; a night caught up after brings a seat of the 10th.
      const { members, ledger } = await history([]);
      const code = Accounts.memberPoints(members[0]!);
      const credit = (key: string, date: string, points: number, expiresOn: string): PostingInput => ({
        key: `${members[0]}:${key}`,
        kind: 'ACCRUAL',
        businessDate: date,
        entries: [
          { account: code, amount: points, expiresOn },
          { account: Accounts.ownFlights, amount: -points },
        ],
      });
      await ledger.post([credit('later', day(12), 100, day(15))]);
      const [lot] = await openLots(t.db.knex, code);
      await ledger.post([lotExpiry({ id: lot!.id, code, expiresOn: day(15) }, 100, 0, day(15))]);
      const seat = (key: string): PostingInput => ({
        key: `${members[0]}:${key}`,
        kind: 'REDEMPTION',
        businessDate: day(10),
        activityDate: day(10),
        memberNumber: members[0]!,
        entries: [
          { account: code, amount: -60 },
          { account: Accounts.redemption('SEAT'), amount: 60 },
        ],
      });
      const foretold = await new SimulatedLedger(t.db.knex).post(seat('late'));
      expect(foretold).toMatchObject({
        status: 'refused',
        reason: 'INSUFFICIENT_POINTS',
        message: `posting ${members[0]}:late needs 60 from ${code}, which holds 0`,
      });
      const [result] = await ledger.post([seat('late')], { atomic: false });
      expect(verdict(foretold)).toEqual(verdict(result!));

      // With 500 earned on the 5th, the seat is paid from them: nothing is taken back from EXPIRY.
      await ledger.post([credit('earlier', day(5), 500, '2029-11-30')]);
      const simulated = new SimulatedLedger(t.db.knex);
      const paid = await simulated.post(seat('paid'));
      expect(paid).toEqual({ status: 'posted' });
      expect(await simulated.balanceAfter(code)).toBe(440);
      const [posted] = await ledger.post([seat('paid')]);
      expect(verdict(paid)).toEqual(verdict(posted!));
      expect(posted!.unexpired).toBeUndefined();
      expect(await openLots(t.db.knex, code)).toMatchObject([{ remaining: 440, expiresOn: '2029-11-30' }]);
      expect((await checkLedger(t.db.knex)).ok).toBe(true);
    });
  });
}
