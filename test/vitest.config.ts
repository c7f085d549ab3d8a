import { defineConfig } from 'vitest/config';
import { readFileSync } from 'node:fs';

// Import `.wgsl` files as text, as the esbuild build does.
const wgslAsText = {
  name: 'wgsl-as-text',
  transform(_code: string, id: string) {
    if (!id.endsWith('.wgsl')) return null;
    return { code: `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`, map: null };
  },
};

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig({
  root: new URL('..', import.meta.url).pathname,
  plugins: [wgslAsText],
  // As the build (.ci/build.mjs): src/version.ts reads it.
  define: { IRLLREC_VERSION: JSON.stringify(version) },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/browser/**', 'node_modules/**'],
    // Dawn is a native addon: one process per test file is more robust than worker threads.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
