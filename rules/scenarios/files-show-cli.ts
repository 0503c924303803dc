/** `redeye files show` run against a scenario's database, as an accountant runs it after the night. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { main } from '../../cli/main.js';
import type { Scenario } from './scenario.js';

/** `redeye files show <id> [--json]` for the inbound file of `feed` named `name`; the command must succeed. */
export async function filesShow(w: Scenario, feed: string, name: string, json = true): Promise<string> {
  const config = join(w.w.dir, 'redeye.config.yaml');
  const example = resolve(import.meta.dirname, '../../examples/redeye.config.yaml');
  writeFileSync(config, readFileSync(example, 'utf8').replaceAll('../var/', './'));
  const file = await w.knex('files').where({ direction: 'in', feed, name }).first('id');
  const out: string[] = [];
  const code = await main(
    ['node', 'redeye', '--config', config, 'files', 'show', String(file.id), ...(json ? ['--json'] : [])],
    {
      output: { out: (s) => out.push(s), err: (s) => out.push(s) },
      env: { REDEYE_DATABASE_URL: w.w.t.url, REDEYE_LOG_LEVEL: 'silent' },
    },
  );
  expect(code, out.join('\n')).toBe(0);
  return out.join('\n');
}
