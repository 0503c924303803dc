/**
 * FTL deliveries: every pending FTL file of the night, together with the parts held from earlier nights,
 * is one delivery. Complete messages become flight activities; parts of incomplete messages are held
 * (not credited, not rejected) until their message completes or the hold time passes, when the message
 * is reported as incomplete. A file whose held parts later complete becomes `accepted`; one whose held
 * parts expire with nothing of it kept becomes `rejected` (INCOMPLETE_MESSAGE). Completed messages are
 * remembered (`ftl_messages`): a part of one sent again a later night is a duplicate, ignored and
 * counted, as it is the same night.
 */
import { createReadStream } from 'node:fs';
import { FtlAssembler } from '../parsers/ftl/index.js';
import type { FtlFileMeta, FtlPassenger } from '../parsers/ftl/model.js';
import type { ParseInput, VerdictEvent } from '../parsers/types.js';
import { ftlDraft, type ActivityRow } from '../rules/activity.js';
import type { Program } from '../rules/program.js';
import {
  completedFtlMessages,
  expiredByFile,
  expiredMessageReject,
  heldFileCounts,
  heldSeedOf,
  rememberCompletedFtlMessages,
  settleHeldFile,
  type FtlFileCounts,
} from './ftl-held.js';
import { storeFlightDrafts } from './ingest-feeds.js';
import { insertRejects, parseRejectRow, type RejectRow } from './ingest-file.js';
import { copyPath, setVerdict, storedCounts, type FileRow } from './registry.js';
import { runsAs, type JobContext } from './types.js';

export interface FtlDeliveryOutcome {
  files: number;
  passengers: number;
  /** Passengers kept and passengers rejected, as the files' counts take them (see `FileCounts`). */
  records: number;
  rejectedRecords: number;
  /** Reject rows filed (an expired message is one row, however many passengers it held). */
  rejects: number;
  held: number;
  expired: number;
  counts: Record<string, number>;
}

const BATCH = 2_000;

export async function ingestFtlDelivery(
  ctx: JobContext,
  program: Program,
  files: FileRow[],
): Promise<FtlDeliveryOutcome> {
  const feed = ctx.config.feeds.ftl;
  const counts: Record<string, number> = {};
  const counter = { add: (k: string, n = 1) => (counts[k] = (counts[k] ?? 0) + n), values: counts };
  let passengers = 0;
  let rejectCount = 0;
  const outcome = await ctx.db.transaction(async (trx) => {
    const heldRows = await trx('ftl_parts').where({ status: 'held' }).select('id', 'part', 'file_id');
    // Each record, reject, verdict and part carries the registry id of its file (a seeded part, that of the
    // file it first arrived in: heldSeedOf). Names do not tell the files apart: two of one delivery may
    // bear the same (`names: reused`, a late file read with the next night's).
    const seeds = heldRows.map(heldSeedOf);
    const completed = await completedFtlMessages(trx);
    const assembler = new FtlAssembler(
      {
        encoding: feed?.encoding ?? 'utf-8',
        ownPrograms: [program.code],
        timeZone: ctx.config.program.timeZone,
        holdTimeoutHours: feed?.holdHours ?? 48,
        // How long a part has waited is judged at the hour the night runs as: a night caught up days
        // later holds what the night on time would have held.
        asOf: runsAs(ctx),
      },
      seeds,
      completed,
    );
    const inputs: ParseInput[] = files.map((f) => ({
      name: f.name,
      open: () => createReadStream(copyPath(ctx.config.paths.landing, f)!),
      receivedAt: new Date(f.receivedAt ?? ctx.now().toISOString()),
      size: f.size,
      fileId: f.id,
    }));
    let drafts: ActivityRow[] = [];
    const rejectsByFile = new Map<number | null, RejectRow[]>();
    const addReject = (fileId: number | undefined, r: RejectRow) => {
      const id = fileId ?? null;
      const list = rejectsByFile.get(id) ?? [];
      list.push(r);
      rejectsByFile.set(id, list);
    };
    const verdicts: VerdictEvent[] = [];
    const flush = async () => {
      await storeFlightDrafts(trx, drafts, ctx.now().toISOString(), counter);
      ctx.progress.increment(drafts.length);
      drafts = [];
    };
    // What each file's passengers became in this delivery, for its counts: kept (archived) or refused.
    const kept = new Map<number, number>();
    const refused = new Map<number, number>();
    const tally = (m: Map<number, number>, id: number | undefined) => {
      if (id !== undefined) m.set(id, (m.get(id) ?? 0) + 1);
    };
    const handle = (p: FtlPassenger, fileId: number | undefined, line: number) => {
      if (p.held) return; // read so every line is accounted for; credited when the message completes
      passengers++;
      const d = ftlDraft(p, program, ctx.businessDate);
      if (!d.ok) {
        tally(refused, fileId);
        addReject(fileId, { line, ...d.rejection, recordRef: p.message });
        return;
      }
      tally(kept, fileId);
      d.activity.sourceFileId = fileId ?? null;
      d.activity.sourceLine = line;
      drafts.push(d.activity);
    };
    for await (const run of assembler.parseRuns(inputs)) {
      for (let i = 0; i < run.length; i++) {
        const event = run[i]!;
        if (event.type === 'record') handle(event.record, event.fileId, event.line);
        else if (event.type === 'reject') addReject(event.fileId, parseRejectRow(event));
        else verdicts.push(event);
      }
      if (drafts.length >= BATCH) await flush();
    }
    if (drafts.length > 0) await flush();
    const result = assembler.result();
    // Incomplete messages past the hold time are reported against the file of their first part.
    for (const m of result.expired) {
      const { file: _file, fileId, ...reject } = expiredMessageReject(m);
      addReject(fileId, reject);
    }
    for (const [fileId, rows] of rejectsByFile) {
      rejectCount += rows.length;
      await insertRejects(trx, ctx, { id: fileId, feed: 'ftl' }, rows);
    }
    const set = { at: ctx.now().toISOString(), businessDate: ctx.businessDate };
    await rememberCompletedFtlMessages(trx, result.completed, (m) => m.fileId, ctx.businessDate);
    await trx('ftl_parts').where({ status: 'held' }).delete();
    for (const h of result.held) {
      await trx('ftl_parts')
        .insert({
          message_key: h.message,
          part_number: h.part,
          part: JSON.stringify(h),
          file_id: h.fileId ?? null,
          received_at: h.receivedAt,
          status: 'held',
        })
        .onConflict(['message_key', 'part_number'])
        .merge();
    }
    for (const m of result.expired) {
      for (const p of m.parts) {
        await trx('ftl_parts')
          .insert({
            message_key: m.message,
            part_number: p.part,
            part: JSON.stringify(p),
            file_id: p.fileId ?? null,
            received_at: p.receivedAt,
            status: 'expired',
          })
          .onConflict(['message_key', 'part_number'])
          .merge();
      }
    }
    // A file's counts: records kept, records rejected (by the reader, the rules, or with a message
    // that expired incomplete) and records held for their message, adding up to the passengers read.
    let records = 0;
    let rejectedRecords = 0;
    const countsOf = new Map<number, FtlFileCounts>();
    for (const v of verdicts) {
      const id = v.fileId;
      if (id === undefined || !files.some((f) => f.id === id)) continue;
      const held = (v.meta as unknown as FtlFileMeta | undefined)?.counts.passengersHeld ?? 0;
      const c: FtlFileCounts = {
        lines: v.account.lines,
        records: kept.get(id) ?? 0,
        rejects: v.account.rejects + (refused.get(id) ?? 0),
        held,
      };
      countsOf.set(id, c);
      records += c.records;
      rejectedRecords += c.rejects;
      await setVerdict(
        trx,
        id,
        { verdict: v.verdict, reason: v.reason ?? null, message: v.message ?? null, counts: c },
        set,
      );
    }
    const stillHeld = new Set(result.held.map((h) => h.fileId).filter((x): x is number => x !== undefined));
    // Tonight's expired parts are stored above: of the stored ones, only earlier nights' add anything.
    const { expiredIn } = await expiredByFile(trx, result.expired, (f) => f.id);
    // Files held until now (from earlier nights, or tonight's whose message expired at once): what
    // their parts became tonight (settleHeldFile, which the simulator shares).
    const held = await trx('files')
      .where({ direction: 'in', feed: 'ftl', verdict: 'held' })
      .select('id', 'counts');
    for (const r of held) {
      const id = Number(r.id);
      let c = countsOf.get(id);
      if (!c) {
        const k = kept.get(id) ?? 0;
        const x = refused.get(id) ?? 0;
        c = heldFileCounts(storedCounts(r.counts), k, x);
        records += k;
        rejectedRecords += x;
      }
      const settled = settleHeldFile(c, stillHeld.has(id), expiredIn.get(id) ?? []);
      if (settled.verdict === 'held') {
        await trx('files')
          .where({ id })
          .update({ counts: JSON.stringify(settled.counts) });
        continue;
      }
      rejectedRecords += settled.expiredPassengers;
      await setVerdict(
        trx,
        id,
        {
          verdict: settled.verdict,
          reason: settled.reason ?? null,
          message: settled.message,
          counts: settled.counts,
        },
        set,
      );
    }
    return { held: result.held.length, expired: result.expired.length, records, rejectedRecords };
  });
  return {
    files: files.length,
    passengers,
    records: outcome.records,
    rejectedRecords: outcome.rejectedRecords,
    rejects: rejectCount,
    held: outcome.held,
    expired: outcome.expired,
    counts,
  };
}
