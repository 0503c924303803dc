/**
 * Once per test run: a PostgreSQL cluster for every suite that runs on both databases. With CI=true a
 * missing PostgreSQL fails the run; elsewhere those suites are skipped with a printed notice.
 */
import type { TestProject } from 'vitest/node';
import { findPgBin, startPgCluster, type PgCluster } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const ci = process.env.CI === 'true';
  let cluster: PgCluster | undefined;
  let url: string | null = process.env.REDEYE_TEST_PG_URL ?? null;
  if (!url) {
    if (!findPgBin()) {
      if (ci) throw new Error('CI=true but PostgreSQL is not installed: the PostgreSQL suites cannot run');
      console.warn(
        '[redeye tests] PostgreSQL not found: PostgreSQL suites are skipped (install postgresql to run them)',
      );
    } else {
      cluster = await startPgCluster();
      url = cluster.url;
    }
  }
  project.provide('pgUrl', url);
  return async () => {
    await cluster?.stop();
  };
}
