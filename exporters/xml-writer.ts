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
