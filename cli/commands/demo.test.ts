import { describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useCliInstallation } from '../../test/harness/cli-installation.js';
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
});
