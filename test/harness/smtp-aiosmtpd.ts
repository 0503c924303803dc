/**
 * A real SMTP server in a separate process: Debian's python3-aiosmtpd, run by Debian's own
 * interpreter, with its built-in `Mailbox` handler storing every accepted message in a Maildir.
 * It shares no code with nodemailer or smtp-server, so a message that survives the trip and parses
 * back intact has really been written to the wire correctly.
 *
 *   /usr/bin/python3 -m aiosmtpd -n -c aiosmtpd.handlers.Mailbox -l 127.0.0.1:<port> <maildir>
 *
 * `stop()` ends the process and removes the Maildir; every test that starts one stops it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DEBIAN_PYTHON = '/usr/bin/python3';

export interface AiosmtpdServer {
  host: string;
  port: number;
  maildir: string;
  /** Raw bytes of every message stored so far, oldest first. */
  storedMessages(): Promise<Buffer[]>;
  stop(): Promise<void>;
}

let availability: string | true | undefined;

/** `true` when aiosmtpd can be run, else the reason it cannot. */
export function aiosmtpdAvailability(): string | true {
  if (availability === undefined) {
    try {
      execFileSync(DEBIAN_PYTHON, ['-c', 'import aiosmtpd.handlers, aiosmtpd.main'], {
        stdio: 'pipe',
        timeout: 30_000,
      });
      availability = true;
    } catch (error) {
      availability = `${DEBIAN_PYTHON} cannot import aiosmtpd (apt install python3-aiosmtpd): ${(error as Error).message.split('\n')[0]}`;
    }
  }
  return availability;
}

/** Skip (with a notice) when aiosmtpd is missing, except on CI, where a missing server is an error. */
export function skipWithoutAiosmtpd(): boolean {
  const available = aiosmtpdAvailability();
  if (available === true) return false;
  if (process.env.CI === 'true') throw new Error(`aiosmtpd is required on CI: ${available}`);
  console.warn(`[aiosmtpd] skipping real-SMTP-server tests: ${available}`);
  return true;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Resolves once the server greets with 220, i.e. really accepts SMTP sessions. */
function greets(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let banner = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (chunk) => {
      banner += chunk.toString('latin1');
      if (banner.includes('\n')) {
        socket.end('QUIT\r\n');
        done(banner.startsWith('220'));
      }
    });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export async function startAiosmtpd(): Promise<AiosmtpdServer> {
  const maildir = await mkdtemp(join(tmpdir(), 'redeye-aiosmtpd-'));
  const host = '127.0.0.1';
  // Another process can take the probed port before aiosmtpd binds it; then try another.
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    const child = spawn(
      DEBIAN_PYTHON,
      [
        '-m',
        'aiosmtpd',
        '-n',
        '-c',
        'aiosmtpd.handlers.Mailbox',
        '-l',
        `${host}:${port}`,
        join(maildir, 'Maildir'),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const started = Date.now();
    let ready = false;
    while (!ready && child.exitCode === null && Date.now() - started < 20_000) {
      ready = await greets(host, port);
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!ready) {
      await stopProcess(child);
      if (/address already in use/i.test(stderr)) continue;
      await rm(maildir, { recursive: true, force: true });
      throw new Error(`aiosmtpd did not start on ${host}:${port}: ${stderr.trim()}`);
    }
    return {
      host,
      port,
      maildir: join(maildir, 'Maildir'),
      async storedMessages() {
        const fresh = join(maildir, 'Maildir', 'new');
        // Maildir file names begin with the delivery time in seconds, so sorting puts older first.
        const names = (await readdir(fresh).catch(() => [] as string[])).sort();
        return Promise.all(names.map((name) => readFile(join(fresh, name))));
      },
      async stop() {
        await stopProcess(child);
        await rm(maildir, { recursive: true, force: true });
      },
    };
  }
  await rm(maildir, { recursive: true, force: true });
  throw new Error('aiosmtpd: no free port after 5 tries');
}
