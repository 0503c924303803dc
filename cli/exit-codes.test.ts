/**
 * Exit 2 is a usage or configuration error (README, "Command line"): a database URL Redeye cannot read,
 * a SQLite path naming a folder, an encoding no decoder knows. A server that does not answer is a
 * failure (exit 1), said in one line naming the database, with nothing else printed.
 */
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from './main.js';

const example = readFileSync(resolve(import.meta.dirname, '../examples/redeye.config.yaml'), 'utf8');

describe('exit codes of a bad setting', () => {
  let dir: string;
  let config: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-cli-exit-'));
    config = join(dir, 'redeye.config.yaml');
    writeFileSync(config, example.replace('sqlite:../var/redeye.sqlite', 'sqlite:./var/redeye.sqlite'));
  });
  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  async function redeye(args: string[], env: NodeJS.ProcessEnv = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['node', 'redeye', '--config', config, ...args], {
      output: { out: (s) => out.push(s), err: (s) => err.push(s) },
      env: { REDEYE_LOG_LEVEL: 'silent', ...env },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  const forms =
    'expected sqlite:<path> (or a plain file path) or postgres://user:password@host:port/database (postgresql:// too)';

  it('a database URL of another scheme, in the file or in REDEYE_DATABASE_URL: exit 2, nothing created', async () => {
    writeFileSync(config, example.replace('sqlite:../var/redeye.sqlite', 'mysql://localhost/x'));
    const file = await redeye(['db', 'migrate']);
    expect(file.code).toBe(2);
    expect(file.err).toMatch(
      new RegExp(
        `\\n {2}- database\\.url \\(line 18\\): the database URL uses the scheme "mysql:", which Redeye does not support: ${forms.replace(/[()?.+]/g, '\\$&')}$`,
      ),
    );
    writeFileSync(config, example.replace('sqlite:../var/redeye.sqlite', 'sqlite:./var/redeye.sqlite'));
    const variable = await redeye(['db', 'migrate'], { REDEYE_DATABASE_URL: 'mysql://u:secret@localhost/x' });
    expect(variable).toMatchObject({ code: 2, out: '' });
    expect(variable.err).toBe(
      `error [CONFIG_INVALID]: REDEYE_DATABASE_URL: the database URL uses the scheme "mysql:", which Redeye does not support: ${forms}`,
    );
    expect(readdirSync(dir)).toEqual(['redeye.config.yaml']);
  });

  it('a PostgreSQL server not listening: one line naming the database, password masked, exit 1, nothing else printed', async () => {
    const server = createServer();
    const port = await new Promise<number>((done) =>
      server.listen(0, '127.0.0.1', () => done((server.address() as { port: number }).port)),
    );
    await new Promise((done) => server.close(done));
    const printed: unknown[] = [];
    for (const method of ['log', 'warn', 'error'] as const)
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void printed.push(...args));
    const r = await redeye(['ledger', 'check'], {
      REDEYE_DATABASE_URL: `postgres://u:pw-secret@127.0.0.1:${port}/x`,
    });
    expect(r).toMatchObject({ code: 1, out: '' });
    expect(r.err).toBe(
      `error [DATABASE_UNREACHABLE]: cannot connect to the database postgres://u:***@127.0.0.1:${port}/x: ` +
        'the connection was refused: is PostgreSQL running and listening on that host and port?',
    );
    expect(printed).toEqual([]);
  });

  it('a SQLite path naming a folder is a setting to correct: exit 2, as a path naming nothing', async () => {
    const folder = join(dir, 'folder.sqlite');
    mkdirSync(folder);
    for (const args of [
      ['ledger', 'check'],
      ['db', 'migrate'],
      ['files', 'list'],
    ]) {
      const r = await redeye(args, { REDEYE_DATABASE_URL: `sqlite:${folder}` });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toBe(
        `error [DATABASE_UNOPENABLE]: cannot open the database ${folder}: it is not a file (check database.url and REDEYE_DATABASE_URL)`,
      );
    }
  });

  it('a feed configured with an encoding no decoder knows: refused at start-up, naming the setting', async () => {
    writeFileSync(
      config,
      example.replace('encoding: utf-8, holdHours: 48', 'encoding: klingon, holdHours: 48'),
    );
    const r = await redeye(['db', 'status']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /- feeds\.ftl\.encoding \(line \d+\): is not a character encoding Redeye can read \(utf-8, cp866, windows-1251, iso-8859-1, …\)/,
    );
  });

  it('a custom report charting points, money and counts on one chart: refused at start-up, exit 2', async () => {
    writeFileSync(
      config,
      example
        .replace('sqlite:../var/redeye.sqlite', 'sqlite:./var/redeye.sqlite')
        .replace('      measures: [pointsIssued]\n', '      measures: [pointsIssued, spend, members]\n')
        .replace('      dimensions: [month, partner]\n', '      dimensions: [partner]\n'),
    );
    const r = await redeye(['db', 'status']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /- reports\.custom\[0\]\.measures \(line \d+\): custom report "partner-points-by-month" charts measures of 3 units on one stacked-bar chart \(points: pointsIssued; money: spend; count: members\)/,
    );
    expect(existsSync(join(dir, 'var'))).toBe(false);
  });

  it('parse with an encoding no decoder knows: UNSUPPORTED_ENCODING, exit 2', async () => {
    const csv = join(dir, 'f.csv');
    writeFileSync(csv, 'a,b\n');
    const r = await redeye(['parse', 'flown', '--encoding', 'klingon', csv]);
    expect(r.code).toBe(2);
    expect(r.err).toBe('error [UNSUPPORTED_ENCODING]: unknown character encoding "klingon"');
    expect(existsSync(join(dir, 'var'))).toBe(false);
    const ftl = join(dir, 'f.ftl');
    writeFileSync(ftl, 'FTL\r\nENDFTL\r\n');
    const message = await redeye(['parse', 'ftl', '--encoding', 'klingon', ftl]);
    expect([message.code, message.err]).toEqual([2, r.err]);
    // The XML feeds too: every file would be refused alike, so the setting is what is wrong.
    const xml = join(dir, 'rates.xml');
    writeFileSync(xml, '<?xml version="1.0" encoding="UTF-8"?><x/>');
    for (const feed of ['fx', 'hotel', 'alliance-claims']) {
      const refused = await redeye(['parse', feed, '--encoding', 'klingon', '--program', 'XX', xml]);
      expect([feed, refused.code, refused.err]).toEqual([feed, 2, r.err]);
    }
  });

  it('parse or simulate of a folder, as of a missing file: a usage error naming the path given, exit 2', async () => {
    const folder = join(dir, 'inbox');
    mkdirSync(folder);
    for (const args of [
      ['parse', 'flown', folder],
      ['simulate', 'flown', folder, '--date', '2026-03-11'],
    ]) {
      const r = await redeye(args);
      expect([args[0], r.code, r.err]).toEqual([
        args[0],
        2,
        `error [USAGE]: ${folder}: a folder, not a file`,
      ]);
    }
  });

  it('a file id past the exact numbers is refused as typed, exit 2, not rounded into an id never given', async () => {
    const typed = '99999999999999999999999';
    for (const command of ['show', 'release', 'discard']) {
      const r = await redeye(['files', command, typed, ...(command === 'show' ? [] : ['--reason', 'x'])]);
      expect([command, r.code]).toEqual([command, 2]);
      expect(r.err).toContain(`got ${typed}`);
      expect(r.err).not.toContain('e+');
    }
  });

  it('a configuration path naming a folder: a configuration error naming it, exit 2', async () => {
    const err: string[] = [];
    const code = await main(['node', 'redeye', '--config', dir, 'ledger', 'check'], {
      output: { out: () => undefined, err: (s) => err.push(s) },
      env: { REDEYE_LOG_LEVEL: 'silent' },
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toContain(`configuration path ${dir} (from --config) is not a file`);
    expect(err.join('\n')).not.toContain('EISDIR');
  });

  it('REDEYE_CONFIG set empty is unset, as every REDEYE_* variable: ./redeye.config.yaml is read', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const run = (args: string[]) =>
        main(['node', 'redeye', ...args], {
          output: { out: () => undefined, err: () => undefined },
          env: { REDEYE_LOG_LEVEL: 'silent', REDEYE_CONFIG: '' },
        });
      expect(await run(['db', 'migrate'])).toBe(0);
      expect(await run(['ledger', 'check'])).toBe(0);
    } finally {
      process.chdir(cwd);
    }
  });
});
