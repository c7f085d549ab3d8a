import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { addInto, axpy, checkFinite, fill, mulOnePlus, scaleInPlace } from '../../src/ops/elementwise.js';
import type { Backend } from '../../src/ops/tensor.js';
import { cpu, expectClose, expectGradClose, finiteDiff, gpu, randArray, rng } from '../helpers.js';

// One or two f32 roundings per element: 2 ulp relative plus a tiny absolute floor.
const TOL = { atol: 1e-7, rtol: 3e-7 };

afterAll(async () => (await gpu()).destroy());

async function runBoth<T>(fn: (be: Backend) => Promise<T>): Promise<{ gpu: T; cpu: T }> {
  return { gpu: await fn(await gpu()), cpu: await fn(cpu('f64')) };
}

function f32Array(seed: number, n: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from(randArray(rng(seed), n, lo, hi), Math.fround);
}

describe('element-wise ops', () => {
  for (const shape of [[1], [0], [257], [301, 33]] as number[][]) {
    const n = shape.reduce((a, b) => a * b, 1);
    it(`fill, scaleInPlace, axpy, addInto and mulOnePlus match the CPU twins for shape [${shape}]`, async () => {
      const x = f32Array(n + 1, n);
      const y0 = f32Array(n + 2, n);
      const noise = f32Array(n + 3, n, -2, 2);
      const res = await runBoth(async (be) => {
        const X = be.tensor(x, shape);
        const N = be.tensor(noise, shape);
        const filled = be.tensor(y0, shape);
        fill(be, filled, -2.5);
        const scaled = be.tensor(y0, shape);
        scaleInPlace(be, scaled, -0.75);
        const ax = be.tensor(y0, shape);
        axpy(be, 0.3, X, ax);
        const added = be.tensor(y0, shape);
        addInto(be, X, added);
        const mul = be.tensor(y0, shape);
        mulOnePlus(be, X, N, mul);
        const mulAcc = be.tensor(y0, shape);
        mulOnePlus(be, X, N, mulAcc, { accumulate: true });
        const read = (t: typeof X) => be.read(t);
        return {
          filled: await read(filled),
          scaled: await read(scaled),
          ax: await read(ax),
          added: await read(added),
          mul: await read(mul),
          mulAcc: await read(mulAcc),
        };
      });
      for (const k of Object.keys(res.cpu) as (keyof typeof res.cpu)[]) expectClose(res.gpu[k], res.cpu[k], TOL, k);
      // and against the formulas
      for (let i = 0; i < n; i++) {
        expect(res.gpu.filled[i]).toBe(-2.5);
        expect(res.cpu.ax[i]).toBeCloseTo(y0[i] + 0.3 * x[i], 12);
        expect(res.cpu.mul[i]).toBeCloseTo(x[i] * (1 + noise[i]), 12);
        expect(res.cpu.mulAcc[i]).toBeCloseTo(y0[i] + x[i] * (1 + noise[i]), 12);
      }
    });
  }

  it('fill overwrites garbage (NaN) without reading it', async () => {
    const g = await gpu();
    const t = g.tensor([NaN, Infinity, 1], [3]);
    fill(g, t, 0);
    expect(Array.from(await g.read(t))).toEqual([0, 0, 0]);
  });

  it('handles more than 65,535 workgroups (flattened 2-D grid)', async () => {
    const g = await gpu();
    const n = 65535 * 256 + 1001; // 65,539 workgroups of 256
    const t = g.zeros([n]);
    fill(g, t, 3);
    scaleInPlace(g, t, 0.5);
    const tail = await g.readRange(t, n - 1100, 1100);
    const head = await g.readRange(t, 0, 10);
    for (const v of tail) expect(v).toBe(1.5);
    for (const v of head) expect(v).toBe(1.5);
  });

  it('mulOnePlus backward: d<G, X ⊙ (1 + N)>/dX = G ⊙ (1 + N) (finite differences, f64)', () => {
    const be = cpu('f64');
    const X = be.tensor(randArray(rng(1), 15), [3, 5]);
    const N = be.tensor(randArray(rng(2), 15), [3, 5]);
    const G = be.tensor(randArray(rng(3), 15), [3, 5]);
    const Y = be.zeros([3, 5]);
    const loss = () => {
      mulOnePlus(be, X, N, Y);
      return (Y.f as Float64Array).reduce((s: number, v: number, i: number) => s + v * G.f[i], 0);
    };
    const numeric = finiteDiff(loss, X.f as Float64Array);
    const gX = be.zeros([3, 5]);
    mulOnePlus(be, G, N, gX, { accumulate: true });
    expectGradClose(gX.f, numeric, 'dL/dX');
  });
});

describe('checkFinite', () => {
  for (const [what, bad] of [
    ['NaN', NaN],
    ['+Inf', Infinity],
    ['-Inf', -Infinity],
  ] as const) {
    for (const pos of [0, 777, 1999]) {
      it(`flags ${what} at position ${pos} on both backends`, async () => {
        const x = f32Array(pos, 2000, -3e38, 3e38);
        x[pos] = bad;
        const res = await runBoth(async (be) => {
          const flag = be.zeros([1], 'u32');
          checkFinite(be, be.tensor(x, [2000]), flag);
          return (await be.read(flag))[0];
        });
        expect(res.gpu).toBe(1);
        expect(res.cpu).toBe(1);
      });
    }
  }

  it('leaves the flag at 0 for finite values (including ±3.4e38 and subnormals) and never clears it', async () => {
    const x = Float64Array.from([3.4e38, -3.4e38, 1e-45, -0, 0, 1]);
    const res = await runBoth(async (be) => {
      const flag = be.zeros([1], 'u32');
      const X = be.tensor(x, [x.length]);
      checkFinite(be, X, flag);
      const clean = (await be.read(flag))[0];
      const sticky = be.tensor([1], [1], 'u32');
      checkFinite(be, X, sticky);
      return [clean, (await be.read(sticky))[0]];
    });
    expect(res.gpu).toEqual([0, 1]);
    expect(res.cpu).toEqual([0, 1]);
  });
});

describe('bad inputs', () => {
  it('are rejected with errors that name the op and the argument', () => {
    const be = cpu();
    const x = be.zeros([3, 4]);
    expect(() => axpy(be, 1, x, be.zeros([4, 3]))).toThrow(/axpy: y .* has shape \[4, 3\], expected \[3, 4\]/);
    expect(() => axpy(be, 1, x, x)).toThrow(/axpy: x and y must be different/);
    expect(() => axpy(be, NaN, x, be.zeros([3, 4]))).toThrow(/axpy: alpha must be finite/);
    expect(() => addInto(be, x, be.zeros([12]))).toThrow(/addInto: y .* expected \[3, 4\]/);
    expect(() => mulOnePlus(be, x, be.zeros([3, 3]), be.zeros([3, 4]))).toThrow(/mulOnePlus: noise/);
    expect(() => mulOnePlus(be, x, be.zeros([3, 4]), x)).toThrow(IrllrecError);
    expect(() => fill(be, be.zeros([2], 'u32'), 1)).toThrow(/fill: t .* dtype u32, expected f32/);
    expect(() => scaleInPlace(be, x, Infinity)).toThrow(/scaleInPlace: alpha must be finite/);
    expect(() => checkFinite(be, x, be.zeros([1]))).toThrow(/checkFinite: flag .* dtype f32, expected u32/);
    expect(() => checkFinite(be, x, be.zeros([0], 'u32'))).toThrow(/checkFinite: flag .* at least one element/);
  });
});
