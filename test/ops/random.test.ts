import { afterAll, describe, expect, it } from 'vitest';
import { addSignNoise, addSignNoiseCpu, dropoutValues, randomNormal } from '../../src/ops/random.js';
import type { Backend } from '../../src/ops/tensor.js';
import { hashNormal, hashU32, hashUniform } from '../../src/util/random.js';
import { cpu, expectClose, gpu, randArray, rng } from '../helpers.js';

afterAll(async () => (await gpu()).destroy());

async function runBoth<T>(fn: (be: Backend) => Promise<T>): Promise<{ gpu: T; cpu: T }> {
  return { gpu: await fn(await gpu()), cpu: await fn(cpu('f64')) };
}

describe('randomNormal', () => {
  for (const seed of [0, 1, 12345, 0xffffffff]) {
    it(`equals hashNormal(seed, i) on the GPU (within f32 log/cos accuracy) for seed ${seed}`, async () => {
      const n = 50001;
      const res = await runBoth(async (be) => {
        const out = be.zeros([n]);
        randomNormal(be, out, seed);
        return be.read(out);
      });
      for (const i of [0, 1, 777, n - 1]) expect(res.cpu[i]).toBe(hashNormal(seed, i));
      // |z| ≤ 5.8; f32 rounding of sqrt(−2 log u1)·cos(2π u2): ~1e-6; the brief allows ~1e-5.
      expectClose(res.gpu, res.cpu, { atol: 1e-5, rtol: 0 }, 'normals');
      // moments of N(0, 1): mean within 5 standard errors, variance within 3 %
      let s = 0;
      let s2 = 0;
      for (const v of res.gpu) {
        s += v;
        s2 += v * v;
      }
      expect(Math.abs(s / n)).toBeLessThan(5 / Math.sqrt(n));
      expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
    });
  }

  it('different seeds give different noise', async () => {
    const g = await gpu();
    const a = g.zeros([64]);
    const b = g.zeros([64]);
    randomNormal(g, a, 7);
    randomNormal(g, b, 8);
    const [x, y] = [await g.read(a), await g.read(b)];
    let same = 0;
    for (let i = 0; i < 64; i++) if (x[i] === y[i]) same++;
    expect(same).toBe(0);
  });
});

describe('dropoutValues (spec §1.7)', () => {
  for (const keepRate of [0.8, 0, 1, 0.5]) {
    it(`keeps exactly the CPU twin's entries at keepRate ${keepRate}, without rescaling`, async () => {
      const n = 40009;
      const values = Float64Array.from(randArray(rng(3), n, 0.1, 1), Math.fround);
      const seed = 99;
      const res = await runBoth(async (be) => {
        const out = be.zeros([n]);
        dropoutValues(be, be.tensor(values, [n]), out, seed, keepRate);
        return be.read(out);
      });
      expect(Array.from(res.gpu)).toEqual(Array.from(res.cpu));
      let kept = 0;
      for (let e = 0; e < n; e++) {
        const keep = hashUniform(seed, e) < keepRate;
        expect(res.gpu[e]).toBe(keep ? values[e] : 0);
        if (keep) kept++;
      }
      expect(Math.abs(kept / n - keepRate)).toBeLessThan(0.01);
    });
  }

  it('agrees at the exact threshold: a uniform equal to keepRate is dropped, one just below is kept', async () => {
    const seed = 5;
    const n = 64;
    // keepRate equal to element 17's uniform (a multiple of 2^-24, so exact in f32 and f64).
    const keepRate = hashUniform(seed, 17);
    const res = await runBoth(async (be) => {
      const out = be.zeros([n]);
      dropoutValues(be, be.tensor(new Float64Array(n).fill(1), [n]), out, seed, keepRate);
      const out2 = be.zeros([n]);
      dropoutValues(be, be.tensor(new Float64Array(n).fill(1), [n]), out2, seed, keepRate + 2 ** -30);
      return [await be.read(out), await be.read(out2)];
    });
    expect(res.gpu[0][17]).toBe(0);
    expect(res.gpu[1][17]).toBe(1);
    expect(Array.from(res.gpu[0])).toEqual(Array.from(res.cpu[0]));
    expect(Array.from(res.gpu[1])).toEqual(Array.from(res.cpu[1]));
  });

  it('the WGSL hash is bit-identical to hashU32 (24 bits recovered through thresholds)', async () => {
    // For one element, bisect the kept/dropped boundary over keepRate = k / 2^24 on the GPU: it must be
    // exactly hashU32(hashU32(seed) ^ e) >>> 8.
    const g = await gpu();
    const seed = 424242;
    const e = 3;
    const want = hashU32((hashU32(seed) ^ e) >>> 0) >>> 8;
    const V = g.tensor([1, 1, 1, 1], [4]);
    const outs = [want, want + 1].map((k) => {
      const out = g.zeros([4]);
      dropoutValues(g, V, out, seed, k / 2 ** 24);
      return out;
    });
    expect((await g.read(outs[0]))[e]).toBe(0); // bits < want is false
    expect((await g.read(outs[1]))[e]).toBe(1); // bits < want + 1 is true
  });

  it('rejects bad seeds, keep rates and shapes', () => {
    const be = cpu();
    const v = be.zeros([4]);
    expect(() => dropoutValues(be, v, be.zeros([4]), 1, 1.2)).toThrow(/dropoutValues: keepRate must be in \[0, 1\]/);
    expect(() => dropoutValues(be, v, be.zeros([4]), -1, 0.5)).toThrow(/dropoutValues: seed must be an integer/);
    expect(() => dropoutValues(be, v, be.zeros([5]), 1, 0.5)).toThrow(/dropoutValues: out .* expected \[4\]/);
    expect(() => dropoutValues(be, v, v, 1, 0.5)).toThrow(/values and out must be different/);
    expect(() => randomNormal(be, be.zeros([4], 'u32'), 1)).toThrow(/randomNormal: out .* dtype u32, expected f32/);
    expect(() => randomNormal(be, v, 2 ** 32)).toThrow(/randomNormal: seed must be an integer/);
  });
});

describe('addSignNoise (SimGCL, backbones spec §3.3)', () => {
  // Odd row count (not a multiple of the 64-row workgroup), odd width, an all-zero row and scattered zeros.
  const rows = 131;
  const d = 7;
  function layer(): Float64Array {
    const h = Float64Array.from(randArray(rng(8), rows * d), Math.fround);
    for (let c = 0; c < d; c++) h[5 * d + c] = 0;
    for (const k of [3, 100, 411]) h[k] = 0;
    return h;
  }

  for (const eps of [0.9, 0.1]) {
    it(`adds ε·n(R)⊙sign(H) with the twin's uniforms on both backends (ε = ${eps})`, async () => {
      const h0 = layer();
      const seed = 2024;
      const res = await runBoth(async (be) => {
        const h = be.tensor(h0, [rows, d]);
        addSignNoise(be, h, seed, eps);
        return be.read(h);
      });
      expectClose(res.gpu, res.cpu, { atol: 2e-7, rtol: 1e-6 }, 'noisy layer');
      for (let r = 0; r < rows; r++) {
        let sq = 0;
        for (let c = 0; c < d; c++) sq += hashUniform(seed, r * d + c) ** 2;
        let noiseSq = 0;
        for (let c = 0; c < d; c++) {
          const k = r * d + c;
          const want = h0[k] + (eps * hashUniform(seed, k) * Math.sign(h0[k])) / Math.sqrt(sq);
          expect(res.cpu[k]).toBeCloseTo(want, 14);
          // The noise moves every coordinate away from 0 (same orthant), zeros stay zero.
          if (h0[k] === 0) expect(res.gpu[k]).toBe(0);
          else expect(Math.abs(res.cpu[k])).toBeGreaterThanOrEqual(Math.abs(h0[k]));
          noiseSq += (res.cpu[k] - h0[k]) ** 2;
        }
        // A row without zeros gets noise of norm exactly ε.
        if (r !== 5 && ![3, 100, 411].some((k) => Math.floor(k / d) === r)) expect(Math.sqrt(noiseSq)).toBeCloseTo(eps, 12);
      }
    });
  }

  it('a different seed draws different noise; ε = 0 leaves the layer as it is', async () => {
    const h0 = layer();
    const a = Float64Array.from(h0);
    const b = Float64Array.from(h0);
    addSignNoiseCpu(a, rows, d, 1, 0.5);
    addSignNoiseCpu(b, rows, d, 2, 0.5);
    expect(a[0]).not.toBe(b[0]);
    const g = await gpu();
    const h = g.tensor(h0, [rows, d]);
    addSignNoise(g, h, 1, 0);
    expect(Array.from(await g.read(h))).toEqual(Array.from(h0, Math.fround));
  });

  it('rejects a negative ε, a bad seed and a vector', () => {
    const be = cpu();
    expect(() => addSignNoise(be, be.zeros([2, 3]), 1, -0.1)).toThrow(/addSignNoise: eps must be a finite number ≥ 0/);
    expect(() => addSignNoise(be, be.zeros([2, 3]), -1, 0.1)).toThrow(/addSignNoise: seed must be an integer/);
    expect(() => addSignNoise(be, be.zeros([6]), 1, 0.1)).toThrow(/addSignNoise/);
  });
});
