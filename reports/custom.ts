/**
 * The report constructor: a report defined in the configuration (`reports.custom`) by measures, one or
 * two dimensions, filters, the period it covers (ending on the business date) and a chart type, and
 * produced like the built-in reports.
 *
 * Every measure is read from the ledger as of the period, so a report for a past date comes out the
 * same when rerun after later nights. Points issued, redeemed and expired are the award points on
 * member and pool accounts, net of reversals; points issued include a flight's class correction, as the
 * monthly report's issued lines do (`MOVEMENT_KIND_SQL`). Members are the active members as the monthly report
 * counts them (`activeAccountsSql`), so the two agree. Activities are the credits (accrual postings
 * crediting award points) of the period less the reversals of the period, and spend the base-currency
 * spend of the activity each credit was posted for, less that of the reversed ones (`activitySource`).
 * Each source is one grouped query; a report that needs several runs one each and joins their rows
 * by dimension values.
 *
 * Dimensions, of the posting for every measure: `day` and `month` of its business date; `channel`;
 * `partner` (from the channel); `tier` (at the end of the business date, of the account the member is
 * then: a merged member's survivor, for every measure); `route` and `cabin` (from the activity a posting
 * credited); `serviceType` (redemptions). What has no value for a dimension of the report (an own
 * flight has no partner) is not in it.
 */
import { join } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import {
  chartedMeasures,
  chartUnitsProblem,
  MEASURE_UNITS,
  type CustomReportConfig,
  type MeasureUnit,
} from '../config/schema.js';
import type { Db } from '../db/connection.js';
import { addDays, eachDay, monthOf, startOfMonth, type IsoDate } from '../lib/dates.js';
import { ConfigError } from '../lib/errors.js';
import { formatMinor, minorUnitExponent } from '../lib/money.js';
import type { KeyFigure } from '../mail/report-mail.js';
import type { ChartNumberFormat, ChartSpec } from './charts.js';
import {
  channelLabel,
  chartCell,
  dateTextSql,
  defaultOutDir,
  monthLabel,
  monthSql,
  MOVEMENT_KIND_SQL,
  num,
  POSTING_ACTIVITY_JOIN_SQL,
  prepareOutDir,
  PTS_KINDS_SQL,
  reportClock,
  saveChart,
  serviceLabel,
  sqlRows,
  tierAsOfSql,
  tierName,
  type Clock,
  type ReportChart,
  type ReportResult,
} from './common.js';
import { activeAccountsSql, activeMemberPostingSql, memberAccountsSql } from './queries.js';
import { writeWorkbookFile, type ColumnSpec } from './workbook.js';

type Measure = CustomReportConfig['measures'][number];
type Dimension = CustomReportConfig['dimensions'][number];
type FilterKey = keyof CustomReportConfig['filters'];

/** The source each measure is read from: one grouped query per source a report uses. */
const SOURCE_OF: Record<Measure, 'ledger' | 'members' | 'activities'> = {
  pointsIssued: 'ledger',
  pointsRedeemed: 'ledger',
  pointsExpired: 'ledger',
  members: 'members',
  spend: 'activities',
  activities: 'activities',
};

const MEASURE_HEADERS: Record<Measure, string> = {
  pointsIssued: 'Points issued',
  pointsRedeemed: 'Points redeemed',
  pointsExpired: 'Points expired',
  members: 'Members',
  spend: 'Spend',
  activities: 'Activities',
};

const DIMENSION_HEADERS: Record<Dimension, string> = {
  day: 'Day',
  month: 'Month',
  channel: 'Channel',
  partner: 'Partner',
  tier: 'Tier',
  route: 'Route',
  cabin: 'Cabin',
  serviceType: 'Service type',
};

const NONE = '(none)';
/** Categories beyond these are summed into "Other" in charts and cross tables (the data sheet has them all). */
const MAX_CATEGORIES = 15;
const MAX_SERIES = 8;

/** First day of the report's period, which ends on the business date. */
export function periodStart(period: CustomReportConfig['period'], businessDate: IsoDate): IsoDate {
  switch (period) {
    case 'day':
      return businessDate;
    case 'week':
      return addDays(businessDate, -6);
    case 'month':
      return startOfMonth(businessDate);
    case 'quarter': {
      const month = Number(businessDate.slice(5, 7));
      const first = month - ((month - 1) % 3);
      return `${businessDate.slice(0, 4)}-${String(first).padStart(2, '0')}-01`;
    }
    case 'year':
      return `${businessDate.slice(0, 4)}-01-01`;
  }
}

interface Fragment {
  sql: string;
  bindings: string[];
}

interface Source {
  /** SQL of a dimension or filter value, with the bindings it carries. */
  expression(key: Dimension | FilterKey): Fragment;
  /** FROM and WHERE of the facts, for the joins the used dimensions and filters need. */
  from(needs: { member: boolean; activity: boolean }): Fragment;
  /** Inner columns the measures are computed from, and the measures over them. */
  facts: string;
  measures(measures: readonly Measure[]): string;
}

/**
 * A dimension's value for a posting `p`: its business date, its channel (a reversal carries the
 * channel of what it reverses), the partner or service type the channel names, the tier held at
 * `asOf` by the account `m` its member is then (`postingMemberJoin`, `memberSource`), and the route and
 * cabin of the archive's activity `act` the posting (or, for a reversal, the posting it reverses) was
 * made for. Every source reads the same postings, so a dimension means the same for every measure.
 */
function postingExpression(db: Db, asOf: IsoDate): Source['expression'] {
  const channel = 'p.channel';
  return (key) => {
    switch (key) {
      case 'day':
        return { sql: dateTextSql(db, 'p.business_date'), bindings: [] };
      case 'month':
        return { sql: monthSql(db, 'p.business_date'), bindings: [] };
      case 'channel':
        return { sql: channel, bindings: [] };
      case 'partner':
        return {
          sql: `CASE WHEN substr(${channel}, 1, 8) = 'PARTNER:' THEN substr(${channel}, 9) WHEN substr(${channel}, 1, 16) = 'PARTNER_AIRLINE:' THEN substr(${channel}, 17) END`,
          bindings: [],
        };
      case 'serviceType':
        return {
          sql: `CASE WHEN substr(${channel}, 1, 11) = 'REDEMPTION:' THEN substr(${channel}, 12) END`,
          bindings: [],
        };
      case 'tier':
        return { sql: tierAsOfSql('m.id'), bindings: [asOf] };
      case 'route':
        return { sql: "act.origin || '-' || act.destination", bindings: [] };
      case 'cabin':
        return { sql: 'act.cabin', bindings: [] };
    }
  };
}

/**
 * The members row `m` a posting's dimensions read: the account its member is at the end of the period
 * (`memberAccountsSql`), so a member merged by then is its survivor, as `memberSource` counts it. Its
 * own row would group the points and activities of a person under the merged account's tier and the
 * person under the survivor's. A member whose chain ends at no account (a survivor the register does
 * not have) is read as itself.
 */
function postingMemberJoin(from: IsoDate, to: IsoDate): Fragment {
  const accounts = memberAccountsSql(from, to);
  return {
    sql:
      ` LEFT JOIN (${accounts.sql}) acct ON acct.member_id = p.member_id` +
      ' LEFT JOIN members m ON m.id = COALESCE(acct.account_id, p.member_id)',
    bindings: accounts.bindings,
  };
}

function ledgerSource(db: Db, from: IsoDate, to: IsoDate, asOf: IsoDate): Source {
  return {
    expression: postingExpression(db, asOf),
    from(needs) {
      const member = needs.member ? postingMemberJoin(from, to) : { sql: '', bindings: [] };
      return {
        sql:
          `FROM postings p JOIN entries e ON e.posting_id = p.id JOIN accounts a ON a.id = e.account_id
           LEFT JOIN postings o ON o.id = p.reversal_of` +
          member.sql +
          (needs.activity ? ` ${POSTING_ACTIVITY_JOIN_SQL}` : '') +
          ` WHERE p.business_date >= ? AND p.business_date <= ? AND e.business_date >= ? AND e.business_date <= ?
              AND a.kind IN ${PTS_KINDS_SQL} AND ${MOVEMENT_KIND_SQL} IN ('ACCRUAL', 'REDEMPTION', 'EXPIRY')`,
        bindings: [...member.bindings, from, to, from, to],
      };
    },
    facts: `${MOVEMENT_KIND_SQL} AS k, e.amount AS amount`,
    measures(measures) {
      return measures
        .filter((m) => SOURCE_OF[m] === 'ledger')
        .map((m) => {
          switch (m) {
            case 'pointsIssued':
              return "SUM(CASE WHEN x.k = 'ACCRUAL' THEN x.amount ELSE 0 END) AS pointsIssued";
            case 'pointsRedeemed':
              return "SUM(CASE WHEN x.k = 'REDEMPTION' THEN -x.amount ELSE 0 END) AS pointsRedeemed";
            default:
              return "SUM(CASE WHEN x.k = 'EXPIRY' THEN -x.amount ELSE 0 END) AS pointsExpired";
          }
        })
        .join(', ');
    },
  };
}

/**
 * Members: the distinct members the postings of the period make active, by the monthly report's
 * definition (`activeAccountsSql`: earned or redeemed award points, status credits alone and reversals
 * making no one active; each counted as its account on the register at the end of the business date, a
 * merged member as its survivor), grouped by the same posting dimensions as the points. `tier` is the
 * account's tier, as the monthly report's distribution counts it.
 */
function memberSource(db: Db, from: IsoDate, to: IsoDate, asOf: IsoDate): Source {
  return {
    expression: postingExpression(db, asOf),
    from(needs) {
      const active = activeMemberPostingSql(from, to);
      const accounts = activeAccountsSql(from, to);
      return {
        sql:
          `FROM postings p JOIN (${accounts.sql}) acct ON acct.member_id = p.member_id` +
          (needs.member ? ' LEFT JOIN members m ON m.id = acct.account_id' : '') +
          (needs.activity
            ? ` LEFT JOIN postings o ON o.id = p.reversal_of ${POSTING_ACTIVITY_JOIN_SQL}`
            : '') +
          ` WHERE ${active.sql}`,
        bindings: [...accounts.bindings, ...active.bindings],
      };
    },
    facts: 'acct.account_id AS member_id',
    measures(measures) {
      return measures.includes('members') ? 'COUNT(DISTINCT x.member_id) AS members' : '';
    },
  };
}

/**
 * Activities and spend, read from the ledger as of the period like the monthly report's partner
 * activities (`partnerActivities`), never from the archive's current status. A credit is an accrual
 * posting of the period that credits award points (an entry on a member or pool points account, as
 * `pointsIssued` reads them; a status-only posting credits none); each counts +1 with the base-currency
 * spend of the activity it was posted for (`POSTING_ACTIVITY_JOIN_SQL`), and each reversal of a credit
 * posted in the period counts −1 and takes back the spend of the activity it reverses, whatever the
 * date of the credit. So a partner's reversal record is never an activity of its own, a credit and its
 * reversal in one period net to nothing, and a credit reversed on a later night stays in its period:
 * rerun after that night, a past report gives the same figures. A credit the archive has no activity
 * for counts with no spend (and no route or cabin). Activities are accruals only: a redemption is
 * none, so grouped by service type they are empty.
 */
function activitySource(db: Db, from: IsoDate, to: IsoDate, asOf: IsoDate): Source {
  return {
    expression: postingExpression(db, asOf),
    from(needs) {
      const member = needs.member ? postingMemberJoin(from, to) : { sql: '', bindings: [] };
      // One row per posting: the points entries only decide which postings are credits.
      return {
        sql:
          `FROM postings p LEFT JOIN postings o ON o.id = p.reversal_of
           ${POSTING_ACTIVITY_JOIN_SQL}` +
          member.sql +
          ` WHERE p.business_date >= ? AND p.business_date <= ? AND COALESCE(o.kind, p.kind) = 'ACCRUAL'
              AND EXISTS (SELECT 1 FROM entries e JOIN accounts a ON a.id = e.account_id
                           WHERE e.posting_id = p.id AND a.kind IN ${PTS_KINDS_SQL}
                             AND e.business_date >= ? AND e.business_date <= ?)`,
        bindings: [...member.bindings, from, to, from, to],
      };
    },
    facts:
      'CASE WHEN p.reversal_of IS NULL THEN 1 ELSE -1 END AS sign, COALESCE(act.base_spend_minor, 0) AS spend',
    measures(measures) {
      return measures
        .filter((m) => SOURCE_OF[m] === 'activities')
        .map((m) => (m === 'spend' ? 'SUM(x.sign * x.spend) AS spend' : 'SUM(x.sign) AS activities'))
        .join(', ');
    },
  };
}

interface Cell {
  keys: string[];
  values: Partial<Record<Measure, number>>;
}

async function runSource(
  db: Db,
  source: Source,
  dimensions: readonly Dimension[],
  filters: CustomReportConfig['filters'],
  measures: readonly Measure[],
  grouped = true,
): Promise<Cell[]> {
  const filterKeys = (Object.keys(filters) as FilterKey[]).filter((k) => (filters[k]?.length ?? 0) > 0);
  const used = [...dimensions, ...filterKeys];
  const needs = {
    member: used.includes('tier'),
    activity: used.includes('route') || used.includes('cabin'),
  };
  const columns: string[] = [];
  const bindings: string[] = [];
  dimensions.forEach((d, i) => {
    const e = source.expression(d);
    columns.push(`${e.sql} AS d${i}`);
    bindings.push(...e.bindings);
  });
  filterKeys.forEach((k, i) => {
    const e = source.expression(k);
    columns.push(`${e.sql} AS f${i}`);
    bindings.push(...e.bindings);
  });
  columns.push(source.facts);
  const from = source.from(needs);
  bindings.push(...from.bindings);
  const where: string[] = [];
  filterKeys.forEach((k, i) => {
    const values = filters[k]!;
    where.push(`x.f${i} IN (${values.map(() => '?').join(', ')})`);
    bindings.push(...values);
  });
  // A fact without a value for a dimension (an own flight has no partner, a hotel stay no route) is
  // outside a report grouped by it; the period totals leave it out the same way.
  dimensions.forEach((_, i) => where.push(`x.d${i} IS NOT NULL`));
  const groups = grouped ? dimensions.map((_, i) => `x.d${i}`) : [];
  const sql =
    `SELECT ${[...groups, source.measures(measures)].join(', ')}
       FROM (SELECT ${columns.join(', ')} ${from.sql}) x` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    (groups.length > 0 ? ` GROUP BY ${groups.join(', ')}` : '');
  const rows = await sqlRows<Record<string, unknown>>(db.knex, sql, bindings);
  return rows.map((r) => {
    const values: Partial<Record<Measure, number>> = {};
    for (const m of measures) {
      // PostgreSQL folds unquoted aliases to lower case.
      const raw = r[m] ?? r[m.toLowerCase()];
      values[m] = num(raw);
    }
    return {
      keys: groups.map((_, i) =>
        r[`d${i}`] === null || r[`d${i}`] === undefined ? NONE : String(r[`d${i}`]),
      ),
      values,
    };
  });
}

/** The measures of a custom report by its dimension values, and over the whole period. */
export async function customReportData(
  db: Db,
  definition: CustomReportConfig,
  businessDate: IsoDate,
): Promise<{ from: IsoDate; to: IsoDate; cells: Cell[]; totals: Partial<Record<Measure, number>> }> {
  const from = periodStart(definition.period, businessDate);
  const to = businessDate;
  const merged = new Map<string, Cell>();
  const totals: Partial<Record<Measure, number>> = {};
  const sources: Array<[Source, Measure[]]> = [];
  for (const [kind, source] of [
    ['ledger', ledgerSource],
    ['members', memberSource],
    ['activities', activitySource],
  ] as const) {
    const measures = definition.measures.filter((m) => SOURCE_OF[m] === kind);
    if (measures.length > 0) sources.push([source(db, from, to, to), measures]);
  }
  for (const [source, measures] of sources) {
    for (const cell of await runSource(db, source, definition.dimensions, definition.filters, measures)) {
      const key = cell.keys.join('\u0000');
      const into = merged.get(key) ?? { keys: cell.keys, values: {} };
      Object.assign(into.values, cell.values);
      merged.set(key, into);
    }
    // Members are counted once over the period, not summed over the groups.
    const [whole] = await runSource(db, source, definition.dimensions, definition.filters, measures, false);
    Object.assign(totals, whole?.values ?? {});
  }
  return { from, to, cells: [...merged.values()], totals };
}

function unitFormat(unit: MeasureUnit, base: string): ChartNumberFormat {
  return unit === 'money' ? { style: 'currency', currency: base } : { compact: true };
}

/** With two value axes each says what it counts, or a reader could not tell which scale a bar uses. */
function axisTitle(unit: MeasureUnit, measures: readonly Measure[], base: string): string {
  if (unit === 'points') return 'Points';
  if (unit === 'money') return `Spend (${base})`;
  return measures.map((m) => MEASURE_HEADERS[m]).join(' / ');
}

function isTime(d: Dimension): boolean {
  return d === 'day' || d === 'month';
}

function dimensionLabel(config: LoadedConfig, d: Dimension, key: string): string {
  if (key === NONE) return NONE;
  switch (d) {
    case 'month':
      return monthLabel(key);
    case 'channel':
      return channelLabel(config, key);
    case 'partner':
      return config.partners.find((p) => p.code === key)?.name ?? key;
    case 'tier':
      return tierName(config, key);
    case 'serviceType':
      return serviceLabel(key);
    default:
      return key;
  }
}

/** Dimension values in report order: time in sequence (every day or month of the period), others by the first measure. */
function orderKeys(
  d: Dimension,
  cells: Cell[],
  index: number,
  first: Measure,
  from: IsoDate,
  to: IsoDate,
): string[] {
  const found = new Set(cells.map((c) => c.keys[index]!));
  if (d === 'day') return [...new Set([...eachDay(from, to), ...found])].sort();
  if (d === 'month') {
    const months = new Set(found);
    for (const day of eachDay(from, to)) months.add(monthOf(day));
    return [...months].sort();
  }
  const weight = new Map<string, number>();
  for (const c of cells)
    weight.set(c.keys[index]!, (weight.get(c.keys[index]!) ?? 0) + (c.values[first] ?? 0));
  return [...found].sort((a, b) => (weight.get(b) ?? 0) - (weight.get(a) ?? 0) || a.localeCompare(b));
}

export function findCustomReport(config: LoadedConfig, name: string): CustomReportConfig | undefined {
  return config.reports.custom.find((r) => r.name === name);
}

export async function customReport(
  db: Db,
  config: LoadedConfig,
  definition: CustomReportConfig,
  businessDate: IsoDate,
  outDir: string = defaultOutDir(config, businessDate),
  clock: Clock = reportClock(config, businessDate),
): Promise<ReportResult> {
  if (definition.name === 'daily' || definition.name === 'monthly' || definition.name === 'send') {
    throw new ConfigError(`a custom report cannot be named "${definition.name}": the name is taken`, [
      { path: 'reports.custom', message: `"${definition.name}" is reserved` },
    ]);
  }
  const unitsProblem = chartUnitsProblem(definition);
  if (unitsProblem !== undefined) {
    throw new ConfigError(unitsProblem, [{ path: 'reports.custom', message: unitsProblem }]);
  }
  const base = config.program.baseCurrency;
  const scale = 10 ** (minorUnitExponent(base) ?? 2);
  const prefix = `${definition.name}-${businessDate}`;
  await prepareOutDir(outDir);
  const { from, to, cells, totals } = await customReportData(db, definition, businessDate);
  const [d1, d2] = definition.dimensions as [Dimension, Dimension | undefined];
  const first = definition.measures[0]!;
  const keys1 = orderKeys(d1, cells, 0, first, from, to);
  const keys2 = d2
    ? orderKeys(d2, cells, 1, first, from, to).filter((k) => cells.some((c) => c.keys[1] === k))
    : [];
  const byKey = new Map(cells.map((c) => [c.keys.join('\u0000'), c]));

  // ---- the data sheet: one row per dimension value (pair), every measure
  interface DataRow {
    keys: string[];
    labels: string[];
    values: Partial<Record<Measure, number>>;
  }
  const rows: DataRow[] = [];
  for (const k1 of keys1) {
    if (!d2) {
      const cell = byKey.get(k1);
      if (!cell && !isTime(d1)) continue;
      rows.push({ keys: [k1], labels: [dimensionLabel(config, d1, k1)], values: cell?.values ?? {} });
      continue;
    }
    for (const k2 of keys2) {
      const cell = byKey.get(`${k1}\u0000${k2}`);
      if (!cell) continue;
      rows.push({
        keys: [k1, k2],
        labels: [dimensionLabel(config, d1, k1), dimensionLabel(config, d2, k2)],
        values: cell.values,
      });
    }
  }
  const dimensionColumns = (d: Dimension, i: number): ColumnSpec<DataRow>[] => {
    const coded = d === 'channel' || d === 'partner' || d === 'tier' || d === 'serviceType';
    return coded
      ? [
          { header: DIMENSION_HEADERS[d], type: 'text', value: (r) => r.keys[i] },
          { header: `${DIMENSION_HEADERS[d]} name`, type: 'text', value: (r) => r.labels[i] },
        ]
      : [{ header: DIMENSION_HEADERS[d], type: d === 'day' ? 'date' : 'text', value: (r) => r.keys[i] }];
  };
  const measureColumn = (m: Measure): ColumnSpec<DataRow> => {
    if (m === 'spend') {
      return { header: `Spend (${base})`, type: 'money', currency: base, value: (r) => r.values.spend ?? 0 };
    }
    return {
      header: MEASURE_HEADERS[m],
      type: m === 'members' || m === 'activities' ? 'integer' : 'points',
      value: (r) => r.values[m] ?? 0,
      // Distinct members do not add up across groups; the period's count is in the notes.
      ...(m === 'members' ? { total: false } : {}),
    };
  };
  const columns: ColumnSpec<DataRow>[] = [
    ...dimensionColumns(d1, 0),
    ...(d2 ? dimensionColumns(d2, 1) : []),
    ...definition.measures.map(measureColumn),
  ];

  // ---- the chart
  let mainChart: ReportChart | undefined;
  const chartType = definition.chart.type;
  const toChart = (m: Measure, v: number) => (m === 'spend' ? v / scale : v);
  // A slice of nothing only crowds a pie's legend (every service type at 0 of a points-by-channel pie).
  const firstOf = (k1: string) =>
    d2
      ? keys2.reduce((s, k2) => s + (byKey.get(`${k1}\u0000${k2}`)?.values[first] ?? 0), 0)
      : (byKey.get(k1)?.values[first] ?? 0);
  const charted = chartType === 'pie' ? keys1.filter((k1) => firstOf(k1) !== 0) : keys1;
  if (chartType !== 'none' && charted.length > 0) {
    const categories = isTime(d1) ? charted : charted.slice(0, MAX_CATEGORIES);
    const rest = isTime(d1) ? [] : charted.slice(MAX_CATEGORIES);
    const labels = [
      ...categories.map((k) => (d1 === 'day' ? k.slice(5) : dimensionLabel(config, d1, k))),
      ...(rest.length > 0 ? ['Other'] : []),
    ];
    const valueOf = (k1: string, k2: string | undefined, m: Measure) =>
      toChart(m, byKey.get(k2 === undefined ? k1 : `${k1}\u0000${k2}`)?.values[m] ?? 0);
    const sum = (ks: string[], k2: string | undefined, m: Measure) =>
      ks.reduce((s, k) => s + valueOf(k, k2, m), 0);
    let series: ChartSpec['series'];
    let axes: Pick<ChartSpec, 'valueAxisTitle' | 'rightAxis'> = {};
    if (d2 && chartType !== 'pie') {
      const shown = keys2.slice(0, MAX_SERIES);
      const others = keys2.slice(MAX_SERIES);
      series = [
        ...shown.map((k2) => ({
          label: dimensionLabel(config, d2, k2),
          data: [
            ...categories.map((k1) => valueOf(k1, k2, first)),
            ...(rest.length > 0 ? [sum(rest, k2, first)] : []),
          ],
        })),
        ...(others.length > 0
          ? [
              {
                label: 'Other',
                data: [
                  ...categories.map((k1) => others.reduce((s, k2) => s + valueOf(k1, k2, first), 0)),
                  ...(rest.length > 0 ? [others.reduce((s, k2) => s + sum(rest, k2, first), 0)] : []),
                ],
              },
            ]
          : []),
      ];
    } else {
      const total = (k1: string, m: Measure) =>
        d2 ? keys2.reduce((s, k2) => s + valueOf(k1, k2, m), 0) : valueOf(k1, undefined, m);
      const measures = chartedMeasures(definition);
      // Measures of another unit than the first are read against an axis of their own, on the right
      // (the configuration allows no third unit).
      series = measures.map((m) => ({
        label: m === 'spend' ? `Spend (${base})` : MEASURE_HEADERS[m],
        data: [
          ...categories.map((k1) => total(k1, m)),
          ...(rest.length > 0 ? [rest.reduce((s, k1) => s + total(k1, m), 0)] : []),
        ],
        ...(MEASURE_UNITS[m] !== MEASURE_UNITS[first] ? { axis: 'right' as const } : {}),
      }));
      const right = measures.filter((m) => MEASURE_UNITS[m] !== MEASURE_UNITS[first]);
      if (right.length > 0) {
        const onLeft = measures.filter((m) => MEASURE_UNITS[m] === MEASURE_UNITS[first]);
        axes = {
          valueAxisTitle: axisTitle(MEASURE_UNITS[first], onLeft, base),
          rightAxis: {
            valueFormat: unitFormat(MEASURE_UNITS[right[0]!], base),
            title: axisTitle(MEASURE_UNITS[right[0]!], right, base),
          },
        };
      }
    }
    // A period with nothing to show (no partner points yet) gives a workbook without a chart, not a failure.
    if (series.length > 0 && labels.length > 0)
      mainChart = await saveChart(join(outDir), prefix, 'chart', {
        kind: chartType === 'stacked-bar' ? 'bar' : chartType === 'pie' ? 'doughnut' : chartType,
        stacked: chartType === 'stacked-bar',
        title: definition.title,
        subtitle: `${from} to ${to}`,
        labels,
        series,
        valueFormat: unitFormat(MEASURE_UNITS[first], base),
        ...axes,
        ...(d1 === 'day' ? { categoryAxisTitle: 'Day' } : {}),
      });
  }

  const filterText = (Object.keys(definition.filters) as FilterKey[])
    .filter((k) => (definition.filters[k]?.length ?? 0) > 0)
    .map((k) => `${k} ${definition.filters[k]!.join(', ')}`)
    .join('; ');
  const notes = [
    `${from} to ${to}${filterText ? `; only ${filterText}` : ''}.`,
    ...(definition.measures.includes('members')
      ? [
          `Active members (earned or redeemed award points) in the whole period: ${(totals.members ?? 0).toLocaleString('en-US')}.`,
        ]
      : []),
    ...(definition.measures.includes('activities') || definition.measures.includes('spend')
      ? [
          'Activities: credits posted in the period less reversals posted in the period; spend: that of the credited activities less that of the reversed ones.',
        ]
      : []),
  ];
  const workbookPath = join(outDir, `${prefix}.xlsx`);
  await writeWorkbookFile(
    workbookPath,
    { report: { name: definition.title, businessDate }, clock },
    async (book) => {
      await book.addSheet({
        name: 'Data',
        title: definition.title,
        notes,
        table: { columns, rows, totals: true, freezeColumns: d2 ? 2 : 1 },
        images: mainChart
          ? [{ png: mainChart.png, at: chartCell(columns.length, notes.length), description: mainChart.alt }]
          : [],
      });
      if (d2) {
        // The cross table: the first measure, the first dimension down, the second across.
        const across = keys2.slice(0, MAX_CATEGORIES);
        const others = keys2.slice(MAX_CATEGORIES);
        interface CrossRow {
          key: string;
          label: string;
        }
        const value = (k1: string, k2: string) => byKey.get(`${k1}\u0000${k2}`)?.values[first] ?? 0;
        const crossMeasure = (header: string, read: (r: CrossRow) => number): ColumnSpec<CrossRow> =>
          first === 'spend'
            ? { header, type: 'money', currency: base, value: read }
            : {
                header,
                type: first === 'members' || first === 'activities' ? 'integer' : 'points',
                value: read,
                ...(first === 'members' ? { total: false } : {}),
              };
        await book.addSheet({
          name: `By ${DIMENSION_HEADERS[d2].toLowerCase()}`,
          title: `${MEASURE_HEADERS[first]} by ${DIMENSION_HEADERS[d1].toLowerCase()} and ${DIMENSION_HEADERS[d2].toLowerCase()}`,
          table: {
            columns: [
              { header: DIMENSION_HEADERS[d1], type: 'text', value: 'label' },
              ...across.map((k2) => crossMeasure(dimensionLabel(config, d2, k2), (r) => value(r.key, k2))),
              ...(others.length > 0
                ? [crossMeasure('Other', (r) => others.reduce((s, k2) => s + value(r.key, k2), 0))]
                : []),
              ...(first === 'members'
                ? []
                : [crossMeasure('Total', (r) => keys2.reduce((s, k2) => s + value(r.key, k2), 0))]),
            ],
            rows: keys1
              .filter((k1) => isTime(d1) || keys2.some((k2) => byKey.has(`${k1}\u0000${k2}`)))
              .map((k1) => ({ key: k1, label: dimensionLabel(config, d1, k1) })),
            totals: true,
            freezeColumns: 1,
          },
        });
      }
    },
  );

  const keyFigures: KeyFigure[] = definition.measures.map((m) =>
    m === 'spend'
      ? {
          label: `Spend (${base})`,
          value: Number(formatMinor(totals.spend ?? 0, base)),
          format: { style: 'currency', currency: base, decimals: minorUnitExponent(base) ?? 2 },
        }
      : { label: MEASURE_HEADERS[m], value: totals[m] ?? 0 },
  );
  return {
    report: definition.name,
    title: definition.title,
    businessDate,
    workbookPath,
    chartPaths: mainChart ? [mainChart.path] : [],
    keyFigures,
    mainChart,
  };
}
