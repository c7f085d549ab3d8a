import { defineConfig } from 'vitest/config';

// Browser tests (npm run test:browser): build the demo, serve it, drive Debian's Chromium with
// playwright-core. Separate from the unit tests (test/vitest.config.ts excludes test/browser/**).
export default defineConfig({
  root: new URL('../..', import.meta.url).pathname,
  test: {
    include: ['test/browser/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    // On a software WebGPU adapter one IRLLRec step takes seconds; the whole file stays within a few minutes.
    testTimeout: 240_000,
    hookTimeout: 120_000,
  },
});
