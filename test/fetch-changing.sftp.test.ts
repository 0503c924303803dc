/**
 * Fetch from an SFTP server of files the partner changes while Redeye fetches them: a file still being
 * written when it is read is left on the server for the next fetch, counted `unfinished`, and the rest
 * of the feed is fetched; nothing of it lands or is registered (README, "When a file is complete").
 */
import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchJob } from '../jobs/fetch.js';
import { createWorld, type TestWorld } from './harness/context.js';
import { capturedLogger } from './harness/logs.js';
import { startInProcessSftp, type InProcessSftp } from './harness/sftp-inprocess.js';

const PASSWORD = 'changing-sftp-password';
const A = 'ticket,coupon\n1,1\n';
const B = 'ticket,coupon\n2,1\n';

describe('fetch from SFTP of files that change while they are fetched', () => {
  let w: TestWorld;
  let server: InProcessSftp;
  const inbox = () => join(server.root, 'inbox');
  const ctx = (date: string) => ({ ...w.ctx(date), env: { PARTNER_SFTP_PASSWORD: PASSWORD } });
  const landed = (date: string) => readdirSync(join(w.config.paths.landing, 'flown', date)).sort();

  beforeEach(async () => {
    server = await startInProcessSftp({ password: PASSWORD });
    mkdirSync(join(server.root, 'inbox'));
    w = await createWorld('sqlite', (yaml) => {
      const doc = parseDocument(yaml);
      doc.setIn(['transports', 'partner'], {
        type: 'sftp',
        host: server.host,
        port: server.port,
        username: server.username,
        passwordEnv: 'PARTNER_SFTP_PASSWORD',
        hostKeySha256: server.hostKeyFingerprint,
        retries: 0,
        timeoutSeconds: 10,
      });
      doc.setIn(['feeds', 'flown'], {
        source: 'partner',
        remoteDir: 'inbox',
        pattern: '\\.csv$',
        completeness: { kind: 'none' },
        afterFetch: 'archive',
        archiveDir: 'archive',
      });
      return doc.toString();
    });
  });
  afterEach(async () => {
    await w.cleanup();
    await server.stop();
  });

  it('puts back a file replaced the instant it was archived, and archives it once it has been read', async () => {
    const a = join(inbox(), 'a.csv');
    writeFileSync(a, A);
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(a, hourAgo, hourAgo);
    const REPLACED = 'ticket,coupon\n9,1\n';
    let replaced = false;
    // Between archive's check of the name and its move: the partner renames another file onto it.
    server.faults.beforeRequest = (kind, path) => {
      if (kind === 'RENAME' && path === 'inbox/a.csv' && !replaced) {
        replaced = true;
        writeFileSync(join(server.root, 'a.csv.new'), REPLACED);
        renameSync(join(server.root, 'a.csv.new'), a);
      }
    };
    const log = capturedLogger('info');
    const night = await fetchJob({ ...ctx('2026-03-10'), logger: log.logger });
    expect(replaced).toBe(true);
    expect(night.counts).toMatchObject({ new: 1, unfinished: 1 });
    expect(readFileSync(a, 'utf8')).toBe(REPLACED);
    expect(readdirSync(join(server.root, 'archive'))).toEqual([]);
    expect(log.lines.filter((l) => l.file === 'a.csv')).toEqual([
      expect.objectContaining({ level: 'warn', feed: 'flown', code: 'SOURCE_CHANGED' }),
    ]);
    server.faults.beforeRequest = undefined;
    const next = await fetchJob(ctx('2026-03-11'));
    expect(next.counts).toMatchObject({ conflict: 1 });
    expect(readdirSync(inbox())).toEqual([]);
    expect(readFileSync(join(server.root, 'archive', 'a.csv'), 'utf8')).toBe(REPLACED);
  });

  it('leaves a file that grows while it is read for the next fetch, and fetches the rest of the feed', async () => {
    writeFileSync(join(inbox(), 'a.csv'), A);
    writeFileSync(join(inbox(), 'b.csv'), B);
    let grown = false;
    server.faults.beforeRequest = (kind, path) => {
      if (kind === 'READ' && path === 'inbox/a.csv' && !grown) {
        grown = true;
        appendFileSync(join(inbox(), 'a.csv'), '3,1\n');
      }
    };
    const log = capturedLogger('info');
    const night = await fetchJob({ ...ctx('2026-03-10'), logger: log.logger });
    expect(grown).toBe(true);
    expect(night.counts).toMatchObject({ new: 1, unfinished: 1 });
    expect(await w.t.db.knex('files').where({ direction: 'in' }).pluck('name')).toEqual(['b.csv']);
    expect(landed('2026-03-10')).toEqual(['b.csv']);
    expect(readdirSync(inbox())).toEqual(['a.csv']);
    expect(log.lines.filter((l) => l.file === 'a.csv')).toEqual([
      expect.objectContaining({
        level: 'warn',
        feed: 'flown',
        code: 'SIZE_MISMATCH',
        msg: expect.stringMatching(
          /^flown: a\.csv changed while it was being fetched \(the file grew while it was being copied: expected 18 bytes, got 22\): left in partner:inbox for the next fetch$/,
        ),
      }),
    ]);
    server.faults.beforeRequest = undefined;
    expect((await fetchJob(ctx('2026-03-11'))).counts).toMatchObject({ new: 1 });
    expect(readFileSync(join(w.config.paths.landing, 'flown', '2026-03-11', 'a.csv'), 'utf8')).toBe(
      A + '3,1\n',
    );
  });
});
