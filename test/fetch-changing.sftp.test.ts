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
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FetchIncompleteError, fetchJob } from '../jobs/fetch.js';
import { createSftpWorld, type TestWorld } from './harness/context.js';
import { capturedLogger } from './harness/logs.js';
import { startInProcessSftp, type InProcessSftp } from './harness/sftp-inprocess.js';

const PASSWORD = 'changing-sftp-password';
const A = 'ticket,coupon\n1,1\n';
const B = 'ticket,coupon\n2,1\n';
const REPLACED = 'ticket,coupon\n9,1\n';

describe('fetch from SFTP of files that change while they are fetched', () => {
  let w: TestWorld;
  let server: InProcessSftp;
  const inbox = () => join(server.root, 'inbox');
  const ctx = (date: string) => ({ ...w.ctx(date), env: { PARTNER_SFTP_PASSWORD: PASSWORD } });
  const landed = (date: string) => readdirSync(join(w.config.paths.landing, 'flown', date)).sort();
  /** A file in the inbox written an hour ago: complete, and read tonight. */
  const inboxFileOfAnHourAgo = (name: string, content: string) => {
    const path = join(inbox(), name);
    writeFileSync(path, content);
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(path, hourAgo, hourAgo);
    return path;
  };
  /** The partner's upload of `content` under `path`: written beside it, then renamed onto it. */
  const renameOnto = (path: string, content: string) => {
    writeFileSync(join(server.root, 'upload.tmp'), content);
    renameSync(join(server.root, 'upload.tmp'), path);
  };

  beforeEach(async () => {
    server = await startInProcessSftp({ password: PASSWORD });
    mkdirSync(join(server.root, 'inbox'));
    w = await createSftpWorld(server, { afterFetch: 'archive', archiveDir: 'archive' });
  });
  afterEach(async () => {
    await w.cleanup();
    await server.stop();
  });

  it('puts back a file replaced the instant it was archived, and archives it once it has been read', async () => {
    const a = inboxFileOfAnHourAgo('a.csv', A);
    let replaced = false;
    // Between archive's check of the name and its move: the partner renames another file onto it.
    server.faults.beforeRequest = (kind, path) => {
      if (kind === 'RENAME' && path === 'inbox/a.csv' && !replaced) {
        replaced = true;
        renameOnto(a, REPLACED);
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

  it('keeps a replacement another file took the name of in the archive, and says how to have it read', async () => {
    const a = inboxFileOfAnHourAgo('a.csv', A);
    const THIRD = 'ticket,coupon\n7,1\n';
    let putBack: string | undefined;
    // The partner renames another file onto the name just before archive moves it, and a third onto it
    // just before archive puts the replacement back.
    server.faults.beforeRequest = (kind, path) => {
      if (kind !== 'RENAME') return;
      if (path === 'inbox/a.csv' && putBack === undefined) renameOnto(a, REPLACED);
      else if (path?.startsWith('archive/')) {
        putBack = path;
        renameOnto(a, THIRD);
      }
    };
    const night = fetchJob(ctx('2026-03-10'));
    await expect(night).rejects.toBeInstanceOf(FetchIncompleteError);
    await expect(night).rejects.toThrow(
      `a.csv was replaced as it was archived, and another file took its name before it could be put back: the replacement, not read, is kept as ${putBack}; move it into inbox under a new name the feed's pattern matches (with its done-marker if the feed waits for one) for the next fetch to read it`,
    );
    expect(readFileSync(join(server.root, putBack!), 'utf8')).toBe(REPLACED);

    // As the error says: the next fetch reads the replacement, and the third file is held as a conflict.
    server.faults.beforeRequest = undefined;
    renameSync(join(server.root, putBack!), join(inbox(), 'a-replacement.csv'));
    const next = await fetchJob(ctx('2026-03-11'));
    expect(next.counts).toMatchObject({ new: 1, conflict: 1 });
    expect(
      readFileSync(join(w.config.paths.landing, 'flown', '2026-03-11', 'a-replacement.csv'), 'utf8'),
    ).toBe(REPLACED);
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
