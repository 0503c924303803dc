/**
 * Paths the database keeps of files in the configured folders. They are stored relative to their folder,
 * so that a database restored from a backup, copied or moved with its configuration acts on the folders
 * that configuration names, never on those of the installation it came from.
 */
import { isAbsolute, join, relative, resolve } from 'node:path';

/** `path` relative to `root` when it lies strictly inside it; undefined otherwise. */
export function relativeInside(root: string, path: string): string | undefined {
  const rel = relative(resolve(root), resolve(path));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : undefined;
}

/** `path` resolved, when it lies strictly inside `root`; undefined otherwise. */
export function inside(root: string, path: string): string | undefined {
  return relativeInside(root, path) === undefined ? undefined : resolve(path);
}

/** What to store of `path`: relative to `root` when inside it, else absolute. */
export function storedPath(root: string, path: string): string {
  return relativeInside(root, path) ?? resolve(path);
}

/**
 * The file a stored path names: a relative one under `root` (undefined if it climbs out of it), an
 * absolute one as it is — the caller decides whether a path outside its folder may be used.
 */
export function actualPath(root: string, stored: string): string | undefined {
  return isAbsolute(stored) ? stored : inside(root, join(root, stored));
}
