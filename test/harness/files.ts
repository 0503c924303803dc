import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Writes `content` to `path` (making its folder) and dates it `ageMs` ago; returns the path. */
export function writeAgedFile(path: string, ageMs: number, content: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  const at = new Date(Date.now() - ageMs);
  utimesSync(path, at, at);
  return path;
}

/** Where a registered export is: `files.local_path` is stored relative to `paths.outbox`. */
export function exportCopy(config: { paths: { outbox: string } }, localPath: unknown): string {
  return join(config.paths.outbox, String(localPath));
}

/** Where a registered file received was landed: `files.local_path` is stored relative to `paths.landing`. */
export function landedCopy(config: { paths: { landing: string } }, localPath: unknown): string {
  return join(config.paths.landing, String(localPath));
}
