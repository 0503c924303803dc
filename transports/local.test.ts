import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { watch } from 'node:fs';
import {
  appendFile,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TransportError } from './errors.js';
import { LocalTransport } from './local.js';
import type { Clock } from './types.js';
import { readyIn } from '../test/harness/ready.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

let base: string;
let root: string;
let inbox: string;
let landing: string;
let sleeps: number[];
let duringSleep: (() => Promise<void>) | undefined;
let transport: LocalTransport;

const clock: Clock = {
  async sleep(ms) {
    sleeps.push(ms);
    await duringSleep?.();
  },
};

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'redeye-local-'));
  root = join(base, 'partner');
  inbox = join(root, 'inbox');
  landing = join(base, 'landing');
  await mkdir(inbox, { recursive: true });
  await mkdir(join(root, 'outbox'));
  await mkdir(landing);
  sleeps = [];
  duringSleep = undefined;
  transport = new LocalTransport({ root });
});

afterEach(async () => {
  await transport.close();
  await rm(base, { recursive: true, force: true });
});

async function expectTransportError(promise: Promise<unknown>, code: string): Promise<TransportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  expect((error as TransportError).code).toBe(code);
  return error as TransportError;
}

describe('local folder transport', () => {
  it('lists matching files of the inbox with size and modification time, sorted by name', async () => {
    await writeFile(join(inbox, 'b.csv'), 'bb');
    await writeFile(join(inbox, 'a.csv'), 'a');
    await writeFile(join(inbox, 'notes.txt'), 'x');
    await mkdir(join(inbox, 'sub.csv'));
    const entries = await transport.list('inbox', /\.csv$/g);
    expect(entries.map((e) => [e.name, e.size, e.type])).toEqual([
      ['a.csv', 1, 'file'],
      ['b.csv', 2, 'file'],
    ]);
    expect(entries[0]?.modifiedAt).toBeInstanceOf(Date);
  });

  it('fetches a file into the landing folder with its size and SHA-256, leaving no temporary file', async () => {
    const content = 'FTL|SU0100|2024-03-01\n'.repeat(10_000);
    await writeFile(join(inbox, 'FTL0301.txt'), content);
    const [entry] = await transport.list('inbox', /^FTL/);
    const result = await transport.download('inbox', entry!, landing);
    expect(result).toEqual({
      localPath: join(landing, 'FTL0301.txt'),
      seen: { size: Buffer.byteLength(content), modifiedAt: entry!.modifiedAt, inode: expect.any(Number) },
      size: Buffer.byteLength(content),
      sha256: sha256(content),
      alreadyPresent: false,
    });
    expect(await readFile(result.localPath, 'utf8')).toBe(content);
    expect(await readdir(landing)).toEqual(['FTL0301.txt']);
  });

  it('treats fetching the same file again as already present, and refuses to replace a different one', async () => {
    await writeFile(join(inbox, 'a.csv'), 'first');
    await transport.download('inbox', 'a.csv', landing);
    const again = await transport.download('inbox', 'a.csv', landing);
    expect(again.alreadyPresent).toBe(true);

    await writeFile(join(inbox, 'a.csv'), 'second');
    const error = await expectTransportError(transport.download('inbox', 'a.csv', landing), 'TARGET_EXISTS');
    expect(error.context).toMatchObject({ existingSha256: sha256('first'), newSha256: sha256('second') });
    expect(await readFile(join(landing, 'a.csv'), 'utf8')).toBe('first');
    expect(await readdir(landing)).toEqual(['a.csv']);
  });

  it('refuses a file whose size changed since it was listed, landing nothing', async () => {
    await writeFile(join(inbox, 'a.csv'), 'abc');
    const [entry] = await transport.list('inbox', /csv/);
    await appendFile(join(inbox, 'a.csv'), 'def');
    const error = await expectTransportError(transport.download('inbox', entry!, landing), 'SIZE_MISMATCH');
    expect(error.context).toMatchObject({ expectedSize: 3, actualSize: 6 });
    expect(await readdir(landing)).toEqual([]);
  });

  it('refuses a symbolic link in the inbox instead of following it', async () => {
    await writeFile(join(base, 'secret.csv'), 'not for partners');
    await symlink(join(base, 'secret.csv'), join(inbox, 'link.csv'));
    const entries = await transport.list('inbox', /csv/);
    expect(entries).toMatchObject([{ name: 'link.csv', type: 'symlink' }]);
    const error = await expectTransportError(
      transport.download('inbox', 'link.csv', landing),
      'SYMLINK_REFUSED',
    );
    expect(error.message).toContain('link.csv');
    expect(error.context).toMatchObject({ transport: 'local', folder: 'inbox', file: 'link.csv' });
    expect(await readdir(landing)).toEqual([]);
  });

  it('refuses a FIFO in the inbox without blocking on it', async () => {
    execFileSync('mkfifo', [join(inbox, 'pipe.csv')]);
    expect(await transport.list('inbox', /csv/)).toEqual([]);
    await expectTransportError(transport.download('inbox', 'pipe.csv', landing), 'NOT_A_FILE');
    expect(await readdir(landing)).toEqual([]);
  });

  it.each(['../x', '/etc/passwd', 'a/b', '..', '.', 'a\\b', '', 'a\0b'])(
    'refuses the remote name %j before any byte is written',
    async (name) => {
      await writeFile(join(base, 'x'), 'outside the inbox');
      await writeFile(join(base, 'local.csv'), 'payload');
      for (const attempt of [
        transport.download('inbox', name, landing),
        transport.upload(join(base, 'local.csv'), 'outbox', name),
        transport.archive('inbox', name, 'archive'),
        transport.remove('inbox', name),
      ]) {
        const error = await expectTransportError(attempt, 'UNSAFE_NAME');
        expect(error.context).toMatchObject({ transport: 'local', endpoint: root, file: name });
        expect(error.message).toContain(JSON.stringify(name));
      }
      expect(await readdir(landing)).toEqual([]);
      expect(await readdir(join(root, 'outbox'))).toEqual([]);
      expect((await readdir(root)).sort()).toEqual(['inbox', 'outbox']);
      expect(await readFile(join(base, 'x'), 'utf8')).toBe('outside the inbox');
    },
  );

  it('delivers through a temporary name that is renamed into place', async () => {
    const payload = Buffer.alloc(4 * 1024 * 1024, 7);
    await writeFile(join(base, 'invoice.xml'), payload);
    const seen: string[] = [];
    const watcher = watch(join(root, 'outbox'), (_event, name) => {
      if (name) seen.push(name.toString());
    });
    try {
      const result = await transport.upload(join(base, 'invoice.xml'), 'outbox', 'invoice.xml');
      expect(result).toEqual({
        remotePath: join(root, 'outbox', 'invoice.xml'),
        size: payload.length,
        sha256: sha256(payload),
        alreadyPresent: false,
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      watcher.close();
    }
    const temp = seen.find((name) => /^\.invoice\.xml\.[0-9a-f]{12}\.part$/.test(name));
    expect(temp).toBeDefined();
    expect(seen.indexOf(temp!)).toBeLessThan(seen.indexOf('invoice.xml'));
    expect(await readdir(join(root, 'outbox'))).toEqual(['invoice.xml']);
  });

  it('creates the folder it delivers into only when asked, and otherwise names the missing folder', async () => {
    await writeFile(join(base, 'list.csv'), 'member,email\n');
    const share = new LocalTransport({ root: join(base, 'share-not-mounted') });
    const error = await expectTransportError(
      share.upload(join(base, 'list.csv'), '.', 'list.csv'),
      'NOT_FOUND',
    );
    expect(error.message).toBe(
      `local ${join(base, 'share-not-mounted')}, folder ".", file "list.csv": the folder ` +
        `${join(base, 'share-not-mounted')} does not exist, so nothing can be delivered into it; it is the ` +
        "receiving side's to create",
    );
    expect(await readdir(base)).not.toContain('share-not-mounted');

    const r = await transport.upload(join(base, 'list.csv'), 'shared/mailing', 'list.csv', {
      createDir: true,
    });
    expect(r).toMatchObject({
      remotePath: join(root, 'shared', 'mailing', 'list.csv'),
      alreadyPresent: false,
    });
    expect(await readFile(join(root, 'shared', 'mailing', 'list.csv'), 'utf8')).toBe('member,email\n');
  });

  it('makes delivering identical bytes again a no-op and refuses to overwrite different bytes', async () => {
    await writeFile(join(base, 'r.csv'), 'v1');
    expect((await transport.upload(join(base, 'r.csv'), 'outbox', 'r.csv')).alreadyPresent).toBe(false);
    expect((await transport.upload(join(base, 'r.csv'), 'outbox', 'r.csv')).alreadyPresent).toBe(true);
    await writeFile(join(base, 'r.csv'), 'v2');
    await expectTransportError(transport.upload(join(base, 'r.csv'), 'outbox', 'r.csv'), 'TARGET_EXISTS');
    expect(await readFile(join(root, 'outbox', 'r.csv'), 'utf8')).toBe('v1');
    expect(await readdir(join(root, 'outbox'))).toEqual(['r.csv']);
  });

  it('does not offer a file that is still growing under the stable rule', async () => {
    await writeFile(join(inbox, 'done.csv'), 'complete');
    await writeFile(join(inbox, 'growing.csv'), 'part');
    duringSleep = () => appendFile(join(inbox, 'growing.csv'), ' more');
    const ready = await readyIn(transport, 'inbox', /\.csv$/, { kind: 'stable', seconds: 30 }, clock);
    expect(ready.map((e) => e.name)).toEqual(['done.csv']);
    expect(sleeps).toEqual([30_000]);
  });

  it('does not offer a file whose modification time moved under the stable rule, even at the same size', async () => {
    await writeFile(join(inbox, 'rewritten.csv'), 'same');
    duringSleep = () => utimes(join(inbox, 'rewritten.csv'), new Date(), new Date(Date.now() + 5_000));
    expect(await readyIn(transport, 'inbox', /\.csv$/, { kind: 'stable', seconds: 5 }, clock)).toEqual([]);
  });

  it('does not wait under the stable rule when nothing matches', async () => {
    await writeFile(join(inbox, 'other.txt'), 'x');
    expect(await readyIn(transport, 'inbox', /\.csv$/, { kind: 'stable', seconds: 30 }, clock)).toEqual([]);
    expect(sleeps).toEqual([]);
  });

  it('offers every matching file at once when the partner renames files into place (no completeness rule)', async () => {
    await writeFile(join(inbox, 'a.csv'), 'a');
    await writeFile(join(inbox, 'b.tmp'), 'b');
    const ready = await readyIn(transport, 'inbox', /\.csv$/, { kind: 'none' }, clock);
    expect(ready.map((e) => e.name)).toEqual(['a.csv']);
    expect(sleeps).toEqual([]);
  });

  it('offers a file only when its marker exists, never the marker itself, and ignores a stale marker', async () => {
    const past = new Date(Date.now() - 3_600_000);
    await writeFile(join(inbox, 'a.csv'), 'a');
    await writeFile(join(inbox, 'a.csv.done'), '');
    await writeFile(join(inbox, 'b.csv'), 'still being written');
    await writeFile(join(inbox, 'c.csv'), 'new content under an old name');
    await writeFile(join(inbox, 'c.csv.done'), '');
    await utimes(join(inbox, 'c.csv.done'), past, past);
    const ready = await readyIn(transport, 'inbox', /\.csv/, { kind: 'marker', suffix: '.done' }, clock);
    expect(ready.map((e) => e.name)).toEqual(['a.csv']);
  });

  it('dates a file offered by its marker at the marker, when that came later: when the file was complete', async () => {
    const written = new Date('2026-06-02T20:00:00Z');
    const marked = new Date('2026-06-03T01:00:00Z');
    await writeFile(join(inbox, 'a.csv'), 'a');
    await writeFile(join(inbox, 'a.csv.done'), '');
    await utimes(join(inbox, 'a.csv'), written, written);
    await utimes(join(inbox, 'a.csv.done'), marked, marked);
    await writeFile(join(inbox, 'b.csv'), 'b');
    await writeFile(join(inbox, 'b.csv.done'), '');
    await utimes(join(inbox, 'b.csv'), written, written);
    await utimes(join(inbox, 'b.csv.done'), written, written);
    const ready = await readyIn(transport, 'inbox', /\.csv/, { kind: 'marker', suffix: '.done' }, clock);
    expect(ready.map((e) => [e.name, e.modifiedAt.toISOString(), e.completedAt?.toISOString()])).toEqual([
      ['a.csv', written.toISOString(), marked.toISOString()],
      ['b.csv', written.toISOString(), undefined],
    ]);
  });

  it('archives a fetched file with its marker and keeps an earlier archived file of the same name', async () => {
    await mkdir(join(root, 'archive'));
    await writeFile(join(root, 'archive', 'rates.xml'), 'yesterday');
    await writeFile(join(inbox, 'rates.xml'), 'today');
    await writeFile(join(inbox, 'rates.xml.done'), '');
    const result = await transport.archive('inbox', 'rates.xml', 'archive', { markerSuffix: '.done' });
    expect(result).toEqual({
      archivedPath: join(root, 'archive', 'rates.xml.1'),
      archivedMarkerPath: join(root, 'archive', 'rates.xml.1.done'),
    });
    expect(await readdir(inbox)).toEqual([]);
    expect(await readFile(join(root, 'archive', 'rates.xml'), 'utf8')).toBe('yesterday');
    expect(await readFile(join(root, 'archive', 'rates.xml.1'), 'utf8')).toBe('today');
  });

  it('archives the file downloaded, and leaves in the inbox one replaced since, with nothing in the archive', async () => {
    await writeFile(join(inbox, 'a.csv'), 'ticket,coupon\n1,1\n');
    const { seen } = await transport.download('inbox', 'a.csv', landing);
    // The partner replaces it by rename: same size, another file.
    await writeFile(join(base, 'a.csv'), 'ticket,coupon\n9,1\n');
    await rename(join(base, 'a.csv'), join(inbox, 'a.csv'));
    const error = await expectTransportError(
      transport.archive('inbox', 'a.csv', 'archive', { seen }),
      'SOURCE_CHANGED',
    );
    expect(error.message).toMatch(
      /the file was (replaced|changed) since it was downloaded \(18 bytes modified .*\): left in the inbox, not archived/,
    );
    expect(await readFile(join(inbox, 'a.csv'), 'utf8')).toBe('ticket,coupon\n9,1\n');
    expect(await readdir(join(root, 'archive')).catch(() => [])).toEqual([]);

    await mkdir(join(landing, 'again'));
    const again = await transport.download('inbox', 'a.csv', join(landing, 'again'));
    await transport.archive('inbox', 'a.csv', 'archive', { seen: again.seen });
    expect(await readdir(inbox)).toEqual([]);
    expect(await readFile(join(root, 'archive', 'a.csv'), 'utf8')).toBe('ticket,coupon\n9,1\n');
  });

  it('creates the archive folder on first use and reports a file that is not there', async () => {
    await writeFile(join(inbox, 'a.csv'), 'a');
    await transport.archive('inbox', 'a.csv', 'archive/2024');
    expect(await readdir(join(root, 'archive', '2024'))).toEqual(['a.csv']);
    await expectTransportError(transport.archive('inbox', 'a.csv', 'archive/2024'), 'NOT_FOUND');
  });

  it('removes a file with its marker, and says so only the first time', async () => {
    await writeFile(join(inbox, 'a.csv'), 'a');
    await writeFile(join(inbox, 'a.csv.ok'), '');
    expect(await transport.remove('inbox', 'a.csv', { markerSuffix: '.ok' })).toBe(true);
    expect(await readdir(inbox)).toEqual([]);
    expect(await transport.remove('inbox', 'a.csv', { markerSuffix: '.ok' })).toBe(false);
  });

  it('removes a symbolic link without touching what it points to', async () => {
    await writeFile(join(base, 'target.csv'), 'keep me');
    await symlink(join(base, 'target.csv'), join(inbox, 'link.csv'));
    expect(await transport.remove('inbox', 'link.csv')).toBe(true);
    expect(await readFile(join(base, 'target.csv'), 'utf8')).toBe('keep me');
  });

  it('reports a missing inbox folder as NOT_FOUND with the folder in the context', async () => {
    const error = await expectTransportError(transport.list('nowhere', /./), 'NOT_FOUND');
    expect(error.context).toMatchObject({ transport: 'local', folder: 'nowhere' });
  });
});
