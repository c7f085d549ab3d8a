import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { type EdgeGraph, edgeWeights, edgeWeightsBackward, edgeWeightsCpu } from '../../src/ops/adaptive.js';
import type { Backend } from '../../src/ops/tensor.js';
import type { Rng } from '../../src/util/random.js';
import { cpu, expectClose, expectGradClose, finiteDiff, gpu, randArray, randBipartite, rng } from '../helpers.js';

// GPU (f32) vs the CPU twin (f64): α is a d-term dot product, ρ a reciprocal of a sum of ≤ ~40 α's, β a
// difference of such sums; gĈ sums ≤ ~40 products. Relative 1e-4 / absolute 2e-5 covers f32 rounding.
const TOL = { atol: 2e-5, rtol: 1e-4 };

type Bip = ReturnType<typeof randBipartite>;

function graphOn(be: Backend, g: Bip): EdgeGraph {
  const nnz = g.colIdx.length;
  return {
    n: g.n,
    nnz,
    rowPtr: be.tensor(g.rowPtr, [g.n + 1], 'u32', 'rowPtr'),
    colIdx: be.tensor(g.colIdx, [nnz], 'u32', 'colIdx'),
    rev: be.tensor(g.rev, [nnz], 'u32', 'rev'),
  };
}

/** Random rows hard-normalised as Ĉ = n(C) is (spec §0). */
function unitRows(r: Rng, n: number, d: number): Float64Array {
  const x = randArray(r, n * d);
  for (let v = 0; v < n; v++) {
    let ss = 0;
    for (let k = 0; k < d; k++) ss += x[v * d + k] ** 2;
    const s = 1 / Math.max(Math.sqrt(ss), 1e-12);
    for (let k = 0; k < d; k++) x[v * d + k] *= s;
  }
  return x;
}

function degree(g: Bip, v: number): number {
  return g.rowPtr[v + 1] - g.rowPtr[v];
}

afterAll(async () => (await gpu()).destroy());

describe('edgeWeights (α, ρ, G)', () => {
  for (const [nu, ni, density, d] of [
    [1, 1, 1, 5],
    [17, 13, 0.3, 32],
    [41, 33, 0.2, 33],
    [9, 70, 0.6, 5],
  ] as const) {
    it(`matches the CPU twin for ${nu} users × ${ni} items, d=${d}; isolated nodes get ρ = 0; rows sum to 1`, async () => {
      const r = rng(nu * 100 + ni + d);
      const g = randBipartite(r, nu, ni, density);
      const cHat = unitRows(r, g.n, d);
      const run = async (be: Backend) => {
        const G = be.zeros([g.colIdx.length]);
        const rho = be.tensor(randArray(r, g.n), [g.n]); // garbage: must be overwritten
        edgeWeights(be, graphOn(be, g), be.tensor(cHat, [g.n, d]), G, rho);
        return { G: await be.read(G), rho: await be.read(rho) };
      };
      const x = await run(await gpu());
      const y = await run(cpu('f64'));
      expectClose(x.G, y.G, TOL, 'G');
      expectClose(x.rho, y.rho, TOL, 'rho');
      let isolated = 0;
      for (let v = 0; v < g.n; v++) {
        if (degree(g, v) === 0) {
          isolated++;
          expect(x.rho[v], `rho of isolated node ${v}`).toBe(0);
          continue;
        }
        let s = 0;
        for (let e = g.rowPtr[v]; e < g.rowPtr[v + 1]; e++) s += x.G[e];
        expect(Math.abs(s - 1), `row ${v} of G sums to 1`).toBeLessThan(1e-5);
      }
      if (nu > 4) expect(isolated).toBeGreaterThan(0);
    });
  }

  it('follows the formula on a hand example, with D_h = 0 (antipodal neighbour) giving ρ = 0, G = 0', async () => {
    // Users 0, 1; items 2, 3. Edges: 0–2, 0–3, 1–3. Ĉ_0 = (1, 0), Ĉ_1 = (−1, 0), Ĉ_2 = (0, 1), Ĉ_3 = (1, 0).
    // α_02 = ½, α_03 = 1 → ρ_0 = 2/3;  α_13 = 0 → D_1 = 0, ρ_1 = 0;  α_20 = ½ → ρ_2 = 2;  α_30 = 1, α_31 = 0 → ρ_3 = 1.
    const host = {
      n: 4,
      nu: 2,
      ni: 2,
      rowPtr: Uint32Array.from([0, 2, 3, 4, 6]),
      colIdx: Uint32Array.from([2, 3, 3, 0, 0, 1]),
      rev: Uint32Array.from([3, 4, 5, 0, 1, 2]),
    };
    const cHat = [1, 0, -1, 0, 0, 1, 1, 0];
    for (const be of [await gpu(), cpu('f64')] as Backend[]) {
      const G = be.zeros([6]);
      const rho = be.zeros([4]);
      edgeWeights(be, graphOn(be, host), be.tensor(cHat, [4, 2]), G, rho);
      expectClose(await be.read(rho), [2 / 3, 0, 2, 1], { atol: 1e-6, rtol: 1e-6 }, `${be.name} rho`);
      expectClose(await be.read(G), [1 / 3, 2 / 3, 0, 1, 1, 0], { atol: 1e-6, rtol: 1e-6 }, `${be.name} G`);
    }
  });

  it('handles a graph without edges (every ρ = 0)', async () => {
    const g = randBipartite(rng(3), 5, 4, 0);
    expect(g.colIdx.length).toBe(0);
    for (const be of [await gpu(), cpu('f64')] as Backend[]) {
      const rho = be.tensor(randArray(rng(1), g.n), [g.n]);
      edgeWeights(be, graphOn(be, g), be.tensor(unitRows(rng(2), g.n, 3), [g.n, 3]), be.zeros([0]), rho);
      expect(Array.from(await be.read(rho))).toEqual(new Array(g.n).fill(0));
    }
  });
});

describe('edgeWeightsBackward (γ, β, gĈ)', () => {
  for (const [nu, ni, density, d] of [
    [1, 1, 1, 5],
    [17, 13, 0.3, 32],
    [41, 33, 0.2, 33],
  ] as const) {
    it(`matches the CPU twin for ${nu} users × ${ni} items, d=${d} (overwrite, accumulate, scratch)`, async () => {
      const r = rng(nu * 7 + ni * 3 + d);
      const g = randBipartite(r, nu, ni, density);
      const cHat = unitRows(r, g.n, d);
      const gY = randArray(r, g.n * d);
      const x = randArray(r, g.n * d);
      const g0 = randArray(r, g.n * d);
      const run = async (be: Backend, accumulate: boolean, withScratch: boolean) => {
        const graph = graphOn(be, g);
        const C = be.tensor(cHat, [g.n, d]);
        const G = be.zeros([g.colIdx.length]);
        const rho = be.zeros([g.n]);
        edgeWeights(be, graph, C, G, rho);
        const gC = be.tensor(g0, [g.n, d]);
        const scratch = withScratch ? be.zeros([g.colIdx.length]) : undefined;
        edgeWeightsBackward(be, graph, C, G, rho, be.tensor(gY, [g.n, d]), be.tensor(x, [g.n, d]), gC, { accumulate, scratch });
        return be.read(gC);
      };
      for (const [accumulate, withScratch] of [[false, false], [true, true]]) {
        const a = await run(await gpu(), accumulate, withScratch);
        const b = await run(cpu('f64'), accumulate, withScratch);
        expectClose(a, b, TOL, `gĈ (accumulate ${accumulate})`);
        // isolated nodes get no gradient
        if (!accumulate) for (let v = 0; v < g.n; v++) if (degree(g, v) === 0) for (let k = 0; k < d; k++) expect(a[v * d + k]).toBe(0);
      }
    });
  }

  it('gĈ is the gradient of L(Ĉ) = Σ_h gY[h]·Σ_e G_e(Ĉ)·X[t_e] (finite differences, f64, Ĉ free)', () => {
    const r = rng(19);
    const g = randBipartite(r, 6, 5, 0.5);
    const d = 4;
    const be = cpu('f64');
    // Rows near unit length but not normalised: the formula is the exact derivative through the dot product.
    const C = be.tensor(unitRows(r, g.n, d).map((v) => v * 1.1 + 0.05), [g.n, d]);
    const gY = randArray(r, g.n * d);
    const x = randArray(r, g.n * d);
    const nnz = g.colIdx.length;
    const Gbuf = new Float64Array(nnz);
    const rhoBuf = new Float64Array(g.n);
    const loss = () => {
      edgeWeightsCpu(g.n, d, g.rowPtr, g.colIdx, C.f, Gbuf, rhoBuf);
      let s = 0;
      for (let h = 0; h < g.n; h++) {
        for (let e = g.rowPtr[h]; e < g.rowPtr[h + 1]; e++) {
          const t = g.colIdx[e];
          for (let k = 0; k < d; k++) s += gY[h * d + k] * Gbuf[e] * x[t * d + k];
        }
      }
      return s;
    };
    const graph = graphOn(be, g);
    const G = be.zeros([nnz]);
    const rho = be.zeros([g.n]);
    edgeWeights(be, graph, C, G, rho);
    const gC = be.zeros([g.n, d]);
    edgeWeightsBackward(be, graph, C, G, rho, be.tensor(gY, [g.n, d]), be.tensor(x, [g.n, d]), gC);
    const numeric = finiteDiff(loss, C.f as Float64Array);
    let norm = 0;
    for (const v of numeric) norm = Math.max(norm, Math.abs(v));
    expect(norm).toBeGreaterThan(1e-3); // the check is not vacuous
    expectGradClose(gC.f, numeric, 'dL/dĈ');
  });

  it('rejects bad arguments with errors that name them', () => {
    const be = cpu();
    const g = graphOn(be, randBipartite(rng(1), 4, 3, 0.5));
    const n = g.n;
    const C = be.zeros([n, 3]);
    const G = be.zeros([g.nnz]);
    const rho = be.zeros([n]);
    expect(() => edgeWeights(be, g, be.zeros([n + 1, 3]), G, rho)).toThrow(/edgeWeights: cHat .* expected \[7, \*\]/);
    expect(() => edgeWeights(be, g, C, be.zeros([g.nnz + 1]), rho)).toThrow(/G .* expected/);
    expect(() => edgeWeights(be, g, C, G, be.zeros([n], 'u32'))).toThrow(/rho .* dtype u32/);
    expect(() => edgeWeights(be, { ...g, rev: be.zeros([g.nnz], 'f32') }, C, G, rho)).toThrow(/g.rev .* dtype f32/);
    expect(() => edgeWeights(be, { ...g, rowPtr: be.zeros([n], 'u32') }, C, G, rho)).toThrow(/g.rowPtr .* expected \[8\]/);
    const gY = be.zeros([n, 3]);
    const x = be.zeros([n, 3]);
    expect(() => edgeWeightsBackward(be, g, C, G, rho, gY, be.zeros([n, 2]), be.zeros([n, 3]))).toThrow(/x .* expected \[7, 3\]/);
    expect(() => edgeWeightsBackward(be, g, C, G, rho, gY, x, C)).toThrow(IrllrecError);
    expect(() => edgeWeightsBackward(be, g, C, G, rho, gY, x, C)).toThrow(/gCHat and cHat must be different/);
    expect(() => edgeWeightsBackward(be, g, C, G, rho, gY, x, be.zeros([n, 3]), { scratch: be.zeros([3]) })).toThrow(/scratch .* expected/);
  });
});
