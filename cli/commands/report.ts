import { resolve } from 'node:path';
import type { Command } from 'commander';
import { endOfMonth, type IsoDate } from '../../lib/dates.js';
import { RedeyeError, UsageError } from '../../lib/errors.js';
import { chartNumberFormatter } from '../../reports/charts.js';
import { findCustomReport } from '../../reports/custom.js';
import {
  describePartlyRefused,
  describeReaddressed,
  describeRerun,
  queueReportMail,
  sendOutbox,
  type SendOutboxResult,
} from '../../reports/outbox.js';
import { produceReport, reportNames } from '../../reports/produce.js';
import type { ActionRunner, CommandContext } from '../context.js';
import { table } from '../format.js';
import { terminalProgress } from '../progress.js';
import { describeFailedMail, RETRY_FAILED_HINT } from '../../jobs/deliver-mail.js';
import { fetchRefusal, monthEndRefusal } from '../../jobs/runner.js';
import { abortOnSignals, businessDateOption, jobContext } from './run.js';

interface ReportOptions {
  date?: string;
  out?: string;
  send?: boolean;
  retryFailed?: boolean;
  json?: boolean;
}

/**
 * Prints what became of the report mail. Exit 1 while a mail could not be sent: one that failed now,
 * one refused for good (listed, with the command that sends it again), one some recipients refused for
 * good that its list names one who has not had, one still pending, or a run stopped on request.
 */
function printSendResult(ctx: CommandContext, result: SendOutboxResult, json: boolean | undefined): number {
  if (json) ctx.output.out(JSON.stringify(result));
  else {
    ctx.output.out(
      `report mail: ${result.sent} sent` +
        (result.toNoOneNew > 0 ? ` (${result.toNoOneNew} to no one new)` : '') +
        `, ${result.failed} failed for good, ${result.pending} pending` +
        (result.readdressed.length > 0 ? `, ${result.readdressed.length} readdressed` : '') +
        (result.partlyRefused.length > 0 ? `, ${result.partlyRefused.length} partly refused` : '') +
        (result.held.length > 0 ? `, ${result.held.length} being sent by another process` : ''),
    );
    for (const r of result.readdressed) ctx.output.out(`  ${describeReaddressed(r)}`);
    for (const e of result.errors)
      ctx.output.out(`  ${e.report} ${e.businessDate}${e.server ? ` (SMTP ${e.server})` : ''}: ${e.message}`);
    for (const m of result.partlyRefused) ctx.output.out(`  ${describePartlyRefused(m)}`);
    for (const c of result.reclaimed)
      ctx.output.out(
        `  ${c.report} ${c.businessDate}: taken back from ${c.claimant ?? 'a sender'}, which ended while ` +
          'sending it, and sent again (a duplicate is possible if the server had accepted it)',
      );
    for (const c of result.held)
      ctx.output.out(
        `  ${c.report} ${c.businessDate}: being sent by ${c.claimant ?? 'another sender'} since ` +
          `${c.claimedAt ?? 'an unknown time'}`,
      );
    if (result.failedMails.length > 0) {
      ctx.output.out('failed for good (not tried again):');
      for (const mail of result.failedMails) ctx.output.out(`  ${describeFailedMail(mail)}`);
      ctx.output.out(`  ${RETRY_FAILED_HINT}`);
    }
    if (result.stopped) ctx.output.out(`${result.stopped}: the mail not sent stays pending`);
  }
  return sendExitCode(result);
}

/**
 * Refuses to mail report `name` for `date` when the night would refuse to: a month's report (the monthly
 * report, or a custom one scheduled monthly, for the month's last day) while that night is not complete,
 * as `run monthly` does (NIGHT_INCOMPLETE); any other while the date's last fetch has not succeeded, as
 * `run report` does (NOT_FETCHED). Mailed, the figures of part of the files stay with the list: a rerun
 * leaves a mail someone has as it was. The workbook alone can be made, and is made again by the rerun.
 */
async function refuseMailBeforeTheNight(ctx: CommandContext, name: string, date: IsoDate): Promise<void> {
  const custom = findCustomReport(ctx.config, name);
  // An unknown name is left to produceReport, which says which reports there are.
  if (name !== 'daily' && name !== 'monthly' && custom === undefined) return;
  const monthReport = name === 'monthly' || (custom?.schedule === 'monthly' && endOfMonth(date) === date);
  const job = jobContext(ctx, date);
  const refused = monthReport ? await monthEndRefusal(job) : await fetchRefusal(job, 'report');
  if (refused === undefined) return;
  throw new RedeyeError(
    refused.code,
    `${refused.message}. Without --send, report ${name} --date ${date} makes the workbook from what is ` +
      'posted now and mails nothing',
    { report: name, businessDate: date },
  );
}

function sendExitCode(result: SendOutboxResult): number {
  const unsent =
    result.errors.length > 0 ||
    result.failed > 0 ||
    result.partlyRefused.length > 0 ||
    result.pending > 0 ||
    result.stopped !== undefined;
  return unsent ? 1 : 0;
}

export function registerReport(program: Command, run: ActionRunner): void {
  program
    .command('report')
    .description(
      'produce a report workbook with its charts (daily, monthly, or a custom report from reports.custom), ' +
        'or send the report mail waiting in the outbox (report send)',
    )
    .argument('<name>', 'daily, monthly, the name of a custom report, or send')
    .option('--date <YYYY-MM-DD>', 'business date of the report (required for a report)')
    .option('--out <dir>', 'folder for the workbook and charts (default: paths.reports/<date>)')
    .option('--send', 'queue the report for its distribution list and send it now')
    .option(
      '--retry-failed',
      'with send: also retry mail refused for good (by every recipient, or by some: then to those the list ' +
        'names now who have not had it), to its list as configured now',
    )
    .option('--json', 'print the result as JSON')
    .action(
      run(async (ctx: CommandContext, name: string, opts: ReportOptions) => {
        const db = ctx.db();
        const config = ctx.config;
        if (name === 'send') {
          if (opts.date !== undefined || opts.out !== undefined || opts.send) {
            throw new UsageError('report send takes no --date, --out or --send: it sends everything pending');
          }
          const stop = abortOnSignals();
          try {
            const result = await sendOutbox(db, config, {
              env: ctx.env,
              logger: ctx.logger,
              now: ctx.now,
              retryFailed: opts.retryFailed === true,
              signal: stop.signal,
            });
            return printSendResult(ctx, result, opts.json);
          } finally {
            stop.dispose();
          }
        }
        if (opts.date === undefined) {
          throw new UsageError(
            `report ${name} needs --date YYYY-MM-DD (reports: ${reportNames(config).join(', ')})`,
          );
        }
        // The monthly report is the month's: it waits for the month's last day, as the month-end does.
        const date = businessDateOption(ctx, opts.date, {
          ended: { what: `report ${name}`, monthEnd: name === 'monthly' },
        });
        if (opts.retryFailed) throw new UsageError('--retry-failed goes with report send');
        if (opts.send) await refuseMailBeforeTheNight(ctx, name, date);
        const report = await produceReport(
          name,
          db,
          config,
          date,
          opts.out ? resolve(opts.out) : undefined,
          undefined,
          terminalProgress(),
        );
        let code = 0;
        let sent: SendOutboxResult | undefined;
        let queued: Awaited<ReturnType<typeof queueReportMail>> | undefined;
        if (opts.send) {
          queued = await queueReportMail(db, config, report, ctx.now());
          if (!queued.queued && queued.reason !== 'already-queued') {
            throw new UsageError(`report ${name} cannot be mailed: ${queued.reason.replace(/-/g, ' ')}`);
          }
          const stop = abortOnSignals();
          try {
            sent = await sendOutbox(db, config, {
              env: ctx.env,
              logger: ctx.logger,
              now: ctx.now,
              only: { report: report.report, businessDate: report.businessDate },
              signal: stop.signal,
            });
          } finally {
            stop.dispose();
          }
        }
        if (opts.json) {
          ctx.output.out(
            JSON.stringify({
              report: report.report,
              businessDate: report.businessDate,
              workbook: report.workbookPath,
              charts: report.chartPaths,
              keyFigures: report.keyFigures,
              ...(queued ? { queued } : {}),
              ...(sent ? { mail: sent } : {}),
            }),
          );
          return sent ? sendExitCode(sent) : 0;
        }
        ctx.output.out(`${report.title}, business date ${report.businessDate}`);
        ctx.output.out(`workbook  ${report.workbookPath}`);
        for (const path of report.chartPaths) ctx.output.out(`chart     ${path}`);
        ctx.output.out('');
        ctx.output.out(
          table(
            ['figure', 'value'],
            report.keyFigures.map((f) => [
              f.label,
              typeof f.value === 'number' ? chartNumberFormatter(f.format)(f.value) : f.value,
            ]),
          ),
        );
        if (queued && !queued.queued && queued.reason === 'already-queued') {
          ctx.output.out(`mail was already queued (${queued.messageId}, ${queued.status})`);
          const changed = describeRerun(report.report, report.businessDate, queued.rerun);
          if (changed) ctx.output.out(changed);
        }
        if (sent) code = printSendResult(ctx, sent, false);
        return code;
      }),
    );
}
