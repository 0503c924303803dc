/**
 * What the daily, monthly and custom reports share: the result every report returns, where its files
 * go, the deterministic clock, SQL that reads the same on SQLite and PostgreSQL, how channels and
 * service types are named, and how points are valued in money.
 *
 * Reports are reproducible for any past date: every query reads only what the ledger knew at the end
 * of the business date (entries, postings, events and files dated on or before it), results come in a
 * fixed order, and the only time written into a file comes from the injected clock.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { SERVICE_TYPES } from '../ledger/accounts.js';
import type { LoadedConfig } from '../config/load.js';
import type { Db } from '../db/connection.js';
import { instantOfWallClock } from '../jobs/cron-calendar.js';
import { addDays, type IsoDate } from '../lib/dates.js';
import { RedeyeError } from '../lib/errors.js';
import { Decimal, toMinorUnits } from '../lib/money.js';
import type { KeyFigure } from '../mail/report-mail.js';
import { renderChart, type ChartSpec } from './charts.js';
import { cellAddress, writeThroughTemporary, type Clock } from './workbook.js';

export type { Clock };

export interface ReportChart {
  path: string;
  png: Buffer;
  /** Alternative text: the chart's title. */
  alt: string;
  width: number;
  height: number;
}

/** What producing a report leaves behind, and what its e-mail says. */
export interface ReportResult {
  /** `daily`, `monthly` or the custom report's name: the key of its distribution list. */
  report: string;
  title: string;
  businessDate: IsoDate;
  workbookPath: string;
  /** Every chart written beside the workbook, in the order the sheets show them. */
  chartPaths: string[];
  keyFigures: KeyFigure[];
  /** The chart shown inline in the mail; absent for a custom report without a chart. */
  mainChart: ReportChart | undefined;
}

export type ReportFunction = (
  db: Db,
  config: LoadedConfig,
  businessDate: IsoDate,
  outDir?: string,
  clock?: Clock,
) => Promise<ReportResult>;

export const PTS_ACCOUNT_KINDS = ['MEMBER_POINTS', 'POOL_POINTS'] as const;
/** SQL list of the account kinds that make up the points liability. */
export const PTS_KINDS_SQL = "('MEMBER_POINTS', 'POOL_POINTS')";

/**
 * Whether a posting `p` (`o`: the posting it reverses, left-joined) is a flight's class correction or
 * the reversal of one: the ADJUSTMENT keyed `<award>:ADJ` that brings an award the FTL credited to what
 * the coupon's classes give (rules/accrual.ts, `reclassified`).
 */
export const AWARD_CORRECTION_SQL =
  "(COALESCE(o.kind, p.kind) = 'ADJUSTMENT' AND COALESCE(o.idempotency_key, p.idempotency_key) LIKE '%:ADJ')";

/**
 * The kind a report counts a posting `p` under (`o` as for `AWARD_CORRECTION_SQL`): a reversal under the
 * kind of what it reverses, and an award's class correction as an ACCRUAL of its channel, since it
 * changes the points issued for the flight as much as the award does. Counted under ADJUSTMENT, the
 * flight's points issued would stay the FTL's while the ledger holds the coupon's.
 */
export const MOVEMENT_KIND_SQL = `CASE WHEN ${AWARD_CORRECTION_SQL} THEN 'ACCRUAL' ELSE COALESCE(o.kind, p.kind) END`;

/**
 * Joins the archive's activity `act` that a posting `p` (`o` as for `AWARD_CORRECTION_SQL`) was
 * made for, none when the archive has none: the row holding the posting (for a reversal, the posting it
 * reverses) as its award (`posting_id`), else the row the posting names as its source (`source_ref`, the
 * activity key a credit, its reversal and a class correction are posted with). A flight's row holds one
 * posting, its latest award: its class correction (`<award>:ADJ`) is found by its source, and so are the
 * first credit and its reversal when a retro-claim credited a flight whose credit was taken back (the row
 * then holds the claim's credit, made under keys of its own), so a past period keeps their flight. Both are indexed lookups (`activities_posting_id`, the unique
 * `activity_key`), and `act` one by primary key.
 */
export const POSTING_ACTIVITY_JOIN_SQL = `LEFT JOIN activities act_held ON act_held.posting_id = COALESCE(p.reversal_of, p.id)
       LEFT JOIN activities act_named ON act_held.id IS NULL
             AND act_named.activity_key = COALESCE(o.source_ref, p.source_ref)
       LEFT JOIN activities act ON act.id = COALESCE(act_held.id, act_named.id)`;

// ------------------------------------------------------------------------------------------ files

export function defaultOutDir(config: LoadedConfig, businessDate: IsoDate): string {
  return join(config.paths.reports, businessDate);
}

/** Writes a file so that a reader never sees half of it (see writeThroughTemporary). */
export async function writeFileAtomic(path: string, bytes: Buffer): Promise<void> {
  try {
    await writeThroughTemporary(path, (temporary) => writeFile(temporary, bytes));
  } catch (error) {
    throw new RedeyeError('REPORT_WRITE_FAILED', `cannot write ${path}: ${(error as Error).message}`, {
      path,
    });
  }
}

/** Renders a chart and writes it as `<prefix>-<slug>.png` in the output folder. */
export async function saveChart(
  outDir: string,
  prefix: string,
  slug: string,
  spec: ChartSpec,
): Promise<ReportChart> {
  const png = await renderChart(spec);
  const path = join(outDir, `${prefix}-${slug}.png`);
  await writeFileAtomic(path, png);
  return { path, png, alt: spec.title ?? slug, width: spec.width ?? 800, height: spec.height ?? 400 };
}

export async function prepareOutDir(outDir: string): Promise<void> {
  try {
    await mkdir(outDir, { recursive: true });
  } catch (error) {
    throw new RedeyeError(
      'REPORT_WRITE_FAILED',
      `cannot create the report folder ${outDir}: ${(error as Error).message}`,
      { path: outDir },
    );
  }
}

// ------------------------------------------------------------------------------------------ clock

/**
 * The instant the business date ends in the program's time zone: the first instant of the next day.
 * Jobs and the command line stamp workbooks with it instead of the wall clock: a rerun of a night must
 * write the same bytes. Where the clocks skip midnight (America/Havana on 8 March 2026, Santiago de
 * Chile each September) the next day begins at the first instant after the gap, an hour after midnight
 * read with the day's own offset, as the calendar of the schedules has it.
 */
export function businessDayClose(businessDate: IsoDate, timeZone: string): Date {
  return new Date(instantOfWallClock(Date.parse(`${addDays(businessDate, 1)}T00:00:00Z`), timeZone));
}

export function reportClock(config: LoadedConfig, businessDate: IsoDate): Clock {
  const close = businessDayClose(businessDate, config.program.timeZone);
  return () => close;
}

// ------------------------------------------------------------------------------------------ SQL

type Q = Knex | Knex.Transaction;

/** Runs raw SQL (`?` placeholders) and returns its rows on either engine. */
export async function sqlRows<T = Record<string, unknown>>(
  q: Q,
  sql: string,
  bindings: readonly Knex.RawBinding[] = [],
): Promise<T[]> {
  const result: unknown = await q.raw(sql, bindings as Knex.RawBinding[]);
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: unknown[] }).rows ?? []) as T[];
}

/** `YYYY-MM` of a date column. */
export function monthSql(db: Db, column: string): string {
  return db.dialect === 'postgres' ? `to_char(${column}, 'YYYY-MM')` : `substr(${column}, 1, 7)`;
}

/** A date column as `YYYY-MM-DD` text (PostgreSQL dates come back as text already, but compare as dates). */
export function dateTextSql(db: Db, column: string): string {
  return db.dialect === 'postgres' ? `to_char(${column}, 'YYYY-MM-DD')` : column;
}

/** Aggregates arrive as numbers, bigints or (PostgreSQL numeric) strings; null is 0. */
export function num(value: unknown): number {
  if (value === null || value === undefined) return 0;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) throw new RedeyeError('REPORT_QUERY_FAILED', `not a number: ${String(value)}`);
  return n;
}

/**
 * A member's tier at the end of `asOf` (a bound parameter): the tier the first tier event after
 * that date moved the member from, or the current tier when nothing has changed since. `memberId` is
 * the SQL expression of the member's id.
 */
export function tierAsOfSql(memberId: string): string {
  return (
    `COALESCE((SELECT te.from_tier FROM tier_events te WHERE te.member_id = ${memberId}` +
    ` AND te.business_date > ? ORDER BY te.business_date, te.id LIMIT 1), m.tier)`
  );
}

/**
 * The date the closure or merge a member is in now began: `closed_on`, which the member-master ingest
 * sets to the business date of the night that read the closure or merge. A merged member without one
 * (written by something else than the ingest) left on the date of its merge's transfer posting (key
 * `MERGE:<merged>:<survivor>`, jobs/ingest-members.ts); one with neither left at a date nobody knows,
 * before anything. A member that is not closed or merged now, never. `alias` names the members row.
 */
function memberLeftOnSql(alias: string): string {
  return (
    `COALESCE(${alias}.closed_on, CASE WHEN ${alias}.status = 'MERGED'` +
    ` THEN COALESCE((SELECT MIN(mp.business_date) FROM postings mp WHERE mp.idempotency_key = 'MERGE:' || ${alias}.number` +
    ` || ':' || ${alias}.merged_into), '0001-01-01') ELSE '9999-12-31' END)`
  );
}

/**
 * `column` of the spell closed or merged (`member_closures`, kept by the member-master ingest) that covers
 * the end of a date (two `?`, both the date), if any: the spell runs from the night that read the closure
 * or merge to the night that read the account's reopening. `alias` names the members row.
 */
function closureSpellSql(alias: string, column: string): string {
  return (
    `SELECT ${column} FROM member_closures mc WHERE mc.member_id = ${alias}.id` +
    ` AND mc.closed_on <= ? AND (mc.reopened_on IS NULL OR mc.reopened_on > ?)`
  );
}

/**
 * Members on the register at the end of a date: enrolled by then, known to the ledger by then, and not
 * closed or merged then — every date as the ledger learned it. A member merged or closed after the date
 * is on that date's register, and one whose record the CRM sent after the date is not, even enrolled
 * before it (`registered_on`, the night that stored the row), so a report for a past date counts the same
 * members however many nights came since. A member closed then and reopened since stays off it: the
 * ingest keeps each spell closed, where `closed_on` is cleared on reopening. A row without
 * `registered_on` (stored by something else than the ingest, or before migration 033 with no enrolment
 * date) counts from its enrolment date. `alias` names the members row.
 */
export function memberOnRegisterSql(alias: string, asOf: IsoDate): { sql: string; bindings: IsoDate[] } {
  return {
    sql:
      `(${alias}.enrolment_date IS NULL OR ${alias}.enrolment_date <= ?)` +
      ` AND (${alias}.registered_on IS NULL OR ${alias}.registered_on <= ?)` +
      ` AND NOT EXISTS (${closureSpellSql(alias, '1')})` +
      ` AND ${memberLeftOnSql(alias)} > ?`,
    bindings: [asOf, asOf, asOf, asOf, asOf],
  };
}

/**
 * The number of the account a member's points had been merged into at the end of a date, or null when
 * the member was not merged then: the survivor of the merge spell covering the date, which an account
 * reopened since still names; else, for a member merged by something else than the ingest (no spell),
 * its `merged_into` once its merge is dated on or before the date. `alias` names the members row.
 */
export function mergedIntoAtSql(alias: string, asOf: IsoDate): { sql: string; bindings: IsoDate[] } {
  return {
    sql:
      `COALESCE((${closureSpellSql(alias, 'mc.merged_into')} ORDER BY mc.closed_on DESC LIMIT 1),` +
      ` CASE WHEN ${alias}.status = 'MERGED' AND ${memberLeftOnSql(alias)} <= ? THEN ${alias}.merged_into END)`,
    bindings: [asOf, asOf, asOf],
  };
}

/**
 * Rows of a large result in pages keyed by a unique, increasing `id`: memory holds one page, on both
 * engines, without driver-specific cursors. `page` returns rows with `id` greater than its argument,
 * ordered by id, at most `size` of them.
 */
export async function* keysetRows<T extends { id: number | string }>(
  page: (afterId: number, size: number) => Promise<T[]>,
  size = 2000,
): AsyncGenerator<T> {
  let after = 0;
  for (;;) {
    const rows = await page(after, size);
    for (const row of rows) yield row;
    if (rows.length < size) return;
    after = Number(rows[rows.length - 1]!.id);
  }
}

/** The rows of several sources one after the other, each read only when the one before is done. */
export async function* concatRows<T>(...sources: AsyncIterable<T>[]): AsyncGenerator<T> {
  for (const source of sources) yield* source;
}

// ------------------------------------------------------------------------------------------ names

const SERVICE_LABELS: Record<string, string> = {
  AWARD_TICKET: 'Award tickets',
  UPGRADE: 'Upgrades',
  EXCESS_BAGGAGE: 'Excess baggage',
  SEAT: 'Seats',
  LOUNGE: 'Lounge access',
  PARTNER_REWARD: 'Partner rewards',
  CHARITY: 'Charity donations',
  OTHER: 'Other',
};

/** Redemptions that are spent on flying (the rest are non-air). */
export const AIR_SERVICES: ReadonlySet<string> = new Set([
  'AWARD_TICKET',
  'UPGRADE',
  'EXCESS_BAGGAGE',
  'SEAT',
  'LOUNGE',
]);

export function serviceLabel(serviceType: string): string {
  return SERVICE_LABELS[serviceType] ?? serviceType;
}

export function serviceOf(channel: string | null): string | undefined {
  return channel?.startsWith('REDEMPTION:') ? channel.slice('REDEMPTION:'.length) : undefined;
}

/** The partner a channel names: `PARTNER:GRANDSTAY` and `PARTNER_AIRLINE:LH` both name their partner. */
export function partnerOf(channel: string | null): string | undefined {
  if (channel === null) return undefined;
  if (channel.startsWith('PARTNER:')) return channel.slice('PARTNER:'.length);
  if (channel.startsWith('PARTNER_AIRLINE:')) return channel.slice('PARTNER_AIRLINE:'.length);
  return undefined;
}

export function isAirChannel(channel: string | null): boolean {
  return channel === 'OWN_FLIGHTS' || (channel?.startsWith('PARTNER_AIRLINE:') ?? false);
}

export interface ChannelInfo {
  code: string;
  label: string;
  air: boolean;
}

/** Earning channels the configuration knows, in report order: own flights, partner airlines, partners. */
export function programChannels(config: LoadedConfig): ChannelInfo[] {
  const channels: ChannelInfo[] = [{ code: 'OWN_FLIGHTS', label: 'Own flights', air: true }];
  const airlines = config.partners.filter((p) => p.kind === 'airline');
  const others = config.partners.filter((p) => p.kind !== 'airline');
  for (const p of [...airlines].sort((a, b) => a.code.localeCompare(b.code))) {
    channels.push({ code: `PARTNER_AIRLINE:${p.code}`, label: `Partner airline: ${p.name}`, air: true });
  }
  for (const p of [...others].sort((a, b) => a.code.localeCompare(b.code))) {
    channels.push({ code: `PARTNER:${p.code}`, label: p.name, air: false });
  }
  return channels;
}

export function channelLabel(config: LoadedConfig, channel: string | null): string {
  if (channel === null) return '(no channel)';
  if (channel === 'OWN_FLIGHTS') return 'Own flights';
  if (channel === 'ADJUSTMENT') return 'Adjustments';
  if (channel === 'TRANSFER') return 'Transfers';
  if (channel === 'EXPIRY') return 'Expiry';
  const service = serviceOf(channel);
  if (service !== undefined) return serviceLabel(service);
  const partner = partnerOf(channel);
  if (partner !== undefined) {
    const known = config.partners.find((p) => p.code === partner);
    if (channel.startsWith('PARTNER_AIRLINE:')) return `Partner airline: ${known?.name ?? partner}`;
    return known?.name ?? partner;
  }
  return channel;
}

/** Known channels first in their configured order, then any other channel found, by code. */
export function orderChannels(config: LoadedConfig, found: Iterable<string>): string[] {
  const known = programChannels(config).map((c) => c.code);
  const extra = [...new Set(found)].filter((c) => !known.includes(c)).sort();
  return [...known, ...extra];
}

export function orderServices(found: Iterable<string>): string[] {
  const known: string[] = [...SERVICE_TYPES];
  const extra = [...new Set(found)].filter((s) => !known.includes(s)).sort();
  return [...known, ...extra];
}

/**
 * A tier's name as the latest tier version gives it: every version names the same tiers, and a report
 * read today, of whatever date, names them as the program and its members call them now.
 */
export function tierName(config: LoadedConfig, code: string | null): string {
  if (code === null) return '(none)';
  return config.tiers.at(-1)!.levels.find((l) => l.code === code)?.name ?? code;
}

// ------------------------------------------------------------------------------------------ money

/** Points valued at the configured value per point, in minor units of the base currency (half-even). */
export function pointsValueMinor(config: LoadedConfig, points: number): number {
  return toMinorUnits(new Decimal(points).times(config.program.valuePerPoint), config.program.baseCurrency);
}

/** Share of a total as a fraction, 0 when the total is 0. */
export function share(part: number, total: number): number {
  return total === 0 ? 0 : part / total;
}

/** `2026-05` as `May 2026`. */
export function monthLabel(month: string): string {
  const [year, m] = month.split('-');
  const names = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${names[Number(m) - 1] ?? m} ${year}`;
}

/** Relative change of `now` against `before`; undefined when there is nothing to compare with. */
export function change(now: number, before: number): number | undefined {
  return before === 0 ? undefined : (now - before) / Math.abs(before);
}

/**
 * Where a chart goes on a sheet with a title block of `notes` extra lines and a table of `columns`
 * columns: one empty column right of the table, level with its header; `slot` stacks further charts
 * below the first.
 */
export function chartCell(columns: number, notes: number, slot = 0, chartHeight = 400): string {
  const headerRow = 2 + notes + 2;
  // Default rows are 20 pixels high; one spare row between stacked charts.
  const rowsPerChart = Math.ceil(chartHeight / 20) + 1;
  return cellAddress(columns + 1, headerRow + slot * rowsPerChart);
}
