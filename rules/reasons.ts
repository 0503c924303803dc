/**
 * Why an activity was not credited (or only in part). The partner-facing codes are those of
 * partner-accrual.md, so a partner's response can carry them unchanged; the rest are the program's own.
 */
export const REJECT_REASONS = {
  MEMBER_UNKNOWN: 'no such member number',
  CHECK_DIGIT: "member number fails the program's check digit",
  NAME_MISMATCH: 'surname / initial do not match the member (after transliteration and case folding)',
  ACCOUNT_CLOSED: 'account closed or merged (the message names the surviving account when merged)',
  MEMBER_INACTIVE: 'account suspended or enrolment not finished',
  NOT_ENROLLED: 'the activity is older than the enrolment',
  DUPLICATE: 'this activity was already credited',
  OUT_OF_WINDOW: 'activity older than the claim window',
  FUTURE_DATE: 'activity date after the processing date',
  NO_CONTRACT: 'no contract of this partner covers this activity type on that date',
  BAD_AMOUNT: 'amount missing, not a number, or out of range',
  BAD_CURRENCY: 'unknown currency, or no exchange rate for that date',
  CAP_EXCEEDED: 'partially accepted: a per-activity or per-period cap applied',
  MALFORMED: 'the record cannot be read',
  UNKNOWN_AIRPORT:
    'an airport of the flight is not in the airport dataset and no city-pair distance is configured',
  CLASS_NOT_ELIGIBLE: 'the booking class earns nothing under the rules in force',
  NO_EARNING_RULE: 'no earning rule was in force on the activity date',
  NO_CARD: 'the passenger presented no usable frequent-flyer card',
  NO_AGREEMENT: 'the card belongs to a program we have no agreement with',
  NOT_OWN_FLIGHT:
    "neither the operating nor the marketing carrier is one of the program's own: the flight earns through its airline's claim",
  NOT_FLOWN: 'the coupon was voided, refunded or exchanged before it was credited',
  INSUFFICIENT_POINTS: 'the redemption is larger than the available balance',
  UNKNOWN_REDEMPTION: 'a cancellation names a redemption that was never issued',
  INCONSISTENT_FIELDS:
    'the record contradicts the one it refers to (a cancellation naming another member or other points than its redemption)',
  UNKNOWN_ORIGINAL: 'a reversal names a partner transaction that was never credited',
  NOT_FOUND: 'no flown coupon or listed passenger matches the claim',
  AMBIGUOUS: 'more than one flown coupon or listed passenger matches the claim',
  PENDING: 'the flight is younger than the claim window: retried each night',
  NO_COUPON:
    'the flight is listed, but no flown coupon confirms it: the claim waits for it while the claim window is open',
  RECEIVED_BEFORE_FLIGHT:
    'a missing-credit request said to be made before the flight it claims (a mistyped received_date)',
  DATED_AHEAD: 'dated after the night being processed: decided on the night of its date',
  CANCELLATION_NOT_APPLIED:
    'a cancellation (or no-show) of an activity already credited: not applied, the credit stands until an operator settles it',
} as const;

export type RejectReason = keyof typeof REJECT_REASONS;

export interface Rejection {
  reason: RejectReason;
  /** The field at fault (`member_number`, `surname`, `activity_date`, …). */
  field: string;
  message: string;
}

export function reject(reason: RejectReason, field: string, message?: string): Rejection {
  return { reason, field, message: message ?? REJECT_REASONS[reason] };
}
