/**
 * Where a reversal finds the points its original credited when transfers (a merge into a survivor or
 * its pool, a move into a pool) took them out of the account since: the ledger and the simulated ledger
 * follow them through this one function, over their own look-ups (account ids there, codes here).
 */

/** Points (or status credits) one transfer moved out of an account into another. */
export interface TransferMove<K> {
  postingId: number;
  businessDate: string;
  to: K;
  amount: number;
}

/** Part of a reversal's debit taken from an account a transfer moved it into. */
export interface Followed<K> {
  /** The account the original credited. */
  root: K;
  account: K;
  amount: number;
  /** The transfer that moved it into `account`. */
  viaPostingId: number;
}

export interface FollowLookups<K> {
  /** The transfers out of `account` after posting `after`, oldest first. */
  transfersOut(account: K, after: number): Promise<Array<TransferMove<K>>>;
  /** What a debit of the reversal's business date may take from a guarded (points) account. */
  available(account: K): Promise<number>;
  /** The account's balance now. */
  balance(account: K): Promise<number>;
  /** Whether the account refuses to go below zero (points), as status accounts do not. */
  guarded(account: K): Promise<boolean>;
}

/**
 * Follows what `debits` (points each account must give up, by account) finds missing: each account
 * first gives what it holds, whichever points they are (as a reversal always has); for the rest, each
 * transfer out of it since the original gives, up to what it moved (over every path that reaches it),
 * what moved on from its destination since (followed in turn) and then what the destination holds. An
 * account is never asked twice for the same points, as a root or as a destination.
 *
 * `blocked`: points a transfer dated after the reversal's business date moved into a points account
 * could not be followed, yet that account holds points it did not hold as of that date (a night run
 * again after a later night merged the account). As of the date the points were still in the account;
 * written off they could stay spendable where they went, so the reversal is refused instead.
 */
export async function followTransfers<K>(
  debits: Map<K, number>,
  originalId: number,
  businessDate: string,
  look: FollowLookups<K>,
): Promise<{ followed: Array<Followed<K>>; blocked: boolean }> {
  const transfers = new Map<K, Array<TransferMove<K>>>();
  for (const account of debits.keys()) {
    const out = await look.transfersOut(account, originalId);
    if (out.length > 0) transfers.set(account, out);
  }
  const followed: Array<Followed<K>> = [];
  if (transfers.size === 0) return { followed, blocked: false };
  // What each account's own debit takes from it, before anything is followed into it.
  // A points account gives what a debit of the date may take; a status account, which refuses
  // nothing, its balance.
  const holds = async (account: K) =>
    (await look.guarded(account)) ? look.available(account) : look.balance(account);
  const taken = new Map<K, number>();
  for (const [account, amount] of debits)
    taken.set(account, Math.min(amount, Math.max(0, await holds(account))));
  const left = async (account: K) => Math.max(0, (await holds(account)) - (taken.get(account) ?? 0));
  let blocked = false;
  // What each transfer has still to give, over every path that reaches it.
  const room = new Map<string, number>();
  // Transfers only ever move forward (by posting id), so following them ends. `blocks`: a share left
  // short where the points are still held (see above), known only once the whole hop is followed.
  const reach = async (
    root: K,
    moves: Array<TransferMove<K>>,
    want: number,
  ): Promise<{ got: number; blocks: boolean }> => {
    let got = 0;
    let blocks = false;
    for (const t of moves) {
      if (got === want) break;
      const key = `${t.postingId}:${String(t.to)}`;
      const ask = Math.min(want - got, room.get(key) ?? t.amount);
      if (ask <= 0) continue;
      // What moved on from there went first: a transfer moves all the account holds, so what it holds
      // now came after, and is the points it had then only when nothing moved on.
      const on = await reach(root, await look.transfersOut(t.to, t.postingId), ask);
      const own = Math.min(ask - on.got, await left(t.to));
      if (own > 0) {
        followed.push({ root, account: t.to, amount: own, viaPostingId: t.postingId });
        taken.set(t.to, (taken.get(t.to) ?? 0) + own);
      }
      const share = on.got + own;
      room.set(key, (room.get(key) ?? t.amount) - share);
      if (
        share < ask &&
        (on.blocks ||
          (t.businessDate > businessDate &&
            (await look.guarded(t.to)) &&
            (await look.balance(t.to)) - (taken.get(t.to) ?? 0) > (await left(t.to))))
      )
        blocks = true;
      got += share;
    }
    return { got, blocks };
  };
  for (const [root, moves] of transfers) {
    const short = debits.get(root)! - taken.get(root)!;
    if (short > 0 && (await reach(root, moves, short)).blocks) blocked = true;
  }
  return { followed, blocked };
}

/**
 * Pairs what a transfer posting debited from an account with its credits to other owners' accounts of
 * the same unit: `moved` caps what the credits can stand for (a merge's status legs pass through
 * STATUS_ISSUED, which is not an owner's account and is left out by the query).
 */
export function movesOf<K>(
  rows: Array<{ postingId: number; businessDate: string; to: K; moved: number; credited: number }>,
): Array<TransferMove<K>> {
  const out: Array<TransferMove<K>> = [];
  const room = new Map<number, number>();
  for (const r of rows) {
    const left = room.get(r.postingId) ?? r.moved;
    const amount = Math.min(left, r.credited);
    room.set(r.postingId, left - amount);
    if (amount > 0) out.push({ postingId: r.postingId, businessDate: r.businessDate, to: r.to, amount });
  }
  return out;
}

/**
 * A reversal's entries with the debits followed into other accounts taken off the accounts the original
 * credited and put on the accounts they were followed into (merged with an entry already there).
 */
export function withFollowed<E extends { amount: number }, K>(
  entries: E[],
  accountOf: (e: E) => K,
  entry: (account: K, amount: number) => E,
  followed: Array<Followed<K>>,
): E[] {
  const out = entries.map((e) => ({ ...e }));
  const fromRoots = new Map<K, number>();
  for (const f of followed) fromRoots.set(f.root, (fromRoots.get(f.root) ?? 0) + f.amount);
  shrinkDebits(out, accountOf, fromRoots);
  for (const f of followed) {
    const there = out.find((e) => accountOf(e) === f.account);
    if (there) there.amount -= f.amount;
    else out.push(entry(f.account, -f.amount));
  }
  return out.filter((e) => e.amount !== 0);
}

/**
 * Shrinks, in place, the debits of `entries` on each account of `shortOf` by what that account no longer
 * holds, and returns the points taken off: the shortfall account's entry. The ledger and the simulated
 * ledger take a reversal's shortfall alike through it.
 */
export function shrinkDebits<E extends { amount: number }, K>(
  entries: E[],
  accountOf: (e: E) => K,
  shortOf: Map<K, number>,
): number {
  return shrinkSide(entries, accountOf, shortOf, -1);
}

/** `shrinkDebits` for one side of the entries: debits (`-1`) or credits (`1`). */
function shrinkSide<E extends { amount: number }, K>(
  entries: E[],
  accountOf: (e: E) => K,
  shortOf: Map<K, number>,
  side: 1 | -1,
): number {
  let taken = 0;
  for (const e of entries) {
    const short = shortOf.get(accountOf(e)) ?? 0;
    if (short <= 0 || side * e.amount <= 0) continue;
    const less = Math.min(short, side * e.amount);
    e.amount -= side * less;
    shortOf.set(accountOf(e), short - less);
    taken += less;
  }
  return taken;
}

/**
 * A reversal's entries with what expired from its original's own lots (`expiredOf`, per account) taken
 * off the debits of those accounts and debited from `expiryAccount` instead, and the points so moved.
 * Expired points were never the member's to spend: the program booked them to expiry once, and taking
 * them from the member's other points as well would take them twice. The ledger and the simulated
 * ledger split a reversal alike through it, before anything is followed or charged as unrecovered.
 */
export function withExpired<E extends { amount: number }, K>(
  entries: E[],
  accountOf: (e: E) => K,
  entry: (account: K, amount: number) => E,
  expiredOf: Map<K, number>,
  expiryAccount: K,
): { entries: E[]; expired: number } {
  const r = toExpiry(entries, accountOf, entry, expiredOf, expiryAccount, -1);
  return { entries: r.entries, expired: r.moved };
}

/**
 * `entries` with what `dueOf` names taken off that side of each account's entries (debits `-1`, credits
 * `1`) and booked to `expiryAccount` on the same side instead; unchanged when nothing moves.
 */
function toExpiry<E extends { amount: number }, K>(
  entries: E[],
  accountOf: (e: E) => K,
  entry: (account: K, amount: number) => E,
  dueOf: Map<K, number>,
  expiryAccount: K,
  side: 1 | -1,
): { entries: E[]; moved: number } {
  if (dueOf.size === 0) return { entries, moved: 0 };
  const out = entries.map((e) => ({ ...e }));
  const moved = shrinkSide(out, accountOf, new Map(dueOf), side);
  if (moved === 0) return { entries, moved: 0 };
  out.push(entry(expiryAccount, side * moved));
  return { entries: out.filter((e) => e.amount !== 0), moved };
}

/**
 * Whether a lot expiring on `expiresOn` has expired by the night of `businessDate`: as the expire job
 * takes it, a lot expiring on D is due the night of D. A lot without a date never lapses by its date.
 */
export function lapsedBy(expiresOn: string | null, businessDate: string): boolean {
  return expiresOn !== null && expiresOn <= businessDate;
}

/**
 * A cancellation's entries with what goes back to lots whose date has passed (`lapsedOf`, per account)
 * taken off its credits to those accounts and credited to `expiryAccount` instead, and the points so
 * moved. Those points would have expired with their lot had the redemption not taken them: given back
 * to the balance, a redemption of the same night could spend them before the expire job, which runs
 * after accrue, took them. The ledger and the simulated ledger split a cancellation alike through it.
 */
export function withLapsed<E extends { amount: number }, K>(
  entries: E[],
  accountOf: (e: E) => K,
  entry: (account: K, amount: number) => E,
  lapsedOf: Map<K, number>,
  expiryAccount: K,
): { entries: E[]; lapsed: number } {
  const r = toExpiry(entries, accountOf, entry, lapsedOf, expiryAccount, 1);
  return { entries: r.entries, lapsed: r.moved };
}

/** What the ledger's and the simulated ledger's stores tell of lots, to trace where points expired. */
export interface LotTrace {
  /** The lots a posting created, oldest first. */
  lotsCreatedBy(postingId: number): Promise<Array<{ id: number; amount: number }>>;
  /** What a posting took out of lots (negative) or put back (positive), in the order it did. */
  movementsOf(postingId: number): Promise<Array<{ lotId: number; amount: number }>>;
  /** Per lot a posting created, what left it through expiry (`EXPIRED_FROM_LOTS_OF`). */
  expiredFromLotsOf(postingId: number): Promise<Map<number, number>>;
  /** The transfers that took points out of a lot, oldest first. */
  transfersOutOfLot(lotId: number): Promise<number[]>;
}

/**
 * Per lot a posting created, the points of it that expired: in the lot itself, and in the lots the
 * transfers that took points out of it since (a merge, a move into a pool, and any transfer on from
 * there) carried them into. A transfer consumes its debit's lots in order and creates one lot per piece,
 * each from a single lot, in the same order, so which lot a carried lot came from is exact. `own`: the
 * lots the posting created, when the caller has them already (it reads them to tell whose they are).
 */
export async function expiredOfLots(
  postingId: number,
  look: LotTrace,
  own?: ReadonlyArray<{ id: number }>,
): Promise<Map<number, number>> {
  const expiredIn = new Map<number, Map<number, number>>();
  const expiredOf = async (creator: number, lot: number) => {
    let m = expiredIn.get(creator);
    if (m === undefined) expiredIn.set(creator, (m = await look.expiredFromLotsOf(creator)));
    return m.get(lot) ?? 0;
  };
  const carried = new Map<number, Map<number, number[]>>();
  const carriedBy = async (t: number) => {
    let from = carried.get(t);
    if (from === undefined) carried.set(t, (from = await lotsCarriedBy(t, look)));
    return from;
  };
  const downstream = async (lot: number): Promise<number> => {
    let n = 0;
    for (const t of await look.transfersOutOfLot(lot))
      for (const c of (await carriedBy(t)).get(lot) ?? [])
        n += (await expiredOf(t, c)) + (await downstream(c));
    return n;
  };
  const out = new Map<number, number>();
  for (const lot of own ?? (await look.lotsCreatedBy(postingId))) {
    const expired = (await expiredOf(postingId, lot.id)) + (await downstream(lot.id));
    if (expired > 0) out.set(lot.id, expired);
  }
  return out;
}

/**
 * The lots transfer `t` created from pieces of each lot it took points out of (by the lot taken from). A
 * transfer consumes its debit's lots in order and creates one lot per piece, each from a single lot, in
 * the same order.
 */
async function lotsCarriedBy(
  t: number,
  look: Pick<LotTrace, 'movementsOf' | 'lotsCreatedBy'>,
): Promise<Map<number, number[]>> {
  const from = new Map<number, number[]>();
  const pieces = (await look.movementsOf(t))
    .filter((m) => m.amount < 0)
    .map((m) => ({ lotId: m.lotId, left: -m.amount }));
  for (const lot of await look.lotsCreatedBy(t)) {
    while (pieces.length > 0 && pieces[0]!.left === 0) pieces.shift();
    const head = pieces[0];
    if (head === undefined) break;
    from.set(head.lotId, [...(from.get(head.lotId) ?? []), lot.id]);
    head.left -= lot.amount;
  }
  return from;
}

/**
 * Whether a lot's points came from account `from`: the lot is in it, or a transfer (a merge, a move into
 * a pool) carried them out of a lot that came from it. A redemption whose member's points such a move
 * carried since its date takes back from EXPIRY what expired of her points where the move carried them,
 * not the survivor's or the pool's other members' own.
 */
export async function cameFrom<K>(
  lotId: number,
  from: K,
  look: Pick<LotTrace, 'movementsOf' | 'lotsCreatedBy'> & {
    originOf(lotId: number): Promise<{ postingId: number; transfer: boolean }>;
    accountOf(lotId: number): Promise<K>;
  },
): Promise<boolean> {
  for (let lot: number | undefined = lotId; lot !== undefined;) {
    if ((await look.accountOf(lot)) === from) return true;
    const { postingId, transfer } = await look.originOf(lot);
    if (!transfer) return false;
    const made: number = lot;
    lot = [...(await lotsCarriedBy(postingId, look))].find(([, to]) => to.includes(made))?.[0];
  }
  return false;
}

/**
 * The postings a lot's points came through, the lot's own origin first: through each transfer that
 * carried them (a merge, a move into a pool), the origin of the lot it took them from, back to the credit
 * that earned them. A reversal of any of them takes what had expired from the lot back from EXPIRY
 * (`expiredOfLots` counts the lots a posting's lots were carried into).
 */
export async function originsOfLot(
  lotId: number,
  look: Pick<LotTrace, 'movementsOf' | 'lotsCreatedBy'> & {
    /** The posting that created the lot, and whether it is a transfer (which carried it from another). */
    originOf(lotId: number): Promise<{ postingId: number; transfer: boolean }>;
  },
): Promise<number[]> {
  const out: number[] = [];
  for (let lot: number | undefined = lotId; lot !== undefined;) {
    const { postingId, transfer } = await look.originOf(lot);
    out.push(postingId);
    if (!transfer) break;
    const made: number = lot;
    lot = [...(await lotsCarriedBy(postingId, look))].find(([, to]) => to.includes(made))?.[0];
  }
  return out;
}

/**
 * Of the standing expiries of lots valid on a redemption's date (`EXPIRED_LOTS_VALID_ON`), those whose
 * points EXPIRY still holds: a reversal of the credit that earned the lot, or of a transfer that carried
 * it (`originsOfLot`), posted after the expiry took what had expired back from EXPIRY (`withExpired`),
 * and those points are no longer anyone's to spend. The ledger and the simulated ledger judge alike
 * through it, as the reinstatement of an inactivity expiry does.
 */
export async function heldByExpiry<E extends { lotId: number; postingId: number }>(
  expiries: readonly E[],
  look: Pick<LotTrace, 'movementsOf' | 'lotsCreatedBy'> & Pick<InPlaceLookups, 'originOf' | 'reversalOf'>,
): Promise<E[]> {
  const out: E[] = [];
  for (const e of expiries) {
    let held = true;
    for (const origin of await originsOfLot(e.lotId, look)) {
      const reversal = await look.reversalOf(origin);
      if (reversal !== undefined && reversal > e.postingId) held = false;
    }
    if (held) out.push(e);
  }
  return out;
}

/** `expiredOfLots`' points summed per account the lots are in (`accountOf`). */
export function expiredPerAccount<L extends { id: number }, K>(
  lots: readonly L[],
  expired: ReadonlyMap<number, number>,
  accountOf: (lot: L) => K,
): Map<K, number> {
  const out = new Map<K, number>();
  for (const lot of lots) {
    const n = expired.get(lot.id) ?? 0;
    if (n > 0) out.set(accountOf(lot), (out.get(accountOf(lot)) ?? 0) + n);
  }
  return out;
}

/** How a cancellation finds the lots a reversal took in place of a lot it gives back to (`inPlaceOfReversed`). */
export interface InPlaceLookups {
  /** The posting that created a lot, and whether it is a transfer (which carried it from another lot). */
  originOf(lotId: number): Promise<{ postingId: number; transfer: boolean }>;
  /** The posting reversing `postingId`, if any. */
  reversalOf(postingId: number): Promise<number | undefined>;
  lotsCreatedBy(postingId: number): Promise<Array<{ id: number }>>;
  movementsOf(postingId: number): Promise<Array<{ lotId: number; amount: number }>>;
  /** The account a lot is in, to tell the lots of the account given back to from others. */
  accountOf(lotId: number): Promise<number | string>;
  /** What cancellations posted after reversal `reversalId` already gave back in place of the lot (REDIRECTED_FROM_LOT). */
  redirectedFromLot(lotId: number, reversalId: number): Promise<number>;
}

/**
 * Where the points cancelled redemption `redemptionId` took from lots (`returned`, in its order) go back
 * to, when the credit of such a lot was reversed after the redemption. That reversal took what had been
 * spent of the lot from the account's other lots in its place; had the cancellation come first, those
 * would have been left whole and the points taken from the lot itself. So they go back to those lots,
 * with their own dates, and only what they do not cover to the lot: the same balance, lots and dates
 * whichever came first. Earlier cancellations of redemptions of the lot fill those lots first, in the
 * reversal's order. The ledger and the simulated ledger give back through this one function.
 */
export async function inPlaceOfReversed(
  redemptionId: number,
  returned: Array<{ lotId: number; amount: number }>,
  look: InPlaceLookups,
): Promise<Array<{ lotId: number; amount: number }>> {
  const out: Array<{ lotId: number; amount: number }> = [];
  const here = new Map<number, number>();
  for (const r of returned) {
    const origin = await look.originOf(r.lotId);
    const reversal = origin.transfer ? undefined : await look.reversalOf(origin.postingId);
    // A redemption after the reversal spent what came back to the lot since: it goes back there.
    if (reversal === undefined || reversal < redemptionId) {
      out.push(r);
      continue;
    }
    const own = new Set((await look.lotsCreatedBy(origin.postingId)).map((l) => l.id));
    const account = await look.accountOf(r.lotId);
    let skip = (await look.redirectedFromLot(r.lotId, reversal)) + (here.get(r.lotId) ?? 0);
    here.set(r.lotId, (here.get(r.lotId) ?? 0) + r.amount);
    let left = r.amount;
    for (const m of await look.movementsOf(reversal)) {
      if (left === 0) break;
      if (m.amount >= 0 || own.has(m.lotId) || (await look.accountOf(m.lotId)) !== account) continue;
      const free = Math.max(0, -m.amount - skip);
      skip = Math.max(0, skip + m.amount);
      const give = Math.min(free, left);
      if (give === 0) continue;
      out.push({ lotId: m.lotId, amount: give });
      left -= give;
    }
    if (left > 0) out.push({ lotId: r.lotId, amount: left });
  }
  return out;
}
