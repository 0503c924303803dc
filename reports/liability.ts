/**
 * The points liability roll-forward for a period: opening balance, points issued by channel, redeemed
 * by service type, expired, adjustments and transfers, closing balance — in points and valued at the
 * program's value per point.
 *
 * Opening and closing come from one pass over the entries of member and pool award accounts (by
 * month, up to the last day); the movements from the postings of the period. They are two readings of
 * the same entries, so opening + movements = closing holds exactly; the figure is also compared with
 * the stored account balances and with the open lots, and a disagreement is shown, never smoothed.
 *
 * The money is valued once, here: each line at its points × value per point, and a rounding line up
 * to the valuation of the closing balance. Every other figure in money that sums these lines (the
 * monthly Summary, the value issued on the Effectiveness sheet) reads them, so no sheet values the
 * same points a cent apart from another.
 */
import type { LoadedConfig } from '../config/load.js';
import type { Db } from '../db/connection.js';
import { addMonths, monthOf, type IsoDate } from '../lib/dates.js';
import { RedeyeError } from '../lib/errors.js';
import {
  channelLabel,
  orderChannels,
  orderServices,
  pointsValueMinor,
  serviceLabel,
  serviceOf,
} from './common.js';
import {
  liabilityByMonth,
  liabilityMovements,
  outstandingLots,
  storedLiabilityAsOf,
  type Movement,
  type OutstandingLots,
} from './queries.js';

export type RollForwardSection = 'opening' | 'issued' | 'redeemed' | 'expired' | 'adjustment' | 'rounding';

export interface RollForwardLine {
  section: RollForwardSection;
  /** Channel, service type or posting kind the line sums. */
  code: string;
  label: string;
  points: number;
  /** Minor units of the base currency. */
  valueMinor: number;
}

export interface RollForward {
  from: IsoDate;
  to: IsoDate;
  opening: number;
  closing: number;
  issued: number;
  redeemed: number;
  expired: number;
  adjustments: number;
  /** Opening line, movement lines, and a rounding line when the rounded values need one. */
  lines: RollForwardLine[];
  closingValueMinor: number;
  /** Liability at each month end up to `to` (the last month may end on `to`). */
  monthEnds: Array<{ month: string; points: number }>;
  /** The same closing figure read two other ways: stored balances and open lots. */
  checks: { storedBalances: number; openLots: number };
}

/**
 * The lines' values summed by section, in minor units, signed as the points figures are (redeemed and
 * expired as positive amounts taken out): opening + issued − redeemed − expired + adjustments + rounding
 * = closing. Read from the lines each time rather than kept beside them, so the two cannot disagree.
 */
export interface RollForwardValues {
  opening: number;
  issued: number;
  redeemed: number;
  expired: number;
  adjustments: number;
  rounding: number;
}

/** The value of a section's lines, in minor units, signed as the lines are. */
export function sectionValue(lines: readonly RollForwardLine[], section: RollForwardSection): number {
  return lines.filter((l) => l.section === section).reduce((total, l) => total + l.valueMinor, 0);
}

export function rollForwardValues(rf: Pick<RollForward, 'lines'>): RollForwardValues {
  return {
    opening: sectionValue(rf.lines, 'opening'),
    issued: sectionValue(rf.lines, 'issued'),
    // 0 - x, not -x: a month without redemptions must not show "-0".
    redeemed: 0 - sectionValue(rf.lines, 'redeemed'),
    expired: 0 - sectionValue(rf.lines, 'expired'),
    adjustments: sectionValue(rf.lines, 'adjustment'),
    rounding: sectionValue(rf.lines, 'rounding'),
  };
}

/** `from` must be the first day of a month: the opening balance is the balance at the previous month end. */
export async function liabilityRollForward(
  db: Db,
  config: LoadedConfig,
  from: IsoDate,
  to: IsoDate,
  known: { movements?: Movement[]; lots?: OutstandingLots[] } = {},
): Promise<RollForward> {
  if (!from.endsWith('-01') || monthOf(from) !== monthOf(to) || to < from) {
    throw new RedeyeError(
      'REPORT_PERIOD_INVALID',
      `a roll-forward covers the days of one month from the 1st, got ${from} to ${to}`,
    );
  }
  const byMonth = await liabilityByMonth(db, to);
  let running = 0;
  let opening = 0;
  const monthEnds: Array<{ month: string; points: number }> = [];
  // Every calendar month from the first movement on, a quiet one carrying the balance before it: a
  // trend drawn only through months that moved would put two years apart side by side.
  const moves = new Map(byMonth.map((m) => [m.month, m.points]));
  const first = byMonth[0]?.month;
  for (
    let month = first;
    month !== undefined && month <= monthOf(to);
    month = monthOf(addMonths(`${month}-01`, 1))
  ) {
    const points = moves.get(month) ?? 0;
    if (month < monthOf(from)) opening += points;
    running += points;
    monthEnds.push({ month, points: running });
  }
  const closing = running;
  const moved = known.movements ?? (await liabilityMovements(db, from, to));
  const lines: RollForwardLine[] = [
    valuedLine(config, 'opening', 'OPENING', `Opening balance (end of the previous month)`, opening),
    ...movementLines(config, moved),
  ];

  const movementSum = lines.reduce((sum, l) => sum + l.points, 0);
  if (movementSum !== closing) {
    // The two readings of the entries disagree: some entry's business date differs from its posting's.
    lines.push(
      valuedLine(
        config,
        'adjustment',
        'UNEXPLAINED',
        'Unexplained difference (entries dated apart from their postings)',
        closing - movementSum,
      ),
    );
  }
  const closingValueMinor = pointsValueMinor(config, closing);
  const valueSum = lines.reduce((sum, l) => sum + l.valueMinor, 0);
  if (valueSum !== closingValueMinor) {
    lines.push({
      section: 'rounding',
      code: 'ROUNDING',
      label: 'Rounding of the line values to the closing valuation',
      points: 0,
      valueMinor: closingValueMinor - valueSum,
    });
  }

  const sum = (section: RollForwardSection) =>
    lines.filter((l) => l.section === section).reduce((total, l) => total + l.points, 0);
  const storedBalances = await storedLiabilityAsOf(db, to);
  const lots = known.lots ?? (await outstandingLots(db, to));
  return {
    from,
    to,
    opening,
    closing,
    issued: sum('issued'),
    // 0 - x, not -x: a month without redemptions must not show "-0".
    redeemed: 0 - sum('redeemed'),
    expired: 0 - sum('expired'),
    adjustments: sum('adjustment'),
    lines,
    closingValueMinor,
    monthEnds,
    checks: { storedBalances, openLots: lots.reduce((total, l) => total + l.points, 0) },
  };
}

function valuedLine(
  config: LoadedConfig,
  section: RollForwardSection,
  code: string,
  label: string,
  points: number,
): RollForwardLine {
  return { section, code, label, points, valueMinor: pointsValueMinor(config, points) };
}

/**
 * The movement lines of a roll-forward, each valued on its own: issued by channel, redeemed by service
 * type, expired, adjustments and transfers. Also what the value issued of any month is read from, so
 * the Effectiveness sheet values a month's issue as its Liability sheet does.
 */
export function movementLines(config: LoadedConfig, moved: readonly Movement[]): RollForwardLine[] {
  const issuedBy = new Map<string, number>();
  const redeemedBy = new Map<string, number>();
  const otherBy = new Map<string, number>();
  let expired = 0;
  for (const m of moved) {
    if (m.kind === 'ACCRUAL') {
      const key = m.channel ?? '';
      issuedBy.set(key, (issuedBy.get(key) ?? 0) + m.points);
    } else if (m.kind === 'REDEMPTION') {
      const key = serviceOf(m.channel) ?? 'OTHER';
      redeemedBy.set(key, (redeemedBy.get(key) ?? 0) + m.points);
    } else if (m.kind === 'EXPIRY') {
      expired += m.points;
    } else {
      otherBy.set(m.kind, (otherBy.get(m.kind) ?? 0) + m.points);
    }
  }

  const line = (section: RollForwardSection, code: string, label: string, points: number) =>
    valuedLine(config, section, code, label, points);
  const lines: RollForwardLine[] = [];
  for (const channel of orderChannels(
    config,
    [...issuedBy.keys()].filter((c) => c !== ''),
  )) {
    lines.push(
      line('issued', channel, `Issued: ${channelLabel(config, channel)}`, issuedBy.get(channel) ?? 0),
    );
  }
  if (issuedBy.has('')) lines.push(line('issued', '', 'Issued: (no channel)', issuedBy.get('') ?? 0));
  for (const service of orderServices(redeemedBy.keys())) {
    lines.push(
      line(
        'redeemed',
        `REDEMPTION:${service}`,
        `Redeemed: ${serviceLabel(service)}`,
        redeemedBy.get(service) ?? 0,
      ),
    );
  }
  lines.push(line('expired', 'EXPIRY', 'Expired', expired));
  const adjustmentKinds = [
    'ADJUSTMENT',
    'TRANSFER',
    ...[...otherBy.keys()].filter((k) => k !== 'ADJUSTMENT' && k !== 'TRANSFER').sort(),
  ];
  const adjustmentLabels: Record<string, string> = {
    ADJUSTMENT: 'Adjustments',
    TRANSFER: 'Transfers (merges, pools)',
  };
  for (const kind of adjustmentKinds) {
    lines.push(line('adjustment', kind, adjustmentLabels[kind] ?? `Other: ${kind}`, otherBy.get(kind) ?? 0));
  }
  return lines;
}
