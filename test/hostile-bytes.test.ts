/**
 * Invalid UTF-8 and NUL bytes in files that are otherwise fine (issue 8), through fetch and ingest. In
 * the line-based feeds (FTL, flown coupons, partner activity, redemptions, members, retro-claims) the
 * line holding them is rejected with its reason and the rest of the file is read; an XML document, which
 * cannot lose a line and stay a document, is refused whole with its reason. Nothing crashes, and every
 * line of every file is counted.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJob } from '../jobs/fetch.js';
import { ingestJob } from '../jobs/ingest.js';
import type { FeedName } from '../parsers/types.js';
import { createWorld, type TestWorld } from './harness/context.js';
import { physicalLines } from './fuzz/lines.js';
import { buildSeeds, type SeedFile } from './fuzz/seeds.js';

// The month's last night: the month seeds hold requests received on every day of it, and a request
// received after the night that reads it is refused for its date, not for the bytes under test.
const DATE = '2026-10-31';
const INVALID = Buffer.from([0xff, 0xc3]); // a byte never valid in UTF-8, then a lead byte without its continuation
const NUL = Buffer.from([0x00]);

/** Per CSV feed: the column whose value gets the bad bytes, and the reason the line is rejected with. */
const CSV_CASES: Array<{ feed: FeedName; column: number; reason: string; pick: (s: SeedFile) => boolean }> = [
  {
    feed: 'flown',
    column: 15,
    reason: 'BAD_ENCODING',
    pick: (s) => /^FLOWN_\d{8}\.csv$/.test(s.name) && rows(s) >= 4,
  },
  // The partner feed answers with its partners' codes only: a line it cannot read is MALFORMED.
  {
    feed: 'partner',
    column: 3,
    reason: 'MALFORMED',
    pick: (s) => s.name.startsWith('DRIVE_') && rows(s) >= 4,
  },
  { feed: 'redemptions', column: 3, reason: 'BAD_ENCODING', pick: (s) => s.name.endsWith('_MONTH.csv') },
  { feed: 'members', column: 5, reason: 'BAD_ENCODING', pick: (s) => s.name.endsWith('_MONTH.csv') },
  { feed: 'retro-claims', column: 10, reason: 'BAD_ENCODING', pick: (s) => s.name.endsWith('_MONTH.csv') },
];

const XML_FEEDS: FeedName[] = ['hotel', 'alliance-claims', 'alliance-results', 'fx'];

function rows(s: SeedFile): number {
  return s.bytes
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0).length;
}

/** `line` with `bad` put inside the value of `column`, after its first character. */
function corrupt(line: string, column: number, bad: Buffer): Buffer {
  const fields = line.split(',');
  const head = [...fields.slice(0, column), fields[column]!.slice(0, 1)].join(',');
  const tail = [fields[column]!.slice(1), ...fields.slice(column + 1)].join(',');
  return Buffer.concat([Buffer.from(head, 'utf8'), bad, Buffer.from(tail, 'utf8')]);
}

let w: TestWorld;
/** `badLines`: line and the reason its reject must have. */
const files: Array<{
  feed: FeedName;
  name: string;
  bytes: Buffer;
  badLines: Array<[number, string]>;
  reason: string;
}> = [];

function inbox(feed: FeedName): string {
  const cfg = w.config.feeds[feed]!;
  const t = w.config.transports[cfg.source]!;
  if (t.type !== 'local') throw new Error('local inbox expected');
  return join(t.root, cfg.remoteDir);
}

beforeAll(async () => {
  w = await createWorld('sqlite');
  const seeds = await buildSeeds(join(w.dir, 'demo'), 5);
  for (const c of CSV_CASES) {
    const seed = seeds.byFeed[c.feed].find(c.pick);
    if (!seed) throw new Error(`no seed for ${c.feed}`);
    const lines = seed.bytes.toString('utf8').replace(/\n$/, '').split('\n');
    // The first two data lines: one with invalid UTF-8, one with a NUL byte.
    const bytes = Buffer.concat(
      lines.map((l, i) =>
        Buffer.concat([
          i === 1
            ? corrupt(l, c.column, INVALID)
            : i === 2
              ? corrupt(l, c.column, NUL)
              : Buffer.from(l, 'utf8'),
          Buffer.from('\n'),
        ]),
      ),
    );
    // Partner files keep their name (it carries the partner and the sequence); the others get a new one.
    const name = c.feed === 'partner' ? seed.name : seed.name.replace(/\.csv$/, '_BAD.csv');
    files.push({
      feed: c.feed,
      name,
      bytes,
      badLines: [
        [2, c.reason],
        [3, c.reason],
      ],
      reason: c.reason,
    });
  }
  // FTL: a name line with invalid UTF-8, a frequent-traveller remark with a NUL byte.
  const ftl = seeds.byFeed.ftl.find((s) => s.name === '03-variants.ftl')!;
  const ftlLines = ftl.bytes.toString('utf8').split('\n');
  const nameLine = ftlLines.findIndex((l) => /^1[A-Z]/.test(l));
  const remarkLine = ftlLines.findIndex((l, i) => i > nameLine + 1 && l.startsWith('.R/FQTV'));
  const ftlBytes = Buffer.concat(
    ftlLines.map((l, i) => {
      const nl = i < ftlLines.length - 1 ? '\n' : '';
      if (i === nameLine)
        return Buffer.concat([Buffer.from(l.slice(0, 3)), INVALID, Buffer.from(l.slice(3) + nl)]);
      if (i === remarkLine)
        return Buffer.concat([Buffer.from(l.slice(0, 10)), NUL, Buffer.from(l.slice(10) + nl)]);
      return Buffer.from(l + nl);
    }),
  );
  files.push({
    feed: 'ftl',
    name: 'BAD_BYTES.ftl',
    bytes: ftlBytes,
    // A NUL is valid UTF-8: to the FTL reader the remark is simply unreadable.
    badLines: [
      [nameLine + 1, 'BAD_ENCODING'],
      [remarkLine + 1, 'MALFORMED_REMARK'],
    ],
    reason: 'BAD_ENCODING',
  });
  for (const feed of XML_FEEDS) {
    const seed = seeds.byFeed[feed].find((s) => /^(GS_|LH_|IB_|XX_|eurofxref-daily)/.test(s.name))!;
    const text = seed.bytes.toString('utf8');
    const at = text.search(/>[A-Za-z]/) + 2;
    files.push({
      feed,
      name: `INVALID_${feed}.xml`,
      bytes: Buffer.concat([Buffer.from(text.slice(0, at)), INVALID, Buffer.from(text.slice(at))]),
      badLines: [],
      reason: 'BAD_ENCODING',
    });
    files.push({
      feed,
      name: `NUL_${feed}.xml`,
      bytes: Buffer.concat([Buffer.from(text.slice(0, at)), NUL, Buffer.from(text.slice(at))]),
      badLines: [],
      reason: 'NOT_WELL_FORMED',
    });
  }
  for (const f of files) writeFileSync(join(inbox(f.feed), f.name), f.bytes);
  const ctx = w.ctx(DATE);
  await fetchJob(ctx);
  await ingestJob(ctx);
}, 120_000);

afterAll(async () => {
  await w.cleanup();
});

async function outcome(feed: FeedName, name: string) {
  const row = await w.t.db.knex('files').where({ direction: 'in', feed, name }).first();
  expect(row, `${feed}/${name}`).toBeDefined();
  const rejects = (await w.t.db
    .knex('rejects')
    .where({ file_id: row.id })
    .orderBy('line')
    .select('line', 'reason', 'field')) as Array<{ line: number; reason: string; field: string }>;
  return {
    row: row as Record<string, unknown>,
    counts: JSON.parse(String(row.counts)) as Record<string, number>,
    rejects,
  };
}

describe('invalid UTF-8 and NUL bytes', () => {
  for (const c of [...CSV_CASES.map((x) => x.feed), 'ftl' as const]) {
    it(`${c}: the lines holding them are rejected with a reason, the rest is read`, async () => {
      const f = files.find((x) => x.feed === c)!;
      const { row, counts, rejects } = await outcome(f.feed, f.name);
      expect(['accepted', 'held'], `${f.name}: ${String(row.reason)} ${String(row.message)}`).toContain(
        row.verdict,
      );
      expect(counts.lines).toBe(physicalLines(f.bytes));
      for (const [line, reason] of f.badLines) {
        expect(
          rejects.filter((r) => r.line === line).map((r) => r.reason),
          `line ${line}`,
        ).toContain(reason);
      }
      if (f.feed === 'ftl') expect(counts.records).toBeGreaterThan(0);
      else {
        // Every other line is a record: all but the header row (and the trailer of flown and partner files).
        const structure = f.feed === 'flown' || f.feed === 'partner' ? 2 : 1;
        expect(counts.records).toBe(counts.lines! - structure - 2);
        expect(counts.rejects).toBeGreaterThanOrEqual(2);
      }
    });
  }

  for (const feed of XML_FEEDS) {
    it(`${feed}: a document holding them is refused whole with its reason`, async () => {
      for (const f of files.filter((x) => x.feed === feed)) {
        const { row, counts } = await outcome(feed, f.name);
        expect([row.verdict, row.reason], f.name).toEqual(['rejected', f.reason]);
        expect(counts).toEqual({ lines: physicalLines(f.bytes), records: 0, rejects: 0 });
      }
    });
  }
});
