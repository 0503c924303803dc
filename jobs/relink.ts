/**
 * `redeye files relink`: puts right the registry's copies that every step refuses (`FILE_COPY_OUTSIDE`):
 * rows written by older versions hold absolute paths, and once the installation's folders moved (new
 * disks, a restored database) a path that lies outside the configured folder and not where Redeye lays
 * its files out can only be refused, every night, with a warning. The operator says where those copies
 * were (`from`) and, if not the configured folder, where under it they are now (`to`); each refused row
 * under `from` is rewritten to its path relative to the configured folder, and only when the copy is
 * there with the size and sha256 the registry recorded: a row is never pointed at other bytes. A row whose
 * copy is missing and whose copy retention removes now (a file read, or an export delivered, before its
 * period) is rewritten all the same: a copy gone from such a file is what a night leaves in an installation
 * that never moved, so its row is left as retention leaves it rather than refused, with a warning, for ever.
 */
import { lstat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Knex } from 'knex';
import type { LoadedConfig } from '../config/load.js';
import type { Db } from '../db/connection.js';
import { chunks } from '../lib/chunks.js';
import type { IsoDate } from '../lib/dates.js';
import { RedeyeError, UsageError } from '../lib/errors.js';
import { relativeInside } from '../lib/paths.js';
import { acquireRunLock, describeHolder, LockedError } from './lock.js';
import { copyCutoffs, exportCopiesDue, landedCopiesDue, landedCopiesKept } from './retention.js';
import {
  copyFolder,
  copyPath,
  CopyOutsideError,
  sha256File,
  toFileRow,
  type CopyFolders,
  type FileRow,
} from './registry.js';

/** A refused row, as the result names it. */
export interface RefusedRow {
  id: number;
  direction: 'in' | 'out';
  feed: string;
  name: string;
  /** `local_path` as the registry holds it (refused). */
  stored: string;
}

export interface RelinkedRow extends RefusedRow {
  /** The new `local_path`, relative to `setting`. */
  localPath: string;
  /** The copy it names, absolute. */
  path: string;
  setting: 'paths.landing' | 'paths.outbox';
  /**
   * Present when no copy is there and retention removes the row's copy now: relinked to where its copy
   * was, as retention leaves a file it took care of.
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

export type LeftReason = 'MISSING' | 'NOT_A_FILE' | 'MISMATCH' | 'UNREADABLE' | 'OTHER_FOLDER';

export interface LeftRow extends RefusedRow {
  reason: LeftReason;
  /** Where the copy was looked for (none when `to` is not the folder of the row's direction). */
  path: string | null;
  message: string;
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
  /** Refused rows whose copy does not lie under `from`: not looked at. */
  elsewhere: RefusedRow[];
}

export interface RelinkOptions {
  from: string;
  to?: string;
  dryRun: boolean;
  /** The date the lock row records (the command's day): a night refused by it names it so. */
  today: string;
  /**
   * The night whose retention a missing copy is judged by (the last business date that has ended): the
   * rows its retention removes the copies of, by `retention`'s periods.
   */
  businessDate: IsoDate;
  retention: Pick<LoadedConfig['retention'], 'landedFileDays' | 'exportCopyDays'>;
}

/** Rows read at a time: the registry is gone through whole, in bounded memory. */
const PAGE = 1000;

const settingOf = (direction: 'in' | 'out'): 'paths.landing' | 'paths.outbox' =>
  direction === 'in' ? 'paths.landing' : 'paths.outbox';

const within = (root: string, path: string): boolean =>
  resolve(root) === resolve(path) || relativeInside(root, path) !== undefined;

/**
 * Relinks the refused copies under `from`. Writing, it holds the run lock for the whole of it — a night's
 * retention could remove, or its export replace, a copy between the check and the write — and writes
 * every row in one transaction; a dry run takes no lock and writes nothing.
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
  if (options.dryRun) return plan(db, folders, from, to, options);
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
    const result = await plan(db, folders, from, to, options);
    if (result.relinked.length === 0) return result;
    await db.transaction(async (trx) => {
      for (const r of result.relinked) {
        // Only the row as it was read: anything that changed it meanwhile (by hand: every run is locked
        // out) is not overwritten, and nothing of this run is kept.
        const changed = await trx('files')
          .where({ id: r.id, local_path: r.stored })
          .update({ local_path: r.localPath });
        if (changed !== 1)
          throw new RedeyeError(
            'FILE_CHANGED',
            `file ${r.id} (${r.name}) changed while its copy was checked; nothing was relinked: run it again`,
            { fileId: r.id, file: r.name },
          );
      }
    });
    return result;
  } finally {
    await lock.release();
  }
}

async function plan(
  db: Db,
  folders: CopyFolders,
  from: string,
  to: string | undefined,
  options: RelinkOptions,
): Promise<RelinkResult> {
  const result: RelinkResult = {
    dryRun: options.dryRun,
    from,
    ...(to === undefined ? {} : { to }),
    relinked: [],
    left: [],
    elsewhere: [],
  };
  const missing: Array<{ row: RefusedRow; target: Target; message: string }> = [];
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
      result.elsewhere.push(row);
      continue;
    }
    if ('reason' in target) {
      result.left.push({ ...row, ...target, path: null });
      continue;
    }
    const problem = await checkCopy(target.path, file);
    if (!problem) result.relinked.push({ ...row, ...target });
    else if (problem.reason === 'MISSING') missing.push({ row, target, message: problem.message });
    else result.left.push({ ...row, path: target.path, ...problem });
  }
  const removed = await removedByRetention(db, folders, from, to, options, missing);
  for (const { row, target, message } of missing) {
    const retained = removed.get(row.id);
    if (retained) result.relinked.push({ ...row, ...target, removedByRetention: retained });
    else result.left.push({ ...row, reason: 'MISSING', path: target.path, message });
  }
  // In the order of the registry, whichever way each was decided.
  result.relinked.sort((a, b) => a.id - b.id);
  result.left.sort((a, b) => a.id - b.id);
  return result;
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
 * not) is not among them.
 */
async function removedByRetention(
  db: Db,
  folders: CopyFolders,
  from: string,
  to: string | undefined,
  options: RelinkOptions,
  missing: ReadonlyArray<{ row: RefusedRow; target: Target }>,
): Promise<Map<number, RemovedByRetention>> {
  const out = new Map<number, RemovedByRetention>();
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
      let path: string | null | undefined;
      try {
        path = copyPath(folders.landing, file);
      } catch (error) {
        if (!(error instanceof CopyOutsideError)) throw error;
        const target = locate(folders, from, to, file);
        path = target && 'path' in target ? target.path : undefined;
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
  for (const part of chunks(outbound, 500))
    for (const id of await dueIds(exportCopiesDue(knex, cutoffs.exportCopies), part)) out.set(id, exported);
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
        .select('id', 'direction', 'feed', 'name', 'size', 'sha256', 'local_path')
    ).map((r: Record<string, unknown>) => toFileRow(r));
    for (const file of page) {
      try {
        copyPath(copyFolder(folders, file.direction), file);
      } catch (error) {
        if (!(error instanceof CopyOutsideError)) throw error;
        yield file;
      }
    }
    if (page.length < PAGE) return;
    after = page.at(-1)!.id;
  }
}

/** Why the copy at `path` is not the file the registry recorded; undefined when it is. */
async function checkCopy(
  path: string,
  file: Pick<FileRow, 'size' | 'sha256'>,
): Promise<{ reason: LeftReason; message: string } | undefined> {
  const unreadable = (error: unknown) => ({
    reason: 'UNREADABLE' as const,
    message: `${path} cannot be read: ${(error as Error).message}`,
  });
  let stat;
  try {
    stat = await lstat(path);
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'ENOENT' ||
      (error as NodeJS.ErrnoException).code === 'ENOTDIR'
    )
      return { reason: 'MISSING', message: `no copy at ${path}` };
    return unreadable(error);
  }
  // A link is not followed: the registry would then name a file whose bytes lie outside the folder.
  if (!stat.isFile())
    return {
      reason: 'NOT_A_FILE',
      message: `${path} is ${stat.isSymbolicLink() ? 'a symbolic link' : stat.isDirectory() ? 'a folder' : 'not a regular file'}, not the copy`,
    };
  if (stat.size !== file.size)
    return {
      reason: 'MISMATCH',
      message: `${path} holds ${stat.size} bytes, the registry recorded ${file.size}`,
    };
  if (!file.sha256) return undefined;
  let actual;
  try {
    actual = await sha256File(path);
  } catch (error) {
    return unreadable(error);
  }
  return actual.sha256 === file.sha256
    ? undefined
    : {
        reason: 'MISMATCH',
        message: `${path} has sha256 ${actual.sha256}, the registry recorded ${file.sha256}`,
      };
}
