/**
 * The posting decision for one activity: given what the program knows (members, rules, rates, what was
 * credited before), which postings to make and what the activity's outcome is. Pure: the accrue job and
 * the simulator feed it the same state and differ only in whether they write the result.
 */
import { addDays, daysBetween, type IsoDate } from '../lib/dates.js';
import { Decimal, formatMinor, fromMinorUnits, parseAmount, toMinorUnits } from '../lib/money.js';
import { InputError } from '../lib/errors.js';
import { MAX_INTEGER_COLUMN } from '../parsers/types.js';
import { Accounts, poolPointsAccount } from '../ledger/accounts.js';
import type { MovedFrom, PostingInput, PostingRequest, StatusCreditInput } from '../ledger/types.js';
import {
  adjustmentKey,
  awardPostingKey,
  claimedBeforeMessage,
  creditedSameFlightMessage,
  partnerKey,
  redemptionKey,
  reversalKey,
  statusPostingKey,
  type ActivityRow,
  type ActivityStatus,
} from './activity.js';
import {
  airAward,
  flightMiles,
  partnerAward,
  partnerFlightAward,
  statusCredit,
  type Award,
  type FareComponents,
  type FarePart,
} from './earning.js';
import {
  checkMember,
  checkMemberNumber,
  checkName,
  carrierFactsOf,
  checkWindow,
  inPoolOn,
  marketingOf,
  waitsForItsNight,
  notOwnFlight,
  type MemberFacts,
} from './eligibility.js';
import type { FxConversion, FxTable } from './fx.js';
import type { LoadedConfig } from '../config/load.js';
import type { Program } from './program.js';
import { reject, REJECT_REASONS, type Rejection } from './reasons.js';

export type ActivityUpdate = Partial<
  Pick<
    ActivityRow,
    | 'status'
    | 'reason'
    | 'reasonField'
    | 'reasonMessage'
    | 'points'
    | 'statusCredit'
    | 'postingKey'
    | 'statusPostingKey'
    | 'ruleVersion'
    | 'memberId'
    | 'baseSpendMinor'
    | 'miles'
    | 'needsAccrual'
    | 'detail'
  >
>;

export interface PlannedPosting {
  request: PostingRequest;
  /**
   * What the activity becomes when the ledger refuses this posting (short balance, unknown original);
   * a `reasonField` and `reasonMessage` in it stand in place of the ledger's (`refusedByLedger`).
   */
  onRefused: (reason: string) => ActivityUpdate;
}

export interface AccrualDecision {
  postings: PlannedPosting[];
  update: ActivityUpdate;
  /** Other activities whose outcome changes with this one (the original of a reversal). */
  related: Array<{ activityKey: string; update: ActivityUpdate }>;
  /** An earning activity for the member on this date (inactivity expiry counts from the last one). */
  earnedOn?: { memberId: number; date: IsoDate };
  /** For the simulator and the posting detail: how the figure came about. */
  award?: Award;
  statusCredit?: StatusCreditInput;
  rejection?: Rejection;
  /** For the simulator: what else to say of a decision that posts (a reversal's unrecovered points). */
  note?: string;
  /**
   * The member and date whose cap period the decision's points count in, when not the activity's own: a
   * reversal frees room in the period of the credit it takes back, not in the period it arrived in.
   */
  countsIn?: { memberNumber: string; date: IsoDate };
}

export interface OriginalActivity {
  activityKey: string;
  status: ActivityStatus;
  postingKey: string | null;
  statusPostingKey: string | null;
  points: number;
  activityDate: IsoDate;
  /** The member credited: a reversal takes back that member's points, and frees that member's cap room. */
  memberNumber?: string | null;
  /** Still to be decided tonight: a reversal naming it waits until it is (see `accrueBatch`). */
  needsAccrual?: boolean;
  /** Why it was refused, and the night that refused it: a cancellation of it says so. */
  reason?: string | null;
  rejectedOn?: IsoDate;
  /** What the partner asked for and spent, to check a reversal's amount against (partner credits). */
  pointsRequested?: number | null;
  spendMinor?: number | null;
  spendCurrency?: string | null;
  /** What a redemption paid for: its cancellation names the same. */
  serviceType?: string | null;
}

export interface AccrualContext {
  program: Program;
  businessDate: IsoDate;
  fx: FxTable;
  members: ReadonlyMap<string, MemberFacts>;
  /**
   * The account that holds `member`'s points and status credits now: its own, or, merged away, the one at
   * the end of its chain of merges (`MERGE:<merged>:<survivor>` moved them there).
   */
  holderOf(member: string): string;
  /** Points already credited to the member by the partner in the cap period around `date` (earlier nights and this run). */
  periodPoints(memberNumber: string, partnerCode: string, period: 'month' | 'year', date: IsoDate): number;
  /** True when another activity already credited this member for the same date and route. */
  creditedSameFlight(row: ActivityRow): boolean;
  /**
   * The claim (`claimName`) that credited the member for the flight a partner-airline claim names, under
   * another claim id, from any partner: before tonight, or decided before it tonight.
   */
  claimedBefore(row: ActivityRow): string | undefined;
  /** The activity a reversal or cancellation refers to. */
  original(activityKey: string): OriginalActivity | undefined;
  /** True when the posting with this key was already reversed (by an earlier correction of the activity). */
  reversed(postingKey: string): boolean;
  /**
   * The day the activity's file came in (by the clock of the fetch that landed it): an activity dated
   * after the business date waits for its own night when its file could have carried it.
   */
  receivedOn(row: ActivityRow): IsoDate;
  /**
   * The member's tier on a date, for the tier bonus: an activity credited late (a coupon days after the
   * flight, a partner file weeks after the stay) earns the bonus of the tier the member held then.
   */
  tierOn(member: MemberFacts, date: IsoDate): string;
  /**
   * How many days back a flight may be credited, when not the program's air claim window: a retro-claim
   * was judged by the retro-claim window, which reaches further back.
   */
  airClaimWindowDays?: number;
  /**
   * Set for the night's last pass, once every redemption the night brings is debited: only then is a
   * cancellation whose wait is over rejected. Earlier in the night its redemption may still come, later
   * in the same file or in a later batch.
   */
  redemptionsSettled?: boolean;
}

const done = (update: ActivityUpdate): ActivityUpdate => ({ needsAccrual: false, ...update });

/**
 * The field and message that go with a decision's reason: the rule's own words where it gave a rejection
 * (a reject, a cap, a class that earns only status), none where the decision sets a reason without one,
 * and nothing changed where it leaves the reason as it was.
 */
export function reasonDetailOf(decision: Pick<AccrualDecision, 'update' | 'rejection'>): ActivityUpdate {
  if (decision.rejection)
    return { reasonField: decision.rejection.field, reasonMessage: decision.rejection.message };
  if (decision.update.reason !== undefined || decision.update.status !== undefined)
    return { reasonField: null, reasonMessage: null };
  return {};
}

/** A posting the ledger refused: the activity is rejected with the ledger's reason, in the ledger's words. */
export function refusedByLedger(reason: string, message: string | undefined): Rejection {
  return {
    reason: reason as Rejection['reason'],
    field: 'points',
    message: message ?? REJECT_REASONS[reason as keyof typeof REJECT_REASONS] ?? reason,
  };
}

function rejected(rejection: Rejection, extra: ActivityUpdate = {}): AccrualDecision {
  return {
    postings: [],
    related: [],
    rejection,
    update: done({ status: 'REJECTED', reason: rejection.reason, ...extra }),
  };
}

/**
 * The earning activity a decision records for inactivity expiry: only one that earns points. Status
 * credits alone keep no points alive, as a class that earns nothing does not, and the reports count a
 * member active by the same measure.
 */
function earning(
  member: { id: number },
  row: { activityDate: IsoDate },
  points: number,
): Pick<AccrualDecision, 'earnedOn'> {
  return points > 0 ? { earnedOn: { memberId: member.id, date: row.activityDate } } : {};
}

/**
 * The reject of an amount of `currency` that comes to more minor units than a JavaScript number counts
 * exactly (2^53 - 1): past it a sum is cents off, and converting it threw, failing the whole accrue (and
 * `simulate`) on both engines. `what` says which amount.
 */
function pastExactMinor(field: string, what: string, currency: string): Rejection {
  return reject(
    'BAD_AMOUNT',
    field,
    `${what} is out of range: more than ${formatMinor(Number.MAX_SAFE_INTEGER, currency)} ${currency}, the most counted exactly`,
  );
}

/**
 * Base-currency minor units of an amount in another currency's minor units, at the activity date's rate;
 * `field` is the amount's, named when the converted amount is out of range.
 */
export function toBaseMinor(
  ctx: AccrualContext,
  minor: number,
  currency: string,
  date: IsoDate,
  field: string,
): { ok: true; value: number } | { ok: false; rejection: Rejection; awaited?: true } {
  if (currency === ctx.program.baseCurrency) return { ok: true, value: minor };
  return toBaseAmount(ctx, fromMinorUnits(minor, currency), currency, date, field);
}

/**
 * Base-currency minor units of an exact amount of `currency` (finer than its minor unit, as a hotel's
 * thousandths may be), at the activity date's rate, rounded once, half-even (fx-rates.md).
 */
function toBaseAmount(
  ctx: AccrualContext,
  amount: Decimal,
  currency: string,
  date: IsoDate,
  field: string,
): { ok: true; value: number } | { ok: false; rejection: Rejection; awaited?: true } {
  const base = ctx.program.baseCurrency;
  let converted = amount;
  if (currency !== base) {
    const c = ctx.fx.convert(amount, currency, base, date, ctx.program.config.fx.maxStaleDays);
    if (!c.ok) return unconvertible(c);
    converted = c.amount;
  }
  return inBaseMinorUnits(converted, base, field, () =>
    currency === base ? `${amount.toFixed()} ${currency}` : `${amount.toFixed()} ${currency} in ${base}`,
  );
}

/**
 * A base-currency amount in its minor units, or `pastExactMinor` on `field` naming what was converted
 * (`what`): a rate above 1 can take an amount that was in range out of it.
 */
function inBaseMinorUnits(
  amount: Decimal,
  base: string,
  field: string,
  what: () => string,
): { ok: true; value: number } | { ok: false; rejection: Rejection } {
  try {
    return { ok: true, value: toMinorUnits(amount, base) };
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return { ok: false, rejection: pastExactMinor(field, what(), base) };
  }
}

/**
 * An exact amount of `currency` in the base currency at the activity date's rate, not rounded: a sum of
 * amounts in several currencies is rounded once, as a whole (fx-rates.md).
 */
function toBaseExact(
  ctx: AccrualContext,
  amount: Decimal,
  currency: string,
  date: IsoDate,
): { ok: true; value: Decimal } | { ok: false; rejection: Rejection; awaited?: true } {
  const base = ctx.program.baseCurrency;
  const c = ctx.fx.convertUnrounded(amount, currency, base, date, ctx.program.config.fx.maxStaleDays);
  return c.ok ? { ok: true, value: c.amount } : unconvertible(c);
}

/** An amount with no rate to convert it by: one still to come is waited for (`unconverted`). */
function unconvertible(c: Extract<FxConversion, { ok: false }>): {
  ok: false;
  rejection: Rejection;
  awaited?: true;
} {
  const rejection = reject('BAD_CURRENCY', 'currency', c.message);
  return c.awaited ? { ok: false, rejection, awaited: true } : { ok: false, rejection };
}

/**
 * A partner's spend whose rate of the day is still to come (`FxConversion.awaited`) waits for it, PENDING
 * BAD_CURRENCY, and is decided again when the fx ingest loads rates. It waits as long as an earlier rate
 * may stand in for a day without one (`fx.maxStaleDays`): a feed that brings nothing for that long has
 * stopped, and the record is rejected then, so that the partner reads why and no answer waits for good.
 */
/** A spend that could not be converted: waits for its day's rate when that is still to come, else rejected. */
function unconverted(
  ctx: AccrualContext,
  row: ActivityRow,
  r: { rejection: Rejection; awaited?: true },
): AccrualDecision {
  return r.awaited ? awaitRate(ctx, row, r.rejection) : rejected(r.rejection);
}

function awaitRate(ctx: AccrualContext, row: ActivityRow, missing: Rejection): AccrualDecision {
  const lastNight = addDays(row.activityDate, ctx.program.config.fx.maxStaleDays);
  if (ctx.businessDate > lastNight)
    return rejected(
      reject(
        'BAD_CURRENCY',
        missing.field,
        `${missing.message}; waited for it up to the night of ${lastNight} (fx.maxStaleDays after the activity date)`,
      ),
    );
  return {
    postings: [],
    related: [],
    rejection: reject(
      'BAD_CURRENCY',
      missing.field,
      `${missing.message}; waits for it: decided again when rates are loaded, rejected if none has come for that day or after by the night of ${lastNight}`,
    ),
    update: done({ status: 'PENDING', reason: 'BAD_CURRENCY' }),
  };
}

/**
 * The account a member earns into (its pool when the program says so) and spends from. What was earned
 * or redeemed on a day the member was in a pool they have since left is that pool's, as it would have
 * been had it come on time: the pool's clock counts the earning, and what a late earning gives back of
 * the pool's expiries stays alive; the award a late redemption paid for was that pool's points. A member
 * who joined a pool after the activity earns into it, their points having moved there.
 */
function pointsAccount(ctx: AccrualContext, member: MemberFacts, date: IsoDate): string {
  // The configuration refuses a program that earns into one account and redeems from the other, so one
  // setting decides for both.
  const own = Accounts.memberPoints(member.number);
  if (ctx.program.config.pools.earnInto !== 'pool') return own;
  const pool = member.pastPools.find((p) => inPoolOn(p, date))?.code ?? member.poolCode;
  // A pool stored under a group id no account code can carry (before the members feed refused one) never
  // took the member's points, which stayed on their own account: their activity stays there too, where
  // naming the pool's account would stop the whole night.
  return (pool ? poolPointsAccount(pool) : null) ?? own;
}

/**
 * Where a redemption dated `date` is debited (`pointsAccount`), and where its points were that day when a
 * move has carried them there since (`movedFrom`): a member who joined the pool she is in after its date
 * redeemed her own account's points, and joining moved only her open lots to the pool. What had expired
 * of them stays on her account, where the ledger takes it back; the pool's other members' expired points
 * were never hers to spend.
 */
function redeemedFrom(
  ctx: AccrualContext,
  member: MemberFacts,
  date: IsoDate,
): { account: string; movedFrom?: MovedFrom } {
  const account = pointsAccount(ctx, member, date);
  const own = Accounts.memberPoints(member.number);
  const joinedSince =
    member.poolSince !== null && date < member.poolSince && !member.pastPools.some((p) => inPoolOn(p, date));
  return account !== own && joinedSince ? { account, movedFrom: { account: own, by: 'POOL' } } : { account };
}

/** Member checks shared by every earning activity: number, account, window, name. */
function eligible(
  ctx: AccrualContext,
  row: ActivityRow,
  windowDays: number,
): { member: MemberFacts } | { rejection: Rejection } {
  const number = row.memberNumber;
  if (!number) return { rejection: reject('NO_CARD', 'member_number', 'no member number') };
  const bad = checkMemberNumber(number, ctx.program.config.program.memberNumber);
  if (bad) return { rejection: bad };
  const member = ctx.members.get(number);
  const closed = checkMember(number, member, row.activityDate);
  if (closed) return { rejection: closed };
  const window = checkWindow(row.activityDate, ctx.businessDate, windowDays, ctx.receivedOn(row));
  if (window) return { rejection: window };
  if (row.travelSurname) {
    const name = checkName(
      { surname: row.travelSurname, givenName: row.travelGivenName },
      member!,
      row.type,
      row.activityDate,
    );
    if (name) return { rejection: name };
  }
  return { member: member! };
}

function fareOf(
  ctx: AccrualContext,
  row: ActivityRow,
): { ok: true; fare: FareComponents | null } | { ok: false; rejection: Rejection } {
  if (!row.seenCoupon || row.fareMinor === null || !row.spendCurrency) return { ok: true, fare: null };
  const currency = row.spendCurrency;
  const minor: Record<FarePart, number> = {
    fare: row.fareMinor,
    surcharge: row.surchargeMinor ?? 0,
    tax: row.taxMinor ?? 0,
  };
  // Nothing to convert in the base currency (the common case, once per flight all night): no memo.
  if (currency === ctx.program.baseCurrency)
    return { ok: true, fare: { sumOf: (parts) => parts.reduce((t, p) => t + minor[p], 0) } };
  // One rate serves every part: if the whole converts, so does any sum of parts.
  const whole = toBaseMinor(
    ctx,
    minor.fare + minor.surcharge + minor.tax,
    currency,
    row.activityDate,
    'fare_amount',
  );
  if (!whole.ok) return whole;
  // The whole (what status counts in the demo) is converted already.
  const sums = new Map<string, number>([['fare+surcharge+tax', whole.value]]);
  return {
    ok: true,
    fare: {
      sumOf: (parts) => {
        const k = parts.join('+');
        let v = sums.get(k);
        if (v === undefined) {
          const r = toBaseMinor(
            ctx,
            parts.reduce((t, p) => t + minor[p], 0),
            currency,
            row.activityDate,
            'fare_amount',
          );
          v = r.ok ? r.value : 0;
          sums.set(k, v);
        }
        return v;
      },
    },
  };
}

function credit(
  key: string,
  ctx: AccrualContext,
  row: ActivityRow,
  member: MemberFacts,
  points: number,
  funding: string,
  ruleVersion: string,
  award: Award | undefined,
  status?: StatusCreditInput,
): PostingInput {
  const entries =
    points > 0
      ? [
          {
            account: pointsAccount(ctx, member, row.activityDate),
            amount: points,
            expiresOn: ctx.program.expiresOn(row.activityDate),
          },
          { account: funding, amount: -points },
        ]
      : [];
  return {
    key,
    kind: 'ACCRUAL',
    businessDate: ctx.businessDate,
    entries,
    statusCredits: status ? [status] : undefined,
    memberNumber: member.number,
    channel: row.channel ?? undefined,
    activityDate: row.activityDate,
    sourceFileId: row.sourceFileId ?? undefined,
    sourceRef: row.activityKey,
    ruleVersion,
    detail: award
      ? {
          basis: award.basis,
          base: award.basePoints,
          tierBonus: award.tierBonus,
          promotion: award.promotionBonus,
          promotions: award.promotions,
          cappedFrom: award.cappedFrom,
        }
      : undefined,
  };
}

const refusedAs = (reason: string): ActivityUpdate => done({ status: 'REJECTED', reason });

// ------------------------------------------------------------------------------------------------ flights

/**
 * The reversals of a flight's postings still open. Miles the member has spent since cannot come back:
 * what the account (or the survivor or pool a merge or pooling moved them to) still holds is taken, the
 * rest is the program's loss (UNRECOVERED), and the status credits go in full. `sourceFileId` is the file
 * of the record that takes the flight back.
 */
function takeBack(
  ctx: AccrualContext,
  row: ActivityRow,
  open: string[],
  sourceFileId: number | null | undefined,
): PlannedPosting[] {
  return [...new Set(open)].map((key) => ({
    request: {
      key: reversalKey(key),
      reverses: key,
      businessDate: ctx.businessDate,
      sourceFileId: sourceFileId ?? undefined,
      sourceRef: row.activityKey,
      shortfallTo: Accounts.unrecovered,
    },
    onRefused: refusedAs,
  }));
}

/**
 * The postings of a credited flight still open, its award's correction first: a reversal of the award
 * after its correction down would charge to UNRECOVERED what the correction's reversal gives back.
 */
function openPostings(ctx: AccrualContext, row: ActivityRow): string[] {
  return [row.detail?.adjustedBy ?? null, row.postingKey, row.statusPostingKey].filter(
    (k): k is string => k !== null && !ctx.reversed(k),
  );
}

/**
 * A flight the FTL credited before its coupon came: its award as the coupon's classes give it (ftl.md: a
 * flown confirmation wins over the FTL's classes; an upgrade the DCS did not mark with `-B` lists the
 * booked class as the flown one), so the miles do not depend on which feed came first. Under the version
 * the flight was credited under; the difference is posted once (`adjustmentKey`), and a correction down
 * takes what the member still holds, the rest charged to UNRECOVERED, as a refund does.
 */
function reclassified(
  ctx: AccrualContext,
  row: ActivityRow,
  member: MemberFacts,
):
  | { posting: PlannedPosting; update: ActivityUpdate; award: Award; note: string; rejection?: Rejection }
  | undefined {
  if (!row.seenCoupon || row.postingKey === null || row.detail?.adjustedBy || ctx.reversed(row.postingKey))
    return undefined;
  if (!row.origin || !row.destination || row.ruleVersion === null) return undefined;
  const version = ctx.program.airVersionById(row.ruleVersion);
  // Revenue-based points were counted from the coupon's money: its classes change nothing.
  if (version?.basis !== 'distance') return undefined;
  const result = airAward(ctx.program, {
    origin: row.origin,
    destination: row.destination,
    bookedClass: row.bookedClass,
    flownClass: row.flownClass ?? row.bookedClass ?? 'Y',
    activityDate: row.activityDate,
    tier: ctx.tierOn(member, row.activityDate),
    version: row.ruleVersion,
  });
  // A booked class that earns nothing (an award ticket upgraded at the gate) earns nothing whichever feed
  // came first: the FTL's credit comes down to none, its status credit standing as the coupon's would.
  const earnsNothing =
    !result.ok && result.rejection.reason === 'CLASS_NOT_ELIGIBLE' ? result.rejection : undefined;
  if (!result.ok && !earnsNothing) return undefined;
  const award: Award = result.ok
    ? result.award
    : {
        points: 0,
        basePoints: 0,
        tierBonus: 0,
        promotionBonus: 0,
        promotions: [],
        miles: row.miles,
        version: row.ruleVersion,
        basis: earnsNothing!.message,
      };
  const delta = award.points - row.points;
  if (delta === 0) return undefined;
  const key = adjustmentKey(row.postingKey);
  const holder = ctx.members.get(ctx.holderOf(member.number)) ?? member;
  const account = pointsAccount(ctx, holder, row.activityDate);
  const request: PostingInput = {
    key,
    kind: 'ADJUSTMENT',
    businessDate: ctx.businessDate,
    entries:
      delta > 0
        ? [
            { account, amount: delta, expiresOn: ctx.program.expiresOn(row.activityDate) },
            { account: Accounts.ownFlights, amount: -delta },
          ]
        : [
            { account, amount: delta },
            { account: Accounts.ownFlights, amount: -delta },
          ],
    ...(delta < 0 ? { shortfallTo: Accounts.unrecovered } : {}),
    memberNumber: member.number,
    channel: row.channel ?? undefined,
    activityDate: row.activityDate,
    sourceFileId: row.detail?.couponFrom?.fileId ?? row.sourceFileId ?? undefined,
    sourceRef: row.activityKey,
    ruleVersion: award.version,
    detail: {
      basis: award.basis,
      base: award.basePoints,
      tierBonus: award.tierBonus,
      promotion: award.promotionBonus,
      promotions: award.promotions,
      credited: row.points,
    },
  };
  const before = { points: row.points, detail: row.detail, ...(earnsNothing ? { reason: row.reason } : {}) };
  return {
    posting: { request, onRefused: () => before },
    update: {
      points: award.points,
      detail: { ...(row.detail ?? {}), adjustedBy: key },
      ...(earnsNothing ? { reason: earnsNothing.reason } : {}),
    },
    award,
    note: `award recomputed from the coupon's classes (booked ${row.bookedClass ?? '-'}, flown ${row.flownClass ?? '-'}): ${row.points.toLocaleString('en-US')} → ${award.points.toLocaleString('en-US')} points (${delta > 0 ? '+' : ''}${delta.toLocaleString('en-US')})`,
    ...(earnsNothing ? { rejection: earnsNothing } : {}),
  };
}

/** `decision` for a credited flight, with its award's correction to the coupon's classes (`reclassified`). */
function awardCorrected(ctx: AccrualContext, row: ActivityRow, decision: AccrualDecision): AccrualDecision {
  const member = row.memberNumber ? ctx.members.get(row.memberNumber) : undefined;
  const correction = member ? reclassified(ctx, row, member) : undefined;
  if (!correction) return decision;
  // A flight still waiting for its coupon's rate keeps saying so (BAD_CURRENCY): the fx ingest finds it by
  // that reason to post its status credit.
  const { reason, ...corrected } = correction.update;
  const waits = decision.update.reason === 'BAD_CURRENCY';
  return {
    ...decision,
    postings: [correction.posting, ...decision.postings],
    update: { ...decision.update, ...corrected, ...(reason && !waits ? { reason } : {}) },
    award: decision.award ?? correction.award,
    ...(correction.rejection && !waits ? { rejection: correction.rejection } : {}),
    note: [decision.note, correction.note].filter(Boolean).join('; '),
  };
}

/**
 * The coupon is the flight's confirmation under the ticket's name (ftl.md, flown-coupons.md), but an FTL
 * credit was checked against the FTL's name: when the coupon completes a flight the FTL credited, its
 * name is checked now, and on a mismatch the credit is taken back and the flight refused NAME_MISMATCH,
 * as it would have been had the coupon come first. Only then: a flight decided again for a rate that
 * came since (BAD_CURRENCY) had its coupon's name checked when the coupon came.
 */
function couponNameRefused(ctx: AccrualContext, row: ActivityRow): AccrualDecision | undefined {
  const coupon = row.detail?.couponFrom;
  if (!row.seenCoupon || !coupon || row.reason === 'BAD_CURRENCY' || !row.travelSurname) return undefined;
  const member = ctx.members.get(row.memberNumber!);
  if (!member) return undefined;
  const name = checkName(
    { surname: row.travelSurname, givenName: row.travelGivenName },
    member,
    row.type,
    row.activityDate,
  );
  if (!name) return undefined;
  return {
    postings: takeBack(ctx, row, openPostings(ctx, row), coupon.fileId ?? row.sourceFileId),
    related: [],
    rejection: name,
    update: done({ status: 'REJECTED', reason: name.reason }),
  };
}

/**
 * An FTL listing under another airline's flight number without `.M/` is taken as ours (`notOwnFlight`)
 * until a coupon says whose the flight is: when the coupon that completes a flight the FTL credited names
 * another airline as both operator and marketer, the credit is taken back as a refund takes it and the
 * flight refused NOT_OWN_FLIGHT with no status credit, as it would have been had the coupon come first.
 */
function couponNotOwn(ctx: AccrualContext, row: ActivityRow): AccrualDecision | undefined {
  if (!row.seenCoupon) return undefined;
  const notOwn = notOwnFlight(carrierFactsOf(row), ctx.program);
  if (!notOwn) return undefined;
  return {
    postings: takeBack(ctx, row, openPostings(ctx, row), row.detail?.couponFrom?.fileId ?? row.sourceFileId),
    related: [],
    rejection: notOwn,
    update: done({ status: 'REJECTED', reason: notOwn.reason }),
  };
}

function decideFlight(ctx: AccrualContext, row: ActivityRow): AccrualDecision {
  if (row.status === 'NOT_CREDITED') return { postings: [], related: [], update: done({}) };
  // A coupon voided, refunded or exchanged takes back what was posted for it.
  if (row.couponStatus && row.couponStatus !== 'F') {
    const postings: PlannedPosting[] = [];
    const posted = [row.postingKey, row.statusPostingKey].filter((k): k is string => k !== null);
    // Corrected again (refunded, then exchanged): what an earlier night took back stays taken back.
    const open = openPostings(ctx, row);
    // The record read is the correction, not the coupon first credited: the reversal is that file's.
    const source = row.detail?.correctedBy?.fileId ?? row.sourceFileId;
    if (posted.length > 0 && open.length === 0)
      return { postings, related: [], update: done({ status: 'REVERSED', reason: 'NOT_FLOWN' }) };
    postings.push(...takeBack(ctx, row, open, source));
    if (postings.length === 0)
      return rejected(
        reject('NOT_FLOWN', 'coupon_status', `coupon status ${row.couponStatus}: nothing to credit`),
      );
    return { postings, related: [], update: done({ status: 'REVERSED', reason: 'NOT_FLOWN' }) };
  }
  if (row.postingKey !== null) {
    // Taken back already (its coupon refunded, its name refused): no status credit for a flight that
    // no longer stands, whatever queued it again (a night of an earlier version resumed).
    if (ctx.reversed(row.postingKey)) return { postings: [], related: [], update: done({}) };
    const refused = couponNameRefused(ctx, row) ?? couponNotOwn(ctx, row);
    if (refused) return refused;
  }
  const converted = fareOf(ctx, row);
  // Without a rate for the coupon's currency only what needs its money waits: the status credit (and
  // revenue-based points). Distance-based miles do not depend on it, so they do not depend on which
  // feed arrived first either.
  let fxProblem: Rejection | undefined;
  let fare: { ok: true; fare: FareComponents | null };
  if (converted.ok) fare = converted;
  else {
    fxProblem = converted.rejection;
    if (row.postingKey !== null) {
      // A claim's credit keeps its reason, which says whose flight it is; the fx ingest finds it again by
      // its base spend, still unknown.
      if (row.reason === 'RETRO_CLAIM')
        return awardCorrected(ctx, row, { postings: [], related: [], update: done({}) });
      return awardCorrected(ctx, row, {
        postings: [],
        related: [],
        rejection: fxProblem,
        update: done({ reason: fxProblem.reason }),
      });
    }
    if (ctx.program.airVersion(row.activityDate)?.basis !== 'distance') return rejected(fxProblem);
    fare = { ok: true, fare: null };
  }
  const alreadyAwarded = row.postingKey !== null;
  let member: MemberFacts;
  if (alreadyAwarded) {
    member = ctx.members.get(row.memberNumber!)!;
    if (!member) return { postings: [], related: [], update: done({}) };
  } else {
    const e = eligible(ctx, row, ctx.airClaimWindowDays ?? ctx.program.config.earning.airClaimWindowDays);
    if ('rejection' in e) return rejected(e.rejection);
    member = e.member;
    if (ctx.creditedSameFlight(row)) {
      return rejected(reject('DUPLICATE', 'flight', creditedSameFlightMessage(row)));
    }
    // Another airline's flight earns through its airline's claim, not on our chart. The qualifying miles
    // the FTL credited a class that earns no points are taken back once the coupon says so, as an award is
    // (`couponNotOwn`): left standing, the coupon's class was credited on our chart as well.
    if (row.statusPostingKey !== null) {
      const refused = couponNotOwn(ctx, row);
      if (refused) return refused;
    } else {
      const notOwn = notOwnFlight(carrierFactsOf(row), ctx.program);
      if (notOwn) return rejected(notOwn);
    }
  }
  const wantsStatus = row.statusPostingKey === null;
  const statusMetric = ctx.program.statusMetric(row.activityDate);
  // Spend-based status needs the coupon's money; distance or segments can come with the first feed.
  // Qualifying miles are the flight's distance whether or not its class earns points.
  const version = statusMetric === 'MILES' ? ctx.program.airVersion(row.activityDate) : undefined;
  const distance =
    row.miles ??
    (version && row.origin && row.destination
      ? (flightMiles(version.cityPairs, row.origin, row.destination) ?? null)
      : null);
  const status =
    wantsStatus && (statusMetric !== 'SPEND' || fare.fare)
      ? statusCredit(ctx.program, { miles: distance, fare: fare.fare, activityDate: row.activityDate })
      : undefined;
  const statusInput: StatusCreditInput | undefined = status
    ? {
        // A flight credited before its member was merged away gets its status credit (the coupon come
        // since, a rate arrived since) where the merge moved the flight's others: on the closed account
        // it would count at no tier review, and a refund would take it from there again.
        memberNumber: ctx.holderOf(member.number),
        metric: status.metric,
        amount: status.amount,
        activityDate: row.activityDate,
      }
    : undefined;
  const baseSpend = fare.fare ? fare.fare.sumOf(['fare', 'surcharge', 'tax']) : null;

  // A rate that has come since the award clears the reason it was made without its money.
  const cured = row.reason === 'BAD_CURRENCY' && fare.fare ? { reason: null } : {};
  if (alreadyAwarded) {
    if (!statusInput)
      return awardCorrected(ctx, row, {
        postings: [],
        related: [],
        update: done({ baseSpendMinor: baseSpend, ...cured }),
      });
    const key = statusPostingKey(row.activityKey);
    return awardCorrected(ctx, row, {
      postings: [
        {
          request: credit(
            key,
            ctx,
            row,
            member,
            0,
            Accounts.ownFlights,
            row.ruleVersion ?? 'status',
            undefined,
            statusInput,
          ),
          onRefused: refusedAs,
        },
      ],
      related: [],
      statusCredit: statusInput,
      update: done({
        statusPostingKey: key,
        statusCredit: statusInput.amount,
        baseSpendMinor: baseSpend,
        ...cured,
      }),
    });
  }
  // Revenue-based points are a share of the coupon's money, so an FTL passenger waits for its coupon
  // under that basis too: rejecting it (BAD_AMOUNT) would blame a record that carries no amount at all.
  const needsCoupon =
    !ctx.program.config.earning.creditOnFtl || ctx.program.airVersion(row.activityDate)?.basis === 'revenue';
  if (!row.seenCoupon && needsCoupon) {
    // Wait for the flown coupon to confirm the flight; stays pending.
    return { postings: [], related: [], update: { needsAccrual: false, status: 'PENDING', reason: null } };
  }
  const result = airAward(ctx.program, {
    origin: row.origin!,
    destination: row.destination!,
    bookedClass: row.bookedClass,
    flownClass: row.flownClass ?? row.bookedClass ?? 'Y',
    activityDate: row.activityDate,
    tier: ctx.tierOn(member, row.activityDate),
    fare: fare.fare,
  });
  if (!result.ok) {
    // A status credit posted before (the coupon's spend, the FTL's qualifying miles) stands: the flight
    // stays posted, its reason the rule's, as the night that posted it left it.
    if (!statusInput && row.statusPostingKey !== null && !ctx.reversed(row.statusPostingKey))
      return {
        postings: [],
        related: [],
        rejection: result.rejection,
        update: done({ status: 'POSTED', reason: result.rejection.reason }),
      };
    // No award (class earns nothing, unknown airport), but spend still counts towards status.
    if (!statusInput) return rejected(result.rejection);
    const key = statusPostingKey(row.activityKey);
    return {
      postings: [
        {
          request: credit(key, ctx, row, member, 0, Accounts.ownFlights, 'status', undefined, statusInput),
          onRefused: refusedAs,
        },
      ],
      related: [],
      statusCredit: statusInput,
      rejection: result.rejection,
      update: done({
        status: 'POSTED',
        reason: result.rejection.reason,
        statusPostingKey: key,
        statusCredit: statusInput.amount,
        baseSpendMinor: baseSpend,
        memberId: member.id,
      }),
    };
  }
  const award = result.award;
  const key = awardPostingKey(row.activityKey);
  const miles = award.miles;
  const withStatus =
    statusInput ??
    (wantsStatus && statusMetric === 'MILES' && miles
      ? { memberNumber: member.number, metric: statusMetric, amount: miles, activityDate: row.activityDate }
      : undefined);
  // A fare of nothing earns nothing under revenue earning: with no status credit either there is
  // nothing to post, and a posting without entries is no posting.
  if (award.points <= 0 && !withStatus)
    return rejected(reject('BAD_AMOUNT', 'fare_amount', `the flight earns no points under ${award.version}`));
  return {
    postings: [
      {
        request: credit(
          key,
          ctx,
          row,
          member,
          award.points,
          Accounts.ownFlights,
          award.version,
          award,
          withStatus,
        ),
        onRefused: refusedAs,
      },
    ],
    related: [],
    award,
    statusCredit: withStatus,
    ...earning(member, row, award.points),
    update: done({
      status: 'POSTED',
      reason: fxProblem?.reason ?? null,
      points: award.points,
      postingKey: key,
      // A status credit posted before the award (the FTL's qualifying miles for a class that earns no
      // points) keeps its key: a refund finds what to take back by it.
      statusPostingKey: withStatus ? key : row.statusPostingKey,
      statusCredit: withStatus?.amount ?? row.statusCredit,
      ruleVersion: award.version,
      memberId: member.id,
      miles,
      baseSpendMinor: baseSpend,
    }),
  };
}

function decidePartnerFlight(ctx: AccrualContext, row: ActivityRow): AccrualDecision {
  const partner = ctx.program.partner(row.partnerCode ?? '');
  if (!partner)
    return rejected(
      reject('NO_CONTRACT', 'FileHeader/SenderProgram', `no partner airline ${row.partnerCode}`),
    );
  // A partner claims for our members on its flights (alliance-accrual.md). A flight one of our own
  // carriers operated is ours to credit, from the departure list, the flown coupon or a retro-claim:
  // credited on the partner's claim too, the member earned the seat twice and the partner was billed
  // for a seat on our flight.
  /** A seat that is ours by `whose` (`field`): the partner's claim for it is refused. */
  const ours = (field: string, whose: string) =>
    rejected(
      reject(
        'NO_CONTRACT',
        field,
        `${row.carrier}${row.flightNumber ?? ''} of ${row.activityDate} is ${whose}, one of ${ctx.program.code}'s own carriers: a partner claims only for its own flights, ours are credited from our own feeds`,
      ),
    );
  if (row.carrier && ctx.program.isOwnCarrier(row.carrier))
    return ours('Flight/OperatingCarrier', `operated by ${row.carrier}`);
  // A codeshare one of our carriers marketed is ours as well: sold on our ticket, its coupon comes in our
  // flown extract and earns on our chart, so the operator's claim for it would credit the seat twice and
  // bill the operator for a seat we sold. Refused whether the coupon came first or is still to come.
  const sold = marketingOf(row.detail);
  if (sold && ctx.program.isOwnCarrier(sold.carrier))
    return ours('Flight/MarketingCarrier', `marketed by ${sold.carrier} as ${sold.carrier}${sold.number}`);
  const e = eligible(ctx, row, ctx.program.config.earning.airClaimWindowDays);
  if ('rejection' in e) return rejected(e.rejection);
  // The same flight claimed again under another claim id (its claim key only catches the same id). Only a
  // credit stands in its way: a first claim refused, tonight or before, credited nothing, and the partner's
  // corrected copy under a new id is the flight's claim.
  const first = ctx.claimedBefore(row);
  if (first) return rejected(reject('DUPLICATE', 'ClaimId', claimedBeforeMessage(row, first)));
  const chart = ctx.program.chart(partner, row.activityDate);
  if (!chart)
    return rejected(
      reject(
        'NO_CONTRACT',
        'Flight/FlightDate',
        `no ${partner.code} earning chart in force on ${row.activityDate}`,
      ),
    );
  const result = partnerFlightAward(ctx.program, chart, {
    origin: row.origin!,
    destination: row.destination!,
    flownClass: row.flownClass ?? 'Y',
    activityDate: row.activityDate,
    tier: ctx.tierOn(e.member, row.activityDate),
  });
  if (!result.ok) return rejected(result.rejection);
  const award = result.award;
  const status = statusCredit(ctx.program, {
    miles: award.miles,
    fare: null,
    partnerFlight: true,
    activityDate: row.activityDate,
  });
  const statusInput = status
    ? {
        memberNumber: e.member.number,
        metric: status.metric,
        amount: status.amount,
        activityDate: row.activityDate,
      }
    : undefined;
  const key = awardPostingKey(row.activityKey);
  return {
    postings: [
      {
        request: credit(
          key,
          ctx,
          row,
          e.member,
          award.points,
          Accounts.partner(partner.code),
          award.version,
          award,
          statusInput,
        ),
        onRefused: refusedAs,
      },
    ],
    related: [],
    award,
    statusCredit: statusInput,
    ...earning(e.member, row, award.points),
    update: done({
      status: 'POSTED',
      // It may have waited for its date (DATED_AHEAD): posted, it waits no more.
      reason: null,
      points: award.points,
      postingKey: key,
      statusPostingKey: statusInput ? key : null,
      statusCredit: statusInput?.amount ?? 0,
      ruleVersion: award.version,
      memberId: e.member.id,
      miles: award.miles,
    }),
  };
}

// ------------------------------------------------------------------------------------------------ partners

/**
 * Whether `into`'s account holds what was `from`'s: it is the same account, or `from`'s was merged into
 * it through however many merges `ctx.members` holds.
 */
function heldBy(ctx: AccrualContext, from: string | null | undefined, into: string | null): boolean {
  if (from === into) return true;
  const seen = new Set<string>();
  for (let m = from ? ctx.members.get(from) : undefined; m?.mergedInto && !seen.has(m.number);) {
    if (m.mergedInto === into) return true;
    seen.add(m.number);
    m = ctx.members.get(m.mergedInto);
  }
  return false;
}

function reversePartnerCredit(ctx: AccrualContext, row: ActivityRow): AccrualDecision {
  const originalKey = partnerKey(row.partnerCode ?? '', row.reversalOfRef!);
  const original = ctx.original(originalKey);
  // Its credit waits for its day's rate: refused now, the reversal would leave that credit to be posted
  // when the rate comes. It waits with it (the fx ingest takes both up, the credit decided first), as
  // long as its own date lets it, by which time the credit is decided.
  if (original?.status === 'PENDING' && original.reason === 'BAD_CURRENCY')
    return awaitRate(
      ctx,
      row,
      reject(
        'BAD_CURRENCY',
        'partner_txn_id',
        `${row.reversalOfRef}, which ${row.externalRef} reverses, waits for the exchange rate of its day`,
      ),
    );
  if (!original || !original.postingKey || (original.status !== 'POSTED' && original.status !== 'PARTIAL')) {
    return rejected(
      reject(
        'UNKNOWN_ORIGINAL',
        'partner_txn_id',
        `${row.reversalOfRef} was never credited, so ${row.externalRef} has nothing to reverse`,
      ),
    );
  }
  // The ledger reverses the credit's own posting, whoever the record names: a reversal sent under another
  // member's number would take the points from the member credited and free cap room for the other one.
  // The account the credited member was merged into holds those points: a reversal under its number is
  // the same member's.
  if (!heldBy(ctx, original.memberNumber, row.memberNumber)) {
    return rejected(
      reject(
        'UNKNOWN_ORIGINAL',
        'member_number',
        `${row.reversalOfRef} was credited to another member than ${row.memberNumber ?? '(none)'}, so ${row.externalRef} has nothing of this member's to reverse`,
      ),
    );
  }
  // A partner reverses what it asked for (before our tier bonus) or what we credited; a reversal giving
  // its spend instead gives the whole spend back. Anything else is not the credit it names.
  if (
    row.pointsRequested !== null &&
    -row.pointsRequested !== original.points &&
    -row.pointsRequested !== original.pointsRequested
  ) {
    return rejected(
      reject(
        'BAD_AMOUNT',
        'points_requested',
        `the reversal asks for ${row.pointsRequested} but ${row.reversalOfRef} was credited ${original.points}`,
      ),
    );
  }
  // A credit that carried no spend has none to give back: a spend-only reversal of it names no amount
  // of the credit, and is as wrong as one giving back another spend.
  const spendless = original.spendMinor === null || original.spendMinor === undefined;
  if (
    row.pointsRequested === null &&
    row.spendMinor !== null &&
    (spendless || row.spendCurrency !== original.spendCurrency || -row.spendMinor !== original.spendMinor)
  ) {
    const spent = spendless ? 'carried no spend' : `spent ${original.spendMinor} ${original.spendCurrency}`;
    return rejected(
      reject(
        'BAD_AMOUNT',
        'spend_amount',
        `the reversal gives back a spend of ${row.spendMinor} ${row.spendCurrency} (minor units) but ${row.reversalOfRef} ${spent}`,
      ),
    );
  }
  const key = reversalKey(original.postingKey);
  return {
    postings: [
      {
        request: {
          key,
          reverses: original.postingKey,
          businessDate: ctx.businessDate,
          sourceRef: row.activityKey,
          sourceFileId: row.sourceFileId ?? undefined,
        },
        onRefused: refusedAs,
      },
    ],
    related: [{ activityKey: originalKey, update: { status: 'REVERSED', reason: 'REVERSED_BY_PARTNER' } }],
    countsIn: { memberNumber: original.memberNumber ?? '', date: original.activityDate },
    update: done({
      status: 'POSTED',
      // It may have waited for its date (DATED_AHEAD): posted, it waits no more.
      reason: null,
      points: -original.points,
      postingKey: key,
      memberId: ctx.members.get(row.memberNumber ?? '')?.id ?? null,
    }),
  };
}

function hotelSpend(
  ctx: AccrualContext,
  row: ActivityRow,
  categories: string[] | undefined,
): { ok: true; value: number | null } | { ok: false; rejection: Rejection; awaited?: true } {
  const revenue = row.detail?.revenue ?? [];
  const counted = revenue.filter((r) => !categories || categories.includes(r.category));
  if (counted.length === 0) return { ok: true, value: null };
  // Each currency's lines are added up exactly and converted once, as a coupon's fare is (`fareOf`), and
  // the stay's whole revenue rounded once to the base currency's minor unit (fx-rates.md): a hotel may
  // send thousandths, and rounding each night to the cent made three nights of 33.335 USD 100.02 instead
  // of 100.00; rounding each currency's part made 10.00 EUR + 23.325 CHF 33.33 USD instead of 33.34.
  const byCurrency = new Map<string, Decimal>();
  for (const r of counted) {
    let amount: Decimal;
    try {
      // Read as the currency's minor units only to refuse what cannot be: the exact amount is added.
      toMinorUnits(r.amount, r.currency);
      amount = parseAmount(r.amount);
    } catch {
      return {
        ok: false,
        rejection: reject('BAD_AMOUNT', 'Amount', `revenue ${r.amount} ${r.currency} cannot be read`),
      };
    }
    const sum = (byCurrency.get(r.currency) ?? new Decimal(0)).plus(amount);
    try {
      toMinorUnits(sum, r.currency);
    } catch {
      return {
        ok: false,
        rejection: pastExactMinor('Amount', `the stay's revenue in ${r.currency}`, r.currency),
      };
    }
    byCurrency.set(r.currency, sum);
  }
  const exact: Decimal[] = [];
  for (const [currency, amount] of byCurrency) {
    const converted = toBaseExact(ctx, amount, currency, row.activityDate);
    if (!converted.ok) return converted;
    exact.push(converted.value);
  }
  // Added in the conversion's own precision (the first amount's), not Decimal's default 20 digits.
  const total = exact.reduce((sum, amount) => sum.plus(amount));
  const base = ctx.program.baseCurrency;
  return inBaseMinorUnits(
    total,
    base,
    'Amount',
    () =>
      `${[...byCurrency].map(([currency, amount]) => `${amount.toFixed()} ${currency}`).join(' + ')} in ${base}`,
  );
}

function uncountedRevenue(row: ActivityRow, contract: string, categories: string[] | undefined): Rejection {
  const revenue = row.detail?.revenue ?? [];
  if (revenue.length === 0)
    return reject(
      'BAD_AMOUNT',
      'RevenueCategory',
      `${contract} earns on spend and the stay carries no revenue`,
    );
  const sent = revenue.map((r) => `${r.amount} ${r.currency} of ${r.category ?? 'no category'}`).join(', ');
  return reject(
    'BAD_AMOUNT',
    'RevenueCategory/@RevenueCategoryCode',
    `the stay's revenue (${sent}) is in no category ${contract} earns on (${(categories ?? []).join(', ')})`,
  );
}

function decidePartner(ctx: AccrualContext, row: ActivityRow): AccrualDecision {
  // A -R record reverses the credit it names, whether it carries the negative points or leaves them
  // empty and gives only the negative spend (partner-accrual.md): routing on the sign of the points
  // sent the spend-only reversal into earning, where its negative spend was rejected as BAD_AMOUNT.
  if (row.reversalOfRef) return reversePartnerCredit(ctx, row);
  if (row.pointsRequested !== null && row.pointsRequested < 0)
    return rejected(
      reject(
        'BAD_AMOUNT',
        'points_requested',
        'negative points without a -R reference to the credit they reverse',
      ),
    );
  const partner = ctx.program.partner(row.partnerCode ?? '');
  if (!partner) return rejected(reject('NO_CONTRACT', 'partner_code', `no partner ${row.partnerCode}`));
  const type = row.activityType ?? '';
  const contract = ctx.program.contract(partner, type, row.activityDate);
  if (!contract)
    return rejected(
      reject(
        'NO_CONTRACT',
        'activity_type',
        `no ${partner.code} contract covers ${type} on ${row.activityDate}`,
      ),
    );
  const e = eligible(ctx, row, contract.claimWindowDays);
  if ('rejection' in e) return rejected(e.rejection);
  const rule = contract.activities[type]!;
  // The spend decides the points only under a rate per unit of spend and when the partner asks for none
  // (partner-accrual.md: points_requested means the program does not compute them). Otherwise it is
  // kept for the reports alone, and a spend that cannot be read or converted (no rate for its currency,
  // none yet for its day) leaves it unknown: rejecting or holding the record for it refused a fixed
  // 500 points for a rental paid in AED.
  const earnsOnSpend = rule.per !== 'activity' && row.pointsRequested === null;
  const negativeSpend = () =>
    rejected(
      reject('BAD_AMOUNT', 'spend_amount', 'a negative spend earns nothing; reversals carry negative points'),
    );
  let spendBase: number | null = null;
  if (row.type === 'HOTEL') {
    const spend = hotelSpend(ctx, row, rule.revenueCategories);
    if (spend.ok) spendBase = spend.value;
    else if (earnsOnSpend) return unconverted(ctx, row, spend);
    // A stay earning on spend that has none the contract counts: the hotel did send revenue, so the
    // reject says which, and which categories earn, in the OpenTravel field the hotel can act on.
    if (spendBase === null && earnsOnSpend)
      return rejected(uncountedRevenue(row, contract.id, rule.revenueCategories));
  } else if (row.spendMinor !== null && row.spendCurrency) {
    // Its sign needs no rate: a negative spend is refused whether or not it can be converted.
    if (row.spendMinor < 0) return negativeSpend();
    const base = toBaseMinor(ctx, row.spendMinor, row.spendCurrency, row.activityDate, 'spend_amount');
    if (base.ok) spendBase = base.value;
    else if (earnsOnSpend) return unconverted(ctx, row, base);
  }
  if (spendBase !== null && spendBase < 0) return negativeSpend();
  const result = partnerAward(
    contract,
    rule,
    {
      spendBaseMinor: spendBase,
      pointsRequested: row.pointsRequested,
      tier: ctx.tierOn(e.member, row.activityDate),
    },
    ctx.program.baseExponent,
  );
  if (!result.ok) return rejected(result.rejection);
  const award = result.award;
  let points = award.points;
  let capped = award.cappedFrom !== undefined;
  if (contract.capPerPeriod) {
    const used = ctx.periodPoints(
      e.member.number,
      partner.code,
      contract.capPerPeriod.period,
      row.activityDate,
    );
    const room = Math.max(0, contract.capPerPeriod.points - used);
    if (points > room) {
      award.cappedFrom ??= points;
      points = room;
      capped = true;
    }
  }
  // activities.points is an integer column: a spend or a request that earns more under no cap (tier
  // bonus included) failed the whole accrue on PostgreSQL (22003) and was stored on SQLite. Its amount
  // is out of range for this program (partner-accrual.md's BAD_AMOUNT), on that record alone.
  if (points > MAX_INTEGER_COLUMN) {
    const asked = row.pointsRequested !== null;
    const hotel = row.type === 'HOTEL';
    const field = asked ? (hotel ? 'PointsEarned' : 'points_requested') : hotel ? 'Amount' : 'spend_amount';
    return rejected(
      reject(
        'BAD_AMOUNT',
        field,
        `out of range: it would earn ${points.toLocaleString('en-US', { useGrouping: false })} points under ${contract.id} (${award.basis}${
          award.tierBonus > 0 ? ` + tier bonus ${award.tierBonus}` : ''
        }), more than ${MAX_INTEGER_COLUMN} on one activity`,
      ),
    );
  }
  // A spend too small to earn one point is not a cap at work: the partner is told its amount earns nothing.
  if (points <= 0 && !capped) {
    return rejected(
      reject(
        'BAD_AMOUNT',
        row.pointsRequested !== null ? 'points' : 'spend_amount',
        `the activity earns no points under ${contract.id}`,
      ),
    );
  }
  if (points <= 0) {
    return rejected(
      reject(
        'CAP_EXCEEDED',
        'points',
        `${partner.code}'s ${contract.capPerPeriod?.period ?? 'activity'} cap is used up`,
      ),
    );
  }
  award.points = points;
  const key = awardPostingKey(row.activityKey);
  return {
    postings: [
      {
        request: credit(key, ctx, row, e.member, points, Accounts.partner(partner.code), contract.id, award),
        onRefused: refusedAs,
      },
    ],
    related: [],
    award,
    ...earning(e.member, row, points),
    rejection: capped
      ? reject('CAP_EXCEEDED', 'points', `capped from ${award.cappedFrom} to ${points}`)
      : undefined,
    update: done({
      status: capped ? 'PARTIAL' : 'POSTED',
      reason: capped ? 'CAP_EXCEEDED' : null,
      points,
      postingKey: key,
      ruleVersion: contract.id,
      memberId: e.member.id,
      baseSpendMinor: spendBase,
    }),
  };
}

// ------------------------------------------------------------------------------------------------ redemptions

/**
 * The night a cancellation that came in on the night of `cameIn` is rejected if its redemption has not
 * come by the end of it. Counted in business dates, not from when its file was received: a night's
 * redemptions are the ones that night reads, so the wait is a number of nights that could have brought
 * the redemption, the same however late a caught-up night runs, and a file's time of receipt is the
 * server's (a sender that keeps its own older times would shorten the wait).
 */
export function cancellationRejectedOn(config: Pick<LoadedConfig, 'redemptions'>, cameIn: IsoDate): IsoDate {
  return addDays(cameIn, config.redemptions.cancellationWaitDays);
}

/** The last night a cancellation may have come in for its wait to have ended by `night`. */
export function cancellationsDueBy(config: Pick<LoadedConfig, 'redemptions'>, night: IsoDate): IsoDate {
  return addDays(night, -config.redemptions.cancellationWaitDays);
}

/** The rejection of a cancellation whose redemption was refused: there is nothing to give back. */
function refusedRedemption(ctx: AccrualContext, row: ActivityRow, original: OriginalActivity): Rejection {
  return reject(
    'UNKNOWN_REDEMPTION',
    'redemption_id',
    `redemption ${row.reversalOfRef} was refused (${original.reason ?? 'REJECTED'}) on the night of ` +
      `${original.rejectedOn ?? ctx.businessDate}: its cancellation cannot be applied`,
  );
}

/** A cancellation that came before its redemption and waits for it (accrue's second pass applies it). */
export const WAITING_CANCELLATION = { status: 'PENDING', reason: 'UNKNOWN_REDEMPTION' } as const;

function decideRedemption(ctx: AccrualContext, row: ActivityRow): AccrualDecision {
  const number = row.memberNumber ?? '';
  const member = ctx.members.get(number);
  if (row.activityType === 'CANCEL') {
    const originalKey = redemptionKey(row.reversalOfRef!);
    const original = ctx.original(originalKey);
    // Stored but not decided yet is not arrived either: a file can list the cancellation before the
    // redemption it cancels, and accrue decides in file order.
    if (!original || original.status === 'PENDING') {
      // The redemption system can send a cancellation before the redemption it cancels. It waits for
      // it (the accrue job decides it again the night the redemption is posted), for as long as the
      // program says: the same system sends both, so one still alone after that is an error someone
      // must look at, and a rejected cancellation, sent again, is decided afresh.
      const rejectedOn = cancellationRejectedOn(ctx.program.config, row.businessDate);
      if (ctx.redemptionsSettled && ctx.businessDate >= rejectedOn) {
        const waited = daysBetween(row.businessDate, ctx.businessDate);
        const wait = ctx.program.config.redemptions.cancellationWaitDays;
        return rejected(
          reject(
            'UNKNOWN_REDEMPTION',
            'redemption_id',
            `redemption ${row.reversalOfRef} has not arrived: its cancellation, read on ${row.businessDate}, ` +
              `waited ${waited} ${waited === 1 ? 'day' : 'days'} for it (cancellations wait ${wait})`,
          ),
        );
      }
      return {
        postings: [],
        related: [],
        rejection: reject(
          'UNKNOWN_REDEMPTION',
          'redemption_id',
          `redemption ${row.reversalOfRef} has not arrived: the cancellation waits for it until the night of ${rejectedOn}`,
        ),
        update: done({ ...WAITING_CANCELLATION }),
      };
    }
    if (original.status === 'REJECTED') return rejected(refusedRedemption(ctx, row, original));
    if (original.status !== 'POSTED' || !original.postingKey) {
      return rejected(
        reject('UNKNOWN_REDEMPTION', 'redemption_id', `redemption ${row.reversalOfRef} was never issued`),
      );
    }
    // The ledger reverses the redemption's own posting, whoever the record names: a cancellation under
    // another member's number would give the points back to the member who redeemed and file the
    // cancellation as the other's. The account the redeeming member was merged into holds their points
    // now: a cancellation under its number is the same member's.
    if (!heldBy(ctx, original.memberNumber, row.memberNumber)) {
      return rejected(
        reject(
          'INCONSISTENT_FIELDS',
          'member_number',
          `redemption ${row.reversalOfRef} was issued to ${original.memberNumber ?? '(none)'} for ${original.points} points, ` +
            `not to ${row.memberNumber ?? '(none)'}: its cancellation cannot be applied`,
        ),
      );
    }
    // A cancellation gives back what the redemption debited, no more and no less.
    if (row.pointsRequested !== original.points) {
      return rejected(
        reject(
          'INCONSISTENT_FIELDS',
          'points',
          `redemption ${row.reversalOfRef} debited ${original.points} points from ${original.memberNumber ?? '(none)'}, ` +
            `but its cancellation gives back ${row.pointsRequested ?? '(none)'}: it cannot be applied`,
        ),
      );
    }
    // Nor another award, nor one issued after the cancellation: the record describes some other
    // redemption under this id, and giving back the points would settle the wrong one.
    if (row.serviceType !== (original.serviceType ?? null)) {
      return rejected(
        reject(
          'INCONSISTENT_FIELDS',
          'service_type',
          `redemption ${row.reversalOfRef} was issued to ${original.memberNumber ?? '(none)'} as ${original.serviceType ?? '(none)'} for ${original.points} points, ` +
            `not as ${row.serviceType ?? '(none)'}: its cancellation cannot be applied`,
        ),
      );
    }
    if (row.activityDate < original.activityDate) {
      return rejected(
        reject(
          'INCONSISTENT_FIELDS',
          'redemption_date',
          `redemption ${row.reversalOfRef} was issued to ${original.memberNumber ?? '(none)'} on ${original.activityDate} for ${original.points} points, ` +
            `but its cancellation is dated ${row.activityDate}, before it: it cannot be applied`,
        ),
      );
    }
    const key = row.activityKey;
    return {
      postings: [
        {
          request: {
            key,
            reverses: original.postingKey,
            businessDate: ctx.businessDate,
            sourceRef: row.activityKey,
            sourceFileId: row.sourceFileId ?? undefined,
          },
          onRefused: (reason) => {
            // Its redemption earlier in the same batch, which the ledger refused in turn: said as it is
            // when that refusal was an earlier batch's, not in the ledger's words for a missing posting.
            const refused = ctx.original(originalKey);
            if (reason === 'UNKNOWN_POSTING' && refused?.status === 'REJECTED') {
              const rejection = refusedRedemption(ctx, row, refused);
              return {
                ...refusedAs(rejection.reason),
                reasonField: rejection.field,
                reasonMessage: rejection.message,
              };
            }
            return refusedAs(
              reason === 'UNKNOWN_POSTING'
                ? 'UNKNOWN_REDEMPTION'
                : reason === 'ALREADY_REVERSED'
                  ? 'DUPLICATE'
                  : reason,
            );
          },
        },
      ],
      related: [{ activityKey: originalKey, update: { status: 'REVERSED', reason: 'CANCELLED' } }],
      update: done({
        status: 'POSTED',
        // It may have waited for its redemption (UNKNOWN_REDEMPTION): posted, it waits no more.
        reason: null,
        points: original.points,
        postingKey: key,
        memberId: member?.id ?? null,
      }),
    };
  }
  const bad = checkMemberNumber(number, ctx.program.config.program.memberNumber);
  if (bad) return rejected(bad);
  if (!member) return rejected(reject('MEMBER_UNKNOWN', 'member_number', `no member ${number}`));
  // The award system issued a redemption dated on or before the night that read the closure against the
  // points the account held then, which the closure leaves on it (they expire as any): it debits them, as
  // a merged member's is (`mergedHolder`). One dated after is refused.
  if (member.status === 'CLOSED' && (member.closedOn === null || row.activityDate > member.closedOn))
    return rejected(
      reject(
        'ACCOUNT_CLOSED',
        'member_number',
        member.closedOn === null
          ? `account ${number} is closed`
          : `account ${number} was closed on ${member.closedOn}, before the redemption's date ${row.activityDate}`,
      ),
    );
  const holder =
    member.status === 'MERGED'
      ? mergedHolder(ctx, member, row)
      : { member, ...redeemedFrom(ctx, member, row.activityDate) };
  if ('rejection' in holder) return rejected(holder.rejection);
  const points = -(row.pointsRequested ?? 0);
  if (!(points > 0))
    return rejected(reject('BAD_AMOUNT', 'points', 'a redemption debits a positive number of points'));
  const key = row.activityKey;
  return {
    postings: [
      {
        request: {
          key,
          kind: 'REDEMPTION',
          businessDate: ctx.businessDate,
          entries: [
            { account: holder.account, amount: -points },
            { account: Accounts.redemption(row.serviceType ?? 'OTHER'), amount: points },
          ],
          memberNumber: holder.member.number,
          channel: row.channel ?? `REDEMPTION:${row.serviceType ?? 'OTHER'}`,
          activityDate: row.activityDate,
          sourceFileId: row.sourceFileId ?? undefined,
          sourceRef: row.activityKey,
          ...(holder.movedFrom ? { movedFrom: holder.movedFrom } : {}),
        },
        onRefused: refusedAs,
      },
    ],
    related: [],
    update: done({ status: 'POSTED', points: -points, postingKey: key, memberId: member.id }),
  };
}

/**
 * Where a redemption of a merged member is debited: the award system issued one dated on or before the
 * night that read the merge against the member's points. Those she held in a pool on its date stayed in
 * that pool, the merge moving only her own account's, so it debits that pool, whatever became of the
 * survivor; those on her own account the merge has moved to the account at the end of its chain (as a
 * cancellation follows them there), so it debits that account as it is tonight, its pool's where the
 * program earns into pools. What had expired of her points stayed on her own account (`movedFrom`): the
 * ledger takes back from there what was valid on the redemption's date, not the survivor's own expired
 * points. One dated after the merge is the survivor's to make: refused, naming the survivor.
 */
function mergedHolder(
  ctx: AccrualContext,
  member: MemberFacts,
  row: ActivityRow,
): { member: MemberFacts; account: string; movedFrom?: MovedFrom } | { rejection: Rejection } {
  const survivor = ctx.members.get(ctx.holderOf(member.number));
  const into = survivor?.number ?? member.mergedInto ?? 'another account';
  const refused = (why: string) => ({
    rejection: reject(
      'ACCOUNT_CLOSED',
      'member_number',
      `account ${member.number} was merged into ${into}${why}`,
    ),
  });
  if (!survivor || survivor.number === member.number || member.closedOn === null) return refused('');
  const on = ` on ${member.closedOn}`;
  if (row.activityDate > member.closedOn)
    return refused(`${on}, before the redemption's date ${row.activityDate}: redeem from ${into}`);
  // The posting names her, as it names any member who spends from a pool: the pool's statement in
  // `member show` lists its members' own movements, and the survivor may never have been in it. Reports
  // count her as the survivor through the merge chain.
  const pooled = redeemedFrom(ctx, member, row.activityDate);
  if (pooled.account !== Accounts.memberPoints(member.number)) return { member, ...pooled };
  if (survivor.status === 'CLOSED' || survivor.status === 'MERGED')
    return refused(`${on}, which is ${survivor.status.toLowerCase()}`);
  return {
    member: survivor,
    account: pointsAccount(ctx, survivor, ctx.businessDate),
    movedFrom: { account: Accounts.memberPoints(member.number), by: 'MERGE' },
  };
}

/**
 * Decided on the night of its date, as every check (the claim window, the rules in force, the member's
 * tier) reads it then: the activity stays with the accrue job, which takes it up each night until then.
 */
function waitForItsNight(ctx: AccrualContext, row: ActivityRow): AccrualDecision {
  return {
    postings: [],
    related: [],
    rejection: reject(
      'DATED_AHEAD',
      'activity_date',
      `dated ${row.activityDate}, after the night of ${ctx.businessDate}: decided on the night of ${row.activityDate}`,
    ),
    update: { status: 'PENDING', reason: 'DATED_AHEAD', needsAccrual: true },
  };
}

export function decide(ctx: AccrualContext, row: ActivityRow): AccrualDecision {
  // Earning waits for its night; a redemption is debited as it comes, whatever its date: held back, it
  // would miss the night's accrue, and the expiry that runs after it could take the points it was given.
  if (row.type !== 'REDEMPTION' && waitsForItsNight(row.activityDate, ctx.businessDate, ctx.receivedOn(row)))
    return waitForItsNight(ctx, row);
  switch (row.type) {
    case 'FLIGHT':
      return decideFlight(ctx, row);
    case 'PARTNER_FLIGHT':
      return decidePartnerFlight(ctx, row);
    case 'PARTNER':
    case 'HOTEL':
      return decidePartner(ctx, row);
    case 'REDEMPTION':
      return decideRedemption(ctx, row);
  }
}
