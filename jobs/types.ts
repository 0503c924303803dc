/**
 * The shape every job of the night shares. A job runs for one business date, is safe to rerun (a rerun
 * changes nothing already done and writes the same files), and reports what it did as counts rather
 * than throwing into the scheduler; an exception means the step failed and the run is recorded failed.
 */
import { RedeyeError, type ErrorContext } from '../lib/errors.js';
import type { Db } from '../db/connection.js';
import type { LoadedConfig } from '../config/load.js';
import type { IsoDate } from '../lib/dates.js';
import type { Logger } from '../lib/log.js';

export interface Progress {
  /** Starts (or restarts) a bar for a phase: `files`, `records`, … */
  start(label: string, total: number): void;
  increment(by?: number): void;
  stop(): void;
}

export const noProgress: Progress = {
  start: () => undefined,
  increment: () => undefined,
  stop: () => undefined,
};

export interface JobContext {
  db: Db;
  config: LoadedConfig;
  logger: Logger;
  businessDate: IsoDate;
  /** The clock; tests and reruns pin it. Nothing written to an output file may depend on it. */
  now: () => Date;
  progress: Progress;
  /** Set when the process was asked to stop: a job finishes its current transaction and returns. */
  signal?: AbortSignal;
  /** Process environment (secrets for transports and mail). */
  env: NodeJS.ProcessEnv;
  /**
   * For a night caught up after an outage: the instant it would have run. Files the servers got after it
   * are the later nights' and fetch leaves them there, so each night lands, reads and reports its own.
   */
  filesUntil?: Date;
  /**
   * Waits `ms` (fetch's wait between two listings of a folder), or less when `signal` aborts. Default: a
   * timer. Tests replace it to make the wait instantaneous and to change a file while it lasts.
   */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * The instant the night runs as: for a night caught up after an outage, the hour it would have run
 * (`filesUntil`), else now. Fetch counts the files it lands received then, and what is judged by how long
 * something has waited (an FTL part held for the rest of its message) is judged by it, so that a night
 * caught up days later decides as the night on time would have.
 */
export function runsAs(ctx: Pick<JobContext, 'now' | 'filesUntil'>): Date {
  const now = ctx.now();
  return ctx.filesUntil && ctx.filesUntil < now ? ctx.filesUntil : now;
}

export interface JobResult {
  /** What the job did, e.g. { files: 3, records: 1200, postings: 1150, rejects: 50 }. */
  counts: Record<string, number>;
  /** Things an operator should read (e.g. a partner file sequence gap). */
  warnings?: string[];
}

/**
 * A step's failure that comes after part of its work was done and kept (a feed whose server was down
 * while the others landed their files, one upload refused among many delivered): `done` is what the step
 * did up to then. The runner records and shows it with the failure, as it would a result: dropped, the
 * failed night would hide what it did (a partner file held for a name conflict the night a transport was
 * down), and the rerun, which does not do it again, would never say it either.
 */
export class StepIncompleteError extends RedeyeError {
  constructor(
    code: string,
    message: string,
    readonly done: JobResult,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, context, options);
  }
}

export type Job = (ctx: JobContext) => Promise<JobResult>;
