/**
 * Read side of the ledger: balances as of a date, statements with a running balance, open lots and
 * status credits inside a qualification window. Everything is derived from entries and lots; the
 * stored account balance is the fast path that `ledger check` proves equal to them.
 */
import type { Knex } from 'knex';
import type { IsoDate } from '../lib/dates.js';
import type { StatusMetric } from './accounts.js';

type Q = Knex | Knex.Transaction;

export interface AccountInfo {
  id: number;
  code: string;
  kind: string;
  unit: string;
  balance: number;
}

export async function findAccount(q: Q, code: string): Promise<AccountInfo | undefined> {
  const row = await q('accounts').select('id', 'code', 'kind', 'unit', 'balance').where({ code }).first();
  return row as AccountInfo | undefined;
}

/** Balance from the entries posted on or before `date` (business date). */
export async function balanceAsOf(q: Q, code: string, date: IsoDate): Promise<number> {
  const row = await q('entries as e')
    .join('accounts as a', 'a.id', 'e.account_id')
    .where('a.code', code)
    .andWhere('e.business_date', '<=', date)
    .sum({ total: 'e.amount' })
    .first();
  return Number(row?.total ?? 0);
}

export interface StatementLine {
  postingId: number;
  businessDate: IsoDate;
  kind: string;
  channel: string | null;
  sourceRef: string | null;
  ruleVersion: string | null;
  reversalOf: number | null;
  amount: number;
  balance: number;
}

/** Every entry of the account in posting order, each with the balance after it. */
export async function statement(
  q: Q,
  code: string,
  range: { from?: IsoDate; to?: IsoDate } = {},
): Promise<StatementLine[]> {
  const account = await findAccount(q, code);
  if (!account) return [];
  let opening = 0;
  if (range.from) {
    const row = await q('entries')
      .where('account_id', account.id)
      .andWhere('business_date', '<', range.from)
      .sum({ total: 'amount' })
      .first();
    opening = Number(row?.total ?? 0);
  }
  const query = q('entries as e')
    .join('postings as p', 'p.id', 'e.posting_id')
    .where('e.account_id', account.id)
    .select(
      'p.id as postingId',
      'e.business_date as businessDate',
      'p.kind as kind',
      'p.channel as channel',
      'p.source_ref as sourceRef',
      'p.rule_version as ruleVersion',
      'p.reversal_of as reversalOf',
      'e.amount as amount',
    )
    .orderBy([{ column: 'e.business_date' }, { column: 'e.id' }]);
  if (range.from) query.andWhere('e.business_date', '>=', range.from);
  if (range.to) query.andWhere('e.business_date', '<=', range.to);
  const rows = (await query) as Omit<StatementLine, 'balance'>[];
  let balance = opening;
  return rows.map((r) => {
    balance += Number(r.amount);
    return { ...r, amount: Number(r.amount), balance };
  });
}

export interface OpenLot {
  id: number;
  amount: number;
  remaining: number;
  earnedOn: IsoDate;
  expiresOn: IsoDate | null;
  originPostingId: number;
}

/** Open lots in the order they would be consumed: earliest expiry first, never-expiring last. */
export async function openLots(q: Q, code: string): Promise<OpenLot[]> {
  const rows = await q('lots as l')
    .join('accounts as a', 'a.id', 'l.account_id')
    .where('a.code', code)
    .andWhere('l.remaining', '>', 0)
    .select(
      'l.id',
      'l.amount',
      'l.remaining',
      'l.earned_on as earnedOn',
      'l.expires_on as expiresOn',
      'l.origin_posting_id as originPostingId',
    )
    .orderByRaw('(l.expires_on IS NULL), l.expires_on, l.earned_on, l.id');
  return rows.map((r: OpenLot) => ({ ...r, amount: Number(r.amount), remaining: Number(r.remaining) }));
}

/** Sum of a member's status credits with activity dates in [from, to]. */
export async function statusCreditsInWindow(
  q: Q,
  memberNumber: string,
  metric: StatusMetric,
  window: { from: IsoDate; to: IsoDate },
): Promise<number> {
  const row = await q('status_credits as s')
    .join('members as m', 'm.id', 's.member_id')
    .where('m.number', memberNumber)
    .andWhere('s.metric', metric)
    .andWhere('s.activity_date', '>=', window.from)
    .andWhere('s.activity_date', '<=', window.to)
    .sum({ total: 's.amount' })
    .first();
  return Number(row?.total ?? 0);
}
