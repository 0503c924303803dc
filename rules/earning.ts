/**
 * Earning: how many award points and status credits an activity is worth under the rules in force on
 * its date. Pure functions of the facts and the configuration; fractional results are rounded down to
 * whole points once per component (base, tier bonus, promotion), the way members see them on statements.
 */
import type {
  ActivityRuleConfig,
  AirEarningVersion,
  ContractConfig,
  PartnerAirlineChart,
} from '../config/schema.js';
import type { IsoDate } from '../lib/dates.js';
import { Decimal } from '../lib/money.js';
import type { StatusMetric } from '../ledger/accounts.js';
import { airport } from './airports.js';
import { greatCircleMiles } from './distance.js';
import type { Program } from './program.js';
import { reject, type Rejection } from './reasons.js';

export type FarePart = 'fare' | 'surcharge' | 'tax';

/** The flown-coupon column each part is read from, for the reject that names it. */
const FARE_FIELDS: Readonly<Record<FarePart, string>> = {
  fare: 'fare_amount',
  surcharge: 'carrier_surcharge_amount',
  tax: 'tax_amount',
};

export interface FareComponents {
  /**
   * The parts' total in base-currency minor units. A coupon in another currency is converted as one
   * sum, rounded once: converting each part and adding the rounded cents could be a cent off.
   */
  sumOf(parts: readonly FarePart[]): number;
}

export interface AirFacts {
  origin: string;
  destination: string;
  bookedClass: string | null;
  flownClass: string;
  activityDate: IsoDate;
  tier: string;
  /** From the flown coupon, converted to the base currency; absent for an FTL-only passenger. */
  fare?: FareComponents | null;
  /**
   * The version to earn under, when not the one in force on the activity date: a flight credited before
   * is decided again under the version it was credited under.
   */
  version?: string;
}

export interface Award {
  points: number;
  basePoints: number;
  tierBonus: number;
  promotionBonus: number;
  promotions: string[];
  miles: number | null;
  /** Rule version (air earning version, contract or chart id). */
  version: string;
  /** The class or activity rule that set the rate. */
  basis: string;
  /** Points before a cap cut them (when a cap applied). */
  cappedFrom?: number;
}

export type AwardResult = { ok: true; award: Award } | { ok: false; rejection: Rejection };

/** Flight distance in statute miles: a configured city pair (either direction) or the great circle. */
export function flightMiles(
  cityPairs: AirEarningVersion['cityPairs'],
  origin: string,
  destination: string,
): number | undefined {
  const pair = cityPairs.find(
    (p) => (p.from === origin && p.to === destination) || (p.from === destination && p.to === origin),
  );
  return pair ? pair.miles : greatCircleMiles(origin, destination);
}

function floorTimes(points: number, factor: number): number {
  if (factor === 0) return 0;
  // In millionths, exactly, so 1000 × 1.15 is 1150 and not 1149.999…; finer factors go through decimals.
  const scaled = Math.round(factor * 1_000_000);
  if (Math.abs(scaled / 1_000_000 - factor) < 1e-12 && Math.abs(points * scaled) < Number.MAX_SAFE_INTEGER) {
    return Math.floor((points * scaled) / 1_000_000);
  }
  return new Decimal(points).times(new Decimal(factor)).floor().toNumber();
}

function routeMatches(pattern: string, origin: string, destination: string): boolean {
  const [a, b] = pattern.split('-') as [string, string];
  const one = (x: string, y: string) => (a === '*' || a === x) && (b === '*' || b === y);
  return one(origin, destination) || one(destination, origin);
}

function promotionsFor(
  version: AirEarningVersion,
  facts: AirFacts,
  cls: string,
  base: number,
): { bonus: number; ids: string[] } {
  let bonus = 0;
  const ids: string[] = [];
  for (const p of version.promotions) {
    if (facts.activityDate < p.from || facts.activityDate > p.to) continue;
    if (p.routes.length > 0 && !p.routes.some((r) => routeMatches(r, facts.origin, facts.destination)))
      continue;
    if (p.classes.length > 0 && !p.classes.includes(cls)) continue;
    bonus += floorTimes(base, p.bonus) + p.points;
    ids.push(p.id);
  }
  return { bonus, ids };
}

/** Award points for a flight on our own carriers. */
export function airAward(program: Program, facts: AirFacts): AwardResult {
  const version =
    (facts.version !== undefined ? program.airVersionById(facts.version) : undefined) ??
    program.airVersion(facts.activityDate);
  if (!version) {
    return {
      ok: false,
      rejection: reject(
        'NO_EARNING_RULE',
        'activity_date',
        `no air earning rule in force on ${facts.activityDate}`,
      ),
    };
  }
  const cls = version.rateBy === 'booked' ? (facts.bookedClass ?? facts.flownClass) : facts.flownClass;
  const miles = flightMiles(version.cityPairs, facts.origin, facts.destination);
  let base: number;
  let basis: string;
  if (version.basis === 'distance') {
    if (miles === undefined) {
      return {
        ok: false,
        rejection: reject(
          'UNKNOWN_AIRPORT',
          'origin',
          `no distance for ${facts.origin}-${facts.destination}: unknown airport and no city pair`,
        ),
      };
    }
    const rate = version.classRates[cls];
    if (rate === undefined || rate === 0) {
      return {
        ok: false,
        rejection: reject(
          'CLASS_NOT_ELIGIBLE',
          'booked_class',
          `class ${cls} earns nothing under ${version.id}`,
        ),
      };
    }
    base = floorTimes(Math.max(miles, version.minimumMiles), rate);
    basis = `${Math.max(miles, version.minimumMiles)} mi × ${rate} (${cls})`;
  } else {
    if (!facts.fare) {
      // Revenue-based points need the coupon's money: an FTL alone waits for it.
      return {
        ok: false,
        rejection: reject(
          'BAD_AMOUNT',
          'fare_amount',
          'revenue-based earning needs the flown coupon amounts',
        ),
      };
    }
    // The flown reader refuses a signed amount, but an archived coupon read before it did is decided
    // again on a rerun: a negative part would earn negative points that no posting could hold.
    const fare = facts.fare;
    const negative = version.revenueComponents.find((part) => fare.sumOf([part]) < 0);
    if (negative) {
      return {
        ok: false,
        rejection: reject(
          'BAD_AMOUNT',
          FARE_FIELDS[negative],
          `a negative ${FARE_FIELDS[negative]} earns no points under ${version.id}: the coupon status says a refund, not the sign`,
        ),
      };
    }
    const spendMinor = fare.sumOf(version.revenueComponents);
    base = new Decimal(spendMinor)
      .dividedBy(10 ** program.baseExponent)
      .times(new Decimal(version.pointsPerUnit))
      .floor()
      .toNumber();
    basis = `${spendMinor / 10 ** program.baseExponent} ${program.baseCurrency} × ${version.pointsPerUnit}`;
  }
  const tierBonus = floorTimes(base, version.tierBonus[facts.tier] ?? 0);
  const promo = promotionsFor(version, facts, cls, base);
  return {
    ok: true,
    award: {
      points: base + tierBonus + promo.bonus,
      basePoints: base,
      tierBonus,
      promotionBonus: promo.bonus,
      promotions: promo.ids,
      miles: miles ?? null,
      version: version.id,
      basis,
    },
  };
}

/** Award points for our member's flight on a partner airline, from that partner's chart. */
export function partnerFlightAward(
  program: Program,
  chart: PartnerAirlineChart,
  facts: { origin: string; destination: string; flownClass: string; activityDate: IsoDate; tier: string },
): AwardResult {
  const miles = greatCircleMiles(facts.origin, facts.destination);
  // Fields as the claims file names them (alliance-accrual.md), which the partner's results answer by:
  // the airport the dataset lacks, not always the origin.
  if (miles === undefined) {
    const unknown = airport(facts.origin) ? facts.destination : facts.origin;
    return {
      ok: false,
      rejection: reject(
        'UNKNOWN_AIRPORT',
        unknown === facts.origin ? 'Flight/Origin' : 'Flight/Destination',
        `no distance for ${facts.origin}-${facts.destination}: ${unknown} is not in the airport dataset`,
      ),
    };
  }
  const rate = chart.classRates[facts.flownClass];
  if (rate === undefined || rate === 0) {
    return {
      ok: false,
      rejection: reject(
        'CLASS_NOT_ELIGIBLE',
        'Flight/FlownRbd',
        `class ${facts.flownClass} earns nothing under ${chart.id}`,
      ),
    };
  }
  const counted = Math.max(miles, chart.minimumMiles);
  const base = floorTimes(counted, rate);
  const bonusRate = program.airVersion(facts.activityDate)?.tierBonus[facts.tier] ?? 0;
  const tierBonus = floorTimes(base, bonusRate);
  return {
    ok: true,
    award: {
      points: base + tierBonus,
      basePoints: base,
      tierBonus,
      promotionBonus: 0,
      promotions: [],
      miles,
      version: chart.id,
      basis: `${counted} mi × ${rate} (${facts.flownClass})`,
    },
  };
}

/**
 * Award points for a non-air partner activity under its contract. When the partner sends the points
 * itself (`pointsRequested`), they are the base — the partner pays for them; otherwise the contract's
 * rule computes them from spend or per activity. The program's tier bonus comes on top, then the
 * per-activity cap.
 */
export function partnerAward(
  contract: ContractConfig,
  rule: ActivityRuleConfig,
  facts: { spendBaseMinor: number | null; pointsRequested: number | null; tier: string },
  baseExponent: number,
): AwardResult {
  let base: number;
  let basis: string;
  if (facts.pointsRequested !== null) {
    base = facts.pointsRequested;
    basis = 'points requested by the partner';
  } else if (rule.per === 'activity') {
    base = new Decimal(rule.rate).floor().toNumber();
    basis = `${rule.rate} per activity`;
  } else {
    if (facts.spendBaseMinor === null)
      return {
        ok: false,
        rejection: reject('BAD_AMOUNT', 'spend_amount', 'the contract earns on spend and no spend was given'),
      };
    const units = new Decimal(facts.spendBaseMinor).dividedBy(10 ** baseExponent);
    base = units.times(new Decimal(rule.rate)).floor().toNumber();
    basis = `${units.toFixed()} × ${rule.rate}`;
  }
  const tierBonus = floorTimes(base, contract.tierBonus[facts.tier] ?? 0);
  let points = base + tierBonus;
  let cappedFrom: number | undefined;
  if (rule.capPerActivity !== undefined && points > rule.capPerActivity) {
    cappedFrom = points;
    points = rule.capPerActivity;
  }
  return {
    ok: true,
    award: {
      points,
      basePoints: base,
      tierBonus,
      promotionBonus: 0,
      promotions: [],
      miles: null,
      version: contract.id,
      basis,
      cappedFrom,
    },
  };
}

/**
 * Status credit for a flown coupon (or a partner flight) of `activityDate`, in the qualification metric
 * and under the status earning rule in force that day: a rerun of an old night credits what it did then.
 */
export function statusCredit(
  program: Program,
  facts: {
    miles: number | null;
    fare?: FareComponents | null;
    partnerFlight?: boolean;
    activityDate: IsoDate;
  },
): { metric: StatusMetric; amount: number } | undefined {
  const cfg = program.statusEarning(facts.activityDate);
  const metric = program.statusMetric(facts.activityDate);
  if (facts.partnerFlight && !cfg.partnerAirlines) return undefined;
  if (metric === 'SPEND') {
    if (!facts.fare) return undefined;
    const amount = facts.fare.sumOf(cfg.spendComponents);
    return amount > 0 ? { metric, amount } : undefined;
  }
  if (metric === 'MILES') return facts.miles ? { metric, amount: facts.miles } : undefined;
  return { metric, amount: 1 };
}
