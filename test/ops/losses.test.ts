import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { GpuContext } from '../../src/gpu/device.js';
import { createBackend } from '../../src/node/index.js';
import { bpr, bprCpu, infoNce, infoNceCpu, infoNceSweepRows } from '../../src/ops/losses.js';
import { type Backend, type Tensor, WebGpuBackend } from '../../src/ops/tensor.js';
import type { Rng } from '../../src/util/random.js';
import { cpu, expectClose, expectGradClose, finiteDiff, gpu, randArray, rng } from '../helpers.js';

// GPU (f32) vs the CPU twin in f64. BPR: dot products of ≤ 33 terms and one softplus / sigmoid per row.
const BPR_TOL = { atol: 1e-5, rtol: 1e-4 };
// InfoNCE: logits of ≤ 1/τ = 5 (or 100 in the large-logit case) summed over up to ~300 candidates, then a
// log; the gradients are differences of π-weighted sums. f32 rounding of the logits (~1e-6·|ℓ|) is
// amplified by 1/τ in π: 1e-4 relative / 2e-5 absolute on gradients of size ~1.
const NCE_TOL = { atol: 2e-5, rtol: 1e-4 };
const NCE_TOL_LARGE = { atol: 1e-4, rtol: 1e-3 };

/** Rows of a matrix with some rows repeated (as a batch with repeated users / items gives). */
function rowsWithRepeats(r: Rng, rows: number, d: number, lo = -1, hi = 1): Float64Array {
  const x = randArray(r, rows * d, lo, hi);
  for (let i = 3; i < rows; i += 4) {
    const src = r.int(i);
    x.copyWithin(i * d, src * d, src * d + d);
  }
  return x;
}

async function readF(be: Backend, t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await be.read(t));
}

/**
 * A backend on a device of its own that describes its adapter as a hardware GPU, so the ops pick the tiling
 * they use on GPUs (one row per invocation, 64 per workgroup; 32 for 32 < d ≤ 64) on this machine's software
 * adapter too.
 * `done()` destroys it and the device.
 */
async function hardwareTiled(): Promise<{ be: WebGpuBackend; done: () => void }> {
  const owner = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
  const info = { vendor: 'test', architecture: 'discrete', device: 'hardware-like', description: '' } as unknown as GPUAdapterInfo;
  const be = new WebGpuBackend(GpuContext.fromDevice(owner.device, info));
  expect(be.ctx.adapter.isSoftware).toBe(false);
  return {
    be,
    done: () => {
      be.destroy();
      owner.destroy();
    },
  };
}

afterAll(async () => (await gpu()).destroy());

describe('bpr', () => {
  for (const [B, d, spread] of [
    [1, 5, 1],
    [37, 32, 1],
    [301, 33, 1],
    [130, 32, 12], // |y − x| up to ~1000: exp(y − x) overflows f32 in a naive softplus / sigmoid
  ] as const) {
    it(`matches the CPU twin for B=${B}, d=${d}, spread ${spread} (loss slot, gradients, accumulate)`, async () => {
      const r = rng(B * 31 + d);
      const u = rowsWithRepeats(r, B, d, -spread, spread);
      const p = randArray(r, B * d, -spread, spread);
      const q = randArray(r, B * d, -spread, spread);
      const g0 = randArray(r, B * d);
      const scale = 1 / B;
      const run = async (be: Backend, accumulate: boolean) => {
        const U = be.tensor(u, [B, d]);
        const P = be.tensor(p, [B, d]);
        const Q = be.tensor(q, [B, d]);
        const out = be.tensor([0.5, -2, 7], [3]);
        const gU = be.tensor(g0, [B, d]);
        const gP = be.tensor(g0, [B, d]);
        const gQ = be.tensor(g0, [B, d]);
        bpr(be, U, P, Q, out, 1, { scale, gU, gP, gQ, accumulate });
        return { out: await readF(be, out), gU: await readF(be, gU), gP: await readF(be, gP), gQ: await readF(be, gQ) };
      };
      const g = await gpu();
      for (const accumulate of [false, true]) {
        const a = await run(g, accumulate);
        const b = await run(cpu('f64'), accumulate);
        expect(a.out[0]).toBe(0.5);
        expect(a.out[2]).toBe(7);
        expect(Number.isFinite(a.out[1])).toBe(true);
        expectClose([a.out[1]], [b.out[1]], { atol: 1e-5, rtol: 1e-5 }, 'loss');
        expectClose(a.gU, b.gU, BPR_TOL, 'gU');
        expectClose(a.gP, b.gP, BPR_TOL, 'gP');
        expectClose(a.gQ, b.gQ, BPR_TOL, 'gQ');
      }
    });
  }

  it('computes the textbook value on a hand example, and only the requested gradients', async () => {
    // u = (1, 2), p = (1, 0), q = (0, 1): x = 1, y = 2, softplus(1) = log(1 + e).
    for (const be of [await gpu(), cpu('f64')] as Backend[]) {
      const U = be.tensor([1, 2], [1, 2]);
      const P = be.tensor([1, 0], [1, 2]);
      const Q = be.tensor([0, 1], [1, 2]);
      const out = be.zeros([1]);
      const gP = be.tensor([9, 9], [1, 2]);
      bpr(be, U, P, Q, out, 0, { scale: 2, gP });
      const s = 2 / (1 + Math.exp(-1));
      expectClose(await be.read(out), [2 * Math.log(1 + Math.E)], { atol: 1e-6, rtol: 1e-6 }, `${be.name} loss`);
      expectClose(await be.read(gP), [-s, -2 * s], { atol: 1e-6, rtol: 1e-6 }, `${be.name} gP`);
    }
  });

  it('keeps relative accuracy for tiny losses (z = −30: softplus = log1p(e⁻³⁰), not 0) and huge ones (z = +200)', async () => {
    for (const be of [await gpu(), cpu('f64')] as Backend[]) {
      const U = be.tensor([1, 1], [2, 1]);
      const P = be.tensor([30, -100], [2, 1]);
      const Q = be.tensor([0, 100], [2, 1]);
      const out = be.zeros([2]);
      bpr(be, be.tensor([1], [1, 1]), be.tensor([30], [1, 1]), be.tensor([0], [1, 1]), out, 0, { scale: 1 });
      const gU = be.zeros([2, 1]);
      bpr(be, U, P, Q, out, 1, { scale: 1, gU });
      const [tiny, huge] = await be.read(out);
      expectClose([tiny], [Math.log1p(Math.exp(-30))], { atol: 0, rtol: 1e-4 }, `${be.name} softplus(−30)`);
      expectClose([huge], [200 + Math.log1p(Math.exp(-30))], { atol: 0, rtol: 1e-6 }, `${be.name} softplus(−30) + softplus(200)`);
      expectClose(await be.read(gU), [-30 * Math.exp(-30), 200], { atol: 0, rtol: 1e-4 }, `${be.name} gU`);
    }
  });

  it('gradients match central finite differences (f64)', () => {
    const r = rng(77);
    const B = 6;
    const d = 5;
    const be = cpu('f64');
    const U = be.tensor(randArray(r, B * d, -2, 2), [B, d]);
    const P = be.tensor(randArray(r, B * d, -2, 2), [B, d]);
    const Q = be.tensor(randArray(r, B * d, -2, 2), [B, d]);
    const scale = 1 / B;
    const loss = () => bprCpu(B, d, U.f, P.f, Q.f, scale, null, null, null, false);
    const gU = be.zeros([B, d]);
    const gP = be.zeros([B, d]);
    const gQ = be.zeros([B, d]);
    const out = be.zeros([1]);
    bpr(be, U, P, Q, out, 0, { scale, gU, gP, gQ });
    expect(out.f[0]).toBeCloseTo(loss(), 12);
    expectGradClose(gU.f, finiteDiff(loss, U.f as Float64Array), 'dL/dU');
    expectGradClose(gP.f, finiteDiff(loss, P.f as Float64Array), 'dL/dP');
    expectGradClose(gQ.f, finiteDiff(loss, Q.f as Float64Array), 'dL/dQ');
  });

  it('rejects bad arguments with errors that name them', () => {
    const be = cpu();
    const x = be.zeros([4, 3]);
    const y = be.zeros([4, 3]);
    const z = be.zeros([4, 3]);
    const out = be.zeros([2]);
    expect(() => bpr(be, x, y, be.zeros([4, 2]), out, 0, { scale: 1 })).toThrow(/bpr: q .* expected \[4, 3\]/);
    expect(() => bpr(be, x, y, z, out, 2, { scale: 1 })).toThrow(/slot 2 is outside/);
    expect(() => bpr(be, x, y, z, out, 0, { scale: NaN })).toThrow(/scale must be finite/);
    expect(() => bpr(be, x, y, z, out, 0, { scale: 1, gU: be.zeros([3, 3]) })).toThrow(/gU .* expected \[4, 3\]/);
    expect(() => bpr(be, x, y, z, out, 0, { scale: 1, gU: x })).toThrow(IrllrecError);
    const g = be.zeros([4, 3]);
    expect(() => bpr(be, x, y, z, out, 0, { scale: 1, gP: g, gQ: g })).toThrow(/must be different/);
    expect(() => bpr(be, x, y, z, be.zeros([2], 'u32'), 0, { scale: 1 })).toThrow(/out .* dtype u32/);
  });
});

describe('infoNce', () => {
  interface NceCase {
    B: number;
    M: number;
    d: number;
    tau: number;
  }

  /** Run infoNce on `be` with every gradient requested; `shared` makes the candidates the positives. */
  async function runNce(be: Backend, c: NceCase, inputs: { a: Float64Array; p: Float64Array; cand: Float64Array; g0: Float64Array[] }, accumulate: boolean) {
    const { B, M, d, tau } = c;
    const A = be.tensor(inputs.a, [B, d]);
    const P = be.tensor(inputs.p, [B, d]);
    const C = be.tensor(inputs.cand, [M, d]);
    const out = be.tensor([1.25, 3], [2]);
    const gA = be.tensor(inputs.g0[0], [B, d]);
    const gP = be.tensor(inputs.g0[1], [B, d]);
    const gC = be.tensor(inputs.g0[2], [M, d]);
    infoNce(be, A, P, C, out, 1, { tau, scale: 0.7 / B, gA, gP, gC, accumulate });
    return { out: await readF(be, out), gA: await readF(be, gA), gP: await readF(be, gP), gC: await readF(be, gC) };
  }

  for (const c of [
    { B: 1, M: 1, d: 5, tau: 0.2 },
    { B: 37, M: 53, d: 32, tau: 0.2 },
    { B: 19, M: 301, d: 33, tau: 0.2 },
    { B: 21, M: 45, d: 48, tau: 0.2 },
    { B: 31, M: 67, d: 64, tau: 0.2 },
    { B: 64, M: 1, d: 32, tau: 0.2 },
    { B: 23, M: 59, d: 64, tau: 0.01 },
    { B: 33, M: 70, d: 128, tau: 0.5 },
    { B: 29, M: 97, d: 32, tau: 0.01 }, // logits up to ±100: a naive exp overflows f32
  ]) {
    it(`matches the CPU twin for B=${c.B}, M=${c.M}, d=${c.d}, τ=${c.tau} (repeated rows, accumulate)`, async () => {
      const r = rng(c.B * 1000 + c.M + c.d);
      const inputs = {
        a: rowsWithRepeats(r, c.B, c.d),
        p: rowsWithRepeats(r, c.B, c.d),
        cand: rowsWithRepeats(r, c.M, c.d),
        g0: [randArray(r, c.B * c.d), randArray(r, c.B * c.d), randArray(r, c.M * c.d)],
      };
      if (c.tau < 0.1) {
        // Make some logits sit at the bound: anchors equal to candidates.
        for (let b = 0; b < Math.min(c.B, c.M); b += 3) inputs.a.set(inputs.cand.subarray(b * c.d, b * c.d + c.d), b * c.d);
      }
      const tol = c.tau < 0.1 ? NCE_TOL_LARGE : NCE_TOL;
      const g = await gpu();
      for (const accumulate of [false, true]) {
        const x = await runNce(g, c, inputs, accumulate);
        const y = await runNce(cpu('f64'), c, inputs, accumulate);
        expect(x.out[0]).toBe(1.25);
        expectClose([x.out[1]], [y.out[1]], { atol: 1e-5, rtol: 1e-5 }, 'loss');
        expectClose(x.gA, y.gA, tol, 'gA');
        expectClose(x.gP, y.gP, tol, 'gP');
        expectClose(x.gC, y.gC, tol, 'gC');
      }
    });
  }

  it('with gP === gC (candidates are the positives) matches the CPU twin on both backends', async () => {
    const B = 45;
    const d = 33;
    const r = rng(4);
    const a = rowsWithRepeats(r, B, d);
    const p = rowsWithRepeats(r, B, d);
    const g0 = randArray(r, B * d);
    const run = async (be: Backend, accumulate: boolean) => {
      const A = be.tensor(a, [B, d]);
      const P = be.tensor(p, [B, d]);
      const out = be.zeros([1]);
      const gA = be.zeros([B, d]);
      const gPC = be.tensor(g0, [B, d]);
      infoNce(be, A, P, P, out, 0, { tau: 0.2, scale: 1 / B, gA, gP: gPC, gC: gPC, accumulate });
      return { out: await readF(be, out), gA: await readF(be, gA), gPC: await readF(be, gPC) };
    };
    for (const accumulate of [false, true]) {
      const x = await run(await gpu(), accumulate);
      const y = await run(cpu('f64'), accumulate);
      expectClose(x.out, y.out, { atol: 1e-5, rtol: 1e-5 }, 'loss');
      expectClose(x.gA, y.gA, NCE_TOL, 'gA');
      expectClose(x.gPC, y.gPC, NCE_TOL, 'gP = gC');
    }
  });

  it('loss equals the definition Σ_b [−â·p̂/τ + log Σ_m exp(â·ĉ_m/τ)] on a hand example', async () => {
    // d = 2, a = (3, 0) → â ≈ (1, 0); p = (0, 2) → p̂ ≈ (0, 1); candidates (1, 0), (0, 1), (−1, 0).
    const t = 1 / 0.5;
    const nu = (x: number) => x / Math.sqrt(1e-8 + x * x);
    const want = -0 * t + Math.log(Math.exp(nu(3) * nu(1) * t) + Math.exp(0) + Math.exp(-nu(3) * nu(1) * t));
    for (const be of [await gpu(), cpu('f64')] as Backend[]) {
      const out = be.zeros([1]);
      infoNce(be, be.tensor([3, 0], [1, 2]), be.tensor([0, 2], [1, 2]), be.tensor([1, 0, 0, 1, -1, 0], [3, 2]), out, 0, { tau: 0.5, scale: 1 });
      expectClose(await be.read(out), [want], { atol: 1e-6, rtol: 1e-6 }, `${be.name} loss`);
    }
  });

  describe('gradients match central finite differences (f64)', () => {
    const B = 5;
    const M = 7;
    const d = 4;
    const tau = 0.3;
    const scale = 0.6;
    const r = rng(11);
    const be = cpu('f64');
    const A = be.tensor(rowsWithRepeats(r, B, d), [B, d]);
    const P = be.tensor(randArray(r, B * d), [B, d]);
    const C = be.tensor(rowsWithRepeats(r, M, d), [M, d]);
    const loss = () => infoNceCpu(B, M, d, A.f, P.f, C.f, tau, scale, null, null, null, false);
    const gA = be.zeros([B, d]);
    const gP = be.zeros([B, d]);
    const gC = be.zeros([M, d]);
    const out = be.zeros([1]);
    infoNce(be, A, P, C, out, 0, { tau, scale, gA, gP, gC });

    it('loss value', () => expect(out.f[0]).toBeCloseTo(loss(), 12));
    it('dΦ/dA', () => expectGradClose(gA.f, finiteDiff(loss, A.f as Float64Array), 'dΦ/dA'));
    it('dΦ/dP', () => expectGradClose(gP.f, finiteDiff(loss, P.f as Float64Array), 'dΦ/dP'));
    it('dΦ/dC', () => expectGradClose(gC.f, finiteDiff(loss, C.f as Float64Array), 'dΦ/dC'));

    it('gP === gC is the gradient of Φ(A, P, P) w.r.t. P (candidates literally the positives)', () => {
      const PP = be.tensor(rowsWithRepeats(r, B, d), [B, d]);
      const lossPP = () => infoNceCpu(B, B, d, A.f, PP.f, PP.f, tau, scale, null, null, null, false);
      const gPC = be.tensor(randArray(r, B * d), [B, d]); // garbage: overwritten without accumulate
      infoNce(be, A, PP, PP, be.zeros([1]), 0, { tau, scale, gP: gPC, gC: gPC });
      expectGradClose(gPC.f, finiteDiff(lossPP, PP.f as Float64Array), 'dΦ(A,P,P)/dP');
    });
  });

  it('runs a kd-sized-down case (B=256, M=1100, d=32) and agrees with the twin', async () => {
    const B = 256;
    const M = 1100;
    const d = 32;
    const r = rng(21);
    const inputs = { a: randArray(r, B * d), p: randArray(r, B * d), cand: randArray(r, M * d), g0: [randArray(r, B * d), randArray(r, B * d), randArray(r, M * d)] };
    const g = await gpu();
    const x = await runNce(g, { B, M, d, tau: 0.2 }, inputs, false);
    const y = await runNce(cpu('f64'), { B, M, d, tau: 0.2 }, inputs, false);
    expectClose([x.out[1]], [y.out[1]], { atol: 1e-4, rtol: 1e-5 }, 'loss');
    expectClose(x.gA, y.gA, NCE_TOL, 'gA');
    expectClose(x.gC, y.gC, NCE_TOL, 'gC');
  });

  // On software adapters the GPU kernels hold 8 rows per invocation and 64 per workgroup for d ≤ 32 (4 and 32
  // for d ≤ 64) and stage the candidates 32 (16) at a time: several workgroups, a last partial workgroup and
  // partial tiles in both sweeps.
  for (const c of [
    { B: 150, M: 130, d: 32, tau: 0.2 },
    { B: 101, M: 83, d: 64, tau: 0.2 },
    { B: 70, M: 45, d: 40, tau: 0.5 },
    { B: 45, M: 37, d: 80, tau: 0.5 }, // d > 64: the chunked kernels
  ]) {
    it(`matches the CPU twin over several workgroups and partial tiles: B=${c.B}, M=${c.M}, d=${c.d}`, async () => {
      const r = rng(c.B * 7 + c.M);
      const inputs = { a: rowsWithRepeats(r, c.B, c.d), p: rowsWithRepeats(r, c.B, c.d), cand: rowsWithRepeats(r, c.M, c.d), g0: [randArray(r, c.B * c.d), randArray(r, c.B * c.d), randArray(r, c.M * c.d)] };
      const y = await runNce(cpu('f64'), c, inputs, true);
      const x = await runNce(await gpu(), c, inputs, true);
      expectClose([x.out[1]], [y.out[1]], { atol: 1e-5, rtol: 1e-5 }, 'loss');
      expectClose(x.gA, y.gA, NCE_TOL, 'gA');
      expectClose(x.gP, y.gP, NCE_TOL, 'gP');
      expectClose(x.gC, y.gC, NCE_TOL, 'gC');
    });
  }

  it('the tiling used on hardware GPUs (one row per invocation) matches the CPU twin too', async () => {
    const { be, done } = await hardwareTiled();
    try {
      for (const c of [
        { B: 150, M: 130, d: 32, tau: 0.2 },
        { B: 29, M: 97, d: 32, tau: 0.01 },
        { B: 101, M: 83, d: 64, tau: 0.2 },
        { B: 19, M: 301, d: 33, tau: 0.2 },
        { B: 45, M: 37, d: 80, tau: 0.5 },
      ]) {
        const r = rng(c.B * 11 + c.M);
        const inputs = { a: rowsWithRepeats(r, c.B, c.d), p: rowsWithRepeats(r, c.B, c.d), cand: rowsWithRepeats(r, c.M, c.d), g0: [randArray(r, c.B * c.d), randArray(r, c.B * c.d), randArray(r, c.M * c.d)] };
        const tol = c.tau < 0.1 ? NCE_TOL_LARGE : NCE_TOL;
        for (const accumulate of [false, true]) {
          const x = await runNce(be, c, inputs, accumulate);
          const y = await runNce(cpu('f64'), c, inputs, accumulate);
          expectClose([x.out[1]], [y.out[1]], { atol: 1e-5, rtol: 1e-5 }, `loss (d=${c.d})`);
          expectClose(x.gA, y.gA, tol, `gA (d=${c.d})`);
          expectClose(x.gP, y.gP, tol, `gP (d=${c.d})`);
          expectClose(x.gC, y.gC, tol, `gC (d=${c.d})`);
        }
      }
    } finally {
      done();
    }
  });

  it('picks sweep tiles whose accumulators fit for every width up to 1024', () => {
    for (let d = 1; d <= 1024; d++) {
      const rows = infoNceSweepRows(d);
      expect(rows, `d=${d}`).not.toBeNull();
      expect((rows as number) * d).toBeLessThanOrEqual(1024);
    }
    expect(infoNceSweepRows(32)).toBe(8);
    expect(infoNceSweepRows(1025)).toBeNull();
  });

  it('rejects bad arguments with errors that name them', () => {
    const be = cpu();
    const a = be.zeros([4, 3]);
    const p = be.zeros([4, 3]);
    const c = be.zeros([6, 3]);
    const out = be.zeros([2]);
    expect(() => infoNce(be, a, be.zeros([5, 3]), c, out, 0, { tau: 0.2, scale: 1 })).toThrow(/infoNce: p .* expected \[4, 3\]/);
    expect(() => infoNce(be, a, p, be.zeros([6, 2]), out, 0, { tau: 0.2, scale: 1 })).toThrow(/c .* expected \[\*, 3\]/);
    expect(() => infoNce(be, a, p, be.zeros([0, 3]), out, 0, { tau: 0.2, scale: 1 })).toThrow(/no rows/);
    expect(() => infoNce(be, a, p, c, out, 0, { tau: 0, scale: 1 })).toThrow(/tau must be > 0/);
    expect(() => infoNce(be, a, p, c, out, 0, { tau: Infinity, scale: 1 })).toThrow(/tau must be finite/);
    expect(() => infoNce(be, a, p, c, out, -1, { tau: 0.2, scale: 1 })).toThrow(/slot -1/);
    expect(() => infoNce(be, a, p, c, out, 0, { tau: 0.2, scale: 1, gC: be.zeros([4, 3]) })).toThrow(/gC .* expected \[6, 3\]/);
    expect(() => infoNce(be, a, p, c, out, 0, { tau: 0.2, scale: 1, gA: a })).toThrow(/gA and a must be different/);
    const g = be.zeros([4, 3]);
    expect(() => infoNce(be, a, p, c, out, 0, { tau: 0.2, scale: 1, gA: g, gP: g })).toThrow(/gA must differ/);
    expect(() => infoNce(be, a, p, c, out, 0, { tau: 0.2, scale: 1, gA: be.zeros([4, 3], 'u32') })).toThrow(/gA .* dtype u32/);
    expect(() => infoNce(be, be.zeros([4, 5000]), be.zeros([4, 5000]), be.zeros([2, 5000]), out, 0, { tau: 0.2, scale: 1 })).toThrow(/too wide/);
  });
});
