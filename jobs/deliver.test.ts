import { startSilentSmtp } from '../test/harness/smtp-silent.js';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { useWorld, type TestWorld } from '../test/harness/context.js';
import { availableEngines } from '../test/harness/db.js';
import { writeAgedFile } from '../test/harness/files.js';
import { startInProcessSftp } from '../test/harness/sftp-inprocess.js';
import { startInProcessSmtp } from '../test/harness/smtp-inprocess.js';
import { addDays } from '../lib/dates.js';
import { deliverJob } from './deliver.js';
import { exportJob } from './export.js';
import { retentionJob } from './retention.js';
import { runJob } from './runner.js';

const DAY_MS = 24 * 3600 * 1000;
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');

/** The folder the example's shared outbox transport delivers into. */
function deliveredRoot(w: TestWorld): string {
  const outbox = w.config.transports.outbox!;
  if (outbox.type !== 'local') throw new Error('the example outbox is a local folder');
  return outbox.root;
}

/** Runs after deliver has checked a copy against the registry, with its path. */
let checked: (path: string) => void = () => {};

vi.mock('./copy-check.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('./copy-check.js')>();
  return {
    ...actual,
    checkCopy: async (...args: Parameters<typeof actual.checkCopy>) => {
      const result = await actual.checkCopy(...args);
      checked(args[0]);
      return result;
    },
  };
});

/**
 * Registers `name` as an export of `kind` waiting for delivery, its copy in the outbox: `content` as
 * registered (size and sha256), with `onDisk` in the copy when given. Returns its id.
 */
async function registerExport(
  w: TestWorld,
  kind: string,
  name: string,
  content: string,
  { onDisk = content, partner = null }: { onDisk?: string; partner?: string | null } = {},
): Promise<number> {
  const localPath = join(w.dir, 'outbox', name);
  writeFileSync(localPath, onDisk);
  await w.t.db.knex('files').insert({
    direction: 'out',
    feed: kind,
    name,
    size: Buffer.byteLength(content),
    sha256: sha256(content),
    local_path: localPath,
    business_date: '2026-10-01',
    partner_code: partner,
    verdict: 'written',
    created_at: '2026-10-01T23:00:00.000Z',
  });
  return Number((await w.t.db.knex('files').where({ name }).first('id'))!.id);
}

describe('deliver', () => {
  const world = useWorld('sqlite');

  /** A file in `dir` last written `ageMs` ago. */
  const file = (dir: string, name: string, ageMs: number) => writeAgedFile(join(dir, name), ageMs, 'x');

  it('clears the temporary files a killed upload left where it delivers, once a day old, and nothing else', async () => {
    const w = world();
    const delivered = deliveredRoot(w);
    const claims = join(delivered, 'alliance-claims');
    file(claims, '.XX_LH_000001.claims.xml.0123456789ab.part', 2 * DAY_MS);
    file(claims, '.XX_LH_000002.claims.xml.abcdefabcdef.part', 60_000);
    file(claims, '.partner-note', 2 * DAY_MS);
    file(claims, 'draft.part', 2 * DAY_MS);
    // A folder nothing is delivered to in this run is not looked at.
    file(join(delivered, 'mailing'), '.members.csv.0123456789ab.part', 2 * DAY_MS);
    await registerExport(w, 'alliance-claims', 'XX_LH_000003.claims.xml', '<claims/>');

    const result = await deliverJob(w.ctx('2026-10-01'));

    expect(result.counts).toMatchObject({ delivered: 1, failed: 0, temporaryFilesRemoved: 1 });
    expect(readdirSync(claims).sort()).toEqual([
      '.XX_LH_000002.claims.xml.abcdefabcdef.part',
      '.partner-note',
      'XX_LH_000003.claims.xml',
      'draft.part',
    ]);
    expect(readFileSync(join(claims, 'XX_LH_000003.claims.xml'), 'utf8')).toBe('<claims/>');
    expect(readdirSync(join(delivered, 'mailing'))).toEqual(['.members.csv.0123456789ab.part']);
  });

  it('fails with one upload refused, still counting what it delivered', async () => {
    const w = world();
    await registerExport(w, 'alliance-claims', 'XX_LH_000001.claims.xml', '<claims/>');
    await registerExport(w, 'alliance-claims', 'XX_LH_000002.claims.xml', '<claims/>');
    rmSync(join(w.dir, 'outbox', 'XX_LH_000002.claims.xml'));

    const s = await runJob(w.ctx('2026-10-01'), 'deliver');

    expect(s.steps[0]).toMatchObject({
      status: 'failed',
      error: { code: 'DELIVERY_INCOMPLETE', message: expect.stringContaining('XX_LH_000002.claims.xml') },
      counts: { delivered: 1, failed: 1 },
    });
    const record = await w.t.db.knex('job_runs').where({ job: 'deliver' }).first('counts');
    expect(JSON.parse(String(record?.counts))).toMatchObject({ delivered: 1, failed: 1 });
  });

  it('creates the folder of each kind on a shared outbox served by SFTP', async () => {
    const w = world();
    const server = await startInProcessSftp({ password: 'shared-secret' });
    try {
      w.config.transports.shared = {
        type: 'sftp',
        host: server.host,
        port: server.port,
        username: server.username,
        passwordEnv: 'SHARED_PASSWORD',
        hostKeySha256: server.hostKeyFingerprint,
        retries: 0,
        timeoutSeconds: 10,
      };
      w.config.exports = { ...w.config.exports, outbox: 'shared' };
      const list = 'member,email\n100000001,ann@example.com\n';
      await registerExport(w, 'mailing', 'EXPIRY_WARNING_20261001.csv', list);
      await registerExport(w, 'invoice-statement', 'GRANDSTAY_STATEMENT_202609.csv', 'H;L;T\n');

      const s = await runJob(
        { ...w.ctx('2026-10-01'), env: { SHARED_PASSWORD: 'shared-secret' } },
        'deliver',
      );

      expect(s.steps[0]).toMatchObject({ status: 'succeeded', counts: { delivered: 2, failed: 0 } });
      expect(readFileSync(join(server.root, 'mailing', 'EXPIRY_WARNING_20261001.csv'), 'utf8')).toBe(list);
      expect(readdirSync(join(server.root, 'invoice-statement'))).toEqual(['GRANDSTAY_STATEMENT_202609.csv']);
      expect(await w.t.db.knex('files').orderBy('id').select('verdict', 'transport', 'remote_path')).toEqual([
        { verdict: 'delivered', transport: 'shared', remote_path: 'mailing/EXPIRY_WARNING_20261001.csv' },
        {
          verdict: 'delivered',
          transport: 'shared',
          remote_path: 'invoice-statement/GRANDSTAY_STATEMENT_202609.csv',
        },
      ]);
    } finally {
      await server.stop();
    }
  });

  it('sends an export whose copy was edited only once a rerun of export has written the registered file back', async () => {
    const w = world();
    await exportJob(w.ctx('2026-10-01'));
    const rows = await w.t.db
      .knex('files')
      .where({ direction: 'out' })
      .orderBy('id')
      .select('id', 'name', 'feed');
    const edited = rows[0]!;
    const copy = join(w.config.paths.outbox, edited.feed, edited.name);
    const registered = readFileSync(copy, 'utf8');
    writeFileSync(copy, `${registered}edited by hand\n`);

    const refused = await runJob(w.ctx('2026-10-01'), 'deliver');
    expect(refused.steps[0]).toMatchObject({
      status: 'failed',
      error: { message: expect.stringContaining(`[FILE_COPY_MISMATCH] ${edited.name}: file ${edited.id} (`) },
      counts: { delivered: rows.length - 1, failed: 1 },
    });
    expect(existsSync(join(deliveredRoot(w), edited.feed, edited.name))).toBe(false);

    expect((await exportJob(w.ctx('2026-10-01'))).counts).toMatchObject({ restored: 1 });
    expect((await deliverJob(w.ctx('2026-10-01'))).counts).toMatchObject({ delivered: 1, failed: 0 });
    expect(readFileSync(join(deliveredRoot(w), edited.feed, edited.name), 'utf8')).toBe(registered);
  });

  it("names a partner's missing outbox folder, and does not create it", async () => {
    const w = world();
    const share = join(w.dir, 'lh-share');
    w.config.transports.lh = { type: 'local', root: share };
    w.config.partners = w.config.partners.map((p) => (p.code === 'LH' ? { ...p, outbox: 'lh' } : p));
    await registerExport(w, 'alliance-claims', 'XX_LH_000001.claims.xml', '<claims/>', { partner: 'LH' });

    const s = await runJob(w.ctx('2026-10-01'), 'deliver');

    expect(s.steps[0]).toMatchObject({
      status: 'failed',
      error: {
        code: 'DELIVERY_INCOMPLETE',
        message:
          '1 delivery failure(s): XX_LH_000001.claims.xml → lh: [NOT_FOUND] XX_LH_000001.claims.xml ' +
          `${join(w.dir, 'outbox', 'XX_LH_000001.claims.xml')}: local ` +
          `${share}, folder ".", file "XX_LH_000001.claims.xml": the folder ${share} does not exist, so ` +
          "nothing can be delivered into it; it is the receiving side's to create",
      },
    });
    expect(existsSync(share)).toBe(false);
    expect(await w.t.db.knex('files').pluck('verdict')).toEqual(['written']);
  });
});

for (const engine of availableEngines()) {
  describe(`deliver sends only the registered bytes, on ${engine}`, () => {
    const world = useWorld(engine);
    const claims = (w: TestWorld) => join(deliveredRoot(w), 'alliance-claims');

    it('refuses a copy whose bytes are not the ones registered, naming file, path and both hashes, and delivers the others', async () => {
      const w = world();
      const first = await registerExport(w, 'alliance-claims', 'XX_LH_000001.claims.xml', '<claims/>');
      const tampered = await registerExport(w, 'alliance-claims', 'XX_LH_000003.claims.xml', '<claims/>', {
        onDisk: '<claimz/>',
      });
      const grown = await registerExport(w, 'alliance-claims', 'XX_LH_000004.claims.xml', '<claims/>', {
        onDisk: '<claims>1</claims>',
      });
      const copy = (name: string) => join(w.dir, 'outbox', name);

      const s = await runJob(w.ctx('2026-10-01'), 'deliver');

      expect(s.steps[0]).toMatchObject({
        status: 'failed',
        error: { code: 'DELIVERY_INCOMPLETE' },
        counts: { delivered: 1, failed: 2 },
      });
      const message = (s.steps[0] as { error: { message: string } }).error.message;
      expect(message).toContain(
        `XX_LH_000003.claims.xml → outbox: [FILE_COPY_MISMATCH] XX_LH_000003.claims.xml: file ${tampered} ` +
          `(XX_LH_000003.claims.xml) not delivered: its copy ${copy('XX_LH_000003.claims.xml')} holds 9 bytes ` +
          `with sha256 ${sha256('<claimz/>')}, the registry recorded 9 bytes with sha256 ${sha256('<claims/>')}`,
      );
      expect(message).toContain(
        `file ${grown} (XX_LH_000004.claims.xml) not delivered: its copy ${copy('XX_LH_000004.claims.xml')} ` +
          `holds 18 bytes with sha256 ${sha256('<claims>1</claims>')}, the registry recorded 9 bytes with ` +
          `sha256 ${sha256('<claims/>')}`,
      );
      expect(readdirSync(claims(w))).toEqual(['XX_LH_000001.claims.xml']);
      expect(await w.t.db.knex('files').orderBy('id').select('id', 'verdict', 'sha256')).toEqual([
        { id: first, verdict: 'delivered', sha256: sha256('<claims/>') },
        { id: tampered, verdict: 'written', sha256: sha256('<claims/>') },
        { id: grown, verdict: 'written', sha256: sha256('<claims/>') },
      ]);
    });

    it('does not record delivered a copy that changed after it was checked, and takes back what it sent', async () => {
      const w = world();
      const id = await registerExport(w, 'alliance-claims', 'XX_LH_000003.claims.xml', '<claims/>');
      const copy = join(w.dir, 'outbox', 'XX_LH_000003.claims.xml');
      checked = (path) => writeFileSync(path, '<claimz/>');
      let s;
      try {
        s = await runJob(w.ctx('2026-10-01'), 'deliver');
      } finally {
        checked = () => {};
      }

      expect(s.steps[0]).toMatchObject({
        status: 'failed',
        error: {
          code: 'DELIVERY_INCOMPLETE',
          message: expect.stringContaining(
            `[FILE_COPY_MISMATCH] XX_LH_000003.claims.xml: file ${id} (XX_LH_000003.claims.xml) not recorded ` +
              `delivered: its copy ${copy} changed as it was sent, 9 bytes with sha256 ${sha256('<claimz/>')} ` +
              `went where the registry recorded 9 bytes with sha256 ${sha256('<claims/>')}; ` +
              `${join(claims(w), 'XX_LH_000003.claims.xml')} removed again; it stays written`,
          ),
        },
        counts: { delivered: 0, failed: 1 },
      });
      expect(readdirSync(claims(w))).toEqual([]);
      expect(await w.t.db.knex('files').pluck('verdict')).toEqual(['written']);

      // The registered bytes back in the copy: the next run delivers them.
      writeFileSync(copy, '<claims/>');
      expect((await deliverJob(w.ctx('2026-10-02'))).counts).toMatchObject({ delivered: 1, failed: 0 });
      expect(readFileSync(join(claims(w), 'XX_LH_000003.claims.xml'), 'utf8')).toBe('<claims/>');
      expect(await w.t.db.knex('files').pluck('verdict')).toEqual(['delivered']);
    });
  });
}

for (const engine of availableEngines()) {
  describe(`deliver's report mail on ${engine}`, () => {
    const world = useWorld(engine);
    const NIGHT = '2026-05-08';

    /** Queues a report mail for `date` whose workbook exists, as the report step leaves it. */
    async function queued(w: TestWorld, date: string, row: Record<string, unknown> = {}): Promise<void> {
      mkdirSync(join(w.config.paths.reports, date), { recursive: true });
      writeFileSync(join(w.config.paths.reports, date, `daily-${date}.xlsx`), 'workbook');
      await w.t.db.knex('mail_outbox').insert({
        report: 'daily',
        business_date: date,
        message_id: `<daily-report.${date}@airline.example>`,
        recipients: JSON.stringify(['commercial@airline.example']),
        subject: `Daily loyalty report — ${date}`,
        attachments: JSON.stringify({ workbook: `${date}/daily-${date}.xlsx`, inline: [] }),
        html: '<p>report</p>',
        text: 'report',
        status: 'pending',
        attempts: 0,
        created_at: `${date}T23:00:00.000Z`,
        ...row,
      });
    }

    /** Mail to `server`, without login (the example's user and password are for its own server). */
    const pointMailAt = (w: TestWorld, server: { host: string; port: number }, retries = 0) => {
      const { userEnv: _user, passwordEnv: _password, ...smtp } = w.config.mail!.smtp;
      w.config.mail = { ...w.config.mail!, retries, smtp: { ...smtp, ...server } };
    };

    it('is recorded interrupted by the signal, not as a delivery failure, when stopped mid-send; the mail stays pending', async () => {
      const w = world();
      await queued(w, NIGHT);
      await queued(w, '2026-05-07');
      const silent = await startSilentSmtp();
      try {
        pointMailAt(w, silent, 1);
        const controller = new AbortController();
        silent.onClient(() => controller.abort('SIGTERM'));
        const s = await runJob({ ...w.ctx(NIGHT), signal: controller.signal }, 'deliver');
        expect(s.status).toBe('failed');
        expect(s.steps[0]).toMatchObject({
          status: 'failed',
          error: {
            code: 'INTERRUPTED',
            message: expect.stringMatching(/^stopped on request \(SIGTERM\) while deliver was running/),
          },
          warnings: ['stopped on request (SIGTERM): 2 report mail(s) left pending for the next run'],
        });
        expect(silent.sockets).toHaveLength(1);
        expect(await w.t.db.knex('mail_outbox').orderBy('id').pluck('status')).toEqual([
          'pending',
          'pending',
        ]);
      } finally {
        await silent.stop();
      }
    });

    it("sends at once the mail a killed night left claimed, so the rerun's success is true", async () => {
      const w = world();
      const smtp = await startInProcessSmtp();
      try {
        pointMailAt(w, smtp);
        const child = spawn(process.execPath, ['-e', '']);
        await once(child, 'exit');
        await queued(w, NIGHT, {
          status: 'sending',
          attempts: 1,
          claim_host: hostname(),
          claim_pid: child.pid,
          claimed_at: `${NIGHT}T23:20:00.000Z`,
        });
        const result = await deliverJob(w.ctx(NIGHT));
        expect(result.counts).toMatchObject({ 'mail.sent': 1, 'mail.pending': 0, 'mail.reclaimed': 1 });
        expect(result.warnings).toEqual([
          `report mail daily for ${NIGHT} was left claimed by ${hostname()} pid ${child.pid} that ended mid-send; ` +
            'sent again under the same Message-ID (a duplicate is possible if the server had accepted it)',
        ]);
        expect(smtp.messages.map((m) => m.parsed.messageId)).toEqual([
          `<daily-report.${NIGHT}@airline.example>`,
        ]);
        expect(await w.t.db.knex('mail_outbox').pluck('status')).toEqual(['sent']);
      } finally {
        await smtp.stop();
      }
    });

    it('names a mail one recipient refused for good while its list names one who has not had it, and leaves it to report send', async () => {
      const w = world();
      const smtp = await startInProcessSmtp();
      try {
        pointMailAt(w, smtp);
        await queued(w, NIGHT, {
          status: 'sent',
          recipients: JSON.stringify(['commercial@airline.example', 'typo@airline.example']),
          listed_to: JSON.stringify(['commercial@airline.example', 'typo@airline.example']),
          delivered_to: JSON.stringify(['commercial@airline.example']),
          refused_to: JSON.stringify([{ address: 'typo@airline.example', answer: '550 No such user' }]),
        });
        // The operator corrected the list; the night does not send the mail again on its own.
        w.config.mail = {
          ...w.config.mail!,
          lists: {
            ...w.config.mail!.lists,
            daily: ['commercial@airline.example', 'finance@airline.example'],
          },
        };
        const result = await deliverJob(w.ctx(NIGHT));
        expect(result.counts).toMatchObject({ 'mail.sent': 0, 'mail.partlyRefused': 1 });
        expect(result.warnings).toEqual([
          `report mail daily for ${NIGHT} sent to 1 of 2; refused for good: typo@airline.example (550 No such user); ` +
            'mail.lists.daily now names finance@airline.example, who has not had it: ' +
            '`redeye report send --retry-failed` sends it to them',
        ]);
        expect(smtp.connections).toBe(0);
      } finally {
        await smtp.stop();
      }
    });

    it('counts and names, in the summary, a mail whose recipients follow a changed list', async () => {
      const w = world();
      const smtp = await startInProcessSmtp();
      try {
        pointMailAt(w, smtp);
        // Queued for an address the daily list no longer names; the list names commercial now.
        await queued(w, NIGHT, {
          recipients: JSON.stringify(['Old desk <old@airline.example>']),
          listed_to: JSON.stringify(['Old desk <old@airline.example>']),
          delivered_to: '[]',
        });
        const result = await deliverJob(w.ctx(NIGHT));
        expect(result.counts).toMatchObject({ 'mail.sent': 1, 'mail.pending': 0, 'mail.readdressed': 1 });
        expect(result.warnings).toEqual([
          `report mail daily for ${NIGHT} goes to the recipients mail.lists.daily names now (less those who ` +
            'have it): commercial@airline.example; it was to go to Old desk <old@airline.example>',
        ]);
        expect(smtp.messages.map((m) => m.envelope.to)).toEqual([['commercial@airline.example']]);
      } finally {
        await smtp.stop();
      }
    });

    it('fails the step naming the list, not the SMTP server, for a mail whose report left mail.lists', async () => {
      const w = world();
      const smtp = await startInProcessSmtp();
      try {
        pointMailAt(w, smtp);
        await queued(w, NIGHT);
        const { daily: _gone, ...lists } = w.config.mail!.lists;
        w.config.mail = { ...w.config.mail!, lists };
        const s = await runJob(w.ctx(NIGHT), 'deliver');
        expect(s.steps[0]).toMatchObject({
          status: 'failed',
          error: {
            code: 'DELIVERY_INCOMPLETE',
            message:
              `1 delivery failure(s): report mail daily for ${NIGHT} not sent: mail.lists has no list for ` +
              'report daily; it goes with the next run once mail.lists.daily names its recipients ' +
              '(to close a mail no one is to have, name an archive mailbox there)',
          },
        });
        expect(smtp.connections).toBe(0);
      } finally {
        await smtp.stop();
      }
    });

    it('closes a partly refused mail once its list no longer names the refused address, so a colleague added later neither reopens it nor keeps its folder from retention', async () => {
      const w = world();
      const smtp = await startInProcessSmtp();
      const listDaily = (daily: string[]) => {
        w.config.mail = { ...w.config.mail!, lists: { ...w.config.mail!.lists, daily } };
      };
      try {
        pointMailAt(w, smtp);
        const typo = ['commercial@airline.example', 'typo@airline.example'];
        await queued(w, NIGHT, {
          recipients: JSON.stringify(typo),
          listed_to: JSON.stringify(typo),
          delivered_to: '[]',
        });
        smtp.rejectRecipient('typo@airline.example', 550);
        listDaily(typo);
        expect((await deliverJob(w.ctx(NIGHT))).counts).toMatchObject({
          'mail.sent': 1,
          'mail.partlyRefused': 1,
        });
        // The wrong address taken out: the next night finds no one owed the mail, and closes it.
        listDaily(['commercial@airline.example']);
        const next = await deliverJob(w.ctx('2026-05-09'));
        expect(next.counts).not.toHaveProperty('mail.partlyRefused');
        expect(next.warnings).toBeUndefined();
        // A colleague joins the list: not owed it, not named, and its folder goes by age.
        listDaily(['commercial@airline.example', 'colleague@airline.example']);
        const later = await deliverJob(w.ctx('2026-06-01'));
        expect(later.counts).toMatchObject({ 'mail.sent': 0, 'mail.pending': 0 });
        expect(later.warnings).toBeUndefined();
        expect(smtp.messages.map((m) => m.envelope.to)).toEqual([['commercial@airline.example']]);
        const folder = join(w.config.paths.reports, NIGHT);
        const kept = await retentionJob(w.ctx(addDays(NIGHT, w.config.retention.reportDays)));
        expect(kept.counts.reportFoldersRemoved).toBe(0);
        const aged = await retentionJob(w.ctx(addDays(NIGHT, w.config.retention.reportDays + 1)));
        expect(aged.counts.reportFoldersRemoved).toBe(1);
        expect(existsSync(folder)).toBe(false);
      } finally {
        await smtp.stop();
      }
    });

    it('refuses, naming the mail and the path, a stored file that climbs out of the report folder', async () => {
      const w = world();
      const smtp = await startInProcessSmtp();
      try {
        pointMailAt(w, smtp);
        writeFileSync(join(w.config.paths.reports, '..', 'elsewhere.xlsx'), 'not a report');
        await queued(w, NIGHT, {
          attachments: JSON.stringify({ workbook: '../elsewhere.xlsx', inline: [] }),
        });
        const s = await runJob(w.ctx(NIGHT), 'deliver');
        expect(s.steps[0]).toMatchObject({
          status: 'failed',
          error: {
            code: 'DELIVERY_INCOMPLETE',
            message:
              `1 delivery failure(s): report mail daily for ${NIGHT} not sent: its file ../elsewhere.xlsx ` +
              `lies outside ${w.config.paths.reports} (paths.reports) and is not read`,
          },
        });
        expect(await w.t.db.knex('mail_outbox').pluck('status')).toEqual(['pending']);
        expect(smtp.messages).toEqual([]);
      } finally {
        await smtp.stop();
      }
    });

    it('warns, in the night it belongs to, of a report mail refused for good by an earlier run', async () => {
      const w = world();
      await queued(w, NIGHT, {
        status: 'failed',
        attempts: 1,
        failed_at: '2026-05-09T02:31:07.000Z',
        last_error: "Can't send mail - all recipients were rejected: 550 No such user",
      });
      await queued(w, '2026-05-05', {
        status: 'failed',
        attempts: 1,
        message_id: '<daily-report.2026-05-05@x>',
      });
      const result = await deliverJob(w.ctx(NIGHT));
      expect(result.counts).toMatchObject({ 'mail.sent': 0, 'mail.failed': 2, 'mail.pending': 0 });
      expect(result.warnings).toEqual([
        `report mail daily for ${NIGHT} to commercial@airline.example refused for good since ` +
          "2026-05-09T02:31:07.000Z: Can't send mail - all recipients were rejected: 550 No such user; not sent; " +
          '`redeye report send --retry-failed` sends it again, to the recipients its mail.lists entry names then (correct a wrong address there first), once the server would take it',
        '1 report mail(s) of other dates refused for good and not sent (daily 2026-05-05); `redeye report send` lists them',
      ]);
    });
  });
}
