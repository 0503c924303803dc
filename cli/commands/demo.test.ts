import { afterEach, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useCliInstallation } from '../../test/harness/cli-installation.js';
import { main } from '../main.js';
import { DEMO_CONFIG_HEADER } from '../../demo/config.js';

describe('redeye demo', () => {
  // The installation stands for the real one on a batch host: its folder holds a configuration, a
  // migrated ledger and its var/.
  const cli = useCliInstallation('redeye-demo-', 'warn');
  const { redeye } = cli;
  const postings = () =>
    cli.withDb(async (knex) =>
      Number(((await knex('postings').count({ n: '*' }).first()) as { n: unknown }).n),
    );

  /** A folder as an earlier demo left it: its configuration, a ledger and a night's files. */
  const earlierDemo = () => {
    const dir = join(cli.dir, 'old-demo');
    mkdirSync(join(dir, 'var'), { recursive: true });
    mkdirSync(join(dir, 'nights', '2026-10-01'), { recursive: true });
    writeFileSync(join(dir, 'redeye.config.yaml'), `#${DEMO_CONFIG_HEADER}, generated for 2026-10\n`);
    writeFileSync(join(dir, 'var', 'redeye.sqlite'), 'ledger');
    writeFileSync(join(dir, 'nights', '2026-10-01', 'x.csv'), 'night');
    return dir;
  };
  const tree = (dir: string) => readdirSync(dir, { recursive: true }).map(String).sort();

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('refuses options it cannot honour as usage errors, before it changes anything', async () => {
    const dir = earlierDemo();
    const before = tree(dir);
    for (const [args, message] of [
      [
        ['--month', '2024-02'],
        "--month must be 2025-01 or later (the demo's contracts start then), got 2024-02",
      ],
      [['--month', '2026-13'], '--month must be YYYY-MM, got "2026-13"'],
      [['--members', '6000000'], '--members must be a whole number from 50 to 5,000,000, got 6000000'],
      [['--members', '49'], '--members must be a whole number from 50 to 5,000,000, got 49'],
      [['--members', '1e3'], '--members expects a whole number, got 1e3'],
      [['--seed', 'abc'], '--seed expects a whole number, got abc'],
      [['--seed', '99999999999999999999'], '--seed must be a whole number from 0 to 9,007,199,254,740,991'],
    ] as const) {
      const r = await redeye(['demo', '--dir', dir, '--members', '50', '--month', '2026-10', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.startsWith(`error [USAGE]: ${message}`), `${args.join(' ')}: ${r.err}`).toBe(true);
      expect(r.err).not.toContain('\n');
      expect(r.out).toBe('');
    }
    expect(tree(dir)).toEqual(before);
    expect(readFileSync(join(dir, 'var', 'redeye.sqlite'), 'utf8')).toBe('ledger');
  });

  it('refuses a folder that holds what no demo made, naming it and what is in it, and leaves it as it was', async () => {
    const before = tree(cli.dir);
    const r = await redeye(['demo', '--dir', cli.dir, '--members', '50', '--month', '2026-10']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `error [USAGE]: --dir ${cli.dir} is not a demo's folder: it holds redeye.config.yaml, var/, and no ` +
        'demo configuration or plan.json. The demo replaces the var/, nights/ and redeye.config.yaml of its ' +
        'folder: give a new or empty folder, or one an earlier demo made. Nothing was changed',
    );
    expect(tree(cli.dir)).toEqual(before);
    expect(await postings()).toBe(0);
    const file = join(cli.dir, 'var', 'inbox', 'plan');
    writeFileSync(file, '');
    const onFile = await redeye(['demo', '--dir', file, '--members', '50', '--month', '2026-10']);
    expect(onFile.code).toBe(2);
    expect(onFile.err).toContain(`--dir ${file} is a file, not a folder`);
  });

  it('runs last month by the clock REDEYE_NOW pins, in the demo program’s time zone, by default', async () => {
    // The installation's folder is no demo's: the demo names its month, then refuses the folder (exit 2)
    // before it writes anything.
    for (const [now, month] of [
      ['2026-03-15T12:00:00Z', '2026-02'],
      // 01:30 on 1 March in Moscow, still 28 February in UTC: February has ended.
      ['2026-02-28T22:30:00Z', '2026-02'],
      ['2026-02-28T20:30:00Z', '2026-01'],
    ] as const) {
      const r = await redeye(['demo', '--dir', cli.dir, '--members', '50'], { REDEYE_NOW: now });
      expect(r.code, r.err).toBe(2);
      expect(r.out, now).toBe(`Redeye demo: 50 members, ${month}, in ${cli.dir}`);
    }
    expect(await postings()).toBe(0);
  });

  it('logs at the level REDEYE_LOG_LEVEL names, as every command does', async () => {
    const dir = join(cli.dir, 'quiet-demo');
    const r = await redeye(['demo', '--dir', dir, '--members', '50', '--month', '2026-02'], {
      REDEYE_LOG_LEVEL: 'error',
      // Its warning (the demo writes only its own ledger) is below the level asked for.
      REDEYE_DATABASE_URL: `sqlite:${join(cli.dir, 'var', 'redeye.sqlite')}`,
    });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('ledger check: all invariants hold');
    expect(r.log).not.toContain('REDEYE_DATABASE_URL is set and ignored');
    expect(r.log).not.toMatch(/"level":"(warn|info)"/);
    expect(await postings()).toBe(0);
  }, 300_000);

  it('runs in an earlier demo’s folder on its own ledger whatever REDEYE_DATABASE_URL names, and prints commands that work from the checkout', async () => {
    const dir = earlierDemo();
    const production = `sqlite:${join(cli.dir, 'var', 'redeye.sqlite')}`;
    // As a batch host's shell has it, in the process's environment and so in the command's.
    vi.stubEnv('REDEYE_DATABASE_URL', production);
    const cwd = process.cwd();
    // `npm run demo` runs from the checkout, where `npm run redeye` runs too.
    process.chdir(cli.dir);
    try {
      const r = await redeye(['demo', '--dir', 'old-demo', '--members', '50', '--month', '2026-02'], {
        REDEYE_DATABASE_URL: production,
        npm_lifecycle_event: 'demo',
      });
      expect(r.code, r.err).toBe(0);
      expect(await postings()).toBe(0);
      expect(r.log).toContain(
        `REDEYE_DATABASE_URL is set and ignored: the demo writes only its own ledger, sqlite:${join(dir, 'var', 'redeye.sqlite')}`,
      );
      expect(r.out).toContain('  ledger          old-demo/var/redeye.sqlite\n');
      expect(existsSync(join(dir, 'nights', '2026-10-01'))).toBe(false);
      // The earlier demo's folder is still known as one, for the next demo.
      expect(readFileSync(join(dir, 'redeye.config.yaml'), 'utf8').startsWith(`#${DEMO_CONFIG_HEADER}`)).toBe(
        true,
      );
      const tries = r.out
        .split('\n')
        .map((l) => /^(?: {2}try: | {7})(npm .*)$/.exec(l)?.[1])
        .filter((l) => l !== undefined);
      expect(tries).toEqual([
        'npm run redeye -- --config old-demo/redeye.config.yaml files list --date 2026-02-28',
        'npm run redeye -- --config old-demo/redeye.config.yaml ledger check',
      ]);
      for (const command of tries) {
        const out: string[] = [];
        const args = command.replace('npm run redeye -- ', '').split(' ');
        const code = await main(['node', 'redeye', ...args], {
          output: { out: (s) => out.push(s), err: (s) => out.push(s) },
          env: { REDEYE_LOG_LEVEL: 'silent' },
        });
        expect(code, `${command}\n${out.join('\n')}`).toBe(0);
      }
    } finally {
      process.chdir(cwd);
    }
  }, 300_000);
});
