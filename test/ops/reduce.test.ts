import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { reduceSum, sumSquares } from '../../src/ops/reduce.js';
import { cpu, gpu, randArray, rng } from '../helpers.js';

afterAll(async () => (await gpu()).destroy());

const U = 2 ** -24; // f32 unit roundoff

/**
 * Error bound of the GPU reduction relative to Σ|terms|: each thread adds ≤ 16 elements serially, an
 * 8-level tree, then one workgroup adds ≤ ceil(P/256) partials serially and another 8-level tree, plus
 * the scale and the final add: ≤ (16 + 8 + ceil(P/256) + 8 + 2)·u. A naive serial f32 sum of n terms
 * only guarantees (n − 1)·u, so these tests would catch one for n ≥ ~40.
 */
function bound(n: number, absSum: number): number {
  const partials = Math.ceil(n / 4096);
  return (34 + Math.ceil(partials / 256)) * U * absSum + 1e-30;
}

describe('reduceSum and sumSquares', () => {
  for (const n of [0, 1, 1000, 4096, 4097, 300001]) {
    for (const positive of [false, true]) {
      it(`match the float64 sum for n = ${n}${positive ? ' (all positive)' : ''}`, async () => {
        const g = await gpu();
        const x = Float64Array.from(randArray(rng(n + (positive ? 1 : 0)), n, positive ? 0 : -1, 1), Math.fround);
        let sum = 0;
        let sq = 0;
        let abs = 0;
        for (const v of x) {
          sum += v;
          sq += v * v;
          abs += Math.abs(v);
        }
        const X = g.tensor(x, [n]);
        const out = g.tensor([0.5, -1, 2, 0], [4]);
        reduceSum(g, X, out, 1);
        sumSquares(g, X, out, 2, { scale: 0.25 });
        reduceSum(g, X, out, 3, { scale: -3 });
        const got = await g.read(out);
        expect(got[0]).toBe(0.5); // other slots untouched
        expect(Math.abs(got[1] - (-1 + sum))).toBeLessThanOrEqual(bound(n, abs) + U);
        expect(Math.abs(got[2] - (2 + 0.25 * sq))).toBeLessThanOrEqual(0.25 * bound(n, sq) + 2 * U);
        expect(Math.abs(got[3] - -3 * sum)).toBeLessThanOrEqual(3 * bound(n, abs));
        // The CPU twin accumulates in float64.
        const c = cpu('f64');
        const cout = c.tensor([0.5, -1, 2, 0], [4]);
        reduceSum(c, c.tensor(x, [n]), cout, 1);
        sumSquares(c, c.tensor(x, [n]), cout, 2, { scale: 0.25 });
        expect(cout.f[1]).toBeCloseTo(-1 + sum, 9);
        expect(cout.f[2]).toBeCloseTo(2 + 0.25 * sq, 9);
      });
    }
  }

  it('is deterministic (bit-identical on repeated runs) and accumulates across calls', async () => {
    const g = await gpu();
    const n = 123457;
    const x = randArray(rng(77), n, -5, 5);
    const X = g.tensor(x, [n]);
    const out = g.zeros([3]);
    reduceSum(g, X, out, 0);
    reduceSum(g, X, out, 1);
    reduceSum(g, X, out, 2);
    reduceSum(g, X, out, 2);
    const got = await g.read(out);
    expect(got[1]).toBe(got[0]);
    expect(got[2]).toBe(Math.fround(got[0] + got[0]));
  });

  it('returns its temporary partial-sum buffers to the pool', async () => {
    const g = await gpu();
    const X = g.tensor(randArray(rng(6), 50000), [50000]);
    const out = g.zeros([1]);
    const live = g.poolStats.liveBuffers;
    reduceSum(g, X, out, 0);
    sumSquares(g, X, out, 0);
    await g.flush();
    expect(g.poolStats.liveBuffers).toBe(live);
  });

  it('works on 2-D tensors (the whole tensor is summed)', async () => {
    const g = await gpu();
    const x = Float64Array.from(randArray(rng(5), 37 * 33), Math.fround);
    const out = g.zeros([1]);
    sumSquares(g, g.tensor(x, [37, 33]), out, 0);
    const want = x.reduce((s, v) => s + v * v, 0);
    expect((await g.read(out))[0]).toBeCloseTo(want, 3);
  });

  it('rejects a bad slot, scale or dtype with errors naming the argument', () => {
    const be = cpu();
    const x = be.zeros([5]);
    const out = be.zeros([2]);
    expect(() => reduceSum(be, x, out, 2)).toThrow(IrllrecError);
    expect(() => reduceSum(be, x, out, 2)).toThrow(/reduceSum: slot 2 is outside the loss vector/);
    expect(() => reduceSum(be, x, out, 0.5)).toThrow(/slot 0.5/);
    expect(() => sumSquares(be, x, out, 0, { scale: NaN })).toThrow(/sumSquares: scale must be finite/);
    expect(() => sumSquares(be, be.zeros([5], 'u32'), out, 0)).toThrow(/sumSquares: x .* dtype u32, expected f32/);
    expect(() => reduceSum(be, x, be.zeros([2], 'u32'), 0)).toThrow(/reduceSum: out .* expected f32/);
    expect(() => reduceSum(be, out, out, 0)).toThrow(/x and out must be different/);
  });
});
