/**
 * One database seam for both engines. SQLite (better-sqlite3) is the embedded default: a single file
 * under ./var, WAL, synchronous=NORMAL, foreign keys on, a busy timeout, and write transactions that
 * take the write lock up front (BEGIN IMMEDIATE) so two processes never deadlock upgrading a read lock.
 * PostgreSQL is used when the URL says so; the same migrations and the same queries serve both.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type BetterSqlite3 from 'better-sqlite3';
import type { ClientBase, PoolClient } from 'pg';
import { BoundedCache } from '../lib/bounded-cache.js';
import { ConfigError, RedeyeError } from '../lib/errors.js';
import { databaseUrlProblem } from '../config/schema.js';
import { MIGRATION_CONFIG, MIGRATION_NAMES } from './migrate.js';

const require = createRequire(import.meta.url);

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  readonly knex: Knex;
  readonly dialect: Dialect;
  /** The URL with any password masked, for messages. */
  readonly displayUrl: string;
  /** SQLite: how long a writer waits for another process's write lock before it gives up. */
  readonly busyTimeoutMs?: number;
  /** SQLite file path (undefined on PostgreSQL or in memory). */
  readonly file?: string;
  /**
   * A write batch: one transaction whose statements each touch a bounded number of rows (a chunk of
   * inserts, one row's update). On SQLite its statement journal is kept in memory (see
   * `JOURNAL_IN_MEMORY`); migrations and anything else with table-wide statements use knex's own.
   */
  transaction<T>(fn: (trx: Knex.Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenOptions {
  busyTimeoutMs?: number;
  poolMax?: number;
  /** SQLite: open the file read-only (the simulator proves it changes nothing). */
  readonly?: boolean;
  /**
   * SQLite: create the file, and its folder, when they do not exist (the default). Commands other than
   * `db migrate` pass false: a mistyped path is then an error naming it, not a new empty database.
   */
  create?: boolean;
  /**
   * Refuse a database with migrations not applied yet (DATABASE_NOT_MIGRATED, checked when each
   * connection opens, on either engine), instead of failing later on a table that is not there.
   */
  requireMigrated?: boolean;
}

let pgTypesConfigured = false;

/**
 * pg returns int8 and dates as strings or Date objects by default; Redeye wants numbers and ISO strings.
 * A date is passed through as the server writes it, and timestamps are read as ISO text: both hold only
 * while the session's DateStyle is ISO, which `PG_SESSION` pins on every connection.
 */
function configurePgTypes(): void {
  if (pgTypesConfigured) return;
  pgTypesConfigured = true;
  // Points and minor units stay far below 2^53; counts and sums of them likewise.
  pg.types.setTypeParser(20, (v) => Number(v));
  pg.types.setTypeParser(1082, (v) => v);
  pg.types.setTypeParser(1114, (v) => new Date(`${v.replace(' ', 'T')}Z`).toISOString());
  pg.types.setTypeParser(1184, (v) => new Date(v).toISOString());
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/**
 * The URL as messages may show it: the password masked wherever it is — in the user information, up to
 * the last `@` (a password with an unescaped `@`, `/` or `?` is still the password; masking too much is
 * the safe side), and in a `password` or `sslpassword` query parameter.
 */
export function maskUrl(url: string): string {
  let shown = url;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url);
  if (scheme) {
    const start = scheme[0].length;
    const rest = url.slice(start);
    const at = rest.lastIndexOf('@');
    const colon = rest.indexOf(':');
    if (at !== -1 && colon !== -1 && colon < at)
      shown = `${url.slice(0, start)}${rest.slice(0, colon)}:***${rest.slice(at)}`;
  }
  return shown.replace(/([?&](?:ssl)?password=)[^&#]*/gi, '$1***');
}

export function openDb(url: string, options: OpenOptions = {}): Db {
  // The configuration refuses these already (naming database.url or REDEYE_DATABASE_URL); a caller
  // with a URL of its own gets the same refusal rather than a SQLite file named after the URL.
  const problem = databaseUrlProblem(url);
  if (problem !== undefined)
    throw new ConfigError(`${maskUrl(url)}: the database URL ${problem}`, [], { database: maskUrl(url) });
  return isPostgresUrl(url) ? openPostgres(url, options) : openSqlite(url, options);
}

// -------------------------------------------------------------------------------------------- SQLite

/**
 * The marker in a transaction's config that keeps its statement journal in memory.
 *
 * A statement that writes several rows (a multi-row INSERT, or an UPDATE of a foreign-key column) inside
 * a transaction keeps the prior content of every page it changes in a statement journal, so that a failing
 * row undoes only its statement. SQLite holds that journal in memory up to 64 KiB, then moves it to a
 * temporary file for the rest of the transaction — and a batch of postings passes 64 KiB at its first
 * multi-row insert. From then on every statement wrote its journal to disk: 9.4 GB of writes for 200,000
 * activities in accrue, a fifth of its time. `temp_store = MEMORY` at BEGIN keeps the journal in memory,
 * emptied as soon as no statement or savepoint needs it: at most the pages one batch changes, which the
 * page cache holds anyway.
 */
const JOURNAL_IN_MEMORY = 'redeyeStatementJournalInMemory';

/**
 * knex's SQLite transactions start with a deferred BEGIN; a second process that reads first and then
 * writes gets SQLITE_BUSY without waiting. Taking the write lock at BEGIN makes writers queue on the
 * busy timeout instead.
 */
function immediateSqliteClient(): unknown {
  type Ctor = new (...args: unknown[]) => { query(conn: unknown, sql: string): Promise<unknown> };
  const BetterSqliteClient = require('knex/lib/dialects/better-sqlite3/index.js') as new (
    ...args: unknown[]
  ) => { acquireRawConnection(): Promise<unknown> };
  const SqliteTransaction = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction.js') as Ctor;
  class ImmediateTransaction extends SqliteTransaction {
    private readonly journalInMemory: boolean;

    constructor(client: unknown, container: unknown, config: unknown, outerTx: unknown) {
      super(client, container, config, outerTx);
      // knex begins the transaction on a later tick, after the constructor.
      this.journalInMemory = (config as Record<string, unknown> | undefined)?.[JOURNAL_IN_MEMORY] === true;
    }

    async begin(conn: BetterSqlite3.Database) {
      if (!this.journalInMemory) return this.query(conn, 'BEGIN IMMEDIATE;');
      // SQLite decides where the transaction's statement journal lives when the write transaction
      // starts; sorts and temporary indexes read the setting when they run, so it goes back at once
      // (allowed inside a transaction while no TEMP table exists, and Redeye makes none).
      conn.pragma('temp_store = MEMORY');
      try {
        return await this.query(conn, 'BEGIN IMMEDIATE;');
      } finally {
        conn.pragma('temp_store = DEFAULT');
      }
    }
  }
  return class RedeyeSqliteClient extends BetterSqliteClient {
    transaction(container: unknown, config: unknown, outerTx: unknown) {
      return new ImmediateTransaction(this, container, config, outerTx);
    }

    /** A file that cannot be opened (a folder, no permission) is named in the error. */
    override async acquireRawConnection(): Promise<unknown> {
      try {
        return await super.acquireRawConnection();
      } catch (error) {
        throw unopenable(error, (this as unknown as KnexSqliteSettings).connectionSettings.filename);
      }
    }

    /**
     * knex's own `_query` prepares every statement again and lets better-sqlite3 build each row object
     * key by key; for the activities archive's 45 columns that was 18 µs a row, of which SQLite's read is
     * 7. Statements are kept per connection, and rows are read as arrays and built by a function with the
     * columns as literal keys (one object shape per column list). Everything else is knex's behaviour.
     */
    async _query(conn: BetterSqlite3.Database, obj: KnexQueryObject): Promise<KnexQueryObject> {
      if (!obj.sql) throw new Error('The query is empty');
      if (!conn) throw new Error('No connection provided');
      const self = this as unknown as KnexSqliteInternals;
      const statement = preparedOn(conn, obj.sql);
      const safeIntegers = self._optSafeIntegers(obj.options);
      if (safeIntegers !== undefined) statement.safeIntegers(safeIntegers);
      const bindings = self._formatBindings(obj.bindings);
      if (statement.reader) {
        statement.raw(true);
        const rows = statement.all(bindings) as unknown[][];
        const columns = statement.columns();
        const build = rowBuilder(columns);
        obj.response = build ? rows.map(build) : rows.map((v) => rowObject(columns, v));
        return obj;
      }
      const response = statement.run(bindings);
      obj.response = response;
      obj.context = { lastID: response.lastInsertRowid, changes: response.changes };
      return obj;
    }
  };
}

interface KnexQueryObject {
  sql: string;
  bindings?: unknown[];
  options?: unknown;
  response?: unknown;
  context?: unknown;
}

interface KnexSqliteSettings {
  connectionSettings: { filename: string };
}

interface KnexSqliteInternals {
  _optSafeIntegers(options: unknown): boolean | undefined;
  _formatBindings(bindings: unknown[] | undefined): unknown[];
}

/** Statements prepared on each connection, by SQL; cleared when it grows past a bound (multi-row inserts vary). */
const statementsOf = new WeakMap<BetterSqlite3.Database, BoundedCache<string, BetterSqlite3.Statement>>();
const MAX_STATEMENTS = 500;

function preparedOn(conn: BetterSqlite3.Database, sql: string): BetterSqlite3.Statement {
  let statements = statementsOf.get(conn);
  if (!statements) statementsOf.set(conn, (statements = new BoundedCache(MAX_STATEMENTS)));
  return statements.getOrCompute(sql, (text) => conn.prepare(text));
}

/**
 * A function making a row object from an array of column values: an object literal with fixed keys gets
 * one hidden class, where adding keys one by one does not. Kept by column list (a statement's columns
 * follow the schema, which migrations change). A repeated name keeps its last value, as better-sqlite3 does.
 */
const builders = new BoundedCache<string, (values: unknown[]) => Record<string, unknown>>(MAX_STATEMENTS);

function rowBuilder(
  columns: BetterSqlite3.ColumnDefinition[],
): ((values: unknown[]) => Record<string, unknown>) | undefined {
  const names = columns.map((c) => c.name);
  // In a literal `__proto__` would set the prototype rather than make a column.
  if (names.includes('__proto__')) return undefined;
  const key = names.join('\u0000');
  return builders.getOrCompute(key, () => {
    const body = names.map((n, i) => `${JSON.stringify(n)}: v[${i}]`).join(', ');
    return new Function('v', `return { ${body} };`) as (values: unknown[]) => Record<string, unknown>;
  });
}

function rowObject(columns: BetterSqlite3.ColumnDefinition[], values: unknown[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  columns.forEach((c, i) =>
    Object.defineProperty(row, c.name, {
      value: values[i],
      enumerable: true,
      writable: true,
      configurable: true,
    }),
  );
  return row;
}

/**
 * The database a command was pointed at is not there (a SQLite path with no file, a PostgreSQL database
 * not created), not a file (a SQLite path naming a folder), refuses the login, or is not ready for it
 * (migrations pending, or migrations of a newer version applied). Like a configuration error it needs a person to change a setting or prepare the
 * database before anything can run: exits 2. A database that is there but fails (damaged, locked, full,
 * a server not answering) is a failure: exit 1.
 */
export class DatabaseNotReadyError extends RedeyeError {
  override readonly exitCode = 2;
  constructor(
    code:
      | 'DATABASE_MISSING'
      | 'DATABASE_NOT_MIGRATED'
      | 'DATABASE_NEWER'
      | 'DATABASE_UNOPENABLE'
      | 'DATABASE_LOGIN_FAILED',
    message: string,
    database: string,
    options?: { cause?: unknown; driverCode?: string },
  ) {
    super(
      code,
      message,
      options?.driverCode === undefined ? { database } : { database, driverCode: options.driverCode },
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

/**
 * A driver failure opening the file, in words that name it (the driver says only `file is not a
 * database`). A locked or full database keeps its own error, which the query errors explain.
 */
function unopenable(error: unknown, file: string): unknown {
  if (!(error instanceof Error) || error instanceof RedeyeError) return error;
  const code = (error as { code?: unknown }).code;
  if (databaseProblem(code, { displayUrl: `sqlite:${file}` }) !== undefined) return error;
  const hint =
    code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
      ? ': it is not a SQLite database, or it is damaged'
      : code === 'SQLITE_CANTOPEN'
        ? ': check that the path names a file and that this user may read and write it and its folder'
        : '';
  return new RedeyeError(
    typeof code === 'string' ? code : 'DATABASE_UNOPENABLE',
    `cannot open the database ${file} (${error.message})${hint}`,
    { database: `sqlite:${file}` },
    { cause: error },
  );
}

/** The names of the migrations recorded as applied in the database on `conn` (none when it was never migrated). */
function appliedMigrations(conn: BetterSqlite3.Database): string[] {
  const table = conn
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?")
    .get(MIGRATION_CONFIG.tableName);
  return table
    ? (conn.prepare(`SELECT name FROM ${MIGRATION_CONFIG.tableName}`).all() as Array<{ name: string }>).map(
        (r) => r.name,
      )
    : [];
}

/** The same on PostgreSQL, in the schema the connection's search path names. */
async function appliedPgMigrations(conn: ClientBase): Promise<string[]> {
  const table = await conn.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    MIGRATION_CONFIG.tableName,
  ]);
  return table.rows[0]?.present
    ? (await conn.query<{ name: string }>(`SELECT name FROM ${MIGRATION_CONFIG.tableName}`)).rows.map(
        (r) => r.name,
      )
    : [];
}

/**
 * What stands between this version and the database: migrations of this version not applied yet, and
 * applied migrations this version does not know (a newer Redeye applied them).
 */
function compareMigrations(applied: string[]): { pending: string[]; unknown: string[] } {
  const names = new Set(applied);
  const known = new Set(MIGRATION_NAMES);
  return {
    pending: MIGRATION_NAMES.filter((name) => !names.has(name)),
    unknown: applied.filter((name) => !known.has(name)).sort(),
  };
}

/**
 * The checks each new connection makes. A database a newer Redeye migrated is refused whatever the
 * command, `db migrate` and `db status` included: its tables are not the ones this version's queries
 * and migrations were written for (a NOT NULL column it would not fill, a table it would not keep), and
 * this version cannot roll back what it does not know.
 */
function checkMigrations(
  applied: string[],
  where: string,
  database: string,
  requireMigrated: boolean | undefined,
): void {
  const { pending, unknown } = compareMigrations(applied);
  if (unknown.length > 0) throw migratedByNewer(where, database, unknown);
  if (requireMigrated === true && pending.length > 0) throw notMigrated(where, database, pending);
}

/** A database with `pending` migrations, refused: the command would fail later on a missing table. */
function notMigrated(where: string, database: string, pending: string[]): DatabaseNotReadyError {
  return new DatabaseNotReadyError(
    'DATABASE_NOT_MIGRATED',
    `the database ${where} is not migrated: run \`redeye db migrate\`` +
      (pending.length === MIGRATION_NAMES.length
        ? ' (it has none of the migrations)'
        : ` (pending: ${pending.join(', ')})`),
    database,
  );
}

/** A database holding migrations this version does not know, refused before anything reads or writes it. */
function migratedByNewer(where: string, database: string, unknown: string[]): DatabaseNotReadyError {
  return new DatabaseNotReadyError(
    'DATABASE_NEWER',
    `the database ${where} was migrated by a newer Redeye (unknown: ${unknown.join(', ')}): ` +
      'install the version that applied them, or a later one; nothing was done',
    database,
  );
}

/**
 * Refuses `db` if a newer Redeye has migrated it since its connection opened (each connection is
 * checked as it opens, and a SQLite connection stays open for the life of the process): what a daemon
 * started before the upgrade checks before each run.
 */
export async function refuseNewerDatabase(db: Db): Promise<void> {
  const applied = (await db.knex.schema.hasTable(MIGRATION_CONFIG.tableName))
    ? (await db.knex(MIGRATION_CONFIG.tableName).select('name')).map((r: { name: string }) => r.name)
    : [];
  checkMigrations(applied, db.file === undefined ? db.displayUrl : `at ${db.file}`, db.displayUrl, false);
}

/**
 * knex prints a failed connection's stack to stdout before it hands the error over; the error itself
 * (naming the database) is what the command reports.
 */
const quietAcquireErrors = {
  warn: (message: string) => {
    if (!String(message).startsWith('Acquire connection error')) console.warn(message);
  },
};

function openSqlite(url: string, options: OpenOptions): Db {
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  const inMemory = file === ':memory:' || file === '';
  const readonly = options.readonly === true && !inMemory;
  // Only `db migrate` makes a database: anything else finding none was pointed at the wrong place.
  if (!inMemory && (readonly || options.create === false) && !existsSync(file))
    throw new DatabaseNotReadyError(
      'DATABASE_MISSING',
      `there is no database at ${file}: check database.url in the configuration and REDEYE_DATABASE_URL, ` +
        'or create it with `redeye db migrate`',
      `sqlite:${file}`,
    );
  if (!inMemory && !readonly) {
    const dir = dirname(file);
    // Personal data lives in this file: the folder and the file are the owner's alone.
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  }
  // Only a file is made the owner's alone: a URL naming a folder (`sqlite:/tmp`) once took /tmp's
  // permissions away from every other user of the machine. A path naming something else than a file is
  // a setting to correct, as a path naming nothing is (DATABASE_MISSING): exit 2, read-only or not.
  if (!inMemory && !statSync(file).isFile())
    throw new DatabaseNotReadyError(
      'DATABASE_UNOPENABLE',
      `cannot open the database ${file}: it is not a file (check database.url and REDEYE_DATABASE_URL)`,
      `sqlite:${file}`,
    );
  if (!inMemory && !readonly) chmodSync(file, 0o600);
  const busyTimeout = options.busyTimeoutMs ?? 10_000;
  const displayUrl = `sqlite:${inMemory ? ':memory:' : file}`;
  const knex = knexFactory({
    client: immediateSqliteClient() as Knex.Config['client'],
    connection: { filename: inMemory ? ':memory:' : file, options: { readonly } },
    useNullAsDefault: true,
    // A failed statement's message carries the SQL with placeholders, never its values (see below).
    compileSqlOnError: false,
    pool: {
      min: 1,
      max: 1,
      // A connection is never closed while the process runs: the ledger's prepared statements live on it.
      idleTimeoutMillis: 2_147_483_647,
      afterCreate: (conn: BetterSqlite3.Database, done: (err: Error | null, conn: unknown) => void) => {
        const migrated = () =>
          checkMigrations(appliedMigrations(conn), `at ${file}`, displayUrl, options.requireMigrated);
        try {
          if (readonly) {
            conn.pragma(`busy_timeout = ${busyTimeout}`);
            migrated();
            done(null, conn);
            return;
          }
          if (!inMemory) conn.pragma('journal_mode = WAL');
          // A night writes in large batches: checkpoint (and fsync) every ~40 MB of WAL rather than every
          // 4 MB, and trim the WAL file back after a checkpoint so it does not keep its peak size.
          conn.pragma('wal_autocheckpoint = 10000');
          conn.pragma('journal_size_limit = 67108864');
          conn.pragma('synchronous = NORMAL');
          // A batch of postings dirties pages all over the indexes; with the default 2 MB cache SQLite
          // spills them to the WAL before the commit, and writes many twice. 64 MB keeps a batch's pages
          // until it commits: accrue took 28% less time over 300,000 activities, 10% over a million.
          conn.pragma('cache_size = -65536');
          conn.pragma('foreign_keys = ON');
          conn.pragma(`busy_timeout = ${busyTimeout}`);
          migrated();
          done(null, conn);
        } catch (error) {
          // The pool keeps no connection that failed here: close the file, and name it in the error.
          try {
            conn.close();
          } catch {
            // Already unusable: the error below is what matters.
          }
          done(unopenable(error, file) as Error, conn);
        }
      },
    },
    log: quietAcquireErrors,
  });
  readableQueryErrors(knex, { displayUrl, busyTimeoutMs: busyTimeout });
  return {
    knex,
    dialect: 'sqlite',
    displayUrl,
    busyTimeoutMs: busyTimeout,
    file: inMemory ? undefined : file,
    transaction: (fn) => knex.transaction(fn, { [JOURNAL_IN_MEMORY]: true } as Knex.TransactionConfig),
    close: () => knex.destroy(),
  };
}

// -------------------------------------------------------------------------------------------- PostgreSQL

/**
 * Set on every PostgreSQL connection the pool opens. The session's DateStyle is otherwise whatever the
 * cluster, the database or the role says (`ALTER DATABASE … SET datestyle = 'SQL, DMY'` made a date
 * `31/05/2026` and a timestamp unreadable), and the type parsers above want ISO. TimeZone is UTC because
 * the `timestamp` parser reads a time without zone as UTC (a timestamptz cast to one takes the session's
 * zone). A SET when the connection opens rather than the `options` startup parameter, which connection
 * poolers may refuse.
 */
const PG_SESSION = "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'";

/**
 * How long a connection attempt to a server that does not answer may take before it is reported as
 * unreachable. Below knex's acquire timeout (60 s), whose message (`the pool is probably full`) would
 * send an operator looking in the wrong place.
 */
const PG_CONNECT_TIMEOUT_MS = 30_000;

/**
 * Failed connections of the knex PostgreSQL client name the database and say what is wrong. The client
 * stays knex's own `pg` (migrations ask `knex.client.config.client === 'pg'`): its instance's
 * `acquireRawConnection`, which the pool calls for every new connection, is wrapped.
 */
function nameConnectionFailures(knex: Knex, displayUrl: string): void {
  const client = knex.client as { acquireRawConnection(): Promise<unknown> };
  const acquire = client.acquireRawConnection.bind(client);
  client.acquireRawConnection = async () => {
    try {
      return await acquire();
    } catch (error) {
      throw unconnectable(error, displayUrl);
    }
  };
}

/** Network failures reaching the server, in words. */
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'the connection was refused: is PostgreSQL running and listening on that host and port?',
  ENOTFOUND: 'the host name is not known: check the host in the URL',
  EAI_AGAIN: 'the host name could not be resolved now (DNS did not answer)',
  ETIMEDOUT: 'the connection timed out: the host does not answer on that port',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ECONNRESET: 'the server closed the connection while it was being set up',
};

/**
 * A failure to connect to PostgreSQL as one line naming the database (password masked) and what is
 * wrong, with a stable code: DATABASE_UNREACHABLE (exit 1: the server is down or not reachable, the same
 * settings work once it is back), DATABASE_LOGIN_FAILED (28P01 wrong password, 28000 a role or
 * pg_hba.conf refusing it: exit 2, a setting to correct) and DATABASE_MISSING (3D000: exit 2, as for a
 * SQLite path with no file). The driver's code stays in the context; anything else is returned as is.
 */
function unconnectable(error: unknown, displayUrl: string): unknown {
  if (!(error instanceof Error) || error instanceof RedeyeError) return error;
  const code = (error as { code?: unknown }).code;
  const options = { cause: error, driverCode: typeof code === 'string' ? code : undefined };
  const where = `the database ${displayUrl}`;
  if (typeof code === 'string' && UNREACHABLE[code] !== undefined)
    return new RedeyeError(
      'DATABASE_UNREACHABLE',
      `cannot connect to ${where}: ${UNREACHABLE[code]}`,
      { database: displayUrl, driverCode: code },
      { cause: error },
    );
  if (error.message === 'timeout expired')
    return new RedeyeError(
      'DATABASE_UNREACHABLE',
      `cannot connect to ${where}: no answer within ${PG_CONNECT_TIMEOUT_MS / 1000} s`,
      { database: displayUrl, driverCode: 'ETIMEDOUT' },
      { cause: error },
    );
  if (code === '28P01' || code === '28000')
    return new DatabaseNotReadyError(
      'DATABASE_LOGIN_FAILED',
      `cannot log in to ${where}: ${error.message} (` +
        (code === '28P01'
          ? 'check the user and password in database.url or REDEYE_DATABASE_URL'
          : "the server's pg_hba.conf or the role does not allow this login") +
        ')',
      displayUrl,
      options,
    );
  if (code === '3D000')
    return new DatabaseNotReadyError(
      'DATABASE_MISSING',
      `${where} does not exist on that server: check the database name in database.url and REDEYE_DATABASE_URL, ` +
        'or create it (createdb) and run `redeye db migrate`',
      displayUrl,
      options,
    );
  return error;
}

function openPostgres(url: string, options: OpenOptions): Db {
  configurePgTypes();
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  const knex = knexFactory({
    client: 'pg',
    connection: { connectionString: parsed.toString(), connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS },
    searchPath: schema ? [schema] : undefined,
    pool: {
      min: 0,
      max: options.poolMax ?? 4,
      afterCreate: (
        conn: ClientBase & { end(): Promise<void> },
        done: (err: Error | null, conn: unknown) => void,
      ) => {
        const ready = async () => {
          await conn.query(PG_SESSION);
          checkMigrations(
            await appliedPgMigrations(conn),
            maskUrl(url),
            maskUrl(url),
            options.requireMigrated,
          );
        };
        ready().then(
          () => done(null, conn),
          (error: unknown) =>
            // The pool does not close a connection its afterCreate refused.
            void conn.end().then(
              () => done(error as Error, conn),
              () => done(error as Error, conn),
            ),
        );
      },
    },
    compileSqlOnError: false,
    log: quietAcquireErrors,
  });
  nameConnectionFailures(knex, maskUrl(url));
  readableQueryErrors(knex, { displayUrl: maskUrl(url) });
  return {
    knex,
    dialect: 'postgres',
    displayUrl: maskUrl(url),
    transaction: (fn) => knex.transaction(fn),
    close: () => knex.destroy(),
  };
}

/**
 * The better-sqlite3 handle behind a knex transaction (or the root knex), for the ledger's hot path:
 * prepared statements run synchronously inside the caller's transaction.
 */
export async function sqliteHandle(trx: Knex | Knex.Transaction): Promise<BetterSqlite3.Database> {
  const client = trx.client as {
    acquireConnection(): Promise<BetterSqlite3.Database>;
    releaseConnection(c: unknown): Promise<void>;
  };
  const conn = await client.acquireConnection();
  // For a transaction this is a no-op; for the root knex the pool keeps its single connection alive.
  await client.releaseConnection(conn);
  return conn;
}

interface PgKnexClient {
  acquireConnection(): Promise<PoolClient>;
  releaseConnection(c: unknown): Promise<void>;
}

/**
 * The pg connection behind a knex transaction (its own, nothing to release), or from the root knex one
 * taken from the pool, to hand back with `releasePgConnection`. Queries on it send an array binding as
 * one array (knex would spread it into a list) and keep session state (advisory locks) on that session.
 */
export async function pgConnection(q: Knex | Knex.Transaction): Promise<PoolClient> {
  return (q.client as PgKnexClient).acquireConnection();
}

/** Hands a connection `pgConnection` took from the root knex back to the pool. */
export async function releasePgConnection(q: Knex | Knex.Transaction, conn: PoolClient): Promise<void> {
  await (q.client as PgKnexClient).releaseConnection(conn);
}

// -------------------------------------------------------------------------------------------- errors

/** Driver codes of a database another process holds, and of a database that cannot grow. */
const LOCKED_CODES = new Set([
  'SQLITE_BUSY',
  'SQLITE_BUSY_RECOVERY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_BUSY_TIMEOUT',
  'SQLITE_LOCKED',
  'SQLITE_LOCKED_SHAREDCACHE',
  '55P03', // PostgreSQL lock_not_available
]);
const FULL_CODES = new Set(['SQLITE_FULL', '53100' /* PostgreSQL disk_full */]);

/** What an operator can act on, in words, naming the database; undefined for any other failure. */
function databaseProblem(
  code: unknown,
  db: { displayUrl: string; busyTimeoutMs?: number },
): string | undefined {
  if (typeof code !== 'string') return undefined;
  if (LOCKED_CODES.has(code)) {
    const waited = db.busyTimeoutMs !== undefined ? `, gave up after waiting ${db.busyTimeoutMs} ms` : '';
    return `the database ${db.displayUrl} is locked by another process${waited}`;
  }
  if (FULL_CODES.has(code))
    return `the database ${db.displayUrl} is full: it cannot grow (the disk is full or a size limit is reached)`;
  return undefined;
}

/** The statement's kind and table (`insert into files`), never its values. */
function operationOf(sql: string): string {
  const text = sql.trim().replace(/\s+/g, ' ');
  const write = /^(insert into|update|delete from|replace into)\s+[`"]?([\w.]+)/i.exec(text);
  if (write) return `${write[1]!.toLowerCase()} ${write[2]}`;
  const read = /^(select|with)\b.*?\bfrom\s+[`"(]?([\w.]+)/i.exec(text);
  if (read) return `select from ${read[2]}`;
  return text.split(/[\s;(]/)[0]!.toLowerCase() + (/^begin immediate/i.test(text) ? ' immediate' : '');
}

const explained = new WeakSet<object>();

/**
 * knex puts the whole failed statement before the driver's message. With its values filled in that is
 * unreadable for a batch insert and would carry members' data into logs and run records; even without
 * them it hides what went wrong. The message becomes the driver's (or, for a locked or full database,
 * what is wrong and with which database), then the statement's kind and table. The error keeps its
 * class and driver code.
 */
function readableQueryErrors(knex: Knex, db: { displayUrl: string; busyTimeoutMs?: number }): void {
  knex.on('query-error', (error: unknown, query: { sql?: unknown } | undefined) => {
    if (!(error instanceof Error) || explained.has(error)) return;
    explained.add(error);
    const sql = typeof query?.sql === 'string' ? query.sql : '';
    const prefix = `${sql} - `;
    const driver =
      sql !== '' && error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
    const problem = databaseProblem((error as { code?: unknown }).code, db);
    error.message = sql === '' ? (problem ?? driver) : `${problem ?? driver} (${operationOf(sql)})`;
  });
}

/**
 * A database failure that did not come through knex (the ledger's prepared statements) in the same
 * words: which database, and whether it is locked or full. Anything else is returned as it is.
 */
export function explainDatabaseError(error: unknown, db: Db): unknown {
  if (!(error instanceof Error) || error instanceof RedeyeError || explained.has(error)) return error;
  const code = (error as { code?: unknown }).code;
  const problem = databaseProblem(code, db);
  if (problem === undefined) return error;
  explained.add(error);
  return new RedeyeError(String(code), problem, { database: db.displayUrl }, { cause: error });
}
