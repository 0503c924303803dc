/**
 * The physical line count of a file, computed here independently of the parsers so the fuzz runner can
 * check the `counts.lines` every registry row carries. The rule, the one every reader documents
 * (csv-common.ts ByteScan, ftl/lines.ts LineSplitter, xml-common.ts LineIndex and byteLines):
 *
 * - a leading UTF-8 byte-order mark is not text (the CSV reader strips it, the FTL reader's decoder drops
 *   it, the XML reader decodes after it);
 * - each LF, each CR LF pair and each CR not followed by LF ends one line;
 * - text after the last line end is one more line; an empty file has no lines.
 *
 * The feeds' single-byte encodings and UTF-8 decoding (invalid sequences included) never create or
 * swallow a CR or LF, so counting bytes is counting the decoded text's lines. One exception by design:
 * an XML document refused for its size is not read at all, and its registry row says 0 lines.
 */
const LF = 0x0a;
const CR = 0x0d;

export function hasUtf8Bom(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

export function physicalLines(bytes: Uint8Array): number {
  const start = hasUtf8Bom(bytes) ? 3 : 0;
  let lines = 0;
  for (let i = start; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === LF) lines++;
    else if (b === CR) {
      lines++;
      if (bytes[i + 1] === LF) i++;
    }
  }
  const last = bytes[bytes.length - 1];
  if (bytes.length > start && last !== LF && last !== CR) lines++;
  return lines;
}
