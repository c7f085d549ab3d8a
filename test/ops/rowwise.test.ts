import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import {
  type NormMode,
  itmLoss,
  normalizeRows,
  normalizeRowsBackward,
  rowDots,
  softmaxRows,
  softmaxRowsBackward,
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
