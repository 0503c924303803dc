import { RedeyeError, type ErrorContext } from '../lib/errors.js';
import type { SeenFile } from './types.js';

/**
 * Stable codes for transport failures. The fetch and deliver jobs branch on these: a connection fault is
 * worth another try tomorrow or in an hour, an unsafe name or a host-key mismatch needs a person.
 */
export type TransportErrorCode =
  /** The server presented a host key whose fingerprint is not the pinned one. */
  | 'HOST_KEY_MISMATCH'
  /** The server rejected our credentials (or offered no method we have credentials for). */
  | 'AUTH_FAILED'
  /** The server could not be reached or the connection broke, after every retry. */
  | 'CONNECTION_FAILED'
  /** An operation took longer than the configured timeout, after every retry. */
  | 'TIMEOUT'
  /** A file name that could escape its folder (`..`, `/`, `\`, NUL, empty, `.`). */
  | 'UNSAFE_NAME'
  /** A symbolic link where a file was expected; never followed. */
  | 'SYMLINK_REFUSED'
  /** Something other than a regular file (directory, device, FIFO) where a file was expected. */
  | 'NOT_A_FILE'
  | 'NOT_FOUND'
  | 'PERMISSION_DENIED'
  /** The bytes transferred do not add up to the size listed or announced. */
  | 'SIZE_MISMATCH'
  /** A file already exists under the target name with different content. */
  | 'TARGET_EXISTS'
  /** The local source changed while it was being sent, or an inbox file since it was downloaded. */
  | 'SOURCE_CHANGED'
  /** An environment variable named by the configuration is unset or empty. */
  | 'SECRET_MISSING'
  /** The private key could not be parsed (wrong passphrase, unsupported format). */
  | 'PRIVATE_KEY_INVALID'
  /** The archive folder is on another filesystem than the inbox, so a move cannot be atomic. */
  | 'CROSS_DEVICE'
  /** Any other failure the server or the filesystem reported. */
  | 'TRANSFER_FAILED';

export type TransportKind = 'local' | 'sftp';

export interface TransportErrorContext extends ErrorContext {
  transport: TransportKind;
  /** `user@host:port` for SFTP, the root folder for a local transport. */
  endpoint: string;
  /** The folder on the server (or the inbox folder) the operation worked in. */
  folder?: string;
  /** The remote file name, exactly as it was listed or requested. */
  file?: string;
  /** The local path involved, if any. */
  path?: string;
  operation?: string;
}

/** Codes that mean the deployment is incomplete rather than the night went wrong: exit like configuration. */
const CONFIGURATION_CODES: ReadonlySet<TransportErrorCode> = new Set([
  'SECRET_MISSING',
  'PRIVATE_KEY_INVALID',
]);

export class TransportError extends RedeyeError {
  declare readonly code: TransportErrorCode;
  declare readonly context: TransportErrorContext;
  override readonly exitCode: number;
  /** What went wrong, without the endpoint prefix that `message` starts with. */
  readonly detail: string;
  /**
   * True for connection faults (refused, reset, timed out, cut): the same operation may well succeed
   * later. False for everything a retry cannot fix (credentials, host key, names, content conflicts).
   */
  readonly retryable: boolean;

  constructor(
    code: TransportErrorCode,
    detail: string,
    context: TransportErrorContext,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(code, `${describeEndpoint(context)}: ${detail}`, context, { cause: options.cause });
    this.detail = detail;
    this.retryable = options.retryable ?? false;
    this.exitCode = CONFIGURATION_CODES.has(code) ? 2 : 1;
  }
}

function describeEndpoint(context: TransportErrorContext): string {
  const parts = [`${context.transport} ${context.endpoint}`];
  if (context.folder !== undefined) parts.push(`folder ${JSON.stringify(context.folder)}`);
  if (context.file !== undefined) parts.push(`file ${JSON.stringify(context.file)}`);
  return parts.join(', ');
}

export function isTransportError(error: unknown, code?: TransportErrorCode): error is TransportError {
  return error instanceof TransportError && (code === undefined || error.code === code);
}

/**
 * The refusal of an upload into `folder` (as the operator finds it on that side), which does not exist:
 * named, where the server would name the temporary file it could not create there. A folder an upload
 * was not asked to create is the receiving side's to provide (a partner's, or a share not mounted).
 */
export function folderMissing(
  folder: string,
  context: TransportErrorContext,
  cause?: unknown,
): TransportError {
  return new TransportError(
    'NOT_FOUND',
    `the folder ${folder} does not exist, so nothing can be delivered into it; it is the receiving side's to create`,
    context,
    { cause },
  );
}

/**
 * What to say when a file replaced as it was archived cannot be put back under its name (another file
 * took it): the replacement, never read, stays at `kept` in the archive, where no fetch looks. A new
 * name, because the old one is now another file's; one the feed's pattern matches, because fetch takes
 * only those from `inbox`.
 */
export function replacementKept(name: string, kept: string, inbox: string): string {
  return (
    `${name} was replaced as it was archived, and another file took its name before it could be put back: ` +
    `the replacement, not read, is kept as ${kept}; move it into ${inbox} under a new name the feed's ` +
    `pattern matches (with its done-marker if the feed waits for one) for the next fetch to read it`
  );
}

/**
 * The refusal to archive a file that is not the one downloaded (`seen`), or undefined when `now` is
 * that file: the same size and modification time and, where both know it, the same inode.
 */
export function changedSinceDownload(
  seen: SeenFile,
  now: SeenFile,
  context: TransportErrorContext,
): TransportError | undefined {
  const sameStat = now.size === seen.size && now.modifiedAt.getTime() === seen.modifiedAt.getTime();
  if (sameStat && (now.inode === undefined || seen.inode === undefined || now.inode === seen.inode)) {
    return undefined;
  }
  const state = (f: SeenFile) => `${f.size} bytes modified ${f.modifiedAt.toISOString()}`;
  const how = sameStat ? 'replaced' : 'changed';
  return new TransportError(
    'SOURCE_CHANGED',
    `the file was ${how} since it was downloaded (${state(seen)}, now ${state(now)}): left in the inbox, not archived`,
    { ...context, expectedSize: seen.size, actualSize: now.size },
  );
}
