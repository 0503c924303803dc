/**
 * The version `redeye --version` prints: the package's own, read from its package.json, which sits two
 * folders above the built CLI (dist/cli) and one above the sources (cli) the tests run.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function redeyeVersion(from: string = import.meta.dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'redeye' && pkg.version) return pkg.version;
    } catch {
      // No package.json here, or not ours: look further up.
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}
