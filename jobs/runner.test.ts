import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { availableEngines } from '../test/harness/db.js';
import { useWorld } from '../test/harness/context.js';
import { AlreadyRanError, runJob } from './runner.js';

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
