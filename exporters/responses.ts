/**
 * What the responses to partner files are made of, read from the night's records: the inbound file's
 * registry row, the activities read from it (with the points their postings actually credited) and the
 * records that could not be read at all (rejects).
 *
 * Points posted come from the ledger, not from the activity row: a posting is never changed, so a response
 * rebuilt later says exactly what the first one said even after the credit was reversed by a later file.
 * Points posted for a record = −(its posting's entry on the partner's account), which is the member's
 * credit including tier bonus and after caps, and negative for a reversal record. Whether a cap cut the
 * credit (`P`) is read from the posting too: a reversal rewrites the activity's status and reason.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { leadingBytes, NAME_MAX_BYTES } from '../transports/names.js';
import { addDays, type IsoDate } from '../lib/dates.js';
import { ExportError } from './errors.js';
import { forPartner, recordReasonText } from './partner-reasons.js';
import { hotelResponseName, type HotelStayResponse, type HotelStayWarning } from './hotel-response.js';
import {
  PARTNER_REASON_TEXT,
  partnerResponseName,
  type PartnerResponse,
  type PartnerResponseHeader,
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
  /** The request's OpenTravel `EchoToken`, as ingest kept it (migration 024). */
  echoToken?: string | null;
}

/** How far back a night looks for files still unanswered (their records were pending on their own night). */
export const ANSWER_LOOKBACK_DAYS = 31;

/**
 * Inbound files the night of `businessDate` answers: those processed that night (accepted, or rejected
 * whole when the format can say so), files of the previous ANSWER_LOOKBACK_DAYS days still without an
 * answer, and those of them this night answered before (its rerun). Files held, duplicates of a file
 * already answered and name conflicts are not answered: an operator decides about them first.
 */
export async function inboundFilesToAnswer(
  q: Q,
  feed: AnsweredFeed,
  answerKind: string,
  businessDate: IsoDate,
  verdicts: ReadonlyArray<'accepted' | 'rejected'> = ['accepted', 'rejected'],
): Promise<InboundFile[]> {
  /** The file's responses of this kind. */
  const answers = (s: Knex.QueryBuilder) =>
    s
      .select(q.raw('1'))
      .from('files as o')
      .where('o.direction', 'out')
      .andWhere('o.feed', answerKind)
      .andWhereRaw('o.answers_file_id = f.id');
  const rows = (await q('files as f')
    .where('f.direction', 'in')
    .andWhere('f.feed', feed)
    .whereIn('f.verdict', verdicts)
    .andWhere('f.business_date', '<=', businessDate)
    .andWhere('f.business_date', '>=', addDays(businessDate, -ANSWER_LOOKBACK_DAYS))
    .andWhere((w) =>
      w
        .where('f.business_date', businessDate)
        .orWhereNotExists(answers)
        // Answered by this night though fetched for an earlier one (released, or its records pending):
        // the night's rerun finds its response again, to write back a copy lost before delivery.
        .orWhereExists((s) => answers(s).andWhere('o.business_date', businessDate)),
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
      'f.echo_token',
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
    echoToken: (r.echo_token as string | null) ?? null,
  }));
}

/**
 * The names the response to `file`, written the night of `answeredOn`, may take, in order: the request's
 * own (`DRIVE_20260311_1.resp.csv`, `GS_stays.resp.xml`); then, for a request under a name an earlier
 * file's response already holds (released after a name conflict, or from a feed of reused names), the
 * night's date in it: a partner request named as partner-accrual.md names them gets the response name
 * the format gives, dated that night (`DRIVE_20260313_1.resp.csv`: the partner's parser reads the same
 * partner and sequence), any other a suffix (`GS_stays-20260614.resp.xml`); and, for a second response
 * to such a name the same night, the answered file's registry id after that (`DRIVE_20260313_1-12.resp.csv`).
 */
export function responseNames(
  file: Pick<InboundFile, 'id' | 'name'> & { feed: 'partner' | 'hotel' },
  answeredOn: IsoDate,
): string[] {
  const [plain, extension] =
    file.feed === 'partner'
      ? [partnerResponseName(file.name), '.resp.csv']
      : [hotelResponseName(file.name), '.resp.xml'];
  const stem = plain.slice(0, -extension.length);
  const day = answeredOn.replaceAll('-', '');
  // The partner code read from the right, as parsePartnerFileName reads it: a code may hold `_`.
  const named = file.feed === 'partner' ? /^([A-Za-z0-9_-]+)_\d{8}_(\d{1,9})$/.exec(stem) : null;
  const dated = named ? `${named[1]}_${day}_${named[2]}` : `${stem}-${day}`;
  return [
    ...new Set([
      withinNameMax(stem, extension),
      withinNameMax(dated, extension),
      withinNameMax(`${dated}-${file.id}`, extension),
    ]),
  ];
}

/** Whether the request's own response name is too long to be a file's, and its response is answered under a shorter one. */
export function responseNameShortened(
  file: Pick<InboundFile, 'name'> & { feed: 'partner' | 'hotel' },
): boolean {
  const plain = file.feed === 'partner' ? partnerResponseName(file.name) : hotelResponseName(file.name);
  return Buffer.byteLength(plain) > NAME_MAX_BYTES;
}

/**
 * `stem` + `extension`, or, when that is longer than a file name may be (a request's name may take all of
 * NAME_MAX, and `.resp.csv` comes after it), the stem cut to fit with 8 hex digits of its sha256 after
 * it: the same request always gets the same name, so a rerun finds its response, and two long names
 * alike in all that is kept still get names of their own.
 */
function withinNameMax(stem: string, extension: string): string {
  if (Buffer.byteLength(stem + extension) <= NAME_MAX_BYTES) return stem + extension;
  const mark = `-${createHash('sha256').update(stem).digest('hex').slice(0, 8)}`;
  return `${leadingBytes(stem, NAME_MAX_BYTES - Buffer.byteLength(mark + extension))}${mark}${extension}`;
}

/** Activities of the file the accrue job has not decided yet: the file cannot be answered before. */
export async function pendingActivities(q: Q, fileId: number): Promise<number> {
  const row = await q('activities')
    .where({ source_file_id: fileId, status: 'PENDING' })
    .count({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}

/**
 * The partner and sequence a request names in `<PARTNER>_<YYYYMMDD>_<SEQ>.csv`, for a header that could not
 * be read; the partner code read from the right, as it may hold `_`.
 */
export function partnerFromFileName(name: string): { partnerCode: string; sequence: number } | null {
  const m = /^([A-Za-z0-9_-]+)_\d{8}_(\d{1,9})\.csv$/i.exec(name.replace(/^.*[\\/]/, ''));
  return m ? { partnerCode: m[1]!, sequence: Number(m[2]) } : null;
}

/**
 * Where a record stood in its request: the line it starts on and, read from an XML document, its place
 * among the document's records (migration 050; null before it and for other feeds).
 */
export interface FilePlace {
  /** Null for a record read from no line (taken as 0, before the first). */
  line: number | null;
  ordinal: number | null;
}

/**
 * The order of a request's records, its activities and unreadable records alike: by line, then by place
 * in the document, so that one written on a single line is answered in its order too. Records stored
 * before migration 050 have no place: on one line they keep the order they were answered in before
 * (activities, then the unreadable), as the sort is stable.
 */
export function inRequestOrder(a: FilePlace, b: FilePlace): number {
  const lines = (a.line ?? 0) - (b.line ?? 0);
  if (lines !== 0) return lines;
  return a.ordinal === null || b.ordinal === null ? 0 : a.ordinal - b.ordinal;
}

interface ActivityOutcome extends FilePlace {
  line: number;
  ref: string;
  memberNumber: string;
  status: string;
  reason: string | null;
  /** What the rule said of the record when it gave the reason (null before migration 012). */
  message: string | null;
  points: number;
  partnerAmount: number | null;
  /** The credit's posting says a cap cut it (`cappedFrom` in its detail). */
  capped: boolean;
  mergedInto: string | null;
  /** A hotel stay's detail (its `StayInfo/@SequenceNumber` among it), read for hotel files only. */
  detail: string | null;
}

const PAGE = 5000;

/**
 * A file's activities of one type in the file's order, a page at a time (keyset on line, place and id),
 * each with the points its posting credited: a partner file can hold millions of records.
 */
async function* activityOutcomes(
  q: Q,
  fileId: number,
  type: 'PARTNER' | 'HOTEL',
): AsyncGenerator<ActivityOutcome> {
  let line = -1;
  let ordinal = 0;
  let id = 0;
  for (;;) {
    const posted = q('postings as p')
      .join('entries as e', 'e.posting_id', 'p.id')
      .join('accounts as ac', 'ac.id', 'e.account_id')
      .whereRaw('p.id = a.posting_id')
      .andWhere('ac.kind', 'PARTNER')
      .sum('e.amount')
      .as('partner_amount');
    const postingDetail = q('postings as pd')
      .whereRaw('pd.id = a.posting_id')
      .select('pd.detail')
      .as('posting_detail');
    const rows = (await q('activities as a')
      .where('a.source_file_id', fileId)
      .andWhere('a.type', type)
      .andWhereRaw('(COALESCE(a.source_line, 0), COALESCE(a.source_ordinal, 0), a.id) > (?, ?, ?)', [
        line,
        ordinal,
        id,
      ])
      .orderByRaw('COALESCE(a.source_line, 0), COALESCE(a.source_ordinal, 0), a.id')
      .limit(PAGE)
      .select(
        'a.id',
        'a.source_line',
        'a.source_ordinal',
        'a.external_ref',
        'a.member_number',
        'a.status',
        'a.reason',
        'a.reason_message',
        'a.points',
        // The survivor it was rejected for: the member may have been merged (again) since.
        'a.merged_into',
        // Only a hotel response names a record by what its detail holds: a partner file's millions of
        // rows need not carry theirs.
        ...(type === 'HOTEL' ? ['a.detail'] : []),
        posted,
        postingDetail,
      )) as Array<Record<string, unknown>>;
    for (const r of rows) {
      line = Number(r.source_line ?? 0);
      ordinal = Number(r.source_ordinal ?? 0);
      id = Number(r.id);
      yield {
        line,
        ordinal: r.source_ordinal === null || r.source_ordinal === undefined ? null : ordinal,
        ref: (r.external_ref as string | null) ?? '',
        memberNumber: (r.member_number as string | null) ?? '',
        status: r.status as string,
        reason: (r.reason as string | null) ?? null,
        message: (r.reason_message as string | null) ?? null,
        points: Number(r.points ?? 0),
        partnerAmount:
          r.partner_amount === null || r.partner_amount === undefined ? null : Number(r.partner_amount),
        capped: r.status === 'PARTIAL' || cappedPosting(r.posting_detail),
        mergedInto: (r.merged_into as string | null) ?? null,
        detail: typeof r.detail === 'string' ? r.detail : null,
      };
    }
    if (rows.length < PAGE) return;
  }
}

/** Whether a posting's detail says a cap cut the credit; most say nothing of a cap and are not parsed. */
function cappedPosting(detail: unknown): boolean {
  if (typeof detail !== 'string' || !detail.includes('cappedFrom')) return false;
  return typeof (JSON.parse(detail) as { cappedFrom?: unknown }).cappedFrom === 'number';
}

function sequenceNumberOf(detail: string | null): number | null {
  if (detail === null || !detail.includes('sequenceNumber')) return null;
  const n = (JSON.parse(detail) as { sequenceNumber?: unknown }).sequenceNumber;
  return typeof n === 'number' && Number.isInteger(n) ? n : null;
}

interface UnreadRecord extends FilePlace {
  path: string | null;
  reason: string;
  message: string | null;
  ref: string | null;
  memberNumber: string | null;
  /** The number the sender gave the record (a hotel's `StayInfo/@SequenceNumber`), when it read cleanly. */
  sequenceNumber: number | null;
}

/** The file's records that could not be read at all, in the file's order, a page at a time. */
async function* unreadRecords(q: Q, fileId: number): AsyncGenerator<UnreadRecord> {
  let line = -1;
  let ordinal = 0;
  let id = 0;
  for (;;) {
    const rows = (await q('rejects')
      .where('file_id', fileId)
      .andWhereRaw('(COALESCE(line, 0), COALESCE(ordinal, 0), id) > (?, ?, ?)', [line, ordinal, id])
      .orderByRaw('COALESCE(line, 0), COALESCE(ordinal, 0), id')
      .limit(PAGE)
      .select(
        'id',
        'line',
        'ordinal',
        'path',
        'reason',
        'message',
        'record_ref',
        'member_number',
        'sequence_number',
      )) as Array<Record<string, unknown>>;
    for (const r of rows) {
      line = Number(r.line ?? 0);
      ordinal = Number(r.ordinal ?? 0);
      id = Number(r.id);
      yield {
        line: r.line === null || r.line === undefined ? null : Number(r.line),
        ordinal: r.ordinal === null || r.ordinal === undefined ? null : ordinal,
        path: (r.path as string | null) ?? null,
        reason: r.reason as string,
        message: (r.message as string | null) ?? null,
        ref: (r.record_ref as string | null) ?? null,
        memberNumber: (r.member_number as string | null) ?? null,
        sequenceNumber:
          r.sequence_number === null || r.sequence_number === undefined ? null : Number(r.sequence_number),
      };
    }
    if (rows.length < PAGE) return;
  }
}

async function collect<T>(items: AsyncIterable<T> | Iterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
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
      return { status: a.capped ? 'P' : 'A', points };
    }
    case 'REJECTED':
      return { status: 'R', points: 0 };
    default:
      return null;
  }
}

/**
 * The rule's own words for a record, as its feed's partner may read them (partner-reasons.ts), for a
 * record refused: a capped credit is answered in the format's words, since a later reversal of it
 * replaces its reason and message, and a response rebuilt then must say what the first one said.
 */
const ownWords = (a: ActivityOutcome, status: ResponseStatus, feed: AnsweredFeed = 'partner') => ({
  message: status === 'R' ? a.message : null,
  feed,
  toPartner: true,
});

function unreadText(r: UnreadRecord): string | null {
  return r.message
    ? `${r.line !== null ? `line ${r.line}: ` : ''}${r.message}`
    : recordReasonText(r.reason, null);
}

/** The counts of the H record, from aggregates, so the D records can be streamed after it. */
async function responseCounts(
  q: Q,
  fileId: number,
): Promise<{ accepted: number; rejected: number; other: string[] }> {
  const byStatus = (await q('activities')
    .where({ source_file_id: fileId, type: 'PARTNER' })
    .groupBy('status')
    .select('status')
    .count({ n: '*' })) as Array<{ status: string; n: number | string }>;
  const unread = await q('rejects').where('file_id', fileId).count({ n: '*' }).first();
  let accepted = 0;
  let rejected = Number(unread?.n ?? 0);
  const other: string[] = [];
  for (const { status, n } of byStatus) {
    if (status === 'POSTED' || status === 'PARTIAL' || status === 'REVERSED') accepted += Number(n);
    else if (status === 'REJECTED') rejected += Number(n);
    else other.push(status);
  }
  return { accepted, rejected, other };
}

export interface PartnerResponseSource {
  header: PartnerResponseHeader;
  /** The D records in the request's order: activities and unreadable records merged by line. */
  records: AsyncIterable<PartnerResponseRecord> | Iterable<PartnerResponseRecord>;
}

/** The response to one partner CSV file, ready to stream; throws NOT_READY while records are still pending. */
export async function partnerResponseSource(
  q: Q,
  file: InboundFile,
  processedAt: string,
): Promise<PartnerResponseSource> {
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
    return {
      header: { ...base, fileStatus: file.reason ?? 'REJECTED', accepted: 0, rejected: 0 },
      records: [],
    };
  }
  const pending = await pendingActivities(q, file.id);
  if (pending > 0) throw notReady(file, pending);
  const counts = await responseCounts(q, file.id);
  if (counts.other.length > 0) {
    throw new ExportError(
      'UNEXPECTED_STATUS',
      `partner file ${file.name}: activities with status ${counts.other.join(', ')}, which a response cannot express`,
      { partner: partnerCode, file: file.name, field: 'status' },
    );
  }
  const header: PartnerResponseHeader = {
    ...base,
    fileStatus: 'OK',
    accepted: counts.accepted,
    rejected: counts.rejected,
  };
  return { header, records: partnerRecords(q, file.id) };
}

/**
 * The reason a response gives for a record: none when accepted, the cap when capped (a reversal since
 * has overwritten the activity's own reason), else the activity's.
 */
function reasonOf(a: ActivityOutcome, status: ResponseStatus): string | null {
  if (status === 'A') return null;
  if (status === 'P') return 'CAP_EXCEEDED';
  return a.reason;
}

function recordOf(a: ActivityOutcome): PartnerResponseRecord {
  const outcome = outcomeOf(a)!;
  const reason = reasonOf(a, outcome.status);
  const told = forPartner(
    reason,
    recordReasonText(reason, a.mergedInto, outcome.status === 'R', ownWords(a, outcome.status)),
  );
  return {
    partnerTxnId: a.ref,
    memberNumber: a.memberNumber,
    status: outcome.status,
    pointsPosted: outcome.points,
    reasonCode: told.code,
    reasonText: told.text,
  };
}

type FileRecord = { activity: ActivityOutcome } | { unread: UnreadRecord };

/**
 * A file's activities and unreadable records in the file's order, two streams in that order merged
 * (`inRequestOrder`); an activity goes first when the two cannot be told apart.
 */
async function* inFileOrder(q: Q, fileId: number, type: 'PARTNER' | 'HOTEL'): AsyncGenerator<FileRecord> {
  const activities = activityOutcomes(q, fileId, type);
  const unread = unreadRecords(q, fileId);
  let a = await activities.next();
  let u = await unread.next();
  while (!a.done || !u.done) {
    if (!a.done && (u.done || inRequestOrder(a.value, u.value) <= 0)) {
      yield { activity: a.value };
      a = await activities.next();
    } else if (!u.done) {
      yield { unread: u.value };
      u = await unread.next();
    }
  }
}

async function* partnerRecords(q: Q, fileId: number): AsyncGenerator<PartnerResponseRecord> {
  for await (const record of inFileOrder(q, fileId, 'PARTNER')) {
    if ('activity' in record) {
      yield recordOf(record.activity);
      continue;
    }
    const r = record.unread;
    const told = forPartner(r.reason, unreadText(r));
    yield {
      partnerTxnId: r.ref ?? '',
      memberNumber: r.memberNumber ?? '',
      status: 'R',
      pointsPosted: 0,
      reasonCode: told.code,
      reasonText: told.text,
    };
  }
}

/** The whole response to one partner CSV file as data (small files, tests). */
export async function partnerResponseData(
  q: Q,
  file: InboundFile,
  processedAt: string,
): Promise<PartnerResponse> {
  const { header, records } = await partnerResponseSource(q, file, processedAt);
  return {
    partnerCode: header.partnerCode,
    fileSequence: header.fileSequence,
    processedAt: header.processedAt,
    fileStatus: header.fileStatus,
    records: await collect(records),
  };
}

/** The OTA_HotelStayInfoNotifRS for one hotel file; throws NOT_READY while stays are still pending. */
export async function hotelResponseData(
  q: Q,
  file: InboundFile,
  stamp: { timestamp: string; sequence: number | null },
): Promise<HotelStayResponse> {
  const base = { timeStamp: stamp.timestamp, sequence: stamp.sequence, echoToken: file.echoToken ?? null };
  if (file.verdict === 'rejected') {
    const code = file.reason ?? 'REJECTED';
    return { ...base, error: { reasonCode: code, text: file.message ?? PARTNER_REASON_TEXT[code] ?? code } };
  }
  const pending = await pendingActivities(q, file.id);
  if (pending > 0) throw notReady(file, pending);
  const warnings: HotelStayWarning[] = [];
  for await (const record of inFileOrder(q, file.id, 'HOTEL')) {
    if ('unread' in record) {
      const r = record.unread;
      const told = forPartner(r.reason, unreadText(r));
      warnings.push({
        reasonCode: told.code!,
        text: told.text ?? told.code!,
        sequenceNumber: r.sequenceNumber,
        reservationId: r.ref,
      });
      continue;
    }
    const a = record.activity;
    const outcome = outcomeOf(a);
    if (outcome === null || outcome.status === 'A') continue;
    const partial = outcome.status === 'P';
    const reason = reasonOf(a, outcome.status) ?? 'REJECTED';
    const told = forPartner(
      reason,
      recordReasonText(reason, a.mergedInto, !partial, ownWords(a, outcome.status, 'hotel')),
    );
    warnings.push({
      reasonCode: told.code!,
      text: told.text ?? told.code!,
      sequenceNumber: sequenceNumberOf(a.detail),
      reservationId: a.ref || null,
      partial,
    });
  }
  return { ...base, warnings };
}
