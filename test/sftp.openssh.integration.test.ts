/**
 * The SFTP transport against a real OpenSSH server (see test/harness/sshd.ts). Where sshd is not
 * installed the suite is skipped with a notice, except in CI, where a missing sshd is a failure: the
 * in-process server cannot prove that Redeye and OpenSSH agree.
 */
import { createHash, randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TransportError } from '../transports/errors.js';
import { SftpTransport, type SftpTransportConfig } from '../transports/sftp.js';
import type { Clock } from '../transports/types.js';
import { fingerprintOfPublicKeyLine, generateKeyPair } from './harness/sftp-inprocess.js';
import { sshdAvailability, startSshd, type RunningSshd } from './harness/sshd.js';
import { readyIn } from './harness/ready.js';

const availability = sshdAvailability();
const inCi = process.env.CI === 'true';
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

if (!availability.available && inCi) {
  describe('SFTP transport against OpenSSH', () => {
    it('has OpenSSH sshd available in CI', () => {
      throw new Error(`the OpenSSH integration tests cannot run: ${availability.reason}`);
    });
  });
} else if (!availability.available) {
  console.warn(`[sftp.openssh.integration] skipped: ${availability.reason}`);
}

describe.skipIf(!availability.available)('SFTP transport against OpenSSH', () => {
  let sshd: RunningSshd;
  let landing: string;
  let scratch: string;
  let sleeps: number[];
  let duringSleep: (() => Promise<void>) | undefined;
  const open: SftpTransport[] = [];
  const clock: Clock = {
    async sleep(ms) {
      sleeps.push(ms);
      await duringSleep?.();
    },
  };

  function connect(
    overrides: Partial<SftpTransportConfig> = {},
    keyPath = sshd.privateKeyPath,
  ): SftpTransport {
    const transport = new SftpTransport(
      {
        host: sshd.host,
        port: sshd.port,
        username: sshd.username,
        privateKeyPathEnv: 'REDEYE_TEST_SFTP_KEY_FILE',
        hostKeyFingerprint: sshd.hostKeyFingerprint,
        connectTimeoutMs: 10_000,
        operationTimeoutMs: 10_000,
        retry: { attempts: 2, initialDelayMs: 100 },
        ...overrides,
      },
      { env: { REDEYE_TEST_SFTP_KEY_FILE: keyPath }, clock },
    );
    open.push(transport);
    return transport;
  }

  beforeAll(async () => {
    sshd = await startSshd();
  });

  afterAll(async () => {
    await sshd?.stop();
  });

  beforeEach(async () => {
    await rm(sshd.servedDir, { recursive: true, force: true });
    await mkdir(join(sshd.servedDir, 'inbox'), { recursive: true });
    await mkdir(join(sshd.servedDir, 'outbox'));
    landing = await mkdtemp(join(tmpdir(), 'redeye-landing-'));
    scratch = await mkdtemp(join(tmpdir(), 'redeye-scratch-'));
    sleeps = [];
    duringSleep = undefined;
  });

  afterEach(async () => {
    for (const transport of open.splice(0)) await transport.close();
    await rm(landing, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it('lists the inbox and downloads a file whose SHA-256 matches the server copy', async () => {
    const coupons = randomBytes(2_500_000);
    await writeFile(join(sshd.servedDir, 'inbox', 'FLOWN_20240301.csv'), coupons);
    await writeFile(join(sshd.servedDir, 'inbox', 'README.txt'), 'not a feed');
    const transport = connect();

    const entries = await transport.list('inbox', /^FLOWN_\d{8}\.csv$/);
    expect(entries).toMatchObject([{ name: 'FLOWN_20240301.csv', size: coupons.length, type: 'file' }]);
    const result = await transport.download('inbox', entries[0]!, landing);
    expect(result.sha256).toBe(sha256(coupons));
    expect(result.size).toBe(coupons.length);
    expect(sha256(await readFile(result.localPath))).toBe(sha256(coupons));
    expect(await readdir(landing)).toEqual(['FLOWN_20240301.csv']);
  });

  it('sees the same folder through an absolute path inside the chroot', async () => {
    await writeFile(join(sshd.servedDir, 'inbox', 'a.csv'), 'a');
    const entries = await connect().list(`${sshd.remoteDir}/inbox`, /csv$/);
    expect(entries.map((e) => e.name)).toEqual(['a.csv']);
  });

  it('uploads through a temporary name that OpenSSH renames into place', async () => {
    await writeFile(join(scratch, 'RESP.csv'), randomBytes(1_500_000));
    const transport = connect();
    await transport.list('outbox', /./);
    // The served folder is on this machine, so inotify shows what OpenSSH did in it, in order.
    const seen: string[] = [];
    const watcher = watch(join(sshd.servedDir, 'outbox'), (_event, name) => {
      if (name) seen.push(name.toString());
    });
    try {
      const result = await transport.upload(join(scratch, 'RESP.csv'), 'outbox', 'RESP_20240301.csv');
      expect(result).toMatchObject({ remotePath: 'outbox/RESP_20240301.csv', alreadyPresent: false });
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      watcher.close();
    }
    const temp = seen.find((name) => /^\.RESP_20240301\.csv\.[0-9a-f]{12}\.part$/.test(name));
    expect(temp).toBeDefined();
    expect(seen.indexOf(temp!)).toBeLessThan(seen.indexOf('RESP_20240301.csv'));
    expect(sha256(await readFile(join(sshd.servedDir, 'outbox', 'RESP_20240301.csv')))).toBe(
      sha256(await readFile(join(scratch, 'RESP.csv'))),
    );
    expect(await readdir(join(sshd.servedDir, 'outbox'))).toEqual(['RESP_20240301.csv']);
  });

  it('delivers into a folder it creates when asked, and names a missing folder it was not asked to create', async () => {
    await writeFile(join(scratch, 'list.csv'), 'member,email\n');
    const transport = connect();
    const error = await transport
      .upload(join(scratch, 'list.csv'), 'mailing', 'list.csv')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).code).toBe('NOT_FOUND');
    expect((error as TransportError).detail).toBe(
      "the folder mailing does not exist, so nothing can be delivered into it; it is the receiving side's to create",
    );
    const r = await transport.upload(join(scratch, 'list.csv'), 'shared/mailing', 'list.csv', {
      createDir: true,
    });
    expect(r).toMatchObject({ remotePath: 'shared/mailing/list.csv', alreadyPresent: false });
    expect(await readFile(join(sshd.servedDir, 'shared', 'mailing', 'list.csv'), 'utf8')).toBe(
      'member,email\n',
    );
    expect((await readdir(sshd.servedDir)).sort()).toEqual(['inbox', 'outbox', 'shared']);
  });

  it('treats an identical redelivery as done and refuses to replace different content', async () => {
    await writeFile(join(scratch, 'INV.xml'), '<invoice total="10"/>');
    const transport = connect();
    await transport.upload(join(scratch, 'INV.xml'), 'outbox', 'INV.xml');
    expect((await transport.upload(join(scratch, 'INV.xml'), 'outbox', 'INV.xml')).alreadyPresent).toBe(true);
    await writeFile(join(scratch, 'INV.xml'), '<invoice total="11"/>');
    const error = await transport
      .upload(join(scratch, 'INV.xml'), 'outbox', 'INV.xml')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).code).toBe('TARGET_EXISTS');
    expect(await readFile(join(sshd.servedDir, 'outbox', 'INV.xml'), 'utf8')).toBe('<invoice total="10"/>');
    expect(await readdir(join(sshd.servedDir, 'outbox'))).toEqual(['INV.xml']);
  });

  it('archives a fetched file with its marker into a folder it creates, keeping an earlier copy', async () => {
    const transport = connect();
    for (const content of ['monday', 'tuesday']) {
      await writeFile(join(sshd.servedDir, 'inbox', 'rates.xml'), content);
      await writeFile(join(sshd.servedDir, 'inbox', 'rates.xml.done'), '');
      const ready = await readyIn(transport, 'inbox', /\.xml$/, { kind: 'marker', suffix: '.done' }, clock);
      expect(ready.map((e) => e.name)).toEqual(['rates.xml']);
      await transport.download('inbox', ready[0]!, landing).catch(() => undefined);
      await transport.archive('inbox', 'rates.xml', 'archive/2024-03', { markerSuffix: '.done' });
    }
    expect(await readdir(join(sshd.servedDir, 'inbox'))).toEqual([]);
    expect((await readdir(join(sshd.servedDir, 'archive', '2024-03'))).sort()).toEqual([
      'rates.xml',
      'rates.xml.1',
      'rates.xml.1.done',
      'rates.xml.done',
    ]);
    expect(await readFile(join(sshd.servedDir, 'archive', '2024-03', 'rates.xml.1'), 'utf8')).toBe('tuesday');
  });

  it('does not take a file that grows while the stable rule waits', async () => {
    await writeFile(join(sshd.servedDir, 'inbox', 'steady.csv'), 'done');
    await writeFile(join(sshd.servedDir, 'inbox', 'busy.csv'), 'writing');
    duringSleep = () => appendFile(join(sshd.servedDir, 'inbox', 'busy.csv'), '...');
    const ready = await readyIn(connect(), 'inbox', /\.csv$/, { kind: 'stable', seconds: 20 }, clock);
    expect(ready.map((e) => e.name)).toEqual(['steady.csv']);
    expect(sleeps).toEqual([20_000]);
  });

  it('refuses OpenSSH when the pinned fingerprint belongs to another key, naming both', async () => {
    const pinned = fingerprintOfPublicKeyLine(generateKeyPair().publicKey);
    const error = await connect({ hostKeyFingerprint: pinned })
      .list('inbox', /./)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).code).toBe('HOST_KEY_MISMATCH');
    expect((error as TransportError).message).toContain(pinned);
    expect((error as TransportError).message).toContain(sshd.hostKeyFingerprint);
    expect(sleeps).toEqual([]);
  });

  it('fails at once with AUTH_FAILED for a key the server does not know', async () => {
    const stranger = generateKeyPair();
    await writeFile(join(scratch, 'stranger'), stranger.privateKey, { mode: 0o600 });
    const error = await connect({}, join(scratch, 'stranger'))
      .list('inbox', /./)
      .catch((e: unknown) => e);
    expect((error as TransportError).code).toBe('AUTH_FAILED');
    expect(sleeps).toEqual([]);
  });
});
