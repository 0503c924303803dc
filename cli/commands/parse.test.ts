/**
 * `redeye parse` reads files as the night does and prints records, rejects and a summary as JSON lines,
 * with or without a configuration; what a feed cannot be read without is asked for by name.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../main.js';

const HOTEL = resolve(import.meta.dirname, '../../parsers/fixtures/xml/hotel-stays.xml');
const example = readFileSync(resolve(import.meta.dirname, '../../examples/redeye.config.yaml'), 'utf8');

describe('redeye parse', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-parse-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function redeye(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    // No configuration at the default location: the folder is empty and REDEYE_CONFIG unset.
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const code = await main(['node', 'redeye', ...args], {
        output: { out: (s) => out.push(s), err: (s) => err.push(s) },
        env: { REDEYE_LOG_LEVEL: 'silent' },
      });
      return { code, lines: out, err: err.join('\n') };
    } finally {
      process.chdir(cwd);
    }
  }
  const summaryOf = (lines: string[]) => JSON.parse(lines.at(-1)!) as Record<string, unknown>;

  it('asks for the program a hotel file is read for when there is no configuration, naming --program', async () => {
    const r = await redeye(['parse', 'hotel', HOTEL]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      "error [USAGE]: parse hotel needs the program's code to tell our members' stays from other programs': give --program CODE, or a configuration (program.code)",
    );
    const given = await redeye(['parse', 'hotel', '--program', 'RE', HOTEL]);
    expect(given.code, given.err).toBe(0);
    const records = given.lines
      .map((l) => JSON.parse(l) as { type: string; record?: { own?: boolean } })
      .filter((e) => e.type === 'record');
    expect(records.length).toBeGreaterThan(0);
    expect(records.some((e) => e.record?.own === true)).toBe(true);
    expect(summaryOf(given.lines)).toMatchObject({ type: 'summary', records: records.length });
  });

  it('takes the program from the configuration when there is one', async () => {
    const config = join(dir, 'redeye.config.yaml');
    writeFileSync(config, example);
    const r = await redeye(['--config', config, 'parse', 'hotel', HOTEL]);
    expect(r.code, r.err).toBe(0);
    expect(summaryOf(r.lines)).toMatchObject({ type: 'summary' });
  });

  it('refuses a feed it does not know, naming the feeds it reads', async () => {
    const r = await redeye(['parse', 'coupons', HOTEL]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown feed .*coupons.*flown/);
  });
});
