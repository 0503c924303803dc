/**
 * Personal data lives only as long as the program allows. `retention` erases the personal fields of
 * members closed for longer than the configured period; `redeye member forget` does the same for one
 * member on request. Names become irreversible tokens (a keyed hash: the same name always gives the same
 * token, so duplicates can still be recognised, but nothing gives the name back); birth date, e-mail and
 * phone are removed. Member numbers and every posting stay: the books still balance. Each erasure is
 * recorded, without the erased data. An account never enrolled whose merge waits for its survivor is
 * erased the same way, in the waiting record: on request, or once it has waited the closed period, as is
 * an enrolled account whose merge waits (open until it lands, it has no closure to count from). Once
 * erased, a number stays erased: the members feed keeps every later record of it as erased (ingest-members).
 *
 * The erasure reaches every row tied to the member: the member record, names as travelled on their
 * activities, the names in the JSON of the alliance claims and retro-claims of their activities (claim id,
 * member number, flight and points stay for the books and the partners' reconciliation; a retro-claim
 * still PENDING once decided, as the nightly scrub takes it), and the texts of
 * rejects carrying their number; what the feeds store of the number later (an erased member may keep
 * claiming) is scrubbed the same way every night, but for the names as travelled on their later flights,
 * kept as anyone's while a coupon without a card may have to find its passenger by them. What cannot be tied to one member is removed by age, every night, counted
 * from the business date (never the wall clock): the text of rejects, expired FTL parts and completed FTL
 * messages (`retention.rejectTextDays`), landed inbound files once read (`landedFileDays`), Redeye's copies of
 * delivered exports and the delivered mailing lists in the shared outbox (`exportCopyDays`), and stored
 * report folders (`reportDays`). A file cannot be edited to remove one member, so it goes whole.
 */
import { createHmac } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, readdir, rm, rmdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Knex } from 'knex';
import type { LoadedConfig } from '../config/load.js';
import { addDays, addMonths, latestDueBy, type IsoDate } from '../lib/dates.js';
import { coerceError, RedeyeError } from '../lib/errors.js';
import { TransportsByName } from '../transports/index.js';
import { TEMP_SUFFIX, TEMPORARY_FILE_MAX_AGE_MS } from '../transports/names.js';
import type { Job, JobContext, JobResult } from './types.js';
import {
  copyPathUnlessRefused,
  DATE_FOLDER,
  RefusedCopies,
  toFileRow,
  type CopyOutsideError,
} from './registry.js';
import { inside, relativeInside } from '../lib/paths.js';
import { chunks } from '../lib/chunks.js';
import { keepsTravelNames } from './activities.js';
import { stillOwed } from '../reports/outbox.js';

export const ERASED_FIELDS = [
  'surname',
  'given_name',
  'surname_local',
  'given_name_local',
  'birth_date',
  'email',
  'phone',
] as const;

/**
 * The secret that keys the tokens is missing. A random key in its place would give the same name another
 * token on every run, so erased duplicates could no longer be recognised: nothing is erased without it.
 * Like a missing SFTP secret, the deployment is incomplete: exits 2.
 */
export class TokenSecretMissingError extends RedeyeError {
  override readonly exitCode = 2;
  constructor(variable: string) {
    super(
      'SECRET_MISSING',
      `environment variable ${variable} (the secret that keys the tokens of erased names, ` +
        `retention.tokenSecretEnv) is not set: set it to the program's secret, the same for every run`,
      { variable },
    );
  }
}

/** An erased name: `TOK-` and 16 hex digits. */
const TOKEN = /^TOK-[0-9A-F]{16}$/;

/**
 * The tokeniser, keyed by the secret in the environment variable `secretEnv`: the same name always gives
 * the same token. A token stays itself: an erased record erased again (a waiting merge of an erased member
 * landing, a second `member forget`) keeps the tokens that let duplicates be recognised. Throws
 * TokenSecretMissingError when the variable is unset or empty.
 */
export function tokeniser(
  env: NodeJS.ProcessEnv,
  secretEnv: string,
): (value: string | null) => string | null {
  const secret = env[secretEnv];
  if (secret === undefined || secret === '') throw new TokenSecretMissingError(secretEnv);
  return (value) =>
    value === null || value === ''
      ? null
      : TOKEN.test(value)
        ? value
        : `TOK-${createHmac('sha256', secret).update(value).digest('hex').slice(0, 16).toUpperCase()}`;
}

/** Keys of personal fields in a stored members record or claim JSON: names become tokens, the others are removed. */
const NAME_KEYS = new Set(['surname', 'givenName', 'surnameLocal', 'givenNameLocal']);
const REMOVED_KEYS = new Set(['birthDate', 'email', 'phone']);

/**
 * A members-feed record (parsers/members.ts `MemberRecord`, or one stored as JSON) as an erased member's
 * is kept: the names as the same tokens as the member's, birth date, e-mail and phone gone; the number,
 * status and merge stay, so a merge still moves the points.
 */
export function erasedRecord<T extends object>(record: T, token: (v: string | null) => string | null): T {
  const r = record as Record<string, unknown>;
  const out: Record<string, unknown> = { ...r };
  for (const k of NAME_KEYS) out[k] = token(typeof r[k] === 'string' ? (r[k] as string) : null);
  for (const k of REMOVED_KEYS) out[k] = null;
  return out as unknown as T;
}

/**
 * The erasures of a member number, latest first: of a member, or of an account never enrolled whose merge
 * waited for its survivor (migration 032's index finds them for each new number the members feed reads).
 */
export const erasuresOf = (q: Knex | Knex.Transaction, number: string) =>
  q('erasures').where({ member_number: number }).orderBy('erased_at', 'desc');

/**
 * When the member number was erased, or null: the members row says so, or for an account never enrolled,
 * its erasure. Every later record of it is kept erased.
 */
export async function erasedOn(
  q: Knex | Knex.Transaction,
  number: string,
  member?: { erased_at?: unknown } | null,
): Promise<string | null> {
  const at = member ? member.erased_at : (await erasuresOf(q, number).first('erased_at'))?.erased_at;
  return at === null || at === undefined ? null : new Date(at as string | Date).toISOString();
}

/**
 * Erases a member's personal data everywhere it is tied to their number. `id` null: an account never
 * enrolled, whose merge record waits for its survivor; only that record and what names the number hold
 * personal data.
 */
export async function eraseMember(
  trx: Knex.Transaction,
  member: {
    id: number | null;
    number: string;
    surname: string | null;
    given_name: string | null;
    surname_local: string | null;
    given_name_local: string | null;
  },
  token: (v: string | null) => string | null,
  reason: 'RETENTION' | 'REQUEST',
  now: string,
): Promise<ReplacedClaim[]> {
  if (member.id !== null) {
    await trx('members')
      .where({ id: member.id })
      .update({
        surname: token(member.surname),
        given_name: token(member.given_name),
        surname_local: token(member.surname_local),
        given_name_local: token(member.given_name_local),
        birth_date: null,
        email: null,
        phone: null,
        // Erased again, the member keeps the day they were first erased; `erasures` records each time.
        erased_at: trx.raw('COALESCE(erased_at, ?)', [now]),
      });
    // The names the member held before are theirs too.
    await trx('member_names').where({ member_id: member.id }).del();
    await trx('activities')
      .where({ member_id: member.id })
      .update({ travel_surname: null, travel_given_name: null });
  }
  // A merge record waiting for its survivor keeps the merge (the points still have to move) with the
  // names as the same tokens and the rest gone.
  const waiting = await trx('member_merges_waiting')
    .where({ member_number: member.number })
    .first('id', 'record');
  if (waiting)
    await trx('member_merges_waiting')
      .where({ id: waiting.id })
      .update({ record: JSON.stringify(erasedRecord(JSON.parse(String(waiting.record)) as object, token)) });
  // Names as travelled and the texts of rejects are the member's data too.
  await trx('activities')
    .where({ member_number: member.number })
    .update({ travel_surname: null, travel_given_name: null });
  await trx('rejects').where({ member_number: member.number }).update({ text: null });
  // The claims of their activities keep what the books and the partners' reconciliation need (claim id,
  // member number, flight, points); the names in them become the same tokens, other personal fields go.
  const theirs = trx('activities').where({ member_number: member.number });
  if (member.id !== null) void theirs.orWhere({ member_id: member.id });
  const keys = ((await theirs.select('activity_key')) as Array<{ activity_key: string }>).map(
    (r) => r.activity_key,
  );
  const unreadable: ReplacedClaim[] = [];
  for (const part of chunks(keys, 500)) {
    const rows = await trx('alliance_claims')
      .whereIn('activity_key', part)
      .orderBy('id')
      .select('id', 'claim_id', 'claim');
    unreadable.push(...(await scrubClaims(trx, 'alliance_claims', rows, token)).unreadable);
  }
  // A retro-claim still PENDING keeps the name: a claim by flight and name finds its coupon without a
  // card by it. The nightly scrub takes it once decided, as it does one received after the erasure.
  unreadable.push(
    ...(
      await scrubClaims(
        trx,
        'retro_claims',
        await trx('retro_claims')
          .where({ member_number: member.number })
          .whereNot({ status: 'PENDING' })
          .orderBy('id')
          .select('id', 'claim_id', 'claim'),
        token,
      )
    ).unreadable,
  );
  await trx('erasures').insert({
    member_number: member.number,
    reason,
    erased_at: now,
    fields: ERASED_FIELDS.join(','),
  });
  return unreadable;
}

/** Replaces the personal fields of a claim's JSON at any depth; true when anything changed. */
function scrubPersonal(value: unknown, token: (v: string | null) => string | null): boolean {
  if (value === null || typeof value !== 'object') return false;
  let changed = false;
  if (Array.isArray(value)) {
    for (const v of value) changed = scrubPersonal(v, token) || changed;
    return changed;
  }
  const o = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (REMOVED_KEYS.has(k)) {
      delete o[k];
      changed = true;
    } else if (NAME_KEYS.has(k) && typeof v === 'string' && v !== '' && !TOKEN.test(v)) {
      // Types that require a name keep a string: the token.
      o[k] = token(v) ?? '';
      changed = true;
    } else {
      changed = scrubPersonal(v, token) || changed;
    }
  }
  return changed;
}

/** What a stored claim that is not readable JSON becomes on erasure: its text may hold the names. */
export const UNREADABLE_CLAIM = JSON.stringify({ erased: 'the stored claim was not readable JSON' });

/** A stored claim that was not readable JSON and was replaced whole on erasure. */
export interface ReplacedClaim {
  table: 'alliance_claims' | 'retro_claims';
  /** The row's id. */
  id: number;
  claimId: string;
}

/** How many rows of a table a warning names one by one; the rest are counted. */
const NAMED_ROWS = 5;

/**
 * The warning for stored claims replaced whole, naming each table and its rows (row id and claim id, the
 * first few when there are many) so that an accountant can find them: `2 stored claim(s) … replaced
 * whole: retro_claims row 17 (claim RC-8); alliance_claims row 4 (claim LH-C1)`.
 */
export function replacedClaimsWarning(whose: string, replaced: readonly ReplacedClaim[]): string {
  const byTable = new Map<string, ReplacedClaim[]>();
  for (const r of replaced) byTable.set(r.table, [...(byTable.get(r.table) ?? []), r]);
  const tables = [...byTable].map(([table, rows]) => {
    const named = rows.slice(0, NAMED_ROWS).map((r) => `${r.id} (claim ${r.claimId})`);
    const more = rows.length - named.length;
    return rows.length === 1
      ? `${table} row ${named[0]}`
      : `${table} ${rows.length} rows: ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  });
  return `${replaced.length} stored claim(s) of ${whose} were not readable JSON and were replaced whole: ${tables.join('; ')}`;
}

/** Scrubs the claims' JSON; returns how many it changed and those replaced whole as unreadable. */
async function scrubClaims(
  trx: Knex.Transaction,
  table: 'alliance_claims' | 'retro_claims',
  rows: Array<{ id: number | string; claim_id: string; claim: string }>,
  token: (v: string | null) => string | null,
): Promise<{ changed: number; unreadable: ReplacedClaim[] }> {
  const unreadable: ReplacedClaim[] = [];
  let changed = 0;
  for (const r of rows) {
    let claim: unknown;
    try {
      claim = JSON.parse(r.claim);
    } catch {
      // Not written by this code (edited by hand, cut short): nothing in it can be told apart, so all goes.
      await trx(table).where({ id: r.id }).update({ claim: UNREADABLE_CLAIM });
      unreadable.push({ table, id: Number(r.id), claimId: r.claim_id });
      changed++;
      continue;
    }
    if (scrubPersonal(claim, token)) {
      await trx(table)
        .where({ id: r.id })
        .update({ claim: JSON.stringify(claim) });
      changed++;
    }
  }
  return { changed, unreadable };
}

/**
 * The merges waiting since `cutoff` or before of accounts not erased yet, each with its members row if
 * the account was enrolled (id null if not). An enrolled account's row stays as it was (ACTIVE, no
 * closure date) while its merge waits, so the closed accounts' retention never reaches it; one never
 * enrolled has no row at all.
 */
const waitingMergesDue = (knex: Knex, cutoff: IsoDate) =>
  knex('member_merges_waiting as w')
    .leftJoin('members as m', 'm.number', 'w.member_number')
    .where('w.business_date', '<=', cutoff)
    .whereNull('m.erased_at')
    .whereNotExists(knex('erasures as e').whereRaw('e.member_number = w.member_number').select('e.id'));

/** Rows whose member number column `column` names an erased number (migration 032's index finds it). */
const ofErasedNumber = (q: Knex | Knex.Transaction, column: string) =>
  q('erasures as e').whereRaw('e.member_number = ??', [column]).select('e.id');

/**
 * What the feeds stored of an erased number after its erasure. An erased member may stay active and keep
 * claiming, and a claim is stored as read, with the name the member wrote: a retro-claim keeps it while
 * PENDING (it may have to find a coupon without a card by the name travelled), so it is scrubbed once
 * decided; a partner airline's claim is read again by no one once stored (its activity carries the flight),
 * so at once. The text of rejects of the number goes as `eraseMember` takes it. Names as travelled on the
 * number's later flights are not cleared here: a coupon without a card finds its FTL passenger on the card
 * only by them, so they go as anyone's do, once the flight is past the windows that need them
 * (`travelNamesNeededFrom`). Already scrubbed rows are left as they are, so a rerun changes nothing.
 */
async function scrubLaterRecordsOfErased(
  trx: Knex.Transaction,
  token: (v: string | null) => string | null,
): Promise<{
  claimsScrubbed: number;
  rejectTextsBlanked: number;
  replaced: ReplacedClaim[];
}> {
  let claimsScrubbed = 0;
  const replaced: ReplacedClaim[] = [];
  const claims: Array<{
    table: 'alliance_claims' | 'retro_claims';
    rows: Array<{ id: number | string; claim_id: string; claim: string }>;
  }> = [
    {
      table: 'retro_claims',
      rows: await trx('retro_claims as r')
        .whereNot('r.status', 'PENDING')
        .whereExists(ofErasedNumber(trx, 'r.member_number'))
        .orderBy('r.id')
        .select('r.id', 'r.claim_id', 'r.claim'),
    },
    {
      table: 'alliance_claims',
      rows: await trx('alliance_claims as c')
        .join('activities as a', 'a.activity_key', 'c.activity_key')
        .whereExists(ofErasedNumber(trx, 'a.member_number'))
        .orderBy('c.id')
        .select('c.id', 'c.claim_id', 'c.claim'),
    },
  ];
  for (const { table, rows } of claims) {
    const { changed, unreadable } = await scrubClaims(trx, table, rows, token);
    claimsScrubbed += changed;
    replaced.push(...unreadable);
  }
  const rejectTextsBlanked = Number(
    await trx('rejects')
      .whereNotNull('text')
      .whereExists(ofErasedNumber(trx, 'rejects.member_number'))
      .update({ text: null }),
  );
  return { claimsScrubbed, rejectTextsBlanked, replaced };
}

/** An account never enrolled, as `eraseMember` takes it: no members row, no names of its own. */
const NEVER_ENROLLED = {
  id: null,
  surname: null,
  given_name: null,
  surname_local: null,
  given_name_local: null,
} as const;

export const retentionJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  // First, so that a night that cannot erase (no token secret) still clears them.
  const temporaryFilesRemoved = await sweepTemporaryFiles(
    [ctx.config.paths.landing, ctx.config.paths.outbox, ctx.config.paths.reports],
    Date.now() - TEMPORARY_FILE_MAX_AGE_MS,
  );
  // Clamped at month ends: an account closed on 29 February is due on the 28th its months on, as one
  // closed on the 28th is, not on 1 March.
  const cutoff = latestDueBy(ctx.businessDate, ctx.config.retention.closedMonths);
  const due = await ctx.db
    .knex('members')
    .whereIn('status', ['CLOSED', 'MERGED'])
    .whereNotNull('closed_on')
    .andWhere('closed_on', '<=', cutoff)
    .whereNull('erased_at')
    .select('id', 'number', 'surname', 'given_name', 'surname_local', 'given_name_local');
  // An account whose merge has waited as long for its survivor is as closed to the CRM (MERGED) since
  // that night: its record, and its members row if it was enrolled, hold the names, birth date, e-mail
  // and phone it sent. A closed account whose merge waits (merged after its closure) is erased above.
  const closed = new Set(due.map((m: { number: string }) => m.number));
  const waitingDue = (
    (await waitingMergesDue(ctx.db.knex, cutoff)
      .orderBy('w.id')
      .select(
        'w.member_number as number',
        'm.id',
        'm.surname',
        'm.given_name',
        'm.surname_local',
        'm.given_name_local',
      )) as Array<Parameters<typeof eraseMember>[1]>
  ).filter((w) => !closed.has(w.number));
  const erasing = [...due, ...waitingDue];
  // The secret is needed only when there is something to erase: a night with nothing due runs without it.
  const token = erasing.length > 0 ? tokeniser(ctx.env, ctx.config.retention.tokenSecretEnv) : () => null;
  const now = ctx.now().toISOString();
  const unreadableClaims: ReplacedClaim[] = [];
  for (const part of chunks(erasing, 500)) {
    await ctx.db.transaction(async (trx) => {
      for (const m of part) unreadableClaims.push(...(await eraseMember(trx, m, token, 'RETENTION', now)));
    });
  }
  // The secret is asked for only when a name is there to tokenise: once every later claim is scrubbed, a
  // night runs without it as before.
  let laterToken: ((v: string | null) => string | null) | undefined;
  const later = (v: string | null) =>
    (laterToken ??= tokeniser(ctx.env, ctx.config.retention.tokenSecretEnv))(v);
  const since = await ctx.db.transaction((trx) => scrubLaterRecordsOfErased(trx, later));
  unreadableClaims.push(...since.replaced);
  const r = ctx.config.retention;
  const cutoffs = copyCutoffs(r, ctx.businessDate);
  const warnings: string[] = [];
  if (unreadableClaims.length > 0) warnings.push(replacedClaimsWarning('erased members', unreadableClaims));
  const counts = {
    erased: erasing.length,
    claimsOfErasedScrubbed: since.claimsScrubbed,
    rejectTextsOfErasedBlanked: since.rejectTextsBlanked,
    ...(unreadableClaims.length > 0 ? { unreadableClaimsReplaced: unreadableClaims.length } : {}),
    temporaryFilesRemoved,
    ...(await blankOldRejects(ctx.db.knex, addDays(ctx.businessDate, -r.rejectTextDays))),
    travelNamesCleared: await clearTravelNames(
      ctx.db.knex,
      travelNamesNeededFrom(ctx.config, ctx.businessDate),
    ),
    ...(await removeLandedFiles(ctx, cutoffs.landedFiles, warnings)),
    ...(await removeExportCopies(ctx, cutoffs.exportCopies, warnings)),
    reportFoldersRemoved: await removeReportFolders(ctx, addDays(ctx.businessDate, -r.reportDays)),
  };
  return { counts, ...(warnings.length > 0 ? { warnings } : {}) };
};

/**
 * The oldest flight date whose names as travelled may still be needed: a late coupon is credited within
 * the air claim window (`earning.airClaimWindowDays`), and a retro-claim by flight and name is matched up
 * to `retroClaims.maxMonthsAfterFlight` after the flight, whichever reaches further back; three days more,
 * so that a month's end (31 March − 1 month) never cuts a claim short.
 */
export function travelNamesNeededFrom(config: LoadedConfig, businessDate: IsoDate): IsoDate {
  const air = addDays(businessDate, -config.earning.airClaimWindowDays);
  const retro = addMonths(businessDate, -config.retroClaims.maxMonthsAfterFlight);
  return addDays(air < retro ? air : retro, -3);
}

/**
 * Clears the names as travelled of flights before `before` (`travelNamesNeededFrom`): they are kept only
 * to match a retro-claim or a late coupon to the flight, and neither can credit it any more.
 */
async function clearTravelNames(knex: Knex, before: IsoDate): Promise<number> {
  return Number(await namesToClear(knex, before).update({ travel_surname: null, travel_given_name: null }));
}

/**
 * The flights whose names are still to be cleared: written as the predicate of their partial index
 * (migrations 009 and 027), so that the database reads only those.
 */
export const namesToClear = (knex: Knex, before: IsoDate) =>
  knex('activities').where('activity_date', '<', before).andWhere(keepsTravelNames);

/** The rejects whose text is still to be blanked, as the predicate of their partial index (migration 009). */
export const rejectTextsToBlank = (knex: Knex, before: IsoDate) =>
  knex('rejects').where('business_date', '<', before).whereNotNull('text');

/**
 * Blanks the line text of rejects of business dates before `before`, and removes expired FTL parts
 * received before it. A reject's line may carry a name without a member number (an FTL part received
 * twice, a malformed line): nothing ties it to one member, so it goes by age. Reason, field, line and
 * reference stay for the night's account. FTL messages completed before it are forgotten too: a part of
 * one sent again so late would be held and expire as incomplete, as one whose parts never all came.
 */
async function blankOldRejects(
  knex: Knex,
  before: IsoDate,
): Promise<{ rejectTextsBlanked: number; ftlPartsRemoved: number; ftlMessagesForgotten: number }> {
  const rejectTextsBlanked = Number(await rejectTextsToBlank(knex, before).update({ text: null }));
  const ftlPartsRemoved = Number(
    await knex('ftl_parts')
      .whereNot({ status: 'held' })
      .andWhere('received_at', '<', `${before}T00:00:00Z`)
      .delete(),
  );
  const ftlMessagesForgotten = Number(
    await knex('ftl_messages').where('business_date', '<', before).delete(),
  );
  return { rejectTextsBlanked, ftlPartsRemoved, ftlMessagesForgotten };
}

/**
 * Removes the regular file at `path` (inside `root`; a link is never followed or removed) and its folder
 * when that is left empty (up to, not including, `root`). True when a file was removed.
 */
async function removeOwnFile(root: string, path: string): Promise<boolean> {
  const full = inside(root, path);
  if (!full) return false;
  try {
    if (!(await lstat(full)).isFile()) return false;
    await unlink(full);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  for (let dir = dirname(full); inside(root, dir); dir = dirname(dir)) {
    try {
      await rmdir(dir);
    } catch {
      break; // not empty (or gone): the folder stays
    }
  }
  return true;
}

/**
 * Inbound verdicts whose landed copy may still be read: pending, held (FTL parts), conflict and missing
 * (an operator's: a copy put back for a file held for it is kept until the file is released and read).
 */
const UNSETTLED = ['pending', 'held', 'conflict', 'missing'];

/**
 * The business dates before which the night of `businessDate` removes the registry's copies: landed
 * inbound files (`landedFileDays`) and Redeye's copies of delivered exports (`exportCopyDays`).
 */
export const copyCutoffs = (
  r: Pick<LoadedConfig['retention'], 'landedFileDays' | 'exportCopyDays'>,
  businessDate: IsoDate,
): { landedFiles: IsoDate; exportCopies: IsoDate } => ({
  landedFiles: addDays(businessDate, -r.landedFileDays),
  exportCopies: addDays(businessDate, -r.exportCopyDays),
});

/** The files received whose landed copies are due once their business date is before `before`: settled. */
export const landedCopiesDue = (knex: Knex, before: IsoDate) =>
  knex('files')
    .where({ direction: 'in' })
    .whereNotNull('local_path')
    .andWhere('business_date', '<', before)
    .whereNotIn('verdict', UNSETTLED);

/**
 * The files received whose landed copies stay whatever their age, and with them any copy they share:
 * still to be read (files waiting for ingest or an operator, FTL parts held). Few.
 */
export const landedCopiesKept = (knex: Knex) =>
  knex('files')
    .where({ direction: 'in' })
    .whereNotNull('local_path')
    .where((q) =>
      q
        .whereIn('verdict', UNSETTLED)
        .orWhereIn(
          'id',
          knex('ftl_parts').where({ status: 'held' }).whereNotNull('file_id').select('file_id'),
        ),
    );

/** The exports whose copies in `paths.outbox` are due before `before`: delivered (a file not yet, stays). */
export const exportCopiesDue = (knex: Knex, before: IsoDate) =>
  knex('files')
    .where({ direction: 'out', verdict: 'delivered' })
    .whereNotNull('local_path')
    .andWhere('business_date', '<', before);

/**
 * Removes the landed copies of inbound files of business dates before `before` once read (a copy shared
 * with an unsettled registration, or holding an FTL part still held, stays). The registry keeps the row
 * and its path: a copy gone from a file already read is what `fetch` expects (it then judges a file left
 * on the server by its registration), and `ingest` reads only pending files.
 */
async function removeLandedFiles(
  ctx: JobContext,
  before: IsoDate,
  warnings: string[],
): Promise<{ landedFilesRemoved: number; landedCopiesOutside?: number }> {
  const knex = ctx.db.knex;
  const root = ctx.config.paths.landing;
  // A copy due whose path the registry places outside the landing area stays, and the night says so: it
  // may hold personal data past its period.
  const outside = new RefusedCopies('paths.landing', 'not removed');
  // Compared where they are, not as stored: a path may be stored relative or (registered before paths
  // were stored relative to the landing area) absolute, and a moved database's absolute one is mapped.
  const copiesOf = (rows: Array<Record<string, unknown>>, refused: (error: CopyOutsideError) => void) =>
    rows.flatMap((r) => copyPathUnlessRefused(root, toFileRow(r), refused) ?? []);
  const paths = new Set(
    copiesOf(
      await landedCopiesDue(knex, before).select('id', 'direction', 'feed', 'name', 'local_path'),
      outside.add,
    ),
  );
  const landedCopiesOutside = outside.tell(warnings, ctx.logger);
  const counts = (landedFilesRemoved: number) => ({
    landedFilesRemoved,
    ...(landedCopiesOutside > 0 ? { landedCopiesOutside } : {}),
  });
  if (paths.size === 0) return counts(0);
  const kept = new Set(
    copiesOf(
      await landedCopiesKept(knex).select('id', 'direction', 'feed', 'name', 'local_path'),
      // A copy to keep that lies outside the landing area is none of those compared: nothing to tell.
      () => {},
    ),
  );
  let removed = 0;
  for (const path of paths) {
    if (ctx.signal?.aborted) break;
    if (!kept.has(path) && (await removeOwnFile(root, path))) removed++;
  }
  return counts(removed);
}

/**
 * Removes Redeye's copies (`paths.outbox`) of exports delivered for business dates before `before`; a file
 * not yet delivered always stays. A mailing list delivered to the shared outbox is removed there first:
 * the mailing house has had it as long, and it holds addresses. Partners' copies of their files are theirs.
 * A mailing list that cannot be removed there keeps our copy, so the next night tries again.
 */
async function removeExportCopies(
  ctx: JobContext,
  before: IsoDate,
  warnings: string[],
): Promise<{ exportCopiesRemoved: number; deliveredMailingsRemoved: number; exportCopiesOutside?: number }> {
  const counts = { exportCopiesRemoved: 0, deliveredMailingsRemoved: 0 };
  const outside = new RefusedCopies('paths.outbox', 'not removed');
  const rows = (await exportCopiesDue(ctx.db.knex, before)
    .orderBy('id')
    .select('id', 'direction', 'feed', 'name', 'local_path', 'transport', 'partner_code')) as Array<
    Record<string, unknown>
  >;
  const shared = ctx.config.exports.outbox;
  const transports = new TransportsByName(ctx.config.transports, { env: ctx.env, logger: ctx.logger });
  try {
    for (const row of rows) {
      if (ctx.signal?.aborted) break;
      const file = toFileRow(row);
      const path = copyPathUnlessRefused(ctx.config.paths.outbox, file, outside.add);
      if (!path || !(await lstat(path).catch(() => undefined))?.isFile()) continue;
      if (file.feed === 'mailing' && file.partnerCode === null && file.transport === shared) {
        try {
          if (await transports.get(shared).remove(file.feed, file.name)) counts.deliveredMailingsRemoved++;
        } catch (error) {
          const e = coerceError(error, { transport: shared, file: file.name });
          warnings.push(`${file.name} not removed from ${shared}: [${e.code}] ${e.describe()}`);
          continue;
        }
      }
      if (await removeOwnFile(ctx.config.paths.outbox, path)) counts.exportCopiesRemoved++;
    }
  } finally {
    await transports.close();
  }
  const exportCopiesOutside = outside.tell(warnings, ctx.logger);
  return { ...counts, ...(exportCopiesOutside > 0 ? { exportCopiesOutside } : {}) };
}

/**
 * Removes the report folders (`paths.reports/<date>/`, workbooks and charts: the daily report's tier
 * changes name members) of dates before `before`, except one a report mail not yet sent still attaches.
 * Only real folders named by a date are touched; a link is neither followed nor removed.
 */
async function removeReportFolders(ctx: JobContext, before: IsoDate): Promise<number> {
  const root = ctx.config.paths.reports;
  let entries: Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const old = entries.filter((e) => e.isDirectory() && DATE_FOLDER.test(e.name) && e.name < before);
  if (old.length === 0) return 0;
  const attached = new Set<string>();
  // A mail sent but refused for good by someone its list still names, or names anew, is not done: a
  // `report send --retry-failed` reads its workbook again, so its folder stays with the unsent ones'. A
  // mail a run closed (`refused_to` cleared) is done whoever joins its list later.
  const owed = (
    (await ctx.db
      .knex('mail_outbox')
      .where({ status: 'sent' })
      .whereNotNull('refused_to')
      .select('attachments', 'report', 'listed_to', 'delivered_to', 'refused_to')) as Array<
      Parameters<typeof stillOwed>[0] & { attachments: string; report: string }
    >
  ).filter((m) => stillOwed(m, ctx.config.mail?.lists[m.report]).to.length > 0);
  const unsent = (await ctx.db
    .knex('mail_outbox')
    .whereNot({ status: 'sent' })
    .select('attachments')) as Array<{ attachments: string }>;
  for (const m of [...unsent, ...owed]) {
    let files: { workbook?: string; inline?: Array<{ path?: string }> } = {};
    try {
      files = JSON.parse(m.attachments) as typeof files;
    } catch {
      // unreadable: protects nothing in particular
    }
    for (const p of [files.workbook, ...(files.inline ?? []).map((i) => i.path)]) {
      if (typeof p !== 'string') continue;
      const rel = relativeInside(root, resolve(root, p));
      if (rel !== undefined) attached.add(rel.split(/[\\/]/)[0]!);
    }
  }
  let removed = 0;
  for (const e of old) {
    if (attached.has(e.name)) continue;
    const dir = join(root, e.name);
    // Checked again just before: a folder swapped for a link since the listing is not followed.
    if (!(await lstat(dir).catch(() => undefined))?.isDirectory()) continue;
    await rm(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/**
 * Removes the temporary files (`*.part`) a killed write left in Redeye's own folders and that were last
 * written before `beforeMs` (wall clock). They are never registered, read or delivered, but a mailing
 * list's may hold names and addresses. Links are not followed or removed; a folder that does not exist
 * is skipped. Returns how many were removed.
 */
export async function sweepTemporaryFiles(dirs: readonly string[], beforeMs: number): Promise<number> {
  let removed = 0;
  for (const dir of new Set(dirs)) {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const entry of entries) {
      if (!entry.isFile() || !entry.name.endsWith(TEMP_SUFFIX)) continue;
      const path = join(entry.parentPath ?? entry.path, entry.name);
      try {
        if ((await lstat(path)).mtimeMs >= beforeMs) continue;
        await unlink(path);
        removed++;
      } catch (error) {
        // Finished and renamed (or swept by another run) since the folder was read.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }
  return removed;
}

export class ForgetRefusedError extends RedeyeError {
  constructor(number: string, why: string) {
    super('FORGET_REFUSED', `member ${number} cannot be forgotten: ${why}`, { member: number });
  }
}

/** What `member forget` erased. */
export interface Forgotten {
  /** Whether the number is a member's; if not, it was an account never enrolled whose merge waits. */
  member: boolean;
  /** When the number was erased before, if it was: erased again, what came since goes too. */
  erasedBefore: string | null;
  /** Stored claims that were not readable JSON, replaced whole. */
  replaced: ReplacedClaim[];
}

/**
 * Erasure on request, where the program allows it: of a member, or of an account never enrolled whose
 * merge waits for its survivor (its record holds what the CRM sent). A number erased before is erased
 * again, as a re-sent request is answered: nothing of it should be left in clear, and what tokens there
 * are stay.
 */
export async function forgetMember(
  ctx: Pick<JobContext, 'db' | 'config' | 'env' | 'now'>,
  number: string,
): Promise<Forgotten> {
  if (!ctx.config.retention.forgetOnRequest)
    throw new ForgetRefusedError(
      number,
      'the program does not allow erasure on request (retention.forgetOnRequest)',
    );
  const knex = ctx.db.knex;
  const m = await knex('members')
    .where({ number })
    .first('id', 'number', 'surname', 'given_name', 'surname_local', 'given_name_local', 'erased_at');
  if (!m && !(await knex('member_merges_waiting').where({ member_number: number }).first('id')))
    throw new RedeyeError('MEMBER_UNKNOWN', `no member ${number}`, { member: number });
  const token = tokeniser(ctx.env, ctx.config.retention.tokenSecretEnv);
  const erasedBefore = await erasedOn(knex, number, m);
  const replaced = await ctx.db.transaction((trx) =>
    eraseMember(trx, m ?? { ...NEVER_ENROLLED, number }, token, 'REQUEST', ctx.now().toISOString()),
  );
  return { member: m !== undefined, erasedBefore, replaced };
}
