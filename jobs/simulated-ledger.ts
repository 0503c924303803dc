/**
 * The ledger's answers to a run's postings, foretold without writing: what it would refuse
 * (INSUFFICIENT_POINTS, ALREADY_REVERSED, UNKNOWN_POSTING, with the ledger's own message) and what it
 * would find already posted. The simulator asks it in the order accrue posts, so a redemption or a refund
 * that the member's balance no longer covers shows as the night will record it, and a debit refused
 * leaves the points for the next one.
 */
import type { Knex } from 'knex';
import { describeAccount } from '../ledger/accounts.js';
import { shrinkDebits } from '../ledger/ledger.js';
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
    for (const [account, amount] of debits) {
      const balance = await this.balance(account);
      if (balance + amount >= 0) continue;
      if (
        !isReversal(request) ||
        request.shortfallTo === undefined ||
        (await this.transferredOutSince(account, request.reverses))
      )
        return refused(new InsufficientPointsError(request.key, account, balance, -amount));
      shortOf.set(account, -(Math.max(0, balance) + amount));
    }
    // As the ledger takes it: what the account holds, the rest charged to the shortfall account.
    const unrecovered = shrinkDebits(entries, (e) => e.account, shortOf);
    if (unrecovered > 0 && isReversal(request))
      entries.push({ account: request.shortfallTo!, amount: -unrecovered });
    for (const e of entries) this.pending.set(e.account, (this.pending.get(e.account) ?? 0) + e.amount);
    this.postedNow.set(request.key, entries);
    if (isReversal(request)) this.reversedNow.set(request.reverses, request.key);
    return { status: 'posted', ...(unrecovered > 0 ? { unrecovered } : {}) };
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

  /**
   * Whether a transfer (a merge, a move into a pool) took points out of the account after a stored
   * posting: the ledger refuses a shortfall reversal of it, as those points are not spent (a posting of
   * this run has none after it: the simulator runs no members feed).
   */
  private async transferredOutSince(account: string, key: string): Promise<boolean> {
    const id = this.postedNow.has(key) ? null : await this.storedId(key);
    if (id === null) return false;
    const row = await this.knex('entries as e')
      .join('accounts as a', 'a.id', 'e.account_id')
      .join('postings as p', 'p.id', 'e.posting_id')
      .where('a.code', account)
      .andWhere('e.posting_id', '>', id)
      .andWhere('e.amount', '<', 0)
      .andWhere('p.kind', 'TRANSFER')
      .first('e.id');
    return row !== undefined;
  }

  /** The id of the stored posting that reverses `postingId`, if any. */
  private async reversalOf(postingId: number): Promise<number | undefined> {
    const row = await this.knex('postings').where({ reversal_of: postingId }).first('id');
    return row ? Number(row.id) : undefined;
  }
}
