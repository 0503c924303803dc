/**
 * The member master feed: each row is a member's full current record. Rows are applied in `updated_at`
 * order — an older row never overwrites a newer one, whichever file it came in — and a merge moves the
 * merged account's points (with their lots and expiry dates) and live status credits to the survivor.
 * When the program redeems from pools, a pool member's points live in the pool: a member put into a pool
 * brings their own points along, and a merge into a pool member moves the points into the pool.
 */
import type { Knex } from 'knex';
import { Accounts, poolPointsAccount, type StatusMetric } from '../ledger/accounts.js';
import type { Ledger } from '../ledger/ledger.js';
import { memberRow } from '../ledger/members.js';
import { dateInZone } from '../lib/dates.js';
import type { PostingInput, StatusCreditInput } from '../ledger/types.js';
import { GROUP_ID_EXPECTED, type MemberRecord } from '../parsers/members.js';
import type { Program } from '../rules/program.js';
import { insertRejects, type FeedHandler, type RejectRow } from './ingest-file.js';
import { warn } from './ingest-feeds.js';
import { changeVerdict, storedCounts } from './registry.js';
import { erasedOn, erasedRecord, tokeniser } from './retention.js';
import type { JobContext } from './types.js';
import { insertedId } from '../db/rows.js';

/** Consent as stored: mailing kind (or `ALL`) → given. */
function consentJson(c: MemberRecord['marketingConsent']): Record<string, boolean> | null {
  if (!c) return null;
  const out: Record<string, boolean> = { ...c.byType };
  if (c.all !== null) out.ALL = c.all;
  return out;
}

/** A pool as stored: its id, and its type (HOUSEHOLD or CORPORATE). */
interface StoredPool {
  id: number;
  type: string;
}

/** The pool stored under the record's group id, if any. */
async function storedPool(trx: Knex.Transaction, r: MemberRecord): Promise<StoredPool | undefined> {
  if (!r.groupId) return undefined;
  const row = await trx('pools').where({ code: r.groupId }).first('id', 'type');
  return row ? { id: Number(row.id), type: String(row.type) } : undefined;
}

/**
 * The record's refusal when its group type contradicts the pool its group id names. A group id names one
 * pool of one type: a CORPORATE group taken into the household of the same id would spend that
 * household's points. The whole record is refused, as the feed refuses a record with a field it cannot
 * take, and the CRM's next record of the member is decided afresh.
 */
function poolTypeClash(
  source: RowSource,
  r: MemberRecord,
  known: StoredPool | undefined,
  enrolled: boolean,
): RejectRow | undefined {
  if (!known || !r.groupType || known.type === r.groupType) return undefined;
  return {
    line: source.line,
    field: 'group_type',
    reason: 'INCONSISTENT_FIELDS',
    message:
      `group ${r.groupId} is a ${known.type} pool, not ${r.groupType}: a group id names one pool of one type; ` +
      `nothing applied, ${r.memberNumber} ${enrolled ? 'stays as it was' : 'is not enrolled'}`,
    text: r.groupType,
    memberNumber: r.memberNumber,
  };
}

async function poolId(
  trx: Knex.Transaction,
  r: MemberRecord,
  known: StoredPool | undefined,
  now: string,
): Promise<number | null> {
  if (!r.groupType || !r.groupId) return null;
  if (known) return known.id;
  const [row] = await trx('pools')
    .insert({ code: r.groupId, type: r.groupType, created_at: now })
    .returning('id');
  return insertedId(row);
}

/** The account a merge lands at, and the one the record named when that was merged away since. */
interface Survivor {
  number: string;
  named?: string;
}

/**
 * Follows `merged_into` from the account a MERGED record names while that account was itself merged
 * away (on an earlier night, or by an earlier row): points moved to a merged account could never be
 * spent, nor its status credits count at any tier review. A closed account at the end cannot hold them
 * either, and a chain coming back to the merged member (or round in a circle) names no survivor: the
 * record is refused, with the chain in its message.
 */
async function finalSurvivor(
  trx: Knex.Transaction,
  member: string,
  named: string | null,
): Promise<
  Survivor | { reason: 'MEMBER_UNKNOWN' | 'ACCOUNT_CLOSED' | 'INCONSISTENT_FIELDS'; message: string }
> {
  // The message follows the chain: `B, since merged into C, which is closed`.
  let path = named ?? '(none)';
  const seen = new Set([member]);
  for (let at = named; ;) {
    if (at === null) return { reason: 'MEMBER_UNKNOWN', message: `${path}, which is not a member` };
    if (seen.has(at))
      return { reason: 'INCONSISTENT_FIELDS', message: `${path}, which was merged into ${at}` };
    seen.add(at);
    const row = await trx('members').where({ number: at }).first('status', 'merged_into');
    if (!row) return { reason: 'MEMBER_UNKNOWN', message: `${path}, which is not a member` };
    if (row.status === 'CLOSED') return { reason: 'ACCOUNT_CLOSED', message: `${path}, which is closed` };
    if (row.status !== 'MERGED') return at === named ? { number: at } : { number: at, named: named! };
    const next = (row.merged_into as string | null) ?? null;
    if (next === null || !seen.has(next)) path += `, since merged into ${next ?? '(none)'}`;
    at = next;
  }
}

/**
 * The accounts a merged member's points went to, in order: the survivor its merge named and, while that
 * one was merged away since, each account the points moved on to.
 */
async function mergeChain(trx: Knex.Transaction, member: string, first: string): Promise<string[]> {
  const chain: string[] = [];
  for (let at: string | null = first; at !== null && at !== member && !chain.includes(at);) {
    chain.push(at);
    const row: { status: string; merged_into: string | null } | undefined = await trx('members')
      .where({ number: at })
      .first('status', 'merged_into');
    at = row?.status === 'MERGED' ? ((row.merged_into as string | null) ?? null) : null;
  }
  return chain;
}

/**
 * The refusal of a record that merges an already merged member into another account than the one its
 * points went to. The merge moved them and the status credits to that survivor, where they have counted
 * since; storing the new survivor alone would send partners and later rejects to an account that holds
 * nothing of the member's, while the first survivor keeps someone else's points and tier. Naming an
 * account the points moved on to since is no redirect, nor is naming one they passed by on their way:
 * the account the CRM chose, merged away before the merge, which then landed at the end of its chain
 * (stored as `merged_into`) while the CRM's own record still names what it chose.
 */
async function mergeRedirect(
  trx: Knex.Transaction,
  source: RowSource,
  r: MemberRecord,
  current: Record<string, unknown> | undefined,
): Promise<RejectRow | undefined> {
  if (r.status !== 'MERGED' || current?.status !== 'MERGED' || !r.mergedInto) return undefined;
  const stored = (current.merged_into as string | null | undefined) ?? null;
  if (stored === null || r.mergedInto === stored) return undefined;
  const chain = await mergeChain(trx, r.memberNumber, stored);
  if (chain.includes(r.mergedInto)) return undefined;
  if ((await mergeChain(trx, r.memberNumber, r.mergedInto)).includes(stored)) return undefined;
  const on = current.closed_on ? ` on ${String(current.closed_on).slice(0, 10)}` : '';
  const held = chain.length > 1 ? `${stored}, since merged into ${chain.at(-1)}` : stored;
  return {
    line: source.line,
    field: 'merged_into',
    reason: 'INCONSISTENT_FIELDS',
    message:
      `${r.memberNumber} is already merged into ${stored}${on}, and its points and status credits went to ${held}; ` +
      `a merge is not undone by the feed: nothing applied, ${r.memberNumber} stays merged into ${stored}`,
    text: r.mergedInto,
    memberNumber: r.memberNumber,
  };
}

/** How many rows dropped as older a file's warnings name; the rest are counted. */
const OLDER_SHOWN = 20;

const sum = (byReason: Record<string, number>) => Object.values(byReason).reduce((a, b) => a + b, 0);

/** Where a row was read: the file (its registry id and name) and line a reject or warning names. */
interface RowSource {
  fileId: number;
  fileName: string;
  line: number;
}

/** The names a member's record carries, as stored. */
const NAME_COLUMNS = ['surname', 'given_name', 'surname_local', 'given_name_local'] as const;

export function membersHandler(
  ctx: JobContext,
  program: Program,
  ledger: Ledger,
): FeedHandler<MemberRecord> & { counts(): Record<string, number> } {
  const counts: Record<string, number> = {};
  const add = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  // The file being read, and the merges that waited in it and were refused when their survivor came
  // (counted `waiting` when read): rejects of this file, which records() returns so that they count as
  // its other rejects do.
  let reading: number | undefined;
  let refusedHere: RejectRow[] = [];
  // Those that waited in a file read before (an earlier night's, or tonight's), by file and reason: that
  // file's counts took each as a record and `waiting`, which end() corrects, once per file.
  const refusedEarlier = new Map<number, Record<string, number>>();
  // Rows of the file being read dropped as older than the CRM's latest word on their member, which the
  // run says: a row stamped ahead of its time would otherwise keep every correction out without a word.
  let older: string[] = [];
  let olderUnshown = 0;
  // What reached merged members' accounts after their merge and could not follow it, the survivor
  // closed since (`notMoved`): each is points or credits nobody can use until the back office moves them.
  let notMoved: string[] = [];
  // Whether any merge waits for its survivor: most nights none does, and a full member file then reads
  // no waiting merge per row.
  let anyWaiting = true;
  // The secret that keys erased names is read only when an erased member's record comes: a deployment
  // that never erased anyone runs without it. Without it the record is not stored (SECRET_MISSING).
  let token: ((value: string | null) => string | null) | undefined;
  const tokens = () => (token ??= tokeniser(ctx.env, ctx.config.retention.tokenSecretEnv));

  /**
   * Whether the record stored from `fileId` came in tonight's delivery: a row with the same `updated_at`
   * read after it replaces it (a later line, a later file), where one of an earlier night's file is the
   * same record sent again. Records stored before the file was kept (null) are of an earlier night.
   */
  // A full extract sent again asks this of nearly every row, of the same few files: a file's night does
  // not change while ingest runs.
  const fileTonight = new Map<number, boolean>();
  async function readTonight(trx: Knex.Transaction, fileId: unknown): Promise<boolean> {
    if (fileId === null || fileId === undefined) return false;
    const id = Number(fileId);
    let tonight = fileTonight.get(id);
    if (tonight === undefined) {
      const f = await trx('files').where({ id }).first('business_date');
      tonight = f !== undefined && String(f.business_date).slice(0, 10) === ctx.businessDate;
      fileTonight.set(id, tonight);
    }
    return tonight;
  }

  /**
   * Applies one row; returns its reject, if refused. A row that waited for its survivor was counted as
   * such (`waiting`) when it was read: landing, it counts only what it does (`merged`), so each row read
   * is counted once.
   */
  async function apply(
    trx: Knex.Transaction,
    source: RowSource,
    sent: MemberRecord,
    waited = false,
  ): Promise<RejectRow | undefined> {
    const now = ctx.now().toISOString();
    const outcome = (k: string) => {
      if (!waited) add(k);
    };
    const current = await trx('members').where({ number: sent.memberNumber }).first();
    const waiting =
      anyWaiting &&
      (await trx('member_merges_waiting')
        .where({ member_number: sent.memberNumber })
        .first('id', 'source_updated_at', 'file_id', 'merged_into', 'business_date'));
    // The CRM's latest word on the member is its stored record or, newer still, a merge of it waiting for
    // its survivor: a row older than either is not applied (an older merge would move the points to
    // another survivor, or wait beside the one waiting).
    for (const latest of [
      current && { at: current.source_updated_at, file: current.source_file_id, what: 'the record stored' },
      waiting && { at: waiting.source_updated_at, file: waiting.file_id, what: 'the merge waiting' },
    ]) {
      if (!latest || !latest.at) continue;
      const stored = String(latest.at);
      if (stored > sent.updatedAt) {
        outcome('older');
        if (!waited) await sayOlder(trx, source, sent, { ...latest, at: stored });
        return undefined;
      }
      if (stored === sent.updatedAt && !(await readTonight(trx, latest.file))) {
        outcome('sentAgain');
        return undefined;
      }
    }
    // Refused before anything is touched: a merge of the member waiting for its survivor waits on, as it
    // does behind a record the parser refuses.
    const known = await storedPool(trx, sent);
    const clash = poolTypeClash(source, sent, known, current !== undefined);
    if (clash) return clash;
    const redirect = await mergeRedirect(trx, source, sent, current);
    if (redirect) return redirect;
    // Once erased, a member stays erased: a record the CRM sends of them later (sent again, changed, a
    // merge waiting for its survivor) is kept as the erasure left theirs, never with the names in clear.
    const erasedAt = await erasedOn(trx, sent.memberNumber, current);
    const r = erasedAt ? erasedRecord(sent, tokens()) : sent;
    // A merge of this member waiting for its survivor is superseded by a row as new (or newer) that is
    // applied, and re-waits if it is the same merge: since the night it first waited, which retention
    // counts its period from (as a closed account's from its closure, kept when the CRM sends the record
    // again). A row refused leaves it waiting, as the parser's refusal does.
    let waitingSince = ctx.businessDate;
    const supersede = async () => {
      if (!waiting) return;
      await trx('member_merges_waiting').where({ id: waiting.id }).del();
      const since = String(waiting.business_date).slice(0, 10);
      if (waiting.merged_into === r.mergedInto && since < waitingSince) waitingSince = since;
    };
    let survivor: Survivor | undefined;
    // Why what reached an already merged member's account since its merge has nowhere to go now.
    let noSurvivor: string | undefined;
    if (r.status === 'MERGED') {
      const found = await finalSurvivor(trx, r.memberNumber, r.mergedInto);
      if ('reason' in found && current?.status === 'MERGED') {
        // The merge was made when it came: this is the member's record again, whose other changes
        // apply. Refusing it would keep them out every night the CRM sends it, for a survivor closed
        // since, and its closure moved nothing of the merged member's back.
        noSurvivor = found.message;
      } else if ('reason' in found) {
        if (r.mergedInto && !(await trx('members').where({ number: r.mergedInto }).first('id'))) {
          // The CRM opens the new account and merges the old one into it in one go, and the merge may be
          // stamped before the new account's full record: the whole record waits for the survivor's
          // enrolment, tonight or on a later night, and is applied then.
          await supersede();
          await trx('member_merges_waiting').insert({
            member_number: r.memberNumber,
            merged_into: r.mergedInto,
            source_updated_at: r.updatedAt,
            file_id: source.fileId,
            line: source.line,
            record: JSON.stringify(r),
            business_date: waitingSince,
            created_at: now,
          });
          anyWaiting = true;
          outcome('waiting');
          return undefined;
        }
        // The whole record waits for the CRM's correction: closing the account without moving its
        // points would leave them where nobody can spend them.
        return {
          line: source.line,
          field: 'merged_into',
          reason: found.reason,
          message: `${r.memberNumber} is merged into ${found.message}: nothing moved, ${r.memberNumber} stays as it was`,
          memberNumber: r.memberNumber,
        };
      } else survivor = found;
    }
    await supersede();
    const pool = await poolId(trx, r, known, now);
    const fields = memberRow({
      number: r.memberNumber,
      status: r.status,
      mergedInto: r.mergedInto,
      surname: r.surname,
      givenName: r.givenName,
      surnameLocal: r.surnameLocal,
      givenNameLocal: r.givenNameLocal,
      birthDate: r.birthDate,
      email: r.email,
      phone: r.phone,
      country: r.country,
      language: r.language,
      consent: consentJson(r.marketingConsent),
      enrolmentDate: r.enrolmentDate,
      enrolmentChannel: r.enrolmentChannel,
      poolId: pool,
      sourceUpdatedAt: r.updatedAt,
    });
    fields.source_file_id = source.fileId;
    if ((r.status === 'CLOSED' || r.status === 'MERGED') && !current?.closed_on)
      fields.closed_on = ctx.businessDate;
    if (r.status !== 'CLOSED' && r.status !== 'MERGED') fields.closed_on = null;
    // A pool's clock and the expiries a late earning undoes count a member's activity in the pool only
    // from the night they joined it; a record that keeps them in their pool keeps that night.
    const poolBefore = (current?.pool_id as number | string | null | undefined) ?? null;
    if (pool === null) fields.pool_since = null;
    else if (poolBefore === null || Number(poolBefore) !== pool) fields.pool_since = ctx.businessDate;
    // Where the account's points went, which partners' answers and later rejects name.
    if (survivor) fields.merged_into = survivor.number;
    else if (noSurvivor) fields.merged_into = current!.merged_into;
    if (current) {
      const since = (current.pool_since as string | null | undefined) ?? null;
      // The stay ends tonight: a late earning still gives back to that pool what it lost on the nights
      // the member was in it, and is credited there when it was earned there. A stay that began
      // tonight (or, on a rerun of an older night, after it) covers no night.
      if (poolBefore !== null && Number(poolBefore) !== pool && (since === null || since < ctx.businessDate))
        await trx('past_pool_memberships').insert({
          member_id: current.id,
          pool_id: Number(poolBefore),
          since,
          until: ctx.businessDate,
        });
      await keepFormerName(trx, ctx, current, fields, r.updatedAt, now);
      if (await stillSinceEnrolment(trx, current, r.enrolmentDate)) fields.tier_since = r.enrolmentDate;
      await trx('members').where({ id: current.id }).update(fields);
      await keepClosureSpell(trx, ctx, current, fields);
      outcome(current.status !== r.status ? `to${r.status}` : 'updated');
    } else {
      const [inserted] = await trx('members')
        .insert({
          ...fields,
          tier: program.baseTier,
          tier_since: r.enrolmentDate,
          // A record read a night after its enrolment date joins the registers from tonight on only: the
          // report of a date already past reads the same made again.
          registered_on: ctx.businessDate,
          ...(erasedAt ? { erased_at: erasedAt } : {}),
          created_at: now,
        })
        .returning('id');
      const id = insertedId(inserted);
      await keepClosureSpell(trx, ctx, { id, closed_on: null }, fields);
      outcome('enrolled');
    }
    // A stay that began tonight and ends tonight covers no night: nobody is left in that pool for the
    // points the member brought to it, so they go on with the member.
    const sinceBefore = current?.pool_since ? String(current.pool_since).slice(0, 10) : null;
    if (poolBefore !== null && Number(poolBefore) !== pool && sinceBefore === ctx.businessDate) {
      const stays = pool !== null && r.status !== 'CLOSED' && !survivor && r.groupId ? r.groupId : null;
      const of = { member: r.memberNumber, file: source.fileName, line: source.line };
      if (await carryOnFromPool(trx, ctx, ledger, of, Number(poolBefore), stays, r.updatedAt))
        add('leftPoolTonight');
    }
    if (survivor) {
      await mergeInto(trx, ctx, ledger, r.memberNumber, survivor.number, {
        updatedAt: r.updatedAt,
        named: survivor.named,
      });
      add('merged');
    } else if (noSurvivor) {
      await sayNotMoved(trx, source, r, noSurvivor);
    } else if (r.status !== 'CLOSED' && pool !== null && r.groupId) {
      const of = { member: r.memberNumber, file: source.fileName, line: source.line };
      if (await poolInto(trx, ctx, ledger, of, r.groupId, r.updatedAt)) add('pooled');
    }
    if (anyWaiting) await mergesWaitingFor(trx, r.memberNumber);
    return undefined;
  }

  /**
   * Whether a record correcting the member's enrolment date moves the date his tier is held since: a
   * member no tier decision has moved holds the base tier since he enrolled, and a date typed ahead (2027
   * for 2026) and corrected the next night would otherwise say so until 2027.
   */
  async function stillSinceEnrolment(
    trx: Knex.Transaction,
    current: Record<string, unknown>,
    enrolmentDate: string,
  ): Promise<boolean> {
    const enrolled = current.enrolment_date ? String(current.enrolment_date).slice(0, 10) : null;
    const since = current.tier_since ? String(current.tier_since).slice(0, 10) : null;
    if (enrolled === null || enrolled === enrolmentDate || since !== enrolled) return false;
    return (await trx('tier_events').where({ member_id: current.id }).first('id')) === undefined;
  }

  /**
   * Notes, for the file's warnings, what reached a merged member's closed account since the merge (a
   * redemption cancelled after it) and stays there, its survivor closed since: no account the member's
   * points may go to is open. Nothing is said when nothing waits to move.
   */
  async function sayNotMoved(
    trx: Knex.Transaction,
    source: RowSource,
    r: MemberRecord,
    why: string,
  ): Promise<void> {
    const points = await pointsOf(trx, Accounts.memberPoints(r.memberNumber));
    const credits = await liveStatusCredits(trx, r.memberNumber);
    if (points <= 0 && credits.length === 0) return;
    add('notMoved');
    const held = [
      ...(points > 0 ? [`${points.toLocaleString('en-US')} points`] : []),
      ...(credits.length > 0 ? ['status credits'] : []),
    ].join(' and ');
    notMoved.push(
      `${source.fileName} line ${source.line}, merged_into: ${r.memberNumber} is merged into ${why}: the record is applied, ` +
        `but the ${held} that reached ${r.memberNumber} since its merge stay on its closed account, where nobody can spend them; ` +
        `moving them on is a correction for the back office, which no feed or command makes yet`,
    );
  }

  /** Notes a row dropped as older than the CRM's latest word on its member, for the file's warnings. */
  async function sayOlder(
    trx: Knex.Transaction,
    source: RowSource,
    sent: MemberRecord,
    latest: { at: string; file: unknown; what: string },
  ): Promise<void> {
    if (older.length >= OLDER_SHOWN) {
      olderUnshown++;
      return;
    }
    const from =
      latest.file === null || latest.file === undefined
        ? undefined
        : await trx('files')
            .where({ id: Number(latest.file) })
            .first('name');
    older.push(
      `${source.fileName} line ${source.line}, updated_at: ${sent.memberNumber}'s record of ${sent.updatedAt} is older than ` +
        `${latest.what} of ${latest.at}${from ? ` (from ${String(from.name)})` : ''}: not applied, that one stands`,
    );
  }

  /**
   * Applies the merges that waited for `survivor` to be a member, oldest first. One refused now (the
   * survivor came closed) is rejected on its own file and line, where the CRM looks for it, and counted a
   * reject of that file, no longer waiting.
   */
  async function mergesWaitingFor(trx: Knex.Transaction, survivor: string): Promise<void> {
    const waiting = (await trx('member_merges_waiting as w')
      .join('files as f', 'f.id', 'w.file_id')
      .where('w.merged_into', survivor)
      .orderBy([{ column: 'w.source_updated_at' }, { column: 'w.id' }])
      .select('w.id', 'w.file_id', 'w.line', 'w.record', 'f.name as file_name')) as Array<{
      id: number;
      file_id: number;
      line: number;
      record: string;
      file_name: string;
    }>;
    for (const w of waiting) {
      await trx('member_merges_waiting').where({ id: w.id }).del();
      const source = { fileId: Number(w.file_id), fileName: w.file_name, line: Number(w.line) };
      const refused = await apply(trx, source, JSON.parse(w.record) as MemberRecord, true);
      if (!refused) continue;
      if (source.fileId === reading) {
        refusedHere.push(refused);
        if (--counts.waiting! === 0) delete counts.waiting;
        continue;
      }
      await insertRejects(trx, ctx, { id: source.fileId, feed: 'members' }, [refused]);
      let earlier = refusedEarlier.get(source.fileId);
      if (!earlier) refusedEarlier.set(source.fileId, (earlier = {}));
      earlier[refused.reason] = (earlier[refused.reason] ?? 0) + 1;
    }
  }

  return {
    feed: 'members',
    counts: () => counts,
    // Oldest first across the whole file (ingest sorts it whole, then hands it over in batches), and rows
    // of one updated_at in the order they were sent: a later line replaces an earlier one. Rows of
    // different members depend on each other (a merge and its survivor's closure, a merge chain, the
    // members making a pool). Across files the stored updated_at (and, for a tie, the file it came in)
    // decides. The stamps are UTC ISO strings of one length: they compare as they sort in time.
    order: (a, b) =>
      a.record.updatedAt < b.record.updatedAt
        ? -1
        : a.record.updatedAt > b.record.updatedAt
          ? 1
          : a.line - b.line,
    async records(trx, file, batch) {
      reading = file.id;
      const rejects: RejectRow[] = [];
      anyWaiting = (await trx('member_merges_waiting').first('id')) !== undefined;
      for (const e of batch) {
        const refused = await apply(trx, { fileId: file.id, fileName: file.name, line: e.line }, e.record);
        if (refused) rejects.push(refused);
      }
      rejects.push(...refusedHere);
      refusedHere = [];
      return rejects;
    },
    // A file's counts add up to the records it held: one whose merge waited and is refused now holds a
    // reject more, a record and a waiting merge less. Its verdict history takes the change dated tonight,
    // so the report of the night that read it still shows the counts that night left.
    async end(trx, file, verdict) {
      for (const w of [...notMoved, ...older]) warn(verdict, w);
      notMoved = [];
      if (olderUnshown > 0)
        warn(
          verdict,
          `${file.name}: and ${olderUnshown} more records older than the ones stored, not applied`,
        );
      older = [];
      olderUnshown = 0;
      const when = { at: ctx.now().toISOString(), businessDate: ctx.businessDate };
      for (const [id, reasons] of refusedEarlier) {
        const n = sum(reasons);
        const row = await trx('files').where({ id }).first('counts');
        const c = storedCounts(row?.counts);
        c.records = (c.records ?? 0) - n;
        c.rejects = (c.rejects ?? 0) + n;
        c.waiting = (c.waiting ?? 0) - n;
        if (c.waiting <= 0) delete c.waiting;
        await changeVerdict(trx, { id }, { counts: JSON.stringify(c) }, when);
      }
    },
    earlierFiles: () =>
      [...refusedEarlier].map(([fileId, reasons]) => ({
        fileId,
        reasons,
        counts: { waiting: sum(reasons) },
      })),
  };
}

/**
 * Keeps the name a record replaces, with the day of the change as the last it was in force: a flight
 * flown under it before then and arriving after is still the member's (rules/eligibility.ts). An erased
 * member's names are tokens, kept nowhere else.
 */
async function keepFormerName(
  trx: Knex.Transaction,
  ctx: JobContext,
  current: Record<string, unknown>,
  next: Record<string, unknown>,
  updatedAt: string,
  now: string,
): Promise<void> {
  if (current.erased_at || !current.surname) return;
  const name = (row: Record<string, unknown>, c: string) => (row[c] as string | null | undefined) ?? null;
  if (NAME_COLUMNS.every((c) => name(current, c) === name(next, c))) return;
  await trx('member_names').insert({
    member_id: current.id,
    ...Object.fromEntries(NAME_COLUMNS.map((c) => [c, name(current, c)])),
    // The program's day of the change, as activity dates are: 22:30 UTC is the next day in Moscow.
    valid_until: dateInZone(new Date(updatedAt), ctx.config.program.timeZone),
    created_at: now,
  });
}

/**
 * Keeps the spells the account spent closed or merged (`member_closures`), from the night that read its
 * closure or merge to the night that read a record opening it again: `closed_on` is only the account's
 * state now, cleared when the CRM reopens it, and the registers of the dates it was closed must still
 * leave it out. A spell's `merged_into` follows the member's, so the active members of a period it covers
 * still count as its survivor after an un-merge. `before` is the members row as it was, `after` the
 * fields just stored.
 */
async function keepClosureSpell(
  trx: Knex.Transaction,
  ctx: JobContext,
  before: { id: unknown; closed_on?: unknown; merged_into?: unknown },
  after: Record<string, unknown>,
): Promise<void> {
  const memberId = Number(before.id);
  const open = () => trx('member_closures').where({ member_id: memberId }).whereNull('reopened_on');
  const mergedInto = (after.merged_into as string | null | undefined) ?? null;
  const closedBefore = before.closed_on ? String(before.closed_on).slice(0, 10) : null;
  if (after.closed_on === undefined) {
    // Still closed: a merge of a closed account (or a merged account's record sent again) moves the
    // points on, and the spell names where they went.
    if (closedBefore && ((before.merged_into as string | null | undefined) ?? null) !== mergedInto)
      await open().update({ merged_into: mergedInto });
    return;
  }
  if (after.closed_on !== null) {
    await trx('member_closures').insert({
      member_id: memberId,
      closed_on: after.closed_on,
      merged_into: mergedInto,
    });
    return;
  }
  if (!closedBefore) return;
  // A spell that began tonight (or, on a rerun of an older night, after it) covers no night's register.
  await open().andWhere('closed_on', '>=', ctx.businessDate).del();
  const ended = await open().update({ reopened_on: ctx.businessDate });
  // Closed by something other than the ingest, which kept no spell: the spell is recorded as it ends,
  // so the registers of those dates still leave the account out.
  if (ended === 0 && closedBefore < ctx.businessDate)
    await trx('member_closures').insert({
      member_id: memberId,
      closed_on: closedBefore,
      reopened_on: ctx.businessDate,
      merged_into: null,
    });
}

/** An award account's balance (0 for an account not opened yet). */
async function pointsOf(trx: Knex.Transaction, account: string): Promise<number> {
  const row = await trx('accounts').where({ code: account }).first('balance');
  return Number(row?.balance ?? 0);
}

/**
 * The key of a move made once between two parties: `first` the first time; when the record comes again
 * (the CRM re-sends it with other changes), what reached the account since follows under
 * `first:<updated_at>` of the record that moves it. An applied record's `updated_at` is newer than any
 * before it, so each move has a key of its own however often the CRM sends the record in a day, and the
 * same key when a night killed before its commit applies the record again. Moves of nights before keep
 * the keys they were posted under (`first:<businessDate>`): none is looked up again.
 */
async function moveKey(trx: Knex.Transaction, first: string, updatedAt: string): Promise<string> {
  const again = await trx('postings').where({ idempotency_key: first }).first('id');
  return again ? `${first}:${updatedAt}` : first;
}

/**
 * A transfer of `points` from one award account to another that takes the lots along with their
 * earning and expiry dates (`carryLots`), and moves the status credits given with it.
 */
function carryPosting(
  ctx: JobContext,
  move: {
    key: string;
    memberNumber: string;
    from: string;
    to: string;
    points: number;
    statusCredits?: StatusCreditInput[];
    sourceRef: string;
  },
): PostingInput {
  return {
    key: move.key,
    kind: 'TRANSFER',
    businessDate: ctx.businessDate,
    channel: 'TRANSFER',
    memberNumber: move.memberNumber,
    carryLots: true,
    entries:
      move.points > 0
        ? [
            { account: move.from, amount: -move.points },
            { account: move.to, amount: move.points },
          ]
        : [],
    statusCredits: move.statusCredits ?? [],
    sourceRef: move.sourceRef,
  };
}

/**
 * The pool account a member's points live in: their pool's, when the program redeems from pools (what
 * is kept anywhere else could never be spent); otherwise none.
 */
async function pooledAccount(trx: Knex.Transaction, ctx: JobContext, member: string): Promise<string | null> {
  if (ctx.config.pools.redeemFrom !== 'pool') return null;
  const row = await trx('members as m')
    .join('pools as p', 'p.id', 'm.pool_id')
    .where('m.number', member)
    .first('p.code as code');
  return row ? poolAccount(ctx, String(row.code), { member }) : null;
}

/** Whose points, and from which record of the members feed when there is one: a warning names them. */
interface PoolingOf {
  member: string;
  file?: string;
  line?: number;
}

/** The pool's award account, or null (with a warning) for a group id no account code can carry. */
function poolAccount(ctx: JobContext, poolCode: string, of: PoolingOf): string | null {
  const account = poolPointsAccount(poolCode);
  if (account) return account;
  const where = of.file ? ` (${of.file} line ${of.line}, group_id)` : '';
  ctx.logger.warn(
    { pool: poolCode, ...of },
    `group id ${poolCode} of member ${of.member}${where} cannot name a pool account: the member's points stay on the member's account until the CRM sends the member again with ${GROUP_ID_EXPECTED}`,
  );
  return null;
}

/**
 * Under `pools.redeemFrom: pool` a pool member's points live in the pool: moves the member's own open
 * points (lots and their dates) to the pool's account. Status credits stay with the member: status is
 * personal. Returns whether anything moved. A member who leaves the pool leaves the points in it.
 */
async function poolInto(
  trx: Knex.Transaction,
  ctx: JobContext,
  ledger: Ledger,
  of: PoolingOf,
  poolCode: string,
  updatedAt: string,
): Promise<boolean> {
  if (ctx.config.pools.redeemFrom !== 'pool') return false;
  const member = of.member;
  const own = Accounts.memberPoints(member);
  const points = await pointsOf(trx, own);
  if (points <= 0) return false;
  const pool = poolAccount(ctx, poolCode, of);
  if (!pool) return false;
  const key = await moveKey(trx, `POOL:${member}:${poolCode}`, updatedAt);
  await ledger.post(
    [
      carryPosting(ctx, {
        key,
        memberNumber: member,
        from: own,
        to: pool,
        points,
        sourceRef: `${member} joins pool ${poolCode}`,
      }),
    ],
    { trx },
  );
  return true;
}

/**
 * A member leaving, the night they joined it, the pool `poolId` that the same night's POOL: transfers
 * moved their points into: what those lots still hold moves on with them, lots and dates kept, to the
 * pool `nextPool` names (the member's points' new home) or else back to their own account, from where a
 * merge moves them on. Left in the pool they would belong to nobody: no member is in it, and no stay in
 * it is recorded. Returns whether anything moved.
 */
async function carryOnFromPool(
  trx: Knex.Transaction,
  ctx: JobContext,
  ledger: Ledger,
  of: PoolingOf,
  poolId: number,
  nextPool: string | null,
  updatedAt: string,
): Promise<boolean> {
  const left = await trx('pools').where({ id: poolId }).first('code');
  const from = left ? poolPointsAccount(String(left.code)) : null;
  if (!from) return false;
  const base = `POOL:${of.member}:${String(left.code)}`;
  const joined = (await trx('postings as p')
    .join('members as m', 'm.id', 'p.member_id')
    .where({ 'm.number': of.member, 'p.kind': 'TRANSFER', 'p.business_date': ctx.businessDate })
    .select('p.id', 'p.idempotency_key as key')) as Array<{ id: number | string; key: string }>;
  const moves = joined.filter((p) => p.key === base || p.key.startsWith(`${base}:`)).map((p) => Number(p.id));
  if (moves.length === 0) return false;
  const lots = (await trx('lots as l')
    .join('accounts as a', 'a.id', 'l.account_id')
    .whereIn('l.origin_posting_id', moves)
    .andWhere('a.code', from)
    .andWhere('l.remaining', '>', 0)
    .orderBy('l.id')
    .select('l.id', 'l.remaining')) as Array<{ id: number | string; remaining: number | string }>;
  const points = lots.reduce((n, l) => n + Number(l.remaining), 0);
  if (points === 0) return false;
  const to = (nextPool ? poolAccount(ctx, nextPool, of) : null) ?? Accounts.memberPoints(of.member);
  const where =
    to === Accounts.memberPoints(of.member) ? 'back to their own account' : `on to pool ${nextPool}`;
  await ledger.post(
    [
      {
        key: `UNPOOL:${of.member}:${String(left.code)}:${updatedAt}`,
        kind: 'TRANSFER',
        businessDate: ctx.businessDate,
        channel: 'TRANSFER',
        memberNumber: of.member,
        carryLots: true,
        entries: [
          ...lots.map((l) => ({ account: from, amount: -Number(l.remaining), lotId: Number(l.id) })),
          { account: to, amount: points },
        ],
        sourceRef: `${of.member} leaves pool ${String(left.code)} the night they joined it: the points they brought go ${where}`,
      },
    ],
    { trx },
  );
  return true;
}

/** A member's live status credits (not lapsed) by metric and activity date, those that sum to nothing left out. */
async function liveStatusCredits(
  trx: Knex.Transaction,
  member: string,
): Promise<Array<{ metric: StatusMetric; activityDate: string; amount: number }>> {
  const credits = (await trx('status_credits as s')
    .join('members as m', 'm.id', 's.member_id')
    .where('m.number', member)
    .whereNull('s.lapsed_by')
    .groupBy('s.metric', 's.activity_date')
    .select('s.metric as metric', 's.activity_date as activityDate')
    .sum({ amount: 's.amount' })
    // The credits' order is part of a merge posting's content hash: in PostgreSQL's hash order a rerun
    // of the merge could differ from the first run and be refused as a conflict.
    .orderBy([{ column: 's.metric' }, { column: 's.activity_date' }])) as Array<{
    metric: StatusMetric;
    activityDate: string;
    amount: number | string;
  }>;
  return credits
    .map((c) => ({ metric: c.metric, activityDate: c.activityDate, amount: Number(c.amount) }))
    .filter((c) => c.amount !== 0);
}

/**
 * Moves a merged account's points (lots and their dates) and live status credits to the survivor; the
 * points to the survivor's pool when it is in one and the program redeems from pools. `record` is the
 * members-feed record that makes the move: its `updated_at` keys a move after the first, and `named`
 * the account it named when the survivor is where that one was merged since (the statement says so).
 */
export async function mergeInto(
  trx: Knex.Transaction,
  ctx: JobContext,
  ledger: Ledger,
  from: string,
  to: string,
  record: { updatedAt: string; named?: string },
): Promise<void> {
  const balance = await pointsOf(trx, Accounts.memberPoints(from));
  const statusCredits: StatusCreditInput[] = [];
  for (const { metric, activityDate, amount } of await liveStatusCredits(trx, from)) {
    statusCredits.push({ memberNumber: from, metric, amount: -amount, activityDate });
    statusCredits.push({ memberNumber: to, metric, amount, activityDate });
  }
  // The survivor has been active whenever the merged account was: under inactivity expiry the points
  // moved to it would otherwise be judged by its own, older, last activity and could expire that night.
  const merged = await trx('members').where({ number: from }).first('last_activity_date');
  if (merged?.last_activity_date) {
    const last = String(merged.last_activity_date).slice(0, 10);
    await trx('members')
      .where({ number: to })
      .andWhere((q) => q.whereNull('last_activity_date').orWhere('last_activity_date', '<', last))
      .update({ last_activity_date: last });
  }
  if (balance === 0 && statusCredits.length === 0) return;
  // The record of a merged member can come again (the CRM re-sends it with other changes). The merge
  // was made then; what reached the closed account since (a cancelled redemption restoring its lots)
  // follows under a key of its own.
  const posting = carryPosting(ctx, {
    key: await moveKey(trx, `MERGE:${from}:${to}`, record.updatedAt),
    memberNumber: to,
    from: Accounts.memberPoints(from),
    to: (balance > 0 ? await pooledAccount(trx, ctx, to) : null) ?? Accounts.memberPoints(to),
    points: balance,
    statusCredits,
    sourceRef:
      `merge of ${from} into ${to}` +
      (record.named ? `: the record named ${record.named}, since merged into ${to}` : ''),
  });
  await ledger.post([posting], { trx });
}
