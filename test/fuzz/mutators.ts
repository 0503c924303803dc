/**
 * Byte-level mutations of a valid file. Each takes the bytes and the file's generator and returns new
 * bytes; none looks at the feed's grammar beyond line ends and a few separators, so every feed gets the
 * same kinds of damage: cut short anywhere, bits flipped, lines swapped, repeated or lost, re-encoded,
 * blown up by a line of megabytes, emptied, sprinkled with NUL bytes and invalid UTF-8, line ends mixed.
 */
import iconv from 'iconv-lite';
import type { Prng } from './prng.js';

export interface MutationContext {
  /** Other seeds of the same feed, for splicing. */
  others: readonly Buffer[];
  /** Size of a huge line, in bytes: [least, most]. */
  hugeBytes: readonly [number, number];
}

export type Mutator = (input: Buffer, rng: Prng, ctx: MutationContext) => Buffer;

const LF = 0x0a;
const CR = 0x0d;

/** The lines of `buf`, each with its line end (so concatenating them gives `buf` back). */
export function splitKeepingEnds(buf: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b === LF || b === CR) {
      if (b === CR && buf[i + 1] === LF) i++;
      lines.push(buf.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < buf.length) lines.push(buf.subarray(start));
  return lines;
}

function stripEnd(line: Buffer): { body: Buffer; end: Buffer } {
  let k = line.length;
  while (k > 0 && (line[k - 1] === LF || line[k - 1] === CR)) k--;
  return { body: line.subarray(0, k), end: line.subarray(k) };
}

function insertAt(buf: Buffer, at: number, piece: Buffer): Buffer {
  return Buffer.concat([buf.subarray(0, at), piece, buf.subarray(at)]);
}

/** Cut short at any byte, in the middle of a line end or a multi-byte character included. */
export const truncate: Mutator = (buf, rng) => {
  if (buf.length === 0) return buf;
  if (rng.chance(0.1)) return buf.subarray(rng.int(buf.length)); // the head lost instead
  return buf.subarray(0, rng.int(buf.length));
};

export const bitFlips: Mutator = (buf, rng) => {
  if (buf.length === 0) return buf;
  const out = Buffer.from(buf);
  // Mostly a bit or two, as a bad disk or line leaves them; sometimes one in a few hundred bytes.
  const n = rng.weighted([
    [1, 6],
    [rng.range(2, 4), 3],
    [Math.max(1, Math.round(out.length / rng.range(200, 2000))), 1],
  ] as const);
  for (let i = 0; i < n; i++) {
    const at = rng.int(out.length);
    out[at] = (out[at] as number) ^ (1 << rng.int(8));
  }
  return out;
};

const INTERESTING_BYTES = [
  0x00, 0xff, 0x0a, 0x0d, 0x22, 0x2c, 0x3b, 0x3c, 0x3e, 0x26, 0x80, 0xc3, 0x20, 0x09, 0x2f,
];

export const byteSet: Mutator = (buf, rng) => {
  if (buf.length === 0) return buf;
  const out = Buffer.from(buf);
  const n = rng.range(1, 6);
  for (let i = 0; i < n; i++) out[rng.int(out.length)] = rng.pick(INTERESTING_BYTES);
  return out;
};

export const swapLines: Mutator = (buf, rng) => {
  const lines = splitKeepingEnds(buf);
  if (lines.length < 2) return buf;
  const i = rng.int(lines.length);
  let j = rng.int(lines.length - 1);
  if (j >= i) j++;
  [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  return Buffer.concat(lines);
};

export const duplicateLines: Mutator = (buf, rng) => {
  const lines = splitKeepingEnds(buf);
  if (lines.length === 0) return buf;
  const i = rng.int(lines.length);
  const block = Math.min(lines.length - i, rng.chance(0.7) ? 1 : rng.range(2, 8));
  const copies = rng.weighted([
    [1, 6],
    [rng.range(2, 5), 3],
    [rng.range(20, 200), 1],
  ] as const);
  const piece = lines.slice(i, i + block);
  // A last line without its end would otherwise run into its copy.
  const last = piece[piece.length - 1]!;
  if (stripEnd(last).end.length === 0) piece[piece.length - 1] = Buffer.concat([last, Buffer.from('\n')]);
  const repeated: Buffer[] = [];
  for (let k = 0; k <= copies; k++) repeated.push(...piece);
  return Buffer.concat([...lines.slice(0, i), ...repeated, ...lines.slice(i + block)]);
};

export const deleteLines: Mutator = (buf, rng) => {
  const lines = splitKeepingEnds(buf);
  if (lines.length === 0) return buf;
  const i = rng.int(lines.length);
  const n = Math.min(lines.length - i, rng.chance(0.7) ? 1 : rng.range(2, 10));
  return Buffer.concat([...lines.slice(0, i), ...lines.slice(i + n)]);
};

const ENCODINGS = [
  'cp866',
  'windows-1251',
  'latin1',
  'koi8-r',
  'utf-16le',
  'utf-16be',
  'utf-16le+bom',
  'utf-16be+bom',
  'mojibake:windows-1251',
  'mojibake:cp866',
  'mojibake:latin1',
] as const;

/**
 * The text re-encoded: UTF-8 written as CP866, Windows-1251, Latin-1, KOI8-R or UTF-16 (with or without a
 * byte-order mark), or the other way round, a single-byte file read as such and written out as UTF-8
 * (valid UTF-8, wrong letters).
 */
export const reencode: Mutator = (buf, rng) => {
  const target = rng.pick(ENCODINGS);
  if (target.startsWith('mojibake:')) {
    return Buffer.from(iconv.decode(buf, target.slice('mojibake:'.length)), 'utf8');
  }
  const text = buf.toString('utf8');
  if (target.endsWith('+bom')) {
    return iconv.encode(text, target.slice(0, -4), { addBOM: true });
  }
  return iconv.encode(text, target);
};

/** A line (or the rest of a line) of megabytes: one character repeated, a row repeated, an open quote. */
export const hugeLine: Mutator = (buf, rng, ctx) => {
  const size = rng.range(ctx.hugeBytes[0], ctx.hugeBytes[1]);
  const lines = splitKeepingEnds(buf);
  const sample = lines.length > 0 ? stripEnd(rng.pick(lines)).body : Buffer.from('x');
  const unit = rng.weighted([
    [Buffer.from('A'), 3],
    [Buffer.from('9'), 1],
    [sample.length > 0 ? sample : Buffer.from('x'), 3],
    [Buffer.from('"a,'), 1],
    [Buffer.from('<a>'), 1],
    [Buffer.from('Ж'), 1],
  ] as const);
  const huge = Buffer.alloc(size, unit);
  if (rng.chance(0.5) || lines.length === 0) {
    // A line of its own, between two lines.
    const at = rng.int(lines.length + 1);
    return Buffer.concat([...lines.slice(0, at), huge, Buffer.from('\n'), ...lines.slice(at)]);
  }
  // Inside an existing line.
  const i = rng.int(lines.length);
  const { body, end } = stripEnd(lines[i]!);
  const cut = rng.int(body.length + 1);
  lines[i] = Buffer.concat([body.subarray(0, cut), huge, body.subarray(cut), end]);
  return Buffer.concat(lines);
};

/** Nothing, or next to nothing. */
export const empty: Mutator = (_buf, rng) =>
  rng.weighted([
    [Buffer.alloc(0), 4],
    [Buffer.from('\n'), 1],
    [Buffer.from('\r\n\r\n   \r\n'), 1],
    [Buffer.from('\t \n \n'), 1],
    [Buffer.from([0xef, 0xbb, 0xbf]), 1],
    [Buffer.from([0xef, 0xbb, 0xbf, 0x0a]), 1],
    [Buffer.from([0xff, 0xfe]), 1],
    [Buffer.from([0x00]), 1],
  ] as const);

export const nulBytes: Mutator = (buf, rng) => {
  let out = buf;
  const n = rng.range(1, 4);
  for (let k = 0; k < n; k++) {
    const run = rng.chance(0.8) ? 1 : rng.range(2, 64);
    out = insertAt(out, rng.int(out.length + 1), Buffer.alloc(run, 0));
  }
  if (rng.chance(0.2) && out.length > 0) {
    // A whole line of NULs, as a disk full of zeros leaves it.
    const lines = splitKeepingEnds(out);
    const i = rng.int(lines.length);
    const { body, end } = stripEnd(lines[i]!);
    lines[i] = Buffer.concat([Buffer.alloc(body.length, 0), end]);
    out = Buffer.concat(lines);
  }
  return out;
};

const INVALID_UTF8 = [
  [0xc3], // a lead byte alone
  [0xff],
  [0xfe],
  [0x80], // a continuation byte alone
  [0xbf, 0xbf],
  [0xc0, 0xaf], // overlong '/'
  [0xe0, 0x80, 0x80], // overlong NUL
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xf0, 0x9f, 0x98], // a 4-byte sequence cut short
  [0xe2, 0x82], // a 3-byte sequence cut short
];

export const invalidUtf8: Mutator = (buf, rng) => {
  let out = buf;
  const n = rng.range(1, 4);
  for (let k = 0; k < n; k++)
    out = insertAt(out, rng.int(out.length + 1), Buffer.from(rng.pick(INVALID_UTF8)));
  return out;
};

/** Line ends mixed: all CR LF, all bare CR, a random end per line, LF CR pairs, stray CRs. */
export const lineEnds: Mutator = (buf, rng) => {
  const lines = splitKeepingEnds(buf);
  const scheme = rng.pick(['crlf', 'cr', 'lf', 'mixed', 'lfcr', 'stray'] as const);
  const ends = { crlf: '\r\n', cr: '\r', lf: '\n', lfcr: '\n\r' } as const;
  if (scheme === 'stray') {
    let out = buf;
    const n = rng.range(1, 5);
    for (let k = 0; k < n; k++) out = insertAt(out, rng.int(out.length + 1), Buffer.from('\r'));
    return out;
  }
  return Buffer.concat(
    lines.map((line) => {
      const { body, end } = stripEnd(line);
      if (end.length === 0) return body;
      const pick = scheme === 'mixed' ? rng.pick(['crlf', 'cr', 'lf', 'lfcr', 'lf'] as const) : scheme;
      return Buffer.concat([body, Buffer.from(ends[pick])]);
    }),
  );
};

const TOKENS = [
  '"',
  '""',
  ',',
  ';',
  '<',
  '>',
  '&',
  '&amp',
  '&#0;',
  '&#x1F600;',
  '&lt;',
  '&undefined;',
  ']]>',
  '<!--',
  '<![CDATA[',
  '</',
  '/>',
  'xmlns:x="urn:x"',
  '-',
  '-1',
  '0',
  '00000000000000000000000',
  '99999999999999999999999999',
  '1e308',
  'NaN',
  'Infinity',
  '0.000000001',
  '-0',
  '9999-12-31',
  '0000-00-00',
  '2026-02-30',
  '2026-10-05T25:61:61Z',
  ' ',
  '\t',
  '\uFEFF',
  '\u202E',
  '\u00A0',
  'Ё',
  '😀',
  '=HYPERLINK("http://x.example")',
  '+1',
  '@SUM(A1)',
  "'; DROP TABLE members; --",
  '%s%n',
  '${x}',
  'NIL',
  'ENDFTL',
  'ENDPART1',
  'PART2',
  '.R/FQTV XX ',
  '-SVO01K',
  '1',
  'H,',
  'T,',
  'D,',
] as const;

/** A separator, quote, markup, number, date or keyword slipped in, or put in place of a field. */
export const insertToken: Mutator = (buf, rng) => {
  const token = Buffer.from(rng.pick(TOKENS), 'utf8');
  if (buf.length === 0) return token;
  if (rng.chance(0.5)) return insertAt(buf, rng.int(buf.length + 1), token);
  // Replace a span between two separators (a CSV field, an attribute value, an element's text).
  const at = rng.int(buf.length);
  const isSep = (b: number | undefined) =>
    b === undefined ||
    b === 0x2c ||
    b === 0x3b ||
    b === 0x3c ||
    b === 0x3e ||
    b === 0x22 ||
    b === 0x27 ||
    b === LF ||
    b === CR ||
    b === 0x20 ||
    b === 0x2f;
  let s = at;
  while (s > 0 && !isSep(buf[s - 1])) s--;
  let e = at;
  while (e < buf.length && !isSep(buf[e])) e++;
  return Buffer.concat([buf.subarray(0, s), token, buf.subarray(e)]);
};

/** The head of this file and the tail of another of the same feed. */
export const splice: Mutator = (buf, rng, ctx) => {
  if (ctx.others.length === 0) return buf;
  const other = rng.pick(ctx.others);
  return Buffer.concat([buf.subarray(0, rng.int(buf.length + 1)), other.subarray(rng.int(other.length + 1))]);
};

/** A byte-order mark where it should not be: UTF-8's or UTF-16's at the start, UTF-8's inside. */
export const byteOrderMark: Mutator = (buf, rng) => {
  const bom = rng.pick([
    Buffer.from([0xef, 0xbb, 0xbf]),
    Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]),
    Buffer.from([0xff, 0xfe]),
    Buffer.from([0xfe, 0xff]),
  ]);
  return rng.chance(0.7) ? Buffer.concat([bom, buf]) : insertAt(buf, rng.int(buf.length + 1), bom);
};

export const MUTATORS = {
  truncate,
  bitFlips,
  byteSet,
  swapLines,
  duplicateLines,
  deleteLines,
  reencode,
  nulBytes,
  invalidUtf8,
  lineEnds,
  insertToken,
  splice,
  byteOrderMark,
  empty,
  hugeLine,
} as const;

export type MutatorName = keyof typeof MUTATORS;

/** How often each mutation is drawn (the huge line and the empty file are decided apart, see corpus.ts). */
export const WEIGHTS: ReadonlyArray<readonly [MutatorName, number]> = [
  ['truncate', 10],
  ['bitFlips', 10],
  ['byteSet', 8],
  ['swapLines', 8],
  ['duplicateLines', 8],
  ['deleteLines', 8],
  ['reencode', 8],
  ['nulBytes', 6],
  ['invalidUtf8', 6],
  ['lineEnds', 6],
  ['insertToken', 14],
  ['splice', 4],
  ['byteOrderMark', 3],
];
