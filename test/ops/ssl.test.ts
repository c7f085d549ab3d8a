import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { GpuContext } from '../../src/gpu/device.js';
import { createBackend } from '../../src/node/index.js';
import { sslContrastive, sslContrastiveCpu } from '../../src/ops/ssl.js';
import { type Backend, WebGpuBackend } from '../../src/ops/tensor.js';
import type { Rng } from '../../src/util/random.js';
import { cpu, expectClose, expectGradClose, finiteDiff, gpu, rng } from '../helpers.js';

/** Rows with different norms; y is a noisy copy of x (so the diagonal logits stand out, as in training). */
function inputs(r: Rng, n: number, d: number, noise = 0.5) {
  const x = new Float64Array(n * d);
  const y = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const scale = 0.1 + 3 * r.next();
    for (let c = 0; c < d; c++) {
      x[i * d + c] = scale * r.normal();
      y[i * d + c] = x[i * d + c] * (1 + noise * r.normal()) + 0.1 * r.normal();
    }
  }
  return { x, y };
}

interface Result {
  loss: number;
  gX: number[];
  gY: number[];
}

/** Runs the op on `be` with gradients accumulated onto known starting values, and a pre-filled loss vector. */
async function run(be: Backend, n: number, d: number, x: ArrayLike<number>, y: ArrayLike<number>, tau: number, scale: number, accumulate: boolean): Promise<Result> {
  const X = be.tensor(x, [n, d], 'f32', 'x');
  const Y = be.tensor(y, [n, d], 'f32', 'y');
  const out = be.tensor([0.5, 0.25, -1], [3], 'f32', 'loss');
  const start = Array.from({ length: n * d }, (_, i) => (accumulate ? Math.sin(i) : 12345)); // garbage when overwriting
  const gX = be.tensor(start, [n, d], 'f32', 'gX');
  const gY = be.tensor(start, [n, d], 'f32', 'gY');
  const live = () => (be.kind === 'webgpu' ? (be as WebGpuBackend).poolStats.liveBuffers : 0);
  const before = live();
  sslContrastive(be, X, Y, out, 1, { tau, scale, gX, gY, accumulate });
  expect(live(), 'scratch buffers go back to the pool').toBe(before);
  const o = await be.read(out);
  expect(o[0]).toBe(0.5);
  expect(o[2]).toBe(-1);
  const res = { loss: o[1] - 0.25, gX: Array.from(await be.read(gX)), gY: Array.from(await be.read(gY)) };
  return res;
}

/** Gradient comparison relative to the gradient's largest entry (f32 sums over N terms on the GPU). */
function expectGradsMatch(a: ArrayLike<number>, b: ArrayLike<number>, what: string, rel = 3e-5): void {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]));
  expectClose(a, b, { atol: rel * m + 1e-8, rtol: 1e-4 }, what);
}

describe('sslContrastive (all-pairs contrastive, tiled)', () => {
  afterAll(async () => (await gpu()).destroy());

  const cases: [number, number, number, boolean][] = [
    [1, 5, 1, false],
    [7, 5, 1, true],
    [7, 32, 0.2, false],
    [300, 5, 0.2, true],
    [300, 32, 1, false],
    [1031, 32, 1, true],
    [1031, 5, 0.2, false],
    [71, 33, 0.2, true], // 32 < d ≤ 64: 16 vec4 per row held, tiles of 16 rows
    [101, 48, 1, false],
    [131, 64, 0.2, true],
    [70, 130, 0.2, true], // d > 64: several output-column chunks, d not a multiple of 16
  ];
  for (const [n, d, tau, accumulate] of cases) {
    it(`GPU matches the CPU twin: N=${n}, d=${d}, τ=${tau}, ${accumulate ? 'accumulating' : 'overwriting'}`, async () => {
      const r = rng(n * 131 + d);
      const { x, y } = inputs(r, n, d);
      const scale = 0.7 / n;
      const resG = await run(await gpu(), n, d, x, y, tau, scale, accumulate);
      const resC = await run(cpu('f64'), n, d, x, y, tau, scale, accumulate);
      // loss: mean of N terms of size ≤ log N + 2/τ, in f32
      expect(Math.abs(resG.loss - resC.loss)).toBeLessThan(2e-5 * Math.max(1, Math.abs(resC.loss)));
      expectGradsMatch(resG.gX, resC.gX, 'gX');
      expectGradsMatch(resG.gY, resC.gY, 'gY');
    });
  }

  it('large logits (τ = 0.01, |s| ≤ 100, where a naive exp overflows f32) stay finite and match', async () => {
    const n = 97;
    const d = 8;
    const r = rng(77);
    const { x, y } = inputs(r, n, d, 0.3);
    const g = await run(await gpu(), n, d, x, y, 0.01, 1 / n, false);
    const c = await run(cpu('f64'), n, d, x, y, 0.01, 1 / n, false);
    expect(Number.isFinite(g.loss)).toBe(true);
    expect(Math.abs(g.loss - c.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(c.loss)));
    // logits are 100× larger: f32 rounding of s_ij is amplified by 1/τ in exp
    expectGradsMatch(g.gX, c.gX, 'gX', 1e-4);
    expectGradsMatch(g.gY, c.gY, 'gY', 1e-4);
    for (const v of g.gX) expect(Number.isFinite(v)).toBe(true);
  });

  it('zero rows and rows below the 1e-12 norm threshold give the same values on both backends', async () => {
    const n = 41;
    const d = 6;
    const r = rng(3);
    const { x, y } = inputs(r, n, d);
    for (let c = 0; c < d; c++) {
      x[2 * d + c] = 0; // zero row of x
      y[5 * d + c] = 0; // zero row of y
      x[9 * d + c] = 0;
      y[9 * d + c] = 0; // both zero: s_ii = 0
      x[11 * d + c] = 0;
    }
    x[11 * d + 1] = 3e-13; // ‖x_11‖ < 1e-12: x̂ = x/1e-12 (not unit), gradient g/1e-12
    const g = await run(await gpu(), n, d, x, y, 1, 1 / n, false);
    const c = await run(cpu('f64'), n, d, x, y, 1, 1 / n, false);
    expect(Math.abs(g.loss - c.loss)).toBeLessThan(2e-5 * Math.abs(c.loss));
    // the twin's loss against a direct O(N²) evaluation of the spec's formula (no max-shift)
    expect(c.loss).toBeCloseTo(directLoss(n, d, x, y, 1) / n, 10);
    // gradient rows of zero vectors are g/1e-12: compare relative to each row's own scale
    for (const row of [2, 9, 11]) {
      expectGradsMatch(g.gX.slice(row * d, row * d + d), c.gX.slice(row * d, row * d + d), `gX row ${row}`, 1e-4);
    }
    const rest = (a: number[]) => a.filter((_, i) => ![2, 9, 11].includes(Math.floor(i / d)));
    expectGradsMatch(rest(g.gX), rest(c.gX), 'gX (other rows)');
  });

  it('the tiling used on hardware GPUs (one row per invocation) matches the CPU twin too', async () => {
    // A backend on a device of its own that describes its adapter as a hardware GPU, so the op picks the GPU
    // tiling (one row per invocation, 64 per workgroup; 32 for 32 < d ≤ 64) on this machine's software adapter too.
    const owner = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
    const info = { vendor: 'test', architecture: 'discrete', device: 'hardware-like', description: '' } as unknown as GPUAdapterInfo;
    const be = new WebGpuBackend(GpuContext.fromDevice(owner.device, info));
    expect(be.ctx.adapter.isSoftware).toBe(false);
    try {
      for (const [n, d, tau, accumulate] of [
        [300, 32, 0.2, true],
        [97, 8, 0.01, false],
        [70, 40, 0.5, false],
        [101, 64, 0.2, true],
        [45, 80, 0.5, false],
      ] as const) {
        const r = rng(n * 17 + d);
        const { x, y } = inputs(r, n, d);
        const scale = 0.7 / n;
        const resG = await run(be, n, d, x, y, tau, scale, accumulate);
        const resC = await run(cpu('f64'), n, d, x, y, tau, scale, accumulate);
        expect(Math.abs(resG.loss - resC.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(resC.loss)));
        const rel = tau < 0.1 ? 1e-4 : 3e-5;
        expectGradsMatch(resG.gX, resC.gX, `gX (N=${n}, d=${d})`, rel);
        expectGradsMatch(resG.gY, resC.gY, `gY (N=${n}, d=${d})`, rel);
      }
    } finally {
      be.destroy();
      owner.destroy();
    }
  });

  for (const tau of [1, 0.2]) {
    it(`gradients match central finite differences in f64 (τ = ${tau})`, () => {
      const be = cpu('f64');
      const n = 6;
      const d = 4;
      const r = rng(tau === 1 ? 11 : 12);
      const { x, y } = inputs(r, n, d, 0.4);
      const X = be.tensor(x, [n, d]);
      const Y = be.tensor(y, [n, d]);
      const out = be.zeros([1]);
      const scale = 0.9 / n;
      const loss = () => {
        out.f[0] = 0;
        sslContrastive(be, X, Y, out, 0, { tau, scale });
        return out.f[0];
      };
      const gX = be.zeros([n, d]);
      const gY = be.zeros([n, d]);
      sslContrastive(be, X, Y, be.zeros([1]), 0, { tau, scale, gX, gY });
      expectGradClose(gX.f, finiteDiff(loss, X.f as Float64Array, 1e-6), 'dL/dx', 1e-6);
      expectGradClose(gY.f, finiteDiff(loss, Y.f as Float64Array, 1e-6), 'dL/dy', 1e-6);
      // and the loss value is the spec's formula
      expect(loss()).toBeCloseTo((scale * directLoss(n, d, x, y, tau)), 12);
    });
  }

  it('the CPU twin works on Float32Array storage and agrees with the f64 one', () => {
    const n = 13;
    const d = 3;
    const { x, y } = inputs(rng(5), n, d);
    const g32 = new Float32Array(n * d);
    const g64 = new Float64Array(n * d);
    const l32 = sslContrastiveCpu(n, d, Float32Array.from(x), Float32Array.from(y), 0.5, 1, g32, null, false);
    const l64 = sslContrastiveCpu(n, d, Float32Array.from(x), Float32Array.from(y), 0.5, 1, g64, null, false);
    expect(l32).toBe(l64);
    expectClose(g32, g64, { atol: 1e-6, rtol: 1e-6 }, 'gX');
  });

  it('rejects bad arguments with messages naming them', () => {
    const be = cpu();
    const x = be.zeros([4, 3]);
    const out = be.zeros([2]);
    expect(() => sslContrastive(be, x, be.zeros([4, 2]), out, 0, { scale: 1 })).toThrow(/y .* expected \[4, 3\]/);
    expect(() => sslContrastive(be, x, be.zeros([4, 3]), out, 2, { scale: 1 })).toThrow(/slot 2 is out of range/);
    expect(() => sslContrastive(be, x, be.zeros([4, 3]), out, 0, { scale: 1, tau: 0 })).toThrow(/tau must be > 0/);
    expect(() => sslContrastive(be, x, be.zeros([4, 3]), out, 0, { scale: Number.NaN })).toThrow(IrllrecError);
    expect(() => sslContrastive(be, x, be.zeros([4, 3]), out, 0, { scale: 1, gY: be.zeros([3, 3]) })).toThrow(/gY .* expected \[4, 3\]/);
    expect(() => sslContrastive(be, x, be.zeros([4, 3]), out, 0, { scale: 1, gX: x })).toThrow(/gX must not alias/);
    expect(() => sslContrastive(be, x, be.zeros([4, 3], 'u32'), out, 0, { scale: 1 })).toThrow(/y .* dtype u32/);
  });
});

/** −Σ_i log(a_i/(S_i + 1e-8) + 1e-8) straight from the spec (no max-shift; fine in f64 for these τ). */
function directLoss(n: number, d: number, x: ArrayLike<number>, y: ArrayLike<number>, tau: number): number {
  const norm = (v: ArrayLike<number>, i: number) => {
    let s = 0;
    for (let c = 0; c < d; c++) s += v[i * d + c] ** 2;
    return Math.max(Math.sqrt(s), 1e-12);
  };
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let S = 0;
    let a = 0;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += x[i * d + c] * y[j * d + c];
      const e = Math.exp(dot / (norm(x, i) * norm(y, j) * tau));
      S += e;
      if (i === j) a = e;
    }
    loss -= Math.log(a / (S + 1e-8) + 1e-8);
  }
  return loss;
}
