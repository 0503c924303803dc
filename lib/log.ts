/**
 * Logs go to stderr so that stdout stays for a command's own output (JSON lines of `redeye parse`,
 * tables of `redeye member show`). On a terminal they are readable lines; elsewhere (cron, CI, a log
 * shipper) one JSON object per line.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';
import { UsageError } from './errors.js';

export type { Logger };

/**
 * The levels an operator may name: in the configuration (`logging.level`), with `--log-level` and in
 * REDEYE_LOG_LEVEL. `silent` writes no log line (scripts and tests that read only a command's output).
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * A level given on the command line or in the environment, checked before anything runs: pino would
 * otherwise fail with its own words (`default level:loud must be included in custom levels`) the first
 * time a command logs, and a command that never logs would take any value. `where` names the option or
 * the variable. An empty value is no value.
 */
export function checkLogLevel(value: string | undefined, where: string): LogLevel | undefined {
  if (value === undefined || value === '') return undefined;
  if (isLogLevel(value)) return value;
  throw new UsageError(`${where} must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(value)}`, {
    [where.startsWith('-') ? 'option' : 'variable']: where,
  });
}

export interface LogOptions {
  level?: LevelWithSilent;
  /** Force a format; default: pretty when stderr is a terminal. */
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? checkLogLevel(process.env.REDEYE_LOG_LEVEL, 'REDEYE_LOG_LEVEL') ?? 'info';
  const destination = options.destination ?? process.stderr;
  const usePretty = options.pretty ?? Boolean((destination as NodeJS.WriteStream).isTTY);
  if (usePretty) {
    return pino(
      { level, base: undefined },
      pretty({
        destination,
        colorize: true,
        translateTime: 'SYS:HH:MM:ss',
        ignore: 'pid,hostname',
        sync: true,
      }),
    );
  }
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** A logger that drops everything: for tests and library use without output. */
export const silentLogger: Logger = pino({ level: 'silent' });
