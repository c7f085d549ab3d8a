/**
 * Shared test helpers: the GPU backend (a missing adapter is a failure, never a skip), seeded random
 * inputs, closeness checks with stated tolerances, and finite differences in float64.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { createBackend } from '../src/node/index.js';
import { type Backend, CpuBackend, type CpuArray, type Tensor, WebGpuBackend } from '../src/ops/tensor.js';
import { Rng } from '../src/util/random.js';

let shared: WebGpuBackend | null = null;

/**
 * The WebGPU backend on this machine's adapter (lavapipe in CI). Fails loudly when there is none:
 * GPU tests are never skipped. Shared by the tests of one file; destroyed by `afterAll` in callers
 * that need a fresh one.
 */
export async function gpu(): Promise<WebGpuBackend> {
  if (shared) return shared;
  let be: Backend;
  try {
    be = await createBackend({ backend: 'webgpu' });
  } catch (e) {
    throw new Error(
      `No WebGPU adapter: GPU tests need one. Run 'bash .ci/setup-system.sh' (installs Mesa's lavapipe from bookworm-backports). Cause: ${(e as Error).message}`,
    );
  }
  shared = be as WebGpuBackend;
  return shared;
}

export function cpu(precision: 'f32' | 'f64' = 'f64'): CpuBackend {
  return new CpuBackend({ precision });
}

export function rng(seed = 1234): Rng {
  return new Rng(seed);
}

/** n uniform values in [lo, hi). */
export function randArray(r: Rng, n: number, lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = r.uniform(lo, hi);
  return a;
}

export function randInts(r: Rng, n: number, max: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.int(max);
  return a;
}

/**
 * Random CSR with `rows` rows over `cols` columns, some rows empty, no duplicate (row, col).
 * With `symmetric` (rows === cols) the pattern is symmetric and `rev` gives each edge's reverse.
 */
export function randCsr(r: Rng, rows: number, cols: number, density = 0.3, emptyRows = true) {
  const rowPtr = new Uint32Array(rows + 1);
  const colIdx: number[] = [];
  for (let i = 0; i < rows; i++) {
    if (!(emptyRows && i % 5 === 2)) {
      for (let j = 0; j < cols; j++) if (r.next() < density) colIdx.push(j);
    }
    rowPtr[i + 1] = colIdx.length;
  }
  return { rows, cols, rowPtr, colIdx: Uint32Array.from(colIdx), values: randArray(r, colIdx.length, 0.1, 1) };
}

/** Bipartite symmetric graph over nu users + ni items (node ids: users then items) with reverse-edge index. */
export function randBipartite(r: Rng, nu: number, ni: number, density = 0.3) {
  const n = nu + ni;
  const adj: number[][] = Array.from({ length: n }, () => []);
  for (let u = 0; u < nu; u++) {
    if (u % 4 === 1) continue; // isolated users: empty rows
    for (let i = 0; i < ni; i++) if (r.next() < density) {
      adj[u].push(nu + i);
      adj[nu + i].push(u);
    }
  }
  for (const a of adj) a.sort((x, y) => x - y);
  const rowPtr = new Uint32Array(n + 1);
  for (let v = 0; v < n; v++) rowPtr[v + 1] = rowPtr[v] + adj[v].length;
  const colIdx = Uint32Array.from(adj.flat());
  const rev = new Uint32Array(colIdx.length);
  for (let h = 0; h < n; h++) {
    for (let e = rowPtr[h]; e < rowPtr[h + 1]; e++) {
      const t = colIdx[e];
      const k = adj[t].indexOf(h);
      rev[e] = rowPtr[t] + k;
    }
  }
  return { n, nu, ni, rowPtr, colIdx, rev };
}

/** Element-wise |a − b| ≤ atol + rtol·|b|, reporting the worst element. */
export function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: { atol?: number; rtol?: number } = {}, what = 'values'): void {
  const atol = tol.atol ?? 1e-5;
  const rtol = tol.rtol ?? 1e-4;
  expect(a.length, `${what}: length`).toBe(b.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i] - b[i]);
    const excess = diff - (atol + rtol * Math.abs(b[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} differs: ${a[worst]} vs ${b[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Read any tensor to a plain number array. */
export async function readAll(t: Tensor): Promise<CpuArray> {
  return t.backend.read(t);
}

/**
 * Central finite differences of a scalar function of a float64 array, at `indices` (default all).
 * `f` must be deterministic; `x` is restored after each probe.
 */
export function finiteDiff(f: () => number, x: Float64Array, h = 1e-6, indices?: number[]): Float64Array {
  const g = new Float64Array(x.length);
  const idx = indices ?? Array.from({ length: x.length }, (_, i) => i);
  for (const i of idx) {
    const x0 = x[i];
    x[i] = x0 + h;
    const fp = f();
    x[i] = x0 - h;
    const fm = f();
    x[i] = x0;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Gradient check: analytic vs numeric, relative to the gradient's scale. */
export function expectGradClose(analytic: ArrayLike<number>, numeric: ArrayLike<number>, what: string, rtol = 1e-6): void {
  let scale = 0;
  for (let i = 0; i < numeric.length; i++) scale = Math.max(scale, Math.abs(numeric[i]));
  expectClose(analytic, numeric, { atol: rtol * Math.max(scale, 1e-12), rtol: 1e-5 }, what);
}

/** Move host arrays to a backend: f32 tensors from float arrays. */
export function tensorsOn(be: Backend, arrays: Record<string, { data: ArrayLike<number>; shape: number[]; dtype?: 'f32' | 'u32' | 'i32' }>) {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(arrays)) out[k] = be.tensor(v.data, v.shape, v.dtype ?? 'f32', k);
  return out;
}

/**
 * The shared datasets folder: $IRLLREC_SHARED_DATA, else ../shared/data beside the repository; null when it
 * is not there (a fresh clone). A path named by IRLLREC_SHARED_DATA that does not exist is an error.
 */
export function sharedDataRoot(): string | null {
  const env = process.env.IRLLREC_SHARED_DATA;
  if (env !== undefined) {
    if (!existsSync(env)) throw new Error(`IRLLREC_SHARED_DATA=${env}: no such folder`);
    return env;
  }
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root (package.json) not found above the test file');
    dir = up;
  }
  const root = join(dir, '..', 'shared', 'data');
  return existsSync(root) ? root : null;
}

/** A file under the shared datasets folder (see sharedDataRoot); missing data is a failure. */
export function sharedData(...parts: string[]): string {
  const root = sharedDataRoot();
  if (root === null) throw new Error('shared test data missing: expected ../shared/data beside the repository, or set IRLLREC_SHARED_DATA');
  const path = join(root, ...parts);
  if (!existsSync(path)) throw new Error(`shared test data missing: ${path}`);
  return path;
}

/**
 * `it` for a test that needs the shared datasets. Without them (a fresh clone) it registers a test that
 * prints one line saying it was not run and why, and passes; under CI (CI set) missing data fails it, since
 * .ci/run provides the data.
 */
export function itWithData(title: string, fn: () => unknown, timeout?: number): void {
  if (sharedDataRoot() !== null) {
    it(title, fn, timeout);
    return;
  }
  it(`${title} (needs the shared datasets)`, () => {
    const why = 'the shared datasets are not here (../shared/data beside the repository, or set IRLLREC_SHARED_DATA)';
    if (process.env.CI) throw new Error(`${why}: CI must run this test`);
    console.warn(`not run: '${title}': ${why}`);
  });
}

/**
 * Tracks every GPUBuffer created on `device` from now on and not yet destroyed (pool, upload and readback
 * staging, uniform arena): catches buffers that bypass the pool's counters. Returns the live set.
 */
export function trackUndestroyedBuffers(device: GPUDevice): Set<GPUBuffer> {
  const undestroyed = new Set<GPUBuffer>();
  const createBuffer = device.createBuffer.bind(device);
  device.createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
    const buf = createBuffer(desc);
    undestroyed.add(buf);
    const destroy = buf.destroy.bind(buf);
    buf.destroy = () => {
      undestroyed.delete(buf);
      destroy();
    };
    return buf;
  };
  return undestroyed;
}

/**
 * Run the built CLI (`cli`, default dist/cli.js) with `args` in a child process; never throws: the exit code,
 * stdout and stderr come back (code 0 on success).
 */
export async function runCli(args: string[], opts: { cli?: string; env?: Record<string, string>; timeout?: number; maxBuffer?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  try {
    const r = await promisify(execFile)(process.execPath, [opts.cli ?? 'dist/cli.js', ...args], {
      maxBuffer: opts.maxBuffer ?? 1 << 24,
      timeout: opts.timeout ?? 300_000,
      env: { ...process.env, ...opts.env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
