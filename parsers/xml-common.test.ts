import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { RedeyeError } from '../lib/errors.js';
import { inputOf } from './fixtures/xml/support.js';
import {
  decodeXml,
  escapeXmlAttr,
  escapeXmlText,
  firstInvalidUtf8,
  LineIndex,
  parseXmlFeed,
  parseXmlText,
  readBounded,
  scanMarkup,
  DEFAULT_XML_LIMITS,
  type XmlCounts,
  type XmlElement,
} from './xml-common.js';

function parsed(text: string): XmlElement {
  const r = parseXmlText(text);
  if (!r.ok) throw new Error(`refused: ${r.refusal.reason} ${r.refusal.message}`);
  return r.doc.root;
}

describe('UTF-8 checking', () => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 20 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
    fc
      .tuple(
        fc.string({ unit: 'binary', maxLength: 10 }),
        fc.uint8Array({ minLength: 1, maxLength: 3 }),
        fc.string({ maxLength: 5 }),
      )
      .map(([a, b, c]) => new Uint8Array(Buffer.concat([Buffer.from(a), Buffer.from(b), Buffer.from(c)]))),
  );

  it('finds the first invalid byte exactly where a strict decoder gives up', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const at = firstInvalidUtf8(b);
        expect(at === -1).toBe(isUtf8(b));
        if (at !== -1) {
          expect(isUtf8(b.subarray(0, at))).toBe(true);
          expect(() => new TextDecoder('utf-8', { fatal: true }).decode(b)).toThrow();
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('names the first invalid byte by its offset in the file, byte-order mark or not', () => {
    const broken = Buffer.concat([Buffer.from('<a>\n<b>'), Buffer.from([0xff]), Buffer.from('</b></a>')]);
    expect(decodeXml(broken)).toMatchObject({
      ok: false,
      refusal: {
        reason: 'BAD_ENCODING',
        message: expect.stringContaining('invalid UTF-8 at byte 7 (0xff), line 2'),
      },
    });
    expect(decodeXml(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), broken]))).toMatchObject({
      ok: false,
      refusal: { message: expect.stringContaining('invalid UTF-8 at byte 10 (0xff), line 2') },
    });
  });

  it('strips a byte-order mark and accepts the usual spellings of UTF-8', () => {
    expect(decodeXml(Buffer.from('\ufeff<a/>'))).toEqual({ ok: true, text: '<a/>' });
    for (const name of ['UTF-8', 'utf8', 'Utf-8']) {
      expect(decodeXml(Buffer.from(`<?xml version="1.0" encoding='${name}'?><a/>`)).ok, name).toBe(true);
    }
  });

  it('reads a configured single-byte encoding, and refuses a document claiming another', () => {
    const cp1251 = iconv.encode('<?xml version="1.0" encoding="windows-1251"?><a>Иванов</a>', 'windows-1251');
    const decoded = decodeXml(cp1251, 'windows-1251');
    expect(decoded.ok && parsed(decoded.text).text).toBe('Иванов');
    expect(decodeXml(cp1251)).toMatchObject({ ok: false, refusal: { reason: 'BAD_ENCODING' } });
    // An encoding no decoder knows is the setting's fault, not the file's: a usage error, as in CSV and FTL.
    expect(() => decodeXml(Buffer.from('<a/>'), 'no-such-encoding')).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_ENCODING', exitCode: 2 }),
    );
  });
});

describe('escaping and decoding', () => {
  // Any text XML can carry.
  const xmlText = fc
    .string({ unit: 'binary', maxLength: 40 })
    // eslint-disable-next-line no-control-regex -- removing what XML 1.0 cannot carry
    .map((s) => s.replace(/[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g, ''));

  it('reads back exactly what was escaped, in text and in attributes', () => {
    fc.assert(
      fc.property(xmlText, (s) => {
        const root = parsed(`<a x="${escapeXmlAttr(s)}">${escapeXmlText(s)}</a>`);
        expect(root.attrs.get('x')).toBe(s);
        expect(root.text).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });

  it('decodes the five entities and character references once, CDATA never', () => {
    const root = parsed('<a t="&amp;lt; &#38;#60;">&amp;amp; &#x3C; &#60; <![CDATA[&amp; <b>]]></a>');
    expect(root.attrs.get('t')).toBe('&lt; &#60;');
    expect(root.text).toBe('&amp; < < &amp; <b>');
  });

  it('normalises literal white space in attributes but keeps referenced white space', () => {
    const root = parsed('<a t="x\ty\nz" r="x&#9;y&#10;z&#13;"/>');
    expect(root.attrs.get('t')).toBe('x y z');
    expect(root.attrs.get('r')).toBe('x\ty\nz\r');
  });
});

describe('namespaces and positions', () => {
  it('resolves prefixes, default namespaces and their undeclaration by scope', () => {
    const root = parsed(
      '<p:a xmlns:p="urn:one" xmlns="urn:two"><b/><p:c xmlns:p="urn:three"/><d xmlns=""/><xml:e/></p:a>',
    );
    expect([root.ns, root.name]).toEqual(['urn:one', 'a']);
    expect(root.children.map((c) => [c.ns, c.name])).toEqual([
      ['urn:two', 'b'],
      ['urn:three', 'c'],
      ['', 'd'],
      ['http://www.w3.org/XML/1998/namespace', 'e'],
    ]);
  });

  it('gives elements their physical line whatever the line ends', () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const root = parsed(['<a>', '  <b/>', '', '  <c>', '  </c>', '</a>'].join(eol));
      expect(root.children.map((c) => c.line)).toEqual([2, 4]);
    }
  });

  it('counts lines like a reader does', () => {
    const idx = new LineIndex('a\nbb\n\nc');
    expect(idx.count).toBe(4);
    expect([idx.lineOf(0), idx.lineOf(2), idx.lineOf(5), idx.lineOf(6)]).toEqual([1, 2, 3, 4]);
    expect(idx.columnOf(3)).toBe(2);
    expect(idx.lineText(2)).toBe('bb');
    expect(new LineIndex('a\n').count).toBe(1);
    expect(new LineIndex('').count).toBe(0);
  });
});

describe('reading bytes', () => {
  it('accepts strings and typed arrays from a stream', async () => {
    const input = inputOf('x.xml', '', {
      open: () => Readable.from(['<a>', new Uint8Array([0x78]), Buffer.from('</a>')]),
    });
    const read = await readBounded(input, 100);
    expect(read.ok && read.bytes.toString()).toBe('<a>x</a>');
  });

  it('throws a RedeyeError when the stream itself fails: that is not bad data', async () => {
    const input = inputOf('x.xml', '', {
      open: () =>
        new Readable({
          read() {
            this.destroy(new Error('connection reset'));
          },
        }),
    });
    await expect(readBounded(input, 100)).rejects.toMatchObject({
      code: 'INPUT_READ_FAILED',
      context: { file: 'x.xml' },
    });
    await expect(readBounded(input, 100)).rejects.toBeInstanceOf(RedeyeError);
  });
});

describe('line accounting of refused documents', () => {
  const feed = {
    feed: 'fx' as const,
    root: { ns: '', name: 'r' },
    handle: () => ({ items: [] }),
  };
  const account = async (bytes: Buffer) => {
    const events = [];
    for await (const e of parseXmlFeed(feed, [inputOf('x.xml', bytes)])) events.push(e);
    return events;
  };

  it('does not count a byte-order mark as a line, as the CSV and FTL readers do not', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const empty = await account(bom);
    expect(empty).toEqual([
      expect.objectContaining({
        type: 'verdict',
        reason: 'EMPTY_FILE',
        account: expect.objectContaining({ lines: 0, rejectLines: 0 }),
      }),
    ]);
    const blank = await account(Buffer.concat([bom, Buffer.from('  \n\n')]));
    expect(blank.at(-1)).toMatchObject({
      reason: 'EMPTY_FILE',
      account: { lines: 2, blankLines: 2, rejectLines: 0 },
    });
    const broken = await account(Buffer.concat([bom, Buffer.from('<r>\n')]));
    expect(broken[0]).toMatchObject({ type: 'reject', line: 1, text: '<r>', lines: 1 });
  });
});

describe('node limits: elements and attributes are counted before any tree is built', () => {
  const feed = {
    feed: 'fx' as const,
    root: { ns: '', name: 'r' },
    handle: () => ({ items: [] }),
  };
  const run = async (text: string, xmlLimits: Record<string, number>) => {
    const events = [];
    for await (const e of parseXmlFeed(feed, [inputOf('nodes.xml', text)], { xmlLimits })) events.push(e);
    return events;
  };

  it('refuses more elements than the limit, CDATA sections included, as a file-level TOO_MANY_ELEMENTS', async () => {
    const events = await run('<r>\n<a/><a/>\n<a/></r>', { maxElements: 3 });
    expect(events).toEqual([
      expect.objectContaining({
        type: 'reject',
        file: 'nodes.xml',
        line: 3,
        field: '*',
        reason: 'TOO_MANY_ELEMENTS',
        text: '<a/></r>',
        lines: 3,
      }),
      expect.objectContaining({
        type: 'verdict',
        file: 'nodes.xml',
        verdict: 'rejected',
        reason: 'TOO_MANY_ELEMENTS',
        message: 'line 3, column 1: more than 3 elements (CDATA sections included) in the document',
        account: expect.objectContaining({ lines: 3, rejectLines: 3, rejects: 1, records: 0 }),
      }),
    ]);
    expect((await run('<r><a/><![CDATA[x]]></r>', { maxElements: 2 })).at(-1)).toMatchObject({
      reason: 'TOO_MANY_ELEMENTS',
      message: 'line 1, column 8: more than 2 elements (CDATA sections included) in the document',
    });
    // Closing tags, comments and processing instructions are not elements.
    expect(
      (await run('<?xml version="1.0"?><r><!-- c --><?pi x?><a></a><a/></r>', { maxElements: 3 })).at(-1),
    ).toMatchObject({
      verdict: 'accepted',
    });
  });

  it('refuses more attributes on one element than the limit, namespace declarations included', async () => {
    const events = await run('<r>\n<a x="1" y=\'2\' xmlns:p="urn:p"/></r>', { maxAttributesPerElement: 2 });
    expect(events.at(-1)).toMatchObject({
      type: 'verdict',
      file: 'nodes.xml',
      reason: 'TOO_MANY_ATTRIBUTES',
      message: 'line 2, column 1: an element has more than 2 attributes',
    });
    expect((await run('<r><a x="1" y="2"/></r>', { maxAttributesPerElement: 2 })).at(-1)).toMatchObject({
      verdict: 'accepted',
    });
  });

  it('refuses more attributes in the document than the limit', async () => {
    const events = await run('<r a="1">\n<b c="2"/>\n<b c="&amp;&gt;"/></r>', { maxAttributes: 2 });
    expect(events.at(-1)).toMatchObject({
      reason: 'TOO_MANY_ATTRIBUTES',
      message: 'line 3, column 1: more than 2 attributes in the document',
    });
  });

  it("refuses the reviewer's padded FX envelope at once, with the real limits", async () => {
    const text = `<r>${'<x/>'.repeat(DEFAULT_XML_LIMITS.maxElements)}</r>`;
    const started = performance.now();
    const events = await run(text, {});
    expect(performance.now() - started).toBeLessThan(5000);
    expect(events.at(-1)).toMatchObject({ reason: 'TOO_MANY_ELEMENTS', file: 'nodes.xml' });
    const attrs = Array.from({ length: 257 }, (_, i) => ` a${i}=""`).join('');
    expect((await run(`<r><x${attrs}/></r>`, {})).at(-1)).toMatchObject({ reason: 'TOO_MANY_ATTRIBUTES' });
  });

  // Random documents: the pre-scan's counts are exact, the document parses at exactly those limits, and
  // one less refuses it.
  type Node = { name: string; attrs: string[]; children: Node[]; cdata: boolean; text: string };
  const name = fc.constantFrom('a', 'b', 'Cube', 'x-y', 'n.1', '_z');
  const value = fc.string({ maxLength: 6 }).map((v) => escapeXmlAttr(v.replace(/[^\u0020-\u007e]/g, '')));
  const { tree } = fc.letrec((tie) => ({
    tree: fc.record({
      name,
      attrs: fc.uniqueArray(fc.constantFrom('p', 'q', 'r', 'rate', 'time', 'ID'), { maxLength: 4 }),
      children: fc.oneof(
        { maxDepth: 4, depthIdentifier: 'tree' },
        fc.constant([] as Node[]),
        fc.array(tie('tree') as fc.Arbitrary<Node>, { maxLength: 3 }),
      ),
      cdata: fc.boolean(),
      text: fc.constantFrom('', ' ', '\n  ', 'x &amp; y', '1.0479'),
    }),
  }));
  const doc = fc.tuple(tree, fc.array(value, { minLength: 4, maxLength: 4 }));
  const write = (n: Node, values: string[]): string =>
    `<${n.name}${n.attrs.map((a, i) => ` ${a}="${values[i % values.length]}"`).join('')}>${n.text}${
      n.cdata ? '<![CDATA[<raw> & ]]>' : ''
    }${n.children.map((c) => write(c, values)).join('')}</${n.name}>`;
  const count = (n: Node): XmlCounts =>
    n.children
      .map(count)
      .reduce((a, b) => ({ elements: a.elements + b.elements, attributes: a.attributes + b.attributes }), {
        elements: 1 + (n.cdata ? 1 : 0),
        attributes: n.attrs.length,
      });
  const maxOwn = (n: Node): number => Math.max(n.attrs.length, ...n.children.map(maxOwn));

  it('counts exactly, accepts at the limits, refuses one below', () => {
    fc.assert(
      fc.property(doc, ([root, values]) => {
        const text = write(root, values);
        const expected = count(root);
        const counts: XmlCounts = { elements: -1, attributes: -1 };
        expect(scanMarkup(text, DEFAULT_XML_LIMITS, counts)).toBeNull();
        expect(counts).toEqual(expected);
        const exact = {
          maxElements: expected.elements,
          maxAttributes: expected.attributes,
          maxAttributesPerElement: maxOwn(root),
        };
        const accepted = parseXmlText(text, exact);
        expect(accepted.ok).toBe(true);
        expect(parseXmlText(text, { ...exact, maxElements: expected.elements - 1 })).toMatchObject({
          ok: false,
          refusal: { reason: 'TOO_MANY_ELEMENTS' },
        });
        if (expected.attributes > 0) {
          expect(parseXmlText(text, { ...exact, maxAttributes: expected.attributes - 1 })).toMatchObject({
            ok: false,
            refusal: { reason: 'TOO_MANY_ATTRIBUTES' },
          });
          expect(parseXmlText(text, { ...exact, maxAttributesPerElement: maxOwn(root) - 1 })).toMatchObject({
            ok: false,
            refusal: { reason: 'TOO_MANY_ATTRIBUTES' },
          });
        }
      }),
      { numRuns: 300 },
    );
  });
});
