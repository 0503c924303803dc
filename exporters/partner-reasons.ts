/**
 * Reasons as partners read them. Partner responses (CSV and OpenTravel) and alliance results carry only
 * the codes of partner-accrual.md; the program's own reasons (rules/reasons.ts, the ingest's record
 * codes) go out as the closest of them, with the program's reason leading the text.
 */
import { ALLIANCE_REASON_CODES, type AllianceReasonCode } from '../parsers/alliance.js';
import { REJECT_REASONS, type RejectReason } from '../rules/reasons.js';
import { PARTNER_REASON_TEXT } from './partner-response.js';

/**
 * The closest partner-accrual.md code for each of the program's own reasons (rules/reasons.ts and the
 * ingest's record-level codes), so a partner only ever reads codes of its format; the program's reason
 * goes into the text. A class, route, card or airline the chart or agreement does not cover is NO_CONTRACT; what
 * the program already credited or holds for the flight is DUPLICATE; a member who cannot earn (not
 * enrolled, suspended) is ACCOUNT_CLOSED's nearest kin (MEMBER_UNKNOWN would be untrue); an activity
 * before the enrolment is outside the window the member may claim in.
 */
const PARTNER_CODE_OF: Readonly<Record<string, AllianceReasonCode>> = {
  MEMBER_INACTIVE: 'ACCOUNT_CLOSED',
  NOT_ENROLLED: 'OUT_OF_WINDOW',
  UNKNOWN_AIRPORT: 'NO_CONTRACT',
  CLASS_NOT_ELIGIBLE: 'NO_CONTRACT',
  NO_EARNING_RULE: 'NO_CONTRACT',
  NO_AGREEMENT: 'NO_CONTRACT',
  NO_CARD: 'MEMBER_UNKNOWN',
  NOT_FLOWN: 'NO_CONTRACT',
  // Another airline's flight: no chart of ours covers it (its airline's claim credits it).
  NOT_OWN_FLIGHT: 'NO_CONTRACT',
  INSUFFICIENT_POINTS: 'BAD_AMOUNT',
  // A reference to a credit we do not hold: readable, but naming nothing (the text says which).
  UNKNOWN_ORIGINAL: 'MALFORMED',
  UNKNOWN_REDEMPTION: 'MALFORMED',
  INCONSISTENT_FIELDS: 'MALFORMED',
  NOT_FOUND: 'MALFORMED',
  AMBIGUOUS: 'DUPLICATE',
  PENDING: 'FUTURE_DATE',
  DATED_AHEAD: 'FUTURE_DATE',
  // A hotel's cancellation of a stay we credited: the feed's contract credits stays and takes back none.
  CANCELLATION_NOT_APPLIED: 'NO_CONTRACT',
};

/**
 * The record's own identifier in each feed that answers with partner-accrual.md's codes: the format's
 * DUPLICATE speaks of a partner_txn_id, which a hotel stay or a claim does not have.
 */
const RECORD_ID_OF_FEED: Readonly<Record<string, string>> = {
  partner: 'partner_txn_id',
  hotel: 'reservation id',
  'alliance-claims': 'claim id',
};

/**
 * What a reason means, in words: the format's meaning for its codes, the program's for its own. A feed
 * that does not speak partner-accrual.md (flights, redemptions, retro-claims) reads the program's
 * meanings: a flown coupon's DUPLICATE is not a partner_txn_id processed twice. Without a feed, the
 * format's words (what a partner reads).
 */
export function reasonMeaning(code: string, feed?: string | null): string | undefined {
  const own = REJECT_REASONS[code as RejectReason];
  if (feed === undefined || feed === null) return PARTNER_REASON_TEXT[code] ?? own;
  const recordId = RECORD_ID_OF_FEED[feed];
  if (recordId === undefined) return own ?? PARTNER_REASON_TEXT[code];
  if (code === 'DUPLICATE') return `this ${recordId} was already processed`;
  return PARTNER_REASON_TEXT[code] ?? own;
}

/** A rejected record of which a cap left nothing: the format's CAP_EXCEEDED says "partially accepted". */
const CAP_LEFT_NOTHING = 'a per-activity or per-period cap left nothing to credit: no points posted';

/**
 * The text of one record's reason: what the rule said of the record when it gave the reason (`own.message`,
 * kept with the activity), else the meaning of the code for the record's feed; and what is true of the
 * record where the code's meaning is not: a closed account that was merged names the survivor, and a cap
 * that left nothing to credit rejects the record, it accepts none of it. Partner responses and
 * `redeye files show` say the same.
 */
export function recordReasonText(
  code: string | null,
  mergedInto: string | null,
  rejected = false,
  own: { message?: string | null; feed?: string | null; toPartner?: boolean } = {},
): string | null {
  if (code === null) return null;
  if (code === 'ACCOUNT_CLOSED' && mergedInto) return `account merged into ${mergedInto}`;
  const message = own.toPartner ? messageForPartner(code, own.message) : (own.message ?? null);
  if (code === 'CAP_EXCEEDED' && rejected)
    return message ? `${CAP_LEFT_NOTHING} (${message})` : CAP_LEFT_NOTHING;
  return message ?? reasonMeaning(code, own.feed) ?? code;
}

/** The rule's message for a reason as a partner may read it: none where the message is not for partners. */
export function messageForPartner(code: string | null, message: string | null | undefined): string | null {
  return code !== null && NOT_FOR_PARTNERS.has(code) ? null : (message ?? null);
}

/**
 * Reasons whose message a partner does not read: the ledger's refusal of a short balance names the
 * member's account and what it holds, which is the member's business, not the partner's.
 */
const NOT_FOR_PARTNERS: ReadonlySet<string> = new Set(['INSUFFICIENT_POINTS']);

/** The partner-accrual.md code a partner reads for one of the program's reasons (see PARTNER_CODE_OF). */
export function partnerReasonCode(code: string | null): AllianceReasonCode {
  if ((ALLIANCE_REASON_CODES as readonly string[]).includes(code ?? '')) return code as AllianceReasonCode;
  return PARTNER_CODE_OF[code ?? ''] ?? 'MALFORMED';
}

/**
 * The text that goes with `partnerReasonCode(code)`: the record's own message when there is one, else the
 * format's meaning; when the program's reason is not a format code it leads the text, so the detail a
 * partner's analyst asks about (`CLASS_NOT_ELIGIBLE: the booking class earns nothing …`) is not lost.
 */
export function partnerReasonText(code: string | null, message?: string | null): string {
  const mapped = partnerReasonCode(code);
  const own = code !== null && code !== mapped && code in REJECT_REASONS;
  const detail = message ?? (own ? reasonMeaning(code) : PARTNER_REASON_TEXT[mapped]);
  return forPartner(code, detail ?? null).text ?? mapped;
}

/**
 * A code and the text that goes with it, as a partner may read them: unchanged when the code is one of
 * the format's, else the closest format code, with the program's own code leading the text.
 */
export function forPartner(
  code: string | null,
  text: string | null,
): { code: string | null; text: string | null } {
  if (code === null) return { code, text };
  const mapped = partnerReasonCode(code);
  return mapped === code ? { code, text } : { code: mapped, text: `${code}: ${text ?? code}` };
}
