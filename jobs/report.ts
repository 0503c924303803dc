/**
 * The night's `report` job: produces the reports due on the business date (the daily report every
 * night, the monthly report and monthly custom reports on the last day of a month, daily custom
 * reports every night) under `paths.reports/<date>/`, and queues each for its distribution list.
 * A rerun writes the same files byte for byte (the workbooks are stamped with the close of the
 * business day, not the wall clock) and queues nothing twice. A rerun whose figures changed (a late file
 * posted since) brings up to date a mail no one has had yet, or leaves one someone has as it was, and
 * says which among the step's warnings: a mail always carries the figures of the files it attaches.
 */
import { RedeyeError } from '../lib/errors.js';
import { describeRerun, queueReportMail } from '../reports/outbox.js';
import { produceReport, reportsDueOn } from '../reports/produce.js';
import type { Job, JobContext, JobResult } from './types.js';

export const reportJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  const { db, config, businessDate, logger } = ctx;
  const due = reportsDueOn(config, businessDate);
  const counts = { reports: 0, charts: 0, queued: 0, alreadyQueued: 0 };
  const warnings: string[] = [];
  const failures: Array<{ report: string; error: unknown }> = [];
  ctx.progress.start('reports', due.length);
  for (const name of due) {
    if (ctx.signal?.aborted) break;
    try {
      const report = await produceReport(name, db, config, businessDate);
      counts.reports++;
      counts.charts += report.chartPaths.length;
      logger.info({ report: name, businessDate, workbook: report.workbookPath }, 'report written');
      const queued = await queueReportMail(db, config, report, ctx.now());
      if (queued.queued) counts.queued++;
      else if (queued.reason === 'already-queued') {
        counts.alreadyQueued++;
        const changed = describeRerun(name, businessDate, queued.rerun);
        if (changed) {
          warnings.push(changed);
          logger.warn(
            { report: name, businessDate, messageId: queued.messageId, status: queued.status },
            changed,
          );
        }
      } else
        warnings.push(
          `report ${name} for ${businessDate} is not mailed: ${queued.reason.replace(/-/g, ' ')}`,
        );
    } catch (error) {
      // One report that cannot be produced does not keep the others from the inbox.
      failures.push({ report: name, error });
      logger.error({ report: name, businessDate, err: error }, 'report failed');
    }
    ctx.progress.increment();
  }
  ctx.progress.stop();
  if (failures.length > 0) {
    const first = failures[0]!.error;
    throw new RedeyeError(
      'REPORT_FAILED',
      `${failures.length} of ${due.length} reports for ${businessDate} failed: ` +
        failures
          .map((f) => `${f.report} (${f.error instanceof Error ? f.error.message : String(f.error)})`)
          .join('; '),
      { job: 'report', businessDate },
      { cause: first },
    );
  }
  return { counts, ...(warnings.length > 0 ? { warnings } : {}) };
};
