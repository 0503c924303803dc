/**
 * Flown coupons as revenue accounting extracts them: one row per coupon lifted, in the selling currency,
 * with the member's card when one was given; corrections (a refund or an exchange) as the same coupon
 * again with another status on a later night.
 */
import type { IsoDate } from '../lib/dates.js';
import { cents } from './csv.js';
import { cabinOf, fareBasis } from './network.js';
import { documentName } from './names.js';
import type { Segment } from './flights.js';
import { FlownCsvBuilder } from './flown-csv.js';

export type CouponStatus = 'F' | 'R' | 'E' | 'V';

export function couponFields(s: Segment, status: CouponStatus, sourceRef: string): string[] {
  const codeshare = s.marketing.carrier !== 'XX';
  const given = documentName(s.person.givenName);
  const card = s.card === 'own' || s.card === 'borrowed' || s.card === 'partner';
  return [
    s.ticket,
    String(s.coupon),
    s.issueDate,
    s.pnr,
    'XX',
    String(s.flight.number),
    codeshare ? s.marketing.carrier : 'XX',
    String(codeshare ? s.marketing.number : s.flight.number),
    s.date,
    s.flight.from,
    s.flight.to,
    // The cabin of the ticket: an upgrade shows only in the flown class.
    cabinOf(s.bookedRbd),
    s.bookedRbd,
    s.flownRbd,
    fareBasis(s.bookedRbd, s.flight.domestic, s.roundTrip),
    documentName(s.person.surname),
    s.title ? `${given} ${s.title}` : given,
    s.paxType,
    card ? (s.cardProgram ?? '') : '',
    card ? (s.cardNumber ?? '') : '',
    cents(s.fare),
    cents(s.surcharge),
    cents(s.tax),
    s.currency,
    status,
    sourceRef,
  ];
}

/** One flown-coupon file being written: rows become text as they come, the trailer closes it. */
export class FlownFile {
  private readonly csv = new FlownCsvBuilder(',');
  private readonly parts: string[] = [this.csv.header()];

  constructor(private readonly night: IsoDate) {}

  get rows(): number {
    return this.csv.rows;
  }

  add(s: Segment, status: CouponStatus): void {
    this.parts.push(this.csv.line(couponFields(s, status, sourceRef(this.night, this.csv.rows + 1))));
  }

  text(): string {
    return this.parts.join('') + this.csv.trailer();
  }
}

/** Revenue accounting's record id: extract date and running number. */
export function sourceRef(night: IsoDate, n: number): string {
  return `RA${night.replace(/-/g, '')}-${String(n).padStart(6, '0')}`;
}
