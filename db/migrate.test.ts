import { describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { availableEngines, createTestDatabase } from '../test/harness/db.js';
import { Accounts } from '../ledger/accounts.js';
import { checkLedger } from '../ledger/check.js';
import { EXPIRED_LOTS_VALID_ON } from '../ledger/store.js';
import { Ledger } from '../ledger/ledger.js';
import { insertMember, updateMember } from '../ledger/members.js';
import { erasuresOf, namesToClear, rejectTextsToBlank } from '../jobs/retention.js';
import { setVerdict } from '../jobs/registry.js';
import { overdueCancellations } from '../jobs/accrue.js';
import { passengersOfTheDay } from '../jobs/activities.js';
import { awaitingRate, soldAsListed, toDb } from '../jobs/activities.js';
import { completedFtlMessages, rememberCompletedFtlMessages } from '../jobs/ftl-held.js';
import { rejectedRecordsParams, rejectedRecordsSql, waitingCancellationsAt } from '../reports/daily.js';
import { dateTextSql } from '../reports/common.js';
import { Program } from '../rules/program.js';
import { mailingPolicy, mailingRows, tierChangeList } from '../exporters/mailings.js';
import { addDays } from '../lib/dates.js';
import { parseConfig } from '../config/load.js';
import { EXAMPLE_CONFIG } from '../test/harness/context.js';
import { readFileSync } from 'node:fs';
import { insertedId } from './rows.js';
import { MIGRATION_CONFIG, migrateLatest, migrationStatus, MIGRATION_NAMES, rollbackAll } from './migrate.js';

for (const engine of availableEngines()) {
  describe(`migrations on ${engine}`, () => {
    it('apply from nothing, report their status, roll back cleanly and apply again', async () => {
      const t = await createTestDatabase(engine, { migrate: false });
      try {
        expect((await migrationStatus(t.db)).pending).toEqual(MIGRATION_NAMES);
        expect(await migrateLatest(t.db)).toEqual(MIGRATION_NAMES);
        expect(await migrationStatus(t.db)).toEqual({ applied: MIGRATION_NAMES, pending: [] });
        expect(await migrateLatest(t.db)).toEqual([]);
        await rollbackAll(t.db);
        expect((await migrationStatus(t.db)).applied).toEqual([]);
        expect(await migrateLatest(t.db)).toEqual(MIGRATION_NAMES);
      } finally {
        await t.cleanup();
      }
    });

    it('006 links every activity already credited to its posting by id', async () => {
      const t = await createTestDatabase(engine);
      try {
        // Back to before 006, however many migrations came after it.
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('006_activity_posting_id'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        await insertMember(t.db.knex, { number: '1000000016', status: 'ACTIVE', tier: 'MEMBER' });
        const ledger = new Ledger(t.db, { now: () => new Date('2026-11-27T02:00:00Z') });
        const posted = await ledger.post(
          ['FLIGHT:A', 'FLIGHT:B'].map((key) => ({
            key,
            kind: 'ACCRUAL' as const,
            businessDate: '2026-11-26',
            channel: 'OWN_FLIGHTS',
            entries: [
              { account: Accounts.memberPoints('1000000016'), amount: 100, expiresOn: '2029-11-30' },
              { account: Accounts.ownFlights, amount: -100 },
            ],
          })),
        );
        await t.db.knex('activities').insert(
          [
            ['A', 'FLIGHT:A'],
            ['B', 'FLIGHT:B'],
            ['C', null],
          ].map(([key, postingKey]) => ({
            activity_key: key,
            type: 'FLIGHT',
            activity_date: '2026-11-25',
            business_date: '2026-11-26',
            status: postingKey ? 'POSTED' : 'REJECTED',
            posting_key: postingKey,
            updated_at: '2026-11-27T02:00:00Z',
          })),
        );
        expect(await migrateLatest(t.db)).toEqual(since);
        const linked = await t.db
          .knex('activities')
          .orderBy('activity_key')
          .select('activity_key', 'posting_id');
        expect(
          linked.map((r) => [r.activity_key, r.posting_id === null ? null : Number(r.posting_id)]),
        ).toEqual([
          ['A', posted[0]!.postingId],
          ['B', posted[1]!.postingId],
          ['C', null],
        ]);
        expect((await checkLedger(t.db.knex)).ok).toBe(true);
      } finally {
        await t.cleanup();
      }
    });

    it('010 dates every tier event recorded before it from its night', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('010_tier_event_effective_date'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        const id = await insertMember(t.db.knex, { number: '1000000016', status: 'ACTIVE', tier: 'SILVER' });
        await t.db.knex('tier_events').insert({
          event_key: 'TIER:1000000016:2026-03-21:UP:SILVER',
          member_id: id,
          business_date: '2026-03-21',
          from_tier: 'MEMBER',
          to_tier: 'SILVER',
          direction: 'UP',
          qualification: 100000,
          reason: 'THRESHOLD_REACHED',
          created_at: '2026-03-22T02:00:00Z',
        });
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await t.db.knex('tier_events').select('business_date', 'effective_on')).toEqual([
          { business_date: '2026-03-21', effective_on: '2026-03-21' },
        ]);
      } finally {
        await t.cleanup();
      }
    });

    it("013 splits a held FTL file's old counts into the passengers kept and those waiting", async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('013_held_ftl_counts'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        const file = async (name: string, verdict: string, counts: object) => {
          const [row] = await t.db
            .knex('files')
            .insert({
              direction: 'in',
              feed: 'ftl',
              name,
              size: 1,
              sha256: name.padEnd(64, '0'),
              business_date: '2026-06-04',
              verdict,
              counts: JSON.stringify(counts),
              created_at: '2026-06-04T23:00:00Z',
            })
            .returning('id');
          return typeof row === 'object' ? (row as { id: number }).id : (row as number);
        };
        // Three passengers read, one of them kept from a message complete in the file, two waiting.
        const held = await file('PART2.ftl', 'held', { lines: 20, records: 3, rejects: 1 });
        const waiting = await file('LONE.ftl', 'held', { lines: 9, records: 2, rejects: 0 });
        const done = await file('DONE.ftl', 'accepted', { lines: 9, records: 2, rejects: 0 });
        await t.db.knex('activities').insert({
          activity_key: 'FLT:KEPT',
          type: 'FLIGHT',
          activity_date: '2026-06-03',
          business_date: '2026-06-04',
          status: 'PENDING',
          source_file_id: held,
          updated_at: '2026-06-04T23:00:00Z',
        });
        expect(await migrateLatest(t.db)).toEqual(since);
        const counts = async (id: number) =>
          JSON.parse(String((await t.db.knex('files').where({ id }).first('counts')).counts)) as object;
        expect(await counts(held)).toEqual({ lines: 20, records: 1, rejects: 1, held: 2 });
        expect(await counts(waiting)).toEqual({ lines: 9, records: 0, rejects: 0, held: 2 });
        expect(await counts(done)).toEqual({ lines: 9, records: 2, rejects: 0 });
        // Down gives the old form back (the migrations after it first, however many came since).
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await counts(held)).toEqual({ lines: 20, records: 3, rejects: 1 });
      } finally {
        await t.cleanup();
      }
    });

    it('015 keeps one invoice number per partner and month, each given once per issuer, and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const given = (issuer: string, partner: string, number: number) =>
          t.db.knex('invoice_numbers').insert({
            issuer,
            billing_month: '2026-11',
            partner_code: partner,
            number,
            invoice_number: `202611${String(number).padStart(4, '0')}`,
            assigned_on: '2026-11-30',
            // As exports put them since 021; none would be a number taken out of a draft, which 021 keeps.
            transmission: 1,
          });
        await given('XX1', 'GRANDSTAY', 1);
        await given('XX1', 'LH', 2);
        // Another issuing organization numbers its own invoices.
        await given('XX2', 'GRANDSTAY', 1);
        await expect(given('XX1', 'DRIVE', 2)).rejects.toThrow(/unique|UNIQUE/);
        await expect(given('XX1', 'LH', 3)).rejects.toThrow(/unique|UNIQUE/);
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('015_invoice_numbers'));
        const downToBefore015 = async () => {
          for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        };
        // The numbers given are what partners hold: the down refuses to drop them, and keeps them.
        await expect(downToBefore015()).rejects.toThrow(
          /would lose the invoice numbers given to partners \(2026-11: 3\)/,
        );
        expect(await t.db.knex('invoice_numbers').orderBy('id').pluck('partner_code')).toEqual([
          'GRANDSTAY',
          'LH',
          'GRANDSTAY',
        ]);
        await t.db.knex('invoice_numbers').delete();
        await migrateLatest(t.db);
        await downToBefore015();
        expect(await t.db.knex.schema.hasTable('invoice_numbers')).toBe(false);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await t.db.knex('invoice_numbers').select()).toEqual([]);
      } finally {
        await t.cleanup();
      }
    });

    it('016 keeps a rejected retro-claim of the longest id set aside with its file, and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const id = `C${'9'.repeat(63)}`;
        const claim = (claimId: string, status: string) => ({
          claim_id: claimId,
          member_number: '1000000016',
          received_date: '2026-03-28',
          claim: JSON.stringify({ claimId: id }),
          status,
        });
        await t.db.knex('retro_claims').insert([claim(`${id}#812345`, 'REJECTED'), claim(id, 'PENDING')]);
        expect(await t.db.knex('retro_claims').orderBy('id').pluck('claim_id')).toEqual([`${id}#812345`, id]);
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('016_retro_claim_set_aside'));
        const downToBefore016 = async () => {
          for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        };
        if (engine === 'postgres') {
          // Cut to 64 characters, the set-aside id would be the waiting claim's: the down refuses.
          await expect(downToBefore016()).rejects.toThrow(/would cut claim ids longer than 64 characters/);
          await migrateLatest(t.db);
        }
        await t.db.knex('retro_claims').where({ status: 'REJECTED' }).delete();
        await downToBefore016();
        expect(await t.db.knex('retro_claims').pluck('claim_id')).toEqual([id]);
        expect(await migrateLatest(t.db)).toEqual(since);
      } finally {
        await t.cleanup();
      }
    });

    it('018 records who claims a report mail and when one failed for good, keeping the times, and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('018_mail_claims'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        const mail = (report: string, status: string, sentAt: string) => ({
          report,
          business_date: '2026-05-08',
          message_id: `<${report}-report.2026-05-08@airline.example>`,
          recipients: '["commercial@airline.example"]',
          subject: report,
          attachments: '{"workbook":"w.xlsx","inline":[]}',
          html: '',
          text: '',
          status,
          attempts: 1,
          created_at: '2026-05-09T02:00:00.000Z',
          sent_at: sentAt,
        });
        // Before 018, sent_at held the time of the last claim of a mail not (yet) sent.
        await t.db
          .knex('mail_outbox')
          .insert([
            mail('daily', 'sending', '2026-05-09T02:31:00.000Z'),
            mail('monthly', 'failed', '2026-05-09T02:32:00.000Z'),
            mail('custom', 'sent', '2026-05-09T02:33:00.000Z'),
          ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        const iso = (v: unknown) => (v === null ? null : new Date(v as string).toISOString());
        const rows = (await t.db.knex('mail_outbox').orderBy('id')).map((r: Record<string, unknown>) => ({
          status: r.status,
          sent_at: iso(r.sent_at),
          claimed_at: iso(r.claimed_at),
          failed_at: iso(r.failed_at),
          claim_host: r.claim_host,
          claim_pid: r.claim_pid,
        }));
        expect(rows).toEqual([
          {
            status: 'sending',
            sent_at: null,
            claimed_at: '2026-05-09T02:31:00.000Z',
            failed_at: null,
            claim_host: null,
            claim_pid: null,
          },
          {
            status: 'failed',
            sent_at: null,
            claimed_at: null,
            failed_at: '2026-05-09T02:32:00.000Z',
            claim_host: null,
            claim_pid: null,
          },
          {
            status: 'sent',
            sent_at: '2026-05-09T02:33:00.000Z',
            claimed_at: null,
            failed_at: null,
            claim_host: null,
            claim_pid: null,
          },
        ]);
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('mail_outbox', 'claim_host')).toBe(false);
        expect(
          (await t.db.knex('mail_outbox').orderBy('id').pluck('sent_at')).map((v: unknown) => iso(v)),
        ).toEqual(['2026-05-09T02:31:00.000Z', '2026-05-09T02:32:00.000Z', '2026-05-09T02:33:00.000Z']);
        expect(await migrateLatest(t.db)).toEqual(since);
      } finally {
        await t.cleanup();
      }
    });

    it('023 records who refused a failed mail for good, leaves the mails already sent closed, and its down puts the refusals back in the error text', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('023_mail_refused'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        const mail = (report: string, status: string, row: Record<string, unknown>) => ({
          report,
          business_date: '2026-05-08',
          message_id: `<${report}-report.2026-05-08@airline.example>`,
          recipients: '["finance@airline.example"]',
          subject: report,
          attachments: '{"workbook":"w.xlsx","inline":[]}',
          html: '',
          text: '',
          status,
          attempts: 1,
          created_at: '2026-05-09T02:00:00.000Z',
          ...row,
        });
        const list = '["Commercial <commercial@airline.example>","finanse@airline.example"]';
        await t.db.knex('mail_outbox').insert([
          // Commercial took it, the typo was refused for good: whether anyone on the list as it is now
          // should have it is not known here, so it stays closed (a colleague added since is not owed it).
          mail('partly', 'sent', {
            listed_to: list,
            delivered_to: '["Commercial@airline.example"]',
            last_error: null,
          }),
          mail('whole', 'sent', { listed_to: list, delivered_to: list, last_error: null }),
          mail('refused', 'failed', {
            listed_to: '["finance@airline.example"]',
            delivered_to: '[]',
            last_error: '550 No such user',
          }),
          // Who has it is not known (before 020): nothing is said of it.
          mail('unknown', 'sent', { listed_to: list, delivered_to: null, last_error: null }),
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await t.db.knex('mail_outbox').orderBy('id').pluck('refused_to')).toEqual([
          null,
          null,
          '[{"address":"finance@airline.example","answer":null}]',
          null,
        ]);
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex('mail_outbox').orderBy('id').pluck('last_error')).toEqual([
          null,
          null,
          '550 No such user; not delivered to finance@airline.example: refused for good',
          null,
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
      } finally {
        await t.cleanup();
      }
    });

    it('020 records the list each mail took and that no one has it yet only where no attempt may have reached anyone; and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('020_mail_recipients'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        const mail = (report: string, status: string, attempts: number, lastError: string | null) => ({
          report,
          business_date: '2026-05-08',
          message_id: `<${report}-report.2026-05-08@airline.example>`,
          recipients: '["finance@airline.example"]',
          subject: report,
          attachments: '{"workbook":"w.xlsx","inline":[]}',
          html: '',
          text: '',
          status,
          attempts,
          last_error: lastError,
          created_at: '2026-05-09T02:00:00.000Z',
        });
        await t.db.knex('mail_outbox').insert([
          mail('queued', 'pending', 0, null),
          mail('refused', 'failed', 1, '550 No such user'),
          mail('partly', 'pending', 1, 'delivered to 1 of the list; left for the next run for finance@…'),
          mail('twice', 'failed', 2, '550 No such user'),
          mail('sent', 'sent', 1, null),
          // Its sender was killed mid-send: the server may have taken it.
          { ...mail('killed', 'sending', 1, null), claim_host: 'night-host', claim_pid: 4242 },
          // Stopped before anyone took it, or a killed sender's taken back by a run that did not get to it.
          mail('unsaid', 'pending', 1, null),
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(
          await t.db
            .knex('mail_outbox')
            .orderBy('id')
            .select('report', 'recipients', 'listed_to', 'delivered_to'),
        ).toEqual([
          {
            report: 'queued',
            recipients: '["finance@airline.example"]',
            listed_to: '["finance@airline.example"]',
            delivered_to: '[]',
          },
          {
            report: 'refused',
            recipients: '["finance@airline.example"]',
            listed_to: '["finance@airline.example"]',
            delivered_to: '[]',
          },
          // Delivered to someone, or maybe on an earlier attempt: who is not known.
          {
            report: 'partly',
            recipients: '["finance@airline.example"]',
            listed_to: '["finance@airline.example"]',
            delivered_to: null,
          },
          {
            report: 'twice',
            recipients: '["finance@airline.example"]',
            listed_to: '["finance@airline.example"]',
            delivered_to: null,
          },
          { report: 'sent', recipients: '["finance@airline.example"]', listed_to: null, delivered_to: null },
          {
            report: 'killed',
            recipients: '["finance@airline.example"]',
            listed_to: '["finance@airline.example"]',
            delivered_to: null,
          },
          {
            report: 'unsaid',
            recipients: '["finance@airline.example"]',
            listed_to: '["finance@airline.example"]',
            delivered_to: null,
          },
        ]);
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('mail_outbox', 'delivered_to')).toBe(false);
        expect(await t.db.knex('mail_outbox').orderBy('id').pluck('recipients')).toEqual(
          Array(7).fill('["finance@airline.example"]'),
        );
        expect(await migrateLatest(t.db)).toEqual(since);
      } finally {
        await t.cleanup();
      }
    });

    it('021 keeps the survivor of each ACCOUNT_CLOSED rejection made before it, and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('021_export_facts'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('activities', 'merged_into')).toBe(false);
        await insertMember(t.db.knex, { number: '1000000016', status: 'ACTIVE', tier: 'MEMBER' });
        await insertMember(t.db.knex, {
          number: '1000000073',
          status: 'MERGED',
          mergedInto: '1000000016',
          tier: 'MEMBER',
        });
        await t.db.knex('activities').insert(
          [
            ['MERGED-AWAY', 'ACCOUNT_CLOSED'],
            ['OTHER-REASON', 'NAME_MISMATCH'],
          ].map(([key, reason]) => ({
            activity_key: key,
            type: 'PARTNER',
            member_number: '1000000073',
            activity_date: '2026-11-25',
            business_date: '2026-11-26',
            status: 'REJECTED',
            reason,
            updated_at: '2026-11-27T02:00:00Z',
          })),
        );
        expect(await migrateLatest(t.db)).toEqual(since);
        const survivors = () =>
          t.db.knex('activities').orderBy('activity_key').select('activity_key', 'merged_into');
        expect(await survivors()).toEqual([
          { activity_key: 'MERGED-AWAY', merged_into: '1000000016' },
          { activity_key: 'OTHER-REASON', merged_into: null },
        ]);
        // The survivor merged away since: the rejection's survivor is no longer the member's, and a
        // re-up could not give it back, so the down refuses and keeps it.
        await insertMember(t.db.knex, { number: '1000000099', status: 'ACTIVE', tier: 'MEMBER' });
        await t.db.knex('members').where({ number: '1000000073' }).update({ merged_into: '1000000099' });
        const down = async () => {
          for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        };
        await expect(down()).rejects.toThrow(
          /would lose the survivor 1 rejection\(s\) were made for \(MERGED-AWAY: 1000000016, the member's now 1000000099\)/,
        );
        expect((await survivors()).map((r) => r.merged_into)).toEqual(['1000000016', null]);
        await t.db.knex('members').where({ number: '1000000073' }).update({ merged_into: '1000000016' });
        await migrateLatest(t.db);
        await down();
        expect(await t.db.knex('activities').orderBy('activity_key').pluck('reason')).toEqual([
          'ACCOUNT_CLOSED',
          'NAME_MISMATCH',
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect((await survivors()).map((r) => r.merged_into)).toEqual(['1000000016', null]);
      } finally {
        await t.cleanup();
      }
    });

    it('021 puts the invoice numbers given before it in their month’s first transmission, and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('021_export_facts'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('invoice_numbers', 'transmission')).toBe(false);
        const given = (partner: string, number: number) => ({
          issuer: 'XX1',
          billing_month: '2026-11',
          partner_code: partner,
          number,
          invoice_number: `202611${String(number).padStart(4, '0')}`,
          assigned_on: '2026-11-30',
        });
        await t.db.knex('invoice_numbers').insert([given('GRANDSTAY', 1), given('LH', 2)]);
        expect(await migrateLatest(t.db)).toEqual(since);
        const carried = () =>
          t.db
            .knex('invoice_numbers')
            .orderBy('number')
            .select('partner_code', 'invoice_number', 'transmission');
        expect(await carried()).toEqual([
          { partner_code: 'GRANDSTAY', invoice_number: '2026110001', transmission: 1 },
          { partner_code: 'LH', invoice_number: '2026110002', transmission: 1 },
        ]);
        // A number in a supplement, or taken out of an undelivered draft, would be put in transmission 1
        // by a re-up: the down refuses and keeps where each is.
        const down = async () => {
          for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        };
        for (const [transmission, shown] of [
          [2, 'transmission 2'],
          [null, 'none, taken out of an undelivered draft'],
        ] as const) {
          await t.db.knex('invoice_numbers').where({ partner_code: 'LH' }).update({ transmission });
          await expect(down()).rejects.toThrow(
            new RegExp(
              `would lose the transmissions carrying 1 invoice number\\(s\\) \\(2026110002 in ${shown}\\)`,
            ),
          );
          expect((await carried()).map((r) => r.transmission)).toEqual([1, transmission]);
          await migrateLatest(t.db);
        }
        await t.db.knex('invoice_numbers').where({ partner_code: 'LH' }).update({ transmission: 1 });
        await down();
        expect(await t.db.knex('invoice_numbers').orderBy('number').pluck('invoice_number')).toEqual([
          '2026110001',
          '2026110002',
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect((await carried()).map((r) => r.transmission)).toEqual([1, 1]);
      } finally {
        await t.cleanup();
      }
    });

    it('024 keeps the EchoToken a request gave, and rolls back only once none would be lost', async () => {
      const t = await createTestDatabase(engine);
      try {
        const request = {
          direction: 'in',
          feed: 'hotel',
          name: 'GS_GSBER01_StayInfoNotif_20261101.xml',
          size: 10,
          sha256: 'e'.repeat(64),
          verdict: 'accepted',
          created_at: '2026-11-02T01:00:00Z',
        };
        const token = `GSBER01-${'Ü'.repeat(120)}`; // 128 characters, OpenTravel's most
        await t.db.knex('files').insert({ ...request, echo_token: token });
        expect(await t.db.knex('files').pluck('echo_token')).toEqual([token]);
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('024_request_echo_token'));
        // Down to before 024 from wherever a refusal left it: the migrations after it roll back first.
        const down = async () => {
          while ((await migrationStatus(t.db)).applied.includes('024_request_echo_token'))
            await t.db.knex.migrate.down(MIGRATION_CONFIG);
        };
        // A re-up could not give the token back, and a rebuilt response would lack it.
        await expect(down()).rejects.toThrow(
          /would lose the EchoToken 1 request\(s\) gave \(GS_GSBER01_StayInfoNotif_20261101\.xml \(id \d+\): "GSBER01-Ü/,
        );
        expect(await t.db.knex('files').pluck('echo_token')).toEqual([token]);
        await t.db.knex('files').update({ echo_token: null });
        await down();
        expect(await t.db.knex.schema.hasColumn('files', 'echo_token')).toBe(false);
        expect(await t.db.knex('files').pluck('name')).toEqual([request.name]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await t.db.knex('files').pluck('echo_token')).toEqual([null]);
      } finally {
        await t.cleanup();
      }
    });

    it('026 keeps what a run warned of, links the steps recorded before it to their night, marks the refusals, and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('026_run_warnings'));
        const down = async () => {
          while ((await migrationStatus(t.db)).applied.includes('026_run_warnings'))
            await t.db.knex.migrate.down(MIGRATION_CONFIG);
        };
        await down();
        // Before it: a night's records, a step run alone by another process meanwhile (before 017 runs of
        // other dates could overlap), the next night of the same daemon, and a step run alone after it.
        const run = (
          job: string,
          date: string,
          pid: number,
          minute: number,
          ended = minute + 1,
          error: string | null = null,
        ) => ({
          job,
          business_date: date,
          status: error === null ? 'succeeded' : 'failed',
          error,
          started_at: `2026-05-30T02:${String(minute).padStart(2, '0')}:00.000Z`,
          finished_at: `2026-05-30T02:${String(ended).padStart(2, '0')}:00.000Z`,
          host: 'batch1',
          pid,
        });
        await t.db.knex('job_runs').insert([
          run('nightly', '2026-05-29', 100, 0, 30),
          run('fetch', '2026-05-29', 100, 1),
          run('report', '2026-05-20', 200, 2),
          run('ingest', '2026-05-29', 100, 3),
          run('accrue', '2026-05-29', 100, 4),
          run('nightly', '2026-05-30', 100, 40, 50),
          run('fetch', '2026-05-30', 100, 41),
          run('tiers', '2026-05-30', 100, 55),
          // Refused before any step ran: a scheduled night lacking a secret, a month-end before its night.
          run(
            'nightly',
            '2026-05-31',
            300,
            56,
            56,
            '[SECRET_MISSING] nightly for 2026-05-31 refused: 1 secret(s)',
          ),
          run(
            'monthly',
            '2026-05-31',
            301,
            57,
            57,
            '[NIGHT_INCOMPLETE] monthly for 2026-05-31 refused: no nightly',
          ),
          // Not refusals: a step that failed with the same code, a night killed before its first step.
          run(
            'fetch',
            '2026-05-31',
            302,
            58,
            58,
            '[SECRET_MISSING] cannot read the private key file named by K',
          ),
          run('nightly', '2026-05-28', 303, 59, 59, '[INTERRUPTED] the process (batch1 pid 303) ended'),
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        const refusals = async () =>
          ((await t.db.knex('job_runs').orderBy('id').pluck('refused')) as unknown[]).map(Boolean);
        const refused = [...Array<boolean>(8).fill(false), true, true, false, false];
        expect(await refusals()).toEqual(refused);
        const ids = (await t.db.knex('job_runs').orderBy('id').pluck('id')).map(Number);
        const links = async () =>
          ((await t.db.knex('job_runs').orderBy('id').select('part_of')) as Array<{ part_of: unknown }>).map(
            (r) => (r.part_of === null ? null : Number(r.part_of)),
          );
        const linked = [null, ids[0], null, ids[0], ids[0], null, ids[5], null, null, null, null, null];
        expect(await links()).toEqual(linked);
        expect(await t.db.knex('job_runs').whereNotNull('warnings').pluck('id')).toEqual([]);

        // What a run warned of is the only trace of it, the log aside: down keeps it by refusing.
        const warned = JSON.stringify(["1 file(s) in inbox:ftl match no feed's pattern"]);
        await t.db.knex('job_runs').where({ id: ids[1] }).update({ warnings: warned });
        await t.db.knex('job_runs').where({ id: ids[6] }).update({ warnings: '[]' });
        await expect(down()).rejects.toThrow(
          /would lose the warnings 1 run\(s\) recorded \(run \d+ \(fetch for 2026-05-29\)\)/,
        );
        expect(await t.db.knex('job_runs').where({ id: ids[1] }).pluck('warnings')).toEqual([warned]);
        await t.db.knex('job_runs').update({ warnings: null });
        await down();
        expect(await t.db.knex.schema.hasColumn('job_runs', 'warnings')).toBe(false);
        expect(await t.db.knex.schema.hasColumn('job_runs', 'part_of')).toBe(false);
        expect(await t.db.knex.schema.hasColumn('job_runs', 'refused')).toBe(false);
        expect((await t.db.knex('job_runs').orderBy('id').pluck('id')).map(Number)).toEqual(ids);
        // The links are made again.
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await links()).toEqual(linked);
        expect(await refusals()).toEqual(refused);
      } finally {
        await t.cleanup();
      }
    });

    it('025 gives a partner adjustment numbers beside its invoice number, keeps what each invoice carried, and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const number = (partner: string, n: number, adjusts: string | null = null) => ({
          issuer: 'XX1',
          billing_month: '2026-11',
          partner_code: partner,
          number: n,
          invoice_number: `202611${String(n).padStart(4, '0')}`,
          assigned_on: '2026-11-30',
          transmission: 1,
          ...(adjusts === null ? {} : { adjusts }),
        });
        await t.db.knex('invoice_numbers').insert([number('GRANDSTAY', 1), number('LH', 2)]);
        // A second adjustment of GRANDSTAY's invoice, but never a second invoice of the month.
        await t.db.knex('invoice_numbers').insert(number('GRANDSTAY', 3, '2026110001'));
        await t.db.knex('invoice_numbers').insert(number('GRANDSTAY', 4, '2026110001'));
        await expect(t.db.knex('invoice_numbers').insert(number('GRANDSTAY', 5))).rejects.toThrow(
          /unique|UNIQUE/,
        );
        const id = (n: string) =>
          t.db
            .knex('invoice_numbers')
            .where({ invoice_number: n })
            .first('id')
            .then((r) => Number(r.id));
        const kept = {
          invoice_number_id: await id('2026110002'),
          line: 1,
          activity_type: 'PARTNER_FLIGHT',
          contract_id: 'LH-2025',
          charge_code: 'FFP',
          description: 'PARTNER_FLIGHT points credited, LH-2025',
          points: 2000,
          price_per_point: '0.0105',
          detail_count: 1,
          currency: 'EUR',
          buyer_id: '220',
        };
        await t.db.knex('invoice_lines').insert(kept);
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('025_invoice_adjustments'));
        // Down to before 025 from wherever a refusal left it: the migrations after it roll back first.
        const down = async () => {
          while ((await migrationStatus(t.db)).applied.includes('025_invoice_adjustments'))
            await t.db.knex.migrate.down(MIGRATION_CONFIG);
        };
        // The adjustment numbers are partners', and the kept lines what they were billed: the down keeps both.
        await expect(down()).rejects.toThrow(
          /would lose 2 adjustment invoice number\(s\) given to partners \(2026110003 adjusting 2026110001, 2026110004 adjusting 2026110001\); and the lines 1 invoice\(s\) carried when written \(2026110002: 1\)/,
        );
        expect(
          await t.db
            .knex('invoice_numbers')
            .whereNotNull('adjusts')
            .orderBy('number')
            .pluck('invoice_number'),
        ).toEqual(['2026110003', '2026110004']);
        await t.db.knex('invoice_numbers').whereNotNull('adjusts').delete();
        await expect(down()).rejects.toThrow(/would lose the lines 1 invoice\(s\) carried when written/);
        expect(
          await t.db.knex('invoice_lines').select('points', 'price_per_point', 'currency', 'buyer_id'),
        ).toEqual([{ points: 2000, price_per_point: '0.0105', currency: 'EUR', buyer_id: '220' }]);
        await t.db.knex('invoice_lines').delete();
        await down();
        expect(await t.db.knex.schema.hasTable('invoice_lines')).toBe(false);
        expect(await t.db.knex.schema.hasColumn('invoice_numbers', 'adjusts')).toBe(false);
        // One number a partner a month again, and the numbers given before stay.
        await expect(t.db.knex('invoice_numbers').insert(number('GRANDSTAY', 3))).rejects.toThrow(
          /unique|UNIQUE/,
        );
        expect(await t.db.knex('invoice_numbers').orderBy('number').pluck('invoice_number')).toEqual([
          '2026110001',
          '2026110002',
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(
          await t.db.knex('invoice_numbers').orderBy('number').select('invoice_number', 'adjusts'),
        ).toEqual([
          { invoice_number: '2026110001', adjusts: null },
          { invoice_number: '2026110002', adjusts: null },
        ]);
      } finally {
        await t.cleanup();
      }
    });

    it('038 keeps which earlier month a kept invoice line takes back, and rolls back only once none would be lost', async () => {
      const t = await createTestDatabase(engine);
      try {
        const [row] = await t.db
          .knex('invoice_numbers')
          .insert({
            issuer: 'XX1',
            billing_month: '2026-12',
            partner_code: 'GRANDSTAY',
            number: 1,
            invoice_number: '2026120001',
            assigned_on: '2026-12-31',
            transmission: 1,
          })
          .returning('id');
        const line = (n: number, creditMonth: string | null) => ({
          invoice_number_id: insertedId(row),
          line: n,
          activity_type: 'STAY',
          contract_id: 'GRANDSTAY-2026',
          charge_code: 'FFP',
          description: `STAY points ${creditMonth ? 'reversed' : 'credited'}, GRANDSTAY-2026${creditMonth ? `, from ${creditMonth}` : ''}`,
          points: creditMonth ? -1000 : 500,
          price_per_point: creditMonth ? '0.0095' : '0.02',
          detail_count: 1,
          currency: 'USD',
          buyer_id: '9GS',
          credit_month: creditMonth,
        });
        await t.db.knex('invoice_lines').insert([line(1, null), line(2, '2026-11')]);
        const down = () => t.db.knex.migrate.down(MIGRATION_CONFIG);
        // Back to 038 as the last applied, however many migrations came after it.
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('038_invoice_line_credit_month'));
        for (const _ of since.slice(1)) await down();
        await expect(down()).rejects.toThrow(
          /would lose which earlier month's credits 1 kept invoice line\(s\) take back \(2026120001 line 2 \(2026-11\)\)/,
        );
        expect(await t.db.knex('invoice_lines').orderBy('line').pluck('credit_month')).toEqual([
          null,
          '2026-11',
        ]);
        await t.db.knex('invoice_lines').where('line', 2).delete();
        await down();
        expect(await t.db.knex.schema.hasColumn('invoice_lines', 'credit_month')).toBe(false);
        expect(await t.db.knex('invoice_lines').pluck('points')).toEqual([500]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await t.db.knex('invoice_lines').select('points', 'credit_month')).toEqual([
          { points: 500, credit_month: null },
        ]);
      } finally {
        await t.cleanup();
      }
    });

    it('019 keeps who decided a held file, when and why, and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const decided = {
          direction: 'in',
          feed: 'flown',
          name: 'FLOWN_20260502.csv',
          size: 10,
          sha256: 'c'.repeat(64),
          verdict: 'discarded',
          created_at: '2026-05-03T08:00:00Z',
          decision: 'discarded',
          decided_by: 'n'.repeat(128),
          decided_at: '2026-05-03T08:15:00Z',
          decision_reason: 'sent by mistake',
        };
        await t.db.knex('files').insert(decided);
        expect(await t.db.knex('files').first('decision', 'decided_by', 'decision_reason')).toEqual({
          decision: 'discarded',
          decided_by: 'n'.repeat(128),
          decision_reason: 'sent by mistake',
        });
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('019_file_decisions'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('files', 'decided_by')).toBe(false);
        expect(await t.db.knex('files').pluck('name')).toEqual(['FLOWN_20260502.csv']);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await t.db.knex('files').first('decision')).toEqual({ decision: null });
      } finally {
        await t.cleanup();
      }
    });

    it('017 names the run holding the run lock, clears the per-date locks of before, and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const lock = {
          name: 'run',
          holder: 'night-host pid 4242',
          pid: 4242,
          job: 'nightly',
          business_date: '2026-05-10',
          acquired_at: '2026-05-11T02:30:00.000Z',
          heartbeat_at: '2026-05-11T02:30:00.000Z',
        };
        await t.db.knex('job_locks').insert(lock);
        expect(await t.db.knex('job_locks').first('job', 'business_date')).toEqual({
          job: 'nightly',
          business_date: '2026-05-10',
        });
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('017_run_lock_holder'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('job_locks', 'job')).toBe(false);
        expect(await t.db.knex.schema.hasColumn('job_locks', 'business_date')).toBe(false);
        // A killed run's lock as versions before 017 named it: by its job and date.
        const { job: _job, business_date: _date, ...before } = lock;
        await t.db.knex('job_locks').insert({ ...before, name: 'nightly:2026-05-10' });
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await t.db.knex('job_locks').select('name')).toEqual([]);
        expect(await t.db.knex.schema.hasColumn('job_locks', 'business_date')).toBe(true);
      } finally {
        await t.cleanup();
      }
    });

    /** The plan of a statement, as text naming the indexes it reads. */
    const planOf = async (t: { db: { knex: Knex } }, engine: string, statement: { toSQL(): Knex.Sql }) => {
      const { sql, bindings } = statement.toSQL();
      return t.db.knex.transaction(async (trx) => {
        // An empty table is read whole by PostgreSQL's choice; the question is whether it can use the index.
        if (engine === 'postgres') await trx.raw('SET LOCAL enable_seqscan = off');
        const explained = await trx.raw(
          `${engine === 'postgres' ? 'EXPLAIN' : 'EXPLAIN QUERY PLAN'} ${sql}`,
          bindings,
        );
        return JSON.stringify(engine === 'postgres' ? explained.rows : explained);
      });
    };

    it('009 lets retention read only the names and reject texts left to clear, through their partial indexes', async () => {
      const t = await createTestDatabase(engine);
      try {
        const statements = [
          // 009's index on the names by date, ordered by route within the day since 027.
          [
            namesToClear(t.db.knex, '2026-01-01').update({ travel_surname: null }),
            'activities_travel_names_by_route',
          ],
          [rejectTextsToBlank(t.db.knex, '2026-01-01').update({ text: null }), 'rejects_text_by_date'],
        ] as const;
        for (const [statement, index] of statements)
          expect(await planOf(t, engine, statement)).toContain(index);
      } finally {
        await t.cleanup();
      }
    });

    it('027 lets a claim by flight read the named passengers of its route and day, retention still the names to clear, and rolls back to 009’s index', async () => {
      const t = await createTestDatabase(engine);
      try {
        const claim = () => passengersOfTheDay(t.db.knex, '2026-03-10', 'SVO', 'KZN').select('id');
        const retention = () => namesToClear(t.db.knex, '2026-01-01').update({ travel_surname: null });
        const route = 'activities_travel_names_by_route';
        expect(await planOf(t, engine, claim())).toContain(route);
        expect(await planOf(t, engine, retention())).toContain(route);
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('027_travel_names_by_route'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await planOf(t, engine, retention())).toContain('activities_travel_names_by_date');
        expect(await planOf(t, engine, retention())).not.toContain(route);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await planOf(t, engine, claim())).toContain(route);
      } finally {
        await t.cleanup();
      }
    });

    it('036 lets the daily report find a night’s rejected activities and retro-claims through their indexes, and rolls back to reading them whole', async () => {
      const t = await createTestDatabase(engine);
      try {
        const night = '2026-03-10';
        // The records the Summary, the reject reasons and the Files sheet count, in one statement.
        const rejected = (extra: string) =>
          t.db.knex.raw(
            `SELECT ${extra} FROM (${rejectedRecordsSql('?')}) r`,
            rejectedRecordsParams([night]),
          );
        const plan = await planOf(t, engine, rejected('r.id'));
        expect(plan).toContain('activities_rejected_by_night');
        expect(plan).toContain('retro_claims_last_tried_on');
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('036_reject_indexes'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        // Each plan asked of another statement text: SQLite's connection keeps a prepared EXPLAIN's first plan.
        const before = await planOf(t, engine, rejected('r.id, r.day'));
        expect(before).not.toContain('activities_rejected_by_night');
        expect(before).not.toContain('retro_claims_last_tried_on');
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await planOf(t, engine, rejected('r.id, r.feed'))).toContain('activities_rejected_by_night');
      } finally {
        await t.cleanup();
      }
    });

    it('041 lets the fx ingest and each night find the partner spend waiting for its rate through its index, and rolls back to reading the archive whole', async () => {
      const t = await createTestDatabase(engine);
      try {
        const index = 'activities_awaiting_rate';
        // Each plan asked of another statement text: SQLite's connection keeps a prepared EXPLAIN's first plan.
        const overdue = (...columns: string[]) =>
          awaitingRate(t.db.knex).andWhere('activity_date', '<', '2026-03-11').select(columns);
        const requeue = () => awaitingRate(t.db.knex).update({ needs_accrual: true });
        expect(await planOf(t, engine, overdue('id'))).toContain(index);
        expect(await planOf(t, engine, requeue())).toContain(index);
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('041_awaiting_rate'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await planOf(t, engine, overdue('id', 'type'))).not.toContain(index);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await planOf(t, engine, overdue('id', 'reason'))).toContain(index);
      } finally {
        await t.cleanup();
      }
    });

    it('047 lets a redemption find the expired lots of its account still valid on its date through an index', async () => {
      const t = await createTestDatabase(engine);
      try {
        const index = 'lots_by_account';
        // SQLite's plan is the one measured (the embedded default read every lot per redemption); an
        // empty PostgreSQL table plans by other costs, so there the question is whether it can use it.
        // Each plan asked of another statement text: SQLite's connection keeps a prepared EXPLAIN's first plan.
        const valid = (spacing: string) =>
          engine === 'sqlite'
            ? t.db.knex.raw(EXPIRED_LOTS_VALID_ON.replace('WHERE', `${spacing}WHERE`), [
                1,
                '2026-03-31',
                '2026-03-31',
              ])
            : t.db
                .knex('lots')
                .where({ account_id: 1 })
                .andWhere('expires_on', '>=', '2026-03-31')
                .select(`id as i${spacing.length}`);
        expect(await planOf(t, engine, valid(' '))).toContain(index);
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('047_lots_by_account'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await planOf(t, engine, valid('  '))).not.toContain(index);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await planOf(t, engine, valid('   '))).toContain(index);
      } finally {
        await t.cleanup();
      }
    });

    it('046 keeps the marketing listing’s key of each codeshare coupon stored before it where ingest finds it through its index, and rolls back keeping it in the detail', async () => {
      const t = await createTestDatabase(engine);
      try {
        const index = 'activities_marketing_key';
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('046_activity_marketing_key'));
        // Back to before 046, however many migrations came after it.
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        const listed = 'FLT:YY5245:2026-03-10:SVO-KZN:XX:4000000010';
        const sold = 'FLT:XX245:2026-03-10:SVO-KZN:XX:4000000010';
        const details: Record<string, object | null> = {
          [sold]: { marketingCarrier: 'YY', marketingKey: listed },
          'FLT:XX247:2026-03-10:SVO-KZN:XX:4000000010': { marketingCarrier: 'XX' },
          'PTR:REDBANK:RB-1': null,
        };
        await t.db.knex('activities').insert(
          Object.entries(details).map(([key, detail]) => ({
            activity_key: key,
            type: 'FLIGHT',
            activity_date: '2026-03-10',
            business_date: '2026-03-11',
            status: 'POSTED',
            detail: detail === null ? null : JSON.stringify(detail),
            updated_at: '2026-03-11T02:00:00Z',
          })),
        );
        const stored = async () =>
          (await t.db.knex('activities').orderBy('activity_key').select('activity_key', 'detail')).map(
            (r) => [r.activity_key, r.detail === null ? null : JSON.parse(String(r.detail))],
          );
        const before = await stored();
        const found = async () =>
          (await soldAsListed(t.db.knex, [listed]).select('activity_key')).map((r) => r.activity_key);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await found()).toEqual([sold]);
        expect(await planOf(t, engine, soldAsListed(t.db.knex, [listed]).select('id'))).toContain(index);
        // A detail rewritten without the key (a coupon on another program's card joining ours) drops it.
        const rewrite = (detail: object | null) =>
          t.db
            .knex('activities')
            .where({ activity_key: sold })
            .update(toDb({ detail }, '2026-03-12T02:00:00Z'));
        await rewrite({ marketingCarrier: 'YY' });
        expect(await found()).toEqual([]);
        await rewrite(details[sold]!);
        expect(await found()).toEqual([sold]);
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('activities', 'marketing_key')).toBe(false);
        expect(await stored()).toEqual(before);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await found()).toEqual([sold]);
        // Another statement text: SQLite's connection keeps a prepared EXPLAIN's first plan.
        expect(await planOf(t, engine, soldAsListed(t.db.knex, [listed]).select('id', 'type'))).toContain(
          index,
        );
      } finally {
        await t.cleanup();
      }
    });

    it('032 lets the members feed find the erasures of a number through its index, and rolls back keeping every erasure', async () => {
      const t = await createTestDatabase(engine);
      try {
        const erasure = {
          member_number: '1000000016',
          reason: 'REQUEST',
          erased_at: '2026-03-05T09:00:00Z',
          fields: 'surname',
        };
        await t.db.knex('erasures').insert(erasure);
        // Each plan asked of another statement text: SQLite's connection keeps a prepared EXPLAIN's first plan.
        const lookup = (...columns: string[]) => erasuresOf(t.db.knex, '1000000016').select(columns);
        expect(await planOf(t, engine, lookup('erased_at'))).toContain('erasures_member_number');
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('032_erasures_by_number'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await planOf(t, engine, lookup('erased_at', 'id'))).not.toContain('erasures_member_number');
        expect(await t.db.knex('erasures').select('member_number', 'reason')).toEqual([
          { member_number: '1000000016', reason: 'REQUEST' },
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await planOf(t, engine, lookup('erased_at', 'reason'))).toContain('erasures_member_number');
      } finally {
        await t.cleanup();
      }
    });

    it('034 starts each file’s verdict history from the verdict it has, dated its night, and rolls back keeping every verdict', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('034_file_verdicts'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasTable('file_verdicts')).toBe(false);
        const file = (name: string, fields: Record<string, unknown>) => ({
          direction: 'in',
          feed: 'ftl',
          name,
          size: 10,
          sha256: name.padEnd(64, '0').slice(0, 64),
          created_at: '2026-06-05T00:30:00Z',
          ...fields,
        });
        const counts = JSON.stringify({ lines: 9, records: 0, rejects: 0, held: 2 });
        await t.db.knex('files').insert([
          file('part2.ftl', {
            business_date: '2026-06-04',
            verdict: 'held',
            reason: 'INCOMPLETE_MESSAGE',
            counts,
            processed_at: '2026-06-05T00:31:00Z',
          }),
          file('conflict.ftl', { business_date: '2026-06-04', verdict: 'conflict', reason: 'NAME_CONFLICT' }),
          // A file without a night is on no report: nothing to date its verdict by.
          file('undated.ftl', { verdict: 'accepted' }),
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        const history = () =>
          t.db
            .knex('file_verdicts as v')
            .join('files as f', 'f.id', 'v.file_id')
            .orderBy('v.id')
            .select(
              'f.name',
              'v.verdict',
              'v.reason',
              'v.counts',
              t.db.knex.raw(`${dateTextSql(t.db, 'v.business_date')} AS night`),
            );
        expect(await history()).toEqual([
          { name: 'part2.ftl', verdict: 'held', reason: 'INCOMPLETE_MESSAGE', counts, night: '2026-06-04' },
          {
            name: 'conflict.ftl',
            verdict: 'conflict',
            reason: 'NAME_CONFLICT',
            counts: null,
            night: '2026-06-04',
          },
        ]);

        // The next night completes the message: its verdict is added, the first one kept.
        const part2 = Number((await t.db.knex('files').where({ name: 'part2.ftl' }).first('id')).id);
        await setVerdict(
          t.db.knex,
          part2,
          { verdict: 'accepted', message: 'its held parts completed' },
          { at: '2026-06-06T00:31:00Z', businessDate: '2026-06-05' },
        );
        expect((await history()).map((r) => [r.name, r.verdict, r.night])).toEqual([
          ['part2.ftl', 'held', '2026-06-04'],
          ['conflict.ftl', 'conflict', '2026-06-04'],
          ['part2.ftl', 'accepted', '2026-06-05'],
        ]);
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasTable('file_verdicts')).toBe(false);
        expect(await t.db.knex('files').orderBy('id').select('name', 'verdict', 'reason')).toEqual([
          { name: 'part2.ftl', verdict: 'accepted', reason: null },
          { name: 'conflict.ftl', verdict: 'conflict', reason: 'NAME_CONFLICT' },
          { name: 'undated.ftl', verdict: 'accepted', reason: null },
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect((await history()).map((r) => [r.name, r.verdict, r.night])).toEqual([
          ['part2.ftl', 'accepted', '2026-06-04'],
          ['conflict.ftl', 'conflict', '2026-06-04'],
        ]);
      } finally {
        await t.cleanup();
      }
    });

    it('037 remembers the FTL messages a night completed, keeping the first completion, and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('037_completed_ftl_messages'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasTable('ftl_messages')).toBe(false);
        expect(await migrateLatest(t.db)).toEqual(since);
        const [file] = await t.db
          .knex('files')
          .insert({
            direction: 'in',
            feed: 'ftl',
            name: 'ftl-0311.txt',
            size: 10,
            sha256: '0'.repeat(64),
            verdict: 'accepted',
            created_at: '2026-03-12T00:30:00Z',
          })
          .returning('id');
        const fileId = insertedId(file);
        const message = {
          message: 'XX245/2026-03-10/SVO',
          finalPart: 2,
          file: 'ftl-0311.txt',
          line: 1,
          fileId,
        };
        await rememberCompletedFtlMessages(t.db.knex, [message], (m) => m.fileId, '2026-03-11');
        // Completed again once forgotten by a delivery: the first completion is the one named.
        await rememberCompletedFtlMessages(
          t.db.knex,
          [{ ...message, line: 9, fileId: undefined }],
          () => undefined,
          '2026-03-12',
        );
        expect(await completedFtlMessages(t.db.knex)).toEqual([{ ...message, completedOn: '2026-03-11' }]);
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasTable('ftl_messages')).toBe(false);
        expect(await t.db.knex('files').count({ n: '*' }).first()).toEqual({ n: 1 });
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await completedFtlMessages(t.db.knex)).toEqual([]);
      } finally {
        await t.cleanup();
      }
    });

    it('035 opens a closure spell for each account closed or merged, and rolls back keeping every closure', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('035_member_closures'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasTable('member_closures')).toBe(false);
        const member = (number: string, fields: Partial<Parameters<typeof insertMember>[1]>) =>
          insertMember(t.db.knex, { number, status: 'ACTIVE', tier: 'MEMBER', ...fields });
        await member('1000000016', {});
        await member('1000000024', { status: 'CLOSED', closedOn: '2026-10-10' });
        await member('1000000032', { status: 'MERGED', mergedInto: '1000000016', closedOn: '2026-10-20' });
        // Merged by something else than the ingest: its transfer posting dates the merge, as before.
        await member('1000000040', { status: 'MERGED', mergedInto: '1000000016' });
        expect(await migrateLatest(t.db)).toEqual(since);
        const spells = async () =>
          (
            await t.db
              .knex('member_closures as c')
              .join('members as m', 'm.id', 'c.member_id')
              .orderBy('c.id')
              .select(
                'm.number',
                'c.merged_into',
                t.db.knex.raw(`${dateTextSql(t.db, 'c.closed_on')} AS closed_on`),
                t.db.knex.raw(`${dateTextSql(t.db, 'c.reopened_on')} AS reopened_on`),
              )
          ).map((r) => [r.number, r.closed_on, r.reopened_on, r.merged_into]);
        expect(await spells()).toEqual([
          ['1000000024', '2026-10-10', null, null],
          ['1000000032', '2026-10-20', null, '1000000016'],
        ]);

        // Reopened in November: the spell ends, the account's state is open again.
        await t.db.knex('member_closures').whereNull('reopened_on').update({ reopened_on: '2026-11-05' });
        await updateMember(t.db.knex, '1000000024', { status: 'ACTIVE', closedOn: null });
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasTable('member_closures')).toBe(false);
        const state = async () =>
          (
            await t.db
              .knex('members')
              .orderBy('number')
              .select(
                'number',
                'status',
                'merged_into',
                t.db.knex.raw(`${dateTextSql(t.db, 'closed_on')} AS closed_on`),
              )
          ).map((r) => [r.number, r.status, r.closed_on, r.merged_into]);
        expect(await state()).toEqual([
          ['1000000016', 'ACTIVE', null, null],
          ['1000000024', 'ACTIVE', null, null],
          ['1000000032', 'MERGED', '2026-10-20', '1000000016'],
          ['1000000040', 'MERGED', null, '1000000016'],
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await spells()).toEqual([['1000000032', '2026-10-20', null, '1000000016']]);
      } finally {
        await t.cleanup();
      }
    });

    it('028 leaves the members pooled before it as joined before anything, and rolls back keeping their pools', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('028_member_pool_since'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        const [pool] = await t.db
          .knex('pools')
          .insert({ code: 'H1', type: 'HOUSEHOLD', created_at: '2026-03-01T00:00:00Z' })
          .returning('id');
        const poolId = Number(typeof pool === 'object' ? (pool as { id: number }).id : pool);
        await insertMember(t.db.knex, { number: '1000000016', status: 'ACTIVE', tier: 'MEMBER', poolId });
        expect(await migrateLatest(t.db)).toEqual(since);
        const pooled = () => t.db.knex('members').where({ number: '1000000016' });
        expect(await pooled().first('pool_id', 'pool_since')).toEqual({ pool_id: poolId, pool_since: null });

        await pooled().update({ pool_since: '2027-09-20' });
        expect(await pooled().first('pool_since')).toEqual({ pool_since: '2027-09-20' });
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('members', 'pool_since')).toBe(false);
        expect(await pooled().first('number', 'pool_id')).toEqual({ number: '1000000016', pool_id: poolId });
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await pooled().first('pool_since')).toEqual({ pool_since: null });
      } finally {
        await t.cleanup();
      }
    });

    it('033 dates each member stored by an ingest run with its night, the others with their enrolment, and rolls back keeping them', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('033_member_registered_on'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('members', 'registered_on')).toBe(false);
        // The night of 1 November ran early on the 2nd and stored a member enrolled on 31 October.
        await t.db.knex('job_runs').insert([
          {
            job: 'ingest',
            business_date: '2026-10-31',
            status: 'succeeded',
            started_at: '2026-11-01T01:00:00.000Z',
            finished_at: '2026-11-01T01:10:00.000Z',
          },
          {
            job: 'ingest',
            business_date: '2026-11-01',
            status: 'succeeded',
            started_at: '2026-11-02T01:00:00.000Z',
            finished_at: '2026-11-02T01:10:00.000Z',
          },
        ]);
        const enrol = (number: string, enrolmentDate: string | null, at: string) =>
          insertMember(t.db.knex, { number, status: 'ACTIVE', tier: 'MEMBER', enrolmentDate }, new Date(at));
        await enrol('1000000016', '2026-10-15', '2026-11-01T01:04:00.000Z');
        await enrol('1000000024', '2026-10-31', '2026-11-02T01:05:00.000Z');
        // Written outside any ingest run: counted from its enrolment as before, or from the start.
        await enrol('1000000032', '2025-01-10', '2026-03-01T00:00:00.000Z');
        await enrol('1000000040', null, '2026-03-01T00:00:00.000Z');
        expect(await migrateLatest(t.db)).toEqual(since);
        const registered = async () =>
          (await t.db.knex('members').orderBy('number').select('number', 'registered_on')).map((m) => [
            m.number,
            m.registered_on === null ? null : String(m.registered_on).slice(0, 10),
          ]);
        expect(await registered()).toEqual([
          ['1000000016', '2026-10-31'],
          ['1000000024', '2026-11-01'],
          ['1000000032', '2025-01-10'],
          ['1000000040', null],
        ]);

        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('members', 'registered_on')).toBe(false);
        expect(Number((await t.db.knex('members').count({ n: '*' }))[0]!.n)).toBe(4);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect((await registered())[1]).toEqual(['1000000024', '2026-11-01']);
      } finally {
        await t.cleanup();
      }
    });

    it('029 records the pool stays that end from then on, and rolls back keeping every member in their pool', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('029_past_pool_memberships'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasTable('past_pool_memberships')).toBe(false);
        const [pool] = await t.db
          .knex('pools')
          .insert({ code: 'H1', type: 'HOUSEHOLD', created_at: '2026-03-01T00:00:00Z' })
          .returning('id');
        const poolId = Number(typeof pool === 'object' ? (pool as { id: number }).id : pool);
        await insertMember(t.db.knex, { number: '1000000016', status: 'ACTIVE', tier: 'MEMBER', poolId });
        const pooled = () => t.db.knex('members').where({ number: '1000000016' });
        await pooled().update({ pool_since: '2027-09-20' });
        expect(await migrateLatest(t.db)).toEqual(since);
        // No stay had ended on record: the current one stays on members.
        expect(await t.db.knex('past_pool_memberships').select()).toEqual([]);

        const { id } = (await pooled().first('id')) as { id: number };
        await t.db
          .knex('past_pool_memberships')
          .insert({ member_id: id, pool_id: poolId, since: null, until: '2027-08-02' });
        expect(await t.db.knex('past_pool_memberships').select('since', 'until')).toEqual([
          { since: null, until: '2027-08-02' },
        ]);
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasTable('past_pool_memberships')).toBe(false);
        expect(await pooled().first('pool_id', 'pool_since')).toEqual({
          pool_id: poolId,
          pool_since: '2027-09-20',
        });
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await t.db.knex('past_pool_memberships').select()).toEqual([]);
      } finally {
        await t.cleanup();
      }
    });

    it('030 keeps former names, waiting merges and source files, and rolls back turning each waiting merge into the reject it was before', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('030_member_names_and_waiting_merges'));
        const id = (row: unknown) => Number(typeof row === 'object' ? (row as { id: number }).id : row);
        const [file] = await t.db
          .knex('files')
          .insert({
            direction: 'in',
            feed: 'members',
            name: 'members-0001.csv',
            size: 1,
            sha256: 'm'.repeat(64),
            business_date: '2026-03-02',
            verdict: 'accepted',
            created_at: '2026-03-02T01:00:00Z',
          })
          .returning('id');
        const fileId = id(file);
        const memberId = await insertMember(t.db.knex, {
          number: '1000000016',
          status: 'ACTIVE',
          tier: 'MEMBER',
          surname: 'IVANOVA',
        });
        await t.db.knex('members').where({ id: memberId }).update({ source_file_id: fileId });
        await t.db.knex('member_names').insert({
          member_id: memberId,
          surname: 'SMIRNOVA',
          given_name: 'ANNA',
          valid_until: '2026-03-03',
          created_at: '2026-03-04T01:00:00Z',
        });
        await t.db.knex('member_merges_waiting').insert({
          member_number: '1000000016',
          merged_into: '1000000024',
          source_updated_at: '2026-03-01T10:00:00.000Z',
          file_id: fileId,
          line: 2,
          record: '{}',
          business_date: '2026-03-02',
          created_at: '2026-03-02T01:00:00Z',
        });
        expect(await t.db.knex('member_names').first('surname', 'valid_until')).toEqual({
          surname: 'SMIRNOVA',
          valid_until: '2026-03-03',
        });

        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasTable('member_names')).toBe(false);
        expect(await t.db.knex.schema.hasTable('member_merges_waiting')).toBe(false);
        expect(await t.db.knex.schema.hasColumn('members', 'source_file_id')).toBe(false);
        expect(await t.db.knex('members').where({ id: memberId }).first('surname')).toEqual({
          surname: 'IVANOVA',
        });
        expect(
          await t.db
            .knex('rejects')
            .select('file_id', 'line', 'field', 'reason', 'member_number', 'business_date', 'message'),
        ).toEqual([
          {
            file_id: fileId,
            line: 2,
            field: 'merged_into',
            reason: 'MEMBER_UNKNOWN',
            member_number: '1000000016',
            business_date: '2026-03-02',
            message:
              '1000000016 is merged into 1000000024, which is not a member: nothing moved, 1000000016 stays as it was; send the row again once 1000000024 is enrolled',
          },
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await t.db.knex('members').where({ id: memberId }).first('source_file_id')).toEqual({
          source_file_id: null,
        });
      } finally {
        await t.cleanup();
      }
    });

    it('031 takes the tier events of each list built before it as mailed by it, leaves to the next list those recorded after delivery, and rolls back', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('031_tier_event_mailing'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('tier_events', 'mailing_file_id')).toBe(false);
        const member = await insertMember(t.db.knex, {
          number: '1000000016',
          status: 'ACTIVE',
          tier: 'GOLD',
          email: 'ivan@example.com',
          consent: { ALL: true },
          surname: 'IVANOV',
          givenName: 'IVAN',
        });
        const list = async (kind: string, date: string, deliveredAt: string | null) => {
          const [row] = await t.db
            .knex('files')
            .insert({
              direction: 'out',
              feed: 'mailing',
              name: `${kind}_${date.replaceAll('-', '')}.csv`,
              size: 1,
              sha256: `${kind}${date}`.padEnd(64, '0'),
              local_path: `mailing/${kind}_${date.replaceAll('-', '')}.csv`,
              business_date: date,
              verdict: deliveredAt === null ? 'written' : 'delivered',
              delivered_at: deliveredAt,
              export_key: `mailing:-:${kind}:${date}`,
              created_at: `${addDays(date, 1)}T02:00:00Z`,
            })
            .returning('id');
          return Number(typeof row === 'object' ? (row as { id: number }).id : row);
        };
        const delivered = await list('TIER_CHANGE', '2026-03-21', '2026-03-22T03:00:00Z');
        const written = await list('TIER_CHANGE', '2026-03-22', null);
        await list('EXPIRY_WARNING', '2026-03-23', null);
        // Another member's, so that it is no later change of IVANOV's that the next list would leave out.
        const other = await insertMember(t.db.knex, {
          number: '1000000024',
          status: 'ACTIVE',
          tier: 'SILVER',
          surname: 'PETROV',
          givenName: 'PETR',
        });
        const event = (
          key: string,
          date: string,
          direction: string,
          to: string,
          createdAt: string,
          memberId = member,
        ) =>
          t.db.knex('tier_events').insert({
            event_key: key,
            member_id: memberId,
            business_date: date,
            effective_on: date,
            from_tier: 'MEMBER',
            to_tier: to,
            direction,
            qualification: 100000,
            reason: 'THRESHOLD_REACHED',
            created_at: createdAt,
          });
        await event('MAILED', '2026-03-21', 'UP', 'SILVER', '2026-03-22T01:00:00Z');
        await event('HOLD', '2026-03-21', 'HOLD', 'SILVER', '2026-03-22T01:00:00Z');
        // A rerun of the 21st after its list was delivered: in no list.
        await event('LATE', '2026-03-21', 'UP', 'GOLD', '2026-03-22T10:00:00Z');
        await event('WRITTEN', '2026-03-22', 'DOWN', 'SILVER', '2026-03-23T01:00:00Z', other);
        // The 23rd's TIER_CHANGE list is still to be written.
        await event('PENDING', '2026-03-23', 'UP', 'GOLD', '2026-03-24T01:00:00Z');
        const taken = async () =>
          Object.fromEntries(
            (await t.db.knex('tier_events').orderBy('id').select('event_key', 'mailing_file_id')).map((r) => [
              r.event_key,
              r.mailing_file_id === null ? null : Number(r.mailing_file_id),
            ]),
          );

        expect(await migrateLatest(t.db)).toEqual(since);
        const seeded = {
          MAILED: delivered,
          HOLD: null,
          LATE: null,
          WRITTEN: written,
          PENDING: null,
        };
        expect(await taken()).toEqual(seeded);
        // The next list mails the upgrade recorded after delivery, and none of those mailed before.
        const policy = mailingPolicy(parseConfig(readFileSync(EXAMPLE_CONFIG, 'utf8'), EXAMPLE_CONFIG, {}));
        const rows = [];
        for await (const row of mailingRows(t.db.knex, 'TIER_CHANGE', '2026-03-24', policy)) rows.push(row);
        expect(rows).toMatchObject([{ memberNumber: '1000000016', fromTier: 'MEMBER', toTier: 'GOLD' }]);

        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('tier_events', 'mailing_file_id')).toBe(false);
        expect(Number((await t.db.knex('tier_events').count({ n: '*' }).first())!.n)).toBe(5);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await taken()).toEqual(seeded);
      } finally {
        await t.cleanup();
      }
    });

    it('040 rebuilds a list delivered before it with every event it took, and rolls back keeping the events', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('040_tier_event_superseded'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('tier_events', 'mailing_superseded')).toBe(false);
        const member = await insertMember(t.db.knex, {
          number: '1000000016',
          status: 'ACTIVE',
          tier: 'GOLD',
          email: 'ivan@example.com',
          consent: { ALL: true },
          surname: 'IVANOV',
          givenName: 'IVAN',
        });
        // The 12th's list took the Gold upgrade, then the 11th's list was caught up with the Silver one,
        // both delivered: before 040 the 11th's mailed it.
        const list = async (date: string) => {
          const [row] = await t.db
            .knex('files')
            .insert({
              direction: 'out',
              feed: 'mailing',
              name: `TIER_CHANGE_${date.replaceAll('-', '')}.csv`,
              size: 1,
              sha256: date.padEnd(64, '0'),
              local_path: `mailing/TIER_CHANGE_${date.replaceAll('-', '')}.csv`,
              business_date: date,
              verdict: 'delivered',
              delivered_at: '2026-01-13T05:00:00Z',
              export_key: `mailing:-:TIER_CHANGE:${date}`,
              created_at: '2026-01-13T02:00:00Z',
            })
            .returning('id');
          return Number(typeof row === 'object' ? (row as { id: number }).id : row);
        };
        const twelfth = await list('2026-01-12');
        const eleventh = await list('2026-01-11');
        const event = (key: string, date: string, from: string, to: string, fileId: number) =>
          t.db.knex('tier_events').insert({
            event_key: key,
            member_id: member,
            business_date: date,
            effective_on: date,
            from_tier: from,
            to_tier: to,
            direction: 'UP',
            qualification: 100000,
            reason: 'THRESHOLD_REACHED',
            created_at: `${date}T23:30:00Z`,
            mailing_file_id: fileId,
          });
        await event('SILVER', '2026-01-11', 'MEMBER', 'SILVER', eleventh);
        await event('GOLD', '2026-01-12', 'SILVER', 'GOLD', twelfth);

        expect(await migrateLatest(t.db)).toEqual(since);
        expect(
          (await t.db.knex('tier_events').orderBy('id').select('mailing_superseded')).map((r) =>
            Boolean(r.mailing_superseded),
          ),
        ).toEqual([false, false]);
        const policy = mailingPolicy(parseConfig(readFileSync(EXAMPLE_CONFIG, 'utf8'), EXAMPLE_CONFIG, {}));
        const rows = [];
        for await (const row of mailingRows(
          t.db.knex,
          'TIER_CHANGE',
          '2026-01-11',
          policy,
          await tierChangeList(t.db.knex, eleventh),
        ))
          rows.push(row);
        expect(rows).toMatchObject([{ memberNumber: '1000000016', fromTier: 'MEMBER', toTier: 'SILVER' }]);

        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('tier_events', 'mailing_superseded')).toBe(false);
        expect(
          (await t.db.knex('tier_events').orderBy('id').select('event_key', 'mailing_file_id')).map((r) => [
            r.event_key,
            Number(r.mailing_file_id),
          ]),
        ).toEqual([
          ['SILVER', eleventh],
          ['GOLD', twelfth],
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
      } finally {
        await t.cleanup();
      }
    });

    it('014 dates a reject made after a wait, and finds the waiting cancellations through their partial indexes', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('014_cancellation_wait'));
        const program = new Program(parseConfig(readFileSync(EXAMPLE_CONFIG, 'utf8'), EXAMPLE_CONFIG, {}));
        const statements = [
          [
            overdueCancellations(t.db.knex, program, '2026-03-12').select('id'),
            'activities_cancellations_by_date',
          ],
          [
            waitingCancellationsAt(t.db.knex, '2026-03-12').select('a.id'),
            'activities_cancellations_by_date',
          ],
          [t.db.knex('activities').where('rejected_on', '2026-03-12').select('id'), 'activities_rejected_on'],
        ] as const;
        for (const [statement, index] of statements) {
          const { sql, bindings } = statement.toSQL();
          const plan = await t.db.knex.transaction(async (trx) => {
            if (engine === 'postgres') await trx.raw('SET LOCAL enable_seqscan = off');
            const explained = await trx.raw(
              `${engine === 'postgres' ? 'EXPLAIN' : 'EXPLAIN QUERY PLAN'} ${sql}`,
              bindings,
            );
            return JSON.stringify(engine === 'postgres' ? explained.rows : explained);
          });
          expect(plan, sql).toContain(index);
        }
        await t.db.knex('activities').insert({
          activity_key: 'RDM:R-9:CANCEL',
          type: 'REDEMPTION',
          activity_type: 'CANCEL',
          activity_date: '2026-03-05',
          business_date: '2026-03-05',
          status: 'REJECTED',
          reason: 'UNKNOWN_REDEMPTION',
          rejected_on: '2026-03-12',
          updated_at: '2026-03-12T23:30:00Z',
        });
        // Down takes the date and its indexes away (the migrations after it first, however many came
        // since), and leaves the rejected cancellation.
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await t.db.knex.schema.hasColumn('activities', 'rejected_on')).toBe(false);
        expect(await t.db.knex('activities').select('activity_key', 'status')).toEqual([
          { activity_key: 'RDM:R-9:CANCEL', status: 'REJECTED' },
        ]);
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await t.db.knex.schema.hasColumn('activities', 'rejected_on')).toBe(true);
      } finally {
        await t.cleanup();
      }
    });

    it('053 takes the personal values refused before it out of the messages, and leaves every other message', async () => {
      const t = await createTestDatabase(engine);
      try {
        const since = MIGRATION_NAMES.slice(
          MIGRATION_NAMES.indexOf('053_reject_messages_without_personal_values'),
        );
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        const [file] = await t.db
          .knex('files')
          .insert({
            direction: 'in',
            feed: 'partner',
            name: 'REDBANK_20260604_1.csv',
            size: 1,
            sha256: 'x'.repeat(64),
            verdict: 'rejected',
            reason: 'BAD_HEADER',
            message: 'the file must start with an H record, found "D,RB1,1000000032,IVANOV,IVAN"',
            created_at: '2026-06-05T02:00:00Z',
          })
          .returning('id');
        const rejects: Array<[string, string, string]> = [
          ['members', 'email', 'email: expected an e-mail address, found "ivan ivanov@mail.example"'],
          ['members', 'birth_date', 'birth_date: expected a date YYYY-MM-DD, found "1980-02-30"'],
          ['flown', 'passenger_surname', 'passenger_surname: expected a name, found "IVAN0V"'],
          ['ftl', 'name', 'name element 1IVAN0V/IVAN: surname "IVAN0V" is not a name'],
          ['ftl', 'name', 'given name "PETR0VNA" is not a name'],
          ['partner', '*', 'the file must start with an H record, found "D,RB1,1000000032,IVANOV,IVAN"'],
          // Not personal: a card number or a currency refused stays quoted, as the readers write it now.
          ['flown', 'currency', 'currency: expected an ISO 4217 code, found "RUR"'],
          ['members', 'email', 'email is required: expected an e-mail address'],
        ];
        for (const [feed, field, message] of rejects)
          await t.db.knex('rejects').insert({
            feed,
            field,
            reason: 'BAD_FORMAT',
            message,
            business_date: '2026-06-04',
            created_at: '2026-06-05T02:00:00Z',
          });
        expect(await migrateLatest(t.db)).toEqual(since);
        expect(await t.db.knex('rejects').orderBy('id').pluck('message')).toEqual([
          'email: expected an e-mail address',
          'birth_date: expected a date YYYY-MM-DD',
          'passenger_surname: expected a name',
          'name element 1IVAN0V/IVAN: the surname is not a name',
          'a given name is not a name',
          'the file must start with an H record',
          'currency: expected an ISO 4217 code, found "RUR"',
          'email is required: expected an e-mail address',
        ]);
        expect(await t.db.knex('files').where('id', insertedId(file)).first('message')).toEqual({
          message: 'the file must start with an H record',
        });
      } finally {
        await t.cleanup();
      }
    });

    it('007 keeps a reject whose field is a long path into a hotel stay', async () => {
      const t = await createTestDatabase(engine);
      try {
        const field = 'RevenueCategories/RevenueCategory[2]/RevenueDetails/RevenueDetail[3]/@Amount';
        await t.db.knex('rejects').insert({
          feed: 'hotel',
          line: 41,
          field,
          reason: 'BAD_AMOUNT',
          message: 'not an amount',
          business_date: '2026-11-26',
          created_at: '2026-11-27T02:00:00Z',
        });
        expect((await t.db.knex('rejects').first('field'))?.field).toBe(field);
      } finally {
        await t.cleanup();
      }
    });
  });
}

if (availableEngines().includes('postgres')) {
  describe('the PostgreSQL reporting role', () => {
    it('reads the ledger and member numbers but no personal column', async () => {
      const t = await createTestDatabase('postgres');
      try {
        await t.db.knex('members').insert({
          number: '1000000016',
          status: 'ACTIVE',
          tier: 'MEMBER',
          surname: 'IVANOV',
          email: 'ivan@example.org',
          created_at: new Date().toISOString(),
        });
        const asReporting = <T>(fn: (trx: import('knex').Knex.Transaction) => Promise<T>) =>
          t.db.knex.transaction(async (trx) => {
            await trx.raw('SET LOCAL ROLE redeye_reporting');
            return fn(trx);
          });
        expect(await asReporting((trx) => trx('members').select('number', 'tier'))).toEqual([
          { number: '1000000016', tier: 'MEMBER' },
        ]);
        expect(await asReporting((trx) => trx('postings').count({ n: '*' }))).toHaveLength(1);
        // Granted by 030 with the column: which file the member's record came in.
        expect(await asReporting((trx) => trx('members').select('source_file_id'))).toEqual([
          { source_file_id: null },
        ]);
        await expect(asReporting((trx) => trx('member_names').select('surname'))).rejects.toThrow(
          /permission denied/,
        );
        // Granted by 028 with the column: when a member joined their pool is no personal data.
        expect(await asReporting((trx) => trx('members').select('pool_id', 'pool_since'))).toEqual([
          { pool_id: null, pool_since: null },
        ]);
        // Granted by 033 with the column: the night the ledger first knew a member, which registers read.
        expect(await asReporting((trx) => trx('members').select('registered_on'))).toEqual([
          { registered_on: null },
        ]);
        // Granted by 029 with its table: the pools a member has left, no personal data.
        expect(await asReporting((trx) => trx('past_pool_memberships').select('pool_id', 'until'))).toEqual(
          [],
        );
        // Granted by 035 with its table: the spells accounts spent closed, which registers of a date read.
        expect(
          await asReporting((trx) =>
            trx('member_closures').select('closed_on', 'reopened_on', 'merged_into'),
          ),
        ).toEqual([]);
        // Granted by 006, which added the column the reports join on.
        expect(await asReporting((trx) => trx('activities').select('posting_id', 'posting_key'))).toEqual([]);
        // Granted by 011 and 012 with their columns: the field a rule faulted and a stay's number.
        expect(await asReporting((trx) => trx('activities').select('reason_field'))).toEqual([]);
        expect(await asReporting((trx) => trx('rejects').select('sequence_number'))).toEqual([]);
        // Granted by 034 with its table: the verdicts files had, which the daily report reads.
        expect(await asReporting((trx) => trx('file_verdicts').select('verdict', 'business_date'))).toEqual(
          [],
        );
        // Granted by 015 with its table: the invoice numbers given to partners.
        expect(await asReporting((trx) => trx('invoice_numbers').select('invoice_number'))).toEqual([]);
        // Granted by 014: the night that rejected a cancellation after its wait, which the daily report reads.
        expect(await asReporting((trx) => trx('activities').select('rejected_on'))).toEqual([]);
        // Granted by 021: the survivor a rejection was made for, which the daily report's Reject detail names.
        expect(await asReporting((trx) => trx('activities').select('merged_into'))).toEqual([]);
        // A rule's message is withheld as a reject's is.
        await expect(asReporting((trx) => trx('activities').select('reason_message'))).rejects.toThrow(
          /permission denied/,
        );
        await expect(asReporting((trx) => trx('members').select('surname'))).rejects.toThrow(
          /permission denied/,
        );
        await expect(asReporting((trx) => trx('members').select('email'))).rejects.toThrow(
          /permission denied/,
        );
        await expect(asReporting((trx) => trx('activities').select('travel_surname'))).rejects.toThrow(
          /permission denied/,
        );
        // Granted by 025 with its table: the lines each invoice carried, which reconcile what partners were billed.
        expect(
          await asReporting((trx) => trx('invoice_lines').select('points', 'invoice_number_id')),
        ).toEqual([]);
        expect(await asReporting((trx) => trx('invoice_numbers').select('adjusts'))).toEqual([]);
        // Granted by 024: the EchoToken a hotel's request gave, which its response carries.
        expect(await asReporting((trx) => trx('files').select('echo_token'))).toEqual([]);
        // 026's columns, in a table granted whole: what each run warned of, the night a step was part of,
        // whether it was refused.
        expect(await asReporting((trx) => trx('job_runs').select('warnings', 'part_of', 'refused'))).toEqual(
          [],
        );
        // 022: the registry without who decided a held file and the reason they typed.
        await t.db.knex('files').insert({
          direction: 'in',
          feed: 'flown',
          name: 'FLOWN_20260502.csv',
          size: 10,
          sha256: 'c'.repeat(64),
          verdict: 'discarded',
          created_at: '2026-05-03T08:00:00Z',
          decision: 'discarded',
          decided_by: 'nightshift',
          decided_at: '2026-05-03T08:15:00Z',
          decision_reason: 'Anna Petrova says it was sent by mistake',
        });
        expect(await asReporting((trx) => trx('files').select('name', 'verdict', 'decision'))).toEqual([
          { name: 'FLOWN_20260502.csv', verdict: 'discarded', decision: 'discarded' },
        ]);
        for (const column of ['decided_by', 'decision_reason'])
          await expect(asReporting((trx) => trx('files').select(column))).rejects.toThrow(
            /permission denied/,
          );
        await expect(asReporting((trx) => trx('files').select('*'))).rejects.toThrow(/permission denied/);
        // Its down gives the table back whole, as before.
        const since = MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('022_file_decisions_withheld'));
        for (const _ of since) await t.db.knex.migrate.down(MIGRATION_CONFIG);
        expect(await asReporting((trx) => trx('files').pluck('decided_by'))).toEqual(['nightshift']);
        expect(await migrateLatest(t.db)).toEqual(since);
        await expect(asReporting((trx) => trx('files').select('decided_by'))).rejects.toThrow(
          /permission denied/,
        );
      } finally {
        await t.cleanup();
      }
    });
  });
}
