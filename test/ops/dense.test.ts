import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import {
  type MatmulKernelChoice,
  type MatmulOptions,
  leakyRelu,
  leakyReluBackward,
  leakyReluBackwardCpu,
  matmul,
  matmulCpu,
  matmulKernelFor,
  matmulWithKernel,
  packF16Matrix,
  sumRows,
  sumRowsCpu,
} from '../../src/ops/dense.js';
import type { Backend, Tensor } from '../../src/ops/tensor.js';
import { cpu, expectClose, expectGradClose, finiteDiff, gpu, randArray, rng } from '../helpers.js';

// GPU (f32) vs the f64 CPU twin: an output is a sum of K products of values in [-1, 1]; f32 rounding
// errors (inputs rounded to f32 included) measured at ≤ 5e-8·K on lavapipe: 10× margin, linear in K.
const tolFor = (k: number) => ({ atol: 5e-7 * Math.max(k, 1), rtol: 1e-5 });
// Element-wise ops and column sums: one rounding per element, or R-term sums.
const EW_TOL = { atol: 1e-7, rtol: 1e-6 };

const COMBOS = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

/** Stored shapes of a and b for op(a) = M×K, op(b) = K×N. */
function shapesFor(m: number, k: number, n: number, transA: boolean, transB: boolean): { aShape: number[]; bShape: number[] } {
  return { aShape: transA ? [k, m] : [m, k], bShape: transB ? [n, k] : [k, n] };
}

const flag = (transA: boolean, transB: boolean) => `${transA ? 'aᵀ' : 'a'}·${transB ? 'bᵀ' : 'b'}`;

/** Both f32 GPU kernels are checked against the twin ('lanes' is the default on lavapipe, 'tiled' on GPUs). */
const KERNELS: readonly MatmulKernelChoice[] = ['tiled', 'lanes'];

afterAll(async () => (await gpu()).destroy());

for (const kernel of KERNELS) {
describe(`matmul on the GPU, kernel '${kernel}' (fused epilogue)`, () => {
  // The GPU backend records `kernel`; the CPU backend ignores the choice and runs the twin.
  const mm = (be: Backend, a: Tensor, b: Tensor, c: Tensor, opts: MatmulOptions = {}) => matmulWithKernel(be, a, b, c, opts, kernel);
  for (const [transA, transB] of COMBOS) {
    it(`${flag(transA, transB)} matches the CPU twin over tiny, odd and multi-tile shapes, with and without bias`, async () => {
      const g = await gpu();
      const c64 = cpu('f64');
      // [M, K, N]: 1×1×1, odd, K not a multiple of the K-slice, more than one 64×64 tile each way, K = 0.
      const shapes = [
        [1, 1, 1],
        [37, 53, 29],
        [65, 17, 130],
        [130, 100, 67],
        [3, 0, 5],
      ] as const;
      for (const [m, k, n] of shapes) {
        const r = rng(m * 1000 + k * 10 + n + (transA ? 1 : 0) + (transB ? 2 : 0));
        const { aShape, bShape } = shapesFor(m, k, n, transA, transB);
        const a = randArray(r, m * k);
        const b = randArray(r, k * n);
        const bias = randArray(r, n);
        for (const withBias of [false, true]) {
          const run = async (be: Backend) => {
            const A = be.tensor(a, aShape, 'f32', 'A');
            const B = be.tensor(b, bShape, 'f32', 'B');
            const C = be.tensor(randArray(r, m * n, 1e6, 2e6), [m, n], 'f32', 'C'); // garbage: must be overwritten
            mm(be, A, B, C, { transA, transB, bias: withBias ? be.tensor(bias, [n], 'f32', 'bias') : null });
            return be.read(C);
          };
          const got = await run(g);
          const want = await run(c64);
          expectClose(got, want, tolFor(k), `C ${m}×${k}×${n} ${flag(transA, transB)} bias=${withBias}`);
        }
      }
    });
  }

  it('fuses LeakyReLU and accumulates (c += op(a)·op(b) + bias) on both backends alike', async () => {
    const g = await gpu();
    const r = rng(11);
    const [m, k, n] = [70, 45, 33];
    const c0 = randArray(r, m * n);
    for (const [transA, transB] of COMBOS) {
      const { aShape, bShape } = shapesFor(m, k, n, transA, transB);
      const a = randArray(r, m * k);
      const b = randArray(r, k * n);
      const bias = randArray(r, n);
      const run = async (be: Backend, opts: { accumulate?: boolean; activation?: 'leaky_relu'; slope?: number }) => {
        const C = be.tensor(c0, [m, n]);
        mm(be, be.tensor(a, aShape), be.tensor(b, bShape), C, { transA, transB, bias: be.tensor(bias, [n]), ...opts });
        return be.read(C);
      };
      for (const opts of [{ activation: 'leaky_relu' as const }, { activation: 'leaky_relu' as const, slope: 0.2 }, { accumulate: true }]) {
        const got = await run(g, opts);
        const want = await run(cpu('f64'), opts);
        expectClose(got, want, tolFor(k), `${flag(transA, transB)} ${JSON.stringify(opts)}`);
        if (opts.activation) expect(Array.from(want).some((v) => v < 0)).toBe(true); // the negative branch is exercised
      }
      // accumulate really adds to c: c + X − X = c.
      const plain = await run(cpu('f64'), {});
      const acc = await run(cpu('f64'), { accumulate: true });
      expectClose(Array.from(acc, (v, i) => v - plain[i]), c0, { atol: 1e-12, rtol: 0 }, 'accumulate adds c');
    }
  });

  it('handles many row tiles and the MLP layer shape (K = 1536, transB) within a K-relative tolerance', async () => {
    const g = await gpu();
    for (const [m, k, n, transA, transB] of [
      [2000, 9, 3, false, false], // 32 row tiles, N smaller than a tile
      [96, 1536, 40, false, true], // X·W1ᵀ with d_in = 1536
      [40, 700, 33, true, false], // weight gradient: K = rows
    ] as const) {
      const r = rng(m + k + n);
      const { aShape, bShape } = shapesFor(m, k, n, transA, transB);
      const a = randArray(r, m * k);
      const b = randArray(r, k * n);
      const run = async (be: Backend) => {
        const C = be.zeros([m, n]);
        mm(be, be.tensor(a, aShape), be.tensor(b, bShape), C, { transA, transB });
        return be.read(C);
      };
      expectClose(await run(g), await run(cpu('f64')), tolFor(k), `C ${m}×${k}×${n}`);
    }
  });
});
}

describe("matmul kernel 'lanes' (CPU Vulkan layout): ragged edges and large grids", () => {
  it('is the default f32 kernel on a software adapter (matmul = matmulWithKernel(…, "lanes") bit for bit), tiled on hardware', async () => {
    const g = await gpu();
    expect(matmulKernelFor(false)).toBe('tiled');
    expect(matmulKernelFor(true)).toBe('lanes');
    expect(matmulKernelFor(g.ctx.adapter.isSoftware)).toBe(g.ctx.adapter.isSoftware ? 'lanes' : 'tiled');
    const r = rng(5);
    const [m, k, n] = [70, 45, 33];
    const A = g.tensor(randArray(r, m * k), [m, k]);
    const B = g.tensor(randArray(r, n * k), [n, k]);
    const C1 = g.zeros([m, n]);
    const C2 = g.zeros([m, n]);
    matmul(g, A, B, C1, { transB: true });
    matmulWithKernel(g, A, B, C2, { transB: true }, matmulKernelFor(g.ctx.adapter.isSoftware));
    expect(Array.from(await g.read(C1))).toEqual(Array.from(await g.read(C2)));
  });

  for (const [transA, transB] of COMBOS) {
    it(`${flag(transA, transB)}: M, N, K in {1, 7, 33, 65, 129} (and the 32-row / 64-column / 32-k block edges) with bias + LeakyReLU and accumulate`, async () => {
      const g = await gpu();
      // [M, K, N]: every size on every axis; M = 32 / 33 switch between the 8×4 and 16×8 lane layouts,
      // N = 64 / 65 and K = 32 / 33 sit on the column-block and k-chunk edges.
      const shapes = [
        [1, 7, 129],
        [7, 129, 1],
        [33, 1, 65],
        [65, 33, 7],
        [129, 65, 33],
        [32, 32, 64],
        [33, 33, 65],
        [129, 129, 129],
      ] as const;
      for (const [m, k, n] of shapes) {
        const r = rng(m * 7919 + k * 31 + n + (transA ? 1 : 0) + (transB ? 2 : 0));
        const { aShape, bShape } = shapesFor(m, k, n, transA, transB);
        const a = randArray(r, m * k);
        const b = randArray(r, k * n);
        const bias = randArray(r, n);
        const c0 = randArray(r, m * n);
        for (const opts of [{ activation: 'leaky_relu' as const }, { accumulate: true }]) {
          const run = async (be: Backend) => {
            const C = be.tensor(opts.accumulate ? c0 : randArray(r, m * n, 1e6, 2e6), [m, n]); // garbage unless accumulating
            matmulWithKernel(be, be.tensor(a, aShape), be.tensor(b, bShape), C, { transA, transB, bias: be.tensor(bias, [n]), ...opts }, 'lanes');
            return be.read(C);
          };
          expectClose(await run(g), await run(cpu('f64')), tolFor(k), `C ${m}×${k}×${n} ${flag(transA, transB)} ${JSON.stringify(opts)}`);
        }
      }
    });
  }

  it('covers more than 65535 workgroups (a 2-D grid of flattened blocks, overshoot skipped)', async () => {
    const g = await gpu();
    // M = 1 (one 32-row block), N = 64·65536 + 37 columns → 65537 column blocks.
    const [m, k, n] = [1, 1, 64 * 65536 + 37];
    const r = rng(99);
    const a = randArray(r, m * k);
    const b = randArray(r, k * n);
    const bias = randArray(r, n);
    const run = async (be: Backend) => {
      const C = be.zeros([m, n]);
      matmulWithKernel(be, be.tensor(a, [m, k]), be.tensor(b, [k, n]), C, { bias: be.tensor(bias, [n]) }, 'lanes');
      return be.read(C);
    };
    const got = await run(g);
    expectClose(got, await run(cpu('f64')), tolFor(k), `C ${m}×${k}×${n}`);
    expect(got[n - 1]).toBeCloseTo(a[0] * b[n - 1] + bias[n - 1], 5); // the last block was computed
  });
});

describe('matmul with packed-f16 operands, both kernels (matmul_f16.wgsl and matmul_lanes.wgsl with matmul_load_f16.wgsl)', () => {
  // test/ops/f16.test.ts checks the adapter's default kernel in depth; here each layout is forced, against the
  // twin on the decoded halves (so the tolerance is the f32 one).
  for (const kernel of KERNELS) {
    it(`'${kernel}': packed a, b or both, all four layouts, odd sizes, bias + LeakyReLU and accumulate`, async () => {
      const g = await gpu();
      const c64 = cpu('f64');
      for (const [m, k, n] of [
        [1, 1, 1],
        [33, 65, 7],
        [129, 33, 65],
      ] as const) {
        for (const [transA, transB] of COMBOS) {
          for (const packed of ['a', 'b', 'ab'] as const) {
            const r = rng(m * 31 + k * 7 + n + (transA ? 1 : 0) + (transB ? 2 : 0) + packed.length * 5);
            const { aShape, bShape } = shapesFor(m, k, n, transA, transB);
            const a = randArray(r, m * k);
            const b = randArray(r, k * n);
            const bias = randArray(r, n);
            const c0 = randArray(r, m * n);
            for (const opts of [{ activation: 'leaky_relu' as const }, { accumulate: true }]) {
              const run = async (be: Backend) => {
                const A = packed.includes('a') ? packF16Matrix(be, a, aShape[0], aShape[1], 'A') : be.tensor(a, aShape, 'f32', 'A');
                const B = packed.includes('b') ? packF16Matrix(be, b, bShape[0], bShape[1], 'B') : be.tensor(b, bShape, 'f32', 'B');
                const C = be.tensor(opts.accumulate ? c0 : randArray(r, m * n, 1e6, 2e6), [m, n]);
                matmulWithKernel(be, A, B, C, { transA, transB, bias: be.tensor(bias, [n]), ...opts }, kernel);
                return be.read(C);
              };
              expectClose(await run(g), await run(c64), tolFor(k), `C ${m}×${k}×${n} ${flag(transA, transB)} packed ${packed} ${JSON.stringify(opts)}`);
            }
          }
        }
      }
    });
  }
});

describe('matmul (twin, gradients, validation)', () => {
  it('matches an independent triple loop (the twin itself is checked, all four layouts)', () => {
    const r = rng(3);
    const [m, k, n] = [5, 7, 4];
    const a = randArray(r, m * k);
    const b = randArray(r, k * n);
    const bias = randArray(r, n);
    for (const [transA, transB] of COMBOS) {
      const want = new Float64Array(m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = bias[j];
          for (let p = 0; p < k; p++) s += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
          want[i * n + j] = s > 0 ? s : 0.01 * s;
        }
      }
      const got = new Float64Array(m * n);
      matmulCpu(a, b, got, m, n, k, { transA, transB, bias, activation: 'leaky_relu' });
      expectClose(got, want, { atol: 1e-14, rtol: 1e-14 }, flag(transA, transB));
    }
  });


  it('gradients of <G, act(op(A)·op(B) + bias)> via matmul / leakyReluBackward / sumRows match finite differences (f64)', () => {
    const be = cpu('f64');
    const [m, k, n] = [5, 7, 6];
    for (const [transA, transB] of COMBOS) {
      const r = rng(21 + (transA ? 1 : 0) + (transB ? 2 : 0));
      const { aShape, bShape } = shapesFor(m, k, n, transA, transB);
      const A = be.tensor(randArray(r, m * k), aShape, 'f32', 'A');
      const B = be.tensor(randArray(r, k * n), bShape, 'f32', 'B');
      const bias = be.tensor(randArray(r, n, -0.5, 0.5), [n], 'f32', 'bias');
      const G = be.tensor(randArray(r, m * n), [m, n], 'f32', 'G');
      const Y = be.zeros([m, n]);
      const slope = 0.1; // larger than 0.01 so that a wrong negative-branch derivative is visible
      const loss = () => {
        matmul(be, A, B, Y, { transA, transB, bias, activation: 'leaky_relu', slope });
        let s = 0;
        for (let i = 0; i < Y.size; i++) s += Y.f[i] * G.f[i];
        return s;
      };
      // gZ = G ⊙ act'(Z) with Z the pre-activation.
      const Z = be.zeros([m, n]);
      matmul(be, A, B, Z, { transA, transB, bias });
      const gZ = be.zeros([m, n]);
      leakyReluBackward(be, Z, G, gZ, { slope });
      // ∂op(A) = gZ·op(B)ᵀ, ∂op(B) = op(A)ᵀ·gZ, stored in the layouts of A and B.
      const dA = be.tensor(randArray(r, m * k), aShape, 'f32', 'dA'); // garbage, overwritten
      if (!transA) matmul(be, gZ, B, dA, { transB: !transB }); // [M,N]·[N,K]
      else matmul(be, B, gZ, dA, { transA: transB, transB: true }); // (gZ·op(B)ᵀ)ᵀ = op(B)·gZᵀ: [K,N]·[N,M]
      const dB = be.zeros(bShape, 'f32', 'dB');
      if (!transB) matmul(be, A, gZ, dB, { transA: !transA, accumulate: true }); // op(A)ᵀ·gZ: [K,M]·[M,N]
      else matmul(be, gZ, A, dB, { transA: true, transB: transA, accumulate: true }); // gZᵀ·op(A): [N,M]·[M,K]
      const dBias = be.tensor([7, 7, 7, 7, 7, 7], [n]);
      sumRows(be, gZ, dBias);
      const what = flag(transA, transB);
      expectGradClose(dA.f, finiteDiff(loss, A.f as Float64Array), `dL/dA ${what}`);
      expectGradClose(dB.f, finiteDiff(loss, B.f as Float64Array), `dL/dB ${what}`);
      expectGradClose(dBias.f, finiteDiff(loss, bias.f as Float64Array), `dL/dbias ${what}`);
    }
  });

  it('the MLP backward recipe of spec §5.1 matches finite differences (f64), gradients accumulated from two inputs', () => {
    const be = cpu('f64');
    const r = rng(77);
    const [rows, dIn, hid, dOut] = [6, 9, 8, 4];
    const W1 = be.tensor(randArray(r, hid * dIn), [hid, dIn], 'f32', 'W1');
    const b1 = be.tensor(randArray(r, hid, -0.3, 0.3), [hid], 'f32', 'b1');
    const W2 = be.tensor(randArray(r, dOut * hid), [dOut, hid], 'f32', 'W2');
    const b2 = be.tensor(randArray(r, dOut), [dOut], 'f32', 'b2');
    // The same MLP applied to two inputs (as the profile MLP on Pu and Pi); L = <G1, f(X1)> + <G2, f(X2)>.
    const Xs = [be.tensor(randArray(r, rows * dIn), [rows, dIn]), be.tensor(randArray(r, (rows + 3) * dIn), [rows + 3, dIn])];
    const Gs = Xs.map((X) => be.tensor(randArray(r, X.rows * dOut), [X.rows, dOut]));
    const forward = (X: Tensor) => {
      const H = be.zeros([X.rows, hid]);
      const Aa = be.zeros([X.rows, hid]);
      const O = be.zeros([X.rows, dOut]);
      matmul(be, X, W1, H, { transB: true, bias: b1 });
      leakyRelu(be, H, Aa);
      matmul(be, Aa, W2, O, { transB: true, bias: b2 });
      return { H, Aa, O };
    };
    const loss = () => {
      let s = 0;
      Xs.forEach((X, t) => {
        const { O } = forward(X);
        for (let i = 0; i < O.size; i++) s += O.f[i] * Gs[t].f[i];
      });
      return s;
    };
    const dW1 = be.zeros([hid, dIn]);
    const db1 = be.zeros([hid]);
    const dW2 = be.zeros([dOut, hid]);
    const db2 = be.zeros([dOut]);
    Xs.forEach((X, t) => {
      const gO = Gs[t];
      const { H, Aa } = forward(X);
      matmul(be, gO, Aa, dW2, { transA: true, accumulate: true }); // ∂W2 = gOᵀ·Aa
      sumRows(be, gO, db2, { accumulate: true }); // ∂b2 = Σ_rows gO
      const gA = be.zeros([X.rows, hid]);
      matmul(be, gO, W2, gA); // gA = gO·W2
      leakyReluBackward(be, H, gA, gA); // gH = gA ⊙ (H > 0 ? 1 : 0.01), in place
      matmul(be, gA, X, dW1, { transA: true, accumulate: true }); // ∂W1 = gHᵀ·X
      sumRows(be, gA, db1, { accumulate: true }); // ∂b1 = Σ_rows gH
    });
    expectGradClose(dW1.f, finiteDiff(loss, W1.f as Float64Array), 'dL/dW1');
    expectGradClose(db1.f, finiteDiff(loss, b1.f as Float64Array), 'dL/db1');
    expectGradClose(dW2.f, finiteDiff(loss, W2.f as Float64Array), 'dL/dW2');
    expectGradClose(db2.f, finiteDiff(loss, b2.f as Float64Array), 'dL/db2');
  });

  it('rejects mismatched inner dimensions, a wrong bias length, a bad output and accumulate + activation', () => {
    const be = cpu();
    const a = be.zeros([4, 3], 'f32', 'a');
    const b = be.zeros([3, 5], 'f32', 'b');
    const c = be.zeros([4, 5], 'f32', 'c');
    expect(() => matmul(be, a, b, c, { transB: true })).toThrow(IrllrecError);
    expect(() => matmul(be, a, b, c, { transB: true })).toThrow(/matmul: inner dimensions differ: op\(a\) \('a'\) is 4×3, op\(b\) \('b'ᵀ\) is 5×3/);
    expect(() => matmul(be, a, b, c, { transA: true })).toThrow(/inner dimensions differ: op\(a\) \('a'ᵀ\) is 3×4/);
    expect(() => matmul(be, a, b, c, { bias: be.zeros([4], 'f32', 'b1') })).toThrow(/matmul: .*bias \('b1'\) has shape \[4\], expected \[5\]/);
    expect(() => matmul(be, a, b, be.zeros([5, 4], 'f32', 'cT'))).toThrow(/matmul: .*c \('cT'\) has shape \[5, 4\], expected \[4, 5\]/);
    expect(() => matmul(be, a, b, c, { accumulate: true, activation: 'leaky_relu' })).toThrow(/matmul: accumulate cannot be combined with activation/);
    expect(() => matmul(be, a, be.zeros([3, 3]), a)).toThrow(/matmul: c .* must not be an input/);
    expect(() => matmul(be, be.zeros([12]), b, c)).toThrow(/matmul: a .* must be 2-D/);
    expect(() => matmul(be, a, b, c, { slope: NaN, activation: 'leaky_relu' })).toThrow(/matmul: slope must be finite/);
    expect(() => matmul(be, a, cpu().zeros([3, 5]), c)).toThrow(/belongs to another backend/);
  });
});

describe('leakyRelu, leakyReluBackward, sumRows', () => {
  it('leakyRelu and its backward match the CPU twin, with zeros, accumulate and in-place gradients', async () => {
    const g = await gpu();
    const r = rng(5);
    const n = 1000 + 37; // not a multiple of the workgroup size
    const h = randArray(r, n);
    for (let i = 0; i < n; i += 13) h[i] = 0; // exact zeros take the slope branch
    const gOut = randArray(r, n);
    const g0 = randArray(r, n);
    const shape = [61, 17];
    const run = async (be: Backend) => {
      const H = be.tensor(h, shape);
      const Y = be.tensor(g0, shape);
      leakyRelu(be, H, Y, { slope: 0.2 });
      const G = be.tensor(gOut, shape);
      const gIn = be.tensor(g0, shape);
      leakyReluBackward(be, H, G, gIn); // overwrite
      const gAcc = be.tensor(g0, shape);
      leakyReluBackward(be, H, G, gAcc, { accumulate: true, slope: 0.3 });
      const gInPlace = be.tensor(gOut, shape);
      leakyReluBackward(be, H, gInPlace, gInPlace);
      return [await be.read(Y), await be.read(gIn), await be.read(gAcc), await be.read(gInPlace)];
    };
    const got = await run(g);
    const want = await run(cpu('f64'));
    ['y', 'gIn', 'gIn (accumulate)', 'gIn (in place)'].forEach((what, i) => expectClose(got[i], want[i], EW_TOL, what));
    // the derivative at exactly 0 is the slope
    expect(want[1][0]).toBeCloseTo(0.01 * gOut[0], 15);
    const ref = new Float64Array(n);
    leakyReluBackwardCpu(h, gOut, ref);
    expectClose(want[1], ref, { atol: 0, rtol: 0 }, 'twin');
    expect(want[0][1]).toBe(h[1] > 0 ? h[1] : 0.2 * h[1]);
  });

  it('sumRows matches the CPU twin (odd sizes, many rows, scale, accumulate, zero rows)', async () => {
    const g = await gpu();
    for (const [rows, cols] of [
      [1, 1],
      [37, 29],
      [3001, 33],
      [5, 100],
      [0, 7],
    ] as const) {
      const r = rng(rows + cols);
      const x = randArray(r, rows * cols);
      const o0 = randArray(r, cols);
      const run = async (be: Backend) => {
        const X = be.tensor(x, [rows, cols]);
        const out = be.tensor(o0, [cols]);
        sumRows(be, X, out, { scale: 0.5 });
        const acc = be.tensor(o0, [cols]);
        sumRows(be, X, acc, { accumulate: true });
        return [await be.read(out), await be.read(acc)];
      };
      const got = await run(g);
      const want = await run(cpu('f64'));
      const tol = { atol: 1e-6 * Math.sqrt(Math.max(rows, 1)), rtol: 1e-5 };
      expectClose(got[0], want[0], tol, `sum ${rows}×${cols}`);
      expectClose(got[1], want[1], tol, `accumulated sum ${rows}×${cols}`);
    }
    const out = new Float64Array(2);
    sumRowsCpu([1, 2, 3, 4, 5, 6], out, 3, 2, 2);
    expect(Array.from(out)).toEqual([18, 24]);
  });

  it('rejects bad shapes and aliasing', () => {
    const be = cpu();
    const x = be.zeros([4, 3], 'f32', 'x');
    expect(() => leakyRelu(be, x, be.zeros([3, 4], 'f32', 'y'))).toThrow(/leakyRelu: y \('y'\) has shape \[3, 4\], expected \[4, 3\]/);
    expect(() => leakyRelu(be, x, x)).toThrow(/leakyRelu: y must be a different tensor/);
    expect(() => leakyReluBackward(be, x, be.zeros([12]), be.zeros([4, 3]))).toThrow(/leakyReluBackward: gOut .* expected \[4, 3\]/);
    expect(() => leakyReluBackward(be, x, be.zeros([4, 3]), x)).toThrow(/leakyReluBackward: gIn must not be h/);
    expect(() => sumRows(be, x, be.zeros([4], 'f32', 'o'))).toThrow(/sumRows: out \('o'\) has shape \[4\], expected \[3\]/);
    expect(() => sumRows(be, x, be.zeros([3]), { scale: Infinity })).toThrow(/sumRows: scale must be finite/);
    expect(() => leakyRelu(be, be.zeros([2], 'u32'), be.zeros([2]))).toThrow(/leakyRelu: x .* dtype u32/);
  });
});
