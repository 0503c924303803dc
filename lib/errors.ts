/**
 * Every failure Redeye reports carries a stable code and the context an operator needs to act on it
 * (feed, file, line, field, member, job). Unknown throws are normalised by `coerceError` at the edges,
 * so a night reports them instead of dying mid-step.
 */
export interface ErrorContext {
  feed?: string;
  file?: string;
  line?: number;
  field?: string;
  path?: string;
  member?: string;
  job?: string;
  businessDate?: string;
  [key: string]: unknown;
}

export class RedeyeError extends Error {
  /** Stable, machine-readable code (e.g. `UNBALANCED_POSTING`). */
  readonly code: string;
  readonly context: ErrorContext;
  /** Process exit code when this error ends a CLI command: 1 failure, 2 usage or configuration. */
  readonly exitCode: number = 1;

  constructor(code: string, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }

  /** The message with its location, the way an operator reads it: `file:line field: message`. */
  describe(): string {
    const where = describeLocation(this.context);
    return where ? `${where}: ${this.message}` : this.message;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, ...this.context };
  }
}

export function describeLocation(context: ErrorContext): string {
  const parts: string[] = [];
  if (context.file) parts.push(context.line !== undefined ? `${context.file}:${context.line}` : context.file);
  else if (context.line !== undefined) parts.push(`line ${context.line}`);
  if (context.path) parts.push(context.path);
  if (context.field) parts.push(`field ${context.field}`);
  return parts.join(' ');
}

/** A problem in the configuration file: exits 2 and lists every problem with its place in the file. */
export class ConfigError extends RedeyeError {
  override readonly exitCode = 2;
  readonly problems: ConfigProblem[];

  constructor(message: string, problems: ConfigProblem[] = [], context: ErrorContext = {}) {
    super('CONFIG_INVALID', message, context);
    this.problems = problems;
  }

  override describe(): string {
    if (this.problems.length === 0) return super.describe();
    const lines = this.problems.map(
      (p) => `  - ${p.path || '(root)'}${p.line !== undefined ? ` (line ${p.line})` : ''}: ${p.message}`,
    );
    return `${super.describe()}\n${lines.join('\n')}`;
  }
}

export interface ConfigProblem {
  /** Dotted path inside the configuration file, e.g. `tiers.levels[1].threshold`. */
  path: string;
  line?: number;
  message: string;
}

/**
 * Wrong use of a command (bad option, missing argument, a setting it cannot honour): exits 2. The code
 * is `USAGE` unless a more precise one is given (`UNSUPPORTED_ENCODING`).
 */
export class UsageError extends RedeyeError {
  override readonly exitCode = 2;
  constructor(message: string, context: ErrorContext = {}, options: { code?: string; cause?: unknown } = {}) {
    super(
      options.code ?? 'USAGE',
      message,
      context,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

/** Bad data in an input that must stop the current operation (as opposed to a per-record reject). */
export class InputError extends RedeyeError {
  constructor(code: string, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(code, message, context, options);
  }
}

/** Anything thrown that is not a RedeyeError becomes one, keeping the original as `cause`. */
export function coerceError(error: unknown, context: ErrorContext = {}): RedeyeError {
  if (error instanceof RedeyeError) {
    if (Object.keys(context).length > 0) Object.assign(error.context, { ...context, ...error.context });
    return error;
  }
  if (error instanceof Error) {
    const raw = (error as Error & { code?: unknown }).code;
    const code = typeof raw === 'string' ? raw : 'INTERNAL';
    return new RedeyeError(code, error.message, context, { cause: error });
  }
  return new RedeyeError('INTERNAL', String(error), context);
}
