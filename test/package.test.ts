import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

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

  it('the built core (dist/index.js) reads no Node global', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const out = mkdtempSync(`${tmpdir()}/irllrec-dist-`);
    execFileSync(process.execPath, ['.ci/build.mjs'], { env: { ...process.env, IRLLREC_DIST: out } });
    const text = readFileSync(`${out}/index.js`, 'utf8');
    expect(text).not.toMatch(/\bprocess\.(env|argv|versions)/);
    expect(text).not.toMatch(/from\s*["']node:/);
  });

  it('every WGSL kernel is bundled as text into the core entry', async () => {
    const r = await build({ entryPoints: ['src/index.ts'], bundle: true, write: false, platform: 'browser', format: 'esm', loader: { '.wgsl': 'text' }, logLevel: 'silent', metafile: true });
    const wgsl = Object.keys(r.metafile!.inputs).filter((p) => p.endsWith('.wgsl'));
    expect(wgsl.length).toBeGreaterThanOrEqual(20);
  });
});
