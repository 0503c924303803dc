/**
 * SFTP faults in a real night (`redeye run nightly` as a child process): the partner feed is fetched
 * over SFTP, the other feeds from local folders. The server is gone in the middle of a download (the
 * connection cut, then refused), or refuses to log in; against the in-process server and against
 * OpenSSH. Each time the fetch step fails naming the transport, its endpoint and what failed, the night
 * goes on with what did arrive and exits 1, no half-downloaded file is registered or read, nothing is
 * half posted; when the server is back the next run fetches and reads the partner's files, and the world
 * then holds exactly what a night without the fault leaves (the reference world, fetched from the same
 * server without faults).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Document } from 'yaml';
import { compare, generate, snapshot, World, type Demo } from '../kill/harness.js';
import { generateKeyPair, startInProcessSftp, type InProcessSftp } from '../harness/sftp-inprocess.js';
import { sshdAvailability, startSshd, type RunningSshd } from '../harness/sshd.js';
import {
  halfPosted,
  MEMBERS,
  MONTH,
  NIGHT,
  startRelay,
  step,
  summaryOf,
  urlOf,
  type Relay,
} from './harness.js';

const PASSWORD = 'partner password for the fault tests';
const inCi = process.env.CI === 'true';
const openssh = sshdAvailability();

interface SftpEndpoint {
  port: number;
  username: string;
  fingerprint: string;
  /** Secrets by environment variable name. */
  env: NodeJS.ProcessEnv;
  auth: 'password' | 'key';
  /** Folder the session starts in, on the server's disk. */
  served: string;
}

/** The partner feed over SFTP; the other feeds stay on the local inbox. */
function sftpPartnerFeed(endpoint: SftpEndpoint) {
  return (doc: Document) => {
    doc.setIn(['transports', 'partners'], {
      type: 'sftp',
      host: '127.0.0.1',
      port: endpoint.port,
      username: endpoint.username,
      ...(endpoint.auth === 'password'
        ? { passwordEnv: 'REDEYE_PARTNERS_PASSWORD' }
        : { privateKeyPathEnv: 'REDEYE_PARTNERS_KEY_PATH' }),
      hostKeySha256: endpoint.fingerprint,
      retries: 1,
      timeoutSeconds: 5,
    });
    doc.setIn(['feeds', 'partner', 'source'], 'partners');
  };
}

describe('SFTP faults in a night', () => {
  let base: string;
  let demo: Demo;
  let partnerFiles: string[];
  let sftp: InProcessSftp;
  let reference: World;
  const relays: Relay[] = [];

  /** The night's files: the partner's on the SFTP server's `partner/` folder, the rest in the local inbox. */
  async function deliver(world: World, served: string): Promise<void> {
    await world.deliverNight(NIGHT);
    const from = join(world.var, 'inbox', 'partner');
    mkdirSync(join(served, 'partner'), { recursive: true });
    for (const name of readdirSync(from)) {
      cpSync(join(from, name), join(served, 'partner', name));
      rmSync(join(from, name));
    }
  }

  const inProcess = (port: number): SftpEndpoint => ({
    port,
    username: sftp.username,
    fingerprint: sftp.hostKeyFingerprint,
    env: { REDEYE_PARTNERS_PASSWORD: PASSWORD },
    auth: 'password',
    served: sftp.root,
  });

  async function world(name: string, endpoint: SftpEndpoint): Promise<World> {
    return World.create(name, join(base, name), demo, { edit: sftpPartnerFeed(endpoint), env: endpoint.env });
  }

  /** After the fault: nothing half posted, no partner file landed or registered. */
  async function nothingHalfDone(w: World): Promise<void> {
    expect(await halfPosted(urlOf(w))).toEqual([]);
    const landing = join(w.var, 'landing', 'partner', NIGHT);
    expect(existsSync(landing) ? readdirSync(landing) : []).toEqual([]);
    const s = await snapshot(w);
    expect((s.tables.get('files') ?? []).filter((r) => r.includes('"feed","partner"'))).toEqual([]);
    expect((s.tables.get('activities') ?? []).some((r) => r.includes('"PARTNER"'))).toBe(false);
  }

  /** The server back: the next run completes, and the world equals the reference. */
  async function nextRunCompletes(w: World): Promise<void> {
    const again = await w.nightly(NIGHT);
    expect(again.code, again.stdout).toBe(0);
    expect(step(summaryOf(again.stdout), 'fetch').status).toBe('succeeded');
    expect(await halfPosted(urlOf(w))).toEqual([]);
    // The daily workbook lists the night's files in the order they arrived, which the fault changed.
    expect(compare(await snapshot(reference), await snapshot(w), { skipFiles: /^reports\// })).toEqual([]);
  }

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'redeye-faults-sftp-'));
    demo = await generate(join(base, 'demo'), MEMBERS, MONTH, 1);
    mkdirSync(join(base, 'sftp'));
    sftp = await startInProcessSftp({ root: join(base, 'sftp'), password: PASSWORD });
    reference = await world('reference', inProcess(sftp.port));
    await deliver(reference, sftp.root);
    partnerFiles = readdirSync(join(sftp.root, 'partner')).sort();
    expect(partnerFiles.length).toBeGreaterThan(0);
    const r = await reference.nightly(NIGHT);
    expect(r.code, r.stdout).toBe(0);
  }, 120_000);

  afterAll(async () => {
    for (const relay of relays) await relay.stop();
    await sftp?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('in-process server gone in the middle of a download: connection cut, then refused', async () => {
    const relay = await startRelay({ host: sftp.host, port: sftp.port });
    relays.push(relay);
    const w = await world('gone', inProcess(relay.port));
    await deliver(w, sftp.root);
    const victim = partnerFiles[0]!;
    // Half of the first partner file goes over the wire, then the server is gone for good.
    const cut = { bytes: 40, times: 1, path: `partner/${victim}`, onCut: () => void relay.down() };
    sftp.faults.cutRead = cut;
    try {
      const r = await w.nightly(NIGHT);
      expect(cut.times).toBe(0);
      expect(r.code).toBe(1);
      const fetch = step(summaryOf(r.stdout), 'fetch');
      console.log(`[faults/sftp] server gone mid-download: ${fetch.error?.message}`);
      expect(fetch.status).toBe('failed');
      expect(fetch.error?.code).toBe('FETCH_INCOMPLETE');
      expect(fetch.error?.message).toContain('partner: [CONNECTION_FAILED]');
      expect(fetch.error?.message).toContain(`sftp partner@127.0.0.1:${relay.port}`);
      // What did arrive is read and posted; nothing is made or sent for the date from part of its files.
      const summary = summaryOf(r.stdout);
      expect(step(summary, 'ingest').status).toBe('succeeded');
      expect(step(summary, 'accrue').status).toBe('succeeded');
      expect(step(summary, 'deliver').status).toBe('skipped');
      await nothingHalfDone(w);
    } finally {
      sftp.faults.cutRead = undefined;
    }
    await relay.up();
    await nextRunCompletes(w);
  }, 120_000);

  it('in-process server refusing every login', async () => {
    const w = await world('auth', inProcess(sftp.port));
    await deliver(w, sftp.root);
    sftp.faults.refuseAuth = true;
    try {
      const r = await w.nightly(NIGHT);
      expect(r.code).toBe(1);
      const fetch = step(summaryOf(r.stdout), 'fetch');
      console.log(`[faults/sftp] login refused: ${fetch.error?.message}`);
      expect(fetch.error?.code).toBe('FETCH_INCOMPLETE');
      expect(fetch.error?.message).toContain('partner: [AUTH_FAILED]');
      expect(fetch.error?.message).toContain(`sftp partner@127.0.0.1:${sftp.port}`);
      await nothingHalfDone(w);
    } finally {
      sftp.faults.refuseAuth = false;
    }
    await nextRunCompletes(w);
  }, 120_000);

  describe.skipIf(!openssh.available)('against OpenSSH', () => {
    let sshd: RunningSshd;
    let keys: string;

    beforeAll(async () => {
      sshd = await startSshd();
      keys = join(base, 'keys');
      mkdirSync(keys, { mode: 0o700 });
      writeFileSync(join(keys, 'stranger'), generateKeyPair('stranger').privateKey, { mode: 0o600 });
    }, 60_000);
    afterAll(async () => {
      await sshd?.stop();
    });

    const endpoint = (port: number, key: string): SftpEndpoint => ({
      port,
      username: sshd.username,
      fingerprint: sshd.hostKeyFingerprint,
      env: { REDEYE_PARTNERS_KEY_PATH: key },
      auth: 'key',
      served: sshd.servedDir,
    });

    it('OpenSSH refusing a key it does not know, then the right key', async () => {
      const w = await world('openssh-auth', endpoint(sshd.port, join(keys, 'stranger')));
      await deliver(w, sshd.servedDir);
      const r = await w.nightly(NIGHT);
      expect(r.code).toBe(1);
      const fetch = step(summaryOf(r.stdout), 'fetch');
      console.log(`[faults/sftp] OpenSSH refused the key: ${fetch.error?.message}`);
      expect(fetch.error?.message).toContain('partner: [AUTH_FAILED]');
      expect(fetch.error?.message).toContain(`sftp root@127.0.0.1:${sshd.port}`);
      await nothingHalfDone(w);
      // The operator installs the right key (the configuration names the variable, not the key).
      w.extraEnv.REDEYE_PARTNERS_KEY_PATH = sshd.privateKeyPath;
      await nextRunCompletes(w);
    }, 120_000);

    it('OpenSSH gone (connection refused) for the whole night, then back', async () => {
      const relay = await startRelay({ host: sshd.host, port: sshd.port });
      relays.push(relay);
      await relay.down();
      const w = await world('openssh-gone', endpoint(relay.port, sshd.privateKeyPath));
      await deliver(w, sshd.servedDir);
      const r = await w.nightly(NIGHT);
      expect(r.code).toBe(1);
      const fetch = step(summaryOf(r.stdout), 'fetch');
      console.log(`[faults/sftp] OpenSSH gone: ${fetch.error?.message}`);
      expect(fetch.error?.message).toContain('partner: [CONNECTION_FAILED]');
      expect(fetch.error?.message).toContain(`sftp root@127.0.0.1:${relay.port}`);
      await nothingHalfDone(w);
      await relay.up();
      await nextRunCompletes(w);
    }, 120_000);
  });

  if (!openssh.available && inCi) {
    it('has OpenSSH sshd available in CI', () => {
      throw new Error(`the OpenSSH fault tests cannot run: ${openssh.reason}`);
    });
  } else if (!openssh.available) {
    console.warn(`[faults/sftp] OpenSSH cases skipped: ${openssh.reason}`);
  }
});
