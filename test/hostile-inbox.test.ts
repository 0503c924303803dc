/**
 * Inbox entries that try to make Redeye read or write outside its folders (issue 8), through the fetch
 * job, on a local inbox and on an SFTP server that lies in its listings. Symbolic links (to a file, to
 * a named pipe, to a folder) and names that are not one path component (`../x`, `a/b`, `a\b`, `..`) are
 * refused and reported (the `refused` count and a warning naming the entry); nothing of them is landed,
 * registered or opened, nothing is written beside the landing area, and a plain file next to them is
 * fetched and read as usual.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchJob } from '../jobs/fetch.js';
import { ingestJob } from '../jobs/ingest.js';
import { createSftpWorld, createWorld, type TestWorld } from './harness/context.js';
import { capturedLogger } from './harness/logs.js';
import { startInProcessSftp, type InProcessSftp } from './harness/sftp-inprocess.js';

const DATE = '2026-10-02';
const SECRET = 'REDEYE-OUTSIDE-SECRET';
const FLOWN = [
  'ticket_number,coupon_number,issue_date,pnr,operating_carrier,operating_flight,marketing_carrier,marketing_flight,flight_date,origin,destination,cabin,booked_rbd,flown_rbd,fare_basis,passenger_surname,passenger_given_name,passenger_type,ffp_carrier,ffp_number,fare_amount,carrier_surcharge_amount,tax_amount,currency,coupon_status,source_ref',
  '9585465022694,1,2026-09-20,DX9TA8,XX,302,XX,302,2026-10-01,KGD,LED,Y,K,K,KSAVEROW,SEMENOV,PETR,ADT,,,7960.00,925.00,1304.00,RUB,F,RA1',
  '',
].join('\n');

function pipeHasReader(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw error;
  }
}

/** Every file under `dir` with its size and modification time: to prove nothing there changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const s = statSync(p);
        out[p] = `${s.size}:${s.mtimeMs}`;
      } else out[p] = 'special';
    }
  };
  walk(dir);
  return out;
}

function landed(w: TestWorld, feed: string): string[] {
  const dir = join(w.config.paths.landing, feed, DATE);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

describe('hostile entries in a local inbox', () => {
  let w: TestWorld;
  let outside: string;
  beforeEach(async () => {
    w = await createWorld('sqlite');
    outside = join(w.dir, 'outside');
    mkdirSync(join(outside, 'folder.csv'), { recursive: true });
    writeFileSync(join(outside, 'secret.csv'), FLOWN.replace('SEMENOV', SECRET));
    execFileSync('mkfifo', [join(outside, 'pipe.csv')]);
  });
  afterEach(async () => w.cleanup());

  it('refuses links and names with separators, reports them, and reads nothing outside the inbox', async () => {
    const inbox = join(w.dir, 'inbox', 'flown');
    symlinkSync(join(outside, 'secret.csv'), join(inbox, 'LINK_TO_FILE.csv'));
    symlinkSync(join(outside, 'pipe.csv'), join(inbox, 'LINK_TO_PIPE.csv'));
    symlinkSync(join(outside, 'folder.csv'), join(inbox, 'LINK_TO_FOLDER.csv'));
    symlinkSync('../../outside/secret.csv', join(inbox, 'RELATIVE_LINK.csv'));
    // On Linux a backslash is an ordinary character of a name; on the servers partners run it may not be.
    writeFileSync(join(inbox, '..\\escape.csv'), FLOWN);
    writeFileSync(join(inbox, 'a\\b.csv'), FLOWN);
    writeFileSync(join(inbox, 'GOOD.csv'), FLOWN);
    const before = snapshot(outside);

    const log = capturedLogger();
    const ctx = { ...w.ctx(DATE), logger: log.logger };
    const fetched = await fetchJob(ctx);
    expect(fetched.counts).toMatchObject({ new: 1, refused: 6 });
    const refused = log.lines
      .filter((l) => l.msg === 'refused: not a plain file with a safe name')
      .map((l) => [l.file, l.type, l.feed]);
    expect(refused.sort()).toEqual(
      [
        ['..\\escape.csv', 'file', 'flown'],
        ['LINK_TO_FILE.csv', 'symlink', 'flown'],
        ['LINK_TO_FOLDER.csv', 'symlink', 'flown'],
        ['LINK_TO_PIPE.csv', 'symlink', 'flown'],
        ['RELATIVE_LINK.csv', 'symlink', 'flown'],
        ['a\\b.csv', 'file', 'flown'],
      ].sort(),
    );
    expect(landed(w, 'flown')).toEqual(['GOOD.csv']);
    expect((await w.t.db.knex('files').where({ direction: 'in' }).pluck('name')).sort()).toEqual([
      'GOOD.csv',
    ]);

    const ingested = await ingestJob(ctx);
    expect(ingested.counts).toMatchObject({ files: 1, accepted: 1 });
    // Nothing outside was opened, changed or copied, and its text is nowhere in the database.
    expect(pipeHasReader(join(outside, 'pipe.csv'))).toBe(false);
    expect(snapshot(outside)).toEqual(before);
    expect(existsSync(join(w.config.paths.landing, 'flown', 'escape.csv'))).toBe(false);
    expect(readdirSync(join(w.config.paths.landing, 'flown'))).toEqual([DATE]);
    const dbFile = w.t.url.replace(/^sqlite:/, '');
    for (const path of [dbFile, `${dbFile}-wal`])
      if (existsSync(path)) expect(readFileSync(path).includes(SECRET)).toBe(false);

    // The next night meets the same entries and refuses them again, without failing.
    const again = await fetchJob({ ...w.ctx('2026-10-03'), logger: log.logger });
    expect(again.counts).toMatchObject({ new: 0, refused: 6 });
  });
});

describe('hostile entries on an SFTP server', () => {
  let w: TestWorld;
  let server: InProcessSftp;
  const password = 'fuzz-sftp-password';
  beforeEach(async () => {
    server = await startInProcessSftp({ password });
    mkdirSync(join(server.root, 'inbox'));
    w = await createSftpWorld(server);
  });
  afterEach(async () => {
    await w.cleanup();
    await server.stop();
  });

  it('refuses names that leave the folder and links, opens none of them, and fetches the rest', async () => {
    const outside = join(server.root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.csv'), FLOWN.replace('SEMENOV', SECRET));
    symlinkSync(join(outside, 'secret.csv'), join(server.root, 'inbox', 'LINK.csv'));
    writeFileSync(join(server.root, 'inbox', 'GOOD.csv'), FLOWN);
    // What a hostile server can put in a listing that no real folder holds.
    server.faults.extraEntries = [
      { filename: '../outside/secret.csv', size: 300 },
      { filename: '../../../../etc/passwd.csv', size: 300 },
      { filename: 'sub/dir.csv', size: 300 },
      { filename: '/abs.csv', size: 300 },
      { filename: '..\\escape.csv', size: 300 },
    ];
    const log = capturedLogger();
    const ctx = { ...w.ctx(DATE), logger: log.logger, env: { PARTNER_SFTP_PASSWORD: password } };
    const fetched = await fetchJob(ctx);
    expect(fetched.counts).toMatchObject({ new: 1, refused: 6 });
    const refused = log.lines
      .filter((l) => l.msg === 'refused: not a plain file with a safe name')
      .map((l) => l.file);
    expect(refused.sort()).toEqual(
      [
        '../outside/secret.csv',
        '../../../../etc/passwd.csv',
        'sub/dir.csv',
        '/abs.csv',
        '..\\escape.csv',
        'LINK.csv',
      ].sort(),
    );
    // Only the plain file was ever opened on the server, and only it landed.
    expect(server.stats.opens.map((o) => o.path)).toEqual(['inbox/GOOD.csv']);
    expect(landed(w, 'flown')).toEqual(['GOOD.csv']);
    expect(readdirSync(join(w.config.paths.landing, 'flown'))).toEqual([DATE]);
    expect(existsSync(join(w.config.paths.landing, 'outside'))).toBe(false);
    const ingested = await ingestJob(ctx);
    expect(ingested.counts).toMatchObject({ files: 1, accepted: 1 });
  });
});
