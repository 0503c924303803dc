/**
 * Reruns are always safe: every job of a busy night run again for the same date, alone or as the whole
 * night, posts nothing and changes nothing; and an old night run again after later ones leaves what the
 * later nights decided in place.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { fetchJob } from '../../jobs/fetch.js';
import { ingestJob } from '../../jobs/ingest.js';
import { accrueJob } from '../../jobs/accrue.js';
import { tiersJob } from '../../jobs/tiers.js';
import { expireJob } from '../../jobs/expire.js';
import { memberNumber, useScenario, type Person, type Scenario } from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const PETROVA: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };
const SIDOROV: Person = { number: memberNumber(3), surname: 'SIDOROV', givenName: 'PETR' };

/** Everything a rerun could disturb, in a form that compares. */
async function state(w: Scenario) {
  const k = w.knex;
  const num = (rows: Array<Record<string, unknown>>) =>
    rows.map((r) =>
      Object.fromEntries(Object.entries(r).map(([c, v]) => [c, typeof v === 'bigint' ? Number(v) : v])),
    );
  return {
    postings: num(await k('postings').orderBy('id').select('id', 'idempotency_key', 'kind', 'business_date')),
    accounts: num(await k('accounts').orderBy('code').select('code', 'balance')),
    lots: num(await k('lots').orderBy('id').select('id', 'remaining', 'expires_on')),
    activities: num(
      await k('activities')
        .orderBy('id')
        .select('activity_key', 'status', 'reason', 'points', 'status_credit', 'needs_accrual'),
    ),
    members: num(
      await k('members').orderBy('id').select('number', 'status', 'tier', 'tier_since', 'review_date'),
    ),
    tierEvents: num(await k('tier_events').orderBy('id').select('event_key')),
    retroClaims: num(await k('retro_claims').orderBy('id').select('claim_id', 'status', 'reason')),
    files: num(await k('files').orderBy('id').select('name', 'verdict')),
    rejects: Number((await k('rejects').count({ n: '*' }).first())!.n),
  };
}

for (const engine of availableEngines()) {
  describe(`reruns (${engine})`, () => {
    const s = useScenario(engine);

    it('runs every job of a busy night again, alone and as a whole night, without posting or changing anything', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA, SIDOROV);
      w.dropCoupons([
        {
          ticket: '0741000000001',
          flight: '245',
          date: '2026-03-01',
          from: 'SVO',
          to: 'KZN',
          booked: 'Y',
          surname: 'SIDOROV',
          givenName: 'PETR',
          card: null,
          fare: '100.00',
        },
      ]);
      w.dropPartner('DRIVE', '2026-03-05', [
        {
          txn: 'D-1',
          member: PETROVA.number,
          surname: 'PETROVA',
          date: '2026-03-04',
          type: 'RENTAL_DAY',
          spend: '900.00',
          currency: 'USD',
        },
      ]);
      await w.night('2026-03-05');

      // The busy night: every feed, a tier change, a redemption, a merge, a retro-claim, a reversal.
      w.dropFx({ '2026-03-16': { USD: '1.0800' } });
      w.dropMembers([
        { ...SIDOROV, status: 'MERGED', mergedInto: IVANOV.number, updatedAt: '2026-03-17T08:00:00Z' },
      ]);
      w.dropFtl({
        flight: 'XX245',
        date: '2026-03-16',
        board: 'SVO',
        groups: [
          { dest: 'AER', cls: 'C', pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number }] },
        ],
      });
      w.dropCoupons([
        {
          ticket: '0741000000002',
          flight: '245',
          date: '2026-03-16',
          from: 'SVO',
          to: 'AER',
          booked: 'C',
          surname: 'IVANOV',
          givenName: 'IVAN',
          card: { program: 'XX', number: IVANOV.number },
          fare: '1100.00',
          tax: '50.00',
          currency: 'EUR',
        },
      ]);
      w.dropPartner('DRIVE', '2026-03-17', [
        {
          txn: 'D-1-R',
          member: PETROVA.number,
          surname: 'PETROVA',
          date: '2026-03-16',
          type: 'RENTAL_DAY',
          points: -900,
        },
        {
          txn: 'D-2',
          member: PETROVA.number,
          surname: 'PETROVA',
          date: '2026-03-16',
          type: 'RENTAL',
          spend: '10.00',
          currency: 'EUR',
        },
      ]);
      w.dropHotel('GS', [
        {
          member: IVANOV.number,
          surname: 'IVANOV',
          givenName: 'IVAN',
          reservation: 'GS-1',
          checkIn: '2026-03-14',
          checkOut: '2026-03-16',
          revenue: [{ category: 'ROOM', amount: '300.00' }],
        },
      ]);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-17', service: 'SEAT', points: 200 },
      ]);
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-17',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'SIDOROV',
        },
        {
          id: 'C-2',
          member: PETROVA.number,
          received: '2026-03-17',
          ticket: '0741000000002',
          coupon: 1,
          surname: 'PETROVA',
        },
      ]);
      const first = await w.night('2026-03-17');
      expect(first.accrue.counts.postings).toBeGreaterThan(4);
      expect((await w.member(IVANOV.number)).tier).toBe('SILVER');
      const before = await state(w);

      for (const job of [fetchJob, ingestJob, accrueJob, tiersJob, expireJob]) {
        await w.run(job, '2026-03-17');
        expect([job.name, await state(w)]).toEqual([job.name, before]);
      }
      const again = await w.night('2026-03-17');
      expect(again.accrue.counts.postings).toBe(0);
      expect(again.fetch.counts.new).toBe(0);
      expect(await state(w)).toEqual(before);
    });

    it('an old night run again after later ones leaves the tier the later nights decided', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([
        {
          ticket: '0741000000001',
          flight: '245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          booked: 'Y',
          surname: 'IVANOV',
          givenName: 'IVAN',
          card: { program: 'XX', number: IVANOV.number },
          fare: '1000.00',
        },
      ]);
      await w.night('2026-03-11');
      expect((await w.member(IVANOV.number)).tier).toBe('SILVER');
      await w.night('2027-03-11'); // the credit has lapsed; the review steps down
      expect((await w.member(IVANOV.number)).tier).toBe('MEMBER');
      const before = await state(w);
      await w.night('2026-03-11');
      expect(await state(w)).toEqual(before);
      await w.night('2027-03-12');
      expect((await w.member(IVANOV.number)).tier).toBe('MEMBER');
    });
  });
}
