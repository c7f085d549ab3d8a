import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { ADAM_DEFAULTS, adamStep, emaUpdate } from '../../src/ops/optim.js';
import type { Backend } from '../../src/ops/tensor.js';
import { cpu, expectClose, gpu, randArray, rng } from '../helpers.js';

afterAll(async () => (await gpu()).destroy());

async function runBoth<T>(fn: (be: Backend) => Promise<T>): Promise<{ gpu: T; cpu: T }> {
  return { gpu: await fn(await gpu()), cpu: await fn(cpu('f64')) };
}

function f32Array(seed: number, n: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from(randArray(rng(seed), n, lo, hi), Math.fround);
}

/** Adam for one scalar, written out from spec §6 (with the fused L2 gradient). */
function adamByHand(p: number, m: number, v: number, grads: number[], l2: number, firstStep = 1, cfg = ADAM_DEFAULTS) {
  const { lr, beta1: b1, beta2: b2, eps } = cfg;
  let t = firstStep;
  for (const g0 of grads) {
    const g = g0 + 2 * l2 * p;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    p = p - (lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
    t++;
  }
  return { p, m, v };
}

describe('adamStep (spec §6)', () => {
  it('ADAM_DEFAULTS are the spec values', () => {
    expect(ADAM_DEFAULTS).toEqual({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  });

  it('one step matches a hand computation on both backends', async () => {
    // p = 0.5, g = 0.2, l2 = 0.01 → g' = 0.21; m = 0.021; v = 4.41e-5; m̂ = 0.21, v̂ = 0.0441;
    // p ← 0.5 − 1e-3 · 0.21 / (0.21 + 1e-8).
    const hand = 0.5 - (1e-3 * 0.21) / (0.21 + 1e-8);
    expect(adamByHand(0.5, 0, 0, [0.2], 0.01).p).toBeCloseTo(hand, 15);
    const res = await runBoth(async (be) => {
      const p = be.tensor([0.5, -0.25], [2]);
      const m = be.zeros([2]);
      const v = be.zeros([2]);
      adamStep(be, p, be.tensor([0.2, 0], [2]), m, v, { ...ADAM_DEFAULTS, step: 1, l2: 0.01 });
      return { p: await be.read(p), m: await be.read(m), v: await be.read(v) };
    });
    for (const r of [res.gpu, res.cpu]) {
      expect(r.p[0]).toBeCloseTo(hand, 7);
      expect(r.m[0]).toBeCloseTo(0.021, 8);
      expect(r.v[0]).toBeCloseTo(4.41e-5, 11);
      // zero gradient, only L2: g' = 2·0.01·(−0.25) = −0.005 → a step of +lr·(1 − tiny)
      expect(r.p[1]).toBeCloseTo(-0.25 + 1e-3 * (0.005 / (0.005 + 1e-8)), 7);
    }
    expect(res.cpu.p[0]).toBeCloseTo(hand, 15);
  });

  it('later steps use the bias corrections of their step number', () => {
    const be = cpu('f64');
    const p = be.tensor([0.3], [1]);
    const m = be.tensor([0.01], [1]);
    const v = be.tensor([2e-4], [1]);
    adamStep(be, p, be.tensor([-0.4], [1]), m, v, { ...ADAM_DEFAULTS, step: 7 });
    const want = adamByHand(0.3, 0.01, 2e-4, [-0.4], 0, 7);
    expect(p.f[0]).toBeCloseTo(want.p, 15);
    expect(m.f[0]).toBeCloseTo(want.m, 15);
    expect(v.f[0]).toBeCloseTo(want.v, 15);
  });

  it('several steps on the GPU match the CPU twin (1e-6 relative)', async () => {
    const n = 1001;
    const steps = 6;
    const p0 = f32Array(1, n);
    const grads = Array.from({ length: steps }, (_, s) => f32Array(10 + s, n, -0.5, 0.5));
    grads[2][0] = 0; // an element with a zero gradient at one step
    const res = await runBoth(async (be) => {
      const p = be.tensor(p0, [7, 143]);
      const m = be.zeros([7, 143]);
      const v = be.zeros([7, 143]);
      for (let s = 0; s < steps; s++) {
        adamStep(be, p, be.tensor(grads[s], [7, 143]), m, v, { ...ADAM_DEFAULTS, lr: 1e-2, step: s + 1, l2: 1e-3 });
      }
      return { p: await be.read(p), m: await be.read(m), v: await be.read(v) };
    });
    expectClose(res.gpu.p, res.cpu.p, { atol: 1e-7, rtol: 1e-6 }, 'param');
    // m is a signed average of gradients of size ≤ 0.5 and can cancel to ~1e-5: its f32 rounding error is
    // relative to the gradient scale (a few ulp of 0.5), not to m itself.
    expectClose(res.gpu.m, res.cpu.m, { atol: 1e-7, rtol: 1e-6 }, 'm');
    expectClose(res.gpu.v, res.cpu.v, { atol: 1e-12, rtol: 1e-6 }, 'v');
    // and the f64 twin against the scalar reference
    for (const i of [0, 1, 500, 1000]) {
      const want = adamByHand(p0[i], 0, 0, grads.map((gr) => gr[i]), 1e-3, 1, { ...ADAM_DEFAULTS, lr: 1e-2 });
      expect(res.cpu.p[i]).toBeCloseTo(want.p, 14);
      expect(res.cpu.v[i]).toBeCloseTo(want.v, 14);
    }
  });

  it('rejects bad steps, hyper-parameters and shapes', () => {
    const be = cpu();
    const p = be.zeros([4]);
    const z = () => be.zeros([4]);
    expect(() => adamStep(be, p, z(), z(), z(), { ...ADAM_DEFAULTS, step: 0 })).toThrow(/adamStep: step must be an integer ≥ 1/);
    expect(() => adamStep(be, p, z(), z(), z(), { ...ADAM_DEFAULTS, step: 1.5 })).toThrow(/step must be an integer/);
    expect(() => adamStep(be, p, z(), z(), z(), { ...ADAM_DEFAULTS, beta2: 1, step: 1 })).toThrow(/beta2 must be in \[0, 1\)/);
    expect(() => adamStep(be, p, z(), z(), z(), { ...ADAM_DEFAULTS, lr: NaN, step: 1 })).toThrow(/lr must be finite/);
    expect(() => adamStep(be, p, be.zeros([5]), z(), z(), { ...ADAM_DEFAULTS, step: 1 })).toThrow(/adamStep: grad .* expected \[4\]/);
    const m = z();
    expect(() => adamStep(be, p, z(), m, m, { ...ADAM_DEFAULTS, step: 1 })).toThrow(IrllrecError);
    expect(() => adamStep(be, p, z(), m, m, { ...ADAM_DEFAULTS, step: 1 })).toThrow(/m and v must be different/);
  });
});

describe('emaUpdate (spec §4.7)', () => {
  it('matches the formula and the CPU twin', async () => {
    const n = 777;
    const t0 = f32Array(3, n);
    const s = f32Array(4, n);
    const res = await runBoth(async (be) => {
      const T = be.tensor(t0, [n]);
      emaUpdate(be, T, be.tensor(s, [n]), 0.999);
      emaUpdate(be, T, be.tensor(s, [n]), 0.999);
      return be.read(T);
    });
    expectClose(res.gpu, res.cpu, { atol: 1e-7, rtol: 1e-6 }, 'teacher');
    for (let i = 0; i < n; i++) {
      const once = 0.999 * t0[i] + 0.001 * s[i];
      expect(res.cpu[i]).toBeCloseTo(0.999 * once + 0.001 * s[i], 14);
    }
    const be = cpu('f64');
    const T = be.tensor([1], [1]);
    emaUpdate(be, T, be.tensor([2], [1]), 0.999);
    expect(T.f[0]).toBeCloseTo(1.001, 15);
  });

  it('rejects a bad momentum and mismatched shapes', () => {
    const be = cpu();
    expect(() => emaUpdate(be, be.zeros([3]), be.zeros([3]), 1.5)).toThrow(/emaUpdate: momentum must be in \[0, 1\]/);
    expect(() => emaUpdate(be, be.zeros([3]), be.zeros([2]), 0.9)).toThrow(/emaUpdate: student .* expected \[3\]/);
  });
});
