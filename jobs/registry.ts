/**
 * The file registry: every file in or out is recorded with its name, feed, size, sha256, times, verdict
 * and counts. The same content is never ingested twice (a second copy is recorded as `duplicate`); the
 * same name with different content is recorded as `conflict` and held for an operator, never silently
 * replaced.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Knex } from 'knex';
import type { IsoDate } from '../lib/dates.js';
import { RedeyeError, UsageError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { actualPath, inside } from '../lib/paths.js';

type Q = Knex | Knex.Transaction;

/** Runs `fn` in `q` when it is a transaction already, else in a transaction of its own. */
export const inTransaction = <T>(q: Q, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> =>
  (q as Knex.Transaction).isTransaction === true ? fn(q as Knex.Transaction) : (q as Knex).transaction(fn);

export type InboundVerdict =
  | 'pending'
  | 'accepted'
  | 'rejected'
  | 'held'
  | 'duplicate'
  | 'conflict'
  /** A conflict an operator chose never to read (`redeye files discard`). */
  | 'discarded'
  /**
   * Pending, but its landed copy could not be read (gone, or an I/O fault): held for an operator like a
   * `conflict` (`holdForCopy`), and read once the copy is back and the file released.
   */
  | 'missing';

/** The verdicts of files held for an operator, which `files release` and `files discard` decide. */
const HELD_FOR_OPERATOR: readonly InboundVerdict[] = ['conflict', 'missing'];

export interface FileRow {
  id: number;
  direction: 'in' | 'out';
  feed: string;
  name: string;
  size: number;
  sha256: string;
  transport: string | null;
  remotePath: string | null;
  localPath: string | null;
  businessDate: IsoDate | null;
  partnerCode: string | null;
  sequence: number | null;
  verdict: string;
  reason: string | null;
  message: string | null;
  counts: Record<string, number> | null;
  receivedAt: string | null;
  processedAt: string | null;
  deliveredAt: string | null;
  answersFileId: number | null;
  /** An operator's decision on a file held for one (`files release`, `files discard`; migration 019). */
  decision: 'released' | 'discarded' | null;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionReason: string | null;
}

export function toFileRow(r: Record<string, unknown>): FileRow {
  return {
    id: Number(r.id),
    direction: r.direction as 'in' | 'out',
    feed: r.feed as string,
    name: r.name as string,
    size: Number(r.size),
    sha256: r.sha256 as string,
    transport: (r.transport as string | null) ?? null,
    remotePath: (r.remote_path as string | null) ?? null,
    localPath: (r.local_path as string | null) ?? null,
    businessDate: (r.business_date as string | null) ?? null,
    partnerCode: (r.partner_code as string | null) ?? null,
    sequence: r.sequence === null || r.sequence === undefined ? null : Number(r.sequence),
    verdict: r.verdict as string,
    reason: (r.reason as string | null) ?? null,
    message: (r.message as string | null) ?? null,
    counts: r.counts ? (JSON.parse(r.counts as string) as Record<string, number>) : null,
    receivedAt: (r.received_at as string | null) ?? null,
    processedAt: (r.processed_at as string | null) ?? null,
    deliveredAt: (r.delivered_at as string | null) ?? null,
    answersFileId:
      r.answers_file_id === null || r.answers_file_id === undefined ? null : Number(r.answers_file_id),
    decision: (r.decision as 'released' | 'discarded' | null | undefined) ?? null,
    decidedBy: (r.decided_by as string | null | undefined) ?? null,
    decidedAt: r.decided_at ? new Date(r.decided_at as string | Date).toISOString() : null,
    decisionReason: (r.decision_reason as string | null | undefined) ?? null,
  };
}

/** The configured folders of the registry's copies (`paths`): landed files, and Redeye's own exports. */
export interface CopyFolders {
  landing: string;
  outbox: string;
}

export const DATE_FOLDER = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The folder of the copies of a direction: `paths.landing` for files received, `paths.outbox` for exports.
 * `files.local_path` is stored relative to it (`storedPath`).
 */
export const copyFolder = (folders: CopyFolders, direction: 'in' | 'out'): string =>
  direction === 'in' ? folders.landing : folders.outbox;

/** The setting that configures a direction's `copyFolder`, as messages name it. */
export const settingOf = (direction: 'in' | 'out'): 'paths.landing' | 'paths.outbox' =>
  direction === 'in' ? 'paths.landing' : 'paths.outbox';

/**
 * Where Redeye lays out the copy of a registered file, relative to its `copyFolder`: `<kind>/<name>` for an
 * export, `<feed>/<date landed>/<name>` for a file received (undefined without a date: no such folder).
 */
export function laidOut(
  file: Pick<FileRow, 'direction' | 'feed' | 'name'>,
  landedOn: string | null,
): string | undefined {
  if (file.direction === 'out') return join(file.feed, file.name);
  return landedOn !== null && DATE_FOLDER.test(landedOn) ? join(file.feed, landedOn, file.name) : undefined;
}

/** A registered copy this installation may not touch: its path lies outside its configured folder. */
export class CopyOutsideError extends RedeyeError {}

/**
 * Where this installation keeps the copy of a registered file, always inside `root`, its `copyFolder` (null
 * when the registry has no copy). A relative path is taken under the folder. An absolute one (every row
 * written before paths were stored relative) is used as it is while it lies inside the folder — the
 * database was not moved —; otherwise the database came from another installation, whose files are not
 * ours to read, write or delete: the copy is where Redeye lays it out in this one
 * (`<paths.outbox>/<kind>/<name>`, `<paths.landing>/<feed>/<date landed>/<name>`). A path that fits
 * neither is refused (`CopyOutsideError`, naming the file and the path).
 */
export function copyPath(
  root: string,
  file: Pick<FileRow, 'id' | 'direction' | 'feed' | 'name' | 'localPath'>,
): string | null {
  const stored = file.localPath;
  if (stored === null) return null;
  const own = isAbsolute(stored) ? inside(root, stored) : actualPath(root, stored);
  if (own !== undefined) return own;
  if (isAbsolute(stored) && basename(stored) === file.name) {
    const parent = dirname(stored);
    const landedOn = basename(parent);
    if (file.direction === 'out' && landedOn === file.feed) return join(root, laidOut(file, null)!);
    if (file.direction === 'in' && basename(dirname(parent)) === file.feed) {
      const own = laidOut(file, landedOn);
      if (own !== undefined) return join(root, own);
    }
  }
  const setting = settingOf(file.direction);
  throw new CopyOutsideError(
    'FILE_COPY_OUTSIDE',
    `file ${file.id} (${file.name}): the registry's copy ${stored} lies outside ${root} (${setting}) and is not where Redeye lays out its files; it is left untouched`,
    { fileId: file.id, file: file.name, path: stored },
  );
}

/**
 * A registered file as `files list --json` and `files show --json` print it: `localPath` is the copy in
 * this installation's folders (`copyPath`), absolute whichever form the row stores, so that a script
 * reads the file the text output names; a copy refused is null, with why in `localPathRefused`.
 */
export function withCopyResolved(
  folders: CopyFolders,
  file: FileRow,
): FileRow & { localPathRefused?: string } {
  try {
    return { ...file, localPath: copyPath(copyFolder(folders, file.direction), file) };
  } catch (error) {
    if (!(error instanceof CopyOutsideError)) throw error;
    return { ...file, localPath: null, localPathRefused: `[${error.code}] ${error.message}` };
  }
}

/**
 * The copies a step passed over because the registry places them outside its folder (`copyPath`
 * refused them): told once in the step's warnings, so that the night's summary says which registrations
 * to put right, where a log line per file every night went unread.
 */
export class RefusedCopies {
  private readonly refused = new Map<number, CopyOutsideError>();

  constructor(
    private readonly setting: 'paths.landing' | 'paths.outbox',
    /** What the step does without them: `not removed`, `not used: those files are judged by their registration alone`. */
    private readonly consequence: string,
  ) {}

  /** The `refused` callback of `copyPathUnlessRefused`. */
  readonly add = (error: CopyOutsideError): void => {
    const id = Number(error.context.fileId);
    if (!this.refused.has(id)) this.refused.set(id, error);
  };

  /**
   * Adds the step's one warning of them to `warnings` and the log; how many were refused (the step's
   * count).
   */
  tell(warnings: string[], logger: Logger): number {
    const warning = this.warning();
    if (warning === undefined) return 0;
    warnings.push(warning);
    logger.warn({ fileIds: [...this.refused.keys()].sort((a, b) => a - b) }, warning);
    return this.refused.size;
  }

  private warning(): string | undefined {
    if (this.refused.size === 0) return undefined;
    const ids = [...this.refused.keys()].sort((a, b) => a - b);
    const first = this.refused.get(ids[0]!)!;
    const named =
      ids.slice(0, NAMED_IDS).join(', ') +
      (ids.length > NAMED_IDS ? ` and ${ids.length - NAMED_IDS} more` : '');
    return (
      `${ids.length} registered cop${ids.length === 1 ? 'y' : 'ies'} outside ${this.setting} ${this.consequence}: ` +
      `file id${ids.length === 1 ? '' : 's'} ${named}, e.g. file ${ids[0]} (${String(first.context.file)}) ` +
      `at ${String(first.context.path)}; ${RELINK_HINT}`
    );
  }
}

/** What puts refused copies right, told with them: the warning would otherwise repeat every night. */
const RELINK_HINT =
  'where those copies were moved, `redeye files relink --from <the folder they were in>` points the registry at them';

/** How many file ids a warning of refused copies spells out; the rest are counted. */
const NAMED_IDS = 20;

/**
 * `copyPath` for the steps that pass over a copy they may not touch rather than fail (fetch, retention):
 * null when refused, after telling `refused` (if anyone is to be told).
 */
export function copyPathUnlessRefused(
  root: string,
  file: Pick<FileRow, 'id' | 'direction' | 'feed' | 'name' | 'localPath'>,
  refused: (error: CopyOutsideError) => void = () => {},
): string | null {
  try {
    return copyPath(root, file);
  } catch (error) {
    if (!(error instanceof CopyOutsideError)) throw error;
    refused(error);
    return null;
  }
}

export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** A missing path, or one through something that is not a folder: nothing is there. */
export const gone = (error: unknown): boolean =>
  (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR';

/** Why a file's landed copy cannot be read: gone from where the registry has it, or there but unreadable. */
export interface LandedCopyFault {
  reason: 'COPY_MISSING' | 'COPY_UNREADABLE';
  /** The path the copy was expected at (`copyPath`). */
  path: string;
  /** The system's error, as `ENOENT: no such file or directory`. */
  detail: string;
}

/**
 * The fault of an error met reading the copy at `path`, when it is the system's (no such file, permission
 * denied, a folder at the path, a disk fault); undefined for any other error, which is no fault of the copy.
 */
export function copyFaultOf(path: string, error: unknown): LandedCopyFault | undefined {
  const e = error as NodeJS.ErrnoException | undefined;
  if (!(e instanceof Error) || typeof e.code !== 'string' || typeof e.syscall !== 'string') return undefined;
  return { reason: gone(e) ? 'COPY_MISSING' : 'COPY_UNREADABLE', path, detail: e.message };
}

/**
 * Whether the copy at `path` can be read: opened and its first byte read, so that a folder at the path or
 * a copy this process may not read is found before the file's transaction begins, not half-way through.
 */
export async function copyFault(path: string): Promise<LandedCopyFault | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    await handle.read(Buffer.alloc(1), 0, 1, 0);
    return undefined;
  } catch (error) {
    const fault = copyFaultOf(path, error);
    if (!fault) throw error;
    return fault;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** What is wrong with a copy, after its path: `is missing`, or `cannot be read (EACCES: …)`. */
function copyFaultWords(fault: LandedCopyFault): string {
  return fault.reason === 'COPY_MISSING' ? 'is missing' : `cannot be read (${fault.detail})`;
}

/** What a file held for its copy says, in the registry and in the night's summary: where to put it back. */
export function copyFaultMessage(file: Pick<FileRow, 'id'>, fault: LandedCopyFault): string {
  return (
    `its landed copy ${fault.path} ${copyFaultWords(fault)}: held until the file is put back there and released ` +
    `(\`redeye files release ${file.id}\`), or discarded (\`redeye files discard ${file.id} --reason "…"\`)`
  );
}

/**
 * Holds a pending file whose landed copy cannot be read (`missing`), for an operator: the night reads the
 * rest of its files, and nothing of this one is read or posted. Only from `pending`: a file another run
 * read or an operator decided meanwhile is left as it is (false).
 */
export async function holdForCopy(
  q: Q,
  file: Pick<FileRow, 'id'>,
  fault: LandedCopyFault,
  when: VerdictSet,
): Promise<boolean> {
  const changed = await changeVerdict(
    q,
    { id: file.id, verdict: 'pending' },
    {
      verdict: 'missing',
      reason: fault.reason,
      message: copyFaultMessage(file, fault),
      processed_at: when.at,
    },
    when,
  );
  return changed > 0;
}

export interface InboundFile {
  feed: string;
  name: string;
  size: number;
  sha256: string;
  transport?: string;
  remotePath?: string;
  localPath: string;
  businessDate: IsoDate;
  receivedAt: string;
  /** The feed's partner sends every file under one name (`feeds.<feed>.names: reused`). */
  namesReused?: boolean;
}

export interface Registration {
  file: FileRow;
  /** `new`: to be ingested; `duplicate`: same content seen before; `conflict`: same name, other content; `known`: this very file was registered before. */
  outcome: 'new' | 'duplicate' | 'conflict' | 'known';
}

/**
 * What the registry holds of a file received: this very file (its name and content) registered before,
 * else the first registration of the same content, or, when there is none, the first other file
 * registered under its name. `registerInbound` decides by it, and the simulator foretells fetch by it.
 */
export async function inboundMatch(
  q: Q,
  f: Pick<InboundFile, 'feed' | 'name' | 'sha256' | 'namesReused'>,
): Promise<{ same?: Record<string, unknown>; sameName?: Record<string, unknown> }> {
  // The file under its own name first: a copy left on the server under a second name is registered
  // once as a `duplicate`, and touched later it is that registration (`known`), not another duplicate
  // with another landed copy every night its time changes.
  const same =
    (await q('files')
      .where({ direction: 'in', feed: f.feed, name: f.name, sha256: f.sha256 })
      .orderBy('id')
      .first()) ??
    (await q('files').where({ direction: 'in', feed: f.feed, sha256: f.sha256 }).orderBy('id').first());
  if (same) return { same };
  // A partner that sends REDEMPTIONS.csv every day: other content under the name is the next file.
  if (f.namesReused) return {};
  const sameName = await q('files')
    .where({ direction: 'in', feed: f.feed, name: f.name })
    .whereNot('verdict', 'duplicate')
    .orderBy('id')
    .first();
  return sameName ? { sameName } : {};
}

/**
 * The folder fetch lands a file received for `date` in: `<feed>/<date>` under `root` (the landing area),
 * unless a registration of the feed already holds `<name>` there — the name was landed for the same date
 * before, by a fetch run again by hand or a night rerun — when it is the first of `<feed>/<date>/2`,
 * `<feed>/<date>/3`, … where none does. Landed over a registered copy, other bytes would be refused by
 * the landing area before the registry could hold them as a `conflict` (or, with names reused, read them
 * as the next file), and the feed would fail. A file there that no registration holds is a landing a
 * killed fetch did not record: the same bytes land onto it, and fetch registers one of other bytes before
 * asking again (`landBesideLeftovers`). `refused` is told of registered copies placed
 * outside `root` (`copyPathUnlessRefused`); they hold no place in it.
 */
export async function landingFolder(
  q: Q,
  root: string,
  f: Pick<InboundFile, 'feed' | 'name' | 'businessDate'>,
  refused?: (error: CopyOutsideError) => void,
): Promise<string> {
  const rows = (await q('files')
    .where({ direction: 'in', feed: f.feed, name: f.name })
    .whereNotNull('local_path')
    .select('id', 'direction', 'feed', 'name', 'local_path')) as Array<Record<string, unknown>>;
  const held = new Set(rows.map((r) => copyPathUnlessRefused(root, toFileRow(r), refused)));
  const dated = resolve(root, f.feed, f.businessDate);
  let folder = dated;
  for (let n = 2; held.has(join(folder, f.name)); n++) folder = join(dated, String(n));
  return folder;
}

/** The refusal of a copy of a file received before (`id` absent: earlier in the same run). */
export const copyOf = (earlier: { name: string; id?: number }) => ({
  reason: 'DUPLICATE_FILE' as const,
  message: `same content as ${earlier.name}${earlier.id === undefined ? ', earlier in this run' : ` (file ${earlier.id})`}: not ingested again`,
});

/** The refusal of another file under a name received before: held for an operator. */
export const conflictWith = (name: string, earlier: { id?: number }) => ({
  reason: 'NAME_CONFLICT' as const,
  message: `a different file named ${name} was received before${earlier.id === undefined ? '' : ` (file ${earlier.id})`}: held for an operator`,
});

/**
 * Records a landed file. The decision is made against everything registered for the feed, in one
 * transaction, so two fetches of the same file cannot both register it as new.
 */
export async function registerInbound(q: Q, f: InboundFile, now: string): Promise<Registration> {
  const { same, sameName } = await inboundMatch(q, f);
  if (same && same.name === f.name) return { file: toFileRow(same), outcome: 'known' };
  const verdict: InboundVerdict = same ? 'duplicate' : sameName ? 'conflict' : 'pending';
  const refusal = same
    ? copyOf({ name: String(same.name), id: Number(same.id) })
    : sameName
      ? conflictWith(f.name, { id: Number(sameName.id) })
      : undefined;
  const reason = refusal?.reason ?? null;
  const message = refusal?.message ?? null;
  const row = await inTransaction(q, async (trx) => {
    const [inserted] = await trx('files')
      .insert({
        direction: 'in',
        feed: f.feed,
        name: f.name,
        size: f.size,
        sha256: f.sha256,
        transport: f.transport ?? null,
        remote_path: f.remotePath ?? null,
        local_path: f.localPath,
        business_date: f.businessDate,
        verdict,
        reason,
        message,
        received_at: f.receivedAt,
        processed_at: verdict === 'pending' ? null : now,
        created_at: now,
      })
      .returning('*');
    await recordVerdict(trx, Number((inserted as { id: unknown }).id), {
      at: now,
      businessDate: f.businessDate,
    });
    return inserted as Record<string, unknown>;
  });
  return {
    file: toFileRow(row as Record<string, unknown>),
    outcome: verdict === 'pending' ? 'new' : (verdict as 'duplicate' | 'conflict'),
  };
}

export async function pendingInbound(q: Q, through: IsoDate): Promise<FileRow[]> {
  // A later night's files wait for it: a night run again reads what it landed itself and what earlier
  // nights left, never what a later fetch landed (it would post them under its own, earlier date).
  const query = q('files')
    .where({ direction: 'in', verdict: 'pending' })
    .andWhere((w) => w.where('business_date', '<=', through).orWhereNull('business_date'))
    .orderBy([{ column: 'received_at' }, { column: 'id' }]);
  return (await query).map((r: Record<string, unknown>) => toFileRow(r));
}

/** When a verdict is set: the instant, and the business date it belongs to (see `recordVerdict`). */
export interface VerdictSet {
  at: string;
  businessDate: IsoDate;
}

/**
 * Adds the file's registry row, as a change of verdict has just left it, to its verdict history
 * (`file_verdicts`): the daily report made again for a past date shows each file as it stood at the
 * close of that date, not what a later night or an operator made of it. `businessDate` is the night
 * whose run set the verdict, or, for an operator's decision, the day it was made in the program's time
 * zone: a report reads the last row dated on or before its own date. Called in the transaction that
 * changes the verdict, once per change (a file, never a record).
 */
export async function recordVerdict(q: Q, fileId: number, when: VerdictSet): Promise<void> {
  await q.raw(
    `INSERT INTO file_verdicts (file_id, verdict, reason, counts, partner_code, business_date, set_at)
     SELECT id, verdict, reason, counts, partner_code, ?, ? FROM files WHERE id = ?`,
    [when.businessDate, when.at, fileId],
  );
}

/**
 * Updates the file `where` names, and records its verdict history if the row changed: a condition on
 * the verdict (`{ id, verdict: 'written' }`) makes the change only from that verdict, so a file another
 * run or operator moved on meanwhile is left as it is and the caller sees 0 rows changed.
 */
export async function changeVerdict(
  q: Q,
  where: { id: number } & Record<string, unknown>,
  update: Record<string, unknown>,
  when: VerdictSet,
): Promise<number> {
  return inTransaction(q, async (trx) => {
    const n = Number(await trx('files').where(where).update(update));
    if (n > 0) await recordVerdict(trx, where.id, when);
    return n;
  });
}

export async function setVerdict(
  q: Q,
  fileId: number,
  v: {
    verdict: string;
    reason?: string | null;
    message?: string | null;
    counts?: Record<string, number>;
    partnerCode?: string | null;
    sequence?: number | null;
    echoToken?: string | null;
  },
  when: VerdictSet,
): Promise<void> {
  const update: Record<string, unknown> = {
    verdict: v.verdict,
    reason: v.reason ?? null,
    message: v.message ?? null,
    processed_at: when.at,
  };
  if (v.counts) update.counts = JSON.stringify(v.counts);
  if (v.partnerCode !== undefined) update.partner_code = v.partnerCode;
  if (v.sequence !== undefined) update.sequence = v.sequence;
  if (v.echoToken !== undefined) update.echo_token = v.echoToken;
  await changeVerdict(q, { id: fileId }, update, when);
}

export async function fileById(q: Q, id: number): Promise<FileRow | undefined> {
  const r = await q('files').where({ id }).first();
  return r ? toFileRow(r as Record<string, unknown>) : undefined;
}

/** A decision asked of a file that is not waiting for one: exits 2 and says what the file is. */
export class FileNotHeldError extends RedeyeError {
  override readonly exitCode = 2;
}

/** An id the operator gave that names no file: a usage error (exit 2), with where the ids are listed. */
export function unknownFile(id: number): UsageError {
  return new UsageError(
    `no file ${id} in the registry (redeye files list lists them)`,
    { fileId: id },
    {
      code: 'FILE_UNKNOWN',
    },
  );
}

/** Who decides, as the registry records it: the login the command runs under. */
export type Decision =
  | { decision: 'released'; by: string; reason?: string | null }
  | { decision: 'discarded'; by: string; reason: string };

/**
 * A file held for its landed copy released before the copy is back where the registry has it, with the
 * bytes received: exits 2, naming the path and what is wrong there.
 */
export class CopyNotBackError extends RedeyeError {
  override readonly exitCode = 2;
}

/**
 * Checks that the copy of a file held for it (`missing`) is back under `landing` as it was received: a
 * copy of other bytes would be read under this file's registration, which the same bytes elsewhere are
 * judged duplicates of.
 */
async function copyBack(landing: string | undefined, file: FileRow): Promise<void> {
  if (landing === undefined)
    throw new CopyNotBackError(
      'FILE_COPY_MISSING',
      `file ${file.id} (${file.name}) is held for its landed copy, and no landing folder was given to find it in`,
      { fileId: file.id, file: file.name },
    );
  const path = copyPath(landing, file);
  const fault = path === null ? undefined : await copyFault(path);
  if (path === null || fault) {
    throw new CopyNotBackError(
      'FILE_COPY_MISSING',
      `file ${file.id} (${file.name}) is held for its landed copy, which is not back yet: ` +
        `${path ?? 'the registry has no copy'}${fault ? ` ${copyFaultWords(fault)}` : ''}; ` +
        'put the file received back there, then release it',
      { fileId: file.id, file: file.name, ...(path ? { path } : {}) },
    );
  }
  const found = await sha256File(path);
  if (found.sha256 !== file.sha256 || found.size !== file.size)
    throw new CopyNotBackError(
      'FILE_COPY_DIFFERS',
      `file ${file.id} (${file.name}): ${path} holds other bytes than the file received ` +
        `(${found.size} bytes, sha256 ${found.sha256}; received ${file.size} bytes, sha256 ${file.sha256}); ` +
        'put the file received back there, then release it',
      { fileId: file.id, file: file.name, path },
    );
}

/**
 * An operator's decision on a file held for one: another file under a name received before (`conflict`),
 * or a file whose landed copy could not be read (`missing`). Released, the file becomes `pending` and the
 * next ingest reads it as a new file (its records are judged as any others: one already posted from an
 * earlier copy is a duplicate, never posted twice) — a `missing` one only once its copy is back under
 * `landing` with the bytes received (`copyBack`); discarded, it is never read, and its landed copy is
 * the retention step's like a read file's. Who, when and why stay with the file. The change is made only
 * if the file is still held (another operator may have decided it meanwhile).
 */
export async function decideHeld(
  q: Q,
  id: number,
  d: Decision,
  when: VerdictSet,
  landing?: string,
): Promise<FileRow> {
  const now = when.at;
  const file = await fileById(q, id);
  if (!file) throw unknownFile(id);
  if (file.direction !== 'in' || !HELD_FOR_OPERATOR.includes(file.verdict as InboundVerdict)) {
    const was = file.decision ? `: ${file.decision} by ${file.decidedBy} at ${file.decidedAt}` : '';
    throw new FileNotHeldError(
      'FILE_NOT_HELD',
      `file ${id} (${file.feed}) is ${file.verdict}, not held for an operator${was}; only a file held as a name conflict or for its landed copy can be released or discarded`,
      { fileId: id, file: file.name, verdict: file.verdict },
    );
  }
  const released = d.decision === 'released';
  if (released && file.verdict === 'missing') await copyBack(landing, file);
  const note = `${d.decision} by ${d.by} at ${now}${d.reason ? `: ${d.reason}` : ''}`;
  const changed = await changeVerdict(
    q,
    { id, verdict: file.verdict },
    {
      verdict: released ? 'pending' : 'discarded',
      // Released: the reason goes with the verdict; ingest writes the file's own. Discarded: kept, so
      // the file still says why it was held, and the decision says why it was dropped.
      reason: released ? null : file.reason,
      message: released ? null : `${file.message ?? 'held for an operator'}; ${note}`,
      processed_at: released ? null : now,
      decision: d.decision,
      decided_by: d.by,
      decided_at: now,
      decision_reason: d.reason ?? null,
    },
    when,
  );
  if (changed === 0) return decideHeld(q, id, d, when, landing);
  return (await fileById(q, id))!;
}

/** A file's counts as the registry stores them (JSON text; none before it was first counted). */
export function storedCounts<T extends object = Record<string, number>>(text: unknown): Partial<T> {
  return text ? (JSON.parse(String(text)) as Partial<T>) : {};
}
