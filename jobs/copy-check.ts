/**
 * Whether the copy of a registered file is the file the registry recorded: what `files relink` requires
 * before pointing a row at a copy, and `deliver` before sending one, so that neither a row nor a partner
 * is ever given other bytes than the size and sha256 an auditor reads in the registry.
 */
import { lstat } from 'node:fs/promises';
import { gone, sha256File, type FileRow } from './registry.js';

/** What a copy was when it was checked: the same `lstat` later says it is the bytes hashed. */
export interface CopySeen {
  size: number;
  mtimeMs: number;
  ino: number;
}

/** Why a copy is not the registered file. */
export type CopyFault = 'MISSING' | 'NOT_A_FILE' | 'MISMATCH' | 'UNREADABLE';

/** Why the copy at `path` is not the file the registry recorded; what was seen of it when it is. */
export async function checkCopy(
  path: string,
  file: Pick<FileRow, 'size' | 'sha256'>,
): Promise<
  { seen: CopySeen } | { reason: CopyFault; message: string; held?: { size: number; sha256: string } }
> {
  const unreadable = (error: unknown) => ({
    reason: 'UNREADABLE' as const,
    message: `${path} cannot be read: ${(error as Error).message}`,
  });
  let stat;
  try {
    stat = await lstat(path);
  } catch (error) {
    if (gone(error)) return { reason: 'MISSING', message: `no copy at ${path}` };
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
  const seen = { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino };
  if (!file.sha256) return { seen };
  let actual;
  try {
    actual = await sha256File(path);
  } catch (error) {
    return unreadable(error);
  }
  return actual.sha256 === file.sha256
    ? { seen }
    : {
        reason: 'MISMATCH',
        message: `${path} has sha256 ${actual.sha256}, the registry recorded ${file.sha256}`,
        held: actual,
      };
}
