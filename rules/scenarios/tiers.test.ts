/**
 * Tiers on the demo program's spend model (Member $0, Silver $1,000, Gold $2,500, Platinum $5,000 over a
 * rolling 12 months, anniversary review, soft landing), across a year and more of nights: upgrades the
 * night a threshold is crossed, credits lapsing out of the window, downgrades only at the review date and
 * by one level, a review that holds; and tier rules versioned by effective date, each night judged by the
 * version in force on the date it judges.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { Accounts } from '../../ledger/accounts.js';
import { runJob, type RunSummary } from '../../jobs/runner.js';
import {
  memberNumber,
  replaceOnce,
  useScenario,
  type Coupon,
  type Person,
  type Scenario,
} from './scenario.js';
import { chunks } from '../../lib/chunks.js';
import { join } from 'node:path';
import { dailyReport } from '../../reports/daily.js';
import { dumpXlsx, skipWithoutOpenpyxl } from '../../test/harness/openpyxl.js';
import { tableOf } from '../../test/harness/report-scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

const PETROV: Person = { number: memberNumber(2), surname: 'PETROV', givenName: 'PETR' };

let tickets = 0;
/** IVANOV flies SVO-KZN on `date` on a ticket of `fare` dollars (no taxes): that many dollars of status. */
/** IVANOV's coupon of SVO-KZN on his card, a ticket of its own. */
function ivanovCoupon(date: string, fare: string, flight = '245'): Coupon {
  return {
    ticket: `074${String(3_000_000_000 + ++tickets).slice(-10)}`,
    flight,
    date,
    from: 'SVO',
    to: 'KZN',
    booked: 'Y',
    surname: 'IVANOV',
    givenName: 'IVAN',
    card: { program: 'XX', number: IVANOV.number },
    fare,
  };
}

function fly(w: Scenario, date: string, fare: string, flight = '245'): void {
  w.dropCoupons([ivanovCoupon(date, fare, flight)]);
}

/** PETROV flies SVO-KZN on `date` on a ticket of `fare` dollars. */
function petrovFlies(w: Scenario, date: string, fare: string): void {
  w.dropCoupons([
    {
      ...ivanovCoupon(date, fare, '251'),
      surname: 'PETROV',
      givenName: 'PETR',
      card: { program: 'XX', number: PETROV.number },
    },
  ]);
}

/** The demo's `tiers` block replaced by `versions`, a list of tier versions. */
function withTierVersions(yaml: string, versions: string): string {
  const edited = yaml.replace(/^tiers:\n(?: .*\n)+/m, `tiers:\n${versions}`);
  expect(edited).not.toBe(yaml);
  return edited;
}

/** A tier version of the demo's tiers from `from`, Silver, Gold and Platinum at `thresholds` dollars. */
function tierVersion(
  from: string,
  [silver, gold, platinum]: [number, number, number],
  rules = 'window: rolling12, review: anniversary',
): string {
  return (
    `  - { effectiveFrom: ${from}, metric: spend, ${rules}, softLanding: true, levels: [` +
    `{ code: MEMBER, name: Member, threshold: 0 }, { code: SILVER, name: Silver, threshold: ${silver} }, ` +
    `{ code: GOLD, name: Gold, threshold: ${gold} }, { code: PLATINUM, name: Platinum, threshold: ${platinum} }] }\n`
  );
}

/**
 * Tiers run alone for `date`, as on a night that stopped before it or ran it late: after that date's
 * accrue, which the runner asks for first (the scenario's nights post without recording runs).
 */
async function tiersAlone(w: Scenario, date: string): Promise<RunSummary> {
  expect((await runJob(w.w.ctx(date), 'accrue')).status).toBe('succeeded');
  return runJob(w.w.ctx(date), 'tiers');
}

/** A night run job by job as the runner records it (what tiers looks back to), as far as `jobs` go. */
async function runNight(
  w: Scenario,
  date: string,
  jobs: ReadonlyArray<'fetch' | 'ingest' | 'accrue' | 'tiers'> = ['fetch', 'ingest', 'accrue', 'tiers'],
): Promise<RunSummary['steps'][number]> {
  let last: RunSummary | undefined;
  for (const job of jobs) {
    last = await runJob(w.w.ctx(date), job);
    expect(last.status).toBe('succeeded');
  }
  return last!.steps[0]!;
}

const tierOf = async (w: Scenario) => {
  const m = await w.member(IVANOV.number);
  return { tier: m.tier, since: m.tier_since, review: m.review_date };
};

for (const engine of availableEngines()) {
  describe(`tiers over time (${engine})`, () => {
    const s = useScenario(engine);

    it('upgrades the night the qualification crosses a threshold, and may skip a level', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-03-10', '600.00');
      await w.night('2026-03-11');
      expect(await tierOf(w)).toEqual({ tier: 'MEMBER', since: '2020-01-01', review: null }); // since enrolment
      fly(w, '2026-03-20', '400.00'); // $600 + $400 = $1,000: Silver
      await w.night('2026-03-21');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-03-21', review: '2027-03-21' });
      fly(w, '2026-04-02', '4000.00'); // $5,000: straight to Platinum
      await w.night('2026-04-03');
      expect(await tierOf(w)).toEqual({ tier: 'PLATINUM', since: '2026-04-03', review: '2027-04-03' });
      expect(await w.tierEvents(IVANOV.number)).toEqual([
        {
          business_date: '2026-03-21',
          effective_on: '2026-03-21',
          from_tier: 'MEMBER',
          to_tier: 'SILVER',
          direction: 'UP',
          qualification: 100000,
          reason: 'THRESHOLD_REACHED',
        },
        {
          business_date: '2026-04-03',
          effective_on: '2026-04-03',
          from_tier: 'SILVER',
          to_tier: 'PLATINUM',
          direction: 'UP',
          qualification: 500000,
          reason: 'THRESHOLD_REACHED',
        },
      ]);
    });

    it('lands softly at the review date: Platinum with nothing in the window goes to Gold, not further, then a year later to Silver', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-14', '5000.00');
      await w.night('2026-01-15');
      expect(await tierOf(w)).toEqual({ tier: 'PLATINUM', since: '2026-01-15', review: '2027-01-15' });
      // Mid-year and the day the credit leaves the window: no review yet, the tier stands.
      await w.night('2026-07-01');
      const lapse = await w.night('2027-01-14');
      expect(lapse.tiers.counts.lapsed).toBe(1);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await tierOf(w)).toMatchObject({ tier: 'PLATINUM' });
      // The review: qualification $0 would mean Member; soft landing allows one step.
      await w.night('2027-01-15');
      expect(await tierOf(w)).toEqual({ tier: 'GOLD', since: '2027-01-15', review: '2028-01-15' });
      await w.night('2028-01-15');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2028-01-15', review: '2029-01-15' });
      const events = (await w.tierEvents(IVANOV.number)).map((e) => [
        e.business_date,
        e.from_tier,
        e.to_tier,
        e.direction,
        e.reason,
      ]);
      expect(events).toEqual([
        ['2026-01-15', 'MEMBER', 'PLATINUM', 'UP', 'THRESHOLD_REACHED'],
        ['2027-01-15', 'PLATINUM', 'GOLD', 'DOWN', 'REVIEW_SOFT_LANDING'],
        ['2028-01-15', 'GOLD', 'SILVER', 'DOWN', 'REVIEW_SOFT_LANDING'],
      ]);
    });

    it('drops spend older than 12 months from the window: the status account always equals the live credits', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-02-10', '600.00');
      await w.night('2026-02-11');
      fly(w, '2026-08-10', '600.00');
      await w.night('2026-08-11');
      expect(await tierOf(w)).toMatchObject({ tier: 'SILVER', review: '2027-08-11' });
      expect(await w.statusBalance(IVANOV.number)).toBe(120000);
      // 10 February 2027: the window is (10 Feb 2026, 10 Feb 2027], so February's $600 leaves it.
      await w.night('2027-02-09');
      expect(await w.statusBalance(IVANOV.number)).toBe(120000);
      await w.night('2027-02-10');
      expect(await w.statusBalance(IVANOV.number)).toBe(60000);
      expect(await w.statusInWindow(IVANOV.number, '2026-02-11', '2027-02-10')).toBe(60000);
      expect(await w.posting(`LAPSE:${IVANOV.number}:SPEND:2027-02-10`)).toMatchObject({
        kind: 'STATUS_LAPSE',
        entries: {
          [Accounts.memberStatus(IVANOV.number, 'SPEND')]: -60000,
          [Accounts.statusLapsed('SPEND')]: 60000,
        },
      });
      // Still Silver until the review, where $600 is not enough.
      expect(await tierOf(w)).toMatchObject({ tier: 'SILVER' });
      await w.night('2027-08-10');
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      await w.night('2027-08-11');
      expect(await tierOf(w)).toEqual({ tier: 'MEMBER', since: '2027-08-11', review: null });
      expect((await w.tierEvents(IVANOV.number)).at(-1)).toMatchObject({
        from_tier: 'SILVER',
        to_tier: 'MEMBER',
        direction: 'DOWN',
        qualification: 0,
        reason: 'REVIEW_NOT_REQUALIFIED',
      });
    });

    it('upgrades on the next night tiers runs when the night the threshold was crossed skipped it', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await tiersAlone(w, '2026-03-09');
      fly(w, '2026-03-10', '1200.00');
      // The night of 11 March runs as far as accrue only.
      for (const job of ['fetch', 'ingest', 'accrue'] as const) await runJob(w.w.ctx('2026-03-11'), job);
      expect(await tierOf(w)).toMatchObject({ tier: 'MEMBER' });
      for (const job of ['fetch', 'ingest', 'accrue', 'tiers'] as const)
        expect((await runJob(w.w.ctx('2026-03-12'), job)).status).toBe('succeeded');
      expect(await tierOf(w)).toMatchObject({ tier: 'SILVER', since: '2026-03-12' });
    });

    it('upgrades on the first night tiers completes when it failed on the nights before, from going live', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-03-10', '1200.00');
      // The first night run (11 March) stops before tiers: tiers has never completed.
      for (const job of ['fetch', 'ingest', 'accrue'] as const) await runJob(w.w.ctx('2026-03-11'), job);
      for (const job of ['fetch', 'ingest', 'accrue', 'tiers'] as const)
        expect((await runJob(w.w.ctx('2026-03-12'), job)).status).toBe('succeeded');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-03-12', review: '2027-03-12' });
      const again = await runJob(w.w.ctx('2026-03-12'), 'tiers');
      expect(again.steps[0]!.counts).toMatchObject({ up: 0, down: 0, hold: 0 });
      expect(await w.tierEvents(IVANOV.number)).toHaveLength(1);
    });

    it('a rerun of a night with a late file moves the member on to the tier the late credit reaches', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-10', '1200.00');
      await w.night('2026-01-11');
      expect(await tierOf(w)).toMatchObject({ tier: 'SILVER', since: '2026-01-11' });
      fly(w, '2026-01-09', '1500.00'); // a late coupon of the day before: $2,700 in all
      await w.night('2026-01-11');
      expect(await tierOf(w)).toMatchObject({ tier: 'GOLD', since: '2026-01-11' });
      expect((await w.tierEvents(IVANOV.number)).map((e) => [e.from_tier, e.to_tier])).toEqual([
        ['MEMBER', 'SILVER'],
        ['SILVER', 'GOLD'],
      ]);
      await w.night('2026-01-11');
      expect(await w.tierEvents(IVANOV.number)).toHaveLength(2);
    });

    it('a rerun of a night that lapsed credits lapses a late credit of the same day under a key of its own', async () => {
      const w = s();
      await w.enrol('2025-01-01', IVANOV);
      fly(w, '2025-06-10', '600.00');
      await w.night('2025-06-11');
      await w.night('2026-06-10');
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      fly(w, '2025-06-10', '300.00', '247'); // a late coupon of another flight that day, just inside the claim window
      const rerun = await w.night('2026-06-10');
      expect(rerun.tiers.counts.lapsed).toBe(1);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.posting(`LAPSE:${IVANOV.number}:SPEND:2026-06-10`)).toMatchObject({
        entries: { [Accounts.memberStatus(IVANOV.number, 'SPEND')]: -60000 },
      });
      const again = await w.night('2026-06-10');
      expect(again.tiers.counts.lapsed).toBe(0);
    });

    it('reviews a tier reached on 29 February on 1 March: the credit that earned it counts for one year, not two', async () => {
      const w = s();
      await w.enrol('2028-01-01', IVANOV);
      fly(w, '2028-02-29', '1200.00');
      await w.night('2028-02-29');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2028-02-29', review: '2029-03-01' });
      // On 28 February 2029 the window (from 29 February 2028) still holds the credit: no review yet.
      await w.night('2029-02-28');
      expect(await tierOf(w)).toMatchObject({ tier: 'SILVER' });
      await w.night('2029-03-01');
      expect(await tierOf(w)).toEqual({ tier: 'MEMBER', since: '2029-03-01', review: null });
      expect((await w.tierEvents(IVANOV.number)).at(-1)).toMatchObject({
        direction: 'DOWN',
        qualification: 0,
      });
    });

    it('holds the tier at a review that requalifies and sets the next review a year on', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-03-10', '2500.00');
      await w.night('2026-03-11');
      expect(await tierOf(w)).toEqual({ tier: 'GOLD', since: '2026-03-11', review: '2027-03-11' });
      // The night March 2026 leaves the window, March 2027 brings $2,600 in (together they would be Platinum).
      fly(w, '2027-03-10', '2600.00');
      await w.night('2027-03-10');
      expect(await w.statusBalance(IVANOV.number)).toBe(260000);
      expect(await tierOf(w)).toMatchObject({ tier: 'GOLD' });
      await w.night('2027-03-11');
      expect(await tierOf(w)).toEqual({ tier: 'GOLD', since: '2026-03-11', review: '2028-03-11' });
      expect((await w.tierEvents(IVANOV.number)).at(-1)).toEqual({
        business_date: '2027-03-11',
        effective_on: '2027-03-11',
        from_tier: 'GOLD',
        to_tier: 'GOLD',
        direction: 'HOLD',
        qualification: 260000,
        reason: 'REVIEW_REQUALIFIED',
      });
    });

    it('a refund that takes the qualification back below the threshold does not downgrade before the review', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-03-10', '1200.00');
      await w.night('2026-03-11');
      expect(await tierOf(w)).toMatchObject({ tier: 'SILVER' });
      w.dropCoupons([
        {
          ticket: `074${String(3_000_000_000 + tickets).slice(-10)}`,
          flight: '245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          booked: 'Y',
          surname: 'IVANOV',
          givenName: 'IVAN',
          card: { program: 'XX', number: IVANOV.number },
          fare: '1200.00',
          status: 'R',
        },
      ]);
      await w.night('2026-03-20');
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await tierOf(w)).toMatchObject({ tier: 'SILVER', review: '2027-03-11' });

      // A year on, the credit and its refund leave the window together: nothing to post (they net to
      // zero), but both are marked so that later nights do not read them again.
      const leaving = await w.night('2027-03-10');
      expect(leaving.tiers.counts).toMatchObject({ lapsed: 0, 'lapsed.netZero': 1 });
      expect(await w.posting(`LAPSE:${IVANOV.number}:SPEND:2027-03-10`)).toBeUndefined();
      const credits = await w
        .knex('status_credits as s')
        .join('postings as p', 'p.id', 's.posting_id')
        .join('postings as by', 'by.id', 's.lapsed_by')
        .orderBy('s.id')
        .select('s.amount', 'p.kind', 'by.idempotency_key as lapsedBy');
      expect(credits.map((c) => [Number(c.amount), c.kind])).toEqual([
        [120000, 'ACCRUAL'],
        [-120000, 'REVERSAL'],
      ]);
      // Marked by the refund's reversal, the posting after which the two counted for nothing.
      const reversal = await w.knex('postings').where({ kind: 'REVERSAL' }).first('idempotency_key');
      expect(credits.map((c) => c.lapsedBy)).toEqual([reversal.idempotency_key, reversal.idempotency_key]);
      const next = await w.night('2027-03-11');
      expect(next.tiers.counts).toMatchObject({ lapsed: 0, 'lapsed.netZero': 0 });
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
    });

    it('a review the nights skipped is judged on its date, and the next review counts from that date', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-14', '1200.00');
      await w.night('2026-01-15');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-01-15', review: '2027-01-15' });
      fly(w, '2026-01-18', '1000.00');
      await w.night('2026-01-19');
      // The nights of 15 to 19 January 2027 do not run. On the review date the window (15 Jan 2026,
      // 15 Jan 2027] holds the $1,000 of 18 January 2026; the run date's window no longer does.
      await w.night('2027-01-14');
      const late = await w.night('2027-01-20');
      expect(late.tiers.counts).toMatchObject({ hold: 1, down: 0 });
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-01-15', review: '2028-01-15' });
      expect((await w.tierEvents(IVANOV.number)).at(-1)).toEqual({
        business_date: '2027-01-20',
        effective_on: '2027-01-15',
        from_tier: 'SILVER',
        to_tier: 'SILVER',
        direction: 'HOLD',
        qualification: 100000,
        reason: 'REVIEW_REQUALIFIED',
      });
      // The next review is on its anniversary, not five days later.
      await w.night('2028-01-15');
      expect(await tierOf(w)).toEqual({ tier: 'MEMBER', since: '2028-01-15', review: null });
    });

    it('a late review that steps the member down is followed by the upgrade the credits of the skipped nights reach', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-14', '2500.00');
      await w.night('2026-01-15');
      expect(await tierOf(w)).toEqual({ tier: 'GOLD', since: '2026-01-15', review: '2027-01-15' });
      await w.night('2027-01-14');
      // Flown on 17 January 2027, read the first night that runs again.
      fly(w, '2027-01-17', '2600.00');
      const late = await w.night('2027-01-20');
      expect(late.tiers.counts).toMatchObject({ down: 1, up: 1 });
      expect(await tierOf(w)).toEqual({ tier: 'GOLD', since: '2027-01-20', review: '2028-01-20' });
      expect(
        (await w.tierEvents(IVANOV.number)).map((e) => [
          e.business_date,
          e.from_tier,
          e.to_tier,
          e.qualification,
          e.reason,
        ]),
      ).toEqual([
        ['2026-01-15', 'MEMBER', 'GOLD', 250000, 'THRESHOLD_REACHED'],
        ['2027-01-20', 'GOLD', 'SILVER', 0, 'REVIEW_SOFT_LANDING'],
        ['2027-01-20', 'SILVER', 'GOLD', 260000, 'THRESHOLD_REACHED'],
      ]);
      // The review took effect on its date: the event keeps it beside the night that made it.
      expect((await w.tierEvents(IVANOV.number)).map((e) => e.effective_on)).toEqual([
        '2026-01-15',
        '2027-01-15',
        '2027-01-20',
      ]);
      // Flown on 16 January, after the review's date and before the night that made it, and reported
      // late: the tier held that day was the review's Silver (+25%), not Gold.
      fly(w, '2027-01-16', '100.00', '247');
      await w.night('2027-01-25');
      const flight = await w.knex('activities').where({ flight_number: '247' }).first();
      expect([flight.points, (await w.posting(`${flight.activity_key}:AWARD`))?.detail]).toEqual([
        461 + 115,
        expect.objectContaining({ base: 461, tierBonus: 115 }),
      ]);
    });

    it('a rerun of an old night after a later review changes nothing: the review stands', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-10', '2500.00');
      await w.night('2026-01-11');
      fly(w, '2026-12-20', '600.00');
      await w.night('2026-12-21'); // $3,100: Gold already, nothing to do
      await w.night('2027-01-10'); // the $2,500 leaves the window
      await w.night('2027-01-11'); // $600 at the review: Gold lands on Silver
      const reviewed = { tier: 'SILVER', since: '2027-01-11', review: '2028-01-11' };
      expect(await tierOf(w)).toEqual(reviewed);
      const events = await w.tierEvents(IVANOV.number);
      // The night of 21 December is run again, no new file: its window still holds the $2,500, but the
      // review a later night made has decided the member's tier since.
      const rerun = await tiersAlone(w, '2026-12-21');
      expect(rerun.status).toBe('succeeded');
      expect(rerun.steps[0]!.counts).toMatchObject({ up: 0, down: 0, hold: 0, decidedLater: 1 });
      expect(rerun.steps[0]!.warnings).toEqual([
        `1 tier decision(s) of 2026-12-21 not applied, a later night having decided the member's tier since: ${IVANOV.number} (SILVER → GOLD)`,
      ]);
      expect(await tierOf(w)).toEqual(reviewed);
      expect(await w.tierEvents(IVANOV.number)).toEqual(events);
    });

    it('a base tier dated ahead by an enrolment date typed a year ahead and corrected since does not hold back an upgrade', async () => {
      const w = s();
      await w.enrol('2026-03-01', { ...IVANOV, enrolled: '2026-03-01' });
      // As the members feed left a member first sent enrolled on 1 March 2027 and corrected the next
      // night, before it refused the date: his base tier dated from the typo.
      await w.knex('members').where({ number: IVANOV.number }).update({ tier_since: '2027-03-01' });
      fly(w, '2026-03-10', '1200.00');
      const n = await w.night('2026-03-11');
      expect(n.tiers.counts).toMatchObject({ up: 1, decidedLater: 0 });
      expect(n.tiers.warnings ?? []).toEqual([]);
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-03-11', review: '2027-03-11' });
    });

    it('a review the nights skipped counts what was posted by its date: a refund posted after it does not step the member down', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-03-10', '1200.00');
      await runNight(w, '2026-03-11');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-03-11', review: '2027-03-11' });
      // $1,200 flown on 10 January 2027, and later refunded.
      const januaryTicket = ivanovCoupon('2027-01-10', '1200.00');
      w.dropCoupons([januaryTicket]);
      await runNight(w, '2027-01-11');
      // The review night stops after accrue: its window (11 Mar 2026, 11 Mar 2027] holds the $1,200 of
      // 10 January 2027. The next night, still without tiers, brings that ticket's refund.
      await runNight(w, '2027-03-11', ['fetch', 'ingest', 'accrue']);
      w.dropCoupons([{ ...januaryTicket, status: 'R' }]);
      await runNight(w, '2027-03-12', ['fetch', 'ingest', 'accrue']);
      const late = await runNight(w, '2027-03-13');
      expect(late.counts).toMatchObject({ hold: 1, down: 0 });
      expect((await w.tierEvents(IVANOV.number)).at(-1)).toEqual({
        business_date: '2027-03-13',
        effective_on: '2027-03-11',
        from_tier: 'SILVER',
        to_tier: 'SILVER',
        direction: 'HOLD',
        qualification: 120000,
        reason: 'REVIEW_REQUALIFIED',
      });
      // As had tiers run on the review night: the refund weighs on the next review, not this one.
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-03-11', review: '2028-03-11' });
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
    });

    it('two reviews the nights skipped are both decided the night tiers runs again', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-10', '1200.00');
      await w.night('2026-01-11');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-01-11', review: '2027-01-11' });
      fly(w, '2026-11-01', '1200.00');
      await w.night('2026-11-02');
      fly(w, '2027-11-01', '1200.00', '247');
      // Accrued, but tiers does not run again until 1 February 2028: the reviews of 11 January 2027 and
      // 11 January 2028 are both overdue, each held by the $1,200 of its own window.
      for (const job of ['fetch', 'ingest', 'accrue'] as const) await runJob(w.w.ctx('2027-11-02'), job);
      const late = await tiersAlone(w, '2028-02-01');
      expect(late.steps[0]!.counts).toMatchObject({ hold: 2, down: 0 });
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-01-11', review: '2029-01-11' });
      expect(
        (await w.tierEvents(IVANOV.number))
          .slice(1)
          .map((e) => [e.business_date, e.effective_on, e.direction]),
      ).toEqual([
        ['2028-02-01', '2027-01-11', 'HOLD'],
        ['2028-02-01', '2028-01-11', 'HOLD'],
      ]);
      const again = await tiersAlone(w, '2028-02-01');
      expect(again.steps[0]!.counts).toMatchObject({ up: 0, down: 0, hold: 0 });
      expect(await w.tierEvents(IVANOV.number)).toHaveLength(3);
    });

    it('reviews missed for years are decided in turn, each on its own date', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-10', '5000.00');
      await w.night('2026-01-11');
      expect(await tierOf(w)).toEqual({ tier: 'PLATINUM', since: '2026-01-11', review: '2027-01-11' });
      // Tiers does not run again until 1 February 2029, three reviews later, nothing flown since: each
      // review lands one level lower than the one before.
      const late = await tiersAlone(w, '2029-02-01');
      expect(late.steps[0]!.counts).toMatchObject({ down: 3, hold: 0 });
      expect(
        (await w.tierEvents(IVANOV.number)).slice(1).map((e) => [e.effective_on, e.from_tier, e.to_tier]),
      ).toEqual([
        ['2027-01-11', 'PLATINUM', 'GOLD'],
        ['2028-01-11', 'GOLD', 'SILVER'],
        ['2029-01-11', 'SILVER', 'MEMBER'],
      ]);
      expect(await tierOf(w)).toEqual({ tier: 'MEMBER', since: '2029-01-11', review: null });
    });

    it('a catch-up that moves more members than one statement takes reads them again in pieces', async () => {
      const w = s();
      // 33,000 Gold members (SQLite takes at most 32,766 parameters in a statement) whose reviews of 2025
      // and 2026 both went by with tiers not run: the first pass steps every one down to Silver, and all
      // of them are read again for the second.
      const members = 33_000;
      const now = new Date().toISOString();
      for (const part of chunks(
        Array.from({ length: members }, (_, i) => memberNumber(members - i)),
        500,
      ))
        await w.knex('members').insert(
          part.map((number) => ({
            number,
            status: 'ACTIVE',
            tier: 'GOLD',
            tier_since: '2024-01-11',
            review_date: '2025-01-11',
            created_at: now,
          })),
        );
      const late = await tiersAlone(w, '2026-02-01');
      expect(late.status).toBe('succeeded');
      expect(late.steps[0]!.counts).toMatchObject({ down: 2 * members, hold: 0, up: 0 });
      const events = (await w
        .knex('tier_events as t')
        .join('members as m', 'm.id', 't.member_id')
        .orderBy('t.id')
        .select('m.number', 't.effective_on', 't.to_tier')) as Array<Record<string, string>>;
      expect(events).toHaveLength(2 * members);
      // Each pass records its members in member-number order, as one read would have returned them.
      const inOrder = (pass: Array<Record<string, string>>) =>
        pass.every((e, i) => i === 0 || pass[i - 1]!.number! < e.number!);
      const [first, second] = [events.slice(0, members), events.slice(members)];
      expect(first.every((e) => e.effective_on === '2025-01-11' && e.to_tier === 'SILVER')).toBe(true);
      expect(second.every((e) => e.effective_on === '2026-01-11' && e.to_tier === 'MEMBER')).toBe(true);
      expect(inOrder(first) && inOrder(second)).toBe(true);
      expect(await w.knex('members').where({ tier: 'MEMBER' }).count({ n: '*' })).toEqual([{ n: members }]);
    }, 120_000);

    it('an upgrade a night without tiers reached is not lost when its credits leave the window before tiers runs', async () => {
      const w = s();
      await w.enrol('2025-01-01', IVANOV);
      fly(w, '2025-03-13', '900.00');
      await runNight(w, '2025-03-14');
      // The night of 12 March 2026 stops after accrue: its window (12 Mar 2025, 12 Mar 2026] holds $1,100.
      fly(w, '2026-03-11', '200.00');
      await runNight(w, '2026-03-12', ['fetch', 'ingest', 'accrue']);
      // On the 13th the $900 of 13 March 2025 has left the window: tonight's window alone holds $200.
      const late = await runNight(w, '2026-03-13');
      expect(late.counts).toMatchObject({ lapsed: 1, up: 1 });
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-03-13', review: '2027-03-13' });
      expect(await w.tierEvents(IVANOV.number)).toEqual([
        {
          business_date: '2026-03-13',
          effective_on: '2026-03-13',
          from_tier: 'MEMBER',
          to_tier: 'SILVER',
          direction: 'UP',
          qualification: 110000,
          reason: 'THRESHOLD_REACHED',
        },
      ]);
      // A rerun of the night that caught up posts nothing and moves no one.
      const postings = await w.knex('postings').count({ n: '*' });
      const again = await tiersAlone(w, '2026-03-13');
      expect(again.steps[0]!.counts).toMatchObject({ lapsed: 0, up: 0, down: 0, hold: 0 });
      expect(await w.knex('postings').count({ n: '*' })).toEqual(postings);
      expect(await w.tierEvents(IVANOV.number)).toHaveLength(1);
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-03-13', review: '2027-03-13' });
    });

    it('an upgrade reached on a night without tiers stands when tiers runs again only a month later', async () => {
      const w = s();
      await w.enrol('2025-01-01', IVANOV);
      fly(w, '2025-04-01', '900.00');
      await runNight(w, '2025-04-02');
      fly(w, '2026-03-11', '200.00');
      // From 12 March tiers stops; it runs again on 15 April, when April 2025 has left the window.
      await runNight(w, '2026-03-12', ['fetch', 'ingest', 'accrue']);
      await runNight(w, '2026-03-20', ['fetch', 'ingest', 'accrue']);
      const late = await runNight(w, '2026-04-15');
      expect(late.counts).toMatchObject({ lapsed: 1, up: 1 });
      expect(await w.statusBalance(IVANOV.number)).toBe(20000);
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-04-15', review: '2027-04-15' });
      expect((await w.tierEvents(IVANOV.number)).map((e) => [e.to_tier, e.qualification])).toEqual([
        ['SILVER', 110000],
      ]);
    });

    it('an upgrade a skipped night reached before a skipped review takes the member past the review', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-14', '1200.00');
      await runNight(w, '2026-01-15');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-01-15', review: '2027-01-15' });
      // The night of 11 January 2027 reaches Gold ($1,200 + $1,300) without tiers; by the review of the
      // 15th the $1,200 has left the window, and the $1,300 alone would hold Silver.
      fly(w, '2027-01-10', '1300.00');
      await runNight(w, '2027-01-11', ['fetch', 'ingest', 'accrue']);
      const late = await runNight(w, '2027-01-20');
      expect(late.counts).toMatchObject({ up: 1, hold: 0, down: 0 });
      expect(await tierOf(w)).toEqual({ tier: 'GOLD', since: '2027-01-20', review: '2028-01-20' });
      expect(
        (await w.tierEvents(IVANOV.number)).map((e) => [
          e.business_date,
          e.from_tier,
          e.to_tier,
          e.qualification,
        ]),
      ).toEqual([
        ['2026-01-15', 'MEMBER', 'SILVER', 120000],
        ['2027-01-20', 'SILVER', 'GOLD', 250000],
      ]);
    });

    it('a skipped night that reached no higher tier does not undo the skipped review after it', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-14', '2500.00');
      await runNight(w, '2026-01-15');
      // Gold already on 11 January 2027 ($2,600 in its window); the review of the 15th finds $100.
      fly(w, '2027-01-10', '100.00');
      await runNight(w, '2027-01-11', ['fetch', 'ingest', 'accrue']);
      const late = await runNight(w, '2027-01-20');
      expect(late.counts).toMatchObject({ up: 0, down: 1 });
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2027-01-15', review: '2028-01-15' });
    });

    it('a skipped night that reached no higher tier leaves the skipped review after it to step down before a later night upgrades', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-14', '1200.00');
      await runNight(w, '2026-01-15');
      // Tiers stops from 11 January 2027: that night $1,300 holds Silver; the review of the 15th finds
      // $100 and steps down; the night of the 18th reaches Gold.
      fly(w, '2027-01-10', '100.00');
      await runNight(w, '2027-01-11', ['fetch', 'ingest', 'accrue']);
      fly(w, '2027-01-17', '2500.00', '247');
      await runNight(w, '2027-01-18', ['fetch', 'ingest', 'accrue']);
      const late = await runNight(w, '2027-01-20');
      expect(late.counts).toMatchObject({ down: 1, up: 1 });
      expect(
        (await w.tierEvents(IVANOV.number))
          .slice(1)
          .map((e) => [e.effective_on, e.from_tier, e.to_tier, e.qualification]),
      ).toEqual([
        ['2027-01-15', 'SILVER', 'MEMBER', 10000],
        ['2027-01-20', 'MEMBER', 'GOLD', 260000],
      ]);
      expect(await tierOf(w)).toEqual({ tier: 'GOLD', since: '2027-01-20', review: '2028-01-20' });
    });

    it('a review recorded before its key named the review date is not recorded again by a rerun', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-10', '1200.00');
      await w.night('2026-01-11');
      fly(w, '2026-11-01', '1200.00');
      await w.night('2026-11-02');
      fly(w, '2027-11-01', '1200.00', '247');
      for (const job of ['fetch', 'ingest', 'accrue'] as const) await runJob(w.w.ctx('2027-11-02'), job);
      await tiersAlone(w, '2028-02-01');
      // As the night was recorded before: one hold under the key without its review date, the second
      // review dropped as its duplicate and left overdue.
      const id = (await w.member(IVANOV.number)).id as number;
      const [first, second] = await w
        .knex('tier_events')
        .where({ member_id: id })
        .andWhere('direction', 'HOLD')
        .orderBy('id');
      await w.knex('tier_events').where({ id: second.id }).delete();
      await w
        .knex('tier_events')
        .where({ id: first.id })
        .update({ event_key: `TIER:${IVANOV.number}:2028-02-01:HOLD:SILVER` });
      await w.knex('members').where({ id }).update({ review_date: '2028-01-11' });
      // The rerun decides the review left overdue, and only it: the hold of 2027 stands as recorded.
      const rerun = await tiersAlone(w, '2028-02-01');
      expect(rerun.steps[0]!.counts).toMatchObject({ hold: 1 });
      expect((await w.tierEvents(IVANOV.number)).map((e) => [e.effective_on, e.direction])).toEqual([
        ['2026-01-11', 'UP'],
        ['2027-01-11', 'HOLD'],
        ['2028-01-11', 'HOLD'],
      ]);
      expect(await tierOf(w)).toMatchObject({ review: '2029-01-11' });
      // Had the first review not moved the member on, a rerun would find it recorded all the same.
      await w.knex('tier_events').where({ effective_on: '2028-01-11' }).delete();
      await w.knex('members').where({ id }).update({ review_date: '2027-01-11' });
      const again = await tiersAlone(w, '2028-02-01');
      expect(again.steps[0]!.counts).toMatchObject({ up: 0, down: 0, hold: 0 });
    });
  });

  describe(`thresholds raised from 1 July 2026: Silver $1,200, Gold $3,000, Platinum $6,000 (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      withTierVersions(
        y,
        tierVersion('2024-01-01', [1000, 2500, 5000]) + tierVersion('2026-07-01', [1200, 3000, 6000]),
      ),
    );

    it('upgrades on $1,000 crossed before the date, not on the same $1,000 after it; the review judges by its own date', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROV);
      fly(w, '2026-06-10', '1000.00');
      await w.night('2026-06-11');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-06-11', review: '2027-06-11' });
      petrovFlies(w, '2026-07-10', '1000.00');
      await w.night('2026-07-11');
      expect(await w.member(PETROV.number)).toMatchObject({ tier: 'MEMBER' });
      petrovFlies(w, '2026-07-20', '200.00'); // $1,200: Silver under the new thresholds
      await w.night('2026-07-21');
      expect(await w.member(PETROV.number)).toMatchObject({ tier: 'SILVER', tier_since: '2026-07-21' });
      expect(
        (await w.tierEvents(PETROV.number)).map((e) => [e.business_date, e.to_tier, e.qualification]),
      ).toEqual([['2026-07-21', 'SILVER', 120000]]);
      // IVANOV's tier stands until his review, which the new thresholds judge: $1,100 kept Silver before.
      fly(w, '2027-01-10', '1100.00');
      await w.night('2027-01-11');
      expect(await tierOf(w)).toMatchObject({ tier: 'SILVER', review: '2027-06-11' });
      await w.night('2027-06-11');
      expect(await tierOf(w)).toEqual({ tier: 'MEMBER', since: '2027-06-11', review: null });
      expect((await w.tierEvents(IVANOV.number)).at(-1)).toMatchObject({
        direction: 'DOWN',
        qualification: 110000,
        reason: 'REVIEW_NOT_REQUALIFIED',
      });
    });

    it('a rerun of a night before the date, and a catch-up of a skipped one, judge by the thresholds then in force', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROV);
      await w.night('2026-06-21');
      await w.night('2026-07-05');
      // A late coupon of 20 June: the rerun of 21 June upgrades on $1,000, as that night would have.
      fly(w, '2026-06-20', '1000.00');
      await w.night('2026-06-21');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-06-21', review: '2027-06-21' });
      expect(await w.tierEvents(IVANOV.number)).toEqual([
        expect.objectContaining({ business_date: '2026-06-21', to_tier: 'SILVER', qualification: 100000 }),
      ]);
      // PETROV's $1,000 of 25 June is accrued on a night that stops before tiers; tiers runs again on
      // 6 July, under the new thresholds, and upgrades him for the night that crossed the old one.
      petrovFlies(w, '2026-06-25', '1000.00');
      await runNight(w, '2026-06-26', ['fetch', 'ingest', 'accrue']);
      const late = await tiersAlone(w, '2026-07-06');
      expect(late.steps[0]!.counts).toMatchObject({ up: 1 });
      expect(await w.member(PETROV.number)).toMatchObject({ tier: 'SILVER', tier_since: '2026-07-06' });
      expect(
        (await w.tierEvents(PETROV.number)).map((e) => [e.business_date, e.to_tier, e.qualification]),
      ).toEqual([['2026-07-06', 'SILVER', 100000]]);
    });
  });

  describe(`the window changed from rolling 12 months to the calendar year on 1 January 2027 (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      withTierVersions(
        y,
        tierVersion('2024-01-01', [1000, 2500, 5000]) +
          tierVersion('2027-01-01', [1000, 2500, 5000], 'window: calendarYear, review: calendarYear'),
      ),
    );

    it('a review after the change counts the calendar year so far, and sets the next review on 31 December', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROV);
      fly(w, '2026-03-10', '1200.00');
      petrovFlies(w, '2026-03-10', '1200.00');
      await w.night('2026-03-11');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-03-11', review: '2027-03-11' });
      // $1,200 in December each: a rolling window on 11 March 2027 would hold it and keep them Silver.
      fly(w, '2026-12-01', '1200.00');
      petrovFlies(w, '2026-12-01', '1200.00');
      await w.night('2026-12-02');
      // The first night of the calendar-year window lapses 2026's credits.
      const january = await w.night('2027-01-01');
      expect(january.tiers.counts.lapsed).toBe(2);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await tierOf(w)).toMatchObject({ tier: 'SILVER', review: '2027-03-11' });
      petrovFlies(w, '2027-02-10', '1000.00');
      await w.night('2027-03-11');
      expect(await tierOf(w)).toEqual({ tier: 'MEMBER', since: '2027-03-11', review: null });
      expect((await w.tierEvents(IVANOV.number)).at(-1)).toMatchObject({
        direction: 'DOWN',
        qualification: 0,
        reason: 'REVIEW_NOT_REQUALIFIED',
      });
      // PETROV's $1,000 of February requalifies him, and his next review is the calendar year's.
      expect(await w.member(PETROV.number)).toMatchObject({
        tier: 'SILVER',
        tier_since: '2026-03-11',
        review_date: '2028-12-31',
      });
      expect((await w.tierEvents(PETROV.number)).at(-1)).toMatchObject({
        direction: 'HOLD',
        qualification: 100000,
        reason: 'REVIEW_REQUALIFIED',
      });
    });

    it('a review the change left on 11 March, caught up late, counts only the credits posted by its date', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-03-10', '1200.00');
      await w.night('2026-03-11');
      expect(await tierOf(w)).toMatchObject({ review: '2027-03-11' });
      await w.night('2027-03-10');
      // The nights of 11 to 14 March do not run; a coupon of 10 February comes late, posted on the 15th.
      fly(w, '2027-02-10', '1000.00');
      await w.night('2027-03-15');
      // As a night run on 11 March decides: nothing of 2027 was posted by then, so down, and the late
      // credit lifts him again on the 15th. The review closes no year: only 31 December's would count
      // every credit of it.
      expect(
        (await w.tierEvents(IVANOV.number)).map((e) => [e.effective_on, e.direction, e.qualification]),
      ).toEqual([
        ['2026-03-11', 'UP', 120000],
        ['2027-03-11', 'DOWN', 0],
        ['2027-03-15', 'UP', 100000],
      ]);
    });
  });

  describe(`status counted in segments from 1 July 2026: Silver 10, Gold 25, Platinum 50 (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      withTierVersions(
        y,
        tierVersion('2024-01-01', [1000, 2500, 5000]) +
          tierVersion('2026-07-01', [10, 25, 50]).replace('metric: spend', 'metric: segments'),
      ),
    );

    it('a flight counts in the metric of its own date, as the simulator shows, and the night judges in its own', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      const file = w.dropCoupons([
        ivanovCoupon('2026-06-30', '1200.00'),
        ivanovCoupon('2026-07-02', '300.00', '247'),
      ]);
      const shown = (await w.simulate('flown', file, '2026-07-03')).flatMap((e) =>
        e.type === 'record' ? e.postings.flatMap((p) => p.statusCredits ?? []) : [],
      );
      expect(shown.map((c) => [c.activityDate, c.metric, c.amount])).toEqual([
        ['2026-06-30', 'SPEND', 120000],
        ['2026-07-02', 'SEGMENTS', 1],
      ]);
      await w.night('2026-07-03');
      expect(
        await w.knex('status_credits').orderBy('activity_date').select('activity_date', 'metric', 'amount'),
      ).toEqual([
        { activity_date: '2026-06-30', metric: 'SPEND', amount: 120000 },
        { activity_date: '2026-07-02', metric: 'SEGMENTS', amount: 1 },
      ]);
      // Judged in segments on 3 July: one segment reaches no tier, the $1,200 of June no longer counts.
      expect(await tierOf(w)).toMatchObject({ tier: 'MEMBER' });
    });
  });

  describe(`tiers over the calendar year, reviewed on 31 December (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        replaceOnce(y, 'window: rolling12', 'window: calendarYear'),
        'review: anniversary',
        'review: calendarYear',
      ),
    );

    it('a review missed on 31 December is judged on the year it closes, and the next is a year later', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-03-10', '1200.00');
      await w.night('2026-03-11');
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-03-11', review: '2027-12-31' });
      fly(w, '2027-06-10', '1200.00');
      await w.night('2027-06-11');
      await w.night('2027-12-30');
      // 31 December and 1 January do not run.
      const late = await w.night('2028-01-02');
      expect(late.tiers.counts).toMatchObject({ hold: 1, down: 0 });
      expect(await w.statusBalance(IVANOV.number)).toBe(0); // 2027's credits have left the window
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-03-11', review: '2028-12-31' });
      expect((await w.tierEvents(IVANOV.number)).at(-1)).toMatchObject({
        business_date: '2028-01-02',
        direction: 'HOLD',
        qualification: 120000,
      });
      // Nothing flown in 2028: the review on its date steps down.
      await w.night('2028-12-31');
      expect(await tierOf(w)).toEqual({ tier: 'MEMBER', since: '2028-12-31', review: null });
    });

    for (const arrives of ['2027-01-01', '2027-01-02'])
      it(`a late credit of a year whose 31 December ran changes nothing, come on ${arrives}`, async () => {
        const w = s();
        await w.enrol('2026-01-01', IVANOV);
        fly(w, '2026-06-10', '900.00');
        for (const date of ['2026-06-11', '2026-12-31', '2027-01-01', '2027-01-02'])
          for (const job of ['fetch', 'ingest', 'accrue', 'tiers'] as const) {
            // A coupon of 30 December, $200 that would have made 2026 a Silver year, comes late.
            if (date === arrives && job === 'fetch') fly(w, '2026-12-30', '200.00', '247');
            expect((await runJob(w.w.ctx(date), job)).status).toBe('succeeded');
          }
        // Credited toward status, on the year it was flown.
        expect(await w.knex('status_credits').where({ activity_date: '2026-12-30' }).pluck('amount')).toEqual(
          [20000],
        );
        // 31 December's tiers ran and closed 2026 on $900: the year's decision stands.
        expect(await tierOf(w)).toEqual({ tier: 'MEMBER', since: '2020-01-01', review: null });
        expect(await w.tierEvents(IVANOV.number)).toEqual([]);
      });

    it('upgrades in January for the year just closed when its last night stopped before tiers', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await tiersAlone(w, '2026-12-30');
      fly(w, '2026-12-30', '1200.00');
      for (const job of ['fetch', 'ingest', 'accrue'] as const) await runJob(w.w.ctx('2026-12-31'), job);
      expect(await tierOf(w)).toMatchObject({ tier: 'MEMBER' });
      const january = await tiersAlone(w, '2027-01-01');
      expect(january.status).toBe('succeeded');
      // Reached in the year it closes, as on a night that ran: reviewed at the end of the next year.
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2026-12-31', review: '2027-12-31' });
      expect((await w.tierEvents(IVANOV.number)).at(-1)).toMatchObject({
        business_date: '2027-01-01',
        direction: 'UP',
        to_tier: 'SILVER',
        qualification: 120000,
      });
    });

    it('a year whose nights never ran tiers is judged when tiers runs again, and its review after it in turn', async () => {
      const w = s();
      await w.enrol('2025-01-01', IVANOV);
      await tiersAlone(w, '2025-01-02');
      fly(w, '2025-06-10', '1200.00');
      await runNight(w, '2025-06-11', ['fetch', 'ingest', 'accrue']);
      // Tiers runs again on 5 January 2027: 2025 was a Silver year, reviewed (and left) at the end of 2026.
      const late = await tiersAlone(w, '2027-01-05');
      expect(late.steps[0]!.counts).toMatchObject({ up: 1, down: 1 });
      expect(
        (await w.tierEvents(IVANOV.number)).map((e) => [
          e.business_date,
          e.effective_on,
          e.from_tier,
          e.to_tier,
          e.qualification,
          e.reason,
        ]),
      ).toEqual([
        ['2027-01-05', '2025-12-31', 'MEMBER', 'SILVER', 120000, 'THRESHOLD_REACHED'],
        ['2027-01-05', '2026-12-31', 'SILVER', 'MEMBER', 0, 'REVIEW_NOT_REQUALIFIED'],
      ]);
      expect(await tierOf(w)).toEqual({ tier: 'MEMBER', since: '2026-12-31', review: null });
      const postings = await w.knex('postings').count({ n: '*' });
      const again = await tiersAlone(w, '2027-01-05');
      expect(again.steps[0]!.counts).toMatchObject({ lapsed: 0, up: 0, down: 0, hold: 0 });
      expect(await w.knex('postings').count({ n: '*' })).toEqual(postings);
      expect(await w.tierEvents(IVANOV.number)).toHaveLength(2);
    });

    it('a night catching up years may upgrade to the same tier twice: a closed year and tonight', async () => {
      const w = s();
      await w.enrol('2025-01-01', IVANOV);
      await tiersAlone(w, '2025-01-02');
      fly(w, '2025-06-10', '1200.00');
      await runNight(w, '2025-06-11', ['fetch', 'ingest', 'accrue']);
      fly(w, '2027-01-02', '1200.00');
      await runNight(w, '2027-01-03', ['fetch', 'ingest', 'accrue']);
      const late = await tiersAlone(w, '2027-01-05');
      expect(late.steps[0]!.counts).toMatchObject({ up: 2, down: 1 });
      expect(
        (await w.tierEvents(IVANOV.number)).map((e) => [e.effective_on, e.from_tier, e.to_tier, e.direction]),
      ).toEqual([
        ['2025-12-31', 'MEMBER', 'SILVER', 'UP'],
        ['2026-12-31', 'SILVER', 'MEMBER', 'DOWN'],
        ['2027-01-05', 'MEMBER', 'SILVER', 'UP'],
      ]);
      expect(await tierOf(w)).toEqual({ tier: 'SILVER', since: '2027-01-05', review: '2028-12-31' });
      const again = await tiersAlone(w, '2027-01-05');
      expect(again.steps[0]!.counts).toMatchObject({ up: 0, down: 0, hold: 0 });
      expect(await w.tierEvents(IVANOV.number)).toHaveLength(3);
      if (skipWithoutOpenpyxl()) return;
      // The night's report counts members, as the month's does, and dates each change where it took effect.
      const dump = await dumpXlsx(
        (await dailyReport(w.w.t.db, w.w.config, '2027-01-05', join(w.w.dir, 'reports'))).workbookPath,
      );
      const summary = tableOf(dump, 'Summary');
      const today = '2027-01-05 (today)';
      expect(summary.cell(summary.row('Tier upgrades'), today).value).toBe(1);
      expect(summary.cell(summary.row('Tier downgrades'), today).value).toBe(1);
      const changes = tableOf(dump, 'Tier changes');
      expect(changes.rows.map((r) => changes.cell(r, 'Members').value)).toEqual([1, 1]);
      const detail = tableOf(dump, 'Tier change detail');
      expect(
        detail.rows.map((r) => [detail.cell(r, 'Effective').value, detail.cell(r, 'To tier').value]),
      ).toEqual([
        ['2025-12-31T00:00:00', 'Silver'],
        ['2026-12-31T00:00:00', 'Member'],
        ['2027-01-05T00:00:00', 'Silver'],
      ]);
    });
  });
}
