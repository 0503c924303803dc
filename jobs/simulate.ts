/**
 * The rule simulator: applies the rules to a file and says, per record, what would be posted (rule,
 * version, points, status credits) or why it would be rejected — without writing anything. It reads the
 * database for what the rules depend on (members, earlier activities, rates, caps used) and keeps the
 * effect of earlier records of the same files in memory, exactly as one ingest and accrue would.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { LoadedConfig } from '../config/load.js';
import { Accounts, describeAccount } from '../ledger/accounts.js';
import { carrierFactsOf, notOwnFlight, requestInTheFuture } from '../rules/eligibility.js';
import { dateInZone, type IsoDate } from '../lib/dates.js';
import { UsageError } from '../lib/errors.js';
import { getParser } from '../parsers/index.js';
import type { PartnerActivity, PartnerFileMeta } from '../parsers/partner.js';
import type { FlownCoupon } from '../parsers/flown.js';
import type { FtlPassenger } from '../parsers/ftl/model.js';
import { FtlAssembler } from '../parsers/ftl/index.js';
import type { HotelStay } from '../parsers/hotel.js';
import type { AllianceClaim } from '../parsers/alliance.js';
import { partnerClaimDueOn } from '../exporters/alliance.js';
import type { Redemption } from '../parsers/redemptions.js';
import type {
  FeedName,
  ParseEvent,
  ParseInput,
  ParseOptions,
  RecordEvent,
  RejectEvent,
  VerdictEvent,
} from '../parsers/types.js';
import { cancellationRejectedOn, type AccrualDecision } from '../rules/accrual.js';
import {
  couponDraft,
  ftlDraft,
  partnerDraft,
  redemptionDraft,
  cancellationKey,
  draftCopyKeys,
  earlierCopyOf,
  type ActivityRow,
  type Draft,
  ruleMessage,
} from '../rules/activity.js';
import { Program } from '../rules/program.js';
import {
  activitiesByCoupons,
  activitiesByFlights,
  heldBy,
  activitiesByKeys,
  activitiesByMarketingKeys,
  activitiesByRouteDays,
  fromDb,
  type FlightHolders,
  flightOfActivity,
  flightRefKey,
  routeDayKey,
  type FlightRef,
} from './activities.js';
import {
  contextFor,
  decideInTurn,
  inDecisionOrder,
  isDecidedRedemption,
  isWaitingCancellation,
  freedBy,
  markedForAccrual,
  keptAsSameSeat,
  loadFxTable,
  mayFreeDuplicates,
  type BatchContext,
  refusedItsCoupon,
  standingInstead,
  PeriodPoints,
  remember,
  type AccrueState,
  type PassOptions,
} from './accrue.js';
import { expiriesUndone } from './expire.js';
import { inReadingOrder } from './file-order.js';
import { SimulatedLedger } from './simulated-ledger.js';
import { conflictWith, copyOf, inboundMatch, storedCounts } from './registry.js';
import {
  claimCandidates,
  claimMessage,
  claimMatches,
  creditedByClaim,
  judgeClaim,
  pendingClaims,
  type ClaimOutcome,
} from './retro-claims.js';
import type { RetroClaim } from '../parsers/retro-claims.js';
import type { RejectReason } from '../rules/reasons.js';
import {
  allianceClaimDraftFor,
  allianceClaimsHeader,
  mergeFlightDrafts,
  minorOf,
  FEED_ORDER,
  acceptedFileOfSequence,
  repeatedSequence,
  partnerOfFile,
  receivedClaims,
  partnerHeaderRefusal,
  hotelPartnerOf,
  hotelStayDraft,
  filesReceived,
  firstCopyOf,
  flightRecordOf,
  standingFields,
  type FlightArchive,
} from './ingest-feeds.js';
import {
  claimReceipt,
  claimReceivedBefore,
  flightReadBefore,
  flownAfterFinal,
  recordReadBefore,
  recordReceipt,
  cancellationNotApplied,
  cancellationOf,
  cancelledBeforeCredit,
  type FirstCopy,
} from '../rules/sent-again.js';
import { feedParseOptions, type FileRefusal } from './ingest-file.js';
import { isReversal } from '../ledger/types.js';
import {
  completedFtlMessages,
  expiredByFile,
  expiredMessageReject,
  heldFileCounts,
  heldSeedOf,
  settleHeldFile,
  type FtlFileCounts,
} from './ftl-held.js';

export const SIMULATED_FEEDS: FeedName[] = [
  'ftl',
  'flown',
  'partner',
  'hotel',
  'alliance-claims',
  'redemptions',
  'retro-claims',
];

export interface SimulatedPosting {
  key: string;
  kind: string;
  reverses?: string;
  entries?: Array<{ account: string; amount: number; expiresOn?: string | null }>;
  statusCredits?: Array<{ metric: string; amount: number; activityDate: string }>;
  ruleVersion?: string;
  detail?: unknown;
}

export type SimulationEvent =
  | {
      type: 'record';
      file: string;
      line: number;
      activity: string;
      status: string;
      reason: string | null;
      points: number;
      postings: SimulatedPosting[];
      message?: string;
      /** For a record the rules reject, the field at fault (the reject row's `field` at night). */
      field?: string;
      /** The retro-claim the record is (its outcome is the claim's: credited, waiting or rejected). */
      claim?: string;
      /**
       * What the night posts for activities of earlier nights because of this record (`why`): another
       * ticket's coupon for the flight credited in place of the one this record corrects away, or the
       * cancellation that waited for this redemption. Their figures count in the totals. One the record
       * leaves refused (the cancellation of a redemption it refuses) posts nothing, and says why as its
       * reject will, against its own file and line.
       */
      also?: Array<{
        activity: string;
        why: string;
        status: string;
        points: number;
        statusCredits: number;
        postings: SimulatedPosting[];
        reason?: string;
        field?: string;
        message?: string;
      }>;
    }
  | {
      type: 'reject';
      file: string;
      line: number;
      field: string;
      reason: string;
      message: string;
      text?: string;
    }
  | ({
      /**
       * An activity of an earlier night that the night decides though no record of the files brings it:
       * one dated ahead to this night, one a night left marked. Listed before the files: the night
       * decides it in id order, ahead of tonight's records, which see the cap room and balance it leaves.
       */
      type: 'due';
      /** The file it came in (registry name and id) and its line; null for one that came in no file. */
      file: string | null;
      fileId: number | null;
      line: number | null;
      /** The night that file was read for. */
      night: string | null;
      activity: string;
      /** A retro-claim of an earlier night the night credits: the flight is `activity`, the file the claim's. */
      claim?: string;
    } & ShownFigures)
  | ({ type: 'file' } & FileSummary)
  | ({
      type: 'summary';
      byReason: Record<string, number>;
      files: FileSummary[];
      /** What the `due` activities come to; the totals count them as well as the files' records. */
      due: Counts;
    } & Counts);

/**
 * What the records of a file (or of the run) come to. Each record counts once, so
 * records = posted + reversed + rejected + notCredited + held + merged. Reversals take back what an
 * earlier night posted: their points and status credits are negative and kept apart from what would post.
 */
export interface Counts {
  records: number;
  /** Records that would post a credit or a debit (points and statusCredits are theirs). */
  posted: number;
  /** Records that would take back an earlier posting (reversedPoints and reversedStatusCredits, negative). */
  reversed: number;
  rejected: number;
  /** Another program's card or stay: not credited here. */
  notCredited: number;
  /** Parts waiting for the rest of their FTL message, flights waiting for their coupon. */
  held: number;
  /** Records whose activity a later record of the run completes or corrects, or that add nothing new. */
  merged: number;
  points: number;
  statusCredits: number;
  reversedPoints: number;
  reversedStatusCredits: number;
}

/** A file's verdict as the night would give it, with what its records come to. */
export type FileSummary = {
  file: string;
  /** The feed it came in (a night simulated whole holds files of several). */
  feed: FeedName;
  /** An earlier night's file (FTL parts it held): its id in the registry. */
  fileId?: number;
  verdict: string;
  reason?: string;
  message?: string;
} & Counts;

function draftFor(
  feed: FeedName,
  record: unknown,
  file: string,
  program: Program,
  date: IsoDate,
): Draft | undefined {
  switch (feed) {
    case 'ftl': {
      const p = record as FtlPassenger;
      return p.held ? undefined : ftlDraft(p, program, date);
    }
    case 'flown':
      return couponDraft(record as FlownCoupon, program, date, minorOf);
    case 'partner': {
      // A file of no partner is refused whole (refusalOf): its records show that verdict, not this one.
      const of = partnerOfFile(program, file);
      return 'refusal' in of
        ? { ok: false, rejection: { reason: 'NO_CONTRACT', field: 'file', message: of.refusal.message } }
        : partnerDraft(record as PartnerActivity, of.partnerCode, date, minorOf);
    }
    case 'hotel':
      return hotelStayDraft(program, file, record as HotelStay, date);
    case 'redemptions':
      return redemptionDraft(record as Redemption, date);
    default:
      return undefined;
  }
}

/** A record (or unreadable line) of the run and what became of it. */
interface Item {
  file: string;
  line: number;
  /** A line the parser could not read. */
  parseReject?: RejectEvent;
  draft?: Draft;
  /** Read but not for this program's accounts: another program's stay, a part waiting for its message. */
  skipped?: 'OTHER_PROGRAM' | 'HELD';
  /** The FTL message a held passenger waits for. */
  message?: string;
  /** Why ingest would store nothing for it: the same record was read before. */
  duplicate?: string;
  /** The activity the record created or changed in the simulated archive. */
  row?: ActivityRow;
  /** A later record of the run changed the same activity: the outcome shows on that one. */
  mergedInto?: Item;
  /** A partner-airline claim, drafted once its file's header has named the sender. */
  claim?: AllianceClaim;
  /**
   * Activities of earlier nights the night posts for because of this record: the coupon credited in place
   * of the one it corrects away, the cancellation that waited for its redemption.
   */
  also?: Array<{ row: ActivityRow; why: string; decided?: Decided }>;
  /** A retro-claim, settled after accrue as the night settles it. */
  retroClaim?: RetroClaim;
  settled?: SettledClaim;
}

/**
 * The activity archive as the night's ingest would leave it, kept in memory: rows read from the database
 * (then changed here) and rows the run adds. Lookups go through the functions ingest uses, so a coupon
 * finds its flight by key, by marketing key or by ticket and coupon just as it would at night.
 */
class SimulatedArchive implements FlightArchive {
  private readonly byKey = new Map<string, ActivityRow>();
  private readonly byCoupon = new Map<string, ActivityRow>();
  private readonly loadedKeys = new Set<string>();
  private readonly loadedTickets = new Set<string>();
  private readonly added: ActivityRow[] = [];
  private readonly changed = new Set<ActivityRow>();
  private readonly lastItem = new Map<ActivityRow, Item>();
  /** The records of this run that brought each activity's coupon or FTL passenger, as it stands now. */
  private readonly readInRun = new Map<ActivityRow, { coupon?: Item; passenger?: Item }>();

  constructor(private readonly knex: Knex) {}

  /** One object per activity, whichever lookup found it first: a change must be seen by every later lookup. */
  private adopt(row: ActivityRow): ActivityRow {
    const mine = this.byKey.get(row.activityKey);
    if (mine) return mine;
    this.byKey.set(row.activityKey, row);
    return row;
  }

  private async loadKeys(keys: string[]): Promise<void> {
    const missing = [...new Set(keys)].filter((k) => !this.loadedKeys.has(k) && !this.byKey.has(k));
    for (const k of missing) this.loadedKeys.add(k);
    if (missing.length > 0)
      for (const row of (await activitiesByKeys(this.knex, missing)).values()) this.adopt(row);
  }

  private async loadCoupons(coupons: Array<[string, number]>): Promise<void> {
    const missing = coupons.filter(([t]) => !this.loadedTickets.has(t));
    for (const [t] of missing) this.loadedTickets.add(t);
    if (missing.length === 0) return;
    // What the run already stored under a coupon is newer than the database's row for it.
    for (const [k, row] of await activitiesByCoupons(this.knex, missing))
      if (!this.byCoupon.has(k)) this.byCoupon.set(k, this.adopt(row));
  }

  private touch(row: ActivityRow, item: Item): void {
    const before = this.lastItem.get(row);
    if (before) before.mergedInto = item;
    this.lastItem.set(row, item);
    item.row = row;
  }

  private add(row: ActivityRow, item: Item): void {
    this.byKey.set(row.activityKey, row);
    this.added.push(row);
    this.touch(row, item);
  }

  async byKeys(keys: string[]): Promise<Map<string, ActivityRow>> {
    await this.loadKeys(keys);
    const out = new Map<string, ActivityRow>();
    for (const k of keys) {
      const row = this.byKey.get(k);
      if (row) out.set(k, row);
    }
    return out;
  }

  async byCoupons(coupons: Array<[string, number]>): Promise<Map<string, ActivityRow>> {
    await this.loadCoupons(coupons);
    const out = new Map<string, ActivityRow>();
    for (const [ticket, coupon] of coupons) {
      const row = this.byCoupon.get(`${ticket}:${coupon}`);
      if (row) out.set(`${ticket}:${coupon}`, row);
    }
    return out;
  }

  async byFlights(flights: FlightRef[], holders: FlightHolders): Promise<ActivityRow[]> {
    const wanted = new Set(flights.map(flightRefKey));
    const rows = new Set((await activitiesByFlights(this.knex, flights, holders)).map((r) => this.adopt(r)));
    for (const r of this.added)
      if (r.type === 'FLIGHT' && heldBy(r, holders) && wanted.has(flightRefKey(flightOfActivity(r))))
        rows.add(r);
    return [...rows];
  }

  async byMarketingKeys(keys: string[]): Promise<ActivityRow[]> {
    const wanted = new Set(keys);
    const rows = new Set((await activitiesByMarketingKeys(this.knex, keys)).map((r) => this.adopt(r)));
    // What the run stored or changed is newer than the database: a coupon added, or a detail rewritten.
    for (const r of [...this.added, ...this.changed]) rows.add(r);
    return [...rows].filter((r) => r.detail?.marketingKey !== undefined && wanted.has(r.detail.marketingKey));
  }

  async byRouteDays(flights: FlightRef[]): Promise<ActivityRow[]> {
    const wanted = new Set(flights.map(routeDayKey));
    const rows = new Set((await activitiesByRouteDays(this.knex, flights)).map((r) => this.adopt(r)));
    // What the run stored or changed is newer than the database, as above.
    for (const r of [...this.added, ...this.changed]) rows.add(r);
    return [...rows].filter((r) => r.type === 'FLIGHT' && wanted.has(routeDayKey(flightOfActivity(r))));
  }

  /** Flights merged by the rules ingest stores them by (jobs/ingest-feeds.ts mergeFlightDrafts). */
  async storeFlights(items: Item[]): Promise<void> {
    const read = items.filter((i) => i.draft?.ok);
    const activityOf = (i: Item) => (i.draft as Extract<Draft, { ok: true }>).activity;
    const merge = await mergeFlightDrafts(this, read.map(activityOf));
    // Where the first copies came in, worded before this batch's records count as read: one lookup of
    // the files for the batch.
    const files = await filesReceived(
      this.knex,
      merge.outcomes.map((o) =>
        o.kind === 'duplicate' || o.kind === 'afterFinal' ? (o.first?.fileId ?? null) : null,
      ),
    );
    merge.outcomes.forEach((o, n) => {
      if (o.kind !== 'duplicate' && o.kind !== 'afterFinal') return;
      const item = read[n]!;
      const d = activityOf(item);
      // A copy read earlier in the run is known by its file's name: the run's files are not registered.
      const inRun =
        o.first?.by !== undefined ? read[o.first.by] : this.readInRun.get(o.of)?.[flightRecordOf(d)];
      const where = inRun
        ? copyInRun(inRun, item.file)
        : o.first
          ? firstCopyOf({ sourceFileId: o.first.fileId, sourceLine: o.first.line }, files)
          : {};
      // Refused against its line, as ingest keeps it in `rejects`.
      if (o.kind === 'afterFinal')
        item.draft = { ok: false, rejection: flownAfterFinal(d, o.finalStatus, where) };
      else item.duplicate = flightReadBefore(d, o.earlier, where);
    });
    merge.outcomes.forEach((o, n) => {
      const item = read[n]!;
      if (o.kind === 'duplicate' || o.kind === 'afterFinal') return;
      const d = activityOf(item);
      this.readInRun.set(o.row, { ...this.readInRun.get(o.row), [flightRecordOf(d)]: item });
      if (o.kind === 'new' || o.kind === 'reissued' || o.kind === 'secondCoupon') this.add(o.row, item);
      else this.touch(o.row, item);
      if (d.ticketNumber !== null) this.byCoupon.set(`${d.ticketNumber}:${d.couponNumber}`, o.row);
    });
    for (const row of merge.changed.keys()) if (row.id !== undefined) this.changed.add(row);
    // Under its new key too; the old one still finds it, for what the database holds under that key.
    for (const row of merge.rekeyed.keys()) this.byKey.set(row.activityKey, row);
    // A coupon of an earlier night, credited because this record corrected the one standing away: the
    // night posts it, so it shows with the record that freed it. One stored by this run shows on its own.
    for (const { row, by } of merge.requeued)
      if (!this.lastItem.has(row))
        (read[by]!.also ??= []).push({ row, why: 'in place of the coupon it corrects away' });
  }

  /**
   * Activities that must be new (partner, hotel, alliance, redemptions): a known key is a duplicate, unless
   * its earlier copy was rejected (ingest sets that copy aside and decides the record afresh).
   */
  async storeUnique(items: Item[]): Promise<void> {
    const keys = items.flatMap((i) => draftCopyKeys(i.draft));
    await this.loadKeys(keys);
    const files = await filesReceived(
      this.knex,
      keys.map((k) => this.byKey.get(k)?.sourceFileId ?? null),
    );
    for (const item of items) {
      const cancels = item.draft?.ok === false ? item.draft.cancels : undefined;
      if (cancels) {
        const earlier = earlierCopyOf(cancels.activity, (key) => this.byKey.get(key));
        const first = earlier && this.lastItem.get(earlier);
        const ref = cancels.activity.externalRef ?? cancels.activity.activityKey;
        const effect = cancellationOf(earlier);
        if (effect === 'notApplied') {
          const where = first ? copyInRun(first, item.file) : firstCopyOf(earlier!, files);
          item.draft = {
            ok: false,
            rejection: cancellationNotApplied(ref, cancels.resStatus, earlier!, where),
          };
        } else if (effect === 'settle') {
          // As ingest settles it (settleCancelledStay): the stay shows rejected on its own line, and accrue
          // leaves it. The run's files are not registered: one of the run is named as the night names it.
          Object.assign(
            earlier!,
            cancelledBeforeCredit(
              ref,
              cancels.resStatus,
              first?.file === item.file
                ? { sameFile: true, line: item.line }
                : { file: item.file, night: cancels.activity.businessDate },
            ),
          );
          if (earlier!.id !== undefined) this.changed.add(earlier!);
        }
      }
      if (!item.draft?.ok) continue;
      const a = item.draft.activity;
      const earlier = earlierCopyOf(a, (key) => this.byKey.get(key));
      // A row this run added is a copy earlier in the run; one read from the database came before it.
      const first = earlier && this.lastItem.get(earlier);
      if (recordReceipt(earlier, first !== undefined) === 'duplicate') {
        const where = first ? copyInRun(first, item.file) : firstCopyOf(earlier!, files);
        item.duplicate = recordReadBefore(a.externalRef ?? a.activityKey, earlier!, where).message;
      } else this.add(a, item);
    }
  }

  /** Rows read from the database by another query: the run's own objects for them, none read again. */
  adopted(rows: ActivityRow[]): ActivityRow[] {
    return rows.map((row) => {
      this.loadedKeys.add(row.activityKey);
      return this.adopt(row);
    });
  }

  /** The activities this run adds. */
  addedRows(): readonly ActivityRow[] {
    return this.added;
  }

  /**
   * What accrue would take up, in its order: archive id, the rows this run adds coming last. Besides
   * those the run changed, every activity an earlier night left marked (one dated ahead whose night this
   * is, say): the night decides them first, and what they post changes tonight's records.
   */
  async toAccrue(): Promise<ActivityRow[]> {
    const marked = this.adopted(
      (await markedForAccrual(this.knex)).map((r: Record<string, unknown>) => fromDb(r)),
    );
    const older = [...new Set([...this.changed, ...marked])].sort((a, b) => a.id! - b.id!);
    return [...older, ...this.added].filter((r) => r.needsAccrual);
  }
}

async function sha256Of(input: ParseInput): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of input.open()) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * What the file registry would make of a file at fetch (jobs/registry.ts registerInbound): the same
 * content received before, under another name or this one, is not read again; another file under a name
 * already received is held for an operator. `run` holds the files of this run landed before it.
 */
async function registryRefusal(
  knex: Knex,
  feed: FeedName,
  name: string,
  sha256: string,
  run: Array<{ name: string; sha256: string }>,
  namesReused: boolean,
): Promise<(FileRefusal & { verdict: 'duplicate' | 'conflict' }) | undefined> {
  const earlier = run.find((f) => f.sha256 === sha256);
  if (earlier) return { verdict: 'duplicate', ...copyOf({ name: earlier.name }) };
  const { same, sameName } = await inboundMatch(knex, { feed, name, sha256, namesReused });
  if (same?.name === name) {
    // Received, not yet read (ingest failed, say): tonight's ingest reads it.
    if (same.verdict === 'pending') return undefined;
    return {
      verdict: 'duplicate',
      reason: 'DUPLICATE_FILE',
      message: `received before (file ${Number(same.id)}, ${String(same.verdict)}): not read again`,
    };
  }
  if (same) return { verdict: 'duplicate', ...copyOf({ name: String(same.name), id: Number(same.id) }) };
  if (!namesReused && run.some((f) => f.name === name))
    return { verdict: 'conflict', ...conflictWith(name, {}) };
  if (sameName) return { verdict: 'conflict', ...conflictWith(name, { id: Number(sameName.id) }) };
  return undefined;
}

/**
 * As ingest judges a file's sequence (`checkFileSequence`): a repeat is this very number accepted before,
 * in the registry or earlier in this run (accepted by the time the night reads the next file); a lower one
 * not seen fills a gap.
 */
async function repeatRefusal(
  knex: Knex,
  runSequences: Map<string, Map<number, string>>,
  feed: 'partner' | 'alliance-claims',
  code: string,
  sequence: number | null,
  file: string,
): Promise<FileRefusal | undefined> {
  if (sequence === null) return undefined;
  const scope = `${feed}:${code}`;
  const inRun = runSequences.get(scope) ?? new Map<number, string>();
  const earlier = inRun.has(sequence)
    ? { name: inRun.get(sequence)! }
    : await acceptedFileOfSequence(knex, feed, code, sequence);
  if (earlier) return repeatedSequence(code, sequence, earlier);
  runSequences.set(scope, inRun.set(sequence, file));
  return undefined;
}

/** The checks ingest makes of a whole file besides its parser's (the feed handlers' begin and end). */
async function refusalOf(
  knex: Knex,
  program: Program,
  feed: FeedName,
  verdict: VerdictEvent,
  runSequences: Map<string, Map<number, string>>,
): Promise<FileRefusal | undefined> {
  if (feed === 'partner') {
    const of = partnerOfFile(program, verdict.file);
    if ('refusal' in of) return of.refusal;
    const code = of.partnerCode;
    const meta = verdict.meta as unknown as PartnerFileMeta | undefined;
    const header = partnerHeaderRefusal(code, meta);
    if (header) return header;
    return repeatRefusal(knex, runSequences, feed, code, meta?.fileSequence ?? null, verdict.file);
  }
  if (feed === 'alliance-claims') {
    const meta = verdict.meta as { sender?: string; receiver?: string; sequence?: number } | undefined;
    const header = allianceClaimsHeader(program, meta);
    if ('refusal' in header) return header.refusal;
    return repeatRefusal(knex, runSequences, feed, header.partner.code, meta?.sequence ?? null, verdict.file);
  }
  if (feed === 'hotel') {
    const of = hotelPartnerOf(program, verdict.file, verdict.meta);
    if ('refusal' in of) return of.refusal;
  }
  return undefined;
}

/** What a record comes to, counted one way only: the counts of a file add up to its records. */
type Outcome = 'posted' | 'reversed' | 'rejected' | 'notCredited' | 'held' | 'merged';

const noCounts = (): Counts => ({
  records: 0,
  posted: 0,
  reversed: 0,
  rejected: 0,
  notCredited: 0,
  held: 0,
  merged: 0,
  points: 0,
  statusCredits: 0,
  reversedPoints: 0,
  reversedStatusCredits: 0,
});

function simulatedPostings(decision: AccrualDecision): SimulatedPosting[] {
  return decision.postings.map((p) =>
    isReversal(p.request)
      ? { key: p.request.key, kind: 'REVERSAL', reverses: p.request.reverses }
      : {
          key: p.request.key,
          kind: p.request.kind,
          entries: p.request.entries.map((x) => ({
            account: x.account,
            amount: x.amount,
            ...(x.expiresOn !== undefined ? { expiresOn: x.expiresOn } : {}),
          })),
          statusCredits: (p.request.statusCredits ?? []).map((s) => ({
            metric: s.metric,
            amount: s.amount,
            activityDate: s.activityDate,
          })),
          ruleVersion: p.request.ruleVersion,
          detail: p.request.detail,
        },
  );
}

interface Decided {
  decision: AccrualDecision;
  /** The activity before this run decided it: what a reversal takes back. */
  before: ActivityRow;
  /** The inactivity expiries of earlier nights its earning undoes, reversed as accrue reverses them. */
  reinstated?: SimulatedPosting[];
}

/**
 * The inactivity expiries an earning credited in the run undoes (`expiriesUndone`), posted to the
 * simulated ledger as accrue posts them after the batch; `done` holds those an earlier record of the run
 * undid already. Shown on the first record whose earning undoes each.
 */
async function reinstatedBy(
  knex: Knex,
  program: Program,
  businessDate: IsoDate,
  ledger: SimulatedLedger,
  done: Set<string>,
  row: ActivityRow,
  decision: AccrualDecision,
): Promise<Pick<Decided, 'decision' | 'reinstated'>> {
  const earned = decision.earnedOn;
  const status = decision.update.status ?? row.status;
  if (!earned || (status !== 'POSTED' && status !== 'PARTIAL')) return { decision };
  // As accrue takes them: only an earning that stands undoes an expiry (`standingEarnings`).
  const key = decision.update.postingKey ?? row.postingKey;
  if (key && !(await ledger.stands(key))) return { decision };
  const undone = (
    await expiriesUndone(knex, program, businessDate, new Map([[earned.memberId, [earned.date]]]), (k) =>
      ledger.reversedInRun(k),
    )
  ).filter((u) => !done.has(u.request.key));
  const reinstated: SimulatedPosting[] = [];
  const notes: string[] = [];
  for (const u of undone) {
    done.add(u.request.key);
    if ((await ledger.post(u.request)).status !== 'posted') continue;
    reinstated.push({ key: u.request.key, kind: 'REVERSAL', reverses: u.request.reverses });
    notes.push(
      `${u.points.toLocaleString('en-US')} points expired from ${u.account} on ${u.expiredOn} reinstated: earned on ${earned.date}, within the inactivity period`,
    );
  }
  if (reinstated.length === 0) return { decision };
  // Told on the record whose earning reinstates them, after what its decision says.
  return {
    decision: { ...decision, note: [decision.note, ...notes].filter(Boolean).join('; ') },
    reinstated,
  };
}

/**
 * A decision as the ledger would take it (`SimulatedLedger`): a posting it refuses is taken back as
 * accrue takes it back — the cap room returned, the activity rejected with the ledger's reason.
 */
async function posted(
  ledger: SimulatedLedger,
  state: AccrueState,
  ctx: BatchContext,
  row: ActivityRow,
  decision: AccrualDecision,
): Promise<AccrualDecision> {
  let out = decision;
  for (const p of decision.postings) {
    const result = await ledger.post(p.request);
    const notes = (result.followed ?? []).map(
      (f) =>
        `${f.amount.toLocaleString('en-US')} points taken back from ${f.account}, where a transfer moved them`,
    );
    if (result.expired)
      notes.push(
        `${result.expired.toLocaleString('en-US')} points of it had expired: taken back from ${Accounts.expiry}`,
      );
    if (result.unexpired)
      notes.push(
        `${result.unexpired.toLocaleString('en-US')} points of it were valid on ${row.activityDate} and expired since: taken back from ${Accounts.expiry}`,
      );
    if (result.lapsed)
      notes.push(
        `${result.lapsed.toLocaleString('en-US')} points of it go back to lots past their date: booked to ${Accounts.expiry}`,
      );
    if (result.unrecovered)
      notes.push(
        `${result.unrecovered.toLocaleString('en-US')} points of it the member has spent: charged to ${Accounts.unrecovered}`,
      );
    if (notes.length > 0) out = { ...out, note: notes.join('; ') };
    if (result.status !== 'refused') continue;
    const reason = (result.reason ?? 'REFUSED') as RejectReason;
    remember(state, row, decision, -1);
    const update = p.onRefused(reason);
    Object.assign(row, update, { needsAccrual: false });
    // Refused, as a later posting of the batch that depends on it (its cancellation) finds it.
    ctx.decided(row);
    out = {
      ...out,
      postings: out.postings.filter((q) => q !== p),
      update: { ...out.update, ...update },
      // The rule's own words where it has them for the refusal (`onRefused`), else the ledger's.
      rejection:
        typeof update.reasonMessage === 'string'
          ? {
              reason: (update.reason ?? reason) as RejectReason,
              field: update.reasonField ?? 'points',
              message: update.reasonMessage,
            }
          : {
              reason,
              field: 'points',
              message: `the ledger would refuse it: ${result.message ?? reason}`,
            },
    };
  }
  return out;
}

/** What a decided activity comes to, as a line of the simulation (a `due` event among them) shows it. */
export interface ShownFigures {
  status: string;
  reason: string | null;
  message?: string;
  field?: string;
  /** Posted, or taken back (negative for a credit taken back). */
  points: number;
  statusCredits: number;
  postings: SimulatedPosting[];
}

interface Shown extends ShownFigures {
  outcome: Outcome;
}

/**
 * When the claims export takes a partner's passenger: the night its file is written when a flown coupon
 * was read, else once its wait for one is over (a coupon on our card joining it first, it is not claimed).
 */
function exportedTo(row: ActivityRow, couponWaitDays: number): string {
  if (row.seenCoupon || couponWaitDays === 0) return `exported to ${row.partnerCode}`;
  return `waits for its flown coupon: exported to ${row.partnerCode} on ${partnerClaimDueOn(row.businessDate, couponWaitDays)} without one`;
}

/**
 * The points a decision's postings move on the member's side (their account or their pool's): what the
 * night posts for it. A coupon correcting an FTL credit posts the difference alone (`<award>:ADJ`), though
 * the activity's points become the flight's new total.
 */
function pointsPosted(decision: AccrualDecision): number {
  let points = 0;
  for (const { request } of decision.postings)
    if (!isReversal(request))
      for (const e of request.entries) {
        const { kind } = describeAccount(e.account);
        if (kind === 'MEMBER_POINTS' || kind === 'POOL_POINTS') points += e.amount;
      }
  return points;
}

/** What a decided activity comes to, as a line of the simulation shows it. */
function shownDecision(row: ActivityRow, { decision, before, reinstated }: Decided): Shown {
  const postings = [...simulatedPostings(decision), ...(reinstated ?? [])];
  const status = decision.update.status ?? row.status;
  // A decision that sets no reason leaves the activity's (a flight a retro-claim credited stays RETRO_CLAIM
  // when its coupon brings the status credits), as the night's update does.
  const reason = decision.update.reason === undefined ? row.reason : decision.update.reason;
  const message = decision.rejection?.message ?? decision.note;
  const none = { points: 0, statusCredits: 0, postings: [] };
  if (decision.postings.some((p) => isReversal(p.request))) {
    // Taken back, so it counts against the totals: the reversed posting's points and credits.
    const reversed = new Set(decision.postings.map((p) => (isReversal(p.request) ? p.request.reverses : '')));
    // (0 - n, not -n: a credit of none taken back is 0 points, not -0.)
    const points =
      decision.update.points ??
      (before.postingKey && reversed.has(before.postingKey) ? 0 - (before.points ?? 0) : 0);
    const statusCredits =
      before.statusPostingKey && reversed.has(before.statusPostingKey) ? 0 - (before.statusCredit ?? 0) : 0;
    // A credit taken back because its record is refused (the coupon's name) ends REJECTED, as at night,
    // and says both why and what the reversal could not take back.
    const refused = status === 'REJECTED';
    return {
      outcome: 'reversed',
      status: refused ? status : 'REVERSED',
      reason,
      message: refused ? [decision.rejection?.message, decision.note].filter(Boolean).join('; ') : message,
      ...(refused && decision.rejection?.field ? { field: decision.rejection.field } : {}),
      points,
      statusCredits,
      postings,
    };
  }
  if (decision.postings.length > 0)
    return {
      outcome: 'posted',
      status,
      reason,
      // A credit corrected down to a class that earns nothing says why, and by how much.
      message: [decision.rejection?.message, decision.note].filter(Boolean).join('; ') || undefined,
      points: pointsPosted(decision),
      statusCredits: decision.statusCredit?.amount ?? 0,
      postings,
    };
  if (status === 'REJECTED') {
    const field = decision.rejection?.field;
    return { outcome: 'rejected', status, reason, message, ...(field ? { field } : {}), ...none };
  }
  if (status === 'PENDING')
    return { outcome: 'held', status, reason, message: message ?? 'waits for its flown coupon', ...none };
  if (status === 'NOT_CREDITED') return { outcome: 'notCredited', status, reason, message, ...none };
  return {
    outcome: 'merged',
    status: 'MERGED',
    reason,
    message: message ?? 'already credited: nothing new to post',
    ...none,
  };
}

type CreditedClaim = Decided & { flight: ActivityRow };

interface SettledClaim {
  outcome: ClaimOutcome;
  credit?: CreditedClaim;
}

/**
 * Where a copy earlier in this simulated run came in, seen from `file`: a line of it, or another file
 * of the run (not registered, so known by its name alone).
 */
const copyInRun = (first: { file: string; line: number }, file: string): FirstCopy =>
  first.file === file
    ? { sameFile: true, line: first.line }
    : { file: { name: first.file, registered: false } };

/**
 * Retro-claims as ingest receives them: one said to be made after the night is in the future
 * (`requestInTheFuture`), and a claim id received before (or earlier in this run) is a DUPLICATE
 * (`claimReceipt`), unless the claim received before was rejected: then, as the rest, it waits for
 * accrue to settle it afresh. `inRun` holds where each claim id of the run came in; `receivedOn` is
 * the day the list's file came in.
 */
async function receiveClaims(
  knex: Knex,
  list: Item[],
  inRun: Map<string, { file: string; line: number }>,
  businessDate: IsoDate,
  receivedOn: IsoDate,
): Promise<void> {
  const ids = list.flatMap((i) => (i.retroClaim ? [i.retroClaim.claimId] : []));
  const known = await receivedClaims(knex, ids);
  for (const item of list) {
    const claim = item.retroClaim;
    if (!claim) continue;
    const ahead = requestInTheFuture(claim.receivedDate, businessDate, receivedOn);
    if (ahead) {
      item.draft = { ok: false, rejection: ahead };
      continue;
    }
    const earlier = known.get(claim.claimId);
    const first = inRun.get(claim.claimId);
    if (claimReceipt(earlier, first !== undefined) !== 'duplicate') {
      inRun.set(claim.claimId, { file: item.file, line: item.line });
      continue;
    }
    // A copy earlier in the run waits to be settled, as the night's, stored first, would.
    item.draft = {
      ok: false,
      rejection: first
        ? claimReceivedBefore(claim.claimId, { status: 'PENDING' }, copyInRun(first, item.file))
        : claimReceivedBefore(claim.claimId, earlier!, { file: earlier!.file }),
    };
  }
}

/**
 * One claim as accrue settles it (jobs/retro-claims.ts), over the simulated archive: the flights it
 * names in the database as this run leaves them, and the run's new ones. A credit is posted to the
 * simulated ledger and marks its flight, so a later claim for it is a DUPLICATE.
 */
async function settleClaimAsTheNight(
  knex: Knex,
  config: LoadedConfig,
  businessDate: IsoDate,
  state: AccrueState,
  ledger: SimulatedLedger,
  archive: SimulatedArchive,
  added: readonly ActivityRow[],
  claim: RetroClaim,
  undone: Set<string>,
): Promise<SettledClaim> {
  const find = async () => {
    const found = new Map<string, ActivityRow>();
    for (const r of [...archive.adopted(await claimCandidates(knex, claim)), ...added])
      if (claimMatches(claim, r)) found.set(r.activityKey, r);
    return [...found.values()];
  };
  const { outcome, credit } = await judgeClaim(knex, config, businessDate, state, claim, find);
  if (!credit) return { outcome };
  let refused: string | undefined;
  for (const p of credit.decision.postings) {
    const result = await ledger.post(p.request);
    if (result.status === 'refused') refused ??= result.reason ?? 'REFUSED';
  }
  if (refused)
    return { outcome: { status: 'REJECTED', reason: refused, activityKey: credit.flight.activityKey } };
  const before = { ...credit.flight };
  Object.assign(credit.flight, creditedByClaim(claim, credit.decision));
  // As accrue settles a claim: its earning may undo an inactivity expiry of an earlier night.
  const { reinstated, decision } = await reinstatedBy(
    knex,
    state.program,
    businessDate,
    ledger,
    undone,
    credit.flight,
    credit.decision,
  );
  return {
    outcome,
    credit: { flight: credit.flight, decision, before, ...(reinstated ? { reinstated } : {}) },
  };
}

/** Files of one activity feed for the simulated night, and how to read them (the feed's encoding, say). */
export interface SimulatedDelivery {
  feed: FeedName;
  inputs: ParseInput[];
  options?: ParseOptions;
}

/**
 * The deliveries of a night in the order its ingest reads the feeds (FEED_ORDER), one per feed. The
 * simulator knows a file by its name alone (its lines, verdicts and totals), so one name given for two
 * feeds is refused rather than merged.
 */
function inNightOrder(deliveries: SimulatedDelivery[]): SimulatedDelivery[] {
  const byFeed = new Map<FeedName, SimulatedDelivery>();
  const feedOfName = new Map<string, FeedName>();
  for (const d of deliveries) {
    if (!SIMULATED_FEEDS.includes(d.feed))
      throw new UsageError(
        `simulate reads activity feeds (${SIMULATED_FEEDS.join(', ')}); ${d.feed} changes no points`,
      );
    for (const input of d.inputs) {
      const other = feedOfName.get(input.name);
      if (other !== undefined && other !== d.feed)
        throw new UsageError(
          `${input.name} is given as a file of both ${other} and ${d.feed}: a night's files must bear distinct names to be simulated together`,
          { file: input.name },
        );
      feedOfName.set(input.name, d.feed);
    }
    // The feed's first delivery keeps its options; the others add their files. Each file keeps its own
    // delivery's encoding (the command line's --encoding, a --with file its feed's): the first's read
    // them all, a --with file in UTF-8 in the windows-1251 given for the files named first.
    const encoding = d.options?.encoding;
    const inputs = d.inputs.map((i) =>
      encoding === undefined ? i : { ...i, encoding: i.encoding ?? encoding },
    );
    const same = byFeed.get(d.feed);
    const options = { ...(same ?? d).options };
    delete options.encoding;
    byFeed.set(d.feed, { feed: d.feed, options, inputs: [...(same?.inputs ?? []), ...inputs] });
  }
  return FEED_ORDER.flatMap((feed) => {
    const d = byFeed.get(feed);
    return d ? [d] : [];
  });
}

/**
 * Runs the files as one night would: the feeds in the order ingest reads them, each file staged until
 * its verdict and stored in a simulated archive only when the night would accept it (ingest), then every
 * activity the run created or changed, whichever feed brought it, is decided with one decision context
 * and one session state (accrue), so that what a record changes — a flight credited, a cap used, a
 * partner's points credited before a redemption spends them — is seen by every later one.
 */
export async function* simulateNight(
  knex: Knex,
  config: LoadedConfig,
  deliveries: SimulatedDelivery[],
  businessDate: IsoDate,
): AsyncGenerator<SimulationEvent> {
  const night = inNightOrder(deliveries);
  const program = new Program(config);
  const archive = new SimulatedArchive(knex);
  const items: Item[] = [];
  const staged = new Map<string, Item[]>();
  const verdicts = new Map<string, { verdict: string; reason?: string; message?: string }>();
  const feedOf = new Map<string, FeedName>();
  const runSequences = new Map<string, Map<number, string>>();
  const claimsInRun = new Map<string, { file: string; line: number }>();
  const stage = (item: Item) => {
    items.push(item);
    const list = staged.get(item.file) ?? [];
    list.push(item);
    staged.set(item.file, list);
  };
  // The files came in when their inputs say, as fetch would stamp them: an activity dated after the
  // business date waits for its night when its file could have carried it.
  const receivedOn = new Map<string, IsoDate>();

  // FTL parts held from earlier nights belong to tonight's delivery, as at ingest (jobs/ingest-ftl.ts):
  // a part completing their message releases their passengers, and their file is then settled as the
  // night settles it, from what the delivery leaves (the assembler's result).
  const heldFiles = new Set<string>();
  /** FTL files earlier nights left held, with their counts; the simulator writes nothing, so one read serves. */
  let heldBefore: Array<{ id: unknown; name: unknown; counts: unknown }> = [];
  /** Tonight's FTL files. */
  const tonight = new Set<string>();
  // An earlier night's file goes by its name, unless a file of tonight's, of any feed (a name is unique
  // only within its feed), or another held one bears it too (`names: reused`, a file released after a
  // name conflict): then by its name and registry id.
  const namesTonight = new Set(night.flatMap((d) => d.inputs.map((i) => i.name)));
  const earlierNames = new Map<string, Set<number>>();
  const earlierFile = (name: string, id: number | undefined): string => {
    if (id === undefined) return name;
    const ids = earlierNames.get(name);
    const shared = namesTonight.has(name) || (ids !== undefined && ids.size > 1);
    return shared ? `${name} (file ${id})` : name;
  };
  const earlierIds = new Map<string, number>();
  const fileOf = (e: { file: string; fileId?: number | undefined }): string => {
    const file = earlierFile(e.file, e.fileId);
    // Only an FTL delivery brings in files of earlier nights (the parts they held).
    if (e.fileId !== undefined) {
      earlierIds.set(file, e.fileId);
      feedOf.set(file, 'ftl');
    }
    return file;
  };
  const expiredRejects: Array<Extract<SimulationEvent, { type: 'reject' }>> = [];
  /** Settled files: their passengers still held are rejected; `unlisted` of them have no line tonight. */
  const settledFiles = new Map<string, { unlisted: number }>();

  // Each feed's files are read, stored and settled before the next feed's, as the night's ingest reads
  // them: a flown coupon then finds the FTL passengers the delivery released, whatever feed came first.
  for (const { feed, inputs, options = {} } of night) {
    const parser = getParser(feed);
    // The feed's own settings first, as ingest reads with them; what the delivery gives (an --encoding)
    // overrides them, and a setting left undefined there keeps the feed's.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    const parseOptions = {
      ...feedParseOptions(config, feed),
      ...given,
      ownPrograms: [program.code],
      timeZone: config.program.timeZone,
    } as ParseOptions;
    // As the night takes them: one fetch lands the files in name order, ingest reads a partner's in the
    // order it numbered them, and the registry stops a file received before (the same content) and a
    // different file under a name already used — within the feed, as the registry keeps each feed apart.
    const ordered = await inReadingOrder(
      feed,
      [...inputs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      (i) => i,
    );
    for (const i of ordered) {
      receivedOn.set(i.name, dateInZone(i.receivedAt, 'UTC'));
      feedOf.set(i.name, feed);
    }
    const registry = new Map<string, FileRefusal & { verdict: 'duplicate' | 'conflict' }>();
    const run: Array<{ name: string; sha256: string }> = [];
    for (const input of ordered) {
      const sha256 = await sha256Of(input);
      const refusal = await registryRefusal(
        knex,
        feed,
        input.name,
        sha256,
        run,
        config.feeds[feed]?.names === 'reused',
      );
      if (refusal) registry.set(input.name, refusal);
      run.push({ name: input.name, sha256 });
    }

    let assembler: FtlAssembler | undefined;
    const ftlDelivery = async (): Promise<AsyncIterable<ParseEvent<unknown>>> => {
      for (const i of ordered) tonight.add(i.name);
      const rows = await knex('ftl_parts').where({ status: 'held' }).orderBy('id').select('part', 'file_id');
      const seeds = rows.map(heldSeedOf);
      const completed = await completedFtlMessages(knex);
      heldBefore = await knex('files')
        .where({ direction: 'in', feed: 'ftl', verdict: 'held' })
        .select('id', 'name', 'counts');
      for (const f of [...seeds.map((p) => ({ name: p.file, id: p.fileId })), ...heldBefore]) {
        if (f.id === undefined) continue;
        const ids = earlierNames.get(String(f.name)) ?? new Set<number>();
        earlierNames.set(String(f.name), ids.add(Number(f.id)));
      }
      for (const seed of seeds) heldFiles.add(fileOf(seed));
      // The night reads its delivery right after landing it, received at the hour it runs as (`runsAs`):
      // its parts have waited until then.
      const latest = Math.max(...ordered.map((i) => i.receivedAt.getTime()));
      assembler = new FtlAssembler(
        {
          ...parseOptions,
          holdTimeoutHours: config.feeds.ftl?.holdHours ?? 48,
          ...(Number.isFinite(latest) ? { asOf: new Date(latest) } : {}),
        },
        seeds,
        completed,
      );
      return assembler.parse(ordered);
    };
    const events = feed === 'ftl' ? await ftlDelivery() : parser.parse(ordered, parseOptions);
    for await (const event of events) {
      if (event.type === 'reject') {
        stage({ file: event.file, line: event.line, parseReject: event });
        continue;
      }
      if (event.type === 'record') {
        const e = event as RecordEvent<unknown>;
        const item: Item = { file: fileOf(e), line: e.line };
        if (feed === 'ftl' && (e.record as FtlPassenger).held) {
          item.skipped = 'HELD';
          item.message = (e.record as FtlPassenger).message;
        } else if (feed === 'hotel' && !(e.record as HotelStay).own) item.skipped = 'OTHER_PROGRAM';
        else if (feed === 'alliance-claims') item.claim = e.record as AllianceClaim;
        else if (feed === 'retro-claims') item.retroClaim = e.record as RetroClaim;
        else item.draft = draftFor(feed, e.record, e.file, program, businessDate);
        stage(item);
        continue;
      }
      const v = event as VerdictEvent;
      const list = staged.get(v.file) ?? [];
      staged.delete(v.file);
      const stopped = registry.get(v.file);
      if (stopped) {
        verdicts.set(v.file, stopped);
        continue;
      }
      const refusal =
        v.verdict === 'rejected'
          ? { reason: v.reason ?? 'REJECTED', message: v.message ?? 'file rejected' }
          : await refusalOf(knex, program, feed, v, runSequences);
      if (refusal) {
        verdicts.set(v.file, { verdict: 'rejected', ...refusal });
        continue;
      }
      verdicts.set(v.file, {
        verdict: v.verdict,
        ...(v.reason ? { reason: v.reason } : {}),
        ...(v.message ? { message: v.message } : {}),
      });
      // A claim belongs to the partner that sent the file, as at ingest.
      const sender = (v.meta as { sender?: string } | undefined)?.sender;
      for (const item of list)
        if (item.claim) item.draft = allianceClaimDraftFor(program, sender, item.claim, businessDate);
      if (feed === 'retro-claims')
        await receiveClaims(knex, list, claimsInRun, businessDate, receivedOn.get(v.file) ?? businessDate);
      else if (feed === 'ftl' || feed === 'flown') await archive.storeFlights(list);
      else await archive.storeUnique(list);
    }
    // The files held for their messages, settled as the night's ingest settles them (settleHeldFile):
    // those of earlier nights with parts in this delivery, and tonight's the parser left held. A file
    // nothing waits for any more is accepted, or rejected INCOMPLETE_MESSAGE when nothing of it was kept
    // and a message of it expired; each expired message is one reject, against the file of its first part.
    if (assembler) {
      const result = assembler.result();
      const stillHeld = new Set(result.held.map(fileOf));
      for (const m of result.expired) {
        const { file, fileId, line, field, reason, message } = expiredMessageReject(m);
        expiredRejects.push({
          type: 'reject',
          file: fileOf({ file, fileId }),
          line: line ?? 0,
          field,
          reason,
          message,
        });
      }
      // A file with a message expired tonight shows, though it still waits; one expired earlier, only once settled.
      const { expiredIn, expiredTonight } = await expiredByFile(knex, result.expired, (f) =>
        fileOf({ file: f.name, fileId: f.id }),
      );
      const kept = (list: Item[]) => list.filter((i) => i.draft?.ok).length;
      const refused = (list: Item[]) => list.filter((i) => i.draft && !i.draft.ok).length;
      const settle = (file: string, counts: FtlFileCounts) => {
        const settled = settleHeldFile(counts, stillHeld.has(file), expiredIn.get(file) ?? []);
        if (settled.verdict === 'held') return undefined;
        verdicts.set(file, {
          verdict: settled.verdict,
          ...(settled.reason ? { reason: settled.reason } : {}),
          message: settled.message,
        });
        return settled;
      };
      // Tonight's files the parser left held (not stopped by the registry, not refused whole).
      for (const [file, v] of verdicts) {
        if (v.verdict !== 'held' || !tonight.has(file)) continue;
        const list = items.filter((i) => i.file === file);
        const held = list.filter((i) => i.skipped === 'HELD').length;
        const counts = {
          lines: 0,
          records: kept(list),
          rejects: list.filter((i) => i.parseReject).length + refused(list),
          held,
        };
        if (settle(file, counts)) settledFiles.set(file, { unlisted: 0 });
      }
      // Earlier nights' held files: their counts in the registry, and what of them tonight released.
      for (const r of heldBefore) {
        const file = fileOf({ file: String(r.name), fileId: Number(r.id) });
        if (tonight.has(file) || verdicts.has(file)) continue;
        heldFiles.delete(file);
        const list = staged.get(file) ?? [];
        staged.delete(file);
        if (list.length > 0) await archive.storeFlights(list);
        const settled = settle(file, heldFileCounts(storedCounts(r.counts), kept(list), refused(list)));
        if (settled) settledFiles.set(file, { unlisted: settled.expiredPassengers });
        else if (list.length > 0 || expiredTonight.has(file))
          verdicts.set(file, { verdict: 'held', message: 'parts of it still wait for their message' });
      }
    }
    // Held parts of a file the registry does not hold as held: released, their file's verdict unchanged.
    for (const [file, list] of staged) {
      if (!heldFiles.has(file)) continue;
      staged.delete(file);
      if (list.some((i) => i.skipped !== 'HELD')) await archive.storeFlights(list);
      const waits = list.some((i) => i.skipped === 'HELD');
      verdicts.set(file, {
        verdict: waits ? 'held' : 'accepted',
        message: waits ? 'parts of it still wait for their message' : 'its held parts completed',
      });
    }
  }
  // Ingest refuses a file its parser gave no verdict for.
  for (const file of staged.keys())
    verdicts.set(file, {
      verdict: 'rejected',
      reason: 'UNREADABLE',
      message: 'the parser gave no verdict for the file',
    });

  const rowReceived = new Map<ActivityRow, IsoDate>();
  for (const item of items) {
    const day = receivedOn.get(item.file);
    const was = item.row && rowReceived.get(item.row);
    if (item.row && day && (!was || was < day)) rowReceived.set(item.row, day);
  }
  const state: AccrueState = {
    program,
    fx: await loadFxTable(knex),
    periods: new PeriodPoints(() => knex),
    today: [...receivedOn.values()].sort().at(-1) ?? dateInZone(new Date(), 'UTC'),
    receivedOf: (row) => rowReceived.get(row),
  };
  const decided = new Map<ActivityRow, Decided>();
  // As accrue posts (`accrueBatch`).
  const ledger = new SimulatedLedger(knex, { reversalBeforeOriginal: 'date-at-original' });
  /** Expiries the run's earnings reinstate, by the key of their reinstatement. */
  const undone = new Set<string>();
  /** Decides rows as one accrue batch does: each in turn, then posted in order, a refusal taken back. */
  const accrue = async (rows: ActivityRow[], options: PassOptions = {}) => {
    if (rows.length === 0) return;
    const ctx = await contextFor(knex, state, businessDate, rows, options);
    // What this run decided before is known to the batch, as the archive makes it known at night.
    for (const row of decided.keys()) ctx.decided(row);
    const batch = inDecisionOrder(rows).map((row) => {
      const before = decided.get(row)?.before ?? { ...row };
      return { row, before, decision: decideInTurn(ctx, state, row) };
    });
    // Posted in order, then the expiries their earnings undo: accrue reinstates after the batch, by the
    // earnings that stand at its end.
    const taken = new Map<ActivityRow, AccrualDecision>();
    for (const { row, decision } of batch) taken.set(row, await posted(ledger, state, ctx, row, decision));
    for (const { row, before } of batch) {
      decided.set(row, {
        before,
        ...(await reinstatedBy(knex, program, businessDate, ledger, undone, row, taken.get(row)!)),
      });
    }
  };
  await accrue(await archive.toAccrue());
  // The first record of the run that stored or changed each activity.
  const itemOf = new Map<ActivityRow, Item>();
  for (const item of items) if (item.row && !itemOf.has(item.row)) itemOf.set(item.row, item);
  // Flights kept as the same seat as a credit the run's coupons now tell apart: decided again, as the
  // night's pass after its credits does. One of an earlier night shows with the record that freed it.
  const freers = [...decided]
    .filter(([row, d]) => mayFreeDuplicates(row, d.before.postingKey !== null))
    .map(([row]) => row);
  if (freers.length > 0) {
    const kept = [...archive.adopted(await keptAsSameSeat(knex, freers)), ...archive.addedRows()];
    const freed = freedBy(freers, kept);
    for (const [row, by] of freed) {
      row.needsAccrual = true;
      const item = itemOf.get(by);
      if (!itemOf.has(row) && item)
        (item.also ??= []).push({
          row,
          why: 'another ticket on the route and day: no longer taken for the same seat',
        });
    }
    await accrue([...freed.keys()]);
  }
  // A coupon kept beside one the run refused for its name stands in its place, decided again as the night's
  // pass does. One of an earlier night shows with the record refused.
  const refused = [...decided.keys()].filter(refusedItsCoupon);
  if (refused.length > 0) {
    const instead = await standingInstead(refused, (keys) => archive.byKeys(keys));
    for (const [row, by] of instead) {
      Object.assign(row, standingFields(row));
      const item = itemOf.get(by);
      if (!itemOf.has(row) && item)
        (item.also ??= []).push({ row, why: 'in place of the coupon refused for its name' });
    }
    await accrue([...instead.keys()]);
  }
  // Cancellations that came before their redemption, now that it is debited or refused: the night's
  // second pass.
  const redemptions = [...decided.keys()].filter(isDecidedRedemption);
  const awaited = await archive.byKeys(redemptions.map((r) => cancellationKey(r.externalRef!)));
  const waiting = [...awaited.values()].filter(isWaitingCancellation);
  const redemptionById = new Map(redemptions.map((r) => [r.externalRef, r]));
  for (const row of waiting) {
    row.needsAccrual = true;
    // One of an earlier night shows with the redemption it waited for.
    const redemption = redemptionById.get(row.reversalOfRef);
    const item = redemption && itemOf.get(redemption);
    if (!itemOf.has(row) && item)
      (item.also ??= []).push({ row, why: 'the cancellation that waited for it' });
  }
  await accrue(waiting);
  // The night's last pass: the run's cancellations still without their redemption whose wait ends
  // tonight (a program that waits no days) are rejected. An earlier night's whose wait ends tonight is
  // rejected by the night whatever the files hold: it is no record of theirs, and changes none of them.
  const overdue = archive
    .addedRows()
    .filter(
      (r) => isWaitingCancellation(r) && cancellationRejectedOn(config, r.businessDate) <= businessDate,
    );
  for (const row of overdue) row.needsAccrual = true;
  await accrue(overdue, { redemptionsSettled: true });
  /** Flights a retro-claim of the run credits, as they stood before it: a coupon's line shows that. */
  const claimedInThisRun = new Map<ActivityRow, ActivityRow>();
  /** Waiting claims of earlier nights credited tonight whose flight no record of the files brings. */
  const claimsDue: Array<{ claim: RetroClaim; sourceFileId: number | null; credit: CreditedClaim }> = [];
  // Retro-claims, as accrue settles them after its passes, whatever feeds the night's files belong to:
  // the waiting ones of earlier nights first (a coupon of this run may be the flight one names, and one
  // whose flight comes of age tonight is credited with no file of tonight's), then the file's.
  // The run's new flights: no claim settled here adds one.
  const added = archive.addedRows().filter((r) => r.type === 'FLIGHT');
  const settle = (claim: RetroClaim) =>
    settleClaimAsTheNight(knex, config, businessDate, state, ledger, archive, added, claim, undone);
  for (const { claim, sourceFileId } of await pendingClaims(knex)) {
    const { credit } = await settle(claim);
    if (!credit) continue;
    const item = itemOf.get(credit.flight);
    if (item)
      (item.also ??= []).push({
        row: credit.flight,
        why: `the retro-claim ${claim.claimId} that waited for it`,
        decided: credit,
      });
    else claimsDue.push({ claim, sourceFileId, credit });
  }
  for (const item of items)
    if (item.retroClaim && !item.draft && verdicts.get(item.file)?.verdict === 'accepted') {
      item.settled = await settle(item.retroClaim);
      if (item.settled.credit) claimedInThisRun.set(item.settled.credit.flight, item.settled.credit.before);
    }

  const total = noCounts();
  const byReason: Record<string, number> = {};
  const perFile = new Map<string, Counts>();
  const fileOrder = [...new Set([...items.map((i) => i.file), ...verdicts.keys()])];
  for (const file of fileOrder) perFile.set(file, noCounts());
  /** The totals a record counts in: the run's and its file's (or the earlier nights' due tonight). */
  const countsOf = (file: string | Counts) => [total, typeof file === 'string' ? perFile.get(file)! : file];
  const tally = (file: string | Counts, outcome: Outcome, reason?: string | null) => {
    for (const c of countsOf(file)) {
      c.records++;
      c[outcome]++;
    }
    if (outcome === 'rejected') byReason[reason ?? 'REJECTED'] = (byReason[reason ?? 'REJECTED'] ?? 0) + 1;
  };
  const add = (
    file: string | Counts,
    field: 'points' | 'statusCredits' | 'reversedPoints' | 'reversedStatusCredits',
    n: number,
  ) => {
    for (const c of countsOf(file)) c[field] += n;
  };
  /** Adds what a shown decision posts or takes back to its file's totals. */
  const count = (file: string | Counts, shown: Shown) => {
    if (shown.outcome === 'reversed') {
      add(file, 'reversedPoints', shown.points);
      add(file, 'reversedStatusCredits', shown.statusCredits);
    } else if (shown.outcome === 'posted') {
      add(file, 'points', shown.points);
      add(file, 'statusCredits', shown.statusCredits);
    }
  };
  const eventsOf = new Map<string, SimulationEvent[]>();
  const out = (file: string, e: SimulationEvent) => {
    const list = eventsOf.get(file) ?? [];
    list.push(e);
    eventsOf.set(file, list);
  };
  const recordOf = new Map<Item, Extract<SimulationEvent, { type: 'record' }>>();
  const record = (
    item: Item,
    activity: string,
    status: string,
    reason: string | null,
    message?: string,
    points = 0,
    postings: SimulatedPosting[] = [],
    field?: string,
  ): SimulationEvent => {
    const event = {
      type: 'record' as const,
      file: item.file,
      line: item.line,
      activity,
      status,
      reason,
      points,
      postings,
      ...(message ? { message } : {}),
      ...(field ? { field } : {}),
    };
    recordOf.set(item, event);
    return event;
  };

  const notCredited = (item: Item, activity: string, reason: string | undefined, message: string) => {
    tally(item.file, 'rejected', reason);
    out(item.file, record(item, activity, 'REJECTED', reason ?? 'REJECTED', message));
  };

  for (const item of items) {
    const verdict = verdicts.get(item.file)!;
    const activity = item.draft?.ok ? item.draft.activity.activityKey : '';
    if (verdict.verdict === 'duplicate' || verdict.verdict === 'conflict') {
      // The registry stops the file at fetch: the night reads none of its lines. A copy of a file read
      // before is refused; another file under a used name is held for an operator, its records with it.
      const held = verdict.verdict === 'conflict';
      tally(item.file, held ? 'held' : 'rejected', verdict.reason);
      out(
        item.file,
        record(
          item,
          activity,
          held ? 'HELD' : 'REJECTED',
          verdict.reason ?? null,
          `${held ? 'held with its file' : 'not read'}: ${verdict.message}`,
        ),
      );
    } else if (item.parseReject) {
      const r = item.parseReject;
      tally(item.file, 'rejected', r.reason);
      out(item.file, {
        type: 'reject',
        file: r.file,
        line: r.line,
        field: r.field,
        reason: r.reason,
        message: r.message,
        text: r.text,
      });
    } else if (verdict.verdict === 'rejected' && !settledFiles.has(item.file)) {
      // (A held file rejected for its expired messages is not rejected whole: what of it was read stands.)
      notCredited(
        item,
        activity,
        verdict.reason,
        `not posted: the file is rejected whole (${verdict.reason})`,
      );
    } else if (item.skipped === 'HELD' && settledFiles.has(item.file)) {
      // Its message expired incomplete: the night counts it a reject of its file, under the message's one.
      const expired = `its message ${item.message ?? ''} expired incomplete: not credited`;
      notCredited(item, activity, 'INCOMPLETE_MESSAGE', expired);
    } else if (item.skipped === 'HELD') {
      tally(item.file, 'held');
      out(
        item.file,
        record(item, activity, 'HELD', 'INCOMPLETE_MESSAGE', 'waits for the other parts of its message'),
      );
    } else if (item.skipped === 'OTHER_PROGRAM') {
      tally(item.file, 'notCredited');
      out(item.file, record(item, activity, 'NOT_CREDITED', null, 'a stay for another program'));
    } else if (item.settled) {
      const { outcome, credit } = item.settled;
      if (credit) {
        const shown = shownDecision(credit.flight, credit);
        tally(item.file, 'posted');
        count(item.file, shown);
        out(item.file, {
          ...record(
            item,
            credit.flight.activityKey,
            'POSTED',
            'RETRO_CLAIM',
            `claim ${item.retroClaim!.claimId} credits the flight`,
            shown.points,
            shown.postings,
          ),
          claim: item.retroClaim!.claimId,
        } as SimulationEvent);
      } else {
        const held = outcome.status === 'PENDING';
        tally(item.file, held ? 'held' : 'rejected', outcome.reason);
        out(item.file, {
          ...record(
            item,
            '',
            outcome.status,
            outcome.reason,
            claimMessage(item.retroClaim!, outcome, config.retroClaims),
          ),
          claim: item.retroClaim!.claimId,
        } as SimulationEvent);
      }
    } else if (!item.draft) {
      tally(item.file, 'notCredited');
      out(item.file, record(item, activity, 'NOT_CREDITED', null));
    } else if (!item.draft.ok) {
      const r = item.draft.rejection;
      tally(item.file, 'rejected', r.reason);
      out(item.file, {
        type: 'reject',
        file: item.file,
        line: item.line,
        field: r.field,
        reason: r.reason,
        message: r.message,
      });
    } else if (item.duplicate) {
      tally(item.file, 'rejected', 'DUPLICATE');
      out(item.file, record(item, activity, 'REJECTED', 'DUPLICATE', item.duplicate));
    } else if (item.mergedInto) {
      const later = item.mergedInto;
      tally(item.file, 'merged');
      out(
        item.file,
        record(
          item,
          item.row!.activityKey,
          'MERGED',
          null,
          `its activity is completed or corrected by ${later.file}:${later.line}`,
        ),
      );
    } else {
      // Shown as ingest and accrue leave it: a claim of an earlier night crediting it afterwards shows as
      // `also`, one of the run's retro-claims files on that claim's own line.
      const row =
        item.also?.find((a) => a.row === item.row && a.decided)?.decided!.before ??
        claimedInThisRun.get(item.row!) ??
        item.row!;
      const d = decided.get(item.row!);
      if (!d) {
        // A second coupon for a flight another coupon stands for (stored, waiting, credited never twice),
        // or a seat known before listed again on another program's card (the claims export leaves it out).
        if (row.status === 'REJECTED' || (row.status === 'NOT_CREDITED' && row.reason === 'DUPLICATE')) {
          if (row.status === 'REJECTED') tally(item.file, 'rejected', row.reason);
          else tally(item.file, 'notCredited');
          out(
            item.file,
            record(
              item,
              row.activityKey,
              row.status,
              row.reason,
              ruleMessage(row.reason, row.reasonMessage, row.detail) ?? undefined,
              undefined,
              undefined,
              row.reasonField ?? undefined,
            ),
          );
        } else if (row.status === 'NOT_CREDITED' || row.memberNumber === null) {
          tally(item.file, 'notCredited');
          // As the claims export will judge it: another airline's flight is not claimed from it.
          const notOwn = row.partnerCode ? notOwnFlight(carrierFactsOf(row), program) : undefined;
          out(
            item.file,
            record(
              item,
              row.activityKey,
              'NOT_CREDITED',
              notOwn ? 'NOT_OWN_FLIGHT' : row.reason,
              notOwn
                ? `not claimed from ${row.partnerCode}: ${notOwn.message}`
                : row.partnerCode
                  ? exportedTo(row, config.exports.alliance.couponWaitDays)
                  : 'no card of this program',
            ),
          );
        } else {
          tally(item.file, 'merged');
          out(item.file, record(item, row.activityKey, 'MERGED', null, 'nothing for accrue to do'));
        }
        continue;
      }
      const shown = shownDecision(row, d);
      tally(item.file, shown.outcome, shown.reason);
      count(item.file, shown);
      out(
        item.file,
        record(
          item,
          row.activityKey,
          shown.status,
          shown.reason,
          shown.message,
          shown.points,
          shown.postings,
          shown.field,
        ),
      );
    }
  }

  // Each expired message, one reject against the file of its first part, as the night files it. Its
  // passengers count as the records it rejects: tonight's show on their lines above, those of an earlier
  // night's file (read then, counted held since) count with their file here.
  for (const e of expiredRejects) if (perFile.has(e.file)) out(e.file, e);
  for (const [file, { unlisted }] of settledFiles)
    for (let n = 0; n < unlisted; n++) tally(file, 'rejected', 'INCOMPLETE_MESSAGE');

  // What the night posts for other activities because of a record (the coupon credited in place of the
  // one it corrects away, the cancellation that waited for its redemption) shows on that record and
  // counts in its file's totals.
  for (const item of items) {
    const event = recordOf.get(item);
    if (!item.also || !event) continue;
    for (const { row, why, decided: explicit } of item.also) {
      const d = explicit ?? decided.get(row);
      if (!d) continue;
      const shown = shownDecision(row, d);
      const turnedDown = shown.status === 'REJECTED';
      if (shown.postings.length === 0 && !turnedDown) continue;
      count(item.file, shown);
      (event.also ??= []).push({
        activity: row.activityKey,
        why,
        status: shown.status,
        points: shown.points,
        statusCredits: shown.statusCredits,
        postings: shown.postings,
        ...(turnedDown && shown.reason ? { reason: shown.reason } : {}),
        ...(turnedDown && shown.field ? { field: shown.field } : {}),
        ...(turnedDown && shown.message ? { message: shown.message } : {}),
      });
    }
  }

  // Activities of earlier nights decided tonight that no record shows: a line of their own each, counted
  // in the totals, since they post what the night posts and tonight's records are decided after them.
  const shownWith = new Set(items.flatMap((i) => (i.also ?? []).map((a) => a.row)));
  const dueRows = [...decided].filter(([row]) => !itemOf.has(row) && !shownWith.has(row));
  const dueFiles = await filesReceived(knex, [
    ...dueRows.map(([row]) => row.sourceFileId),
    ...claimsDue.map((c) => c.sourceFileId),
  ]);
  const due = noCounts();
  const dueEvents: SimulationEvent[] = [];
  for (const [row, d] of dueRows) {
    const shown = shownDecision(row, d);
    // Still waiting for its own night: the night leaves it as it was, and does not count it decided.
    const waits = row.needsAccrual && row.status === d.before.status && row.reason === d.before.reason;
    if (waits && shown.postings.length === 0) continue;
    tally(due, shown.outcome, shown.reason);
    count(due, shown);
    const file = row.sourceFileId === null ? undefined : dueFiles.get(row.sourceFileId);
    dueEvents.push({
      type: 'due',
      file: file?.name ?? null,
      fileId: file ? row.sourceFileId : null,
      line: row.sourceLine,
      night: file?.night ?? null,
      activity: row.activityKey,
      status: shown.status,
      reason: shown.reason,
      ...(shown.message ? { message: shown.message } : {}),
      ...(shown.field ? { field: shown.field } : {}),
      points: shown.points,
      statusCredits: shown.statusCredits,
      postings: shown.postings,
    });
  }
  // Waiting claims of earlier nights the night credits, settled after the records as accrue settles them:
  // each a line of its own, from the claim's file, its flight as the credit leaves it.
  for (const { claim, sourceFileId, credit } of claimsDue) {
    const shown = shownDecision(credit.flight, credit);
    tally(due, shown.outcome, shown.reason);
    count(due, shown);
    const file = sourceFileId === null ? undefined : dueFiles.get(sourceFileId);
    dueEvents.push({
      type: 'due',
      file: file?.name ?? null,
      fileId: file ? sourceFileId : null,
      line: claim.sourceLine ?? null,
      night: file?.night ?? null,
      activity: credit.flight.activityKey,
      claim: claim.claimId,
      status: shown.status,
      // As the claim leaves the flight (`creditedByClaim`), whatever reason its decision sets.
      reason: 'RETRO_CLAIM',
      message: [`claim ${claim.claimId} credits the flight`, shown.message].filter(Boolean).join('; '),
      points: shown.points,
      statusCredits: shown.statusCredits,
      postings: shown.postings,
    });
  }
  yield* dueEvents;

  const files: FileSummary[] = [];
  for (const file of fileOrder) {
    const v = verdicts.get(file)!;
    const fileId = earlierIds.get(file);
    const summary: FileSummary = {
      file,
      feed: feedOf.get(file)!,
      ...(fileId === undefined ? {} : { fileId }),
      verdict: v.verdict,
      ...(v.reason ? { reason: v.reason } : {}),
      ...(v.message ? { message: v.message } : {}),
      ...perFile.get(file)!,
    };
    files.push(summary);
    // The verdict comes first: a file the night rejects whole must not read as a list of postings.
    yield { type: 'file', ...summary };
    for (const e of eventsOf.get(file) ?? []) yield e;
  }
  yield { type: 'summary', ...total, byReason, files, due };
}
