/**
 * The ledger's answers to a run's postings, foretold without writing: what it would refuse
 * (INSUFFICIENT_POINTS, ALREADY_REVERSED, UNKNOWN_POSTING, with the ledger's own message) and what it
 * would find already posted. The simulator asks it in the order accrue posts, so a redemption or a refund
 * that the member's balance no longer covers shows as the night will record it, and a debit refused
 * leaves the points for the next one.
 */
import type { Knex } from 'knex';
import { Accounts, describeAccount } from '../ledger/accounts.js';
import {
  cameFrom,
  expiredOfLots,
  expiredPerAccount,
  followTransfers,
  heldByExpiry,
  inPlaceOfReversed,
  lapsedBy,
  movesOf,
  shrinkDebits,
  withExpired,
  withFollowed,
  withLapsed,
  type Followed,
  type TransferMove,
} from '../ledger/follow.js';
import { byExpiryOrder, lowestBalanceSince } from '../ledger/ledger.js';
import { lotMovementsOf, lotsCreatedBy } from '../ledger/queries.js';
import {
  EXPIRED_FROM_LOTS_OF,
  EXPIRED_LOTS_VALID_ON,
  LOT_ORIGIN,
  REDIRECTED_FROM_LOT,
  TRANSFERS_OUT_OF_LOT,
  TRANSFERS_OUT_SINCE,
  toExpiredLot,
  toLotOrigin,
} from '../ledger/store.js';
import {
  AlreadyReversedError,
  InsufficientPointsError,
  ReversalBeforeOriginalError,
  UnknownPostingError,
} from '../ledger/errors.js';
import { isReversal, type PostingRequest, type PostOptions, type PostStatus } from '../ledger/types.js';
import type { RedeyeError } from '../lib/errors.js';
import { sqlRows } from '../reports/common.js';

interface Entry {
  account: string;
  amount: number;
}

interface ForetoldResult {
  status: PostStatus;
  reason?: string;
  /** The ledger's message for a refusal: which posting, account and amounts. */
  message?: string;
  /**
   * Points a reversal (or a debit naming a shortfall account: a flight's award corrected down) would
   * charge to its shortfall account, the member having spent them.
   */
  unrecovered?: number;
  /** Points a reversal would take back from EXPIRY, having expired from its original's lots. */
  expired?: number;
  /** Points a cancellation would book to EXPIRY, going back to lots past their date. */
  lapsed?: number;
  /** Points a redemption would take back from EXPIRY: valid on its date, expired since. */
  unexpired?: number;
  /** Points a reversal would take from the accounts a merge or a move into a pool took them to. */
  followed?: Array<{ account: string; amount: number }>;
}

const refused = (error: RedeyeError): ForetoldResult => ({
  status: 'refused',
  reason: error.code,
  message: error.message,
});

/** The debits of `entries` on the accounts `keep` takes, summed per account (negative). */
function debitsOn(entries: Entry[], keep: (code: string) => boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of entries)
    if (e.amount < 0 && keep(e.account)) out.set(e.account, (out.get(e.account) ?? 0) + e.amount);
  return out;
}

/** A member's or a pool's account, points or status: what a transfer can have moved. */
function isOwners(code: string): boolean {
  const d = describeAccount(code);
  return d.memberNumber !== undefined || d.poolCode !== undefined;
}

/** Followed points (not status credits) summed per account, in the order the accounts were first reached. */
function perAccount(followed: Array<Followed<string>>): Array<{ account: string; amount: number }> {
  const out = new Map<string, number>();
  for (const f of followed)
    if (describeAccount(f.account).unit === 'PTS') out.set(f.account, (out.get(f.account) ?? 0) + f.amount);
  return [...out].map(([account, amount]) => ({ account, amount }));
}

interface StoredPosting {
  id: number;
  kind: string;
  businessDate: string;
}

export class SimulatedLedger {
  /** Stored balances read so far (only of accounts a debit was guarded on). */
  private readonly loaded = new Map<string, number>();
  /** What the run posted to each account. */
  private readonly pending = new Map<string, number>();
  /** Postings of the run, by key, with their entries (a later row may reverse one). */
  private readonly postedNow = new Map<string, Entry[]>();
  private readonly reversedNow = new Map<string, string>();
  /** Stored entries of an account dated after a business date, summed per date (key: account, date). */
  private readonly laterTotals = new Map<string, Array<{ date: string; total: number }>>();
  /** Stored postings looked up by key (null: none). */
  private readonly storedPostings = new Map<string, StoredPosting | null>();
  /**
   * An account's stored open lots that have a date, as of a business date (key: account, date), each
   * with what the run's redemptions left of it: a redemption takes the earliest-expiring lots valid on
   * its date first, so those past their date by the night before any other.
   */
  private readonly datedLots = new Map<string, Array<{ expiresOn: string; left: number }>>();
  /** What each redemption of the run took from lots past their date, per account. */
  private readonly lapsedNow = new Map<string, Map<string, number>>();
  /** What the run's redemptions took back from each stored expiry (by its key). */
  private readonly unexpiredNow = new Map<string, number>();

  /** The business date of each posting of the run, by key. */
  private readonly postedOn = new Map<string, string>();

  /** `options`: those of the ledger posts the run foretells (`simulate` foretells accrue's). */
  constructor(
    private readonly knex: Knex,
    private readonly options: Pick<PostOptions, 'reversalBeforeOriginal'> = {},
  ) {}

  async post(request: PostingRequest): Promise<ForetoldResult> {
    if (this.postedNow.has(request.key) || (await this.stored(request.key)) !== null)
      return { status: 'duplicate' };
    let entries: Entry[];
    let followed: Array<Followed<string>> = [];
    let blocked = false;
    let expired = 0;
    let lapsed = 0;
    if (isReversal(request)) {
      const stored = this.postedNow.has(request.reverses) ? null : await this.stored(request.reverses);
      const originalId = stored?.id ?? null;
      const original =
        this.postedNow.get(request.reverses) ??
        (originalId === null ? undefined : await this.storedEntries(originalId));
      if (!original) return refused(new UnknownPostingError(request.reverses, { reversal: request.key }));
      const reversedBy = this.reversedNow.get(request.reverses);
      if (reversedBy !== undefined)
        return {
          status: 'refused',
          reason: 'ALREADY_REVERSED',
          message: `posting ${request.reverses} is reversed by ${reversedBy} earlier in this run; ${request.key} cannot reverse it again`,
        };
      const earlier = originalId === null ? undefined : await this.reversalOf(originalId);
      if (earlier !== undefined)
        return refused(new AlreadyReversedError(request.reverses, earlier, request.key));
      // As the ledger dates it: never before its original.
      const originalDate = stored?.businessDate ?? this.postedOn.get(request.reverses)!;
      if (request.businessDate < originalDate) {
        if (this.options.reversalBeforeOriginal !== 'date-at-original')
          return refused(
            new ReversalBeforeOriginalError(
              request.key,
              request.businessDate,
              request.reverses,
              originalDate,
            ),
          );
        request = { ...request, businessDate: originalDate };
      }
      entries = original.map((e) => ({ account: e.account, amount: -e.amount }));
      // As the ledger gives them back: what a redemption took from lots past their date goes to EXPIRY.
      const lapsedOf =
        originalId === null
          ? this.lapsedNow.get(request.reverses)
          : stored?.kind === 'REDEMPTION'
            ? await this.storedLapsed(originalId, request.businessDate)
            : undefined;
      if (lapsedOf !== undefined)
        ({ entries, lapsed } = withLapsed(
          entries,
          (e) => e.account,
          (account, amount) => ({ account, amount }),
          lapsedOf,
          Accounts.expiry,
        ));
      // As the ledger splits it: what expired from a stored original's lots comes back from EXPIRY (a
      // posting of this run has had no expiry).
      if (originalId !== null) {
        ({ entries, expired } = withExpired(
          entries,
          (e) => e.account,
          (account, amount) => ({ account, amount }),
          await this.expiredOf(originalId),
          Accounts.expiry,
        ));
      }
      // As the ledger follows them: what transfers moved out of the owners' accounts since a stored
      // original (a posting of this run has none after it: the simulator runs no members feed).
      if (originalId !== null && stored?.kind !== 'TRANSFER') {
        const date = request.businessDate;
        const owed = new Map([...debitsOn(entries, isOwners)].map(([account, d]) => [account, -d]));
        ({ followed, blocked } = await followTransfers(owed, originalId, date, {
          transfersOut: (account, after) => this.transfersOut(account, after),
          available: (account) => this.available(account, date),
          balance: (account) => this.balance(account),
          guarded: (account) => Promise.resolve(!describeAccount(account).mayGoNegative),
        }));
        entries = withFollowed(
          entries,
          (e) => e.account,
          (account, amount) => ({ account, amount }),
          followed,
        );
      }
    } else {
      entries = request.entries.map((e) => ({ account: e.account, amount: e.amount }));
    }
    // As the ledger spends them: a redemption takes back from EXPIRY first what expired of the lots
    // valid on its date.
    const unexpired =
      !isReversal(request) && request.kind === 'REDEMPTION' && request.activityDate !== undefined
        ? await this.expiredToSpend(entries, request.activityDate, request.movedFrom?.account)
        : new Map<string, { points: number; keys: Map<string, number> }>();
    // As the ledger judges a redemption: lots whose last day is before its date are not its to spend.
    const validOn = !isReversal(request) && request.kind === 'REDEMPTION' ? request.activityDate : undefined;
    // As the ledger guards them: the debits on accounts that may not go negative, summed per account.
    const shortOf = new Map<string, number>();
    for (const [account, amount] of debitsOn(entries, (code) => !describeAccount(code).mayGoNegative)) {
      const back = unexpired.get(account)?.points ?? 0;
      const lapsedBefore =
        validOn === undefined ? undefined : await this.lapsedBefore(account, request.businessDate, validOn);
      const unusable = lapsedBefore?.points ?? 0;
      const short =
        -amount - back - Math.max(0, (await this.available(account, request.businessDate)) - unusable);
      if (short <= 0) continue;
      // Points moved away after the business date are not written off as of it (followTransfers).
      if (request.shortfallTo === undefined || blocked)
        return refused(
          await this.insufficient(request.key, account, amount, request.businessDate, lapsedBefore),
        );
      shortOf.set(account, short);
    }
    // As the ledger takes it: what the account holds, the rest charged to the shortfall account.
    const unrecovered = shrinkDebits(entries, (e) => e.account, shortOf);
    if (unrecovered > 0) entries.push({ account: request.shortfallTo!, amount: -unrecovered });
    for (const e of entries) this.pending.set(e.account, (this.pending.get(e.account) ?? 0) + e.amount);
    let fromExpiry = 0;
    for (const [account, { points, keys }] of unexpired) {
      this.pending.set(account, (this.pending.get(account) ?? 0) + points);
      this.pending.set(Accounts.expiry, (this.pending.get(Accounts.expiry) ?? 0) - points);
      for (const [key, n] of keys) this.unexpiredNow.set(key, (this.unexpiredNow.get(key) ?? 0) + n);
      fromExpiry += points;
    }
    if (!isReversal(request) && request.kind === 'REDEMPTION')
      await this.takeLapsed(
        request.key,
        entries.map((e) => ({ ...e, amount: e.amount + (unexpired.get(e.account)?.points ?? 0) })),
        request.businessDate,
        unexpired,
        validOn,
      );
    this.postedNow.set(request.key, entries);
    this.postedOn.set(request.key, request.businessDate);
    if (isReversal(request)) this.reversedNow.set(request.reverses, request.key);
    const takenFrom = perAccount(followed);
    return {
      status: 'posted',
      ...(expired > 0 ? { expired } : {}),
      ...(unrecovered > 0 ? { unrecovered } : {}),
      ...(lapsed > 0 ? { lapsed } : {}),
      ...(fromExpiry > 0 ? { unexpired: fromExpiry } : {}),
      ...(takenFrom.length > 0 ? { followed: takenFrom } : {}),
    };
  }

  /** What the account would hold after the postings foretold so far. */
  balanceAfter(account: string): Promise<number> {
    return this.balance(account);
  }

  private async balance(account: string): Promise<number> {
    let stored = this.loaded.get(account);
    if (stored === undefined) {
      const row = await this.knex('accounts').where({ code: account }).first('balance');
      stored = Number(row?.balance ?? 0);
      this.loaded.set(account, stored);
    }
    return stored + (this.pending.get(account) ?? 0);
  }

  /**
   * What a debit dated `businessDate` may take, as the ledger judges it: the balance now and at the end
   * of every stored date since (the run's own postings are all of that date).
   */
  private async available(account: string, businessDate: string): Promise<number> {
    const balance = await this.balance(account);
    const lowest = await this.lowestSince(account, businessDate);
    return lowest === null ? balance : Math.min(balance, lowest);
  }

  /**
   * The lowest balance at the end of `businessDate` and of every later date (null: no stored entry is
   * dated after it), as the ledger judges a back-dated debit. Only the entries dated after it are read:
   * the balance as of the date is the stored balance less them.
   */
  private async lowestSince(account: string, businessDate: string): Promise<number | null> {
    const key = `${account} ${businessDate}`;
    let later = this.laterTotals.get(key);
    if (later === undefined) {
      const rows = await this.knex('entries as e')
        .join('accounts as a', 'a.id', 'e.account_id')
        .where('a.code', account)
        .andWhere('e.business_date', '>', businessDate)
        .groupBy('e.business_date')
        .orderBy('e.business_date')
        .select('e.business_date as date')
        .sum({ total: 'e.amount' });
      later = (rows as unknown as Array<{ date: string; total: number | string }>).map((r) => ({
        date: r.date,
        total: Number(r.total),
      }));
      this.laterTotals.set(key, later);
    }
    if (later.length === 0) return null;
    const pending = this.pending.get(account) ?? 0;
    const stored = (await this.balance(account)) - pending;
    const asOf = stored - later.reduce((n, t) => n + t.total, 0);
    return lowestBalanceSince([{ date: businessDate, total: asOf }, ...later], businessDate)! + pending;
  }

  /**
   * The ledger's refusal of a debit of `amount` the account does not cover, with its message; a
   * redemption's points in lots past their date (`lapsedBefore`) left out of what the account holds.
   */
  private async insufficient(
    key: string,
    account: string,
    amount: number,
    businessDate: string,
    lapsed?: { validOn: string; points: number },
  ) {
    const unusable = lapsed?.points ?? 0;
    const code = unusable > 0 ? `${account} (valid on ${lapsed!.validOn})` : account;
    const balance = (await this.balance(account)) - unusable;
    if (balance + amount < 0) return new InsufficientPointsError(key, code, balance, -amount);
    const lowest = (await this.lowestSince(account, businessDate))! - unusable;
    return new InsufficientPointsError(key, `${code} (as of ${businessDate} and after)`, lowest, -amount);
  }

  /**
   * The points of an account's stored lots whose last day is before `validOn`, as the run left them: a
   * redemption of that date cannot spend them, as the ledger judges it.
   */
  private async lapsedBefore(
    account: string,
    businessDate: string,
    validOn: string,
  ): Promise<{ validOn: string; points: number }> {
    let points = 0;
    for (const lot of await this.lotsOf(account, businessDate))
      if (lot.expiresOn < validOn) points += lot.left;
    return { validOn, points };
  }

  /** The account's stored open lots that have a date, earliest expiring first, as the run left them. */
  private async lotsOf(
    account: string,
    businessDate: string,
  ): Promise<Array<{ expiresOn: string; left: number }>> {
    const at = `${account} ${businessDate}`;
    let lots = this.datedLots.get(at);
    if (lots === undefined) {
      const rows = (await this.knex('lots as l')
        .join('accounts as a', 'a.id', 'l.account_id')
        .where('a.code', account)
        .andWhere('l.remaining', '>', 0)
        .whereNotNull('l.expires_on')
        .orderBy([{ column: 'l.expires_on' }, { column: 'l.earned_on' }, { column: 'l.id' }])
        .select('l.expires_on', 'l.remaining')) as Array<{ expires_on: string; remaining: number | string }>;
      lots = rows.map((r) => ({ expiresOn: r.expires_on, left: Number(r.remaining) }));
      this.datedLots.set(at, lots);
    }
    return lots;
  }

  /** Whether the run reversed posting `key`. */
  reversedInRun(key: string): boolean {
    return this.reversedNow.has(key);
  }

  /** Whether posting `key` (of the run or stored) stands: no reversal, stored or of the run, took it back. */
  async stands(key: string): Promise<boolean> {
    if (this.reversedNow.has(key)) return false;
    const stored = await this.stored(key);
    return stored === null || (await this.reversalOf(stored.id)) === undefined;
  }

  /** A stored posting looked up by key: its id and kind, or null for none. */
  private async stored(key: string): Promise<StoredPosting | null> {
    let found = this.storedPostings.get(key);
    if (found === undefined) {
      const row = await this.knex('postings')
        .where({ idempotency_key: key })
        .first('id', 'kind', 'business_date');
      found = row
        ? { id: Number(row.id), kind: String(row.kind), businessDate: String(row.business_date) }
        : null;
      this.storedPostings.set(key, found);
    }
    return found;
  }

  private async storedEntries(postingId: number): Promise<Entry[]> {
    const rows = await this.knex('entries as e')
      .join('accounts as a', 'a.id', 'e.account_id')
      .where('e.posting_id', postingId)
      .orderBy('e.id')
      .select('a.code', 'e.amount');
    return rows.map((r: { code: string; amount: number | string }) => ({
      account: r.code,
      amount: Number(r.amount),
    }));
  }

  /** The stored transfers out of an account after a posting, as the ledger's store reads them. */
  private async transfersOut(account: string, after: number): Promise<Array<TransferMove<string>>> {
    const acc = await this.knex('accounts').where({ code: account }).first('id');
    if (!acc) return [];
    const rows = await sqlRows<{
      posting_id: number | string;
      business_date: string;
      account_id: number | string;
      moved: number | string;
      credited: number | string;
    }>(this.knex, TRANSFERS_OUT_SINCE, [Number(acc.id), after, Number(acc.id)]);
    if (rows.length === 0) return [];
    const codes = new Map(
      (
        (await this.knex('accounts')
          .whereIn('id', [...new Set(rows.map((r) => Number(r.account_id)))])
          .select('id', 'code')) as Array<{ id: number | string; code: string }>
      ).map((r) => [Number(r.id), r.code]),
    );
    return movesOf(
      rows.map((r) => ({
        postingId: Number(r.posting_id),
        businessDate: r.business_date,
        to: codes.get(Number(r.account_id))!,
        moved: Number(r.moved),
        credited: Number(r.credited),
      })),
    );
  }

  /**
   * What expired from the lots a stored posting created, there or where transfers carried them, per
   * account it credited: as the ledger traces it, over the same queries.
   */
  private async expiredOf(postingId: number): Promise<Map<string, number>> {
    const own = await lotsCreatedBy(this.knex, postingId);
    const expired = await expiredOfLots(
      postingId,
      {
        lotsCreatedBy: (id) => lotsCreatedBy(this.knex, id),
        movementsOf: (id) => lotMovementsOf(this.knex, id),
        expiredFromLotsOf: async (id) =>
          new Map(
            (
              await sqlRows<{ lot_id: number | string; expired: number | string }>(
                this.knex,
                EXPIRED_FROM_LOTS_OF,
                [id],
              )
            ).map((r) => [Number(r.lot_id), Number(r.expired)]),
          ),
        transfersOutOfLot: async (lotId) =>
          (await sqlRows<{ posting_id: number | string }>(this.knex, TRANSFERS_OUT_OF_LOT, [lotId])).map(
            (r) => Number(r.posting_id),
          ),
      },
      own,
    );
    return expiredPerAccount(own, expired, (lot) => lot.code);
  }

  /**
   * What a stored redemption took from lots past their date by `businessDate` (`lapsedBy`, as the
   * expire job judges a lot due), per account.
   */
  private async storedLapsed(postingId: number, businessDate: string): Promise<Map<string, number>> {
    const lots = new Map<number, { code: string; expiresOn: string | null }>();
    const lot = async (lotId: number) => {
      let row = lots.get(lotId);
      if (row === undefined) {
        const r = (await this.knex('lots as l')
          .join('accounts as a', 'a.id', 'l.account_id')
          .where('l.id', lotId)
          .first('a.code', 'l.expires_on')) as { code: string; expires_on: string | null };
        row = { code: r.code, expiresOn: r.expires_on };
        lots.set(lotId, row);
      }
      return row;
    };
    // As the ledger gives them back: to the lots a reversal of a lot's credit took in its place, if any.
    const taken = (await lotMovementsOf(this.knex, postingId))
      .filter((m) => m.amount < 0)
      .map((m) => ({ lotId: m.lotId, amount: -m.amount }));
    const back = await inPlaceOfReversed(postingId, taken, {
      originOf: (lotId) => this.lotOrigin(lotId),
      reversalOf: (id) => this.reversalOf(id),
      lotsCreatedBy: (id) => lotsCreatedBy(this.knex, id),
      movementsOf: (id) => lotMovementsOf(this.knex, id),
      accountOf: async (lotId) => (await lot(lotId)).code,
      redirectedFromLot: async (lotId, reversalId) =>
        Number(
          (
            await sqlRows<{ n: number | string }>(this.knex, REDIRECTED_FROM_LOT, [
              lotId,
              reversalId,
              reversalId,
            ])
          )[0]!.n,
        ),
    });
    const out = new Map<string, number>();
    for (const b of back) {
      const { code, expiresOn } = await lot(b.lotId);
      if (lapsedBy(expiresOn, businessDate)) out.set(code, (out.get(code) ?? 0) + b.amount);
    }
    return out;
  }

  /**
   * Notes what a redemption of the run takes from lots past their date by its night, as the ledger's
   * earliest-expiry order takes them first among the lots valid on its date (`validOn`). (A reversal of
   * the run that takes points out of such a lot is not counted: it is told apart only by the lots, which
   * the simulator does not keep.)
   */
  private async takeLapsed(
    key: string,
    entries: Entry[],
    businessDate: string,
    unexpired: ReadonlyMap<string, { points: number }>,
    validOn: string | undefined,
  ): Promise<void> {
    // What it took back from EXPIRY came from lots past their date too: a cancellation returns it there.
    const taken = new Map([...unexpired].map(([account, { points }]) => [account, points]));
    for (const e of entries) {
      if (e.amount >= 0 || describeAccount(e.account).mayGoNegative) continue;
      let left = -e.amount;
      for (const lot of await this.lotsOf(e.account, businessDate)) {
        if (left === 0 || !lapsedBy(lot.expiresOn, businessDate)) break;
        if (validOn !== undefined && lot.expiresOn < validOn) continue;
        const take = Math.min(lot.left, left);
        lot.left -= take;
        left -= take;
        if (take > 0) taken.set(e.account, (taken.get(e.account) ?? 0) + take);
      }
    }
    if (taken.size > 0) this.lapsedNow.set(key, taken);
  }

  /**
   * What a redemption dated `validOn` would take back from EXPIRY, per account it debits: what stored
   * expiries took from lots valid that day and EXPIRY still holds (`heldByExpiry`, as the ledger judges
   * it), less what the run's redemptions took of them already, earliest expiring first. One whose
   * member's points a merge or a move into a pool carried since (`movedFrom`, her own account), as the
   * ledger takes it: what expired on her account, moved on to the one debited, and there only what
   * expired of lots her move carried in.
   */
  private async expiredToSpend(
    entries: Entry[],
    validOn: string,
    movedFrom?: string,
  ): Promise<Map<string, { points: number; keys: Map<string, number> }>> {
    const out = new Map<string, { points: number; keys: Map<string, number> }>();
    const look = {
      lotsCreatedBy: (id: number) => lotsCreatedBy(this.knex, id),
      movementsOf: (id: number) => lotMovementsOf(this.knex, id),
      originOf: (lotId: number) => this.lotOrigin(lotId),
      reversalOf: (postingId: number) => this.reversalOf(postingId),
      accountOf: async (lotId: number) => {
        const lot = (await this.knex('lots as l')
          .join('accounts as a', 'a.id', 'l.account_id')
          .where('l.id', lotId)
          .first('a.code')) as { code: string };
        return lot.code;
      },
    };
    const held = async (account: string) => {
      const acc = await this.knex('accounts').where({ code: account }).first('id');
      if (!acc) return [];
      const rows = (
        await sqlRows<Parameters<typeof toExpiredLot>[0]>(this.knex, EXPIRED_LOTS_VALID_ON, [
          Number(acc.id),
          validOn,
          validOn,
        ])
      ).map(toExpiredLot);
      return heldByExpiry(rows, look);
    };
    for (const [account, amount] of debitsOn(entries, (code) => describeAccount(code).tracksLots)) {
      let expired = await held(account);
      if (movedFrom !== undefined && movedFrom !== account) {
        const hers = [];
        for (const e of expired) if (await cameFrom(e.lotId, movedFrom, look)) hers.push(e);
        expired = [...hers, ...(await held(movedFrom))].sort(byExpiryOrder);
      }
      let left = -amount;
      const keys = new Map<string, number>();
      for (const e of expired) {
        if (left === 0) break;
        const take = Math.min(e.expired - (this.unexpiredNow.get(e.postingKey) ?? 0), left);
        if (take <= 0) continue;
        keys.set(e.postingKey, take);
        left -= take;
      }
      if (keys.size > 0) out.set(account, { points: -amount - left, keys });
    }
    return out;
  }

  /** The stored posting that created a lot, and whether it is a transfer (LOT_ORIGIN). */
  private async lotOrigin(lotId: number): Promise<{ postingId: number; transfer: boolean }> {
    return toLotOrigin(
      (await sqlRows<{ posting_id: number | string; kind: string }>(this.knex, LOT_ORIGIN, [lotId]))[0]!,
    );
  }

  /** The id of the stored posting that reverses `postingId`, if any. */
  private async reversalOf(postingId: number): Promise<number | undefined> {
    const row = await this.knex('postings').where({ reversal_of: postingId }).first('id');
    return row ? Number(row.id) : undefined;
  }
}
