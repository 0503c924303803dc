import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, utimesSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { availableEngines } from '../test/harness/db.js';
import { createWorld, useWorld, type TestWorld } from '../test/harness/context.js';
import { insertMember } from '../ledger/members.js';
import { Accounts } from '../ledger/accounts.js';
import type { Progress } from './types.js';
import { AlreadyRanError, runJob, STEP_JOBS, type RunSummary } from './runner.js';
import { acquireRunLock, LockedError } from './lock.js';
import { silentLogger } from '../lib/log.js';
import { capturedLogger } from '../test/harness/logs.js';
import { openDb } from '../db/connection.js';
import { listRuns } from './run-records.js';
import { registerInbound } from './registry.js';

/** The pid of a process that has certainly ended. */
function endedPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}

for (const engine of availableEngines()) {
  describe(`run records left by a killed process (${engine})`, () => {
    const world = useWorld(engine);

    it('are closed as failed by the next run on this machine; others are left as they are', async () => {
      const w = world();
      const dead = endedPid();
      const row = (job: string, host: string, pid: number) => ({
        job,
        business_date: '2026-10-01',
        status: 'running',
        started_at: '2026-10-02T01:00:00.000Z',
        host,
        pid,
      });
      await w.t.db
        .knex('job_runs')
        .insert([
          row('nightly', hostname(), dead),
          row('accrue', hostname(), dead),
          row('accrue', 'another-host', dead),
          row('report', hostname(), process.ppid),
        ]);

      const summary = await runJob(w.ctx('2026-10-02'), 'accrue');
      expect(summary.status).toBe('succeeded');

      const runs = (await w.t.db
        .knex('job_runs')
        .orderBy('id')
        .select('job', 'host', 'status', 'error', 'finished_at')) as Array<Record<string, unknown>>;
      expect(runs.slice(0, 4).map((r) => [r.job, r.host, r.status])).toEqual([
        ['nightly', hostname(), 'failed'],
        ['accrue', hostname(), 'failed'],
        ['accrue', 'another-host', 'running'],
        ['report', hostname(), 'running'],
      ]);
      expect(runs[0]!.error).toBe(
        `[INTERRUPTED] the process (${hostname()} pid ${dead}) ended before this run finished`,
      );
      expect(runs[0]!.finished_at).not.toBeNull();
      expect(runs.at(-1)).toMatchObject({ job: 'accrue', status: 'succeeded' });
    });

    it('keep, once closed, what the steps that finished warned of: none is taken for a record older than 026', async () => {
      const w = world();
      const dead = endedPid();
      const row = {
        business_date: '2026-10-01',
        started_at: '2026-10-02T01:00:00.000Z',
        host: hostname(),
        pid: dead,
      };
      const [n] = (await w.t.db
        .knex('job_runs')
        .insert({ ...row, job: 'nightly', status: 'running' })
        .returning('id')) as Array<{ id: number }>;
      const night = Number(n!.id);
      await w.t.db.knex('job_runs').insert([
        {
          ...row,
          job: 'fetch',
          status: 'succeeded',
          finished_at: '2026-10-02T01:01:00.000Z',
          counts: '{"new":2}',
          warnings: '["a file held"]',
          part_of: night,
        },
        { ...row, job: 'ingest', status: 'running', part_of: night },
      ]);
      expect((await runJob(w.ctx('2026-10-02'), 'accrue')).status).toBe('succeeded');
      const closed = (await w.t.db
        .knex('job_runs')
        .where({ business_date: '2026-10-01' })
        .orderBy('id')
        .select('job', 'status', 'counts', 'warnings')) as Array<Record<string, unknown>>;
      expect(closed).toEqual([
        { job: 'nightly', status: 'failed', counts: '{"fetch.new":2}', warnings: '["fetch: a file held"]' },
        { job: 'fetch', status: 'succeeded', counts: '{"new":2}', warnings: '["a file held"]' },
        { job: 'ingest', status: 'failed', counts: '{}', warnings: '[]' },
      ]);
    });
  });

  describe(`a run refused before its steps (${engine})`, () => {
    const world = useWorld(engine);

    it('is recorded refused, and read back so; a step failing with the same code reads failed', async () => {
      const w = world();
      // The FTL feed on a partner's SFTP server whose password the scheduler's environment lacks.
      w.config.transports = {
        ...w.config.transports,
        dcs: {
          type: 'sftp',
          host: '127.0.0.1',
          port: 22,
          username: 'redeye',
          passwordEnv: 'DCS_PASSWORD',
          hostKeySha256: 'SHA256:' + 'A'.repeat(43),
          retries: 0,
          timeoutSeconds: 5,
        },
      };
      w.config.feeds = { ...w.config.feeds, ftl: { ...w.config.feeds.ftl!, source: 'dcs' } };
      const s = await runJob(w.ctx('2026-10-01'), 'fetch', { refuseUnsetSecrets: true });
      expect(s).toMatchObject({ status: 'failed', refused: { code: 'SECRET_MISSING' } });
      expect(await w.t.db.knex('job_runs').select('job', 'refused')).toEqual([
        { job: 'fetch', refused: engine === 'sqlite' ? 1 : true },
      ]);
      const [refused] = await listRuns(w.t.db.knex, { job: 'fetch', last: 1 });
      expect(refused).toMatchObject({
        refused: s.refused,
        steps: [{ job: 'fetch', status: 'skipped', reason: stepOf(s, 'fetch').reason }],
      });

      // Retention fails itself with SECRET_MISSING (the tokens' secret unset): a step that ran, not a refusal.
      await w.t.db.knex('job_runs').insert({
        job: 'retention',
        business_date: '2026-10-02',
        status: 'failed',
        started_at: '2026-10-03T01:00:00.000Z',
        finished_at: '2026-10-03T01:00:01.000Z',
        host: hostname(),
        pid: process.pid,
        counts: '{"erased":1}',
        warnings: '["w1"]',
        error: '[SECRET_MISSING] environment variable REDEYE_TOKEN_SECRET … is not set',
      });
      const [failed] = await listRuns(w.t.db.knex, { job: 'retention', last: 1 });
      expect(failed!.refused).toBeUndefined();
      expect(failed!.steps).toMatchObject([
        { job: 'retention', status: 'failed', counts: { erased: 1 }, warnings: ['w1'] },
      ]);
    });
  });

  describe(`a scheduled run, once per date (${engine})`, () => {
    const world = useWorld(engine);

    const succeeded = (job: string, date: string) =>
      world().t.db.knex('job_runs').insert({
        job,
        business_date: date,
        status: 'succeeded',
        started_at: '2026-11-01T03:00:00.000Z',
        finished_at: '2026-11-01T03:10:00.000Z',
        host: hostname(),
        pid: process.pid,
      });

    it('is refused for a date that already succeeded; a manual rerun is not', async () => {
      const w = world();
      await succeeded('accrue', '2026-10-02');
      await expect(runJob(w.ctx('2026-10-02'), 'accrue', { onlyOnce: true })).rejects.toBeInstanceOf(
        AlreadyRanError,
      );
      expect((await runJob(w.ctx('2026-10-02'), 'accrue')).status).toBe('succeeded');
      expect((await runJob(w.ctx('2026-10-03'), 'accrue', { onlyOnce: true })).status).toBe('succeeded');
    });

    it('finds a monthly run under its month’s last day, whichever day of the month it is asked for', async () => {
      const w = world();
      await succeeded('monthly', '2026-10-31');
      await expect(runJob(w.ctx('2026-10-15'), 'monthly', { onlyOnce: true })).rejects.toMatchObject({
        code: 'ALREADY_RAN',
        message: 'monthly for 2026-10-31 already ran',
      });
    });
  });
}

/** An FTL message of 28 May: two own-program cards (400 points each) and one for Lufthansa's program. */
const FTL = resolve(import.meta.dirname, '../parsers/ftl/fixtures/01-simple.ftl');
const NIGHT = '2026-05-29';

/** The demo configuration without report mail, so that a night can deliver everything without SMTP. */
const noReportMail = (yaml: string) => yaml.replace(/\n(\s+)daily: \[[^\]]*\]/, '\n$1daily: []');

async function members(w: TestWorld): Promise<void> {
  for (const [number, surname, givenName] of [
    ['1000000016', 'IVANOV', 'IVAN'],
    ['1000000024', 'PETROVA', 'ANNA'],
  ] as const)
    await insertMember(w.t.db.knex, {
      number,
      status: 'ACTIVE',
      tier: 'MEMBER',
      surname,
      givenName,
      enrolmentDate: '2020-01-01',
    });
}

const dropFtl = (w: TestWorld) => copyFileSync(FTL, join(w.dir, 'inbox', 'ftl', '01-simple.ftl'));
const stepOf = (s: RunSummary, job: string) => s.steps.find((x) => x.job === job)!;
/** What the night made and sent: every outbound file by name, content and verdict. */
const outbound = (w: TestWorld) =>
  w.t.db
    .knex('files')
    .where({ direction: 'out' })
    .orderBy('name')
    .select('feed', 'name', 'sha256', 'verdict') as Promise<Array<Record<string, string>>>;
const balance = async (w: TestWorld, member: string) =>
  Number(
    (
      await w.t.db
        .knex('accounts')
        .where({ code: Accounts.memberPoints(member) })
        .first('balance')
    )?.balance ?? 0,
  );

for (const engine of availableEngines()) {
  describe(`a night whose fetch failed (${engine})`, () => {
    /** The same night without the fault: what the rerun must end with, file by file. */
    async function reference(): Promise<Array<Record<string, string>>> {
      const r = await createWorld(engine, noReportMail);
      try {
        await members(r);
        dropFtl(r);
        const s = await runJob(r.ctx(NIGHT), 'nightly');
        expect(s.status, JSON.stringify(s.steps)).toBe('succeeded');
        return await outbound(r);
      } finally {
        await r.cleanup();
      }
    }

    it('reads what did arrive, makes and sends nothing, ends failed naming fetch; the rerun completes it', async () => {
      const expected = await reference();
      expect(expected.map((f) => f.verdict)).toContain('delivered');
      const w = await createWorld(engine, noReportMail);
      try {
        await members(w);
        dropFtl(w);
        // The partners' folder cannot be listed: that feed fails, the FTL file arrives.
        const partner = join(w.dir, 'inbox', 'partner');
        rmSync(partner, { recursive: true });

        const s = await runJob(w.ctx(NIGHT), 'nightly');
        expect(s.status).toBe('failed');
        expect(stepOf(s, 'fetch')).toMatchObject({ status: 'failed', error: { code: 'FETCH_INCOMPLETE' } });
        // What did arrive is read and posted …
        expect(stepOf(s, 'ingest')).toMatchObject({ status: 'succeeded', counts: { accepted: 1 } });
        expect(stepOf(s, 'accrue').status).toBe('succeeded');
        expect(await balance(w, '1000000016')).toBe(400);
        // … but nothing is decided, made or sent for the date from part of its data.
        for (const job of ['tiers', 'expire', 'export', 'report', 'deliver', 'retention'])
          expect(stepOf(s, job), job).toMatchObject({
            status: 'skipped',
            reason: expect.stringMatching(/fetch failed/),
          });
        expect(s.stopped).toEqual({
          step: 'fetch',
          reason: 'fetch failed [FETCH_INCOMPLETE]; what did arrive was read, the rest waits for the rerun',
        });
        expect(await outbound(w)).toEqual([]);
        const night = await w.t.db.knex('job_runs').where({ job: 'nightly' }).first('status', 'error');
        expect(night).toMatchObject({ status: 'failed', error: expect.stringMatching(/^fetch: /) });

        // The fault gone, the rerun completes the night: the same files as a night without it.
        mkdirSync(partner);
        const again = await runJob(w.ctx(NIGHT), 'nightly');
        expect(again.status, JSON.stringify(again.steps)).toBe('succeeded');
        expect(again.stopped).toBeUndefined();
        expect(await outbound(w)).toEqual(expected);
        expect(await balance(w, '1000000016')).toBe(400);
      } finally {
        await w.cleanup();
      }
    });

    it('does not send outputs made without a feed that the rerun then cannot correct', async () => {
      const expected = await reference();
      const w = await createWorld(engine, noReportMail);
      try {
        await members(w);
        // The FTL feed's folder cannot be listed: the message (with a Lufthansa card to claim) waits.
        const ftl = join(w.dir, 'inbox', 'ftl');
        rmSync(ftl, { recursive: true });
        const s = await runJob(w.ctx(NIGHT), 'nightly');
        expect(s.status).toBe('failed');
        expect(stepOf(s, 'fetch').status).toBe('failed');

        mkdirSync(ftl);
        dropFtl(w);
        const again = await runJob(w.ctx(NIGHT), 'nightly');
        expect(again.status, JSON.stringify(again.steps)).toBe('succeeded');
        // Without the fix Lufthansa's claims file for the date went out the first night without the claim
        // on the FTL message, and a delivered file is never delivered again.
        expect(await outbound(w)).toEqual(expected);
      } finally {
        await w.cleanup();
      }
    });

    it('leaves tiers, expire, export and report run alone refused until the rerun has every file in', async () => {
      const expected = await reference();
      const w = await createWorld(engine, noReportMail);
      try {
        await members(w);
        dropFtl(w);
        const partner = join(w.dir, 'inbox', 'partner');
        rmSync(partner, { recursive: true });
        const night = await runJob(w.ctx(NIGHT), 'nightly');
        expect(stepOf(night, 'accrue').status).toBe('succeeded');
        const fetch = await w.t.db
          .knex('job_runs')
          .where({ job: 'fetch', status: 'failed' })
          .first('id', 'started_at');
        const harm = {
          tiers: 'would review and upgrade members without the status credits in the files not yet fetched',
          expire: 'would expire points that the redemptions in the files not yet fetched were to spend',
          export:
            "would make the date's partner responses, claims and mailing lists without the files not yet " +
            'fetched, and a delivered file is never delivered again',
          report: "would make and mail the date's reports without the files not yet fetched",
        };
        for (const job of ['tiers', 'expire', 'export', 'report'] as const) {
          const s = await runJob(w.ctx(NIGHT), job);
          expect(s, job).toMatchObject({
            status: 'failed',
            refused: {
              code: 'NOT_FETCHED',
              message: expect.stringMatching(
                new RegExp(
                  `^${job} for ${NIGHT} refused: the last fetch for ${NIGHT} \\(run ${fetch.id}, started ` +
                    `${fetch.started_at}\\) failed: \\[FETCH_INCOMPLETE\\] .*`,
                ),
              ),
            },
            steps: [{ job, status: 'skipped', reason: `not run: fetch for ${NIGHT} has not succeeded` }],
          });
          expect(
            s.refused!.message.endsWith(
              `. Run before the rest of the date's files are in, ${job} ${harm[job]}: run nightly --date ` +
                `${NIGHT} until it succeeds (it runs ${job} once they are read)`,
            ),
            s.refused!.message,
          ).toBe(true);
          const [shown] = await listRuns(w.t.db.knex, { job, last: 1 });
          expect(shown, job).toMatchObject({
            status: 'failed',
            refused: { code: 'NOT_FETCHED' },
            steps: [{ job, status: 'skipped', reason: `not run: fetch for ${NIGHT} has not succeeded` }],
          });
        }
        // Nothing was made for the date: deliver and retention, which do not read its files, still run.
        expect(await outbound(w)).toEqual([]);
        for (const job of ['deliver', 'retention'] as const)
          expect((await runJob(w.ctx(NIGHT), job)).status, job).toBe('succeeded');

        mkdirSync(partner);
        expect((await runJob(w.ctx(NIGHT), 'nightly')).status).toBe('succeeded');
        expect(await outbound(w)).toEqual(expected);
        for (const job of ['tiers', 'expire', 'export', 'report'] as const)
          expect((await runJob(w.ctx(NIGHT), job)).status, job).toBe('succeeded');
        expect(await outbound(w)).toEqual(expected);
      } finally {
        await w.cleanup();
      }
    });

    it('keeps with the failure what the other feeds landed and what fetch warned of: a file held, a file no feed takes', async () => {
      const w = await createWorld(engine, noReportMail);
      try {
        await members(w);
        // A coupon file taken the night before, then sent again under its name with other content.
        const flown = join(w.dir, 'inbox', 'flown', 'flown-0529.csv');
        const resend = (fixture: string, at: Date) => {
          copyFileSync(resolve(import.meta.dirname, `../parsers/fixtures/flown/${fixture}`), flown);
          utimesSync(flown, at, at);
        };
        resend('comma-trailer-match.csv', new Date(Date.now() - 3_600_000));
        expect((await runJob(w.ctx('2026-05-28'), 'fetch')).status).toBe('succeeded');
        resend('reasons.csv', new Date(Date.now() + 60_000));
        dropFtl(w);
        copyFileSync(FTL, join(w.dir, 'inbox', 'ftl', '01-simple.ftl.bak'));
        const partner = join(w.dir, 'inbox', 'partner');
        rmSync(partner, { recursive: true });

        const s = await runJob(w.ctx(NIGHT), 'nightly');
        const fetch = stepOf(s, 'fetch');
        expect(fetch).toMatchObject({
          status: 'failed',
          error: {
            code: 'FETCH_INCOMPLETE',
            message: expect.stringMatching(/^1 feed\(s\) could not be fetched: partner: /),
          },
          counts: { new: 1, conflict: 1, untaken: 1 },
        });
        const held = (await w.t.db
          .knex('files')
          .where({ direction: 'in', verdict: 'conflict' })
          .select('id')) as Array<{ id: number }>;
        expect(held).toHaveLength(1);
        expect(fetch.warnings).toEqual([
          '1 file(s) in inbox:ftl (' +
            join(w.dir, 'inbox') +
            ') match no feed\'s pattern (ftl "\\\\.(ftl|txt)$") and are not fetched: 01-simple.ftl.bak',
          expect.stringMatching(
            new RegExp(
              `^flown: flown-0529\\.csv from inbox:flown is held as file ${held[0]!.id} \\(.*\\); read it with \`redeye files release ${held[0]!.id}\``,
            ),
          ),
        ]);
        // The run records keep the counts too: the step's, and the night's under the step's name.
        const records = await w.t.db
          .knex('job_runs')
          .where({ business_date: NIGHT })
          .orderBy('id')
          .select('id', 'job', 'counts', 'warnings', 'part_of');
        const recordOf = (job: string) => records.find((r) => r.job === job)!;
        const countsOf = (job: string) => JSON.parse(String(recordOf(job).counts)) as object;
        expect(countsOf('fetch')).toMatchObject({ new: 1, conflict: 1, untaken: 1 });
        expect(countsOf('nightly')).toMatchObject({
          'fetch.new': 1,
          'fetch.conflict': 1,
          'fetch.untaken': 1,
        });
        // And the warnings, the night's under the step's name; each step's record is linked to the night's.
        const warningsOf = (job: string) => JSON.parse(String(recordOf(job).warnings)) as string[];
        expect(warningsOf('fetch')).toEqual(fetch.warnings);
        expect(warningsOf('nightly')).toEqual(fetch.warnings.map((x) => `fetch: ${x}`));
        expect(warningsOf('ingest')).toEqual([]);
        expect(records.map((r) => [r.job, r.part_of === null ? null : Number(r.part_of)])).toEqual(
          ['nightly', 'fetch', 'ingest', 'accrue'].map((job) => [
            job,
            job === 'nightly' ? null : Number(recordOf('nightly').id),
          ]),
        );
        // `redeye runs` reads the night back from them as it ran.
        const [shown] = await listRuns(w.t.db.knex, { date: NIGHT, job: 'nightly', last: 1 });
        expect(shown).toMatchObject({
          id: Number(recordOf('nightly').id),
          status: 'failed',
          stopped: s.stopped,
          steps: s.steps.map((x) => ({
            job: x.job,
            status: x.status,
            counts: x.counts,
            warnings: x.warnings,
            ...(x.error ? { error: x.error } : {}),
            ...(x.reason ? { reason: x.reason } : {}),
          })),
        });
        // What did arrive is read as before: the FTL file and the partner file taken the night before.
        expect(stepOf(s, 'ingest')).toMatchObject({ status: 'succeeded', counts: { files: 2 } });

        // The rerun, the fault gone, holds the file no second time and completes the night as before.
        mkdirSync(partner);
        const again = await runJob(w.ctx(NIGHT), 'nightly');
        expect(again.status, JSON.stringify(again.steps)).toBe('succeeded');
        expect(stepOf(again, 'fetch').counts).toMatchObject({ new: 0, conflict: 0, untaken: 1 });
        expect(
          await w.t.db.knex('files').where({ direction: 'in', verdict: 'conflict' }).select('id'),
        ).toEqual(held);
        expect(await balance(w, '1000000016')).toBe(400);
      } finally {
        await w.cleanup();
      }
    });
  });

  describe(`a step stopped on request (${engine})`, () => {
    const world = useWorld(engine, noReportMail);

    /** A context whose stop request comes as `phase` starts its progress bar: in the middle of the step. */
    function stoppedAt(w: TestWorld, phase: string) {
      const controller = new AbortController();
      const progress: Progress = {
        start: (label) => {
          if (label.startsWith(phase)) controller.abort('SIGTERM');
        },
        increment: () => undefined,
        stop: () => undefined,
      };
      return { ...w.ctx(NIGHT), progress, signal: controller.signal };
    }

    it('is recorded as interrupted, not succeeded; the night says where it stopped; the rerun completes it', async () => {
      const w = world();
      await members(w);
      dropFtl(w);
      const s = await runJob(stoppedAt(w, 'ingest'), 'nightly');
      expect(s.status).toBe('failed');
      expect(stepOf(s, 'fetch').status).toBe('succeeded');
      const message =
        'stopped on request (SIGTERM) while ingest was running, which may have left work undone; ' +
        `a rerun of ${NIGHT} completes it`;
      expect(stepOf(s, 'ingest')).toMatchObject({
        status: 'failed',
        error: { code: 'INTERRUPTED', message },
      });
      expect(s.stopped).toEqual({
        step: 'ingest',
        reason: 'stopped on request (SIGTERM) while ingest was running',
      });
      expect(s.steps.slice(2).every((x) => x.status === 'skipped')).toBe(true);
      // The file is still to be read, and the run records say so.
      expect(await w.t.db.knex('files').where({ direction: 'in' }).first('verdict')).toEqual({
        verdict: 'pending',
      });
      const runs = await w.t.db.knex('job_runs').orderBy('id').select('job', 'status', 'error');
      expect(runs.find((r) => r.job === 'ingest')).toMatchObject({
        status: 'failed',
        error: `[INTERRUPTED] ${message}`,
      });
      expect(runs.find((r) => r.job === 'nightly')).toMatchObject({ status: 'failed' });
      // `redeye runs` reads where and why it stopped as the summary said it.
      const [recorded] = await listRuns(w.t.db.knex, { job: 'nightly', last: 1 });
      expect(recorded).toMatchObject({
        stopped: s.stopped,
        steps: s.steps.map((x) => ({
          job: x.job,
          status: x.status,
          ...(x.reason ? { reason: x.reason } : {}),
        })),
      });

      const again = await runJob(w.ctx(NIGHT), 'nightly');
      expect(again.status, JSON.stringify(again.steps)).toBe('succeeded');
      expect(await balance(w, '1000000016')).toBe(400);
    });

    it('a job run alone and stopped before all its work is done fails the run', async () => {
      const w = world();
      await members(w);
      dropFtl(w);
      for (const job of ['fetch', 'ingest', 'accrue'] as const)
        expect((await runJob(w.ctx(NIGHT), job)).status).toBe('succeeded');
      const s = await runJob(stoppedAt(w, 'exports'), 'export');
      expect(s.status).toBe('failed');
      expect(stepOf(s, 'export')).toMatchObject({
        status: 'failed',
        error: { code: 'INTERRUPTED' },
        warnings: ['stopped on request before all exports were written; a rerun completes them'],
      });
      expect(s.stopped?.step).toBe('export');
      expect((await runJob(w.ctx(NIGHT), 'export')).status).toBe('succeeded');
    });
  });
}

/** Nor the monthly report's: a month-end delivers everything without SMTP. */
const noMonthEndMail = (yaml: string) =>
  noReportMail(yaml).replace(/\n(\s+)monthly: \[[^\]]*\]/, '\n$1monthly: []');

/** The month's last day: the night whose completion a month-end waits for. */
const MONTH_END = '2026-05-31';

async function completeNight(w: TestWorld): Promise<void> {
  const night = await runJob(w.ctx(MONTH_END), 'nightly');
  expect(night.status, JSON.stringify(night.steps.filter((x) => x.error))).toBe('succeeded');
}

for (const engine of availableEngines()) {
  describe(`a month-end whose last night is not complete (${engine})`, () => {
    const world = useWorld(engine, noMonthEndMail);
    const monthEndRuns = (w: TestWorld) =>
      w.t.db
        .knex('job_runs')
        .where({ job: 'monthly' })
        .orderBy('id')
        .select('business_date', 'status', 'error');

    it('is refused, recorded failed and makes nothing while the night failed; it runs once the rerun has succeeded', async () => {
      const w = world();
      await members(w);
      dropFtl(w);
      // The partners' folder cannot be listed: the night of the 31st ends failed naming fetch.
      const partner = join(w.dir, 'inbox', 'partner');
      rmSync(partner, { recursive: true });
      const night = await runJob(w.ctx(MONTH_END), 'nightly');
      expect(night.status).toBe('failed');
      const fetchRun = await w.t.db.knex('job_runs').where({ job: 'fetch' }).first('id', 'started_at');

      // As the example schedule's monthly cron does at 06:00, asked for any day of the month.
      const s = await runJob(w.ctx('2026-05-12', new Date('2026-06-01T06:00:00Z')), 'monthly');
      const message =
        `monthly for ${MONTH_END} refused: the last fetch for ${MONTH_END} (run ${fetchRun.id}, started ` +
        `${fetchRun.started_at}) failed: [FETCH_INCOMPLETE] `;
      expect(s).toMatchObject({
        job: 'monthly',
        businessDate: MONTH_END,
        status: 'failed',
        refused: { code: 'NIGHT_INCOMPLETE', message: expect.stringContaining(message) },
      });
      expect(s.refused!.message).not.toMatch(/tiers: skipped/);
      expect(s.refused!.message).toMatch(
        new RegExp(`run nightly --date ${MONTH_END} until it succeeds, then monthly$`),
      );
      expect(s.steps.map((x) => [x.job, x.status])).toEqual([
        ['export', 'skipped'],
        ['report', 'skipped'],
        ['deliver', 'skipped'],
      ]);
      // `redeye runs` reads the refusal back as the run said it.
      const [recorded] = await listRuns(w.t.db.knex, { job: 'monthly', last: 1 });
      expect(recorded).toMatchObject({
        businessDate: MONTH_END,
        status: 'failed',
        refused: s.refused,
        steps: s.steps.map((x) => ({ job: x.job, status: x.status, reason: x.reason })),
      });
      // No invoice, statement, mailing list or report made from part of the month, let alone sent.
      expect(await outbound(w)).toEqual([]);
      expect(await w.t.db.knex('mail_outbox').count({ n: '*' }).first()).toMatchObject({ n: 0 });
      expect(
        await w.t.db.knex('job_runs').whereIn('job', ['export', 'report', 'deliver']).select('id'),
      ).toEqual([]);
      // A failed run of the month-end for its date: what a catch-up looks for.
      expect(await monthEndRuns(w)).toEqual([
        { business_date: MONTH_END, status: 'failed', error: `[NIGHT_INCOMPLETE] ${s.refused!.message}` },
      ]);

      mkdirSync(partner);
      await completeNight(w);
      const monthEnd = await runJob(w.ctx(MONTH_END, new Date('2026-06-01T06:00:00Z')), 'monthly');
      expect(monthEnd.status, JSON.stringify(monthEnd)).toBe('succeeded');
      expect(monthEnd.refused).toBeUndefined();
      expect((await monthEndRuns(w)).map((r) => r.status)).toEqual(['failed', 'succeeded']);
    });

    it('is refused when no night of its date ran, and when a step of the night failed after it succeeded', async () => {
      const w = world();
      const none = await runJob(w.ctx(MONTH_END), 'monthly');
      expect(none.status).toBe('failed');
      expect(none.refused?.message).toMatch(
        new RegExp(`^monthly for ${MONTH_END} refused: no nightly run for ${MONTH_END} is recorded\\. `),
      );
      // A night of another date is not the month's last.
      expect((await runJob(w.ctx('2026-05-30'), 'nightly')).status).toBe('succeeded');
      expect((await runJob(w.ctx(MONTH_END), 'monthly')).refused?.code).toBe('NIGHT_INCOMPLETE');

      await members(w);
      await completeNight(w);
      // Fetched again by hand, and failing: what it did not fetch the month-end must not be made without.
      rmSync(join(w.dir, 'inbox', 'ftl'), { recursive: true });
      expect((await runJob(w.ctx(MONTH_END), 'fetch')).status).toBe('failed');
      const fetchRun = await w.t.db.knex('job_runs').where({ job: 'fetch', status: 'failed' }).first('id');
      const made = await outbound(w);
      const after = await runJob(w.ctx(MONTH_END), 'monthly');
      expect(after.refused?.message).toContain(
        `refused: the last fetch for ${MONTH_END} (run ${fetchRun.id}, started `,
      );
      expect(after.refused?.message).toContain('failed: [FETCH_INCOMPLETE]');
      expect(await outbound(w)).toEqual(made);

      mkdirSync(join(w.dir, 'inbox', 'ftl'));
      await completeNight(w);
      expect((await runJob(w.ctx(MONTH_END), 'monthly')).status).toBe('succeeded');
    });

    it('is refused while a file fetched after its night waits to be read, not by a fetch that landed nothing or a file held for an operator', async () => {
      const w = world();
      await members(w);
      // Coupons fetched the day before and read by the night, then sent again under their name with
      // other content.
      const flown = join(w.dir, 'inbox', 'flown', 'flown-0530.csv');
      const send = (fixture: string, at: Date) => {
        copyFileSync(resolve(import.meta.dirname, `../parsers/fixtures/flown/${fixture}`), flown);
        utimesSync(flown, at, at);
      };
      send('comma-trailer-match.csv', new Date(Date.now() - 3_600_000));
      expect((await runJob(w.ctx('2026-05-30'), 'fetch')).status).toBe('succeeded');
      await completeNight(w);
      // Fetched again by hand: a file held NAME_CONFLICT, which waits for an operator as long as it takes,
      // and the FTL message that came in late, which waits to be read.
      send('reasons.csv', new Date(Date.now() + 60_000));
      dropFtl(w);
      const fetched = stepOf(await runJob(w.ctx(MONTH_END), 'fetch'), 'fetch');
      expect(fetched.counts).toMatchObject({ new: 1, conflict: 1 });
      const late = await w.t.db.knex('files').where({ name: '01-simple.ftl' }).first('id');
      const made = await outbound(w);
      const refused = await runJob(w.ctx(MONTH_END), 'monthly');
      expect(refused).toMatchObject({ status: 'failed', refused: { code: 'NIGHT_INCOMPLETE' } });
      expect(refused.refused!.message).toBe(
        `monthly for ${MONTH_END} refused: 1 file(s) landed for business dates through ${MONTH_END} have not been read: ` +
          `01-simple.ftl (file ${late.id}, ftl, fetched for ${MONTH_END}). The month-end's invoices, ` +
          'statements and report are made from the whole month, and what its last night has yet to post ' +
          `would never be billed: run nightly --date ${MONTH_END} until it succeeds, then monthly`,
      );
      expect(await outbound(w)).toEqual(made);

      // The night run again reads it and posts its points under the month's last day, before the
      // month-end; fetched once more, nothing new lands, and the file in conflict is still held.
      await completeNight(w);
      expect(await balance(w, '1000000016')).toBe(400);
      expect(stepOf(await runJob(w.ctx(MONTH_END), 'fetch'), 'fetch').counts).toMatchObject({ new: 0 });
      expect(
        await w.t.db.knex('files').where({ direction: 'in', verdict: 'conflict' }).pluck('name'),
      ).toEqual(['flown-0530.csv']);
      const monthEnd = await runJob(w.ctx(MONTH_END), 'monthly');
      expect(monthEnd.refused, monthEnd.refused?.message).toBeUndefined();
      expect(monthEnd.status).toBe('succeeded');
    });

    it('names a file of an earlier month still unread as landed through the last day, not for the month', async () => {
      const w = world();
      await members(w);
      await completeNight(w);
      // Registered for April's last night and never read (its night failed before ingest, say).
      const { file } = await registerInbound(
        w.t.db.knex,
        {
          feed: 'flown',
          name: 'flown-0430.csv',
          size: 1,
          sha256: 'a'.repeat(64),
          localPath: join('flown', '2026-04-30', 'flown-0430.csv'),
          businessDate: '2026-04-30',
          receivedAt: '2026-04-30T23:30:00.000Z',
        },
        '2026-04-30T23:30:00.000Z',
      );
      const refused = await runJob(w.ctx(MONTH_END), 'monthly');
      expect(refused.refused?.message).toContain(
        `refused: 1 file(s) landed for business dates through ${MONTH_END} have not been read: ` +
          `flown-0430.csv (file ${file.id}, flown, fetched for 2026-04-30). `,
      );
    });

    it('is refused when a step of the night ran again after it, until the steps that take in its work have', async () => {
      const w = world();
      await members(w);
      await completeNight(w);
      const lastRun = (job: string) =>
        w.t.db.knex('job_runs').where({ job }).orderBy('id', 'desc').first('id', 'started_at');
      expect((await runJob(w.ctx(MONTH_END), 'ingest')).status).toBe('succeeded');
      const ingest = await lastRun('ingest');
      const accrue = await lastRun('accrue');
      const refusal = async () => (await runJob(w.ctx(MONTH_END), 'monthly')).refused?.message;
      expect(await refusal()).toMatch(
        new RegExp(
          `^monthly for ${MONTH_END} refused: the last ingest for ${MONTH_END} \\(run ${ingest.id}, started ` +
            `${ingest.started_at.replaceAll('.', '\\.')}\\) ran after the last accrue for it \\(run ${accrue.id}\\): ` +
            `what ingest took in, accrue has not\\. `,
        ),
      );
      expect((await runJob(w.ctx(MONTH_END), 'accrue')).status).toBe('succeeded');
      expect(await refusal()).toContain('ran after the last tiers for it');
      expect((await runJob(w.ctx(MONTH_END), 'tiers')).status).toBe('succeeded');
      expect(await refusal()).toContain('ran after the last expire for it');
      expect((await runJob(w.ctx(MONTH_END), 'expire')).status).toBe('succeeded');
      // Tiers run again: expire does not read what it decides.
      expect((await runJob(w.ctx(MONTH_END), 'tiers')).status).toBe('succeeded');
      const made = await runJob(w.ctx(MONTH_END), 'monthly');
      expect(made.refused).toBeUndefined();
      expect(made.status).toBe('succeeded');
    });

    it('is made when the night failed only after what it counts (deliver, with a partner’s outbox down)', async () => {
      const w = world();
      await members(w);
      await completeNight(w);
      // The night run again, every step the month-end counts succeeding, then deliver failing.
      const at = new Date().toISOString();
      const record = (job: string, status: string, error: string | null = null) => ({
        job,
        business_date: MONTH_END,
        status,
        started_at: at,
        finished_at: at,
        host: hostname(),
        pid: process.pid,
        error,
      });
      await w.t.db
        .knex('job_runs')
        .insert([
          record('nightly', 'failed', 'deliver: [DELIVERY_INCOMPLETE] sftp partner@outbox: cannot connect'),
          ...['fetch', 'ingest', 'accrue', 'tiers', 'expire', 'export', 'report'].map((j) =>
            record(j, 'succeeded'),
          ),
          record('deliver', 'failed', '[DELIVERY_INCOMPLETE] sftp partner@outbox: cannot connect'),
        ]);
      const monthEnd = await runJob(w.ctx(MONTH_END), 'monthly');
      expect(monthEnd.refused).toBeUndefined();
      expect(monthEnd.status, JSON.stringify(monthEnd.steps.filter((x) => x.error))).toBe('succeeded');
    });
  });

  describe(`tiers and expire run alone (${engine})`, () => {
    const world = useWorld(engine, noReportMail);
    afterEach(() => {
      vi.restoreAllMocks();
    });
    const harm = {
      tiers: "would review and upgrade members without the date's status credits",
      expire: "would expire points that the date's redemptions, not yet debited, were to spend",
    };
    const refusal = (job: 'tiers' | 'expire', why: string) =>
      `${job} for ${NIGHT} refused: ${why}. Run before it, ${job} ${harm[job]}: run accrue --date ${NIGHT} ` +
      `(or nightly --date ${NIGHT}) until it succeeds, then ${job}`;

    it('are refused, recorded refused, until the accrue of their date has succeeded', async () => {
      const w = world();
      await members(w);
      dropFtl(w);
      for (const job of ['tiers', 'expire'] as const) {
        const s = await runJob(w.ctx(NIGHT), job);
        expect(s).toMatchObject({
          status: 'failed',
          refused: { code: 'NOT_ACCRUED', message: refusal(job, `accrue never ran for ${NIGHT}`) },
          steps: [{ job, status: 'skipped', reason: `not run: accrue for ${NIGHT} has not succeeded` }],
        });
        // Read back as refused, and owed to the scheduler's catch-up as a failed run of the date.
        const [shown] = await listRuns(w.t.db.knex, { job, last: 1 });
        expect(shown).toMatchObject({
          job,
          status: 'failed',
          refused: { code: 'NOT_ACCRUED' },
          steps: [{ job, status: 'skipped', reason: `not run: accrue for ${NIGHT} has not succeeded` }],
        });
      }
      expect(await w.t.db.knex('postings').count({ n: '*' }).first()).toMatchObject({ n: 0 });

      // The night stops at accrue: expire alone is refused, naming the accrue that failed.
      const accrue = STEP_JOBS.accrue;
      vi.spyOn(STEP_JOBS, 'accrue').mockRejectedValueOnce(new Error('disk I/O error'));
      const night = await runJob(w.ctx(NIGHT), 'nightly');
      expect(night.stopped?.step).toBe('accrue');
      const failed = await w.t.db
        .knex('job_runs')
        .where({ job: 'accrue', status: 'failed' })
        .first('id', 'started_at');
      const refused = await runJob(w.ctx(NIGHT), 'expire');
      expect(refused.refused?.message).toBe(
        refusal(
          'expire',
          `the last accrue for ${NIGHT} (run ${failed.id}, started ${failed.started_at}) failed: [INTERNAL] disk I/O error`,
        ),
      );
      // A later date's accrue does not stand for this one's.
      expect((await runJob(w.ctx('2026-05-30'), 'accrue')).status).toBe('succeeded');
      expect((await runJob(w.ctx(NIGHT), 'tiers')).refused?.code).toBe('NOT_ACCRUED');

      vi.mocked(STEP_JOBS.accrue).mockImplementation(accrue);
      expect((await runJob(w.ctx(NIGHT), 'accrue')).status).toBe('succeeded');
      expect(await balance(w, '1000000016')).toBe(400);
      for (const job of ['tiers', 'expire'] as const)
        expect((await runJob(w.ctx(NIGHT), job)).status, job).toBe('succeeded');
    });

    it('are refused after an ingest run again since the accrue, until accrue has taken in what it read', async () => {
      const w = world();
      await members(w);
      dropFtl(w);
      expect((await runJob(w.ctx(NIGHT), 'nightly')).status).toBe('succeeded');
      const accrued = await w.t.db
        .knex('job_runs')
        .where({ job: 'accrue' })
        .orderBy('id', 'desc')
        .first('id');
      // A late file fetched and read by hand: what ingest took in waits for accrue.
      expect((await runJob(w.ctx(NIGHT), 'ingest')).status).toBe('succeeded');
      const ingest = await w.t.db
        .knex('job_runs')
        .where({ job: 'ingest' })
        .orderBy('id', 'desc')
        .first('id', 'started_at');
      for (const job of ['tiers', 'expire'] as const)
        expect((await runJob(w.ctx(NIGHT), job)).refused).toEqual({
          code: 'NOT_ACCRUED',
          message: refusal(
            job,
            `the last ingest for ${NIGHT} (run ${ingest.id}, started ${ingest.started_at}) ran after the last ` +
              `accrue for it (run ${accrued.id}): what ingest took in, accrue has not`,
          ),
        });
      expect((await runJob(w.ctx(NIGHT), 'accrue')).status).toBe('succeeded');
      for (const job of ['tiers', 'expire'] as const)
        expect((await runJob(w.ctx(NIGHT), job)).status, job).toBe('succeeded');
    });

    it('run for a night that failed after its accrue, not for the next date; the rerun completes the night', async () => {
      const w = world();
      await members(w);
      dropFtl(w);
      vi.spyOn(STEP_JOBS, 'tiers').mockRejectedValueOnce(new Error('disk I/O error'));
      const night = await runJob(w.ctx(NIGHT), 'nightly');
      expect(night.stopped?.step).toBe('tiers');
      expect(stepOf(night, 'expire').status).toBe('skipped');
      // The night's accrue succeeded: expire may be run alone for the date, and again.
      for (let i = 0; i < 2; i++) expect((await runJob(w.ctx(NIGHT), 'expire')).status).toBe('succeeded');
      // The night before's accrue does not stand for the next date's.
      expect((await runJob(w.ctx('2026-05-30'), 'tiers')).refused?.code).toBe('NOT_ACCRUED');
      const postings = await w.t.db.knex('postings').count({ n: '*' }).first();
      const again = await runJob(w.ctx(NIGHT), 'nightly');
      expect(again.status, JSON.stringify(again.steps)).toBe('succeeded');
      expect(await w.t.db.knex('postings').count({ n: '*' }).first()).toEqual(postings);
      expect(await balance(w, '1000000016')).toBe(400);
    });
  });

  describe(`runs of any job and date (${engine})`, () => {
    const world = useWorld(engine, noReportMail);

    it('never overlap: a second is refused at once with JOB_LOCKED naming the run that holds the lock', async () => {
      const w = world();
      const lock = await acquireRunLock(w.t.db, { job: 'nightly', businessDate: '2026-05-10' });
      const since = String((await w.t.db.knex('job_locks').first('acquired_at'))!.acquired_at);
      const holder = `nightly for 2026-05-10 is running (${hostname()} pid ${process.pid}, since ${since})`;
      try {
        for (const [job, date] of [
          ['nightly', '2026-05-11'],
          ['fetch', '2026-05-10'],
          ['monthly', '2026-05-12'],
          ['nightly', '2026-05-10'],
        ] as const) {
          const refused = runJob(w.ctx(date), job);
          await expect(refused).rejects.toBeInstanceOf(LockedError);
          const runDate = job === 'monthly' ? MONTH_END : date;
          await expect(refused).rejects.toMatchObject({
            code: 'JOB_LOCKED',
            message:
              `${job} for ${runDate} not started: ${holder}; runs never overlap, run it again once that one ` +
              'has ended',
            heldBy: {
              job: 'nightly',
              businessDate: '2026-05-10',
              holder: `${hostname()} pid ${process.pid}`,
            },
          });
        }
        // Refused before anything ran: not a step, not a run record.
        expect(await w.t.db.knex('job_runs').select('id')).toEqual([]);
      } finally {
        await lock.release();
      }
      expect(await w.t.db.knex('job_locks').select('name')).toEqual([]);
      expect((await runJob(w.ctx('2026-05-11'), 'nightly')).status).toBe('succeeded');
      expect(await w.t.db.knex('job_locks').select('name')).toEqual([]);
    });

    it.skipIf(engine !== 'sqlite')(
      'takes over a lock row of this very process whose run has ended (a failed release): a daemon is not locked out for good',
      async () => {
        const w = world();
        const lock = await acquireRunLock(w.t.db, { job: 'nightly', businessDate: '2026-05-10' });
        // Its release failed (the database busy): the row stays, naming this process, which lives on.
        const row = await w.t.db.knex('job_locks').first();
        await lock.release();
        await w.t.db.knex('job_locks').insert(row);
        expect((await runJob(w.ctx('2026-05-11'), 'accrue')).status).toBe('succeeded');
        expect(await w.t.db.knex('job_locks').select('name')).toEqual([]);
      },
    );

    it.skipIf(engine !== 'sqlite')(
      'takes over the lock a killed run left under a former host name once its heartbeat is stale, and says so',
      async () => {
        const w = world();
        // Killed during ingest; its container recreated on the same volume, with a new host name.
        await w.t.db.knex('job_locks').insert({
          name: 'run',
          holder: '3f2a9c1b7e44 pid 15292',
          pid: 15292,
          job: 'nightly',
          business_date: '2026-05-10',
          acquired_at: new Date(Date.now() - 3_600_000).toISOString(),
          heartbeat_at: new Date(Date.now() - 3_000_000).toISOString(),
        });
        const { logger, lines } = capturedLogger('warn');
        expect((await runJob({ ...w.ctx('2026-05-10'), logger }, 'nightly')).status).toBe('succeeded');
        expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toContainEqual(
          expect.stringMatching(
            /^nightly for 2026-05-10 took over the run lock of nightly for 2026-05-10 \(3f2a9c1b7e44 pid 15292, since \S+\): on another machine, which this one cannot check, and it has not been heard from since \S+, over 10 min before$/,
          ),
        );
        expect(await w.t.db.knex('job_locks').select('name')).toEqual([]);
      },
    );

    it.skipIf(engine !== 'sqlite')(
      'refuses at once while the run holding the lock is inside a write transaction, not after the busy timeout',
      async () => {
        const w = world();
        const lock = await acquireRunLock(w.t.db, { job: 'nightly', businessDate: '2026-05-10' });
        // The night in the middle of a write: another connection holds SQLite's write lock.
        const night = openDb(w.t.url);
        try {
          await night.knex.raw('BEGIN IMMEDIATE');
          const t0 = performance.now();
          await expect(
            acquireRunLock(w.t.db, { job: 'nightly', businessDate: '2026-05-11' }),
          ).rejects.toMatchObject({
            code: 'JOB_LOCKED',
            heldBy: { job: 'nightly', businessDate: '2026-05-10' },
          });
          // The busy timeout is 10 s: a refusal that waited for the write lock takes that long.
          expect(performance.now() - t0).toBeLessThan(5_000);
          await night.knex.raw('ROLLBACK');
        } finally {
          await night.close();
          await lock.release();
        }
      },
    );

    it('a scheduled run waits while another job or date holds the lock, and is refused only by its own', async () => {
      const w = world();
      const lock = await acquireRunLock(w.t.db, { job: 'nightly', businessDate: '2026-05-10' });
      let released = false;
      let waiting!: () => void;
      const waits = new Promise<void>((resolve) => (waiting = resolve));
      const logger = {
        ...silentLogger,
        info: (_fields: unknown, message: string) => {
          if (
            message.startsWith(
              'accrue for 2026-05-11 waits for the run lock: nightly for 2026-05-10 is running',
            )
          )
            waiting();
        },
      } as unknown as typeof silentLogger;
      try {
        // Another scheduler's night of the same date is being done: this one need not.
        await expect(runJob(w.ctx('2026-05-10'), 'nightly', { onlyOnce: true })).rejects.toBeInstanceOf(
          LockedError,
        );
        const scheduled = runJob({ ...w.ctx('2026-05-11'), logger }, 'accrue', { onlyOnce: true });
        await waits;
        expect(await w.t.db.knex('job_runs').select('id')).toEqual([]);
        await lock.release();
        released = true;
        expect((await scheduled).status).toBe('succeeded');
      } finally {
        if (!released) await lock.release();
      }
    });
  });
}
