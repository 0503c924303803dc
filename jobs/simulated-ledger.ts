/**
 * The ledger's answers to a run's postings, foretold without writing: what it would refuse
 * (INSUFFICIENT_POINTS, ALREADY_REVERSED, UNKNOWN_POSTING, with the ledger's own message) and what it
 * would find already posted. The simulator asks it in the order accrue posts, so a redemption or a refund
 * that the member's balance no longer covers shows as the night will record it, and a debit refused
 * leaves the points for the next one.
 */
import type { Knex } from 'knex';
import { describeAccount } from '../ledger/accounts.js';
import { lowestBalanceSince, shrinkDebits } from '../ledger/ledger.js';
import { AlreadyReversedError, InsufficientPointsError, UnknownPostingError } from '../ledger/errors.js';
import { isReversal, type PostingRequest, type PostStatus } from '../ledger/types.js';
import type { RedeyeError } from '../lib/errors.js';

interface Entry {
  account: string;
  amount: number;
}

interface ForetoldResult {
  status: PostStatus;
  reason?: string;
  /** The ledger's message for a refusal: which posting, account and amounts. */
  message?: string;
  /** Points a reversal would charge to its shortfall account, the member having spent them. */
  unrecovered?: number;
  /** Points a reversal would take from the accounts a merge or a move into a pool took them to. */
  followed?: Array<{ account: string; amount: number }>;
}

const refused = (error: RedeyeError): ForetoldResult => ({
  status: 'refused',
  reason: error.code,
  message: error.message,
});

export class SimulatedLedger {
  /** Stored balances read so far (only of accounts a debit was guarded on). */
  private readonly loaded = new Map<string, number>();
  /** What the run posted to each account. */
  private readonly pending = new Map<string, number>();
  /** Postings of the run, by key, with their entries (a later row may reverse one). */
  private readonly postedNow = new Map<string, Entry[]>();
  private readonly reversedNow = new Map<string, string>();
  /** Stored entries of accounts summed per business date, oldest first. */
  private readonly storedTotals = new Map<string, Array<{ date: string; total: number }>>();
  /** Stored postings looked up by key: their id, or null for none. */
  private readonly storedIds = new Map<string, number | null>();

  constructor(private readonly knex: Knex) {}

  async post(request: PostingRequest): Promise<ForetoldResult> {
    if (this.postedNow.has(request.key) || (await this.storedId(request.key)) !== null)
      return { status: 'duplicate' };
    let entries: Entry[];
    if (isReversal(request)) {
      const originalId = this.postedNow.has(request.reverses) ? null : await this.storedId(request.reverses);
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
      entries = original.map((e) => ({ account: e.account, amount: -e.amount }));
    } else {
      entries = request.entries.map((e) => ({ account: e.account, amount: e.amount }));
    }
    // As the ledger guards them: the debits on accounts that may not go negative, summed per account.
    const debits = new Map<string, number>();
    for (const e of entries)
      if (e.amount < 0 && !describeAccount(e.account).mayGoNegative)
        debits.set(e.account, (debits.get(e.account) ?? 0) + e.amount);
    const shortOf = new Map<string, number>();
    const taken = new Map<string, number>();
    const followed: Array<{ account: string; amount: number }> = [];
    for (const [account, debit] of debits) {
      let amount = debit;
      let short = -amount - Math.max(0, await this.available(account, request.businessDate));
      if (short <= 0) continue;
      // As the ledger follows them: what transfers moved out of the account since the original.
      if (isReversal(request)) {
        for (const f of await this.follow(account, short, request.reverses, request.businessDate, taken)) {
          entries.find((e) => e.account === account)!.amount += f.amount;
          entries.push({ account: f.account, amount: -f.amount });
          followed.push(f);
          amount += f.amount;
          short -= f.amount;
        }
      }
      if (short === 0) continue;
      if (!isReversal(request) || request.shortfallTo === undefined)
        return refused(await this.insufficient(request.key, account, amount, request.businessDate));
      shortOf.set(account, short);
    }
    // As the ledger takes it: what the account holds, the rest charged to the shortfall account.
    const unrecovered = shrinkDebits(entries, (e) => e.account, shortOf);
    if (unrecovered > 0 && isReversal(request))
      entries.push({ account: request.shortfallTo!, amount: -unrecovered });
    for (const e of entries) this.pending.set(e.account, (this.pending.get(e.account) ?? 0) + e.amount);
    this.postedNow.set(request.key, entries);
    if (isReversal(request)) this.reversedNow.set(request.reverses, request.key);
    return {
      status: 'posted',
      ...(unrecovered > 0 ? { unrecovered } : {}),
      ...(followed.length > 0 ? { followed } : {}),
    };
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

  private async lowestSince(account: string, businessDate: string): Promise<number | null> {
    let totals = this.storedTotals.get(account);
    if (totals === undefined) {
      const rows = await this.knex('entries as e')
        .join('accounts as a', 'a.id', 'e.account_id')
        .where('a.code', account)
        .groupBy('e.business_date')
        .orderBy('e.business_date')
        .select('e.business_date as date')
        .sum({ total: 'e.amount' });
      totals = (rows as unknown as Array<{ date: string; total: number | string }>).map((r) => ({
        date: r.date,
        total: Number(r.total),
      }));
      this.storedTotals.set(account, totals);
    }
    const lowest = lowestBalanceSince(totals, businessDate);
    return lowest === null ? null : lowest + (this.pending.get(account) ?? 0);
  }

  /** The ledger's refusal of a debit of `amount` the account does not cover, with its message. */
  private async insufficient(key: string, account: string, amount: number, businessDate: string) {
    const balance = await this.balance(account);
    if (balance + amount < 0) return new InsufficientPointsError(key, account, balance, -amount);
    const lowest = (await this.lowestSince(account, businessDate))!;
    return new InsufficientPointsError(key, `${account} (as of ${businessDate} and after)`, lowest, -amount);
  }

  /**
   * Where transfers stored after the original (a merge, a move into a pool) took the points a reversal
   * no longer finds in `account`, as the ledger follows them: each destination gives up what it holds,
   * up to what the transfer moved, and what it moved on is followed in turn. A posting of this run has
   * no transfer after it: the simulator runs no members feed.
   */
  private async follow(
    account: string,
    want: number,
    reverses: string,
    businessDate: string,
    taken: Map<string, number>,
  ): Promise<Array<{ account: string; amount: number }>> {
    const originalId = this.postedNow.has(reverses) ? null : await this.storedId(reverses);
    if (originalId === null) return [];
    const out: Array<{ account: string; amount: number }> = [];
    const reach = async (from: string, wanted: number, after: number): Promise<number> => {
      let got = 0;
      const transfers = await this.knex('entries as d')
        .join('postings as p', 'p.id', 'd.posting_id')
        .join('accounts as da', 'da.id', 'd.account_id')
        .join('entries as c', 'c.posting_id', 'd.posting_id')
        .join('accounts as ca', 'ca.id', 'c.account_id')
        .where({ 'p.kind': 'TRANSFER', 'da.code': from })
        .andWhere('d.posting_id', '>', after)
        .andWhere('d.amount', '<', 0)
        .andWhere('c.amount', '>', 0)
        .andWhereRaw('ca.unit = da.unit')
        .orderBy([{ column: 'c.posting_id' }, { column: 'c.id' }])
        .select('c.posting_id as postingId', 'ca.code as code', 'c.amount as amount');
      for (const t of transfers as Array<{
        postingId: number | string;
        code: string;
        amount: number | string;
      }>) {
        if (got === wanted) break;
        const ask = Math.min(wanted - got, Number(t.amount));
        const holds = Math.max(0, (await this.available(t.code, businessDate)) - (taken.get(t.code) ?? 0));
        const own = Math.min(ask, holds);
        if (own > 0) {
          out.push({ account: t.code, amount: own });
          taken.set(t.code, (taken.get(t.code) ?? 0) + own);
        }
        got += own + (ask > own ? await reach(t.code, ask - own, Number(t.postingId)) : 0);
      }
      return got;
    };
    await reach(account, want, originalId);
    return out;
  }

  private async storedId(key: string): Promise<number | null> {
    let id = this.storedIds.get(key);
    if (id === undefined) {
      const row = await this.knex('postings').where({ idempotency_key: key }).first('id');
      id = row ? Number(row.id) : null;
      this.storedIds.set(key, id);
    }
    return id;
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

  /** The id of the stored posting that reverses `postingId`, if any. */
  private async reversalOf(postingId: number): Promise<number | undefined> {
    const row = await this.knex('postings').where({ reversal_of: postingId }).first('id');
    return row ? Number(row.id) : undefined;
  }
}
