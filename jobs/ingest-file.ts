/**
 * Reading one landed file into the database, the same way for every feed: the parser streams records
 * and rejects, a feed handler turns batches of records into activities (or members, rates, claims), and
 * the whole file is one transaction. A file rejected whole (bad trailer, control totals, unknown partner)
 * leaves nothing behind but its verdict: nothing from it can be posted.
 */
import { createReadStream } from 'node:fs';
import type { Knex } from 'knex';
import { getParser } from '../parsers/index.js';
import type { FeedName, ParseOptions, RecordEvent, RejectEvent, VerdictEvent } from '../parsers/types.js';
import { clipText } from '../parsers/types.js';
import type { LoadedConfig } from '../config/load.js';
import type { JobContext } from './types.js';
import {
  copyFaultMessage,
  copyFaultOf,
  copyPath,
  holdForCopy,
  setVerdict,
  type LandedCopyFault,
  type FileRow,
} from './registry.js';
import { chunks } from '../lib/chunks.js';

export interface RejectRow {
  line: number | null;
  path?: string | null;
  /** The record's place in an XML document (`SourcePosition.ordinal`). */
  ordinal?: number | null;
  field: string;
  reason: string;
  message: string;
  text?: string | null;
  recordRef?: string | null;
  memberNumber?: string | null;
  sequenceNumber?: number | null;
}

export interface FileRefusal {
  reason: string;
  message: string;
}

export interface FeedHandler<T> {
  feed: FeedName;
  /** Checks that need only the file (its name, its partner): a refusal rejects the file unread. */
  begin?(trx: Knex.Transaction, file: FileRow): Promise<FileRefusal | void>;
  /** Handles a batch of records; returns record-level rejects (duplicates, unknown partner of a stay…). */
  records(trx: Knex.Transaction, file: FileRow, batch: Array<RecordEvent<T>>): Promise<RejectRow[]>;
  /**
   * The order the file's records are applied in when it is not the file's own (members: `updated_at`).
   * It holds across the whole file: ingest reads the file to its end before handing any record over, then
   * hands them all over in that order, in batches as ever. Sorting each batch alone would make what the
   * file does depend on where its rows fall (a merge and its survivor's closure 2,000 lines apart).
   */
  order?(a: RecordEvent<T>, b: RecordEvent<T>): number;
  /**
   * Checks against the file's verdict facts (header against file name, sequence); may refuse the file, or
   * return the record-level rejects only the whole file could decide (results matched to their claims).
   */
  end?(
    trx: Knex.Transaction,
    file: FileRow,
    verdict: VerdictEvent,
  ): Promise<FileRefusal | { rejects: RejectRow[] } | void>;
  parseOptions?(file: FileRow): ParseOptions;
  /**
   * Whom the file is from and its sequence, as the registry records them and its response is addressed,
   * taken from what `begin` checked or what could be read of the file (its name, its verdict's facts)
   * rather than from the file's own header alone: a refused header is unchecked by definition, and
   * answering the partner it names would send one partner's rejection to another; a document refused
   * whole is still answered to the partner its name gives. Feeds without it keep what their parser
   * read in the header.
   */
  identity?(file: FileRow, verdict: VerdictEvent | undefined): FileIdentity;
  /** Counts the handler keeps (activities inserted, merged, duplicates…), read after the file. */
  counts?(): Record<string, number>;
  /**
   * Records of files read before this one that its records decided to reject (a merge that waited in one
   * for its survivor, refused when this file brought it closed), read after the file. Their rejects and
   * those files' counts are written with this file; the night's totals take them from here.
   */
  earlierFiles?(): EarlierFileRejects[];
}

export interface EarlierFileRejects {
  fileId: number;
  /** The file's records rejected now, by reason: each was counted a record of it when it was read. */
  reasons: Record<string, number>;
  /** What its handler counted them when the file was read (`waiting`), no longer so. */
  counts: Record<string, number>;
}

export interface FileIdentity {
  partnerCode?: string | null;
  sequence?: number | null;
  /** The request's `EchoToken` (OpenTravel), which its response must carry unchanged. */
  echoToken?: string | null;
}

export interface FileOutcome {
  /** `missing`: its landed copy could not be read, and it is held for an operator (`holdUnreadable`). */
  verdict: 'accepted' | 'rejected' | 'held' | 'missing';
  reason?: string;
  records: number;
  rejects: number;
  warnings: string[];
}

class Refused extends Error {
  constructor(readonly refusal: FileRefusal) {
    super(refusal.message);
  }
}

const BATCH = 2_000;
const REJECT_BATCH = 500;

export async function insertRejects(
  q: Knex | Knex.Transaction,
  ctx: { businessDate: string; now: () => Date },
  file: { id: number | null; feed: string },
  rows: RejectRow[],
): Promise<void> {
  const now = ctx.now().toISOString();
  for (const part of chunks(rows, REJECT_BATCH)) {
    await q('rejects').insert(
      part.map((r) => ({
        file_id: file.id,
        feed: file.feed,
        line: r.line,
        path: r.path ?? null,
        ordinal: r.ordinal ?? null,
        field: r.field,
        reason: r.reason,
        message: r.message,
        text: r.text === undefined || r.text === null ? null : clipText(r.text),
        record_ref: r.recordRef ?? null,
        member_number: r.memberNumber ?? null,
        sequence_number: r.sequenceNumber ?? null,
        business_date: ctx.businessDate,
        created_at: now,
      })),
    );
  }
}

export function parseRejectRow(e: RejectEvent): RejectRow {
  return {
    line: e.line,
    path: e.path ?? null,
    ordinal: e.ordinal ?? null,
    field: e.field,
    reason: e.reason,
    message: e.message,
    text: e.text,
    ...(e.recordRef ? { recordRef: e.recordRef } : {}),
    ...(e.memberNumber ? { memberNumber: e.memberNumber } : {}),
    ...(e.sequenceNumber !== undefined ? { sequenceNumber: e.sequenceNumber } : {}),
  };
}

/**
 * How a feed's files are read, as its configuration says: encoding, a CSV's delimiter, an XML document's
 * size limit, the program's member numbers. The night and the simulator both read by it, so a file the
 * night reads is the file the simulator shows.
 */
export function feedParseOptions(config: LoadedConfig, feed: FeedName): ParseOptions {
  const feedConfig = config.feeds[feed];
  return {
    encoding: feedConfig?.encoding,
    delimiter: feedConfig?.delimiter,
    maxBytes: feedConfig?.maxBytes,
    memberNumber: config.program.memberNumber,
  };
}

/** Ingests one file with its feed's handler; records the verdict and counts in the registry. */
export async function ingestFile<T>(
  ctx: JobContext,
  file: FileRow,
  handler: FeedHandler<T>,
): Promise<FileOutcome> {
  const options: ParseOptions = {
    ...feedParseOptions(ctx.config, handler.feed),
    ...handler.parseOptions?.(file),
  };
  const parser = getParser(handler.feed);
  // A record the handler refuses (a duplicate, an unknown currency) is counted a reject, not a record:
  // records + rejects is then every record the file held, each once.
  let records = 0;
  let rejectCount = 0;
  let refusedRecords = 0;
  let verdictEvent: VerdictEvent | undefined;
  const warnings: string[] = [];
  // The landed copy's own read fault (gone since ingest looked, a disk fault half-way): the file is held
  // for it, not the night failed. Kept from the stream itself, whatever the parser wraps it in.
  let copyReadError = undefined as { path: string; error: unknown } | undefined;
  try {
    await ctx.db.transaction(async (trx) => {
      const refusal = await handler.begin?.(trx, file);
      if (refusal) throw new Refused(refusal);
      let batch: Array<RecordEvent<T>> = [];
      let rejects: RejectRow[] = [];
      const flushRejects = async () => {
        rejectCount += rejects.length;
        await insertRejects(trx, ctx, file, rejects);
        rejects = [];
      };
      // Records the handler refused were counted read: they are rejects, not records.
      const refusedByIngest = (rows: RejectRow[]) => {
        refusedRecords += rows.length;
        rejects.push(...rows);
      };
      const input = {
        name: file.name,
        open: () => {
          const path = copyPath(ctx.config.paths.landing, file)!;
          const stream = createReadStream(path);
          stream.once('error', (error) => (copyReadError = { path, error }));
          return stream;
        },
        receivedAt: new Date(file.receivedAt ?? ctx.now().toISOString()),
        size: file.size,
      };
      // A feed applied in an order of its own keeps every record until the file is read.
      const wholeFile: Array<RecordEvent<T>> | undefined = handler.order ? [] : undefined;
      for await (const event of parser.parse([input], options)) {
        if (event.type === 'record') {
          records++;
          if (wholeFile) {
            wholeFile.push(event as RecordEvent<T>);
            continue;
          }
          batch.push(event as RecordEvent<T>);
          if (batch.length >= BATCH) {
            refusedByIngest(await handler.records(trx, file, batch));
            batch = [];
            ctx.progress.increment(BATCH);
          }
        } else if (event.type === 'reject') {
          rejects.push(parseRejectRow(event));
        } else {
          verdictEvent = event;
        }
        if (rejects.length >= REJECT_BATCH) await flushRejects();
      }
      if (wholeFile) {
        wholeFile.sort((a, b) => handler.order!(a, b));
        // Taken from the front as they go, so the records applied are not kept to the file's end.
        while (wholeFile.length > 0) {
          const part = wholeFile.splice(0, BATCH);
          refusedByIngest(await handler.records(trx, file, part));
          ctx.progress.increment(part.length);
        }
      }
      if (batch.length > 0) {
        refusedByIngest(await handler.records(trx, file, batch));
        ctx.progress.increment(batch.length);
      }
      if (!verdictEvent)
        throw new Refused({ reason: 'UNREADABLE', message: 'the parser gave no verdict for the file' });
      // What the reader noticed is said whatever the verdict: a file refused whole is answered too.
      const noticed = verdictEvent.meta?.warnings;
      if (Array.isArray(noticed)) warnings.push(...noticed.map(String));
      if (verdictEvent.verdict === 'rejected') {
        throw new Refused({
          reason: verdictEvent.reason ?? 'REJECTED',
          message: verdictEvent.message ?? 'file rejected',
        });
      }
      const noticedBefore = Array.isArray(noticed) ? noticed.length : 0;
      const late = await handler.end?.(trx, file, verdictEvent);
      if (late && 'reason' in late) throw new Refused(late);
      if (late) refusedByIngest(late.rejects);
      await flushRejects();
      records -= refusedRecords;
      // And what the file's handler found at its end (a sequence gap, an unknown partner).
      const w = verdictEvent.meta?.warnings;
      if (Array.isArray(w)) warnings.push(...w.slice(noticedBefore).map(String));
      await setVerdict(
        trx,
        file.id,
        {
          verdict: verdictEvent.verdict === 'held' ? 'held' : 'accepted',
          reason: verdictEvent.verdict === 'held' ? (verdictEvent.reason ?? 'HELD') : null,
          message: verdictEvent.message ?? null,
          counts: { lines: verdictEvent.account.lines, records, rejects: rejectCount, ...handler.counts?.() },
          ...identityOf(handler, file, verdictEvent),
        },
        { at: ctx.now().toISOString(), businessDate: ctx.businessDate },
      );
    });
  } catch (error) {
    const fault = copyReadError && copyFaultOf(copyReadError.path, copyReadError.error);
    if (fault) return holdUnreadable(ctx, file, fault);
    if (!(error instanceof Refused)) throw error;
    // Nothing of a refused file stays: its verdict, reason and line count are all that is recorded, and
    // the partner it is from, to answer it.
    await setVerdict(
      ctx.db.knex,
      file.id,
      {
        verdict: 'rejected',
        reason: error.refusal.reason,
        message: error.refusal.message,
        counts: { lines: verdictEvent?.account.lines ?? 0, records: 0, rejects: 0 },
        ...identityOf(handler, file, verdictEvent),
      },
      { at: ctx.now().toISOString(), businessDate: ctx.businessDate },
    );
    ctx.logger.warn(
      { file: file.name, feed: file.feed, reason: error.refusal.reason },
      `file rejected: ${error.refusal.message}`,
    );
    return { verdict: 'rejected', reason: error.refusal.reason, records: 0, rejects: 0, warnings };
  }
  return {
    verdict: verdictEvent!.verdict === 'held' ? 'held' : 'accepted',
    records,
    rejects: rejectCount,
    warnings,
  };
}

/**
 * Holds a pending file whose landed copy cannot be read, for an operator (`holdForCopy`): MISSION wants
 * every file accounted for, and one copy gone must not stop the night reading the others. Nothing of it
 * is read or posted; the night's summary names the file and where its copy belongs.
 */
export async function holdUnreadable(
  ctx: JobContext,
  file: FileRow,
  fault: LandedCopyFault,
): Promise<FileOutcome> {
  const held = await holdForCopy(ctx.db.knex, file, fault, {
    at: ctx.now().toISOString(),
    businessDate: ctx.businessDate,
  });
  const warning = `${file.feed}: file ${file.id} (${file.name}) is not read: ${copyFaultMessage(file, fault)}`;
  ctx.logger.warn(
    { file: file.name, feed: file.feed, fileId: file.id, reason: fault.reason, path: fault.path },
    warning,
  );
  return {
    verdict: 'missing',
    reason: fault.reason,
    records: 0,
    rejects: 0,
    warnings: held ? [warning] : [],
  };
}

function identityOf<T>(handler: FeedHandler<T>, file: FileRow, v: VerdictEvent | undefined): FileIdentity {
  if (handler.identity) return handler.identity(file, v);
  return v ? headerFacts(v) : {};
}

/** Partner code and file sequence from a verdict's meta, when the feed has them. */
function headerFacts(v: VerdictEvent): FileIdentity {
  const m = v.meta as
    { partnerCode?: unknown; fileSequence?: unknown; sequence?: unknown; sender?: unknown } | undefined;
  if (!m) return {};
  const seq =
    typeof m.fileSequence === 'number'
      ? m.fileSequence
      : typeof m.sequence === 'number'
        ? m.sequence
        : undefined;
  const partner = typeof m.partnerCode === 'string' ? m.partnerCode : undefined;
  return { ...(partner ? { partnerCode: partner } : {}), ...(seq !== undefined ? { sequence: seq } : {}) };
}
