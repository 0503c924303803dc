/**
 * The fuzz corpus: for every feed, as many mutated files as asked for, each derived from one valid seed
 * file by one to four mutations (mutators.ts), deterministic from the corpus seed. File `index` of feed
 * `feed` is drawn from its own generator (`<seed>:<feed>:<index>`), so any one file can be rebuilt from
 * its name alone: `corpusFile(seeds, feed, index, options)`.
 *
 * Before the mutations, the seed is made this file's own, so a mutated file that still reads is new to the
 * world rather than a duplicate of the file it came from: partner files get the next file sequence of
 * their partner (in the name and the H record alike), and the ids duplicates are recognised by (partner
 * transaction, redemption, retro-claim, hotel reservation, alliance claim) get a suffix.
 */
import { parsePartnerFileName } from '../../parsers/partner.js';
import type { FeedName } from '../../parsers/types.js';
import { MUTATORS, WEIGHTS, type MutatorName } from './mutators.js';
import { Prng } from './prng.js';
import type { SeedFile } from './seeds.js';

export interface CorpusOptions {
  seed: number;
  /** Share of files that get a line of megabytes. */
  hugeRate: number;
  /** Share of files replaced by an empty (or blank, or BOM-only) file. */
  emptyRate: number;
  hugeBytes: readonly [number, number];
}

export const DEFAULT_CORPUS: CorpusOptions = {
  seed: 20261001,
  hugeRate: 0.01,
  emptyRate: 0.01,
  hugeBytes: [1 << 20, 3 << 20],
};

export interface CorpusFile {
  feed: FeedName;
  index: number;
  name: string;
  bytes: Buffer;
  /** The seed file it was derived from. */
  from: string;
  mutations: MutatorName[];
}

/** First partner file sequence of the corpus: above anything the demo writes, 9 digits at most. */
const PARTNER_SEQUENCE_BASE = 1_000_000;

function stem(name: string): string {
  return name
    .replace(/\.[A-Za-z]+$/, '')
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .slice(0, 40);
}

function extension(feed: FeedName): string {
  if (feed === 'ftl') return 'ftl';
  return ['hotel', 'alliance-claims', 'alliance-results', 'fx'].includes(feed) ? 'xml' : 'csv';
}

/** Appends `tag` to the first field of every row after the header, when that field is `idColumn`. */
function tagFirstColumn(text: string, idColumn: string, tag: string): string {
  const lines = text.split(/(\r\n|\n|\r)/);
  const header = (lines[0] ?? '').replace(/^\uFEFF/, '');
  if (!new RegExp(`^${idColumn}[,;]`, 'i').test(header)) return text;
  for (let i = 2; i < lines.length; i += 2) {
    const line = lines[i]!;
    if (line.length === 0 || line.startsWith('"')) continue;
    lines[i] = line.replace(/^([^,;]+)/, `$1${tag}`);
  }
  return lines.join('');
}

/** The seed made this file's own (see the module comment), and the name the file arrives under. */
function prepare(seed: SeedFile, index: number): { name: string; bytes: Buffer } {
  const tag = `Z${index.toString(36).toUpperCase()}`;
  const pad = String(index).padStart(7, '0');
  const plain = { name: `FZ${pad}_${stem(seed.name)}.${extension(seed.feed)}`, bytes: seed.bytes };
  const text = seed.bytes.toString('utf8');
  switch (seed.feed) {
    case 'partner': {
      const parsed = parsePartnerFileName(seed.name);
      if (!parsed) return plain;
      const sequence = PARTNER_SEQUENCE_BASE + index;
      // One date for every name, so the registry takes a partner's files in sequence order (by name).
      const date = '20261001';
      const body = text
        .replace(/^(\uFEFF?H[,;][^,;\r\n]*[,;])\d+/, `$1${sequence}`)
        // A reversal's id is the reversed record's id and `-R`: the tag goes before the suffix.
        .replace(
          /^D([,;])([^,;\r\n]+?)(-R)?(?=[,;])/gm,
          (_m, sep: string, id: string, r?: string) => `D${sep}${id}${tag}${r ?? ''}`,
        );
      return { name: `${parsed.partnerCode}_${date}_${sequence}.csv`, bytes: Buffer.from(body, 'utf8') };
    }
    case 'redemptions':
      return { ...plain, bytes: Buffer.from(tagFirstColumn(text, 'redemption_id', tag), 'utf8') };
    case 'retro-claims':
      return { ...plain, bytes: Buffer.from(tagFirstColumn(text, 'claim_id', tag), 'utf8') };
    case 'hotel':
      return {
        ...plain,
        bytes: Buffer.from(
          text.replace(/(<(?:\w+:)?ReservationID\b[^>]*?\bID=")([^"]*)/g, `$1$2${tag}`),
          'utf8',
        ),
      };
    case 'alliance-claims':
      return {
        ...plain,
        bytes: Buffer.from(text.replace(/(<(?:\w+:)?ClaimId>)([^<]*)/g, `$1$2${tag}`), 'utf8'),
      };
    default:
      return plain;
  }
}

/** File `index` of the feed's corpus. */
export function corpusFile(
  seeds: readonly SeedFile[],
  feed: FeedName,
  index: number,
  options: CorpusOptions = DEFAULT_CORPUS,
): CorpusFile {
  const rng = new Prng(`${options.seed}:${feed}:${index}`);
  const seed = rng.weighted(seeds.map((s) => [s, s.weight ?? 1] as const));
  const { name, bytes } = prepare(seed, index);
  const mutations: MutatorName[] = [];
  if (rng.chance(options.emptyRate)) {
    mutations.push('empty');
  } else {
    const n = rng.weighted([
      [1, 55],
      [2, 25],
      [3, 12],
      [4, 8],
    ] as const);
    for (let k = 0; k < n; k++) mutations.push(rng.weighted(WEIGHTS));
    if (rng.chance(options.hugeRate)) mutations.splice(rng.int(mutations.length + 1), 0, 'hugeLine');
  }
  const others = seeds.filter((s) => s !== seed).map((s) => s.bytes);
  let out = bytes;
  for (const m of mutations) out = MUTATORS[m](out, rng, { others, hugeBytes: options.hugeBytes });
  return { feed, index, name, bytes: out, from: seed.name, mutations };
}

/** Files `from` to `to - 1` of the feed's corpus. */
export function* corpusRange(
  seeds: readonly SeedFile[],
  feed: FeedName,
  from: number,
  to: number,
  options: CorpusOptions = DEFAULT_CORPUS,
): Generator<CorpusFile> {
  for (let index = from; index < to; index++) yield corpusFile(seeds, feed, index, options);
}
