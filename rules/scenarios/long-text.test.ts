/**
 * Text as long as the feeds accept it reaches the database whole, on SQLite and on PostgreSQL alike:
 * members' names up to the members feed's 200 characters, a household id of 40, travel names from any
 * feed (the FTL bounds none), a flown coupon's booking reference of 20. What no column should hold (an
 * e-mail address over 254 characters, a hotel's member number over 24 or reservation id over 64) is a
 * reject naming its file, line and field, and so is a household id longer than its pool's account code
 * carries. Before migration 008 PostgreSQL refused such a value, and the
 * whole night with it, where SQLite (which does not enforce a varchar's length) stored it.
 *
 * Configured names likewise: a contract id is the rule version of what it decided, an activity type the
 * partner feed's; the configuration takes them as long as their columns hold, counted in characters as
 * PostgreSQL counts them, and refuses longer (config/load.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { flightKey, hotelKey, partnerKey } from '../activity.js';
import { memberNumber, replaceOnce, svoKznCoupon, useScenario, type Person } from './scenario.js';

/** `stem` repeated to exactly `n` characters. */
const long = (stem: string, n: number) => stem.repeat(Math.ceil(n / stem.length)).slice(0, n);

const LONG: Person = {
  number: memberNumber(1),
  surname: long('WOLFESCHLEGELSTEINHAUSEN', 150),
  // The members feed's limit exactly.
  givenName: long('HUBERT', 200),
  surnameLocal: long('ВОЛЬФЕНШТЕЙН', 150),
  givenNameLocal: long('ГУБЕРТ', 150),
};

const IVANOV: Person = { number: memberNumber(4), surname: 'IVANOV', givenName: 'IVAN' };

const rental = (txn: string, surname: string, givenName?: string) => ({
  txn,
  member: LONG.number,
  surname,
  ...(givenName === undefined ? {} : { givenName }),
  date: '2026-03-10',
  type: 'RENTAL',
  spend: '180.00',
  currency: 'USD',
});

for (const engine of availableEngines()) {
  describe(`text as long as the feeds accept (${engine})`, () => {
    const s = useScenario(engine);

    it('enrols a member with 150- and 200-character names; a partner record carrying them is credited, another 150-character surname is NAME_MISMATCH', async () => {
      const w = s();
      await w.enrol('2026-03-01', LONG);
      expect(await w.member(LONG.number)).toMatchObject({
        surname: LONG.surname,
        given_name: LONG.givenName,
        surname_local: LONG.surnameLocal,
        given_name_local: LONG.givenNameLocal,
      });
      const stranger = long('SCHMIDTHAUSEN', 150);
      w.dropPartner('DRIVE', '2026-03-11', [
        rental('D-1', LONG.surname, LONG.givenName),
        rental('D-2', stranger, 'H'),
      ]);
      const night = await w.night('2026-03-11');
      expect(night.ingest.counts).toMatchObject({ 'partner.activities': 2 });
      expect(await w.activity(partnerKey('DRIVE', 'D-1'))).toMatchObject({
        status: 'POSTED',
        points: 500,
        travel_surname: LONG.surname,
        travel_given_name: LONG.givenName,
      });
      expect(await w.activity(partnerKey('DRIVE', 'D-2'))).toMatchObject({
        status: 'REJECTED',
        reason: 'NAME_MISMATCH',
        travel_surname: stranger,
      });
      expect(await w.balance(LONG.number)).toBe(500);
    });

    it('keeps a household whose group id has the 40 characters its pool account carries, and refuses a longer one', async () => {
      const w = s();
      const household = long('HOUSEHOLD-', 40);
      const IVAN = { number: memberNumber(2), surname: 'IVANOV', givenName: 'IVAN' };
      const MARIA = { number: memberNumber(3), surname: 'IVANOVA', givenName: 'MARIA' };
      w.dropMembers([
        { ...IVAN, group: { type: 'HOUSEHOLD', id: household } },
        { ...MARIA, group: { type: 'HOUSEHOLD', id: long('HOUSEHOLD-', 41) } },
      ]);
      await w.night('2026-03-01');
      const pool = await w.knex('pools').where({ code: household }).first('id', 'type');
      expect(pool).toMatchObject({ type: 'HOUSEHOLD' });
      expect(Number((await w.member(IVAN.number)).pool_id)).toBe(Number(pool!.id));
      expect(await w.member(MARIA.number)).toBeUndefined();
      expect((await w.rejects({ feed: 'members' })).map((r) => [r.line, r.field, r.reason])).toEqual([
        [3, 'group_id', 'BAD_FORMAT'],
      ]);
      w.dropCoupons([svoKznCoupon(IVAN, '0742000000001', '2026-03-10')]);
      await w.night('2026-03-11');
      expect(await w.poolBalance(household)).toBe(461);
    });

    it('archives an FTL passenger and a hotel guest with 150-character surnames (neither feed bounds a name)', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const travelled = long('IVANOVSKY', 150);
      w.dropFtl({
        flight: 'XX245',
        date: '2026-03-10',
        board: 'SVO',
        groups: [
          { dest: 'KZN', cls: 'Y', pax: [{ surname: travelled, givenName: 'IVAN', card: IVANOV.number }] },
        ],
      });
      await w.night('2026-03-11');
      const key = flightKey(
        { carrier: 'XX', number: '245', date: '2026-03-10', origin: 'SVO', destination: 'KZN' },
        { program: 'XX', number: IVANOV.number },
      );
      expect(await w.activity(key)).toMatchObject({
        status: 'REJECTED',
        reason: 'NAME_MISMATCH',
        travel_surname: travelled,
        travel_given_name: 'IVAN',
      });

      w.dropHotel('GS', [
        {
          member: IVANOV.number,
          surname: travelled,
          givenName: 'IVAN',
          reservation: 'GS-1',
          checkIn: '2026-03-05',
          checkOut: '2026-03-08',
          revenue: [{ category: 'ROOM', amount: '300.00' }],
        },
      ]);
      await w.night('2026-03-12');
      expect(await w.activity(hotelKey('GRANDSTAY', 'GS-1', 'GS001'))).toMatchObject({
        status: 'REJECTED',
        reason: 'NAME_MISMATCH',
        travel_surname: travelled,
      });
    });

    it('credits a flown coupon with a 20-character booking reference', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const pnr = 'PNR4567890ABCDEFGHIJ';
      w.dropCoupons([
        {
          ticket: '0741000000002',
          flight: '246',
          date: '2026-03-12',
          from: 'KZN',
          to: 'SVO',
          booked: 'Y',
          pnr,
          surname: 'IVANOV',
          givenName: 'IVAN',
          card: { program: 'XX', number: IVANOV.number },
          fare: '120.00',
        },
      ]);
      await w.night('2026-03-13');
      const key = flightKey(
        { carrier: 'XX', number: '246', date: '2026-03-12', origin: 'KZN', destination: 'SVO' },
        { program: 'XX', number: IVANOV.number },
      );
      expect(await w.activity(key)).toMatchObject({ status: 'POSTED', pnr });
    });

    it('refuses what no column should hold as a reject naming file, line and field: a 255-character e-mail address, a hotel’s 30-character member number, a 120-character reservation id', async () => {
      const w = s();
      const email = `${'a'.repeat(64)}@${long('example.', 186)}.org`;
      expect(email.length).toBe(255);
      const membersFile = w.drop(
        'members',
        [
          'member_number,status,enrolment_date,enrolment_channel,surname,given_name,email,updated_at',
          `${IVANOV.number},ACTIVE,2020-01-01,WEB,IVANOV,IVAN,ivan@example.org,2020-01-01T00:00:00Z`,
          `${memberNumber(3)},ACTIVE,2020-01-01,WEB,IVANOV,IVAN,${email},2020-01-01T00:00:00Z`,
        ].join('\n') + '\n',
      );
      const enrolment = await w.night('2026-03-01');
      expect(enrolment.ingest.counts['members.enrolled']).toBe(1);
      expect(await w.member(memberNumber(3))).toBeUndefined();

      const stay = (member: string, reservation: string) => ({
        member,
        surname: 'IVANOV',
        givenName: 'IVAN',
        reservation,
        checkIn: '2026-03-05',
        checkOut: '2026-03-08',
        revenue: [{ category: 'ROOM', amount: '300.00' }],
      });
      const hotelFile = w.dropHotel('GS', [
        stay(IVANOV.number, 'GS-1'),
        stay(`9${'0'.repeat(29)}`, 'GS-2'),
        stay(IVANOV.number, `GS-${long('7', 117)}`),
      ]);
      await w.night('2026-03-09');
      expect(await w.activity(hotelKey('GRANDSTAY', 'GS-1', 'GS001'))).toMatchObject({ status: 'POSTED' });

      const rejects = await w
        .knex('rejects as r')
        .join('files as f', 'f.id', 'r.file_id')
        .whereIn('r.feed', ['members', 'hotel'])
        .orderBy('r.id')
        .select('f.name as file', 'r.line', 'r.field', 'r.reason', 'r.message');
      expect(rejects.map((r) => [r.file, r.field, r.reason])).toEqual([
        [membersFile, 'email', 'BAD_FORMAT'],
        [hotelFile, 'LoyaltyPointsAccruals/SelectedLoyalty/@AccountID', 'MALFORMED'],
        [hotelFile, 'ReservationID/@ID', 'MALFORMED'],
      ]);
      expect(rejects[0]!.line).toBe(3);
      for (const r of rejects.slice(1)) expect(r.line).toBeGreaterThan(1);
      expect(rejects.map((r) => r.message)).toEqual([
        expect.stringMatching(/at most 254 characters/),
        expect.stringMatching(/30 characters long: a member number has at most 24/),
        expect.stringMatching(/120 characters long: OpenTravel allows at most 64/),
      ]);
    });
  });

  describe(`configured names as long as their columns hold (${engine})`, () => {
    // 64 characters, 117 UTF-16 units: PostgreSQL's varchar(64) counts characters, as the configuration does.
    const contract = `DRIVE-${'🚗'.repeat(58)}`;
    const type = long('RENTAL_DAY_', 32);
    const s = useScenario(engine, (y) =>
      replaceOnce(replaceOnce(y, 'id: DRIVE-2025', `id: "${contract}"`), 'RENTAL_DAY: {', `${type}: {`),
    );

    it('credits an activity under a contract id of 64 characters and an activity type of 32', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropPartner('DRIVE', '2026-03-11', [
        {
          txn: 'DR-1',
          member: IVANOV.number,
          surname: 'IVANOV',
          date: '2026-03-10',
          type,
          spend: '12.00',
          currency: 'USD',
        },
      ]);
      await w.night('2026-03-11');
      expect(await w.activity(partnerKey('DRIVE', 'DR-1'))).toMatchObject({
        status: 'POSTED',
        activity_type: type,
        rule_version: contract,
      });
      const posting = await w.knex('postings').where({ idempotency_key: 'PTR:DRIVE:DR-1:AWARD' }).first();
      expect(posting.rule_version).toBe(contract);
    });
  });
}
