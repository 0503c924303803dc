/**
 * The order test files start in. vitest starts the files it has no timings for largest first, and a
 * clean checkout (CI) has none: the kill test and the fuzz run, small files that take two minutes and
 * one, then start near the end and run on while the other worker has nothing left to do. Started first,
 * they run beside the rest, and the suite ends up to a minute and a half sooner on a two-core machine.
 * Where vitest has timings of its own (a run before on this machine), its order stands after these.
 */
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Files much slower than their size says, slowest first (timings of a CI run on a two-core machine). */
export const SLOW_FILES = [
  'test/kill/kill.test.ts',
  'test/fuzz/fuzz.test.ts',
  'test/hostile-large.test.ts',
  'test/faults/concurrent.test.ts',
  'cli/commands/demo.test.ts',
  'test/faults/database.test.ts',
  'test/faults/sftp.test.ts',
  'demo/run.test.ts',
];

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const root = this.ctx.config.root;
    const rank = (file: TestSpecification) => {
      const at = SLOW_FILES.indexOf(relative(root, file.moduleId).split('\\').join('/'));
      return at === -1 ? SLOW_FILES.length : at;
    };
    // Stable: among the rest, vitest's own order.
    return sorted
      .map((file, i) => ({ file, i, rank: rank(file) }))
      .sort((a, b) => a.rank - b.rank || a.i - b.i)
      .map(({ file }) => file);
  }
}
