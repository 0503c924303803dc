/**
 * Air earning on the demo program, worked through the real night: distance × class rate, minimum miles,
 * the DME-LED city pair, booked against flown class, tier bonuses, the SOCHI-SUMMER promotion, status
 * credits from the coupon's money, and variants of the program (revenue basis, flown-class rates,
 * a promotion bounded by class, a second earning version).
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { Accounts } from '../../ledger/accounts.js';
import { awardPostingKey, flightKey } from '../activity.js';
import { fetchJob } from '../../jobs/fetch.js';
import { ingestJob } from '../../jobs/ingest.js';
import { accrueJob } from '../../jobs/accrue.js';
import { memberNumber, replaceOnce, useScenario, YES, type Coupon, type Person } from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const PETROVA: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };

let ticketSeq = 0;
/** A flown coupon of our flight with IVANOV's card, $100 fare unless said otherwise. */
function coupon(over: Partial<Coupon> & Pick<Coupon, 'date' | 'from' | 'to' | 'booked'>): Coupon {
  return {
    ticket: `074${String(1_000_000_000 + ++ticketSeq)}`,
    flight: '245',
    surname: IVANOV.surname,
    givenName: IVANOV.givenName,
    card: { program: 'XX', number: IVANOV.number },
    fare: '100.00',
    ...over,
  };
}

/** The activity key of IVANOV's own-card flight. */
const keyOf = (c: { flight: string; date: string; from: string; to: string }, who = IVANOV) =>
  flightKey(
    { carrier: 'XX', number: c.flight, date: c.date, origin: c.from, destination: c.to },
    { program: 'XX', number: who.number },
  );

for (const engine of availableEngines()) {
  describe(`air earning on the demo program (${engine})`, () => {
    const s = useScenario(engine);

    it('credits distance × the booked class rate: SVO-KZN 461 mi earns 461 in Y, 922 in C, 230 in L', async () => {
      const w = s();
      const people = [1, 2, 3].map((i) => ({
        number: memberNumber(10 + i),
        surname: 'ROSTOV',
        givenName: `PETR`,
      }));
      await w.enrol('2026-03-01', ...people);
      w.dropCoupons(
        (['Y', 'C', 'L'] as const).map((cls, i) =>
          coupon({
            date: '2026-03-10',
            from: 'SVO',
            to: 'KZN',
            booked: cls,
            surname: 'ROSTOV',
            givenName: 'PETR',
            card: { program: 'XX', number: people[i]!.number },
          }),
        ),
      );
      await w.night('2026-03-11');
      // 461 × 1.0 = 461; 461 × 2.0 = 922; 461 × 0.5 = 230.5, rounded down to 230.
      expect(await w.balance(people[0]!.number)).toBe(461);
      expect(await w.balance(people[1]!.number)).toBe(922);
      expect(await w.balance(people[2]!.number)).toBe(230);
      const key = awardPostingKey(
        flightKey(
          { carrier: 'XX', number: '245', date: '2026-03-10', origin: 'SVO', destination: 'KZN' },
          { program: 'XX', number: people[1]!.number },
        ),
      );
      const posting = await w.posting(key);
      expect(posting).toMatchObject({
        kind: 'ACCRUAL',
        ruleVersion: 'air-2024',
        detail: { basis: '461 mi × 2 (C)', base: 922, tierBonus: 0, promotion: 0 },
        entries: { [Accounts.memberPoints(people[1]!.number)]: 922, [Accounts.ownFlights]: -922 },
      });
    });

    it('raises a short hop to the 250-mile minimum: SVO-VKO (27 mi) earns 250 in Y and 125 in Q', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROVA);
      w.dropCoupons([
        coupon({ date: '2026-03-10', from: 'SVO', to: 'VKO', booked: 'Y' }),
        coupon({
          date: '2026-03-10',
          from: 'SVO',
          to: 'VKO',
          booked: 'Q',
          surname: 'PETROVA',
          givenName: 'ANNA',
          card: { program: 'XX', number: PETROVA.number },
        }),
      ]);
      await w.night('2026-03-11');
      // max(27, 250) × 1.0 = 250; max(27, 250) × 0.5 = 125.
      expect(await w.balance(IVANOV.number)).toBe(250);
      expect(await w.balance(PETROVA.number)).toBe(125);
      expect(
        await w.activity(keyOf({ flight: '245', date: '2026-03-10', from: 'SVO', to: 'VKO' })),
      ).toMatchObject({
        status: 'POSTED',
        miles: 27,
        points: 250,
      });
    });

    it('uses the published city-pair miles instead of the great circle: DME-LED is 400 mi either way, not 414', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([
        coupon({ date: '2026-03-10', from: 'DME', to: 'LED', booked: 'Y' }),
        coupon({ date: '2026-03-12', from: 'LED', to: 'DME', booked: 'D', flight: '246' }),
      ]);
      await w.night('2026-03-13');
      // 400 × 1.0 + 400 × 1.5 = 400 + 600.
      expect(await w.balance(IVANOV.number)).toBe(1000);
      expect(
        await w.activity(keyOf({ flight: '246', date: '2026-03-12', from: 'LED', to: 'DME' })),
      ).toMatchObject({ miles: 400, points: 600 });
    });

    it('rates by the booked class in the demo: an upgrade from Y to C earns Y, a downgrade from C to Y earns C', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROVA);
      w.dropCoupons([
        coupon({ date: '2026-03-10', from: 'SVO', to: 'KZN', booked: 'Y', flown: 'C', cabin: 'C' }),
        coupon({
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          booked: 'C',
          flown: 'Y',
          surname: 'PETROVA',
          givenName: 'ANNA',
          card: { program: 'XX', number: PETROVA.number },
        }),
      ]);
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461); // 461 × 1.0 (booked Y)
      expect(await w.balance(PETROVA.number)).toBe(922); // 461 × 2.0 (booked C)
    });

    it('reads the booked class from the FTL suffix: flown W, booked B earns B (100%), not W (150%)', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl({
        flight: 'XX0245',
        date: '2026-03-10',
        board: 'SVO',
        groups: [
          {
            dest: 'KZN',
            cls: 'W',
            pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number, booked: 'B' }],
          },
        ],
      });
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(
        await w.activity(keyOf({ flight: '245', date: '2026-03-10', from: 'SVO', to: 'KZN' })),
      ).toMatchObject({
        booked_class: 'B',
        flown_class: 'W',
      });
    });

    it('adds the tier bonus on top of the base once the member is Gold: 461 + 50% = 691', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      // $2,400 fare + $100 tax = $2,500 toward status: Gold the same night.
      w.dropCoupons([
        coupon({ date: '2026-03-10', from: 'SVO', to: 'KZN', booked: 'Y', fare: '2400.00', tax: '100.00' }),
      ]);
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect((await w.member(IVANOV.number)).tier).toBe('GOLD');
      w.dropCoupons([coupon({ date: '2026-03-12', from: 'KZN', to: 'SVO', booked: 'Y', flight: '246' })]);
      await w.night('2026-03-13');
      // 461 + floor(461 × 0.5) = 461 + 230 = 691.
      const key = awardPostingKey(keyOf({ flight: '246', date: '2026-03-12', from: 'KZN', to: 'SVO' }));
      expect((await w.posting(key))?.detail).toMatchObject({ base: 461, tierBonus: 230 });
      expect(await w.balance(IVANOV.number)).toBe(461 + 691);
    });

    it('applies the tier the member held on the day of the flight, not the one held when it is credited', async () => {
      // Flown as a Member, reported after the upgrade to Gold: no Gold bonus.
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon({ date: '2026-03-10', from: 'SVO', to: 'KZN', booked: 'Y', fare: '2500.00' })]);
      await w.night('2026-03-11');
      expect((await w.member(IVANOV.number)).tier).toBe('GOLD');
      w.dropCoupons([coupon({ date: '2026-03-09', from: 'KZN', to: 'SVO', booked: 'Y', flight: '246' })]);
      await w.night('2026-03-12');
      const key = keyOf({ flight: '246', date: '2026-03-09', from: 'KZN', to: 'SVO' });
      expect(await w.activity(key)).toMatchObject({ points: 461 });
      expect((await w.posting(awardPostingKey(key)))?.detail).toMatchObject({ base: 461, tierBonus: 0 });
      // Flown as Gold, it earns Gold's.
      w.dropCoupons([coupon({ date: '2026-03-12', from: 'SVO', to: 'KZN', booked: 'Y', flight: '247' })]);
      await w.night('2026-03-13');
      const gold = keyOf({ flight: '247', date: '2026-03-12', from: 'SVO', to: 'KZN' });
      expect(await w.activity(gold)).toMatchObject({ points: 461 + 230 });
    });

    it('gives the SOCHI-SUMMER bonus (+50%) only on routes to or from AER between 1 June and 31 August 2026', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      const flights: Array<[string, string, string, string, number]> = [
        // date, from, to, flight, expected points
        ['2026-05-31', 'SVO', 'AER', '101', 873], // the day before the promotion
        ['2026-06-01', 'SVO', 'AER', '103', 873 + 436], // 873 + floor(873 × 0.5)
        ['2026-07-15', 'AER', 'SVO', '104', 873 + 436], // either direction
        ['2026-07-16', 'SVO', 'KZN', '105', 461], // not an AER route
        ['2026-08-31', 'SVO', 'AER', '107', 873 + 436], // the last day
      ];
      for (const [date, from, to, flight] of flights) {
        w.dropCoupons([coupon({ date, from, to, booked: 'Y', flight })]);
        await w.night(date);
      }
      w.dropCoupons([coupon({ date: '2026-09-01', from: 'SVO', to: 'AER', booked: 'Y', flight: '109' })]);
      await w.night('2026-09-02');
      flights.push(['2026-09-01', 'SVO', 'AER', '109', 873]); // the day after
      for (const [date, from, to, flight, points] of flights) {
        const a = await w.activity(keyOf({ flight, date, from, to }));
        expect({ date, points: a?.points }).toEqual({ date, points });
      }
      const june = await w.posting(
        awardPostingKey(keyOf({ flight: '103', date: '2026-06-01', from: 'SVO', to: 'AER' })),
      );
      expect(june?.detail).toMatchObject({ base: 873, promotion: 436, promotions: ['SOCHI-SUMMER'] });
      expect(await w.balance(IVANOV.number)).toBe(flights.reduce((s, f) => s + f[4], 0));
    });

    it('counts base fare plus taxes toward status: a $150 ticket is $150, the $25 carrier surcharge is not', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([
        coupon({
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          booked: 'Y',
          fare: '120.00',
          tax: '30.00',
          surcharge: '25.00',
        }),
      ]);
      await w.night('2026-03-11');
      const key = keyOf({ flight: '245', date: '2026-03-10', from: 'SVO', to: 'KZN' });
      expect(await w.activity(key)).toMatchObject({
        status_credit: 15000,
        base_spend_minor: 17500,
        points: 461,
      });
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      // Award points and status credits travel in one posting, on their own units.
      expect((await w.posting(awardPostingKey(key)))?.entries).toEqual({
        [Accounts.memberPoints(IVANOV.number)]: 461,
        [Accounts.ownFlights]: -461,
        [Accounts.memberStatus(IVANOV.number, 'SPEND')]: 15000,
        [Accounts.statusIssued('SPEND')]: -15000,
      });
    });

    it('refuses a coupon with a negative tax on its line and field: no miles, and no status taken off its fare', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const file = w.dropCoupons([
        coupon({ date: '2026-03-10', from: 'SVO', to: 'KZN', booked: 'Y', fare: '150.00', tax: '-100.00' }),
      ]);
      const night = await w.night('2026-03-11');
      expect(night.ingest.counts).toMatchObject({ rejects: 1 });
      expect(
        (await w.rejects({ feed: 'flown' })).map((r) => [r.file_id, r.line, r.field, r.reason, r.text]),
      ).toEqual([[await w.inboundFileId(file), 2, 'tax_amount', 'BAD_AMOUNT', '-100.00']]);
      expect(
        await w.activity(keyOf({ flight: '245', date: '2026-03-10', from: 'SVO', to: 'KZN' })),
      ).toBeUndefined();
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.postingCount()).toBe(0);
    });

    it('converts a coupon in euros to dollars of status with the ECB rate of the flight date', async () => {
      const w = s();
      w.dropFx({ '2026-03-10': { USD: '1.0800' }, '2026-03-11': { USD: '1.1000' } });
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([
        coupon({
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          booked: 'Y',
          fare: '100.00',
          tax: '25.00',
          currency: 'EUR',
        }),
      ]);
      await w.night('2026-03-11');
      // EUR 100.00 × 1.08 = USD 108.00; EUR 25.00 × 1.08 = USD 27.00: 135.00 toward status.
      expect(await w.statusBalance(IVANOV.number)).toBe(13500);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });
  });

  describe(`air earning variants (${engine})`, () => {
    describe('revenue-based earning: 5 points per dollar of fare and carrier surcharge', () => {
      const s = useScenario(engine, (y) =>
        replaceOnce(
          y,
          '      basis: distance\n',
          '      basis: revenue\n      pointsPerUnit: "5"\n      revenueComponents: [fare, surcharge]\n',
        ),
      );

      it('earns (fare + surcharge) × 5 from the coupon and waits for the coupon when the FTL comes first', async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        w.dropFtl({
          flight: 'XX245',
          date: '2026-03-10',
          board: 'SVO',
          groups: [
            { dest: 'KZN', cls: 'Y', pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number }] },
          ],
        });
        const first = await w.night('2026-03-11');
        const key = keyOf({ flight: '245', date: '2026-03-10', from: 'SVO', to: 'KZN' });
        expect(await w.balance(IVANOV.number)).toBe(0);
        // Held for its coupon, not rejected: the FTL carries no money, so there is nothing wrong with it.
        expect(await w.activity(key)).toMatchObject({ status: 'PENDING', reason: null });
        expect(first.accrue.counts.rejected).toBe(0);
        w.dropCoupons([
          coupon({
            date: '2026-03-10',
            from: 'SVO',
            to: 'KZN',
            booked: 'Y',
            fare: '120.50',
            surcharge: '20.00',
            tax: '30.00',
          }),
        ]);
        await w.night('2026-03-12');
        // (120.50 + 20.00) × 5 = 702.5, rounded down to 702; status: 120.50 + 30.00 = 150.50.
        expect(await w.balance(IVANOV.number)).toBe(702);
        expect(await w.statusBalance(IVANOV.number)).toBe(15050);
        expect(await w.activity(key)).toMatchObject({
          status: 'POSTED',
          points: 702,
          seen_ftl: YES,
        });
        expect((await w.posting(awardPostingKey(key)))?.detail).toMatchObject({ basis: '140.5 USD × 5' });
      });

      it('converts a foreign fare as one sum, rounded once: EUR 100.45 + 0.45 at 1.10 is USD 110.99, 554 points', async () => {
        const w = s();
        w.dropFx({ '2026-03-10': { USD: '1.1000' } });
        await w.enrol('2026-03-01', IVANOV);
        w.dropCoupons([
          coupon({
            date: '2026-03-10',
            from: 'SVO',
            to: 'KZN',
            booked: 'Y',
            fare: '100.45',
            surcharge: '0.45',
            tax: '0.00',
            currency: 'EUR',
          }),
        ]);
        await w.night('2026-03-11');
        // Each part rounded on its own would be 110.50 + 0.50 = 111.00 dollars, 555 points.
        const key = keyOf({ flight: '245', date: '2026-03-10', from: 'SVO', to: 'KZN' });
        expect(await w.activity(key)).toMatchObject({ points: 554, base_spend_minor: 11099 });
      });

      it('refuses a coupon with a negative fare on its line and field, rather than an activity of -500 points', async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        const file = w.dropCoupons([
          coupon({ date: '2026-03-10', from: 'SVO', to: 'KZN', booked: 'Y', fare: '-100.00', tax: '200.00' }),
        ]);
        await w.night('2026-03-11');
        expect(
          (await w.rejects({ feed: 'flown' })).map((r) => [r.file_id, r.line, r.field, r.reason, r.text]),
        ).toEqual([[await w.inboundFileId(file), 2, 'fare_amount', 'BAD_AMOUNT', '-100.00']]);
        expect(
          await w.activity(keyOf({ flight: '245', date: '2026-03-10', from: 'SVO', to: 'KZN' })),
        ).toBeUndefined();
        expect(await w.balance(IVANOV.number)).toBe(0);
        expect(await w.statusBalance(IVANOV.number)).toBe(0);
        expect(await w.postingCount()).toBe(0);
      });

      it('earns no negative points from a coupon archived with a negative fare before the reader refused it', async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        w.dropCoupons([
          coupon({ date: '2026-03-10', from: 'SVO', to: 'KZN', booked: 'Y', fare: '100.00', tax: '200.00' }),
        ]);
        await w.run(fetchJob, '2026-03-11');
        await w.run(ingestJob, '2026-03-11');
        const key = keyOf({ flight: '245', date: '2026-03-10', from: 'SVO', to: 'KZN' });
        // As an earlier version stored `-100.00`, waiting for its accrue.
        await w.knex('activities').where({ activity_key: key }).update({ fare_minor: -10000 });
        await w.run(accrueJob, '2026-03-11');
        const activity = await w.activity(key);
        // The activity says what its postings hold: no points, where it used to say -500 beside a posting
        // of none; a status credit it holds is the one posted.
        expect(activity).toMatchObject({
          status: 'POSTED',
          points: 0,
          reason: 'BAD_AMOUNT',
          reason_field: 'fare_amount',
          reason_message: expect.stringContaining('a negative fare_amount earns no points under air-2024'),
        });
        expect(await w.balance(IVANOV.number)).toBe(0);
        expect(await w.statusBalance(IVANOV.number)).toBe(Number(activity!.status_credit ?? 0));
        expect(await w.posting(awardPostingKey(key))).toBeUndefined();
        await w.expectLedgerOk();
      });

      it('rejects a coupon whose fare is nothing as BAD_AMOUNT, and the night goes on', async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        w.dropCoupons([
          coupon({ date: '2026-03-10', from: 'SVO', to: 'KZN', booked: 'Y', fare: '0.00', tax: '0.00' }),
          coupon({
            ticket: '0741000000009',
            flight: '247',
            date: '2026-03-10',
            from: 'KZN',
            to: 'SVO',
            booked: 'Y',
            fare: '100.00',
          }),
        ]);
        const night = await w.night('2026-03-11');
        expect(night.accrue.counts).toMatchObject({ activities: 2, posted: 1, 'reject.BAD_AMOUNT': 1 });
        expect(await w.balance(IVANOV.number)).toBe(500);
      });

      it('credits the taxes of a free ticket toward status, but the flight keeps no points alive', async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        w.dropCoupons([
          coupon({ date: '2026-03-10', from: 'SVO', to: 'KZN', booked: 'Y', fare: '0.00', tax: '30.00' }),
        ]);
        await w.night('2026-03-11');
        const key = keyOf({ flight: '245', date: '2026-03-10', from: 'SVO', to: 'KZN' });
        expect(await w.activity(key)).toMatchObject({ status: 'POSTED', points: 0 });
        expect(await w.statusBalance(IVANOV.number)).toBe(3000);
        // Inactivity expiry counts from the last flight or purchase that earned points: none yet.
        expect((await w.member(IVANOV.number)).last_activity_date).toBeNull();
      });
    });

    describe('status in qualifying miles', () => {
      const s = useScenario(engine, (y) => replaceOnce(y, 'metric: spend', 'metric: miles'));

      it('counts the miles of a flight whose class earns no points', async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        w.dropCoupons([coupon({ date: '2026-03-10', from: 'SVO', to: 'KZN', booked: 'Z' })]);
        await w.night('2026-03-11');
        const key = keyOf({ flight: '245', date: '2026-03-10', from: 'SVO', to: 'KZN' });
        expect(await w.activity(key)).toMatchObject({
          status: 'POSTED',
          reason: 'CLASS_NOT_ELIGIBLE',
          points: 0,
        });
        expect(await w.statusBalance(IVANOV.number, 'MILES')).toBe(461);
        expect(await w.balance(IVANOV.number)).toBe(0);
        expect((await w.member(IVANOV.number)).last_activity_date).toBeNull();
      });
    });

    describe('rates by the flown class', () => {
      const s = useScenario(engine, (y) => replaceOnce(y, 'rateBy: booked', 'rateBy: flown'));

      it('credits an upgrade from Y to C at the C rate: 461 × 2.0 = 922', async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        w.dropCoupons([
          coupon({ date: '2026-03-10', from: 'SVO', to: 'KZN', booked: 'Y', flown: 'C', cabin: 'C' }),
        ]);
        await w.night('2026-03-11');
        expect(await w.balance(IVANOV.number)).toBe(922);
      });
    });

    describe('a promotion bounded by class', () => {
      const s = useScenario(engine, (y) =>
        replaceOnce(y, 'routes: ["*-AER"], bonus: 0.5 }', 'routes: ["*-AER"], classes: [C, J], bonus: 0.5 }'),
      );

      it('gives the bonus to C (1746 + 873) and not to Y (873)', async () => {
        const w = s();
        await w.enrol('2026-06-01', IVANOV, PETROVA);
        w.dropCoupons([
          coupon({ date: '2026-07-10', from: 'SVO', to: 'AER', booked: 'C', cabin: 'C' }),
          coupon({
            date: '2026-07-10',
            from: 'SVO',
            to: 'AER',
            booked: 'Y',
            surname: 'PETROVA',
            givenName: 'ANNA',
            card: { program: 'XX', number: PETROVA.number },
          }),
        ]);
        await w.night('2026-07-11');
        expect(await w.balance(IVANOV.number)).toBe(1746 + 873);
        expect(await w.balance(PETROVA.number)).toBe(873);
      });
    });
  });
}
