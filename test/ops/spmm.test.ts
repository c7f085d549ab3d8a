import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { csrTensor, spmm } from '../../src/ops/spmm.js';
import type { Backend } from '../../src/ops/tensor.js';
import { cpu, expectClose, expectGradClose, finiteDiff, gpu, randArray, randBipartite, randCsr, rng } from '../helpers.js';

// GPU vs CPU twin: f32 sums of ≤ ~40 products of values in [-1, 1]: 1e-5 absolute is ample.
const TOL = { atol: 2e-5, rtol: 1e-5 };

async function runBoth(fn: (be: Backend) => Promise<ArrayLike<number>>) {
  const g = await gpu();
  return { gpu: await fn(g), cpu: await fn(cpu('f64')) };
}

describe('spmm (CSR × dense)', () => {
  afterAll(async () => (await gpu()).destroy());

  for (const [rows, cols, d] of [
    [1, 1, 1],
    [37, 23, 5],
    [130, 77, 32],
    [301, 299, 33],
    [64, 50, 128],
  ] as const) {
    it(`matches the CPU twin for ${rows}×${cols} · d=${d}, with empty rows`, async () => {
      const r = rng(rows * 7 + d);
      const a = randCsr(r, rows, cols, 0.2);
      const x = randArray(r, cols * d);
      const res = await runBoth(async (be) => {
        const A = csrTensor(be, a);
        const X = be.tensor(x, [cols, d]);
        const Y = be.zeros([rows, d]);
        spmm(be, A, X, Y);
        return be.read(Y);
      });
      expectClose(res.gpu, res.cpu, TOL, 'Y');
      // empty rows give zeros
      if (rows > 2) for (let c = 0; c < d; c++) expect(res.gpu[2 * d + c]).toBe(0);
    });
  }

  it('accumulates, uses override values and a value index on both backends alike', async () => {
    const r = rng(5);
    const g = randBipartite(r, 17, 13, 0.3);
    const d = 7;
    const x = randArray(r, g.n * d);
    const y0 = randArray(r, g.n * d);
    const vals = randArray(r, g.colIdx.length, 0, 1);
    const res = await runBoth(async (be) => {
      const A = csrTensor(be, { rows: g.n, cols: g.n, rowPtr: g.rowPtr, colIdx: g.colIdx });
      const X = be.tensor(x, [g.n, d]);
      const Y = be.tensor(y0, [g.n, d]);
      const V = be.tensor(vals, [vals.length]);
      const R = be.tensor(g.rev, [g.rev.length], 'u32');
      spmm(be, A, X, Y, { values: V, valueIndex: R, accumulate: true });
      return be.read(Y);
    });
    expectClose(res.gpu, res.cpu, TOL, 'Y');
  });

  it('transposed product through the reverse-edge index is the gradient of <G, A·X> (finite differences, f64)', async () => {
    const r = rng(9);
    const g = randBipartite(r, 6, 5, 0.5);
    const d = 3;
    const be = cpu('f64');
    const vals = randArray(r, g.colIdx.length, 0.1, 1); // asymmetric values: A ≠ Aᵀ
    const A = csrTensor(be, { rows: g.n, cols: g.n, rowPtr: g.rowPtr, colIdx: g.colIdx, values: vals });
    const X = be.tensor(randArray(r, g.n * d), [g.n, d]);
    const G = be.tensor(randArray(r, g.n * d), [g.n, d]);
    const Y = be.zeros([g.n, d]);
    const loss = () => {
      spmm(be, A, X, Y);
      let s = 0;
      for (let i = 0; i < Y.size; i++) s += Y.f[i] * G.f[i];
      return s;
    };
    const numeric = finiteDiff(loss, X.f as Float64Array);
    const gX = be.zeros([g.n, d]);
    spmm(be, A, G, gX, { values: A.values, valueIndex: be.tensor(g.rev, [g.rev.length], 'u32') });
    expectGradClose(gX.f, numeric, 'dL/dX');
  });

  it('rejects mismatched shapes and out-of-range column ids with errors that name them', async () => {
    const be = cpu();
    const a = randCsr(rng(1), 4, 3);
    const A = csrTensor(be, a);
    expect(() => spmm(be, A, be.zeros([4, 2]), be.zeros([4, 2]))).toThrow(/x .* has shape \[4, 2\], expected \[3, \*\]/);
    expect(() => spmm(be, A, be.zeros([3, 2]), be.zeros([4, 3]))).toThrow(/y .* expected \[4, 2\]/);
    const bad = { ...a, colIdx: a.colIdx.slice() };
    bad.colIdx[0] = 3;
    expect(() => csrTensor(be, bad)).toThrow(IrllrecError);
    expect(() => csrTensor(be, bad)).toThrow(/colIdx\[0\] = 3 is out of range/);
  });
});
