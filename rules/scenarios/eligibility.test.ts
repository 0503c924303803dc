/**
 * Every reason an activity is not credited, produced by real files through the real night: the member
 * master (unknown, check digit, closed, merged, suspended, incomplete, not yet enrolled), the name as
 * travelled, the claim window and the processing date, duplicates, contracts, amounts and currencies,
 * and the flight-only reasons (airport, class, rule in force, card, agreement, another airline's flight).
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { partnerReasonCode, partnerReasonText } from '../../exporters/partner-reasons.js';
import {
  awardPostingKey,
  couponKey,
  flightKey,
  hotelKey,
  partnerKey,
  reversalKey,
  statusPostingKey,
} from '../activity.js';
import {
  badCheckDigit,
  memberNumber,
  replaceOnce,
  svoKznCoupon,
  useScenario,
  type Coupon,
  type Person,
  type Scenario,
} from './scenario.js';

const ACTIVE: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

const rental = (
  txn: string,
  member: string,
  surname: string,
  date: string,
  over: Record<string, unknown> = {},
) => ({
  txn,
  member,
  surname,
  date,
  type: 'RENTAL_DAY',
  spend: '100.00',
  currency: 'USD',
  ...over,
});

/** LH1446 FRA-SVO listing ACTIVE in the group of `cls` with no `.M/`: taken as a flight we operate. */
const lh1446Ftl = (cls: string) =>
  [
    'QU MOWKTXX',
    '.MOWRMXX 101530',
    'FTL',
    'LH1446/10MAR FRA PART1',
    `-SVO01${cls}`,
    '1IVANOV/IVAN MR',
    `.R/FQTV XX ${ACTIVE.number}`,
    'ENDFTL',
    '',
  ].join('\n');
/** ACTIVE's coupon for it: operated and marketed by LH. */
const lh1446Coupon: Coupon = {
  ticket: '2201000000001',
  coupon: 1,
  carrier: 'LH',
  flight: '1446',
  marketingCarrier: 'LH',
  marketingFlight: '1446',
  date: '2026-03-10',
  from: 'FRA',
  to: 'SVO',
  booked: 'Y',
  surname: 'IVANOV',
  givenName: 'IVAN MR',
  card: { program: 'XX', number: ACTIVE.number },
  fare: '200.00',
  tax: '50.00',
};
const LH1446 = flightKey(
  { carrier: 'LH', number: '1446', date: '2026-03-10', origin: 'FRA', destination: 'SVO' },
  { program: 'XX', number: ACTIVE.number },
);

async function outcome(w: Scenario, key: string): Promise<[unknown, unknown]> {
  const a = await w.activity(key);
  return [a?.status, a?.reason];
}

function flight(member: string, date: string, from: string, to: string, flightNo = '245') {
  return flightKey(
    { carrier: 'XX', number: flightNo, date, origin: from, destination: to },
    { program: 'XX', number: member },
  );
}

for (const engine of availableEngines()) {
  describe(`who may earn (${engine})`, () => {
    const s = useScenario(engine);

    it('rejects by the member master: unknown, check digit, closed, merged, suspended, incomplete, not yet enrolled', async () => {
      const w = s();
      const closed: Person = {
        number: memberNumber(2),
        surname: 'CLOSED',
        givenName: 'CARL',
        status: 'CLOSED',
      };
      const merged: Person = {
        number: memberNumber(3),
        surname: 'MERGED',
        givenName: 'MARK',
        status: 'MERGED',
        mergedInto: ACTIVE.number,
        updatedAt: '2020-01-02T00:00:00Z',
      };
      const suspended: Person = {
        number: memberNumber(4),
        surname: 'SUSPENDED',
        givenName: 'SAM',
        status: 'SUSPENDED',
      };
      const incomplete: Person = {
        number: memberNumber(5),
        surname: 'INCOMPLETE',
        givenName: 'INA',
        status: 'INCOMPLETE',
      };
      const late: Person = {
        number: memberNumber(6),
        surname: 'LATE',
        givenName: 'LENA',
        enrolled: '2026-03-05',
      };
      // Sent the night LATE enrols: the feed refuses an enrolment dated further ahead of its file.
      w.dropMembers([ACTIVE, closed, merged, suspended, incomplete, late]);
      await w.night('2026-03-05');
      const unknown = memberNumber(99); // a valid number nobody holds
      w.dropPartner('DRIVE', '2026-03-11', [
        rental('M-0', ACTIVE.number, 'IVANOV', '2026-03-10'),
        rental('M-1', unknown, 'NOBODY', '2026-03-10'),
        rental('M-2', badCheckDigit(ACTIVE.number), 'IVANOV', '2026-03-10'),
        rental('M-3', '123456789', 'IVANOV', '2026-03-10'), // nine digits: not a number of this program
        rental('M-4', closed.number, 'CLOSED', '2026-03-10'),
        rental('M-5', merged.number, 'MERGED', '2026-03-10'),
        rental('M-6', suspended.number, 'SUSPENDED', '2026-03-10'),
        rental('M-7', incomplete.number, 'INCOMPLETE', '2026-03-10'),
        rental('M-8', late.number, 'LATE', '2026-03-04'), // the day before enrolment
        rental('M-9', late.number, 'LATE', '2026-03-05'), // the day of enrolment
      ]);
      await w.night('2026-03-11');
      const expected: Array<[string, [unknown, unknown]]> = [
        ['M-0', ['POSTED', null]],
        ['M-1', ['REJECTED', 'MEMBER_UNKNOWN']],
        ['M-2', ['REJECTED', 'CHECK_DIGIT']],
        ['M-3', ['REJECTED', 'MEMBER_UNKNOWN']],
        ['M-4', ['REJECTED', 'ACCOUNT_CLOSED']],
        ['M-5', ['REJECTED', 'ACCOUNT_CLOSED']],
        ['M-6', ['REJECTED', 'MEMBER_INACTIVE']],
        ['M-7', ['REJECTED', 'MEMBER_INACTIVE']],
        ['M-8', ['REJECTED', 'NOT_ENROLLED']],
        ['M-9', ['POSTED', null]],
      ];
      for (const [txn, want] of expected)
        expect([txn, await outcome(w, partnerKey('DRIVE', txn))]).toEqual([txn, want]);
      expect(await w.balance(ACTIVE.number)).toBe(100);
      expect(await w.balance(late.number)).toBe(100);
    });

    it('forgives what systems do to a name (case, accents, Cyrillic, a cut given name, a glued title) and nothing else', async () => {
      const w = s();
      const people: Person[] = [
        { number: memberNumber(10), surname: 'LOPEZ', givenName: 'JOSE' },
        {
          number: memberNumber(11),
          surname: 'SMIRNOV',
          givenName: 'ANDREI',
          surnameLocal: 'Смирнов',
          givenNameLocal: 'Андрей',
        },
        { number: memberNumber(12), surname: 'NOVIKOV', givenName: 'ALEXANDER' },
        { number: memberNumber(13), surname: 'FOX', givenName: 'ALAN' },
        { number: memberNumber(14), surname: 'IVANOV', givenName: 'IVAN' },
        { number: memberNumber(15), surname: 'VOLKONSKAYA', givenName: 'ALEXANDRA VLADIMIROVNA' },
      ];
      await w.enrol('2026-03-01', ...people);
      const [lopez, smirnov, novikov, fox, ivanov, volkonskaya] = people.map((p) => p.number) as [
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      // Partner records: case and accents.
      w.dropPartner('DRIVE', '2026-03-11', [
        rental('N-1', lopez, 'López', '2026-03-10', { givenName: 'josé' }),
        rental('N-2', smirnov, 'Смирнов', '2026-03-10', { givenName: 'Андрей' }),
        rental('N-3', smirnov, 'SMIRNOV', '2026-03-10', { givenName: 'ANDREY' }), // another transliteration of Андрей
        rental('N-4', ivanov, 'IVANOVA', '2026-03-10', { givenName: 'I' }), // another surname
        rental('N-5', ivanov, 'IVANOV', '2026-03-10', { givenName: 'PETR' }), // another person
      ]);
      // The DCS: a patronymic the profile does not hold, a given name cut short, an initial, a glued title.
      w.dropFtl({
        flight: 'XX245',
        date: '2026-03-10',
        board: 'SVO',
        groups: [
          {
            dest: 'KZN',
            cls: 'Y',
            pax: [
              { surname: 'NOVIKOV', givenName: 'ALEXANDER KONSTANTINOVICH', card: novikov },
              { surname: 'FOX', givenName: 'ALANMR', title: '', card: fox },
              { surname: 'SMIRNOV', givenName: 'A', card: smirnov },
            ],
          },
        ],
      });
      w.dropFtl({
        flight: 'XX247',
        date: '2026-03-10',
        board: 'SVO',
        groups: [
          {
            dest: 'LED',
            cls: 'Y',
            // As a boarding pass's 20 characters cut it, title and all.
            pax: [{ surname: 'VOLKONSKAYA', givenName: 'ALEXANDR', title: '', card: volkonskaya }],
          },
        ],
      });
      await w.night('2026-03-11');
      const partner: Array<[string, [unknown, unknown]]> = [
        ['N-1', ['POSTED', null]],
        ['N-2', ['POSTED', null]],
        ['N-3', ['POSTED', null]],
        ['N-4', ['REJECTED', 'NAME_MISMATCH']],
        ['N-5', ['REJECTED', 'NAME_MISMATCH']],
      ];
      for (const [txn, want] of partner)
        expect([txn, await outcome(w, partnerKey('DRIVE', txn))]).toEqual([txn, want]);
      for (const [member, to, flightNo] of [
        [novikov, 'KZN', '245'],
        [fox, 'KZN', '245'],
        [smirnov, 'KZN', '245'],
        [volkonskaya, 'LED', '247'],
      ] as const) {
        expect([member, to, await outcome(w, flight(member, '2026-03-10', 'SVO', to, flightNo))]).toEqual([
          member,
          to,
          ['POSTED', null],
        ]);
      }
    });

    it('credits no one whose given name merely begins the member’s in a name too short to have been cut (IVANOVA/ALEXANDR, ALEXANDROVA/ALEX)', async () => {
      const w = s();
      const people: Person[] = [
        { number: memberNumber(20), surname: 'IVANOVA', givenName: 'ALEXANDRA' },
        { number: memberNumber(21), surname: 'ALEXANDROVA', givenName: 'ALEXEI' },
      ];
      await w.enrol('2026-03-01', ...people);
      const [alexandra, alexei] = people.map((p) => p.number) as [string, string];
      // Someone else on the card: both names are whole as they travelled, each another person's.
      w.dropFtl({
        flight: 'XX245',
        date: '2026-03-10',
        board: 'SVO',
        groups: [
          {
            dest: 'KZN',
            cls: 'Y',
            pax: [
              { surname: 'IVANOVA', givenName: 'ALEXANDR', card: alexandra },
              { surname: 'ALEXANDROVA', givenName: 'ALEX', card: alexei },
            ],
          },
        ],
      });
      await w.night('2026-03-11');
      for (const member of [alexandra, alexei]) {
        const a = await w.activity(flight(member, '2026-03-10', 'SVO', 'KZN'));
        expect([member, a?.status, a?.reason, a?.reason_field]).toEqual([
          member,
          'REJECTED',
          'NAME_MISMATCH',
          'given_name',
        ]);
        expect(await w.balance(member)).toBe(0);
      }
    });

    it('credits no one whose ticket gives a name that begins the member’s followed by a title: a cut would have dropped the title first', async () => {
      const w = s();
      const people: Person[] = [
        { number: memberNumber(22), surname: 'SHEVCHENKO', givenName: 'ALEXANDRA' },
        { number: memberNumber(23), surname: 'IVANOVA', givenName: 'ALEXANDRA' },
      ];
      await w.enrol('2026-03-01', ...people);
      const [shevchenko, ivanova] = people.map((p) => p.number) as [string, string];
      // SHEVCHENKO/ALEXANDR MR is 22 characters, long enough to be a cut field, but the title survived.
      w.dropCoupons([
        { ...svoKznCoupon(people[0]!, '0741000000001', '2026-03-10'), givenName: 'ALEXANDR MR' },
        { ...svoKznCoupon(people[1]!, '0741000000002', '2026-03-10'), givenName: 'ALEXANDR MRS' },
      ]);
      await w.night('2026-03-11');
      for (const member of [shevchenko, ivanova]) {
        const a = await w.activity(flight(member, '2026-03-10', 'SVO', 'KZN'));
        expect([member, a?.status, a?.reason, a?.reason_field]).toEqual([
          member,
          'REJECTED',
          'NAME_MISMATCH',
          'given_name',
        ]);
        expect(await w.balance(member)).toBe(0);
      }
    });

    it('keeps to the claim window and the processing date: 90 days for DRIVE, 365 for flights, tomorrow waits for its night, nothing from further ahead', async () => {
      const w = s();
      await w.enrol('2025-01-01', ACTIVE);
      w.dropPartner('DRIVE', '2026-06-10', [
        rental('W-1', ACTIVE.number, 'IVANOV', '2026-03-11'), // 91 days before 10 June
        rental('W-2', ACTIVE.number, 'IVANOV', '2026-03-12'), // 90 days: the window's first day
        rental('W-3', ACTIVE.number, 'IVANOV', '2026-06-10'), // the processing date itself
        rental('W-4', ACTIVE.number, 'IVANOV', '2026-06-11'), // tomorrow: a local date ahead of UTC
        rental('W-5', ACTIVE.number, 'IVANOV', '2026-06-12'), // two days after the file came in
      ]);
      const coupon = (ticket: string, date: string) => svoKznCoupon(ACTIVE, ticket, date);
      w.dropCoupons([
        coupon('0741000000001', '2025-06-09'), // 366 days before 10 June 2026
        coupon('0741000000002', '2025-06-10'), // 365 days
        coupon('0741000000003', '2026-06-12'), // the day after tomorrow
      ]);
      await w.night('2026-06-10');
      expect(await outcome(w, partnerKey('DRIVE', 'W-1'))).toEqual(['REJECTED', 'OUT_OF_WINDOW']);
      expect(await outcome(w, partnerKey('DRIVE', 'W-2'))).toEqual(['POSTED', null]);
      expect(await outcome(w, partnerKey('DRIVE', 'W-3'))).toEqual(['POSTED', null]);
      expect(await outcome(w, partnerKey('DRIVE', 'W-4'))).toEqual(['PENDING', 'DATED_AHEAD']);
      expect(await outcome(w, partnerKey('DRIVE', 'W-5'))).toEqual(['REJECTED', 'FUTURE_DATE']);
      expect(await outcome(w, flight(ACTIVE.number, '2025-06-09', 'SVO', 'KZN'))).toEqual([
        'REJECTED',
        'OUT_OF_WINDOW',
      ]);
      expect(await outcome(w, flight(ACTIVE.number, '2025-06-10', 'SVO', 'KZN'))).toEqual(['POSTED', null]);
      expect(await outcome(w, flight(ACTIVE.number, '2026-06-12', 'SVO', 'KZN'))).toEqual([
        'REJECTED',
        'FUTURE_DATE',
      ]);
    });

    it('answers a repeated partner transaction or hotel reservation with DUPLICATE and credits it once', async () => {
      const w = s();
      await w.enrol('2026-03-01', ACTIVE);
      w.dropPartner('DRIVE', '2026-03-11', [rental('D-1', ACTIVE.number, 'IVANOV', '2026-03-10')]);
      const stay = {
        member: ACTIVE.number,
        surname: 'IVANOV',
        givenName: 'IVAN',
        reservation: 'GS-77',
        checkIn: '2026-03-08',
        checkOut: '2026-03-10',
        revenue: [{ category: 'ROOM', amount: '200.00' }],
      };
      w.dropHotel('GS', [stay]);
      await w.night('2026-03-11');
      w.dropPartner('DRIVE', '2026-03-12', [
        rental('D-1', ACTIVE.number, 'IVANOV', '2026-03-10', { spend: '150.00' }),
        rental('D-2', ACTIVE.number, 'IVANOV', '2026-03-11'),
      ]);
      w.dropHotel('GS', [{ ...stay, revenue: [{ category: 'ROOM', amount: '210.00' }] }]);
      // The first file's sequence again, with other content: refused whole.
      w.dropPartner('DRIVE', '2026-03-12', [rental('D-3', ACTIVE.number, 'IVANOV', '2026-03-11')], 1);
      await w.night('2026-03-12');
      expect(await w.knex('files').where({ name: 'DRIVE_20260312_1.csv' }).first()).toMatchObject({
        verdict: 'rejected',
        reason: 'DUPLICATE_FILE',
      });
      expect(await w.activity(partnerKey('DRIVE', 'D-3'))).toBeUndefined();
      const rejects = await w.rejects({ reason: 'DUPLICATE' });
      expect(rejects.map((r) => [r.feed, r.record_ref, r.member_number])).toEqual([
        ['partner', 'D-1', ACTIVE.number],
        ['hotel', 'GS-77', ACTIVE.number],
      ]);
      // 100 (D-1) + 400 (the stay, 200 × 2) + 100 (D-2)
      expect(await w.balance(ACTIVE.number)).toBe(600);
      expect(await w.activity(hotelKey('GRANDSTAY', 'GS-77', 'GS001'))).toMatchObject({ points: 400 });
    });

    it('rejects what no contract covers: an activity type, a date before the contract; refuses a hotel chain of no partner', async () => {
      const w = s();
      await w.enrol('2024-01-01', ACTIVE);
      w.dropPartner('DRIVE', '2025-01-05', [
        rental('X-1', ACTIVE.number, 'IVANOV', '2025-01-02', { type: 'LIMOUSINE' }),
        rental('X-2', ACTIVE.number, 'IVANOV', '2024-12-31'), // DRIVE-2025 starts on 1 January 2025
        rental('X-3', ACTIVE.number, 'IVANOV', '2025-01-01'),
      ]);
      w.dropHotel('ZZ', [
        {
          member: ACTIVE.number,
          surname: 'IVANOV',
          givenName: 'IVAN',
          reservation: 'ZZ-1',
          checkIn: '2025-01-01',
          checkOut: '2025-01-03',
          revenue: [{ category: 'ROOM', amount: '200.00' }],
        },
      ]);
      await w.night('2025-01-05');
      expect(await outcome(w, partnerKey('DRIVE', 'X-1'))).toEqual(['REJECTED', 'NO_CONTRACT']);
      expect(await outcome(w, partnerKey('DRIVE', 'X-2'))).toEqual(['REJECTED', 'NO_CONTRACT']);
      expect(await outcome(w, partnerKey('DRIVE', 'X-3'))).toEqual(['POSTED', null]);
      // No partner has chain ZZ: the document is refused whole, and answered so (ota-hotel-stay.md).
      expect(await w.knex('files').where({ direction: 'in', feed: 'hotel' }).first()).toMatchObject({
        verdict: 'rejected',
        reason: 'UNKNOWN_PARTNER',
        message: 'no hotel partner for chain ZZ (partners[].hotelChains)',
      });
      expect(await w.rejects({ feed: 'hotel' })).toEqual([]);
    });

    it('rejects bad amounts and currencies: unreadable spend, a reversal for another amount, a currency without rates', async () => {
      const w = s();
      await w.enrol('2026-03-01', ACTIVE);
      w.dropPartner('DRIVE', '2026-03-11', [
        rental('A-1', ACTIVE.number, 'IVANOV', '2026-03-10', { type: 'RENTAL', spend: '150.00' }),
        rental('A-2', ACTIVE.number, 'IVANOV', '2026-03-10', { currency: 'CHF' }),
      ]);
      // Written by hand: a spend that is not a number and a record with a field missing.
      w.drop(
        'partner',
        [
          'H,DRIVE,2,2026-03-11T22:00:00+03:00',
          `D,A-3,${ACTIVE.number},IVANOV,,2026-03-10,RENTAL_DAY,,12x,USD,,`,
          `D,A-4,${ACTIVE.number},IVANOV,,2026-03-10,RENTAL_DAY,,10.00,USD`,
          'T,2,0,0',
          '',
        ].join('\n'),
        'DRIVE_20260311_2.csv',
      );
      await w.night('2026-03-11');
      w.dropPartner(
        'DRIVE',
        '2026-03-12',
        [
          {
            txn: 'A-1-R',
            member: ACTIVE.number,
            surname: 'IVANOV',
            date: '2026-03-11',
            type: 'RENTAL',
            points: -400,
          },
          {
            txn: 'Q-1-R',
            member: ACTIVE.number,
            surname: 'IVANOV',
            date: '2026-03-11',
            type: 'RENTAL',
            points: -500,
          },
        ],
        3,
      );
      await w.night('2026-03-12');
      expect(await outcome(w, partnerKey('DRIVE', 'A-2'))).toEqual(['REJECTED', 'BAD_CURRENCY']);
      expect((await w.rejects({ feed: 'partner' })).map((r) => [r.line, r.reason, r.field])).toEqual([
        [2, 'BAD_AMOUNT', 'spend_amount'],
        [3, 'MALFORMED', '*'],
      ]);
      // A-1 earned 500; its reversal asks for 400.
      expect(await outcome(w, partnerKey('DRIVE', 'A-1-R'))).toEqual(['REJECTED', 'BAD_AMOUNT']);
      expect(await outcome(w, partnerKey('DRIVE', 'A-1'))).toEqual(['POSTED', null]);
      expect(await outcome(w, partnerKey('DRIVE', 'Q-1-R'))).toEqual(['REJECTED', 'UNKNOWN_ORIGINAL']);
      expect(await w.balance(ACTIVE.number)).toBe(500);
    });
  });

  describe(`flights that earn nothing (${engine})`, () => {
    const s = useScenario(engine);

    it('keeps the status credit of a coupon whose airport or class earns no miles, and rejects the FTL-only passenger', async () => {
      const w = s();
      const other: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };
      await w.enrol('2026-03-01', ACTIVE, other);
      const coupon = (ticket: string, to: string, booked: string) => ({
        ticket,
        flight: '245',
        date: '2026-03-10',
        from: 'SVO',
        to,
        booked,
        surname: 'IVANOV',
        givenName: 'IVAN',
        card: { program: 'XX', number: ACTIVE.number },
        fare: '100.00',
      });
      w.dropCoupons([coupon('0741000000001', 'QQQ', 'Y'), coupon('0741000000002', 'KZN', 'Z')]);
      w.dropFtl({
        flight: 'XX245',
        date: '2026-03-10',
        board: 'SVO',
        groups: [
          { dest: 'QQQ', cls: 'Y', pax: [{ surname: 'PETROVA', givenName: 'ANNA', card: other.number }] },
        ],
      });
      w.dropFtl({
        flight: 'XX247',
        date: '2026-03-10',
        board: 'SVO',
        groups: [
          { dest: 'KZN', cls: 'Z', pax: [{ surname: 'PETROVA', givenName: 'ANNA', card: other.number }] },
        ],
      });
      await w.night('2026-03-11');
      expect(await w.activity(flight(ACTIVE.number, '2026-03-10', 'SVO', 'QQQ'))).toMatchObject({
        status: 'POSTED',
        reason: 'UNKNOWN_AIRPORT',
        points: 0,
        status_credit: 10000,
      });
      expect(await w.activity(flight(ACTIVE.number, '2026-03-10', 'SVO', 'KZN'))).toMatchObject({
        status: 'POSTED',
        reason: 'CLASS_NOT_ELIGIBLE',
        points: 0,
        status_credit: 10000,
      });
      expect(await w.balance(ACTIVE.number)).toBe(0);
      expect(await w.statusBalance(ACTIVE.number)).toBe(20000);
      expect(await outcome(w, flight(other.number, '2026-03-10', 'SVO', 'QQQ'))).toEqual([
        'REJECTED',
        'UNKNOWN_AIRPORT',
      ]);
      expect(await outcome(w, flight(other.number, '2026-03-10', 'SVO', 'KZN', '247'))).toEqual([
        'REJECTED',
        'CLASS_NOT_ELIGIBLE',
      ]);
    });

    it('rejects a flight older than the first earning rule with NO_EARNING_RULE', async () => {
      const w = s();
      await w.enrol('2023-01-01', ACTIVE);
      w.dropFtl({
        flight: 'XX245',
        date: '2023-12-31',
        board: 'SVO',
        groups: [
          { dest: 'KZN', cls: 'Y', pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: ACTIVE.number }] },
        ],
      });
      await w.night('2024-01-02');
      expect(await outcome(w, flight(ACTIVE.number, '2023-12-31', 'SVO', 'KZN'))).toEqual([
        'REJECTED',
        'NO_EARNING_RULE',
      ]);
    });

    it('archives a coupon without a card (NO_CARD) or with another program’s card (NO_AGREEMENT) without crediting it', async () => {
      const w = s();
      await w.enrol('2026-03-01', ACTIVE);
      const coupon = (ticket: string, card: { program: string; number: string } | null) => ({
        ticket,
        flight: '245',
        date: '2026-03-10',
        from: 'SVO',
        to: 'KZN',
        booked: 'Y',
        surname: 'IVANOV',
        givenName: 'IVAN',
        card,
        fare: '100.00',
      });
      w.dropCoupons([
        coupon('0741000000001', null),
        coupon('0741000000002', { program: 'UA', number: 'UA12345' }),
      ]);
      // An FTL passenger whose only card is unreadable.
      w.drop(
        'ftl',
        [
          'QU MOWKTXX',
          '.MOWRMXX 101530',
          'FTL',
          'XX247/10MAR SVO PART1',
          '-KZN01Y',
          '1IVANOV/IVAN MR',
          '.R/FQTV',
          'ENDFTL',
          '',
        ].join('\n'),
      );
      await w.night('2026-03-11');
      expect(await outcome(w, couponKey('0741000000001', 1))).toEqual(['NOT_CREDITED', 'NO_CARD']);
      const ua = await w.knex('activities').where({ ticket_number: '0741000000002' }).first();
      expect([ua?.status, ua?.reason, ua?.external_ref]).toEqual(['NOT_CREDITED', 'NO_AGREEMENT', 'UA12345']);
      expect((await w.rejects({ feed: 'ftl' })).map((r) => r.reason)).toContain('NO_CARD');
      expect(await w.postingCount()).toBe(0);
    });

    it('refuses another airline’s flight with NOT_OWN_FLIGHT: a coupon operated and marketed by LH or by an unknown ZZ, in simulate as at night', async () => {
      const w = s();
      await w.enrol('2026-03-01', ACTIVE);
      const coupon = (ticket: string, carrier: string, flightNo: string, from: string, to: string) => ({
        ticket,
        carrier,
        flight: flightNo,
        marketingCarrier: carrier,
        marketingFlight: flightNo,
        date: '2026-03-10',
        from,
        to,
        booked: 'Y',
        surname: 'IVANOV',
        givenName: 'IVAN',
        card: { program: 'XX', number: ACTIVE.number },
        fare: '100.00',
      });
      const file = w.dropCoupons([
        coupon('2201000000001', 'LH', '1446', 'FRA', 'SVO'),
        coupon('9991000000001', 'ZZ', '900', 'SVO', 'KZN'),
      ]);
      const lh = flightKey(
        { carrier: 'LH', number: '1446', date: '2026-03-10', origin: 'FRA', destination: 'SVO' },
        { program: 'XX', number: ACTIVE.number },
      );
      const zz = flightKey(
        { carrier: 'ZZ', number: '900', date: '2026-03-10', origin: 'SVO', destination: 'KZN' },
        { program: 'XX', number: ACTIVE.number },
      );
      const shown = await w.simulate('flown', file, '2026-03-11');
      expect(shown.filter((e) => e.type === 'record')).toMatchObject([
        { line: 2, activity: lh, status: 'REJECTED', reason: 'NOT_OWN_FLIGHT', points: 0 },
        { line: 3, activity: zz, status: 'REJECTED', reason: 'NOT_OWN_FLIGHT', points: 0 },
      ]);
      expect(shown.at(-1)).toMatchObject({ points: 0, rejected: 2, byReason: { NOT_OWN_FLIGHT: 2 } });
      await w.night('2026-03-11');
      expect(await outcome(w, lh)).toEqual(['REJECTED', 'NOT_OWN_FLIGHT']);
      expect(await outcome(w, zz)).toEqual(['REJECTED', 'NOT_OWN_FLIGHT']);
      expect(await w.postingCount()).toBe(0);
      expect(await w.balance(ACTIVE.number)).toBe(0);
      expect(await w.statusBalance(ACTIVE.number)).toBe(0);
      // Partners read the nearest code of partner-accrual.md, the program's reason leading the text.
      expect(partnerReasonCode('NOT_OWN_FLIGHT')).toBe('NO_CONTRACT');
      expect(partnerReasonText('NOT_OWN_FLIGHT')).toMatch(/^NOT_OWN_FLIGHT: neither the operating nor/);
    });

    it('refuses an FTL passenger whose .M/ shows the flight operated and marketed by others; one we market is credited', async () => {
      const w = s();
      const other: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };
      await w.enrol('2026-03-01', ACTIVE, other);
      w.drop(
        'ftl',
        [
          'QU MOWKTXX',
          '.MOWRMXX 101530',
          'FTL',
          'LH1446/10MAR FRA PART1',
          '-SVO02Y',
          '1IVANOV/IVAN MR',
          '.M/IB5446Y10FRASVO',
          `.R/FQTV XX ${ACTIVE.number}`,
          '1PETROVA/ANNA MRS',
          '.M/XX5446Y10FRASVO',
          `.R/FQTV XX ${other.number}`,
          'ENDFTL',
          '',
        ].join('\n'),
      );
      await w.night('2026-03-11');
      const key = (member: string) =>
        flightKey(
          { carrier: 'LH', number: '1446', date: '2026-03-10', origin: 'FRA', destination: 'SVO' },
          { program: 'XX', number: member },
        );
      expect(await outcome(w, key(ACTIVE.number))).toEqual(['REJECTED', 'NOT_OWN_FLIGHT']);
      expect(await outcome(w, key(other.number))).toEqual(['POSTED', null]);
      expect(await w.balance(ACTIVE.number)).toBe(0);
      expect(await w.balance(other.number)).toBeGreaterThan(0);
    });

    it('takes back the credit of an FTL passenger listed without .M/ once his coupon says LH operated and marketed the flight', async () => {
      const w = s();
      await w.enrol('2026-03-01', ACTIVE);
      // Without .M/ the listing is taken as a flight we operate: credited.
      w.drop('ftl', lh1446Ftl('Y'));
      await w.night('2026-03-11');
      expect(await outcome(w, LH1446)).toEqual(['POSTED', null]);
      expect(await w.balance(ACTIVE.number)).toBe(1257);
      const file = w.dropCoupons([lh1446Coupon]);
      expect(
        (await w.simulate('flown', file, '2026-03-12')).flatMap((e) =>
          e.type === 'record' ? [[e.status, e.reason, e.points]] : [],
        ),
      ).toEqual([['REJECTED', 'NOT_OWN_FLIGHT', -1257]]);
      await w.night('2026-03-12');
      // As the coupon first gives: nothing credited, no status credit for another airline's flight.
      expect(await outcome(w, LH1446)).toEqual(['REJECTED', 'NOT_OWN_FLIGHT']);
      expect([await w.balance(ACTIVE.number), await w.statusBalance(ACTIVE.number)]).toEqual([0, 0]);
      expect(await w.posting(reversalKey(awardPostingKey(LH1446)))).toBeDefined();
    });
  });

  describe(`another airline's flight whose qualifying miles the FTL credited (${engine})`, () => {
    const s = useScenario(engine, (y) => replaceOnce(y, 'metric: spend', 'metric: miles'));

    it('takes back the miles the FTL credited in a class that earns no points once the coupon says LH', async () => {
      const w = s();
      await w.enrol('2026-03-01', ACTIVE);
      w.drop('ftl', lh1446Ftl('O'));
      await w.night('2026-03-11');
      expect(await outcome(w, LH1446)).toEqual(['POSTED', 'CLASS_NOT_ELIGIBLE']);
      expect(await w.statusBalance(ACTIVE.number, 'MILES')).toBe(1257);
      // Booked Y: credited on our chart as well, before, the FTL's miles left standing.
      w.dropCoupons([lh1446Coupon]);
      await w.night('2026-03-12');
      expect(await outcome(w, LH1446)).toEqual(['REJECTED', 'NOT_OWN_FLIGHT']);
      expect([await w.balance(ACTIVE.number), await w.statusBalance(ACTIVE.number, 'MILES')]).toEqual([0, 0]);
      expect(await w.posting(reversalKey(statusPostingKey(LH1446)))).toBeDefined();
    });
  });
}
