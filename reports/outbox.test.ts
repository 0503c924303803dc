/**
 * Report mail through the outbox, against an SMTP server in the test process that can be told to
 * fail: queued once however often the night runs, retried by `redeye report send` after a failure,
 * never sent twice, and set aside (not retried every night) when every recipient is refused for good.
 */
import { startSilentSmtp } from '../test/harness/smtp-silent.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';
import type { LoadedConfig } from '../config/load.js';
import { pgConnection, releasePgConnection } from '../db/connection.js';
import { advisoryKey } from '../jobs/lock.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { buildScenario, scenarioConfig } from '../test/harness/report-scenario.js';
import { startInProcessSmtp, type InProcessSmtp } from '../test/harness/smtp-inprocess.js';
import type { ReportResult } from './common.js';
import type { Logger } from '../lib/log.js';
import {
  addressees,
  describePartlyRefused,
  outboxEntries,
  queueReportMail,
  sendOutbox,
  senderDomain,
  XLSX_CONTENT_TYPE,
} from './outbox.js';
import { produceReport } from './produce.js';

const noWait = { sleep: async () => undefined };

async function redeye(args: string[], env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'redeye', ...args], {
    output: { out: (s) => out.push(s), err: (s) => err.push(s) },
    env: { REDEYE_LOG_LEVEL: 'silent', ...env },
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The id of a process of this machine that has ended, as a killed sender's is. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

/**
 * A sender that is alive while it holds its claims: on SQLite a process of this machine that runs; on
 * PostgreSQL a session holding the mails' advisory locks, as a sender does while it sends.
 */
async function liveClaimant(t: TestDb, engine: string) {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const claimant = { host: hostname(), pid: child.pid! };
  const conn = engine === 'postgres' ? await pgConnection(t.db.knex) : undefined;
  return {
    claimant,
    hold: async (ids: Array<number | string>) => {
      for (const id of ids)
        await conn?.query('SELECT pg_advisory_lock($1::bigint)', [
          advisoryKey(`mail:${Number(id)}`).toString(),
        ]);
    },
    stop: async () => {
      if (conn) {
        await conn.query('SELECT pg_advisory_unlock_all()');
        await releasePgConnection(t.db.knex, conn);
      }
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    },
  };
}

/** A silent SMTP server (test/harness/smtp-silent.ts), and the configuration that sends to it. */
async function silentSmtp() {
  const server = await startSilentSmtp();
  return {
    port: server.port,
    connections: () => server.sockets.length,
    onClient: server.onClient,
    config: (
      base: LoadedConfig,
      mail: { greetingTimeoutSeconds?: number; retries?: number } = {},
    ): LoadedConfig => ({
      ...base,
      mail: {
        ...base.mail!,
        ...(mail.retries !== undefined ? { retries: mail.retries } : {}),
        smtp: {
          ...base.mail!.smtp,
          host: server.host,
          port: server.port,
          ...(mail.greetingTimeoutSeconds !== undefined
            ? { greetingTimeoutSeconds: mail.greetingTimeoutSeconds }
            : {}),
        },
      },
    }),
    stop: server.stop,
  };
}

describe('senderDomain', () => {
  it('takes the domain of the configured sender, with or without a display name', () => {
    expect(senderDomain('Redeye reports <redeye@Airline.Example>')).toBe('airline.example');
    expect(senderDomain('redeye@airline.example')).toBe('airline.example');
    expect(() => senderDomain('Redeye')).toThrow(/no domain/);
  });
});

describe('addressees', () => {
  const fresh = { owed: ['a@x.example'], listedTo: ['a@x.example'], deliveredTo: [] };
  it('follows the list as it is now: a corrected address in place of the one queued', () => {
    expect(addressees(fresh, ['b@x.example'])).toEqual(['b@x.example']);
  });
  it('keeps of a partly delivered mail those still owed it and listed, adds the new, and never the served', () => {
    const partly = {
      owed: ['c@x.example', 'd@x.example'],
      listedTo: ['a@x.example', 'c@x.example', 'd@x.example', 'bad@x.example'],
      deliveredTo: ['a@x.example'],
    };
    // bad@ refused for good and is still listed: not tried again; d@ left the list; e@ is new.
    expect(addressees(partly, ['a@x.example', 'bad@x.example', 'c@x.example', 'e@x.example'])).toEqual([
      'c@x.example',
      'e@x.example',
    ]);
  });
  it('does not send again to one it was delivered to who left the list and came back, whatever the case', () => {
    const back = { owed: ['c@x.example'], listedTo: ['c@x.example'], deliveredTo: ['a@x.example'] };
    expect(addressees(back, ['A@X.example', 'c@x.example', 'C@x.example'])).toEqual(['c@x.example']);
  });
  it('adds no one to a mail whose deliveries before migration 020 are not known, unless it would reach no one', () => {
    const unknown = { owed: ['c@x.example'], listedTo: ['c@x.example'], deliveredTo: null };
    expect(addressees(unknown, ['a@x.example', 'c@x.example'])).toEqual(['c@x.example']);
    expect(addressees(unknown, ['a@x.example'])).toEqual(['a@x.example']);
  });
});

/** The configuration with the report's distribution list replaced, as an operator edits it. */
function listing(config: LoadedConfig, report: string, list: string[]): LoadedConfig {
  return { ...config, mail: { ...config.mail!, lists: { ...config.mail!.lists, [report]: list } } };
}

/** A logger that keeps the warnings it is given, for the test to read. */
function warningsLogger() {
  const warnings: Array<{ details: Record<string, unknown>; message: string }> = [];
  const logger = {
    info: () => undefined,
    debug: () => undefined,
    error: () => undefined,
    warn: (details: Record<string, unknown>, message: string) => warnings.push({ details, message }),
  } as unknown as Logger;
  return { logger, warnings };
}

for (const engine of availableEngines()) {
  describe(`report mail recipients on ${engine}`, () => {
    let t: TestDb;
    let dir: string;
    let smtp: InProcessSmtp;
    let config: LoadedConfig;
    let monthly: ReportResult;
    const now = () => new Date('2026-06-01T03:00:00Z');
    const monthlyRow = () =>
      t.db.knex('mail_outbox').where({ report: 'monthly' }).first('status', 'recipients', 'last_error');

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-recipients-'));
      smtp = await startInProcessSmtp();
      config = scenarioConfig(dir, { smtp: { host: smtp.host, port: smtp.port } });
      t = await createTestDatabase(engine);
      await buildScenario(t.db, config, { from: '2026-05-25', to: '2026-05-31', members: 6, perDay: 2 });
      monthly = await produceReport('monthly', t.db, config, '2026-05-31');
    });
    afterEach(async () => {
      await t.db.knex('mail_outbox').del();
    });
    afterAll(async () => {
      await smtp.stop();
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('sends a mail refused for good for a wrong address, on --retry-failed, to the address corrected since', async () => {
      // Queued while the list had a typing error; the server refuses that mailbox for good.
      const typo = listing(config, 'monthly', ['finanse@airline.example']);
      await queueReportMail(t.db, typo, monthly, now());
      smtp.rejectRecipient('finanse@airline.example', 550);
      expect(await sendOutbox(t.db, typo, { mailerDependencies: noWait, now })).toMatchObject({
        sent: 0,
        failed: 1,
      });
      const before = smtp.messages.length;

      // The configuration file names the right addresses (commercial and finance) again.
      const retried = await redeye(['--config', config.configPath, 'report', 'send', '--retry-failed'], {
        REDEYE_DATABASE_URL: t.url,
      });
      expect(retried.err).toBe('');
      expect(retried.code).toBe(0);
      expect(retried.out.split('\n')).toEqual([
        'report mail: 1 sent, 0 failed for good, 0 pending, 1 readdressed',
        '  report mail monthly for 2026-05-31 goes to the recipients mail.lists.monthly names now (less those ' +
          'who have it): commercial@airline.example, finance@airline.example; it was to go to finanse@airline.example',
      ]);
      const received = smtp.messages.slice(before);
      expect(received.map((m) => m.envelope.to)).toEqual([
        ['commercial@airline.example', 'finance@airline.example'],
      ]);
      expect(received[0]?.parsed.messageId).toBe('<monthly-report.2026-05-31@airline.example>');
      expect(await monthlyRow()).toMatchObject({
        status: 'sent',
        recipients: '["commercial@airline.example","finance@airline.example"]',
        // Finished: the refusal is no longer owed anything, and stays on record.
        last_error: expect.stringMatching(/^not delivered to finanse@airline\.example: .*550 No such user/),
      });
    });

    it('sends what a partial delivery left to those the list still names and to new ones, never twice to one', async () => {
      await queueReportMail(t.db, config, monthly, now());
      const before = smtp.messages.length;
      // The finance mailbox is over its quota on every attempt tonight (retries: 3).
      smtp.rejectRecipient('finance@airline.example', 452, 4);
      expect(await sendOutbox(t.db, config, { mailerDependencies: noWait, now })).toMatchObject({
        sent: 0,
        pending: 1,
      });
      // The operator replaces finance with the audit mailbox, and lists commercial (who has it) again.
      const edited = listing(config, 'monthly', ['Commercial@airline.example', 'audit@airline.example']);
      const { logger, warnings } = warningsLogger();
      const second = await sendOutbox(t.db, edited, { mailerDependencies: noWait, now, logger });
      expect(second).toMatchObject({ sent: 1, pending: 0, errors: [] });
      expect(second.readdressed).toEqual([
        {
          report: 'monthly',
          businessDate: '2026-05-31',
          was: ['finance@airline.example'],
          now: ['audit@airline.example'],
        },
      ]);
      expect(warnings).toContainEqual({
        details: expect.objectContaining({
          was: ['finance@airline.example'],
          now: ['audit@airline.example'],
          deliveredTo: ['commercial@airline.example'],
        }),
        message: expect.stringMatching(/^report mail monthly for 2026-05-31 goes to the recipients/),
      });
      expect(smtp.messages.slice(before).map((m) => m.envelope.to)).toEqual([
        ['commercial@airline.example'],
        ['audit@airline.example'],
      ]);
    });

    it('marks sent, without sending, a mail whose list now names only those who have it', async () => {
      await queueReportMail(t.db, config, monthly, now());
      const before = smtp.messages.length;
      smtp.rejectRecipient('finance@airline.example', 452, 4);
      await sendOutbox(t.db, config, { mailerDependencies: noWait, now });
      const result = await sendOutbox(t.db, listing(config, 'monthly', ['commercial@airline.example']), {
        mailerDependencies: noWait,
        now,
      });
      expect(result).toMatchObject({ sent: 1, pending: 0, errors: [] });
      expect(result.readdressed).toMatchObject([{ was: ['finance@airline.example'], now: [] }]);
      expect(smtp.messages.slice(before).map((m) => m.envelope.to)).toEqual([['commercial@airline.example']]);
      expect(await monthlyRow()).toMatchObject({
        status: 'sent',
        last_error: 'not sent to finance@airline.example: no longer on mail.lists.monthly',
      });
    });

    it('tries again, by its mailbox, a recipient the list names with a display name who was refused for now', async () => {
      const named = listing(config, 'monthly', [
        'commercial@airline.example',
        'Finance <finance@airline.example>',
      ]);
      await queueReportMail(t.db, named, monthly, now());
      const before = smtp.messages.length;
      smtp.rejectRecipient('finance@airline.example', 452, 4);
      expect(await sendOutbox(t.db, named, { mailerDependencies: noWait, now })).toMatchObject({
        pending: 1,
      });
      // Still owed as the list spells it, not as the server's envelope answer spelt it.
      expect(await monthlyRow()).toMatchObject({ recipients: '["Finance <finance@airline.example>"]' });

      const second = await sendOutbox(t.db, named, { mailerDependencies: noWait, now });
      expect(second).toMatchObject({ sent: 1, pending: 0, errors: [], readdressed: [] });
      expect(smtp.messages.slice(before).map((m) => m.envelope.to)).toEqual([
        ['commercial@airline.example'],
        ['finance@airline.example'],
      ]);
      expect(await monthlyRow()).toMatchObject({ status: 'sent', last_error: null });
    });

    it('does not send again to one who has the mail when the list renames them', async () => {
      await queueReportMail(
        t.db,
        listing(config, 'monthly', ['Commercial <commercial@airline.example>', 'finance@airline.example']),
        monthly,
        now(),
      );
      const before = smtp.messages.length;
      smtp.rejectRecipient('finance@airline.example', 452, 4);
      await sendOutbox(
        t.db,
        listing(config, 'monthly', ['Commercial <commercial@airline.example>', 'finance@airline.example']),
        { mailerDependencies: noWait, now },
      );
      // The operator gives the commercial mailbox a new display name, and its address in capitals.
      const renamed = listing(config, 'monthly', [
        'Commercial desk <Commercial@Airline.example>',
        'finance@airline.example',
      ]);
      const second = await sendOutbox(t.db, renamed, { mailerDependencies: noWait, now });
      expect(second).toMatchObject({ sent: 1, pending: 0, readdressed: [] });
      expect(smtp.messages.slice(before).map((m) => m.envelope.to)).toEqual([
        ['commercial@airline.example'],
        ['finance@airline.example'],
      ]);
    });

    it('counts as sent, to no one new, a mail whose list names only those who have it, in report send', async () => {
      // Queued for an old mailbox besides the two the configuration file names; it is full tonight.
      const withOld = listing(config, 'monthly', [
        'commercial@airline.example',
        'finance@airline.example',
        'old@airline.example',
      ]);
      await queueReportMail(t.db, withOld, monthly, now());
      smtp.rejectRecipient('old@airline.example', 452, 4);
      await sendOutbox(t.db, withOld, { mailerDependencies: noWait, now });
      const before = smtp.messages.length;

      const send = await redeye(['--config', config.configPath, 'report', 'send'], {
        REDEYE_DATABASE_URL: t.url,
      });
      expect(send.err).toBe('');
      expect(send.code).toBe(0);
      expect(send.out.split('\n')).toEqual([
        'report mail: 1 sent (1 to no one new), 0 failed for good, 0 pending, 1 readdressed',
        '  report mail monthly for 2026-05-31 goes to no one new: everyone mail.lists.monthly names now has it ' +
          'or refused it for good; recorded sent (it was to go to old@airline.example)',
      ]);
      expect(smtp.messages.length).toBe(before);
    });

    it('sends a mail one recipient refused for good, on --retry-failed, to the address corrected since, and to no one twice', async () => {
      // Queued and sent while the list had a typing error; the server refuses that mailbox for good.
      const typo = listing(config, 'monthly', ['commercial@airline.example', 'finanse@airline.example']);
      await queueReportMail(t.db, typo, monthly, now());
      smtp.rejectRecipient('finanse@airline.example', 550);
      const before = smtp.messages.length;
      const first = await sendOutbox(t.db, typo, { mailerDependencies: noWait, now });
      expect(first).toMatchObject({ sent: 1, failed: 0, pending: 0 });
      expect(first.partlyRefused.map(describePartlyRefused)).toEqual([
        expect.stringMatching(
          /^report mail monthly for 2026-05-31 sent to 1 of 2; refused for good: finanse@airline\.example \(.*550 No such user.*\); correct mail\.lists\.monthly and run `redeye report send --retry-failed`$/,
        ),
      ]);

      // The configuration file names the right address (finance): report send says so, sends nothing.
      const env = { REDEYE_DATABASE_URL: t.url };
      const listed = await redeye(['--config', config.configPath, 'report', 'send'], env);
      expect(listed.code).toBe(1);
      expect(listed.out.split('\n')).toEqual([
        'report mail: 0 sent, 0 failed for good, 0 pending, 1 partly refused',
        expect.stringMatching(
          /^ {2}report mail monthly for 2026-05-31 sent to 1 of 2; refused for good: finanse@airline\.example \(.*\); mail\.lists\.monthly now names finance@airline\.example, who has not had it: `redeye report send --retry-failed` sends it to them$/,
        ),
      ]);
      expect(smtp.messages.length).toBe(before + 1);

      const retried = await redeye(['--config', config.configPath, 'report', 'send', '--retry-failed'], env);
      expect(retried.err).toBe('');
      expect(retried.code).toBe(0);
      expect(retried.out.split('\n')).toEqual([
        'report mail: 1 sent, 0 failed for good, 0 pending, 1 readdressed',
        '  report mail monthly for 2026-05-31 goes to the recipients mail.lists.monthly names now (less those ' +
          'who have it): finance@airline.example; it was to go to finanse@airline.example',
      ]);
      expect(smtp.messages.slice(before).map((m) => m.envelope.to)).toEqual([
        ['commercial@airline.example'],
        ['finance@airline.example'],
      ]);
      // Done: nothing more to send or to say, however often it is asked.
      const again = await redeye(['--config', config.configPath, 'report', 'send', '--retry-failed'], env);
      expect(again.out).toBe('report mail: 0 sent, 0 failed for good, 0 pending');
      expect(again.code).toBe(0);
      expect(smtp.messages.length).toBe(before + 2);
    });

    it('closes a partly refused mail once its list names no one owed it: one who joins the list later is not owed it', async () => {
      const typo = listing(config, 'monthly', ['commercial@airline.example', 'finanse@airline.example']);
      await queueReportMail(t.db, typo, monthly, now());
      smtp.rejectRecipient('finanse@airline.example', 550);
      const before = smtp.messages.length;
      expect((await sendOutbox(t.db, typo, { mailerDependencies: noWait, now })).partlyRefused).toHaveLength(
        1,
      );
      // The operator takes the wrong address out: the run finds no one owed the mail, and closes it.
      const done = await sendOutbox(t.db, listing(config, 'monthly', ['commercial@airline.example']), {
        mailerDependencies: noWait,
        now,
      });
      expect(done).toMatchObject({ sent: 0, pending: 0, errors: [], partlyRefused: [] });
      const closed = await t.db
        .knex('mail_outbox')
        .where({ report: 'monthly' })
        .first('refused_to', 'last_error');
      expect(closed.refused_to).toBeNull();
      expect(closed.last_error).toMatch(/^not delivered to finanse@airline\.example: .*550 No such user/);

      // Later finance joins the list (the configuration file names it): nothing is owed, listed or sent.
      const env = { REDEYE_DATABASE_URL: t.url };
      for (const args of [
        ['report', 'send'],
        ['report', 'send', '--retry-failed'],
      ]) {
        const run = await redeye(['--config', config.configPath, ...args], env);
        expect(run.err).toBe('');
        expect(run.out).toBe('report mail: 0 sent, 0 failed for good, 0 pending');
        expect(run.code).toBe(0);
      }
      expect(smtp.messages.slice(before).map((m) => m.envelope.to)).toEqual([['commercial@airline.example']]);
      expect(await monthlyRow()).toMatchObject({ status: 'sent' });
    });

    it('sends a partly refused mail, while open, to the address corrected since, once, and then closes it', async () => {
      const typo = listing(config, 'monthly', ['commercial@airline.example', 'finanse@airline.example']);
      await queueReportMail(t.db, typo, monthly, now());
      smtp.rejectRecipient('finanse@airline.example', 550);
      const before = smtp.messages.length;
      await sendOutbox(t.db, typo, { mailerDependencies: noWait, now });
      // The typo corrected in one edit: the night names the mail as owed to the corrected address.
      const corrected = listing(config, 'monthly', ['commercial@airline.example', 'finance@airline.example']);
      const night = await sendOutbox(t.db, corrected, { mailerDependencies: noWait, now });
      expect(night).toMatchObject({ sent: 0, partlyRefused: [{ added: ['finance@airline.example'] }] });

      const retried = await sendOutbox(t.db, corrected, {
        mailerDependencies: noWait,
        now,
        retryFailed: true,
      });
      expect(retried).toMatchObject({ sent: 1, pending: 0, errors: [], partlyRefused: [] });
      expect(
        await t.db.knex('mail_outbox').where({ report: 'monthly' }).first('refused_to', 'last_error'),
      ).toEqual({
        refused_to: null,
        last_error: expect.stringMatching(/^not delivered to finanse@airline\.example: .*550 No such user/),
      });

      // Closed: a colleague added next month is not owed it, however it is asked.
      const grown = listing(config, 'monthly', [
        'commercial@airline.example',
        'finance@airline.example',
        'colleague@airline.example',
      ]);
      for (const retryFailed of [false, true])
        expect(await sendOutbox(t.db, grown, { mailerDependencies: noWait, now, retryFailed })).toMatchObject(
          {
            sent: 0,
            pending: 0,
            errors: [],
            partlyRefused: [],
          },
        );
      expect(smtp.messages.slice(before).map((m) => m.envelope.to)).toEqual([
        ['commercial@airline.example'],
        ['finance@airline.example'],
      ]);
    });

    it('keeps a refusal for good through a later delivery to those refused for now, and tries it again only when asked', async () => {
      const three = listing(config, 'monthly', [
        'commercial@airline.example',
        'finance@airline.example',
        'bad@airline.example',
      ]);
      await queueReportMail(t.db, three, monthly, now());
      const before = smtp.messages.length;
      smtp.rejectRecipient('finance@airline.example', 452, 4);
      smtp.rejectRecipient('bad@airline.example', 550, 1);
      expect(await sendOutbox(t.db, three, { mailerDependencies: noWait, now })).toMatchObject({
        pending: 1,
      });
      // The next night: finance takes it; bad@ is not tried again, and is not forgotten.
      const second = await sendOutbox(t.db, three, { mailerDependencies: noWait, now });
      expect(second).toMatchObject({ sent: 1, pending: 0 });
      expect(second.partlyRefused).toMatchObject([
        { report: 'monthly', delivered: 2, refused: [{ address: 'bad@airline.example' }], added: [] },
      ]);
      // The operator asks again, the list unchanged (the mailbox has been created since): it goes to bad@.
      const retried = await sendOutbox(t.db, three, { mailerDependencies: noWait, now, retryFailed: true });
      expect(retried).toMatchObject({ sent: 1, pending: 0, partlyRefused: [], readdressed: [] });
      expect(smtp.messages.slice(before).map((m) => m.envelope.to)).toEqual([
        ['commercial@airline.example'],
        ['finance@airline.example'],
        ['bad@airline.example'],
      ]);
      expect(await t.db.knex('mail_outbox').where({ report: 'monthly' }).first('refused_to')).toEqual({
        refused_to: null,
      });
    });

    it('says what is wrong with a mail whose report was taken out of mail.lists', async () => {
      await queueReportMail(t.db, config, monthly, now());
      const { monthly: _gone, ...lists } = config.mail!.lists;
      const result = await sendOutbox(
        t.db,
        { ...config, mail: { ...config.mail!, lists } },
        { mailerDependencies: noWait, now },
      );
      expect(result).toMatchObject({ sent: 0, pending: 1 });
      expect(result.errors).toEqual([
        {
          report: 'monthly',
          businessDate: '2026-05-31',
          message:
            'mail.lists has no list for report monthly; it goes with the next run once ' +
            'mail.lists.monthly names its recipients (to close a mail no one is to have, name an archive mailbox there)',
        },
      ]);
    });

    it('keeps pending, and says so, a mail whose list names no one now', async () => {
      await queueReportMail(t.db, config, monthly, now());
      const before = smtp.connections;
      const result = await sendOutbox(t.db, listing(config, 'monthly', []), {
        mailerDependencies: noWait,
        now,
      });
      expect(result).toMatchObject({ sent: 0, pending: 1 });
      expect(result.errors.map((e) => e.message)).toEqual([
        'mail.lists.monthly names no one; it goes with the next run once mail.lists.monthly names ' +
          'its recipients (to close a mail no one is to have, name an archive mailbox there)',
      ]);
      expect(smtp.connections).toBe(before);
      expect(await monthlyRow()).toMatchObject({ status: 'pending' });
      // Named again: it goes.
      expect(await sendOutbox(t.db, config, { mailerDependencies: noWait, now })).toMatchObject({ sent: 1 });
    });
  });

  describe(`report mail outbox on ${engine}`, () => {
    let t: TestDb;
    let dir: string;
    let smtp: InProcessSmtp;
    let config: LoadedConfig;
    let daily: ReportResult;
    let monthly: ReportResult;
    const now = () => new Date('2026-06-01T03:00:00Z');

    // The ledger and the reports are made once; each test has its own server and an empty outbox, so
    // that it passes alone (`-t`) and whatever ran before it.
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-outbox-'));
      const made = scenarioConfig(dir);
      t = await createTestDatabase(engine);
      await buildScenario(t.db, made, { from: '2026-05-20', to: '2026-05-31', members: 12, perDay: 4 });
      daily = await produceReport('daily', t.db, made, '2026-05-31');
      monthly = await produceReport('monthly', t.db, made, '2026-05-31');
    });
    beforeEach(async () => {
      smtp = await startInProcessSmtp();
      // Written to the configuration file as well, which `redeye report send` reads.
      config = scenarioConfig(dir, { smtp: { host: smtp.host, port: smtp.port } });
    });
    afterEach(async () => {
      await smtp.stop();
      await t.db.knex('mail_outbox').del();
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    /** The night's two report mails, queued as the report step leaves them. */
    const queueBoth = async () => {
      await queueReportMail(t.db, config, daily, now());
      await queueReportMail(t.db, config, monthly, now());
    };

    it('queues a report once, under a Message-ID made of the report and the date', async () => {
      const first = await queueReportMail(t.db, config, daily, now());
      expect(first).toEqual({
        queued: true,
        messageId: '<daily-report.2026-05-31@airline.example>',
        recipients: ['commercial@airline.example'],
      });
      const again = await queueReportMail(t.db, config, daily, now());
      expect(again).toMatchObject({ queued: false, reason: 'already-queued', status: 'pending' });
      expect(await outboxEntries(t.db)).toEqual([
        {
          report: 'daily',
          businessDate: '2026-05-31',
          messageId: '<daily-report.2026-05-31@airline.example>',
          status: 'pending',
          attempts: 0,
          lastError: null,
        },
      ]);
    });

    it('keeps a mail pending when the server fails it, and report send delivers it later, once', async () => {
      await queueReportMail(t.db, config, daily, now());
      smtp.failNext(100, 451);
      const failed = await sendOutbox(t.db, config, { mailerDependencies: noWait, now });
      expect(failed).toMatchObject({ sent: 0, failed: 0, pending: 1 });
      expect(failed.errors[0]?.message).toMatch(/451/);
      const [entry] = await outboxEntries(t.db);
      expect(entry).toMatchObject({ status: 'pending', attempts: 1 });
      expect(entry?.lastError).toMatch(/451/);
      expect(smtp.messages).toHaveLength(0);
      // All four attempts of the mailer (retries: 3) met the failure.
      expect(smtp.refusals).toBe(4);

      smtp.failNext(0);
      const env = { REDEYE_DATABASE_URL: t.url };
      const sent = await redeye(['--config', config.configPath, 'report', 'send'], env);
      expect(sent.err).toBe('');
      expect(sent.code).toBe(0);
      expect(sent.out).toContain('report mail: 1 sent, 0 failed for good, 0 pending');
      expect(smtp.messages).toHaveLength(1);
      const [row] = await outboxEntries(t.db);
      expect(row).toMatchObject({ status: 'sent', attempts: 2, lastError: null });

      const message = smtp.messages[0]!;
      expect(message.envelope.to).toEqual(['commercial@airline.example']);
      const parsed = await simpleParser(message.raw, { keepCidLinks: true });
      expect(parsed.messageId).toBe('<daily-report.2026-05-31@airline.example>');
      expect(parsed.subject).toBe('Daily loyalty report — 2026-05-31');
      expect(parsed.html).toContain('src="cid:daily-chart@redeye"');
      const workbook = parsed.attachments.find((a) => a.filename === 'daily-2026-05-31.xlsx');
      expect(workbook?.contentType).toBe(XLSX_CONTENT_TYPE);
      expect(workbook?.content.equals(readFileSync(daily.workbookPath))).toBe(true);
      expect(
        parsed.attachments.find((a) => a.cid === 'daily-chart@redeye')?.content.equals(daily.mainChart!.png),
      ).toBe(true);

      // Sending again, and queuing again (a rerun of the night), sends nothing more.
      expect(await queueReportMail(t.db, config, daily, now())).toMatchObject({
        queued: false,
        status: 'sent',
      });
      const nothing = await redeye(['--config', config.configPath, 'report', 'send'], env);
      expect(nothing.code).toBe(0);
      expect(nothing.out).toContain('0 sent');
      expect(smtp.messages).toHaveLength(1);
    });

    it('sets a mail aside when every recipient is refused for good, until asked to retry it', async () => {
      await queueReportMail(t.db, config, monthly, now());
      smtp.rejectRecipient('finance@airline.example', 550, 1);
      smtp.rejectRecipient('commercial@airline.example', 550, 1);
      const refused = await sendOutbox(t.db, config, { mailerDependencies: noWait, now });
      expect(refused).toMatchObject({ sent: 0, failed: 1, pending: 0 });
      expect((await outboxEntries(t.db)).find((e) => e.report === 'monthly')).toMatchObject({
        status: 'failed',
      });
      const connections = smtp.connections;
      expect(await sendOutbox(t.db, config, { mailerDependencies: noWait, now })).toMatchObject({ sent: 0 });
      expect(smtp.connections).toBe(connections);
      // Not tried again, but not out of sight: report send lists it and exits 1 while it is unsent.
      const listed = await redeye(['--config', config.configPath, 'report', 'send'], {
        REDEYE_DATABASE_URL: t.url,
      });
      expect(listed.code).toBe(1);
      expect(smtp.connections).toBe(connections);
      expect(listed.out.split('\n')).toEqual([
        'report mail: 0 sent, 1 failed for good, 0 pending',
        'failed for good (not tried again):',
        expect.stringMatching(
          /^ {2}report mail monthly for 2026-05-31 to commercial@airline\.example, finance@airline\.example refused for good since 2026-06-01T03:00:00\.000Z: .*550 No such user/,
        ),
        '  `redeye report send --retry-failed` sends it again, to the recipients its mail.lists entry names then (correct a wrong address there first), once the server would take it',
      ]);

      const retried = await sendOutbox(t.db, config, { mailerDependencies: noWait, now, retryFailed: true });
      expect(retried).toMatchObject({ sent: 1, failed: 0, pending: 0 });
      const parsed = await simpleParser(smtp.messages.at(-1)!.raw);
      expect(parsed.messageId).toBe('<monthly-report.2026-05-31@airline.example>');
      expect(
        parsed.attachments
          .find((a) => a.filename === 'monthly-2026-05-31.xlsx')
          ?.content.equals(readFileSync(monthly.workbookPath)),
      ).toBe(true);
    });

    /** Marks every mail as claimed by `claimant` at `at`, as a sender mid-send leaves it. */
    const claimAll = (claimant: { host: string; pid: number } | null, at: string) =>
      t.db.knex('mail_outbox').update({
        status: 'sending',
        claim_host: claimant?.host ?? null,
        claim_pid: claimant?.pid ?? null,
        claimed_at: at,
      });

    it('takes back at once a mail whose sender was killed mid-send, and sends it under the same Message-ID', async () => {
      await queueBoth();
      await claimAll({ host: hostname(), pid: await deadPid() }, '2026-06-01T02:55:00.000Z');
      const before = smtp.messages.length;
      const result = await sendOutbox(t.db, config, { mailerDependencies: noWait, now });
      expect(result).toMatchObject({ sent: 2, failed: 0, pending: 0, held: [] });
      expect(result.reclaimed.map((c) => [c.report, c.claimedAt])).toEqual([
        ['daily', '2026-06-01T02:55:00.000Z'],
        ['monthly', '2026-06-01T02:55:00.000Z'],
      ]);
      expect(result.reclaimed[0]?.claimant).toMatch(new RegExp(`^${hostname()} pid \\d+$`));
      expect(smtp.messages.slice(before).map((m) => m.parsed.messageId)).toEqual([
        '<daily-report.2026-05-31@airline.example>',
        '<monthly-report.2026-05-31@airline.example>',
      ]);
      expect((await outboxEntries(t.db)).every((e) => e.status === 'sent')).toBe(true);
    });

    it('leaves alone a mail a live sender is sending, and says who has it', async () => {
      await queueBoth();
      const live = await liveClaimant(t, engine);
      try {
        await claimAll(live.claimant, '2026-06-01T02:55:00.000Z');
        await live.hold(await t.db.knex('mail_outbox').pluck('id'));
        const before = smtp.messages.length;
        const result = await sendOutbox(t.db, config, { mailerDependencies: noWait, now });
        expect(result).toMatchObject({ sent: 0, pending: 0, reclaimed: [] });
        expect(result.held.map((c) => [c.report, c.claimant])).toEqual([
          ['daily', `${live.claimant.host} pid ${live.claimant.pid}`],
          ['monthly', `${live.claimant.host} pid ${live.claimant.pid}`],
        ]);
        expect(smtp.messages.length).toBe(before);
        expect((await outboxEntries(t.db)).every((e) => e.status === 'sending')).toBe(true);
      } finally {
        await live.stop();
      }
    });

    if (engine === 'sqlite')
      it('takes back a claim it cannot check (another machine) only once it is an hour old', async () => {
        await queueBoth();
        await claimAll({ host: 'other-host.example', pid: 4242 }, '2026-06-01T01:00:00.000Z');
        const before = smtp.messages.length;
        const soon = () => new Date('2026-06-01T01:30:00Z');
        expect(await sendOutbox(t.db, config, { mailerDependencies: noWait, now: soon })).toMatchObject({
          sent: 0,
        });
        expect(smtp.messages.length).toBe(before);
        const later = () => new Date('2026-06-01T02:30:00Z');
        expect(await sendOutbox(t.db, config, { mailerDependencies: noWait, now: later })).toMatchObject({
          sent: 2,
        });
        expect(smtp.messages.length).toBe(before + 2);
      });

    it('leaves the mail in flight pending on a stop request, and starts no other', async () => {
      const silent = await silentSmtp();
      try {
        await queueBoth();
        const controller = new AbortController();
        silent.onClient(() => controller.abort('SIGTERM'));
        const result = await sendOutbox(t.db, silent.config(config), { now, signal: controller.signal });
        expect(result).toMatchObject({
          sent: 0,
          failed: 0,
          pending: 2,
          errors: [],
          stopped: 'stopped on request (SIGTERM)',
        });
        expect(silent.connections()).toBe(1);
        const rows = await t.db.knex('mail_outbox').orderBy('id').select('status', 'attempts', 'claim_pid');
        expect(rows).toEqual([
          { status: 'pending', attempts: 1, claim_pid: null },
          { status: 'pending', attempts: 0, claim_pid: null },
        ]);
      } finally {
        await silent.stop();
      }
    });

    it('does not try the mails after one the server did not answer at all', async () => {
      await queueBoth();
      const silent = await silentSmtp();
      try {
        const result = await sendOutbox(
          t.db,
          silent.config(config, { greetingTimeoutSeconds: 1, retries: 0 }),
          {
            now,
          },
        );
        expect(result).toMatchObject({ sent: 0, pending: 2 });
        expect(result.errors.map((e) => [e.report, e.message])).toEqual([
          ['daily', expect.stringMatching(/Greeting never received/)],
          ['monthly', 'not tried: the mail before it (daily for 2026-05-31) got no answer'],
        ]);
        // Named with each error, once: the night's failure line and report send put it before the text.
        expect(result.errors.map((e) => e.server)).toEqual([
          `127.0.0.1:${silent.port}`,
          `127.0.0.1:${silent.port}`,
        ]);
        expect(silent.connections()).toBe(1);
      } finally {
        await silent.stop();
      }
      // The server answers again: both go.
      expect(await sendOutbox(t.db, config, { mailerDependencies: noWait, now })).toMatchObject({ sent: 2 });
    });

    it('keeps a mail some recipients took pending for the others alone, and sends it to them, once', async () => {
      await queueReportMail(t.db, config, monthly, now());
      const before = smtp.messages.length;
      // Refused for now on every attempt (retries: 3): the finance mailbox is over its quota tonight.
      smtp.rejectRecipient('finance@airline.example', 452, 4);
      const first = await sendOutbox(t.db, config, { mailerDependencies: noWait, now });
      expect(first).toMatchObject({ sent: 0, pending: 1 });
      expect(first.errors.map((e) => e.message)).toEqual([
        expect.stringMatching(
          /^delivered to 1 of the list; left for the next run for finance@airline\.example: finance@airline\.example: .*452/,
        ),
      ]);
      const row = await t.db.knex('mail_outbox').where({ report: 'monthly' }).first('status', 'recipients');
      expect(row).toEqual({ status: 'pending', recipients: '["finance@airline.example"]' });

      const second = await sendOutbox(t.db, config, { mailerDependencies: noWait, now });
      expect(second).toMatchObject({ sent: 1, pending: 0, errors: [] });
      // Each got it once, under the one Message-ID.
      const received = smtp.messages.slice(before);
      expect(received.map((m) => m.envelope.to)).toEqual([
        ['commercial@airline.example'],
        ['finance@airline.example'],
      ]);
      expect(new Set(received.map((m) => m.parsed.messageId))).toEqual(
        new Set(['<monthly-report.2026-05-31@airline.example>']),
      );
    });

    it('does not mail a report that has no distribution list', async () => {
      const custom = await produceReport('partner-points-by-month', t.db, config, '2026-05-31');
      expect(await queueReportMail(t.db, config, custom, now())).toEqual({
        queued: false,
        reason: 'no-recipients',
      });
    });
  });
}
