/**
 * The monthly report: how the program did in the month of the business date, the way finance closes
 * it and the commercial department reads it.
 *
 * Sheets: Summary · Earn and burn (accrued against redeemed, air and non-air, by day) · Redemptions
 * (by service type) · Liability (the roll-forward, tied to the ledger) · Outstanding points (by earning
 * month) · Expiry forecast (next 12 months) · Tier distribution · Tier movements · Partners (activity
 * and amounts to bill) · Top routes · Effectiveness (active members, earn and burn rates, cost per
 * point, against the previous month and the same month a year before).
 *
 * Run on a day other than the month end, it covers the month up to that day.
 */
import { join } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { PartnerConfig } from '../config/schema.js';
import type { Db } from '../db/connection.js';
import {
  addDays,
  addMonths,
  endOfMonth,
  eachDay,
  monthOf,
  startOfMonth,
  type IsoDate,
} from '../lib/dates.js';
import { Decimal, formatMinor, minorUnitExponent, toMinorUnits } from '../lib/money.js';
import type { KeyFigure } from '../mail/report-mail.js';
import { lineKey } from '../exporters/billing.js';
import { lineChargeMinor } from '../exporters/isxml.js';
import { FxTable } from '../rules/fx.js';
import { inactivityReach, Program } from '../rules/program.js';
import {
  AIR_SERVICES,
  change,
  chartCell,
  defaultOutDir,
  isAirChannel,
  monthLabel,
  num,
  orderServices,
  pointsValueMinor,
  prepareOutDir,
  reportClock,
  saveChart,
  serviceLabel,
  serviceOf,
  share,
  tierName,
  type Clock,
  type ReportChart,
  type ReportResult,
} from './common.js';
import {
  liabilityRollForward,
  movementLines,
  rollForwardValues,
  sectionValue,
  type RollForward,
  type RollForwardLine,
} from './liability.js';
import {
  activeMembers,
  fxRates,
  liabilityMovements,
  membersOnRegister,
  outstandingLots,
  partnerActivities,
  undatedLots,
  partnerCredits,
  tierDistribution,
  tierMovements,
  topRoutes,
  type Movement,
  type OutstandingLots,
  type UndatedLots,
} from './queries.js';
import { writeWorkbookFile, type ColumnSpec } from './workbook.js';
import { noProgress, type Progress } from '../jobs/types.js';

export const MONTHLY_TITLE = 'Monthly loyalty report';

// ------------------------------------------------------------------------------------------ figures

interface MonthFigures {
  month: string;
  from: IsoDate;
  to: IsoDate;
  issued: number;
  redeemed: number;
  expired: number;
  members: number;
  active: number;
  /** Points issued in money, minor units: the Liability sheet's issued lines, each valued on its own. */
  valueIssuedMinor: number;
  /** Partner billing converted to the base currency (minor units); undefined when a rate is missing. */
  revenueMinor: number | undefined;
}

function totalsOf(movements: Movement[]): { issued: number; redeemed: number; expired: number } {
  let issued = 0;
  let redeemed = 0;
  let expired = 0;
  for (const m of movements) {
    if (m.kind === 'ACCRUAL') issued += m.points;
    else if (m.kind === 'REDEMPTION') redeemed -= m.points;
    else if (m.kind === 'EXPIRY') expired -= m.points;
  }
  return { issued, redeemed, expired };
}

export interface BillingLine {
  partner: string;
  name: string;
  kind: string;
  /** Contract (or partner-airline chart) in force on the activity dates; undefined when none was. */
  contract: string | undefined;
  pricePerPoint: string;
  currency: string;
  activities: number;
  /** Minor units of the base currency. */
  spendMinor: number;
  points: number;
  /**
   * Minor units of `currency`: the sum of points × price of each line the month-end invoice bills the
   * contract's credits on (one per activity type, and per earlier month whose credits a reversal takes
   * back), each rounded half-even on its own as the invoice rounds it.
   */
  amountMinor: number;
}

interface PriceTerm {
  id: string;
  price: string;
}

function priceTerm(
  partner: PartnerConfig | undefined,
  ruleVersion: string | null,
  date: IsoDate,
): PriceTerm | undefined {
  if (!partner) return undefined;
  // The contract or chart the credit was made under, as the invoice prices it: two contracts of other
  // activity types may be in force on one date. By date only for a credit that names none of them.
  const named =
    partner.contracts.find((c) => c.id === ruleVersion) ?? partner.charts.find((c) => c.id === ruleVersion);
  if (named) return { id: named.id, price: named.pricePerPoint };
  if (partner.kind === 'airline') {
    let found: PriceTerm | undefined;
    let from = '';
    for (const chart of partner.charts) {
      if (chart.effectiveFrom <= date && chart.effectiveFrom >= from) {
        found = { id: chart.id, price: chart.pricePerPoint };
        from = chart.effectiveFrom;
      }
    }
    return found;
  }
  const contract = partner.contracts.find(
    (c) => c.validFrom <= date && (c.validTo === undefined || date <= c.validTo),
  );
  return contract ? { id: contract.id, price: contract.pricePerPoint } : undefined;
}

/**
 * What each partner owes for the points credited on its behalf between two dates: points (net of
 * reversals) × the price of the contract or chart each credit was made under (the one in force on its
 * activity date for a credit that names none), in the partner's billing currency, rounded per line of
 * the month-end invoice (`amountMinor`). A partner with points but no contract in force is listed with
 * price 0, to be seen.
 */
export async function partnerBilling(
  db: Db,
  config: LoadedConfig,
  from: IsoDate,
  to: IsoDate,
): Promise<BillingLine[]> {
  const credits = await partnerCredits(db, from, to);
  const activity = await partnerActivities(db, from, to);
  const lines = new Map<string, BillingLine>();
  /** Each line's points by the invoice line they are billed on (`lineKey`), each rounded on its own. */
  const invoiceLines = new Map<BillingLine, Map<string, number>>();
  const lineFor = (code: string, ruleVersion: string | null, date: IsoDate): BillingLine => {
    const partner = config.partners.find((p) => p.code === code);
    const term = priceTerm(partner, ruleVersion, date);
    const key = `${code}|${term?.id ?? ''}`;
    let line = lines.get(key);
    if (!line) {
      line = {
        partner: code,
        name: partner?.name ?? code,
        kind: partner?.kind ?? 'unknown',
        contract: term?.id,
        pricePerPoint: term?.price ?? '0',
        currency: partner?.billing?.currency ?? config.program.baseCurrency,
        activities: 0,
        spendMinor: 0,
        points: 0,
        amountMinor: 0,
      };
      lines.set(key, line);
    }
    return line;
  };
  for (const c of credits) {
    const line = lineFor(c.partner, c.ruleVersion, c.activityDate);
    line.points += c.points;
    const billed = invoiceLines.get(line) ?? new Map<string, number>();
    const key = lineKey(c.activityType, line.contract ?? '', c.creditMonth);
    billed.set(key, (billed.get(key) ?? 0) + c.points);
    invoiceLines.set(line, billed);
  }
  for (const a of activity) {
    const line = lineFor(a.partner, a.ruleVersion, a.activityDate);
    line.activities += a.credited;
    line.spendMinor += a.spend;
  }
  // The invoice rounds each of its lines, and a contract of two activity types is two lines: rounded
  // once here, 500 and 1 points at 0.00999 bill 5.00 where the invoice bills 4.995 → 5.00 and 0.00999 → 0.01.
  for (const line of lines.values()) {
    line.amountMinor = [...(invoiceLines.get(line)?.values() ?? [])].reduce(
      (sum, points) => sum + lineChargeMinor(points, line.pricePerPoint, line.currency),
      0,
    );
  }
  const order = (p: string) => {
    const index = config.partners.findIndex((c) => c.code === p);
    return index < 0 ? config.partners.length : index;
  };
  return [...lines.values()].sort(
    (a, b) =>
      order(a.partner) - order(b.partner) ||
      a.partner.localeCompare(b.partner) ||
      (a.contract ?? '').localeCompare(b.contract ?? ''),
  );
}

async function revenueInBase(
  db: Db,
  config: LoadedConfig,
  billing: BillingLine[],
  asOf: IsoDate,
): Promise<number | undefined> {
  const base = config.program.baseCurrency;
  const needsRates = billing.some((b) => b.currency !== base && b.amountMinor !== 0);
  const table = needsRates
    ? new FxTable(await fxRates(db, addDays(asOf, -config.fx.maxStaleDays), asOf))
    : undefined;
  let total = 0;
  for (const line of billing) {
    if (line.amountMinor === 0) continue;
    if (line.currency === base) {
      total += line.amountMinor;
      continue;
    }
    const converted = table!.convert(
      formatMinor(line.amountMinor, line.currency),
      line.currency,
      base,
      asOf,
      config.fx.maxStaleDays,
    );
    if (!converted.ok) return undefined;
    total += toMinorUnits(converted.amount, base);
  }
  return total;
}

async function monthFigures(
  db: Db,
  config: LoadedConfig,
  from: IsoDate,
  to: IsoDate,
  known: { movements?: Movement[]; lines?: readonly RollForwardLine[]; billing?: BillingLine[] } = {},
): Promise<MonthFigures> {
  const movements = known.movements ?? (await liabilityMovements(db, from, to));
  const billing = known.billing ?? (await partnerBilling(db, config, from, to));
  return {
    month: monthOf(from),
    from,
    to,
    ...totalsOf(movements),
    valueIssuedMinor: sectionValue(known.lines ?? movementLines(config, movements), 'issued'),
    members: await membersOnRegister(db, to),
    active: await activeMembers(db, from, to),
    revenueMinor: await revenueInBase(db, config, billing, to),
  };
}

// ------------------------------------------------------------------------------------------ report

interface SummaryRow {
  figure: string;
  points?: number;
  members?: number;
  valueMinor?: number;
  rate?: number;
}

interface DayRow {
  day: IsoDate;
  accruedAir: number;
  accruedNonAir: number;
  redeemedAir: number;
  redeemedNonAir: number;
  expired: number;
  net: number;
}

/**
 * The steps of the monthly report's progress, in the order it takes them: its eleven reads of the ledger
 * (each a scan of the month, or of every open lot, on a large ledger), its charts, and its workbook. The
 * benchmark times each by these names, to tell where a slower report spends its time.
 */
export const MONTHLY_STEP_NAMES = [
  'liability movements',
  'open lots',
  'roll-forward',
  'partner billing',
  'month figures',
  'previous month figures',
  'year-ago figures',
  'tier distribution',
  'tier movements',
  'top routes',
  'expiry forecast',
  'charts',
  'workbook',
] as const;
export const MONTHLY_STEPS = MONTHLY_STEP_NAMES.length;

export async function monthlyReport(
  db: Db,
  config: LoadedConfig,
  businessDate: IsoDate,
  outDir: string = defaultOutDir(config, businessDate),
  clock: Clock = reportClock(config, businessDate),
  progress: Progress = noProgress,
): Promise<ReportResult> {
  progress.start('monthly', MONTHLY_STEPS);
  try {
    return await writeMonthly(db, config, businessDate, outDir, clock, () => progress.increment());
  } finally {
    progress.stop();
  }
}

async function writeMonthly(
  db: Db,
  config: LoadedConfig,
  businessDate: IsoDate,
  outDir: string,
  clock: Clock,
  stepDone: () => void,
): Promise<ReportResult> {
  /** Awaits one of the report's steps and moves its progress on. */
  const step = async <T>(work: Promise<T>): Promise<T> => {
    const result = await work;
    stepDone();
    return result;
  };
  const from = startOfMonth(businessDate);
  const to = businessDate;
  const month = monthOf(businessDate);
  const base = config.program.baseCurrency;
  const vpp = config.program.valuePerPoint;
  const prefix = `monthly-${businessDate}`;
  await prepareOutDir(outDir);

  const movements = await step(liabilityMovements(db, from, to, { byDay: true }));
  const lots = await step(outstandingLots(db, to));
  const rollForward = await step(liabilityRollForward(db, config, from, to, { movements, lots }));
  const billing = await step(partnerBilling(db, config, from, to));
  const previousFrom = startOfMonth(addMonths(from, -1));
  const yearAgoFrom = startOfMonth(addMonths(from, -12));
  const thisMonth = await step(
    monthFigures(db, config, from, to, {
      movements,
      lines: rollForward.lines,
      billing,
    }),
  );
  const previous = await step(monthFigures(db, config, previousFrom, endOfMonth(previousFrom)));
  const yearAgo = await step(monthFigures(db, config, yearAgoFrom, endOfMonth(yearAgoFrom)));
  const tiers = await step(tierDistribution(db, to));
  const moves = await step(tierMovements(db, from, to));
  const routes = await step(topRoutes(db, from, to, config.reports.topRoutes));
  const { rows: forecast, overdue, undated } = await step(expiryForecastOf(db, config, to, lots));

  // ---- earn and burn by day, air and non-air
  const days = new Map<IsoDate, DayRow>();
  for (const day of eachDay(from, to)) {
    days.set(day, {
      day,
      accruedAir: 0,
      accruedNonAir: 0,
      redeemedAir: 0,
      redeemedNonAir: 0,
      expired: 0,
      net: 0,
    });
  }
  const redemptions = new Map<string, { count: number; reversals: number; points: number }>();
  for (const m of movements) {
    const row = days.get(m.day as IsoDate);
    if (!row) continue;
    row.net += m.points;
    if (m.kind === 'ACCRUAL') {
      if (isAirChannel(m.channel)) row.accruedAir += m.points;
      else row.accruedNonAir += m.points;
    } else if (m.kind === 'REDEMPTION') {
      const service = serviceOf(m.channel) ?? 'OTHER';
      if (AIR_SERVICES.has(service)) row.redeemedAir -= m.points;
      else row.redeemedNonAir -= m.points;
      const r = redemptions.get(service) ?? { count: 0, reversals: 0, points: 0 };
      if (m.reversal) r.reversals += m.postings;
      else r.count += m.postings;
      r.points -= m.points;
      redemptions.set(service, r);
    } else if (m.kind === 'EXPIRY') {
      row.expired -= m.points;
    }
  }
  const dayRows = [...days.values()];
  const sumOf = (f: (r: DayRow) => number) => dayRows.reduce((s, r) => s + f(r), 0);
  const accruedAir = sumOf((r) => r.accruedAir);
  const accruedNonAir = sumOf((r) => r.accruedNonAir);
  const redeemedAir = sumOf((r) => r.redeemedAir);
  const redeemedNonAir = sumOf((r) => r.redeemedNonAir);

  const charts: ReportChart[] = [];
  const chart = async (slug: string, spec: Parameters<typeof saveChart>[3]) => {
    const saved = await saveChart(outDir, prefix, slug, spec);
    charts.push(saved);
    return saved;
  };

  const earnBurnChart = await chart('earn-burn', {
    kind: 'bar',
    title: `Accrued vs redeemed, ${monthLabel(month)}`,
    subtitle: 'Award points, net of reversals',
    labels: ['Air', 'Non-air'],
    series: [
      { label: 'Accrued', data: [accruedAir, accruedNonAir] },
      { label: 'Redeemed', data: [redeemedAir, redeemedNonAir] },
    ],
    valueFormat: { compact: true },
  });
  const dailyChart = await chart('earn-burn-by-day', {
    kind: 'line',
    title: 'Points accrued and redeemed by day',
    labels: dayRows.map((r) => r.day.slice(8)),
    series: [
      { label: 'Accrued', data: dayRows.map((r) => r.accruedAir + r.accruedNonAir) },
      { label: 'Redeemed', data: dayRows.map((r) => r.redeemedAir + r.redeemedNonAir) },
    ],
    categoryAxisTitle: `Day of ${monthLabel(month)}`,
    valueFormat: { compact: true },
  });
  const services = orderServices(redemptions.keys()).filter((s) => (redemptions.get(s)?.points ?? 0) !== 0);
  const redemptionChart =
    services.length > 0
      ? await chart('redemptions', {
          kind: 'doughnut',
          title: 'Points redeemed by service type',
          labels: services.map(serviceLabel),
          series: [{ label: 'Points', data: services.map((s) => redemptions.get(s)?.points ?? 0) }],
        })
      : undefined;
  const trend = rollForward.monthEnds.slice(-13);
  const liabilityChart = await chart('liability-trend', {
    kind: 'line',
    title: 'Points liability at month end',
    labels: trend.map((m) => monthLabel(m.month)),
    series: [{ label: 'Points', data: trend.map((m) => m.points) }],
    valueFormat: { compact: true },
  });
  const byEarnMonth = new Map<string, number>();
  for (const l of lots) byEarnMonth.set(l.earned, (byEarnMonth.get(l.earned) ?? 0) + l.points);
  const earnMonths = [...byEarnMonth.keys()].sort();
  const outstandingChart =
    earnMonths.length > 0
      ? await chart('outstanding', {
          kind: 'bar',
          title: 'Outstanding points by earning month',
          labels: earnMonths.map(monthLabel),
          series: [{ label: 'Points', data: earnMonths.map((m) => byEarnMonth.get(m) ?? 0) }],
          valueFormat: { compact: true },
        })
      : undefined;
  const forecastChart = await chart('expiry-forecast', {
    kind: 'bar',
    title: 'Points due to expire, next 12 months',
    subtitle: 'If nothing is redeemed first',
    labels: forecast.map((f) => f.label),
    series: [{ label: 'Points', data: forecast.map((f) => f.points), colour: '#C8423B' }],
    valueFormat: { compact: true },
  });
  // Every tier version names the same tiers, in the same order.
  const configured = config.tiers[0]!.levels.map((l) => l.code);
  const tierCodes = [...configured, ...[...tiers.keys()].filter((t) => !configured.includes(t)).sort()];
  const tierChart = await chart('tiers', {
    kind: 'bar',
    title: `Members by tier, ${to}`,
    labels: tierCodes.map((t) => tierName(config, t)),
    series: [{ label: 'Members', data: tierCodes.map((t) => tiers.get(t) ?? 0) }],
  });
  const billedPartners = [...new Set(billing.map((b) => b.partner))];
  const partnerChart =
    billedPartners.length > 0
      ? await chart('partners', {
          kind: 'bar',
          horizontal: true,
          title: 'Points credited on partners’ behalf',
          labels: billedPartners.map((p) => billing.find((b) => b.partner === p)?.name ?? p),
          series: [
            {
              label: 'Points',
              data: billedPartners.map((p) =>
                billing.filter((b) => b.partner === p).reduce((s, b) => s + b.points, 0),
              ),
            },
          ],
          valueFormat: { compact: true },
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
          valueFormat: { compact: true },
        })
      : undefined;
  const periods = [yearAgo, previous, thisMonth];
  const effectivenessChart = await chart('effectiveness', {
    kind: 'bar',
    title: 'Earn and burn against earlier months',
    labels: periods.map((p) => monthLabel(p.month)),
    series: [
      { label: 'Issued', data: periods.map((p) => p.issued) },
      { label: 'Redeemed', data: periods.map((p) => p.redeemed) },
      { label: 'Expired', data: periods.map((p) => p.expired) },
    ],
    valueFormat: { compact: true },
  });
  const ratesChart = await chart('rates', {
    kind: 'bar',
    title: 'Active rate and burn rate',
    labels: periods.map((p) => monthLabel(p.month)),
    series: [
      { label: 'Active members / members', data: periods.map((p) => share(p.active, p.members)) },
      { label: 'Redeemed / issued', data: periods.map((p) => share(p.redeemed, p.issued)) },
    ],
    valueFormat: { style: 'percent' },
  });
  stepDone();

  // ---- workbook
  const valueNote = `Values at ${vpp} ${base} per point.`;
  const workbookPath = join(outDir, `${prefix}.xlsx`);
  await writeWorkbookFile(
    workbookPath,
    { report: { name: `${MONTHLY_TITLE}, ${monthLabel(month)}`, businessDate }, clock },
    async (book) => {
      const summaryNotes = [
        `${config.program.name}: ${from} to ${to}. ${valueNote}`,
        'Values as on the Liability sheet: the sum of its lines, each valued on its own, and its rounding to the closing valuation.',
      ];
      const summary: SummaryRow[] = [
        ...rollForwardSummary(rollForward),
        { figure: 'Members on the register', members: thisMonth.members },
        {
          figure: 'Active members (earned or redeemed award points)',
          members: thisMonth.active,
          rate: share(thisMonth.active, thisMonth.members),
        },
        { figure: 'Burn rate (redeemed / issued)', rate: share(rollForward.redeemed, rollForward.issued) },
      ];
      const summaryColumns: ColumnSpec<SummaryRow>[] = [
        { header: 'Figure', type: 'text', value: 'figure' },
        { header: 'Points', type: 'points', value: 'points', total: false },
        { header: 'Members', type: 'integer', value: 'members', total: false },
        { header: `Value (${base})`, type: 'money', currency: base, value: 'valueMinor', total: false },
        { header: 'Rate', type: 'percent', value: 'rate' },
      ];
      await book.addSheet({
        name: 'Summary',
        notes: summaryNotes,
        table: { columns: summaryColumns, rows: summary, autoFilter: false },
        images: [
          {
            png: earnBurnChart.png,
            at: chartCell(summaryColumns.length, summaryNotes.length),
            description: earnBurnChart.alt,
          },
        ],
      });

      const dayNotes = [
        'Accrued: award points credited, net of reversals. Redeemed: points spent, net of reversals.',
      ];
      const dayColumns: ColumnSpec<DayRow>[] = [
        { header: 'Date', type: 'date', value: 'day' },
        { header: 'Accrued, air', type: 'points', value: 'accruedAir' },
        { header: 'Accrued, non-air', type: 'points', value: 'accruedNonAir' },
        { header: 'Redeemed, air', type: 'points', value: 'redeemedAir' },
        { header: 'Redeemed, non-air', type: 'points', value: 'redeemedNonAir' },
        { header: 'Expired', type: 'points', value: 'expired' },
        { header: 'Net change', type: 'points', value: 'net' },
      ];
      await book.addSheet({
        name: 'Earn and burn',
        title: 'Accrued against redeemed, air and non-air',
        notes: dayNotes,
        table: { columns: dayColumns, rows: dayRows, totals: true, freezeColumns: 1 },
        images: [
          {
            png: earnBurnChart.png,
            at: chartCell(dayColumns.length, dayNotes.length),
            description: earnBurnChart.alt,
          },
          {
            png: dailyChart.png,
            at: chartCell(dayColumns.length, dayNotes.length, 1),
            description: dailyChart.alt,
          },
        ],
      });

      interface RedemptionRow {
        service: string;
        label: string;
        group: string;
        count: number;
        reversals: number;
        points: number;
        share: number;
      }
      const redeemedTotal = [...redemptions.values()].reduce((s, r) => s + r.points, 0);
      const redemptionRows: RedemptionRow[] = orderServices(redemptions.keys()).map((service) => {
        const r = redemptions.get(service) ?? { count: 0, reversals: 0, points: 0 };
        return {
          service,
          label: serviceLabel(service),
          group: AIR_SERVICES.has(service) ? 'Air' : 'Non-air',
          count: r.count,
          reversals: r.reversals,
          points: r.points,
          share: share(r.points, redeemedTotal),
        };
      });
      const redemptionColumns: ColumnSpec<RedemptionRow>[] = [
        { header: 'Service type', type: 'text', value: 'service' },
        { header: 'Description', type: 'text', value: 'label' },
        { header: 'Air / non-air', type: 'text', value: 'group' },
        { header: 'Redemptions', type: 'integer', value: 'count' },
        { header: 'Reversed', type: 'integer', value: 'reversals' },
        { header: 'Points redeemed (net)', type: 'points', value: 'points' },
        { header: 'Share', type: 'percent', value: 'share' },
      ];
      await book.addSheet({
        name: 'Redemptions',
        title: 'Redemptions by service type',
        table: { columns: redemptionColumns, rows: redemptionRows, totals: true },
        images: redemptionChart
          ? [
              {
                png: redemptionChart.png,
                at: chartCell(redemptionColumns.length, 0),
                description: redemptionChart.alt,
              },
            ]
          : [],
      });

      await writeLiabilitySheet(book, config, rollForward, liabilityChart);

      interface OutstandingRow {
        earned: string;
        expires: string;
        points: number;
        valueMinor: number;
        share: number;
      }
      // One row per earning month and expiry month: under a fixed term that is one row per earning month.
      const outstandingByMonth = new Map<string, OutstandingRow>();
      for (const l of lots) {
        const expires = l.expiresOn === null ? 'never' : monthOf(l.expiresOn);
        const key = `${l.earned}|${expires}`;
        const row = outstandingByMonth.get(key) ?? {
          earned: l.earned,
          expires,
          points: 0,
          valueMinor: 0,
          share: 0,
        };
        row.points += l.points;
        outstandingByMonth.set(key, row);
      }
      const outstandingList = [...outstandingByMonth.values()];
      const outstandingValues = allocateValue(
        config,
        outstandingList.map((row) => row.points),
      );
      const outstandingRows = outstandingList.map((row, i) => ({
        ...row,
        valueMinor: outstandingValues[i] ?? 0,
        share: share(row.points, rollForward.closing),
      }));
      const outstandingNotes = [
        `Open points at the end of ${to}, by the month they were earned. ${valueNote}`,
      ];
      const outstandingColumns: ColumnSpec<OutstandingRow>[] = [
        { header: 'Earned in', type: 'text', value: 'earned' },
        { header: 'Expires in', type: 'text', value: 'expires' },
        { header: 'Points', type: 'points', value: 'points' },
        { header: `Value (${base})`, type: 'money', currency: base, value: 'valueMinor' },
        { header: 'Share', type: 'percent', value: 'share' },
      ];
      await book.addSheet({
        name: 'Outstanding points',
        title: 'Outstanding points by earning month',
        notes: outstandingNotes,
        table: { columns: outstandingColumns, rows: outstandingRows, totals: true },
        images: outstandingChart
          ? [
              {
                png: outstandingChart.png,
                at: chartCell(outstandingColumns.length, outstandingNotes.length),
                description: outstandingChart.alt,
              },
            ]
          : [],
      });

      interface ForecastRow {
        label: string;
        from: IsoDate;
        to: IsoDate;
        points: number;
        valueMinor: number;
        share: number;
      }
      const forecastRows: ForecastRow[] = forecast.map((f) => ({
        ...f,
        valueMinor: pointsValueMinor(config, f.points),
        share: share(f.points, rollForward.closing),
      }));
      const forecastNotes = ['Points whose lots expire in each month, if they are not redeemed first.'];
      if (undated > 0)
        forecastNotes.push(
          `${undated.toLocaleString('en-US')} of them were earned under the inactivity rule and carry no date: they are placed on the night the expire run takes them if their account earns nothing more.`,
        );
      if (overdue > 0)
        forecastNotes.push(
          `${forecast[0]!.label} includes ${overdue.toLocaleString('en-US')} points of lots due by ${to} and still open: the next expire run takes them.`,
        );
      const forecastColumns: ColumnSpec<ForecastRow>[] = [
        { header: 'Month', type: 'text', value: 'label' },
        { header: 'From', type: 'date', value: 'from' },
        { header: 'To', type: 'date', value: 'to' },
        { header: 'Points expiring', type: 'points', value: 'points' },
        { header: `Value (${base})`, type: 'money', currency: base, value: 'valueMinor' },
        { header: 'Share of liability', type: 'percent', value: 'share' },
      ];
      await book.addSheet({
        name: 'Expiry forecast',
        title: 'Expiry forecast, next 12 months',
        notes: forecastNotes,
        table: { columns: forecastColumns, rows: forecastRows, totals: true },
        images: [
          {
            png: forecastChart.png,
            at: chartCell(forecastColumns.length, forecastNotes.length),
            description: forecastChart.alt,
          },
        ],
      });

      interface TierRow {
        tier: string;
        name: string;
        members: number;
        share: number;
        up: number;
        down: number;
      }
      const onRegister = [...tiers.values()].reduce((s, n) => s + n, 0);
      const tierRows: TierRow[] = tierCodes.map((tier) => ({
        tier,
        name: tierName(config, tier),
        members: tiers.get(tier) ?? 0,
        share: share(tiers.get(tier) ?? 0, onRegister),
        up: moves.filter((m) => m.toTier === tier && m.direction === 'UP').reduce((s, m) => s + m.members, 0),
        down: moves
          .filter((m) => m.toTier === tier && m.direction === 'DOWN')
          .reduce((s, m) => s + m.members, 0),
      }));
      const tierNotes = [`Members on the register at the end of ${to} by the tier they held then.`];
      const tierColumns: ColumnSpec<TierRow>[] = [
        { header: 'Tier', type: 'text', value: 'tier' },
        { header: 'Name', type: 'text', value: 'name' },
        { header: 'Members', type: 'integer', value: 'members' },
        { header: 'Share', type: 'percent', value: 'share' },
        { header: 'Upgraded into it this month', type: 'integer', value: 'up' },
        { header: 'Downgraded into it this month', type: 'integer', value: 'down' },
      ];
      await book.addSheet({
        name: 'Tier distribution',
        notes: tierNotes,
        table: { columns: tierColumns, rows: tierRows, totals: true },
        images: [
          {
            png: tierChart.png,
            at: chartCell(tierColumns.length, tierNotes.length),
            description: tierChart.alt,
          },
        ],
      });

      interface MoveRow {
        direction: string;
        from: string;
        to: string;
        members: number;
      }
      const directionLabel: Record<string, string> = {
        UP: 'Upgrade',
        DOWN: 'Downgrade',
        HOLD: 'Kept at review',
      };
      const moveRows: MoveRow[] = moves.map((m) => ({
        direction: directionLabel[m.direction] ?? m.direction,
        from: m.fromTier === null ? '(new member)' : tierName(config, m.fromTier),
        to: tierName(config, m.toTier),
        members: m.members,
      }));
      await book.addSheet({
        name: 'Tier movements',
        title: 'Tier movements this month',
        table: {
          columns: [
            { header: 'Movement', type: 'text', value: 'direction' },
            { header: 'From tier', type: 'text', value: 'from' },
            { header: 'To tier', type: 'text', value: 'to' },
            { header: 'Members', type: 'integer', value: 'members' },
          ],
          rows: moveRows,
          totals: true,
        },
      });

      await writePartnerSheet(book, config, billing, partnerChart);

      interface RouteRow {
        rank: number;
        route: string;
        flights: number;
        members: number;
        points: number;
      }
      const routeRows: RouteRow[] = routes.map((r, i) => ({
        rank: i + 1,
        route: `${r.origin}-${r.destination}`,
        flights: r.flights,
        members: r.members,
        points: r.points,
      }));
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
          'Own-flight points posted this month net of reversals, by route; flights: credits less reversals.',
        ],
        table: { columns: routeColumns, rows: routeRows, totals: { label: 'Top routes' } },
        images: routeChart
          ? [{ png: routeChart.png, at: chartCell(routeColumns.length, 1), description: routeChart.alt }]
          : [],
      });

      await writeEffectivenessSheet(book, config, periods, [effectivenessChart, ratesChart]);
    },
  );
  stepDone();

  const keyFigures: KeyFigure[] = [
    { label: 'Points liability', value: rollForward.closing, note: `at the end of ${to}` },
    {
      label: `Liability value (${base})`,
      value: Number(formatMinor(rollForward.closingValueMinor, base)),
      format: { style: 'currency', currency: base, decimals: minorUnitExponent(base) ?? 2 },
      note: `at ${vpp} ${base} per point`,
    },
    withChange({ label: 'Points issued', value: rollForward.issued }, rollForward.issued, previous.issued),
    withChange(
      { label: 'Points redeemed', value: rollForward.redeemed },
      rollForward.redeemed,
      previous.redeemed,
    ),
    withChange(
      { label: 'Points expired', value: rollForward.expired },
      rollForward.expired,
      previous.expired,
    ),
    withChange({ label: 'Active members', value: thisMonth.active }, thisMonth.active, previous.active),
  ];
  return {
    report: 'monthly',
    title: `${MONTHLY_TITLE}, ${monthLabel(month)}`,
    businessDate,
    workbookPath,
    chartPaths: charts.map((c) => c.path),
    keyFigures,
    mainChart: earnBurnChart,
  };
}

/**
 * The roll-forward in brief, in the Liability sheet's money: each figure is the sum of that sheet's
 * lines, and its rounding line is shown when there is one, so the Summary ties to the same closing
 * value and an analyst finds no cent between the two sheets.
 */
function rollForwardSummary(rf: RollForward): SummaryRow[] {
  const values = rollForwardValues(rf);
  return [
    {
      figure: 'Points liability at the start of the period',
      points: rf.opening,
      valueMinor: values.opening,
    },
    { figure: 'Points issued', points: rf.issued, valueMinor: values.issued },
    { figure: 'Points redeemed', points: rf.redeemed, valueMinor: values.redeemed },
    { figure: 'Points expired', points: rf.expired, valueMinor: values.expired },
    { figure: 'Adjustments and transfers', points: rf.adjustments, valueMinor: values.adjustments },
    ...(values.rounding !== 0
      ? [{ figure: 'Rounding of the line values to the closing valuation', valueMinor: values.rounding }]
      : []),
    {
      figure: 'Points liability at the end of the period',
      points: rf.closing,
      valueMinor: rf.closingValueMinor,
    },
  ];
}

function withChange(figure: KeyFigure, now: number, before: number): KeyFigure {
  const c = change(now, before);
  return c === undefined ? figure : { ...figure, change: c, note: 'against the previous month' };
}

/**
 * Values of parts of one whole, in minor units, that add up to the value of the whole: each part is
 * rounded down and the minor units left over go to the parts with the largest remainders (ties to the
 * earlier part), so a sheet's total is exactly the valuation of its total points.
 */
export function allocateValue(config: LoadedConfig, points: readonly number[]): number[] {
  // Allocation is for parts of a positive whole; anything else is valued part by part.
  if (points.some((p) => p < 0)) return points.map((p) => pointsValueMinor(config, p));
  const currency = config.program.baseCurrency;
  const scale = new Decimal(10).pow(minorUnitExponent(currency) ?? 2);
  const exact = points.map((p) => new Decimal(p).times(config.program.valuePerPoint).times(scale));
  const floors = exact.map((x) => x.floor());
  const total = pointsValueMinor(
    config,
    points.reduce((s, p) => s + p, 0),
  );
  let left = total - floors.reduce((s, f) => s + f.toNumber(), 0);
  const order = exact
    .map((x, i) => ({ i, remainder: x.minus(floors[i]!) }))
    .sort((a, b) => b.remainder.comparedTo(a.remainder) || a.i - b.i);
  const values = floors.map((f) => f.toNumber());
  for (const { i } of order) {
    if (left <= 0) break;
    values[i]! += 1;
    left -= 1;
  }
  return values;
}

/** The monthly report's expiry forecast as of `asOf`, from its open lots (`outstandingLots`). */
export async function expiryForecastOf(
  db: Db,
  config: LoadedConfig,
  asOf: IsoDate,
  lots: readonly OutstandingLots[],
): Promise<ReturnType<typeof expiryForecast>> {
  const program = new Program(config);
  return expiryForecast(lots, asOf, {
    lots: lots.some((l) => l.expiresOn === null) ? await undatedLots(db, asOf) : [],
    dueBy: (night) => program.inactivityDueBy(night),
  });
}

/** The undated lots to forecast, and the rule the expire job takes them by (`Program.inactivityDueBy`). */
export interface UndatedForecast {
  lots: readonly UndatedLots[];
  dueBy: (night: IsoDate) => IsoDate | undefined;
}

/**
 * Twelve months after `asOf` (the first one from the next day), with the points their lots lose. A dated
 * lot is due on its date; an undated one (inactivity) on the first night whose expire run takes it if its
 * account earns nothing more, as a dated lot is forecast if nothing is redeemed first. A lot still open
 * past its night (the expiry of `asOf` or before not run yet) is due at the next expire run: it counts in
 * the first month, which `overdue` tells apart, so that every open point due is forecast. `undated`: the
 * undated points the twelve months hold.
 */
export function expiryForecast(
  lots: readonly OutstandingLots[],
  asOf: IsoDate,
  inactivity: UndatedForecast,
): {
  rows: Array<{ label: string; from: IsoDate; to: IsoDate; points: number }>;
  overdue: number;
  undated: number;
} {
  const rows: Array<{ label: string; from: IsoDate; to: IsoDate; points: number }> = [];
  let overdue = 0;
  let undated = 0;
  let start = addDays(asOf, 1);
  for (let i = 0; i < 12; i++) {
    const end = endOfMonth(start);
    rows.push({ label: monthLabel(monthOf(start)), from: start, to: end, points: 0 });
    start = addDays(end, 1);
  }
  const place = (due: IsoDate, points: number) => {
    const late = due <= asOf;
    if (late) overdue += points;
    const row = late ? rows[0] : rows.find((r) => r.from <= due && due <= r.to);
    if (row) row.points += points;
    return row !== undefined;
  };
  for (const { expiresOn, points } of lots) if (expiresOn !== null) place(expiresOn, points);
  if (inactivity.lots.length === 0) return { rows, overdue, undated };
  // The latest last activity the expire runs from `asOf` to each night have taken by then: the rule may
  // change in the twelve months (a longer one takes nothing for a while), so the first night that takes
  // an account is where this running maximum reaches its activity.
  const nights = inactivityReach(inactivity.dueBy, asOf, rows.at(-1)!.to);
  // A pool nobody kept alive (no last activity) is taken by any run under an inactivity rule.
  const takes = (i: number, lastActive: IsoDate | null) => {
    const reach = nights[i]!.reach;
    return reach !== undefined && (lastActive === null || lastActive <= reach);
  };
  for (const { lastActive, points } of inactivity.lots) {
    let [lo, hi] = [0, nights.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (takes(mid, lastActive)) hi = mid;
      else lo = mid + 1;
    }
    if (lo < nights.length && place(nights[lo]!.night, points)) undated += points;
  }
  return { rows, overdue, undated };
}

type Book = Parameters<Parameters<typeof writeWorkbookFile>[2]>[0];

async function writeLiabilitySheet(
  book: Book,
  config: LoadedConfig,
  rf: RollForward,
  trendChart: ReportChart,
): Promise<void> {
  const base = config.program.baseCurrency;
  const agree = (n: number) =>
    n === rf.closing ? 'agrees' : `DIFFERS by ${num(n - rf.closing).toLocaleString('en-US')} points`;
  const notes = [
    `From ${rf.from} to ${rf.to}, valued at ${config.program.valuePerPoint} ${base} per point. Award points only: status credits are not a liability.`,
    `Closing balance from the ledger entries: ${rf.closing.toLocaleString('en-US')} points. Stored member and pool balances: ${agree(rf.checks.storedBalances)}. Open lots: ${agree(rf.checks.openLots)}.`,
  ];
  const sectionLabel: Record<string, string> = {
    opening: 'Opening',
    issued: 'Issued',
    redeemed: 'Redeemed',
    expired: 'Expired',
    adjustment: 'Adjustments',
    rounding: 'Rounding',
  };
  const columns: ColumnSpec<RollForward['lines'][number]>[] = [
    { header: 'Line', type: 'text', value: 'label' },
    { header: 'Section', type: 'text', value: (l) => sectionLabel[l.section] ?? l.section },
    { header: 'Code', type: 'text', value: 'code' },
    { header: 'Points', type: 'points', value: 'points' },
    { header: `Value (${base})`, type: 'money', currency: base, value: 'valueMinor' },
  ];
  await book.addSheet({
    name: 'Liability',
    title: 'Points liability roll-forward',
    notes,
    table: { columns, rows: rf.lines, totals: { label: `Closing balance ${rf.to}` }, autoFilter: false },
    images: [
      { png: trendChart.png, at: chartCell(columns.length, notes.length), description: trendChart.alt },
    ],
  });
}

async function writePartnerSheet(
  book: Book,
  config: LoadedConfig,
  billing: BillingLine[],
  partnerChart: ReportChart | undefined,
): Promise<void> {
  const base = config.program.baseCurrency;
  const currencies = [...new Set(billing.map((b) => b.currency))].sort((a, b) =>
    a === base ? -1 : b === base ? 1 : a.localeCompare(b),
  );
  if (currencies.length === 0) currencies.push(base);
  const columns: ColumnSpec<BillingLine>[] = [
    { header: 'Partner', type: 'text', value: 'partner' },
    { header: 'Name', type: 'text', value: 'name' },
    { header: 'Kind', type: 'text', value: 'kind' },
    { header: 'Contract', type: 'text', value: (b) => b.contract ?? 'none in force' },
    { header: `Activities credited`, type: 'integer', value: 'activities' },
    // Partner airlines report no spend: an empty cell, not 0.00.
    {
      header: `Spend (${base})`,
      type: 'money',
      currency: base,
      value: (b) => (b.spendMinor === 0 ? null : b.spendMinor),
    },
    { header: 'Points credited', type: 'points', value: 'points' },
    { header: 'Currency', type: 'text', value: 'currency' },
    {
      header: 'Price per point',
      type: 'decimal',
      decimals: 4,
      value: (b) => Number(b.pricePerPoint),
      total: false,
    },
    ...currencies.map((currency): ColumnSpec<BillingLine> => ({
      header: `To bill (${currency})`,
      type: 'money',
      currency,
      value: (b) => (b.currency === currency ? b.amountMinor : null),
    })),
  ];
  const notes = [
    'Points credited on each partner’s behalf this month, net of reversals, at the price of the contract in force on the activity date.',
    'Activities credited: credits posted this month less reversals posted this month, with their spend.',
  ];
  await book.addSheet({
    name: 'Partners',
    title: 'Partner activity and amounts to bill',
    notes,
    table: { columns, rows: billing, totals: true, freezeColumns: 2 },
    images: partnerChart
      ? [
          {
            png: partnerChart.png,
            // The table is wide: the chart goes under it, where a printed page has room.
            at: chartCell(0, notes.length + billing.length + 2),
            description: partnerChart.alt,
          },
        ]
      : [],
  });
}

/** Decimals of the net cost per point, as shown and as stored. */
const NET_COST_DECIMALS = 4;

async function writeEffectivenessSheet(
  book: Book,
  config: LoadedConfig,
  periods: MonthFigures[],
  images: ReportChart[],
): Promise<void> {
  const base = config.program.baseCurrency;
  interface EffectivenessRow {
    month: string;
    members: number;
    active: number;
    activeRate: number;
    issued: number;
    redeemed: number;
    expired: number;
    perActive: number | null;
    burnRate: number;
    valueIssuedMinor: number;
    revenueMinor: number | null;
    netCost: number | null;
  }
  const scale = 10 ** (minorUnitExponent(base) ?? 2);
  const rows: EffectivenessRow[] = periods.map((p) => {
    const valueIssuedMinor = p.valueIssuedMinor;
    return {
      month: monthLabel(p.month),
      members: p.members,
      active: p.active,
      activeRate: share(p.active, p.members),
      issued: p.issued,
      redeemed: p.redeemed,
      expired: p.expired,
      perActive: p.active === 0 ? null : Math.round(p.issued / p.active),
      burnRate: share(p.redeemed, p.issued),
      valueIssuedMinor,
      revenueMinor: p.revenueMinor ?? null,
      // Exact decimals, rounded half-even to the decimals shown: a cell holds the figure it displays,
      // not a binary fraction's tail (0.012000000342256296 for 0.0120).
      netCost:
        p.revenueMinor === undefined || p.issued === 0
          ? null
          : new Decimal(valueIssuedMinor - p.revenueMinor)
              .div(scale)
              .div(p.issued)
              .toDecimalPlaces(NET_COST_DECIMALS, Decimal.ROUND_HALF_EVEN)
              .toNumber(),
    };
  });
  const columns: ColumnSpec<EffectivenessRow>[] = [
    { header: 'Month', type: 'text', value: 'month' },
    { header: 'Members', type: 'integer', value: 'members', total: false },
    { header: 'Active members', type: 'integer', value: 'active', total: false },
    { header: 'Active rate', type: 'percent', value: 'activeRate' },
    { header: 'Points issued', type: 'points', value: 'issued', total: false },
    { header: 'Points redeemed', type: 'points', value: 'redeemed', total: false },
    { header: 'Points expired', type: 'points', value: 'expired', total: false },
    { header: 'Earned per active member', type: 'points', value: 'perActive', total: false },
    { header: 'Burn rate', type: 'percent', value: 'burnRate' },
    {
      header: `Value issued (${base})`,
      type: 'money',
      currency: base,
      value: 'valueIssuedMinor',
      total: false,
    },
    {
      header: `Partner revenue (${base})`,
      type: 'money',
      currency: base,
      value: 'revenueMinor',
      total: false,
    },
    {
      header: `Net cost per point (${base})`,
      type: 'decimal',
      decimals: NET_COST_DECIMALS,
      value: 'netCost',
      total: false,
    },
  ];
  const notes = [
    'Active: members who earned or redeemed award points in the month (status credits alone do not count). Burn rate: points redeemed / points issued.',
    `Net cost per point: (points issued × ${config.program.valuePerPoint} ${base} − partner billing in ${base}) / points issued; partner billing in other currencies at the ECB rate of the month end.`,
  ];
  await book.addSheet({
    name: 'Effectiveness',
    title: 'Program effectiveness',
    notes,
    table: { columns, rows, autoFilter: false, freezeColumns: 1 },
    images: images.map((image, i) => ({
      png: image.png,
      at: chartCell(0, notes.length + rows.length + 2, i),
      description: image.alt,
    })),
  });
}
