/**
 * Brute-force references for the serving tests: E_fin = Σ_{l=0..L} Â^l E0 on the host in float64, exact top-k
 * by scoring every candidate, and the comparison of a device ranking with it (f32 against f64 tolerances).
 */
import { expect } from 'vitest';
import { buildGraph } from '../../src/data/graph.js';
import type { Interactions } from '../../src/data/types.js';
import type { RecModel } from '../../src/models/model.js';

/** The reference ranking embeddings of `model` (trained on `train`) on the host, in float64. */
export async function hostEfin(model: RecModel, train: Interactions): Promise<{ users: Float64Array; items: Float64Array; d: number }> {
  const p = await model.exportParameters();
  const d = model.config.embeddingDim;
  const nu = model.numUsers;
  const g = buildGraph({ numUsers: nu, numItems: model.numItems, train });
  const n = nu + model.numItems;
  let cur = new Float64Array(n * d);
  cur.set(p.get('user_embeds')!.data);
  cur.set(p.get('item_embeds')!.data, nu * d);
  const fin = Float64Array.from(cur);
  for (let l = 0; l < model.config.layers; l++) {
    const next = new Float64Array(n * d);
    for (let v = 0; v < n; v++) {
      for (let e = g.rowPtr[v]; e < g.rowPtr[v + 1]; e++) {
        const w = g.values[e];
        const t = g.colIdx[e];
        for (let c = 0; c < d; c++) next[v * d + c] += w * cur[t * d + c];
      }
    }
    for (let i = 0; i < fin.length; i++) fin[i] += next[i];
    cur = next;
  }
  return { users: fin.slice(0, nu * d), items: fin.slice(nu * d), d };
}

export function dot(a: Float64Array, ai: number, b: Float64Array, bi: number, d: number): number {
  let s = 0;
  for (let c = 0; c < d; c++) s += a[ai * d + c] * b[bi * d + c];
  return s;
}
export function norm(a: Float64Array, i: number, d: number): number {
  return Math.sqrt(dot(a, i, a, i, d));
}

/**
 * Brute-force ranking on the host: every candidate scored, excluded ids removed, the k best in the order
 * (score desc, id asc), kept by insertion into a sorted list of k (so 10⁶ candidates cost no sort).
 */
export function bruteTopK(score: (c: number) => number, candidates: ArrayLike<number>, excluded: Set<number>, k: number): { ids: number[]; scores: number[] } {
  const ids: number[] = [];
  const scores: number[] = [];
  const before = (s: number, c: number, p: number) => s > scores[p] || (s === scores[p] && c < ids[p]);
  for (let q = 0; q < candidates.length; q++) {
    const c = candidates[q];
    if (excluded.has(c)) continue;
    const s = score(c);
    if (ids.length === k && !before(s, c, k - 1)) continue;
    if (ids.length < k) {
      ids.push(c);
      scores.push(s);
    }
    let p = ids.length - 1;
    while (p > 0 && before(s, c, p - 1)) {
      ids[p] = ids[p - 1];
      scores[p] = scores[p - 1];
      p--;
    }
    ids[p] = c;
    scores[p] = s;
  }
  return { ids, scores };
}

/**
 * The device ranking equals the brute-force one: same length, each returned score equals the reference score
 * of the returned id (f32 vs f64: |Δ| ≤ 1e-5 + 1e-4·|s|), and the ids are identical except where two
 * reference scores are within that tolerance (a tie the two precisions may order differently).
 */
export function expectSameRanking(got: { ids: Uint32Array; scores: Float32Array }, want: { ids: number[]; scores: number[] }, score: (c: number) => number, what: string): void {
  expect(got.ids.length, `${what}: length`).toBe(want.ids.length);
  const tol = (s: number) => 1e-5 + 1e-4 * Math.abs(s);
  for (let r = 0; r < want.ids.length; r++) {
    const ref = score(got.ids[r]);
    expect(Math.abs(got.scores[r] - ref), `${what}: score of id ${got.ids[r]} at rank ${r}`).toBeLessThanOrEqual(tol(ref));
    expect(Math.abs(ref - want.scores[r]), `${what}: rank ${r} holds id ${got.ids[r]} (${ref}), expected ${want.ids[r]} (${want.scores[r]})`).toBeLessThanOrEqual(tol(want.scores[r]));
    if (got.ids[r] !== want.ids[r]) {
      const nearTie = Math.abs(want.scores[r] - (want.scores[r + 1] ?? -Infinity)) <= tol(want.scores[r]) || Math.abs(want.scores[r] - (want.scores[r - 1] ?? Infinity)) <= tol(want.scores[r]);
      expect(nearTie, `${what}: rank ${r}: id ${got.ids[r]} vs ${want.ids[r]} without a near tie`).toBe(true);
    }
  }
  expect(new Set(got.ids).size, `${what}: distinct ids`).toBe(got.ids.length);
}
