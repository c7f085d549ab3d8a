// Builds dist/: the browser-safe core (dist/index.js, with typegpu and the WGSL files inlined), the Node entry
// (dist/node.js) and the CLI (dist/cli.js), and the type declarations (dist/types, by tsc).
// One library: node.js imports the core from ./index.js and cli.js imports both entries, instead of each
// bundling its own copy (one IrllrecError class, one typegpu). The `linkTo` plugin below turns every import of
// a module that an earlier entry already contains into an import of that entry; the names it imports must
// then be exported by that entry, which the check at the end verifies by loading the built files.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = createRequire(import.meta.url)('../package.json');
const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  sourcemap: true,
  loader: { '.wgsl': 'text' },
  logLevel: 'warning',
  target: 'es2022',
  metafile: true,
  define: { IRLLREC_VERSION: JSON.stringify(pkg.version) },
};
// IRLLREC_DIST builds elsewhere (tests check the output without racing the real dist/).
const out = resolve(root, process.env.IRLLREC_DIST ?? 'dist');
mkdirSync(out, { recursive: true });

/** Imports of the source files in `modules` (absolute paths) become external imports of `entry` ('./index.js'). */
function linkTo(links) {
  return {
    name: 'link-to-entries',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        const path = resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
        for (const { modules, entry } of links) if (modules.has(path)) return { path: entry, external: true };
        return undefined;
      });
    },
  };
}
const sourcesOf = (result) => new Set(Object.keys(result.metafile.inputs).filter((p) => p.startsWith('src/')).map((p) => resolve(root, p)));

// typegpu reads process.env.NODE_ENV: fix it at build time so the core runs in a browser without a bundler.
const core = await build({
  ...common,
  entryPoints: ['src/index.ts'],
  outfile: `${out}/index.js`,
  platform: 'neutral',
  define: { ...common.define, 'process.env.NODE_ENV': '"production"' },
});
const toCore = { modules: sourcesOf(core), entry: './index.js' };
const node = await build({ ...common, entryPoints: ['src/node/index.ts'], outfile: `${out}/node.js`, platform: 'node', external: ['webgpu'], plugins: [linkTo([toCore])] });
const toNode = { modules: new Set([...sourcesOf(node)].filter((p) => !toCore.modules.has(p))), entry: './node.js' };
await build({
  ...common,
  entryPoints: ['src/node/bin.ts'],
  outfile: `${out}/cli.js`,
  platform: 'node',
  external: ['webgpu'],
  banner: { js: '#!/usr/bin/env node' },
  plugins: [linkTo([toCore, toNode])],
});
chmodSync(`${out}/cli.js`, 0o755);

// Declarations for both entries (package.json `types` / `exports`), without the CLI's internals.
rmSync(`${out}/types`, { recursive: true, force: true });
execFileSync(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', root, '--outDir', `${out}/types`], { stdio: 'inherit' });
for (const f of readdirSync(`${out}/types/node`)) if (/^(bin|cli)(-[\w-]+)?\.d\.ts$/.test(f)) rmSync(`${out}/types/node/${f}`);
// The entries' declarations name GPUDevice & co.: point consumers at @webgpu/types (a dependency), which tsc
// does not do for types that come from tsconfig's `types`.
for (const f of ['index.d.ts', 'node/index.d.ts']) {
  const path = `${out}/types/${f}`;
  writeFileSync(path, `/// <reference types="@webgpu/types" />\n${readFileSync(path, 'utf8')}`);
}

// Every name node.js and cli.js import from the other entries exists (an ESM link error otherwise).
await import(pathToFileURL(`${out}/node.js`).href);
execFileSync(process.execPath, [`${out}/cli.js`, '--help'], { stdio: 'ignore' });
writeFileSync(`${out}/.stamp`, new Date().toISOString());
