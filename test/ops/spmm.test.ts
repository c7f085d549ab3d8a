import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { type SpmmPlan, csrTensor, recordSpmm, spmm, spmmCpu, spmmPlan } from '../../src/ops/spmm.js';
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

  // Every work split of the GPU kernel (the lavapipe CI adapter only ever picks the software one through spmm()):
  // one invocation per row (software), one per output element (hardware), and a middle split with a ragged
  // tail (chunks not dividing w); vec4 rows (d % 4 == 0) and f32 rows; values direct, indirect and absent;
  // overwrite (Y starts as garbage) and accumulate.
  const plans: [string, (d: number) => SpmmPlan][] = [
    ['software', (d) => spmmPlan(d, true)],
    ['hardware', (d) => spmmPlan(d, false)],
    ['3 chunks, WG 7', (d) => ({ vec4: d % 4 === 0, chunks: 3, workgroup: 7 })],
  ];
  for (const [rows, cols, d] of [
    [41, 29, 1],
    [41, 29, 4],
    [23, 31, 36],
    [19, 17, 128],
    [33, 20, 33],
  ] as const) {
    for (const [planName, plan] of plans) {
      if (planName.startsWith('3 chunks') && d < 12) continue; // rows of ≤ 3 elements: the same split as 'hardware'
      it(`${planName} split matches the CPU twin for ${rows}×${cols} · d=${d} (values direct / indirect / none, overwrite / accumulate)`, async () => {
        const g = await gpu();
        const r = rng(rows * 31 + d);
        const a = randCsr(r, rows, cols, 0.25);
        const x = randArray(r, cols * d);
        const y0 = randArray(r, rows * d);
        const vals = randArray(r, a.colIdx.length + 3, -1, 1);
        const index = Uint32Array.from(a.colIdx, (_, e) => (e * 7 + 3) % vals.length); // any in-range map
        const A = csrTensor(g, a);
        const X = g.tensor(x, [cols, d]);
        const V = g.tensor(vals, [vals.length]);
        const I = g.tensor(index, [index.length], 'u32');
        const cases = [
          { values: A.values, valueIndex: null, accumulate: false },
          { values: V, valueIndex: I, accumulate: true },
          { values: null, valueIndex: null, accumulate: false },
        ];
        for (const c of cases) {
          const Y = g.tensor(c.accumulate ? y0 : new Float64Array(rows * d).fill(Number.NaN), [rows, d]);
          recordSpmm(g, A, c.values, c.valueIndex, X, Y, c.accumulate, plan(d));
          const want = c.accumulate ? Float64Array.from(y0) : new Float64Array(rows * d);
          const hostValues = c.values === V ? vals : c.values ? a.values : null;
          spmmCpu(rows, d, a.rowPtr, a.colIdx, hostValues, c.valueIndex ? index : null, x, want, c.accumulate);
          const got = await g.read(Y);
          expectClose(got, want, TOL, `Y (values ${c.values ? (c.valueIndex ? 'indirect' : 'direct') : 'none'})`);
          if (!c.accumulate) for (let k = 0; k < d; k++) expect(got[2 * d + k]).toBe(0); // row 2 is empty
        }
      });
    }
  }

  it('covers more than 65,535 workgroups (2-D grid, overshoot guarded)', async () => {
    const g = await gpu();
    const rows = 70_001;
    const cols = 9;
    const d = 1;
    const rowPtr = Uint32Array.from({ length: rows + 1 }, (_, i) => i); // one edge per row
    const colIdx = Uint32Array.from({ length: rows }, (_, i) => (i * 5) % cols);
    const x = randArray(rng(3), cols * d);
    const A = csrTensor(g, { rows, cols, rowPtr, colIdx });
    const X = g.tensor(x, [cols, d]);
    const want = new Float64Array(rows * d);
    spmmCpu(rows, d, rowPtr, colIdx, null, null, x, want, false);
    for (const workgroup of [1, 2]) {
      const Y = g.zeros([rows, d]);
      recordSpmm(g, A, null, null, X, Y, false, { vec4: false, chunks: 1, workgroup });
      expectClose(await g.read(Y), want, TOL, `Y (WG ${workgroup})`);
    }
  });

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
