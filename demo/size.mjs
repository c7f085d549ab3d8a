// Bundle size report: the core library entry (src/index.ts, everything a browser app gets from
// `import … from 'irllrec'`) and the whole demo, each bundled and minified by esbuild and gzipped
// (level 9) with node:zlib. Also: how much of the core is WGSL source, and the core's size when an app
// imports only the serving API (tree-shaken), and how much of each is WGSL text or dependencies.
//   node demo/size.mjs [--json]    (npm run demo:size)
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { demoBuildOptions, repoRoot } from './build.mjs';

const common = { absWorkingDir: repoRoot, bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', loader: { '.wgsl': 'text' }, logLevel: 'warning', metafile: true };

async function measure(name, options) {
  const plain = await build({ ...common, ...options, minify: false });
  const min = await build({ ...common, ...options, minify: true });
  const bytes = min.outputFiles[0].contents;
  const inputs = Object.entries(min.metafile.outputs)[0][1].inputs;
  let wgsl = 0;
  let deps = 0;
  const nodeInputs = [];
  for (const [path, v] of Object.entries(inputs)) {
    if (path.endsWith('.wgsl')) wgsl += v.bytesInOutput;
    if (path.includes('node_modules/')) deps += v.bytesInOutput;
    if (path.startsWith('src/node/') || path.includes('node_modules/webgpu/')) nodeInputs.push(path);
  }
  return {
    name,
    bundled: plain.outputFiles[0].contents.length,
    minified: bytes.length,
    gzipped: gzipSync(bytes, { level: 9 }).length,
    wgslMinified: wgsl,
    dependenciesMinified: deps,
    modules: Object.keys(inputs).length,
    nodeInputs,
  };
}

const results = [
  await measure('core (irllrec: src/index.ts, whole API)', { entryPoints: ['src/index.ts'] }),
  await measure('core, serving only (Recommender)', {
    stdin: { contents: "export { Recommender } from './src/index.ts';", resolveDir: repoRoot, loader: 'ts', sourcefile: 'serve-only.ts' },
  }),
  await measure('demo (demo/main.ts with the library)', { entryPoints: demoBuildOptions.entryPoints, alias: demoBuildOptions.alias }),
];

if (process.argv.includes('--json')) console.log(JSON.stringify(results, null, 2));
else {
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log('| bundle | minified | minified + gzip | of which WGSL | of which dependencies (typegpu, …) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${kib(r.minified)} | ${kib(r.gzipped)} | ${kib(r.wgslMinified)} | ${kib(r.dependenciesMinified)} |`);
  console.log('(esbuild --minify, gzip -9 via node:zlib; WGSL and dependency shares are of the minified size)');
}
const leaked = results.filter((r) => !r.name.startsWith('demo') && r.nodeInputs.length);
if (leaked.length) {
  console.error(`size: the core entry pulled in Node modules: ${leaked.flatMap((r) => r.nodeInputs).join(', ')}`);
  process.exit(1);
}
