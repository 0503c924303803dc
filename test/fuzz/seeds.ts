/**
 * Valid files to mutate, per feed, and the night that gives the fuzzed world its members and history.
 *
 * The demo generator (demo/generate.ts) writes a month of the demo program's files, deterministic from its
 * seed: those are the main seeds, because their partners, members and flights are the ones the world's
 * configuration knows, so a mutated file that still reads posts real points and exercises accrue. The
 * parsers' own valid fixtures add the shapes the demo does not write (quoted fields with line breaks,
 * semicolons, CRLF with a byte-order mark, multi-part and Cyrillic FTL). Results of partner airlines are
 * written with our own writer, answering claims the world is told it sent (see `outboundClaims`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeResultsFile } from '../../exporters/alliance-xml.js';
import type { AllianceResult } from '../../parsers/alliance.js';
import { generateDemo } from '../../demo/generate.js';
import { FEED_DIRS } from '../../demo/out.js';
import { FEED_NAMES, type FeedName } from '../../parsers/types.js';

export interface SeedFile {
  feed: FeedName;
  name: string;
  bytes: Buffer;
  /** How often the corpus draws it, against 1 for a file as the demo wrote it. */
  weight?: number;
}

export interface Seeds {
  /** The demo's first night: the member base, a year of flown history, the ECB history. */
  baseNight: SeedFile[];
  baseDate: string;
  /** The demo month's last business date: the fuzzed nights come after it, so no seed is in the future. */
  lastDate: string;
  byFeed: Record<FeedName, SeedFile[]>;
  /** Claims the world records as sent (OUT, SENT), which the results seeds answer. */
  outboundClaims: Array<{ partner: string; sequence: number; claimIds: string[] }>;
}

const ROOT = resolve(import.meta.dirname, '../..');
const PARSER_FIXTURES = join(ROOT, 'parsers/fixtures');
const FTL_FIXTURES = join(ROOT, 'parsers/ftl/fixtures');
const SHARED_FTL = resolve(ROOT, '../shared/samples/ftl');

/** Valid fixture files (the deliberately broken ones are left out: the corpus breaks files itself). */
const FIXTURES: Partial<Record<FeedName, string[]>> = {
  flown: [
    'flown/quoted-commas-newlines.csv',
    'flown/semicolon-bom-crlf.csv',
    'flown/comma-trailer-match.csv',
  ],
  members: ['members/valid.csv', 'members/semicolon-quoted-consent.csv'],
  redemptions: ['redemptions/valid.csv', 'redemptions/semicolon-reordered.csv'],
  'retro-claims': ['retro-claims/valid.csv', 'retro-claims/ticket-only-columns.csv'],
  hotel: ['xml/hotel-stays.xml'],
  'alliance-claims': ['xml/alliance-claims.xml'],
  'alliance-results': ['xml/alliance-results.xml'],
  fx: ['xml/fx-daily.xml', 'xml/fx-history.xml'],
};

/** UTF-8 FTL samples (the CP866 and CP1251 ones are what the wrong-encoding mutations make of them). */
const FTL_SAMPLES = [
  '01-simple.ftl',
  '02-multipart-part1.ftl',
  '02-multipart-part2.ftl',
  '03-variants.ftl',
  '04-cyrillic-utf8.ftl',
  '05-nil-year-end.ftl',
  '10-multiname-pfs.ftl',
];

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out.sort();
}

function feedOfPath(rel: string): FeedName | undefined {
  // Longest folder first: alliance/claims before a hypothetical alliance.
  const entries = (Object.entries(FEED_DIRS) as Array<[FeedName, string]>).sort(
    (a, b) => b[1].length - a[1].length,
  );
  for (const [feed, dir] of entries) if (rel.startsWith(`${dir}/`)) return feed;
  return undefined;
}

/** The rows of every file that shares the first file's header row, under that header. */
function monthOf(files: readonly SeedFile[]): Buffer | undefined {
  const first = files[0];
  if (!first) return undefined;
  const header = first.bytes.toString('utf8').split('\n')[0]!;
  const rows: string[] = [];
  for (const f of files) {
    const [head, ...rest] = f.bytes.toString('utf8').split('\n');
    if (head !== header) continue;
    rows.push(...rest.filter((l) => l.length > 0));
  }
  return Buffer.from(`${[header, ...rows].join('\n')}\n`, 'utf8');
}

/** Hundredths of a decimal amount with at most two decimals (the demo's spend amounts). */
function cents(amount: string): bigint {
  const [whole, frac = ''] = amount.replace(/^-/, '').split('.');
  const value = BigInt(whole || '0') * 100n + BigInt((frac + '00').slice(0, 2));
  return amount.startsWith('-') ? -value : value;
}

/** One partner's D records of every file, under the first file's H, with a T that matches them. */
function partnerMonthOf(files: readonly SeedFile[]): { name: string; bytes: Buffer } | undefined {
  const first = files[0];
  if (!first || files.length < 2) return undefined;
  const header = first.bytes.toString('utf8').split('\n')[0]!;
  const details = files.flatMap((f) =>
    f.bytes
      .toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith('D,')),
  );
  let points = 0n;
  let spend = 0n;
  for (const d of details) {
    const fields = d.split(',');
    if (/^-?\d+$/.test(fields[10] ?? '')) points += BigInt(fields[10]!);
    if (/^-?\d+(\.\d{1,2})?$/.test(fields[8] ?? '')) spend += cents(fields[8]!);
  }
  const sign = spend < 0n ? '-' : '';
  const abs = spend < 0n ? -spend : spend;
  const spendText = `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
  const text = [header, ...details, `T,${details.length},${points},${spendText}`, ''].join('\n');
  return { name: first.name.replace(/^([^_]+)_\d{8}_/, '$1_20261031_'), bytes: Buffer.from(text, 'utf8') };
}

/** Results answering `claims`: every claim answered, accepted or rejected in turn. */
function resultsFile(partner: string, sequence: number, claimIds: string[]): Buffer {
  const results: AllianceResult[] = claimIds.map((claimId, i) =>
    i % 3 === 2
      ? { claimId, status: 'rejected', reasonCode: 'NAME_MISMATCH', reasonText: 'Name does not match' }
      : { claimId, status: 'accepted', pointsCredited: 500 + 250 * i, tierHeld: i % 2 ? 'GOLD' : 'BASE' },
  );
  return Buffer.from(
    writeResultsFile({
      sender: partner,
      receiver: 'XX',
      createdAt: '2026-10-05T21:30:00Z',
      answers: { sender: 'XX', receiver: partner, sequence },
      results,
    }),
    'utf8',
  );
}

/**
 * Generates the demo month into `dir` (a small member base) and collects the seeds. Deterministic: the
 * same `seed` gives the same files.
 */
export async function buildSeeds(dir: string, seed: number): Promise<Seeds> {
  const plan = await generateDemo({ dir, members: 60, month: '2026-10', seed });
  const baseDate = plan.businessDates[0]!;
  const byFeed = Object.fromEntries(FEED_NAMES.map((f) => [f, [] as SeedFile[]])) as Record<
    FeedName,
    SeedFile[]
  >;
  const baseNight: SeedFile[] = [];
  for (const night of plan.nights) {
    const nightDir = join(dir, night.dir);
    for (const path of walk(nightDir)) {
      const rel = path.slice(nightDir.length + 1);
      const feed = feedOfPath(rel);
      if (!feed) continue;
      const file: SeedFile = { feed, name: rel.slice(rel.lastIndexOf('/') + 1), bytes: readFileSync(path) };
      if (night.date === baseDate) baseNight.push(file);
      // FTL lists of flights without a member aboard are a handful of bytes each: a few are enough.
      if (feed === 'ftl' && file.bytes.length < 100 && byFeed.ftl.length % 4 !== 0) continue;
      if (feed === 'alliance-claims' && !file.bytes.includes('<Claim>')) continue;
      byFeed[feed].push(file);
    }
  }
  // A night's redemptions, retro-claims or member changes are a few rows, where any damage hits the header
  // row: the month's rows under one header make a seed where most damage hits a record instead.
  for (const feed of ['redemptions', 'retro-claims', 'members'] as const) {
    const month = monthOf(byFeed[feed]);
    if (month) byFeed[feed].push({ feed, name: `${feed.toUpperCase()}_MONTH.csv`, bytes: month, weight: 10 });
  }
  // The same for each partner: its month of D records between one H and a T that sums them up.
  for (const partner of new Set(byFeed.partner.map((f) => f.name.split('_')[0]!))) {
    const month = partnerMonthOf(byFeed.partner.filter((f) => f.name.startsWith(`${partner}_`)));
    if (month) byFeed.partner.push({ feed: 'partner', name: month.name, bytes: month.bytes, weight: 10 });
  }
  for (const [feed, rels] of Object.entries(FIXTURES) as Array<[FeedName, string[]]>) {
    for (const rel of rels) {
      const path = join(PARSER_FIXTURES, rel);
      byFeed[feed].push({ feed, name: rel.slice(rel.lastIndexOf('/') + 1), bytes: readFileSync(path) });
    }
  }
  for (const name of FTL_SAMPLES) {
    const shared = join(SHARED_FTL, name);
    const path = existsSync(shared) && statSync(shared).isFile() ? shared : join(FTL_FIXTURES, name);
    byFeed.ftl.push({ feed: 'ftl', name, bytes: readFileSync(path) });
  }
  const outboundClaims: Seeds['outboundClaims'] = [];
  let claim = 9_000_001;
  for (const partner of ['LH', 'IB']) {
    for (let sequence = 1; sequence <= 3; sequence++) {
      const claimIds = Array.from({ length: 2 + sequence * 2 }, () => `XX-${claim++}`);
      outboundClaims.push({ partner, sequence, claimIds });
      byFeed['alliance-results'].push({
        feed: 'alliance-results',
        name: `XX_${partner}_${String(sequence).padStart(6, '0')}.results.xml`,
        bytes: resultsFile(partner, sequence, claimIds),
      });
    }
  }
  for (const feed of FEED_NAMES) {
    if (byFeed[feed].length === 0) throw new Error(`no seed file for feed ${feed}`);
  }
  const lastDate = plan.businessDates[plan.businessDates.length - 1]!;
  return { baseNight, baseDate, lastDate, byFeed, outboundClaims };
}
