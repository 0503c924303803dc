/**
 * The order a night reads a feed's files in, and the simulator too. Files come in by the time they were
 * received, and those of one night by the order fetch landed them: their names as text, where a partner's
 * `_10` comes before its `_9`. A partner numbers its files (partner-accrual.md, alliance-accrual.md), and
 * a file read out of its number's order is warned as a gap and then as a late file, and a reversal in it
 * may be read before the credit it reverses. So each sender's files are read in the order it numbered
 * them, by file date and then sequence as a number, in the places its files already hold among the others.
 */
import type { Readable } from 'node:stream';
import { parsePartnerFileName } from '../parsers/partner.js';
import { peekClaimsHeader } from '../parsers/alliance.js';
import type { FeedName } from '../parsers/types.js';
import { addTo } from '../lib/multimap.js';

/** Where a file stands among its sender's files; a date of `''` when only the sequence orders them. */
interface FilePlace {
  sender: string;
  date: string;
  sequence: number;
}

/** The feeds whose files a sender numbers, and so are read in its order. */
function isSequencedFeed(feed: FeedName): feed is 'partner' | 'alliance-claims' {
  return feed === 'partner' || feed === 'alliance-claims';
}

// A claims file's header opens the document: a few kilobytes hold it, whatever the claims after it.
const HEAD_BYTES = 16 * 1024;

/**
 * A file's place among its sender's: a partner file's by its name (`<PARTNER>_<YYYYMMDD>_<SEQ>.csv`, as the
 * night answers it), a claims file's by its header (its name is the partner's own choice). Null for a
 * file that gives none: it keeps its place, and its reading says what is wrong with it.
 */
async function placeOfFile(
  feed: FeedName,
  name: string,
  open: () => Readable | null,
): Promise<FilePlace | null> {
  if (feed === 'partner') {
    const n = parsePartnerFileName(name);
    return n ? { sender: n.partnerCode, date: n.date, sequence: n.sequence } : null;
  }
  if (feed === 'alliance-claims') {
    const stream = open();
    const head = stream ? await headOf(stream).catch(() => null) : null;
    const header = head === null ? null : peekClaimsHeader(head);
    return header ? { ...header, date: '' } : null;
  }
  return null;
}

async function headOf(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      parts.push(b);
      size += b.length;
      if (size >= HEAD_BYTES) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, HEAD_BYTES).toString('utf8');
}

/**
 * `files` with each sender's files in its order, in the places they held; a file without a place, and
 * the files of two senders relative to each other, stay where they were.
 */
function inSequenceOrder<T>(files: readonly T[], places: ReadonlyArray<FilePlace | null>): T[] {
  const bySender = new Map<string, number[]>();
  places.forEach((p, i) => {
    if (p) addTo(bySender, p.sender, i);
  });
  const out = [...files];
  for (const slots of bySender.values()) {
    const sorted = [...slots].sort((a, b) => {
      const pa = places[a]!;
      const pb = places[b]!;
      return pa.date < pb.date ? -1 : pa.date > pb.date ? 1 : pa.sequence - pb.sequence;
    });
    slots.forEach((slot, k) => (out[slot] = files[sorted[k]!]!));
  }
  return out;
}

/** `files` of `feed` in the order the night reads them (`inSequenceOrder`). */
export async function inReadingOrder<T>(
  feed: FeedName,
  files: readonly T[],
  fileOf: (file: T) => { name: string; open: () => Readable | null },
): Promise<T[]> {
  if (!isSequencedFeed(feed) || files.length < 2) return [...files];
  const places: Array<FilePlace | null> = [];
  for (const f of files) {
    const { name, open } = fileOf(f);
    places.push(await placeOfFile(feed, name, open));
  }
  return inSequenceOrder(files, places);
}
