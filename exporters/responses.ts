/**
 * What the responses to partner files are made of, read from the night's records: the inbound file's
 * registry row, the activities read from it (with the points their postings actually credited) and the
 * records that could not be read at all (rejects).
 *
 * Points posted come from the ledger, not from the activity row: a posting is never changed, so a response
 * rebuilt later says exactly what the first one said even after the credit was reversed by a later file.
 * Points posted for a record = −(its posting's entry on the partner's account), which is the member's
 * credit including tier bonus and after caps, and negative for a reversal record.
 */
import type { Knex } from 'knex';
import { addDays, type IsoDate } from '../lib/dates.js';
import { ExportError } from './errors.js';
import type { HotelStayResponse, HotelStayWarning } from './hotel-response.js';
import {
  PARTNER_REASON_TEXT,
  type PartnerResponse,
  type PartnerResponseRecord,
  type ResponseStatus,
} from './partner-response.js';

type Q = Knex | Knex.Transaction;

export type AnsweredFeed = 'partner' | 'hotel' | 'alliance-claims';

export interface InboundFile {
  id: number;
  feed: AnsweredFeed;
  name: string;
  partnerCode: string | null;
  sequence: number | null;
  verdict: 'accepted' | 'rejected';
  reason: string | null;
  message: string | null;
  businessDate: IsoDate;
}

/** How far back a night looks for files still unanswered (their records were pending on their own night). */
export const ANSWER_LOOKBACK_DAYS = 31;

/**
 * Inbound files the night of `businessDate` answers: those processed that night (accepted, or rejected
 * whole when the format can say so), and files of the previous ANSWER_LOOKBACK_DAYS days still without an
 * answer. Files held, duplicates of a file already answered and name conflicts are not answered: an
 * operator decides about them first.
 */
export async function inboundFilesToAnswer(
  q: Q,
  feed: AnsweredFeed,
  answerKind: string,
  businessDate: IsoDate,
  verdicts: ReadonlyArray<'accepted' | 'rejected'> = ['accepted', 'rejected'],
): Promise<InboundFile[]> {
  const rows = (await q('files as f')
    .where('f.direction', 'in')
    .andWhere('f.feed', feed)
    .whereIn('f.verdict', verdicts)
    .andWhere('f.business_date', '<=', businessDate)
    .andWhere('f.business_date', '>=', addDays(businessDate, -ANSWER_LOOKBACK_DAYS))
    .andWhere((w) =>
      w
        .where('f.business_date', businessDate)
        .orWhereNotExists((s) =>
          s
            .select(q.raw('1'))
            .from('files as o')
            .where('o.direction', 'out')
            .andWhere('o.feed', answerKind)
            .andWhereRaw('o.answers_file_id = f.id'),
        ),
    )
    .orderBy('f.id')
    .select(
      'f.id',
      'f.feed',
      'f.name',
      'f.partner_code',
      'f.sequence',
      'f.verdict',
      'f.reason',
      'f.message',
      'f.business_date',
    )) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    id: Number(r.id),
    feed: r.feed as AnsweredFeed,
    name: r.name as string,
    partnerCode: (r.partner_code as string | null) ?? null,
    sequence: r.sequence === null || r.sequence === undefined ? null : Number(r.sequence),
    verdict: r.verdict as 'accepted' | 'rejected',
    reason: (r.reason as string | null) ?? null,
    message: (r.message as string | null) ?? null,
    businessDate: r.business_date as IsoDate,
  }));
}

/** Activities of the file the accrue job has not decided yet: the file cannot be answered before. */
export async function pendingActivities(q: Q, fileId: number): Promise<number> {
  const row = await q('activities')
    .where({ source_file_id: fileId, status: 'PENDING' })
    .count({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}

/** The partner and sequence a request names in `<PARTNER>_<YYYYMMDD>_<SEQ>.csv`, for a header that could not be read. */
export function partnerFromFileName(name: string): { partnerCode: string; sequence: number } | null {
  const m = /^([A-Za-z0-9-]+)_\d{8}_(\d{1,9})\.csv$/i.exec(name.replace(/^.*[\\/]/, ''));
  return m ? { partnerCode: m[1]!, sequence: Number(m[2]) } : null;
}

interface ActivityOutcome {
  line: number;
  ref: string;
  memberNumber: string;
  status: string;
  reason: string | null;
  points: number;
  partnerAmount: number | null;
  mergedInto: string | null;
}

async function activityOutcomes(q: Q, fileId: number, type: 'PARTNER' | 'HOTEL'): Promise<ActivityOutcome[]> {
  const posted = q('postings as p')
    .join('entries as e', 'e.posting_id', 'p.id')
    .join('accounts as ac', 'ac.id', 'e.account_id')
    .whereRaw('p.idempotency_key = a.posting_key')
    .andWhere('ac.kind', 'PARTNER')
    .sum('e.amount')
    .as('partner_amount');
  const rows = (await q('activities as a')
    .leftJoin('members as m', 'm.number', 'a.member_number')
    .where('a.source_file_id', fileId)
    .andWhere('a.type', type)
    .orderBy([{ column: 'a.source_line' }, { column: 'a.id' }])
    .select(
      'a.source_line',
      'a.external_ref',
      'a.member_number',
      'a.status',
      'a.reason',
      'a.points',
      'm.merged_into',
      posted,
    )) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    line: Number(r.source_line ?? 0),
    ref: (r.external_ref as string | null) ?? '',
    memberNumber: (r.member_number as string | null) ?? '',
    status: r.status as string,
    reason: (r.reason as string | null) ?? null,
    points: Number(r.points ?? 0),
    partnerAmount:
      r.partner_amount === null || r.partner_amount === undefined ? null : Number(r.partner_amount),
    mergedInto: (r.merged_into as string | null) ?? null,
  }));
}

interface UnreadRecord {
  line: number | null;
  path: string | null;
  reason: string;
  message: string | null;
  ref: string | null;
  memberNumber: string | null;
}

async function unreadRecords(q: Q, fileId: number): Promise<UnreadRecord[]> {
  const rows = (await q('rejects')
    .where('file_id', fileId)
    .orderBy([{ column: 'line' }, { column: 'id' }])
    .select('line', 'path', 'reason', 'message', 'record_ref', 'member_number')) as Array<
    Record<string, unknown>
  >;
  return rows.map((r) => ({
    line: r.line === null || r.line === undefined ? null : Number(r.line),
    path: (r.path as string | null) ?? null,
    reason: r.reason as string,
    message: (r.message as string | null) ?? null,
    ref: (r.record_ref as string | null) ?? null,
    memberNumber: (r.member_number as string | null) ?? null,
  }));
}

function reasonText(code: string | null, mergedInto: string | null): string | null {
  if (code === null) return null;
  if (code === 'ACCOUNT_CLOSED' && mergedInto) return `account merged into ${mergedInto}`;
  return PARTNER_REASON_TEXT[code] ?? code;
}

function notReady(file: InboundFile, pending: number): ExportError {
  return new ExportError(
    'NOT_READY',
    `${file.feed} file ${file.name} (id ${file.id}) still has ${pending} record(s) waiting for the accrue job`,
    { partner: file.partnerCode ?? undefined, file: file.name },
  );
}

function outcomeOf(a: ActivityOutcome): { status: ResponseStatus; points: number } | null {
  switch (a.status) {
    case 'POSTED':
    case 'PARTIAL':
    case 'REVERSED': {
      const points = a.partnerAmount === null ? a.points : -a.partnerAmount;
      return { status: a.status === 'PARTIAL' || a.reason === 'CAP_EXCEEDED' ? 'P' : 'A', points };
    }
    case 'REJECTED':
      return { status: 'R', points: 0 };
    default:
      return null;
  }
}

/** The response to one partner CSV file; throws NOT_READY while records are still pending. */
export async function partnerResponseData(
  q: Q,
  file: InboundFile,
  processedAt: string,
): Promise<PartnerResponse> {
  const fromName = partnerFromFileName(file.name);
  const partnerCode = file.partnerCode ?? fromName?.partnerCode;
  if (!partnerCode) {
    throw new ExportError(
      'NO_PARTNER',
      `partner file ${file.name} (id ${file.id}) names no partner to answer`,
      {
        file: file.name,
        field: 'partner_code',
      },
    );
  }
  const base = { partnerCode, fileSequence: file.sequence ?? fromName?.sequence ?? null, processedAt };
  if (file.verdict === 'rejected') {
    return { ...base, fileStatus: file.reason ?? 'REJECTED', records: [] };
  }
  const pending = await pendingActivities(q, file.id);
  if (pending > 0) throw notReady(file, pending);
  const records: Array<PartnerResponseRecord & { line: number }> = [];
  for (const a of await activityOutcomes(q, file.id, 'PARTNER')) {
    const outcome = outcomeOf(a);
    if (outcome === null) {
      throw new ExportError(
        'UNEXPECTED_STATUS',
        `partner file ${file.name}: activity ${a.ref} at line ${a.line} has status ${a.status}, which a response cannot express`,
        { partner: partnerCode, file: file.name, line: a.line, field: 'status' },
      );
    }
    const reason =
      outcome.status === 'A' ? null : (a.reason ?? (outcome.status === 'P' ? 'CAP_EXCEEDED' : null));
    records.push({
      line: a.line,
      partnerTxnId: a.ref,
      memberNumber: a.memberNumber,
      status: outcome.status,
      pointsPosted: outcome.points,
      reasonCode: reason,
      reasonText: reasonText(reason, a.mergedInto),
    });
  }
  for (const r of await unreadRecords(q, file.id)) {
    records.push({
      line: r.line ?? 0,
      partnerTxnId: r.ref ?? '',
      memberNumber: r.memberNumber ?? '',
      status: 'R',
      pointsPosted: 0,
      reasonCode: r.reason,
      reasonText: r.message
        ? `${r.line !== null ? `line ${r.line}: ` : ''}${r.message}`
        : reasonText(r.reason, null),
    });
  }
  // Stable: activities and rejects of one line never coexist, and each list is already in line order.
  records.sort((x, y) => x.line - y.line);
  return { ...base, fileStatus: 'OK', records: records.map(({ line: _line, ...rest }) => rest) };
}

/** The OTA_HotelStayInfoNotifRS for one hotel file; throws NOT_READY while stays are still pending. */
export async function hotelResponseData(
  q: Q,
  file: InboundFile,
  stamp: { timestamp: string; sequence: number | null },
): Promise<HotelStayResponse> {
  const base = { timeStamp: stamp.timestamp, sequence: stamp.sequence };
  if (file.verdict === 'rejected') {
    const code = file.reason ?? 'REJECTED';
    return { ...base, error: { reasonCode: code, text: file.message ?? PARTNER_REASON_TEXT[code] ?? code } };
  }
  const pending = await pendingActivities(q, file.id);
  if (pending > 0) throw notReady(file, pending);
  const warnings: HotelStayWarning[] = [];
  for (const a of await activityOutcomes(q, file.id, 'HOTEL')) {
    const partial = a.status === 'PARTIAL';
    if (a.status !== 'REJECTED' && !partial) continue;
    const code = a.reason ?? (partial ? 'CAP_EXCEEDED' : 'REJECTED');
    warnings.push({
      reasonCode: code,
      text: reasonText(code, a.mergedInto) ?? code,
      sequenceNumber: a.line > 0 ? a.line : null,
      reservationId: a.ref || null,
      partial,
    });
  }
  for (const r of await unreadRecords(q, file.id)) {
    warnings.push({
      reasonCode: r.reason,
      text: r.message
        ? `${r.line !== null ? `line ${r.line}: ` : ''}${r.message}`
        : (PARTNER_REASON_TEXT[r.reason] ?? r.reason),
      reservationId: r.ref,
    });
  }
  return { ...base, warnings };
}
