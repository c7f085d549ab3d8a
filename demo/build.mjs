// Builds the demo into demo/dist/: main.ts bundled (minified, with a source map) by esbuild, with the
// package name `irllrec` resolved to src/index.ts exactly as a user's bundler resolves the installed
// package, WGSL inlined as text; index.html and style.css copied beside it.
//   node demo/build.mjs            (npm run demo:build)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const demoDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(demoDir, '..');

/** esbuild options shared by the build and the size report. */
export const demoBuildOptions = {
  absWorkingDir: repoRoot,
  entryPoints: ['demo/main.ts'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  loader: { '.wgsl': 'text' },
  alias: { irllrec: './src/index.ts' },
  // src/version.ts, as in the package build.
  define: { IRLLREC_VERSION: JSON.stringify(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version) },
  logLevel: 'warning',
};

/** Build into `outdir` (default demo/dist); returns the output directory. */
export async function buildDemo({ outdir = join(demoDir, 'dist'), minify = true } = {}) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  await build({ ...demoBuildOptions, outfile: join(outdir, 'main.js'), minify, sourcemap: 'linked' });
  for (const f of ['index.html', 'style.css']) copyFileSync(join(demoDir, f), join(outdir, f));
  return outdir;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const t0 = Date.now();
  const out = await buildDemo();
  console.log(`demo: built ${out} in ${Date.now() - t0} ms`);
}
