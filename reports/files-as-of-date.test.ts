/**
 * The daily report's Files sheet shows each file with the verdict it had at the close of the report's
 * date, not the one a later night or an operator gave it since: made again for a past date, the
 * workbook is the one made that night, byte for byte.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';
import { memberNumber, useScenario, type Person, type Scenario } from '../rules/scenarios/scenario.js';
import { availableEngines } from '../test/harness/db.js';
import { dumpXlsx, skipWithoutOpenpyxl } from '../test/harness/openpyxl.js';
import { tableOf } from '../test/harness/report-scenario.js';
import { exportKey, Outbox } from '../exporters/outbox.js';
import { dailyReport } from './daily.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const PETROV: Person = { number: memberNumber(2), surname: 'PETROV', givenName: 'PETR' };

/** One part of the FTL message of `flight` SVO-KZN on 10 March, in an envelope of its own. */
function part(flight: string, n: number, final: boolean, pax: Person[]): string {
  return [
    'QU MOWKTXX',
    '.MOWRMXX 101530',
    'FTL',
    `${flight}/10MAR SVO PART${n}`,
    `-KZN${String(pax.length).padStart(2, '0')}Y`,
    ...pax.flatMap((p) => [`1${p.surname}/${p.givenName} MR`, '.L/0M71MG/XX', `.R/FQTV XX ${p.number}`]),
    final ? 'ENDFTL' : `ENDPART${n}`,
    '',
  ].join('\n');
}

const report = (w: Scenario, date: string, run: string) =>
  dailyReport(w.w.t.db, w.w.config, date, join(w.w.dir, 'reports', `${date}-${run}`));

/** The Files sheet's rows, each as [file, night, verdict, reason, records, posted]. */
async function filesSheet(workbook: string): Promise<unknown[][]> {
  const files = tableOf(await dumpXlsx(workbook), 'Files');
  return files.rows.map((r) =>
    ['File', 'Night', 'Verdict', 'Reason', 'Records', 'Posted'].map((h) => files.cell(r, h).value),
  );
}

const same = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));

/** `redeye files <decision> <id> …` as an operator runs it at `now`; the command must succeed. */
async function decide(w: Scenario, now: string, args: string[]): Promise<void> {
  const config = join(w.w.dir, 'redeye.config.yaml');
  writeFileSync(
    config,
    readFileSync(resolve(import.meta.dirname, '../examples/redeye.config.yaml'), 'utf8').replaceAll(
      '../var/',
      './',
    ),
  );
  const out: string[] = [];
  const code = await main(['node', 'redeye', '--config', config, 'files', ...args, '--by', 'ops'], {
    output: { out: (s) => out.push(s), err: (s) => out.push(s) },
    env: { REDEYE_DATABASE_URL: w.w.t.url, REDEYE_LOG_LEVEL: 'silent', REDEYE_NOW: now },
  });
  expect(code, out.join('\n')).toBe(0);
}

for (const engine of availableEngines()) {
  describe(`the Files sheet of a past date, made again (${engine})`, () => {
    const s = useScenario(engine);
    const skip = skipWithoutOpenpyxl();

    it.skipIf(skip)(
      'an FTL part held that night stays held on its report after a later night completes its message',
      async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV, PETROV);
        const held = w.drop('ftl', part('XX245', 2, true, [IVANOV]));
        await w.night('2026-03-11');
        const first = await report(w, '2026-03-11', 'first');
        const heldThen = (await w.knex('files').where({ name: held }).first('reason')) as { reason: unknown };
        expect(await filesSheet(first.workbookPath)).toEqual([
          [held, '2026-03-11T00:00:00', 'held', heldThen.reason, 1, 0],
        ]);

        // Part 1 comes the next night: the message completes and both passengers are credited.
        const completing = w.drop('ftl', part('XX245', 1, false, [PETROV]));
        await w.night('2026-03-12');
        expect(await w.knex('files').where({ name: held }).first('verdict', 'reason')).toEqual({
          verdict: 'accepted',
          reason: null,
        });

        const again = await report(w, '2026-03-11', 'again');
        expect(await filesSheet(again.workbookPath)).toEqual(await filesSheet(first.workbookPath));
        expect(same(again.workbookPath, first.workbookPath)).toBe(true);
        // The night that completed it shows it accepted, among the earlier files it posted from.
        expect(await filesSheet((await report(w, '2026-03-12', 'first')).workbookPath)).toEqual([
          [completing, '2026-03-12T00:00:00', 'accepted', null, 1, 1],
          [held, '2026-03-11T00:00:00', 'accepted', null, null, 1],
        ]);
      },
    );

    it.skipIf(skip)(
      'a file held as a name conflict stays held on its report after an operator releases it and a night reads it, or discards it',
      async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV, PETROV);
        w.drop('ftl', part('XX245', 1, true, [IVANOV]), 'ftl.txt');
        w.drop('ftl', part('XX246', 1, true, [IVANOV]), 'ftl2.txt');
        await w.night('2026-03-11');
        // Other content under both names the next night: each held for an operator.
        w.drop('ftl', part('XX247', 1, true, [PETROV]), 'ftl.txt');
        w.drop('ftl', part('XX248', 1, true, [PETROV]), 'ftl2.txt');
        await w.night('2026-03-12', { foretold: false });
        const first = await report(w, '2026-03-12', 'first');
        const conflicts = [
          ['ftl.txt', '2026-03-12T00:00:00', 'conflict', 'NAME_CONFLICT', null, 0],
          ['ftl2.txt', '2026-03-12T00:00:00', 'conflict', 'NAME_CONFLICT', null, 0],
        ];
        expect(await filesSheet(first.workbookPath)).toEqual(conflicts);

        // The next morning, Moscow time, an operator releases one and discards the other; the night reads
        // the released one.
        const [released, discarded] = (
          await w.knex('files').where({ verdict: 'conflict' }).orderBy('name').select('id')
        ).map((r) => String(r.id));
        await decide(w, '2026-03-13T06:00:00Z', ['release', released!]);
        await decide(w, '2026-03-13T06:05:00Z', ['discard', discarded!, '--reason', 'sent twice']);
        await w.night('2026-03-13');
        expect(
          await w.knex('files').whereIn('id', [released!, discarded!]).orderBy('name').pluck('verdict'),
        ).toEqual(['accepted', 'discarded']);
        expect(await w.balance(PETROV.number)).toBeGreaterThan(0);

        const again = await report(w, '2026-03-12', 'again');
        expect(await filesSheet(again.workbookPath)).toEqual(conflicts);
        expect(same(again.workbookPath, first.workbookPath)).toBe(true);
        // The night that read it shows what it posted, as accepted.
        expect(await filesSheet((await report(w, '2026-03-13', 'first')).workbookPath)).toEqual([
          ['ftl.txt', '2026-03-12T00:00:00', 'accepted', null, null, 1],
        ]);
      },
    );

    it.skipIf(skip)(
      'an export written that night stays written on its report after a later night withdraws it',
      async () => {
        const w = s();
        let clock = new Date('2026-03-11T23:40:00Z');
        const outbox = new Outbox(w.w.t.db, { root: w.w.config.paths.outbox, now: () => clock });
        const key = exportKey('mailing', null, 'TEST:2026-03-11');
        await outbox.write({
          kind: 'mailing',
          key,
          partnerCode: null,
          businessDate: '2026-03-11',
          sequenceScope: null,
          name: () => 'TEST_20260311.csv',
          prepare: async () => ({ content: 'member\n1\n', counts: { records: 1 } }),
        });
        const first = await report(w, '2026-03-11', 'first');
        const written = [['TEST_20260311.csv', '2026-03-11T00:00:00', 'written', null, 1, null]];
        expect(await filesSheet(first.workbookPath)).toEqual(written);

        clock = new Date('2026-03-12T23:40:00Z');
        expect(await outbox.withdraw(key, 'nothing to send any more', '2026-03-12')).toMatchObject({
          status: 'withdrawn',
        });
        const again = await report(w, '2026-03-11', 'again');
        expect(await filesSheet(again.workbookPath)).toEqual(written);
        expect(same(again.workbookPath, first.workbookPath)).toBe(true);
      },
    );
  });
}
