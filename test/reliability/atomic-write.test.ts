/**
 * writeFileAtomic under a hard crash: a child Node process writes a large file over an existing good one
 * and is killed with SIGKILL while the temporary file is being written (or fsynced). The target must
 * still hold the previous bytes exactly; a completed write must replace them exactly.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIG = 256 << 20; // 256 MiB: long enough to catch the writer in the middle
let dir = '';
let childScript = '';

/** The bytes the child writes: byte k = (k * 7 + seed) mod 251, cheap to generate and to check. */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = (k * 7 + seed) % 251;
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'irllrec-atomic-'));
  childScript = join(dir, 'writer.mjs');
  // The child imports the TypeScript source, bundled by esbuild (as bench/run.mjs does).
  const files = new URL('../../src/node/files.ts', import.meta.url).pathname;
  await build({
    stdin: {
      contents: `
        import { writeFileAtomic } from ${JSON.stringify(files)};
        const [path, size, seed] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
        const data = new Uint8Array(size);
        for (let k = 0; k < size; k++) data[k] = (k * 7 + seed) % 251;
        process.stdout.write('writing\\n');
        await writeFileAtomic(path, data);
        process.stdout.write('done\\n');
      `,
      resolveDir: dir,
      loader: 'ts',
    },
    outfile: childScript,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    loader: { '.wgsl': 'text' },
    external: ['webgpu'],
    logLevel: 'warning',
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer; with `killAtBytes`, SIGKILLs it once its temporary file holds that many bytes. */
function runWriter(path: string, size: number, seed: number, killAtBytes?: number): Promise<{ code: number | null; signal: string | null; tmpSizeAtKill: number; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [childScript, path, String(size), String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    let tmpSizeAtKill = -1;
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (killAtBytes !== undefined && stdout.includes('writing') && !timer) {
        const prefix = `${path.split('/').pop()}.tmp-`;
        const poll = () => {
          for (const name of readdirSync(dir)) {
            if (!name.startsWith(prefix)) continue;
            let s = 0;
            try {
              s = statSync(join(dir, name)).size;
            } catch {
              continue;
            }
            if (s >= killAtBytes) {
              tmpSizeAtKill = s;
              child.kill('SIGKILL');
              return;
            }
          }
          timer = setTimeout(poll, 0);
        };
        timer = setTimeout(poll, 0);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolvePromise({ code, signal, tmpSizeAtKill, stdout });
    });
  });
}

describe('writeFileAtomic survives SIGKILL', () => {
  it('a completed write replaces the file exactly (control)', async () => {
    const path = join(dir, 'control.bin');
    writeFileSync(path, pattern(1000, 1));
    const r = await runWriter(path, 3 << 20, 9);
    expect(r.code).toBe(0);
    expect(Buffer.compare(readFileSync(path), pattern(3 << 20, 9))).toBe(0);
    expect(readdirSync(dir).filter((n) => n.startsWith('control.bin.tmp-'))).toEqual([]);
  });

  for (const fraction of [0.05, 0.5, 0.9]) {
    it(`killed after ~${fraction * 100}% of a ${BIG >> 20} MiB write: the previous file is intact`, async () => {
      const path = join(dir, `target-${fraction}.bin`);
      const good = pattern(5 << 20, 3);
      writeFileSync(path, good);
      const r = await runWriter(path, BIG, 4, Math.floor(BIG * fraction));
      // It really died mid-write: by the signal, before finishing, with a partial temporary file.
      expect(r.signal).toBe('SIGKILL');
      expect(r.stdout).not.toContain('done');
      expect(r.tmpSizeAtKill).toBeGreaterThan(0);
      const after = readFileSync(path);
      expect(after.length).toBe(good.length);
      expect(Buffer.compare(after, good)).toBe(0);
      // The partial temporary file is left behind (a crash cannot clean up), under its own name only.
      for (const n of readdirSync(dir).filter((n) => n.startsWith(`target-${fraction}.bin.tmp-`))) rmSync(join(dir, n));
    });
  }
});
