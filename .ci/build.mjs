// Builds dist/: the browser-safe core (dist/index.js), the Node entry (dist/node.js) and the CLI
// (dist/cli.js), with WGSL files inlined as text. Type declarations come from `tsc` (npm run typecheck).
import { build } from 'esbuild';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';

const common = { bundle: true, format: 'esm', sourcemap: true, loader: { '.wgsl': 'text' }, logLevel: 'warning', target: 'es2022' };
// IRLLREC_DIST builds elsewhere (tests check the output without racing the real dist/).
const out = process.env.IRLLREC_DIST ?? 'dist';
mkdirSync(out, { recursive: true });
const jobs = [
  // typegpu reads process.env.NODE_ENV: fix it at build time so the core runs in a browser without a bundler.
  build({ ...common, entryPoints: ['src/index.ts'], outfile: `${out}/index.js`, platform: 'neutral', external: [], define: { 'process.env.NODE_ENV': '"production"' } }),
  build({ ...common, entryPoints: ['src/node/index.ts'], outfile: `${out}/node.js`, platform: 'node', external: ['webgpu'] }),
];
jobs.push(
  build({ ...common, entryPoints: ['src/node/bin.ts'], outfile: `${out}/cli.js`, platform: 'node', external: ['webgpu'], banner: { js: '#!/usr/bin/env node' } }),
);
await Promise.all(jobs);
chmodSync(`${out}/cli.js`, 0o755);
writeFileSync(`${out}/.stamp`, new Date().toISOString());
