import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestSpecification, Vitest } from 'vitest/node';
import { SLOW_FILES, SlowFirstSequencer } from './slow-first.js';

describe('the order test files start in', () => {
  /** A clean checkout's vitest: no timings, each file's size known. */
  const sizes: Record<string, number> = {
    '/repo/rules/scenarios/flights.test.ts': 90_000,
    '/repo/lib/chunks.test.ts': 900,
    '/repo/test/kill/kill.test.ts': 5_500,
    '/repo/test/fuzz/fuzz.test.ts': 2_500,
    '/repo/reports/daily.test.ts': 30_000,
  };
  const project = { name: '', config: { sequence: { groupOrder: 0 }, isolate: true } };
  const ctx = {
    config: { root: '/repo' },
    cache: {
      getFileTestResults: () => undefined,
      getFileStats: (key: string) => ({ size: sizes[`/repo/${key.slice(1)}`] }),
    },
  } as unknown as Vitest;
  const spec = (moduleId: string) => ({ moduleId, project }) as unknown as TestSpecification;

  it('starts the kill test and the fuzz run first, then the rest largest first, as vitest would', async () => {
    const order = await new SlowFirstSequencer(ctx).sort(Object.keys(sizes).map(spec));
    expect(order.map((s) => s.moduleId)).toEqual([
      '/repo/test/kill/kill.test.ts',
      '/repo/test/fuzz/fuzz.test.ts',
      '/repo/rules/scenarios/flights.test.ts',
      '/repo/reports/daily.test.ts',
      '/repo/lib/chunks.test.ts',
    ]);
  });

  it('names files that exist', () => {
    for (const file of SLOW_FILES)
      expect(existsSync(resolve(import.meta.dirname, '../..', file)), file).toBe(true);
  });
});
