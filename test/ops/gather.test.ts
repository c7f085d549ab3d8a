import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { disposeRowGroups, gatherRows, rowGroups, scatterAddRows } from '../../src/ops/gather.js';
import type { Backend } from '../../src/ops/tensor.js';
import { cpu, expectClose, expectGradClose, finiteDiff, gpu, randArray, randInts, rng } from '../helpers.js';

// Gathers copy exactly. Scatter sums ≤ ~10 repeats of values in [-1, 1] per element in f32: 1e-6 absolute.
const SCATTER_TOL = { atol: 1e-6, rtol: 1e-6 };

afterAll(async () => (await gpu()).destroy());

async function runBoth<T>(fn: (be: Backend) => Promise<T>): Promise<{ gpu: T; cpu: T }> {
  return { gpu: await fn(await gpu()), cpu: await fn(cpu('f64')) };
}

function f32Array(seed: number, n: number): Float64Array {
  return Float64Array.from(randArray(rng(seed), n), Math.fround);
}

describe('rowGroups', () => {
  it('groups batch positions by id: distinct ids ascending, positions ascending within a group', async () => {
    const be = cpu();
    const ids = Uint32Array.from([5, 2, 5, 0, 2, 5, 9]);
    const g = rowGroups(be, ids, 10);
    expect(g.batch).toBe(7);
    expect(g.uniqueCount).toBe(4);
    expect(g.rows).toBe(10);
    expect([...g.ids.u]).toEqual([5, 2, 5, 0, 2, 5, 9]);
    expect([...g.unique.u]).toEqual([0, 2, 5, 9]);
    expect([...g.offsets.u]).toEqual([0, 1, 3, 6, 7]);
    expect([...g.positions.u]).toEqual([3, 1, 4, 0, 2, 5, 6]);
    disposeRowGroups(g);
    expect(g.unique.isDisposed).toBe(true);
  });

  it('handles an empty batch', () => {
    const g = rowGroups(cpu(), new Uint32Array(0), 4);
    expect(g.uniqueCount).toBe(0);
    expect([...g.offsets.u]).toEqual([0]);
  });

  it('rejects an out-of-range id, naming its position and value', () => {
    const ids = Uint32Array.from([1, 3, 4, 0]);
    expect(() => rowGroups(cpu(), ids, 4, 'items')).toThrow(IrllrecError);
    expect(() => rowGroups(cpu(), ids, 4, 'items')).toThrow(/items: ids\[2\] = 4 is out of range \(rows = 4\)/);
  });
});

describe('gatherRows and scatterAddRows', () => {
  for (const [rows, batch, d] of [
    [1, 1, 1],
    [50, 0, 8],
    [37, 200, 32],
    [500, 999, 33],
    [20, 77, 128],
  ] as const) {
    it(`match the CPU twins for ${rows} rows, batch ${batch}, d=${d} (repeated ids)`, async () => {
      const r = rng(rows * 13 + batch + d);
      // Draw from fewer rows than exist so that ids repeat and many rows are absent from the batch.
      const ids = randInts(r, batch, Math.max(1, Math.ceil(rows / 3)));
      const table = f32Array(rows + d, rows * d);
      const grads = f32Array(batch + 1, batch * d);
      const dst0 = f32Array(rows + 2, rows * d);
      const res = await runBoth(async (be) => {
        const groups = rowGroups(be, ids, rows, 'batch');
        const src = be.tensor(table, [rows, d]);
        const out = be.zeros([batch, d]);
        gatherRows(be, src, groups.ids, out);
        const dst = be.tensor(dst0, [rows, d]);
        scatterAddRows(be, be.tensor(grads, [batch, d]), groups, dst, { scale: 0.5 });
        const r2 = { gathered: await be.read(out), scattered: await be.read(dst) };
        disposeRowGroups(groups);
        return r2;
      });
      expect(Array.from(res.gpu.gathered)).toEqual(Array.from(res.cpu.gathered)); // exact copies
      expectClose(res.gpu.scattered, res.cpu.scattered, SCATTER_TOL, 'scatter');
      // Reference by a plain loop over the batch.
      const want = Float64Array.from(dst0);
      for (let b = 0; b < batch; b++) for (let c = 0; c < d; c++) want[ids[b] * d + c] += 0.5 * grads[b * d + c];
      expectClose(res.gpu.scattered, want, SCATTER_TOL, 'scatter vs loop');
      // Rows not in the batch are untouched, bit for bit.
      const inBatch = new Set(ids);
      for (let i = 0; i < rows; i++) {
        if (inBatch.has(i)) continue;
        for (let c = 0; c < d; c++) expect(res.gpu.scattered[i * d + c]).toBe(dst0[i * d + c]);
      }
    });
  }

  it('scatter-add is the adjoint of gather: the gradient of <G, gather(X)> (finite differences, f64)', () => {
    const be = cpu('f64');
    const [rows, batch, d] = [7, 12, 3];
    const ids = randInts(rng(3), batch, rows);
    ids[1] = ids[0]; // a repeat for sure
    const groups = rowGroups(be, ids, rows);
    const X = be.tensor(randArray(rng(4), rows * d), [rows, d]);
    const G = be.tensor(randArray(rng(5), batch * d), [batch, d]);
    const out = be.zeros([batch, d]);
    const loss = () => {
      gatherRows(be, X, groups.ids, out);
      let s = 0;
      for (let i = 0; i < out.size; i++) s += out.f[i] * G.f[i];
      return s;
    };
    const numeric = finiteDiff(loss, X.f as Float64Array);
    const gX = be.zeros([rows, d]);
    scatterAddRows(be, G, groups, gX);
    expectGradClose(gX.f, numeric, 'dL/dX');
  });

  it('rejects bad shapes, dtypes and ids with errors naming the argument', () => {
    const be = cpu();
    const groups = rowGroups(be, Uint32Array.from([0, 2]), 3);
    expect(() => gatherRows(be, be.zeros([3, 4]), groups.ids, be.zeros([2, 5]))).toThrow(/gatherRows: dst .* expected \[2, 4\]/);
    expect(() => gatherRows(be, be.zeros([3, 4]), be.zeros([2]), be.zeros([2, 4]))).toThrow(/gatherRows: ids .* dtype f32, expected u32/);
    expect(() => gatherRows(be, be.zeros([3, 4]), be.tensor([0, 3], [2], 'u32'), be.zeros([2, 4]))).toThrow(/ids\[1\] = 3 is out of range/);
    expect(() => scatterAddRows(be, be.zeros([3, 4]), groups, be.zeros([3, 4]))).toThrow(/scatterAddRows: src .* expected \[2, \*\]/);
    expect(() => scatterAddRows(be, be.zeros([2, 4]), groups, be.zeros([4, 4]))).toThrow(/scatterAddRows: dst .* expected \[3, 4\]/);
    expect(() => scatterAddRows(be, be.zeros([2, 4]), groups, be.zeros([3, 4]), { scale: Infinity })).toThrow(/scale must be finite/);
  });
});
