/**
 * Flown-coupon extract from revenue accounting (formats/flown-coupons.md): a header row naming the
 * columns in any order, `,` or `;` separated, and an optional `#TRAILER,<count>,<sum of fare_amount>`
 * last line that, when present, must agree with the rows read or the whole file is rejected.
 *
 * Columns that may be left out of the header: pnr, fare_basis, source_ref (read as null), marketing_carrier
 * and marketing_flight (read as the operating ones, as for a flight that is not a codeshare), flown_rbd
 * (read as booked_rbd). The same defaults apply to an empty value in a present column.
 *
 * The trailer count covers every data row (records and rejects, not the header, blank lines or the
 * trailer); its sum covers every data row whose fare_amount is a valid decimal, compared by value
 * (`100.5` equals `100.50`), a negative one too: the row is refused for its sign, but the sum is of what
 * the file holds. With `;` as separator the trailer may use either separator.
 */
import {
  AIRPORT_RE,
  CARRIER_RE,
  DECIMAL_RE,
  DecimalSum,
  FLIGHT_NUMBER_RE,
  FLIGHT_NUMBER_TEXT,
  HeaderedCsvHandler,
  RBD_RE,
  csvFeedParser,
  type ColumnSpec,
  type FieldReader,
  type FileEnd,
  type FileVerdict,
  type RowOutcome,
  type SourceLine,
} from './csv-common.js';
import type { FeedParser } from './types.js';

export type Cabin = 'F' | 'C' | 'W' | 'Y';
export type PassengerType = 'ADT' | 'CHD' | 'INF';
/** F flown, V void, R refunded, E exchanged. */
export type CouponStatus = 'F' | 'V' | 'R' | 'E';

export interface FlownCoupon extends SourceLine {
  /** 13 digits, leading zeros kept, without the `-` the extract may put after the airline prefix. */
  ticketNumber: string;
  couponNumber: number;
  issueDate: string;
  pnr: string | null;
  operatingCarrier: string;
  operatingFlight: string;
  marketingCarrier: string;
  marketingFlight: string;
  /** Local date of departure. */
  flightDate: string;
  origin: string;
  destination: string;
  cabin: Cabin;
  bookedRbd: string;
  flownRbd: string;
  fareBasis: string | null;
  passengerSurname: string;
  passengerGivenName: string | null;
  passengerType: PassengerType;
  ffpCarrier: string | null;
  /** Member number as written, leading zeros kept; its check digit is the rules layer's business. */
  ffpNumber: string | null;
  /** Exact decimal strings as written, in `currency`. */
  fareAmount: string;
  carrierSurchargeAmount: string;
  taxAmount: string;
  currency: string;
  couponStatus: CouponStatus;
  sourceRef: string | null;
}

/** The trailer as read, and what the file held, in the verdict's `meta`. */
export interface FlownFileMeta {
  delimiter: string;
  columns: string[];
  trailer: { line: number; count: number; fareSum: string } | null;
  read: { dataRows: number; fareSum: string };
}

export const FLOWN_COLUMNS: readonly ColumnSpec[] = [
  { name: 'ticket_number', required: true },
  { name: 'coupon_number', required: true },
  { name: 'issue_date', required: true },
  { name: 'pnr', required: false },
  { name: 'operating_carrier', required: true },
  { name: 'operating_flight', required: true },
  { name: 'marketing_carrier', required: false },
  { name: 'marketing_flight', required: false },
  { name: 'flight_date', required: true },
  { name: 'origin', required: true },
  { name: 'destination', required: true },
  { name: 'cabin', required: true },
  { name: 'booked_rbd', required: true },
  { name: 'flown_rbd', required: false },
  { name: 'fare_basis', required: false },
  { name: 'passenger_surname', required: true, personal: true },
  { name: 'passenger_given_name', required: true, personal: true },
  { name: 'passenger_type', required: true },
  { name: 'ffp_carrier', required: true },
  { name: 'ffp_number', required: true },
  { name: 'fare_amount', required: true },
  { name: 'carrier_surcharge_amount', required: true },
  { name: 'tax_amount', required: true },
  { name: 'currency', required: true },
  { name: 'coupon_status', required: true },
  { name: 'source_ref', required: false },
];

// Indexes into FLOWN_COLUMNS.
const TICKET = 0;
const COUPON = 1;
const ISSUE_DATE = 2;
const PNR = 3;
const OP_CARRIER = 4;
const OP_FLIGHT = 5;
const MK_CARRIER = 6;
const MK_FLIGHT = 7;
const FLIGHT_DATE = 8;
const ORIGIN = 9;
const DESTINATION = 10;
const CABIN = 11;
const BOOKED_RBD = 12;
const FLOWN_RBD = 13;
const FARE_BASIS = 14;
const SURNAME = 15;
const GIVEN_NAME = 16;
const PAX_TYPE = 17;
const FFP_CARRIER = 18;
const FFP_NUMBER = 19;
const FARE = 20;
const SURCHARGE = 21;
const TAX = 22;
const CURRENCY = 23;
const STATUS = 24;
const SOURCE_REF = 25;

const CABINS: ReadonlySet<Cabin> = new Set(['F', 'C', 'W', 'Y']);
const PASSENGER_TYPES: ReadonlySet<PassengerType> = new Set(['ADT', 'CHD', 'INF']);
const COUPON_STATUSES: ReadonlySet<CouponStatus> = new Set(['F', 'V', 'R', 'E']);
const PNR_RE = /^[A-Za-z0-9]{1,20}$/;
const FARE_BASIS_RE = /^[A-Z0-9/]{1,15}$/;
const TRAILER_COUNT_RE = /^\d{1,12}$/;

const CARRIER = 'a 2-character airline designator';
const FLIGHT = FLIGHT_NUMBER_TEXT;
const AIRPORT = 'a 3-letter IATA airport code';

class FlownHandler extends HeaderedCsvHandler<FlownCoupon> {
  private readonly fareSum = new DecimalSum();
  private trailer: FlownFileMeta['trailer'] = null;
  private trailerProblem: string | null = null;

  constructor(file: string) {
    super(file, FLOWN_COLUMNS);
  }

  protected build(r: FieldReader, line: number): FlownCoupon {
    const operatingCarrier = r.match(OP_CARRIER, CARRIER_RE, CARRIER);
    const operatingFlight = r.match(OP_FLIGHT, FLIGHT_NUMBER_RE, FLIGHT);
    const marketingCarrier = r.optMatch(MK_CARRIER, CARRIER_RE, CARRIER);
    const marketingFlight = r.optMatch(MK_FLIGHT, FLIGHT_NUMBER_RE, FLIGHT);
    if ((marketingCarrier === null) !== (marketingFlight === null)) {
      r.fail(
        marketingCarrier === null ? MK_CARRIER : MK_FLIGHT,
        'MISSING_FIELD',
        'marketing_carrier and marketing_flight together, or neither',
        '',
      );
    }
    const bookedRbd = r.match(BOOKED_RBD, RBD_RE, 'a booking class letter');
    const flownRbd = r.optMatch(FLOWN_RBD, RBD_RE, 'a booking class letter');
    const ffpCarrier = r.optMatch(FFP_CARRIER, CARRIER_RE, CARRIER);
    const ffpNumber = r.optMember(FFP_NUMBER);
    if ((ffpCarrier === null) !== (ffpNumber === null)) {
      r.fail(
        ffpCarrier === null ? FFP_CARRIER : FFP_NUMBER,
        'MISSING_FIELD',
        'ffp_carrier and ffp_number together, or neither',
        '',
      );
    }
    const coupon: FlownCoupon = {
      ticketNumber: r.ticket(TICKET),
      couponNumber: r.coupon(COUPON),
      issueDate: r.date(ISSUE_DATE),
      pnr: r.optMatch(PNR, PNR_RE, 'a booking reference of letters and digits'),
      operatingCarrier,
      operatingFlight,
      marketingCarrier: marketingCarrier ?? operatingCarrier,
      marketingFlight: marketingFlight ?? operatingFlight,
      flightDate: r.date(FLIGHT_DATE),
      origin: r.match(ORIGIN, AIRPORT_RE, AIRPORT),
      destination: r.match(DESTINATION, AIRPORT_RE, AIRPORT),
      cabin: r.oneOf(CABIN, CABINS),
      bookedRbd,
      flownRbd: flownRbd ?? bookedRbd,
      fareBasis: r.optMatch(FARE_BASIS, FARE_BASIS_RE, 'a fare basis of up to 15 letters, digits or /'),
      passengerSurname: r.text(SURNAME, 'the surname as on the ticket'),
      passengerGivenName: r.optText(GIVEN_NAME),
      passengerType: r.oneOf(PAX_TYPE, PASSENGER_TYPES),
      ffpCarrier,
      ffpNumber,
      // formats/flown-coupons.md gives the amounts no sign, whatever the status: a refund, void or
      // exchange is told by coupon_status. Read as written, a negative part earned negative points and
      // took a tax nobody refunded off the coupon's status credit.
      fareAmount: r.amount(FARE, true),
      carrierSurchargeAmount: r.amount(SURCHARGE, true),
      taxAmount: r.amount(TAX, true),
      currency: r.currency(CURRENCY),
      couponStatus: r.oneOf(STATUS, COUPON_STATUSES, 'BAD_STATUS'),
      sourceRef: r.optText(SOURCE_REF),
      sourceFile: this.file,
      sourceLine: line,
    };
    // A flight goes somewhere: a coupon from an airport to itself would earn the minimum miles.
    if (coupon.origin === coupon.destination && AIRPORT_RE.test(coupon.origin)) {
      r.fail(
        DESTINATION,
        'BAD_FORMAT',
        `an airport other than the origin ${coupon.origin}`,
        coupon.destination,
      );
    }
    return coupon;
  }

  protected override special(fields: string[], line: number): RowOutcome<FlownCoupon> | undefined {
    const first = (fields[0] as string).trimStart();
    if (!first.startsWith('#TRAILER')) {
      if (this.trailer !== null && this.trailerProblem === null) {
        this.trailerProblem = `the trailer at line ${this.trailer.line} is not the last line: data follows at line ${line}`;
      }
      return undefined;
    }
    if (this.trailer !== null) {
      this.trailerProblem ??= `a second trailer at line ${line} (the first is at line ${this.trailer.line})`;
      return null;
    }
    const parts = (fields.length === 1 ? first.split(',') : fields).map((f) => f.trim());
    const [tag, count, sum] = parts;
    if (
      parts.length !== 3 ||
      tag !== '#TRAILER' ||
      !TRAILER_COUNT_RE.test(count ?? '') ||
      !DECIMAL_RE.test(sum ?? '')
    ) {
      this.trailerProblem ??= `the trailer at line ${line} is malformed: expected #TRAILER,<record count>,<sum of fare_amount>, found ${JSON.stringify(fields.join(this.delimiter))}`;
      this.trailer = { line, count: -1, fareSum: '' };
      return null;
    }
    this.trailer = { line, count: Number(count), fareSum: sum as string };
    return null;
  }

  protected override afterData(r: FieldReader, fieldCountOk: boolean, record: FlownCoupon | null): void {
    if (record !== null) {
      this.fareSum.add(record.fareAmount);
    } else if (fieldCountOk) {
      const fare = r.raw(FARE);
      if (DECIMAL_RE.test(fare)) this.fareSum.add(fare);
    }
  }

  protected override meta(end: FileEnd): Record<string, unknown> {
    const meta: FlownFileMeta = {
      delimiter: end.delimiter,
      columns: this.header,
      trailer: this.trailer !== null && this.trailer.count >= 0 ? this.trailer : null,
      read: { dataRows: this.dataRows, fareSum: this.fareSum.toString() },
    };
    return { ...meta };
  }

  protected override verdictOf(): FileVerdict {
    if (this.trailerProblem !== null) {
      return { verdict: 'rejected', reason: 'BAD_TRAILER', message: this.trailerProblem };
    }
    const t = this.trailer;
    if (t === null) return { verdict: 'accepted' };
    if (t.count === this.dataRows && this.fareSum.equals(t.fareSum)) return { verdict: 'accepted' };
    return {
      verdict: 'rejected',
      reason: 'CONTROL_TOTAL_MISMATCH',
      message: `trailer at line ${t.line} states ${t.count} rows with fare_amount summing to ${t.fareSum}; the file holds ${this.dataRows} rows summing to ${this.fareSum.toString()}`,
    };
  }
}

export const flownParser: FeedParser<FlownCoupon> = csvFeedParser('flown', (file) => new FlownHandler(file));
