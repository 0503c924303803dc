/**
 * Line splitting across chunk boundaries: CR LF split between two chunks is one line end, a stray CR is
 * a line end of its own, and an endless line does not grow memory.
 */
import { describe, expect, it } from 'vitest';
import { MAX_LINE } from './grammar.js';
import { LineSplitter } from './lines.js';

function split(chunks: string[]): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter({ line: (l) => lines.push(l) });
  for (const c of chunks) splitter.push(c);
  splitter.end();
  return lines;
}

describe('line splitting', () => {
  it('splits on CR LF, LF and stray CR, keeping empty lines', () => {
    expect(split(['A\r\nB\nC\rD\r\n\r\nE'])).toEqual(['A', 'B', 'C', 'D', '', 'E']);
  });

  it('treats CR LF cut between two chunks as one line end', () => {
    expect(split(['A\r', '\nB\r', '\n'])).toEqual(['A', 'B']);
    expect(split(['A\r', '\r', '\nB'])).toEqual(['A', '', 'B']);
  });

  it('joins a line cut between chunks', () => {
    expect(split(['1IVA', 'NOV/IV', '', 'AN\n.R/', 'FQTV'])).toEqual(['1IVANOV/IVAN', '.R/FQTV']);
  });

  it('gives the same lines for every way of cutting the text into chunks', () => {
    const text = 'QU MOWKTXX\r\n.MOWRMXX 281530\rFTL\n\nXX101/28MAY DME PART1\r\n\r\nENDFTL\r';
    const whole = split([text]);
    for (let size = 1; size <= text.length; size++) {
      const chunks: string[] = [];
      for (let at = 0; at < text.length; at += size) chunks.push(text.slice(at, at + size));
      expect(split(chunks)).toEqual(whole);
    }
  });

  it('keeps one character more than the limit of a line too long, however it streams in', () => {
    const long = 'X'.repeat(3 * MAX_LINE);
    for (const chunks of [
      [`${long}\nB`],
      [long.slice(0, 10), long.slice(10), '\nB'],
      [long, long, '\r\nB'],
    ]) {
      const lines = split(chunks);
      expect(lines.map((l) => l.length)).toEqual([MAX_LINE + 1, 1]);
    }
  });
});
