import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../lib/errors.js';
import { parseConfig, resolveDatabaseUrl } from './load.js';

const examplePath = resolve(import.meta.dirname, '../examples/redeye.config.yaml');
const example = readFileSync(examplePath, 'utf8');

function problems(text: string): ConfigError {
  try {
    parseConfig(text, '/etc/redeye/redeye.config.yaml', {});
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('the example configuration (the demo program) is valid', () => {
    const config = parseConfig(example, examplePath, {});
    expect(config.program.code).toBe('XX');
    expect(config.tiers.levels.map((l) => [l.code, l.threshold])).toEqual([
      ['MEMBER', 0],
      ['SILVER', 1000],
      ['GOLD', 2500],
      ['PLATINUM', 5000],
    ]);
    expect(config.earning.air[0]!.basis).toBe('distance');
    expect(config.partners.find((p) => p.code === 'GRANDSTAY')!.contracts).toHaveLength(2);
  });

  it('relative paths are anchored at the configuration file, and REDEYE_DATABASE_URL overrides the file', () => {
    const config = parseConfig(example, examplePath, {});
    expect(config.database.url).toBe(`sqlite:${resolve(import.meta.dirname, '../var/redeye.sqlite')}`);
    const pg = parseConfig(example, examplePath, { REDEYE_DATABASE_URL: 'postgres://u:p@db/redeye' });
    expect(pg.database.url).toBe('postgres://u:p@db/redeye');
    expect(resolveDatabaseUrl('sqlite::memory:', '/x')).toBe('sqlite::memory:');
  });

  it('reports every problem at once, each with its path and line in the file', () => {
    const broken = example
      .replace('baseCurrency: USD', 'baseCurrency: dollars')
      .replace('{ code: GOLD, name: Gold, threshold: 2500 }', '{ code: GOLD, name: Gold, threshold: 900 }')
      .replace('source: inbox, remoteDir: flown', 'source: nowhere, remoteDir: flown');
    const err = problems(broken);
    const byPath = Object.fromEntries(err.problems.map((p) => [p.path, p]));
    expect(byPath['program.baseCurrency']!.message).toMatch(/ISO 4217/);
    expect(byPath['program.baseCurrency']!.line).toBe(
      example.split('\n').findIndex((l) => l.includes('baseCurrency')) + 1,
    );
    expect(byPath['tiers.levels[2].threshold']!.message).toMatch(/increase/);
    expect(byPath['feeds.flown.source']!.message).toMatch(/no transport named "nowhere"/);
    expect(err.exitCode).toBe(2);
    expect(err.describe()).toContain('tiers.levels[2].threshold');
  });

  it('refuses a secret written into the file where an environment variable name belongs', () => {
    const err = problems(example.replace('passwordEnv: REDEYE_SMTP_PASSWORD', 'passwordEnv: "hunter2 "'));
    expect(err.problems.map((p) => p.path)).toContain('mail.smtp.passwordEnv');
  });

  it('refuses two contracts of one partner in force on the same day for the same activity type', () => {
    const err = problems(example.replace('validTo: 2026-06-30', 'validTo: 2026-07-01'));
    const problem = err.problems.find((p) => p.path === 'partners[0].contracts[1].validFrom');
    expect(problem?.message).toBe(
      'contracts GRANDSTAY-2024 and GRANDSTAY-2026 of GRANDSTAY are both in force on some dates for STAY; end one before the other begins',
    );
  });

  it('names the line of a YAML syntax error', () => {
    const err = problems('program:\n  code: XX\n   name: broken indentation\n');
    expect(err.message).toMatch(/not valid YAML/);
    expect(err.problems[0]!.line).toBeGreaterThan(0);
  });
});
