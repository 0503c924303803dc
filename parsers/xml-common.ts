/**
 * Safe reading of untrusted XML for every XML feed (hotel OTA, alliance claims and results, ECB rates).
 *
 * Partner documents are hostile until proven otherwise, so a document goes through these gates in order,
 * and the first one that fails refuses the whole file with a verdict (never a throw):
 *
 * 1. size: `ParseInput.size` is checked before the stream is even opened, and bytes are counted while
 *    reading, so a lying size or an endless stream stops at `maxBytes + one chunk`;
 * 2. encoding: strict UTF-8 (or the feed's configured encoding), agreeing with the XML declaration;
 * 3. no `<!DOCTYPE` anywhere (hence no entity declarations, no external entities, no billion laughs);
 * 4. only XML characters, only the five predefined entities and numeric character references, no `<` in
 *    attribute values, bounded nesting, a bounded number of elements and attributes (`XmlLimits`) —
 *    checked by our own scanner, because fast-xml-parser's validator accepts `&undeclared;` and `<` inside
 *    attribute values, and because the tree costs memory per node, not per byte (see `XmlLimits`);
 * 5. fast-xml-parser's validator for the rest of well-formedness, then its parser with entity processing
 *    switched off (`processEntities: false`): we decode the five entities and character references ourselves,
 *    so no library default (HTML entity tables, DOCTYPE entities, limits tuned for someone else) ever
 *    applies, and nothing is expanded twice;
 * 6. namespace resolution (prefixes vary between senders; only the namespace URI counts).
 *
 * Line endings are normalised first (CRLF and lone CR become LF, as XML 1.0 §2.11 prescribes), so every
 * line number here is a physical line of the file whichever convention the sender used — OpenTravel's own
 * sample instances use bare CR.
 *
 * Line accounting rule for XML feeds (the `account` of each verdict): the physical lines of the document
 * are counted; whitespace-only lines are blank; a non-blank line overlapped by a rejected record element is
 * a reject line, else one overlapped by an accepted record element is a record line, else it is structure.
 * A line shared by several records (minified XML) is attributed to the first of them, so the per-event
 * `lines` can be 0 and the sums still tie out. A file refused before its records could be read (encoding,
 * DTD, well-formedness, wrong document) yields one reject with field `*` and the verdict's reason, at the
 * line of the fault, carrying all its non-blank lines — as the CSV reader does for an unreadable
 * remainder — so reject lines always equal the sum of the rejects' `lines`. A file refused for size was
 * not read: no reject, all counts zero.
 *
 * File-level reason codes produced here:
 *
 * | code              | when                                                                         |
 * |-------------------|------------------------------------------------------------------------------|
 * | TOO_LARGE         | declared size or bytes read exceed `maxBytes` (default 32 MiB)               |
 * | EMPTY_FILE        | no bytes, or only whitespace                                                 |
 * | BAD_ENCODING      | invalid UTF-8, UTF-16 byte-order mark, declared encoding differs, unknown enc. |
 * | DOCTYPE_FORBIDDEN | the text contains `<!DOCTYPE` or `<!ENTITY` (anywhere, even in a comment)    |
 * | NOT_WELL_FORMED   | any well-formedness or namespace error, with line and column                 |
 * | TOO_DEEP          | elements nested deeper than 64                                               |
 * | TOO_MANY_ELEMENTS | more than 1,000,000 elements and CDATA sections in the document              |
 * | TOO_MANY_ATTRIBUTES | more than 256 attributes on one element, or 1,000,000 in the document      |
 * | WRONG_DOCUMENT    | the root element is not the one the feed reads (name or namespace URI)       |
 */
import { isUtf8 } from 'node:buffer';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import iconv from 'iconv-lite';
import { RedeyeError } from '../lib/errors.js';
import {
  clipText,
  MAX_REJECT_TEXT,
  checkEncoding,
  utf8BomLength,
  type FeedName,
  type LineAccount,
  type ParseEvent,
  type ParseInput,
  type ParseOptions,
  type RecordEvent,
  type RejectEvent,
  type VerdictEvent,
} from './types.js';

/** Default limit: large enough for a 90-day ECB history or a busy hotel's night, small enough for memory. */
export const DEFAULT_XML_MAX_BYTES = 32 * 1024 * 1024;
/** None of our documents nests deeper than about 15; anything far deeper is an attack or garbage. */
export const MAX_XML_DEPTH = 64;

/**
 * Documents are parsed whole, and the tree costs memory per node rather than per byte: an element costs
 * a few hundred bytes in fast-xml-parser's output and in our `XmlElement`s, an attribute about a hundred,
 * a CDATA section as much as an element. Within the 50 MiB `maxBytes` default a sender could pack 12.5
 * million `<x/>` (measured: past 4.5 GB, a V8 heap out-of-memory, exit 134, on every rerun) or 2.6 million
 * attributes on one element (2.7 GB and 40 s). So the pre-scan counts nodes and refuses a document over
 * these limits before any tree is built. They are set from the largest legitimate documents:
 *
 * - ECB: the full history since 1999 (eurofxref-hist.xml) is ~6,800 days × ~30 currencies ≈ 210,000
 *   Cube elements and ≈ 415,000 attributes in 7.5 MB (the 90-day file is 1/75 of that);
 * - hotel OTA: one message per hotel and night (demo/partners.ts); a stay in that layout is ~45 elements
 *   and ~35 attributes in ~2.9 KB, so even a 3,000-checkout night is ~135,000 elements. A whole 50 MiB
 *   batch indented that way (~18,000 stays) is 0.82 million elements and 0.62 million attributes, and
 *   is accepted (~1.0 GB peak); the same minified (~28,000 stays, 1.25 million elements) is refused;
 * - alliance claims: 17 elements in ~600 bytes per claim as exporters/alliance-xml.ts writes them, so
 *   1,000,000 elements are ~58,000 claims in one file (~35 MB, under `maxBytes`): a partner airline's
 *   daily claims for our members on its flights are a few thousand, so the limit is ~20× that. A
 *   larger file is refused whole (TOO_MANY_ELEMENTS) and the partner is asked to split it.
 *
 * 1,000,000 elements and 1,000,000 attributes are therefore 5× the full ECB history, 7× a very busy
 * hotel night and ~20× a busy partner's daily claims, and keep the worst document they admit near the
 * largest legitimate one. No element of
 * OpenTravel, ECB or our own schema carries more than about 20 attributes, hence 256 per element, which
 * also keeps fast-xml-parser's per-element attribute handling fast. (What remains proportional to bytes:
 * fast-xml-parser concatenates character data one character at a time, ~32 bytes of heap per character
 * until the text is flattened, so 50 MiB of text peaks near 1.9 GB: `maxBytes` is what bounds that.)
 */
export interface XmlLimits {
  /** Deepest nesting of elements (TOO_DEEP). */
  maxDepth: number;
  /** Elements plus CDATA sections in the document (TOO_MANY_ELEMENTS). */
  maxElements: number;
  /** Attributes (namespace declarations included) on one element (TOO_MANY_ATTRIBUTES). */
  maxAttributesPerElement: number;
  /** Attributes in the whole document (TOO_MANY_ATTRIBUTES). */
  maxAttributes: number;
}

const MAX_XML_ELEMENTS = 1_000_000;
const MAX_XML_ATTRIBUTES_PER_ELEMENT = 256;
const MAX_XML_ATTRIBUTES = 1_000_000;

export const DEFAULT_XML_LIMITS: Readonly<XmlLimits> = {
  maxDepth: MAX_XML_DEPTH,
  maxElements: MAX_XML_ELEMENTS,
  maxAttributesPerElement: MAX_XML_ATTRIBUTES_PER_ELEMENT,
  maxAttributes: MAX_XML_ATTRIBUTES,
};

/** Options of the XML feeds: the common ones, and the node limits (lowered by tests, never raised by config). */
export interface XmlParseOptions extends ParseOptions {
  xmlLimits?: Partial<XmlLimits>;
}

export interface XmlRefusal {
  reason: string;
  message: string;
  line?: number;
  column?: number;
  /** Bytes read before refusing (TOO_LARGE). */
  bytesRead?: number;
}

// ---------------------------------------------------------------------------------------------------------
// Reading bytes with a ceiling

export type ReadOutcome = { ok: true; bytes: Buffer } | { ok: false; refusal: XmlRefusal };

/**
 * Reads a whole input, but never more than `maxBytes + one chunk`: a declared size over the limit refuses
 * without opening the stream at all.
 */
export async function readBounded(input: ParseInput, maxBytes: number): Promise<ReadOutcome> {
  if (input.size !== undefined && input.size > maxBytes) {
    return {
      ok: false,
      refusal: {
        reason: 'TOO_LARGE',
        message: `document is ${input.size} bytes, over the limit of ${maxBytes}; not read`,
        bytesRead: 0,
      },
    };
  }
  const stream = input.open();
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<unknown>) {
      const buf = toBuffer(chunk, input.name);
      total += buf.length;
      if (total > maxBytes) {
        // Leaving the loop destroys the stream, so nothing more is pulled from the source.
        return {
          ok: false,
          refusal: {
            reason: 'TOO_LARGE',
            message: `document exceeds the limit of ${maxBytes} bytes (stopped reading after ${total})`,
            bytesRead: total,
          },
        };
      }
      chunks.push(buf);
    }
  } catch (error) {
    if (error instanceof RedeyeError) throw error;
    throw new RedeyeError(
      'INPUT_READ_FAILED',
      `cannot read ${input.name}: ${error instanceof Error ? error.message : String(error)}`,
      { file: input.name },
      { cause: error },
    );
  }
  return { ok: true, bytes: Buffer.concat(chunks, total) };
}

function toBuffer(chunk: unknown, file: string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new RedeyeError('INPUT_READ_FAILED', `stream of ${file} yielded something other than bytes`, {
    file,
  });
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

export type DecodeOutcome = { ok: true; text: string } | { ok: false; refusal: XmlRefusal };

/** Offset of the first byte that does not start a valid UTF-8 sequence (overlongs and surrogates included), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b === 0xe0) [need, lo] = [2, 0xa0];
    else if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) need = 2;
    else if (b === 0xed) [need, hi] = [2, 0x9f];
    else if (b === 0xf0) [need, lo] = [3, 0x90];
    else if (b >= 0xf1 && b <= 0xf3) need = 3;
    else if (b === 0xf4) [need, hi] = [3, 0x8f];
    else return i;
    if (i + need >= n) return i;
    const second = bytes[i + 1]!;
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k]!;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** 1-based physical line of a byte offset (CR, LF and CRLF each end a line). */
function lineOfByte(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) {
    const b = bytes[i];
    if (b === 0x0a) line++;
    else if (b === 0x0d && bytes[i + 1] !== 0x0a) line++;
  }
  return line;
}

function sameEncoding(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');
  return norm(a) === norm(b);
}

const XML_DECLARATION = /^<\?xml[ \t\r\n]((?:[^?]|\?(?!>))*)\?>/;
const DECLARED_ENCODING = /encoding[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')/;

/**
 * Turns bytes into text: strict UTF-8 by default (a stray byte is a reason to refuse, never to guess);
 * another encoding only when the feed is configured for it, and then the document must not claim otherwise.
 */
export function decodeXml(bytes: Buffer, encoding = 'utf-8'): DecodeOutcome {
  const refuse = (message: string, line?: number): DecodeOutcome => ({
    ok: false,
    refusal: { reason: 'BAD_ENCODING', message, ...(line !== undefined ? { line } : {}) },
  });
  if (
    bytes.length >= 2 &&
    ((bytes[0] === 0xfe && bytes[1] === 0xff) || (bytes[0] === 0xff && bytes[1] === 0xfe))
  ) {
    return refuse('UTF-16 byte-order mark: only UTF-8 documents are accepted');
  }
  const utf8 = sameEncoding(encoding, 'utf-8') || sameEncoding(encoding, 'utf8');
  let text: string;
  if (utf8) {
    const bom = utf8BomLength(bytes);
    const body = bytes.subarray(bom);
    if (!isUtf8(body)) {
      const offset = firstInvalidUtf8(body) + bom;
      return refuse(
        `invalid UTF-8 at byte ${offset} (0x${bytes[offset]?.toString(16).padStart(2, '0') ?? '??'}), line ${lineOfByte(bytes, offset)}`,
        lineOfByte(bytes, offset),
      );
    }
    text = body.toString('utf8');
  } else {
    checkEncoding(encoding);
    text = iconv.decode(bytes, encoding);
  }
  const declaration = XML_DECLARATION.exec(text);
  const declared = declaration ? DECLARED_ENCODING.exec(declaration[1]!) : null;
  const name = declared ? (declared[1] ?? declared[2] ?? '') : undefined;
  if (name !== undefined && !sameEncoding(name, encoding) && !(utf8 && sameEncoding(name, 'utf8'))) {
    return refuse(`document declares encoding ${JSON.stringify(name)} but the feed reads ${encoding}`, 1);
  }
  return { ok: true, text };
}

// ---------------------------------------------------------------------------------------------------------
// Lines

export class LineIndex {
  private readonly starts: number[] = [0];
  /** Number of physical lines (a final line break does not open another line). */
  readonly count: number;

  constructor(readonly text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
    if (text.length === 0) this.count = 0;
    else this.count = text.endsWith('\n') ? this.starts.length - 1 : this.starts.length;
  }

  /** 1-based line of a character offset. */
  lineOf(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  columnOf(offset: number): number {
    return offset - this.starts[this.lineOf(offset) - 1]! + 1;
  }

  lineText(line: number): string {
    const start = this.starts[line - 1] ?? this.text.length;
    const next = this.starts[line];
    return this.text.slice(start, next === undefined ? this.text.length : next - 1);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Well-formedness and entities

// eslint-disable-next-line no-control-regex -- finding the control characters XML forbids is the point
const NON_XML_CHAR = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF\p{Cs}]/u;
const FORBIDDEN_DECLARATION = /<!(?:DOCTYPE|ENTITY)/i;
const PREDEFINED = new Map([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
]);

function isXmlCodePoint(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

interface ScanError {
  reason: 'NOT_WELL_FORMED' | 'TOO_DEEP' | 'TOO_MANY_ELEMENTS' | 'TOO_MANY_ATTRIBUTES';
  message: string;
  offset: number;
}

/** Checks one `&…;` reference at `i`; returns the offset after it, or an error message. */
function checkReference(text: string, i: number): number | string {
  const end = text.indexOf(';', i + 1);
  const body = end === -1 || end - i > 40 ? null : text.slice(i + 1, end);
  if (body === null || body.length === 0)
    return "'&' must start an entity or character reference (write &amp;)";
  if (body.startsWith('#')) {
    const hex = body.startsWith('#x');
    const digits = body.slice(hex ? 2 : 1);
    if (!(hex ? /^[0-9A-Fa-f]{1,8}$/ : /^[0-9]{1,10}$/).test(digits))
      return `bad character reference &${body};`;
    const cp = Number.parseInt(digits, hex ? 16 : 10);
    if (!isXmlCodePoint(cp)) return `character reference &${body}; is not an XML character`;
    return end + 1;
  }
  if (!PREDEFINED.has(body))
    return `undeclared entity &${body}; (only the five predefined XML entities are allowed)`;
  return end + 1;
}

/** What the pre-scan counted in a document it accepted. */
export interface XmlCounts {
  /** Elements plus CDATA sections. */
  elements: number;
  attributes: number;
}

/**
 * One linear pass over the text for what fast-xml-parser's validator lets through: undeclared entity
 * references, `<` inside attribute values, unterminated comments/CDATA/PIs, excessive nesting, and more
 * elements or attributes than `limits` allow (counted before any tree exists, so memory stays bounded).
 * Attributes are counted by their quoted values: in a start tag the validator accepts, each attribute has
 * exactly one.
 */
export function scanMarkup(text: string, limits: XmlLimits, counts?: XmlCounts): ScanError | null {
  const { maxDepth, maxElements, maxAttributesPerElement, maxAttributes } = limits;
  let elements = 0;
  let attributes = 0;
  let depth = 0;
  let i = 0;
  const n = text.length;
  const fail = (message: string, offset: number): ScanError => ({
    reason: 'NOT_WELL_FORMED',
    message,
    offset,
  });
  while (i < n) {
    const ch = text.charCodeAt(i);
    if (ch === 0x26 /* & */) {
      const r = checkReference(text, i);
      if (typeof r === 'string') return fail(r, i);
      i = r;
      continue;
    }
    if (ch !== 0x3c /* < */) {
      if (ch === 0x5d && text.startsWith(']]>', i)) return fail("']]>' is not allowed in character data", i);
      i++;
      continue;
    }
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end === -1) return fail('comment is not closed', i);
      i = end + 3;
    } else if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i + 9);
      if (end === -1) return fail('CDATA section is not closed', i);
      // A CDATA section becomes a node of its own in the tree: it costs what an element costs.
      if (++elements > maxElements) return tooManyElements(maxElements, i);
      i = end + 3;
    } else if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i + 2);
      if (end === -1) return fail('processing instruction is not closed', i);
      i = end + 2;
    } else if (text.startsWith('<!', i)) {
      return fail("markup declaration '<!' is not allowed here", i);
    } else {
      const closing = text.charCodeAt(i + 1) === 0x2f; /* / */
      if (!closing && ++elements > maxElements) return tooManyElements(maxElements, i);
      let j = i + 1;
      let quote = 0;
      let own = 0;
      for (; j < n; j++) {
        const c = text.charCodeAt(j);
        if (quote !== 0) {
          if (c === quote) quote = 0;
          else if (c === 0x3c) return fail("'<' is not allowed in an attribute value (write &lt;)", j);
          else if (c === 0x26) {
            const r = checkReference(text, j);
            if (typeof r === 'string') return fail(r, j);
            j = r - 1;
          }
        } else if (c === 0x22 || c === 0x27) {
          quote = c;
          if (++own > maxAttributesPerElement) {
            return {
              reason: 'TOO_MANY_ATTRIBUTES',
              message: `an element has more than ${maxAttributesPerElement} attributes`,
              offset: i,
            };
          }
          if (++attributes > maxAttributes) {
            return {
              reason: 'TOO_MANY_ATTRIBUTES',
              message: `more than ${maxAttributes} attributes in the document`,
              offset: i,
            };
          }
        } else if (c === 0x3e /* > */) break;
        else if (c === 0x3c) return fail("'<' inside a tag", j);
      }
      if (j >= n) return fail('tag is not closed', i);
      const selfClosing = text.charCodeAt(j - 1) === 0x2f;
      if (closing) depth--;
      else if (!selfClosing) {
        depth++;
        if (depth > maxDepth)
          return { reason: 'TOO_DEEP', message: `elements nested deeper than ${maxDepth}`, offset: i };
      }
      i = j + 1;
    }
  }
  if (counts) {
    counts.elements = elements;
    counts.attributes = attributes;
  }
  return null;
}

function tooManyElements(maxElements: number, offset: number): ScanError {
  return {
    reason: 'TOO_MANY_ELEMENTS',
    message: `more than ${maxElements} elements (CDATA sections included) in the document`,
    offset,
  };
}

const REFERENCE = /&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|(amp|lt|gt|quot|apos));/g;

/** Decodes the references `scanMarkup` has already vetted; nothing else can remain in the text. */
export function decodeReferences(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(REFERENCE, (_m, hex?: string, dec?: string, name?: string) => {
    if (name !== undefined) return PREDEFINED.get(name)!;
    return String.fromCodePoint(hex !== undefined ? Number.parseInt(hex, 16) : Number.parseInt(dec!, 10));
  });
}

// ---------------------------------------------------------------------------------------------------------
// The element tree

export interface XmlElement {
  /** Namespace URI, '' when the element is in no namespace. */
  ns: string;
  /** Local name (prefix removed). */
  name: string;
  /** Attributes without a prefix (the ones our formats use), values decoded and normalised. */
  attrs: ReadonlyMap<string, string>;
  children: XmlElement[];
  /** Direct character data (text and CDATA, in order), decoded, not trimmed. */
  text: string;
  /** Offsets in the normalised text: `start` at '<', `end` just after the element's last '>'. */
  start: number;
  end: number;
  line: number;
}

export interface XmlDocument {
  /** The text with line endings normalised; offsets and lines refer to it. */
  text: string;
  lines: LineIndex;
  root: XmlElement;
}

export type XmlParseOutcome = { ok: true; doc: XmlDocument } | { ok: false; refusal: XmlRefusal };

// The typings declare the boxed `Symbol` type; the value is a primitive symbol.
const META = XMLParser.getMetaDataSymbol() as unknown as symbol;

type FxpNode = Record<string, unknown>;
type FxpMeta = { startIndex?: number; endIndex?: number };

const parser = new XMLParser({
  preserveOrder: true,
  captureMetaData: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  // Entities are ours to decode (see decodeReferences): the library must pass text through untouched.
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  cdataPropName: '#cdata',
  commentPropName: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  allowBooleanAttributes: false,
  maxNestedTags: MAX_XML_DEPTH + 1,
  // No callbacks use it, and building a path string per tag costs about half the parse time.
  jPath: false,
});

const XML_NS = 'http://www.w3.org/XML/1998/namespace';

/** Shared by every element without attributes: a Map each would cost more than the element itself. */
const NO_ATTRIBUTES: ReadonlyMap<string, string> = new Map();

class NamespaceError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

function buildElement(
  node: FxpNode,
  key: string,
  scope: ReadonlyMap<string, string>,
  lines: LineIndex,
): XmlElement {
  const meta = (node as Record<symbol, FxpMeta | undefined>)[META];
  const start = meta?.startIndex ?? 0;
  const end = meta?.endIndex ?? start;
  const rawAttrs = (node[':@'] ?? {}) as Record<string, string>;
  let own: Map<string, string> | null = null;
  for (const [k, v] of Object.entries(rawAttrs)) {
    if (k === 'xmlns' || k.startsWith('xmlns:')) {
      const value = decodeReferences(v.replace(/[\t\n]/g, ' '));
      if (k !== 'xmlns' && value === '')
        throw new NamespaceError(`namespace prefix ${k.slice(6)} bound to ''`, start);
      own ??= new Map(scope);
      own.set(k === 'xmlns' ? '' : k.slice(6), value);
    }
  }
  const inScope = own ?? scope;
  const colon = key.indexOf(':');
  const prefix = colon === -1 ? '' : key.slice(0, colon);
  const ns = prefix === 'xml' ? XML_NS : inScope.get(prefix);
  if (ns === undefined)
    throw new NamespaceError(`namespace prefix '${prefix}' of <${key}> is not declared`, start);
  let attrs: Map<string, string> | undefined;
  for (const [k, v] of Object.entries(rawAttrs)) {
    if (k.includes(':') || k === 'xmlns') continue;
    // Attribute-value normalisation (XML 1.0 §3.3.3): literal white space becomes a space, references survive.
    (attrs ??= new Map()).set(k, decodeReferences(v.replace(/[\t\n]/g, ' ')));
  }
  const children: XmlElement[] = [];
  let text = '';
  const content = node[key];
  if (Array.isArray(content)) {
    for (const child of content as FxpNode[]) {
      const childKey = Object.keys(child).find((k) => k !== ':@');
      if (childKey === undefined) continue;
      if (childKey === '#text') text += decodeReferences(String(child['#text']));
      else if (childKey === '#cdata') {
        for (const part of child['#cdata'] as FxpNode[]) text += String(part['#text'] ?? '');
      } else children.push(buildElement(child, childKey, inScope, lines));
    }
  }
  return {
    ns,
    name: colon === -1 ? key : key.slice(colon + 1),
    attrs: attrs ?? NO_ATTRIBUTES,
    children,
    text,
    start,
    end,
    line: lines.lineOf(start),
  };
}

/**
 * Parses decoded text into an element tree, or refuses it with a reason and a position. `limits` lowers
 * (or, in a test, changes) the node limits of `DEFAULT_XML_LIMITS`.
 */
export function parseXmlText(decoded: string, limits: Partial<XmlLimits> = {}): XmlParseOutcome {
  const text = decoded.replace(/\r\n?/g, '\n');
  const lines = new LineIndex(text);
  const refuse = (reason: string, message: string, offset?: number): XmlParseOutcome => {
    if (offset === undefined) return { ok: false, refusal: { reason, message } };
    const line = lines.lineOf(offset);
    const column = lines.columnOf(offset);
    return {
      ok: false,
      refusal: { reason, message: `line ${line}, column ${column}: ${message}`, line, column },
    };
  };
  if (/^[ \t\n]*$/.test(text)) return refuse('EMPTY_FILE', 'document is empty');
  const doctype = FORBIDDEN_DECLARATION.exec(text);
  if (doctype) {
    return refuse(
      'DOCTYPE_FORBIDDEN',
      `${doctype[0]} found: DTDs and entity declarations are refused`,
      doctype.index,
    );
  }
  const bad = NON_XML_CHAR.exec(text);
  if (bad) {
    const cp = bad[0].codePointAt(0)!;
    return refuse(
      'NOT_WELL_FORMED',
      `character U+${cp.toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`,
      bad.index,
    );
  }
  const scan = scanMarkup(text, { ...DEFAULT_XML_LIMITS, ...limits });
  if (scan) return refuse(scan.reason, scan.message, scan.offset);
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    const column = col;
    return {
      ok: false,
      refusal: { reason: 'NOT_WELL_FORMED', message: `line ${line}, column ${column}: ${msg}`, line, column },
    };
  }
  let nodes: FxpNode[];
  try {
    nodes = parser.parse(text) as FxpNode[];
  } catch (error) {
    return refuse('NOT_WELL_FORMED', error instanceof Error ? error.message : String(error));
  }
  const top = nodes.filter((node) => {
    const k = Object.keys(node).find((key) => key !== ':@');
    return k !== undefined && k !== '#text' && k !== '#cdata';
  });
  if (top.length !== 1) {
    const second = top[1] && (top[1] as Record<symbol, FxpMeta | undefined>)[META]?.startIndex;
    return refuse('NOT_WELL_FORMED', `expected one root element, found ${top.length}`, second);
  }
  const rootNode = top[0]!;
  const rootKey = Object.keys(rootNode).find((k) => k !== ':@')!;
  try {
    const root = buildElement(rootNode, rootKey, new Map([['', '']]), lines);
    return { ok: true, doc: { text, lines, root } };
  } catch (error) {
    if (error instanceof NamespaceError) return refuse('NOT_WELL_FORMED', error.message, error.offset);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tree helpers

/** XML white space only: JavaScript's trim() would also eat NBSP and other characters that are data. */
export function trimXml(s: string): string {
  return s.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, '');
}

export function childrenOf(el: XmlElement | undefined, ns: string, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.ns === ns && c.name === name) : [];
}

export function childOf(el: XmlElement | undefined, ns: string, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.ns === ns && c.name === name);
}

/** Elements reached by following a path of local names in one namespace. */
export function descendants(el: XmlElement | undefined, ns: string, path: string): XmlElement[] {
  let level = el ? [el] : [];
  for (const step of path.split('/')) level = level.flatMap((e) => childrenOf(e, ns, step));
  return level;
}

/** Attribute value trimmed; undefined when absent or empty. */
export function attrOf(el: XmlElement | undefined, name: string): string | undefined {
  const v = el?.attrs.get(name);
  if (v === undefined) return undefined;
  const t = trimXml(v);
  return t === '' ? undefined : t;
}

/** Element text trimmed; undefined when the element is absent or empty. */
export function textOf(el: XmlElement | undefined): string | undefined {
  if (!el) return undefined;
  const t = trimXml(el.text);
  return t === '' ? undefined : t;
}

/** Source of an element, clipped, for a reject's `text`. */
export function sourceOf(doc: XmlDocument, el: XmlElement): string {
  return clipText(doc.text.slice(el.start, Math.min(el.end, el.start + 400)));
}

export function describeName(el: XmlElement): string {
  return el.ns ? `{${el.ns}}${el.name}` : el.name;
}

// ---------------------------------------------------------------------------------------------------------
// Writing

const TEXT_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };
const ATTR_ESCAPES: Record<string, string> = { ...TEXT_ESCAPES, '"': '&quot;', '\t': '&#9;', '\n': '&#10;' };

/**
 * Escapes element content. `>` is escaped too so `]]>` can never appear; CR is written as a reference
 * because a literal CR would read back as LF.
 */
export function escapeXmlText(s: string): string {
  return s.replace(/[&<>\r]/g, (c) => TEXT_ESCAPES[c]!);
}

/** Escapes an attribute value written between double quotes; literal tab and line breaks would read back as spaces. */
export function escapeXmlAttr(s: string): string {
  return s.replace(/[&<>"\t\n\r]/g, (c) => ATTR_ESCAPES[c]!);
}

// ---------------------------------------------------------------------------------------------------------
// The per-file driver shared by the XML feeds

export interface XmlRecordItem<T> {
  kind: 'record';
  element: XmlElement;
  path: string;
  seq: number;
  record: T;
}

export interface XmlRejectItem {
  kind: 'reject';
  element: XmlElement;
  path: string;
  seq: number;
  field: string;
  reason: string;
  message: string;
  text: string;
  /** The record's id and member number, where readable (RejectEvent). */
  recordRef?: string;
  memberNumber?: string;
  sequenceNumber?: number;
}

export type XmlItem<T> = XmlRecordItem<T> | XmlRejectItem;

export interface XmlFileResult<T> {
  items: XmlItem<T>[];
  /** Set when the whole file is refused after its records were read (control total, header, no records). */
  refusal?: { reason: string; message: string };
  meta?: Record<string, unknown>;
}

export interface XmlFeedSpec<T> {
  feed: FeedName;
  /** The root element the feed reads; anything else is WRONG_DOCUMENT. */
  root: { ns: string; name: string };
  handle(doc: XmlDocument, input: ParseInput): XmlFileResult<T>;
}

/**
 * Physical lines of raw bytes (CR, LF, CRLF), without decoding: the bytes may not be text at all. A
 * leading UTF-8 byte-order mark is not text, as in a decoded document (and in the CSV and FTL readers),
 * so a file holding nothing else has no lines.
 */
function byteLines(bytes: Buffer): { start: number; end: number }[] {
  const lines: { start: number; end: number }[] = [];
  let start = utf8BomLength(bytes);
  for (let i = start; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0a || b === 0x0d) {
      lines.push({ start, end: i });
      if (b === 0x0d && bytes[i + 1] === 0x0a) i++;
      start = i + 1;
    }
  }
  if (start < bytes.length) lines.push({ start, end: bytes.length });
  return lines;
}

function isBlankBytes(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0x20 && bytes[i] !== 0x09) return false;
  return true;
}

/** Attributes each non-blank line to the first reject, else the first record, overlapping it (see the header). */
function accountLines<T>(
  doc: XmlDocument,
  items: XmlItem<T>[],
): { account: LineAccount; itemLines: number[] } {
  const { lines } = doc;
  const owner = new Int32Array(lines.count + 1).fill(-1);
  const blank = new Uint8Array(lines.count + 1);
  let blankLines = 0;
  for (let l = 1; l <= lines.count; l++) {
    if (/^[ \t]*$/.test(lines.lineText(l))) {
      blank[l] = 1;
      blankLines++;
    }
  }
  const itemLines = items.map(() => 0);
  const claim = (kind: 'record' | 'reject') => {
    items.forEach((item, idx) => {
      if (item.kind !== kind) return;
      const first = lines.lineOf(item.element.start);
      const last = lines.lineOf(Math.max(item.element.start, item.element.end - 1));
      for (let l = first; l <= last && l <= lines.count; l++) {
        if (blank[l] || owner[l] !== -1) continue;
        owner[l] = idx;
        itemLines[idx]!++;
      }
    });
  };
  claim('reject');
  claim('record');
  let recordLines = 0;
  let rejectLines = 0;
  items.forEach((item, idx) => {
    if (item.kind === 'record') recordLines += itemLines[idx]!;
    else rejectLines += itemLines[idx]!;
  });
  const records = items.filter((i) => i.kind === 'record').length;
  return {
    account: {
      lines: lines.count,
      recordLines,
      rejectLines,
      structureLines: lines.count - blankLines - recordLines - rejectLines,
      blankLines,
      records,
      rejects: items.length - records,
    },
    itemLines,
  };
}

/**
 * Runs a feed over a delivery: reads each file through the safety gates, hands the tree to the feed, and
 * yields its records and rejects followed by exactly one verdict. Only a failing stream throws.
 */
export async function* parseXmlFeed<T>(
  spec: XmlFeedSpec<T>,
  inputs: ParseInput[],
  options: XmlParseOptions = {},
): AsyncGenerator<ParseEvent<T>> {
  const maxBytes = options.maxBytes ?? DEFAULT_XML_MAX_BYTES;
  for (const input of inputs) {
    const read = await readBounded(input, maxBytes);
    if (!read.ok) {
      yield* refused(input, read.refusal, undefined, {
        maxBytes,
        bytesRead: read.refusal.bytesRead ?? 0,
      });
      continue;
    }
    const { bytes } = read;
    const decoded = decodeXml(bytes, input.encoding ?? options.encoding);
    if (!decoded.ok) {
      yield* refused(input, decoded.refusal, bytes, { bytes: bytes.length });
      continue;
    }
    const parsed = parseXmlText(decoded.text, options.xmlLimits);
    if (!parsed.ok) {
      yield* refused(input, parsed.refusal, bytes, { bytes: bytes.length });
      continue;
    }
    const { doc } = parsed;
    if (doc.root.ns !== spec.root.ns || doc.root.name !== spec.root.name) {
      const refusal = {
        reason: 'WRONG_DOCUMENT',
        message: `root element is ${describeName(doc.root)}, expected {${spec.root.ns}}${spec.root.name}`,
      };
      yield* refused(input, refusal, bytes, { bytes: bytes.length, root: describeName(doc.root) });
      continue;
    }
    const result = spec.handle(doc, input);
    const { account, itemLines } = accountLines(doc, result.items);
    for (const [idx, item] of result.items.entries()) {
      const position = {
        file: input.name,
        line: item.element.line,
        path: item.path,
        seq: item.seq,
        ordinal: idx + 1,
        lines: itemLines[idx]!,
      };
      if (item.kind === 'record') {
        const event: RecordEvent<T> = { type: 'record', ...position, record: item.record };
        yield event;
      } else {
        const event: RejectEvent = {
          type: 'reject',
          ...position,
          field: item.field,
          reason: item.reason,
          message: item.message,
          text: clipText(item.text),
          ...(item.recordRef ? { recordRef: item.recordRef } : {}),
          ...(item.memberNumber ? { memberNumber: item.memberNumber } : {}),
          ...(item.sequenceNumber !== undefined ? { sequenceNumber: item.sequenceNumber } : {}),
        };
        yield event;
      }
    }
    const verdict: VerdictEvent = {
      type: 'verdict',
      file: input.name,
      verdict: result.refusal ? 'rejected' : 'accepted',
      ...(result.refusal ? { reason: result.refusal.reason, message: result.refusal.message } : {}),
      account,
      meta: { bytes: bytes.length, ...result.meta },
    };
    yield verdict;
  }
}

/** The events of a file refused as a whole: one `*` reject holding its non-blank lines, then the verdict. */
function* refused(
  input: ParseInput,
  refusal: XmlRefusal,
  bytes: Buffer | undefined,
  meta: Record<string, unknown>,
): Generator<RejectEvent | VerdictEvent> {
  const account: LineAccount = {
    lines: 0,
    recordLines: 0,
    rejectLines: 0,
    structureLines: 0,
    blankLines: 0,
    records: 0,
    rejects: 0,
  };
  // A document refused for its size was not read, so there are no lines to speak of.
  const lines = bytes && refusal.reason !== 'TOO_LARGE' ? byteLines(bytes) : [];
  let firstContent = 0;
  for (const [i, l] of lines.entries()) {
    if (isBlankBytes(bytes!, l.start, l.end)) account.blankLines++;
    else {
      account.rejectLines++;
      firstContent ||= i + 1;
    }
  }
  account.lines = lines.length;
  if (account.rejectLines > 0) {
    const line = refusal.line !== undefined && refusal.line <= lines.length ? refusal.line : firstContent;
    const at = lines[line - 1]!;
    account.rejects = 1;
    yield {
      type: 'reject',
      file: input.name,
      line,
      field: '*',
      reason: refusal.reason,
      message: refusal.message,
      text: clipText(bytes!.toString('utf8', at.start, Math.min(at.end, at.start + 4 * MAX_REJECT_TEXT))),
      lines: account.rejectLines,
    };
  }
  yield {
    type: 'verdict',
    file: input.name,
    verdict: 'rejected',
    reason: refusal.reason,
    message: refusal.message,
    account,
    meta: {
      ...meta,
      ...(refusal.line !== undefined ? { line: refusal.line } : {}),
      ...(refusal.column !== undefined ? { column: refusal.column } : {}),
    },
  };
}
