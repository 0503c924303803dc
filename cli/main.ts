/**
 * `redeye`: the command-line tool. Exit codes: 0 success, 1 failure, 2 usage or configuration error.
 * Every error is printed with its code and location (file, line, field) and nothing else is thrown past
 * this point.
 */
import { redeyeVersion } from './version.js';
import { Command, CommanderError } from 'commander';
import { coerceError, RedeyeError } from '../lib/errors.js';
import { checkLogLevel, LOG_LEVELS } from '../lib/log.js';
import { CommandContext, processOutput, type Output } from './context.js';
import { registerDb } from './commands/db.js';
import { registerLedger } from './commands/ledger.js';
import { registerFiles } from './commands/files.js';
import { registerParse } from './commands/parse.js';
import { registerDemo } from './commands/demo.js';
import { registerRun, registerSchedule } from './commands/run.js';
import { registerReport } from './commands/report.js';
import { registerRuns } from './commands/runs.js';

export interface MainOptions {
  output?: Output;
  env?: NodeJS.ProcessEnv;
}

export function buildProgram(options: MainOptions, onExit: (code: number) => void): Command {
  const output = options.output ?? processOutput;
  const env = options.env ?? process.env;
  const program = new Command('redeye')
    .description('Redeye: the nightly batch back office of an airline loyalty program')
    .option('-c, --config <file>', 'configuration file (default: $REDEYE_CONFIG or ./redeye.config.yaml)')
    .option(
      '--log-level <level>',
      `${LOG_LEVELS.join(', ')} (default: $REDEYE_LOG_LEVEL, else logging.level in the configuration)`,
    )
    .version(redeyeVersion(), '-V, --version', 'print the version of Redeye')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) })
    .exitOverride()
    // Before any command runs, whether it logs or not: a level pino does not know was an INTERNAL error
    // with a stack trace in commands that log, and taken without a word by those that do not.
    .hook('preAction', () => {
      checkLogLevel(program.opts<{ logLevel?: string }>().logLevel, '--log-level');
      checkLogLevel(env.REDEYE_LOG_LEVEL, 'REDEYE_LOG_LEVEL');
    });

  /** Wraps an action: builds the context, runs, closes the database, maps errors to exit codes. */
  const run =
    (fn: (ctx: CommandContext, ...args: never[]) => Promise<number | void>) =>
    async (...args: unknown[]): Promise<void> => {
      const ctx = new CommandContext(program.opts(), output, env);
      let code = 0;
      try {
        const result = await (fn as (ctx: CommandContext, ...a: unknown[]) => Promise<number | void>)(
          ctx,
          ...args,
        );
        code = typeof result === 'number' ? result : 0;
      } catch (error) {
        const e = coerceError(error);
        output.err(`error [${e.code}]: ${e.describe()}`);
        if (e.code === 'INTERNAL' && e.cause instanceof Error && e.cause.stack) output.err(e.cause.stack);
        code = e.exitCode;
      } finally {
        await ctx.close().catch(() => undefined);
      }
      onExit(code);
    };

  registerDb(program, run);
  registerLedger(program, run);
  registerRun(program, run);
  registerSchedule(program, run);
  registerRuns(program, run);
  registerFiles(program, run);
  registerParse(program, run);
  registerDemo(program, run);
  registerReport(program, run);
  return program;
}

export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  if (argv === process.argv) {
    // `redeye parse … | head`: a reader that stops early is not an error.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
  let exitCode = 0;
  const program = buildProgram(options, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; anything else is a usage error.
      exitCode = error.exitCode === 0 ? 0 : 2;
    } else {
      const e = error instanceof RedeyeError ? error : coerceError(error);
      (options.output ?? processOutput).err(`error [${e.code}]: ${e.describe()}`);
      exitCode = e.exitCode;
    }
  }
  if (argv === process.argv) process.exitCode = exitCode;
  return exitCode;
}
