import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { availableEngines } from '../test/harness/db.js';
import { createWorld, useWorld, type TestWorld } from '../test/harness/context.js';
import { insertMember } from '../ledger/members.js';
import { Accounts } from '../ledger/accounts.js';
import type { Progress } from './types.js';
import { AlreadyRanError, runJob, type RunSummary } from './runner.js';

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

      const summary = await runJob(w.ctx('2026-10-02'), 'expire');
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
      expect(runs.at(-1)).toMatchObject({ job: 'expire', status: 'succeeded' });
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
      await succeeded('expire', '2026-10-02');
      await expect(runJob(w.ctx('2026-10-02'), 'expire', { onlyOnce: true })).rejects.toBeInstanceOf(
        AlreadyRanError,
      );
      expect((await runJob(w.ctx('2026-10-02'), 'expire')).status).toBe('succeeded');
      expect((await runJob(w.ctx('2026-10-03'), 'expire', { onlyOnce: true })).status).toBe('succeeded');
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
