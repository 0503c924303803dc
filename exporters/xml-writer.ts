/**
 * A small deterministic XML writer for the files Redeye sends: one element per line, two-space
 * indentation, LF line ends, a final LF, attributes in the order given. Leaves stay on one line so no
 * indentation white space ever enters a text value.
 *
 * Text from outside Redeye (reason messages quoting a partner's record, names) may hold characters XML
 * 1.0 cannot carry at all; they are dropped rather than letting one bad byte make the whole file invalid.
 */
import { escapeXmlAttr, escapeXmlText } from '../parsers/xml-common.js';
import { ExportError } from './errors.js';

const XML_ILLEGAL =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The text with every character XML 1.0 cannot represent removed. */
export function xmlChars(s: string): string {
  return s.replace(XML_ILLEGAL, '');
}

const GRAPHEMES = new Intl.Segmenter('und', { granularity: 'grapheme' });

/**
 * `s` cut to at most `max` characters as XML Schema's maxLength counts them (code points), ending on a
 * whole user-perceived character, so neither a surrogate pair nor a letter and its combining accent is
 * split; trailing white space the cut exposes goes too, unless it is all there is. A first character longer than `max` on its own
 * is cut between code points, as the length is what makes the file valid.
 */
export function cutToLength(s: string, max: number): string {
  if (s.length <= max) return s;
  let n = 0;
  let end = 0;
  for (const { segment } of GRAPHEMES.segment(s)) {
    let points = 0;
    for (const _ of segment) points++;
    if (n + points > max) break;
    n += points;
    end += segment.length;
  }
  if (end === s.length) return s;
  const whole = s.slice(0, end);
  const cut = whole.trimEnd();
  if (cut !== '') return cut;
  return whole !== '' ? whole : Array.from(s).slice(0, max).join('');
}

export type XmlAttributes = ReadonlyArray<readonly [string, string | number | undefined | null]>;

function attributes(attrs: XmlAttributes): string {
  let out = '';
  for (const [name, value] of attrs) {
    if (value === undefined || value === null) continue;
    out += ` ${name}="${escapeXmlAttr(xmlChars(String(value)))}"`;
  }
  return out;
}

export class XmlWriter {
  private readonly out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  private readonly open_: string[] = [];

  private get indent(): string {
    return '  '.repeat(this.open_.length);
  }

  open(name: string, attrs: XmlAttributes = []): this {
    this.out.push(`${this.indent}<${name}${attributes(attrs)}>`);
    this.open_.push(name);
    return this;
  }

  close(): this {
    const name = this.open_.pop();
    if (name === undefined) throw new ExportError('XML_WRITER', 'close() without an open element');
    this.out.push(`${this.indent}</${name}>`);
    return this;
  }

  /** `<name attrs>text</name>`; nothing at all when the value is undefined or null. */
  leaf(name: string, value: string | number | undefined | null, attrs: XmlAttributes = []): this {
    if (value === undefined || value === null) return this;
    this.out.push(
      `${this.indent}<${name}${attributes(attrs)}>${escapeXmlText(xmlChars(String(value)))}</${name}>`,
    );
    return this;
  }

  empty(name: string, attrs: XmlAttributes = []): this {
    this.out.push(`${this.indent}<${name}${attributes(attrs)}/>`);
    return this;
  }

  /** The document; every opened element must be closed. */
  toString(): string {
    if (this.open_.length > 0) throw new ExportError('XML_WRITER', `<${this.open_.join('><')}> left open`);
    return `${this.out.join('\n')}\n`;
  }
}
