/**
 * A real OpenSSH server for integration tests: Debian's /usr/sbin/sshd with its own configuration, host
 * key, pid file and authorized key, on a free loopback port, serving SFTP only (internal-sftp) inside a
 * chroot. It logs in as root with a key (`PermitRootLogin prohibit-password`), so nothing on the machine
 * changes: no user is created, no system configuration is touched, and everything lives under one
 * folder in /srv that `stop()` removes.
 *
 * Why /srv: sshd refuses a ChrootDirectory unless every component of its path is root-owned and not
 * writable by group or others, which rules out /tmp and /var/tmp (both 1777).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SSHD_PATH = '/usr/sbin/sshd';
export const SSH_KEYGEN_PATH = '/usr/bin/ssh-keygen';
const CHROOT_PARENT = '/srv';
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export interface SshdAvailability {
  available: boolean;
  /** Why the server cannot run here, for the skip notice or the CI failure. */
  reason?: string;
}

/** Whether this machine can run the harness: sshd and ssh-keygen installed, and root (for the chroot). */
export function sshdAvailability(): SshdAvailability {
  for (const [path, pkg] of [
    [SSHD_PATH, 'openssh-server'],
    [SSH_KEYGEN_PATH, 'openssh-client'],
  ] as const) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      return { available: false, reason: `${path} is missing (apt-get install -y ${pkg})` };
    }
  }
  if (process.getuid?.() !== 0) {
    return { available: false, reason: 'sshd with a chroot must be started as root' };
  }
  return { available: true };
}

export interface RunningSshd {
  host: string;
  port: number;
  username: string;
  /** Path of the client's private key (OpenSSH format, no passphrase). */
  privateKeyPath: string;
  privateKey: string;
  /** The host key fingerprint as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** The served folder on disk. */
  servedDir: string;
  /** The same folder as the SFTP client sees it inside the chroot; also the session's start folder. */
  remoteDir: string;
  /** Everything sshd has written to stderr so far (`-e`), for assertions and failure reports. */
  log(): string;
  stop(): Promise<void>;
}

export async function startSshd(): Promise<RunningSshd> {
  const availability = sshdAvailability();
  if (!availability.available) throw new Error(`cannot start sshd: ${availability.reason}`);

  // Privilege separation directory; Debian's init scripts create it, a container may not have run them.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  await mkdir(CHROOT_PARENT, { recursive: true, mode: 0o755 });
  const base = await mkdtemp(join(CHROOT_PARENT, 'redeye-sshd-'));
  try {
    return await startIn(base);
  } catch (error) {
    await rm(base, { recursive: true, force: true });
    throw error;
  }
}

async function startIn(base: string): Promise<RunningSshd> {
  const chroot = join(base, 'chroot');
  const remoteDir = '/files';
  const servedDir = join(chroot, 'files');
  await mkdir(chroot, { mode: 0o755 });
  await chmod(chroot, 0o755);
  await mkdir(servedDir);

  const hostKey = join(base, 'host_ed25519_key');
  const clientKey = join(base, 'client_ed25519_key');
  await run(SSH_KEYGEN_PATH, ['-q', '-t', 'ed25519', '-N', '', '-C', 'redeye-test-host', '-f', hostKey]);
  await run(SSH_KEYGEN_PATH, ['-q', '-t', 'ed25519', '-N', '', '-C', 'redeye-test-client', '-f', clientKey]);
  const authorizedKeys = join(base, 'authorized_keys');
  await copyFile(`${clientKey}.pub`, authorizedKeys);
  await chmod(authorizedKeys, 0o600);
  const { stdout } = await run(SSH_KEYGEN_PATH, ['-lf', `${hostKey}.pub`]);
  const hostKeyFingerprint = stdout.split(/\s+/)[1] ?? '';
  if (!hostKeyFingerprint.startsWith('SHA256:'))
    throw new Error(`unexpected ssh-keygen -lf output: ${stdout}`);

  const pidFile = join(base, 'sshd.pid');
  const config = join(base, 'sshd_config');
  let lastFailure = '';
  // A free port can be taken between probing and binding; sshd then exits at once and we try another.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeLoopbackPort();
    await writeFile(config, sshdConfig({ port, hostKey, pidFile, authorizedKeys, chroot, remoteDir }));
    const output: string[] = [];
    const child = spawn(SSHD_PATH, ['-D', '-e', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = await waitForBanner(port, exited);
    if (!ready) {
      lastFailure = output.join('');
      continue;
    }
    const pid = await readPid(pidFile, child);
    const killOnExit = () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    // If the test process dies without running its afterAll, sshd must not outlive it.
    process.once('exit', killOnExit);
    return {
      host: '127.0.0.1',
      port,
      username: 'root',
      privateKeyPath: clientKey,
      privateKey: readFileSync(clientKey, 'utf8'),
      hostKeyFingerprint,
      servedDir,
      remoteDir,
      log: () => output.join(''),
      async stop() {
        process.removeListener('exit', killOnExit);
        await stopByPidFile(pidFile, pid, child, exited);
        await rm(base, { recursive: true, force: true });
      },
    };
  }
  throw new Error(`sshd did not start after 3 attempts; its last output:\n${lastFailure}`);
}

function sshdConfig(options: {
  port: number;
  hostKey: string;
  pidFile: string;
  authorizedKeys: string;
  chroot: string;
  remoteDir: string;
}): string {
  return [
    `Port ${options.port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${options.hostKey}`,
    `PidFile ${options.pidFile}`,
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'AllowUsers root',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    `AuthorizedKeysFile ${options.authorizedKeys}`,
    'StrictModes yes',
    'Subsystem sftp internal-sftp',
    `ChrootDirectory ${options.chroot}`,
    `ForceCommand internal-sftp -d ${options.remoteDir}`,
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'X11Forwarding no',
    'PermitTTY no',
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

async function freeLoopbackPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** True once sshd answers with its SSH banner; false if it exits first or never answers. */
async function waitForBanner(port: number, exited: Promise<number | null>): Promise<boolean> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && !gone) {
    if (await answersWithBanner(port)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

function answersWithBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    const finish = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('data', (chunk) => {
      received += chunk.toString();
      if (received.includes('\n')) finish(received.startsWith('SSH-2.0-OpenSSH'));
    });
  });
}

async function readPid(pidFile: string, child: ChildProcess): Promise<number> {
  // sshd writes the pid file once it listens, which is before it answers; the banner has been seen.
  const text = existsSync(pidFile) ? await readFile(pidFile, 'utf8') : '';
  const pid = Number.parseInt(text.trim(), 10);
  if (Number.isInteger(pid) && pid > 0) return pid;
  if (child.pid !== undefined) return child.pid;
  throw new Error(`sshd wrote no pid file at ${pidFile}`);
}

async function stopByPidFile(
  pidFile: string,
  pid: number,
  child: ChildProcess,
  exited: Promise<number | null>,
): Promise<void> {
  const target = existsSync(pidFile) ? Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10) || pid : pid;
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(target, 'SIGTERM');
  } catch {
    return;
  }
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS));
  if ((await Promise.race([exited, timer])) === 'timeout') {
    process.kill(target, 'SIGKILL');
    await exited;
  }
}
