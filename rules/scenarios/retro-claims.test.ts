/**
 * Missing-credit requests matched against the archive of flown coupons and FTL passengers: credited when
 * exactly one flight matches and it is inside the window (14 days to 6 months after the flight), pending
 * while the flight is younger than 14 days, and otherwise rejected with the reason.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import {
  awardPostingKey,
  claimCreditKey,
  couponKey,
  flightKey,
  reissueKey,
  reversalKey,
} from '../activity.js';
import {
  memberNumber,
  replaceOnce,
  useScenario,
  type Coupon,
  type Person,
  type Scenario,
} from './scenario.js';
import { filesShow } from './files-show-cli.js';
import { claimOutcome } from './edges.js';
import { forgetMember, retentionJob } from '../../jobs/retention.js';
import { ingestJob } from '../../jobs/ingest.js';
import { accrueJob } from '../../jobs/accrue.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const PETROVA: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };

/** A coupon of XX245 SVO-KZN on 10 March 2026 without a card: $120 fare + $30 tax. */
const coupon = (ticket: string, over: Partial<Coupon> = {}): Coupon => ({
  ticket,
  flight: '245',
  date: '2026-03-10',
  from: 'SVO',
  to: 'KZN',
  booked: 'Y',
  surname: 'IVANOV',
  givenName: 'IVAN MR',
  card: null,
  fare: '120.00',
  tax: '30.00',
  ...over,
});

for (const engine of availableEngines()) {
  describe(`retro-claims (${engine})`, () => {
    const s = useScenario(engine);

    it('credits a claim by ticket and coupon, and one by flight and name, with miles and status credits', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      w.dropCoupons([
        coupon('0741000000001'),
        coupon('0741000000002', { surname: 'PETROVA', givenName: 'ANNA MRS', booked: 'C', fare: '300.00' }),
      ]);
      await w.night('2026-03-11');
      expect(await w.activity(couponKey('0741000000001', 1))).toMatchObject({
        status: 'NOT_CREDITED',
        reason: 'NO_CARD',
      });
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-28',
          ticket: '074-1000000001',
          coupon: 1,
          surname: 'IVANOV',
          givenName: 'IVAN',
        },
        {
          id: 'C-2',
          member: PETROVA.number,
          received: '2026-03-28',
          carrier: 'XX',
          flight: '0245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          surname: 'Petrova',
          givenName: 'Anna',
        },
      ]);
      const night = await w.night('2026-03-28');
      expect(night.accrue.counts['retro.credited']).toBe(2);
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      expect(await w.balance(PETROVA.number)).toBe(922); // 461 × 2.0 (C)
      expect(await w.statusBalance(PETROVA.number)).toBe(33000);
      expect(await w.activity(couponKey('0741000000001', 1))).toMatchObject({
        status: 'POSTED',
        reason: 'RETRO_CLAIM',
        member_number: IVANOV.number,
        posting_key: awardPostingKey(couponKey('0741000000001', 1)),
      });
      expect((await w.knex('retro_claims').where({ claim_id: 'C-2' }).first())?.activity_key).toBe(
        couponKey('0741000000002', 1),
      );
    });

    /**
     * IVANOV's claim C-1 by ticket, received on 12 March for his coupon of XX245 of 10 March, which came
     * the same night: pending after it, the flight younger than 14 days. Returns the claims file.
     */
    async function claimOfYoungFlight(w: Scenario): Promise<string> {
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      const file = w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-12',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-03-12');
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'PENDING']);
      return file;
    }

    it('keeps a claim for a flight younger than 14 days pending and credits it on the first night it may', async () => {
      const w = s();
      await claimOfYoungFlight(w);
      await w.night('2026-03-23');
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'PENDING']);
      expect(await w.balance(IVANOV.number)).toBe(0);
      await w.night('2026-03-24'); // 14 days after the flight
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    it('shows a waiting claim of an earlier night that the night credits on a line of its own, whatever feeds the night’s files are', async () => {
      const w = s();
      const waiting = await claimOfYoungFlight(w);
      // Fourteen days after the flight: tonight's files hold another claim (for no ticket that exists),
      // and a partner's record.
      const other = w.dropRetroClaims([
        {
          id: 'C-2',
          member: IVANOV.number,
          received: '2026-03-24',
          ticket: '0741000000009',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      const partner = w.dropPartner('REDBANK', '2026-03-24', [
        {
          txn: 'P-1',
          member: IVANOV.number,
          surname: 'IVANOV',
          date: '2026-03-23',
          type: 'CARD_SPEND',
          spend: '100.00',
          currency: 'USD',
        },
      ]);
      const due = {
        type: 'due',
        file: waiting,
        fileId: await w.inboundFileId(waiting),
        line: 2,
        night: '2026-03-12',
        activity: couponKey('0741000000001', 1),
        claim: 'C-1',
        status: 'POSTED',
        reason: 'RETRO_CLAIM',
        points: 461,
        statusCredits: 15000,
      };
      for (const [feed, file] of [
        ['retro-claims', other],
        ['partner', partner],
      ] as const) {
        const shown = await w.simulate(feed, file, '2026-03-24');
        expect(shown.filter((e) => e.type === 'due')).toEqual([expect.objectContaining(due)]);
        const tonight = shown.flatMap((e) => (e.type === 'record' ? [e.points] : []));
        expect(shown.at(-1)).toMatchObject({
          points: 461 + tonight.reduce((a, b) => a + b, 0),
          statusCredits: 15000,
          due: { records: 1, posted: 1, points: 461, statusCredits: 15000 },
        });
      }
      // The night bears it out (the harness holds it to what the simulator showed, due lines included).
      await w.night('2026-03-24');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
    });

    it('rejects a claim that matches nothing, more than one passenger, or comes more than 6 months after the flight', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([
        coupon('0741000000001'),
        coupon('0741000000002', { givenName: 'IRINA MRS' }), // another IVANOV on the same flight
        coupon('0741000000003', { flight: '247', to: 'LED' }),
      ]);
      await w.night('2026-03-11');
      const claims = w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-04-01',
          ticket: '0741000000009',
          coupon: 1,
          surname: 'IVANOV',
        },
        {
          id: 'C-2',
          member: IVANOV.number,
          received: '2026-04-01',
          carrier: 'XX',
          flight: '245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          surname: 'IVANOV', // no given name: both IVANOVs fit
        },
        {
          id: 'C-3',
          member: IVANOV.number,
          received: '2026-09-11',
          ticket: '0741000000003',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-09-11');
      expect(await claimOutcome(w, 'C-1')).toEqual(['REJECTED', 'NOT_FOUND']);
      expect(await claimOutcome(w, 'C-2')).toEqual(['REJECTED', 'AMBIGUOUS']);
      expect(await claimOutcome(w, 'C-3')).toEqual(['REJECTED', 'OUT_OF_WINDOW']);
      expect(await w.balance(IVANOV.number)).toBe(0);
      // The accountant reads when the request came and when its window closed.
      const listed = JSON.parse(await filesShow(w, 'retro-claims', claims)) as {
        firstRejects: Array<{ reason: string; message: string }>;
      };
      expect(listed.firstRejects.find((r) => r.reason === 'OUT_OF_WINDOW')?.message).toBe(
        'received 2026-09-11, after the retro-claim window for coupon 0741000000003/1 (flown 2026-03-10) closed on 2026-09-10',
      );
    });

    it('credits a claim received on the last day of the 6 months', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-09-10',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-09-10');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    it('finds the flight for a claim that gives only the initial of the given name the ticket spells out', async () => {
      const w = s();
      await w.enrol('2026-01-01', PETROVA);
      w.dropCoupons([coupon('0741000000002', { surname: 'PETROVA', givenName: 'ANNA MRS' })]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-8',
          member: PETROVA.number,
          received: '2026-03-28',
          carrier: 'XX',
          flight: '0245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          surname: 'PETROVA',
          givenName: 'A',
        },
      ]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-8')).toEqual(['CREDITED', null]);
      expect(await w.balance(PETROVA.number)).toBe(461);
    });

    it('rejects a claim for a flight credited already (DUPLICATE), again when it is sent again, and a name that is not the member’s', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      w.dropCoupons([
        coupon('0741000000001', { card: { program: 'XX', number: IVANOV.number } }),
        coupon('0741000000002', { surname: 'SIDOROV', givenName: 'PETR' }),
      ]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-30',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
        {
          id: 'C-2',
          member: PETROVA.number,
          received: '2026-03-30',
          ticket: '0741000000002',
          coupon: 1,
          surname: 'PETROVA',
        },
      ]);
      await w.night('2026-03-30');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-31',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
          givenName: 'IVAN',
        },
      ]);
      const again = await w.night('2026-03-31');
      // Rejected, it was decided afresh: the flight was still credited already.
      expect(again.ingest.counts['retro-claims.sentAgain']).toBe(1);
      expect(await claimOutcome(w, 'C-1')).toEqual(['REJECTED', 'DUPLICATE']);
      expect(await claimOutcome(w, 'C-2')).toEqual(['REJECTED', 'NAME_MISMATCH']);
      expect(await w.rejects({ feed: 'retro-claims' })).toEqual([]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.balance(PETROVA.number)).toBe(0);
    });
    it('rejects a claim for a coupon credited and then refunded as NOT_FOUND, not as credited already', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      const flown = coupon('0741000000001', { card: { program: 'XX', number: IVANOV.number } });
      w.dropCoupons([flown]);
      await w.night('2026-03-11');
      w.dropCoupons([{ ...flown, status: 'R' }]);
      await w.night('2026-03-12');
      const key = flightKey(
        { carrier: 'XX', number: '245', date: '2026-03-10', origin: 'SVO', destination: 'KZN' },
        { program: 'XX', number: IVANOV.number },
      );
      expect(await w.activity(key)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
      expect(await w.balance(IVANOV.number)).toBe(0);
      const claims = w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-20',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
          givenName: 'IVAN',
        },
      ]);
      const shown = await w.simulate('retro-claims', claims, '2026-03-30');
      expect(shown.flatMap((e) => (e.type === 'record' ? [[e.claim, e.status, e.reason]] : []))).toEqual([
        ['C-1', 'REJECTED', 'NOT_FOUND'],
      ]);
      await w.night('2026-03-30');
      expect(await claimOutcome(w, 'C-1')).toEqual(['REJECTED', 'NOT_FOUND']);
      expect(await w.balance(IVANOV.number)).toBe(0);
    });
    it('posts the status credit a missing rate held back from a claim’s credit once the rate arrives, and the miles not again', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001', { currency: 'CHF' })]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-28',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-03-28');
      // Distance miles need no money; the spend status credit waits for the CHF rate.
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      // 1 EUR = 0.9 CHF = 1.08 USD: 150.00 CHF is 180.00 USD.
      w.dropFx({ '2026-03-10': { CHF: '0.9000', USD: '1.0800' } });
      const rated = await w.night('2026-03-29');
      expect(rated.ingest.counts['fx.flights.requeued']).toBe(1);
      expect(rated.accrue.counts.postings).toBe(1);
      expect(await w.statusBalance(IVANOV.number)).toBe(18000);
      expect(await w.balance(IVANOV.number)).toBe(461);
      // Still the claim's credit: the member it was claimed for, and why.
      expect(await w.activity(couponKey('0741000000001', 1))).toMatchObject({
        status: 'POSTED',
        reason: 'RETRO_CLAIM',
        member_number: IVANOV.number,
        status_credit: 18000,
      });
      const again = await w.night('2026-03-30');
      expect(again.accrue.counts.activities ?? 0).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(18000);
    });

    it('a claim’s credit of a flight without a rate keeps its mark through nights whose rates are not its own', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001', { currency: 'CHF' })]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-28',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-03-28');
      // Another day's rates: the flight is decided again and still has no rate of its own.
      w.dropFx({ '2026-03-27': { USD: '1.0800' } });
      await w.night('2026-03-29');
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(couponKey('0741000000001', 1))).toMatchObject({
        status: 'POSTED',
        reason: 'RETRO_CLAIM',
        status_posting_key: null,
      });
      w.dropFx({ '2026-03-10': { CHF: '0.9000', USD: '1.0800' } });
      await w.night('2026-03-30');
      expect(await w.statusBalance(IVANOV.number)).toBe(18000);
      expect(await w.activity(couponKey('0741000000001', 1))).toMatchObject({ reason: 'RETRO_CLAIM' });
    });
  });

  describe(`a retro-claim for a flight credited to the card and taken back for the coupon’s name (${engine})`, () => {
    const s = useScenario(engine);
    const PETROV: Person = { number: memberNumber(3), surname: 'PETROV', givenName: 'PETR' };
    const KEY = flightKey(
      { carrier: 'XX', number: '245', date: '2026-03-10', origin: 'SVO', destination: 'KZN' },
      { program: 'XX', number: IVANOV.number },
    );
    /** PETROV's ticket given IVANOV's card at booking. */
    const petrovsCoupon = () =>
      coupon('0741000000001', {
        surname: 'PETROV',
        givenName: 'PETR MR',
        card: { program: 'XX', number: IVANOV.number },
      });
    const claim = {
      id: 'C-1',
      member: PETROV.number,
      received: '2026-03-28',
      ticket: '0741000000001',
      coupon: 1,
      surname: 'PETROV',
      givenName: 'PETR',
    };

    for (const [order, feeds] of [
      ['the FTL first, its credit taken back by the coupon', ['ftl', 'coupon']],
      ['the coupon first, refused for its name', ['coupon']],
    ] as const) {
      it(`the passenger who flew is credited by his claim: ${order}`, async () => {
        const w = s();
        await w.enrol('2026-01-01', IVANOV, PETROV);
        let night = 11;
        for (const feed of feeds) {
          if (feed === 'ftl')
            w.dropFtl({
              flight: 'XX245',
              date: '2026-03-10',
              board: 'SVO',
              groups: [
                {
                  dest: 'KZN',
                  cls: 'Y',
                  pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number }],
                },
              ],
            });
          else w.dropCoupons([petrovsCoupon()]);
          await w.night(`2026-03-${night++}`);
        }
        expect(await w.activity(KEY)).toMatchObject({ status: 'REJECTED', reason: 'NAME_MISMATCH' });
        expect(await w.balance(IVANOV.number)).toBe(0);
        w.dropRetroClaims([claim]);
        const n = await w.night('2026-03-28');
        expect(n.accrue.counts['retro.credited']).toBe(1);
        expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
        expect(await w.activity(KEY)).toMatchObject({
          member_number: PETROV.number,
          status: 'POSTED',
          reason: 'RETRO_CLAIM',
          points: 461,
          status_credit: 15000,
        });
        expect(await w.balance(PETROV.number)).toBe(461);
        expect(await w.statusBalance(PETROV.number)).toBe(15000);
        expect(await w.balance(IVANOV.number)).toBe(0);
        expect(await w.statusBalance(IVANOV.number)).toBe(0);
        // Every night again, the claim's among them, posts nothing.
        const before = await w.postingCount();
        for (const date of ['2026-03-11', '2026-03-12', '2026-03-28']) await w.night(date);
        expect(await w.postingCount()).toBe(before);
        expect(await w.balance(PETROV.number)).toBe(461);
        // The ticket refunded after all: the claim's credit is what is taken back.
        w.dropCoupons([{ ...petrovsCoupon(), status: 'R' }]);
        await w.night('2026-03-29');
        expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
        expect(await w.balance(PETROV.number)).toBe(0);
        expect(await w.statusBalance(PETROV.number)).toBe(0);
        expect(await w.balance(IVANOV.number)).toBe(0);
      });
    }

    it('the claim’s credit of a flight whose credit was taken back has posting keys of its own', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROV);
      w.dropFtl({
        flight: 'XX245',
        date: '2026-03-10',
        board: 'SVO',
        groups: [
          { dest: 'KZN', cls: 'Y', pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number }] },
        ],
      });
      await w.night('2026-03-11');
      w.dropCoupons([petrovsCoupon()]);
      await w.night('2026-03-12');
      w.dropRetroClaims([claim]);
      await w.night('2026-03-28');
      const own = claimCreditKey(KEY, 'C-1');
      expect(await w.activity(KEY)).toMatchObject({
        // Miles and status credits in one posting, as for any flight credited with its coupon.
        posting_key: awardPostingKey(own),
        status_posting_key: awardPostingKey(own),
      });
      // IVANOV's award and its reversal stay as they were.
      expect(await w.posting(awardPostingKey(KEY))).toBeDefined();
      expect(await w.posting(reversalKey(awardPostingKey(KEY)))).toBeDefined();
    });

    for (const [order, feeds] of [
      ['the FTL first, its credit taken back by the coupon', ['ftl', 'coupon']],
      ['the coupon first, refused for its name', ['coupon']],
    ] as const) {
      it(`the card holder’s own coupon coming after the claim credits him as without the claim: ${order}`, async () => {
        const w = s();
        await w.enrol('2026-01-01', IVANOV, PETROV);
        const nights: string[] = [];
        for (const feed of feeds) {
          if (feed === 'ftl')
            w.dropFtl({
              flight: 'XX245',
              date: '2026-03-10',
              board: 'SVO',
              groups: [
                {
                  dest: 'KZN',
                  cls: 'Y',
                  pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number }],
                },
              ],
            });
          else w.dropCoupons([petrovsCoupon()]);
          nights.push(`2026-03-${11 + nights.length}`);
          await w.night(nights.at(-1)!);
        }
        w.dropRetroClaims([claim]);
        await w.night('2026-03-28');
        expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
        // The coupon PETROV's claim credited is his: it does not stand for the flight of IVANOV's card.
        const file = w.dropCoupons([
          coupon('0741000000003', { card: { program: 'XX', number: IVANOV.number } }),
        ]);
        const OWN = reissueKey(KEY, '0741000000003', 1);
        const shown = await w.simulate('flown', file, '2026-03-29');
        expect(shown.find((e) => e.type === 'record')).toMatchObject({
          activity: OWN,
          status: 'POSTED',
          points: 461,
        });
        expect(shown.at(-1)).toMatchObject({ points: 461, statusCredits: 15000 });
        await w.night('2026-03-29');
        expect(await w.activity(OWN)).toMatchObject({
          member_number: IVANOV.number,
          status: 'POSTED',
          points: 461,
          status_credit: 15000,
        });
        expect(await w.activity(KEY)).toMatchObject({
          member_number: PETROV.number,
          status: 'POSTED',
          reason: 'RETRO_CLAIM',
        });
        const credited = async () => {
          expect(await w.balance(IVANOV.number)).toBe(461);
          expect(await w.statusBalance(IVANOV.number)).toBe(15000);
          expect(await w.balance(PETROV.number)).toBe(461);
          expect(await w.statusBalance(PETROV.number)).toBe(15000);
        };
        await credited();
        // Every night again, the claim's and the coupon's among them, and the claim sent again post nothing.
        const before = await w.postingCount();
        for (const date of [...nights, '2026-03-28', '2026-03-29']) await w.night(date);
        w.dropRetroClaims([claim]);
        await w.night('2026-03-30');
        expect(await w.postingCount()).toBe(before);
        await credited();
      });
    }
  });

  describe(`a retro-claim and the two halves of one flight: an FTL passenger and a coupon without a card (${engine})`, () => {
    const s = useScenario(engine);
    /** A card of the program no member holds: the check-in agent's typo. */
    const MISTYPED = memberNumber(99);
    const FLIGHT = { carrier: 'XX', number: '245', date: '2026-03-10', origin: 'SVO', destination: 'KZN' };
    const ftl = (card: string) => ({
      flight: 'XX245',
      date: '2026-03-10',
      board: 'SVO',
      groups: [{ dest: 'KZN', cls: 'Y', pax: [{ surname: 'IVANOV', givenName: 'IVAN', card }] }],
    });
    const byFlight = (id: string, received: string) => ({
      id,
      member: IVANOV.number,
      received,
      carrier: 'XX',
      flight: '245',
      date: '2026-03-10',
      from: 'SVO',
      to: 'KZN',
      surname: 'IVANOV',
      givenName: 'IVAN',
    });
    const byTicket = (id: string, received: string) => ({
      id,
      member: IVANOV.number,
      received,
      ticket: '0741000000001',
      coupon: 1,
      surname: 'IVANOV',
    });

    it('a refund of the cardless coupon takes back what a claim credited on the FTL passenger of a mistyped card', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropFtl(ftl(MISTYPED));
      await w.night('2026-03-11');
      w.dropRetroClaims([byFlight('C-1', '2026-03-28')]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      w.dropCoupons([coupon('0741000000001', { status: 'R' })]);
      await w.night('2026-03-29');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(flightKey(FLIGHT, { program: 'XX', number: MISTYPED }))).toMatchObject({
        status: 'REVERSED',
        reason: 'NOT_FLOWN',
        coupon_status: 'R',
        ticket_number: '0741000000001',
      });
      expect(await w.activity(couponKey('0741000000001', 1))).toBeUndefined();
    });

    it('the cardless coupon of a flight a claim credited on a mistyped card gives it its status credits', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropFtl(ftl(MISTYPED));
      await w.night('2026-03-11');
      w.dropRetroClaims([byFlight('C-1', '2026-03-28')]);
      await w.night('2026-03-28');
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-29');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
    });

    it('a flight credited by the FTL card gets its status from the cardless coupon; claims by ticket or by name find it credited, not two flights', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropFtl(ftl(IVANOV.number));
      await w.night('2026-03-11');
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-12');
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      w.dropRetroClaims([byTicket('C-1', '2026-03-28'), byFlight('C-2', '2026-03-28')]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-1')).toEqual(['REJECTED', 'DUPLICATE']);
      expect(await claimOutcome(w, 'C-2')).toEqual(['REJECTED', 'DUPLICATE']);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
    });

    it('a claim by ticket credits the flight an FTL passenger of a mistyped card and its cardless coupon make, miles and status once', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-11');
      w.dropFtl(ftl(MISTYPED));
      await w.night('2026-03-12');
      w.dropRetroClaims([byTicket('C-1', '2026-03-28'), byFlight('C-2', '2026-03-28')]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await claimOutcome(w, 'C-2')).toEqual(['REJECTED', 'DUPLICATE']);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
    });
  });

  describe(`retro-claims for a codeshare, and by ticket before the coupon (${engine})`, () => {
    const s = useScenario(engine);

    /** XX245 as we sold it: a codeshare operated by LH as LH3245. */
    const codeshare = (ticket: string, over: Partial<Coupon> = {}) =>
      coupon(ticket, {
        carrier: 'LH',
        flight: '3245',
        marketingCarrier: 'XX',
        marketingFlight: '245',
        ...over,
      });
    const byMarketingFlight = (id: string, person: Person, givenName?: string) => ({
      id,
      member: person.number,
      received: '2026-03-28',
      carrier: 'XX',
      flight: '245',
      date: '2026-03-10',
      from: 'SVO',
      to: 'KZN',
      surname: person.surname,
      ...(givenName ? { givenName } : {}),
    });

    it('credits a claim that names a codeshare by our marketing flight number; a rerun posts nothing', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([codeshare('0741000000001')]);
      await w.night('2026-03-11');
      w.dropRetroClaims([byMarketingFlight('C-1', IVANOV, 'IVAN')]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      expect(await w.activity(couponKey('0741000000001', 1))).toMatchObject({
        status: 'POSTED',
        reason: 'RETRO_CLAIM',
        member_number: IVANOV.number,
        carrier: 'LH',
        flight_number: '3245',
      });
      const postings = await w.postingCount();
      await w.run(ingestJob, '2026-03-28');
      await w.run(accrueJob, '2026-03-28');
      expect(await w.postingCount()).toBe(postings);
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
    });

    it('rejects a claim by flight number as AMBIGUOUS when two passengers fit it, under our number or a codeshare sold under it', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      w.dropCoupons([
        codeshare('0741000000001'),
        codeshare('0741000000002', { givenName: 'IRINA MRS' }), // another IVANOV on the codeshare
        // A PETROVA listed under XX245 itself, and another sold XX245 on the codeshare: either may be hers.
        coupon('0741000000003', { surname: 'PETROVA', givenName: 'ANNA MRS' }),
        codeshare('0741000000004', { surname: 'PETROVA', givenName: 'ALLA MRS' }),
      ]);
      await w.night('2026-03-11');
      w.dropRetroClaims([byMarketingFlight('C-1', IVANOV), byMarketingFlight('C-2', PETROVA, 'A')]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-1')).toEqual(['REJECTED', 'AMBIGUOUS']);
      expect(await claimOutcome(w, 'C-2')).toEqual(['REJECTED', 'AMBIGUOUS']);
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.balance(PETROVA.number)).toBe(0);
    });

    it('keeps a claim by ticket sent before its coupon came pending, credits it once the coupon comes and the flight is 14 days old', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      const claims = w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-13',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
        // A ticket no coupon ever comes for.
        {
          id: 'C-2',
          member: PETROVA.number,
          received: '2026-03-13',
          ticket: '0741000000009',
          coupon: 1,
          surname: 'PETROVA',
        },
      ]);
      const waiting = (ticket: string) =>
        `no flown coupon or listed passenger in the archive matches coupon ${ticket}/1 yet: the claim is tried again each night up to 2026-03-27`;
      const shown = await w.simulate('retro-claims', claims, '2026-03-13');
      expect(
        shown.flatMap((e) => (e.type === 'record' ? [[e.claim, e.status, e.reason, e.message]] : [])),
      ).toEqual([
        ['C-1', 'PENDING', 'PENDING', waiting('0741000000001')],
        ['C-2', 'PENDING', 'PENDING', waiting('0741000000009')],
      ]);
      await w.night('2026-03-13');
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'PENDING']);
      expect(await claimOutcome(w, 'C-2')).toEqual(['PENDING', 'PENDING']);
      // The accountant reads the file's claims as waiting, not as rejected.
      const listed = JSON.parse(await filesShow(w, 'retro-claims', claims)) as {
        claims: Array<{ status: string; reason: string | null; n: number }>;
        firstRejects: unknown[];
      };
      expect(listed.claims.map((c) => [c.status, c.reason, c.n])).toEqual([['PENDING', 'PENDING', 2]]);
      expect(listed.firstRejects).toEqual([]);
      expect(await w.rejects({ feed: 'retro-claims' })).toEqual([]);

      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-14');
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'PENDING']);
      await w.night('2026-03-23');
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'PENDING']);
      expect(await w.balance(IVANOV.number)).toBe(0);
      await w.night('2026-03-24'); // 14 days after the flight
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      expect(await claimOutcome(w, 'C-2')).toEqual(['PENDING', 'PENDING']);
      await w.night('2026-03-26');
      expect(await claimOutcome(w, 'C-2')).toEqual(['PENDING', 'PENDING']);
      // 14 days after it was received: any flight it names is that old, and no coupon of it came.
      await w.night('2026-03-27');
      expect(await claimOutcome(w, 'C-2')).toEqual(['REJECTED', 'NOT_FOUND']);
      expect(await w.balance(PETROVA.number)).toBe(0);
      const postings = await w.postingCount();
      await w.run(ingestJob, '2026-03-27');
      await w.run(accrueJob, '2026-03-27');
      expect(await w.postingCount()).toBe(postings);
    });
  });

  describe(`a retro-claim sent again under its claim id (${engine})`, () => {
    const s = useScenario(engine);

    /** The rows kept under a claim id: the copy decided now, and those set aside with their files. */
    const copiesOf = (w: ReturnType<typeof s>, id: string) =>
      w
        .knex('retro_claims')
        .where('claim_id', id)
        .orWhere('claim_id', 'like', `${id}#%`)
        .orderBy('id')
        .select('claim_id', 'status', 'reason', 'source_file_id');
    const fileId = (w: ReturnType<typeof s>, name: string) => w.inboundFileId(name);

    it('credits a claim rejected NAME_MISMATCH once the member’s name is corrected and the call centre sends it again', async () => {
      const w = s();
      await w.enrol('2026-01-01', PETROVA);
      // She flew under her new name, which her account did not have yet.
      w.dropCoupons([coupon('0741000000002', { surname: 'SIDOROVA', givenName: 'ANNA MRS' })]);
      await w.night('2026-03-11');
      const claim = (received: string) => ({
        id: 'C-2',
        member: PETROVA.number,
        received,
        ticket: '0741000000002',
        coupon: 1,
        surname: 'SIDOROVA',
        givenName: 'ANNA',
      });
      const first = w.dropRetroClaims([claim('2026-03-28')]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-2')).toEqual(['REJECTED', 'NAME_MISMATCH']);

      w.dropMembers([{ ...PETROVA, surname: 'SIDOROVA', updatedAt: '2026-03-29T09:00:00Z' }]);
      await w.night('2026-03-29');
      const second = w.dropRetroClaims([claim('2026-03-30')]);
      const shown = await w.simulate('retro-claims', second, '2026-03-30');
      expect(shown.find((e) => e.type === 'record')).toMatchObject({
        claim: 'C-2',
        status: 'POSTED',
        points: 461,
      });
      const night = await w.night('2026-03-30');
      expect(night.ingest.counts['retro-claims.sentAgain']).toBe(1);
      expect(night.accrue.counts['retro.credited']).toBe(1);
      expect(await w.balance(PETROVA.number)).toBe(461);
      expect(await w.activity(couponKey('0741000000002', 1))).toMatchObject({
        status: 'POSTED',
        reason: 'RETRO_CLAIM',
        member_number: PETROVA.number,
      });
      // The rejection stays with the file it came in, its reason unchanged, under an id of its own.
      expect(await copiesOf(w, 'C-2')).toEqual([
        {
          claim_id: `C-2#${await fileId(w, first)}`,
          status: 'REJECTED',
          reason: 'NAME_MISMATCH',
          source_file_id: await fileId(w, first),
        },
        { claim_id: 'C-2', status: 'CREDITED', reason: null, source_file_id: await fileId(w, second) },
      ]);
      expect(await w.rejects({ feed: 'retro-claims' })).toEqual([]);
      // The first file still answers for its claim by the id the call centre gave it.
      const firstShown = JSON.parse(await filesShow(w, 'retro-claims', first)) as {
        firstRejects: Array<{ ref: string; reason: string }>;
      };
      expect(firstShown.firstRejects.map((r) => [r.ref, r.reason])).toEqual([['C-2', 'NAME_MISMATCH']]);

      // The night again posts nothing; a third copy, the claim credited, is a DUPLICATE.
      const postings = await w.postingCount();
      await w.run(ingestJob, '2026-03-30');
      await w.run(accrueJob, '2026-03-30');
      const third = w.dropRetroClaims([claim('2026-03-31')]);
      // The call centre reads where the claim came before and what became of it, foretold and at night.
      const said = `claim C-2 was already received in ${second} (night of 2026-03-30) and credited`;
      const foretold = await w.simulate('retro-claims', third, '2026-03-31');
      expect(foretold.flatMap((e) => (e.type === 'reject' ? [[e.reason, e.message]] : []))).toEqual([
        ['DUPLICATE', said],
      ]);
      await w.night('2026-03-31');
      expect(await w.postingCount()).toBe(postings);
      expect(
        (await w.rejects({ feed: 'retro-claims' })).map((r) => [r.reason, r.record_ref, r.message]),
      ).toEqual([['DUPLICATE', 'C-2', said]]);
      expect(await claimOutcome(w, 'C-2')).toEqual(['CREDITED', null]);
    });

    it('credits a claim rejected NOT_FOUND sent again with the ticket corrected; a second copy in the delivery and a waiting claim stay DUPLICATE', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-11');
      const byTicket = (ticket: string, received: string) => ({
        id: 'C-1',
        member: IVANOV.number,
        received,
        ticket,
        coupon: 1,
        surname: 'IVANOV',
      });
      // A flight of 25 March, three days old: the claim waits for it to be 14 days old.
      const waiting = (received: string) => ({
        id: 'C-3',
        member: IVANOV.number,
        received,
        carrier: 'XX',
        flight: '245',
        date: '2026-03-25',
        from: 'SVO',
        to: 'KZN',
        surname: 'IVANOV',
      });
      // Received 14 days before the night: no coupon of that ticket can still be on its way.
      const first = w.dropRetroClaims([byTicket('0741000000009', '2026-03-14'), waiting('2026-03-28')]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-1')).toEqual(['REJECTED', 'NOT_FOUND']);
      expect(await claimOutcome(w, 'C-3')).toEqual(['PENDING', 'PENDING']);

      const second = w.dropRetroClaims([
        byTicket('0741000000001', '2026-03-29'),
        byTicket('0741000000001', '2026-03-29'),
        waiting('2026-03-29'),
      ]);
      const foretold = await w.simulate('retro-claims', second, '2026-03-29');
      const night = await w.night('2026-03-29');
      expect(night.ingest.counts['retro-claims.sentAgain']).toBe(1);
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await claimOutcome(w, 'C-3')).toEqual(['PENDING', 'PENDING']);
      expect(await w.balance(IVANOV.number)).toBe(461);
      const secondId = await fileId(w, second);
      expect(
        (await w.rejects({ feed: 'retro-claims' })).map((r) => [r.file_id, r.line, r.record_ref, r.message]),
      ).toEqual([
        [secondId, 3, 'C-1', 'claim C-1 was already received at line 2 of this file and waits to be settled'],
        [
          secondId,
          4,
          'C-3',
          `claim C-3 was already received in ${first} (night of 2026-03-28) and waits to be settled`,
        ],
      ]);
      // The simulator names the first copies as the night does.
      expect(foretold.flatMap((e) => (e.type === 'reject' ? [[e.line, e.message]] : []))).toEqual(
        (await w.rejects({ feed: 'retro-claims' })).map((r) => [r.line, r.message]),
      );
      expect(await copiesOf(w, 'C-1')).toEqual([
        {
          claim_id: `C-1#${await fileId(w, first)}`,
          status: 'REJECTED',
          reason: 'NOT_FOUND',
          source_file_id: await fileId(w, first),
        },
        { claim_id: 'C-1', status: 'CREDITED', reason: null, source_file_id: secondId },
      ]);
      expect(await copiesOf(w, 'C-3')).toHaveLength(1);
    });
  });

  describe(`retro-claims under an air claim window shorter than theirs (${engine})`, () => {
    // Flights are credited up to 30 days back; a retro-claim reaches 6 months back, and its own window
    // alone decides whether it came in time.
    const s = useScenario(engine, (yaml) =>
      replaceOnce(yaml, 'airClaimWindowDays: 365', 'airClaimWindowDays: 30'),
    );

    it('credits a claim for a flight older than the air claim window but inside the retro-claim window', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-9',
          member: IVANOV.number,
          received: '2026-05-20',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-05-20');
      expect(await claimOutcome(w, 'C-9')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    it('finds the flight by its name as travelled after the retention step, inside the retro-claim window', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-11');
      // 40 days on: past the air claim window, inside the retro-claims' 6 months. The names stay.
      expect((await w.run(retentionJob, '2026-04-19')).counts).toMatchObject({ travelNamesCleared: 0 });
      w.dropRetroClaims([
        {
          id: 'C-10',
          member: IVANOV.number,
          received: '2026-04-20',
          carrier: 'XX',
          flight: '0245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          surname: 'Ivanov',
          givenName: 'Ivan',
        },
      ]);
      await w.night('2026-04-20', { foretold: false });
      expect(await claimOutcome(w, 'C-10')).toEqual(['CREDITED', null]);
    });
  });

  describe(`a retro-claim on a flight earning by its coupon's money in a currency without a rate (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        '      basis: distance\n',
        '      basis: revenue\n      pointsPerUnit: "5"\n      revenueComponents: [fare, surcharge]\n',
      ),
    );
    const byTicket = {
      id: 'C-1',
      member: IVANOV.number,
      received: '2026-03-28',
      ticket: '0741000000001',
      coupon: 1,
      surname: 'IVANOV',
    };

    it('waits for the rate while the claim window is open, then credits the flight', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001', { currency: 'CHF' })]);
      await w.night('2026-03-11');
      w.dropRetroClaims([byTicket]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'BAD_CURRENCY']);
      expect(await w.balance(IVANOV.number)).toBe(0);
      // 1 EUR = 0.9 CHF = 1.08 USD: 120.00 CHF of fare is 144.00 USD, 720 points at 5 a dollar.
      w.dropFx({ '2026-03-10': { CHF: '0.9000', USD: '1.0800' } });
      await w.night('2026-03-29');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(720);
      expect(await w.statusBalance(IVANOV.number)).toBe(18000);
      const postings = await w.postingCount();
      await w.night('2026-03-29');
      expect(await w.postingCount()).toBe(postings);
    });

    it('is rejected BAD_CURRENCY the night after the window closes with no rate', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001', { currency: 'CHF' })]);
      await w.night('2026-03-11');
      w.dropRetroClaims([byTicket]);
      await w.night('2026-09-10');
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'BAD_CURRENCY']);
      await w.night('2026-09-11');
      expect(await claimOutcome(w, 'C-1')).toEqual(['REJECTED', 'BAD_CURRENCY']);
      expect(await w.balance(IVANOV.number)).toBe(0);
    });
  });

  describe(`a retro-claim on a flight that waits for its coupon (creditOnFtl: false) (${engine})`, () => {
    // Such a flight is credited by its coupon's money alone (as under any revenue-based air version): a
    // claim that finds only its FTL passenger can credit nothing before the coupon comes.
    const s = useScenario(engine, (yaml) => replaceOnce(yaml, 'creditOnFtl: true', 'creditOnFtl: false'));
    const MISTYPED = memberNumber(99);
    const FTL_KEY = flightKey(
      { carrier: 'XX', number: '245', date: '2026-03-10', origin: 'SVO', destination: 'KZN' },
      { program: 'XX', number: MISTYPED },
    );
    const byFlight = (id: string, received: string) => ({
      id,
      member: IVANOV.number,
      received,
      carrier: 'XX',
      flight: '245',
      date: '2026-03-10',
      from: 'SVO',
      to: 'KZN',
      surname: 'IVANOV',
      givenName: 'IVAN',
    });
    const ftl = {
      flight: 'XX245',
      date: '2026-03-10',
      board: 'SVO',
      groups: [{ dest: 'KZN', cls: 'Y', pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: MISTYPED }] }],
    };

    it('keeps the claim waiting until the coupon comes, then credits it (not a DUPLICATE)', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropFtl(ftl);
      await w.night('2026-03-11');
      const claims = w.dropRetroClaims([byFlight('C-1', '2026-03-28')]);
      const shown = await w.simulate('retro-claims', claims, '2026-03-28');
      expect(
        shown.flatMap((e) => (e.type === 'record' ? [[e.claim, e.status, e.reason, e.message]] : [])),
      ).toEqual([
        [
          'C-1',
          'PENDING',
          'NO_COUPON',
          `the flight ${FTL_KEY} waits for its flown coupon: the claim is tried again each night up to 2026-09-10`,
        ],
      ]);
      const night = await w.night('2026-03-28');
      expect(night.accrue.counts['retro.credited']).toBeUndefined();
      expect(night.accrue.counts['retro.pending']).toBe(1);
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'NO_COUPON']);
      expect(await w.balance(IVANOV.number)).toBe(0);
      const listed = JSON.parse(await filesShow(w, 'retro-claims', claims)) as {
        claims: Array<{ status: string; reason: string | null; n: number }>;
      };
      expect(listed.claims.map((c) => [c.status, c.reason, c.n])).toEqual([['PENDING', 'NO_COUPON', 1]]);
      await w.night('2026-03-29');
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'NO_COUPON']);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-30');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      // The coupon joined the passenger, whom the claim credits once (no CPN: activity of its own).
      expect(await w.activity(FTL_KEY)).toMatchObject({
        status: 'POSTED',
        reason: 'RETRO_CLAIM',
        member_number: IVANOV.number,
        points: 461,
        status_credit: 15000,
      });
      expect(await w.activity(couponKey('0741000000001', 1))).toBeUndefined();
      const postings = await w.postingCount();
      await w.night('2026-03-31');
      expect(await w.postingCount()).toBe(postings);
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
    });

    it('rejects the claim NO_COUPON once the retro-claim window closes without the coupon', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropFtl(ftl);
      await w.night('2026-03-11');
      const claims = w.dropRetroClaims([byFlight('C-1', '2026-03-28')]);
      await w.night('2026-03-28');
      await w.night('2026-09-10'); // the last day of the 6 months
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'NO_COUPON']);
      await w.night('2026-09-11');
      expect(await claimOutcome(w, 'C-1')).toEqual(['REJECTED', 'NO_COUPON']);
      expect(await w.balance(IVANOV.number)).toBe(0);
      const listed = JSON.parse(await filesShow(w, 'retro-claims', claims)) as {
        firstRejects: Array<{ reason: string; message: string }>;
      };
      expect(listed.firstRejects.map((r) => [r.reason, r.message])).toEqual([
        [
          'NO_COUPON',
          `the flight ${FTL_KEY} is listed, but its flown coupon did not come within the retro-claim window`,
        ],
      ]);
    });
  });

  describe(`a retro-claim's received date (${engine})`, () => {
    const s = useScenario(engine);
    const IVANOV_COUPON = couponKey('0741000000001', 1);

    it('rejects a claim made before its flight (a year mistyped): by ticket when its coupon is found, by flight as it is read', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      w.dropCoupons([
        coupon('0741000000001'),
        coupon('0741000000002', { surname: 'PETROVA', givenName: 'ANNA MRS' }),
      ]);
      await w.night('2026-03-11');
      const claims = w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2016-03-28',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
        {
          id: 'C-2',
          member: PETROVA.number,
          received: '2016-03-28',
          carrier: 'XX',
          flight: '245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          surname: 'PETROVA',
        },
      ]);
      const before = `received 2016-03-28, before the flight ${IVANOV_COUPON} was flown on 2026-03-10: a request cannot be made before its flight`;
      const shown = await w.simulate('retro-claims', claims, '2026-03-28');
      expect(
        shown.flatMap((e): unknown[] =>
          e.type === 'record'
            ? [[e.claim, e.status, e.reason, e.message]]
            : e.type === 'reject'
              ? [[e.line, e.field, e.reason]]
              : [],
        ),
      ).toEqual([
        ['C-1', 'REJECTED', 'RECEIVED_BEFORE_FLIGHT', before],
        [3, 'received_date', 'RECEIVED_BEFORE_FLIGHT'],
      ]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-1')).toEqual(['REJECTED', 'RECEIVED_BEFORE_FLIGHT']);
      expect(await claimOutcome(w, 'C-2')).toEqual([undefined, undefined]);
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.balance(PETROVA.number)).toBe(0);
      expect(
        (await w.rejects({ feed: 'retro-claims' })).map((r) => [r.line, r.field, r.reason, r.message]),
      ).toEqual([
        [
          3,
          'received_date',
          'RECEIVED_BEFORE_FLIGHT',
          'received_date: expected a date on or after the flight_date 2026-03-10 (a request is made after its flight), found "2016-03-28"',
        ],
      ]);
      // The accountant reads both on the file, each with its line and both dates.
      const listed = JSON.parse(await filesShow(w, 'retro-claims', claims)) as {
        firstRejects: Array<{ line: number; reason: string; message: string }>;
      };
      expect(listed.firstRejects.map((r) => [r.line, r.reason, r.message])).toEqual([
        [2, 'RECEIVED_BEFORE_FLIGHT', before],
        [
          3,
          'RECEIVED_BEFORE_FLIGHT',
          'received_date: expected a date on or after the flight_date 2026-03-10 (a request is made after its flight), found "2016-03-28"',
        ],
      ]);
    });

    it('refuses a claim said to be made after the night that reads it (FUTURE_DATE on received_date), and credits its mended copy', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      w.dropCoupons([
        coupon('0741000000001'),
        coupon('0741000000002', { surname: 'PETROVA', givenName: 'ANNA MRS' }),
      ]);
      await w.night('2026-03-11');
      const claims = w.dropRetroClaims([
        {
          id: 'C-2',
          member: IVANOV.number,
          received: '2031-03-28',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
        // Made the morning after the night by a clock ahead of UTC: its file, in that night, carries it.
        {
          id: 'C-3',
          member: PETROVA.number,
          received: '2026-03-29',
          ticket: '0741000000002',
          coupon: 1,
          surname: 'PETROVA',
        },
        {
          id: 'C-4',
          member: PETROVA.number,
          received: '2026-03-30',
          ticket: '0741000000002',
          coupon: 1,
          surname: 'PETROVA',
        },
      ]);
      const shown = await w.simulate('retro-claims', claims, '2026-03-28');
      expect(
        shown.flatMap((e): unknown[] =>
          e.type === 'record'
            ? [[e.claim, e.status]]
            : e.type === 'reject'
              ? [[e.line, e.field, e.reason]]
              : [],
        ),
      ).toEqual([
        [2, 'received_date', 'FUTURE_DATE'],
        ['C-3', 'POSTED'],
        [4, 'received_date', 'FUTURE_DATE'],
      ]);
      await w.night('2026-03-28');
      expect(
        (await w.rejects({ feed: 'retro-claims' })).map((r) => [
          r.line,
          r.field,
          r.reason,
          r.record_ref,
          r.message,
        ]),
      ).toEqual([
        [
          2,
          'received_date',
          'FUTURE_DATE',
          'C-2',
          'received date 2031-03-28 is after the processing date 2026-03-28 and more than a day after its file came in (2026-03-28): a request cannot be made after the night that reads it',
        ],
        [
          4,
          'received_date',
          'FUTURE_DATE',
          'C-4',
          'received date 2026-03-30 is after the processing date 2026-03-28 and more than a day after its file came in (2026-03-28): a request cannot be made after the night that reads it',
        ],
      ]);
      expect(await claimOutcome(w, 'C-2')).toEqual([undefined, undefined]);
      expect(await claimOutcome(w, 'C-3')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.balance(PETROVA.number)).toBe(461);
      // The call centre mends the year and sends it again under its id: a claim, not a duplicate.
      w.dropRetroClaims([
        {
          id: 'C-2',
          member: IVANOV.number,
          received: '2026-03-28',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-03-29');
      expect(await claimOutcome(w, 'C-2')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    it('credits a claim made inside the window though its file is read months after the window closed', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-08-30',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2027-01-15');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.rejects({ feed: 'retro-claims' })).toEqual([]);
    });
  });

  describe(`a retro-claim of a member forgotten while it waits (${engine})`, () => {
    const s = useScenario(engine);
    const SECRET = { REDEYE_TOKEN_SECRET: 'retro-claims test secret' };

    it('keeps the name while pending, finds the coupon without a card by it, and loses it once credited', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-11');
      const claim = {
        id: 'C-1',
        member: IVANOV.number,
        received: '2026-03-12',
        carrier: 'XX',
        flight: '245',
        date: '2026-03-10',
        from: 'SVO',
        to: 'KZN',
        surname: 'IVANOV',
        givenName: 'IVAN',
      };
      w.dropRetroClaims([claim]);
      await w.night('2026-03-12');
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'PENDING']);
      // The member asks to be forgotten while the claim waits for its flight to be 14 days old.
      await forgetMember({ ...w.w.ctx('2026-03-13'), env: SECRET }, IVANOV.number);
      const stored = async () =>
        JSON.parse((await w.knex('retro_claims').where({ claim_id: 'C-1' }).first('claim')).claim);
      expect(await stored()).toMatchObject({ surname: 'IVANOV' });
      await w.night('2026-03-24');
      // As the same claim received after the erasure would be.
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      // Decided, it is the nightly retention's to scrub.
      const night = await retentionJob({ ...w.w.ctx('2026-03-24'), env: SECRET });
      expect(night.counts).toMatchObject({ claimsOfErasedScrubbed: 1 });
      expect(await stored()).toMatchObject({
        claimId: 'C-1',
        memberNumber: IVANOV.number,
        surname: expect.stringMatching(/^TOK-/),
      });
    });
  });
}
