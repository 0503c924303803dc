import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useWorld, type TestWorld } from '../test/harness/context.js';
import { writeAgedFile } from '../test/harness/files.js';
import { deliverJob } from './deliver.js';

const DAY_MS = 24 * 3600 * 1000;

describe('deliver', () => {
  const world = useWorld('sqlite');

  /** The folder the example's shared outbox transport delivers into. */
  function deliveredRoot(w: TestWorld): string {
    const outbox = w.config.transports.outbox!;
    if (outbox.type !== 'local') throw new Error('the example outbox is a local folder');
    return outbox.root;
  }

  /** A file in `dir` last written `ageMs` ago. */
  const file = (dir: string, name: string, ageMs: number) => writeAgedFile(join(dir, name), ageMs, 'x');

  async function registerExport(w: TestWorld, feed: string, name: string, content: string): Promise<void> {
    const localPath = join(w.dir, 'outbox', name);
    writeFileSync(localPath, content);
    await w.t.db.knex('files').insert({
      direction: 'out',
      feed,
      name,
      size: Buffer.byteLength(content),
      sha256: '0'.repeat(64),
      local_path: localPath,
      business_date: '2026-10-01',
      verdict: 'written',
      created_at: '2026-10-01T23:00:00.000Z',
    });
  }

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
});
