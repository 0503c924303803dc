import type { Command } from 'commander';
import { RedeyeError, UsageError } from '../../lib/errors.js';
import { isIsoDate } from '../../lib/dates.js';
import { fileById, toFileRow } from '../../jobs/registry.js';
import type { ActionRunner, CommandContext } from '../context.js';
import { table } from '../format.js';

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
        const q = ctx.db().knex('files').orderBy('id', 'desc');
        if (opts.date) q.where({ business_date: opts.date });
        if (opts.feed) q.where({ feed: opts.feed });
        const rows = (await q.limit(1000)).map((r: Record<string, unknown>) => toFileRow(r));
        if (opts.json) {
          for (const r of rows) ctx.output.out(JSON.stringify(r));
          return;
        }
        ctx.output.out(
          table(
            ['id', 'dir', 'feed', 'name', 'date', 'verdict', 'reason', 'records', 'rejects'],
            rows.map((r) => [
              r.id,
              r.direction,
              r.feed,
              r.name,
              r.businessDate ?? '',
              r.verdict,
              r.reason ?? '',
              r.counts?.records ?? 0,
              r.counts?.rejects ?? 0,
            ]),
          ),
        );
      }),
    );
  files
    .command('show')
    .argument('<id>', 'file id (from files list)')
    .description('one file: where it came from, its verdict, and what became of each record')
    .option('--json', 'print as JSON')
    .action(
      run(async (ctx: CommandContext, idText: string, opts: { json?: boolean }) => {
        const id = Number(idText);
        if (!Number.isInteger(id)) throw new UsageError(`a file id is a number, got ${idText}`);
        const knex = ctx.db().knex;
        const file = await fileById(knex, id);
        if (!file) throw new RedeyeError('FILE_UNKNOWN', `no file ${id} in the registry`, { fileId: id });
        // Explicit orders throughout: PostgreSQL returns groups in hash order, and sorts NULL last where
        // SQLite sorts it first, so the same file would be shown differently on each engine and run.
        const outcomes = await knex('activities')
          .where({ source_file_id: id })
          .groupBy('status', 'reason')
          .select('status', 'reason')
          .count({ n: '*' })
          .sum({ points: 'points' })
          .orderBy('status')
          .orderByRaw("coalesce(reason, '')");
        const rejects = await knex('rejects')
          .where({ file_id: id })
          .groupBy('reason')
          .select('reason')
          .count({ n: '*' })
          .orderBy('reason');
        const firstRejects = await knex('rejects')
          .where({ file_id: id })
          .orderByRaw('line is null')
          .orderBy([{ column: 'line' }, { column: 'id' }])
          .limit(50)
          .select('line', 'field', 'reason', 'message');
        if (opts.json) {
          ctx.output.out(JSON.stringify({ file, outcomes, rejects, firstRejects }));
          return;
        }
        ctx.output.out(
          `file ${file.id}: ${file.direction === 'in' ? 'received' : 'sent'} ${file.name} (${file.feed})`,
        );
        ctx.output.out(`  size ${file.size} bytes, sha256 ${file.sha256}`);
        ctx.output.out(
          `  business date ${file.businessDate ?? '-'}, ${file.direction === 'in' ? `received ${file.receivedAt}` : `delivered ${file.deliveredAt ?? 'not yet'}`}`,
        );
        if (file.remotePath) ctx.output.out(`  ${file.transport ?? ''}:${file.remotePath}`);
        ctx.output.out(
          `  verdict ${file.verdict}${file.reason ? ` (${file.reason})` : ''}${file.message ? `: ${file.message}` : ''}`,
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
              ['status', 'reason', 'activities', 'points'],
              outcomes.map((o: Record<string, unknown>) => [
                String(o.status),
                String(o.reason ?? ''),
                Number(o.n),
                Number(o.points ?? 0),
              ]),
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
          ctx.output.out('\nfirst rejected lines');
          ctx.output.out(
            table(
              ['line', 'field', 'reason', 'message'],
              firstRejects.map((r: Record<string, unknown>) => [
                Number(r.line ?? 0),
                String(r.field),
                String(r.reason),
                String(r.message ?? ''),
              ]),
            ),
          );
        }
      }),
    );
}
