/**
 * Worked examples where the program rules meet: each computed by hand from README and MISSION and
 * checked on both engines, with the ledger invariants, by the scenario harness.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exportJob } from '../../jobs/export.js';
import { availableEngines } from '../../test/harness/db.js';
import { exportCopy } from '../../test/harness/files.js';
import { hotelKey, partnerKey } from '../activity.js';
import { useScenario, type Coupon, type PartnerRecord, type Scenario } from './scenario.js';
import { couponsFrom, IVANOV } from './edges.js';

const coupon = couponsFrom(8_000_000_000, IVANOV);
const cpn = (date: string, over: Partial<Coupon> = {}): Coupon =>
  coupon(IVANOV, date, '100.00', { currency: 'EUR', ...over });

/** IVANOV's car rental day of 100.00 EUR with DRIVE: 1 point a dollar under DRIVE-2025. */
const rentalDay = (txn: string, date: string): PartnerRecord => ({
  txn,
  member: IVANOV.number,
  surname: 'IVANOV',
  givenName: 'I',
  date,
  type: 'RENTAL_DAY',
  spend: '100.00',
  currency: 'EUR',
});

/** DRIVE's response to its file of `fileDate`, once the export job has written it. */
async function driveResponse(w: Scenario, fileDate: string): Promise<string | undefined> {
  const out = await w
    .knex('files')
    .where({
      direction: 'out',
      feed: 'partner-response',
      name: `DRIVE_${fileDate.replaceAll('-', '')}_1.resp.csv`,
    })
    .first();
  return out ? readFileSync(exportCopy(w.w.config, out.local_path), 'utf8') : undefined;
}

for (const engine of availableEngines()) {
  describe(`edge cases of exchange rates (${engine})`, () => {
    const s = useScenario(engine);
    it('Easter: Monday takes Thursday’s rate (4 days), Tuesday has none (5 days)', async () => {
      const w = s();
      w.dropFx({ '2026-04-02': { USD: '1.1000' }, '2026-04-08': { USD: '1.2000' } });
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([cpn('2026-04-06')]);
      await w.night('2026-04-09');
      expect(await w.statusBalance(IVANOV.number)).toBe(11000);
      w.dropCoupons([cpn('2026-04-07', { flight: '247' })]);
      await w.night('2026-04-10');
      expect(await w.statusBalance(IVANOV.number)).toBe(11000);
      expect(await w.balance(IVANOV.number)).toBe(922);
    });
    it('a weekend or holiday takes the rate of the business day before it, and waits when that one is late', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      // Thursday's rates are in; Friday 13 March's and Thursday 2 April's (before Good Friday) come late.
      w.dropFx({ '2026-03-12': { USD: '1.0800' } });
      w.dropPartner('DRIVE', '2026-03-14', [rentalDay('SAT', '2026-03-14')]);
      await w.night('2026-03-14');
      expect(await w.activity(partnerKey('DRIVE', 'SAT'))).toMatchObject({
        status: 'PENDING',
        reason: 'BAD_CURRENCY',
        reason_message: expect.stringContaining(
          'no USD rate for 2026-03-13 yet, the business day whose rate 2026-03-14 takes',
        ),
      });
      w.dropFx({ '2026-03-13': { USD: '1.2000' }, '2026-04-01': { USD: '1.0800' } });
      w.dropPartner('DRIVE', '2026-04-03', [rentalDay('GOOD-FRIDAY', '2026-04-03')]);
      await w.night('2026-04-03');
      // Saturday at Friday's 1.2000: 120 points, not Thursday's 108.
      expect(await w.activity(partnerKey('DRIVE', 'SAT'))).toMatchObject({ status: 'POSTED', points: 120 });
      expect(await w.activity(partnerKey('DRIVE', 'GOOD-FRIDAY'))).toMatchObject({
        status: 'PENDING',
        reason: 'BAD_CURRENCY',
      });
      w.dropFx({ '2026-04-02': { USD: '1.2000' } });
      await w.night('2026-04-04');
      expect(await w.activity(partnerKey('DRIVE', 'GOOD-FRIDAY'))).toMatchObject({
        status: 'POSTED',
        points: 120,
      });
      expect(await w.balance(IVANOV.number)).toBe(240);
    });

    it('a business day whose rate comes a night late waits for it: Tuesday’s 1.2000, not Monday’s 1.0800', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFx({ '2026-03-09': { USD: '1.0800' } });
      w.dropPartner('DRIVE', '2026-03-10', [rentalDay('F-1', '2026-03-10')]);
      // A hotel stay converts by the same path: 100.00 EUR of room, 2 points a dollar under GRANDSTAY-2024.
      w.dropHotel('GS', [
        {
          member: IVANOV.number,
          surname: 'IVANOV',
          givenName: 'IVAN',
          reservation: 'GS-LATE',
          checkIn: '2026-03-09',
          checkOut: '2026-03-10',
          revenue: [{ category: 'ROOM', amount: '100.00', currency: 'EUR', date: '2026-03-09' }],
        },
      ]);
      const tuesday = await w.night('2026-03-10');
      const waiting = {
        status: 'PENDING',
        reason: 'BAD_CURRENCY',
        reason_message: expect.stringContaining('no USD rate for 2026-03-10 yet'),
      };
      expect(await w.activity(partnerKey('DRIVE', 'F-1'))).toMatchObject(waiting);
      expect(await w.activity(hotelKey('GRANDSTAY', 'GS-LATE', 'GS001'))).toMatchObject(waiting);
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(tuesday.accrue.counts.awaitingRate).toBe(2);
      // The partner's answer waits for the record's decision.
      await w.run(exportJob, '2026-03-10');
      expect(await driveResponse(w, '2026-03-10')).toBeUndefined();
      expect(tuesday.accrue.warnings).toEqual([
        expect.stringContaining(
          'wait for the exchange rates of 2026-03-10, business days not loaded yet (rates loaded up to 2026-03-09)',
        ),
      ]);
      w.dropFx({ '2026-03-10': { USD: '1.2000' } });
      const wednesday = await w.night('2026-03-11');
      expect(wednesday.ingest.counts['fx.partners.requeued']).toBe(2);
      // 100.00 EUR × 1.2000 = 120.00 USD: 120 points for the rental, 240 for the stay.
      expect(await w.activity(partnerKey('DRIVE', 'F-1'))).toMatchObject({
        status: 'POSTED',
        reason: null,
        points: 120,
      });
      expect(await w.activity(hotelKey('GRANDSTAY', 'GS-LATE', 'GS001'))).toMatchObject({
        status: 'POSTED',
        points: 240,
        base_spend_minor: 12000,
      });
      expect(await w.balance(IVANOV.number)).toBe(360);
      expect(wednesday.accrue.counts.awaitingRate).toBeUndefined();
      await w.run(exportJob, '2026-03-11');
      expect(await driveResponse(w, '2026-03-10')).toContain(`D,F-1,${IVANOV.number},A,120,`);
      // The night run again posts nothing, and decides nothing again.
      const postings = await w.postingCount();
      await w.night('2026-03-11');
      expect(await w.postingCount()).toBe(postings);
      expect(await w.balance(IVANOV.number)).toBe(360);
      await w.expectLedgerOk();
    });
    it('a reversal of a credit waiting for its rate waits with it, and takes back what the credit earns when the rate comes', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFx({ '2026-03-09': { USD: '1.0800' } });
      w.dropPartner('DRIVE', '2026-03-10', [
        rentalDay('F-6', '2026-03-10'),
        { ...rentalDay('F-6-R', '2026-03-10'), spend: '-100.00' },
      ]);
      await w.night('2026-03-10');
      expect(await w.activity(partnerKey('DRIVE', 'F-6-R'))).toMatchObject({
        status: 'PENDING',
        reason: 'BAD_CURRENCY',
        reason_field: 'partner_txn_id',
      });
      w.dropFx({ '2026-03-10': { USD: '1.2000' } });
      await w.night('2026-03-11');
      expect(await w.activity(partnerKey('DRIVE', 'F-6'))).toMatchObject({ status: 'REVERSED', points: 120 });
      expect(await w.activity(partnerKey('DRIVE', 'F-6-R'))).toMatchObject({
        status: 'POSTED',
        points: -120,
      });
      expect(await w.balance(IVANOV.number)).toBe(0);
      await w.expectLedgerOk();
    });
    it('a rate that never comes: the wait shows in the simulation and the night, and ends in BAD_CURRENCY after fx.maxStaleDays', async () => {
      const w = s();
      w.dropFx({ '2026-03-09': { USD: '1.0800' } });
      await w.enrol('2026-03-09', IVANOV);
      const file = w.dropPartner('DRIVE', '2026-03-10', [rentalDay('F-2', '2026-03-10')]);
      const shown = await w.simulate('partner', file, '2026-03-10');
      expect(shown).toContainEqual(
        expect.objectContaining({
          type: 'record',
          status: 'PENDING',
          reason: 'BAD_CURRENCY',
          message: expect.stringContaining('no USD rate for 2026-03-10 yet'),
        }),
      );
      // The night is checked against what the simulator foretold.
      await w.night('2026-03-10');
      for (const night of ['2026-03-11', '2026-03-12', '2026-03-13', '2026-03-14']) {
        await w.night(night);
        expect(await w.activity(partnerKey('DRIVE', 'F-2'))).toMatchObject({ status: 'PENDING' });
      }
      const last = await w.night('2026-03-15');
      expect(await w.activity(partnerKey('DRIVE', 'F-2'))).toMatchObject({
        status: 'REJECTED',
        reason: 'BAD_CURRENCY',
        reason_message: expect.stringContaining('waited for it up to the night of 2026-03-14'),
        rejected_on: '2026-03-15',
      });
      expect(last.accrue.counts['reject.BAD_CURRENCY']).toBe(1);
      expect(last.accrue.warnings).toEqual([
        expect.stringContaining('1 partner record(s) or hotel stay(s) rejected BAD_CURRENCY'),
      ]);
      expect(await w.balance(IVANOV.number)).toBe(0);
      await w.run(exportJob, '2026-03-15');
      expect(await driveResponse(w, '2026-03-10')).toContain(`D,F-2,${IVANOV.number},R,0,BAD_CURRENCY,`);
    });
    it('a Saturday takes Friday’s rate, Good Friday and Easter Monday Thursday’s: no rate is published on them', async () => {
      const w = s();
      // Each night's rates end before the activity's day: only the calendar says none is to come.
      w.dropFx({ '2026-03-13': { USD: '1.1000' } });
      await w.enrol('2026-03-01', IVANOV);
      w.dropPartner('DRIVE', '2026-03-14', [rentalDay('F-3', '2026-03-14')]);
      await w.night('2026-03-14');
      expect(await w.activity(partnerKey('DRIVE', 'F-3'))).toMatchObject({ status: 'POSTED', points: 110 });
      w.dropFx({ '2026-04-02': { USD: '1.1500' } });
      w.dropPartner('DRIVE', '2026-04-06', [rentalDay('F-4', '2026-04-03'), rentalDay('F-5', '2026-04-06')]);
      await w.night('2026-04-06');
      expect(await w.activity(partnerKey('DRIVE', 'F-4'))).toMatchObject({ status: 'POSTED', points: 115 });
      expect(await w.activity(partnerKey('DRIVE', 'F-5'))).toMatchObject({ status: 'POSTED', points: 115 });
    });
    it('a rate sent again written otherwise (1.048 for 1.0480) is the rate known, not a conflicting duplicate', async () => {
      const w = s();
      w.dropFx({ '2026-03-05': { USD: '1.0480', JPY: '161.50', GBP: '0.8600' } });
      await w.night('2026-03-06');
      const again = w.dropFx({ '2026-03-05': { USD: '1.048', JPY: '161.5', GBP: '0.8700' } });
      await w.night('2026-03-07');
      const id = await w.inboundFileId(again);
      // Only the rate that differs in value is refused, and the one kept is the first.
      expect(await w.rejects({ file_id: id })).toEqual([
        expect.objectContaining({
          reason: 'DUPLICATE',
          field: 'rate',
          message: 'GBP on 2026-03-05 is already 0.8600; 0.8700 ignored',
        }),
      ]);
    });
    it('half-even on the cent: EUR 100.00 at 1.00005 is USD 100.00', async () => {
      const w = s();
      w.dropFx({ '2026-04-02': { USD: '1.00005' } });
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([cpn('2026-04-02')]);
      await w.night('2026-04-03');
      expect(await w.statusBalance(IVANOV.number)).toBe(10000);
    });
    it('a hotel stay’s nights in euros are added up before they are converted: rounded once', async () => {
      const w = s();
      w.dropFx({ '2026-07-02': { USD: '1.0850' } });
      await w.enrol('2026-05-01', IVANOV);
      const night = { category: 'ROOM', amount: '12.29', currency: 'EUR' };
      w.dropHotel('GS', [
        {
          member: IVANOV.number,
          surname: 'IVANOV',
          givenName: 'IVAN',
          reservation: 'GS-FX',
          checkIn: '2026-06-30',
          checkOut: '2026-07-02',
          revenue: [night, { ...night, date: '2026-07-01' }],
        },
      ]);
      await w.night('2026-07-03');
      // EUR 24.58 × 1.0850 = USD 26.6693, so 26.67 and 80 points at GRANDSTAY-2026's 3 a dollar; each
      // night converted alone would be 13.33 and the stay 26.66, a cent and a point short.
      expect(await w.activity('HTL:GRANDSTAY:GS001:GS-FX')).toMatchObject({
        status: 'POSTED',
        base_spend_minor: 2667,
        points: 80,
      });
    });
    it('a hotel stay’s nights in thousandths are added up exactly and rounded once: 3 × 33.335 USD is 100.00, 3 × 33.665 EUR one sum', async () => {
      const w = s();
      w.dropFx({ '2026-07-03': { USD: '1.0850' } });
      await w.enrol('2026-05-01', IVANOV);
      const stay = (reservation: string, amount: string, currency = 'USD') => ({
        member: IVANOV.number,
        surname: 'IVANOV',
        givenName: 'IVAN',
        reservation,
        checkIn: '2026-06-30',
        checkOut: '2026-07-03',
        revenue: ['2026-06-30', '2026-07-01', '2026-07-02'].map((date) => ({
          category: 'ROOM',
          amount,
          currency,
          date,
        })),
      });
      w.dropHotel('GS', [stay('GS-A', '33.335'), stay('GS-B', '33.665'), stay('GS-C', '33.665', 'EUR')]);
      await w.night('2026-07-04');
      // 100.005 is 100.00, half-even: each night rounded to 33.34 first made it 100.02.
      expect(await w.activity(hotelKey('GRANDSTAY', 'GS-A', 'GS001'))).toMatchObject({
        status: 'POSTED',
        base_spend_minor: 10000,
        points: 300,
      });
      // 100.995 is 101.00 and 303 points at GRANDSTAY-2026's 3 a dollar; 3 × 33.66 = 100.98 earned 302.
      expect(await w.activity(hotelKey('GRANDSTAY', 'GS-B', 'GS001'))).toMatchObject({
        status: 'POSTED',
        base_spend_minor: 10100,
        points: 303,
      });
      // EUR 100.995 × 1.0850 = USD 109.579575, so 109.58 and 328 points; rounded to EUR 100.98 before
      // the rate it came to 109.5633, 109.56.
      expect(await w.activity(hotelKey('GRANDSTAY', 'GS-C', 'GS001'))).toMatchObject({
        status: 'POSTED',
        base_spend_minor: 10958,
        points: 328,
      });
      expect(await w.balance(IVANOV.number)).toBe(300 + 303 + 328);
    });
    it('a hotel stay’s revenue in several currencies is converted exactly and rounded once, as one sum', async () => {
      const w = s();
      // Friday 10 July 2026: 1 EUR = 1.0004 USD = 1.0000 CHF.
      w.dropFx({ '2026-07-10': { USD: '1.0004', CHF: '1.0000' } });
      await w.enrol('2026-05-01', IVANOV);
      await w.night('2026-07-11');
      const stay = (reservation: string, food: { amount: string; currency: string }) => ({
        member: IVANOV.number,
        surname: 'IVANOV',
        givenName: 'IVAN',
        reservation,
        checkIn: '2026-07-08',
        checkOut: '2026-07-10',
        revenue: [
          { category: '9', amount: '10.00', currency: 'EUR' },
          { category: '2', ...food },
        ],
      });
      w.dropHotel('GS', [
        stay('GS-CHF', { amount: '23.325', currency: 'CHF' }),
        stay('GS-USD', { amount: '3.333', currency: 'USD' }),
      ]);
      await w.night('2026-07-12');
      // EUR 10.00 is USD 10.004 and CHF 23.325 USD 23.33433: 33.33833, so 33.34 and 100 points at
      // GRANDSTAY-2026's 3 a dollar; each currency rounded alone made 10.00 + 23.33 = 33.33, 99 points.
      expect(await w.activity(hotelKey('GRANDSTAY', 'GS-CHF', 'GS001'))).toMatchObject({
        status: 'POSTED',
        base_spend_minor: 3334,
        points: 100,
      });
      // The base currency's own thousandths join the sum: 10.004 + 3.333 = 13.337, 13.34 and 40 points
      // (10.00 + 3.33 = 13.33 earned 39).
      expect(await w.activity(hotelKey('GRANDSTAY', 'GS-USD', 'GS001'))).toMatchObject({
        status: 'POSTED',
        base_spend_minor: 1334,
        points: 40,
      });
      expect(await w.balance(IVANOV.number)).toBe(100 + 40);
    });
  });
}
