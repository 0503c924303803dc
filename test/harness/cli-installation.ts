/**
 * An installation of Redeye in a temporary folder, as an operator's `redeye` command sees it: the example
 * configuration with its `var/` inside the folder, every inbox folder made, the database migrated by the
 * command itself. The commands run in-process; the log lines they write to stderr are captured, not shown.
 */
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { main } from '../../cli/main.js';
import { openDb } from '../../db/connection.js';
import { FEED_DIRS } from '../../demo/out.js';
import { EXAMPLE_CONFIG } from './context.js';

export interface CliInstallation {
  /** The installation's folder (its `var/` is inside it). */
  dir: string;
  /** Its configuration file. */
  config: string;
  /** Runs `redeye --config <config> …args`: exit code, output, errors and log lines. */
  redeye(
    args: string[],
    env?: NodeJS.ProcessEnv,
  ): Promise<{ code: number; out: string; err: string; log: string }>;
  /** Opens the installation's database for `fn`, and closes it after. */
  withDb<T>(fn: (knex: Knex) => Promise<T>): Promise<T>;
}

/** Made before each test of the describe that calls it, and removed after it. */
export function useCliInstallation(prefix: string, logLevel = 'info'): CliInstallation {
  const install: CliInstallation = {
    dir: '',
    config: '',
    async redeye(args, env = {}) {
      const out: string[] = [];
      const err: string[] = [];
      const log: string[] = [];
      const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
        log.push(String(chunk));
        return true;
      });
      try {
        const code = await main(['node', 'redeye', '--config', install.config, ...args], {
          output: { out: (s) => out.push(s), err: (s) => err.push(s) },
          env: { REDEYE_LOG_LEVEL: logLevel, ...env },
        });
        return { code, out: out.join('\n'), err: err.join('\n'), log: log.join('') };
      } finally {
        spy.mockRestore();
      }
    },
    async withDb(fn) {
      const db = openDb(`sqlite:${join(install.dir, 'var', 'redeye.sqlite')}`);
      try {
        return await fn(db.knex);
      } finally {
        await db.close();
      }
    },
  };
  beforeEach(async () => {
    install.dir = mkdtempSync(join(tmpdir(), prefix));
    install.config = join(install.dir, 'redeye.config.yaml');
    writeFileSync(install.config, readFileSync(EXAMPLE_CONFIG, 'utf8').replaceAll('../var/', './var/'));
    for (const f of Object.values(FEED_DIRS))
      mkdirSync(join(install.dir, 'var', 'inbox', f), { recursive: true });
    expect((await install.redeye(['db', 'migrate'])).code).toBe(0);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(install.dir, { recursive: true, force: true });
  });
  return install;
}
