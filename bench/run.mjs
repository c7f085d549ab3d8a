// Runs a TypeScript script of this repo (a benchmark) with WGSL imported as text: bundles it with esbuild
// into .tmp/ and imports it. Usage: node bench/run.mjs bench/kernels.ts [args...]
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const entry = process.argv[2];
if (!entry) {
  console.error('usage: node bench/run.mjs FILE.ts [args...]');
  process.exit(2);
}
mkdirSync('.tmp', { recursive: true });
const outfile = resolve('.tmp', `${basename(entry).replace(/\.ts$/, '')}.bundle.mjs`);
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  loader: { '.wgsl': 'text' },
  external: ['webgpu', 'esbuild', '@tensorflow/*'],
  sourcemap: 'inline',
  logLevel: 'warning',
});
process.argv.splice(1, 2, outfile);
await import(pathToFileURL(outfile).href);
