/**
 * A file held for an operator (another file under a name received before) can be decided: `redeye files
 * release` reads it as a new file at the next ingest, posting nothing twice; `redeye files discard`
 * drops it for good. Both are recorded with who, when and why, and shown by `files show`. A feed whose
 * partner reuses one name every day (`names: reused`) takes each day's file as new.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { EXAMPLE_CONFIG, useWorld, type TestWorld } from '../../test/harness/context.js';
import { fetchJob } from '../../jobs/fetch.js';
import { simulateNight } from '../../jobs/simulate.js';
import { Readable } from 'node:stream';
import { ingestJob } from '../../jobs/ingest.js';
import { copyPath, toFileRow } from '../../jobs/registry.js';
import { main } from '../main.js';

const HEADER =
  'ticket_number,coupon_number,issue_date,pnr,operating_carrier,operating_flight,marketing_carrier,marketing_flight,flight_date,origin,destination,cabin,booked_rbd,flown_rbd,fare_basis,passenger_surname,passenger_given_name,passenger_type,ffp_carrier,ffp_number,fare_amount,carrier_surcharge_amount,tax_amount,currency,coupon_status,source_ref';
const coupon = (i: number) =>
  `${9585465022600 + i},1,2026-04-20,DX9TA8,XX,302,XX,302,2026-05-01,KGD,LED,Y,K,K,KSAVEROW,SEMENOV,PETR,ADT,,,7960.00,925.00,1304.00,RUB,F,RA${i}`;
/** 59 coupons, as the operator's FLOWN_20260502.csv. */
const WHOLE = [HEADER, ...Array.from({ length: 59 }, (_, i) => coupon(i)), ''].join('\n');
/** What a fetch read while the upload was under way: 24 whole lines and part of the 25th. */
const PART = WHOLE.slice(0, WHOLE.indexOf(coupon(24)) + 20);
const NAME = 'FLOWN_20260502.csv';

async function redeye(w: TestWorld, args: string[]): Promise<{ code: number; out: string }> {
  const config = join(w.dir, 'cli.config.yaml');
  writeFileSync(config, readFileSync(EXAMPLE_CONFIG, 'utf8').replaceAll('../var/', './'));
  const out: string[] = [];
  const code = await main(['node', 'redeye', '--config', config, 'files', ...args], {
    output: { out: (s) => out.push(s), err: (s) => out.push(s) },
    env: {
      REDEYE_DATABASE_URL: w.t.url,
      REDEYE_LOG_LEVEL: 'silent',
      REDEYE_NOW: '2026-05-03T08:15:00Z',
      USER: 'night-accountant',
    },
  });
  return { code, out: out.join('\n') };
}

const inbox = (w: TestWorld, feed: string) => join(w.dir, 'inbox', feed);

/** The operator's nights: a part of the file read on the 2nd, the whole file held on the 3rd. */
async function heldWhole(w: TestWorld): Promise<number> {
  writeFileSync(join(inbox(w, 'flown'), NAME), PART);
  await fetchJob(w.ctx('2026-05-02'));
  const first = await ingestJob(w.ctx('2026-05-02'));
  expect(first.counts).toMatchObject({ records: 24, rejects: 1 });
  writeFileSync(join(inbox(w, 'flown'), NAME), WHOLE);
  const second = await fetchJob(w.ctx('2026-05-03', new Date(Date.now() + 60_000)));
  expect(second.counts).toMatchObject({ conflict: 1 });
  const held = await w.t.db.knex('files').where({ name: NAME, verdict: 'conflict' }).first('id');
  return Number(held.id);
}

for (const engine of availableEngines()) {
  describe(`a file held for its missing landed copy (${engine})`, () => {
    const world = useWorld(engine);

    it('is released only once the copy received is back where it was, and is then read', async () => {
      const w = world();
      writeFileSync(join(inbox(w, 'flown'), NAME), WHOLE);
      await fetchJob(w.ctx('2026-05-02'));
      const row = toFileRow(await w.t.db.knex('files').where({ name: NAME }).first());
      const path = copyPath(w.config.paths.landing, row)!;
      rmSync(path);
      const night = await ingestJob(w.ctx('2026-05-02'));
      expect(night.counts).toMatchObject({ files: 1, missing: 1 });
      const id = row.id;
      const shown = (await redeye(w, ['show', String(id)])).out;
      expect(shown).toContain(`verdict missing (COPY_MISSING): its landed copy ${path} is missing`);
      expect(shown).toContain(`then \`redeye files release ${id}\` reads it at the next ingest`);

      const early = await redeye(w, ['release', String(id)]);
      expect(early.code).toBe(2);
      expect(early.out).toContain('FILE_COPY_MISSING');
      expect(early.out).toContain(`${path} is missing; put the file received back there, then release it`);
      // Other bytes under its name are not the file received: read, they would pass for it.
      writeFileSync(path, PART);
      const other = await redeye(w, ['release', String(id)]);
      expect(other.code).toBe(2);
      expect(other.out).toContain('FILE_COPY_DIFFERS');
      expect((await w.t.db.knex('files').where({ id }).first('verdict')).verdict).toBe('missing');

      writeFileSync(path, WHOLE);
      const released = await redeye(w, ['release', String(id), '--reason', 'copy restored from backup']);
      expect(released).toMatchObject({ code: 0 });
      expect(released.out).toContain(`file ${id} (${NAME}, flown) released by night-accountant`);
      const read = await ingestJob(w.ctx('2026-05-03'));
      expect(read.counts).toMatchObject({ accepted: 1, records: 59, 'flown.activities': 59 });
    });
  });
}

for (const engine of availableEngines()) {
  describe(`a file held for an operator (${engine})`, () => {
    const world = useWorld(engine);

    it('released, is read at the next ingest: the coupons the part missed are archived, none twice', async () => {
      const w = world();
      const id = await heldWhole(w);
      expect((await redeye(w, ['show', String(id)])).out).toContain(
        `held for an operator: \`redeye files release ${id}\``,
      );
      const released = await redeye(w, ['release', String(id), '--reason', 'partner re-sent it whole']);
      expect(released).toMatchObject({ code: 0 });
      expect(released.out).toContain(`file ${id} (${NAME}, flown) released by night-accountant`);
      const ingest = await ingestJob(w.ctx('2026-05-03'));
      // The 24 coupons read from the part are known (duplicates, nothing new); the 35 it missed are new.
      expect(ingest.counts).toMatchObject({
        accepted: 1,
        records: 59,
        rejects: 0,
        'flown.duplicates': 24,
        'flown.activities': 35,
      });
      const keys = await w.t.db.knex('activities').pluck('activity_key');
      expect(keys).toHaveLength(59);
      expect(new Set(keys).size).toBe(59);
      const shown = await redeye(w, ['show', String(id)]);
      expect(shown.out).toContain('  verdict accepted');
      expect(shown.out).toContain(
        '  released by night-accountant at 2026-05-03T08:15:00.000Z: partner re-sent it whole',
      );
      // An id that names no file is the operator's to correct: exit 2, saying where the ids are.
      for (const verb of [['release'], ['discard', '--reason', 'x'], ['show']]) {
        const unknown = await redeye(w, [verb[0]!, '999', ...verb.slice(1)]);
        expect([verb[0], unknown.code]).toEqual([verb[0], 2]);
        expect(unknown.out).toContain(
          '[FILE_UNKNOWN]: no file 999 in the registry (redeye files list lists them)',
        );
      }
      // Decided once: a second release says what became of it, exit 2.
      const again = await redeye(w, ['release', String(id)]);
      expect(again.code).toBe(2);
      expect(again.out).toContain(
        `[FILE_NOT_HELD]: ${NAME}: file ${id} (flown) is accepted, not held for an operator: released by night-accountant`,
      );
    });

    it('discarded, is never read, and says who dropped it and why; --reason is required', async () => {
      const w = world();
      const id = await heldWhole(w);
      expect((await redeye(w, ['discard', String(id)])).code).toBe(2);
      const discarded = await redeye(w, ['discard', String(id), '--reason', 'sent by mistake']);
      expect(discarded).toMatchObject({ code: 0 });
      expect((await ingestJob(w.ctx('2026-05-03'))).counts).toMatchObject({ files: 0 });
      const shown = await redeye(w, ['show', String(id), '--json']);
      expect(JSON.parse(shown.out).file).toMatchObject({
        verdict: 'discarded',
        reason: 'NAME_CONFLICT',
        decision: 'discarded',
        decidedBy: 'night-accountant',
        decidedAt: '2026-05-03T08:15:00.000Z',
        decisionReason: 'sent by mistake',
      });
      // The same bytes on the server later are the file discarded, not a new one.
      expect((await fetchJob(w.ctx('2026-05-04', new Date(Date.now() + 120_000)))).counts).toMatchObject({
        new: 0,
        conflict: 0,
      });
    });
  });

  describe(`a feed whose partner reuses one file name (${engine})`, () => {
    const world = useWorld(engine, (yaml) =>
      yaml.replace(
        'remoteDir: redemptions, pattern: "\\\\.csv$", completeness: { kind: none } }',
        'remoteDir: redemptions, pattern: "\\\\.csv$", completeness: { kind: none }, afterFetch: archive, names: reused }',
      ),
    );

    it('takes each day’s REDEMPTIONS.csv as a new file, and the same content again as the file taken', async () => {
      const w = world();
      expect(w.config.feeds.redemptions).toMatchObject({ names: 'reused', afterFetch: 'archive' });
      const put = (content: string) =>
        writeFileSync(join(inbox(w, 'redemptions'), 'REDEMPTIONS.csv'), content);
      put('day one\n');
      expect((await fetchJob(w.ctx('2026-05-02'))).counts).toMatchObject({ new: 1 });
      // The simulator foretells day two's file as the fetch will take it: a new file, not a conflict.
      const verdicts = [];
      for await (const e of simulateNight(
        w.t.db.knex,
        w.config,
        [
          {
            feed: 'redemptions',
            inputs: [
              { name: 'REDEMPTIONS.csv', open: () => Readable.from(['day two\n']), receivedAt: new Date() },
            ],
          },
        ],
        '2026-05-03',
      ))
        if (e.type === 'file') verdicts.push([e.verdict, e.reason]);
      expect(verdicts).not.toContainEqual(['conflict', 'NAME_CONFLICT']);
      expect(verdicts).toHaveLength(1);
      put('day two\n');
      expect((await fetchJob(w.ctx('2026-05-03'))).counts).toMatchObject({ new: 1, conflict: 0 });
      put('day two\n');
      // The same bytes again are the file already taken: not read twice.
      expect((await fetchJob(w.ctx('2026-05-04'))).counts).toMatchObject({ new: 0, known: 1 });
      expect(await w.t.db.knex('files').where({ feed: 'redemptions' }).pluck('verdict')).toEqual([
        'pending',
        'pending',
      ]);
    });
  });
}
