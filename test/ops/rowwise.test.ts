import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import {
  type NormMode,
  itmLoss,
  itmLossCpu,
  recordItmRows,
  normalizeRows,
  type RowEntry,
  type RowSplit,
  normalizeRowsBackward,
  normalizeRowsBackwardCpu,
  normalizeRowsCpu,
  recordRowKernel,
  rowDots,
  rowSplit,
  softmaxRows,
  softmaxRowsBackward,
  softmaxRowsBackwardCpu,
  softmaxRowsCpu,
} from '../../src/ops/rowwise.js';
import type { Backend } from '../../src/ops/tensor.js';
import { cpu, expectClose, expectGradClose, finiteDiff, gpu, randArray, rng } from '../helpers.js';

// GPU (f32) vs the CPU twin in float64 on the same f32-rounded inputs. Softmax outputs are in [0, 1] and
// only differ by f32 rounding of exp and of the row sum (≤ 128 terms): 1e-6 absolute + 1e-5 relative.
const PROB_TOL = { atol: 1e-6, rtol: 1e-5 };
// Normalised rows, dots and gradients of O(1) magnitude over ≤ 1536-term f32 sums.
const TOL = { atol: 2e-6, rtol: 2e-5 };

/** Random values rounded to f32, so both backends see exactly the same inputs. */
function f32Array(seed: number, n: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from(randArray(rng(seed), n, lo, hi), Math.fround);
}

async function runBoth<T>(fn: (be: Backend) => Promise<T>): Promise<{ gpu: T; cpu: T }> {
  return { gpu: await fn(await gpu()), cpu: await fn(cpu('f64')) };
}

/** Logits around ±1e4 (exp would overflow f32 and f64 without the max shift) plus O(1) spread. */
function hugeLogits(seed: number, rows: number, cols: number): Float64Array {
  const r = rng(seed);
  const x = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const offset = i % 2 === 0 ? 1e4 : -1e4;
    for (let c = 0; c < cols; c++) x[i * cols + c] = Math.fround(offset + r.uniform(-6, 6));
  }
  return x;
}

afterAll(async () => (await gpu()).destroy());

describe('softmaxRows and its backward', () => {
  for (const [rows, cols, huge] of [
    [1, 1, false],
    [5, 7, false],
    [67, 32, true],
    [37, 128, true],
    [9, 129, false],
    [3, 1000, true],
  ] as const) {
    it(`matches the CPU twin for ${rows}×${cols}${huge ? ' with logits near ±1e4' : ''}`, async () => {
      const x = huge ? hugeLogits(rows * cols, rows, cols) : f32Array(rows + cols, rows * cols, -8, 8);
      const res = await runBoth(async (be) => {
        const X = be.tensor(x, [rows, cols]);
        const Y = be.zeros([rows, cols]);
        softmaxRows(be, X, Y);
        return be.read(Y);
      });
      expectClose(res.gpu, res.cpu, PROB_TOL, 'softmax');
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += res.gpu[i * cols + c];
        expect(Math.abs(s - 1), `row ${i} sums to 1`).toBeLessThan(1e-5);
      }
    });
  }

  it('backward matches the CPU twin (overwrite and accumulate)', async () => {
    const [rows, cols] = [41, 128];
    const x = f32Array(3, rows * cols, -4, 4);
    const gy = f32Array(4, rows * cols);
    const g0 = f32Array(5, rows * cols);
    const res = await runBoth(async (be) => {
      const X = be.tensor(x, [rows, cols]);
      const Y = be.zeros([rows, cols]);
      const GY = be.tensor(gy, [rows, cols]);
      const GX = be.tensor(g0, [rows, cols]);
      const GXacc = be.tensor(g0, [rows, cols]);
      softmaxRows(be, X, Y);
      softmaxRowsBackward(be, Y, GY, GX);
      softmaxRowsBackward(be, Y, GY, GXacc, { accumulate: true });
      return { gx: await be.read(GX), acc: await be.read(GXacc) };
    });
    expectClose(res.gpu.gx, res.cpu.gx, TOL, 'gX');
    expectClose(res.gpu.acc, res.cpu.acc, TOL, 'gX accumulated');
    // accumulate really adds onto the previous contents
    expectClose(res.cpu.acc, res.cpu.gx.map((v, i) => v + g0[i]), { atol: 1e-12, rtol: 1e-12 }, 'acc = g0 + gX');
  });

  it('backward is the gradient of <G, softmax(X)> (finite differences, f64)', () => {
    const be = cpu('f64');
    const [rows, cols] = [4, 9];
    const X = be.tensor(randArray(rng(11), rows * cols, -3, 3), [rows, cols]);
    const G = be.tensor(randArray(rng(12), rows * cols), [rows, cols]);
    const Y = be.zeros([rows, cols]);
    const loss = () => {
      softmaxRows(be, X, Y);
      let s = 0;
      for (let i = 0; i < Y.size; i++) s += Y.f[i] * G.f[i];
      return s;
    };
    const numeric = finiteDiff(loss, X.f as Float64Array);
    softmaxRows(be, X, Y);
    const gX = be.zeros([rows, cols]);
    softmaxRowsBackward(be, Y, G, gX);
    expectGradClose(gX.f, numeric, 'dL/dX');
  });
});

describe('normalizeRows (n and ñ) and its backward', () => {
  /** Rows: random, one all-zero row, one with norm 1e-13 (below the hard floor), one huge. */
  function inputs(seed: number, rows: number, cols: number): Float64Array {
    const x = f32Array(seed, rows * cols, -2, 2);
    if (rows > 2) x.fill(0, 1 * cols, 2 * cols);
    if (rows > 3) for (let c = 0; c < cols; c++) x[3 * cols + c] = Math.fround(((c % 3) - 1) * 1e-13 / Math.sqrt(cols));
    if (rows > 4) for (let c = 0; c < cols; c++) x[4 * cols + c] = Math.fround(x[4 * cols + c] * 1e6);
    return x;
  }

  for (const mode of ['hard', 'soft'] as NormMode[]) {
    for (const [rows, cols] of [
      [1, 1],
      [13, 32],
      [7, 33],
      [5, 1536],
    ] as const) {
      it(`${mode}: forward and backward match the CPU twin for ${rows}×${cols} (zero and tiny rows)`, async () => {
        const x = inputs(rows * 31 + cols, rows, cols);
        const g = f32Array(rows + 2 * cols, rows * cols);
        const g0 = f32Array(7, rows * cols);
        const res = await runBoth(async (be) => {
          const X = be.tensor(x, [rows, cols]);
          const Y = be.zeros([rows, cols]);
          const G = be.tensor(g, [rows, cols]);
          const GX = be.zeros([rows, cols]);
          const GXacc = be.tensor(g0, [rows, cols]);
          normalizeRows(be, X, Y, { mode });
          normalizeRowsBackward(be, X, G, GX, { mode });
          normalizeRowsBackward(be, X, G, GXacc, { mode, accumulate: true });
          return { y: await be.read(Y), gx: await be.read(GX), acc: await be.read(GXacc) };
        });
        expectClose(res.gpu.y, res.cpu.y, TOL, 'y');
        // Gradients of the tiny row are ~1e12-1e13: compare relatively.
        expectClose(res.gpu.gx, res.cpu.gx, TOL, 'gX');
        expectClose(res.gpu.acc, res.cpu.acc, TOL, 'gX accumulated');
        if (rows > 2) for (let c = 0; c < cols; c++) expect(res.gpu.y[cols + c]).toBe(0); // zero row stays zero
        if (rows > 3 && mode === 'hard') {
          // below the floor: y = x / 1e-12 and gX = g / 1e-12
          expectClose(res.gpu.gx.slice(3 * cols, 4 * cols), g.slice(3 * cols, 4 * cols).map((v) => v / 1e-12), { atol: 0, rtol: 1e-5 }, 'g/1e-12');
        }
      });
    }

    it(`${mode}: backward is the exact derivative (finite differences, f64)`, () => {
      const be = cpu('f64');
      const [rows, cols] = [5, 6];
      const xs = randArray(rng(21), rows * cols, -1, 1);
      // One small row where ñ's 1e-8 matters (‖x‖² ~ 1e-8) but still away from the hard 1e-12 kink.
      for (let c = 0; c < cols; c++) xs[2 * cols + c] *= 1e-4;
      const X = be.tensor(xs, [rows, cols]);
      const G = be.tensor(randArray(rng(22), rows * cols), [rows, cols]);
      const Y = be.zeros([rows, cols]);
      const loss = () => {
        normalizeRows(be, X, Y, { mode });
        let s = 0;
        for (let i = 0; i < Y.size; i++) s += Y.f[i] * G.f[i];
        return s;
      };
      const numeric = finiteDiff(loss, X.f as Float64Array, 1e-9);
      const gX = be.zeros([rows, cols]);
      normalizeRowsBackward(be, X, G, gX, { mode });
      expectGradClose(gX.f, numeric, `d<G, ${mode}(X)>/dX`, 1e-5);
    });
  }

  it('hard normalisation gives unit rows and soft stays just below 1', async () => {
    const g = await gpu();
    const x = f32Array(99, 4 * 32, -3, 3);
    const X = g.tensor(x, [4, 32]);
    for (const mode of ['hard', 'soft'] as NormMode[]) {
      const Y = g.zeros([4, 32]);
      normalizeRows(g, X, Y, { mode });
      const y = await g.read(Y);
      for (let r = 0; r < 4; r++) {
        let ss = 0;
        for (let c = 0; c < 32; c++) ss += y[r * 32 + c] ** 2;
        expect(Math.abs(Math.sqrt(ss) - 1)).toBeLessThan(2e-6);
      }
    }
  });
});

describe('rowDots', () => {
  for (const [rows, cols] of [
    [1, 1],
    [300, 32],
    [17, 200],
  ] as const) {
    it(`matches the CPU twin for ${rows}×${cols}`, async () => {
      const a = f32Array(rows, rows * cols);
      const b = f32Array(cols, rows * cols);
      const res = await runBoth(async (be) => {
        const out = be.zeros([rows]);
        rowDots(be, be.tensor(a, [rows, cols]), be.tensor(b, [rows, cols]), out);
        return be.read(out);
      });
      expectClose(res.gpu, res.cpu, TOL, 'dots');
    });
  }
});

describe('itmLoss (spec §4.7)', () => {
  for (const [rows, cols, huge] of [
    [1, 1, false],
    [9, 7, false],
    [301, 32, false],
    [33, 32, true],
    [4, 130, false],
  ] as const) {
    it(`matches the CPU twin for ${rows}×${cols}${huge ? ' with logits near ±1e4' : ''}`, async () => {
      const z = huge ? hugeLogits(rows + 1, rows, cols) : f32Array(rows * 3, rows * cols, -3, 3);
      const t = huge ? hugeLogits(rows + 2, rows, cols) : f32Array(rows * 5, rows * cols, -3, 3);
      const g0 = f32Array(8, rows * cols);
      const gradScale = 0.6 * 0.1 / rows;
      const res = await runBoth(async (be) => {
        const Z = be.tensor(z, [rows, cols]);
        const T = be.tensor(t, [rows, cols]);
        const out = be.tensor([0.25, 0, 0.5], [3]);
        const GZ = be.zeros([rows, cols]);
        const GZacc = be.tensor(g0, [rows, cols]);
        itmLoss(be, Z, T, out, 1, { lossScale: -gradScale, gradScale, gZ: GZ });
        itmLoss(be, Z, T, out, 2, { lossScale: 2, gradScale, gZ: GZacc, accumulate: true });
        itmLoss(be, Z, T, out, 0, { lossScale: 1, gradScale }); // value only
        return { out: await be.read(out), gz: await be.read(GZ), acc: await be.read(GZacc) };
      });
      // Σ q log p is a sum of rows·cols terms of size ≤ |log p|; f32 tolerance relative to its magnitude.
      expectClose(res.gpu.out, res.cpu.out, { atol: 1e-5, rtol: 2e-5 }, 'loss');
      expectClose(res.gpu.gz, res.cpu.gz, { atol: 1e-7 * gradScale * 10, rtol: 1e-5 }, 'gZ');
      expectClose(res.gpu.acc, res.cpu.acc, { atol: 1e-6, rtol: 1e-5 }, 'gZ accumulated');
      expect(res.cpu.out[0]).toBeLessThanOrEqual(0.25); // Σ q log p ≤ 0
      for (const v of res.gpu.out) expect(Number.isFinite(v)).toBe(true);
    });
  }

  it('the gradient gradScale·(p − q) is the derivative of lossScale·Σ q log p when lossScale = −gradScale (finite differences, f64)', () => {
    const be = cpu('f64');
    const [rows, cols] = [6, 7];
    const Z = be.tensor(randArray(rng(31), rows * cols, -3, 3), [rows, cols]);
    const T = be.tensor(randArray(rng(32), rows * cols, -3, 3), [rows, cols]);
    const gradScale = 0.6 * 0.3 / rows;
    const out = be.zeros([1]);
    const loss = () => {
      out.f[0] = 0;
      itmLoss(be, Z, T, out, 0, { lossScale: -gradScale, gradScale });
      return out.f[0];
    };
    const numeric = finiteDiff(loss, Z.f as Float64Array);
    const gZ = be.zeros([rows, cols]);
    itmLoss(be, Z, T, out, 0, { lossScale: -gradScale, gradScale, gZ });
    expectGradClose(gZ.f, numeric, 'dL/dZ');
  });

  it('returns its temporary buffers to the pool', async () => {
    const g = await gpu();
    const Z = g.tensor(randArray(rng(1), 5000 * 8), [5000, 8]);
    const out = g.zeros([1]);
    const live = g.poolStats.liveBuffers;
    itmLoss(g, Z, Z, out, 0, { lossScale: 1, gradScale: 1 });
    await g.flush();
    expect(g.poolStats.liveBuffers).toBe(live);
  });

  it('equals −KL(q‖p) − H(q) per row, and zero gradient when z = t', () => {
    const be = cpu('f64');
    const z = [0.1, -0.2, 0.3];
    const Z = be.tensor(z, [1, 3]);
    const out = be.zeros([1]);
    const gZ = be.zeros([1, 3]);
    itmLoss(be, Z, be.tensor(z, [1, 3]), out, 0, { lossScale: 1, gradScale: 1, gZ });
    const m = Math.max(...z);
    const s = z.reduce((a, v) => a + Math.exp(v - m), 0);
    const p = z.map((v) => Math.exp(v - m) / s);
    const entropy = -p.reduce((a, v) => a + v * Math.log(v), 0);
    expect(out.f[0]).toBeCloseTo(-entropy, 12);
    for (const v of gZ.f) expect(Math.abs(v)).toBeLessThan(1e-15);
  });
});

describe('both GPU layouts (workgroup per row, invocation per row) match the CPU twins', () => {
  // The ops pick one layout per adapter (rowSplit); the lavapipe CI adapter only ever picks 'thread', so both
  // are run here explicitly. Row lengths: multiples of 4 (vec4 rows) and not, 1, and longer than any
  // workgroup; rows not a multiple of the 32-invocation workgroup. OUT starts as NaN garbage (overwrite must
  // not read it) or as g0 (accumulate). Includes a zero row, a row below the hard floor and ±1e4 logits.
  const twins: Record<RowEntry, (rows: number, cols: number, a: Float64Array, b: Float64Array, out: Float64Array, mode: NormMode, acc: boolean) => void> = {
    softmax_forward: (rows, cols, a, _b, out) => softmaxRowsCpu(rows, cols, a, out),
    softmax_backward: (rows, cols, a, b, out, _m, acc) => softmaxRowsBackwardCpu(rows, cols, a, b, out, acc),
    normalize_forward: (rows, cols, a, _b, out, mode) => normalizeRowsCpu(rows, cols, a, out, mode),
    normalize_backward: (rows, cols, a, b, out, mode, acc) => normalizeRowsBackwardCpu(rows, cols, a, b, out, mode, acc),
  };
  const variants: [RowEntry, NormMode, boolean][] = [
    ['softmax_forward', 'hard', false],
    ['softmax_backward', 'hard', false],
    ['softmax_backward', 'hard', true],
    ['normalize_forward', 'hard', false],
    ['normalize_forward', 'soft', false],
    ['normalize_backward', 'hard', true],
    ['normalize_backward', 'soft', false],
  ];
  it('picks the invocation-per-row layout on software adapters only', async () => {
    expect(rowSplit(true)).toBe('thread');
    expect(rowSplit(false)).toBe('workgroup');
    expect((await gpu()).ctx.adapter.isSoftware).toBe(true); // so the ops above ran the 'thread' layout
  });
  it('thread layout: more than 65,535 workgroups of 32 rows (2-D grid, overshoot guarded)', async () => {
    const g = await gpu();
    const [rows, cols] = [65_535 * 32 + 77, 1];
    const x = f32Array(41, rows * cols, -3, 3);
    const X = g.tensor(x, [rows, cols]);
    const Y = g.tensor(new Float64Array(rows * cols).fill(Number.NaN), [rows, cols]);
    recordRowKernel(g, 'normalize_forward', X, X, Y, rows, cols, 1, false, 'thread');
    const want = new Float64Array(rows * cols);
    normalizeRowsCpu(rows, cols, x, want, 'soft');
    expectClose(await g.read(Y), want, TOL, 'ñ(x) over 2.1M rows');
  });
  for (const split of ['workgroup', 'thread'] as RowSplit[]) {
    for (const [rows, cols] of [
      [70, 32],
      [9, 1],
      [37, 6],
      [5, 260],
    ] as const) {
      it(`${split}: ${rows}×${cols}`, async () => {
        const g = await gpu();
        const a = hugeLogits(rows + cols, rows, cols).map((v, i) => (Math.floor(i / cols) % 3 === 0 ? v : Math.fround(v * 1e-4)));
        a.fill(0, 1 * cols, 2 * cols); // zero row
        for (let c = 0; c < cols; c++) a[2 * cols + c] = Math.fround(1e-14 * (c % 2 ? 1 : -1)); // below the hard floor
        const b = f32Array(rows * cols + 1, rows * cols);
        const g0 = f32Array(rows * cols + 2, rows * cols);
        const A = g.tensor(a, [rows, cols]);
        const B = g.tensor(b, [rows, cols]);
        for (const [entry, mode, acc] of variants) {
          // Backward passes of the softmax take y = softmax(a) as their first input.
          const first = entry === 'softmax_backward' ? new Float64Array(rows * cols) : a;
          if (entry === 'softmax_backward') softmaxRowsCpu(rows, cols, a, first);
          const First = entry === 'softmax_backward' ? g.tensor(first, [rows, cols]) : A;
          const Out = g.tensor(acc ? g0 : new Float64Array(rows * cols).fill(Number.NaN), [rows, cols]);
          recordRowKernel(g, entry, First, B, Out, rows, cols, mode === 'hard' ? 0 : 1, acc, split);
          const want = acc ? Float64Array.from(g0) : new Float64Array(rows * cols);
          twins[entry](rows, cols, first, b, want, mode, acc);
          const got = await g.read(Out);
          // gX of the row below the hard floor is g/1e-12 ~ 1e12: relative tolerance covers it.
          expectClose(got, want, entry.startsWith('softmax_forward') ? PROB_TOL : TOL, `${entry} ${mode}${acc ? ' accumulate' : ''}`);
        }
      });
    }
  }
});

describe('itm: both GPU layouts match the CPU twin row by row', () => {
  for (const split of ['workgroup', 'thread'] as RowSplit[]) {
    for (const [rows, cols] of [
      [45, 32],
      [7, 5],
    ] as const) {
      it(`${split}: ${rows}×${cols}, with and without the gradient`, async () => {
        const g = await gpu();
        const z = hugeLogits(rows * 3 + cols, rows, cols);
        const t = f32Array(rows + 5 * cols, rows * cols, -6, 6);
        const g0 = f32Array(rows + 6 * cols, rows * cols);
        const Z = g.tensor(z, [rows, cols]);
        const T = g.tensor(t, [rows, cols]);
        // Per-row twin: row losses Σ_c q log p (lossScale 1) and gZ = g0 + 0.3·(p − q).
        const wantLoss = new Float64Array(rows);
        const wantGrad = Float64Array.from(g0);
        for (let r = 0; r < rows; r++) {
          const out = new Float64Array(1);
          const sl = (a: Float64Array) => a.subarray(r * cols, (r + 1) * cols);
          itmLossCpu(1, cols, sl(z), sl(t), out, 0, 1, 0.3, sl(wantGrad), true);
          wantLoss[r] = out[0];
        }
        for (const hasGrad of [true, false]) {
          const GZ = g.tensor(g0, [rows, cols]);
          const loss = g.tensor(new Float64Array(rows).fill(Number.NaN), [rows]);
          recordItmRows(g, Z, T, hasGrad ? GZ.buffer : g.zeros([1]).buffer, loss.buffer, rows, cols, 0.3, hasGrad, true, split);
          expectClose(await g.read(loss), wantLoss, TOL, `row losses (gradient ${hasGrad})`);
          if (hasGrad) expectClose(await g.read(GZ), wantGrad, TOL, 'gZ accumulated');
        }
      });
    }
  }
});

describe('bad inputs', () => {
  it('are rejected with errors that name the op and the argument', () => {
    const be = cpu();
    const x = be.zeros([3, 4]);
    expect(() => softmaxRows(be, x, be.zeros([3, 5]))).toThrow(/softmaxRows: y .* has shape \[3, 5\], expected \[3, 4\]/);
    expect(() => softmaxRows(be, x, x)).toThrow(/softmaxRows: x and y must be different/);
    expect(() => softmaxRows(be, be.zeros([12]), be.zeros([12]))).toThrow(/x .* expected \[\*, \*\]/);
    expect(() => softmaxRowsBackward(be, x, be.zeros([4, 3]), be.zeros([3, 4]))).toThrow(/gY .* expected \[3, 4\]/);
    expect(() => normalizeRows(be, x, be.zeros([3, 4]), { mode: 'l1' as NormMode })).toThrow(/normalizeRows: mode must be 'hard' or 'soft'/);
    expect(() => normalizeRowsBackward(be, x, be.zeros([3, 4]), be.zeros([2, 4]), { mode: 'soft' })).toThrow(/gX .* expected \[3, 4\]/);
    expect(() => rowDots(be, x, x, be.zeros([4]))).toThrow(/rowDots: out .* expected \[3\]/);
    expect(() => softmaxRows(be, be.zeros([3, 4], 'u32'), be.zeros([3, 4]))).toThrow(/x .* dtype u32, expected f32/);
    const out = be.zeros([2]);
    expect(() => itmLoss(be, x, be.zeros([3, 4]), out, 2, { lossScale: 1, gradScale: 1 })).toThrow(IrllrecError);
    expect(() => itmLoss(be, x, be.zeros([3, 4]), out, 2, { lossScale: 1, gradScale: 1 })).toThrow(/itmLoss: slot 2 is outside/);
    expect(() => itmLoss(be, x, be.zeros([3, 3]), out, 0, { lossScale: 1, gradScale: 1 })).toThrow(/itmLoss: t .* expected \[3, 4\]/);
    expect(() => itmLoss(be, x, be.zeros([3, 4]), out, 0, { lossScale: NaN, gradScale: 1 })).toThrow(/lossScale must be finite/);
    expect(() => itmLoss(be, x, be.zeros([3, 4]), out, 0, { lossScale: 1, gradScale: 1, gZ: be.zeros([3, 5]) })).toThrow(/gZ .* expected \[3, 4\]/);
  });
});
