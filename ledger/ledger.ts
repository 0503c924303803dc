/**
 * The posting engine. A posting is built, validated as a whole (balanced per unit, real accounts, lots
 * only where lots belong), then committed with its entries, lots, lot movements and status credits in
 * one transaction. The idempotency key makes every posting safe to replay: the same key with the same
 * content returns the original; the same key with other content is an error naming both.
 */
import type { Knex } from 'knex';
import type { Db } from '../db/connection.js';
import { isIsoDate } from '../lib/dates.js';
import { RedeyeError } from '../lib/errors.js';
import { canonical, fingerprint } from '../lib/fingerprint.js';
import { Accounts, describeAccount, type AccountDescriptor, type StatusMetric } from './accounts.js';
import {
  cameFrom,
  expiredOfLots,
  expiredPerAccount,
  followTransfers,
  heldByExpiry,
  inPlaceOfReversed,
  movesOf,
  shrinkDebits,
  withExpired,
  withLapsed,
  lapsedBy,
  withFollowed,
  type Followed,
  type InPlaceLookups,
  type LotTrace,
} from './follow.js';
import {
  AlreadyReversedError,
  IdempotencyConflictError,
  InsufficientPointsError,
  InvalidPostingError,
  ReversalBeforeOriginalError,
  UnbalancedPostingError,
  UnknownAccountOwnerError,
  UnknownPostingError,
} from './errors.js';
import {
  openStore,
  type AccountRow,
  type EntryRow,
  type ExpiredLot,
  type ExistingPosting,
  type LedgerStore,
  type LotInsert,
  type LotRow,
  type PostingRow,
  type StatusCreditRow,
} from './store.js';
import {
  isReversal,
  type EntryInput,
  type PostingInput,
  type PostingRequest,
  type PostOptions,
  type PostResult,
  type ReversalInput,
} from './types.js';

export interface LedgerOptions {
  /** The clock stamping `created_at`; tests pin it. */
  now?: () => Date;
}

interface PreparedPosting {
  type: 'posting';
  input: PostingInput;
  entries: Array<EntryInput & { descriptor: AccountDescriptor }>;
  hash: string;
}

interface PreparedReversal {
  type: 'reversal';
  input: ReversalInput;
  hash: string;
  /** The hash without the shortfall account, as every reversal was hashed before it was covered. */
  plainHash: string;
}

type Prepared = PreparedPosting | PreparedReversal;

const MAX_KEY = 200;

/**
 * The key of a lot's expiry: `EXP:<lot>` the first time, `EXP:<lot>:<n>` for its n-th. A lot expires
 * again when a cancelled redemption gives back points it had lent before its date (they return to the
 * very lot, with its date), or when a redemption of a day it was valid took part of what had expired
 * back and the rest expires again: reusing `EXP:<lot>` for that smaller amount was an idempotency
 * conflict that failed the expire job every night from then on.
 */
function lotExpiryKey(lotId: number, earlier: number): string {
  return earlier === 0 ? `EXP:${lotId}` : `EXP:${lotId}:${earlier + 1}`;
}

/** The expiry of `amount` points of a lot of account `code`, its `earlier` expiries counted. */
export function lotExpiry(
  lot: { id: number; code: string; expiresOn: string | null },
  amount: number,
  earlier: number,
  businessDate: string,
): PostingInput {
  const member = /^MEMBER:([^:]+):PTS$/.exec(lot.code)?.[1];
  return {
    key: lotExpiryKey(lot.id, earlier),
    kind: 'EXPIRY',
    businessDate,
    channel: 'EXPIRY',
    memberNumber: member,
    entries: [
      { account: lot.code, amount: -amount, lotId: lot.id },
      { account: Accounts.expiry, amount },
    ],
    sourceRef: `lot ${lot.id}${lot.expiresOn ? ` expiring ${lot.expiresOn}` : ' (inactivity)'}`,
  };
}

export class Ledger {
  /** Accounts known to be committed. Accounts created inside a transaction join only after it commits. */
  private readonly accounts = new Map<string, AccountRow>();
  private readonly now: () => Date;

  constructor(
    readonly db: Db,
    options: LedgerOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async postOne(
    request: PostingRequest,
    options: PostOptions & { trx?: Knex.Transaction } = {},
  ): Promise<PostResult> {
    const [result] = await this.post([request], options);
    return result!;
  }

  /**
   * Posts a batch in one transaction. Inside `options.trx` an atomic batch is a savepoint, so that a
   * refusal leaves nothing of it in the caller's transaction; a non-atomic one writes straight into it (its
   * refusals are results, and anything it throws must fail the caller's transaction anyway — a savepoint
   * would only hold the prior content of every page the batch changes in memory until its release). Every
   * request is validated before anything is written; see PostOptions for how refusals are handled.
   */
  async post(
    requests: PostingRequest[],
    options: PostOptions & { trx?: Knex.Transaction } = {},
  ): Promise<PostResult[]> {
    if (requests.length === 0) return [];
    const prepared = requests.map(prepare);
    const atomic = options.atomic ?? true;
    const createdAt = this.now().toISOString();
    const run = async (trx: Knex.Transaction) => {
      const store = await openStore(this.db.dialect, trx);
      const session = new PostingSession(
        store,
        this.accounts,
        createdAt,
        atomic,
        options.reversalBeforeOriginal === 'date-at-original',
      );
      const results = await session.applyAll(prepared);
      return { results, created: session.created };
    };
    if (options.trx) {
      const outer = options.trx;
      const { results, created } = atomic ? await outer.transaction(run) : await run(outer);
      outer.executionPromise.then(
        () => this.remember(created),
        () => undefined,
      );
      return results;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const { results, created } = await this.db.transaction(run);
        this.remember(created);
        return results;
      } catch (error) {
        // Concurrent batches on PostgreSQL may deadlock on account rows; the loser is safe to replay.
        const code = (error as { code?: unknown }).code;
        if (attempt < 6 && (code === '40P01' || code === '40001')) {
          await new Promise((r) => setTimeout(r, Math.random() * 50 * attempt));
          continue;
        }
        throw error;
      }
    }
  }

  private remember(created: AccountRow[]): void {
    // A night touches a few hundred thousand accounts; past that the cache starts again rather than grow.
    if (this.accounts.size + created.length > 250_000) this.accounts.clear();
    for (const a of created) this.accounts.set(a.code, a);
  }
}

// ------------------------------------------------------------------------------------------------ validation

function prepare(request: PostingRequest): Prepared {
  checkKey(request.key);
  if (!isIsoDate(request.businessDate)) {
    throw new InvalidPostingError(
      `posting ${request.key}: business date ${JSON.stringify(request.businessDate)} is not YYYY-MM-DD`,
      {
        key: request.key,
      },
    );
  }
  if (isReversal(request)) {
    checkKey(request.reverses);
    const fields = ['REVERSAL', request.businessDate, request.reverses, request.sourceRef];
    const plainHash = fingerprint(canonical(fields));
    // Only when set, so that the stored hashes of reversals without one stay what they were.
    const hash =
      request.shortfallTo === undefined
        ? plainHash
        : fingerprint(canonical([...fields, request.shortfallTo]));
    return { type: 'reversal', input: request, hash, plainHash };
  }
  return preparePosting(request);
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY) {
    throw new InvalidPostingError(
      `an idempotency key is a non-empty string of at most ${MAX_KEY} characters: ${JSON.stringify(key)}`,
    );
  }
}

function preparePosting(input: PostingInput): PreparedPosting {
  const key = input.key;
  const entries: PreparedPosting['entries'] = [];
  for (const e of input.entries) {
    entries.push({
      account: e.account,
      amount: e.amount,
      expiresOn: e.expiresOn,
      earnedOn: e.earnedOn,
      lotId: e.lotId,
      descriptor: describeAccount(e.account),
    });
  }
  for (const sc of input.statusCredits ?? []) {
    if (!Number.isSafeInteger(sc.amount) || sc.amount === 0) {
      throw new InvalidPostingError(
        `posting ${key}: a status credit is a non-zero whole number, got ${sc.amount}`,
        { key },
      );
    }
    if (!isIsoDate(sc.activityDate)) {
      throw new InvalidPostingError(
        `posting ${key}: status credit activity date ${sc.activityDate} is not YYYY-MM-DD`,
        { key },
      );
    }
    const member = Accounts.memberStatus(sc.memberNumber, sc.metric);
    const issued = Accounts.statusIssued(sc.metric);
    entries.push({ account: member, amount: sc.amount, descriptor: describeAccount(member) });
    entries.push({ account: issued, amount: -sc.amount, descriptor: describeAccount(issued) });
  }
  if (entries.length < 2) {
    throw new UnbalancedPostingError(
      `posting ${key} has ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}; a posting needs at least two`,
      {
        key,
      },
    );
  }
  // Most postings move one unit; a second unit (status credits) is the exception.
  let unit = '';
  let sum = 0;
  let others: Record<string, number> | undefined;
  let lotDebits = 0;
  let lotCredits = 0;
  const fields: Array<string | number | boolean | null | undefined> = [
    input.kind,
    input.businessDate,
    input.carryLots ?? false,
    input.memberNumber,
    input.channel,
    input.activityDate,
    input.sourceRef,
    input.ruleVersion,
    entries.length,
  ];
  for (const e of entries) {
    if (!Number.isSafeInteger(e.amount) || e.amount === 0) {
      throw new InvalidPostingError(
        `posting ${key}: entry on ${e.account} must be a non-zero whole number, got ${e.amount}`,
        {
          key,
          account: e.account,
        },
      );
    }
    const d = e.descriptor;
    if (unit === '' || d.unit === unit) {
      unit = d.unit;
      sum += e.amount;
    } else {
      others ??= {};
      others[d.unit] = (others[d.unit] ?? 0) + e.amount;
    }
    if (e.lotId !== undefined && (!d.tracksLots || e.amount > 0)) {
      throw new InvalidPostingError(
        `posting ${key}: lotId is only for a debit on a lot-tracking account (${e.account})`,
        { key },
      );
    }
    if (
      e.expiresOn !== undefined &&
      e.expiresOn !== null &&
      (!d.tracksLots || e.amount < 0 || !isIsoDate(e.expiresOn))
    ) {
      throw new InvalidPostingError(
        `posting ${key}: expiresOn is a date on a credit to a lot-tracking account (${e.account})`,
        { key },
      );
    }
    if (d.tracksLots) {
      if (e.amount < 0) lotDebits -= e.amount;
      else lotCredits += e.amount;
    }
    fields.push(e.account, e.amount, e.expiresOn, e.earnedOn, e.lotId);
  }
  const unbalanced: Array<[string, number]> = sum !== 0 ? [[unit, sum]] : [];
  for (const [u, s] of Object.entries(others ?? {})) if (s !== 0) unbalanced.push([u, s]);
  if (unbalanced.length > 0) {
    const [u, s] = unbalanced[0]!;
    throw new UnbalancedPostingError(`posting ${key} does not balance: its ${u} entries sum to ${s}, not 0`, {
      key,
      unit: u,
      sum: s,
    });
  }
  if (input.carryLots && lotDebits !== lotCredits) {
    throw new InvalidPostingError(
      `posting ${key} carries lots, so its lot-account debits (${lotDebits}) must equal its credits (${lotCredits})`,
      {
        key,
      },
    );
  }
  for (const s of input.statusCredits ?? []) fields.push(s.memberNumber, s.metric, s.amount, s.activityDate);
  return { type: 'posting', input, entries, hash: fingerprint(canonical(fields)) };
}

/**
 * `EXPIRED_LOTS_VALID_ON`'s order, for expiries read from more than one account (a merged member's
 * redemption): the ledger and the simulated ledger take them in it.
 */
export function byExpiryOrder(a: ExpiredLot, b: ExpiredLot): number {
  return (
    a.expiresOn.localeCompare(b.expiresOn) ||
    a.earnedOn.localeCompare(b.earnedOn) ||
    a.lotId - b.lotId ||
    a.postingId - b.postingId
  );
}

// ------------------------------------------------------------------------------------------------ session

/** Points a redemption takes back from one expiry of a lot valid on its date. */
interface ExpiredPiece extends ExpiredLot {
  /** The lot's account; and the account the redemption debits, another for a lot on her own account
   * that her merge or move into a pool did not carry (`movedFrom`). */
  accountId: number;
  debitId: number;
  /** What it takes of them, and what it has spent of that so far. */
  take: number;
  spent: number;
}

/** Lot pieces consumed by a posting's debits, handed to its credits when it carries lots. */
interface LotPiece {
  amount: number;
  earnedOn: string;
  expiresOn: string | null;
}

class Refusal extends Error {
  constructor(readonly error: RedeyeError) {
    super(error.message);
  }
}

class PostingSession {
  readonly created: AccountRow[] = [];
  private readonly local = new Map<string, AccountRow>();
  private readonly loaded = new Map<number, number>();
  private readonly pending = new Map<number, number>();
  private readonly memberIds = new Map<string, number>();

  constructor(
    private readonly store: LedgerStore,
    private readonly committed: Map<string, AccountRow>,
    private readonly createdAt: string,
    private readonly atomic: boolean,
    private readonly dateAtOriginal: boolean,
  ) {}

  /**
   * Applies a batch in order. Runs of plain credits (accruals: no guarded debit, no lot choice) go
   * through bulk statements; anything that must read balances or lots goes one posting at a time.
   */
  async applyAll(prepared: Prepared[]): Promise<PostResult[]> {
    await this.resolveAccounts(prepared);
    const results: PostResult[] = new Array(prepared.length);
    let run: number[] = [];
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i]!;
      if (p.type === 'posting' && this.isPlainCredit(p)) {
        run.push(i);
        continue;
      }
      if (run.length > 0) {
        await this.applyRun(run, prepared as PreparedPosting[], results);
        run = [];
      }
      results[i] = await this.apply(p);
    }
    if (run.length > 0) await this.applyRun(run, prepared as PreparedPosting[], results);
    await this.flush();
    return results;
  }

  async apply(p: Prepared): Promise<PostResult> {
    try {
      return p.type === 'posting' ? await this.applyPosting(p) : await this.applyReversal(p);
    } catch (error) {
      if (error instanceof Refusal) {
        if (this.atomic) throw error.error;
        return {
          key: p.input.key,
          status: 'refused',
          reason: error.error.code,
          message: error.error.message,
        };
      }
      throw error;
    }
  }

  private isPlainCredit(p: PreparedPosting): boolean {
    if (p.input.carryLots) return false;
    for (const e of p.entries) {
      if (e.lotId !== undefined) return false;
      if (e.amount < 0 && !e.descriptor.mayGoNegative) return false;
    }
    return true;
  }

  /** Resolves (creating where missing) every account the batch names, and takes their locks, in bulk. */
  private async resolveAccounts(prepared: Prepared[]): Promise<void> {
    const wanted = new Map<string, AccountDescriptor>();
    const members = new Set<string>();
    for (const p of prepared) {
      if (p.type !== 'posting') continue;
      if (p.input.memberNumber !== undefined && !this.memberIds.has(p.input.memberNumber))
        members.add(p.input.memberNumber);
      // What a redemption takes back on the member's own account, her points moved since, is posted there
      // in her name.
      const own = p.input.movedFrom === undefined ? undefined : describeAccount(p.input.movedFrom.account);
      if (own?.memberNumber !== undefined && !this.memberIds.has(own.memberNumber))
        members.add(own.memberNumber);
      for (const e of p.entries) {
        if (!this.committed.has(e.account) && !this.local.has(e.account)) wanted.set(e.account, e.descriptor);
      }
    }
    if (wanted.size > 0) {
      for (const row of await this.store.findAccounts([...wanted.keys()])) {
        this.local.set(row.code, row);
        wanted.delete(row.code);
      }
    }
    for (const d of wanted.values()) {
      if (d.memberNumber !== undefined && !this.memberIds.has(d.memberNumber)) members.add(d.memberNumber);
    }
    if (members.size > 0) {
      for (const [number, id] of await this.store.findMemberIds([...members])) this.memberIds.set(number, id);
    }
    if (wanted.size > 0) {
      const rows: Array<{ d: AccountDescriptor; memberId: number | null; poolId: number | null }> = [];
      for (const d of wanted.values()) {
        let memberId: number | null = null;
        let poolId: number | null = null;
        if (d.memberNumber !== undefined) {
          memberId = this.memberIds.get(d.memberNumber) ?? null;
          if (memberId === null) throw new UnknownAccountOwnerError(d.code, `member ${d.memberNumber}`);
        }
        if (d.poolCode !== undefined) {
          poolId = (await this.store.findPoolId(d.poolCode)) ?? null;
          if (poolId === null) throw new UnknownAccountOwnerError(d.code, `pool ${d.poolCode}`);
        }
        rows.push({ d, memberId, poolId });
      }
      for (const row of await this.store.createAccounts(rows, this.createdAt)) {
        this.local.set(row.code, row);
        this.created.push(row);
      }
    }
    const ids = new Set<number>();
    for (const p of prepared) {
      if (p.type !== 'posting') continue;
      for (const e of p.entries) ids.add(this.known(e.account).id);
    }
    if (ids.size > 0)
      for (const [id, balance] of await this.store.lockAccounts([...ids])) this.loaded.set(id, balance);
  }

  private known(code: string): AccountRow {
    return (this.committed.get(code) ?? this.local.get(code))!;
  }

  /** Posts a run of plain credits with one statement per table per chunk. */
  private async applyRun(
    indices: number[],
    prepared: PreparedPosting[],
    results: PostResult[],
  ): Promise<void> {
    const rows = indices.map((i) => this.postingRow(prepared[i]!));
    const inserted = await this.store.insertPostings(rows);
    const claimed = new Set<string>();
    const entries: EntryRow[] = [];
    const lots: LotInsert[] = [];
    const credits: StatusCreditRow[] = [];
    for (const i of indices) {
      const p = prepared[i]!;
      const key = p.input.key;
      const id = inserted.get(key);
      if (id === undefined || claimed.has(key)) {
        // Taken before this batch, or twice within it: a replay if the content matches.
        const existing = await this.store.findPostingByKey(key);
        results[i] = this.duplicate(key, existing!, p.hash);
        continue;
      }
      claimed.add(key);
      const date = p.input.businessDate;
      const earned = p.input.activityDate ?? date;
      for (const e of p.entries) {
        const row = this.known(e.account);
        entries.push([id, row.id, e.amount, date]);
        this.addPending(row.id, e.amount);
        if (e.amount > 0 && row.tracksLots)
          lots.push([row.id, e.amount, e.earnedOn ?? earned, e.expiresOn ?? null, id]);
      }
      for (const sc of p.input.statusCredits ?? []) {
        const row = this.known(Accounts.memberStatus(sc.memberNumber, sc.metric));
        credits.push([row.memberId!, sc.metric, sc.amount, sc.activityDate, id]);
      }
      results[i] = { key, status: 'posted', postingId: id };
    }
    if (entries.length > 0) await this.store.insertEntries(entries);
    if (lots.length > 0) await this.store.insertLots(lots);
    if (credits.length > 0) await this.store.insertStatusCredits(credits);
  }

  private postingRow(p: PreparedPosting): PostingRow {
    const input = p.input;
    let memberId: number | null = null;
    if (input.memberNumber !== undefined) {
      const id = this.memberIds.get(input.memberNumber);
      if (id === undefined)
        throw new UnknownAccountOwnerError(`posting ${input.key}`, `member ${input.memberNumber}`);
      memberId = id;
    } else {
      for (const e of p.entries) {
        const m = this.known(e.account).memberId;
        if (m !== null) {
          memberId = m;
          break;
        }
      }
    }
    return {
      kind: input.kind,
      businessDate: input.businessDate,
      key: input.key,
      contentHash: p.hash,
      memberId,
      channel: input.channel ?? null,
      activityDate: input.activityDate ?? null,
      sourceFileId: input.sourceFileId ?? null,
      sourceRef: input.sourceRef ?? null,
      ruleVersion: input.ruleVersion ?? null,
      reversalOf: null,
      detail: input.detail === undefined ? null : JSON.stringify(input.detail),
      createdAt: this.createdAt,
    };
  }

  async flush(): Promise<void> {
    const deltas: Array<[number, number]> = [];
    for (const [id, delta] of this.pending) if (delta !== 0) deltas.push([id, delta]);
    deltas.sort((a, b) => a[0] - b[0]);
    if (deltas.length > 0) await this.store.addBalances(deltas);
    for (const [id, delta] of deltas) {
      const before = this.loaded.get(id);
      if (before !== undefined) this.loaded.set(id, before + delta);
    }
    this.pending.clear();
  }

  // -------------------------------------------------------------------------------------------- postings

  private async applyPosting(prepared: PreparedPosting): Promise<PostResult> {
    let p = prepared;
    const { input } = p;
    let rows: AccountRow[] = [];
    for (const e of p.entries) rows.push(await this.account(e.descriptor));
    // A redemption spends the points valid on its date, some of which a later night's expiry may have
    // taken: the award system issued it against them.
    const spendsExpired = input.kind === 'REDEMPTION' && input.activityDate !== undefined;
    let guarded = guardedDebits(p.entries.map((e, i) => ({ row: rows[i]!, amount: e.amount })));
    let fromExpiry: ExpiredPiece[] = [];
    let unrecovered = 0;
    if (guarded.size > 0 || spendsExpired) {
      // Check for a replay before the balance: a duplicate must return the original even when the
      // balance has since been spent.
      const existing = await this.store.findPostingByKey(input.key);
      if (existing) return this.duplicate(input.key, existing, p.hash);
      if (spendsExpired) {
        const movedFrom =
          input.movedFrom === undefined
            ? undefined
            : await this.account(describeAccount(input.movedFrom.account));
        fromExpiry = await this.expiredToSpend(guarded, input.activityDate!, movedFrom);
        const back = new Map<number, number>();
        for (const x of fromExpiry) back.set(x.debitId, (back.get(x.debitId) ?? 0) + x.take);
        guarded = guardedDebits(
          p.entries.map((e, i) => ({ row: rows[i]!, amount: e.amount + (back.get(rows[i]!.id) ?? 0) })),
        );
      }
      if (input.shortfallTo !== undefined && guarded.size > 0) {
        const short = await this.withPostingShortfall(p, rows, guarded);
        ({ p, rows, unrecovered } = short);
        guarded = guardedDebits(p.entries.map((e, i) => ({ row: rows[i]!, amount: e.amount })));
      }
      await this.requireFunds(
        input.key,
        [...guarded.values()],
        input.businessDate,
        spendsExpired ? await this.lapsedBefore(guarded, input.activityDate!) : undefined,
      );
    }
    const unexpired = fromExpiry.reduce((n, x) => n + x.take, 0);
    // Each expiry it takes points from is reversed whole, as a reinstatement is, and what the
    // redemption leaves of it expires again (below): the reports read both as expiry movements of the
    // night, and a later reversal of the lot's credit finds what EXPIRY still holds of it.
    for (const key of new Set(fromExpiry.map((x) => x.postingKey))) {
      // An expiry a later night posted (this redemption comes with a rerun of an old night) is taken
      // back as of its own date: before it, EXPIRY did not hold the points.
      await this.applyReversal(
        prepare({
          key: `${key}:REDEEMED`,
          reverses: key,
          businessDate: input.businessDate,
          sourceRef: `taken back for ${input.key}, dated ${input.activityDate}, when the lot was valid`,
          detail: { redeemedBy: input.key, validOn: input.activityDate },
        }) as PreparedReversal,
        true,
      );
    }
    const spendable = await this.moveTakenBack(input, fromExpiry);
    const row = this.postingRow(p);
    const id = await this.store.insertPosting(
      unexpired > 0 || unrecovered > 0
        ? {
            ...row,
            detail: JSON.stringify({
              ...(input.detail as object | undefined),
              ...(unexpired > 0 ? { unexpired } : {}),
              ...(unrecovered > 0 ? { unrecovered } : {}),
            }),
          }
        : row,
    );
    if (id === null) {
      const existing = await this.store.findPostingByKey(input.key);
      return this.duplicate(input.key, existing!, p.hash);
    }
    for (let i = 0; i < p.entries.length; i++) {
      await this.store.insertEntry(id, rows[i]!.id, p.entries[i]!.amount, input.businessDate);
      this.addPending(rows[i]!.id, p.entries[i]!.amount);
    }
    // Debits first: a transfer's credits take over the lots its debits released.
    const carried: LotPiece[] = [];
    for (let i = 0; i < p.entries.length; i++) {
      const e = p.entries[i]!;
      if (e.amount >= 0 || !rows[i]!.tracksLots) continue;
      let left = -e.amount;
      for (const x of spendable) {
        if (x.accountId !== rows[i]!.id || x.take === 0 || left === 0) continue;
        const take = Math.min(x.take, left);
        await this.store.adjustLot(x.lotId, -take);
        await this.store.insertMovement(x.lotId, id, -take);
        carried.push({ amount: take, earnedOn: x.earnedOn, expiresOn: x.expiresOn });
        x.take -= take;
        x.spent += take;
        left -= take;
      }
      if (left > 0)
        carried.push(
          ...(await this.consume(
            input.key,
            rows[i]!,
            left,
            id,
            e.lotId,
            spendsExpired ? input.activityDate : undefined,
          )),
        );
    }
    const defaultEarned = input.activityDate ?? input.businessDate;
    for (let i = 0; i < p.entries.length; i++) {
      const e = p.entries[i]!;
      const row = rows[i]!;
      if (e.amount <= 0 || !row.tracksLots) continue;
      if (input.carryLots) {
        for (const piece of takePieces(carried, e.amount)) {
          await this.store.insertLot(row.id, piece.amount, piece.earnedOn, piece.expiresOn, id);
        }
      } else {
        await this.store.insertLot(row.id, e.amount, e.earnedOn ?? defaultEarned, e.expiresOn ?? null, id);
      }
    }
    for (const sc of input.statusCredits ?? []) {
      const row = await this.account(describeAccount(Accounts.memberStatus(sc.memberNumber, sc.metric)));
      await this.store.insertStatusCredit(row.memberId!, sc.metric, sc.amount, sc.activityDate, id);
    }
    // What the redemption left of the expiries it reversed expires again, under the lot's next key, as
    // the expire job would take it: on the night those expiries were (a redemption of an old night run
    // again must not expire it before the lot's date), or the redemption's, if later.
    const again = new Map<number, { x: ExpiredPiece; amount: number; on: string }>();
    for (const x of fromExpiry) {
      const a = again.get(x.lotId) ?? { x, amount: 0, on: input.businessDate };
      a.amount += x.expired - x.spent;
      if (x.expiredOn > a.on) a.on = x.expiredOn;
      again.set(x.lotId, a);
    }
    for (const { x, amount, on } of again.values()) {
      if (amount <= 0) continue;
      const lot = { id: x.lotId, code: (await this.accountById(x.accountId)).code, expiresOn: x.expiresOn };
      const earlier = await this.store.expiriesOfLot(x.lotId);
      await this.applyPosting(preparePosting(lotExpiry(lot, amount, earlier, on)));
    }
    return {
      key: input.key,
      status: 'posted',
      postingId: id,
      ...(unexpired > 0 ? { unexpired } : {}),
      ...(unrecovered > 0 ? { unrecovered } : {}),
    };
  }

  /**
   * A posting's entries with what its guarded debits find spent charged to `shortfallTo`, as a reversal's
   * are (`withShortfall`): each debit shrinks to what its account can give up as of the business date.
   */
  private async withPostingShortfall(
    p: PreparedPosting,
    rows: AccountRow[],
    guarded: Map<number, { row: AccountRow; amount: number }>,
  ): Promise<{ p: PreparedPosting; rows: AccountRow[]; unrecovered: number }> {
    const input = p.input;
    const shortOf = await this.shortOf(guarded, input.businessDate);
    if (shortOf.size === 0) return { p, rows, unrecovered: 0 };
    const to = await this.shortfallAccount(input);
    const descriptor = describeAccount(input.shortfallTo!);
    const out = p.entries.map((e, i) => ({ ...e, accountId: rows[i]!.id, row: rows[i]! }));
    const unrecovered = shrinkDebits(out, (e) => e.accountId, shortOf);
    const kept = out.filter((e) => e.amount !== 0);
    return {
      p: {
        ...p,
        entries: [
          ...kept.map(({ accountId: _a, row: _r, ...e }) => e),
          { account: input.shortfallTo!, amount: -unrecovered, descriptor },
        ],
      },
      rows: [...kept.map((e) => e.row), to],
      unrecovered,
    };
  }

  /**
   * The points of the debited award accounts that a redemption dated `validOn` takes back from EXPIRY,
   * before any open lot: what standing expiries took from lots still valid that day (`heldByExpiry`),
   * earliest expiring first, up to each debit. One whose member's points a merge or a move into a pool
   * has carried since (`movedFrom`, her own account) takes what expired on her account and, on the
   * debited one, only what expired of lots her move carried there: the survivor's, or the pool's other
   * members', own expired points were never hers to spend.
   */
  private async expiredToSpend(
    guarded: Map<number, { row: AccountRow; amount: number }>,
    validOn: string,
    movedFrom?: AccountRow,
  ): Promise<ExpiredPiece[]> {
    const out: ExpiredPiece[] = [];
    const look = { ...this.lotTrace(), ...this.lotLookups() };
    const held = async (row: AccountRow) =>
      (await heldByExpiry(await this.store.expiredLotsValidOn(row.id, validOn), look)).map((e) => ({
        ...e,
        accountId: row.id,
      }));
    const accountOf = async (lotId: number) => (await this.store.lot(lotId))!.accountId;
    for (const { row, amount } of guarded.values()) {
      if (!row.tracksLots) continue;
      let expired = await held(row);
      if (movedFrom !== undefined && movedFrom.id !== row.id) {
        const hers = [];
        for (const e of expired)
          if (await cameFrom(e.lotId, movedFrom.id, { ...look, accountOf })) hers.push(e);
        expired = [...hers, ...(await held(movedFrom))].sort(byExpiryOrder);
      }
      let left = -amount;
      for (const e of expired) {
        if (left === 0) break;
        const take = Math.min(e.expired, left);
        out.push({ ...e, debitId: row.id, take, spent: 0 });
        left -= take;
      }
    }
    return out;
  }

  /**
   * Moves what a redemption took back from EXPIRY on the member's own account (`movedFrom`) on to the
   * account it debits, as her merge or her move into the pool moved her open lots (`<redemption>:MERGED`,
   * `<redemption>:POOLED`, a transfer carrying the lots): the pieces the debit spends, those on her
   * account replaced by the lots the move made.
   */
  private async moveTakenBack(input: PostingInput, fromExpiry: ExpiredPiece[]): Promise<ExpiredPiece[]> {
    const moved = fromExpiry.filter((x) => x.accountId !== x.debitId);
    if (moved.length === 0 || input.movedFrom === undefined) return fromExpiry;
    const merge = input.movedFrom.by === 'MERGE';
    const from = await this.accountById(moved[0]!.accountId);
    const to = await this.accountById(moved[0]!.debitId);
    const points = moved.reduce((n, x) => n + x.take, 0);
    const transfer = await this.applyPosting(
      preparePosting({
        key: `${input.key}:${merge ? 'MERGED' : 'POOLED'}`,
        kind: 'TRANSFER',
        businessDate: input.businessDate,
        channel: 'TRANSFER',
        memberNumber: input.memberNumber,
        carryLots: true,
        entries: [
          ...moved.map((x) => ({ account: from.code, amount: -x.take, lotId: x.lotId })),
          { account: to.code, amount: points },
        ],
        sourceRef: `taken back from EXPIRY on ${from.code} for ${input.key}, dated ${input.activityDate}, and moved as the ${merge ? 'merge' : 'move into the pool'} moved the rest`,
      }),
    );
    // The redemption spends all it took back: what it leaves of each expiry expires again on her account.
    for (const x of moved) x.spent = x.take;
    const carried = (await this.store.lotsCreatedBy(transfer.postingId!)).map((lot) => ({
      ...moved[0]!,
      lotId: lot.id,
      accountId: to.id,
      earnedOn: lot.earnedOn,
      expiresOn: lot.expiresOn!,
      take: lot.amount,
      spent: 0,
    }));
    return [...fromExpiry.filter((x) => x.accountId === x.debitId), ...carried];
  }

  private async applyReversal(
    p: PreparedReversal,
    dateAtOriginal = this.dateAtOriginal,
  ): Promise<PostResult> {
    let { input } = p;
    const existing = await this.store.findPostingByKey(input.key);
    if (existing) return this.replayedReversal(p, existing);
    const original = await this.store.findPostingByKey(input.reverses);
    if (!original) throw new Refusal(new UnknownPostingError(input.reverses, { reversal: input.key }));
    if (original.reversalOf !== null) {
      throw new InvalidPostingError(
        `posting ${input.reverses} is itself a reversal; post a new posting instead of reversing it`,
        {
          key: input.key,
        },
      );
    }
    const earlier = await this.store.findReversalOf(original.id);
    if (earlier !== undefined)
      throw new Refusal(new AlreadyReversedError(input.reverses, earlier, input.key));
    // Judged as of a date before its original, the reversal would find the points not there yet: refused
    // though the member holds them, or with a shortfall account written off while they stay spendable.
    if (input.businessDate < original.businessDate) {
      if (!dateAtOriginal)
        throw new Refusal(
          new ReversalBeforeOriginalError(
            input.key,
            input.businessDate,
            input.reverses,
            original.businessDate,
          ),
        );
      input = {
        ...input,
        businessDate: original.businessDate,
        detail: { ...(input.detail as object | undefined), askedDate: input.businessDate },
      };
    }

    let entries = (await this.store.postingEntries(original.id)).map((e) => ({
      accountId: e.accountId,
      amount: -e.amount,
    }));
    const rows = new Map<number, AccountRow>();
    for (const e of entries) rows.set(e.accountId, await this.accountById(e.accountId));
    // What expired from the original's own lots, or from the lots transfers carried them into, was
    // booked to EXPIRY, not spent: it comes back from there.
    const ownLots = await this.store.lotsCreatedBy(original.id);
    const expiredOfLot = await expiredOfLots(original.id, this.lotTrace(), ownLots);
    const expiredOf = expiredPerAccount(ownLots, expiredOfLot, (lot) => lot.accountId);
    const expiryId = async () => {
      const expiry = await this.account(describeAccount(Accounts.expiry));
      rows.set(expiry.id, expiry);
      return expiry.id;
    };
    let expired = 0;
    if (expiredOf.size > 0) {
      ({ entries, expired } = withExpired(
        entries,
        (e) => e.accountId,
        (accountId, amount) => ({ accountId, amount }),
        expiredOf,
        await expiryId(),
      ));
    }
    // What a redemption took from lots whose date has passed by now goes back expired (withLapsed).
    // Only a redemption's: an expiry's reversal reinstates on purpose, a transfer's moves lots as they are.
    const returned =
      original.kind === 'REDEMPTION'
        ? await this.inPlaceOfReversed(original.id, await this.returnedTo(original.id))
        : await this.returnedTo(original.id);
    const lapses = (lot: { expiresOn: string | null }) =>
      original.kind === 'REDEMPTION' && lapsedBy(lot.expiresOn, input.businessDate);
    const lapsedOf = new Map<number, number>();
    for (const r of returned)
      if (lapses(r.lot)) lapsedOf.set(r.lot.accountId, (lapsedOf.get(r.lot.accountId) ?? 0) + r.amount);
    let lapsed = 0;
    if (lapsedOf.size > 0) {
      ({ entries, lapsed } = withLapsed(
        entries,
        (e) => e.accountId,
        (accountId, amount) => ({ accountId, amount }),
        lapsedOf,
        await expiryId(),
      ));
    }
    // Points (and status credits) a merge or a move into a pool took out of the account since are not
    // spent: the reversal takes them where they went.
    // (A transfer's own reversal would follow its points into itself: it is taken back as it stands.)
    const { followed, blocked } =
      original.kind === 'TRANSFER'
        ? { followed: [], blocked: false }
        : await this.followMoved(original.id, entries, rows, input.businessDate);
    if (followed.length > 0) {
      for (const f of followed) rows.set(f.account, await this.accountById(f.account));
      entries = withFollowed(
        entries,
        (e) => e.accountId,
        (accountId, amount) => ({ accountId, amount }),
        followed,
      );
    }
    let guarded = guardedDebits(entries.map((e) => ({ row: rows.get(e.accountId)!, amount: e.amount })));
    let unrecovered = 0;
    // Blocked: points moved away after the business date are not written off as of it (followTransfers).
    if (input.shortfallTo !== undefined && guarded.size > 0 && !blocked) {
      ({ entries, unrecovered } = await this.withShortfall(entries, guarded, input));
      if (unrecovered > 0) {
        const to = entries.at(-1)!.accountId;
        rows.set(to, await this.accountById(to));
        guarded = guardedDebits(entries.map((e) => ({ row: rows.get(e.accountId)!, amount: e.amount })));
      }
    }
    await this.requireFunds(input.key, [...guarded.values()], input.businessDate);

    const id = await this.store.insertPosting({
      kind: 'REVERSAL',
      businessDate: input.businessDate,
      key: input.key,
      contentHash: p.hash,
      memberId: original.memberId,
      channel: original.channel,
      activityDate: original.activityDate,
      sourceFileId: input.sourceFileId ?? null,
      sourceRef: input.sourceRef ?? null,
      ruleVersion: null,
      reversalOf: original.id,
      detail:
        unrecovered > 0 || expired > 0 || lapsed > 0
          ? JSON.stringify({
              ...(input.detail as object | undefined),
              ...(expired > 0 ? { expired } : {}),
              ...(unrecovered > 0 ? { unrecovered } : {}),
              ...(lapsed > 0 ? { lapsed } : {}),
            })
          : input.detail === undefined
            ? null
            : JSON.stringify(input.detail),
      createdAt: this.createdAt,
    });
    if (id === null) return this.replayedReversal(p, (await this.store.findPostingByKey(input.key))!);
    for (const e of entries) {
      await this.store.insertEntry(id, e.accountId, e.amount, input.businessDate);
      this.addPending(e.accountId, e.amount);
    }
    // What the original consumed comes back to the very lots it came from, with their expiry dates.
    // What comes back to a lot past its date leaves it again in the same posting: the lot reads as
    // having expired it (EXPIRED_FROM_LOTS_OF), so a reversal of the lot's credit takes it back from
    // EXPIRY, and the expire job finds nothing left to expire twice.
    for (const { lot, amount } of returned) {
      await this.store.insertMovement(lot.id, id, amount);
      if (lapses(lot)) await this.store.insertMovement(lot.id, id, -amount);
      else await this.store.adjustLot(lot.id, amount);
    }
    // What the original credited leaves its own lot first; if some was spent since, other lots cover it,
    // up to what the reversal takes from the account (less than the lot when part was unrecoverable).
    // What expired from the lot was taken from EXPIRY above, and no lot gives it again.
    // What was followed into an account leaves the lots the transfer carried, below.
    const owed = new Map<number, number>();
    for (const e of entries) if (e.amount < 0) owed.set(e.accountId, (owed.get(e.accountId) ?? 0) - e.amount);
    for (const f of followed) owed.set(f.account, (owed.get(f.account) ?? 0) - f.amount);
    for (const lot of ownLots) {
      const current = (await this.store.lot(lot.id))!;
      const budget = owed.get(lot.accountId) ?? 0;
      const held = Math.max(0, lot.amount - (expiredOfLot.get(lot.id) ?? 0));
      const take = Math.min(current.remaining, held, budget);
      if (take > 0) {
        await this.store.adjustLot(lot.id, -take);
        await this.store.insertMovement(lot.id, id, -take);
      }
      const rest = Math.min(held, budget) - take;
      if (rest > 0) await this.consume(input.key, await this.accountById(lot.accountId), rest, id);
      owed.set(lot.accountId, budget - take - rest);
    }
    // Points followed into another account leave the lots the transfer carried there first (those with
    // the dates of the original's own lots before the others), then the earliest expiring.
    const ownDates = (lot: LotRow) =>
      ownLots.some((o) => o.earnedOn === lot.earnedOn && o.expiresOn === lot.expiresOn);
    for (const f of followed) {
      const row = rows.get(f.account)!;
      if (!row.tracksLots) continue;
      let left = f.amount;
      const carried = (await this.store.lotsCreatedBy(f.viaPostingId)).filter((l) => l.accountId === row.id);
      for (const lot of [...carried.filter(ownDates), ...carried.filter((l) => !ownDates(l))]) {
        if (left === 0) break;
        const take = Math.min((await this.store.lot(lot.id))!.remaining, left);
        if (take === 0) continue;
        await this.store.adjustLot(lot.id, -take);
        await this.store.insertMovement(lot.id, id, -take);
        left -= take;
      }
      if (left > 0) await this.consume(input.key, row, left, id);
    }
    for (const sc of await this.reversedStatusCredits(original.id, entries, rows, followed)) {
      await this.store.insertStatusCredit(sc.memberId, sc.metric, -sc.amount, sc.activityDate, id);
    }
    return {
      key: input.key,
      status: 'posted',
      postingId: id,
      ...(expired > 0 ? { expired } : {}),
      ...(unrecovered > 0 ? { unrecovered } : {}),
      ...(lapsed > 0 ? { lapsed } : {}),
    };
  }

  /** The lots a posting took points out of, with the points each gives back to a reversal, in its order. */
  private async returnedTo(postingId: number): Promise<Array<{ lot: LotRow; amount: number }>> {
    const out: Array<{ lot: LotRow; amount: number }> = [];
    for (const m of await this.store.movementsOf(postingId))
      if (m.amount < 0) out.push({ lot: (await this.store.lot(m.lotId))!, amount: -m.amount });
    return out;
  }

  /** Where a cancelled redemption's points go back to (`inPlaceOfReversed`), with each lot read. */
  private async inPlaceOfReversed(
    redemptionId: number,
    returned: Array<{ lot: LotRow; amount: number }>,
  ): Promise<Array<{ lot: LotRow; amount: number }>> {
    // Nothing writes these lots while they are traced: each is read once, those given back already held.
    const lots = new Map(returned.map((r) => [r.lot.id, r.lot]));
    const lotOf = async (lotId: number) => {
      let lot = lots.get(lotId);
      if (lot === undefined) {
        lot = (await this.store.lot(lotId))!;
        lots.set(lotId, lot);
      }
      return lot;
    };
    const pieces = await inPlaceOfReversed(
      redemptionId,
      returned.map((r) => ({ lotId: r.lot.id, amount: r.amount })),
      {
        ...this.lotTrace(),
        ...this.lotLookups(),
        accountOf: async (lotId) => (await lotOf(lotId)).accountId,
        redirectedFromLot: async (lotId, reversalId) => this.store.redirectedFromLot(lotId, reversalId),
      },
    );
    const out: Array<{ lot: LotRow; amount: number }> = [];
    for (const p of pieces) out.push({ lot: await lotOf(p.lotId), amount: p.amount });
    return out;
  }

  /** How a lot's origin and a posting's reversal are found, to tell where a lot's points went back. */
  private lotLookups(): Pick<InPlaceLookups, 'originOf' | 'reversalOf'> {
    return {
      originOf: async (lotId) => this.store.lotOrigin(lotId),
      reversalOf: async (postingId) => this.store.findReversalOf(postingId),
    };
  }

  private lotTrace(): LotTrace {
    return {
      lotsCreatedBy: async (postingId) => this.store.lotsCreatedBy(postingId),
      movementsOf: async (postingId) => this.store.movementsOf(postingId),
      expiredFromLotsOf: async (postingId) =>
        new Map((await this.store.expiredFromLotsOf(postingId)).map((x) => [x.lotId, x.expired])),
      transfersOutOfLot: async (lotId) => this.store.transfersOutOfLot(lotId),
    };
  }

  /**
   * Follows the debits of a reversal on owners' accounts (member points and status, pools) that their
   * accounts no longer cover into where transfers moved them since the original (`followTransfers`).
   * Points accounts give what a debit of the business date may take; status accounts, which do not
   * refuse, their balance.
   */
  private async followMoved(
    originalId: number,
    entries: Array<{ accountId: number; amount: number }>,
    rows: Map<number, AccountRow>,
    businessDate: string,
  ): Promise<{ followed: Array<Followed<number>>; blocked: boolean }> {
    const debits = new Map<number, number>();
    for (const e of entries) {
      const row = rows.get(e.accountId)!;
      if (e.amount < 0 && (row.memberId !== null || row.tracksLots))
        debits.set(row.id, (debits.get(row.id) ?? 0) - e.amount);
    }
    return followTransfers(debits, originalId, businessDate, {
      transfersOut: async (account, after) =>
        movesOf(
          (await this.store.transfersOutSince(account, after)).map((t) => ({ ...t, to: t.toAccountId })),
        ),
      available: async (account) => this.available(await this.accountById(account), businessDate),
      balance: (account) => this.balance(account),
      guarded: async (account) => !(await this.accountById(account)).mayGoNegative,
    });
  }

  /**
   * The original's status credits as the reversal takes them back: from the member they were given to,
   * and for what a merge moved since, from the survivor, as the reversal's entries on the status
   * accounts say.
   */
  private async reversedStatusCredits(
    originalId: number,
    entries: Array<{ accountId: number; amount: number }>,
    rows: Map<number, AccountRow>,
    followed: Array<Followed<number>>,
  ) {
    const credits = await this.store.statusCreditsOf(originalId);
    const status = followed.filter((f) => !rows.get(f.root)!.tracksLots);
    if (status.length === 0) return credits;
    // Per status account of the original: who gives back how much, the original member first.
    const givers = new Map<string, Array<{ memberId: number; amount: number }>>();
    for (const root of new Set(status.map((f) => f.root))) {
      const row = rows.get(root)!;
      const debit = -entries.filter((e) => e.accountId === root).reduce((n, e) => n + e.amount, 0);
      const into = status.filter((f) => f.account === root).reduce((n, f) => n + f.amount, 0);
      givers.set(`${row.memberId}:${row.unit}`, [
        { memberId: row.memberId!, amount: debit - into },
        ...status
          .filter((f) => f.root === root)
          .map((f) => ({ memberId: rows.get(f.account)!.memberId!, amount: f.amount })),
      ]);
    }
    const out: typeof credits = [];
    for (const sc of credits) {
      const queue = givers.get(`${sc.memberId}:${sc.metric}`);
      let left = sc.amount;
      for (const g of sc.amount > 0 ? (queue ?? []) : []) {
        const take = Math.min(left, g.amount);
        if (take <= 0) continue;
        out.push({ ...sc, memberId: g.memberId, amount: take });
        g.amount -= take;
        left -= take;
      }
      if (left !== 0) out.push({ ...sc, amount: left });
    }
    return out;
  }

  /**
   * A reversal's entries with what the guarded accounts no longer hold charged to `shortfallTo` instead:
   * each debit shrinks to what its account can give up as of the business date, and one entry on the
   * shortfall account makes up the difference, so the posting still balances.
   */
  private async withShortfall(
    entries: Array<{ accountId: number; amount: number }>,
    guarded: Map<number, { row: AccountRow; amount: number }>,
    input: ReversalInput,
  ): Promise<{ entries: Array<{ accountId: number; amount: number }>; unrecovered: number }> {
    const shortOf = await this.shortOf(guarded, input.businessDate);
    if (shortOf.size === 0) return { entries, unrecovered: 0 };
    const to = await this.shortfallAccount(input);
    const out = entries.map((e) => ({ ...e }));
    const unrecovered = shrinkDebits(out, (e) => e.accountId, shortOf);
    if (unrecovered === 0) return { entries, unrecovered: 0 };
    return {
      entries: [...out.filter((e) => e.amount !== 0), { accountId: to.id, amount: -unrecovered }],
      unrecovered,
    };
  }

  /** Per guarded account, what its debit asks beyond what the account can give up as of `businessDate`. */
  private async shortOf(
    guarded: Map<number, { row: AccountRow; amount: number }>,
    businessDate: string,
  ): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    for (const { row, amount } of guarded.values()) {
      const short = -amount - Math.max(0, await this.available(row, businessDate));
      if (short > 0) out.set(row.id, short);
    }
    return out;
  }

  /**
   * The account `shortfallTo` names. It is debited for points nobody holds any more: it must be allowed
   * to go negative, and keep no lots, as such a debit has none to consume.
   */
  private async shortfallAccount(input: { key: string; shortfallTo?: string }): Promise<AccountRow> {
    const to = await this.account(describeAccount(input.shortfallTo!));
    if (to.mayGoNegative === false || to.tracksLots)
      throw new InvalidPostingError(
        `posting ${input.key}: shortfallTo ${input.shortfallTo} cannot take what its debits find spent: ` +
          `name an account that may go negative and keeps no lots, such as ${Accounts.unrecovered}`,
        { key: input.key },
      );
    return to;
  }

  // -------------------------------------------------------------------------------------------- helpers

  private duplicate(key: string, existing: ExistingPosting, incomingHash: string): PostResult {
    if (existing.contentHash !== incomingHash)
      throw new IdempotencyConflictError(
        key,
        { postingId: existing.id, contentHash: existing.contentHash },
        incomingHash,
      );
    return { key, status: 'duplicate', postingId: existing.id };
  }

  /**
   * A reversal offered again. Its hash covers the shortfall account only since reversals were stored with
   * one (`prepare`); one stored under the plain hash is judged by what it charged: a replay is the same
   * reversal when it charged nothing to a shortfall account (a reversal with one would have posted the
   * same then), or charged it to the very account the replay names.
   */
  private async replayedReversal(p: PreparedReversal, existing: ExistingPosting): Promise<PostResult> {
    const { key, shortfallTo } = p.input;
    if (existing.contentHash !== p.plainHash) return this.duplicate(key, existing, p.hash);
    const charged = await this.chargedToShortfall(existing.id);
    if (charged === undefined || charged.code === shortfallTo)
      return { key, status: 'duplicate', postingId: existing.id };
    throw new IdempotencyConflictError(
      key,
      { postingId: existing.id, contentHash: existing.contentHash },
      p.hash,
      `posting ${existing.id} charged the ${charged.amount} points it could not take back to ${charged.code}, ` +
        `offered again ${shortfallTo === undefined ? 'without a shortfall account' : `charging ${shortfallTo}`}`,
    );
  }

  /** What a stored reversal charged to its shortfall account (`withShortfall`: its last entry), if anything. */
  private async chargedToShortfall(postingId: number): Promise<{ code: string; amount: number } | undefined> {
    const detail = await this.store.postingDetail(postingId);
    const unrecovered = Number(
      (detail === null ? null : (JSON.parse(detail) as { unrecovered?: unknown } | null))?.unrecovered ?? 0,
    );
    if (!(unrecovered > 0)) return undefined;
    const last = (await this.store.postingEntries(postingId)).at(-1)!;
    return { code: await this.store.accountCode(last.accountId), amount: unrecovered };
  }

  /**
   * Refuses the posting unless each debit fits its account's balance, now and at every date since
   * `businessDate`. A redemption's `lapsed` points (`lapsedBefore`) are in the balance but not its to
   * spend, so they are left out of both.
   */
  private async requireFunds(
    key: string,
    debits: Array<{ row: AccountRow; amount: number }>,
    businessDate: string,
    lapsed?: { validOn: string; points: Map<number, number> },
  ): Promise<void> {
    for (const { row, amount } of debits) {
      const unusable = lapsed?.points.get(row.id) ?? 0;
      const code = unusable > 0 ? `${row.code} (valid on ${lapsed!.validOn})` : row.code;
      const balance = (await this.balance(row.id)) - unusable;
      if (balance + amount < 0) throw new Refusal(new InsufficientPointsError(key, code, balance, -amount));
      const lowest = await this.lowestSince(row, businessDate);
      if (lowest !== null && lowest - unusable + amount < 0)
        throw new Refusal(
          new InsufficientPointsError(
            key,
            `${code} (as of ${businessDate} and after)`,
            lowest - unusable,
            -amount,
          ),
        );
    }
  }

  /**
   * Per debited award account, the points still in its open lots whose last day is before `validOn`: a
   * redemption of that date cannot spend them, the award system having issued it when they were no
   * longer valid, though the expire job that takes them has not run yet (a night stopped before it).
   */
  private async lapsedBefore(
    guarded: Map<number, { row: AccountRow; amount: number }>,
    validOn: string,
  ): Promise<{ validOn: string; points: Map<number, number> }> {
    const points = new Map<number, number>();
    for (const { row } of guarded.values()) {
      if (!row.tracksLots) continue;
      let n = 0;
      for (const lot of await this.store.openLots(row.id)) if (pastItsDate(lot, validOn)) n += lot.remaining;
      if (n > 0) points.set(row.id, n);
    }
    return { validOn, points };
  }

  /** What a debit dated `businessDate` may take from the account: its balance now and at every date since. */
  private async available(row: AccountRow, businessDate: string): Promise<number> {
    const balance = await this.balance(row.id);
    const lowest = await this.lowestSince(row, businessDate);
    return lowest === null ? balance : Math.min(balance, lowest);
  }

  /**
   * A debit dated before entries already on the account (a rerun of an old night) must also fit every
   * balance from its date on, or the statement would show the account below zero back then: the lowest
   * of the balance at the end of that date and at the end of every later date, or null when no entry is
   * dated after it.
   */
  private async lowestSince(row: AccountRow, businessDate: string): Promise<number | null> {
    const latest = await this.store.latestEntryDate(row.id);
    if (latest === null || latest <= businessDate) return null;
    return lowestBalanceSince(await this.store.dailyTotals(row.id), businessDate);
  }

  private async balance(accountId: number): Promise<number> {
    let b = this.loaded.get(accountId);
    if (b === undefined) {
      b = await this.store.balanceForUpdate(accountId);
      this.loaded.set(accountId, b);
    }
    return b + (this.pending.get(accountId) ?? 0);
  }

  private addPending(accountId: number, amount: number): void {
    this.pending.set(accountId, (this.pending.get(accountId) ?? 0) + amount);
  }

  /**
   * Consumes `amount` from the account's lots (a given lot, or earliest expiry first). A redemption
   * passes its date, `validOn`: lots whose last day is before it are not its to take (`lapsedBefore`),
   * and stay whole for the expire job.
   */
  private async consume(
    key: string,
    row: AccountRow,
    amount: number,
    postingId: number,
    lotId?: number,
    validOn?: string,
  ): Promise<LotPiece[]> {
    const pieces: LotPiece[] = [];
    if (lotId !== undefined) {
      const lot = await this.store.lot(lotId);
      if (!lot || lot.accountId !== row.id || lot.remaining < amount) {
        throw new InvalidPostingError(
          `posting ${key} debits ${amount} from lot ${lotId} of ${row.code}, which ${lot ? `holds ${lot.remaining}` : 'does not exist'}`,
          { key, account: row.code, lotId },
        );
      }
      await this.store.adjustLot(lot.id, -amount);
      await this.store.insertMovement(lot.id, postingId, -amount);
      return [{ amount, earnedOn: lot.earnedOn, expiresOn: lot.expiresOn }];
    }
    let left = amount;
    for (const lot of await this.store.openLots(row.id)) {
      if (left === 0) break;
      if (validOn !== undefined && pastItsDate(lot, validOn)) continue;
      const take = Math.min(lot.remaining, left);
      await this.store.adjustLot(lot.id, -take);
      await this.store.insertMovement(lot.id, postingId, -take);
      pieces.push({ amount: take, earnedOn: lot.earnedOn, expiresOn: lot.expiresOn });
      left -= take;
    }
    if (left > 0) {
      throw new RedeyeError(
        'LEDGER_INTEGRITY',
        `the open lots of ${row.code} cover ${amount - left} of the ${amount} posting ${key} debits`,
        {
          key,
          account: row.code,
        },
      );
    }
    return pieces;
  }

  private async account(d: AccountDescriptor): Promise<AccountRow> {
    const known = this.committed.get(d.code) ?? this.local.get(d.code);
    if (known) return known;
    let row = await this.store.findAccount(d.code);
    if (!row) {
      let memberId: number | null = null;
      let poolId: number | null = null;
      if (d.memberNumber !== undefined) {
        memberId = (await this.store.findMemberId(d.memberNumber)) ?? null;
        if (memberId === null) throw new UnknownAccountOwnerError(d.code, `member ${d.memberNumber}`);
      }
      if (d.poolCode !== undefined) {
        poolId = (await this.store.findPoolId(d.poolCode)) ?? null;
        if (poolId === null) throw new UnknownAccountOwnerError(d.code, `pool ${d.poolCode}`);
      }
      row = await this.store.createAccount(d, { memberId, poolId }, this.createdAt);
      this.created.push(row);
    }
    this.local.set(d.code, row);
    return row;
  }

  private readonly byId = new Map<number, AccountRow>();

  private async accountById(id: number): Promise<AccountRow> {
    const hit = this.byId.get(id);
    if (hit) return hit;
    const row = await this.account(describeAccount(await this.store.accountCode(id)));
    this.byId.set(id, row);
    return row;
  }
}

/**
 * The lowest of an account's balance at the end of `businessDate` and at the end of every later date,
 * from its entries summed per date (oldest first); null when no entry is dated after it. The ledger and
 * the simulated ledger judge a back-dated debit alike through it.
 */
export function lowestBalanceSince(
  totals: Array<{ date: string; total: number }>,
  businessDate: string,
): number | null {
  let running = 0;
  let asOf = 0;
  let lowest: number | null = null;
  for (const { date, total } of totals) {
    running += total;
    if (date <= businessDate) asOf = running;
    else lowest = Math.min(lowest ?? running, running);
  }
  return lowest === null ? null : Math.min(lowest, asOf);
}

/** Whether a lot's last day is before `date`: a lot expiring on D is valid through D only. */
function pastItsDate(lot: { expiresOn: string | null }, date: string): boolean {
  return lot.expiresOn !== null && lot.expiresOn < date;
}

/** Debits on accounts that may not go negative, summed per account: what must be covered by funds. */
function guardedDebits(
  entries: Array<{ row: AccountRow; amount: number }>,
): Map<number, { row: AccountRow; amount: number }> {
  const guarded = new Map<number, { row: AccountRow; amount: number }>();
  for (const { row, amount } of entries) {
    if (amount >= 0 || row.mayGoNegative) continue;
    const g = guarded.get(row.id) ?? { row, amount: 0 };
    g.amount += amount;
    guarded.set(row.id, g);
  }
  return guarded;
}

function takePieces(pool: LotPiece[], amount: number): LotPiece[] {
  const out: LotPiece[] = [];
  let left = amount;
  while (left > 0) {
    const head = pool[0]!;
    const take = Math.min(head.amount, left);
    out.push({ ...head, amount: take });
    head.amount -= take;
    if (head.amount === 0) pool.shift();
    left -= take;
  }
  return out;
}

export type { StatusMetric };
