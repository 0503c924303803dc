/**
 * A landing disk that fails under a write (full, quota, I/O error): the error names the transport, its
 * endpoint, the inbox folder and file, and the landing folder written to (README, Guarantees: "the
 * failing step names what failed"), and nothing is left behind. The failure is injected into the file
 * handles `land` opens for its temporary files, rather than mounting a small tmpfs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TransportError, type TransportErrorContext } from './errors.js';
import { land } from './landing.js';
import { createWorld, type TestWorld } from '../test/harness/context.js';
import { fetchJob } from '../jobs/fetch.js';

/** What the next temporary landing file's handle fails with, and at which step. */
const inject = vi.hoisted(() => ({ step: undefined as 'write' | 'sync' | undefined, code: 'ENOSPC' }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (...args: Parameters<typeof real.open>): Promise<FileHandle> => {
    const handle = await real.open(...args);
    const step = inject.step;
    // `land` creates its temporary file with 'wx'; folders and existing files are opened otherwise.
    if (step && args[1] === 'wx') {
      const what = inject.code === 'ENOSPC' ? 'no space left on device' : 'i/o error';
      const error = Object.assign(new Error(`${inject.code}: ${what}, ${step}`), {
        code: inject.code,
        syscall: step,
      });
      handle[step] = (() => Promise.reject(error)) as never;
    }
    return handle;
  };
  return { ...real, open, default: { ...real, open } };
});

const context: TransportErrorContext = {
  transport: 'local',
  endpoint: '/partners/x',
  folder: 'ftl',
  file: 'FTL0307.txt',
};

async function* bytes(n: number) {
  yield Buffer.alloc(n, 0x41);
}

describe('a landing disk that fails under a write', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redeye-landing-disk-'));
  });
  afterEach(async () => {
    inject.step = undefined;
    inject.code = 'ENOSPC';
    await rm(dir, { recursive: true, force: true });
  });

  it('names the landing folder and the file when the disk is full, and leaves nothing behind', async () => {
    inject.step = 'write';
    const error = await land(bytes(100), dir, 'FTL0307.txt', 100, context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    const e = error as TransportError;
    expect(e.code).toBe('TRANSFER_FAILED');
    expect(e.message).toBe(
      `local /partners/x, folder "ftl", file "FTL0307.txt": cannot write FTL0307.txt into the landing folder ${dir}: no space left on the device (ENOSPC)`,
    );
    expect(e.context).toMatchObject({ landingFolder: dir, transport: 'local', file: 'FTL0307.txt' });
    expect(String(e.context.path)).toMatch(new RegExp(`^${dir}/\\.FTL0307\\.txt\\.[0-9a-f]+\\.part$`));
    expect(e.retryable).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });

  it('names them as well when the fsync fails, with what the disk said', async () => {
    inject.step = 'sync';
    inject.code = 'EIO';
    const error = await land(bytes(10), dir, 'FTL0307.txt', 10, context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).message).toContain(
      `file "FTL0307.txt": cannot write FTL0307.txt into the landing folder ${dir}: EIO: i/o error, sync`,
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it('leaves an error of the source to the transport that reads it', async () => {
    async function* reset() {
      yield Buffer.from('abc');
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    }
    const error = await land(reset(), dir, 'FTL0307.txt', 10, context).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(TransportError);
    expect((error as Error).message).toBe('read ECONNRESET');
  });
});

describe('fetch onto a full landing disk', () => {
  let w: TestWorld;
  beforeEach(async () => {
    w = await createWorld('sqlite');
  });
  afterEach(async () => {
    inject.step = undefined;
    await w.cleanup();
  });

  it('fails the step naming the transport, the inbox folder and file, and the landing folder', async () => {
    const inbox = join(w.dir, 'inbox', 'ftl');
    mkdirSync(inbox, { recursive: true });
    writeFileSync(join(inbox, 'FTL0307.txt'), 'QU HDQRMXX\n');
    inject.step = 'write';
    const error = await fetchJob(w.ctx('2026-03-07')).catch((e: unknown) => e);
    const landing = join(w.config.paths.landing, 'ftl', '2026-03-07');
    expect((error as Error).message).toContain(`ftl: [TRANSFER_FAILED] FTL0307.txt ${landing}/.FTL0307.txt.`);
    expect((error as Error).message).toContain(
      `local ${join(w.dir, 'inbox')}, folder "ftl", file "FTL0307.txt": cannot write FTL0307.txt into the landing folder ${landing}: no space left on the device (ENOSPC)`,
    );
    expect(await readdir(landing)).toEqual([]);
    expect(await w.t.db.knex('files').count({ n: '*' }).first()).toMatchObject({ n: 0 });
  });
});
