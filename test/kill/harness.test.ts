/**
 * The kill test's comparison, on either engine. A killed PostgreSQL transaction uses up ids a rerun does
 * not get back, so the killed world may number the same file or the same alliance claim differently:
 * that is no difference. A claim for another passenger, or other figures, is.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb } from '../../db/connection.js';
import { migrateLatest } from '../../db/migrate.js';
import { availableEngines, createTestDatabase, type TestDb } from '../harness/db.js';
import { compare, snapshot, World, type Demo } from './harness.js';

const NAME = 'XX_LH_20261002_000002.claims.xml';
const PASSENGER = 'FLT:XX181:2026-10-02:SVO-FRA:LH:992743723943508';
const NOW = '2026-10-03T02:30:00.000Z';

interface Holding {
  fileId: number;
  claimId: string;
  activityKey?: string;
  points?: number;
}

describe.each(availableEngines())('the kill test compares two worlds on %s', (engine) => {
  const base = mkdtempSync(join(tmpdir(), `redeye-kill-compare-${engine}-`));
  const databases: TestDb[] = [];
  afterAll(async () => {
    for (const d of databases) await d.cleanup();
    rmSync(base, { recursive: true, force: true });
  });

  /** A world holding one claims file, the claim it sent and the activity it claims for. */
  async function world(name: string, h: Holding): Promise<World> {
    const dir = join(base, name);
    mkdirSync(join(dir, 'var', 'outbox', 'alliance-claims'), { recursive: true });
    let url: string | undefined;
    if (engine === 'postgres') {
      const t = await createTestDatabase('postgres');
      databases.push(t);
      url = t.url;
    }
    const w = new World(name, dir, {} as Demo, url);
    const db = openDb(w.url);
    try {
      if (engine === 'sqlite') await migrateLatest(db);
      const claimId = h.claimId;
      const xml = `<Claims><Claim><ClaimId>${claimId}</ClaimId></Claim></Claims>\n`;
      writeFileSync(join(w.var, 'outbox', 'alliance-claims', NAME), xml);
      await db.knex('files').insert({
        id: h.fileId,
        direction: 'out',
        feed: 'alliance-claims',
        name: NAME,
        size: Buffer.byteLength(xml),
        sha256: createHash('sha256').update(xml).digest('hex'),
        verdict: 'delivered',
        created_at: NOW,
      });
      const activityKey = h.activityKey ?? PASSENGER;
      await db.knex('activities').insert({
        activity_key: activityKey,
        type: 'FLIGHT',
        activity_date: '2026-10-02',
        business_date: '2026-10-02',
        status: 'POSTED',
        points: h.points ?? 0,
        source_file_id: h.fileId,
        detail: JSON.stringify({ couponFrom: { fileId: h.fileId, line: 17 } }),
        updated_at: NOW,
      });
      await db.knex('alliance_claims').insert({
        direction: 'OUT',
        partner_code: 'LH',
        claim_id: claimId,
        activity_key: activityKey,
        business_date: '2026-10-02',
        file_id: h.fileId,
        claim: JSON.stringify({ claimId, member: { program: 'LH' } }),
        status: 'SENT',
      });
    } finally {
      await db.close();
    }
    return w;
  }

  it('the same claim and file under other ids (used up by killed transactions) is no difference', async () => {
    const reference = await world('reference', { fileId: 52, claimId: 'XX-1972' });
    const killed = await world('killed', { fileId: 53, claimId: 'XX-2272' });
    expect(compare(await snapshot(reference), await snapshot(killed))).toEqual([]);
  });

  it('a claim for another passenger, or other points, is a difference', async () => {
    const reference = await world('reference-2', { fileId: 52, claimId: 'XX-1972' });
    const other = await world('other-passenger', {
      fileId: 52,
      claimId: 'XX-1972',
      activityKey: PASSENGER.replace('992743723943508', '992743723940000'),
    });
    const problems = compare(await snapshot(reference), await snapshot(other));
    expect(problems.filter((p) => !p.startsWith(' '))).toEqual([
      'activities: 1 rows in the reference, 1 after the kills; 1 only in the reference, 1 only after the kills',
      'alliance_claims: 1 rows in the reference, 1 after the kills; 1 only in the reference, 1 only after the kills',
      'files: 1 rows in the reference, 1 after the kills; 1 only in the reference, 1 only after the kills',
      `file outbox/alliance-claims/${NAME}: different bytes after the kills`,
    ]);
    const points = await world('other-points', { fileId: 52, claimId: 'XX-1972', points: 10 });
    expect(compare(await snapshot(reference), await snapshot(points))[0]).toBe(
      'activities: 1 rows in the reference, 1 after the kills; 1 only in the reference, 1 only after the kills',
    );
  });
});
