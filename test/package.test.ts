/**
 * The package as people install it: `npm pack` of a fresh build, installed OFFLINE into two temporary apps
 * (a browser-only app without `webgpu`, and a Node app with it), then used as an app would: both entries,
 * `instanceof` across them, `tsc` on a consumer (node16 and bundler resolution, no skipLibCheck), the `bin`,
 * and a browser bundle of the core. The apps get @webgpu/types (irllrec's one dependency) as a tarball packed
 * from this repository's node_modules, and `webgpu` as a link to it: nothing comes from the network.
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const npm = (args: string[], cwd: string) => run('npm', [...args, '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd, maxBuffer: 1 << 24 });
const tsc = join(repo, 'node_modules/typescript/bin/tsc');

describe('package entries', () => {
  it('the core entry bundles for the browser without any Node module', async () => {
    const r = await build({
      entryPoints: ['src/index.ts'],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      loader: { '.wgsl': 'text' },
      logLevel: 'silent',
      metafile: true,
    });
    const inputs = Object.keys(r.metafile!.inputs);
    expect(inputs.some((p) => p.startsWith('src/node/'))).toBe(false);
    expect(inputs.some((p) => p.includes('node_modules/webgpu/'))).toBe(false);
    const text = r.outputFiles[0].text;
    expect(text).not.toMatch(/from\s*["']node:/);
    expect(text).not.toMatch(/require\(["'](fs|path|node:)/);
    // Node globals break in the browser too (e.g. reading process.env in a kernel wrapper).
    expect(text).not.toMatch(/\bprocess\.(env|argv|versions)/);
  });

  it('every WGSL kernel is bundled as text into the core entry', async () => {
    const r = await build({ entryPoints: ['src/index.ts'], bundle: true, write: false, platform: 'browser', format: 'esm', loader: { '.wgsl': 'text' }, logLevel: 'silent', metafile: true });
    const wgsl = Object.keys(r.metafile!.inputs).filter((p) => p.endsWith('.wgsl'));
    expect(wgsl.length).toBeGreaterThanOrEqual(20);
  });
});

describe('the packed tarball, installed offline into an app', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'irllrec-pack-'));
  const stage = join(tmp, 'pkg');
  const browserApp = join(tmp, 'browser-app');
  const nodeApp = join(tmp, 'node-app');
  let files: string[] = [];

  beforeAll(async () => {
    // Stage the package files and build into the stage (the real dist/ is used by other test files meanwhile).
    mkdirSync(stage);
    for (const f of ['package.json', 'README.md', 'LICENSE', 'shaders', 'bench/README.md']) cpSync(join(repo, f), join(stage, f), { recursive: true });
    execFileSync(process.execPath, ['.ci/build.mjs'], { cwd: repo, env: { ...process.env, IRLLREC_DIST: join(stage, 'dist') }, stdio: 'ignore' });
    const packed = JSON.parse((await npm(['pack', '--json', '--pack-destination', tmp], stage)).stdout)[0];
    files = packed.files.map((f: { path: string }) => f.path);
    const types = JSON.parse((await npm(['pack', '--json', '--pack-destination', tmp, join(repo, 'node_modules/@webgpu/types')], tmp)).stdout)[0];
    for (const app of [browserApp, nodeApp]) {
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
      await npm(['install', join(tmp, packed.filename), join(tmp, types.filename)], app);
    }
    // The Node app's `npm install webgpu`, from this repository's copy.
    symlinkSync(join(repo, 'node_modules/webgpu'), join(nodeApp, 'node_modules/webgpu'), 'dir');
  }, 180_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true })); // the link to webgpu goes, not its target

  it('ships the entries, their declarations, the shaders, README and LICENSE; no CLI internals, no sources', () => {
    for (const f of ['dist/index.js', 'dist/node.js', 'dist/cli.js', 'dist/types/index.d.ts', 'dist/types/node/index.d.ts', 'README.md', 'LICENSE', 'package.json']) expect(files).toContain(f);
    expect(files.filter((f) => f.startsWith('shaders/')).length).toBeGreaterThanOrEqual(20);
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('dist/types/node/cli') || f === 'dist/.stamp')).toEqual([]);
    // Every relative link in the packaged Markdown points at a packaged file (links work on npm and in node_modules).
    for (const md of files.filter((f) => f.endsWith('.md'))) {
      for (const [, target] of readFileSync(join(stage, md), 'utf8').matchAll(/\]\(([^)#\s]+)[^)]*\)/g)) {
        if (/^[a-z]+:/i.test(target)) continue;
        expect(files, `${md} links to ${target}`).toContain(join(dirname(md), target));
      }
    }
    expect(readFileSync(join(stage, 'dist/types/index.d.ts'), 'utf8')).toMatch(/^\/\/\/ <reference types="@webgpu\/types" \/>/);
    // A browser-only app gets no Dawn: webgpu is an optional peer, not a dependency.
    expect(readdirSync(join(browserApp, 'node_modules')).filter((f) => !f.startsWith('.')).sort()).toEqual(['@webgpu', 'irllrec']);
  });

  it('one library: node.js and cli.js import the core; IrllrecError is one class across the entries', async () => {
    const node = readFileSync(join(stage, 'dist/node.js'), 'utf8');
    expect(node).toMatch(/from "\.\/index\.js"/);
    expect(node).not.toMatch(/class IrllrecError|typegpu/);
    expect(readFileSync(join(stage, 'dist/cli.js'), 'utf8')).toMatch(/from "\.\/node\.js"/);
    const script = `
      import * as core from 'irllrec';
      import * as node from 'irllrec/node';
      const e = await node.loadDatasetDir('/nonexistent/irllrec-dir').catch((x) => x);
      const be = await node.createBackend({ backend: 'webgpu' });
      console.log(JSON.stringify({ same: core.IrllrecError === node.IrllrecError, instance: e instanceof core.IrllrecError, name: e.name, backend: be.kind, version: core.VERSION }));
      be.destroy();`;
    const r = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: nodeApp });
    const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
    expect(JSON.parse(r.stdout)).toEqual({ same: true, instance: true, name: 'IrllrecError', backend: 'webgpu', version });
    expect(r.stderr).not.toMatch(/duplicate/i);
  });

  it('without webgpu installed, irllrec/node says how to get it (and auto falls back to the CPU)', async () => {
    const script = `
      import { IrllrecError } from 'irllrec';
      import { createBackend } from 'irllrec/node';
      const e = await createBackend({ backend: 'webgpu' }).catch((x) => x);
      const notices = [];
      const be = await createBackend({ onNotice: (m) => notices.push(m) });
      console.log(JSON.stringify({ instance: e instanceof IrllrecError, code: e.code, message: e.message, auto: be.kind, notices }));`;
    const out = JSON.parse((await run(process.execPath, ['--input-type=module', '-e', script], { cwd: browserApp })).stdout);
    expect(out).toMatchObject({ instance: true, code: 'no-adapter', auto: 'cpu' });
    expect(out.message).toMatch(/npm install webgpu.*browser apps do not need it/);
    expect(out.notices).toHaveLength(1);
    expect(out.notices[0]).toMatch(/npm install webgpu.*using the CPU backend/);
  });

  for (const resolution of ['node16', 'bundler'] as const) {
    it(`a TypeScript consumer and the README's examples type-check with moduleResolution ${resolution}, without skipLibCheck`, async () => {
      const dir = join(browserApp, `ts-${resolution}`);
      mkdirSync(dir);
      writeFileSync(
        join(dir, 'main.ts'),
        [
          "import { IrllrecError, Recommender, parseModelFile, type ModelFile, type Recommendation } from 'irllrec';",
          "import { createBackend, loadDatasetDir } from 'irllrec/node';",
          'export async function top(bytes: Uint8Array, dir: string): Promise<Recommendation> {',
          "  const be = await createBackend({ backend: 'auto' });",
          '  const file: ModelFile = parseModelFile(bytes);',
          '  const rec = await Recommender.load(bytes, { backend: be });',
          '  const device: GPUDevice | undefined = undefined; // @webgpu/types comes with irllrec',
          '  void device; void (await loadDatasetDir(dir)).numUsers;',
          "  if (file.numUsers === 0) throw new IrllrecError('data', 'empty');",
          '  return rec.recommend(0, { k: 10 });',
          '}',
        ].join('\n'),
      );
      // The README's TypeScript examples, each as a module of its own.
      const snippets = [...readFileSync(join(repo, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m, i) => {
        writeFileSync(join(dir, `readme-${i}.ts`), `${m[1]}export {};\n`);
        return `readme-${i}.ts`;
      });
      expect(snippets.length).toBeGreaterThanOrEqual(4);
      const module = resolution === 'node16' ? 'node16' : 'esnext';
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'es2022', module, moduleResolution: resolution, strict: true, noEmit: true, skipLibCheck: false, types: [] }, files: ['main.ts', ...snippets] }));
      const r = await run(process.execPath, [tsc, '-p', dir]).catch((e: { stdout: string }) => e);
      expect(r.stdout).toBe('');
    });
  }

  it('the bin runs: irllrec --help', async () => {
    const r = await run(join(nodeApp, 'node_modules/.bin/irllrec'), ['--help']);
    expect(r.stdout).toMatch(/^irllrec — IRLLRec/);
  });

  it('a browser bundle of the installed core has no Node built-in and no Node global', async () => {
    writeFileSync(join(browserApp, 'web.js'), "import { Recommender, createBackend } from 'irllrec';\nexport { Recommender, createBackend };\n");
    const r = await build({ absWorkingDir: browserApp, entryPoints: ['web.js'], bundle: true, write: false, platform: 'browser', format: 'esm', logLevel: 'silent', metafile: true });
    expect(Object.keys(r.metafile.inputs).filter((p) => !p.startsWith('node_modules/irllrec/dist/index.js') && p !== 'web.js')).toEqual([]);
    expect(r.outputFiles[0].text).not.toMatch(/from\s*["']node:|require\(["']|\bprocess\.(env|argv|versions)/);
  });
});
