/**
 * The program's rules as configured, with the version in force on a date picked out. Every rule that
 * changes over time (air earning, status earning, tiers, expiry, partner contracts, partner-airline
 * charts) is a list ordered by effective date; an activity is computed with the version in force on its
 * activity date, and a tier decision with the one in force on the date it judges, so a rerun of an old
 * date gives the old answer.
 */
import type {
  AirEarningVersion,
  ContractConfig,
  ExpiryVersion,
  PartnerAirlineChart,
  PartnerConfig,
  StatusEarningVersion,
  TierVersion,
} from '../config/schema.js';
import type { LoadedConfig } from '../config/load.js';
import {
  addDays,
  addMonths,
  eachDay,
  endOfMonth,
  latestDueBy,
  maxDate,
  startOfMonth,
  type IsoDate,
} from '../lib/dates.js';
import { minorUnitExponent } from '../lib/money.js';
import type { StatusMetric } from '../ledger/accounts.js';

export class Program {
  readonly code: string;
  readonly carriers: ReadonlySet<string>;
  readonly baseCurrency: string;
  /** Decimal places of the base currency: status credits for spend are kept in its minor units. */
  readonly baseExponent: number;
  private readonly air: AirEarningVersion[];
  private readonly partnersByCode = new Map<string, PartnerConfig>();
  private readonly partnersByProgram = new Map<string, PartnerConfig>();
  private readonly partnersByChain = new Map<string, PartnerConfig>();
  private readonly capPeriodsByCode = new Map<string, ReadonlyArray<'month' | 'year'>>();

  constructor(readonly config: LoadedConfig) {
    this.code = config.program.code;
    this.carriers = new Set(config.program.carriers ?? [config.program.code]);
    this.baseCurrency = config.program.baseCurrency;
    this.baseExponent = minorUnitExponent(this.baseCurrency) ?? 2;
    this.air = [...config.earning.air].sort((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom));
    for (const p of config.partners) {
      this.partnersByCode.set(p.code, p);
      if (p.program) this.partnersByProgram.set(p.program, p);
      for (const chain of p.hotelChains) this.partnersByChain.set(chain, p);
      const periods = p.contracts.flatMap((c) => (c.capPerPeriod ? [c.capPerPeriod.period] : []));
      this.capPeriodsByCode.set(p.code, [...new Set(periods)]);
    }
  }

  /** The air earning version in force on `date`, or undefined before the first one. */
  airVersion(date: IsoDate): AirEarningVersion | undefined {
    let found: AirEarningVersion | undefined;
    for (const v of this.air) if (v.effectiveFrom <= date) found = v;
    return found;
  }

  /** The air earning version of that id, if the configuration still has it. */
  airVersionById(id: string): AirEarningVersion | undefined {
    return this.air.find((v) => v.id === id);
  }

  partner(code: string): PartnerConfig | undefined {
    return this.partnersByCode.get(code);
  }

  /**
   * The kinds of cap period a partner's contracts count in. Every point the partner credits counts in each
   * of them (a monthly CARD_SPEND credit uses room under a yearly WELCOME cap), whichever contract it came
   * by. Worked out once: accrue asks for every partner record it decides.
   */
  capPeriods(code: string): ReadonlyArray<'month' | 'year'> {
    return this.capPeriodsByCode.get(code) ?? [];
  }

  /** The partner airline whose members carry cards of `program` (e.g. LH), if we have an agreement. */
  partnerForProgram(program: string): PartnerConfig | undefined {
    return this.partnersByProgram.get(program);
  }

  partnerForHotelChain(chain: string | null | undefined, brand?: string | null): PartnerConfig | undefined {
    if (brand && chain) {
      const byBrand = this.partnersByChain.get(`${chain}/${brand}`);
      if (byBrand) return byBrand;
    }
    return chain ? this.partnersByChain.get(chain) : undefined;
  }

  /** The contract of `partner` valid on `date` that covers `activityType`. */
  contract(partner: PartnerConfig, activityType: string, date: IsoDate): ContractConfig | undefined {
    return partner.contracts.find(
      (c) =>
        c.validFrom <= date &&
        (c.validTo === undefined || date <= c.validTo) &&
        c.activities[activityType] !== undefined,
    );
  }

  /** The partner airline's earning chart in force on `date`. */
  chart(partner: PartnerConfig, date: IsoDate): PartnerAirlineChart | undefined {
    let found: PartnerAirlineChart | undefined;
    for (const c of [...partner.charts].sort((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom))) {
      if (c.effectiveFrom <= date) found = c;
    }
    return found;
  }

  isOwnCarrier(carrier: string): boolean {
    return this.carriers.has(carrier);
  }

  // ------------------------------------------------------------------------------------------ status & tiers

  /**
   * The tier rules in force on `date`: the first version also covers the dates before it. Every version
   * names the same tiers in the same order (the configuration refuses others), so codes and ranks are
   * the same on every date; thresholds, metric, window, review and soft landing are the date's.
   */
  tierVersion(date: IsoDate): TierVersion {
    return versionOn(this.config.tiers, date);
  }

  /** The status earning rule a flight of `date` counts under. */
  statusEarning(date: IsoDate): StatusEarningVersion {
    return versionOn(this.config.earning.status, date);
  }

  /** The metric status counts in on `date`: an activity's credit is kept in its activity date's. */
  statusMetric(date: IsoDate): StatusMetric {
    return metricOf(this.tierVersion(date).metric);
  }

  /** Every metric some tier version counts in: the credits a night may find, whichever version took them. */
  get statusMetrics(): StatusMetric[] {
    return [...new Set(this.config.tiers.map((v) => metricOf(v.metric)))];
  }

  /** A tier threshold in the units status credits of `metric` are kept in (minor units for spend). */
  thresholdUnits(threshold: number, metric: StatusMetric): number {
    return metric === 'SPEND' ? Math.round(threshold * 10 ** this.baseExponent) : threshold;
  }

  get tierCodes(): string[] {
    return this.config.tiers[0]!.levels.map((l) => l.code);
  }

  get baseTier(): string {
    return this.tierCodes[0]!;
  }

  tierRank(code: string): number {
    const i = this.tierCodes.indexOf(code);
    return i < 0 ? 0 : i;
  }

  /**
   * The highest tier whose threshold `qualification` (in status units, of the metric then in force)
   * reaches under the thresholds in force on `date`, the date the qualification was judged on.
   */
  tierFor(qualification: number, date: IsoDate): string {
    const rules = this.tierVersion(date);
    const metric = metricOf(rules.metric);
    let tier = this.baseTier;
    for (const level of rules.levels)
      if (qualification >= this.thresholdUnits(level.threshold, metric)) tier = level.code;
    return tier;
  }

  /** Whether a review on `date` steps down at most one level. */
  softLanding(date: IsoDate): boolean {
    return this.tierVersion(date).softLanding;
  }

  /**
   * The qualification window ending on `date` under the window then in force: the last 12 months, or
   * the calendar year so far.
   */
  qualificationWindow(date: IsoDate): { from: IsoDate; to: IsoDate } {
    if (this.tierVersion(date).window === 'calendarYear')
      return { from: `${date.slice(0, 4)}-01-01`, to: date };
    return { from: rollingFrom(date), to: date };
  }

  /** Whether the window in force on `date` is the calendar year. */
  calendarWindow(date: IsoDate): boolean {
    return this.tierVersion(date).window === 'calendarYear';
  }

  /**
   * The next review of a tier reached (or confirmed) on `date`, under the review then in force: a year
   * on, the first day whose window no longer holds `date`'s credits. A tier reached on 29 February is
   * reviewed on 1 March: on 28 February its window (from 29 February) would still count the credit that
   * earned it, a second year from one.
   */
  reviewDateAfter(date: IsoDate): IsoDate {
    if (this.tierVersion(date).review === 'calendarYear') return `${Number(date.slice(0, 4)) + 1}-12-31`;
    const review = addMonths(date, 12);
    // An anniversary review goes with a rolling window (a calendar-year one is refused with it).
    return rollingFrom(review) <= date ? addDays(review, 1) : review;
  }

  // ------------------------------------------------------------------------------------------ expiry

  /** The expiry version in force on `date`: the first one also covers the dates before it. */
  expiryVersion(date: IsoDate): ExpiryVersion {
    return this.expiryVersions[this.expiryIndex(date)]!;
  }

  private get expiryVersions(): ExpiryVersion[] {
    return this.config.expiry;
  }

  private expiryIndex(date: IsoDate): number {
    return indexOn(this.expiryVersions, date);
  }

  /**
   * Expiry date of points earned on `earnedOn`: under the version in force that day, a fixed term dates
   * the lot; inactivity leaves it undated, to expire with its account's activity.
   */
  expiresOn(earnedOn: IsoDate): IsoDate | null {
    const e = this.expiryVersion(earnedOn);
    if (e.policy !== 'fixedTerm') return null;
    return endOfMonth(addMonths(startOfMonth(earnedOn), e.months));
  }

  /**
   * The inactivity rule undated lots expire by on the night of `date`: the inactivity version in force,
   * or, once a fixed term has replaced it, the last one that was (a lot earned under inactivity carries
   * no date for a fixed term to count from, and its member was told it lasts as long as they earn).
   * Undefined while no inactivity version has been in force: then undated lots never expire.
   */
  inactivityOn(date: IsoDate): (ExpiryVersion & { policy: 'inactivity' }) | undefined {
    const upTo = this.expiryIndex(date);
    for (let i = upTo; i >= 0; i--) {
      const v = this.expiryVersions[i]!;
      if (v.policy === 'inactivity') return v as ExpiryVersion & { policy: 'inactivity' };
    }
    return undefined;
  }

  /**
   * The latest last earning activity whose account's undated lots the expire job of night `date` takes:
   * `months` back under the inactivity rule of that night (an account last active on 31 August is due on
   * 28 February). Undefined when no inactivity rule has been in force: undated lots then never expire.
   * The expire job and the expiry forecast both ask this, so the forecast places a lot on its night.
   */
  inactivityDueBy(date: IsoDate): IsoDate | undefined {
    const rule = this.inactivityOn(date);
    return rule === undefined ? undefined : latestDueBy(date, rule.months);
  }

  /**
   * The latest last earning activity the expire runs of the nights `from` to `to` take between them
   * (`inactivityReach`): a version taking effect in between may take on its first night what the rule
   * before it kept for months (a shorter one), or take less on later nights than on earlier ones (a
   * longer one), so tonight's rule alone does not tell. Undefined when none of the nights has a rule.
   */
  inactivityDueWithin(from: IsoDate, to: IsoDate): IsoDate | undefined {
    return inactivityReach((night) => this.inactivityDueBy(night), from, to).at(-1)?.reach;
  }
}

/**
 * Night by night from `from` to `to`, the latest last earning activity the expire runs of those nights
 * have taken by then: the running maximum of `dueBy` (`Program.inactivityDueBy`). The first night that
 * takes an account's undated points, if it earns nothing more, is the first whose reach is on or after
 * its last activity; the expire job's warning figure, the expiry-warning mailing and the expiry forecast
 * all place them so, and so agree with the night that takes them.
 */
export function inactivityReach(
  dueBy: (night: IsoDate) => IsoDate | undefined,
  from: IsoDate,
  to: IsoDate,
): Array<{ night: IsoDate; reach: IsoDate | undefined }> {
  const out: Array<{ night: IsoDate; reach: IsoDate | undefined }> = [];
  let most: IsoDate | undefined;
  for (const night of eachDay(from, to)) {
    const by = dueBy(night);
    if (by !== undefined) most = most === undefined ? by : maxDate(most, by);
    out.push({ night, reach: most });
  }
  return out;
}

/**
 * The index of the version in force on `date` in a list ordered by effective date: the first one also
 * covers the dates before it, and one without a date is a program's only version.
 */
function indexOn(versions: ReadonlyArray<{ effectiveFrom?: string }>, date: IsoDate): number {
  let found = 0;
  versions.forEach((v, i) => {
    if (v.effectiveFrom !== undefined && v.effectiveFrom <= date) found = i;
  });
  return found;
}

function versionOn<T extends { effectiveFrom?: string }>(versions: readonly T[], date: IsoDate): T {
  return versions[indexOn(versions, date)]!;
}

/** The first day of the rolling 12 months ending on `date`: (date − 12 months, date]. */
function rollingFrom(date: IsoDate): IsoDate {
  // A credit earned exactly a year ago has just left the window.
  return addDays(addMonths(date, -12), 1);
}

export function metricOf(metric: 'spend' | 'miles' | 'segments'): StatusMetric {
  return metric === 'spend' ? 'SPEND' : metric === 'miles' ? 'MILES' : 'SEGMENTS';
}
