/**
 * Logs go to stderr so that stdout stays for a command's own output (JSON lines of `redeye parse`,
 * tables of `redeye member show`). On a terminal they are readable lines; elsewhere (cron, CI, a log
 * shipper) one JSON object per line.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LogOptions {
  level?: LevelWithSilent;
  /** Force a format; default: pretty when stderr is a terminal. */
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? (process.env.REDEYE_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
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
