/**
 * Reports by name, as the command line and the night ask for them: `daily`, `monthly`, or the name of
 * a report defined in `reports.custom`; and which of them are due on a business date.
 */
import type { LoadedConfig } from '../config/load.js';
import type { Db } from '../db/connection.js';
import { endOfMonth, isIsoDate, type IsoDate } from '../lib/dates.js';
import { UsageError } from '../lib/errors.js';
import { noProgress, type Progress } from '../jobs/types.js';
import { defaultOutDir, reportClock, type Clock, type ReportResult } from './common.js';
import { customReport, findCustomReport } from './custom.js';
import { dailyReport } from './daily.js';
import { monthlyReport } from './monthly.js';

export function reportNames(config: LoadedConfig): string[] {
  return ['daily', 'monthly', ...config.reports.custom.map((r) => r.name)];
}

/**
 * Produces the report `name` for `businessDate` under `outDir` (default `paths.reports/<date>/`), its
 * workbook stamped by `clock` (default: the close of the business day, so reruns are byte-identical).
 * The monthly report, made of many reads of the month, moves `progress` on step by step.
 */
export async function produceReport(
  name: string,
  db: Db,
  config: LoadedConfig,
  businessDate: IsoDate,
  outDir: string = defaultOutDir(config, businessDate),
  clock: Clock = reportClock(config, businessDate),
  progress: Progress = noProgress,
): Promise<ReportResult> {
  if (!isIsoDate(businessDate)) {
    throw new UsageError(`the business date must be YYYY-MM-DD, got ${JSON.stringify(businessDate)}`);
  }
  if (name === 'daily') return dailyReport(db, config, businessDate, outDir, clock);
  if (name === 'monthly') return monthlyReport(db, config, businessDate, outDir, clock, progress);
  const definition = findCustomReport(config, name);
  if (!definition) {
    throw new UsageError(`no report named "${name}" (known: ${reportNames(config).join(', ')})`, {
      report: name,
    });
  }
  return customReport(db, config, definition, businessDate, outDir, clock);
}

/**
 * The reports the night produces for a business date: the daily report and custom reports scheduled
 * `daily` every night; on the last day of a month also the monthly report and the custom reports
 * scheduled `monthly`.
 */
export function reportsDueOn(config: LoadedConfig, businessDate: IsoDate): string[] {
  const monthEnd = endOfMonth(businessDate) === businessDate;
  const due = ['daily'];
  if (monthEnd) due.push('monthly');
  for (const r of config.reports.custom) {
    if (r.schedule === 'daily' || (r.schedule === 'monthly' && monthEnd)) due.push(r.name);
  }
  return due;
}
