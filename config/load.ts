/**
 * Loads the configuration once, validates it as a whole and hands it down as a typed object.
 * Every problem is reported at once, each with its path in the file and its line, so an operator
 * fixes the file in one pass instead of one error per start.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../lib/errors.js';
import { configSchema, databaseUrlProblem, type Config } from './schema.js';
import { didYouMean, knownKeys } from './suggest.js';

export const DEFAULT_CONFIG_FILE = 'redeye.config.yaml';

export interface LoadedConfig extends Config {
  /** Absolute path of the file this configuration was read from. */
  configPath: string;
  /** Relative paths in the file are resolved against its folder. */
  configDir: string;
}

export interface LoadOptions {
  /** Explicit path (the `--config` option); else REDEYE_CONFIG; else ./redeye.config.yaml. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function findConfigPath(options: LoadOptions = {}): string {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  // Empty is unset, as for every REDEYE_* variable: resolved, '' would name the working folder.
  const fromEnv = env.REDEYE_CONFIG || undefined;
  const candidate = options.path ?? fromEnv ?? DEFAULT_CONFIG_FILE;
  const full = resolve(cwd, candidate);
  const how = options.path ? '--config' : fromEnv ? 'REDEYE_CONFIG' : 'the default location';
  if (!existsSync(full)) {
    throw new ConfigError(
      `configuration file not found: ${full} (from ${how}). ` +
        `Copy examples/redeye.config.yaml to ${DEFAULT_CONFIG_FILE}, or pass --config <file>.`,
      [],
      { file: full },
    );
  }
  if (!statSync(full).isFile())
    throw new ConfigError(`configuration path ${full} (from ${how}) is not a file`, [], { file: full });
  return full;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const path = findConfigPath(options);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    // Unreadable (permissions, a vanished mount) is the configuration's fault to the operator: exit 2,
    // naming the file, rather than a bare system error.
    const code = (e as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ConfigError(`configuration file ${path} cannot be read (${code})`, [], { file: path });
  }
  return parseConfig(text, path, options.env ?? process.env);
}

/** Parses and validates configuration text; `path` names the file in errors and anchors relative paths. */
export function parseConfig(text: string, path: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      `configuration file ${path} is not valid YAML`,
      doc.errors.map((e) => ({
        path: '',
        line: e.linePos?.[0]?.line,
        message: e.message.split('\n')[0] ?? e.message,
      })),
      { file: path },
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.flatMap((issue) => toProblems(issue, doc, lineCounter, raw));
    throw new ConfigError(`configuration file ${path} has ${problems.length} problem(s)`, problems, {
      file: path,
    });
  }
  const configDir = dirname(path);
  const config = result.data;
  const envUrl = env.REDEYE_DATABASE_URL;
  if (envUrl && envUrl.length > 0) {
    // The file's `database.url` was checked with the rest of the file; the variable that overrides it
    // is checked here, and named, since it is not in the file.
    const problem = databaseUrlProblem(envUrl);
    if (problem !== undefined)
      throw new ConfigError(`REDEYE_DATABASE_URL: the database URL ${problem}`, [], {
        variable: 'REDEYE_DATABASE_URL',
      });
  }
  config.database.url = resolveDatabaseUrl(
    envUrl && envUrl.length > 0 ? envUrl : config.database.url,
    configDir,
  );
  config.paths = {
    var: resolve(configDir, config.paths.var),
    landing: resolve(configDir, config.paths.landing),
    outbox: resolve(configDir, config.paths.outbox),
    reports: resolve(configDir, config.paths.reports),
  };
  for (const t of Object.values(config.transports)) {
    if (t.type === 'local') t.root = resolve(configDir, t.root);
  }
  if (!config.program.carriers) config.program.carriers = [config.program.code];
  return { ...config, configPath: path, configDir };
}

/** SQLite URLs may be relative (`sqlite:./var/redeye.sqlite`): anchor them at the config's folder. */
export function resolveDatabaseUrl(url: string, baseDir: string): string {
  if (/^postgres(ql)?:\/\//.test(url)) return url;
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (file === ':memory:') return 'sqlite::memory:';
  return `sqlite:${isAbsolute(file) ? file : resolve(baseDir, file)}`;
}

function toProblems(
  issue: z.core.$ZodIssue,
  doc: Document,
  lineCounter: LineCounter,
  raw: unknown,
): ConfigProblem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'invalid_union') {
    // A setting written in one of several forms (`expiry`: one policy or a list of versions): the form
    // whose shape the value has says what is wrong inside it, at its own path.
    const shaped = issue.errors.filter(
      (branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0),
    );
    if (shaped.length === 1)
      return shaped[0]!.flatMap((i) =>
        toProblems({ ...i, path: [...path, ...i.path] }, doc, lineCounter, raw),
      );
  }
  if (issue.code === 'unrecognized_keys') {
    // A misspelt key would otherwise be dropped without a word (`capPerperiod` would lift a cap):
    // each is a problem of its own, at its own line, with the key it most likely meant.
    const known = knownKeys(configSchema, path, raw);
    return issue.keys.map((key) => ({
      path: formatPath([...path, key]),
      line: lineOf(doc, lineCounter, [...path, key]),
      message:
        `unknown key "${key}"` +
        (didYouMean(key, known) ||
          (known.length > 0 ? ` (known here: ${[...known].sort().join(', ')})` : '')),
    }));
  }
  return [{ path: formatPath(path), line: lineOf(doc, lineCounter, path), message: issue.message }];
}

export function formatPath(path: (string | number)[]): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p),
    '',
  );
}

/**
 * The line of the deepest node of `path` that exists in the file (a missing key points at its parent).
 * A key's line is where the key is written, not where its value starts (a block map begins a line below).
 */
function lineOf(doc: Document, lineCounter: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const last = path[n - 1];
    if (n > 0 && typeof last === 'string') {
      const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === last);
        if (pair && isNode(pair.key) && pair.key.range) return lineCounter.linePos(pair.key.range[0]).line;
      }
    }
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}
