/**
 * What a night writes comes in the same order on SQLite and PostgreSQL, and from one run to the next:
 * PostgreSQL returns the rows of a query without ORDER BY (and the groups of a GROUP BY) in whatever
 * order its plan reads or hashes them. Tier events (the daily report's "Tier change detail" lists them by
 * id) and lapse postings are made in member-number order; a merge lists the status credits it moves by
 * metric and activity date, an order that is part of its posting's content hash.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { mergeInto } from '../../jobs/ingest-members.js';
import { Ledger } from '../../ledger/ledger.js';
import { memberNumber, useScenario, type Person, type Scenario } from './scenario.js';

// Enrolled in this order (ids 1, 2, 3), which is not their numbers' order.
const C: Person = { number: memberNumber(3), surname: 'SIDOROV', givenName: 'PETR' };
const A: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const B: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };

let tickets = 0;
/** One flown coupon file: each `[person, date, fare]` a coupon of XX245 SVO-KZN, fare only. */
function fly(w: Scenario, flights: Array<[Person, string, string]>): void {
  w.dropCoupons(
    flights.map(([who, date, fare]) => ({
      ticket: `074${String(5_000_000_000 + ++tickets).slice(-10)}`,
      flight: '245',
      date,
      from: 'SVO',
      to: 'KZN',
      booked: 'Y',
      surname: who.surname,
      givenName: who.givenName,
      card: { program: 'XX', number: who.number },
      fare,
    })),
  );
}

for (const engine of availableEngines()) {
  describe(`the order of what a night writes (${engine})`, () => {
    const s = useScenario(engine);

    it('records the tier events and lapse postings of members changing the same night in member-number order', async () => {
      const w = s();
      await w.enrol('2026-01-01', C, A, B);
      const ids = await w.knex('members').orderBy('id').pluck('number');
      expect(ids).toEqual([C.number, A.number, B.number]);
      const events = async (date: string) =>
        w
          .knex('tier_events as t')
          .join('members as m', 'm.id', 't.member_id')
          .where('t.business_date', date)
          .orderBy('t.id')
          .select('m.number as number', 't.direction as direction');

      fly(w, [
        [C, '2026-01-14', '5000.00'],
        [B, '2026-01-14', '5000.00'],
        [A, '2026-01-14', '5000.00'],
      ]);
      await w.night('2026-01-15');
      expect(await events('2026-01-15')).toEqual([
        { number: A.number, direction: 'UP' },
        { number: B.number, direction: 'UP' },
        { number: C.number, direction: 'UP' },
      ]);

      // The credits leave the window the day before the review: one lapse posting per member.
      const lapse = await w.night('2027-01-14');
      expect(lapse.tiers.counts.lapsed).toBe(3);
      const lapses = await w
        .knex('postings')
        .where({ kind: 'STATUS_LAPSE' })
        .orderBy('id')
        .pluck('idempotency_key');
      expect(lapses).toEqual([A, B, C].map((p) => `LAPSE:${p.number}:SPEND:2027-01-14`));

      await w.night('2027-01-15');
      expect(await events('2027-01-15')).toEqual([
        { number: A.number, direction: 'DOWN' },
        { number: B.number, direction: 'DOWN' },
        { number: C.number, direction: 'DOWN' },
      ]);
    });

    it('lists the status credits a merge moves by metric and activity date, even where PostgreSQL groups them by hashing', async () => {
      const w = s();
      await w.enrol('2026-01-01', A, B);
      const dates = ['2026-03-05', '2026-03-01', '2026-03-04', '2026-03-02', '2026-03-06', '2026-03-03'];
      fly(
        w,
        dates.map((d, i): [Person, string, string] => [B, d, `${100 + i}.00`]),
      );
      await w.night('2026-03-07');
      // A few credits are grouped by sorting them; a large table, or a planner told not to sort, hashes.
      const ctx = w.w.ctx('2026-03-10');
      const ledger = new Ledger(ctx.db, { now: ctx.now });
      await ctx.db.transaction(async (trx) => {
        if (ctx.db.dialect === 'postgres') await trx.raw('SET LOCAL enable_sort = off');
        await mergeInto(trx, ctx, ledger, B.number, A.number, { updatedAt: '2026-03-10T09:00:00.000Z' });
      });
      const moved = await w
        .knex('status_credits as s')
        .join('postings as p', 'p.id', 's.posting_id')
        .join('members as m', 'm.id', 's.member_id')
        .where('p.idempotency_key', `MERGE:${B.number}:${A.number}`)
        .orderBy('s.id')
        .select('m.number as number', 's.activity_date as date', 's.amount as amount');
      const sorted = dates.map((d, i) => [d, (100 + i) * 100] as const).sort(([x], [y]) => (x < y ? -1 : 1));
      expect(moved.map((r) => [r.number, r.date, Number(r.amount)])).toEqual(
        sorted.flatMap(([d, cents]) => [
          [B.number, d, -cents],
          [A.number, d, cents],
        ]),
      );
    });
  });
}
