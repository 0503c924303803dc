import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TransportError, type TransportErrorContext } from './errors.js';
import { land } from './landing.js';
import { TEMP_SUFFIX, temporaryName, unsafeNameReason, statelessPattern } from './names.js';

const context: TransportErrorContext = {
  transport: 'local',
  endpoint: '/partners/x',
  folder: 'inbox',
  file: 'a.csv',
};
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'redeye-landing-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('landing a file on disk', () => {
  it('keeps the bytes under a temporary name while they arrive and removes them when the transfer breaks', async () => {
    const seenMidway: string[][] = [];
    async function* brokenSource() {
      yield Buffer.from('first half,');
      seenMidway.push(await readdir(dir));
      throw new Error('connection reset');
    }
    await expect(land(brokenSource(), dir, 'a.csv', 100, context)).rejects.toThrow('connection reset');
    expect(seenMidway).toHaveLength(1);
    expect(seenMidway[0]).toHaveLength(1);
    expect(seenMidway[0]![0]).toMatch(/^\.a\.csv\.[0-9a-f]+\.part$/);
    expect(existsSync(join(dir, 'a.csv'))).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a transfer that ends short of the announced size', async () => {
    async function* shortSource() {
      yield Buffer.from('abc');
    }
    const error = await land(shortSource(), dir, 'a.csv', 10, context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).code).toBe('SIZE_MISMATCH');
    expect(await readdir(dir)).toEqual([]);
  });

  it('stops a transfer as soon as it grows past the announced size', async () => {
    let chunksPulled = 0;
    async function* endless() {
      while (true) {
        chunksPulled++;
        yield Buffer.alloc(1024);
      }
    }
    const error = await land(endless(), dir, 'a.csv', 4096, context).catch((e: unknown) => e);
    expect((error as TransportError).code).toBe('SIZE_MISMATCH');
    expect(chunksPulled).toBe(5);
    expect(await readdir(dir)).toEqual([]);
  });

  it('returns the SHA-256 of exactly the bytes written', async () => {
    async function* source() {
      yield Buffer.from('hello ');
      yield 'world';
    }
    const landed = await land(source(), dir, 'a.csv', 11, context);
    expect(landed.sha256).toBe(createHash('sha256').update('hello world').digest('hex'));
    expect(landed.path).toBe(join(dir, 'a.csv'));
  });
});

describe('remote file names', () => {
  it.each([
    ['', 'empty'],
    ['.', 'folder'],
    ['..', 'folder'],
    ['../x', 'separator'],
    ['/etc/passwd', 'separator'],
    ['a/b', 'separator'],
    ['a\\b', 'separator'],
    ['..\\..\\x', 'separator'],
    ['a\0b', 'NUL'],
  ])('%j is unsafe (%s)', (name, why) => {
    expect(unsafeNameReason(name)).toContain(why);
  });

  it.each([
    'FTL0301.txt',
    '..hidden',
    'a..b',
    '.done',
    'name with spaces.csv',
    'Отчёт.xlsx',
    '2024-03-01T02:00:00.csv',
  ])('%j is safe', (name) => {
    expect(unsafeNameReason(name)).toBeUndefined();
  });

  it('keeps temporary names under 255 bytes even for long multi-byte names', () => {
    const long = 'Отчёт-'.repeat(40) + '.xml';
    const temp = temporaryName(long);
    expect(Buffer.byteLength(temp)).toBeLessThanOrEqual(255);
    expect(temp.startsWith('.Отчёт-')).toBe(true);
    expect(temp.endsWith(TEMP_SUFFIX)).toBe(true);
    expect(temp).not.toContain('\uFFFD');
  });

  it('gives every write its own temporary name', () => {
    expect(temporaryName('a.csv')).not.toBe(temporaryName('a.csv'));
  });

  it('matches a global pattern the same way on every call', () => {
    const pattern = statelessPattern(/\.csv$/g);
    expect([pattern.test('a.csv'), pattern.test('b.csv'), pattern.test('c.csv')]).toEqual([true, true, true]);
  });
});
