// Builds dist/: the browser-safe core (dist/index.js), the Node entry (dist/node.js) and the CLI
// (dist/cli.js), with WGSL files inlined as text. Type declarations come from `tsc` (npm run typecheck).
import { build } from 'esbuild';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';

const common = { bundle: true, format: 'esm', sourcemap: true, loader: { '.wgsl': 'text' }, logLevel: 'warning', target: 'es2022' };
mkdirSync('dist', { recursive: true });
const jobs = [
  build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/index.js', platform: 'neutral', external: [] }),
  build({ ...common, entryPoints: ['src/node/index.ts'], outfile: 'dist/node.js', platform: 'node', external: ['webgpu'] }),
];
jobs.push(
  build({ ...common, entryPoints: ['src/node/bin.ts'], outfile: 'dist/cli.js', platform: 'node', external: ['webgpu'], banner: { js: '#!/usr/bin/env node' } }),
);
await Promise.all(jobs);
chmodSync('dist/cli.js', 0o755);
writeFileSync('dist/.stamp', new Date().toISOString());
