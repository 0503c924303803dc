/**
 * The ledger's answers to a run's postings, foretold without writing: what it would refuse
 * (INSUFFICIENT_POINTS, ALREADY_REVERSED, UNKNOWN_POSTING) and what it would find already posted. The
 * simulator asks it in the order accrue posts, so a redemption or a refund that the member's balance no
 * longer covers shows as the night will record it, and a debit refused leaves the points for the next one.
 */
import type { Knex } from 'knex';
import { describeAccount } from '../ledger/accounts.js';
import { isReversal, type PostingRequest, type PostStatus } from '../ledger/types.js';

interface Entry {
  account: string;
  amount: number;
}

export interface ForetoldResult {
  status: PostStatus;
  reason?: string;
}

export class SimulatedLedger {
  /** Balances of the accounts read so far, moved by what the run posted. */
  private readonly balances = new Map<string, number>();
  /** Postings of the run, by key, with their entries (a later row may reverse one). */
  private readonly postedNow = new Map<string, Entry[]>();
  private readonly reversedNow = new Set<string>();

  constructor(private readonly knex: Knex) {}

  async post(request: PostingRequest): Promise<ForetoldResult> {
    if (this.postedNow.has(request.key) || (await this.stored(request.key))) return { status: 'duplicate' };
    let entries: Entry[];
    if (isReversal(request)) {
      const original = this.postedNow.get(request.reverses) ?? (await this.storedEntries(request.reverses));
      if (!original) return { status: 'refused', reason: 'UNKNOWN_POSTING' };
      if (this.reversedNow.has(request.reverses) || (await this.reversedBefore(request.reverses)))
        return { status: 'refused', reason: 'ALREADY_REVERSED' };
      entries = original.map((e) => ({ account: e.account, amount: -e.amount }));
    } else {
      entries = request.entries.map((e) => ({ account: e.account, amount: e.amount }));
    }
    // As the ledger guards them: the debits on accounts that may not go negative, summed per account.
    const debits = new Map<string, number>();
    for (const e of entries)
      if (e.amount < 0 && !describeAccount(e.account).mayGoNegative)
        debits.set(e.account, (debits.get(e.account) ?? 0) + e.amount);
    for (const [account, amount] of debits)
      if ((await this.balance(account)) + amount < 0)
        return { status: 'refused', reason: 'INSUFFICIENT_POINTS' };
    for (const e of entries) this.balances.set(e.account, (await this.balance(e.account)) + e.amount);
    this.postedNow.set(request.key, entries);
    if (isReversal(request)) this.reversedNow.add(request.reverses);
    return { status: 'posted' };
  }

  private async balance(account: string): Promise<number> {
    let b = this.balances.get(account);
    if (b === undefined) {
      const row = await this.knex('accounts').where({ code: account }).first('balance');
      b = Number(row?.balance ?? 0);
      this.balances.set(account, b);
    }
    return b;
  }

  private async stored(key: string): Promise<{ id: number } | undefined> {
    const row = await this.knex('postings').where({ idempotency_key: key }).first('id');
    return row ? { id: Number(row.id) } : undefined;
  }

  private async storedEntries(key: string): Promise<Entry[] | undefined> {
    const posting = await this.stored(key);
    if (!posting) return undefined;
    const rows = await this.knex('entries as e')
      .join('accounts as a', 'a.id', 'e.account_id')
      .where('e.posting_id', posting.id)
      .orderBy('e.id')
      .select('a.code', 'e.amount');
    return rows.map((r: { code: string; amount: number | string }) => ({
      account: r.code,
      amount: Number(r.amount),
    }));
  }

  private async reversedBefore(key: string): Promise<boolean> {
    const posting = await this.stored(key);
    if (!posting) return false;
    return (await this.knex('postings').where({ reversal_of: posting.id }).first('id')) !== undefined;
  }
}
