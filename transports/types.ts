import type { TransportKind } from './errors.js';

/** One entry of a remote folder. Directories are never listed; symbolic links are, so they can be refused. */
export interface RemoteEntry {
  name: string;
  size: number;
  /** Modification time as the server reports it (SFTP: whole seconds). */
  modifiedAt: Date;
  /** When the file was complete, when later than `modifiedAt`: its marker's modification time. */
  completedAt?: Date;
  type: 'file' | 'symlink';
}

/**
 * When a file in an inbox counts as complete, i.e. the partner has finished writing it.
 *
 * - `none`: as soon as it is listed; only for partners that write under another name and rename when
 *   done (and for folders Redeye's own tools fill with whole files, as the demo's): a file still being
 *   written would be read in part.
 * - `marker`: the partner writes `<name><suffix>` (e.g. `FTL0102.csv.done`) after the file. Markers are
 *   never offered as files; a marker older than its file is ignored, because it was left behind by an
 *   earlier file of the same name that is now being overwritten.
 * - `stable` (the default, 30 seconds): size and modification time do not change for `seconds`. The fetch
 *   job lists every folder, waits once for all its feeds, lists again and offers only what did not move.
 */
export type Completeness =
  { kind: 'none' } | { kind: 'marker'; suffix: string } | { kind: 'stable'; seconds: number };

/**
 * What a transport saw of a remote file as it downloaded it: `archive` moves only that file, so a file
 * the partner replaced after the download is left in the inbox rather than archived unread.
 */
export interface SeenFile {
  size: number;
  /** As the server gives it (SFTP: whole seconds). */
  modifiedAt: Date;
  /** A local inbox's inode: a file replaced by rename is another inode, whatever its size and time. */
  inode?: number;
}

export interface DownloadResult {
  /** Absolute path of the file under its final name in the local folder. */
  localPath: string;
  /** The remote file the bytes were read from, as it was when it was opened. */
  seen: SeenFile;
  size: number;
  /** Lowercase hex SHA-256 of the bytes written. */
  sha256: string;
  /**
   * True when the local folder already held this exact file (a rerun after the file was fetched but
   * before it was archived): nothing was replaced.
   */
  alreadyPresent: boolean;
}

export interface UploadResult {
  /** Path of the delivered file on the server (or on disk, for a local transport). */
  remotePath: string;
  size: number;
  sha256: string;
  /** True when the target already existed with the same bytes, so nothing was written. */
  alreadyPresent: boolean;
}

export interface UploadOptions {
  /**
   * Create `remoteDir` (and the folders above it) when missing. For folders that are Redeye's own to lay
   * out, as the shared outbox's folder per kind; a partner's folder is theirs to provide, and without this
   * its absence is `NOT_FOUND` naming the folder.
   */
  createDir?: boolean;
}

export interface ArchiveResult {
  /** Path of the archived file; differs from `<archiveDir>/<name>` when that name was already taken. */
  archivedPath: string;
  /** Path of the archived marker, when a marker suffix was given and the marker existed. */
  archivedMarkerPath?: string;
}

export interface CompanionOptions {
  /**
   * Suffix of the completeness marker that goes with the file (`.done`). When given, the marker is
   * moved or removed after the file, so it cannot make the next file of the same name look complete.
   */
  markerSuffix?: string;
}

export interface ArchiveOptions extends CompanionOptions {
  /**
   * The file as it was downloaded (`DownloadResult.seen`). When given, a file at the name that is not
   * that one any more is left in the inbox and the archive refused with `SOURCE_CHANGED`.
   */
  seen?: SeenFile;
}

/**
 * Moves files between Redeye and a partner's folder. Folder arguments are configuration (trusted);
 * file names come from the partner and are checked before any byte is written anywhere.
 */
export interface Transport {
  readonly kind: TransportKind;
  /** `user@host:port` for SFTP, the root folder for a local transport: what operators see in errors. */
  readonly endpoint: string;

  /**
   * Every regular file and symbolic link in `remoteDir`, whatever its name, sorted by name: what fetch
   * reads once for all the feeds of a folder, and so sees the files none of them takes.
   */
  listAll(remoteDir: string): Promise<RemoteEntry[]>;

  /** Regular files and symbolic links in `remoteDir` whose name matches `pattern`, sorted by name. */
  list(remoteDir: string, pattern: RegExp): Promise<RemoteEntry[]>;

  /**
   * Copies `remoteDir/<name>` to `localDir/<name>`. Bytes go to a temporary name first and the SHA-256 is
   * computed while they stream; the file appears under its final name only once every byte is on disk
   * and the size matches both the server's and, when an entry from `list` is passed, the listed size.
   * A local file already under that name is left alone if it has the same bytes and is an error
   * (`TARGET_EXISTS`) if not. Nothing is left behind on failure.
   */
  download(remoteDir: string, file: string | RemoteEntry, localDir: string): Promise<DownloadResult>;

  /**
   * Delivers `localPath` as `remoteDir/<name>`: written to a temporary name, then renamed. An existing
   * target with the same bytes makes this a no-op; with different bytes it is `TARGET_EXISTS`. A missing
   * `remoteDir` is created with `createDir`, else `NOT_FOUND` naming the folder.
   */
  upload(localPath: string, remoteDir: string, name: string, options?: UploadOptions): Promise<UploadResult>;

  /**
   * Moves `remoteDir/<name>` into `archiveDir` (created if missing, in the same namespace as `remoteDir`).
   * If the archive already holds that name, the file is kept as `<name>.1`, `<name>.2`, … rather than
   * overwriting an earlier delivery. With `seen`, the file is first moved to a temporary name in the
   * archive folder and checked there: a file changed since it was downloaded is put back and refused
   * (`SOURCE_CHANGED`), so the one moved is always the one checked.
   */
  archive(
    remoteDir: string,
    name: string,
    archiveDir: string,
    options?: ArchiveOptions,
  ): Promise<ArchiveResult>;

  /** Deletes `remoteDir/<name>` (a symbolic link is deleted, not followed). False if it was already gone. */
  remove(remoteDir: string, name: string, options?: CompanionOptions): Promise<boolean>;

  close(): Promise<void>;
}

/** Time as the transports see it; tests replace `sleep` to make waiting instantaneous and observable. */
export interface Clock {
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** The subset of a pino logger the transports use. Messages never contain secrets. */
export interface TransportLogger {
  warn(context: Record<string, unknown>, message: string): void;
  info(context: Record<string, unknown>, message: string): void;
}

export const silentLogger: TransportLogger = {
  warn: () => undefined,
  info: () => undefined,
};
