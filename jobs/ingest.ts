/**
 * `ingest`: reads every landed file that is still pending into the activity archive, in an order that
 * lets later feeds rely on earlier ones (rates and members first, then flights, partners, redemptions,
 * retro-claims). Each file is its own transaction; FTL files of the night form one delivery with the
 * parts held from earlier nights.
 */
import { createReadStream } from 'node:fs';
import { Ledger } from '../ledger/ledger.js';
import type { FeedName } from '../parsers/types.js';
import { Program } from '../rules/program.js';
import {
  FEED_ORDER,
  allianceClaimsHandler,
  allianceResultsHandler,
  flownHandler,
  fxHandler,
  hotelHandler,
  partnerHandler,
  redemptionsHandler,
  retroClaimsHandler,
  type AnyHandler,
} from './ingest-feeds.js';
import { holdUnreadable, ingestFile } from './ingest-file.js';
import { ingestFtlDelivery } from './ingest-ftl.js';
import { membersHandler } from './ingest-members.js';
import { inReadingOrder } from './file-order.js';
import { copyFault, copyPathUnlessRefused, pendingInbound, type FileRow } from './registry.js';
import type { Job, JobContext, JobResult } from './types.js';
import { chunks } from '../lib/chunks.js';
import { validateMemberNumber } from '../rules/check-digit.js';

function handlerFor(
  feed: FeedName,
  ctx: JobContext,
  program: Program,
  ledger: Ledger,
): AnyHandler | undefined {
  switch (feed) {
    case 'flown':
      return flownHandler(ctx, program) as AnyHandler;
    case 'partner':
      return partnerHandler(ctx, program) as AnyHandler;
    case 'hotel':
      return hotelHandler(ctx, program) as AnyHandler;
    case 'alliance-claims':
      return allianceClaimsHandler(ctx, program) as AnyHandler;
    case 'alliance-results':
      return allianceResultsHandler(ctx, program) as AnyHandler;
    case 'redemptions':
      return redemptionsHandler(ctx) as AnyHandler;
    case 'members':
      return membersHandler(ctx, program, ledger) as AnyHandler;
    case 'fx':
      return fxHandler(ctx) as AnyHandler;
    case 'retro-claims':
      return retroClaimsHandler(ctx) as AnyHandler;
    default:
      return undefined;
  }
}

export const ingestJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  const program = new Program(ctx.config);
  const ledger = new Ledger(ctx.db, { now: ctx.now });
  const counts: Record<string, number> = {
    files: 0,
    accepted: 0,
    rejected: 0,
    held: 0,
    records: 0,
    rejects: 0,
  };
  const warnings: string[] = [];
  const pending = await pendingInbound(ctx.db.knex, ctx.businessDate);
  const readNow = new Set(pending.map((f) => f.id));
  // A file whose landed copy is gone (removed by hand, a disk restored without it) or cannot be read is
  // held for an operator, not read: before, its read failed the step, and every file after it that
  // night and every night until the copy came back went unread. Looked at before any feed is read, so
  // that an FTL delivery, read as one, goes on without it too, and a sender's later files are read as
  // they are when an earlier one is held as a name conflict (its sequence gap warned).
  const readable: FileRow[] = [];
  for (const f of pending) {
    const path = copyPathUnlessRefused(ctx.config.paths.landing, f);
    const fault = path === null ? undefined : await copyFault(path);
    if (!fault) {
      readable.push(f);
      continue;
    }
    const r = await holdUnreadable(ctx, f, fault);
    counts.files!++;
    counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
    warnings.push(...r.warnings);
  }
  const total = readable.reduce((s, f) => s + f.size, 0);
  ctx.progress.start('ingest (bytes are estimated as records)', Math.max(1, Math.round(total / 120)));
  for (const feed of FEED_ORDER) {
    if (ctx.signal?.aborted) break;
    // A copy outside the landing folder is refused when the file is read, not here.
    const files = await inReadingOrder(
      feed,
      readable.filter((f) => f.feed === feed),
      (f) => ({
        name: f.name,
        open: () => {
          const path = copyPathUnlessRefused(ctx.config.paths.landing, f);
          return path === null ? null : createReadStream(path);
        },
      }),
    );
    if (feed === 'ftl') {
      const held = Number(
        (await ctx.db.knex('ftl_parts').where({ status: 'held' }).count({ n: '*' }).first())?.n ?? 0,
      );
      if (files.length === 0 && held === 0) continue;
      const r = await ingestFtlDelivery(ctx, program, files);
      counts.files! += r.files;
      // A delivery gives each of the night's files its verdict in the registry: counted from there.
      const ftlIds = files.map((f) => f.id);
      for (const part of chunks(ftlIds, 500)) {
        const byVerdict = (await ctx.db
          .knex('files')
          .whereIn('id', part)
          .groupBy('verdict')
          .select('verdict')
          .count({ n: '*' })) as Array<{ verdict: string; n: number | string }>;
        for (const v of byVerdict) counts[v.verdict] = (counts[v.verdict] ?? 0) + Number(v.n);
      }
      counts.records! += r.records;
      counts.rejects! += r.rejectedRecords;
      counts.ftlHeldParts = r.held;
      counts.ftlExpired = r.expired;
      for (const [k, v] of Object.entries(r.counts)) counts[`ftl.${k}`] = v;
      continue;
    }
    for (const file of files) {
      if (ctx.signal?.aborted) break;
      const handler = handlerFor(feed, ctx, program, ledger);
      if (!handler) continue;
      const r = await ingestFile(ctx, file, handler);
      counts.files!++;
      counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
      counts.records! += r.records;
      counts.rejects! += r.rejects;
      // A file rejected whole leaves nothing behind: what its handler counted was rolled back with it.
      if (r.verdict !== 'rejected') {
        for (const [k, v] of Object.entries(handler.counts()))
          counts[`${feed}.${k}`] = (counts[`${feed}.${k}`] ?? 0) + v;
        for (const e of handler.earlierFiles?.() ?? []) {
          const n = Object.values(e.reasons).reduce((a, b) => a + b, 0);
          counts.rejects! += n;
          if (readNow.has(e.fileId)) {
            // Read by this run: counted then as its records, and as its handler counted them.
            counts.records! -= n;
            for (const [k, v] of Object.entries(e.counts)) {
              const key = `${feed}.${k}`;
              counts[key] = (counts[key] ?? 0) - v;
              if (counts[key] === 0) delete counts[key];
            }
          } else
            // Tonight's rejects by reason are counted below among the files this run read.
            for (const [reason, m] of Object.entries(e.reasons))
              counts[`reject.${reason}`] = (counts[`reject.${reason}`] ?? 0) + m;
        }
      }
      warnings.push(...r.warnings);
      ctx.logger.info(
        { file: file.name, feed, verdict: r.verdict, records: r.records, rejects: r.rejects },
        `ingested ${file.name}`,
      );
    }
  }
  ctx.progress.stop();
  // Rejected lines by reason, for the run's summary (the operator's first question about a night).
  const ids = pending.map((f) => f.id);
  for (const part of chunks(ids, 500)) {
    const byReason = await ctx.db
      .knex('rejects')
      .whereIn('file_id', part)
      .groupBy('reason')
      .select('reason')
      .count({ n: '*' });
    for (const r of byReason as Array<{ reason: string; n: number | string }>) {
      counts[`reject.${r.reason}`] = (counts[`reject.${r.reason}`] ?? 0) + Number(r.n);
    }
  }
  warnings.push(...(await mergesStillWaiting(ctx)));
  return { counts, warnings };
};

/**
 * Merges still waiting for their survivor at the end of ingest, each night until it comes: one waiting
 * for days means the CRM never sent the survivor's record, and the merged member's points stay put. Only
 * the CRM can end the wait, so each says to ask it for that record.
 */
async function mergesStillWaiting(ctx: JobContext): Promise<string[]> {
  const rows = (await ctx.db
    .knex('member_merges_waiting as w')
    .join('files as f', 'f.id', 'w.file_id')
    .orderBy([{ column: 'w.business_date' }, { column: 'w.id' }])
    .select('w.member_number', 'w.merged_into', 'w.line', 'w.business_date', 'f.name as file')) as Array<{
    member_number: string;
    merged_into: string;
    line: number;
    business_date: string;
    file: string;
  }>;
  const rule = ctx.config.program.memberNumber;
  const shown = rows.slice(0, WAITING_MERGES_SHOWN).map((w) => {
    const waits =
      `${w.file} line ${w.line}, merged_into: ${w.member_number} is merged into ${w.merged_into}, not a member yet; ` +
      `the merge waits (since ${String(w.business_date).slice(0, 10)}) for ${w.merged_into}'s record, and ${w.member_number} keeps its points until then: `;
    // Waiting since before the reader held merged_into to the rule: no record can ever enrol it.
    const check = validateMemberNumber(w.merged_into, rule);
    return check.valid
      ? `${waits}ask the CRM to send ${w.merged_into}'s record in the members feed`
      : `${waits}${w.merged_into} is no number of this program (${check.reason === 'CHECK_DIGIT' ? 'its check digit fails' : 'not of its pattern'}), so none will come: ` +
          `ask the CRM to send ${w.member_number}'s record with the survivor's number`;
  });
  const more = rows.length - shown.length;
  return more > 0 ? [...shown, `and ${more} more merges waiting for their survivor`] : shown;
}

/** Enough to act on in a night's summary; the rest are counted. */
const WAITING_MERGES_SHOWN = 20;
