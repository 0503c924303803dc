/**
 * The bounds the parsers put on values their columns hold whole (migration 008 widened the rest): an
 * e-mail address of at most 254 characters, a hotel's member number of one of our programs of at most 24
 * and a reservation id of at most 64 (OpenTravel's UniqueID/@ID). One past the bound is a reject naming
 * the field; the bound itself is read.
 */
import { describe, expect, it } from 'vitest';
import { bytesInput, collect } from './csv-testing.js';
import { createHotelParser } from './hotel.js';
import { membersParser } from './members.js';

const MEMBERS_HEADER =
  'member_number,status,enrolment_date,enrolment_channel,surname,given_name,email,updated_at';
const email = (length: number) => `${'a'.repeat(64)}@${'b'.repeat(length - 64 - 5)}.org`;

describe('members: e-mail address length', () => {
  it('reads an address of 254 characters and rejects one of 255 as BAD_FORMAT on email', async () => {
    const text = [
      MEMBERS_HEADER,
      `1000000016,ACTIVE,2020-01-01,WEB,IVANOV,IVAN,${email(254)},2020-01-01T00:00:00Z`,
      `1000000024,ACTIVE,2020-01-01,WEB,PETROV,PETR,${email(255)},2020-01-01T00:00:00Z`,
    ].join('\n');
    const { records, rejects } = await collect(membersParser, [bytesInput('members.csv', text)]);
    expect(records.map((r) => [r.line, r.record.email?.length])).toEqual([[2, 254]]);
    expect(rejects.map((r) => [r.file, r.line, r.field, r.reason])).toEqual([
      ['members.csv', 3, 'email', 'BAD_FORMAT'],
    ]);
    expect(rejects[0]!.message).toMatch(/at most 254 characters/);
  });
});

function stays(list: Array<{ member: string; program: string; reservation: string }>): string {
  const body = list
    .map(
      (s, i) => `
    <StayInfo SequenceNumber="${i + 1}">
      <LoyaltyPointsAccruals><SelectedLoyalty ProgramCode="${s.program}" AccountID="${s.member}"/></LoyaltyPointsAccruals>
      <ReservationID Type="14" ID="${s.reservation}"/>
      <HotelReservation><RoomStays><RoomStay><RoomRates><RoomRate><Rates>
        <Rate EffectiveDate="2026-03-05" ExpireDate="2026-03-08"/>
      </Rates></RoomRate></RoomRates></RoomStay></RoomStays></HotelReservation>
    </StayInfo>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<OTA_HotelStayInfoNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0">
  <StayInfos ChainCode="GS">${body}
  </StayInfos>
</OTA_HotelStayInfoNotifRQ>
`;
}

/** A hotel parser for which XX is our program. */
const hotel = createHotelParser({ ownPrograms: ['XX'] });

describe('hotel: member number and reservation id length', () => {
  it('reads a member number of ours of 24 characters, rejects one of 25, and reads another program’s of any length', async () => {
    const { records, rejects } = await collect(hotel, [
      bytesInput(
        'stays.xml',
        stays([
          { member: '1'.repeat(24), program: 'XX', reservation: 'R-1' },
          { member: '2'.repeat(25), program: 'XX', reservation: 'R-2' },
          { member: '3'.repeat(40), program: 'LH', reservation: 'R-3' },
        ]),
      ),
    ]);
    expect(records.map((r) => [r.record.reservationId, r.record.own, r.record.memberNumber.length])).toEqual([
      ['R-1', true, 24],
      ['R-3', false, 40],
    ]);
    expect(rejects.map((r) => [r.file, r.field, r.reason, r.text])).toEqual([
      ['stays.xml', 'LoyaltyPointsAccruals/SelectedLoyalty/@AccountID', 'MALFORMED', '2'.repeat(25)],
    ]);
    expect(rejects[0]!.line).toBeGreaterThan(1);
  });

  it('reads a reservation id of 64 characters and rejects one of 65', async () => {
    const { records, rejects } = await collect(hotel, [
      bytesInput(
        'stays.xml',
        stays([
          { member: '1000000016', program: 'XX', reservation: 'R'.repeat(64) },
          { member: '1000000016', program: 'XX', reservation: 'S'.repeat(65) },
        ]),
      ),
    ]);
    expect(records.map((r) => r.record.reservationId)).toEqual(['R'.repeat(64)]);
    expect(rejects.map((r) => [r.field, r.reason])).toEqual([['ReservationID/@ID', 'MALFORMED']]);
    expect(rejects[0]!.message).toMatch(/65 characters long: OpenTravel allows at most 64/);
  });
});
