import { constants, type Stats } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ListingTransport } from './completeness.js';
import {
  TransportError,
  changedSinceDownload,
  folderMissing,
  isTransportError,
  replacementKept,
  type TransportErrorContext,
} from './errors.js';
import { errnoCode, fsError, land, syncFolder } from './landing.js';
import { assertSafeName, byName, temporaryName } from './names.js';
import {
  type ArchiveOptions,
  type ArchiveResult,
  type CompanionOptions,
  type SeenFile,
  type DownloadResult,
  type RemoteEntry,
  type Transport,
  type UploadOptions,
  type UploadResult,
} from './types.js';

export interface LocalTransportOptions {
  /** Folder that relative inbox, outbox and archive folders are resolved against. */
  root: string;
}

/** How many `<name>.N` archive names are tried before giving up: far more than any partner resends. */
const MAX_ARCHIVE_SUFFIX = 9999;

/**
 * Inboxes and outboxes as folders on this machine: the embedded default, and what partners with a shared
 * drive use. Same guarantees as SFTP, plus: a symbolic link in an inbox is refused, never followed, so a
 * link planted in an inbox cannot make Redeye read (or archive into) a file outside it.
 */
export class LocalTransport extends ListingTransport implements Transport {
  readonly kind = 'local' as const;
  readonly endpoint: string;

  constructor(options: LocalTransportOptions) {
    super();
    this.endpoint = resolve(options.root);
  }

  async download(remoteDir: string, file: string | RemoteEntry, localDir: string): Promise<DownloadResult> {
    const name = typeof file === 'string' ? file : file.name;
    const context = this.context(remoteDir, name, 'download');
    assertSafeName(name, context);
    const source = join(this.folder(remoteDir), name);
    const handle = await openInboxFile(source, context);
    try {
      const info = await handle.stat();
      if (typeof file !== 'string' && file.size !== info.size) {
        throw new TransportError(
          'SIZE_MISMATCH',
          `the file changed since it was listed: listed ${file.size} bytes, now ${info.size}`,
          { ...context, expectedSize: file.size, actualSize: info.size },
        );
      }
      const landed = await land(
        handle.createReadStream({ autoClose: false }),
        resolve(localDir),
        name,
        info.size,
        {
          ...context,
          path: resolve(localDir, name),
        },
      );
      return {
        localPath: landed.path,
        seen: seenOf(info),
        size: landed.size,
        sha256: landed.sha256,
        alreadyPresent: landed.alreadyPresent,
      };
    } finally {
      await handle.close();
    }
  }

  async upload(
    localPath: string,
    remoteDir: string,
    name: string,
    options: UploadOptions = {},
  ): Promise<UploadResult> {
    const context = { ...this.context(remoteDir, name, 'upload'), path: localPath };
    assertSafeName(name, context);
    const folder = this.folder(remoteDir);
    if (options.createDir) {
      await mkdir(folder, { recursive: true }).catch((error: unknown) => {
        throw fsError(error, `cannot create the folder ${folder}`, context);
      });
    }
    let handle: FileHandle;
    try {
      handle = await open(localPath, 'r');
    } catch (error) {
      throw fsError(error, `cannot read ${localPath}`, context);
    }
    try {
      const info = await handle.stat();
      const landed = await land(
        handle.createReadStream({ autoClose: false }),
        folder,
        name,
        info.size,
        context,
      );
      return {
        remotePath: landed.path,
        size: landed.size,
        sha256: landed.sha256,
        alreadyPresent: landed.alreadyPresent,
      };
    } catch (error) {
      // Never created here unasked: a share not mounted would have its files land on the local disk.
      if (
        isTransportError(error, 'NOT_FOUND') &&
        (await lstatIfExists(folder).catch(() => null)) === undefined
      )
        throw folderMissing(folder, context, error);
      if (error instanceof TransportError && error.code === 'SIZE_MISMATCH') {
        throw new TransportError(
          'SOURCE_CHANGED',
          `${localPath} changed while it was being delivered`,
          context,
          {
            cause: error,
          },
        );
      }
      throw error;
    } finally {
      await handle.close();
    }
  }

  async archive(
    remoteDir: string,
    name: string,
    archiveDir: string,
    options: ArchiveOptions = {},
  ): Promise<ArchiveResult> {
    const context = this.context(remoteDir, name, 'archive');
    assertSafeName(name, context);
    if (options.markerSuffix !== undefined) assertSafeName(name + options.markerSuffix, context);
    const inbox = this.folder(remoteDir);
    const archive = this.folder(archiveDir);
    const source = join(inbox, name);
    const { seen } = options;
    const before = await lstatOrThrow(source, context);
    // Refused without moving anything in the usual case: the partner replaced the file after it was read.
    if (seen) {
      const changed = changedSinceDownload(seen, seenOf(before), context);
      if (changed) throw changed;
    }
    try {
      await mkdir(archive, { recursive: true });
    } catch (error) {
      throw fsError(error, `cannot create archive folder ${archive}`, { ...context, path: archive });
    }
    const taken = seen ? await takeIfSeen(inbox, name, archive, seen, context) : undefined;
    const archivedName = await moveWithoutClobber(
      taken === undefined ? inbox : archive,
      taken ?? name,
      archive,
      name,
      context,
    );
    const result: ArchiveResult = { archivedPath: join(archive, archivedName) };
    if (options.markerSuffix !== undefined) {
      const marker = name + options.markerSuffix;
      if ((await lstatIfExists(join(inbox, marker))) !== undefined) {
        const archivedMarker = await moveWithoutClobber(
          inbox,
          marker,
          archive,
          archivedName + options.markerSuffix,
          context,
        );
        result.archivedMarkerPath = join(archive, archivedMarker);
      }
    }
    await syncFolder(archive);
    await syncFolder(inbox);
    return result;
  }

  async remove(remoteDir: string, name: string, options: CompanionOptions = {}): Promise<boolean> {
    const context = this.context(remoteDir, name, 'remove');
    assertSafeName(name, context);
    if (options.markerSuffix !== undefined) assertSafeName(name + options.markerSuffix, context);
    const inbox = this.folder(remoteDir);
    const removed = await unlinkIfExists(join(inbox, name), context);
    if (options.markerSuffix !== undefined)
      await unlinkIfExists(join(inbox, name + options.markerSuffix), context);
    await syncFolder(inbox);
    return removed;
  }

  async close(): Promise<void> {
    // Nothing is held open between operations.
  }

  async listAll(remoteDir: string): Promise<RemoteEntry[]> {
    const folder = this.folder(remoteDir);
    const context = this.context(remoteDir, undefined, 'list');
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (error) {
      throw fsError(error, `cannot list ${folder}`, { ...context, path: folder });
    }
    const entries: RemoteEntry[] = [];
    for (const name of names) {
      // lstat, not stat: a link must be reported as a link so `download` can refuse it.
      let info: Stats | undefined;
      try {
        info = await lstatIfExists(join(folder, name));
      } catch (error) {
        throw fsError(error, `cannot inspect ${join(folder, name)}`, { ...context, file: name });
      }
      if (info === undefined) continue;
      const type = info.isFile() ? 'file' : info.isSymbolicLink() ? 'symlink' : undefined;
      if (type !== undefined) entries.push({ name, size: info.size, modifiedAt: info.mtime, type });
    }
    return entries.sort(byName);
  }

  private folder(dir: string): string {
    return resolve(this.endpoint, dir);
  }
}

const seenOf = (info: Stats): SeenFile => ({ size: info.size, modifiedAt: info.mtime, inode: info.ino });

/**
 * Takes `inbox/name` out of the inbox under a temporary name in the archive folder and returns that
 * name, once it is sure to be the file `seen`. The check before the move leaves a window in which the
 * partner can rename another file onto the name; rename() takes whatever is there at one instant, and
 * that is what is checked, so the file archived is always the one read. Another file taken that way is
 * put back under its name (never over a file come since) and the archive refused.
 */
async function takeIfSeen(
  inbox: string,
  name: string,
  archive: string,
  seen: SeenFile,
  context: TransportErrorContext,
): Promise<string> {
  const source = join(inbox, name);
  const temp = temporaryName(name);
  const taken = join(archive, temp);
  try {
    // A unique name nobody else writes: rename() cannot replace anything there.
    await rename(source, taken);
  } catch (error) {
    throw fsError(error, `cannot move ${source} to ${taken}`, { ...context, path: source });
  }
  const changed = changedSinceDownload(seen, seenOf(await lstatOrThrow(taken, context)), context);
  if (!changed) return temp;
  try {
    await link(taken, source);
    await unlink(taken);
  } catch (error) {
    throw fsError(error, replacementKept(name, taken, inbox), { ...context, path: taken });
  }
  await syncFolder(inbox);
  throw changed;
}

async function openInboxFile(path: string, context: TransportErrorContext): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    // O_NOFOLLOW makes the kernel refuse a link at open time: no window between a check and the open.
    // O_NONBLOCK keeps a FIFO dropped in the inbox from blocking the night; it is refused just below.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (errnoCode(error) === 'ELOOP') {
      throw new TransportError(
        'SYMLINK_REFUSED',
        'the inbox entry is a symbolic link; links are not followed',
        {
          ...context,
          path,
        },
      );
    }
    throw fsError(error, `cannot open ${path}`, { ...context, path });
  }
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw new TransportError('NOT_A_FILE', 'the inbox entry is not a regular file', { ...context, path });
  }
  return handle;
}

/**
 * Moves `fromDir/fromName` to `toDir/<wanted>` or, if taken, `<wanted>.1`, `<wanted>.2`, … and returns the
 * name used. link() + unlink() instead of rename() because rename() would replace an earlier delivery.
 */
async function moveWithoutClobber(
  fromDir: string,
  fromName: string,
  toDir: string,
  wanted: string,
  context: TransportErrorContext,
): Promise<string> {
  const source = join(fromDir, fromName);
  for (let n = 0; n <= MAX_ARCHIVE_SUFFIX; n++) {
    const candidate = n === 0 ? wanted : `${wanted}.${n}`;
    try {
      await link(source, join(toDir, candidate));
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') continue;
      throw fsError(error, `cannot move ${source} to ${join(toDir, candidate)}`, {
        ...context,
        path: source,
      });
    }
    try {
      await unlink(source);
    } catch (error) {
      throw fsError(error, `archived ${source} but could not remove it from the inbox`, {
        ...context,
        path: source,
      });
    }
    return candidate;
  }
  throw new TransportError(
    'TARGET_EXISTS',
    `${toDir} already holds ${wanted} and ${MAX_ARCHIVE_SUFFIX} renamed copies`,
    {
      ...context,
      path: toDir,
    },
  );
}

async function lstatOrThrow(path: string, context: TransportErrorContext): Promise<Stats> {
  try {
    return await lstat(path);
  } catch (error) {
    throw fsError(error, `cannot find ${path}`, { ...context, path });
  }
}

async function lstatIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

async function unlinkIfExists(path: string, context: TransportErrorContext): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw fsError(error, `cannot remove ${path}`, { ...context, path });
  }
}
