import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal's native core crashes under worker threads: one forked process per file.
    pool: 'forks',
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.data/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
