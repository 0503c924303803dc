/**
 * Missing-credit requests (formats/retro-claims.md): a header row naming the columns in any order, one
 * claim per row. The separator is `,` unless the header row shows `;` (or ParseOptions.delimiter).
 *
 * A claim must identify its flight one way or the other: ticket_number with coupon_number, or carrier,
 * flight_number, flight_date, origin and destination. Values given are validated either way. The
 * columns of the identification not used by a sender, and given_name, may be left out of the header.
 * A claim by flight received before its flight_date is refused RECEIVED_BEFORE_FLIGHT.
 */
import {
  AIRPORT_RE,
  CARRIER_RE,
  FLIGHT_NUMBER_RE,
  FLIGHT_NUMBER_TEXT,
  HeaderedCsvHandler,
  IDENTIFIER_RE,
  csvFeedParser,
  type ColumnSpec,
  type FieldReader,
  type SourceLine,
} from './csv-common.js';
import type { FeedParser } from './types.js';

export interface RetroClaim extends SourceLine {
  claimId: string;
  memberNumber: string;
  receivedDate: string;
  /** 13 digits without the optional `-`, when the member knows the ticket. */
  ticketNumber: string | null;
  couponNumber: number | null;
  carrier: string | null;
  flightNumber: string | null;
  flightDate: string | null;
  origin: string | null;
  destination: string | null;
  surname: string;
  givenName: string | null;
}

export const RETRO_CLAIM_COLUMNS: readonly ColumnSpec[] = [
  { name: 'claim_id', required: true },
  { name: 'member_number', required: true },
  { name: 'received_date', required: true },
  { name: 'ticket_number', required: false },
  { name: 'coupon_number', required: false },
  { name: 'carrier', required: false },
  { name: 'flight_number', required: false },
  { name: 'flight_date', required: false },
  { name: 'origin', required: false },
  { name: 'destination', required: false },
  { name: 'surname', required: true, personal: true },
  { name: 'given_name', required: false, personal: true },
];
const ID = 0;
const MEMBER = 1;
const RECEIVED = 2;
const TICKET = 3;
const COUPON = 4;
const CARRIER = 5;
const FLIGHT = 6;
const FLIGHT_DATE = 7;
const ORIGIN = 8;
const DESTINATION = 9;
const SURNAME = 10;
const GIVEN = 11;

const IDENTIFY =
  'ticket_number with coupon_number, or carrier, flight_number, flight_date, origin and destination';

class RetroClaimsHandler extends HeaderedCsvHandler<RetroClaim> {
  constructor(file: string) {
    super(file, RETRO_CLAIM_COLUMNS);
  }

  protected build(r: FieldReader, line: number): RetroClaim {
    const claim: RetroClaim = {
      claimId: r.match(ID, IDENTIFIER_RE, 'an id of letters, digits and _ . / : -'),
      memberNumber: r.member(MEMBER),
      receivedDate: r.date(RECEIVED),
      ticketNumber: r.optTicket(TICKET),
      couponNumber: r.optCoupon(COUPON),
      carrier: r.optMatch(CARRIER, CARRIER_RE, 'a 2-character airline designator'),
      flightNumber: r.optMatch(FLIGHT, FLIGHT_NUMBER_RE, FLIGHT_NUMBER_TEXT),
      flightDate: r.optDate(FLIGHT_DATE),
      origin: r.optMatch(ORIGIN, AIRPORT_RE, 'a 3-letter IATA airport code'),
      destination: r.optMatch(DESTINATION, AIRPORT_RE, 'a 3-letter IATA airport code'),
      surname: r.text(SURNAME, 'the surname as travelled'),
      givenName: r.optText(GIVEN),
      sourceFile: this.file,
      sourceLine: line,
    };
    const byTicket = claim.ticketNumber !== null && claim.couponNumber !== null;
    const flightParts = [
      claim.carrier,
      claim.flightNumber,
      claim.flightDate,
      claim.origin,
      claim.destination,
    ];
    if (!byTicket && flightParts.some((v) => v === null)) {
      // Name the column a sender most likely meant to fill: the coupon beside a ticket, else the first
      // missing flight column.
      const missing =
        claim.ticketNumber !== null && claim.couponNumber === null
          ? COUPON
          : claim.ticketNumber === null && claim.couponNumber !== null
            ? TICKET
            : CARRIER + flightParts.findIndex((v) => v === null);
      r.fail(missing, 'MISSING_FIELD', IDENTIFY, '');
    } else if (!byTicket && claim.flightDate !== null && claim.receivedDate < claim.flightDate) {
      // A request is made once the flight is flown: one dated before it is a mistyped date, which would
      // otherwise pass the claim window's test (it looks early, not late) and credit the flight. A claim
      // by ticket learns its flight's date from the coupon it finds, and is refused for it then.
      r.fail(
        RECEIVED,
        'RECEIVED_BEFORE_FLIGHT',
        `a date on or after the flight_date ${claim.flightDate} (a request is made after its flight)`,
        claim.receivedDate,
      );
    }
    return claim;
  }
}

export const retroClaimsParser: FeedParser<RetroClaim> = csvFeedParser(
  'retro-claims',
  (file) => new RetroClaimsHandler(file),
);
