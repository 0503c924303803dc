/**
 * The ledger's SQL seam: the few statements the posting engine needs, implemented once with prepared
 * statements on better-sqlite3 (synchronous, inside the caller's transaction) and once with named
 * prepared statements on a pg client. The engine holds every decision; a store only reads and writes.
 */
import type { Knex } from 'knex';
import type BetterSqlite3 from 'better-sqlite3';
import type { PoolClient } from 'pg';
import { pgConnection, sqliteHandle, type Dialect } from '../db/connection.js';
import { chunks } from '../lib/chunks.js';
import type { AccountDescriptor } from './accounts.js';

type MaybePromise<T> = T | Promise<T>;

export interface AccountRow {
  id: number;
  code: string;
  unit: string;
  tracksLots: boolean;
  mayGoNegative: boolean;
  memberId: number | null;
}

export interface PostingRow {
  kind: string;
  businessDate: string;
  key: string;
  contentHash: string;
  memberId: number | null;
  channel: string | null;
  activityDate: string | null;
  sourceFileId: number | null;
  sourceRef: string | null;
  ruleVersion: string | null;
  reversalOf: number | null;
  detail: string | null;
  createdAt: string;
}

export interface ExistingPosting {
  id: number;
  contentHash: string;
  kind: string;
  businessDate: string;
  reversalOf: number | null;
  memberId: number | null;
  channel: string | null;
  activityDate: string | null;
}

export interface LotRow {
  id: number;
  accountId: number;
  amount: number;
  remaining: number;
  earnedOn: string;
  expiresOn: string | null;
}

/** What one expiry posting, not reversed, took from a dated lot (EXPIRED_LOTS_VALID_ON). */
export interface ExpiredLot {
  lotId: number;
  earnedOn: string;
  expiresOn: string;
  postingId: number;
  postingKey: string;
  /** The night of the expiry posting. */
  expiredOn: string;
  expired: number;
}

/** A transfer out of an account: what it took out of it, and what it credited to one other account. */
export interface TransferOut {
  postingId: number;
  businessDate: string;
  toAccountId: number;
  moved: number;
  credited: number;
}

export interface LedgerStore {
  findAccount(code: string): MaybePromise<AccountRow | undefined>;
  createAccount(
    d: AccountDescriptor,
    owner: { memberId: number | null; poolId: number | null },
    now: string,
  ): MaybePromise<AccountRow>;
  accountCode(accountId: number): MaybePromise<string>;
  findMemberId(number: string): MaybePromise<number | undefined>;
  findPoolId(code: string): MaybePromise<number | undefined>;
  /** Returns the new id, or null when the key is already taken. */
  insertPosting(row: PostingRow): MaybePromise<number | null>;
  findPostingByKey(key: string): MaybePromise<ExistingPosting | undefined>;
  findReversalOf(postingId: number): MaybePromise<number | undefined>;
  /** The detail a posting was stored with (JSON text), null when it has none. */
  postingDetail(postingId: number): MaybePromise<string | null>;
  postingEntries(postingId: number): MaybePromise<Array<{ accountId: number; amount: number }>>;
  lotsCreatedBy(postingId: number): MaybePromise<LotRow[]>;
  /**
   * What transfers (a merge, a move into a pool) took out of an account after a posting, oldest first:
   * per transfer and other owner's account of the same unit it credited.
   */
  transfersOutSince(accountId: number, postingId: number): MaybePromise<TransferOut[]>;
  movementsOf(postingId: number): MaybePromise<Array<{ lotId: number; accountId: number; amount: number }>>;
  /** The transfers that took points out of a lot, oldest first (TRANSFERS_OUT_OF_LOT). */
  transfersOutOfLot(lotId: number): MaybePromise<number[]>;
  /** The standing expiries of an account's dated lots still valid on a date (EXPIRED_LOTS_VALID_ON). */
  expiredLotsValidOn(accountId: number, date: string): MaybePromise<ExpiredLot[]>;
  /** How many expiry postings took points out of a lot: the next one is keyed by it (`lotExpiryKey`). */
  expiriesOfLot(lotId: number): MaybePromise<number>;
  /** The posting that created a lot, and whether it is a transfer (which carried it from another lot). */
  lotOrigin(lotId: number): MaybePromise<{ postingId: number; transfer: boolean }>;
  /**
   * What redemptions posted before reversal `reversalId` took from a lot, of those cancelled after it:
   * their cancellations gave it back in place of the lot (REDIRECTED_FROM_LOT).
   */
  redirectedFromLot(lotId: number, reversalId: number): MaybePromise<number>;
  /** What left each lot a posting created through expiry postings, net of any expiry taken back (EXPIRED_FROM_LOTS_OF). */
  expiredFromLotsOf(
    postingId: number,
  ): MaybePromise<Array<{ lotId: number; accountId: number; expired: number }>>;
  statusCreditsOf(
    postingId: number,
  ): MaybePromise<Array<{ memberId: number; metric: string; amount: number; activityDate: string }>>;
  insertEntry(postingId: number, accountId: number, amount: number, businessDate: string): MaybePromise<void>;
  insertLot(
    accountId: number,
    amount: number,
    earnedOn: string,
    expiresOn: string | null,
    postingId: number,
  ): MaybePromise<number>;
  openLots(accountId: number): MaybePromise<LotRow[]>;
  lot(lotId: number): MaybePromise<LotRow | undefined>;
  adjustLot(lotId: number, delta: number): MaybePromise<void>;
  insertMovement(lotId: number, postingId: number, amount: number): MaybePromise<void>;
  /** Reads the balance; on PostgreSQL it also locks the account row until the transaction ends. */
  balanceForUpdate(accountId: number): MaybePromise<number>;
  addBalance(accountId: number, delta: number): MaybePromise<void>;
  /** Business date of the account's latest entry (null: none). */
  latestEntryDate(accountId: number): MaybePromise<string | null>;
  /** The account's entries summed per business date, oldest first. */
  dailyTotals(accountId: number): MaybePromise<Array<{ date: string; total: number }>>;
  /**
   * Reads the balances of the given accounts; on PostgreSQL it also locks their rows, in id order, so
   * concurrent batches queue instead of deadlocking on each other's accounts.
   */
  lockAccounts(accountIds: number[]): MaybePromise<Map<number, number>>;
  insertStatusCredit(
    memberId: number,
    metric: string,
    amount: number,
    activityDate: string,
    postingId: number,
  ): MaybePromise<void>;

  // Bulk operations: the hot path posts runs of plain credits with a handful of statements per run.
  findAccounts(codes: string[]): MaybePromise<AccountRow[]>;
  findMemberIds(numbers: string[]): MaybePromise<Map<string, number>>;
  createAccounts(
    rows: Array<{ d: AccountDescriptor; memberId: number | null; poolId: number | null }>,
    now: string,
  ): MaybePromise<AccountRow[]>;
  /** Inserts postings whose keys are free; returns key → id for those inserted (taken keys are absent). */
  insertPostings(rows: PostingRow[]): MaybePromise<Map<string, number>>;
  insertEntries(rows: EntryRow[]): MaybePromise<void>;
  insertLots(rows: LotInsert[]): MaybePromise<void>;
  insertStatusCredits(rows: StatusCreditRow[]): MaybePromise<void>;
  addBalances(deltas: Array<[accountId: number, delta: number]>): MaybePromise<void>;
}

export type EntryRow = [postingId: number, accountId: number, amount: number, businessDate: string];
export type LotInsert = [
  accountId: number,
  amount: number,
  earnedOn: string,
  expiresOn: string | null,
  postingId: number,
];
export type StatusCreditRow = [
  memberId: number,
  metric: string,
  amount: number,
  activityDate: string,
  postingId: number,
];

const POSTING_COLUMNS =
  'kind, business_date, idempotency_key, content_hash, member_id, channel, activity_date, source_file_id, source_ref, rule_version, reversal_of, detail, created_at';

export async function openStore(dialect: Dialect, trx: Knex.Transaction): Promise<LedgerStore> {
  if (dialect === 'sqlite') return new SqliteStore(await sqliteHandle(trx));
  return new PgStore(await pgConnection(trx));
}

// ------------------------------------------------------------------------------------------------ SQLite

/**
 * Per transfer after a posting that debited the account (`?` account id, posting id, account id): what
 * it took out (`moved`) and what it credited to each other owner's account of the same unit. A merge's
 * status legs pass through STATUS_ISSUED, which has no owner and is left out. The simulated ledger asks
 * it too, through knex.
 */
export const TRANSFERS_OUT_SINCE = `SELECT d.posting_id, p.business_date, c.account_id, d.moved, SUM(c.amount) AS credited
  FROM (SELECT posting_id, -SUM(amount) AS moved FROM entries WHERE account_id = ? AND posting_id > ? AND amount < 0 GROUP BY posting_id) d
  JOIN postings p ON p.id = d.posting_id AND p.kind = 'TRANSFER'
  JOIN entries c ON c.posting_id = d.posting_id AND c.amount > 0
  JOIN accounts ca ON ca.id = c.account_id AND (ca.member_id IS NOT NULL OR ca.pool_id IS NOT NULL)
    AND ca.unit = (SELECT unit FROM accounts WHERE id = ?)
  GROUP BY d.posting_id, p.business_date, c.account_id, d.moved
  ORDER BY d.posting_id, MIN(c.id)`;

/**
 * Per lot a posting created (`?` its id): the points that left it through expiry postings — a lot a
 * cancelled redemption refilled before its date expires again under `EXP:<lot>:<n>`, and each counts —
 * less what a reversal of one of them put back, and what a cancellation gave back to it past its date
 * (it leaves the lot again in the cancellation, booked to EXPIRY: a redemption's reversal takes nothing
 * out of a lot otherwise). The program booked them to EXPIRY, not the member's spending: a reversal of
 * the posting takes them back from there. The simulated ledger asks it too, through knex.
 */
export const EXPIRED_FROM_LOTS_OF = `SELECT l.id AS lot_id, l.account_id, -SUM(m.amount) AS expired
  FROM lots l
  JOIN lot_movements m ON m.lot_id = l.id
  JOIN postings p ON p.id = m.posting_id
  LEFT JOIN postings r ON r.id = p.reversal_of
  WHERE l.origin_posting_id = ?
    AND (p.kind = 'EXPIRY' OR r.kind = 'EXPIRY' OR (r.kind = 'REDEMPTION' AND m.amount < 0))
  GROUP BY l.id, l.account_id
  ORDER BY l.id`;

/**
 * Per dated lot of an account (`?` account id) valid on a date (`?` twice: expiring on or after it, and
 * earned on or before it), each expiry posting that took points out of it and stands (no reversal gave
 * them back), with what it took: the points a redemption of that date may take back from EXPIRY, in the
 * order a debit spends lots. A lot earned after the date was not the member's on it, though a night
 * caught up late finds it expired already. A transfer's lot keeps the earned_on of the lot it came
 * from. The simulated ledger asks it too, through knex.
 */
export const EXPIRED_LOTS_VALID_ON = `SELECT l.id AS lot_id, l.earned_on, l.expires_on, p.id AS posting_id,
       p.idempotency_key AS posting_key, p.business_date AS expired_on, -SUM(m.amount) AS expired
  FROM lots l
  JOIN lot_movements m ON m.lot_id = l.id AND m.amount < 0
  JOIN postings p ON p.id = m.posting_id AND p.kind = 'EXPIRY'
  WHERE l.account_id = ? AND l.expires_on >= ? AND l.earned_on <= ?
    AND NOT EXISTS (SELECT 1 FROM postings r WHERE r.reversal_of = p.id)
  GROUP BY l.id, l.earned_on, l.expires_on, p.id, p.idempotency_key, p.business_date
  ORDER BY l.expires_on, l.earned_on, l.id, p.id`;

/**
 * What redemptions posted before a reversal (bound twice: lot, reversal, reversal) took from a lot, of
 * those cancelled after it: their cancellations gave it back in place of the lot (`inPlaceOfReversed`).
 */
export const REDIRECTED_FROM_LOT = `SELECT COALESCE(SUM(-m.amount), 0) AS n FROM lot_movements m
      JOIN postings o ON o.id = m.posting_id AND o.kind = 'REDEMPTION'
      JOIN postings c ON c.reversal_of = o.id
     WHERE m.lot_id = ? AND m.amount < 0 AND o.id < ? AND c.id > ?`;

/** The posting (`?` a lot id) that created a lot, and its kind. The simulated ledger asks it too. */
export const LOT_ORIGIN = `SELECT p.id AS posting_id, p.kind AS kind FROM lots l JOIN postings p ON p.id = l.origin_posting_id WHERE l.id = ?`;

/** The transfers (`?` a lot id) that took points out of the lot, oldest first: where its points went. */
export const TRANSFERS_OUT_OF_LOT = `SELECT DISTINCT m.posting_id FROM lot_movements m
  JOIN postings p ON p.id = m.posting_id AND p.kind = 'TRANSFER'
  WHERE m.lot_id = ? AND m.amount < 0
  ORDER BY m.posting_id`;

const SQL = {
  findAccount: 'SELECT id, code, unit, tracks_lots, may_go_negative, member_id FROM accounts WHERE code = ?',
  createAccount:
    'INSERT INTO accounts (code, kind, unit, member_id, pool_id, partner_code, service_type, tracks_lots, may_go_negative, balance, created_at) VALUES (?,?,?,?,?,?,?,?,?,0,?) ON CONFLICT (code) DO NOTHING',
  accountCode: 'SELECT code FROM accounts WHERE id = ?',
  findMember: 'SELECT id FROM members WHERE number = ?',
  findPool: 'SELECT id FROM pools WHERE code = ?',
  insertPosting:
    'INSERT INTO postings (kind, business_date, idempotency_key, content_hash, member_id, channel, activity_date, source_file_id, source_ref, rule_version, reversal_of, detail, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (idempotency_key) DO NOTHING',
  findPosting:
    'SELECT id, content_hash, kind, business_date, reversal_of, member_id, channel, activity_date FROM postings WHERE idempotency_key = ?',
  findReversal: 'SELECT id FROM postings WHERE reversal_of = ?',
  postingDetail: 'SELECT detail FROM postings WHERE id = ?',
  entries: 'SELECT account_id, amount FROM entries WHERE posting_id = ? ORDER BY id',
  lotsCreated:
    'SELECT id, account_id, amount, remaining, earned_on, expires_on FROM lots WHERE origin_posting_id = ? ORDER BY id',
  transfersOutSince: TRANSFERS_OUT_SINCE,
  movements:
    'SELECT m.lot_id, l.account_id, m.amount FROM lot_movements m JOIN lots l ON l.id = m.lot_id WHERE m.posting_id = ? ORDER BY m.id',
  expiredFromLots: EXPIRED_FROM_LOTS_OF,
  transfersOutOfLot: TRANSFERS_OUT_OF_LOT,
  expiredLotsValidOn: EXPIRED_LOTS_VALID_ON,
  expiriesOfLot:
    "SELECT COUNT(*) AS n FROM lot_movements m JOIN postings p ON p.id = m.posting_id AND p.kind = 'EXPIRY' WHERE m.lot_id = ?",
  lotOrigin: LOT_ORIGIN,
  redirectedFromLot: REDIRECTED_FROM_LOT,
  statusCredits:
    'SELECT member_id, metric, amount, activity_date FROM status_credits WHERE posting_id = ? ORDER BY id',
  insertEntry: 'INSERT INTO entries (posting_id, account_id, amount, business_date) VALUES (?,?,?,?)',
  insertLot:
    'INSERT INTO lots (account_id, amount, remaining, earned_on, expires_on, origin_posting_id) VALUES (?,?,?,?,?,?)',
  // Earliest expiry first; lots that never expire are spent last.
  openLots:
    'SELECT id, account_id, amount, remaining, earned_on, expires_on FROM lots WHERE account_id = ? AND remaining > 0 ORDER BY (expires_on IS NULL), expires_on, earned_on, id',
  lot: 'SELECT id, account_id, amount, remaining, earned_on, expires_on FROM lots WHERE id = ?',
  adjustLot: 'UPDATE lots SET remaining = remaining + ? WHERE id = ?',
  insertMovement: 'INSERT INTO lot_movements (lot_id, posting_id, amount) VALUES (?,?,?)',
  balance: 'SELECT balance FROM accounts WHERE id = ?',
  latestEntryDate: 'SELECT MAX(business_date) AS d FROM entries WHERE account_id = ?',
  dailyTotals:
    'SELECT business_date AS d, SUM(amount) AS t FROM entries WHERE account_id = ? GROUP BY business_date ORDER BY business_date',
  addBalance: 'UPDATE accounts SET balance = balance + ? WHERE id = ?',
  insertStatusCredit:
    'INSERT INTO status_credits (member_id, metric, amount, activity_date, posting_id) VALUES (?,?,?,?,?)',
} as const;

type SqlName = keyof typeof SQL;

const prepared = new WeakMap<BetterSqlite3.Database, Map<SqlName, BetterSqlite3.Statement>>();

interface RawLot {
  id: number;
  account_id: number;
  amount: number;
  remaining: number;
  earned_on: string;
  expires_on: string | null;
}

const toLot = (r: RawLot): LotRow => ({
  id: r.id,
  accountId: r.account_id,
  amount: r.amount,
  remaining: r.remaining,
  earnedOn: r.earned_on,
  expiresOn: r.expires_on,
});

interface RawPosting {
  id: number;
  content_hash: string;
  kind: string;
  business_date: string;
  reversal_of: number | null;
  member_id: number | null;
  channel: string | null;
  activity_date: string | null;
}

const toPosting = (r: RawPosting) => ({
  id: r.id,
  contentHash: r.content_hash,
  kind: r.kind,
  businessDate: r.business_date,
  reversalOf: r.reversal_of,
  memberId: r.member_id,
  channel: r.channel,
  activityDate: r.activity_date,
});

/** The insertPosting statement's parameters, in its column order (both engines). */
const postingParams = (p: PostingRow) => [
  p.kind,
  p.businessDate,
  p.key,
  p.contentHash,
  p.memberId,
  p.channel,
  p.activityDate,
  p.sourceFileId,
  p.sourceRef,
  p.ruleVersion,
  p.reversalOf,
  p.detail,
  p.createdAt,
];

interface RawEntry {
  account_id: number;
  amount: number;
}
const toEntry = (r: RawEntry) => ({ accountId: r.account_id, amount: r.amount });

interface RawMovement {
  lot_id: number;
  account_id: number;
  amount: number;
}
const toMovement = (r: RawMovement) => ({ lotId: r.lot_id, accountId: r.account_id, amount: r.amount });
interface RawExpired {
  lot_id: number | string;
  account_id: number | string;
  expired: number | string;
}
const toExpired = (r: RawExpired) => ({
  lotId: Number(r.lot_id),
  accountId: Number(r.account_id),
  expired: Number(r.expired),
});

interface RawExpiredLot {
  lot_id: number | string;
  earned_on: string;
  expires_on: string;
  posting_id: number | string;
  posting_key: string;
  expired_on: string;
  expired: number | string;
}
/** Also the simulated ledger's reading of EXPIRED_LOTS_VALID_ON. */
export const toExpiredLot = (r: RawExpiredLot): ExpiredLot => ({
  lotId: Number(r.lot_id),
  earnedOn: r.earned_on,
  expiresOn: r.expires_on,
  postingId: Number(r.posting_id),
  postingKey: r.posting_key,
  expiredOn: r.expired_on,
  expired: Number(r.expired),
});
/** Also the simulated ledger's reading of LOT_ORIGIN. */
export const toLotOrigin = (r: { posting_id: number | string; kind: string }) => ({
  postingId: Number(r.posting_id),
  transfer: r.kind === 'TRANSFER',
});

interface RawTransferOut {
  posting_id: number;
  business_date: string;
  account_id: number;
  moved: number | string;
  credited: number | string;
}
const toTransferOut = (r: RawTransferOut): TransferOut => ({
  postingId: r.posting_id,
  businessDate: r.business_date,
  toAccountId: r.account_id,
  moved: Number(r.moved),
  credited: Number(r.credited),
});

interface RawStatusCredit {
  member_id: number;
  metric: string;
  amount: number;
  activity_date: string;
}
const toStatusCredit = (r: RawStatusCredit) => ({
  memberId: r.member_id,
  metric: r.metric,
  amount: r.amount,
  activityDate: r.activity_date,
});

interface RawAccount {
  id: number;
  code: string;
  unit: string;
  tracks_lots: number | boolean;
  may_go_negative: number | boolean;
  member_id: number | null;
}

const toAccount = (r: RawAccount): AccountRow => ({
  id: r.id,
  code: r.code,
  unit: r.unit,
  tracksLots: Boolean(r.tracks_lots),
  mayGoNegative: Boolean(r.may_go_negative),
  memberId: r.member_id,
});

class SqliteStore implements LedgerStore {
  private readonly stmts: Map<SqlName, BetterSqlite3.Statement>;

  constructor(private readonly db: BetterSqlite3.Database) {
    let m = prepared.get(db);
    if (!m) {
      m = new Map();
      prepared.set(db, m);
    }
    this.stmts = m;
  }

  private s(name: SqlName): BetterSqlite3.Statement {
    let st = this.stmts.get(name);
    if (!st) {
      st = this.db.prepare(SQL[name]);
      this.stmts.set(name, st);
    }
    return st;
  }

  findAccount(code: string) {
    const r = this.s('findAccount').get(code) as RawAccount | undefined;
    return r && toAccount(r);
  }
  createAccount(
    d: AccountDescriptor,
    owner: { memberId: number | null; poolId: number | null },
    now: string,
  ) {
    const info = this.s('createAccount').run(
      d.code,
      d.kind,
      d.unit,
      owner.memberId,
      owner.poolId,
      d.partnerCode ?? null,
      d.serviceType ?? null,
      d.tracksLots ? 1 : 0,
      d.mayGoNegative ? 1 : 0,
      now,
    );
    if (info.changes === 0) return this.findAccount(d.code)!;
    return {
      id: Number(info.lastInsertRowid),
      code: d.code,
      unit: d.unit,
      tracksLots: d.tracksLots,
      mayGoNegative: d.mayGoNegative,
      memberId: owner.memberId,
    };
  }
  accountCode(accountId: number) {
    return (this.s('accountCode').get(accountId) as { code: string }).code;
  }
  findMemberId(number: string) {
    return (this.s('findMember').get(number) as { id: number } | undefined)?.id;
  }
  findPoolId(code: string) {
    return (this.s('findPool').get(code) as { id: number } | undefined)?.id;
  }
  insertPosting(p: PostingRow) {
    const info = this.s('insertPosting').run(...postingParams(p));
    return info.changes === 0 ? null : Number(info.lastInsertRowid);
  }
  findPostingByKey(key: string) {
    const r = this.s('findPosting').get(key) as RawPosting | undefined;
    return r && toPosting(r);
  }
  findReversalOf(postingId: number) {
    return (this.s('findReversal').get(postingId) as { id: number } | undefined)?.id;
  }
  postingDetail(postingId: number) {
    return (this.s('postingDetail').get(postingId) as { detail: string | null } | undefined)?.detail ?? null;
  }
  postingEntries(postingId: number) {
    return (this.s('entries').all(postingId) as RawEntry[]).map(toEntry);
  }
  lotsCreatedBy(postingId: number) {
    return (this.s('lotsCreated').all(postingId) as RawLot[]).map(toLot);
  }
  transfersOutSince(accountId: number, postingId: number) {
    return (this.s('transfersOutSince').all(accountId, postingId, accountId) as RawTransferOut[]).map(
      toTransferOut,
    );
  }
  movementsOf(postingId: number) {
    return (this.s('movements').all(postingId) as RawMovement[]).map(toMovement);
  }
  expiredFromLotsOf(postingId: number) {
    return (this.s('expiredFromLots').all(postingId) as RawExpired[]).map(toExpired);
  }
  transfersOutOfLot(lotId: number) {
    return (this.s('transfersOutOfLot').all(lotId) as Array<{ posting_id: number }>).map((r) =>
      Number(r.posting_id),
    );
  }
  expiredLotsValidOn(accountId: number, date: string) {
    return (this.s('expiredLotsValidOn').all(accountId, date, date) as RawExpiredLot[]).map(toExpiredLot);
  }
  expiriesOfLot(lotId: number) {
    return Number((this.s('expiriesOfLot').get(lotId) as { n: number }).n);
  }
  redirectedFromLot(lotId: number, reversalId: number) {
    return Number(
      (this.s('redirectedFromLot').get(lotId, reversalId, reversalId) as { n: number | string }).n,
    );
  }
  lotOrigin(lotId: number) {
    return toLotOrigin(this.s('lotOrigin').get(lotId) as { posting_id: number; kind: string });
  }
  statusCreditsOf(postingId: number) {
    return (this.s('statusCredits').all(postingId) as RawStatusCredit[]).map(toStatusCredit);
  }
  insertEntry(postingId: number, accountId: number, amount: number, businessDate: string) {
    this.s('insertEntry').run(postingId, accountId, amount, businessDate);
  }
  insertLot(
    accountId: number,
    amount: number,
    earnedOn: string,
    expiresOn: string | null,
    postingId: number,
  ) {
    return Number(
      this.s('insertLot').run(accountId, amount, amount, earnedOn, expiresOn, postingId).lastInsertRowid,
    );
  }
  openLots(accountId: number) {
    return (this.s('openLots').all(accountId) as RawLot[]).map(toLot);
  }
  lot(lotId: number) {
    const r = this.s('lot').get(lotId) as RawLot | undefined;
    return r && toLot(r);
  }
  adjustLot(lotId: number, delta: number) {
    this.s('adjustLot').run(delta, lotId);
  }
  insertMovement(lotId: number, postingId: number, amount: number) {
    this.s('insertMovement').run(lotId, postingId, amount);
  }
  balanceForUpdate(accountId: number) {
    return (this.s('balance').get(accountId) as { balance: number }).balance;
  }
  addBalance(accountId: number, delta: number) {
    this.s('addBalance').run(delta, accountId);
  }
  latestEntryDate(accountId: number) {
    return (this.s('latestEntryDate').get(accountId) as { d: string | null }).d;
  }
  dailyTotals(accountId: number) {
    return (this.s('dailyTotals').all(accountId) as Array<{ d: string; t: number }>).map((r) => ({
      date: r.d,
      total: Number(r.t),
    }));
  }
  lockAccounts(_accountIds: number[]) {
    // The SQLite write lock (BEGIN IMMEDIATE) already serialises writers; balances are read when needed.
    return new Map<number, number>();
  }
  insertStatusCredit(
    memberId: number,
    metric: string,
    amount: number,
    activityDate: string,
    postingId: number,
  ) {
    this.s('insertStatusCredit').run(memberId, metric, amount, activityDate, postingId);
  }

  /** Multi-row statements, cached by row count: one SQLite step inserts a whole chunk. */
  private multi(
    table: string,
    columns: string,
    width: number,
    rows: number,
    suffix = '',
  ): BetterSqlite3.Statement {
    const key = `${table}:${rows}:${suffix}`;
    let st = this.multiStmts.get(key);
    if (!st) {
      const one = `(${new Array(width).fill('?').join(',')})`;
      st = this.db.prepare(
        `INSERT INTO ${table} (${columns}) VALUES ${new Array(rows).fill(one).join(',')}${suffix}`,
      );
      this.multiStmts.set(key, st);
    }
    return st;
  }

  private get multiStmts(): Map<string, BetterSqlite3.Statement> {
    let m = multiPrepared.get(this.db);
    if (!m) {
      m = new Map();
      multiPrepared.set(this.db, m);
    }
    return m;
  }

  findAccounts(codes: string[]) {
    const out: AccountRow[] = [];
    for (const code of codes) {
      const r = this.findAccount(code);
      if (r) out.push(r);
    }
    return out;
  }
  findMemberIds(numbers: string[]) {
    const out = new Map<string, number>();
    for (const n of numbers) {
      const id = this.findMemberId(n);
      if (id !== undefined) out.set(n, id);
    }
    return out;
  }
  createAccounts(
    rows: Array<{ d: AccountDescriptor; memberId: number | null; poolId: number | null }>,
    now: string,
  ) {
    return rows.map((r) => this.createAccount(r.d, { memberId: r.memberId, poolId: r.poolId }, now));
  }
  insertPostings(rows: PostingRow[]) {
    const out = new Map<string, number>();
    for (const chunk of chunks(rows, 200)) {
      const st = this.multi(
        'postings',
        POSTING_COLUMNS,
        13,
        chunk.length,
        ' ON CONFLICT (idempotency_key) DO NOTHING',
      );
      const values: unknown[] = [];
      for (const p of chunk) {
        values.push(p.kind, p.businessDate, p.key, p.contentHash, p.memberId, p.channel, p.activityDate);
        values.push(p.sourceFileId, p.sourceRef, p.ruleVersion, p.reversalOf, p.detail, p.createdAt);
      }
      const info = st.run(values);
      // AUTOINCREMENT hands one statement's rows consecutive ids in VALUES order, so without a skipped
      // key the ids follow from the last one; RETURNING would cost a result row per posting.
      const last = Number(info.lastInsertRowid);
      if (info.changes === chunk.length) {
        for (let i = 0; i < chunk.length; i++) out.set(chunk[i]!.key, last - chunk.length + 1 + i);
      } else {
        const first = last - info.changes + 1;
        for (const p of chunk) {
          const id = info.changes > 0 ? this.findPostingByKey(p.key)?.id : undefined;
          if (id !== undefined && id >= first && id <= last && !out.has(p.key)) out.set(p.key, id);
        }
      }
    }
    return out;
  }
  insertEntries(rows: EntryRow[]) {
    for (const chunk of chunks(rows, 500)) {
      this.multi('entries', 'posting_id, account_id, amount, business_date', 4, chunk.length).run(
        chunk.flat(),
      );
    }
  }
  insertLots(rows: LotInsert[]) {
    for (const chunk of chunks(rows, 400)) {
      const values: unknown[] = [];
      for (const [a, amount, e, x, p] of chunk) values.push(a, amount, amount, e, x, p);
      this.multi(
        'lots',
        'account_id, amount, remaining, earned_on, expires_on, origin_posting_id',
        6,
        chunk.length,
      ).run(values);
    }
  }
  insertStatusCredits(rows: StatusCreditRow[]) {
    for (const chunk of chunks(rows, 400)) {
      this.multi(
        'status_credits',
        'member_id, metric, amount, activity_date, posting_id',
        5,
        chunk.length,
      ).run(chunk.flat());
    }
  }
  addBalances(deltas: Array<[number, number]>) {
    const st = this.s('addBalance');
    for (const [id, delta] of deltas) st.run(delta, id);
  }
}

const multiPrepared = new WeakMap<BetterSqlite3.Database, Map<string, BetterSqlite3.Statement>>();

// ------------------------------------------------------------------------------------------------ PostgreSQL

/** `?` placeholders become `$n`, so both stores share one set of statements. */
function toPg(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const PG_SQL: Record<SqlName, string> = Object.fromEntries(
  Object.entries(SQL).map(([k, v]) => [k, toPg(v)]),
) as Record<SqlName, string>;
PG_SQL.createAccount = `${PG_SQL.createAccount} RETURNING id`;
PG_SQL.insertPosting = `${PG_SQL.insertPosting} RETURNING id`;
PG_SQL.insertLot = `${PG_SQL.insertLot} RETURNING id`;
PG_SQL.balance = `${PG_SQL.balance} FOR UPDATE`;

class PgStore implements LedgerStore {
  constructor(private readonly client: PoolClient) {}

  private async q<T>(name: SqlName, values: unknown[]): Promise<T[]> {
    const res = await this.client.query({ name: `redeye_ledger_${name}`, text: PG_SQL[name], values });
    return res.rows as T[];
  }

  async findAccount(code: string) {
    const [r] = await this.q<RawAccount>('findAccount', [code]);
    return r && toAccount(r);
  }
  async createAccount(
    d: AccountDescriptor,
    owner: { memberId: number | null; poolId: number | null },
    now: string,
  ) {
    const [r] = await this.q<{ id: number }>('createAccount', [
      d.code,
      d.kind,
      d.unit,
      owner.memberId,
      owner.poolId,
      d.partnerCode ?? null,
      d.serviceType ?? null,
      d.tracksLots,
      d.mayGoNegative,
      now,
    ]);
    // Another transaction created it first (concurrent batches on PostgreSQL).
    if (!r) return (await this.findAccount(d.code))!;
    return {
      id: r.id,
      code: d.code,
      unit: d.unit,
      tracksLots: d.tracksLots,
      mayGoNegative: d.mayGoNegative,
      memberId: owner.memberId,
    };
  }
  async accountCode(accountId: number) {
    return (await this.q<{ code: string }>('accountCode', [accountId]))[0]!.code;
  }
  async findMemberId(number: string) {
    return (await this.q<{ id: number }>('findMember', [number]))[0]?.id;
  }
  async findPoolId(code: string) {
    return (await this.q<{ id: number }>('findPool', [code]))[0]?.id;
  }
  async insertPosting(p: PostingRow) {
    const rows = await this.q<{ id: number }>('insertPosting', postingParams(p));
    return rows[0]?.id ?? null;
  }
  async findPostingByKey(key: string) {
    const [r] = await this.q<RawPosting>('findPosting', [key]);
    return r && toPosting(r);
  }
  async findReversalOf(postingId: number) {
    return (await this.q<{ id: number }>('findReversal', [postingId]))[0]?.id;
  }
  async postingDetail(postingId: number) {
    return (await this.q<{ detail: string | null }>('postingDetail', [postingId]))[0]?.detail ?? null;
  }
  async postingEntries(postingId: number) {
    return (await this.q<RawEntry>('entries', [postingId])).map(toEntry);
  }
  async lotsCreatedBy(postingId: number) {
    return (await this.q<RawLot>('lotsCreated', [postingId])).map(toLot);
  }
  async transfersOutSince(accountId: number, postingId: number) {
    return (await this.q<RawTransferOut>('transfersOutSince', [accountId, postingId, accountId])).map(
      toTransferOut,
    );
  }
  async movementsOf(postingId: number) {
    return (await this.q<RawMovement>('movements', [postingId])).map(toMovement);
  }
  async expiredFromLotsOf(postingId: number) {
    return (await this.q<RawExpired>('expiredFromLots', [postingId])).map(toExpired);
  }
  async transfersOutOfLot(lotId: number) {
    return (await this.q<{ posting_id: number | string }>('transfersOutOfLot', [lotId])).map((r) =>
      Number(r.posting_id),
    );
  }
  async expiredLotsValidOn(accountId: number, date: string) {
    return (await this.q<RawExpiredLot>('expiredLotsValidOn', [accountId, date, date])).map(toExpiredLot);
  }
  async expiriesOfLot(lotId: number) {
    return Number((await this.q<{ n: number | string }>('expiriesOfLot', [lotId]))[0]!.n);
  }
  async redirectedFromLot(lotId: number, reversalId: number) {
    return Number(
      (await this.q<{ n: number | string }>('redirectedFromLot', [lotId, reversalId, reversalId]))[0]!.n,
    );
  }
  async lotOrigin(lotId: number) {
    return toLotOrigin((await this.q<{ posting_id: number; kind: string }>('lotOrigin', [lotId]))[0]!);
  }
  async statusCreditsOf(postingId: number) {
    return (await this.q<RawStatusCredit>('statusCredits', [postingId])).map(toStatusCredit);
  }
  async insertEntry(postingId: number, accountId: number, amount: number, businessDate: string) {
    await this.q('insertEntry', [postingId, accountId, amount, businessDate]);
  }
  async insertLot(
    accountId: number,
    amount: number,
    earnedOn: string,
    expiresOn: string | null,
    postingId: number,
  ) {
    const [r] = await this.q<{ id: number }>('insertLot', [
      accountId,
      amount,
      amount,
      earnedOn,
      expiresOn,
      postingId,
    ]);
    return r!.id;
  }
  async openLots(accountId: number) {
    return (await this.q<RawLot>('openLots', [accountId])).map(toLot);
  }
  async lot(lotId: number) {
    const [r] = await this.q<RawLot>('lot', [lotId]);
    return r && toLot(r);
  }
  async adjustLot(lotId: number, delta: number) {
    await this.q('adjustLot', [delta, lotId]);
  }
  async insertMovement(lotId: number, postingId: number, amount: number) {
    await this.q('insertMovement', [lotId, postingId, amount]);
  }
  async balanceForUpdate(accountId: number) {
    return (await this.q<{ balance: number }>('balance', [accountId]))[0]!.balance;
  }
  async addBalance(accountId: number, delta: number) {
    await this.q('addBalance', [delta, accountId]);
  }
  async latestEntryDate(accountId: number) {
    return (await this.q<{ d: string | null }>('latestEntryDate', [accountId]))[0]?.d ?? null;
  }
  async dailyTotals(accountId: number) {
    return (await this.q<{ d: string; t: number | string }>('dailyTotals', [accountId])).map((r) => ({
      date: r.d,
      total: Number(r.t),
    }));
  }
  async lockAccounts(accountIds: number[]) {
    const sorted = [...accountIds].sort((a, b) => a - b);
    const res = await this.client.query({
      name: 'redeye_ledger_lockAccounts',
      text: 'SELECT id, balance FROM accounts WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE',
      values: [sorted],
    });
    return new Map((res.rows as Array<{ id: number; balance: number }>).map((r) => [r.id, r.balance]));
  }
  async insertStatusCredit(
    memberId: number,
    metric: string,
    amount: number,
    activityDate: string,
    postingId: number,
  ) {
    await this.q('insertStatusCredit', [memberId, metric, amount, activityDate, postingId]);
  }

  // Bulk statements take one array per column (unnest), so a whole run is one round trip per table.
  private async bulk<T>(name: string, text: string, values: unknown[]): Promise<T[]> {
    const res = await this.client.query({ name: `redeye_ledger_bulk_${name}`, text, values });
    return res.rows as T[];
  }

  async findAccounts(codes: string[]) {
    const rows = await this.bulk<RawAccount>(
      'findAccounts',
      'SELECT id, code, unit, tracks_lots, may_go_negative, member_id FROM accounts WHERE code = ANY($1::text[])',
      [codes],
    );
    return rows.map(toAccount);
  }
  async findMemberIds(numbers: string[]) {
    const rows = await this.bulk<{ id: number; number: string }>(
      'findMembers',
      'SELECT id, number FROM members WHERE number = ANY($1::text[])',
      [numbers],
    );
    return new Map(rows.map((r) => [r.number, r.id]));
  }
  async createAccounts(
    rows: Array<{ d: AccountDescriptor; memberId: number | null; poolId: number | null }>,
    now: string,
  ) {
    const col = <T>(f: (r: (typeof rows)[number]) => T) => rows.map(f);
    await this.bulk(
      'createAccounts',
      `INSERT INTO accounts (code, kind, unit, member_id, pool_id, partner_code, service_type, tracks_lots, may_go_negative, balance, created_at)
       SELECT c, k, u, m, p, pc, st, tl, mn, 0, $10::timestamptz
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::bool[], $9::bool[])
           AS t(c, k, u, m, p, pc, st, tl, mn)
       ON CONFLICT (code) DO NOTHING`,
      [
        col((r) => r.d.code),
        col((r) => r.d.kind),
        col((r) => r.d.unit),
        col((r) => r.memberId),
        col((r) => r.poolId),
        col((r) => r.d.partnerCode ?? null),
        col((r) => r.d.serviceType ?? null),
        col((r) => r.d.tracksLots),
        col((r) => r.d.mayGoNegative),
        now,
      ],
    );
    return this.findAccounts(col((r) => r.d.code));
  }
  async insertPostings(rows: PostingRow[]) {
    const col = <T>(f: (r: PostingRow) => T) => rows.map(f);
    const returned = await this.bulk<{ id: number; idempotency_key: string }>(
      'insertPostings',
      `INSERT INTO postings (${POSTING_COLUMNS})
       SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::int[], $6::text[], $7::date[], $8::int[], $9::text[], $10::text[], $11::bigint[], $12::text[], $13::timestamptz[])
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key`,
      [
        col((r) => r.kind),
        col((r) => r.businessDate),
        col((r) => r.key),
        col((r) => r.contentHash),
        col((r) => r.memberId),
        col((r) => r.channel),
        col((r) => r.activityDate),
        col((r) => r.sourceFileId),
        col((r) => r.sourceRef),
        col((r) => r.ruleVersion),
        col((r) => r.reversalOf),
        col((r) => r.detail),
        col((r) => r.createdAt),
      ],
    );
    return new Map(returned.map((r) => [r.idempotency_key, r.id]));
  }
  async insertEntries(rows: EntryRow[]) {
    await this.bulk(
      'insertEntries',
      'INSERT INTO entries (posting_id, account_id, amount, business_date) SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::date[])',
      [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])],
    );
  }
  async insertLots(rows: LotInsert[]) {
    await this.bulk(
      'insertLots',
      `INSERT INTO lots (account_id, amount, remaining, earned_on, expires_on, origin_posting_id)
       SELECT a, n, n, e, x, p FROM unnest($1::int[], $2::bigint[], $3::date[], $4::date[], $5::bigint[]) AS t(a, n, e, x, p)`,
      [
        rows.map((r) => r[0]),
        rows.map((r) => r[1]),
        rows.map((r) => r[2]),
        rows.map((r) => r[3]),
        rows.map((r) => r[4]),
      ],
    );
  }
  async insertStatusCredits(rows: StatusCreditRow[]) {
    await this.bulk(
      'insertStatusCredits',
      'INSERT INTO status_credits (member_id, metric, amount, activity_date, posting_id) SELECT * FROM unnest($1::int[], $2::text[], $3::bigint[], $4::date[], $5::bigint[])',
      [
        rows.map((r) => r[0]),
        rows.map((r) => r[1]),
        rows.map((r) => r[2]),
        rows.map((r) => r[3]),
        rows.map((r) => r[4]),
      ],
    );
  }
  async addBalances(deltas: Array<[number, number]>) {
    await this.bulk(
      'addBalances',
      'UPDATE accounts a SET balance = a.balance + v.d FROM unnest($1::int[], $2::bigint[]) AS v(id, d) WHERE a.id = v.id',
      [deltas.map((d) => d[0]), deltas.map((d) => d[1])],
    );
  }
}
