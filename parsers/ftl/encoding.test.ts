/**
 * Character sets of the Russian network: UTF-8, CP866 and Windows-1251, as the feed configuration names
 * them; bytes that do not belong to the configured encoding are rejected, not guessed.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { ftlParser } from './index.js';
import { collect, ftlInput } from './testing.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const RECEIVED = '2024-08-15T21:00:00Z';

async function read(name: string, bytes: Uint8Array, encoding?: string, chunkSize?: number) {
  return collect(
    ftlParser.parse([ftlInput(name, bytes, RECEIVED, chunkSize)], { encoding, ownPrograms: ['XX', 'ЮТ'] }),
  );
}

const expected = [
  {
    surname: 'СМИРНОВ',
    givenName: 'АНДРЕЙ АНАТОЛЬЕВИЧ',
    pnr: '0M68F0',
    pnrAirline: 'ЮТ',
    destination: 'КЗН',
    subclass: 'Э',
  },
  {
    surname: 'ЁЛКИНА',
    givenName: 'НАТАЛЬЯ',
    pnr: '0M68F1',
    pnrAirline: 'ЮТ',
    destination: 'КЗН',
    subclass: 'Э',
  },
];

describe('encodings', () => {
  it.each([
    ['08-cyrillic-cp866.ftl', 'cp866'],
    ['09-cyrillic-cp1251.ftl', 'windows-1251'],
  ])('reads %s in %s: Cyrillic carrier, board point, group and names', async (name, encoding) => {
    const { records, rejects, verdicts } = await read(name, readFileSync(join(fixtures, name)), encoding);
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.record)).toMatchObject(expected);
    expect(records[0]!.record.flight).toMatchObject({
      carrier: 'ЮТ',
      number: '371',
      board: 'ВНК',
      date: '2024-08-15',
    });
    expect(records[0]!.record.message).toBe('ЮТ371/2024-08-15/ВНК');
    expect(verdicts[0]).toMatchObject({ verdict: 'accepted', meta: { encoding } });
  });

  it('reads the same passengers from UTF-8, CP866 and Windows-1251 bytes of one text', async () => {
    const text = iconv.decode(readFileSync(join(fixtures, '08-cyrillic-cp866.ftl')), 'cp866');
    const results = [];
    for (const encoding of ['utf-8', 'cp866', 'windows-1251']) {
      const { records } = await read('x.ftl', iconv.encode(text, encoding), encoding);
      results.push(records.map((r) => r.record));
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  it('reads UTF-8 characters split across chunks of any size', async () => {
    const bytes = readFileSync(join(fixtures, '04-cyrillic-utf8.ftl'));
    const whole = (await read('u.ftl', bytes)).records.map((r) => r.record);
    for (const size of [1, 2, 3, 5, 7, 64]) {
      expect((await read('u.ftl', bytes, 'utf-8', size)).records.map((r) => r.record)).toEqual(whole);
    }
  });

  it('ignores a UTF-8 byte order mark', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      readFileSync(join(fixtures, '01-simple.ftl')),
    ]);
    const { records, rejects } = await read('bom.ftl', bytes);
    expect(rejects).toEqual([]);
    expect(records).toHaveLength(3);
  });

  it('rejects the Cyrillic lines of a Windows-1251 file configured as UTF-8, as bad bytes', async () => {
    const { records, rejects, verdicts } = await read(
      'w.ftl',
      readFileSync(join(fixtures, '09-cyrillic-cp1251.ftl')),
      'utf-8',
    );
    expect(records).toEqual([]);
    expect(rejects.map((r) => r.reason)).toContain('MALFORMED_HEADER');
    expect(verdicts[0]!.verdict).toBe('rejected');
    const latinHeader = iconv
      .decode(readFileSync(join(fixtures, '09-cyrillic-cp1251.ftl')), 'windows-1251')
      .replace('ЮТ371/15AUG ВНК', 'XX371/15AUG VKO')
      .replace('-КЗН02Э', '-KZN02Y');
    const mixed = await read('m.ftl', iconv.encode(latinHeader, 'windows-1251'), 'utf-8');
    expect(mixed.records).toEqual([]);
    expect(mixed.rejects.map((r) => [r.line, r.reason])).toEqual([
      [6, 'BAD_ENCODING'],
      [7, 'NO_PASSENGER'],
      [8, 'NO_PASSENGER'],
      [9, 'BAD_ENCODING'],
      [10, 'NO_PASSENGER'],
      [11, 'NO_PASSENGER'],
    ]);
    expect(mixed.verdicts[0]!.verdict).toBe('accepted');
  });
});
