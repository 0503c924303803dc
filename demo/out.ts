/**
 * Where the generated files go: `nights/<business date>/<feed folder>/<file>`, the feed folders being
 * the demo configuration's `feeds.<feed>.remoteDir`, so a night runner copies one night's folder into
 * the inbox transport's root as it is. Every file written is recorded with what the project's parser
 * should make of it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IsoDate } from '../lib/dates.js';
import type { FeedName, Verdict } from '../parsers/types.js';

/** The inbox folder of each feed, as in examples/redeye.config.yaml. */
export const FEED_DIRS: Readonly<Record<FeedName, string>> = {
  ftl: 'ftl',
  flown: 'flown',
  partner: 'partner',
  hotel: 'hotel',
  'alliance-claims': 'alliance/claims',
  'alliance-results': 'alliance/results',
  redemptions: 'redemptions',
  members: 'members',
  fx: 'fx',
  'retro-claims': 'retro-claims',
};

export interface PlannedFile {
  night: IsoDate;
  feed: FeedName;
  /** Relative to the demo folder, `/`-separated. */
  path: string;
  name: string;
  bytes: number;
  /** Records the file carries (passengers, coupons, D records, stays, claims, rows, rates). */
  records: number;
  /** Character encoding, when not UTF-8. */
  encoding?: string;
  /**
   * What the feed's parser makes of the file on its own night: `held` is an FTL file waiting for a part
   * that comes later. `reason` is the file-level reason of a deliberately broken file.
   */
  expect: { verdict: Verdict; reason?: string };
  /** Parse-level record rejects the file was written to produce, by reason. */
  rejects?: Record<string, number>;
  /** Why the file is special, for the plan and the demo's story. */
  note?: string;
}

export class NightWriter {
  readonly files: PlannedFile[] = [];
  private readonly made = new Set<string>();

  constructor(readonly root: string) {}

  write(
    night: IsoDate,
    feed: FeedName,
    name: string,
    content: string | Buffer,
    info: Omit<PlannedFile, 'night' | 'feed' | 'path' | 'name' | 'bytes' | 'expect'> & {
      expect?: PlannedFile['expect'];
    },
  ): PlannedFile {
    const rel = `nights/${night}/${FEED_DIRS[feed]}`;
    const folder = join(this.root, ...rel.split('/'));
    if (!this.made.has(folder)) {
      mkdirSync(folder, { recursive: true });
      this.made.add(folder);
    }
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    writeFileSync(join(folder, name), bytes);
    const file: PlannedFile = {
      night,
      feed,
      path: `${rel}/${name}`,
      name,
      bytes: bytes.length,
      records: info.records,
      expect: info.expect ?? { verdict: 'accepted' },
    };
    if (info.encoding) file.encoding = info.encoding;
    if (info.rejects) file.rejects = info.rejects;
    if (info.note) file.note = info.note;
    this.files.push(file);
    return file;
  }
}
