/**
 * The daily report: what the night of the business date did to the program.
 *
 * Sheets: Summary (the day against the same weekday of the previous weeks) · Accrual by channel (own
 * flights, each partner airline, each non-air partner) · Redemptions (by service type) · Expiries (by
 * earning month) · Tier changes and Tier change detail · Files · Rejects by reason and Reject detail ·
 * Waiting cancellations (cancellations still waiting for their redemption) · Top routes · Unanswered
 * claims (alliance claims past their answer date).
 *
 * The detail sheets (tier changes, rejects, files, claims) can be as long as a night makes them: they
 * are read in keyed pages and written as they arrive.
 */
import { join } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Knex } from 'knex';
import type { Db } from '../db/connection.js';
import { addDays, daysBetween, type IsoDate } from '../lib/dates.js';
import type { KeyFigure } from '../mail/report-mail.js';
import {
  change,
  channelLabel,
  chartCell,
  concatRows,
  dateTextSql,
  defaultOutDir,
  keysetRows,
  num,
  orderChannels,
  orderServices,
  prepareOutDir,
  reportClock,
  saveChart,
  serviceLabel,
  serviceOf,
  share,
  sqlRows,
  tierName,
  type Clock,
  type ReportChart,
  type ReportResult,
} from './common.js';
import {
  expiredByEarnMonth,
  liabilityMovements,
  tierMovements,
  topRoutes,
  type Movement,
} from './queries.js';
import { writeWorkbookFile, type ColumnSpec } from './workbook.js';
import { recordReasonText } from '../exporters/partner-reasons.js';
import { rejectedClaimText } from '../jobs/retro-claims.js';
import { idAsSent } from '../rules/activity.js';
import { Program } from '../rules/program.js';
import { cancellationRejectedOn, WAITING_CANCELLATION } from '../rules/accrual.js';

export const DAILY_TITLE = 'Daily loyalty report';

interface DayFigures {
  accrued: number;
  accruals: number;
  redeemed: number;
  redemptions: number;
  expired: number;
  net: number;
  /** Points refunds could not take back, the members having spent them (the UNRECOVERED account). */
  unrecovered: number;
  upgrades: number;
  downgrades: number;
  files: number;
  rejects: number;
  /** Cancellations still waiting for their redemption at the end of the day. */
  waitingCancellations: number;
}

const FIGURES: ReadonlyArray<readonly [keyof DayFigures, string]> = [
  ['accrued', 'Points accrued (net of reversals)'],
  ['accruals', 'Accrual postings'],
  ['redeemed', 'Points redeemed (net of reversals)'],
  ['redemptions', 'Redemptions'],
  ['expired', 'Points expired'],
  ['net', 'Net change of the liability'],
  ['unrecovered', 'Points spent before their refund (unrecovered)'],
  ['upgrades', 'Tier upgrades'],
  ['downgrades', 'Tier downgrades'],
  ['files', 'Files received'],
  ['rejects', 'Records rejected'],
  ['waitingCancellations', 'Cancellations waiting for their redemption'],
];

/**
 * The records of a night that were not credited, from the three places a refusal is kept: the lines a
 * reader could not take (`rejects`), the activities the rules refused (first read that night, as they
 * stand now, or rejected that night after waiting on earlier ones: a cancellation whose redemption never
 * came), and the retro-claims settled as rejected that night. Each row: day, feed, reason, file,
 * and the id and source of the row, so the summary, the reasons and the detail count the same records.
 * `marks` is the placeholder list of the days; see `rejectedRecordsParams` for its parameters.
 */
export function rejectedRecordsSql(marks: string): string {
  const activity = `COALESCE(f.feed, lower(a.type)), COALESCE(a.reason, 'REJECTED'), a.source_file_id, 'activity', a.id
      FROM activities a LEFT JOIN files f ON f.id = a.source_file_id`;
  return `SELECT business_date AS day, feed, reason, file_id, 'record' AS source, id FROM rejects
      WHERE business_date IN (${marks})
    UNION ALL
    SELECT a.business_date, ${activity}
     WHERE a.business_date IN (${marks}) AND a.status = 'REJECTED' AND a.rejected_on IS NULL
    UNION ALL
    SELECT a.rejected_on, ${activity}
     WHERE a.rejected_on IN (${marks}) AND a.status = 'REJECTED'
    UNION ALL
    SELECT c.last_tried_on, COALESCE(f.feed, 'retro-claims'), COALESCE(c.reason, 'REJECTED'),
           c.source_file_id, 'retro-claim', c.id
      FROM retro_claims c LEFT JOIN files f ON f.id = c.source_file_id
     WHERE c.last_tried_on IN (${marks}) AND c.status = 'REJECTED'`;
}

export function rejectedRecordsParams(days: readonly IsoDate[]): IsoDate[] {
  return [...days, ...days, ...days, ...days];
}

/** The night's records not credited, as its daily report's Summary counts them (Records rejected). */
export async function rejectedRecordCount(knex: Knex, day: IsoDate): Promise<number> {
  const [row] = await sqlRows<{ n: unknown }>(
    knex,
    `SELECT COUNT(*) AS n FROM (${rejectedRecordsSql('?')}) r`,
    rejectedRecordsParams([day]),
  );
  return num(row?.n ?? 0);
}

/** `day` is a date, or a column of dates (the Summary's compared days, counted in one grouped query). */
const cancellationsWaitingAt = (query: Knex.QueryBuilder, day: IsoDate | Knex.Ref<string, object>) =>
  query
    .leftJoin('postings as p', 'p.id', 'a.posting_id')
    .whereRaw("a.type = 'REDEMPTION' AND a.activity_type = 'CANCEL'")
    .andWhere('a.business_date', '<=', day)
    .andWhere((q) =>
      q
        .where({ 'a.status': WAITING_CANCELLATION.status, 'a.reason': WAITING_CANCELLATION.reason })
        .orWhere('a.rejected_on', '>', day)
        .orWhere('p.business_date', '>', day),
    );

/**
 * The cancellations waiting for their redemption at the end of `day`: read by then, and by then neither
 * applied nor rejected — still waiting now, or applied (their reversal posted) or rejected on a later
 * night, so a past date's report reads the same however many nights have run since. Read among the
 * cancellations only, through their partial index (migration 014).
 */
export const waitingCancellationsAt = (knex: Knex, day: IsoDate) =>
  cancellationsWaitingAt(knex('activities as a'), day);

async function dayFigures(db: Db, days: readonly IsoDate[]): Promise<Map<IsoDate, DayFigures>> {
  const figures = new Map<IsoDate, DayFigures>();
  for (const day of days) {
    figures.set(day, {
      accrued: 0,
      accruals: 0,
      redeemed: 0,
      redemptions: 0,
      expired: 0,
      net: 0,
      unrecovered: 0,
      upgrades: 0,
      downgrades: 0,
      files: 0,
      rejects: 0,
      waitingCancellations: 0,
    });
  }
  const marks = days.map(() => '?').join(', ');
  for (const m of await liabilityMovements(db, days[0]!, days[0]!, { days })) {
    const f = figures.get(m.day!)!;
    f.net += m.points;
    if (m.kind === 'ACCRUAL') {
      f.accrued += m.points;
      if (!m.reversal) f.accruals += m.postings;
    } else if (m.kind === 'REDEMPTION') {
      f.redeemed -= m.points;
      if (!m.reversal) f.redemptions += m.postings;
    } else if (m.kind === 'EXPIRY') {
      f.expired -= m.points;
    }
  }
  const unrecovered = await sqlRows<{ day: string; points: unknown }>(
    db.knex,
    `SELECT ${dateTextSql(db, 'e.business_date')} AS day, -SUM(e.amount) AS points
       FROM entries e JOIN accounts a ON a.id = e.account_id
      WHERE a.kind = 'UNRECOVERED' AND e.business_date IN (${marks}) GROUP BY 1`,
    [...days],
  );
  for (const u of unrecovered) figures.get(u.day)!.unrecovered = num(u.points);
  const tiers = await sqlRows<{ day: string; direction: string; n: unknown }>(
    db.knex,
    // Members, as the monthly report counts them: a night catching up skipped reviews and closed years
    // may record several changes of one member (up for a closed year, down at its review, up again).
    `SELECT ${dateTextSql(db, 'business_date')} AS day, direction, COUNT(DISTINCT member_id) AS n
       FROM tier_events WHERE business_date IN (${marks}) GROUP BY 1, 2`,
    [...days],
  );
  for (const t of tiers) {
    const f = figures.get(t.day)!;
    if (t.direction === 'UP') f.upgrades += num(t.n);
    if (t.direction === 'DOWN') f.downgrades += num(t.n);
  }
  const files = await sqlRows<{ day: string; n: unknown }>(
    db.knex,
    `SELECT ${dateTextSql(db, 'business_date')} AS day, COUNT(*) AS n FROM files
      WHERE direction = 'in' AND business_date IN (${marks}) GROUP BY 1`,
    [...days],
  );
  for (const r of files) figures.get(r.day)!.files = num(r.n);
  const rejects = await sqlRows<{ day: string; n: unknown }>(
    db.knex,
    `SELECT ${dateTextSql(db, 'day')} AS day, COUNT(*) AS n FROM (${rejectedRecordsSql(marks)}) r GROUP BY 1`,
    rejectedRecordsParams(days),
  );
  for (const r of rejects) figures.get(r.day)!.rejects += num(r.n);
  // The compared days as a table of their own, so one grouped query counts what waited at each's end.
  const dayValue = db.dialect === 'postgres' ? 'CAST(? AS date)' : '?';
  const dayTable = days.map(() => `SELECT ${dayValue} AS day`).join(' UNION ALL ');
  const waiting = (await cancellationsWaitingAt(
    db.knex('activities as a').joinRaw(`JOIN (${dayTable}) d ON a.business_date <= d.day`, [...days]),
    db.knex.ref('d.day'),
  )
    .select(db.knex.raw(`${dateTextSql(db, 'd.day')} AS day`))
    .count({ n: '*' })
    .groupBy('d.day')) as Array<{ day: string; n: unknown }>;
  for (const w of waiting) figures.get(w.day)!.waitingCancellations = num(w.n);
  return figures;
}

interface ChannelRow {
  channel: string;
  label: string;
  accruals: number;
  accrued: number;
  reversals: number;
  reversed: number;
  net: number;
}

function accrualByChannel(config: LoadedConfig, movements: Movement[]): ChannelRow[] {
  const rows = new Map<string, ChannelRow>();
  const accruals = movements.filter((m) => m.kind === 'ACCRUAL');
  for (const channel of orderChannels(
    config,
    accruals.map((m) => m.channel ?? ''),
  )) {
    rows.set(channel, {
      channel,
      label: channel === '' ? '(no channel)' : channelLabel(config, channel),
      accruals: 0,
      accrued: 0,
      reversals: 0,
      reversed: 0,
      net: 0,
    });
  }
  for (const m of accruals) {
    const row = rows.get(m.channel ?? '')!;
    if (m.reversal) {
      row.reversals += m.postings;
      row.reversed += m.points;
    } else {
      row.accruals += m.postings;
      row.accrued += m.points;
    }
    row.net += m.points;
  }
  return [...rows.values()];
}

interface ServiceRow {
  service: string;
  label: string;
  redemptions: number;
  redeemed: number;
  reversals: number;
  restored: number;
  net: number;
}

function redemptionsByService(movements: Movement[]): ServiceRow[] {
  const redemptions = movements.filter((m) => m.kind === 'REDEMPTION');
  const rows = new Map<string, ServiceRow>();
  for (const service of orderServices(redemptions.map((m) => serviceOf(m.channel) ?? 'OTHER'))) {
    rows.set(service, {
      service,
      label: serviceLabel(service),
      redemptions: 0,
      redeemed: 0,
      reversals: 0,
      restored: 0,
      net: 0,
    });
  }
  for (const m of redemptions) {
    const row = rows.get(serviceOf(m.channel) ?? 'OTHER')!;
    if (m.reversal) {
      row.reversals += m.postings;
      row.restored += m.points;
    } else {
      row.redemptions += m.postings;
      row.redeemed -= m.points;
    }
    row.net -= m.points;
  }
  return [...rows.values()];
}

interface CountsJson {
  records?: unknown;
  rejects?: unknown;
  held?: unknown;
}

function countOf(counts: CountsJson | undefined, key: keyof CountsJson): number | null {
  const value = counts?.[key];
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}

function parseCounts(text: string | null): CountsJson | undefined {
  if (text === null) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as CountsJson) : undefined;
  } catch {
    // The registry's counts are written by Redeye; a row that does not parse is shown without them.
    return undefined;
  }
}

interface ClaimedFlight {
  flight: string | null;
  date: IsoDate | null;
  route: string | null;
  cabin: string | null;
}

/** The flight a claim we sent names, from the claim as recorded (the partner's answer adds the points). */
function claimedFlight(text: string): ClaimedFlight {
  const none: ClaimedFlight = { flight: null, date: null, route: null, cabin: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Recorded by Redeye as it sent the claim; a row that does not parse is listed without its flight.
    return none;
  }
  const flight = (parsed as { flight?: unknown } | null)?.flight;
  if (typeof flight !== 'object' || flight === null) return none;
  const f = flight as Record<string, unknown>;
  const field = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  const carrier = field(f.operatingCarrier);
  const number = field(f.operatingFlightNumber);
  const origin = field(f.origin);
  const destination = field(f.destination);
  const date = field(f.date);
  return {
    flight: carrier !== null && number !== null ? `${carrier}${number}` : null,
    date: date !== null && /^\d{4}-\d{2}-\d{2}$/.test(date) ? date : null,
    route: origin !== null && destination !== null ? `${origin}-${destination}` : null,
    cabin: field(f.cabin),
  };
}

interface RejectedRecordRow {
  file: string | null;
  feed: string;
  kind: 'record' | 'activity' | 'retro-claim';
  line: number | null;
  field: string | null;
  reason: string;
  member_number: string | null;
  record_ref: string | null;
  message: string | null;
  text: string | null;
}

/** Each rejected record of the night (see `rejectedRecordsSql`), the reader's first, a page at a time. */
async function* rejectedRecordRows(
  knex: Knex,
  businessDate: IsoDate,
  retroClaims: Config['retroClaims'],
): AsyncGenerator<RejectedRecordRow> {
  for await (const r of keysetRows<Record<string, unknown> & { id: number }>((after, size) =>
    knex('rejects as r')
      .leftJoin('files as f', 'f.id', 'r.file_id')
      .where('r.business_date', businessDate)
      .andWhere('r.id', '>', after)
      .orderBy('r.id')
      .limit(size)
      .select('r.id', 'f.name as file', 'r.feed', 'r.line', 'r.field', 'r.reason', 'r.member_number')
      .select('r.record_ref', 'r.message', 'r.text'),
  ))
    yield {
      file: (r.file as string | null) ?? null,
      feed: String(r.feed),
      kind: 'record',
      line: r.line === null ? null : num(r.line),
      field: (r.field as string | null) ?? null,
      reason: String(r.reason),
      member_number: (r.member_number as string | null) ?? null,
      record_ref: (r.record_ref as string | null) ?? null,
      message: (r.message as string | null) ?? null,
      text: (r.text as string | null) ?? null,
    };
  const refused = (night: (q: Knex.QueryBuilder) => Knex.QueryBuilder) =>
    keysetRows<Record<string, unknown> & { id: number }>((after, size) =>
      night(knex('activities as a'))
        .leftJoin('files as f', 'f.id', 'a.source_file_id')
        // A literal, not a binding: the partial index of rejected activities (036) serves only that.
        .whereRaw("a.status = 'REJECTED'")
        .andWhere('a.id', '>', after)
        .orderBy('a.id')
        .limit(size)
        .select('a.id', 'f.name as file', 'f.feed', 'a.type', 'a.source_line', 'a.reason', 'a.member_number')
        // The survivor kept with the activity when it was rejected, as the partner's response names it.
        .select('a.external_ref', 'a.activity_key', 'a.merged_into', 'a.reason_field', 'a.reason_message'),
    );
  for await (const a of concatRows(
    refused((q) => q.where('a.business_date', businessDate).whereNull('a.rejected_on')),
    refused((q) => q.where('a.rejected_on', businessDate)),
  )) {
    const reason = (a.reason as string | null) ?? 'REJECTED';
    const feed = (a.feed as string | null) ?? String(a.type).toLowerCase();
    yield {
      file: (a.file as string | null) ?? null,
      feed,
      kind: 'activity',
      line: a.source_line === null ? null : num(a.source_line),
      field: (a.reason_field as string | null) ?? null,
      reason,
      member_number: (a.member_number as string | null) ?? null,
      record_ref: (a.external_ref as string | null) ?? (a.activity_key as string),
      message: recordReasonText(reason, (a.merged_into as string | null) ?? null, true, {
        message: (a.reason_message as string | null) ?? null,
        feed,
      }),
      text: null,
    };
  }
  for await (const c of keysetRows<Record<string, unknown> & { id: number }>((after, size) =>
    knex('retro_claims as c')
      .leftJoin('files as f', 'f.id', 'c.source_file_id')
      .where({ 'c.last_tried_on': businessDate, 'c.status': 'REJECTED' })
      .andWhere('c.id', '>', after)
      .orderBy('c.id')
      .limit(size)
      .select('c.id', 'f.name as file', 'f.feed', 'c.reason', 'c.member_number', 'c.claim_id')
      // What `files show` reads: the claim as stored gives its line, and the flight it was refused for.
      .select('c.claim', 'c.activity_key')
      .select(
        knex('activities as a')
          .where('a.activity_key', knex.ref('c.activity_key'))
          .select('a.activity_date')
          .as('flight_date'),
      ),
  )) {
    const reason = (c.reason as string | null) ?? 'REJECTED';
    const { line, message } = rejectedClaimText(
      {
        claim: c.claim,
        reason,
        activityKey: (c.activity_key as string | null) ?? null,
        flightDate: (c.flight_date as IsoDate | null) ?? null,
      },
      retroClaims,
    );
    yield {
      file: (c.file as string | null) ?? null,
      feed: (c.feed as string | null) ?? 'retro-claims',
      kind: 'retro-claim',
      line,
      field: null,
      reason,
      member_number: (c.member_number as string | null) ?? null,
      record_ref: idAsSent(String(c.claim_id)),
      message,
      text: null,
    };
  }
}

export async function dailyReport(
  db: Db,
  config: LoadedConfig,
  businessDate: IsoDate,
  outDir: string = defaultOutDir(config, businessDate),
  clock: Clock = reportClock(config, businessDate),
): Promise<ReportResult> {
  const knex = db.knex;
  const base = config.program.baseCurrency;
  const prefix = `daily-${businessDate}`;
  await prepareOutDir(outDir);

  const weeks = config.reports.comparisonWeeks;
  const compared = Array.from({ length: weeks + 1 }, (_, i) => addDays(businessDate, -7 * i));
  const figures = await dayFigures(db, compared);
  const today = figures.get(businessDate)!;
  const earlier = compared.slice(1).map((d) => figures.get(d)!);
  const average = (key: keyof DayFigures) =>
    earlier.length === 0 ? 0 : earlier.reduce((s, f) => s + f[key], 0) / earlier.length;

  const movements = await liabilityMovements(db, businessDate, businessDate);
  const channels = accrualByChannel(config, movements);
  const services = redemptionsByService(movements);
  const expired = await expiredByEarnMonth(db, businessDate, businessDate);
  const routes = await topRoutes(db, businessDate, businessDate, config.reports.topRoutes);
  const tierSummary = await tierMovements(db, businessDate, businessDate);
  const rejectReasons = await sqlRows<{ feed: string; reason: string; n: unknown; files: unknown }>(
    knex,
    `SELECT feed, reason, COUNT(*) AS n, COUNT(DISTINCT file_id) AS files
       FROM (${rejectedRecordsSql('?')}) r GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`,
    rejectedRecordsParams([businessDate]),
  );

  const charts: ReportChart[] = [];
  const chart = async (slug: string, spec: Parameters<typeof saveChart>[3]) => {
    const saved = await saveChart(outDir, prefix, slug, spec);
    charts.push(saved);
    return saved;
  };
  const channelChart = await chart('accrual-by-channel', {
    kind: 'bar',
    horizontal: true,
    title: `Points accrued by channel, ${businessDate}`,
    subtitle: 'Net of reversals',
    labels: channels.map((c) => c.label),
    series: [{ label: 'Points', data: channels.map((c) => c.net) }],
    valueFormat: { compact: true },
  });
  const comparisonChart = await chart('against-previous-weeks', {
    kind: 'bar',
    title: 'Points accrued and redeemed, same weekday',
    labels: [...compared].reverse(),
    series: [
      { label: 'Accrued', data: [...compared].reverse().map((d) => figures.get(d)!.accrued) },
      { label: 'Redeemed', data: [...compared].reverse().map((d) => figures.get(d)!.redeemed) },
      { label: 'Expired', data: [...compared].reverse().map((d) => figures.get(d)!.expired) },
    ],
    valueFormat: { compact: true },
  });
  const redeemedServices = services.filter((s) => s.net > 0);
  const redemptionChart =
    redeemedServices.length > 0
      ? await chart('redemptions', {
          kind: 'doughnut',
          title: 'Points redeemed by service type',
          labels: redeemedServices.map((s) => s.label),
          series: [{ label: 'Points', data: redeemedServices.map((s) => s.net) }],
        })
      : undefined;
  const routeChart =
    routes.length > 0
      ? await chart('top-routes', {
          kind: 'bar',
          horizontal: true,
          title: `Top ${routes.length} routes by points`,
          labels: routes.map((r) => `${r.origin}–${r.destination}`),
          series: [{ label: 'Points', data: routes.map((r) => r.points) }],
        })
      : undefined;
  const rejectChart =
    rejectReasons.length > 0
      ? await chart('rejects', {
          kind: 'bar',
          horizontal: true,
          title: 'Rejected records by reason',
          labels: rejectReasons.slice(0, 12).map((r) => `${r.feed}: ${r.reason}`),
          series: [
            { label: 'Records', data: rejectReasons.slice(0, 12).map((r) => num(r.n)), colour: '#C8423B' },
          ],
        })
      : undefined;

  const workbookPath = join(outDir, `${prefix}.xlsx`);
  // The night's upgrades are judged in the metric of its tier rules (a review caught up late, across a
  // change of metric, in its own date's: README, Status and tiers).
  const qualificationMetric = new Program(config).tierVersion(businessDate).metric;
  const qualificationIsSpend = qualificationMetric === 'spend';
  await writeWorkbookFile(
    workbookPath,
    { report: { name: DAILY_TITLE, businessDate }, clock },
    async (book) => {
      interface ComparisonRow {
        figure: string;
        values: number[];
        average: number;
        change: number | null;
      }
      const comparisonRows: ComparisonRow[] = FIGURES.map(([key, figure]) => {
        const avg = average(key);
        return {
          figure,
          values: compared.map((d) => figures.get(d)![key]),
          average: avg,
          change: change(today[key], avg) ?? null,
        };
      });
      const comparisonColumns: ColumnSpec<ComparisonRow>[] = [
        { header: 'Figure', type: 'text', value: 'figure' },
        ...compared.map((day, i): ColumnSpec<ComparisonRow> => ({
          header: i === 0 ? `${day} (today)` : day,
          type: 'integer',
          value: (r) => r.values[i],
          total: false,
        })),
        { header: `Average of ${weeks} weeks`, type: 'decimal', decimals: 1, value: 'average', total: false },
        { header: 'Today against average', type: 'percent', value: 'change' },
      ];
      const summaryNotes = [
        `${config.program.name}: the business date against the same weekday of the ${weeks} weeks before.`,
      ];
      await book.addSheet({
        name: 'Summary',
        notes: summaryNotes,
        table: { columns: comparisonColumns, rows: comparisonRows, autoFilter: false, freezeColumns: 1 },
        images: [
          {
            png: comparisonChart.png,
            at: chartCell(0, summaryNotes.length + FIGURES.length + 2),
            description: comparisonChart.alt,
          },
        ],
      });

      const channelColumns: ColumnSpec<ChannelRow>[] = [
        { header: 'Channel', type: 'text', value: 'channel' },
        { header: 'Description', type: 'text', value: 'label' },
        { header: 'Accruals', type: 'integer', value: 'accruals' },
        { header: 'Points accrued', type: 'points', value: 'accrued' },
        { header: 'Reversals', type: 'integer', value: 'reversals' },
        { header: 'Points reversed', type: 'points', value: 'reversed' },
        { header: 'Net points', type: 'points', value: 'net' },
      ];
      await book.addSheet({
        name: 'Accrual by channel',
        title: 'Accruals by channel',
        notes: [
          'Award points credited to member and pool accounts; reversals of earlier accruals are negative.',
          "A flight's class correction (its award brought to the coupon's classes) counts in its channel's points accrued, not as an accrual.",
        ],
        table: { columns: channelColumns, rows: channels, totals: true },
        images: [
          { png: channelChart.png, at: chartCell(channelColumns.length, 1), description: channelChart.alt },
        ],
      });

      const serviceColumns: ColumnSpec<ServiceRow>[] = [
        { header: 'Service type', type: 'text', value: 'service' },
        { header: 'Description', type: 'text', value: 'label' },
        { header: 'Redemptions', type: 'integer', value: 'redemptions' },
        { header: 'Points redeemed', type: 'points', value: 'redeemed' },
        { header: 'Reversals', type: 'integer', value: 'reversals' },
        { header: 'Points restored', type: 'points', value: 'restored' },
        { header: 'Net points redeemed', type: 'points', value: 'net' },
      ];
      await book.addSheet({
        name: 'Redemptions',
        title: 'Redemptions by service type',
        table: { columns: serviceColumns, rows: services, totals: true },
        images: redemptionChart
          ? [
              {
                png: redemptionChart.png,
                at: chartCell(serviceColumns.length, 0),
                description: redemptionChart.alt,
              },
            ]
          : [],
      });

      const expiredTotal = expired.months.reduce((s, e) => s + e.points, 0);
      await book.addSheet({
        name: 'Expiries',
        title: 'Points expired, by the month they were earned',
        notes:
          expired.months.length > 1
            ? [
                `${expired.accounts.toLocaleString('en-US')} accounts in all; an account whose points of ` +
                  'several months expired counts in each of their rows.',
              ]
            : [],
        table: {
          columns: [
            { header: 'Earned in', type: 'text', value: 'earned' },
            // A sum of the rows would count an account once per month: the note gives the accounts.
            { header: 'Accounts', type: 'integer', value: 'accounts', total: false },
            { header: 'Points expired', type: 'points', value: 'points' },
            {
              header: 'Share',
              type: 'percent',
              value: (e: (typeof expired.months)[number]) => share(e.points, expiredTotal),
            },
          ],
          rows: expired.months,
          totals: true,
        },
      });

      const directionLabel: Record<string, string> = {
        UP: 'Upgrade',
        DOWN: 'Downgrade',
        HOLD: 'Kept at review',
      };
      await book.addSheet({
        name: 'Tier changes',
        table: {
          columns: [
            {
              header: 'Movement',
              type: 'text',
              value: (r: (typeof tierSummary)[number]) => directionLabel[r.direction] ?? r.direction,
            },
            {
              header: 'From tier',
              type: 'text',
              value: (r: (typeof tierSummary)[number]) =>
                r.fromTier === null ? '(new member)' : tierName(config, r.fromTier),
            },
            {
              header: 'To tier',
              type: 'text',
              value: (r: (typeof tierSummary)[number]) => tierName(config, r.toTier),
            },
            { header: 'Members', type: 'integer', value: 'members' },
          ],
          rows: tierSummary,
          totals: true,
        },
      });

      interface TierDetail {
        id: number;
        number: string;
        surname: string | null;
        given_name: string | null;
        direction: string;
        from_tier: string | null;
        to_tier: string;
        effective_on: string;
        qualification: unknown;
        reason: string | null;
      }
      await book.addSheet({
        name: 'Tier change detail',
        title: 'Tier changes, member by member',
        table: {
          columns: [
            { header: 'Member', type: 'text', value: 'number' },
            { header: 'Surname', type: 'text', value: 'surname' },
            { header: 'Given name', type: 'text', value: 'given_name' },
            {
              header: 'Movement',
              type: 'text',
              value: (r: TierDetail) => directionLabel[r.direction] ?? r.direction,
            },
            {
              header: 'From tier',
              type: 'text',
              value: (r: TierDetail) =>
                r.from_tier === null ? '(new member)' : tierName(config, r.from_tier),
            },
            { header: 'To tier', type: 'text', value: (r: TierDetail) => tierName(config, r.to_tier) },
            // The day the change took effect, where a night catching up records it late (a review date
            // that went by, the last day of a closed year): two changes of one member tell apart by it.
            { header: 'Effective', type: 'date', value: 'effective_on' },
            qualificationIsSpend
              ? {
                  header: `Qualifying spend (${base})`,
                  type: 'money',
                  currency: base,
                  value: (r: TierDetail) => num(r.qualification),
                  total: false,
                }
              : {
                  header: `Qualifying ${qualificationMetric}`,
                  type: 'integer',
                  value: (r: TierDetail) => num(r.qualification),
                  total: false,
                },
            { header: 'Reason', type: 'text', value: 'reason' },
          ],
          rows: keysetRows<TierDetail>((after, size) =>
            knex('tier_events as t')
              .join('members as m', 'm.id', 't.member_id')
              .where('t.business_date', businessDate)
              .andWhere('t.id', '>', after)
              .orderBy('t.id')
              .limit(size)
              .select(
                't.id',
                'm.number',
                'm.surname',
                'm.given_name',
                't.direction',
                't.from_tier',
                't.to_tier',
                knex.raw(`${dateTextSql(db, 't.effective_on')} AS effective_on`),
                't.qualification',
                't.reason',
              ),
          ),
          freezeColumns: 1,
        },
      });

      interface FileRow {
        id: number;
        direction: string;
        feed: string;
        name: string;
        partner_code: string | null;
        verdict: string;
        reason: string | null;
        counts: string | null;
        delivered_at: string | Date | null;
        night: string | null;
        /** The file's last verdict set on or before the business date (`file_verdicts`), if any. */
        set_id: number | string | null;
      }
      // Each file as its verdict stood at the close of the date: an FTL part held tonight and completed
      // by a later night, a name conflict decided the next morning, an export withdrawn later show here
      // as they were, so the workbook made again is the one made that night. Its verdict, reason, counts
      // (Records) and partner are the registry's row as the last change on or before the date left it; a
      // file no change was recorded for (registered outside the registry) shows as it is.
      const asOfDate = async (rows: FileRow[]): Promise<FileRow[]> => {
        const ids = rows.flatMap((r) => (r.set_id === null ? [] : [Number(r.set_id)]));
        if (ids.length === 0) return rows;
        const sets = new Map(
          (
            (await knex('file_verdicts')
              .whereIn('id', ids)
              .select('id', 'verdict', 'reason', 'counts', 'partner_code')) as Array<
              Pick<FileRow, 'verdict' | 'reason' | 'counts' | 'partner_code'> & { id: unknown }
            >
          ).map(({ id, ...set }) => [Number(id), set]),
        );
        return rows.map((r) => (r.set_id === null ? r : { ...r, ...sets.get(Number(r.set_id)) }));
      };
      // As the report's instant knew it: a file delivered after it (by this night's deliver step, which
      // runs after the report) shows as written, so a rerun of the night writes the same workbook.
      const asOf = clock().getTime();
      const verdictAsOf = (f: FileRow) =>
        f.verdict === 'delivered' && f.delivered_at !== null && new Date(f.delivered_at).getTime() > asOf
          ? 'written'
          : f.verdict;
      // What each file posted, from the ledger: the postings made from its records (credits,
      // redemptions, reversals) dated the business date. A file of the night posts nothing before it
      // came; what a later night posts from it (a flight its coupon completes, an FTL message its last
      // part releases) is that night's, and its sheet lists the file among the earlier files.
      const postedByFile = new Map(
        (
          await sqlRows<{ file_id: unknown; n: unknown }>(
            knex,
            `SELECT source_file_id AS file_id, COUNT(*) AS n FROM postings
              WHERE business_date = ? AND source_file_id IS NOT NULL GROUP BY 1`,
            [businessDate],
          )
        ).map((r) => [num(r.file_id), num(r.n)]),
      );
      // The night's records not credited, by the file they came from: the very records the summary and
      // the reject sheets count, so the sheet's Rejected adds up to the summary's. A file of the night
      // counts what tonight refused of it; a file of an earlier night, what tonight refused of it after it
      // waited (held FTL parts that expired, a cancellation whose redemption never came, a retro-claim
      // settled as rejected): its other records count on its own night's sheet.
      const rejectedTonight = `SELECT file_id FROM (${rejectedRecordsSql('?')}) r WHERE file_id IS NOT NULL`;
      const rejectedByFile = new Map(
        (
          await sqlRows<{ file_id: unknown; n: unknown }>(
            knex,
            `SELECT file_id, COUNT(*) AS n FROM (${rejectedTonight}) r GROUP BY 1`,
            rejectedRecordsParams([businessDate]),
          )
        ).map((r) => [num(r.file_id), num(r.n)]),
      );
      const ofTheNight = (f: FileRow) => f.night === businessDate;
      const fileRows = () =>
        knex('files')
          .orderBy('id')
          .select(
            'id',
            'direction',
            'feed',
            'name',
            'partner_code',
            'verdict',
            'reason',
            'counts',
            'delivered_at',
            knex.raw(`${dateTextSql(db, 'business_date')} AS night`),
            knex.raw(
              `(SELECT v.id FROM file_verdicts v WHERE v.file_id = files.id AND v.business_date <= ?
                 ORDER BY v.business_date DESC, v.id DESC LIMIT 1) AS set_id`,
              [businessDate],
            ),
          );
      await book.addSheet({
        name: 'Files',
        title: 'Files of the night',
        notes: [
          'Posted: ledger postings made tonight from the file’s records. A flight is posted from the first file that named it.',
          'Records: every record the file held, kept, rejected or held for the rest of its FTL message.',
          'Rejected: lines the reader could not take, records the program rules refused, and retro-claims settled as rejected, counted as the Summary’s Records rejected counts them.',
          'Below the night’s files, files of earlier nights that tonight posted from or rejected lines of (a flight a coupon completed, a message its last part released or that expired incomplete, a cancellation whose redemption never came, a retro-claim that waited and was rejected): Posted and Rejected are what tonight did; their records count on their own night.',
        ],
        table: {
          columns: [
            {
              header: 'Direction',
              type: 'text',
              value: (f: FileRow) => (f.direction === 'in' ? 'received' : 'sent'),
            },
            { header: 'Feed', type: 'text', value: 'feed' },
            { header: 'File', type: 'text', value: 'name' },
            { header: 'Night', type: 'date', value: 'night' },
            { header: 'Partner', type: 'text', value: 'partner_code' },
            { header: 'Verdict', type: 'text', value: verdictAsOf },
            { header: 'Reason', type: 'text', value: 'reason' },
            {
              header: 'Records',
              type: 'integer',
              // Every record the file held (kept, rejected, or held for its FTL message): what
              // Posted and Rejected are parts of. The registry counts a rejected record once, as a reject.
              // An earlier night's file counts its records on its own night's sheet.
              value: (f: FileRow) => {
                if (!ofTheNight(f)) return null;
                const counts = parseCounts(f.counts);
                const records = countOf(counts, 'records');
                if (records === null || f.direction !== 'in') return records;
                return records + (countOf(counts, 'rejects') ?? 0) + (countOf(counts, 'held') ?? 0);
              },
            },
            {
              header: 'Posted',
              type: 'integer',
              // Received files only: a file we sent posts nothing.
              value: (f: FileRow) => (f.direction === 'in' ? (postedByFile.get(Number(f.id)) ?? 0) : null),
            },
            {
              header: 'Rejected',
              type: 'integer',
              // Received files only: a file we sent rejects nothing.
              value: (f: FileRow) => (f.direction === 'in' ? (rejectedByFile.get(Number(f.id)) ?? 0) : null),
            },
          ],
          rows: concatRows(
            keysetRows<FileRow>(async (after, size) =>
              asOfDate(
                await fileRows().where('business_date', businessDate).andWhere('id', '>', after).limit(size),
              ),
            ),
            keysetRows<FileRow>(async (after, size) =>
              asOfDate(
                await fileRows()
                  .where((q) =>
                    q
                      .whereIn(
                        'id',
                        knex('postings')
                          .where('business_date', businessDate)
                          .whereNotNull('source_file_id')
                          .select('source_file_id'),
                      )
                      .orWhereRaw(`id IN (${rejectedTonight})`, rejectedRecordsParams([businessDate])),
                  )
                  .andWhere('business_date', '<', businessDate)
                  .andWhere('id', '>', after)
                  .limit(size),
              ),
            ),
          ),
          totals: true,
        },
      });

      const rejectTotal = rejectReasons.reduce((s, r) => s + num(r.n), 0);
      const reasonColumns: ColumnSpec<(typeof rejectReasons)[number]>[] = [
        { header: 'Feed', type: 'text', value: 'feed' },
        { header: 'Reason', type: 'text', value: 'reason' },
        { header: 'Files', type: 'integer', value: (r) => num(r.files), total: false },
        { header: 'Records rejected', type: 'integer', value: (r) => num(r.n) },
        { header: 'Share', type: 'percent', value: (r) => share(num(r.n), rejectTotal) },
      ];
      await book.addSheet({
        name: 'Rejects by reason',
        table: { columns: reasonColumns, rows: rejectReasons, totals: true },
        images: rejectChart
          ? [{ png: rejectChart.png, at: chartCell(reasonColumns.length, 0), description: rejectChart.alt }]
          : [],
      });

      await book.addSheet({
        name: 'Reject detail',
        title: 'Rejected records',
        notes: [
          'Records as the partner sent them: text from outside, shown as text.',
          'Kind: record, a line the reader could not take; activity, one the program rules refused; retro-claim, a claim settled as rejected.',
        ],
        table: {
          columns: [
            { header: 'File', type: 'text', value: 'file' },
            { header: 'Feed', type: 'text', value: 'feed' },
            { header: 'Kind', type: 'text', value: 'kind' },
            { header: 'Line', type: 'integer', value: 'line', total: false },
            { header: 'Field', type: 'text', value: 'field' },
            { header: 'Reason', type: 'text', value: 'reason' },
            { header: 'Member', type: 'text', value: 'member_number' },
            { header: 'Record', type: 'text', value: 'record_ref' },
            { header: 'Message', type: 'text', value: 'message' },
            { header: 'Text', type: 'text', value: 'text' },
          ],
          rows: rejectedRecordRows(knex, businessDate, config.retroClaims),
          freezeColumns: 1,
        },
      });

      interface WaitingRow {
        id: number;
        member_number: string | null;
        external_ref: string | null;
        service_type: string | null;
        points_requested: unknown;
        file: string | null;
        source_line: unknown;
        came_in: string;
      }
      const wait = config.redemptions.cancellationWaitDays;
      await book.addSheet({
        name: 'Waiting cancellations',
        title: 'Cancellations waiting for their redemption',
        notes: [
          `Cancellations that came before the redemption they cancel, still waiting for it at the end of ${businessDate}.`,
          `Each is applied the night its redemption comes; one whose redemption has not come in ${wait} ${wait === 1 ? 'day' : 'days'} is rejected (UNKNOWN_REDEMPTION) on the night shown.`,
        ],
        table: {
          columns: [
            { header: 'Member', type: 'text', value: 'member_number' },
            { header: 'Redemption', type: 'text', value: 'external_ref' },
            { header: 'Service type', type: 'text', value: 'service_type' },
            { header: 'Points', type: 'points', value: (r: WaitingRow) => num(r.points_requested) },
            { header: 'File', type: 'text', value: 'file' },
            {
              header: 'Line',
              type: 'integer',
              value: (r: WaitingRow) => (r.source_line === null ? null : num(r.source_line)),
              total: false,
            },
            { header: 'Came in', type: 'date', value: 'came_in' },
            {
              header: 'Days waiting',
              type: 'integer',
              value: (r: WaitingRow) => daysBetween(r.came_in, businessDate),
              total: false,
            },
            {
              // Projected with today's wait: the night that rejects goes by the setting in force then, and
              // the wait in force when a cancellation began to wait is recorded nowhere. The night that did
              // reject it (rejected_on) is not used: a past date's report reads only what was known by then.
              header: 'Rejected on',
              type: 'date',
              value: (r: WaitingRow) => cancellationRejectedOn(config, r.came_in),
            },
          ],
          rows: keysetRows<WaitingRow>((after, size) =>
            waitingCancellationsAt(knex, businessDate)
              .leftJoin('files as f', 'f.id', 'a.source_file_id')
              .andWhere('a.id', '>', after)
              .orderBy('a.id')
              .limit(size)
              .select('a.id', 'a.member_number', 'a.external_ref', 'a.service_type', 'a.points_requested')
              .select(
                'f.name as file',
                'a.source_line',
                knex.raw(`${dateTextSql(db, 'a.business_date')} AS came_in`),
              ),
          ),
          totals: true,
          freezeColumns: 2,
        },
      });

      interface RouteRow {
        rank: number;
        route: string;
        flights: number;
        members: number;
        points: number;
      }
      const routeColumns: ColumnSpec<RouteRow>[] = [
        { header: 'Rank', type: 'integer', value: 'rank', total: false },
        { header: 'Route', type: 'text', value: 'route' },
        { header: 'Flights credited', type: 'integer', value: 'flights' },
        { header: 'Members', type: 'integer', value: 'members', total: false },
        { header: 'Points', type: 'points', value: 'points' },
      ];
      await book.addSheet({
        name: 'Top routes',
        title: 'Top routes by points',
        notes: [
          'Own-flight points posted tonight net of reversals, by route; flights: credits less reversals.',
        ],
        table: {
          columns: routeColumns,
          rows: routes.map((r, i) => ({
            rank: i + 1,
            route: `${r.origin}-${r.destination}`,
            flights: r.flights,
            members: r.members,
            points: r.points,
          })),
          totals: { label: 'Top routes' },
        },
        images: routeChart
          ? [{ png: routeChart.png, at: chartCell(routeColumns.length, 1), description: routeChart.alt }]
          : [],
      });

      const due = config.exports.alliance.resultsDueDays;
      const sentBy = addDays(businessDate, -due);
      interface ClaimRow {
        id: number;
        partner_code: string;
        claim_id: string;
        sent: string;
        claim: string;
      }
      await book.addSheet({
        name: 'Unanswered claims',
        title: 'Claims to partner airlines without an answer',
        notes: [
          `Claims sent on or before ${sentBy} (${due} days for an answer) and not answered by ${businessDate}.`,
        ],
        table: {
          columns: [
            { header: 'Partner', type: 'text', value: 'partner_code' },
            { header: 'Claim', type: 'text', value: 'claim_id' },
            { header: 'Sent', type: 'date', value: 'sent' },
            {
              header: 'Days waiting',
              type: 'integer',
              value: (c: ClaimRow & ClaimedFlight) => daysBetween(c.sent, businessDate),
              total: false,
            },
            // A claim names the flight; the partner's earning chart decides the points, and they come
            // only with its answer (alliance-accrual.md): there are no points to show for an unanswered one.
            { header: 'Flight', type: 'text', value: 'flight' },
            { header: 'Flown', type: 'date', value: 'date' },
            { header: 'Route', type: 'text', value: 'route' },
            { header: 'Cabin', type: 'text', value: 'cabin' },
          ],
          rows: keysetRows<ClaimRow & ClaimedFlight>(async (after, size) =>
            (
              await sqlRows<ClaimRow>(
                knex,
                `SELECT id, partner_code, claim_id, ${dateTextSql(db, 'business_date')} AS sent, claim
               FROM alliance_claims
              WHERE direction = 'OUT' AND business_date <= ? AND id > ?
                AND (status = 'SENT' OR (status IN ('ACCEPTED', 'REJECTED') AND answered_on > ?))
              ORDER BY id LIMIT ?`,
                [sentBy, after, businessDate, size],
              )
            ).map((c) => ({ ...c, ...claimedFlight(c.claim) })),
          ),
        },
      });
    },
  );

  const keyFigures: KeyFigure[] = [
    figure('Points accrued', today.accrued, average('accrued'), weeks),
    figure('Points redeemed', today.redeemed, average('redeemed'), weeks),
    figure('Points expired', today.expired, average('expired'), weeks),
    figure('Tier upgrades', today.upgrades, average('upgrades'), weeks),
    figure('Files received', today.files, average('files'), weeks),
    figure('Records rejected', today.rejects, average('rejects'), weeks),
    figure(
      'Cancellations waiting for their redemption',
      today.waitingCancellations,
      average('waitingCancellations'),
      weeks,
    ),
  ];
  return {
    report: 'daily',
    title: DAILY_TITLE,
    businessDate,
    workbookPath,
    chartPaths: charts.map((c) => c.path),
    keyFigures,
    mainChart: channelChart,
  };
}

function figure(label: string, value: number, average: number, weeks: number): KeyFigure {
  const c = change(value, average);
  return c === undefined
    ? { label, value }
    : { label, value, change: c, note: `against the average of the same weekday, ${weeks} weeks` };
}
