/**
 * The response to a partner accrual file (partner-accrual.md, "Response"): a pure builder, data in,
 * bytes out.
 *
 * ```
 * H,<partner_code>,<file_sequence>,<processed_at>,<accepted_count>,<rejected_count>,<file_status>
 * D,<partner_txn_id>,<member_number>,<status>,<points_posted>,<reason_code>,<reason_text>
 * T,<detail_count>,<sum of points_posted>
 * ```
 *
 * One D per record of the request, in the request's order, rejected ones included (whether the rules
 * refused them or the reader could not read them). `accepted_count` counts A and P (a partially accepted
 * record is accepted), `rejected_count` counts R. A file rejected whole has no D records and its
 * file-level reason as `file_status`; its counts are zero. The partner's own text (transaction id, member
 * number as written, the reader's message quoting the record) is echoed through the CSV formula-injection
 * defence.
 */
import { basename } from 'node:path';
import { csvRecord, csvRecords, csvText, type CsvField } from './csv.js';
import { ExportError } from './errors.js';

export type ResponseStatus = 'A' | 'P' | 'R';

export interface PartnerResponseRecord {
  partnerTxnId: string;
  memberNumber: string;
  status: ResponseStatus;
  /** Signed: a reversal record posts a negative number. Zero for a rejected record. */
  pointsPosted: number;
  reasonCode: string | null;
  reasonText: string | null;
}

export interface PartnerResponse {
  partnerCode: string;
  /** The request's file_sequence, echoed; null when the request's header could not be read. */
  fileSequence: number | null;
  /** ISO 8601 date-time with offset. */
  processedAt: string;
  /** `OK`, or the file-level reason code when the request was rejected whole. */
  fileStatus: string;
  records: readonly PartnerResponseRecord[];
}

/** Record-level reason codes of partner-accrual.md with the text the response gives when nothing more specific is known. */
export const PARTNER_REASON_TEXT: Readonly<Record<string, string>> = {
  MEMBER_UNKNOWN: 'no such member number',
  CHECK_DIGIT: "member number fails the program's check digit",
  NAME_MISMATCH: 'surname or initial do not match the member',
  ACCOUNT_CLOSED: 'account closed or merged',
  DUPLICATE: 'this partner_txn_id was already processed',
  OUT_OF_WINDOW: "activity older than the contract's claim window",
  FUTURE_DATE: 'activity date after the processing date',
  NO_CONTRACT: 'no contract of this partner covers this activity type on that date',
  BAD_AMOUNT: 'amount missing, not a number, or out of range',
  BAD_CURRENCY: 'unknown currency, or no exchange rate for that date',
  CAP_EXCEEDED: 'partially accepted: a per-activity or per-period cap applied',
  MALFORMED: 'the record cannot be read',
};

/** `GRANDSTAY_20261126_0007.csv` → `GRANDSTAY_20261126_0007.resp.csv`; any other name gets `.resp.csv` appended. */
export function partnerResponseName(inboundName: string): string {
  const base = basename(inboundName);
  return /\.csv$/i.test(base) ? `${base.slice(0, -4)}.resp.csv` : `${base}.resp.csv`;
}

export interface ResponseTotals {
  accepted: number;
  rejected: number;
  details: number;
  points: number;
}

export function responseTotals(records: readonly PartnerResponseRecord[]): ResponseTotals {
  let accepted = 0;
  let rejected = 0;
  let points = 0;
  for (const r of records) {
    if (r.status === 'R') rejected++;
    else accepted++;
    points += r.pointsPosted;
  }
  return { accepted, rejected, details: records.length, points };
}

/** The H record's facts: the response's identity and its counts, known before the D records are written. */
export interface PartnerResponseHeader {
  partnerCode: string;
  fileSequence: number | null;
  processedAt: string;
  fileStatus: string;
  /** A and P records. */
  accepted: number;
  /** R records. */
  rejected: number;
}

function invalid(header: PartnerResponseHeader, message: string, field: string): ExportError {
  return new ExportError(
    'INVALID_RESPONSE',
    `response to ${header.partnerCode} file ${header.fileSequence ?? '?'}: ${message}`,
    { partner: header.partnerCode, field },
  );
}

const BATCH = 500;

/**
 * The response as chunks of text, for files too large to hold: H from the header's counts, the D records
 * as they come, T from what was written. Records that contradict the header (more or fewer accepted or
 * rejected than it announced) make it throw before the T record, so no inconsistent file is completed.
 */
export async function* partnerResponseChunks(
  header: PartnerResponseHeader,
  records: AsyncIterable<PartnerResponseRecord> | Iterable<PartnerResponseRecord>,
  totals: Partial<ResponseTotals> = {},
): AsyncGenerator<string> {
  yield csvRecord([
    'H',
    csvText(header.partnerCode),
    header.fileSequence === null ? '' : header.fileSequence,
    header.processedAt,
    header.accepted,
    header.rejected,
    csvText(header.fileStatus),
  ]);
  const whole = header.fileStatus !== 'OK';
  let accepted = 0;
  let rejected = 0;
  let points = 0;
  let batch: CsvField[][] = [];
  for await (const r of records) {
    const n = accepted + rejected + 1;
    if (whole) {
      throw invalid(header, `a file rejected whole (${header.fileStatus}) has no D records`, 'file_status');
    }
    if (!Number.isSafeInteger(r.pointsPosted) || (r.status === 'R' && r.pointsPosted !== 0)) {
      throw invalid(
        header,
        `record ${n} (${r.partnerTxnId}) has points ${r.pointsPosted} with status ${r.status}`,
        'points_posted',
      );
    }
    if (r.status === 'R') rejected++;
    else accepted++;
    points += r.pointsPosted;
    batch.push([
      'D',
      csvText(r.partnerTxnId),
      csvText(r.memberNumber),
      r.status,
      r.pointsPosted,
      csvText(r.reasonCode),
      csvText(r.reasonText),
    ]);
    if (batch.length >= BATCH) {
      yield csvRecords(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield csvRecords(batch);
  if (accepted !== header.accepted || rejected !== header.rejected) {
    throw invalid(
      header,
      `the H record announced ${header.accepted} accepted and ${header.rejected} rejected, the D records hold ${accepted} and ${rejected}`,
      'accepted_count',
    );
  }
  Object.assign(totals, { accepted, rejected, details: accepted + rejected, points });
  yield csvRecord(['T', accepted + rejected, points]);
}

/** The whole response at once, from its records. */
export async function buildPartnerResponse(response: PartnerResponse): Promise<string> {
  const totals = responseTotals(response.records);
  let out = '';
  for await (const chunk of partnerResponseChunks(
    { ...response, accepted: totals.accepted, rejected: totals.rejected },
    response.records,
  )) {
    out += chunk;
  }
  return out;
}
