/**
 * An SFTP server inside the test process, built on ssh2's Server and serving a real temporary folder.
 * It answers like OpenSSH's sftp-server where Redeye depends on it (rename never replaces an existing
 * file, directory listings carry `.` and `..` and lstat attributes) and can misbehave on request: cut the
 * connection in the middle of a read, refuse every login, stall requests, or lie in directory listings.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { promises as fs, type Stats } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import ssh2 from 'ssh2';
import type { Attributes, AuthContext, Connection, SFTPWrapper } from 'ssh2';

const { Server, utils } = ssh2;
const { STATUS_CODE, flagsToString } = utils.sftp;

export interface InProcessSftpOptions {
  /** Folder to serve; by default a fresh temporary folder that `stop()` removes. */
  root?: string;
  /** Default `partner`. */
  username?: string;
  /** Accept this password. */
  password?: string;
  /** Accept this OpenSSH public key (`ssh-ed25519 AAAA… comment`). */
  authorizedKey?: string;
  /** Host private key in OpenSSH format; by default a new Ed25519 key. */
  hostKey?: { privateKey: string; publicKey: string };
}

export interface ServerFaults {
  /** Reject every login, whatever the credentials. */
  refuseAuth: boolean;
  /**
   * Cut the TCP connection once `bytes` bytes of a file (any file, or the one at `path` relative to the
   * served folder, e.g. `inbox/a.csv`) have been read on a connection; `times` cuts, then behave.
   * `onCut` runs at the moment of the cut, before the client has noticed.
   */
  cutRead?: { bytes: number; times: number; path?: string; onCut?: () => void };
  /** Hold the next `times` requests of the listed kinds (default: all) for `ms` before answering. */
  delay?: { ms: number; times: number; requests?: string[] };
  /** Entries added to every directory listing without existing on disk, as a hostile server would. */
  extraEntries: { filename: string; size: number }[];
  /**
   * Runs before the server answers each request, with its kind (`READ`, `RENAME`, …) and the file it
   * concerns relative to the served folder (a handle's file for READ, the source of a RENAME): where a
   * test changes a file at an exact point of a transfer, as a partner's upload would.
   */
  beforeRequest?: (kind: string, path: string | undefined) => void | Promise<void>;
}

export interface ServerStats {
  connections: number;
  /** Password and public-key attempts (the SSH `none` probe is not counted). */
  authAttempts: number;
  passwordAttempts: number;
  /** SFTP requests by kind: OPEN, READ, RENAME, … */
  requests: Record<string, number>;
  /** Every file opened, relative to the served folder, with its fs open flags (`r`, `wx`, …). */
  opens: { path: string; flags: string }[];
  /** Every rename, relative to the served folder. */
  renames: { from: string; to: string }[];
}

export interface InProcessSftp {
  host: string;
  port: number;
  /** The served folder on disk; the client sees it as `/`. */
  root: string;
  username: string;
  /** `SHA256:…` of the host key, as `ssh-keygen -lf` would print it. */
  hostKeyFingerprint: string;
  faults: ServerFaults;
  stats: ServerStats;
  stop(): Promise<void>;
}

/** A new Ed25519 key pair in OpenSSH format; with a passphrase, the private key is encrypted. */
export function generateKeyPair(
  comment = 'redeye-test',
  passphrase?: string,
): { privateKey: string; publicKey: string } {
  // ssh2 1.17 sometimes exports a key with a leading zero byte dropped (about one pair in a hundred),
  // which it then cannot parse itself. Keep only pairs whose halves both parse and agree.
  for (let attempt = 0; attempt < 50; attempt++) {
    const pair =
      passphrase === undefined
        ? utils.generateKeyPairSync('ed25519', { comment })
        : utils.generateKeyPairSync('ed25519', { comment, passphrase, cipher: 'aes256-ctr' });
    const privateKey = utils.parseKey(pair.private, passphrase);
    const publicKey = utils.parseKey(pair.public);
    if (privateKey instanceof Error || publicKey instanceof Error) continue;
    if (privateKey.getPublicSSH().equals(publicKey.getPublicSSH())) {
      return { privateKey: pair.private, publicKey: pair.public };
    }
  }
  throw new Error('could not generate a well-formed Ed25519 key pair');
}

/** Fingerprint of an OpenSSH public key line, computed from the wire blob the way ssh-keygen does. */
export function fingerprintOfPublicKeyLine(line: string): string {
  const blob = line.trim().split(/\s+/)[1];
  if (blob === undefined) throw new Error(`not an OpenSSH public key line: ${line}`);
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

export async function startInProcessSftp(options: InProcessSftpOptions = {}): Promise<InProcessSftp> {
  const ownRoot = options.root === undefined;
  const root = options.root ?? (await mkdtemp(join(tmpdir(), 'redeye-sftp-')));
  const username = options.username ?? 'partner';
  const hostKey = options.hostKey ?? generateKeyPair('redeye-test-host');
  const authorized = options.authorizedKey ? parsePublicKey(options.authorizedKey) : undefined;
  const faults: ServerFaults = { refuseAuth: false, extraEntries: [] };
  const stats: ServerStats = {
    connections: 0,
    authAttempts: 0,
    passwordAttempts: 0,
    requests: {},
    opens: [],
    renames: [],
  };
  const clients = new Set<Connection>();

  const server = new Server({ hostKeys: [hostKey.privateKey] }, (client) => {
    stats.connections++;
    clients.add(client);
    client.on('close', () => clients.delete(client));
    // A cut or a client that disappears is expected here; it must not crash the test process.
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => authenticate(ctx));
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (acceptSftp) => serve(acceptSftp(), client));
      });
    });
  });

  function authenticate(ctx: AuthContext): void {
    if (ctx.method === 'none') return ctx.reject(['password', 'publickey']);
    stats.authAttempts++;
    if (ctx.method === 'password') stats.passwordAttempts++;
    if (faults.refuseAuth || ctx.username !== username) return ctx.reject();
    if (
      ctx.method === 'password' &&
      options.password !== undefined &&
      sameSecret(ctx.password, options.password)
    ) {
      return ctx.accept();
    }
    if (ctx.method === 'publickey' && authorized !== undefined) {
      const offered = ctx.key;
      if (offered.algo !== authorized.type || !offered.data.equals(authorized.getPublicSSH()))
        return ctx.reject();
      // Without a signature the client only asks whether this key would do; with one, it proves it holds it.
      if (ctx.signature === undefined || ctx.blob === undefined) return ctx.accept();
      return authorized.verify(ctx.blob, ctx.signature, ctx.hashAlgo) ? ctx.accept() : ctx.reject();
    }
    ctx.reject();
  }

  function serve(sftp: SFTPWrapper, client: Connection): void {
    const handles = new Map<number, OpenHandle>();
    let nextHandle = 1;
    const readByPath = new Map<string, number>();

    const handleBuffer = (id: number) => {
      const buffer = Buffer.alloc(4);
      buffer.writeUInt32BE(id);
      return buffer;
    };
    const lookup = (handle: Buffer) => (handle.length === 4 ? handles.get(handle.readUInt32BE()) : undefined);
    const fail = (reqId: number, error: unknown) =>
      sftp.status(reqId, statusFor(error), (error as Error).message);

    /** Registers a request handler with statistics, optional stalling and error replies. */
    const on = <A extends unknown[]>(kind: string, handler: (reqId: number, ...args: A) => Promise<void>) => {
      sftp.on(kind, (reqId: number, ...args: A) => {
        stats.requests[kind] = (stats.requests[kind] ?? 0) + 1;
        void (async () => {
          const delay = faults.delay;
          if (delay && delay.times > 0 && (delay.requests === undefined || delay.requests.includes(kind))) {
            delay.times--;
            await new Promise((resolve) => setTimeout(resolve, delay.ms));
          }
          try {
            if (faults.beforeRequest) {
              const [first] = args;
              const open = Buffer.isBuffer(first) ? lookup(first) : undefined;
              const path =
                typeof first === 'string'
                  ? virtualPath(first).slice(1)
                  : open?.kind === 'file'
                    ? open.path
                    : undefined;
              await faults.beforeRequest(kind, path);
            }
            await handler(reqId, ...args);
          } catch (error) {
            fail(reqId, error);
          }
        })();
      });
    };

    on('REALPATH', async (reqId, path: string) => {
      const virtual = virtualPath(path);
      sftp.name(reqId, [{ filename: virtual, longname: virtual, attrs: {} as Attributes }]);
    });
    on('STAT', async (reqId, path: string) => {
      sftp.attrs(reqId, attributes(await fs.stat(realPath(root, path))));
    });
    on('LSTAT', async (reqId, path: string) => {
      sftp.attrs(reqId, attributes(await fs.lstat(realPath(root, path))));
    });
    on('FSTAT', async (reqId, handle: Buffer) => {
      const open = lookup(handle);
      if (open?.kind !== 'file') return void sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
      sftp.attrs(reqId, attributes(await open.file.stat()));
    });
    on('OPEN', async (reqId, path: string, flags: number, attrs: Attributes) => {
      const mode = flagsToString(flags);
      if (mode === null) return void sftp.status(reqId, STATUS_CODE.FAILURE, 'unsupported open flags');
      stats.opens.push({ path: virtualPath(path).slice(1), flags: mode });
      const file = await fs.open(realPath(root, path), mode, attrs?.mode || 0o644);
      const id = nextHandle++;
      handles.set(id, { kind: 'file', file, path: virtualPath(path).slice(1) });
      sftp.handle(reqId, handleBuffer(id));
    });
    on('READ', async (reqId, handle: Buffer, offset: number, length: number) => {
      const open = lookup(handle);
      if (open?.kind !== 'file') return void sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await open.file.read(buffer, 0, length, offset);
      if (bytesRead === 0) return void sftp.status(reqId, STATUS_CODE.EOF);
      const cut = faults.cutRead;
      if (cut && cut.times > 0 && (cut.path === undefined || cut.path === open.path)) {
        const before = readByPath.get(open.path) ?? 0;
        const after = before + bytesRead;
        readByPath.set(open.path, after);
        if (after >= cut.bytes) {
          cut.times--;
          const partial = cut.bytes - before;
          if (partial > 0) sftp.data(reqId, buffer.subarray(0, partial));
          cut.onCut?.();
          // Destroy the socket rather than close the SSH session: the client must see a broken link.
          setImmediate(() => (client as unknown as { _sock: Socket })._sock.destroy());
          return;
        }
      }
      sftp.data(reqId, buffer.subarray(0, bytesRead));
    });
    on('WRITE', async (reqId, handle: Buffer, offset: number, data: Buffer) => {
      const open = lookup(handle);
      if (open?.kind !== 'file') return void sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
      await open.file.write(data, 0, data.length, offset);
      sftp.status(reqId, STATUS_CODE.OK);
    });
    on('CLOSE', async (reqId, handle: Buffer) => {
      const open = lookup(handle);
      if (open === undefined) return void sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
      handles.delete(handle.readUInt32BE());
      if (open.kind === 'file') await open.file.close();
      sftp.status(reqId, STATUS_CODE.OK);
    });
    on('OPENDIR', async (reqId, path: string) => {
      const dir = realPath(root, path);
      const names = await fs.readdir(dir);
      const entries = [];
      for (const name of ['.', '..', ...names]) {
        // lstat like OpenSSH: a link is listed as a link.
        const info = await fs.lstat(join(dir, name)).catch(() => undefined);
        if (info) entries.push({ filename: name, longname: longname(name, info), attrs: attributes(info) });
      }
      for (const extra of faults.extraEntries) {
        const attrs = {
          mode: 0o100644,
          uid: 0,
          gid: 0,
          size: extra.size,
          atime: 0,
          mtime: Math.floor(Date.now() / 1000),
        };
        entries.push({
          filename: extra.filename,
          longname: `-rw-r--r-- 1 0 0 ${extra.size} ${extra.filename}`,
          attrs,
        });
      }
      const id = nextHandle++;
      handles.set(id, { kind: 'dir', entries, sent: false });
      sftp.handle(reqId, handleBuffer(id));
    });
    on('READDIR', async (reqId, handle: Buffer) => {
      const open = lookup(handle);
      if (open?.kind !== 'dir') return void sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
      if (open.sent) return void sftp.status(reqId, STATUS_CODE.EOF);
      open.sent = true;
      sftp.name(reqId, open.entries);
    });
    on('REMOVE', async (reqId, path: string) => {
      await fs.unlink(realPath(root, path));
      sftp.status(reqId, STATUS_CODE.OK);
    });
    on('MKDIR', async (reqId, path: string) => {
      await fs.mkdir(realPath(root, path));
      sftp.status(reqId, STATUS_CODE.OK);
    });
    on('RMDIR', async (reqId, path: string) => {
      await fs.rmdir(realPath(root, path));
      sftp.status(reqId, STATUS_CODE.OK);
    });
    on('RENAME', async (reqId, from: string, to: string) => {
      // OpenSSH's sftp-server links then unlinks, so renaming onto an existing file fails as SFTP v3 says.
      stats.renames.push({ from: virtualPath(from).slice(1), to: virtualPath(to).slice(1) });
      const source = realPath(root, from);
      const target = realPath(root, to);
      const info = await fs.lstat(source);
      if (info.isFile()) {
        await fs.link(source, target);
        await fs.unlink(source);
      } else {
        if (
          await fs.lstat(target).then(
            () => true,
            () => false,
          )
        )
          throw Object.assign(new Error('target exists'), { code: 'EEXIST' });
        await fs.rename(source, target);
      }
      sftp.status(reqId, STATUS_CODE.OK);
    });
    on('SETSTAT', async (reqId, path: string, attrs: Attributes) => {
      await applyAttributes(realPath(root, path), attrs);
      sftp.status(reqId, STATUS_CODE.OK);
    });
    on('FSETSTAT', async (reqId, _handle: Buffer) => {
      sftp.status(reqId, STATUS_CODE.OK);
    });
    for (const unsupported of ['READLINK', 'SYMLINK', 'EXTENDED']) {
      on(unsupported, async (reqId) => void sftp.status(reqId, STATUS_CODE.OP_UNSUPPORTED));
    }
    sftp.on('close', () => {
      for (const open of handles.values())
        if (open.kind === 'file') void open.file.close().catch(() => undefined);
      handles.clear();
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    host: '127.0.0.1',
    port,
    root,
    username,
    hostKeyFingerprint: fingerprintOfPublicKeyLine(hostKey.publicKey),
    faults,
    stats,
    async stop() {
      for (const client of clients) (client as unknown as { _sock: Socket })._sock.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownRoot) await rm(root, { recursive: true, force: true });
    },
  };
}

type OpenHandle =
  | { kind: 'file'; file: fs.FileHandle; path: string }
  | { kind: 'dir'; entries: { filename: string; longname: string; attrs: Attributes }[]; sent: boolean };

/** The client's path as an absolute path inside the served folder, which it sees as `/`. */
function virtualPath(path: string): string {
  return posix.normalize(`/${path}`);
}

/** Maps a client path onto disk; normalising under `/` first means `..` can never climb out. */
function realPath(root: string, path: string): string {
  return join(root, virtualPath(path));
}

function attributes(info: Stats): Attributes {
  return {
    mode: info.mode,
    uid: info.uid,
    gid: info.gid,
    size: info.size,
    atime: Math.floor(info.atimeMs / 1000),
    mtime: Math.floor(info.mtimeMs / 1000),
  };
}

function longname(name: string, info: Stats): string {
  const type = info.isDirectory() ? 'd' : info.isSymbolicLink() ? 'l' : '-';
  return `${type}rw-r--r-- 1 ${info.uid} ${info.gid} ${info.size} ${info.mtime.toISOString()} ${name}`;
}

async function applyAttributes(path: string, attrs: Attributes): Promise<void> {
  if (typeof attrs.mode === 'number') await fs.chmod(path, attrs.mode & 0o7777);
  if (typeof attrs.mtime === 'number') await fs.utimes(path, attrs.atime ?? attrs.mtime, attrs.mtime);
}

function statusFor(error: unknown): number {
  switch ((error as { code?: unknown }).code) {
    case 'ENOENT':
      return STATUS_CODE.NO_SUCH_FILE;
    case 'EACCES':
    case 'EPERM':
      return STATUS_CODE.PERMISSION_DENIED;
    default:
      return STATUS_CODE.FAILURE;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parsePublicKey(text: string) {
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error) throw parsed;
  return parsed;
}
