import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from './main.js';
import { openDb } from '../db/connection.js';
import { Ledger } from '../ledger/ledger.js';
import { insertMember } from '../ledger/members.js';
import { Accounts } from '../ledger/accounts.js';
import { MIGRATION_NAMES } from '../db/migrate.js';

const example = readFileSync(resolve(import.meta.dirname, '../examples/redeye.config.yaml'), 'utf8');

async function redeye(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'redeye', ...args], {
    output: { out: (s) => out.push(s), err: (s) => err.push(s) },
    env,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('the redeye command', () => {
  let dir: string;
  let config: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-cli-'));
    config = join(dir, 'redeye.config.yaml');
    writeFileSync(config, example.replace('sqlite:../var/redeye.sqlite', 'sqlite:./var/redeye.sqlite'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('db migrate creates the SQLite file readable by its owner only, then db status lists what is applied', async () => {
    const migrated = await redeye(['--config', config, 'db', 'migrate']);
    expect(migrated.code).toBe(0);
    expect(migrated.out).toContain(
      `applied ${MIGRATION_NAMES.length} migration(s): ${MIGRATION_NAMES.join(', ')}`,
    );
    const file = join(dir, 'var', 'redeye.sqlite');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'var')).mode & 0o777).toBe(0o700);
    const again = await redeye(['--config', config, 'db', 'migrate']);
    expect(again.out).toMatch(/already up to date/);
    const status = await redeye(['--config', config, 'db', 'status']);
    expect(status.out).toMatch(/applied\s+001_ledger/);
  });

  it('ledger check succeeds on a new database and prints each invariant it verified', async () => {
    await redeye(['--config', config, 'db', 'migrate']);
    const r = await redeye(['--config', config, 'ledger', 'check']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ok\s+every posting has at least two entries/);
    expect(r.out).toMatch(/all invariants hold/);
  });

  it('ledger check exits 1 and names the account when a balance was tampered with', async () => {
    await redeye(['--config', config, 'db', 'migrate']);
    const db = openDb(`sqlite:${join(dir, 'var', 'redeye.sqlite')}`);
    await insertMember(db.knex, { number: '1000000016', status: 'ACTIVE', tier: 'MEMBER' });
    await new Ledger(db).post([
      {
        key: 'A1',
        kind: 'ACCRUAL',
        businessDate: '2026-11-26',
        entries: [
          { account: Accounts.memberPoints('1000000016'), amount: 1200, expiresOn: '2029-11-30' },
          { account: Accounts.ownFlights, amount: -1200 },
        ],
      },
    ]);
    await db.knex('accounts').where({ code: 'MEMBER:1000000016:PTS' }).update({ balance: 5 });
    await db.close();
    const r = await redeye(['--config', config, 'ledger', 'check']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/MEMBER:1000000016:PTS: balance 5, entries sum to 1200/);
  });

  it('member show prints balance, tier, lots and statement', async () => {
    await redeye(['--config', config, 'db', 'migrate']);
    const db = openDb(`sqlite:${join(dir, 'var', 'redeye.sqlite')}`);
    await insertMember(db.knex, {
      number: '1000000016',
      status: 'ACTIVE',
      tier: 'SILVER',
      tierSince: '2026-05-01',
    });
    await new Ledger(db).post([
      {
        key: 'A1',
        kind: 'ACCRUAL',
        businessDate: '2026-11-26',
        channel: 'OWN_FLIGHTS',
        sourceRef: 'XX101/28MAY DME-LED',
        entries: [
          { account: Accounts.memberPoints('1000000016'), amount: 1200, expiresOn: '2029-11-30' },
          { account: Accounts.ownFlights, amount: -1200 },
        ],
      },
    ]);
    await db.close();
    const r = await redeye(['--config', config, 'member', 'show', '1000000016']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('tier SILVER since 2026-05-01');
    expect(r.out).toContain('balance 1,200 points');
    expect(r.out).toMatch(/2026-11-26\s+2029-11-30\s+1,200\s+1,200/);
    expect(r.out).toMatch(/XX101\/28MAY DME-LED\s+1,200\s+1,200/);
    const unknown = await redeye(['--config', config, 'member', 'show', '9999999999']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/MEMBER_UNKNOWN/);
  });

  it('exits 2 with every problem listed when the configuration is invalid', async () => {
    writeFileSync(config, example.replace('baseCurrency: USD', 'baseCurrency: usd'));
    const r = await redeye(['--config', config, 'db', 'migrate']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/program\.baseCurrency \(line \d+\): expected an ISO 4217 currency code/);
  });

  it('exits 2 for a missing configuration file and for an unknown command', async () => {
    expect((await redeye(['--config', join(dir, 'nope.yaml'), 'db', 'status'])).code).toBe(2);
    expect((await redeye(['frobnicate'])).code).toBe(2);
    const help = await redeye(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/ledger/);
  });

  it('prints the version of the package with --version, exit 0, without a configuration', async () => {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const r = await redeye([flag]);
      expect(r).toMatchObject({ code: 0, out: pkg.version });
    }
  });

  it('refuses an unknown log level from --log-level or REDEYE_LOG_LEVEL before any command runs (exit 2), logging or not', async () => {
    await redeye(['--config', config, 'db', 'migrate']);
    const levels = 'debug, info, warn, error, silent';
    for (const args of [
      ['run', 'tiers', '--date', '2026-11-26'],
      ['ledger', 'check'],
    ]) {
      const flag = await redeye(['--config', config, '--log-level', 'loud', ...args]);
      expect(flag, args.join(' ')).toMatchObject({ code: 2, out: '' });
      expect(flag.err).toBe(`error [USAGE]: --log-level must be one of ${levels}; got "loud"`);
      const variable = await redeye(['--config', config, ...args], { REDEYE_LOG_LEVEL: 'loud' });
      expect(variable, args.join(' ')).toMatchObject({ code: 2, out: '' });
      expect(variable.err).toBe(`error [USAGE]: REDEYE_LOG_LEVEL must be one of ${levels}; got "loud"`);
    }
    // Known levels run; an empty variable is no variable.
    expect((await redeye(['--config', config, '--log-level', 'warn', 'ledger', 'check'])).code).toBe(0);
    expect((await redeye(['--config', config, 'ledger', 'check'], { REDEYE_LOG_LEVEL: '' })).code).toBe(0);
    expect((await redeye(['--config', config, 'ledger', 'check'], { REDEYE_LOG_LEVEL: 'silent' })).code).toBe(
      0,
    );
  });
});
