import type { Command } from 'commander';
import { resolve, relative } from 'node:path';
import { openDb } from '../../db/connection.js';
import { addMonths, dateInZone, startOfMonth } from '../../lib/dates.js';
import { UsageError } from '../../lib/errors.js';
import { checkLedger } from '../../ledger/check.js';
import { exampleConfig } from '../../demo/config.js';
import { checkDemoOptions } from '../../demo/generate.js';
import { runDemo } from '../../demo/run.js';
import { PTS_ACCOUNT_KINDS } from '../../reports/common.js';
import type { ActionRunner, CommandContext } from '../context.js';
import { terminalProgress } from '../progress.js';
import { checkLogLevel, createLogger } from '../../lib/log.js';

/**
 * The month before `now`'s in the demo program's time zone: REDEYE_NOW pins it, as it pins a command's
 * default business date. Early on the 1st in Moscow, UTC still reads the month before.
 */
function lastMonth(now: Date): string {
  return addMonths(startOfMonth(dateInZone(now, exampleConfig().program.timeZone)), -1).slice(0, 7);
}

export function registerDemo(program: Command, run: ActionRunner): void {
  program
    .command('demo')
    .description(
      'generate a realistic program into local inbox folders, run every night of a month and the month-end, and say where everything is',
    )
    .option(
      '--dir <dir>',
      'demo folder (./demo holds the generator’s source, so the default is under var/)',
      'var/demo',
    )
    .option('--members <n>', 'members at the start of the month', '50000')
    .option('--month <YYYY-MM>', 'month to run (default: last month)')
    .option('--seed <n>', 'generator seed (the same seed gives the same files)', '1')
    .action(
      run(
        async (ctx: CommandContext, opts: { dir: string; members: string; month?: string; seed: string }) => {
          /** A whole number as typed: Number() reads `1e3` and `0x10` as numbers, and `abc` as NaN. */
          const whole = (option: string, text: string) => {
            if (!/^\d+$/.test(text))
              throw new UsageError(`${option} expects a whole number, got ${text}`, { option });
            return Number(text);
          };
          const { month, members, seed } = checkDemoOptions({
            month: opts.month ?? lastMonth(ctx.now()),
            members: whole('--members', opts.members),
            seed: whole('--seed', opts.seed),
          });
          const dir = resolve(opts.dir);
          ctx.output.out(`Redeye demo: ${members.toLocaleString('en-US')} members, ${month}, in ${dir}`);
          // Nights log their steps at warn level, not at the demo configuration's: the bar and the per-night
          // lines tell the story. --log-level and REDEYE_LOG_LEVEL come first, as in every command.
          const logger = createLogger({
            level:
              checkLogLevel(ctx.options.logLevel, '--log-level') ??
              checkLogLevel(ctx.env.REDEYE_LOG_LEVEL, 'REDEYE_LOG_LEVEL') ??
              'warn',
          });
          const result = await runDemo({
            dir,
            members,
            month,
            seed,
            logger,
            env: ctx.env,
            progress: terminalProgress(),
            onNight: (s, { rejects }) => {
              const c = (job: string, key: string) => s.steps.find((x) => x.job === job)?.counts[key] ?? 0;
              if (!process.stderr.isTTY || s.status !== 'succeeded') {
                ctx.output.out(
                  `  ${s.businessDate}  ${s.status.padEnd(9)} ${s.seconds.toFixed(1).padStart(6)} s  files ${c('ingest', 'files')}  records ${c('ingest', 'records')}  postings ${c('accrue', 'postings')}  rejects ${rejects}`,
                );
              }
              for (const step of s.steps.filter((x) => x.error))
                ctx.output.out(`    ${step.job}: [${step.error!.code}] ${step.error!.message}`);
            },
          });
          const failed =
            result.nights.filter((n) => n.status !== 'succeeded').length +
            (result.monthEnd.status === 'succeeded' ? 0 : 1);
          const db = openDb(result.config.database.url);
          try {
            const knex = db.knex;
            const n = async (q: Promise<unknown>) =>
              Number(((await q) as { n?: number | string } | undefined)?.n ?? 0);
            const postings = await n(knex('postings').count({ n: '*' }).first());
            /** The sum of the points entries of postings of one kind. */
            const pointsOf = (postingKind: string) =>
              n(
                knex('entries as e')
                  .join('accounts as a', 'a.id', 'e.account_id')
                  .join('postings as p', 'p.id', 'e.posting_id')
                  .whereIn('a.kind', PTS_ACCOUNT_KINDS)
                  .andWhere('p.kind', postingKind)
                  .sum({ n: 'e.amount' })
                  .first(),
              );
            const issued = await pointsOf('ACCRUAL');
            const redeemed = await pointsOf('REDEMPTION');
            const files = await n(knex('files').count({ n: '*' }).first());
            const check = await checkLedger(knex);
            const rel = (p: string) => {
              const r = relative(process.cwd(), p);
              return r === '' ? '.' : r.startsWith('..') ? p : r;
            };
            const cfg = result.config;
            ctx.output.out('');
            ctx.output.out(
              `${result.nights.length} nights and the month-end in ${result.seconds.toFixed(0)} s: ${failed === 0 ? 'all succeeded' : `${failed} failed`}`,
            );
            ctx.output.out(
              `  ${postings.toLocaleString('en-US')} postings; ${issued.toLocaleString('en-US')} points issued, ${(-redeemed).toLocaleString('en-US')} redeemed; ${files.toLocaleString('en-US')} files in the registry`,
            );
            ctx.output.out(
              `  ledger check: ${check.ok ? 'all invariants hold' : 'VIOLATIONS — run redeye ledger check'}`,
            );
            ctx.output.out('');
            ctx.output.out(`  configuration   ${rel(cfg.configPath)}`);
            ctx.output.out(`  ledger          ${rel(cfg.database.url.replace(/^sqlite:/, ''))}`);
            ctx.output.out(
              `  reports         ${rel(cfg.paths.reports)}/<date>/   (daily, and monthly for ${month})`,
            );
            ctx.output.out(
              `  exports         ${rel(cfg.paths.outbox)}/<kind>/   delivered to ${rel((cfg.transports.outbox as { root: string }).root)}`,
            );
            ctx.output.out(`  night inputs    ${rel(resolve(dir, 'nights'))}/<date>/`);
            ctx.output.out('');
            // `redeye` is on the PATH only after `npm link`; `npm run redeye` works in any checkout. npm runs a
            // script from the package's folder: a path relative to where the demo ran holds there only if
            // npm ran the demo too.
            const config = ctx.env.npm_lifecycle_event ? rel(cfg.configPath) : cfg.configPath;
            const redeye = `npm run redeye -- --config ${config}`;
            ctx.output.out(`  try: ${redeye} files list --date ${result.plan.businessDates.at(-1)}`);
            ctx.output.out(`       ${redeye} ledger check`);
          } finally {
            await db.close();
          }
          return failed === 0 ? 0 : 1;
        },
      ),
    );
}
