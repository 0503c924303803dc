/**
 * Hotel stays (OpenTravel HotelStayInfoNotif, ota-hotel-stay.md) whose document leaves out what OpenTravel
 * makes optional: a StayInfos without ChainCode is credited to the partner the file is accepted under, and
 * a `PointsEarned` of 0 proposes no points, so the stay earns by its contract. The simulator shows the
 * same outcome as the night (`night` checks it, and each test reads the simulator's figures itself).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { exportCopy } from '../../test/harness/files.js';
import { exportJob } from '../../jobs/export.js';
import { hotelKey, NO_STAY } from '../activity.js';
import type { SimulationEvent } from '../../jobs/simulate.js';
import { memberNumber, useScenario, type HotelStayInput, type Person, type Scenario } from './scenario.js';

const IVANOV: Person = {
  number: memberNumber(1),
  surname: 'IVANOV',
  givenName: 'IVAN',
  enrolled: '2026-05-01',
};

const PETROV: Person = {
  number: memberNumber(2),
  surname: 'PETROV',
  givenName: 'PETR',
  enrolled: '2026-05-01',
};

/** IVANOV's stay of 10–12 June 2026: 100.00 USD of room, 200 points under GRANDSTAY-2024 (2 per dollar). */
const stay = (reservation: string, extra: Partial<HotelStayInput> = {}): HotelStayInput => ({
  member: IVANOV.number,
  surname: 'IVANOV',
  givenName: 'IVAN',
  reservation,
  checkIn: '2026-06-10',
  checkOut: '2026-06-12',
  revenue: [{ category: 'ROOM', amount: '100.00' }],
  ...extra,
});

/** What the simulator shows per stay: the activity it posts, or the reject of one it cannot draft. */
function shown(events: SimulationEvent[]): unknown[] {
  return events.flatMap((e) =>
    e.type === 'record'
      ? [[e.activity, e.status, e.reason, e.points]]
      : e.type === 'reject'
        ? [[e.line, 'REJECTED', e.reason, e.field]]
        : [],
  );
}

/** The warnings of the night's response to a hotel document: RPH, reason code, reservation id, text. */
async function responseWarnings(w: Scenario, date: string, name: string): Promise<unknown[]> {
  await w.run(exportJob, date);
  const out = (await w
    .knex('files as o')
    .join('files as i', 'i.id', 'o.answers_file_id')
    .where({ 'o.direction': 'out', 'o.feed': 'hotel-response', 'i.name': name })
    .first('o.local_path')) as { local_path: string };
  const xml = readFileSync(exportCopy(w.w.config, out.local_path), 'utf8');
  return [...xml.matchAll(/<Warning ([^>]*)>([^<]*)<\/Warning>/g)].map(([, attrs, text]) => {
    const attr = (a: string) => new RegExp(`${a}="([^"]*)"`).exec(attrs!)?.[1];
    return [attr('RPH'), attr('ShortText'), attr('RecordID'), text];
  });
}

async function outcome(w: Scenario, reservation: string, hotel = 'GS001'): Promise<unknown[]> {
  const a = await w.activity(hotelKey('GRANDSTAY', reservation, hotel));
  return [a?.status, a?.reason ?? null, a?.points === undefined ? undefined : Number(a.points)];
}

for (const engine of availableEngines()) {
  describe(`hotel stays (${engine})`, () => {
    const s = useScenario(engine);

    it('credits a stay whose StayInfos names no chain to the partner its file is accepted under, by the file name', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      const file = w.dropHotel(null, [stay('A-1')], 'GS_GSBER01_StayInfoNotif_20260612.xml');
      expect(shown(await w.simulate('hotel', file, '2026-06-13'))).toEqual([
        [hotelKey('GRANDSTAY', 'A-1', 'BER001'), 'POSTED', null, 200],
      ]);
      await w.night('2026-06-13');
      expect(await w.knex('files').where({ direction: 'in', feed: 'hotel' }).first()).toMatchObject({
        verdict: 'accepted',
        partner_code: 'GRANDSTAY',
      });
      expect(await w.activity(hotelKey('GRANDSTAY', 'A-1', 'BER001'))).toMatchObject({
        status: 'POSTED',
        points: 200, // 100.00 × 2
        rule_version: 'GRANDSTAY-2024',
        partner_code: 'GRANDSTAY',
      });
      expect(await w.rejects({ feed: 'hotel' })).toEqual([]);
      expect(await w.balance(IVANOV.number)).toBe(200);
    });

    it('keeps a chain a stay names as its own: unknown, it is NO_CONTRACT; a StayInfos without one is of the document’s chain, not the file name’s', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      // The file name gives NA, no partner's chain: the file is GrandStay's by its first StayInfos.
      const file = w.dropHotelGroups(
        [
          { chain: 'GS', stays: [stay('B-1')] },
          { chain: 'ZZ', stays: [stay('B-2')] },
          { chain: null, stays: [stay('B-3')] },
        ],
        'NA_NABER01_StayInfoNotif_20260612.xml',
      );
      const noContract = 'no hotel partner for chain ZZ (partners[].hotelChains)';
      const simulated = await w.simulate('hotel', file, '2026-06-13');
      expect(shown(simulated)).toEqual([
        [hotelKey('GRANDSTAY', 'B-1', 'GS001'), 'POSTED', null, 200],
        [expect.any(Number), 'REJECTED', 'NO_CONTRACT', 'ChainCode'],
        [hotelKey('GRANDSTAY', 'B-3', 'BER001'), 'POSTED', null, 200],
      ]);
      await w.night('2026-06-13');
      expect(await w.knex('files').where({ direction: 'in', feed: 'hotel' }).first()).toMatchObject({
        verdict: 'accepted',
        partner_code: 'GRANDSTAY',
      });
      expect(await outcome(w, 'B-1')).toEqual(['POSTED', null, 200]);
      expect(await outcome(w, 'B-3', 'BER001')).toEqual(['POSTED', null, 200]);
      expect(
        (await w.rejects({ feed: 'hotel' })).map((r) => [r.record_ref, r.reason, r.field, r.message]),
      ).toEqual([['B-2', 'NO_CONTRACT', 'ChainCode', noContract]]);
      expect(await w.balance(IVANOV.number)).toBe(400);
    });

    it('earns a stay by its contract when the hotel proposes 0 points, credits the points it proposes, and refuses negative ones', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      const file = w.dropHotel('GS', [
        stay('C-1', { pointsEarned: 0 }),
        stay('C-2', { pointsEarned: 350 }),
        stay('C-3', { pointsEarned: -5 }),
      ]);
      expect(shown(await w.simulate('hotel', file, '2026-06-13'))).toEqual([
        [hotelKey('GRANDSTAY', 'C-1', 'GS001'), 'POSTED', null, 200],
        [hotelKey('GRANDSTAY', 'C-2', 'GS001'), 'POSTED', null, 350],
        [hotelKey('GRANDSTAY', 'C-3', 'GS001'), 'REJECTED', 'BAD_AMOUNT', 0],
      ]);
      await w.night('2026-06-13');
      expect(await outcome(w, 'C-1')).toEqual(['POSTED', null, 200]); // 100.00 × 2, as without PointsEarned
      expect(await outcome(w, 'C-2')).toEqual(['POSTED', null, 350]);
      expect(await outcome(w, 'C-3')).toEqual(['REJECTED', 'BAD_AMOUNT', 0]);
      expect(await w.balance(IVANOV.number)).toBe(550);
    });
    it('credits the points a hotel proposes for a stay whose revenue has no rate, its spend unknown; a stay earning on it is BAD_CURRENCY', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      const inDirhams = [{ category: 'ROOM', amount: '900.00', currency: 'AED' }];
      const file = w.dropHotel('GS', [
        stay('C-1', { pointsEarned: 350, revenue: inDirhams }),
        stay('C-2', { revenue: inDirhams }),
      ]);
      expect(shown(await w.simulate('hotel', file, '2026-06-13'))).toEqual([
        [hotelKey('GRANDSTAY', 'C-1', 'GS001'), 'POSTED', null, 350],
        [hotelKey('GRANDSTAY', 'C-2', 'GS001'), 'REJECTED', 'BAD_CURRENCY', 0],
      ]);
      await w.night('2026-06-13');
      expect(await outcome(w, 'C-1')).toEqual(['POSTED', null, 350]);
      expect(await w.activity(hotelKey('GRANDSTAY', 'C-1', 'GS001'))).toMatchObject({
        base_spend_minor: null,
      });
      expect(await outcome(w, 'C-2')).toEqual(['REJECTED', 'BAD_CURRENCY', 0]);
      expect(await w.balance(IVANOV.number)).toBe(350);
    });
    it('warns of the stays of a document written on one line in its order, those it could not read among the others', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      const stranger = memberNumber(9);
      const file = w.dropHotel('GS', [
        stay('U-1', { member: stranger }),
        stay('U-2', { checkIn: '2026-13-45' }),
        stay('U-3', { member: stranger }),
        stay('U-4'),
        stay('U-5', { checkOut: 'soon' }),
      ]);
      const path = join(w.inbox('hotel'), file);
      writeFileSync(path, `${readFileSync(path, 'utf8').replace(/\n\s*/g, '')}\n`);
      await w.night('2026-06-13');
      // U-1 and U-3 are refused by the rules (activities), U-2 and U-5 by the reader (rejects): the hotel
      // reads them by their sequence numbers, in its document's order.
      expect(
        (await responseWarnings(w, '2026-06-13', file)).map((r) => (r as unknown[]).slice(0, 3)),
      ).toEqual([
        ['1', expect.any(String), 'U-1'],
        ['2', expect.any(String), 'U-2'],
        ['3', expect.any(String), 'U-3'],
        ['5', expect.any(String), 'U-5'],
      ]);
      expect(await outcome(w, 'U-4')).toEqual(['POSTED', null, 200]);
    });

    it('refuses a cancelled or no-show reservation as a stay that did not happen, and tells the hotel which', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      const file = w.dropHotel('GS', [
        stay('C-1', { resStatus: 'Cancelled' }),
        stay('C-2', { resStatus: 'No-show' }),
        stay('C-3', { resStatus: 'NOSHOW' }),
        stay('C-4', { resStatus: 'Checked out' }),
      ]);
      const field = 'HotelReservation/@ResStatus';
      expect(shown(await w.simulate('hotel', file, '2026-06-13'))).toEqual([
        [expect.any(Number), 'REJECTED', 'NO_CONTRACT', field],
        [expect.any(Number), 'REJECTED', 'NO_CONTRACT', field],
        [expect.any(Number), 'REJECTED', 'NO_CONTRACT', field],
        [hotelKey('GRANDSTAY', 'C-4', 'GS001'), 'POSTED', null, 200],
      ]);
      await w.night('2026-06-13');
      const didNotStay = (id: string, status: string) =>
        `reservation ${id} is ${status}: the guest did not stay, and no contract credits a stay that did not happen`;
      expect(
        (await w.rejects({ feed: 'hotel' })).map((r) => [r.record_ref, r.reason, r.field, r.message]),
      ).toEqual([
        ['C-1', 'NO_CONTRACT', field, didNotStay('C-1', 'Cancelled')],
        ['C-2', 'NO_CONTRACT', field, didNotStay('C-2', 'No-show')],
        ['C-3', 'NO_CONTRACT', field, didNotStay('C-3', 'NOSHOW')],
      ]);
      expect(await w.activity(hotelKey('GRANDSTAY', 'C-1', 'GS001'))).toBeUndefined();
      expect(await outcome(w, 'C-4')).toEqual(['POSTED', null, 200]);
      expect(await w.balance(IVANOV.number)).toBe(200);
      expect(await responseWarnings(w, '2026-06-13', file)).toEqual([
        // The response's text of a record refused as read leads with its line in the document.
        ['1', 'NO_CONTRACT', 'C-1', expect.stringMatching(/^line \d+: /)],
        ['2', 'NO_CONTRACT', 'C-2', expect.stringMatching(/^line \d+: /)],
        ['3', 'NO_CONTRACT', 'C-3', expect.stringMatching(/^line \d+: /)],
      ]);
      expect(
        (await responseWarnings(w, '2026-06-13', file)).map((r) =>
          (r as string[])[3]!.replace(/^line \d+: /, ''),
        ),
      ).toEqual([didNotStay('C-1', 'Cancelled'), didNotStay('C-2', 'No-show'), didNotStay('C-3', 'NOSHOW')]);
    });

    it('does not take a cancellation of a credited stay for a duplicate: it is refused as not applied, and the night warns', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      const first = w.dropHotel('GS', [stay('R-9')], 'GS_GSBER01_StayInfoNotif_20260612.xml');
      await w.night('2026-06-13');
      expect(await outcome(w, 'R-9')).toEqual(['POSTED', null, 200]);
      const cancel = w.dropHotel(
        'GS',
        [stay('R-9', { resStatus: 'Cancelled', revenue: [{ category: 'ROOM', amount: '0.00' }] })],
        'GS_GSBER01_StayInfoNotif_20260613.xml',
      );
      const field = 'HotelReservation/@ResStatus';
      expect(shown(await w.simulate('hotel', cancel, '2026-06-14'))).toEqual([
        [expect.any(Number), 'REJECTED', 'CANCELLATION_NOT_APPLIED', field],
      ]);
      const night = await w.night('2026-06-14');
      const message = `reservation R-9 is Cancelled, but it was already received in ${first} (night of 2026-06-13) and posted: the cancellation is not applied, and its credit stands until an operator settles it`;
      expect(
        (await w.rejects({ feed: 'hotel' })).map((r) => [r.record_ref, r.reason, r.field, r.message]),
      ).toEqual([['R-9', 'CANCELLATION_NOT_APPLIED', field, message]]);
      expect((night.ingest.warnings ?? []).filter((x) => x.startsWith(`${cancel}:`))).toEqual([
        expect.stringContaining(` field ${field}: member ${IVANOV.number}: ${message}`),
      ]);
      expect(night.ingest.counts['hotel.cancellationsNotApplied']).toBe(1);
      expect(night.ingest.counts['hotel.duplicates']).toBeUndefined();
      expect(await outcome(w, 'R-9')).toEqual(['POSTED', null, 200]);
      expect(await w.balance(IVANOV.number)).toBe(200);
      expect(await responseWarnings(w, '2026-06-14', cancel)).toEqual([
        [
          '1',
          'NO_CONTRACT',
          'R-9',
          expect.stringMatching(/^CANCELLATION_NOT_APPLIED: line \d+: reservation R-9 is Cancelled, but/),
        ],
      ]);
    });
    describe('a stay cancelled before anything was posted for it is not credited', () => {
      const field = 'HotelReservation/@ResStatus';
      const cancelled = (reservation: string) =>
        stay(reservation, { resStatus: 'Cancelled', revenue: [{ category: 'ROOM', amount: '0.00' }] });
      /** The stay as the night leaves it: status, reason, field, message, whether accrue waits for it, points. */
      const settled = async (w: Scenario, reservation: string) => {
        const a = (await w.activity(hotelKey('GRANDSTAY', reservation, 'GS001')))!;
        return [
          a.status,
          a.reason,
          a.reason_field,
          a.reason_message,
          Boolean(a.needs_accrual),
          Number(a.points),
          a.rejected_on ?? null,
        ];
      };
      const refusedAsRead = async (w: Scenario) =>
        (await w.rejects({ feed: 'hotel' })).map((r) => [r.record_ref, r.reason, r.field, r.message]);

      it('the hotel cancels it in another document the same night: the stay is rejected as the cancellation is, no warning', async () => {
        const w = s();
        await w.enrol('2026-05-01', IVANOV);
        const first = w.dropHotel('GS', [stay('R-9')], 'GS_GSBER01_StayInfoNotif_20260612.xml');
        const cancel = w.dropHotel('GS', [cancelled('R-9')], 'GS_GSBER01_StayInfoNotif_20260613.xml');
        expect(shown(await w.simulate('hotel', first, '2026-06-13', [['hotel', cancel]]))).toEqual([
          [hotelKey('GRANDSTAY', 'R-9', 'GS001'), 'REJECTED', 'NO_CONTRACT', 0],
          [expect.any(Number), 'REJECTED', 'NO_CONTRACT', field],
        ]);
        const night = await w.night('2026-06-13');
        const why = `the hotel sent reservation R-9 as Cancelled in ${cancel} (night of 2026-06-13): ${NO_STAY}`;
        expect(await settled(w, 'R-9')).toEqual(['REJECTED', 'NO_CONTRACT', field, why, false, 0, null]);
        expect(await refusedAsRead(w)).toEqual([
          ['R-9', 'NO_CONTRACT', field, `reservation R-9 is Cancelled: ${NO_STAY}`],
        ]);
        expect(night.ingest.warnings ?? []).toEqual([]);
        expect(night.ingest.counts['hotel.cancellationsNotApplied']).toBeUndefined();
        expect(night.ingest.counts['hotel.cancelledBeforeCredit']).toBe(1);
        expect(await w.balance(IVANOV.number)).toBe(0);
        // Both documents are answered after accrue: the first says the stay was not credited, and why.
        expect(await responseWarnings(w, '2026-06-13', first)).toEqual([['1', 'NO_CONTRACT', 'R-9', why]]);
        expect(await responseWarnings(w, '2026-06-13', cancel)).toEqual([
          [
            '1',
            'NO_CONTRACT',
            'R-9',
            expect.stringMatching(new RegExp(`^line \\d+: reservation R-9 is Cancelled: ${NO_STAY}$`)),
          ],
        ]);
      });

      it('the stay and its cancellation come in one document: the stay is stored rejected', async () => {
        const w = s();
        await w.enrol('2026-05-01', IVANOV);
        const file = w.dropHotel('GS', [stay('R-9'), cancelled('R-9')]);
        expect(shown(await w.simulate('hotel', file, '2026-06-13'))).toEqual([
          [hotelKey('GRANDSTAY', 'R-9', 'GS001'), 'REJECTED', 'NO_CONTRACT', 0],
          [expect.any(Number), 'REJECTED', 'NO_CONTRACT', field],
        ]);
        const night = await w.night('2026-06-13');
        const [reject] = await w.rejects({ feed: 'hotel' });
        const why = `the hotel sent reservation R-9 as Cancelled at line ${String(reject!.line)} of this file: ${NO_STAY}`;
        expect(await settled(w, 'R-9')).toEqual(['REJECTED', 'NO_CONTRACT', field, why, false, 0, null]);
        expect(await refusedAsRead(w)).toEqual([
          ['R-9', 'NO_CONTRACT', field, `reservation R-9 is Cancelled: ${NO_STAY}`],
        ]);
        expect(night.ingest.warnings ?? []).toEqual([]);
        expect(await w.balance(IVANOV.number)).toBe(0);
        expect(await responseWarnings(w, '2026-06-13', file)).toEqual([
          ['1', 'NO_CONTRACT', 'R-9', why],
          [
            '2',
            'NO_CONTRACT',
            'R-9',
            `line ${String(reject!.line)}: reservation R-9 is Cancelled: ${NO_STAY}`,
          ],
        ]);
      });

      it('the stay waits for its rate when the hotel cancels it: it is not credited when the rate comes', async () => {
        const w = s();
        await w.enrol('2026-05-01', IVANOV);
        w.dropFx({ '2026-06-11': { USD: '1.2000' } });
        await w.night('2026-06-12');
        // 100.00 EUR of room, checked out on Friday 12 June, whose rate has not come by Saturday's night.
        const first = w.dropHotel(
          'GS',
          [stay('R-9', { revenue: [{ category: 'ROOM', amount: '100.00', currency: 'EUR' }] })],
          'GS_GSBER01_StayInfoNotif_20260612.xml',
        );
        await w.night('2026-06-13');
        expect(await outcome(w, 'R-9')).toEqual(['PENDING', 'BAD_CURRENCY', 0]);
        const cancel = w.dropHotel('GS', [cancelled('R-9')], 'GS_GSBER01_StayInfoNotif_20260614.xml');
        expect(shown(await w.simulate('hotel', cancel, '2026-06-14'))).toEqual([
          [expect.any(Number), 'REJECTED', 'NO_CONTRACT', field],
        ]);
        const night = await w.night('2026-06-14');
        const why = `the hotel sent reservation R-9 as Cancelled in ${cancel} (night of 2026-06-14): ${NO_STAY}`;
        // Its reject is the night's that settled it, as one rejected after waiting is.
        expect(await settled(w, 'R-9')).toEqual([
          'REJECTED',
          'NO_CONTRACT',
          field,
          why,
          false,
          0,
          '2026-06-14',
        ]);
        expect(night.ingest.warnings ?? []).toEqual([]);
        // The first document's answer waited for the stay's decision: it says the stay was not credited.
        expect(await responseWarnings(w, '2026-06-14', first)).toEqual([['1', 'NO_CONTRACT', 'R-9', why]]);
        w.dropFx({ '2026-06-12': { USD: '1.2000' } });
        await w.night('2026-06-15');
        expect(await outcome(w, 'R-9')).toEqual(['REJECTED', 'NO_CONTRACT', 0]);
        expect(await w.balance(IVANOV.number)).toBe(0);
      });
    });

    it('credits a stay under a reservation id another hotel of the chain used: a stay is its hotel’s', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      await w.enrol('2026-05-01', PETROV);
      w.dropHotelGroups([{ chain: 'GS', hotel: 'GS001', stays: [stay('R-100')] }]);
      await w.night('2026-06-13');
      expect(await outcome(w, 'R-100', 'GS001')).toEqual(['POSTED', null, 200]);
      const petrov = stay('R-100', {
        member: PETROV.number,
        surname: 'PETROV',
        givenName: 'PETR',
        checkIn: '2026-06-14',
        checkOut: '2026-06-16',
      });
      const other = w.dropHotelGroups([{ chain: 'GS', hotel: 'GS777', stays: [petrov] }]);
      expect(shown(await w.simulate('hotel', other, '2026-06-17'))).toEqual([
        [hotelKey('GRANDSTAY', 'R-100', 'GS777'), 'POSTED', null, 200],
      ]);
      await w.night('2026-06-17');
      expect(await outcome(w, 'R-100', 'GS777')).toEqual(['POSTED', null, 200]);
      expect(await w.rejects({ feed: 'hotel' })).toEqual([]);
      expect(await w.balance(PETROV.number)).toBe(200);
      expect(await w.balance(IVANOV.number)).toBe(200);
    });

    it('finds a stay credited under the key it had before its hotel was part of it: its hotel’s copy is a duplicate, another hotel’s is credited', async () => {
      const w = s();
      await w.enrol('2026-05-01', IVANOV);
      await w.enrol('2026-05-01', PETROV);
      const first = w.dropHotelGroups([{ chain: 'GS', hotel: 'GS001', stays: [stay('R-100')] }]);
      await w.night('2026-06-13');
      // As a night before stays were keyed by their hotel left it: its postings keep the keys they have.
      await w
        .knex('activities')
        .where({ activity_key: hotelKey('GRANDSTAY', 'R-100', 'GS001') })
        .update({ activity_key: hotelKey('GRANDSTAY', 'R-100') });
      const again = w.dropHotelGroups([{ chain: 'GS', hotel: 'GS001', stays: [stay('R-100')] }]);
      const petrov = stay('R-100', {
        member: PETROV.number,
        surname: 'PETROV',
        givenName: 'PETR',
        checkIn: '2026-06-14',
        checkOut: '2026-06-16',
      });
      const other = w.dropHotelGroups([{ chain: 'GS', hotel: 'GS777', stays: [petrov] }]);
      expect(shown(await w.simulate('hotel', again, '2026-06-17'))).toEqual([
        [hotelKey('GRANDSTAY', 'R-100', 'GS001'), 'REJECTED', 'DUPLICATE', 0],
      ]);
      expect(shown(await w.simulate('hotel', other, '2026-06-17'))).toEqual([
        [hotelKey('GRANDSTAY', 'R-100', 'GS777'), 'POSTED', null, 200],
      ]);
      const night = await w.night('2026-06-17');
      expect(night.ingest.counts['hotel.duplicates']).toBe(1);
      expect((await w.rejects({ feed: 'hotel' })).map((r) => [r.record_ref, r.reason, r.message])).toEqual([
        ['R-100', 'DUPLICATE', `R-100 was already received in ${first} (night of 2026-06-13) and posted`],
      ]);
      expect(await w.activity(hotelKey('GRANDSTAY', 'R-100', 'GS001'))).toBeUndefined();
      expect(await outcome(w, 'R-100', 'GS777')).toEqual(['POSTED', null, 200]);
      expect(await w.balance(IVANOV.number)).toBe(200);
      expect(await w.balance(PETROV.number)).toBe(200);
    });
  });
}
