import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve as resolveLocal } from 'node:path';
import type { Readable } from 'node:stream';
import ssh2 from 'ssh2';
import type { Client, ConnectConfig, SFTPWrapper, Stats } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { ConfigError, type ConfigProblem } from '../lib/errors.js';
import { ListingTransport } from './completeness.js';
import {
  TransportError,
  changedSinceDownload,
  folderMissing,
  isTransportError,
  replacementKept,
  type TransportErrorContext,
} from './errors.js';
import { fsError, land } from './landing.js';
import { assertSafeName, byName, joinRemote, temporaryName } from './names.js';
import {
  silentLogger,
  systemClock,
  type ArchiveOptions,
  type ArchiveResult,
  type Clock,
  type CompanionOptions,
  type DownloadResult,
  type RemoteEntry,
  type SeenFile,
  type Transport,
  type TransportLogger,
  type UploadOptions,
  type UploadResult,
} from './types.js';

/**
 * Where and how to reach one partner's SFTP server. Secrets are never in here: only the names of the
 * environment variables that hold them, so configuration files can be committed and shown.
 */
export interface SftpTransportConfig {
  host: string;
  /** Default 22. */
  port?: number;
  username: string;
  /** Name of the environment variable holding the password. */
  passwordEnv?: string;
  /** Name of the environment variable holding the private key text (OpenSSH or PEM). */
  privateKeyEnv?: string;
  /** Name of the environment variable holding the path of the private key file. */
  privateKeyPathEnv?: string;
  /** Name of the environment variable holding the private key's passphrase. */
  passphraseEnv?: string;
  /**
   * The server's host key fingerprint(s) as `ssh-keygen -lf` prints them: `SHA256:` and unpadded base64.
   * Several are allowed because a server with RSA, ECDSA and Ed25519 keys may present any of them.
   */
  hostKeyFingerprint: string | string[];
  /** Time allowed for TCP connect, SSH handshake and authentication. Default 20 s. */
  connectTimeoutMs?: number;
  /** Time allowed for one SFTP request, and for silence in the middle of a transfer. Default 60 s. */
  operationTimeoutMs?: number;
  retry?: {
    /** Total tries of one operation, the first included. Default 5. */
    attempts?: number;
    /** Wait before the second try; doubled before each further one. Default 1 s. */
    initialDelayMs?: number;
    /** Upper bound of the wait between tries. Default 60 s. */
    maxDelayMs?: number;
  };
}

export interface SftpTransportOptions {
  /** Where the variables named by `passwordEnv` and friends are read. Default `process.env`. */
  env?: Record<string, string | undefined>;
  clock?: Clock;
  logger?: TransportLogger;
}

const DEFAULTS = {
  port: 22,
  connectTimeoutMs: 20_000,
  operationTimeoutMs: 60_000,
  attempts: 5,
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
};

const FINGERPRINT_FORM = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** Chunk size for reads and writes: what OpenSSH's sftp-server accepts in one request. */
const TRANSFER_CHUNK = 256 * 1024;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

/** SSH_FX_* status codes of SFTP version 3. */
const FX = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
};

/** Socket errors that mean "the network or the server hiccuped", worth another try. */
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);

/** The SHA-256 fingerprint of an SSH public key blob, in the form `ssh-keygen -lf` prints. */
export function sshFingerprint(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The fingerprint of an OpenSSH public key line (`ssh-ed25519 AAAA… comment`) or a private key. */
export function fingerprintOfKey(key: string | Buffer): string {
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) throw parsed;
  return sshFingerprint(parsed.getPublicSSH());
}

/** The settings of an SFTP transport that name an environment variable holding a secret: what each holds. */
const SECRET_SETTINGS = {
  passwordEnv: 'SFTP password',
  privateKeyEnv: 'SFTP private key',
  privateKeyPathEnv: 'path of the SFTP private key',
  passphraseEnv: 'key passphrase',
} as const;

export type SecretSetting = keyof typeof SECRET_SETTINGS;

/** A secret's value; an empty variable is as good as unset (a deployment that blanked it, not a secret). */
function secretValue(env: Record<string, string | undefined>, variable: string): string | undefined {
  const value = env[variable];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The secrets an SFTP transport would read when it connects whose variables `env` does not hold: each
 * setting, the variable it names and what it holds, never a value. The passphrase counts only with a key,
 * as connecting reads it only then.
 */
export function unsetSecrets(
  config: Pick<SftpTransportConfig, SecretSetting>,
  env: Record<string, string | undefined>,
): Array<{ setting: SecretSetting; variable: string; what: string }> {
  const keyed = Boolean(config.privateKeyEnv || config.privateKeyPathEnv);
  return (Object.keys(SECRET_SETTINGS) as SecretSetting[]).flatMap((setting) => {
    const variable = config[setting];
    if (!variable || (setting === 'passphraseEnv' && !keyed) || secretValue(env, variable) !== undefined)
      return [];
    return [{ setting, variable, what: SECRET_SETTINGS[setting] }];
  });
}

/** Checks an SFTP configuration and returns every problem at once, with the path of each field. */
export function sftpConfigProblems(config: SftpTransportConfig, at = ''): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const path = (field: string) => (at ? `${at}.${field}` : field);
  if (!config.host) problems.push({ path: path('host'), message: 'is required' });
  if (!config.username) problems.push({ path: path('username'), message: 'is required' });
  if (
    config.port !== undefined &&
    !(Number.isInteger(config.port) && config.port > 0 && config.port < 65536)
  ) {
    problems.push({ path: path('port'), message: `must be a TCP port number, got ${config.port}` });
  }
  if (!config.passwordEnv && !config.privateKeyEnv && !config.privateKeyPathEnv) {
    problems.push({
      path: path('passwordEnv'),
      message:
        'one of passwordEnv, privateKeyEnv or privateKeyPathEnv must name the variable holding the secret',
    });
  }
  if (config.privateKeyEnv && config.privateKeyPathEnv) {
    problems.push({
      path: path('privateKeyPathEnv'),
      message: 'give either privateKeyEnv or privateKeyPathEnv, not both',
    });
  }
  const fingerprints = Array.isArray(config.hostKeyFingerprint)
    ? config.hostKeyFingerprint
    : [config.hostKeyFingerprint];
  if (fingerprints.length === 0 || fingerprints.some((f) => typeof f !== 'string')) {
    problems.push({
      path: path('hostKeyFingerprint'),
      message: 'is required: the server host key is always pinned',
    });
  }
  fingerprints.forEach((fingerprint, index) => {
    if (typeof fingerprint === 'string' && !FINGERPRINT_FORM.test(fingerprint.replace(/=+$/, ''))) {
      problems.push({
        path: Array.isArray(config.hostKeyFingerprint)
          ? `${path('hostKeyFingerprint')}[${index}]`
          : path('hostKeyFingerprint'),
        message: `must look like "SHA256:" and 43 base64 characters, as printed by ssh-keygen -lf; got ${JSON.stringify(fingerprint)}`,
      });
    }
  });
  for (const field of ['connectTimeoutMs', 'operationTimeoutMs'] as const) {
    const value = config[field];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      problems.push({
        path: path(field),
        message: `must be a positive number of milliseconds, got ${value}`,
      });
    }
  }
  const attempts = config.retry?.attempts;
  if (attempts !== undefined && !(Number.isInteger(attempts) && attempts >= 1)) {
    problems.push({
      path: path('retry.attempts'),
      message: `must be a whole number of at least 1, got ${attempts}`,
    });
  }
  return problems;
}

/** One live SSH connection with its SFTP channel; `lost` fires once, when the connection goes away. */
interface Session {
  client: SftpClient;
  raw: Client;
  sftp: SFTPWrapper;
  closed: boolean;
  onLost(listener: (error: TransportError) => void): () => void;
  destroy(reason: TransportError): void;
}

/**
 * Partners' SFTP servers. One SSH connection is opened on first use and reused; an operation that meets
 * a connection fault (refused, reset, timed out, cut mid-transfer) reconnects and tries again with
 * exponential backoff, while authentication failures and host-key mismatches fail at once.
 */
export class SftpTransport extends ListingTransport implements Transport {
  readonly kind = 'sftp' as const;
  readonly endpoint: string;
  private readonly config: SftpTransportConfig;
  private readonly port: number;
  private readonly fingerprints: string[];
  private readonly env: Record<string, string | undefined>;
  protected readonly clock: Clock;
  private readonly logger: TransportLogger;
  private readonly connectTimeoutMs: number;
  private readonly operationTimeoutMs: number;
  private readonly attempts: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private session: Session | undefined;
  private connecting: Promise<Session> | undefined;

  constructor(config: SftpTransportConfig, options: SftpTransportOptions = {}) {
    super();
    const problems = sftpConfigProblems(config);
    if (problems.length > 0) throw new ConfigError('invalid SFTP transport configuration', problems);
    this.config = config;
    this.port = config.port ?? DEFAULTS.port;
    this.endpoint = `${config.username}@${config.host}:${this.port}`;
    this.fingerprints = (
      Array.isArray(config.hostKeyFingerprint) ? config.hostKeyFingerprint : [config.hostKeyFingerprint]
    ).map((f) => f.replace(/=+$/, ''));
    this.env = options.env ?? process.env;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.connectTimeoutMs = config.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    this.operationTimeoutMs = config.operationTimeoutMs ?? DEFAULTS.operationTimeoutMs;
    this.attempts = config.retry?.attempts ?? DEFAULTS.attempts;
    this.initialDelayMs = config.retry?.initialDelayMs ?? DEFAULTS.initialDelayMs;
    this.maxDelayMs = config.retry?.maxDelayMs ?? DEFAULTS.maxDelayMs;
  }

  async download(remoteDir: string, file: string | RemoteEntry, localDir: string): Promise<DownloadResult> {
    const name = typeof file === 'string' ? file : file.name;
    const context = this.context(remoteDir, name, 'download');
    assertSafeName(name, context);
    const remotePath = joinRemote(remoteDir, name);
    const landingDir = resolveLocal(localDir);
    return this.withRetries(context, async (session) => {
      const info = await this.lstat(session, remotePath, context);
      checkRegularFile(info, context);
      if (typeof file !== 'string' && file.size !== info.size) {
        throw new TransportError(
          'SIZE_MISMATCH',
          `the file changed since it was listed: listed ${file.size} bytes, now ${info.size}`,
          { ...context, expectedSize: file.size, actualSize: info.size },
        );
      }
      const handle = await this.request<Buffer>(session, context, (cb) =>
        session.sftp.open(remotePath, 'r', cb),
      );
      const opened = await this.request<Stats>(session, context, (cb) => session.sftp.fstat(handle, cb));
      if (opened.size !== info.size) {
        await this.closeHandle(session, handle, context);
        throw new TransportError(
          'SIZE_MISMATCH',
          `the file changed while it was being opened: ${info.size} bytes, then ${opened.size}`,
          { ...context, expectedSize: info.size, actualSize: opened.size },
        );
      }
      const stream = this.guardedRead(session, remotePath, handle, context);
      let landed;
      try {
        landed = await land(stream, landingDir, name, opened.size, {
          ...context,
          path: `${landingDir}/${name}`,
        });
      } catch (error) {
        throw this.streamError(error, context, session);
      }
      return {
        localPath: landed.path,
        seen: seenOf(opened),
        size: landed.size,
        sha256: landed.sha256,
        alreadyPresent: landed.alreadyPresent,
      };
    });
  }

  async upload(
    localPath: string,
    remoteDir: string,
    name: string,
    options: UploadOptions = {},
  ): Promise<UploadResult> {
    const context: TransportErrorContext = { ...this.context(remoteDir, name, 'upload'), path: localPath };
    assertSafeName(name, context);
    const local = await hashLocalFile(localPath, context);
    const target = joinRemote(remoteDir, name);
    let leftoverTemp: string | undefined;
    let renameSent = false;
    return this.withRetries(context, async (session) => {
      if (leftoverTemp !== undefined) {
        // The previous try lost its connection after creating its temporary file: do not litter the outbox.
        await this.unlinkIfExists(session, leftoverTemp, context).catch(() => undefined);
        leftoverTemp = undefined;
      }
      if (options.createDir) await this.mkdirp(session, remoteDir, context);
      const existing = await this.lstatIfExists(session, target, context);
      if (existing !== undefined) {
        await this.ensureSameContent(session, target, existing, local, context);
        return { remotePath: target, size: local.size, sha256: local.sha256, alreadyPresent: !renameSent };
      }
      const temp = joinRemote(remoteDir, temporaryName(name));
      leftoverTemp = temp;
      try {
        await this.writeRemote(session, temp, localPath, local, context);
        renameSent = true;
        try {
          await this.request(session, context, (cb) => session.sftp.rename(temp, target, cb));
        } catch (error) {
          // SFTP rename refuses an existing target; someone delivered the same name in the meantime.
          if (isConnectionFault(error)) throw error;
          const raced = await this.lstatIfExists(session, target, context);
          if (raced === undefined) throw error;
          renameSent = false;
          await this.unlinkIfExists(session, temp, context);
          leftoverTemp = undefined;
          await this.ensureSameContent(session, target, raced, local, context);
          return { remotePath: target, size: local.size, sha256: local.sha256, alreadyPresent: true };
        }
        leftoverTemp = undefined;
      } catch (error) {
        if (!isConnectionFault(error) && leftoverTemp !== undefined) {
          await this.unlinkIfExists(session, temp, context).catch(() => undefined);
          leftoverTemp = undefined;
        }
        if (isTransportError(error, 'NOT_FOUND') && !(await this.lstatIfExists(session, remoteDir, context)))
          throw folderMissing(remoteDir, context, error);
        throw error;
      }
      return { remotePath: target, size: local.size, sha256: local.sha256, alreadyPresent: false };
    });
  }

  async archive(
    remoteDir: string,
    name: string,
    archiveDir: string,
    options: ArchiveOptions = {},
  ): Promise<ArchiveResult> {
    const context = this.context(remoteDir, name, 'archive');
    assertSafeName(name, context);
    const suffix = options.markerSuffix;
    if (suffix !== undefined) assertSafeName(name + suffix, context);
    const { seen } = options;
    // Renames sent by earlier tries, so a retry after a lost reply recognises a move that already happened.
    const sent = new Map<string, string>();
    // With `seen`, the temporary name in the archive folder the file is checked under, once it passed.
    const temp = temporaryName(name);
    let taken: string | undefined;
    return this.withRetries(context, async (session) => {
      await this.mkdirp(session, archiveDir, context);
      if (seen && taken === undefined)
        taken = await this.takeIfSeen(session, remoteDir, name, archiveDir, temp, seen, sent, context);
      const archivedName = await this.moveWithoutClobber(
        session,
        taken === undefined ? remoteDir : archiveDir,
        taken ?? name,
        archiveDir,
        name,
        sent,
        context,
      );
      const result: ArchiveResult = { archivedPath: joinRemote(archiveDir, archivedName) };
      if (suffix !== undefined) {
        const marker = name + suffix;
        if ((await this.lstatIfExists(session, joinRemote(remoteDir, marker), context)) !== undefined) {
          const archivedMarker = await this.moveWithoutClobber(
            session,
            remoteDir,
            marker,
            archiveDir,
            archivedName + suffix,
            sent,
            context,
          );
          result.archivedMarkerPath = joinRemote(archiveDir, archivedMarker);
        }
      }
      return result;
    });
  }

  async remove(remoteDir: string, name: string, options: CompanionOptions = {}): Promise<boolean> {
    const context = this.context(remoteDir, name, 'remove');
    assertSafeName(name, context);
    const suffix = options.markerSuffix;
    if (suffix !== undefined) assertSafeName(name + suffix, context);
    const path = joinRemote(remoteDir, name);
    // A retry that finds the file gone after an earlier try sent the delete counts it as ours.
    let unlinkSent = false;
    return this.withRetries(context, async (session) => {
      const sentBefore = unlinkSent;
      unlinkSent = true;
      const removed = (await this.unlinkIfExists(session, path, context)) || sentBefore;
      if (suffix !== undefined)
        await this.unlinkIfExists(session, joinRemote(remoteDir, name + suffix), context);
      return removed;
    });
  }

  async close(): Promise<void> {
    const pending = this.connecting;
    if (pending) await pending.catch(() => undefined);
    const session = this.session;
    this.session = undefined;
    if (session && !session.closed) {
      await withDeadline(session.client.end(), this.operationTimeoutMs).catch(() => undefined);
      session.raw.destroy();
    }
  }

  // --- listing ---------------------------------------------------------------------------------------

  listAll(remoteDir: string): Promise<RemoteEntry[]> {
    const context = this.context(remoteDir, undefined, 'list');
    return this.withRetries(context, async (session) => {
      const items = await this.request<{ filename: string; longname: string; attrs: Stats }[]>(
        session,
        context,
        (cb) => session.sftp.readdir(remoteDir === '' ? '.' : remoteDir, cb),
      );
      const entries: RemoteEntry[] = [];
      for (const item of items) {
        if (item.filename === '.' || item.filename === '..') continue;
        const type = entryType(item.attrs.mode, item.longname);
        if (type === undefined) continue;
        entries.push({
          name: item.filename,
          size: item.attrs.size,
          modifiedAt: new Date(item.attrs.mtime * 1000),
          type,
        });
      }
      return entries.sort(byName);
    });
  }

  // --- retries and connections -----------------------------------------------------------------------

  /**
   * Runs `operation` on a live session; on a connection fault, drops the session, waits (1×, 2×, 4×… the
   * initial delay, capped) and tries again on a new connection. Anything else fails at once.
   */
  private async withRetries<T>(
    context: TransportErrorContext,
    operation: (session: Session) => Promise<T>,
  ): Promise<T> {
    let lastError: TransportError | undefined;
    for (let n = 1; n <= this.attempts; n++) {
      let session: Session | undefined;
      try {
        session = await this.connected(context);
        return await operation(session);
      } catch (error) {
        const failure = this.asTransportError(error, context);
        if (!failure.retryable) throw failure;
        lastError = failure;
        if (session) this.dropSession(session, failure);
        if (n === this.attempts) break;
        const delayMs = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** (n - 1));
        this.logger.warn(
          {
            transport: 'sftp',
            endpoint: this.endpoint,
            folder: context.folder,
            file: context.file,
            operation: context.operation,
            code: failure.code,
            attempt: n,
            attempts: this.attempts,
            delayMs,
          },
          `SFTP connection fault, retrying: ${failure.message}`,
        );
        await this.clock.sleep(delayMs);
      }
    }
    const final = lastError as TransportError;
    throw new TransportError(
      final.code,
      `gave up after ${this.attempts} attempt${this.attempts === 1 ? '' : 's'}: ${final.detail}`,
      { ...final.context, attempts: this.attempts },
      { cause: final, retryable: true },
    );
  }

  private async connected(context: TransportErrorContext): Promise<Session> {
    if (this.session && !this.session.closed) return this.session;
    if (!this.connecting) {
      this.connecting = this.connect(context).finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  /**
   * Forgets a session that failed. Only that one: with operations running side by side, another may
   * already have replaced it with a healthy connection that must not be torn down.
   */
  private dropSession(session: Session, reason: TransportError): void {
    if (this.session === session) this.session = undefined;
    if (!session.closed) session.destroy(reason);
  }

  private async connect(context: TransportErrorContext): Promise<Session> {
    const connectContext: TransportErrorContext = {
      ...context,
      operation: `connect (${context.operation ?? ''})`,
    };
    const credentials = this.credentials(connectContext);
    let presented: string | undefined;
    let hostKeyRejected = false;
    let rawError: (Error & { level?: string; code?: string }) | undefined;
    const lostListeners = new Set<(error: TransportError) => void>();
    // Filled in once connected; loss before that is reported through the rejected connect instead.
    const live: { session?: Session } = {};
    const markLost = (reason?: TransportError) => {
      const session = live.session;
      if (!session || session.closed) return;
      session.closed = true;
      const error =
        reason ??
        new TransportError('CONNECTION_FAILED', 'the connection was lost', connectContext, {
          retryable: true,
        });
      for (const listener of [...lostListeners]) listener(error);
    };
    const client = new SftpClient(`redeye ${this.endpoint}`, {
      // The library's defaults print to the console; connection loss is handled through `markLost`.
      error: () => undefined,
      end: () => undefined,
      close: () => undefined,
    });
    // ssh2-sftp-client does not declare the ssh2 Client it wraps; its errors carry the `level` we need.
    const raw = (client as unknown as { client: Client }).client;
    raw.prependListener('error', (error: Error & { level?: string; code?: string }) => {
      rawError ??= error;
      markLost();
    });
    raw.on('close', () => markLost());
    const connectConfig: ConnectConfig = {
      host: this.config.host,
      port: this.port,
      username: this.config.username,
      ...credentials,
      readyTimeout: this.connectTimeoutMs,
      keepaliveInterval: Math.max(1_000, Math.floor(this.operationTimeoutMs / 4)),
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        presented = sshFingerprint(key);
        hostKeyRejected = !this.fingerprints.includes(presented);
        return !hostKeyRejected;
      },
    };
    let sftp: SFTPWrapper;
    try {
      sftp = await withDeadline(client.connect(connectConfig), this.connectTimeoutMs + 5_000);
    } catch (error) {
      raw.destroy();
      if (hostKeyRejected) {
        throw new TransportError(
          'HOST_KEY_MISMATCH',
          `host key refused: expected ${this.fingerprints.join(' or ')}, the server presented ${presented}`,
          { ...connectContext, expectedFingerprint: this.fingerprints, presentedFingerprint: presented },
          { cause: error },
        );
      }
      throw this.connectError(rawError ?? error, connectContext);
    }
    const session: Session = {
      client,
      raw,
      sftp,
      closed: false,
      onLost(listener) {
        lostListeners.add(listener);
        return () => lostListeners.delete(listener);
      },
      destroy(reason) {
        markLost(reason);
        raw.destroy();
      },
    };
    live.session = session;
    this.session = session;
    this.logger.info(
      { transport: 'sftp', endpoint: this.endpoint, fingerprint: presented },
      'SFTP connected',
    );
    return session;
  }

  private connectError(error: unknown, context: TransportErrorContext): TransportError {
    const err = error as (Error & { level?: string; code?: string }) | undefined;
    const message = err?.message ?? String(error);
    if (err?.level === 'client-authentication') {
      return new TransportError(
        'AUTH_FAILED',
        `authentication failed for user ${JSON.stringify(this.config.username)}: ${message}`,
        context,
        { cause: error },
      );
    }
    if (err?.level === 'client-timeout' || err instanceof DeadlineError) {
      return new TransportError('TIMEOUT', `connecting timed out: ${message}`, context, {
        cause: error,
        retryable: true,
      });
    }
    if (err?.code === 'ENOTFOUND') {
      return new TransportError('CONNECTION_FAILED', `host ${this.config.host} not found`, context, {
        cause: error,
      });
    }
    const transient =
      (err?.code !== undefined && TRANSIENT_SOCKET_CODES.has(err.code)) ||
      /connection lost before handshake|keepalive timeout/i.test(message);
    return new TransportError('CONNECTION_FAILED', `cannot connect: ${message}`, context, {
      cause: error,
      retryable: transient,
    });
  }

  /** Reads the secrets named by the configuration. Values never reach a message, a log line or a context. */
  private credentials(
    context: TransportErrorContext,
  ): Pick<ConnectConfig, 'password' | 'privateKey' | 'passphrase'> {
    const read = (setting: SecretSetting, variable: string): string => {
      const value = secretValue(this.env, variable);
      if (value === undefined) {
        throw new TransportError(
          'SECRET_MISSING',
          `environment variable ${variable} (${SECRET_SETTINGS[setting]}) is not set`,
          { ...context, variable },
        );
      }
      return value;
    };
    const result: Pick<ConnectConfig, 'password' | 'privateKey' | 'passphrase'> = {};
    if (this.config.passwordEnv) result.password = read('passwordEnv', this.config.passwordEnv);
    let key: string | Buffer | undefined;
    let keySource = '';
    if (this.config.privateKeyEnv) {
      key = read('privateKeyEnv', this.config.privateKeyEnv);
      keySource = `the key in ${this.config.privateKeyEnv}`;
    } else if (this.config.privateKeyPathEnv) {
      const keyPath = read('privateKeyPathEnv', this.config.privateKeyPathEnv);
      try {
        key = readFileSync(keyPath);
      } catch (error) {
        throw new TransportError(
          'SECRET_MISSING',
          `cannot read the private key file named by ${this.config.privateKeyPathEnv}: ${(error as Error).message}`,
          { ...context, variable: this.config.privateKeyPathEnv },
        );
      }
      keySource = `the key file named by ${this.config.privateKeyPathEnv}`;
    }
    if (key !== undefined) {
      const passphrase = this.config.passphraseEnv
        ? read('passphraseEnv', this.config.passphraseEnv)
        : undefined;
      const parsed = ssh2.utils.parseKey(key, passphrase);
      if (parsed instanceof Error) {
        throw new TransportError(
          'PRIVATE_KEY_INVALID',
          `${keySource} cannot be used: ${parsed.message}`,
          context,
        );
      }
      result.privateKey = key;
      if (passphrase !== undefined) result.passphrase = passphrase;
    }
    return result;
  }

  // --- SFTP requests ----------------------------------------------------------------------------------

  /**
   * One SFTP request as a promise that also settles when the connection is lost or the operation
   * timeout passes. A timed-out request cannot be cancelled in SFTP, so its connection is dropped.
   */
  private request<T = void>(
    session: Session,
    context: TransportErrorContext,
    send: (callback: (error: Error | null | undefined, value: T) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (session.closed) {
        reject(
          new TransportError('CONNECTION_FAILED', 'the connection was lost', context, { retryable: true }),
        );
        return;
      }
      let settled = false;
      const settle = (action: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stopWatching();
        action();
      };
      const timer = setTimeout(() => {
        const error = new TransportError(
          'TIMEOUT',
          `the server did not answer within ${this.operationTimeoutMs} ms`,
          context,
          { retryable: true },
        );
        settle(() => reject(error));
        session.destroy(error);
      }, this.operationTimeoutMs);
      const stopWatching = session.onLost((error) => settle(() => reject(error)));
      try {
        send((error, value) => {
          if (error) settle(() => reject(this.sftpError(error, context, session)));
          else settle(() => resolve(value));
        });
      } catch (error) {
        settle(() => reject(this.sftpError(error as Error, context, session)));
      }
    });
  }

  private sftpError(error: Error, context: TransportErrorContext, session: Session): TransportError {
    if (error instanceof TransportError) return error;
    const code = (error as { code?: unknown }).code;
    const message = error.message;
    if (
      session.closed ||
      code === FX.NO_CONNECTION ||
      code === FX.CONNECTION_LOST ||
      /no response from server/i.test(message)
    ) {
      return new TransportError('CONNECTION_FAILED', `the connection was lost: ${message}`, context, {
        cause: error,
        retryable: true,
      });
    }
    if (code === FX.NO_SUCH_FILE) {
      return new TransportError('NOT_FOUND', `no such file or folder: ${message}`, context, { cause: error });
    }
    if (code === FX.PERMISSION_DENIED) {
      return new TransportError('PERMISSION_DENIED', `permission denied: ${message}`, context, {
        cause: error,
      });
    }
    return new TransportError('TRANSFER_FAILED', `the server reported: ${message}`, context, {
      cause: error,
    });
  }

  /** Errors out of a transfer: ours pass through, errno codes are local disk trouble, the rest is SFTP. */
  private streamError(error: unknown, context: TransportErrorContext, session: Session): TransportError {
    if (error instanceof TransportError) return error;
    if (typeof (error as { code?: unknown } | null)?.code === 'string')
      return fsError(error, 'writing failed', context);
    return this.sftpError(error instanceof Error ? error : new Error(String(error)), context, session);
  }

  private asTransportError(error: unknown, context: TransportErrorContext): TransportError {
    if (error instanceof TransportError) return error;
    if (error instanceof DeadlineError) {
      return new TransportError('TIMEOUT', error.message, context, { cause: error, retryable: true });
    }
    return fsError(error, 'unexpected failure', context);
  }

  private lstat(session: Session, path: string, context: TransportErrorContext): Promise<Stats> {
    return this.request<Stats>(session, context, (cb) => session.sftp.lstat(path, cb));
  }

  private async lstatIfExists(
    session: Session,
    path: string,
    context: TransportErrorContext,
  ): Promise<Stats | undefined> {
    try {
      return await this.lstat(session, path, context);
    } catch (error) {
      if (error instanceof TransportError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  private async unlinkIfExists(
    session: Session,
    path: string,
    context: TransportErrorContext,
  ): Promise<boolean> {
    try {
      await this.request(session, context, (cb) => session.sftp.unlink(path, cb));
      return true;
    } catch (error) {
      if (error instanceof TransportError && error.code === 'NOT_FOUND') return false;
      throw error;
    }
  }

  private async closeHandle(session: Session, handle: Buffer, context: TransportErrorContext): Promise<void> {
    await this.request(session, context, (cb) => session.sftp.close(handle, cb)).catch(() => undefined);
  }

  /**
   * The bytes of an open remote file, failing (instead of hanging) when the connection is lost or no data
   * arrives for the operation timeout. Closes the handle however the consumer stops.
   */
  private async *guardedRead(
    session: Session,
    remotePath: string,
    handle: Buffer,
    context: TransportErrorContext,
  ): AsyncGenerator<Buffer> {
    const options = { handle, autoClose: true, highWaterMark: TRANSFER_CHUNK };
    const stream = session.sftp.createReadStream(remotePath, options) as unknown as Readable;
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        const error = new TransportError(
          'TIMEOUT',
          `no data for ${this.operationTimeoutMs} ms in the middle of the transfer`,
          context,
          { retryable: true },
        );
        stream.destroy(error);
        session.destroy(error);
      }, this.operationTimeoutMs);
    };
    const stopWatching = session.onLost((error) => stream.destroy(error));
    try {
      arm();
      for await (const chunk of stream) {
        arm();
        yield chunk as Buffer;
      }
    } finally {
      clearTimeout(idle);
      stopWatching();
      // Destroying the stream closes the remote handle; when the session ends before the server answers,
      // ssh2 fails that close with "No response from server" as an 'error' event on the stream, which has
      // no listener once the reader is gone: uncaught, it would end the process. The bytes are all read.
      stream.on('error', () => undefined);
      stream.destroy();
    }
  }

  private async hashRemote(
    session: Session,
    path: string,
    context: TransportErrorContext,
  ): Promise<{ size: number; sha256: string }> {
    const handle = await this.request<Buffer>(session, context, (cb) => session.sftp.open(path, 'r', cb));
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const bytes of this.guardedRead(session, path, handle, context)) {
        hash.update(bytes);
        size += bytes.length;
      }
    } catch (error) {
      throw this.streamError(error, context, session);
    }
    return { size, sha256: hash.digest('hex') };
  }

  private async ensureSameContent(
    session: Session,
    target: string,
    existing: Stats,
    local: { size: number; sha256: string },
    context: TransportErrorContext,
  ): Promise<void> {
    const different = (existingSha256?: string) =>
      new TransportError('TARGET_EXISTS', `${target} already exists on the server with different content`, {
        ...context,
        existingSize: existing.size,
        newSize: local.size,
        newSha256: local.sha256,
        ...(existingSha256 ? { existingSha256 } : {}),
      });
    if ((existing.mode & S_IFMT) !== S_IFREG || existing.size !== local.size) throw different();
    const present = await this.hashRemote(session, target, context);
    if (present.sha256 !== local.sha256) throw different(present.sha256);
  }

  private async writeRemote(
    session: Session,
    temp: string,
    localPath: string,
    local: { size: number; sha256: string },
    context: TransportErrorContext,
  ): Promise<void> {
    // 'wx': create exclusively, so a temporary name that somehow exists is never written into.
    const handle = await this.request<Buffer>(session, context, (cb) => session.sftp.open(temp, 'wx', cb));
    let closed = false;
    try {
      const source = await open(localPath, 'r');
      const hash = createHash('sha256');
      let position = 0;
      try {
        const buffer = Buffer.allocUnsafe(TRANSFER_CHUNK);
        while (true) {
          const { bytesRead } = await source.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) break;
          const chunk = buffer.subarray(0, bytesRead);
          hash.update(chunk);
          await this.request(session, context, (cb) =>
            session.sftp.write(handle, chunk, 0, bytesRead, position, cb),
          );
          position += bytesRead;
        }
      } finally {
        await source.close();
      }
      if (position !== local.size || hash.digest('hex') !== local.sha256) {
        throw new TransportError(
          'SOURCE_CHANGED',
          `${localPath} changed while it was being delivered`,
          context,
        );
      }
      await this.fsyncIfSupported(session, handle, context);
      closed = true;
      await this.request(session, context, (cb) => session.sftp.close(handle, cb));
      const written = await this.lstat(session, temp, context);
      if (written.size !== local.size) {
        throw new TransportError(
          'SIZE_MISMATCH',
          `the server stored ${written.size} bytes of ${local.size}`,
          { ...context, expectedSize: local.size, actualSize: written.size },
        );
      }
    } finally {
      if (!closed && !session.closed) await this.closeHandle(session, handle, context);
    }
  }

  /** OpenSSH offers fsync@openssh.com; servers without it (and the ssh2 test server) get none. */
  private async fsyncIfSupported(
    session: Session,
    handle: Buffer,
    context: TransportErrorContext,
  ): Promise<void> {
    const extensions = (session.sftp as unknown as { _extensions?: Record<string, string> })._extensions;
    if (extensions?.['fsync@openssh.com'] !== '1') return;
    await this.request(session, context, (cb) =>
      session.sftp.ext_openssh_fsync(handle, (error) => cb(error, undefined)),
    );
  }

  private async mkdirp(session: Session, dir: string, context: TransportErrorContext): Promise<void> {
    const parts = dir.split('/').filter((part) => part !== '' && part !== '.');
    let path = dir.startsWith('/') ? '' : '.';
    for (const part of parts) {
      path = path === '.' ? part : `${path}/${part}`;
      const info = await this.lstatIfExists(session, path, context);
      if (info !== undefined) {
        if ((info.mode & S_IFMT) !== S_IFDIR) {
          throw new TransportError('TRANSFER_FAILED', `${path} exists and is not a folder`, context);
        }
        continue;
      }
      try {
        await this.request(session, context, (cb) => session.sftp.mkdir(path, cb));
      } catch (error) {
        // Another job may have created it a moment ago.
        if (isConnectionFault(error) || (await this.lstatIfExists(session, path, context)) === undefined)
          throw error;
      }
    }
  }

  /**
   * Takes `dir/name` out of the inbox under `temp` in the archive folder once it is sure to be the file
   * `seen`, as LocalTransport's takeIfSeen does: checked before the move (nothing moved in the usual
   * case) and again under `temp`, since a rename takes whatever is at the name at one instant. Another
   * file taken is renamed back, which the server refuses if a file took the name meanwhile. The server's
   * times are whole seconds: a replacement of the same size within the second is not told apart.
   */
  private async takeIfSeen(
    session: Session,
    dir: string,
    name: string,
    archiveDir: string,
    temp: string,
    seen: SeenFile,
    sent: Map<string, string>,
    context: TransportErrorContext,
  ): Promise<string> {
    const source = joinRemote(dir, name);
    // A retry after a lost reply to the rename finds the file moved already: moveWithoutClobber knows.
    if (!sent.has(source)) {
      const before = await this.lstatIfExists(session, source, context);
      const changed = before && changedSinceDownload(seen, seenOf(before), context);
      if (changed) throw changed;
    }
    const moved = await this.moveWithoutClobber(session, dir, name, archiveDir, temp, sent, context);
    const path = joinRemote(archiveDir, moved);
    const changed = changedSinceDownload(seen, seenOf(await this.lstat(session, path, context)), context);
    if (!changed) return moved;
    try {
      await this.request(session, context, (cb) => session.sftp.rename(path, source, cb));
    } catch (error) {
      if (isConnectionFault(error)) throw error;
      throw new TransportError(
        'TRANSFER_FAILED',
        replacementKept(name, path, dir),
        { ...context, path },
        { cause: error },
      );
    }
    throw changed;
  }

  /**
   * Renames `fromDir/fromName` to `toDir/<wanted>`, or `<wanted>.1`, `.2`… if taken. A retry after a lost
   * connection recognises its own earlier rename: source gone and the target it aimed at present.
   */
  private async moveWithoutClobber(
    session: Session,
    fromDir: string,
    fromName: string,
    toDir: string,
    wanted: string,
    sent: Map<string, string>,
    context: TransportErrorContext,
  ): Promise<string> {
    const source = joinRemote(fromDir, fromName);
    if ((await this.lstatIfExists(session, source, context)) === undefined) {
      const earlier = sent.get(source);
      if (
        earlier !== undefined &&
        (await this.lstatIfExists(session, joinRemote(toDir, earlier), context)) !== undefined
      ) {
        return earlier;
      }
      throw new TransportError('NOT_FOUND', `${source} is not on the server`, context);
    }
    for (let n = 0; n <= 9999; n++) {
      const candidate = n === 0 ? wanted : `${wanted}.${n}`;
      const target = joinRemote(toDir, candidate);
      if ((await this.lstatIfExists(session, target, context)) !== undefined) continue;
      sent.set(source, candidate);
      try {
        await this.request(session, context, (cb) => session.sftp.rename(source, target, cb));
        return candidate;
      } catch (error) {
        if (isConnectionFault(error) || (await this.lstatIfExists(session, target, context)) === undefined)
          throw error;
      }
    }
    throw new TransportError(
      'TARGET_EXISTS',
      `${toDir} already holds ${wanted} and 9999 renamed copies`,
      context,
    );
  }
}

const seenOf = (info: Stats): SeenFile => ({ size: info.size, modifiedAt: new Date(info.mtime * 1000) });

function checkRegularFile(info: Stats, context: TransportErrorContext): void {
  const type = info.mode & S_IFMT;
  if (type === S_IFLNK) {
    throw new TransportError(
      'SYMLINK_REFUSED',
      'the remote entry is a symbolic link; links are not followed',
      context,
    );
  }
  if (type !== S_IFREG)
    throw new TransportError('NOT_A_FILE', 'the remote entry is not a regular file', context);
}

function entryType(mode: number | undefined, longname: string): RemoteEntry['type'] | undefined {
  if (typeof mode === 'number' && mode !== 0) {
    const type = mode & S_IFMT;
    return type === S_IFREG ? 'file' : type === S_IFLNK ? 'symlink' : undefined;
  }
  // Servers that omit permissions still send an `ls -l` style long name.
  return longname.startsWith('-') ? 'file' : longname.startsWith('l') ? 'symlink' : undefined;
}

function isConnectionFault(error: unknown): boolean {
  return error instanceof TransportError && error.retryable;
}

async function hashLocalFile(
  path: string,
  context: TransportErrorContext,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw fsError(error, `cannot read ${path}`, context);
  }
  try {
    for await (const chunk of handle.createReadStream({ autoClose: false })) {
      const bytes = chunk as Buffer;
      hash.update(bytes);
      size += bytes.length;
    }
  } finally {
    await handle.close();
  }
  return { size, sha256: hash.digest('hex') };
}

class DeadlineError extends Error {}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
