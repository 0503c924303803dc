import { randomBytes } from 'node:crypto';
import { TransportError, type TransportErrorContext } from './errors.js';
import type { RemoteEntry } from './types.js';

/** Suffix of the temporary names files are written under before they are renamed into place. */
export const TEMP_SUFFIX = '.part';

/** A temporary file older than this was left by a write that died: nothing will ever finish it. */
export const TEMPORARY_FILE_MAX_AGE_MS = 24 * 3600 * 1000;

/**
 * Why a remote file name is unsafe to use as a single path component, or undefined if it is safe.
 * Names come from partners' servers, so anything that could address another folder is refused.
 */
export function unsafeNameReason(name: string): string | undefined {
  if (name.length === 0) return 'the name is empty';
  if (name === '.' || name === '..') return 'the name refers to a folder, not a file';
  if (name.includes('\0')) return 'the name contains a NUL byte';
  if (name.includes('/')) return 'the name contains a path separator "/"';
  if (name.includes('\\')) return 'the name contains a path separator "\\"';
  return undefined;
}

export function isSafeName(name: string): boolean {
  return unsafeNameReason(name) === undefined;
}

/** Throws `UNSAFE_NAME` naming the transport, folder and file; call before touching anything. */
export function assertSafeName(name: string, context: TransportErrorContext): void {
  const reason = unsafeNameReason(name);
  if (reason !== undefined) {
    throw new TransportError('UNSAFE_NAME', `refusing remote file name ${JSON.stringify(name)}: ${reason}`, {
      ...context,
      file: name,
    });
  }
}

/**
 * The names temporaryName gives — hidden, twelve hex digits, `.part` — and that a partner's own files do
 * not have: what Redeye may clear from a folder that is not its own.
 */
export const TEMP_NAME_PATTERN = /^\..+\.[0-9a-f]{12}\.part$/;

/** The longest file name, in bytes, that the file systems and servers files are written to take (NAME_MAX). */
export const NAME_MAX_BYTES = 255;

/** Longest part of the original name kept in a temporary name, so the result stays under NAME_MAX. */
const TEMP_NAME_KEEP_BYTES = 200;

/** The start of `name` of at most `bytes` UTF-8 bytes; `name` itself when it fits. */
export function leadingBytes(name: string, bytes: number): string {
  if (Buffer.byteLength(name) <= bytes) return name;
  // Cut on a character boundary: decoding a truncated buffer could split a multi-byte character.
  let kept = '';
  for (const char of name) {
    if (Buffer.byteLength(kept + char) > bytes) break;
    kept += char;
  }
  return kept;
}

/**
 * A hidden, unique temporary name next to `name`. Unique so two writers can never interleave into one
 * temporary file; hidden and suffixed so partners' pick-up patterns and people can tell it apart.
 */
export function temporaryName(name: string): string {
  return `.${leadingBytes(name, TEMP_NAME_KEEP_BYTES)}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
}

/** A RegExp safe to call `test` on repeatedly: `g` and `y` make `test` stateful through `lastIndex`. */
export function statelessPattern(pattern: RegExp): RegExp {
  return pattern.global || pattern.sticky
    ? new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''))
    : pattern;
}

export function byName(a: RemoteEntry, b: RemoteEntry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Joins a configured remote folder and a checked name with `/`, whatever the local platform. */
export function joinRemote(dir: string, name: string): string {
  if (dir === '' || dir === '.') return name;
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}
