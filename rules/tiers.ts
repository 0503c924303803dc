/**
 * Tier movement. Upgrades take effect the night the qualification crosses a threshold; downgrades only
 * at the member's review date and, with soft landing, by at most one level. A review that keeps the tier
 * is recorded too (HOLD), so the history shows every decision.
 */
import type { IsoDate } from '../lib/dates.js';
import type { Program } from './program.js';

export interface TierState {
  tier: string;
  tierSince: IsoDate | null;
  reviewDate: IsoDate | null;
}

export interface TierEvent {
  direction: 'UP' | 'DOWN' | 'HOLD';
  from: string;
  to: string;
  qualification: number;
  reason: string;
}

export interface TierDecision {
  event: TierEvent;
  next: TierState;
  /** The review date a review decided (absent for an upgrade between reviews). */
  reviewedOn?: IsoDate;
}

/**
 * An upgrade when `qualification`, that of the window ending on `judgedOn`, reaches a tier above the
 * current one under the thresholds in force on `judgedOn` (a skipped night's, on the night that catches
 * it up). It takes effect on `date` and is reviewed a period on.
 */
export function upgrade(
  program: Program,
  state: TierState,
  qualification: number,
  date: IsoDate,
  judgedOn: IsoDate = date,
): TierDecision | undefined {
  const target = program.tierFor(qualification, judgedOn);
  if (program.tierRank(target) <= program.tierRank(state.tier)) return undefined;
  return {
    event: { direction: 'UP', from: state.tier, to: target, qualification, reason: 'THRESHOLD_REACHED' },
    next: { tier: target, tierSince: date, reviewDate: program.reviewDateAfter(date) },
  };
}

/**
 * The review on (or after) the review date: keep, or step down (one level with soft landing).
 * `qualification` is the one of the window ending on the review date. A review that comes late (nights
 * skipped over it) is decided as it would have been on its date, and the next one counts from that date:
 * otherwise every missed night would push a member's reviews later, and a calendar-year window would
 * judge a review missed on 31 December against the new year's empty window. So are its thresholds and
 * soft landing: those in force on its date.
 */
export function review(
  program: Program,
  state: TierState,
  qualification: number,
  date: IsoDate,
): TierDecision | undefined {
  if (!state.reviewDate || state.reviewDate > date) return undefined;
  const reviewedOn = state.reviewDate;
  const target = program.tierFor(qualification, reviewedOn);
  const current = program.tierRank(state.tier);
  const targetRank = program.tierRank(target);
  if (targetRank >= current) {
    // Requalified (or better, which the nightly upgrade already handles): the tier holds for another period.
    const to = targetRank > current ? target : state.tier;
    return {
      event: {
        direction: targetRank > current ? 'UP' : 'HOLD',
        from: state.tier,
        to,
        qualification,
        reason: 'REVIEW_REQUALIFIED',
      },
      next: {
        tier: to,
        tierSince: targetRank > current ? reviewedOn : state.tierSince,
        reviewDate: program.reviewDateAfter(reviewedOn),
      },
      reviewedOn,
    };
  }
  const softLanding = program.softLanding(reviewedOn);
  const newRank = softLanding ? Math.max(targetRank, current - 1) : targetRank;
  const to = program.tierCodes[newRank]!;
  const base = newRank === 0;
  return {
    event: {
      direction: 'DOWN',
      from: state.tier,
      to,
      qualification,
      reason: softLanding && newRank > targetRank ? 'REVIEW_SOFT_LANDING' : 'REVIEW_NOT_REQUALIFIED',
    },
    // The base tier needs no review; any other is reviewed again a period later.
    next: { tier: to, tierSince: reviewedOn, reviewDate: base ? null : program.reviewDateAfter(reviewedOn) },
    reviewedOn,
  };
}
