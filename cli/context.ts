/**
 * What every command needs, built once: the validated configuration, a logger, and on demand the
 * database. Commands receive it instead of reaching for globals, so tests can run them in-process.
 */
import { once } from 'node:events';
import type { Db } from '../db/connection.js';
import { openDb } from '../db/connection.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { checkLogLevel, createLogger, type Logger } from '../lib/log.js';
import { UsageError } from '../lib/errors.js';
import { parseIsoInstant } from '../lib/dates.js';

/**
 * An instant given on the command line or in the environment (`REDEYE_NOW`, `--received`,
 * `--files-until`): ISO 8601 with its offset. A time without one is refused rather than read in the
 * machine's local time, which is not the program's and would shift a replayed night by hours unseen.
 */
export function instantSetting(name: string, value: string): Date {
  const at = parseIsoInstant(value);
  if (at === undefined)
    throw new UsageError(
      `${name} expects an ISO 8601 time with its offset (2026-06-05T02:30:00Z), got ${JSON.stringify(value)}`,
    );
  return at;
}

export interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** Resolves when stdout has room again: long outputs (parse of a large file) wait on it. */
  drain?(): Promise<void>;
}

export const processOutput: Output = {
  out: (text) => {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  },
  err: (text) => {
    process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  },
  drain: () =>
    process.stdout.writableNeedDrain
      ? once(process.stdout, 'drain').then(() => undefined)
      : Promise.resolve(),
};

export class CommandContext {
  private _config?: LoadedConfig;
  private _db?: Db;
  private _logger?: Logger;

  constructor(
    readonly options: GlobalOptions,
    readonly output: Output = processOutput,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /**
   * The clock of every command: the wall clock, or REDEYE_NOW (an ISO 8601 instant) to replay a night
   * exactly as it ran — receipt times, stamps in exported files, the report mail's queue time, an
   * erasure's record — which is how the kill test compares two nights.
   */
  get now(): () => Date {
    const pinned = this.env.REDEYE_NOW;
    if (!pinned) return () => new Date();
    const at = instantSetting('REDEYE_NOW', pinned);
    return () => at;
  }

  get config(): LoadedConfig {
    this._config ??= loadConfig({ path: this.options.config, env: this.env });
    return this._config;
  }

  get logger(): Logger {
    // --log-level, else REDEYE_LOG_LEVEL (empty is unset), else the configuration; checked by cli/main.ts
    // before the command ran, and again here for a context built without it.
    this._logger ??= createLogger({
      level:
        checkLogLevel(this.options.logLevel, '--log-level') ??
        checkLogLevel(this.env.REDEYE_LOG_LEVEL, 'REDEYE_LOG_LEVEL') ??
        this.configLevel(),
    });
    return this._logger;
  }

  private configLevel(): LoadedConfig['logging']['level'] {
    try {
      return this.config.logging.level;
    } catch {
      return 'info';
    }
  }

  /**
   * Opens the configured database (once per command). Only `db migrate` creates a SQLite file that is
   * not there (`create`); every command but `db migrate` and `db status` refuses a database with
   * migrations pending (`requireMigrated`), naming it, instead of failing on a missing table.
   */
  db(options: { create?: boolean; requireMigrated?: boolean } = {}): Db {
    this._db ??= openDb(this.config.database.url, {
      busyTimeoutMs: this.config.database.busyTimeoutMs,
      poolMax: this.config.database.poolMax,
      create: options.create ?? false,
      requireMigrated: options.requireMigrated ?? true,
    });
    return this._db;
  }

  async close(): Promise<void> {
    await this._db?.close();
    this._db = undefined;
  }
}

/** Wraps a command action: context in, exit code out (see cli/main.ts). */
export type ActionRunner = (
  fn: (ctx: CommandContext, ...args: never[]) => Promise<number | void>,
) => (...args: unknown[]) => Promise<void>;
