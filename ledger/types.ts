import type { IsoDate } from '../lib/dates.js';
import type { StatusMetric } from './accounts.js';

export type PostingKind =
  'ACCRUAL' | 'REDEMPTION' | 'EXPIRY' | 'REVERSAL' | 'TRANSFER' | 'ADJUSTMENT' | 'STATUS_LAPSE';

export interface EntryInput {
  /** Account code (see `Accounts`). */
  account: string;
  /** Signed whole points (or status units): positive credits the account, negative debits it. */
  amount: number;
  /** A credit to a lot-tracking account creates a lot expiring on this date (null: never). */
  expiresOn?: IsoDate | null;
  /** Earning date of the lot a credit creates; default: the posting's activity date, else its business date. */
  earnedOn?: IsoDate;
  /** A debit consumes exactly this lot (expiry of one lot) instead of the earliest-expiring ones. */
  lotId?: number;
}

export interface StatusCreditInput {
  memberNumber: string;
  metric: StatusMetric;
  /** Minor units of base currency for SPEND; miles; segments. Negative for a correction. */
  amount: number;
  activityDate: IsoDate;
}

export interface PostingInput {
  /** Idempotency key chosen by the caller from the activity's stable identity. */
  key: string;
  kind: PostingKind;
  businessDate: IsoDate;
  entries: EntryInput[];
  /** Status credits recorded with the posting (the ledger adds their balanced entries). */
  statusCredits?: StatusCreditInput[];
  /**
   * Transfers (merges, pool moves): credits to lot accounts take over the lots the debits consumed,
   * with their earning and expiry dates, instead of creating new lots.
   */
  carryLots?: boolean;
  memberNumber?: string;
  channel?: string;
  activityDate?: IsoDate;
  sourceFileId?: number;
  sourceRef?: string;
  ruleVersion?: string;
  /** Explanation kept with the posting (rule, base points, bonuses). Not part of its identity. */
  detail?: unknown;
  /**
   * As a reversal's (below): the account charged with what a debit of a points account finds spent, a
   * flight's award corrected down after the member redeemed its miles. Without it such a debit is refused.
   */
  shortfallTo?: string;
  /**
   * A redemption debited on an account a move has carried the member's points to since its date: her
   * merge (the account at the end of its chain) or her joining the pool she is in. Her own points account
   * held them on that date. What expired there of lots valid on its date is hers to spend (the move took
   * only her open lots): it is taken back and moved to the debited account (`<key>:MERGED` or
   * `<key>:POOLED`, as the move carried the rest), and of the debited account's expired points only those
   * carried from hers are taken, never the survivor's or the pool's other members' own.
   */
  movedFrom?: MovedFrom;
}

/** Where a redemption's points were on its date, and what move has carried them on since. */
export interface MovedFrom {
  /** The member's own points account. */
  account: string;
  by: 'MERGE' | 'POOL';
}

export interface ReversalInput {
  key: string;
  /** Idempotency key of the posting to reverse. */
  reverses: string;
  businessDate: IsoDate;
  sourceFileId?: number;
  sourceRef?: string;
  detail?: unknown;
  /**
   * The account charged with what the reversal cannot take back because the points account it debits
   * no longer holds it (a refunded ticket whose miles were spent since): the reversal takes what the
   * account holds and charges the rest here. Without it, such a reversal is refused (INSUFFICIENT_POINTS).
   */
  shortfallTo?: string;
}

export type PostingRequest = PostingInput | ReversalInput;

export function isReversal(r: PostingRequest): r is ReversalInput {
  return (r as ReversalInput).reverses !== undefined;
}

export type PostStatus = 'posted' | 'duplicate' | 'refused';

export interface PostResult {
  key: string;
  status: PostStatus;
  /** The posting id: the new one, or the original for a duplicate. */
  postingId?: number;
  /** For refusals: INSUFFICIENT_POINTS, ALREADY_REVERSED, UNKNOWN_POSTING. */
  reason?: string;
  message?: string;
  /** Points a reversal charged to its shortfall account, the member having spent them. */
  unrecovered?: number;
  /** Points a reversal took back from EXPIRY rather than the member: they had expired from its original's lots. */
  expired?: number;
  /** Points a cancellation booked to EXPIRY rather than the member: they went back to lots past their date. */
  lapsed?: number;
  /**
   * Points a redemption took back from EXPIRY: valid on its date (its activity date), they expired
   * before it was posted.
   */
  unexpired?: number;
}

export interface PostOptions {
  /**
   * `true` (default): the batch is all-or-nothing; a refusal throws and nothing of the batch is kept.
   * `false`: refusals (short balance, already reversed, unknown original) are reported per posting and the
   * rest is committed. Invalid postings (unbalanced, bad account) always throw.
   */
  atomic?: boolean;
  /**
   * A reversal dated before the posting it reverses: `'refuse'` (default) refuses it
   * (REVERSAL_BEFORE_ORIGINAL); `'date-at-original'` posts it dated the original's business date, the
   * date asked for kept in its detail (`askedDate`). A night run after a later one (a failed night caught
   * up) decides what the later night left waiting, and must not lose those corrections.
   */
  reversalBeforeOriginal?: 'refuse' | 'date-at-original';
}
