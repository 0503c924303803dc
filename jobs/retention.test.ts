import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useWorld } from '../test/harness/context.js';
import { writeAgedFile } from '../test/harness/files.js';
import { TEMPORARY_FILE_MAX_AGE_MS } from '../transports/names.js';
import { retentionJob, sweepTemporaryFiles } from './retention.js';

const DAY = 24 * 3600 * 1000;

/** A temporary file holding personal data, as a killed mailing-list write leaves, dated `ageMs` ago. */
const write = (path: string, ageMs: number) =>
  writeAgedFile(path, ageMs, 'surname,email\r\nIVANOV,ivan@example.org\r\n');

describe('temporary files left by killed writes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-sweep-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('removes only *.part files older than the bound, in every subfolder, and never follows a link', async () => {
    const outbox = join(dir, 'outbox');
    const landing = join(dir, 'landing');
    mkdirSync(join(outbox, 'mailing'), { recursive: true });
    mkdirSync(join(landing, 'ftl', '2026-10-01'), { recursive: true });
    const outside = join(dir, 'outside.part');
    const old = [
      write(join(outbox, 'mailing', '.TIER_CHANGE_20261001.csv.ada42c1f00aa.part'), 3 * DAY),
      write(join(landing, 'ftl', '2026-10-01', '.FTL_20261001.ftl.366f8820fef3.part'), 2 * DAY),
    ];
    const kept = [
      write(join(outbox, 'mailing', '.EXPIRY_WARNING_20261002.csv.0123456789ab.part'), 3600 * 1000),
      write(join(outbox, 'mailing', 'TIER_CHANGE_20260901.csv'), 60 * DAY),
      write(outside, 60 * DAY),
    ];
    symlinkSync(outside, join(outbox, 'mailing', 'link.part'));

    const removed = await sweepTemporaryFiles(
      [outbox, landing, join(dir, 'reports-not-made-yet'), outbox],
      Date.now() - TEMPORARY_FILE_MAX_AGE_MS,
    );
    expect(removed).toBe(2);
    for (const f of old) expect(existsSync(f), f).toBe(false);
    for (const f of kept) expect(existsSync(f), f).toBe(true);
    expect(existsSync(join(outbox, 'mailing', 'link.part'))).toBe(true);
  });
});

describe('the retention job', () => {
  const world = useWorld('sqlite');

  it('sweeps stale temporary files from the landing, outbox and report folders and counts them', async () => {
    const w = world();
    const { landing, outbox, reports } = w.config.paths;
    for (const d of [landing, outbox, reports]) mkdirSync(d, { recursive: true });
    write(join(landing, '.FLOWN_20261001.csv.aaaaaaaaaaaa.part'), 2 * DAY);
    write(join(outbox, '.GRANDSTAY_20261001_1.resp.csv.bbbbbbbbbbbb.part'), 2 * DAY);
    write(join(reports, 'daily-2026-10-01.xlsx.4242.part'), 2 * DAY);
    const fresh = write(join(outbox, '.GRANDSTAY_20261002_1.resp.csv.cccccccccccc.part'), 60 * 1000);

    const result = await retentionJob(w.ctx('2026-10-03'));
    expect(result.counts).toEqual({ erased: 0, temporaryFilesRemoved: 3 });
    expect(existsSync(fresh)).toBe(true);
  });
});
