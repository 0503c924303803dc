import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import {
  appendFile,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TransportError } from '../transports/errors.js';
import { SftpTransport, fingerprintOfKey, type SftpTransportConfig } from '../transports/sftp.js';
import type { Clock, TransportLogger } from '../transports/types.js';
import {
  fingerprintOfPublicKeyLine,
  generateKeyPair,
  startInProcessSftp,
  type InProcessSftp,
} from './harness/sftp-inprocess.js';
import { readyIn } from './harness/ready.js';

const PASSWORD = 'correct horse battery staple';
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

let server: InProcessSftp;
let clientKey: { privateKey: string; publicKey: string };
let landing: string;
let scratch: string;
let sleeps: number[];
let duringSleep: (() => Promise<void>) | undefined;
let logLines: string[];
const transports: SftpTransport[] = [];

const clock: Clock = {
  async sleep(ms) {
    sleeps.push(ms);
    await duringSleep?.();
  },
};
const logger: TransportLogger = {
  warn: (context, message) => logLines.push(JSON.stringify({ ...context, message })),
  info: (context, message) => logLines.push(JSON.stringify({ ...context, message })),
};

function connect(
  overrides: Partial<SftpTransportConfig> = {},
  env: Record<string, string> = { PARTNER_SFTP_PASSWORD: PASSWORD },
): SftpTransport {
  const transport = new SftpTransport(
    {
      host: server.host,
      port: server.port,
      username: server.username,
      passwordEnv: 'PARTNER_SFTP_PASSWORD',
      hostKeyFingerprint: server.hostKeyFingerprint,
      connectTimeoutMs: 5_000,
      operationTimeoutMs: 5_000,
      retry: { attempts: 3, initialDelayMs: 100, maxDelayMs: 10_000 },
      ...overrides,
    },
    { env, clock, logger },
  );
  transports.push(transport);
  return transport;
}

async function rejection(promise: Promise<unknown>, code: string): Promise<TransportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  expect((error as TransportError).code).toBe(code);
  return error as TransportError;
}

beforeEach(async () => {
  clientKey = generateKeyPair('redeye-test-client');
  server = await startInProcessSftp({ password: PASSWORD, authorizedKey: clientKey.publicKey });
  await mkdir(join(server.root, 'inbox'));
  await mkdir(join(server.root, 'outbox'));
  landing = await mkdtemp(join(tmpdir(), 'redeye-landing-'));
  scratch = await mkdtemp(join(tmpdir(), 'redeye-scratch-'));
  sleeps = [];
  duringSleep = undefined;
  logLines = [];
});

afterEach(async () => {
  for (const transport of transports.splice(0)) await transport.close();
  await server.stop();
  await rm(landing, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

describe('SFTP transport: fetch and deliver', () => {
  it('fetches a partner file with its SHA-256 and delivers a response file, in one session', async () => {
    const claim = randomBytes(300_000);
    await writeFile(join(server.root, 'inbox', 'CLAIM_20240301.xml'), claim);
    const transport = connect();

    const [entry, ...rest] = await transport.list('inbox', /^CLAIM_\d{8}\.xml$/);
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({ name: 'CLAIM_20240301.xml', size: claim.length, type: 'file' });
    const fetched = await transport.download('inbox', entry!, landing);
    expect(fetched).toEqual({
      localPath: join(landing, 'CLAIM_20240301.xml'),
      seen: { size: claim.length, modifiedAt: entry!.modifiedAt },
      size: claim.length,
      sha256: sha256(claim),
      alreadyPresent: false,
    });
    expect(await readdir(landing)).toEqual(['CLAIM_20240301.xml']);

    await writeFile(join(scratch, 'RESULT.xml'), 'accepted');
    const delivered = await transport.upload(join(scratch, 'RESULT.xml'), 'outbox', 'RESULT_20240301.xml');
    expect(delivered).toEqual({
      remotePath: 'outbox/RESULT_20240301.xml',
      size: 8,
      sha256: sha256('accepted'),
      alreadyPresent: false,
    });
    expect(await readFile(join(server.root, 'outbox', 'RESULT_20240301.xml'), 'utf8')).toBe('accepted');
    expect(await readdir(join(server.root, 'outbox'))).toEqual(['RESULT_20240301.xml']);
    expect(server.stats.connections).toBe(1);
  });

  it('logs in with a private key given as text in an environment variable', async () => {
    await writeFile(join(server.root, 'inbox', 'a.csv'), 'a');
    const transport = connect(
      { passwordEnv: undefined, privateKeyEnv: 'PARTNER_SFTP_KEY' },
      { PARTNER_SFTP_KEY: clientKey.privateKey },
    );
    expect((await transport.list('inbox', /csv/)).map((e) => e.name)).toEqual(['a.csv']);
    expect(server.stats.passwordAttempts).toBe(0);
  });

  it('logs in with a private key file whose path is in an environment variable', async () => {
    await writeFile(join(scratch, 'id_ed25519'), clientKey.privateKey, { mode: 0o600 });
    await writeFile(join(server.root, 'inbox', 'a.csv'), 'a');
    const transport = connect(
      { passwordEnv: undefined, privateKeyPathEnv: 'PARTNER_SFTP_KEY_FILE' },
      { PARTNER_SFTP_KEY_FILE: join(scratch, 'id_ed25519') },
    );
    expect(await transport.list('inbox', /csv/)).toHaveLength(1);
  });

  it('lists only regular files and links, never "." or ".." or folders', async () => {
    await writeFile(join(server.root, 'inbox', 'a.csv'), 'a');
    await mkdir(join(server.root, 'inbox', 'dir.csv'));
    await symlink('/etc/hostname', join(server.root, 'inbox', 'link.csv'));
    const transport = connect();
    const entries = await transport.list('inbox', /.*/);
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['a.csv', 'file'],
      ['link.csv', 'symlink'],
    ]);
  });

  it('refuses to download a symbolic link on the server', async () => {
    await symlink('/etc/hostname', join(server.root, 'inbox', 'link.csv'));
    const error = await rejection(connect().download('inbox', 'link.csv', landing), 'SYMLINK_REFUSED');
    expect(error.context).toMatchObject({ transport: 'sftp', folder: 'inbox', file: 'link.csv' });
    expect(server.stats.opens).toEqual([]);
    expect(await readdir(landing)).toEqual([]);
  });

  it('refuses a file that changed since it was listed, landing nothing', async () => {
    await writeFile(join(server.root, 'inbox', 'a.csv'), 'abc');
    const transport = connect();
    const [entry] = await transport.list('inbox', /csv/);
    await appendFile(join(server.root, 'inbox', 'a.csv'), 'def');
    await rejection(transport.download('inbox', entry!, landing), 'SIZE_MISMATCH');
    expect(await readdir(landing)).toEqual([]);
  });

  it('reports a file that is not on the server as NOT_FOUND, without retrying', async () => {
    const error = await rejection(connect().download('inbox', 'missing.csv', landing), 'NOT_FOUND');
    expect(error.retryable).toBe(false);
    expect(sleeps).toEqual([]);
  });
});

describe('SFTP transport: connection faults', () => {
  it('retries a download cut in the middle; the partial file never appears under its final name', async () => {
    const payload = randomBytes(1_000_000);
    await writeFile(join(server.root, 'inbox', 'big.bin'), payload);
    let landingAtCut: string[] = [];
    server.faults.cutRead = {
      bytes: 400_000,
      times: 1,
      path: 'inbox/big.bin',
      onCut: () => {
        landingAtCut = readdirSync(landing);
      },
    };
    const transport = connect();
    const [entry] = await transport.list('inbox', /big/);
    const result = await transport.download('inbox', entry!, landing);

    expect(landingAtCut).toHaveLength(1);
    expect(landingAtCut[0]).toMatch(/^\.big\.bin\.[0-9a-f]+\.part$/);
    expect(result.sha256).toBe(sha256(payload));
    expect(sha256(await readFile(join(landing, 'big.bin')))).toBe(sha256(payload));
    expect(await readdir(landing)).toEqual(['big.bin']);
    expect(server.stats.connections).toBe(2);
    expect(sleeps).toEqual([100]);
    expect(logLines.some((line) => line.includes('retrying') && line.includes('big.bin'))).toBe(true);
  });

  it('recovers downloads running side by side when their shared connection is cut', async () => {
    const files = {
      'one.bin': randomBytes(600_000),
      'two.bin': randomBytes(600_000),
      'three.csv': randomBytes(10),
    };
    for (const [name, data] of Object.entries(files)) await writeFile(join(server.root, 'inbox', name), data);
    server.faults.cutRead = { bytes: 300_000, times: 1, path: 'inbox/one.bin' };
    const transport = connect();
    await transport.list('inbox', /./);
    const results = await Promise.all(
      Object.keys(files).map((name) => transport.download('inbox', name, landing)),
    );
    expect(results.map((r) => r.sha256)).toEqual(Object.values(files).map((data) => sha256(data)));
    expect((await readdir(landing)).sort()).toEqual(['one.bin', 'three.csv', 'two.bin']);
    expect(server.stats.connections).toBe(2);
  });

  it('gives up on a download that keeps being cut, with exponential backoff and nothing left behind', async () => {
    await writeFile(join(server.root, 'inbox', 'big.bin'), randomBytes(500_000));
    server.faults.cutRead = { bytes: 100_000, times: 99, path: 'inbox/big.bin' };
    const error = await rejection(connect().download('inbox', 'big.bin', landing), 'CONNECTION_FAILED');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('gave up after 3 attempts');
    expect(error.context).toMatchObject({ endpoint: `partner@127.0.0.1:${server.port}`, file: 'big.bin' });
    expect(sleeps).toEqual([100, 200]);
    expect(server.stats.connections).toBe(3);
    expect(existsSync(join(landing, 'big.bin'))).toBe(false);
    expect(await readdir(landing)).toEqual([]);
  });

  it('retries a refused connection with exponential backoff, then reports CONNECTION_FAILED', async () => {
    const closedPort = await freePort();
    const transport = connect({
      port: closedPort,
      retry: { attempts: 4, initialDelayMs: 250, maxDelayMs: 600 },
    });
    const error = await rejection(transport.list('inbox', /./), 'CONNECTION_FAILED');
    expect(sleeps).toEqual([250, 500, 600]);
    expect(error.message).toContain(`partner@127.0.0.1:${closedPort}`);
    expect(error.message).toMatch(/ECONNREFUSED|refused/);
  });

  it('times out a stalled request and succeeds on a fresh connection', async () => {
    await writeFile(join(server.root, 'inbox', 'a.csv'), 'a');
    server.faults.delay = { ms: 2_000, times: 1, requests: ['OPENDIR'] };
    const transport = connect({ operationTimeoutMs: 300 });
    expect((await transport.list('inbox', /csv/)).map((e) => e.name)).toEqual(['a.csv']);
    expect(server.stats.connections).toBe(2);
    expect(sleeps).toEqual([100]);
  });

  it('reports TIMEOUT when the server stays silent on every try', async () => {
    server.faults.delay = { ms: 1_000, times: 99, requests: ['OPENDIR'] };
    const transport = connect({ operationTimeoutMs: 200, retry: { attempts: 2, initialDelayMs: 10 } });
    const error = await rejection(transport.list('inbox', /./), 'TIMEOUT');
    expect(error.message).toContain('did not answer within 200 ms');
  });
});

describe('SFTP transport: refusals that are never retried', () => {
  it('refuses a server whose host key does not match the pinned fingerprint, before sending the password', async () => {
    const impostor = fingerprintOfPublicKeyLine(generateKeyPair().publicKey);
    const error = await rejection(
      connect({ hostKeyFingerprint: impostor }).list('inbox', /./),
      'HOST_KEY_MISMATCH',
    );
    expect(error.message).toContain(`expected ${impostor}`);
    expect(error.message).toContain(`presented ${server.hostKeyFingerprint}`);
    expect(error.context).toMatchObject({
      endpoint: `partner@127.0.0.1:${server.port}`,
      expectedFingerprint: [impostor],
      presentedFingerprint: server.hostKeyFingerprint,
    });
    expect(server.stats.authAttempts).toBe(0);
    expect(server.stats.connections).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('accepts the server when any one of several pinned fingerprints matches', async () => {
    const other = fingerprintOfPublicKeyLine(generateKeyPair().publicKey);
    const transport = connect({ hostKeyFingerprint: [other, server.hostKeyFingerprint] });
    expect(await transport.list('inbox', /./)).toEqual([]);
  });

  it('fails at once on a wrong password, without retrying and without printing the password', async () => {
    const wrong = 'hunter2-wrong';
    const transport = connect({}, { PARTNER_SFTP_PASSWORD: wrong });
    const error = await rejection(transport.list('inbox', /./), 'AUTH_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('"partner"');
    expect(server.stats.connections).toBe(1);
    expect(server.stats.passwordAttempts).toBe(1);
    expect(sleeps).toEqual([]);
    const everything = [error.message, JSON.stringify(error.toJSON()), error.stack ?? '', ...logLines].join(
      '\n',
    );
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(PASSWORD);
  });

  it('fails at once when the server refuses every login', async () => {
    server.faults.refuseAuth = true;
    await rejection(connect().list('inbox', /./), 'AUTH_FAILED');
    expect(server.stats.connections).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('names the missing environment variable and never connects', async () => {
    const error = await rejection(connect({}, {}).list('inbox', /./), 'SECRET_MISSING');
    expect(error.message).toContain('PARTNER_SFTP_PASSWORD');
    expect(error.exitCode).toBe(2);
    expect(server.stats.connections).toBe(0);
  });

  it('refuses an encrypted private key without its passphrase, without printing the key', async () => {
    const encrypted = generateKeyPairWithPassphrase('s3cret-passphrase');
    const transport = connect(
      { passwordEnv: undefined, privateKeyEnv: 'KEY', passphraseEnv: 'KEY_PASSPHRASE' },
      { KEY: encrypted.privateKey, KEY_PASSPHRASE: 'wrong passphrase' },
    );
    const error = await rejection(transport.list('inbox', /./), 'PRIVATE_KEY_INVALID');
    expect(error.message).toContain('KEY');
    expect(error.message).not.toContain('BEGIN OPENSSH');
    expect(server.stats.connections).toBe(0);
  });

  it('logs in with an encrypted private key and its passphrase', async () => {
    const encrypted = generateKeyPairWithPassphrase('s3cret-passphrase');
    await server.stop();
    server = await startInProcessSftp({ authorizedKey: encrypted.publicKey });
    await mkdir(join(server.root, 'inbox'));
    const transport = connect(
      { passwordEnv: undefined, privateKeyEnv: 'KEY', passphraseEnv: 'KEY_PASSPHRASE' },
      { KEY: encrypted.privateKey, KEY_PASSPHRASE: 's3cret-passphrase' },
    );
    expect(await transport.list('inbox', /./)).toEqual([]);
  });

  it('rejects a configuration without a pinned host key or a secret, listing every problem', () => {
    expect(
      () =>
        new SftpTransport({
          host: 'sftp.partner.example',
          username: 'redeye',
          hostKeyFingerprint: 'MD5:aa:bb',
        }),
    ).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        problems: [
          expect.objectContaining({ path: 'passwordEnv' }),
          expect.objectContaining({ path: 'hostKeyFingerprint' }),
        ],
      }),
    );
  });

  it('computes the same fingerprint as the server reports for its key', () => {
    const pair = generateKeyPair();
    expect(fingerprintOfKey(pair.publicKey)).toBe(fingerprintOfPublicKeyLine(pair.publicKey));
    expect(fingerprintOfKey(pair.privateKey)).toBe(fingerprintOfPublicKeyLine(pair.publicKey));
  });
});

describe('SFTP transport: unsafe names', () => {
  it.each(['../x', '/etc/passwd', 'a/b', '..', 'a\\b', '.', '', 'a\0b'])(
    'refuses the remote name %j before connecting or writing anything',
    async (name) => {
      await writeFile(join(scratch, 'local.csv'), 'payload');
      const transport = connect();
      for (const attempt of [
        transport.download('inbox', name, landing),
        transport.upload(join(scratch, 'local.csv'), 'outbox', name),
        transport.archive('inbox', name, 'archive'),
        transport.remove('inbox', name),
      ]) {
        const error = await rejection(attempt, 'UNSAFE_NAME');
        expect(error.context).toMatchObject({ transport: 'sftp', folder: expect.any(String), file: name });
        expect(error.message).toContain(`sftp partner@127.0.0.1:${server.port}`);
      }
      expect(server.stats.connections).toBe(0);
      expect(await readdir(landing)).toEqual([]);
      expect(await readdir(join(server.root, 'outbox'))).toEqual([]);
    },
  );

  it('refuses a "../" name planted in the listing by a hostile server', async () => {
    server.faults.extraEntries = [{ filename: '../escape.csv', size: 3 }];
    const transport = connect();
    const entries = await transport.list('inbox', /\.csv$/);
    expect(entries.map((e) => e.name)).toEqual(['../escape.csv']);
    await rejection(transport.download('inbox', entries[0]!, landing), 'UNSAFE_NAME');
    expect(await readdir(landing)).toEqual([]);
    expect(existsSync(join(landing, '..', 'escape.csv'))).toBe(false);
    expect(server.stats.opens).toEqual([]);
  });
});

describe('SFTP transport: completeness', () => {
  it('does not take a file that is still being written (stable rule)', async () => {
    await writeFile(join(server.root, 'inbox', 'done.csv'), 'complete');
    await writeFile(join(server.root, 'inbox', 'growing.csv'), 'part');
    duringSleep = () => appendFile(join(server.root, 'inbox', 'growing.csv'), ' and more');
    const ready = await readyIn(connect(), 'inbox', /\.csv$/, { kind: 'stable', seconds: 60 }, clock);
    expect(ready.map((e) => e.name)).toEqual(['done.csv']);
    expect(sleeps).toEqual([60_000]);
  });

  it('takes a file that was rewritten with the same size only after its time settles (stable rule)', async () => {
    await writeFile(join(server.root, 'inbox', 'same.csv'), 'abcd');
    duringSleep = () =>
      utimes(join(server.root, 'inbox', 'same.csv'), new Date(), new Date(Date.now() + 10_000));
    const transport = connect();
    expect(await readyIn(transport, 'inbox', /\.csv$/, { kind: 'stable', seconds: 30 }, clock)).toEqual([]);
    duringSleep = undefined;
    expect(
      (await readyIn(transport, 'inbox', /\.csv$/, { kind: 'stable', seconds: 30 }, clock)).map(
        (e) => e.name,
      ),
    ).toEqual(['same.csv']);
  });

  it('takes a file only when its marker exists and never offers the marker (marker rule)', async () => {
    const past = new Date(Date.now() - 3_600_000);
    await writeFile(join(server.root, 'inbox', 'a.csv'), 'a');
    await writeFile(join(server.root, 'inbox', 'a.csv.done'), '');
    await writeFile(join(server.root, 'inbox', 'b.csv'), 'no marker yet');
    await writeFile(join(server.root, 'inbox', 'c.csv'), 'overwritten after an old marker');
    await writeFile(join(server.root, 'inbox', 'c.csv.done'), '');
    await utimes(join(server.root, 'inbox', 'c.csv.done'), past, past);
    const ready = await readyIn(connect(), 'inbox', /\.csv/, { kind: 'marker', suffix: '.done' }, clock);
    expect(ready.map((e) => e.name)).toEqual(['a.csv']);
    expect(sleeps).toEqual([]);
  });
});

describe('SFTP transport: delivery and clean-up on the server', () => {
  it('uploads to a temporary name and renames it into place once complete', async () => {
    const report = randomBytes(700_000);
    await writeFile(join(scratch, 'statement.csv'), report);
    await connect().upload(join(scratch, 'statement.csv'), 'outbox', 'statement.csv');

    const writes = server.stats.opens.filter((open) => open.flags !== 'r');
    expect(writes).toHaveLength(1);
    expect(writes[0]!.path).toMatch(/^outbox\/\.statement\.csv\.[0-9a-f]{12}\.part$/);
    expect(writes[0]!.flags).toBe('wx');
    expect(server.stats.renames).toEqual([{ from: writes[0]!.path, to: 'outbox/statement.csv' }]);
    expect(sha256(await readFile(join(server.root, 'outbox', 'statement.csv')))).toBe(sha256(report));
    expect(await readdir(join(server.root, 'outbox'))).toEqual(['statement.csv']);
  });

  it('creates the folder it delivers into only when asked, and otherwise names the missing folder', async () => {
    await writeFile(join(scratch, 'list.csv'), 'member,email\n');
    const transport = connect();
    const error = await rejection(
      transport.upload(join(scratch, 'list.csv'), 'mailing', 'list.csv'),
      'NOT_FOUND',
    );
    expect(error.message).toBe(
      `sftp ${transport.endpoint}, folder "mailing", file "list.csv": the folder mailing does not exist, so ` +
        "nothing can be delivered into it; it is the receiving side's to create",
    );
    expect(existsSync(join(server.root, 'mailing'))).toBe(false);

    const r = await transport.upload(join(scratch, 'list.csv'), 'shared/mailing', 'list.csv', {
      createDir: true,
    });
    expect(r).toMatchObject({ remotePath: 'shared/mailing/list.csv', alreadyPresent: false });
    expect(await readFile(join(server.root, 'shared', 'mailing', 'list.csv'), 'utf8')).toBe('member,email\n');
    // The folder there already: the same delivery again is done, nothing created or written.
    expect(
      (await transport.upload(join(scratch, 'list.csv'), 'shared/mailing', 'list.csv', { createDir: true }))
        .alreadyPresent,
    ).toBe(true);
    expect(readdirSync(join(server.root, 'shared', 'mailing'))).toEqual(['list.csv']);
  });

  it('treats delivering the same bytes again as done, and refuses to overwrite different bytes', async () => {
    await writeFile(join(scratch, 'r.csv'), 'version 1');
    const transport = connect();
    expect((await transport.upload(join(scratch, 'r.csv'), 'outbox', 'r.csv')).alreadyPresent).toBe(false);
    expect((await transport.upload(join(scratch, 'r.csv'), 'outbox', 'r.csv')).alreadyPresent).toBe(true);
    expect(server.stats.renames).toHaveLength(1);

    await writeFile(join(scratch, 'r.csv'), 'version 2');
    const error = await rejection(
      transport.upload(join(scratch, 'r.csv'), 'outbox', 'r.csv'),
      'TARGET_EXISTS',
    );
    expect(error.context).toMatchObject({
      existingSha256: sha256('version 1'),
      newSha256: sha256('version 2'),
    });
    expect(await readFile(join(server.root, 'outbox', 'r.csv'), 'utf8')).toBe('version 1');
    expect(await readdir(join(server.root, 'outbox'))).toEqual(['r.csv']);
  });

  it('archives a fetched file and its marker, keeping an earlier archived file of the same name', async () => {
    await writeFile(join(server.root, 'inbox', 'rates.xml'), 'today');
    await writeFile(join(server.root, 'inbox', 'rates.xml.done'), '');
    await mkdir(join(server.root, 'archive', '2024'), { recursive: true });
    await writeFile(join(server.root, 'archive', '2024', 'rates.xml'), 'yesterday');
    const result = await connect().archive('inbox', 'rates.xml', 'archive/2024', { markerSuffix: '.done' });
    expect(result).toEqual({
      archivedPath: 'archive/2024/rates.xml.1',
      archivedMarkerPath: 'archive/2024/rates.xml.1.done',
    });
    expect(await readdir(join(server.root, 'inbox'))).toEqual([]);
    expect(await readFile(join(server.root, 'archive', '2024', 'rates.xml'), 'utf8')).toBe('yesterday');
    expect(await readFile(join(server.root, 'archive', '2024', 'rates.xml.1'), 'utf8')).toBe('today');
  });

  it('creates a missing archive folder, including its parents', async () => {
    await writeFile(join(server.root, 'inbox', 'a.csv'), 'a');
    const result = await connect().archive('inbox', 'a.csv', '/archive/2024/03');
    expect(result.archivedPath).toBe('/archive/2024/03/a.csv');
    expect(await readdir(join(server.root, 'archive', '2024', '03'))).toEqual(['a.csv']);
  });

  it('removes a file and its marker, reporting false when it was already gone', async () => {
    await writeFile(join(server.root, 'inbox', 'a.csv'), 'a');
    await writeFile(join(server.root, 'inbox', 'a.csv.done'), '');
    const transport = connect();
    expect(await transport.remove('inbox', 'a.csv', { markerSuffix: '.done' })).toBe(true);
    expect(await readdir(join(server.root, 'inbox'))).toEqual([]);
    expect(await transport.remove('inbox', 'a.csv')).toBe(false);
  });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function generateKeyPairWithPassphrase(passphrase: string): { privateKey: string; publicKey: string } {
  return generateKeyPair('encrypted', passphrase);
}
