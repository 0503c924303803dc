/**
 * A record or a retro-claim that comes under an id received before: read as new, decided afresh with its
 * earlier copy set aside, or refused as a DUPLICATE. Ingest (jobs/ingest-feeds.ts) and `redeye simulate`
 * judge it here and word the refusal here, so the night and its simulation cannot disagree on either.
 */
import type { IsoDate } from '../lib/dates.js';
import { NO_STAY, type ActivityRow } from './activity.js';

/** What becomes of a record under an id: `new` (none before), `sentAgain` (decided afresh), `duplicate`. */
export type Receipt = 'new' | 'sentAgain' | 'duplicate';

/**
 * The one decision behind records and claims alike. A second copy in the same run is a duplicate whatever
 * came before: the first copy is not decided yet, and deciding both would credit twice. Otherwise an
 * earlier copy is either one that credited nothing, so the call centre or partner may send it again
 * corrected (`decidedAfresh`), or one that stands.
 */
export function receiptOf<E>(
  earlier: E | undefined,
  seenInRun: boolean,
  decidedAfresh: (earlier: E) => boolean,
): Receipt {
  if (seenInRun) return 'duplicate';
  if (earlier === undefined) return 'new';
  return decidedAfresh(earlier) ? 'sentAgain' : 'duplicate';
}

/**
 * Whether a record read before under this key may be sent again and decided afresh: its earlier copy was
 * rejected, so nothing was ever posted for it (a partner's reversal that came before its original, a
 * record corrected after NAME_MISMATCH, a reversal the balance could not cover then). One that was
 * posted, reversed or still waits (a rejected one queued to be decided again included) is a DUPLICATE.
 */
export const mayBeSentAgain = (earlier: Pick<ActivityRow, 'status' | 'needsAccrual'>) =>
  earlier.status === 'REJECTED' && !earlier.needsAccrual;

/** A record of another feed (partner, hotel, partner-airline claim, redemption) under a known key. */
export const recordReceipt = (
  earlier: Pick<ActivityRow, 'status' | 'needsAccrual'> | undefined,
  seenInRun: boolean,
) => receiptOf(earlier, seenInRun, mayBeSentAgain);

export type ClaimStatus = 'PENDING' | 'CREDITED' | 'REJECTED';

/**
 * Whether a retro-claim received before under this id may be sent again and decided afresh, as a rejected
 * record of another feed may: a rejected claim credited nothing, and the call centre sends it again once
 * the member has corrected what failed (the name on their account, the ticket number). A credited claim,
 * or one still waiting (it is tried again each night by itself), is DUPLICATE.
 */
export const claimMayBeSentAgain = (earlier: { status: ClaimStatus }) => earlier.status === 'REJECTED';

/** A retro-claim under a claim id received before (in the archive, or earlier in this run). */
export const claimReceipt = (earlier: { status: ClaimStatus } | undefined, seenInRun: boolean) =>
  receiptOf(earlier, seenInRun, claimMayBeSentAgain);

/**
 * A file a copy came in: one the registry holds, with the night that read it (none while it waits to be
 * read), or a file of this simulated run, which the registry does not hold yet.
 */
export type CopyFile =
  { name: string; registered: true; night: IsoDate | null } | { name: string; registered: false };

/**
 * Where the copy received before came in. `file` absent: a file not known (a row kept before files were
 * recorded); `sameFile`: the file being read, where the line is what finds it.
 */
export type FirstCopy = { sameFile: true; line: number | null } | { sameFile?: false; file?: CopyFile };

/**
 * ` in RETRO_20260601.csv (night of 2026-06-02)`, ` at line 3 of this file`, or nothing known. The file
 * goes by its name and night, not the registry's id: partners read these words in their responses, and
 * a partner that sends one name every day (`names: reused`) is told which day's.
 */
export function receivedWhere(first: FirstCopy): string {
  if (first.sameFile)
    return first.line === null ? ' earlier in this file' : ` at line ${first.line} of this file`;
  const f = first.file;
  if (!f) return '';
  if (!f.registered) return ` in ${f.name} (earlier in this run)`;
  return f.night ? ` in ${f.name} (night of ${f.night})` : ` in ${f.name}`;
}

/** What became of a claim received before, as the call centre asks it. */
const CLAIM_BECAME: Record<ClaimStatus, string> = {
  CREDITED: ' and credited',
  PENDING: ' and waits to be settled',
  REJECTED: ' and rejected',
};

/**
 * A retro-claim refused because its id was received before and stands: the file it came in and what
 * became of it, so the call centre can answer the member without looking the first copy up
 * (`claim C-9 was already received in RETRO_20260601.csv (night of 2026-06-02) and credited`).
 */
export const claimReceivedBefore = (claimId: string, earlier: { status: ClaimStatus }, first: FirstCopy) => ({
  reason: 'DUPLICATE' as const,
  field: 'claim_id',
  message: `claim ${claimId} was already received${receivedWhere(first)}${CLAIM_BECAME[earlier.status]}`,
});

/**
 * What a hotel's cancellation (or no-show) does to the stay it names, found archived or read earlier in
 * this run: nothing when there is none or it credits nothing (rejected, reversed: the cancellation is a
 * stay that did not happen, refused as one); `settle` a stay nothing was posted for yet (new tonight,
 * waiting for its rate or its night, queued to be decided again), which is then never credited;
 * `notApplied` to one whose credit is posted, which no command of the feed can take back.
 */
export function cancellationOf(
  earlier: Pick<ActivityRow, 'status' | 'needsAccrual'> | undefined,
): 'none' | 'settle' | 'notApplied' {
  if (earlier === undefined || mayBeSentAgain(earlier) || earlier.status === 'REVERSED') return 'none';
  return earlier.status === 'POSTED' || earlier.status === 'PARTIAL' ? 'notApplied' : 'settle';
}

/**
 * Where a stay's cancellation came in, seen from the stay's own file: a line of it, or a later file and
 * the night that read it.
 */
export type CancelledIn = { sameFile: true; line: number | null } | { file: string; night: IsoDate };

/**
 * A stay the hotel cancelled before anything was posted for it, settled as its cancellation is refused:
 * REJECTED NO_CONTRACT on the ResStatus, decided, nothing to earn. Its message names where the hotel said
 * so, which its document's response and the Rejects report show with the stay.
 */
export const cancelledBeforeCredit = (ref: string, resStatus: string, cancelledIn: CancelledIn) => {
  const where: FirstCopy =
    'sameFile' in cancelledIn
      ? cancelledIn
      : { file: { name: cancelledIn.file, registered: true, night: cancelledIn.night } };
  return {
    status: 'REJECTED' as const,
    reason: 'NO_CONTRACT',
    reasonField: 'HotelReservation/@ResStatus',
    reasonMessage: `the hotel sent reservation ${ref} as ${resStatus}${receivedWhere(where)}: ${NO_STAY}`,
    points: 0,
    statusCredit: 0,
    needsAccrual: false,
  } satisfies Partial<ActivityRow>;
};

/**
 * A hotel's cancellation (or no-show) of a stay whose credit is posted. The feed has no reversal to take a
 * stay's credit back by (a partner's `-R` record has its own id; the hotel sends the reservation's again),
 * so it is refused with a reason of its own rather than DUPLICATE, which would say nothing is to be done,
 * and the night warns of it for an operator to settle with the hotel.
 */
export const cancellationNotApplied = (
  ref: string,
  resStatus: string,
  earlier: Pick<ActivityRow, 'status' | 'needsAccrual'>,
  first: FirstCopy,
) => ({
  reason: 'CANCELLATION_NOT_APPLIED' as const,
  field: 'HotelReservation/@ResStatus',
  message: `reservation ${ref} is ${resStatus}, but it was already received${receivedWhere(first)}${recordBecame(earlier)}: the cancellation is not applied, and its credit stands until an operator settles it`,
});

/** What became of a record read before, as its refused copy says it. */
function recordBecame(earlier: Pick<ActivityRow, 'status' | 'needsAccrual'>): string {
  // Queued for accrue (new tonight, or a rejection to be decided again): nothing is settled yet.
  if (earlier.needsAccrual || earlier.status === 'PENDING') return ' and waits to be decided';
  switch (earlier.status) {
    case 'POSTED':
      return ' and posted';
    case 'PARTIAL':
      return ' and partly posted';
    case 'REVERSED':
      return ' and reversed';
    case 'NOT_CREDITED':
      return ' and not credited';
    case 'REJECTED':
      return ' and rejected';
  }
}

/**
 * A record of another feed refused because its key was read before and stands: the file it came in and
 * what became of it (`RB-9 was already received in REDBANK_20260301_7.csv (night of 2026-03-02)
 * and posted`). The partner reads it in its response as the accountant reads it in `files show`: both
 * know the file by its name.
 */
export const recordReadBefore = (
  ref: string,
  earlier: Pick<ActivityRow, 'status' | 'needsAccrual'>,
  first: FirstCopy,
) => ({
  reason: 'DUPLICATE' as const,
  field: 'id',
  message: `${ref} was already received${receivedWhere(first)}${recordBecame(earlier)}`,
});

/**
 * A flight record refused because it was read before: the same coupon with the same status, or the same
 * FTL passenger listed again (an FTL per marketing carrier, a file sent twice). Worded as the records of
 * other feeds are, by what the accountant reads on the file's line: the coupon, or the passenger's flight
 * (`the passenger (XX 245 2026-03-10 SVO-KZN) was already read in FTL_A.txt (night of 2026-03-11) and
 * posted`), never the activity's key.
 */
export function flightReadBefore(
  d: Pick<
    ActivityRow,
    | 'seenCoupon'
    | 'ticketNumber'
    | 'couponNumber'
    | 'couponStatus'
    | 'carrier'
    | 'flightNumber'
    | 'activityDate'
    | 'origin'
    | 'destination'
  >,
  earlier: Pick<ActivityRow, 'status' | 'needsAccrual'>,
  first: FirstCopy,
): string {
  const what = d.seenCoupon
    ? `coupon ${d.ticketNumber}/${d.couponNumber} (${d.couponStatus})`
    : `the passenger (${d.carrier} ${d.flightNumber} ${d.activityDate} ${d.origin}-${d.destination})`;
  return `${what} was already read${receivedWhere(first)}${recordBecame(earlier)}`;
}

/** What a coupon status other than flown did to the coupon, in the accountant's words. */
const FINAL_STATUS: Record<string, string> = { V: 'voided', R: 'refunded', E: 'exchanged' };

/**
 * Voided, refunded and exchanged are final for a coupon (flown-coupons.md): a ticket refunded or reissued
 * is not flown on afterwards, so a flown record read after one is a late or re-sent extract's.
 */
export const isFinalCouponStatus = (couponStatus: string | null) =>
  couponStatus !== null && Object.hasOwn(FINAL_STATUS, couponStatus);

/**
 * A flown record of a coupon already voided, refunded or exchanged: those statuses are final (a refunded
 * ticket is not flown on afterwards), so a late or re-sent extract's `F` changes nothing. Refused as
 * NOT_FLOWN, naming the record that made the coupon final (`coupon 0741000000001/1 was already refunded
 * (R) in FLOWN_20260312.csv (night of 2026-03-12): its flown record credits nothing`).
 */
export const flownAfterFinal = (
  d: Pick<ActivityRow, 'ticketNumber' | 'couponNumber'>,
  finalStatus: string,
  first: FirstCopy,
) => ({
  reason: 'NOT_FLOWN' as const,
  field: 'coupon_status',
  message:
    `coupon ${d.ticketNumber}/${d.couponNumber} was already ${FINAL_STATUS[finalStatus]!} ` +
    `(${finalStatus})${receivedWhere(first)}: its flown record credits nothing`,
});
