/**
 * The outbox writer on both databases: the registry row, the gap-free sequence and the file appear
 * together or not at all, and a rerun compares with what was registered the first time.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { ExportError } from './errors.js';
import { exportKey, Outbox, type ExportSpec } from './outbox.js';

const DAY = '2026-11-30';

for (const engine of availableEngines()) {
  describe(`outbox on ${engine}`, () => {
    let t: TestDb;
    let root: string;
    let clock: Date;
    let outbox: Outbox;
    let body: string;

    beforeEach(async () => {
      t = await createTestDatabase(engine);
      root = mkdtempSync(join(tmpdir(), 'redeye-outbox-'));
      clock = new Date('2026-12-01T01:30:00.789Z');
      outbox = new Outbox(t.db, { root, now: () => clock });
      body = 'first\n';
    });

    afterEach(async () => {
      await t.cleanup();
      rmSync(root, { recursive: true, force: true });
    });

    const spec = (over: Partial<ExportSpec> = {}): ExportSpec => ({
      kind: 'mailing',
      key: exportKey('mailing', null, `TEST:${DAY}`),
      partnerCode: null,
      businessDate: DAY,
      sequenceScope: 'mailing:TEST',
      name: (s) => `TEST_${s.sequence}.txt`,
      prepare: async (_q, s) => ({ content: `${s.sequence} ${s.timestamp} ${body}`, counts: { lines: 1 } }),
      ...over,
    });
    const rows = () => t.db.knex('files').where('direction', 'out').orderBy('id');
    const sequence = async (scope: string) =>
      (await t.db.knex('sequences').where({ scope }).first())?.value as number | undefined;
    const leftovers = (kind: string) =>
      existsSync(join(root, kind)) ? readdirSync(join(root, kind)).filter((n) => n.startsWith('.')) : [];

    it('writes the file, its registry row and its sequence, stamped in whole seconds', async () => {
      const out = await outbox.write(spec());
      expect(out).toMatchObject({ status: 'written', name: 'TEST_1.txt', sequence: 1 });
      expect(readFileSync(out.path, 'utf8')).toBe('1 2026-12-01T01:30:00Z first\n');
      const [row] = await rows();
      expect(row).toMatchObject({
        feed: 'mailing',
        name: 'TEST_1.txt',
        verdict: 'written',
        local_path: join('mailing', 'TEST_1.txt'),
        sequence: 1,
      });
      expect(JSON.parse(row.counts)).toEqual({ lines: 1 });
      expect(await sequence('mailing:TEST')).toBe(1);
    });

    it('replaces a file not yet delivered whose data changed, keeping its name, sequence and time', async () => {
      const first = await outbox.write(spec());
      body = 'corrected\n';
      clock = new Date('2026-12-05T00:00:00Z');
      const second = await outbox.write(spec());
      expect(second).toMatchObject({
        status: 'replaced',
        fileId: first.fileId,
        name: first.name,
        sequence: 1,
      });
      expect(readFileSync(first.path, 'utf8')).toBe('1 2026-12-01T01:30:00Z corrected\n');
      const [row] = await rows();
      expect(row.sha256).toBe(second.sha256);
      expect(await rows()).toHaveLength(1);
    });

    it('keeps a delivered file as it was and reports the drift', async () => {
      const first = await outbox.write(spec());
      await t.db.knex('files').where('id', first.fileId).update({ verdict: 'delivered' });
      body = 'changed after delivery\n';
      const second = await outbox.write(spec());
      expect(second).toMatchObject({ status: 'drifted', sha256: first.sha256 });
      expect(readFileSync(first.path, 'utf8')).toBe('1 2026-12-01T01:30:00Z first\n');
      expect(leftovers('mailing')).toEqual([]);
    });

    it('a failure before the commit returns the sequence and leaves no file and no row', async () => {
      await expect(
        outbox.write(
          spec({
            prepare: async () => ({
              content: 'x',
              afterInsert: async () => {
                throw new ExportError('BOOM', 'afterInsert failed');
              },
            }),
          }),
        ),
      ).rejects.toThrow('afterInsert failed');
      expect(await rows()).toHaveLength(0);
      expect(await sequence('mailing:TEST')).toBeUndefined();
      expect(existsSync(join(root, 'mailing', 'TEST_1.txt'))).toBe(false);
      expect(leftovers('mailing')).toEqual([]);
      expect(await outbox.write(spec())).toMatchObject({ status: 'written', sequence: 1 });
    });

    it('refuses a name another export already registered, and names that are not one file name', async () => {
      await outbox.write(spec());
      await expect(
        outbox.write(
          spec({ key: exportKey('mailing', null, 'OTHER'), sequenceScope: null, name: () => 'TEST_1.txt' }),
        ),
      ).rejects.toMatchObject({ code: 'EXPORT_NAME_TAKEN' });
      await expect(outbox.write(spec({ key: 'k2', name: () => '../escape.txt' }))).rejects.toMatchObject({
        code: 'EXPORT_BAD_NAME',
      });
      await expect(outbox.write(spec({ key: 'k3', name: () => '.hidden' }))).rejects.toMatchObject({
        code: 'EXPORT_BAD_NAME',
      });
      expect(await rows()).toHaveLength(1);
      expect(await sequence('mailing:TEST')).toBe(1);
    });

    it('writes an export whose name another export holds under the next name it may take, never over the first, and a rerun finds it there', async () => {
      const first = await outbox.write(spec());
      await t.db.knex('files').where('id', first.fileId).update({ verdict: 'delivered' });
      const answer = spec({
        key: exportKey('mailing', null, 'OTHER'),
        sequenceScope: null,
        name: () => 'TEST_1.txt',
        otherNames: () => ['TEST_1-20261130.txt', 'TEST_1-20261130-9.txt'],
        prepare: async () => ({ content: 'the other one\n' }),
      });
      const second = await outbox.write(answer);
      expect(second).toMatchObject({
        status: 'written',
        name: 'TEST_1-20261130.txt',
        nameTakenBy: { name: 'TEST_1.txt', fileId: first.fileId, key: first.key },
      });
      expect(readFileSync(first.path, 'utf8')).toBe('1 2026-12-01T01:30:00Z first\n');
      expect(readFileSync(second.path, 'utf8')).toBe('the other one\n');
      const rerun = await outbox.write(answer);
      expect(rerun).toMatchObject({
        status: 'unchanged',
        fileId: second.fileId,
        name: 'TEST_1-20261130.txt',
      });
      expect(rerun.nameTakenBy).toBeUndefined();
      expect(await rows()).toHaveLength(2);
      // Every name held: refused, naming each export that holds one.
      await outbox.write(spec({ key: 'k3', sequenceScope: null, name: () => 'TEST_1-20261130-9.txt' }));
      await expect(outbox.write({ ...answer, key: 'k4' })).rejects.toThrow(
        new RegExp(
          `^k4: .*TEST_1\\.txt is already registered as file ${first.fileId} \\(${first.key}\\), and so is each other name it may take: ` +
            `TEST_1-20261130\\.txt is file ${second.fileId} \\(mailing:-:OTHER\\), TEST_1-20261130-9\\.txt is file \\d+ \\(k3\\)$`,
        ),
      );
      expect(await rows()).toHaveLength(3);
      expect(readdirSync(join(root, 'mailing')).sort()).toEqual([
        'TEST_1-20261130-9.txt',
        'TEST_1-20261130.txt',
        'TEST_1.txt',
      ]);
    });

    it('writers of the same export at once register it once, with one sequence number', async () => {
      const outcomes = await Promise.all(Array.from({ length: 5 }, () => outbox.write(spec())));
      expect(outcomes.filter((o) => o.status === 'written')).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'unchanged')).toHaveLength(4);
      expect(await rows()).toHaveLength(1);
      expect(await sequence('mailing:TEST')).toBe(1);
      expect(readdirSync(join(root, 'mailing'))).toEqual(['TEST_1.txt']);
    });

    it('streams content given as an async iterable and hashes what it wrote', async () => {
      async function* chunks() {
        for (let i = 0; i < 5000; i++) yield `line ${i}\n`;
      }
      const out = await outbox.write(spec({ key: 'stream', prepare: async () => ({ content: chunks() }) }));
      const text = readFileSync(out.path, 'utf8');
      expect(text.split('\n')).toHaveLength(5001);
      expect(out.size).toBe(Buffer.byteLength(text));
      const again = await outbox.write(spec({ key: 'stream', prepare: async () => ({ content: chunks() }) }));
      expect(again.status).toBe('unchanged');
    });
  });
}
