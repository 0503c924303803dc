import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TransportError, type TransportErrorContext } from './errors.js';
import { temporaryName } from './names.js';

/** Files land readable by the service's group only: partner files carry members' personal data. */
const LANDED_FILE_MODE = 0o640;

export interface Landed {
  path: string;
  size: number;
  sha256: string;
  alreadyPresent: boolean;
}

/**
 * Writes `source` into `dir/<name>` the crash-safe way: a unique temporary name, SHA-256 while streaming,
 * size checked, fsync, then a no-clobber link to the final name and an fsync of the folder. A crash at any
 * point leaves either no final file or a complete one; a failure removes the temporary file.
 *
 * `name` must already have passed `assertSafeName`.
 */
export async function land(
  source: AsyncIterable<Buffer | string>,
  dir: string,
  name: string,
  expectedSize: number,
  context: TransportErrorContext,
): Promise<Landed> {
  const finalPath = join(dir, name);
  const tempPath = join(dir, temporaryName(name));
  const hash = createHash('sha256');
  let size = 0;
  let handle: FileHandle | undefined;
  // A failing write, fsync or close (a full disk) names the landing folder and the file written there;
  // a failing source is the transport's to name.
  const onDisk = orFsError(`cannot write ${name} into the landing folder ${dir}`, {
    ...context,
    path: tempPath,
    landingFolder: dir,
  });
  try {
    handle = await openForLanding(tempPath, context);
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += bytes.length;
      if (size > expectedSize)
        throw sizeMismatch(expectedSize, size, 'grew while it was being copied', context);
      hash.update(bytes);
      await onDisk(handle.write(bytes));
    }
    if (size !== expectedSize) throw sizeMismatch(expectedSize, size, 'ended early', context);
    // Without this a crash after the rename could leave the final name pointing at empty blocks.
    await onDisk(handle.sync());
    await onDisk(handle.close());
    handle = undefined;
    const sha256 = hash.digest('hex');
    const alreadyPresent = await placeWithoutClobber(tempPath, finalPath, size, sha256, context);
    return { path: finalPath, size, sha256, alreadyPresent };
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await unlink(tempPath).catch(() => undefined);
    throw error;
  }
}

async function openForLanding(tempPath: string, context: TransportErrorContext): Promise<FileHandle> {
  try {
    return await open(tempPath, 'wx', LANDED_FILE_MODE);
  } catch (error) {
    throw fsError(error, `cannot create ${tempPath}`, { ...context, path: tempPath });
  }
}

function sizeMismatch(
  expected: number,
  actual: number,
  how: string,
  context: TransportErrorContext,
): TransportError {
  return new TransportError('SIZE_MISMATCH', `the file ${how}: expected ${expected} bytes, got ${actual}`, {
    ...context,
    expectedSize: expected,
    actualSize: actual,
  });
}

/**
 * Moves the finished temporary file to its final name unless that name is taken. Returns true when the
 * name already held the same bytes (the temporary file is dropped), throws `TARGET_EXISTS` when it held
 * different ones.
 */
/** A file-system step whose failure says what was being done, where (`fsError`). */
const orFsError =
  (what: string, context: TransportErrorContext) =>
  <T>(step: Promise<T>): Promise<T> =>
    step.catch((error: unknown) => {
      throw fsError(error, what, context);
    });

async function placeWithoutClobber(
  tempPath: string,
  finalPath: string,
  size: number,
  sha256: string,
  context: TransportErrorContext,
): Promise<boolean> {
  const placing = orFsError(`cannot place ${finalPath}`, { ...context, path: finalPath });
  let existing = false;
  try {
    // link() fails if the name exists, which rename() would silently replace.
    await link(tempPath, finalPath);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EEXIST') existing = true;
    else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
      // Filesystems without hard links: check, then rename. Only a concurrent writer can slip in between.
      if (await exists(finalPath)) existing = true;
      else {
        await placing(rename(tempPath, finalPath));
        await placing(syncFolder(dirname(finalPath)));
        return false;
      }
    } else throw fsError(error, `cannot place ${finalPath}`, { ...context, path: finalPath });
  }
  if (existing) {
    const present = await hashExisting(finalPath, context);
    await unlink(tempPath);
    if (present.size === size && present.sha256 === sha256) return true;
    throw new TransportError('TARGET_EXISTS', `${finalPath} already exists with different content`, {
      ...context,
      path: finalPath,
      existingSha256: present.sha256,
      existingSize: present.size,
      newSha256: sha256,
      newSize: size,
    });
  }
  await unlink(tempPath);
  await placing(syncFolder(dirname(finalPath)));
  return false;
}

/** Size and SHA-256 of a file, refusing to follow a symbolic link planted under that name. */
export async function hashExisting(
  path: string,
  context: TransportErrorContext,
): Promise<{ size: number; sha256: string }> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (errnoCode(error) === 'ELOOP') {
      throw new TransportError('TARGET_EXISTS', `${path} exists and is a symbolic link`, {
        ...context,
        path,
      });
    }
    throw fsError(error, `cannot read ${path}`, { ...context, path });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new TransportError('TARGET_EXISTS', `${path} exists and is not a regular file`, {
        ...context,
        path,
      });
    }
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of handle.createReadStream({ autoClose: false })) {
      const bytes = chunk as Buffer;
      hash.update(bytes);
      size += bytes.length;
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}

export async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
}

export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps a Node filesystem error onto a transport error with the operator's context. */
export function fsError(error: unknown, what: string, context: TransportErrorContext): TransportError {
  if (error instanceof TransportError) return error;
  const code = errnoCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'ENOENT':
      return new TransportError('NOT_FOUND', `${what}: no such file or folder`, context, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new TransportError('PERMISSION_DENIED', `${what}: permission denied`, context, { cause: error });
    case 'ENOSPC':
    case 'EDQUOT':
      return new TransportError(
        'TRANSFER_FAILED',
        `${what}: no space left on the device (${code})`,
        context,
        {
          cause: error,
        },
      );
    case 'EXDEV':
      return new TransportError(
        'CROSS_DEVICE',
        `${what}: source and target are on different filesystems`,
        context,
        {
          cause: error,
        },
      );
    default:
      return new TransportError('TRANSFER_FAILED', `${what}: ${detail}`, context, { cause: error });
  }
}
