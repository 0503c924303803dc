/**
 * `redeye files relink`: puts right the registry's copies that every step refuses (`FILE_COPY_OUTSIDE`):
 * rows written by older versions hold absolute paths, and once the installation's folders moved (new
 * disks, a restored database) a path that lies outside the configured folder and not where Redeye lays
 * its files out can only be refused, every night, with a warning. The operator says where those copies
 * were (`from`) and, if not the configured folder, where under it they are now (`to`); each refused row
 * under `from` is rewritten to its path relative to the configured folder, and only when the copy is
 * there with the size and sha256 the registry recorded: a row is never pointed at other bytes.
 */
import { lstat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Db } from '../db/connection.js';
import { RedeyeError, UsageError } from '../lib/errors.js';
import { relativeInside } from '../lib/paths.js';
import { acquireRunLock, describeHolder, LockedError } from './lock.js';
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
  if (options.dryRun) return plan(db, folders, from, to, true);
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
    const result = await plan(db, folders, from, to, false);
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
  dryRun: boolean,
): Promise<RelinkResult> {
  const result: RelinkResult = {
    dryRun,
    from,
    ...(to === undefined ? {} : { to }),
    relinked: [],
    left: [],
    elsewhere: [],
  };
  for await (const file of refusedRows(db, folders)) {
    const row: RefusedRow = {
      id: file.id,
      direction: file.direction,
      feed: file.feed,
      name: file.name,
      stored: file.localPath!,
    };
    // A relative path that climbs out of its folder says nothing of where the old folder was.
    const under = isAbsolute(row.stored) ? relativeInside(from, row.stored) : undefined;
    if (under === undefined) {
      result.elsewhere.push(row);
      continue;
    }
    const root = copyFolder(folders, file.direction);
    const setting = settingOf(file.direction);
    if (to !== undefined && !within(root, to)) {
      result.left.push({
        ...row,
        reason: 'OTHER_FOLDER',
        path: null,
        message: `a file ${file.direction === 'in' ? 'received' : 'sent'} keeps its copy in ${setting} (${root}), and --to ${to} lies outside it`,
      });
      continue;
    }
    const path = join(to ?? root, under);
    const localPath = relativeInside(root, path)!;
    const problem = await checkCopy(path, file);
    if (problem) result.left.push({ ...row, path, ...problem });
    else result.relinked.push({ ...row, localPath, path, setting });
  }
  return result;
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
