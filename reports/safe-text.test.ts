import { describe, expect, it } from 'vitest';
import { EXCEL_MAX_CELL_TEXT, neutraliseCsvField, safeSheetName, safeText } from './safe-text.js';

describe('safeText', () => {
  it('keeps formula-looking text exactly as it is: in a typed cell it is data', () => {
    for (const text of ['=1+1', '+cmd', '-2+3', '@SUM(A1)', '\t=1+1']) expect(safeText(text)).toBe(text);
  });

  it('turns any value into text and nothing into the empty string', () => {
    expect(safeText(null)).toBe('');
    expect(safeText(undefined)).toBe('');
    expect(safeText(42)).toBe('42');
    expect(safeText({ formula: '1+1' })).toBe('[object Object]');
  });

  it('drops characters an xlsx file cannot carry but keeps tabs, line breaks and emoji', () => {
    expect(safeText('a\u0000b\u0008c\u000Bd\uFFFEe')).toBe('abcde');
    expect(safeText('line 1\nline 2\tcol\r')).toBe('line 1\nline 2\tcol\r');
    expect(safeText('Ivanova 😀 Анна')).toBe('Ivanova 😀 Анна');
    expect(safeText('lone \uD800 half \uDC00 end')).toBe('lone  half  end');
  });

  it("cuts text to Excel's cell limit without splitting a character", () => {
    expect(safeText('x'.repeat(40_000))).toHaveLength(EXCEL_MAX_CELL_TEXT);
    const straddling = 'x'.repeat(EXCEL_MAX_CELL_TEXT - 1) + '😀';
    expect(safeText(straddling)).toBe('x'.repeat(EXCEL_MAX_CELL_TEXT - 1));
  });
});

describe('neutraliseCsvField', () => {
  it('prefixes an apostrophe to text a spreadsheet would read as a formula', () => {
    expect(neutraliseCsvField('=1+1')).toBe("'=1+1");
    expect(neutraliseCsvField('+cmd')).toBe("'+cmd");
    expect(neutraliseCsvField('-2+3')).toBe("'-2+3");
    expect(neutraliseCsvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(neutraliseCsvField('\t=1+1')).toBe("'\t=1+1");
    expect(neutraliseCsvField('\r=1+1')).toBe("'\r=1+1");
  });

  it('leaves ordinary text alone', () => {
    for (const text of ['', 'Hotel Europa', 'a=b', ' =1', "'quoted", '1-2'])
      expect(neutraliseCsvField(text)).toBe(text);
  });
});

describe('safeSheetName', () => {
  it('replaces characters Excel forbids in sheet names and cuts to 31 characters', () => {
    expect(safeSheetName('Partner: A/B [x]*?\\')).toBe('Partner_ A_B _x____');
    expect(safeSheetName('A partner name far longer than thirty-one characters')).toBe(
      'A partner name far longer than',
    );
    expect(safeSheetName("'quoted'")).toBe('quoted');
  });

  it('never returns a name Excel refuses', () => {
    expect(safeSheetName('')).toBe('Sheet');
    expect(safeSheetName("''")).toBe('Sheet');
    expect(safeSheetName('history')).toBe('history_');
    expect(safeSheetName('line\nbreak')).toBe('line break');
  });
});
