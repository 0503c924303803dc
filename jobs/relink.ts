/**
 * `redeye files relink`: puts right the registry's copies that every step refuses (`FILE_COPY_OUTSIDE`):
 * rows written by older versions hold absolute paths, and once the installation's folders moved (new
 * disks, a restored database) a path that lies outside the configured folder and not where Redeye lays
 * its files out can only be refused, every night, with a warning. The operator says where those copies
 * were (`from`) and, if not the configured folder, where under it they are now (`to`); each refused row
 * under `from` is rewritten to its path relative to the configured folder, and only when the copy is
 * there with the size and sha256 the registry recorded, in a folder that really lies inside the configured
 * one: a row is never pointed at other bytes, nor at bytes retention would then delete outside it.
 *
 * A row whose copy is missing, and whose copy retention removes now (a file read, or an export delivered,
 * before its period), is rewritten only when asked (`removedByRetention`), to where Redeye lays that file
 * out (derived from the row, never from `from` and `to`, so a folder given a level off cannot write a path
 * no copy will ever have), and only when nothing says the copy still exists: not at its stored path, not
 * where Redeye lays it out, and for a mailing list not in the shared outbox, which retention empties first.
 */
import { lstat, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Knex } from 'knex';
import type { LoadedConfig } from '../config/load.js';
import type { Db } from '../db/connection.js';
import { chunks } from '../lib/chunks.js';
import type { IsoDate } from '../lib/dates.js';
import { coerceError, RedeyeError, UsageError } from '../lib/errors.js';
import { relativeInside } from '../lib/paths.js';
import type { TransportsByName } from '../transports/index.js';
import { checkCopy, type CopyFault, type CopySeen as Seen } from './copy-check.js';
import { acquireRunLock, describeHolder, LockedError } from './lock.js';
import { copyCutoffs, exportCopiesDue, landedCopiesDue, landedCopiesKept } from './retention.js';
import {
  copyFolder,
  copyPathUnlessRefused,
  gone,
  laidOut,
  settingOf,
  toFileRow,
  withCopyResolved,
  type CopyFolders,
  type FileRow,
} from './registry.js';

/** A refused row, as the result names it. */
export interface RefusedRow {
  id: number;
  direction: 'in' | 'out';
  feed: string;
  name: string;
  /** `local_path` as the registry holds it (refused): what puts a relinked row back as it was. */
  stored: string;
}

export interface RelinkedRow extends RefusedRow {
  /** The new `local_path`, relative to `setting`. */
  localPath: string;
  /** The copy it names, absolute. */
  path: string;
  setting: 'paths.landing' | 'paths.outbox';
  /**
   * Present when no copy is there and retention removes the row's copy now: relinked to where Redeye lays
   * that copy out, as retention leaves a file it took care of.
   */
  removedByRetention?: RemovedByRetention;
}

/** The period after which retention removed the copy, and the business dates it covers. */
export interface RemovedByRetention {
  setting: 'retention.landedFileDays' | 'retention.exportCopyDays';
  days: number;
  /** The row's business date is before this: the cut-off of the night of `RelinkOptions.businessDate`. */
  before: IsoDate;
}

export type LeftReason =
  | CopyFault
  | 'OTHER_FOLDER'
  /** No copy under `to`, and one is still at the stored path: not moved yet. */
  | 'STILL_AT_FROM'
  /** The copy would lie, through a symbolic link, outside the configured folder. */
  | 'LINKED_FOLDER'
  /** Retention removed its copy; relinked only with `removedByRetention`. */
  | 'REMOVED_BY_RETENTION'
  /** The row or its copy changed between the check and the write. */
  | 'CHANGED';

export interface LeftRow extends RefusedRow {
  reason: LeftReason;
  /** Where the copy was looked for (none when `to` is not the folder of the row's direction). */
  path: string | null;
  message: string;
  /** With `REMOVED_BY_RETENTION`: the period after which retention removed it. */
  removedByRetention?: RemovedByRetention;
}

export interface RelinkResult {
  dryRun: boolean;
  from: string;
  /** `to` as given, resolved; absent: each row's configured folder. */
  to?: string;
  /** Rewritten (or, in a dry run, that would be). */
  relinked: RelinkedRow[];
  /** Refused rows under `from` left as they are, and why. */
  left: LeftRow[];
  /** Refused rows whose copy does not lie under `from`, not looked at: how many, and the first few. */
  elsewhere: { count: number; first: RefusedRow[] };
}

export interface RelinkOptions {
  from: string;
  to?: string;
  dryRun: boolean;
  /**
   * Relink the rows whose copy is missing and retention removes (see the module's comment); without it
   * they are left, `REMOVED_BY_RETENTION`, and counted.
   */
  removedByRetention: boolean;
  /** The date the lock row records (the command's day): a night refused by it names it so. */
  today: string;
  /**
   * The night whose retention a missing copy is judged by (the last business date that has ended): the
   * rows its retention removes the copies of, by `retention`'s periods.
   */
  businessDate: IsoDate;
  retention: Pick<LoadedConfig['retention'], 'landedFileDays' | 'exportCopyDays'>;
  /**
   * The shared outbox (`exports.outbox`) and the transports: a delivered mailing list is removed there
   * before our copy, so a list still there says our missing copy is not retention's doing.
   */
  sharedOutbox: { name: string; transports: TransportsByName };
}

/** Rows read at a time: the registry is gone through whole, in bounded memory. */
const PAGE = 1000;

/** Rows written per transaction, under the lock. */
const WRITE_CHUNK = 500;

/** How many of the refused rows outside `from` the result names; the rest are counted. */
export const ELSEWHERE_NAMED = 20;

const within = (root: string, path: string): boolean =>
  resolve(root) === resolve(path) || relativeInside(root, path) !== undefined;

/**
 * Relinks the refused copies under `from`. The copies are checked and hashed first, without the run lock,
 * so a night is never kept waiting by a long pass; the lock is then held only to check each copy again by
 * `lstat` (the same size, modification time and inode) and to write, in transactions of `WRITE_CHUNK`
 * rows. Each row written is right on its own: a run that fails midway leaves the rows written relinked and
 * the others as they were, and a second run does the rest. A dry run takes no lock and writes nothing.
 */
export async function relinkCopies(
  db: Db,
  folders: CopyFolders,
  options: RelinkOptions,
): Promise<RelinkResult> {
  const from = resolve(options.from);
  const to = options.to === undefined ? undefined : resolve(options.to);
  if (to !== undefined && !within(folders.landing, to) && !within(folders.outbox, to))
    throw new UsageError(
      `--to ${to} lies outside paths.landing (${folders.landing}) and paths.outbox (${folders.outbox}); ` +
        'the registry keeps copies only in those folders: move the copies there first',
      { option: '--to', path: to },
    );
  const real = await realFolders(folders);
  const { result, seen } = await plan(db, folders, real, from, to, options);
  if (options.dryRun || result.relinked.length === 0) return result;
  let lock;
  try {
    lock = await acquireRunLock(db, { job: 'files relink', businessDate: options.today });
  } catch (error) {
    if (!(error instanceof LockedError)) throw error;
    throw new RedeyeError(
      'JOB_LOCKED',
      `files relink not started: ${describeHolder(error.heldBy)}; it changes the copies the night uses, ` +
        'so run it again once that run has ended',
      error.heldBy ? { heldBy: error.heldBy } : {},
    );
  }
  try {
    const written: RelinkedRow[] = [];
    for (const part of chunks(result.relinked, WRITE_CHUNK)) {
      const still: RelinkedRow[] = [];
      for (const r of part) {
        // A night's retention or export may have removed or replaced a copy since it was checked.
        const changed = await changedSince(r, seen.get(r.id), real[r.direction]);
        if (changed) result.left.push(leftChanged(r, changed));
        else still.push(r);
      }
      await db.transaction(async (trx) => {
        for (const r of still) {
          // Only the row as it was read: one changed meanwhile (by hand: every run is locked out) is left.
          const n = await trx('files')
            .where({ id: r.id, local_path: r.stored })
            .update({ local_path: r.localPath });
          if (n === 1) written.push(r);
          else result.left.push(leftChanged(r, `the registry's row changed since it was read`));
        }
      });
    }
    result.relinked = written;
    result.left.sort((a, b) => a.id - b.id);
    return result;
  } finally {
    await lock.release();
  }
}

const leftChanged = (r: RelinkedRow, why: string): LeftRow => ({
  id: r.id,
  direction: r.direction,
  feed: r.feed,
  name: r.name,
  stored: r.stored,
  reason: 'CHANGED',
  path: r.path,
  message: `${why}; not relinked: run it again`,
});

/** Why the copy of `r` can no longer be relinked as planned; undefined when it still can. */
async function changedSince(
  r: RelinkedRow,
  seen: Seen | undefined,
  realRoot: string,
): Promise<string | undefined> {
  const linked = await linkedOut(realRoot, r.path);
  if (linked) return linked;
  const now = await lstat(r.path).catch((error: unknown) => {
    if (gone(error)) return undefined;
    throw error;
  });
  if (r.removedByRetention) {
    if (now) return `${r.path} appeared since it was checked`;
    if (
      await lstat(r.stored).then(
        () => true,
        (error: unknown) => !gone(error),
      )
    )
      return `${r.stored} appeared since it was checked`;
    return undefined;
  }
  if (
    !now ||
    !seen ||
    !now.isFile() ||
    now.size !== seen.size ||
    now.mtimeMs !== seen.mtimeMs ||
    now.ino !== seen.ino
  )
    return `${r.path} changed since its sha256 was checked`;
  return undefined;
}

/** The configured folders as the file system resolves them, by direction. */
type RealFolders = Record<'in' | 'out', string>;

const realFolders = async (folders: CopyFolders): Promise<RealFolders> => ({
  in: await realOrResolved(folders.landing),
  out: await realOrResolved(folders.outbox),
});

/** `path` with every symbolic link followed; as given while it does not exist. */
async function realOrResolved(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    if (gone(error)) return resolve(path);
    throw error;
  }
}

/**
 * Why `path` would lie outside `realRoot` once its folders' symbolic links are followed; undefined when it
 * does not (or its folder does not exist: then no copy is there either). Retention removes a copy at a
 * path inside its folder as written, following any link in the middle; relink names none of those.
 */
async function linkedOut(realRoot: string, path: string): Promise<string | undefined> {
  let real;
  try {
    real = await realpath(dirname(path));
  } catch (error) {
    if (gone(error)) return undefined;
    throw error;
  }
  return within(realRoot, real)
    ? undefined
    : `${dirname(path)} is, through a symbolic link, ${real}, outside the configured folder ${realRoot}: retention would remove files there; copy them into the folder itself`;
}

async function plan(
  db: Db,
  folders: CopyFolders,
  real: RealFolders,
  from: string,
  to: string | undefined,
  options: RelinkOptions,
): Promise<{ result: RelinkResult; seen: Map<number, Seen> }> {
  const result: RelinkResult = {
    dryRun: options.dryRun,
    from,
    ...(to === undefined ? {} : { to }),
    relinked: [],
    left: [],
    elsewhere: { count: 0, first: [] },
  };
  const seen = new Map<number, Seen>();
  const realTo = to === undefined ? undefined : await realOrResolved(to);
  const missing: Missing[] = [];
  for await (const file of refusedRows(db, folders)) {
    const row: RefusedRow = {
      id: file.id,
      direction: file.direction,
      feed: file.feed,
      name: file.name,
      stored: file.localPath!,
    };
    const target = locate(folders, from, to, file);
    if (target === undefined) {
      if (result.elsewhere.count++ < ELSEWHERE_NAMED) result.elsewhere.first.push(row);
      continue;
    }
    if ('reason' in target) {
      result.left.push({ ...row, ...target, path: null });
      continue;
    }
    const realRoot = real[file.direction];
    if (realTo !== undefined && !within(realRoot, realTo)) {
      result.left.push({
        ...row,
        reason: 'LINKED_FOLDER',
        path: target.path,
        message: `--to ${to} is, through a symbolic link, ${realTo}, outside ${target.setting} (${realRoot}): retention would remove files there; copy them into the folder itself`,
      });
      continue;
    }
    const found = await examine(realRoot, target.path, file);
    if ('seen' in found) {
      result.relinked.push({ ...row, ...target });
      seen.set(row.id, found.seen);
      continue;
    }
    if (found.reason !== 'MISSING') {
      result.left.push({ ...row, path: target.path, ...found });
      continue;
    }
    // The copy may simply not have been moved yet: relinked now, it would never be removed where it is.
    const atFrom = await lstat(row.stored).then(
      () => undefined,
      (error: unknown) => (gone(error) ? null : error),
    );
    if (atFrom !== null) {
      result.left.push(
        atFrom === undefined
          ? {
              ...row,
              reason: 'STILL_AT_FROM',
              path: row.stored,
              message: `no copy at ${target.path}, and the copy is still at ${row.stored}: move it to ${target.path}, or remove it, and run again`,
            }
          : {
              ...row,
              reason: 'UNREADABLE',
              path: row.stored,
              message: `no copy at ${target.path}, and ${row.stored} cannot be looked at: ${(atFrom as Error).message}`,
            },
      );
      continue;
    }
    // Gone: the row is kept where Redeye lays that file out, whatever `from` and `to` were.
    const own = laidOut(file, file.businessDate);
    const ownPath = own === undefined ? undefined : join(copyFolder(folders, file.direction), own);
    if (ownPath === undefined || ownPath === target.path) {
      missing.push({
        row,
        file,
        target,
        own: ownPath === undefined ? undefined : { ...target, path: ownPath, localPath: own! },
        message: found.message,
      });
      continue;
    }
    const there = await examine(realRoot, ownPath, file);
    if ('seen' in there) {
      result.relinked.push({ ...row, ...target, path: ownPath, localPath: own! });
      seen.set(row.id, there.seen);
    } else if (there.reason !== 'MISSING') result.left.push({ ...row, path: ownPath, ...there });
    else
      missing.push({
        row,
        file,
        target,
        own: { ...target, path: ownPath, localPath: own! },
        message: found.message,
      });
  }
  const removed = await removedByRetention(db, folders, from, to, options, missing);
  for (const { row, target, own, message } of missing) {
    const retained = removed.get(row.id);
    if (retained === undefined || own === undefined)
      result.left.push({ ...row, reason: 'MISSING', path: target.path, message });
    else if (typeof retained === 'string')
      result.left.push({ ...row, reason: 'MISSING', path: target.path, message: `${message}; ${retained}` });
    else if (options.removedByRetention)
      result.relinked.push({ ...row, ...own, removedByRetention: retained });
    else
      result.left.push({
        ...row,
        reason: 'REMOVED_BY_RETENTION',
        path: own.path,
        message: `${message}: retention has removed it (${retained.setting}: ${retained.days} days, business date before ${retained.before}); --removed-by-retention relinks it to ${own.localPath} in ${own.setting}`,
        removedByRetention: retained,
      });
  }
  // In the order of the registry, whichever way each was decided.
  result.relinked.sort((a, b) => a.id - b.id);
  result.left.sort((a, b) => a.id - b.id);
  return { result, seen };
}

/** A refused row whose copy is missing: under `to` (`target`), and where Redeye lays it out (`own`). */
interface Missing {
  row: RefusedRow;
  file: FileRow;
  target: Target;
  own: Target | undefined;
  message: string;
}

/** The copy at `path` when it is the file the registry recorded, in a folder inside the configured one. */
async function examine(
  realRoot: string,
  path: string,
  file: Pick<FileRow, 'size' | 'sha256'>,
): Promise<{ seen: Seen } | { reason: LeftReason; message: string }> {
  const linked = await linkedOut(realRoot, path);
  if (linked) return { reason: 'LINKED_FOLDER', message: linked };
  return checkCopy(path, file);
}

/** Where a refused row's copy is now: the path under `to` (or its folder) and that path as stored. */
interface Target {
  path: string;
  localPath: string;
  setting: 'paths.landing' | 'paths.outbox';
}

/**
 * Where the copy of a refused row lies now: undefined when its stored path is not under `from`, and
 * `OTHER_FOLDER` when `to` is not the folder of its direction.
 */
function locate(
  folders: CopyFolders,
  from: string,
  to: string | undefined,
  file: FileRow,
): Target | { reason: 'OTHER_FOLDER'; message: string } | undefined {
  const stored = file.localPath!;
  // A relative path that climbs out of its folder says nothing of where the old folder was.
  const under = isAbsolute(stored) ? relativeInside(from, stored) : undefined;
  if (under === undefined) return undefined;
  const root = copyFolder(folders, file.direction);
  const setting = settingOf(file.direction);
  if (to !== undefined && !within(root, to))
    return {
      reason: 'OTHER_FOLDER',
      message: `a file ${file.direction === 'in' ? 'received' : 'sent'} keeps its copy in ${setting} (${root}), and --to ${to} lies outside it`,
    };
  const path = join(to ?? root, under);
  return { path, localPath: relativeInside(root, path)!, setting };
}

/**
 * Of the rows whose copy is missing, those whose copy the retention of `options.businessDate` removes,
 * by its own cut-offs and selections (`jobs/retention.ts`), so that the two cannot disagree: a file read
 * and an export delivered before their periods. As retention keeps a landed copy shared with a file still
 * to be read, a row whose copy would be one kept (by where the kept rows' copies are now, relinked or
 * not) is not among them. A delivered mailing list is removed from the shared outbox before our copy, and
 * our copy kept when that fails: one still there (or that cannot be looked for: the reason, as a string)
 * was not removed by retention.
 */
async function removedByRetention(
  db: Db,
  folders: CopyFolders,
  from: string,
  to: string | undefined,
  options: RelinkOptions,
  missing: readonly Missing[],
): Promise<Map<number, RemovedByRetention | string>> {
  const out = new Map<number, RemovedByRetention | string>();
  if (missing.length === 0) return out;
  const knex = db.knex;
  const cutoffs = copyCutoffs(options.retention, options.businessDate);
  const landed: RemovedByRetention = {
    setting: 'retention.landedFileDays',
    days: options.retention.landedFileDays,
    before: cutoffs.landedFiles,
  };
  const exported: RemovedByRetention = {
    setting: 'retention.exportCopyDays',
    days: options.retention.exportCopyDays,
    before: cutoffs.exportCopies,
  };
  const inbound = missing.filter((m) => m.row.direction === 'in');
  if (inbound.length > 0) {
    const kept = new Set<string>();
    for (const r of await landedCopiesKept(knex).select('id', 'direction', 'feed', 'name', 'local_path')) {
      const file = toFileRow(r as Record<string, unknown>);
      let path = copyPathUnlessRefused(folders.landing, file);
      // landedCopiesKept reads only rows with a copy, so null is a refused one: kept where it now is.
      if (path === null) {
        const target = locate(folders, from, to, file);
        path = target && 'path' in target ? target.path : null;
      }
      if (path) kept.add(resolve(path));
    }
    for (const part of chunks(inbound, 500)) {
      const due = await dueIds(landedCopiesDue(knex, cutoffs.landedFiles), part);
      for (const m of part)
        if (due.has(m.row.id) && !kept.has(resolve(m.target.path))) out.set(m.row.id, landed);
    }
  }
  const outbound = missing.filter((m) => m.row.direction === 'out');
  const shared = options.sharedOutbox.name;
  const listed = new Map<string, Promise<Set<string>>>();
  for (const part of chunks(outbound, 500)) {
    const due = await dueIds(exportCopiesDue(knex, cutoffs.exportCopies), part);
    for (const m of part) {
      if (!due.has(m.row.id)) continue;
      const { file } = m;
      if (file.feed === 'mailing' && file.partnerCode === null && file.transport === shared) {
        // As retention removes it there: the list's folder on the shared outbox is its feed.
        let names = listed.get(file.feed);
        if (!names) {
          const transport = options.sharedOutbox.transports.get(shared);
          names = transport.listAll(file.feed).then((entries) => new Set(entries.map((e) => e.name)));
          listed.set(file.feed, names);
        }
        let still;
        try {
          still = (await names).has(file.name);
        } catch (error) {
          const e = coerceError(error, { transport: shared, file: file.name });
          out.set(
            m.row.id,
            `whether the list is still in ${shared} cannot be told: [${e.code}] ${e.describe()}`,
          );
          continue;
        }
        if (still) {
          out.set(
            m.row.id,
            `the delivered list is still in ${shared} (${file.feed}/${file.name}), which retention empties before our copy: remove it there, and run again`,
          );
          continue;
        }
      }
      out.set(m.row.id, exported);
    }
  }
  return out;
}

/** Which of `rows` retention's selection `due` holds. */
async function dueIds(
  due: Knex.QueryBuilder,
  rows: ReadonlyArray<{ row: RefusedRow }>,
): Promise<Set<number>> {
  const ids = (await due
    .whereIn(
      'id',
      rows.map((r) => r.row.id),
    )
    .pluck('id')) as Array<number | string>;
  return new Set(ids.map(Number));
}

/** Every row whose copy `copyPath` refuses, by id. */
async function* refusedRows(db: Db, folders: CopyFolders): AsyncGenerator<FileRow> {
  let after = 0;
  for (;;) {
    const page = (
      await db
        .knex('files')
        .whereNotNull('local_path')
        .where('id', '>', after)
        .orderBy('id')
        .limit(PAGE)
        .select(
          'id',
          'direction',
          'feed',
          'name',
          'size',
          'sha256',
          'local_path',
          'business_date',
          'transport',
          'partner_code',
        )
    ).map((r: Record<string, unknown>) => toFileRow(r));
    // Only rows with a copy are read, so null is a refused one.
    for (const file of page) if (withCopyResolved(folders, file).localPath === null) yield file;
    if (page.length < PAGE) return;
    after = page.at(-1)!.id;
  }
}
