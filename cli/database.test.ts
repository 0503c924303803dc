/**
 * A command pointed at a database that is not there, not migrated or not a database: an error naming
 * it, exit 2 (or 1 for an unreadable file), no new empty file, no stack trace. Only `db migrate` creates.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from './main.js';

const example = readFileSync(resolve(import.meta.dirname, '../examples/redeye.config.yaml'), 'utf8');

describe('the redeye command and its SQLite database', () => {
  let dir: string;
  let config: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-cli-db-'));
    config = join(dir, 'redeye.config.yaml');
    writeFileSync(config, example);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function redeye(url: string, args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['node', 'redeye', '--config', config, ...args], {
      output: { out: (s) => out.push(s), err: (s) => err.push(s) },
      env: { REDEYE_DATABASE_URL: url, REDEYE_LOG_LEVEL: 'silent' },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('creates nothing for a missing database, and names the path', async () => {
    const file = join(dir, 'nonexistent', 'dir', 'x.sqlite');
    for (const args of [
      ['ledger', 'check'],
      ['files', 'list'],
      ['run', 'nightly', '--date', '2026-03-01'],
      ['db', 'status'],
    ]) {
      const r = await redeye(`sqlite:${file}`, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toBe(
        `error [DATABASE_MISSING]: there is no database at ${file}: check database.url in the configuration and REDEYE_DATABASE_URL, or create it with \`redeye db migrate\``,
      );
    }
    expect(existsSync(join(dir, 'nonexistent'))).toBe(false);
    expect((await redeye(`sqlite:${file}`, ['db', 'migrate'])).code).toBe(0);
    expect((await redeye(`sqlite:${file}`, ['ledger', 'check'])).code).toBe(0);
  });

  it('refuses an unmigrated database: run `redeye db migrate`', async () => {
    const file = join(dir, 'empty.sqlite');
    writeFileSync(file, '');
    for (const args of [
      ['run', 'nightly', '--date', '2026-03-01'],
      ['ledger', 'check'],
      ['files', 'show', '1'],
    ]) {
      const r = await redeye(`sqlite:${file}`, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(`the database at ${file} is not migrated: run \`redeye db migrate\``);
    }
    const status = await redeye(`sqlite:${file}`, ['db', 'status']);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/pending: run `redeye db migrate`/);
  });

  it('names a file that is not a database, without a stack trace', async () => {
    const file = join(dir, 'corrupt.sqlite');
    writeFileSync(file, 'not a database: '.repeat(40));
    const r = await redeye(`sqlite:${file}`, ['ledger', 'check']);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `error [SQLITE_NOTADB]: cannot open the database ${file} (file is not a database): it is not a SQLite database, or it is damaged`,
    );
    expect(r.out).toBe('');
  });
});
