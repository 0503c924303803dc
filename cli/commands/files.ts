import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Config } from '../../config/schema.js';
import type { Knex } from 'knex';
import { UsageError } from '../../lib/errors.js';
import { dateInZone, isIsoDate, type IsoDate } from '../../lib/dates.js';
import {
  decideHeld,
  fileById,
  type VerdictSet,
  settingOf,
  toFileRow,
  type FileRow,
  withCopyResolved,
  unknownFile,
} from '../../jobs/registry.js';
import type { ActionRunner, CommandContext } from '../context.js';
import { relinkCopies, type RefusedRow, type RelinkResult } from '../../jobs/relink.js';
import { recordReasonText } from '../../exporters/partner-reasons.js';
import { idAsSent, ruleMessage, type ActivityDetail } from '../../rules/activity.js';
import { rejectedClaimText } from '../../jobs/retro-claims.js';
import { EXPORT_KINDS, WITHDRAWN, type ExportKind } from '../../exporters/outbox.js';
import { FEED_NAMES } from '../../parsers/types.js';
import { table } from '../format.js';
import { lastBusinessDate } from './run.js';
import { TransportsByName } from '../../transports/index.js';

/** How many rejected lines `files show` lists; the rest are counted (`more`). */
const SHOWN_REJECTS = 50;

/**
 * A line of the file that became nothing: a record the reader refused (`rejects`, kind `record`), or an
 * activity the rules refused when the night applied them (status REJECTED, kind `activity`).
 */
interface RejectedLine {
  line: number | null;
  kind: 'record' | 'activity' | 'claim';
  reason: string;
  member: string | null;
  /** The activity's key, or the record's own reference (partner transaction id, claim id). */
  ref: string | null;
  field: string | null;
  message: string | null;
  /** For the order only: the row's id in its table. */
  id: number;
}

/**
 * What the rule said of a refused activity, as accrue kept it. An activity decided before migration 012
 * has no message; a second coupon for a flight still names in its detail the coupon that stands.
 */
function ruleMessageOf(r: Record<string, unknown>): string | null {
  // Only a second coupon's detail is read: most rows' detail says nothing of a standing coupon.
  const detail =
    typeof r.detail === 'string' && r.detail.includes('duplicateOf')
      ? (JSON.parse(r.detail) as ActivityDetail)
      : null;
  return ruleMessage(
    (r.reason as string | null) ?? null,
    typeof r.reason_message === 'string' ? r.reason_message : null,
    detail,
  );
}

interface ClaimOutcomes {
  /** Claims by status (CREDITED, REJECTED, PENDING) and reason, with the points their credits posted. */
  outcomes: Array<{ status: string; reason: string | null; n: number; points: number }>;
  /** The first rejected claims, as rejected lines. */
  rejected: Array<RejectedLine>;
}

/**
 * What became of each claim of a retro-claims file: credited (with the points the flight's credit
 * posted), rejected with its reason, or waiting; in the words `redeye simulate` uses for them.
 */
async function claimsOf(knex: Knex, fileId: number, window: Config['retroClaims']): Promise<ClaimOutcomes> {
  const grouped = (await knex('retro_claims as c')
    .leftJoin('activities as a', 'a.activity_key', 'c.activity_key')
    .where('c.source_file_id', fileId)
    .groupBy('c.status', 'c.reason')
    .select('c.status', 'c.reason')
    .count({ n: '*' })
    .select(knex.raw("coalesce(sum(CASE WHEN c.status = 'CREDITED' THEN a.points ELSE 0 END), 0) AS points"))
    .orderBy('c.status')
    .orderByRaw("coalesce(c.reason, '')")) as Array<Record<string, unknown>>;
  // The flight a claim was refused for gives its date to the message: a claim by ticket names none.
  const rejected = (await knex('retro_claims as c')
    .leftJoin('activities as a', 'a.activity_key', 'c.activity_key')
    .where({ 'c.source_file_id': fileId, 'c.status': 'REJECTED' })
    .orderBy('c.id')
    .limit(SHOWN_REJECTS)
    .select(
      'c.id',
      'c.claim_id',
      'c.member_number',
      'c.reason',
      'c.activity_key',
      'c.claim',
      'a.activity_date as flight_date',
    )) as Array<Record<string, unknown>>;
  return {
    outcomes: grouped.map((o) => ({
      status: String(o.status),
      reason: (o.reason as string | null) ?? null,
      n: Number(o.n),
      points: Number(o.points ?? 0),
    })),
    rejected: rejected.map((c): RejectedLine => {
      const reason = (c.reason as string | null) ?? 'REJECTED';
      const { line, message } = rejectedClaimText(
        {
          claim: c.claim,
          reason,
          activityKey: (c.activity_key as string | null) ?? null,
          flightDate: (c.flight_date as IsoDate | null) ?? null,
        },
        window,
      );
      return {
        line,
        kind: 'claim',
        reason,
        member: (c.member_number as string | null) ?? null,
        ref: idAsSent(String(c.claim_id)),
        field: null,
        message,
        id: Number(c.id),
      };
    }),
  };
}

/**
 * The feeds the registry records: what comes in (a parser's feed, as the fetch job registers it) and
 * what goes out (an export's kind, as the outbox registers it). `alliance-claims` is both.
 */
const REGISTRY_FEEDS: readonly string[] = [...new Set<string>([...FEED_NAMES, ...EXPORT_KINDS])];

/** An unknown `--feed` is a usage error, as `redeye parse bogus` is, not an empty list. */
function registryFeed(feed: string): string {
  if (REGISTRY_FEEDS.includes(feed)) return feed;
  throw new UsageError(
    `unknown feed ${JSON.stringify(feed)}; incoming feeds: ${FEED_NAMES.join(', ')}; ` +
      `outgoing (export kinds): ${EXPORT_KINDS.join(', ')}`,
    { option: '--feed' },
  );
}

/**
 * The count of an outgoing file that says how many records it carries, by kind (`files.counts` as
 * jobs/export.ts writes it). A hotel response answers one stay file with warnings and errors, not
 * records: none. Outgoing files have no rejects of their own: that column stays empty for them.
 */
const OUTGOING_RECORDS: Record<ExportKind, string | null> = {
  'partner-response': 'details',
  'hotel-response': null,
  'alliance-claims': 'claims',
  'alliance-results': 'results',
  invoice: 'invoices',
  'invoice-statement': 'lines',
  mailing: 'recipients',
};

/** The records and rejects columns of `files list`: a received file's counts; what a sent one carries. */
function listedCounts(r: FileRow): [number | '', number | ''] {
  if (r.direction === 'in') return [r.counts?.records ?? 0, r.counts?.rejects ?? 0];
  const key = (OUTGOING_RECORDS as Record<string, string | null | undefined>)[r.feed] ?? null;
  const records = key === null ? undefined : r.counts?.[key];
  return [records ?? '', ''];
}

/** Rows `files list` reads at a time: the registry is listed whole, in bounded memory. */
const LIST_PAGE = 500;

/** `1015`, and `1,015` as `files list` printed ids before, so a copied id still works. */
function parseFileId(text: string): number | undefined {
  const digits = /^\d{1,3}(,\d{3})+$/.test(text) ? text.replaceAll(',', '') : text;
  // Beyond the largest exact number an id would be rounded, and the error would name an id never typed.
  return /^\d+$/.test(digits) && Number(digits) <= Number.MAX_SAFE_INTEGER ? Number(digits) : undefined;
}

export function registerFiles(program: Command, run: ActionRunner): void {
  const files = program
    .command('files')
    .description('the file registry: what came in, what went out, and what became of it');
  files
    .command('list')
    .description('files by business date (default: all), newest first')
    .option('-d, --date <YYYY-MM-DD>', 'business date')
    .option('--feed <feed>', 'only this feed or export kind')
    .option('--json', 'print as JSON lines')
    .action(
      run(async (ctx: CommandContext, opts: { date?: string; feed?: string; json?: boolean }) => {
        if (opts.date && !isIsoDate(opts.date))
          throw new UsageError(`--date expects YYYY-MM-DD, got ${opts.date}`);
        const feed = opts.feed === undefined ? undefined : registryFeed(opts.feed);
        const knex = ctx.db().knex;
        // Every file, newest first, a page at a time (keyset on id), up to the newest there is now: a
        // file registered while the list is printed is not half in it. The list once stopped at 1,000
        // rows without a word.
        const top = (await knex('files').max({ id: 'id' }).first()) as
          { id: number | string | null } | undefined;
        const newest = top?.id === null || top?.id === undefined ? 0 : Number(top.id);
        const pages = async function* (): AsyncGenerator<FileRow[]> {
          let below = newest + 1;
          for (;;) {
            const q = knex('files').where('id', '<', below).orderBy('id', 'desc').limit(LIST_PAGE);
            if (opts.date) q.where({ business_date: opts.date });
            if (feed) q.where({ feed });
            const page = (await q).map((r: Record<string, unknown>) => toFileRow(r));
            if (page.length === 0) return;
            yield page;
            if (page.length < LIST_PAGE) return;
            below = page.at(-1)!.id;
          }
        };
        const wait = async () => {
          await ctx.output.drain?.();
        };
        if (opts.json) {
          for await (const page of pages()) {
            for (const r of page) ctx.output.out(JSON.stringify(withCopyResolved(ctx.config.paths, r)));
            await wait();
          }
          return;
        }
        const headers = ['id', 'dir', 'feed', 'name', 'date', 'verdict', 'reason', 'records', 'rejects'];
        const cells = (r: FileRow): string[] => {
          const [records, rejects] = listedCounts(r);
          const n = (v: number | '') => (v === '' ? '' : v.toLocaleString('en-US'));
          return [
            String(r.id),
            r.direction,
            r.feed,
            r.name,
            r.businessDate ?? '',
            r.verdict,
            r.reason ?? '',
            n(records),
            n(rejects),
          ];
        };
        // The table of cli/format.ts, printed a page at a time: a first pass over the pages finds the
        // columns' widths, the second prints. Ids and counts are right-aligned; ids without separators.
        const widths = headers.map((h) => h.length);
        let count = 0;
        for await (const page of pages()) {
          for (const r of page) cells(r).forEach((c, i) => (widths[i] = Math.max(widths[i]!, c.length)));
          count += page.length;
        }
        const right = new Set([0, 7, 8]);
        const fmt = (r: string[]) =>
          r
            .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
            .join('  ')
            .trimEnd();
        if (count === 0) {
          ctx.output.out(table(headers, []));
          return;
        }
        ctx.output.out(fmt(headers));
        ctx.output.out(fmt(widths.map((w) => '-'.repeat(w))));
        for await (const page of pages()) {
          for (const r of page) ctx.output.out(fmt(cells(r)));
          await wait();
        }
      }),
    );
  files
    .command('show')
    .argument('<id>', 'file id (from files list)')
    .description('one file: where it came from, its verdict, and what became of each record')
    .option('--json', 'print as JSON')
    .action(
      run(async (ctx: CommandContext, idText: string, opts: { json?: boolean }) => {
        const id = fileIdArgument(idText);
        const knex = ctx.db().knex;
        const file = await fileById(knex, id);
        if (!file) throw unknownFile(id);
        // Explicit orders throughout: PostgreSQL returns groups in hash order, and sorts NULL last where
        // SQLite sorts it first, so the same file would be shown differently on each engine and run.
        // Points posted: a refused activity keeps the points it asked for (a redemption larger than the
        // balance, -100,064,999), and one not decided yet or not ours has none.
        const outcomes = await knex('activities')
          .where({ source_file_id: id })
          .groupBy('status', 'reason')
          .select('status', 'reason')
          .count({ n: '*' })
          .select(
            knex.raw(
              "coalesce(sum(CASE WHEN status IN ('POSTED', 'PARTIAL', 'REVERSED') THEN points ELSE 0 END), 0) AS points",
            ),
          )
          .orderBy('status')
          .orderByRaw("coalesce(reason, '')");
        // A record may post for an activity another file brought (a refund reverses a coupon credited
        // the night before): counted from the ledger, so such a record is not missing from its file.
        const postings = await knex('postings')
          .where({ source_file_id: id })
          .groupBy('kind')
          .select('kind')
          .count({ n: '*' })
          .orderBy('kind');
        const rejects = await knex('rejects')
          .where({ file_id: id })
          .groupBy('reason')
          .select('reason')
          .count({ n: '*' })
          .orderBy('reason');
        const records = (
          await knex('rejects')
            .where({ file_id: id })
            .orderByRaw('line is null')
            .orderBy([{ column: 'line' }, { column: 'id' }])
            .limit(SHOWN_REJECTS)
            .select('id', 'line', 'field', 'reason', 'message', 'member_number', 'record_ref')
        ).map((r: Record<string, unknown>): RejectedLine => ({
          line: r.line === null ? null : Number(r.line),
          kind: 'record',
          reason: String(r.reason),
          member: (r.member_number as string | null) ?? null,
          ref: (r.record_ref as string | null) ?? null,
          field: (r.field as string | null) ?? null,
          message: (r.message as string | null) ?? null,
          id: Number(r.id),
        }));
        const refused = (
          await knex('activities as a')
            .where({ 'a.source_file_id': id, 'a.status': 'REJECTED' })
            .orderByRaw('a.source_line is null')
            .orderBy([{ column: 'a.source_line' }, { column: 'a.id' }])
            .limit(SHOWN_REJECTS)
            // The survivor kept with the activity when it was rejected, as the partner's response names it.
            .select('a.id', 'a.source_line', 'a.reason', 'a.member_number', 'a.activity_key', 'a.merged_into')
            .select('a.reason_field', 'a.reason_message', 'a.detail')
        ).map((r: Record<string, unknown>): RejectedLine => ({
          line: r.source_line === null ? null : Number(r.source_line),
          kind: 'activity',
          reason: (r.reason as string | null) ?? '',
          member: (r.member_number as string | null) ?? null,
          ref: (r.activity_key as string | null) ?? null,
          field: (r.reason_field as string | null) ?? null,
          message: recordReasonText(
            (r.reason as string | null) ?? null,
            (r.merged_into as string | null) ?? null,
            true,
            { message: ruleMessageOf(r), feed: file.feed },
          ),
          id: Number(r.id),
        }));
        // A retro-claim's outcome is in retro_claims, not in an activity of the file: the flight it
        // credits came in another file.
        const claims = file.feed === 'retro-claims' ? await claimsOf(knex, id, ctx.config.retroClaims) : null;
        // Counted already: the rejects by reason, and the activities (or claims) by status.
        const total =
          rejects.reduce((n, r) => n + Number(r.n), 0) +
          [...(outcomes as Array<{ status: string; n: number | string }>), ...(claims?.outcomes ?? [])]
            .filter((o) => o.status === 'REJECTED')
            .reduce((n, o) => n + Number(o.n), 0);
        // By line (none last); on one line the reader's reject before the rules', then in the order made.
        const firstRejects = [...records, ...refused, ...(claims?.rejected ?? [])]
          .sort(
            (a, b) =>
              (a.line === null ? 1 : 0) - (b.line === null ? 1 : 0) ||
              (a.line ?? 0) - (b.line ?? 0) ||
              (a.kind === b.kind ? 0 : a.kind === 'record' ? -1 : 1) ||
              a.id - b.id,
          )
          .slice(0, SHOWN_REJECTS)
          .map(({ id: _id, ...r }) => r);
        const more = total - firstRejects.length;
        if (opts.json) {
          ctx.output.out(
            JSON.stringify({
              file: withCopyResolved(ctx.config.paths, file),
              outcomes,
              ...(claims ? { claims: claims.outcomes } : {}),
              postings,
              rejects,
              firstRejects,
              more,
            }),
          );
          return;
        }
        ctx.output.out(
          `file ${file.id}: ${file.direction === 'in' ? 'received' : 'sent'} ${file.name} (${file.feed})`,
        );
        ctx.output.out(`  size ${file.size} bytes, sha256 ${file.sha256}`);
        ctx.output.out(
          `  business date ${file.businessDate ?? '-'}, ${file.direction === 'in' ? `received ${file.receivedAt}` : `delivered ${file.deliveredAt ?? (file.verdict === WITHDRAWN ? 'never' : 'not yet')}`}`,
        );
        if (file.remotePath) ctx.output.out(`  ${file.transport ?? ''}:${file.remotePath}`);
        // The copy Redeye keeps: the retention step removes it whole after its period (retention.*Days).
        if (file.localPath) {
          const copy = withCopyResolved(ctx.config.paths, file).localPath;
          ctx.output.out(
            copy === null
              ? `  copy ${file.localPath} (outside this installation's ${settingOf(file.direction)}: not used)`
              : `  copy ${copy}${existsSync(copy) ? '' : file.verdict === WITHDRAWN ? ' (removed: withdrawn, never sent)' : ' (removed: retention, or by hand)'}`,
          );
        }
        ctx.output.out(
          `  verdict ${file.verdict}${file.reason ? ` (${file.reason})` : ''}${file.message ? `: ${file.message}` : ''}`,
        );
        if (file.decision)
          ctx.output.out(
            `  ${file.decision} by ${file.decidedBy ?? '?'} at ${file.decidedAt ?? '?'}${file.decisionReason ? `: ${file.decisionReason}` : ''}`,
          );
        if (file.verdict === 'conflict')
          ctx.output.out(
            `  held for an operator: \`redeye files release ${file.id}\` reads it as a new file at the next ingest; \`redeye files discard ${file.id} --reason "…"\` never reads it`,
          );
        if (file.verdict === 'missing')
          ctx.output.out(
            `  held for an operator: put the file received back at its copy's path, then \`redeye files release ${file.id}\` reads it at the next ingest; \`redeye files discard ${file.id} --reason "…"\` never reads it`,
          );
        if (file.counts)
          ctx.output.out(
            `  counts ${Object.entries(file.counts)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}`,
          );
        if (outcomes.length > 0) {
          ctx.output.out('\nwhat became of its records');
          ctx.output.out(
            table(
              ['status', 'reason', 'activities', 'points posted'],
              outcomes.map((o: Record<string, unknown>) => [
                String(o.status),
                String(o.reason ?? ''),
                Number(o.n),
                Number(o.points ?? 0),
              ]),
            ),
          );
        }
        if (claims && claims.outcomes.length > 0) {
          ctx.output.out('\nwhat became of its claims');
          ctx.output.out(
            table(
              ['status', 'reason', 'claims', 'points posted'],
              claims.outcomes.map((o) => [o.status, o.reason ?? '', o.n, o.points]),
            ),
          );
        }
        if (postings.length > 0) {
          ctx.output.out('\npostings made from its records');
          ctx.output.out(
            table(
              ['kind', 'postings'],
              postings.map((p: Record<string, unknown>) => [String(p.kind), Number(p.n)]),
            ),
          );
        }
        if (rejects.length > 0) {
          ctx.output.out('\nrejected lines by reason');
          ctx.output.out(
            table(
              ['reason', 'lines'],
              rejects.map((r: Record<string, unknown>) => [String(r.reason), Number(r.n)]),
            ),
          );
        }
        if (firstRejects.length > 0) {
          ctx.output.out(
            more > 0 ? `\nfirst ${firstRejects.length} rejected lines of ${total}` : '\nrejected lines',
          );
          ctx.output.out(
            table(
              ['line', 'kind', 'reason', 'member', 'record', 'field', 'message'],
              firstRejects.map((r) => [
                r.line ?? '-',
                r.kind,
                r.reason,
                r.member ?? '',
                r.ref ?? '',
                r.field ?? '',
                r.message ?? '',
              ]),
              { plain: ['line'] },
            ),
          );
          if (more > 0) ctx.output.out(`… and ${more} more rejected line(s) not shown`);
        }
      }),
    );
  files
    .command('release')
    .argument('<id>', 'file id of a file held as a name conflict or for its landed copy (from files list)')
    .description(
      'reads a file held for an operator as a new file at the next ingest; records already posted from an earlier copy are rejected as duplicates, never posted twice; a file held for its landed copy only once the copy is back with the bytes received',
    )
    .option('--reason <text>', 'why, kept with the file')
    .option('--by <name>', 'who decides (default: the login running the command)')
    .action(
      run(async (ctx: CommandContext, idText: string, opts: { reason?: string; by?: string }) => {
        const id = fileIdArgument(idText);
        const file = await decideHeld(
          ctx.db().knex,
          id,
          { decision: 'released', by: operator(ctx, opts.by), reason: opts.reason ?? null },
          decidedNow(ctx),
          ctx.config.paths.landing,
        );
        ctx.output.out(
          `file ${file.id} (${file.name}, ${file.feed}) released by ${file.decidedBy} at ${file.decidedAt}: ` +
            'the next ingest reads it (the next night, or now with `redeye run ingest`)',
        );
      }),
    );
  files
    .command('discard')
    .argument('<id>', 'file id of a file held as a name conflict or for its landed copy (from files list)')
    .description('drops a file held for an operator: it is never read; the decision is recorded with it')
    .requiredOption('--reason <text>', 'why, kept with the file')
    .option('--by <name>', 'who decides (default: the login running the command)')
    .action(
      run(async (ctx: CommandContext, idText: string, opts: { reason: string; by?: string }) => {
        const id = fileIdArgument(idText);
        if (opts.reason.trim() === '')
          throw new UsageError('--reason must say why the file is discarded', { option: '--reason' });
        const file = await decideHeld(
          ctx.db().knex,
          id,
          { decision: 'discarded', by: operator(ctx, opts.by), reason: opts.reason.trim() },
          decidedNow(ctx),
        );
        ctx.output.out(
          `file ${file.id} (${file.name}, ${file.feed}) discarded by ${file.decidedBy} at ${file.decidedAt}: it will not be read`,
        );
      }),
    );
  files
    .command('relink')
    .description(
      "points the registry's copies refused as outside this installation's folders (FILE_COPY_OUTSIDE) at the same files where they are now: each refused copy under --from, found under --to with the size and sha256 the registry recorded, or (--removed-by-retention) missing where retention has removed it",
    )
    .requiredOption(
      '--from <dir>',
      "the folder the copies were in (the old installation's paths.landing or paths.outbox)",
    )
    .option(
      '--to <dir>',
      "where they are now, in paths.landing or paths.outbox (default: the configured folder of each file's direction)",
    )
    .option(
      '--removed-by-retention',
      'also relink the rows whose copy is gone and that retention removes by now (read, or delivered, before their period), to where Redeye lays that file out',
    )
    .option('--dry-run', 'check and say what would be relinked; change nothing')
    .option('--json', 'print as JSON')
    .action(
      run(
        async (
          ctx: CommandContext,
          opts: { from: string; to?: string; removedByRetention?: boolean; dryRun?: boolean; json?: boolean },
        ) => {
          const transports = new TransportsByName(ctx.config.transports, {
            env: ctx.env,
            logger: ctx.logger,
          });
          let result: RelinkResult;
          try {
            result = await relinkCopies(ctx.db(), ctx.config.paths, {
              from: opts.from,
              ...(opts.to === undefined ? {} : { to: opts.to }),
              dryRun: opts.dryRun ?? false,
              removedByRetention: opts.removedByRetention ?? false,
              today: dateInZone(ctx.now(), ctx.config.program.timeZone),
              // The night that has ended last: its retention, run or about to run, removes those copies.
              businessDate: lastBusinessDate(ctx),
              retention: ctx.config.retention,
              sharedOutbox: { name: ctx.config.exports.outbox, transports },
            });
          } finally {
            await transports.close();
          }
          if (opts.json) ctx.output.out(JSON.stringify(result));
          else printRelinked(ctx, result);
          ctx.logger.info(
            {
              from: result.from,
              // With the path each held before: what puts a row back by hand.
              relinked: result.relinked.map((r) => ({
                id: r.id,
                stored: r.stored,
                localPath: r.localPath,
                ...(r.removedByRetention ? { removedByRetention: true } : {}),
              })),
              left: result.left.map((r) => ({ id: r.id, reason: r.reason })),
              dryRun: result.dryRun,
            },
            `files relink: ${result.relinked.length} ${result.dryRun ? 'to relink' : 'relinked'}, ${result.left.length} left`,
          );
          // A copy under --from still refused is still a warning every night: the operator has more to do.
          return result.left.length > 0 ? 1 : 0;
        },
      ),
    );
}

function printRelinked(ctx: CommandContext, result: RelinkResult): void {
  const named = (r: RefusedRow) => `file ${r.id} (${r.name}, ${r.feed})`;
  for (const r of result.relinked) {
    const gone = r.removedByRetention;
    ctx.output.out(
      `${result.dryRun ? 'would relink' : 'relinked'} ${named(r)}: ` +
        (gone
          ? `copy already removed by retention (${gone.setting}: ${gone.days} days, business date before ${gone.before}): ${r.stored} -> ${r.localPath} in ${r.setting}`
          : `${r.stored} -> ${r.localPath} in ${r.setting} (${r.path})`),
    );
  }
  for (const r of result.left) ctx.output.out(`left ${named(r)} [${r.reason}]: ${r.message}`);
  const { count, first } = result.elsewhere;
  if (count > 0) {
    const more = count > first.length ? ` and ${count - first.length} more` : '';
    ctx.output.out(
      `${count} other refused cop${count === 1 ? 'y lies' : 'ies lie'} outside ${result.from}, not looked at: ` +
        `file id${count === 1 ? '' : 's'} ${first.map((r) => r.id).join(', ')}${more}, e.g. ${named(first[0]!)} at ${first[0]!.stored}`,
    );
  }
  const waiting = result.left.filter((r) => r.reason === 'REMOVED_BY_RETENTION').length;
  const left =
    result.left.length === 0
      ? ''
      : `; ${result.left.length} under ${result.from} left as they are, still refused (FILE_COPY_OUTSIDE)` +
        (waiting === 0
          ? ''
          : `, ${waiting} of them whose cop${waiting === 1 ? 'y' : 'ies'} retention has removed: --removed-by-retention relinks ${waiting === 1 ? 'it' : 'them'}`);
  const gone = result.relinked.filter((r) => r.removedByRetention).length;
  const found = result.relinked.length - gone;
  const removed =
    gone === 0
      ? ''
      : `; ${gone} ${result.dryRun ? 'would be relinked' : 'relinked'} whose cop${gone === 1 ? 'y' : 'ies'} retention had already removed`;
  ctx.output.out(
    result.dryRun
      ? `dry run: ${found} would be relinked${removed}${left}; nothing changed`
      : `${found} relinked${removed}${left}`,
  );
}

function fileIdArgument(text: string): number {
  const id = parseFileId(text);
  if (id === undefined)
    throw new UsageError(`a file id is a whole number up to ${Number.MAX_SAFE_INTEGER}, got ${text}`);
  return id;
}

/**
 * An operator's decision belongs to the day it is made, in the program's time zone: the daily report of
 * the night that held the file, made again after, still shows it held; tonight's shows the decision.
 */
function decidedNow(ctx: CommandContext): VerdictSet {
  const now = ctx.now();
  return { at: now.toISOString(), businessDate: dateInZone(now, ctx.config.program.timeZone) };
}

/** Who decides: `--by`, else the login (through sudo, the person's own), as the registry records it. */
function operator(ctx: CommandContext, by: string | undefined): string {
  const name = by?.trim() || ctx.env.SUDO_USER || ctx.env.USER || ctx.env.LOGNAME || safeLogin();
  if (!name) throw new UsageError('cannot tell who is deciding: give --by <name>', { option: '--by' });
  return name.slice(0, 128);
}

function safeLogin(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}
