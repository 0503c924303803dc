import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', 'var/**'],
    testTimeout: 60_000,
    globalSetup: ['test/harness/global-setup.ts'],
    hookTimeout: 120_000,
    pool: 'forks',
    // Most suites wait on a database, a server or a child process rather than the CPU: two workers on a
    // two-core machine (vitest's default would be one) keep the whole suite well inside CI's budget.
    maxWorkers: 2,
  },
});
