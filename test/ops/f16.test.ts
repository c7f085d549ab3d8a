import { afterAll, describe, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { IrllrecError } from '../../src/errors.js';
import { modelConfig } from '../../src/models/config.js';
import { buildGraph } from '../../src/data/graph.js';
import { type Batch, RecModel } from '../../src/models/model.js';
import { type MatmulOperand, PackedF16Matrix, matmul, matmulCpu, packF16Matrix } from '../../src/ops/dense.js';
import type { Backend } from '../../src/ops/tensor.js';
import { f16Bits, f16Value, packF16Rows, packedF16RowWords, roundF16, unpackF16Rows } from '../../src/util/f16.js';
import { initMlp, mlpBackward, mlpForward, mlpShapes, type MlpTensors } from '../../src/models/mlp.js';
import { cpu, expectClose, expectGradClose, finiteDiff, gpu, randArray, rng } from '../helpers.js';

afterAll(async () => (await gpu()).destroy());

const hex = (b: number) => `0x${b.toString(16).padStart(4, '0')}`;

describe('f16 conversion (src/util/f16.ts)', () => {
  it('encodes reference values, ties to even, subnormals, overflow, signed zero and NaN', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66], // 0.0999755859375
      [1 / 3, 0x3555],
      [Math.fround(0.1), 0x2e66],
      [65504, 0x7bff], // largest finite
      [65519.99, 0x7bff], // just below the midpoint to 2^16
      [65520, 0x7c00], // midpoint: ties to the even 2^16, which is ∞
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [1023.5 * 2 ** -24, 0x0400], // tie between the largest subnormal (odd) and the smallest normal (even)
      [1022.5 * 2 ** -24, 0x03fe], // tie between 0x3fe (even) and 0x3ff
      [2 ** -25, 0x0000], // half the smallest subnormal: ties to the even 0
      [-(2 ** -25), 0x8000],
      [2 ** -25 * (1 + 2 ** -20), 0x0001], // just above the tie
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 (even) ulps
      [2 ** -30, 0x0000],
      [5e-324, 0x0000], // float64 subnormal
      [1 + 2 ** -11, 0x3c00], // tie between 1 (even) and 1 + 2^-10
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02 (even)
      [1 + 2 ** -11 + 2 ** -30, 0x3c01], // just above the tie
      [2049, 0x6800], // tie: 2048 (even) vs 2050
      [2051, 0x6802], // tie: 2050 vs 2052 (even)
      [2047.9, 0x6800], // rounds up across the binade: mantissa overflow bumps the exponent
    ];
    for (const [x, bits] of cases) expect(hex(f16Bits(x)), `f16Bits(${x})`).toBe(hex(bits));
    expect(f16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f16Bits(NaN) & 0x03ff).not.toBe(0);
    expect(Number.isNaN(f16Value(0x7e00))).toBe(true);
    expect(Number.isNaN(f16Value(0xfc01))).toBe(true);
    expect(f16Value(0x7c00)).toBe(Infinity);
    expect(f16Value(0xfc00)).toBe(-Infinity);
    expect(Object.is(f16Value(0x8000), -0)).toBe(true);
    expect(f16Value(0x0001)).toBe(2 ** -24);
    expect(f16Value(0x7bff)).toBe(65504);
    expect(f16Value(0x3555)).toBe(0.333251953125);
  });

  it('is exhaustively exact: every half round-trips, midpoints tie to even, neighbours of midpoints round to the nearer half', () => {
    // Independent reference: the finite non-negative halves in increasing order are the bit patterns
    // 0x0000..0x7bff, so the nearest half to a value between two of them is decided by the midpoint.
    for (let b = 0; b < 0x10000; b++) {
      const e = (b >>> 10) & 0x1f;
      if (e === 31 && (b & 0x3ff) !== 0) continue; // NaN
      expect(f16Bits(f16Value(b)), `round trip ${hex(b)}`).toBe(b);
    }
    for (let b = 0; b < 0x7bff; b++) {
      const lo = f16Value(b);
      const hi = f16Value(b + 1);
      const mid = (lo + hi) / 2; // exact in float64
      const even = b % 2 === 0 ? b : b + 1;
      if (f16Bits(mid) !== even) expect.fail(`midpoint of ${hex(b)} and ${hex(b + 1)} gave ${hex(f16Bits(mid))}, expected ${hex(even)}`);
      const eps = (hi - lo) * 2 ** -20;
      if (f16Bits(mid - eps) !== b || f16Bits(mid + eps) !== b + 1) expect.fail(`values around the midpoint of ${hex(b)} and ${hex(b + 1)} round wrongly`);
      if (f16Bits(-mid) !== (even | 0x8000)) expect.fail(`negative midpoint of ${hex(b)} wrong`);
    }
  });

  it('rounds Float32Array input by its integer fast path exactly as f16Bits does', () => {
    // Every half, every midpoint between neighbours (exact in float32), the float32 neighbours of each
    // midpoint, and random float32 bit patterns of every exponent (NaN/∞/subnormals included).
    const values: number[] = [];
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    const neighbours = (x: number) => {
      f32[0] = x;
      const b = u32[0];
      for (const d of [-1, 1]) {
        u32[0] = b + d;
        values.push(f32[0]);
      }
    };
    for (let b = 0; b < 0x7c00; b++) {
      const lo = f16Value(b);
      const mid = (lo + f16Value(b + 1)) / 2;
      values.push(lo, -lo, mid, -mid);
      if (mid > 0) neighbours(mid);
    }
    const r = rng(31);
    for (let i = 0; i < 200000; i++) {
      u32[0] = r.nextU32();
      values.push(f32[0]);
    }
    const data = Float32Array.from(values);
    const fast = packF16Rows(data, 1, data.length);
    const generic = packF16Rows(Array.from(data), 1, data.length);
    for (let i = 0; i < fast.length; i++) {
      if (fast[i] !== generic[i]) expect.fail(`word ${i} (${data[2 * i]}, ${data[2 * i + 1]}): fast ${fast[i].toString(16)} vs f16Bits ${generic[i].toString(16)}`);
    }
    expect(fast.length).toBe(Math.ceil(values.length / 2));
  });

  it('packs rows two halves per word, low half first, padding odd widths with +0, and unpacks exactly', () => {
    const r = rng(5);
    for (const [rows, cols] of [
      [3, 5],
      [4, 6],
      [1, 1],
      [2, 0],
    ] as const) {
      const x = randArray(r, rows * cols, -3, 3);
      const words = packF16Rows(x, rows, cols);
      const stride = packedF16RowWords(cols);
      expect(words.length).toBe(rows * stride);
      for (let i = 0; i < rows; i++) {
        for (let c = 0; c < cols; c++) {
          const w = words[i * stride + (c >> 1)];
          expect((c % 2 === 0 ? w : w >>> 16) & 0xffff).toBe(f16Bits(x[i * cols + c]));
        }
        if (cols % 2 === 1) expect(words[i * stride + stride - 1] >>> 16, 'padding half').toBe(0);
      }
      const back = unpackF16Rows(words, rows, cols);
      expect(Array.from(back)).toEqual(Array.from(x, roundF16));
    }
  });
});

/** Every element rounded to f16 (what a PackedF16Matrix holds). */
const rounded = (x: ArrayLike<number>) => Float64Array.from(x, roundF16);

// GPU f32 arithmetic vs the f64 CPU twin on the same (decoded) values: the bound of dense.test.ts.
const tolFor = (k: number) => ({ atol: 5e-7 * Math.max(k, 1), rtol: 1e-5 });

describe('matmul with packed f16 operands', () => {
  it('decodes halves exactly on the GPU (subnormals, extremes, odd widths): X·I = X bit for bit', async () => {
    const g = await gpu();
    const [m, k] = [7, 9];
    const special = [2 ** -24, -(2 ** -24), 1023 * 2 ** -24, 2 ** -14, 65504, -65504, 0, -0, 0.1, 1 / 3, 1e-6, -3e-5];
    const x = new Float64Array(m * k);
    const r = rng(17);
    for (let i = 0; i < x.length; i++) x[i] = i < special.length ? special[i] : r.uniform(-2, 2);
    const eye = new Float64Array(k * k);
    for (let i = 0; i < k; i++) eye[i * k + i] = 1;
    const X = packF16Matrix(g, x, m, k, 'X16');
    const I = g.tensor(eye, [k, k], 'f32', 'I');
    const C = g.zeros([m, k], 'f32', 'C');
    matmul(g, X, I, C);
    const got = await g.read(C);
    const want = rounded(x);
    // (=== rather than Object.is: −0·1 summed with +0 products is +0, which is the GEMM, not the decode.)
    for (let i = 0; i < want.length; i++) expect(got[i] === want[i], `element ${i} (${x[i]}): ${got[i]} vs ${want[i]}`).toBe(true);
    // And as the B operand, transposed: I·Xᵀ = Xᵀ.
    const Ct = g.zeros([k, m], 'f32', 'Ct');
    matmul(g, I, X, Ct, { transB: true });
    const gotT = await g.read(Ct);
    for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) expect(gotT[j * m + i] === want[i * k + j], `Xᵀ[${j},${i}]`).toBe(true);
  });

  // Every layout the MLPs use and the rest: packed A or packed B, either transpose, odd widths (padding).
  const cases = [
    { packed: 'a', transA: false, transB: true }, // H = X·W1ᵀ (forward)
    { packed: 'b', transA: true, transB: false }, // ∂W1 = gHᵀ·X (backward)
    { packed: 'a', transA: true, transB: false },
    { packed: 'b', transA: false, transB: true },
    { packed: 'ab', transA: false, transB: false },
  ] as const;
  for (const cs of cases) {
    it(`packed ${cs.packed} (transA ${cs.transA}, transB ${cs.transB}) matches its CPU twin and the f32 product within the f16 rounding bound`, async () => {
      const g = await gpu();
      const c64 = cpu('f64');
      for (const [m, k, n] of [
        [1, 1, 1],
        [37, 53, 29],
        [130, 17, 67],
        [5, 129, 3],
      ] as const) {
        const r = rng(m * 7 + k * 13 + n);
        const aShape = cs.transA ? [k, m] : [m, k];
        const bShape = cs.transB ? [n, k] : [k, n];
        const a = randArray(r, m * k);
        const b = randArray(r, k * n);
        const bias = randArray(r, n);
        const cInit = randArray(r, m * n);
        const pa = cs.packed.includes('a');
        const pb = cs.packed.includes('b');
        const operand = (be: Backend, v: Float64Array, shape: number[], packed: boolean, label: string): MatmulOperand =>
          packed ? packF16Matrix(be, v, shape[0], shape[1], label) : be.tensor(v, shape, 'f32', label);
        for (const variant of ['bias+leaky', 'accumulate'] as const) {
          const run = async (be: Backend, f16: boolean) => {
            const A = operand(be, a, aShape, f16 && pa, 'A');
            const B = operand(be, b, bShape, f16 && pb, 'B');
            const C = be.tensor(cInit, [m, n], 'f32', 'C');
            const opts = variant === 'accumulate' ? { accumulate: true } : { bias: be.tensor(bias, [n], 'f32', 'bias'), activation: 'leaky_relu' as const };
            matmul(be, A, B, C, { transA: cs.transA, transB: cs.transB, ...opts });
            return be.read(C);
          };
          const what = `${m}×${k}×${n} ${variant}`;
          const gpu16 = await run(g, true);
          const cpu16 = await run(c64, true);
          // GPU vs its twin: identical inputs (the halves), f32 vs f64 accumulation.
          expectClose(gpu16, cpu16, tolFor(k), `GPU vs twin ${what}`);
          // The twin is the plain matmul twin on the rounded values.
          const want = new Float64Array(cInit);
          matmulCpu(pa ? rounded(a) : a, pb ? rounded(b) : b, want, m, n, k, {
            transA: cs.transA,
            transB: cs.transB,
            ...(variant === 'accumulate' ? { accumulate: true } : { bias, activation: 'leaky_relu' }),
          });
          expectClose(cpu16, want, { atol: 1e-12, rtol: 1e-12 }, `twin ${what}`);
          // vs the f32 product: each packed element moves by at most 2^-11 of its magnitude (RNE, normal
          // halves; the inputs are ≥ 2^-14 in magnitude or the absolute error ≤ 2^-25 is covered by the
          // f32 term), so |Δc_ij| ≤ 2^-11·Σ_p |a_ip|·|b_pj| (2^-10 when both are packed), LeakyReLU being
          // 1-Lipschitz; plus the f32 rounding of the GPU product.
          const f32 = await run(g, false);
          const unit = pa && pb ? 2 ** -10 + 2 ** -22 : 2 ** -11;
          let maxDiff = 0;
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let absSum = 0;
              for (let p = 0; p < k; p++) {
                const av = cs.transA ? a[p * m + i] : a[i * k + p];
                const bv = cs.transB ? b[j * k + p] : b[p * n + j];
                absSum += Math.abs(av * bv);
              }
              const bound = unit * absSum + 2 ** -25 * k + 2 * tolFor(k).atol + tolFor(k).rtol * Math.abs(f32[i * n + j]);
              const diff = Math.abs(gpu16[i * n + j] - f32[i * n + j]);
              maxDiff = Math.max(maxDiff, diff);
              if (!(diff <= bound)) expect.fail(`f16 vs f32 ${what}: C[${i},${j}] differs by ${diff} > bound ${bound}`);
            }
          }
          // The packed path really rounds (a silent f32 upload would give 0 here, up to f32 noise).
          if (k > 1) expect(maxDiff, `f16 rounding visible ${what}`).toBeGreaterThan(1e-5);
        }
      }
    });
  }

  it('rejects bad packed operands with messages naming them', async () => {
    const be = cpu('f32');
    const X = packF16Matrix(be, new Float32Array(12), 3, 4, 'text.x');
    const W = be.tensor(new Float32Array(15), [5, 3], 'f32', 'w');
    const H = be.zeros([3, 5], 'f32', 'h');
    expect(() => matmul(be, X, W, H, { transB: true })).toThrow(/inner dimensions differ.*text\.x/);
    expect(() => packF16Matrix(be, new Float32Array(5), 2, 3, 'short')).toThrow(IrllrecError);
    expect(() => packF16Matrix(be, Float32Array.from([1, 70000, 2, 3]), 2, 2, 'big')).toThrow(/'big'.*row 0, column 1/);
    expect(() => packF16Matrix(be, Float32Array.from([1, 2, NaN]), 1, 3, 'nan')).toThrow(/'nan'.*column 2/);
    expect(() => new PackedF16Matrix(be.zeros([3, 4], 'u32', 'w'), 3, 4)).toThrow(/u32 \[3, 2\]/);
    X.dispose();
    expect(() => matmul(be, X, W, H, { transB: true })).toThrow(/disposed/);
    const g = await gpu();
    const Xg = packF16Matrix(g, new Float32Array(12), 3, 4, 'xg');
    expect(() => matmul(g, Xg, W, g.zeros([3, 5], 'f32', 'hg'), { transB: true })).toThrow(/another backend/);
  });
});

describe('text MLP on a packed f16 input', () => {
  it('parameter gradients (∂W1 = gHᵀ·X reads the packed X) match central differences on the f64 CPU backend', async () => {
    const be = cpu('f64');
    const r = rng(21);
    const [rows, din, d] = [6, 7, 3];
    const X = packF16Matrix(be, randArray(r, rows * din), rows, din, 'X16');
    const init = initMlp(r, din, d);
    const shapes = mlpShapes(din, d);
    const keys = ['w1', 'b1', 'w2', 'b2'] as const;
    const host = Object.fromEntries(keys.map((k) => [k, Float64Array.from(init[k])])) as Record<keyof MlpTensors, Float64Array>;
    const weights = randArray(r, rows * d); // L = Σ out ⊙ R
    const loss = () => {
      const p = Object.fromEntries(keys.map((k) => [k, be.tensor(host[k], shapes[k], 'f32', k)])) as unknown as MlpTensors;
      const out = be.zeros([rows, d], 'f32', 'out');
      mlpForward(be, p, X, out);
      let l = 0;
      for (let i = 0; i < out.size; i++) l += out.f[i] * weights[i];
      return l;
    };
    const p = Object.fromEntries(keys.map((k) => [k, be.tensor(host[k], shapes[k], 'f32', k)])) as unknown as MlpTensors;
    const grads = Object.fromEntries(keys.map((k) => [k, be.zeros(shapes[k], 'f32', `g.${k}`)])) as unknown as MlpTensors;
    // Blocks of 4 rows (the second one short): the packed rows of a block are copied out of X.
    mlpBackward(be, p, X, be.tensor(weights, [rows, d], 'f32', 'gOut'), grads, { blockRows: 4 });
    for (const k of keys) expectGradClose(grads[k].f, finiteDiff(loss, host[k]), `∂${k}`);
  });
});

describe("textPrecision: 'f16' in the model", () => {
  // Tiny synthetic data with odd text widths (the last half of every packed row is padding).
  const data = syntheticDataset({ seed: 3, numUsers: 40, numItems: 50, numIntents: 6, textDim: 33, interactionsPerUser: 4 });
  const graph = buildGraph({ numUsers: data.numUsers, numItems: data.numItems, train: data.train });
  const modelData = { numUsers: data.numUsers, numItems: data.numItems, graph, text: data.text };
  // Weights raised above the reference's tiny ssl/itm so every term that reads the text matters.
  const config = (textPrecision: 'f32' | 'f16') =>
    modelConfig('irllrec', 'default', { embeddingDim: 8, numIntents: 4, layers: 2, kdWeight: 0.5, intWeight: 0.5, sslWeight: 0.1, itmWeight: 0.3, textPrecision });
  const batch = (): Batch => {
    const r = rng(9);
    const users = new Uint32Array(32);
    const pos = new Uint32Array(32);
    const neg = new Uint32Array(32);
    for (let i = 0; i < 32; i++) {
      const e = r.int(data.train.users.length);
      users[i] = data.train.users[e];
      pos[i] = data.train.items[e];
      neg[i] = r.int(data.numItems); // negatives need not avoid positives for a parity check
    }
    return { users, pos, neg };
  };
  /** Losses of two consecutive training steps (the second sees the first step's f16-derived update). */
  const twoSteps = async (be: Backend, p: 'f32' | 'f16') => {
    const m = RecModel.create(be, config(p), modelData, { seed: 5 });
    const b = batch();
    const l1 = await m.trainStep(b);
    const l2 = await m.trainStep(b);
    const bytes = m.textTableBytes;
    const params = await m.exportParameters();
    m.dispose();
    return { l1, l2, bytes, w1: params.get('int_mlp.0.weight')!.data };
  };
  const vec = (l: Record<string, number>) => ['bpr', 'kd', 'kd_int', 'ssl', 'itm', 'total'].map((k) => l[k]);

  it('halves the text bytes; one IRLLRec step in f16 matches f32 within the rounding bound; the CPU backend matches the GPU', async () => {
    const g = await gpu();
    const f32 = await twoSteps(g, 'f32');
    const f16 = await twoSteps(g, 'f16');
    // Profile 33 and intent 33 wide: 17 words per row instead of 33 floats.
    const n = data.numUsers + data.numItems;
    expect(f32.bytes).toBe(2 * n * 33 * 4);
    expect(f16.bytes).toBe(2 * n * 17 * 4);
    // f16 vs f32: every text element moves by ≤ 2^-11 ≈ 4.9e-4 of its magnitude, so a tower output moves
    // by at most that fraction of Σ|x||w| (errors of one sign); the losses are smooth in the outputs, so
    // 2^-11 relative bounds their change too. Random-sign rounding errors average out: measured ≤ 1.1e-5
    // relative (kd_int; f64 CPU), so the bound has a 40× margin and still fails on any wrong read.
    const F16_LOSS_TOL = { atol: 1e-6, rtol: 2 ** -11 };
    expectClose(vec(f16.l1), vec(f32.l1), F16_LOSS_TOL, 'step 1 losses f16 vs f32');
    expectClose(vec(f16.l2), vec(f32.l2), F16_LOSS_TOL, 'step 2 losses f16 vs f32');
    // ...and the rounding is really applied (identical losses would mean the f16 path is not in use).
    expect(vec(f16.l1).some((v, i) => v !== vec(f32.l1)[i])).toBe(true);
    // The CPU backend honours the option identically: same halves, so it agrees with the GPU at the f32
    // tolerance of the GPU-vs-CPU model tests, and it differs from its own f32 run.
    const c = cpu('f32');
    const cpu16 = await twoSteps(c, 'f16');
    const cpu32 = await twoSteps(c, 'f32');
    expect(cpu16.bytes).toBe(f16.bytes);
    expectClose(vec(cpu16.l1), vec(f16.l1), { atol: 1e-6, rtol: 1e-4 }, 'step 1 losses CPU f16 vs GPU f16');
    expectClose(vec(cpu16.l2), vec(f16.l2), { atol: 1e-6, rtol: 1e-4 }, 'step 2 losses CPU f16 vs GPU f16');
    expectClose(cpu16.w1, f16.w1, { atol: 1e-5, rtol: 1e-4 }, 'intent W1 after two steps, CPU f16 vs GPU f16');
    expect(vec(cpu16.l1).some((v, i) => v !== vec(cpu32.l1)[i])).toBe(true);
  });

  it('rejects an unknown textPrecision and text beyond the f16 range', () => {
    expect(() => modelConfig('irllrec', 'default', { textPrecision: 'bf16' as 'f16' })).toThrow(/textPrecision/);
    const big = { ...data.text, userIntent: { ...data.text.userIntent!, data: Float32Array.from(data.text.userIntent!.data, (v, i) => (i === 7 ? 1e5 : v)) } };
    expect(() => RecModel.create(cpu('f32'), config('f16'), { ...modelData, text: big })).toThrow(/text\.intent.*row 0, column 7/);
    // f32 storage accepts it.
    RecModel.create(cpu('f32'), config('f32'), { ...modelData, text: big }).dispose();
  });
});
