import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', 'var/**'],
    testTimeout: 60_000,
    globalSetup: ['test/harness/global-setup.ts'],
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
