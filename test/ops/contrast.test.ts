/**
 * crossViewInfoNce (backbones spec §3.4): the all-node cross-view InfoNCE of SGL and SimGCL, checked against
 * a float64 statement of the spec's formula, between backends, and by finite differences.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { crossViewInfoNce } from '../../src/ops/contrast.js';
import { rowGroups } from '../../src/ops/gather.js';
import type { Backend } from '../../src/ops/tensor.js';
import { cpu, expectClose, expectGradClose, finiteDiff, gpu, randArray, rng } from '../helpers.js';

afterAll(async () => (await gpu()).destroy());

// 9 users, 14 items, d = 5; user 8 and items 12, 13 are never anchors (their candidate gradients still flow).
const NU = 9;
const NI = 14;
const N = NU + NI;
const D = 5;
// Repeated anchors; the positive-item and negative-item lists share items (SGL's three terms).
const USERS = [0, 3, 3, 7, 1, 3, 0];
const POS = [2, 2, 5, 0, 11, 5, 9].map((i) => NU + i);
const NEG = [5, 1, 1, 10, 2, 4, 9].map((i) => NU + i);
const TAU = 0.2;
const SCALE = 0.3 / USERS.length;

/** ñ(v) = v / sqrt(1e-8 + ‖v‖²) (irllrec spec §4.3). */
function soft(x: ArrayLike<number>, r: number): number[] {
  let s = 1e-8;
  for (let c = 0; c < D; c++) s += x[r * D + c] ** 2;
  return Array.from({ length: D }, (_, c) => x[r * D + c] / Math.sqrt(s));
}

/** scale·Σ_terms Σ_b [−â_b·ĉ_{r_b}/τ + log Σ_{m ∈ side} exp(â_b·ĉ_m/τ)], straight from the spec. */
function reference(x1: ArrayLike<number>, x2: ArrayLike<number>, terms: [number[], 'users' | 'items'][]): number {
  let total = 0;
  for (const [ids, side] of terms) {
    const [lo, hi] = side === 'users' ? [0, NU] : [NU, N];
    for (const r of ids) {
      const a = soft(x1, r);
      const dot = (m: number) => soft(x2, m).reduce((s, v, c) => s + v * a[c], 0) / TAU;
      let lse = 0;
      for (let m = lo; m < hi; m++) lse += Math.exp(dot(m));
      total += -dot(r) + Math.log(lse);
    }
  }
  return SCALE * total;
}

function run(be: Backend, x1v: ArrayLike<number>, x2v: ArrayLike<number>, terms: [number[], 'users' | 'items'][], grads: boolean) {
  const x1 = be.tensor(x1v, [N, D], 'f32', 'x1');
  const x2 = be.tensor(x2v, [N, D], 'f32', 'x2');
  const out = be.zeros([2]);
  const g1 = grads ? be.zeros([N, D]) : null;
  const g2 = grads ? be.zeros([N, D]) : null;
  // The sinks already hold something: the op adds into them.
  if (g1 && g2) {
    be.write(g1, new Float64Array(N * D).fill(0.5));
    be.write(g2, new Float64Array(N * D).fill(-0.25));
  }
  const ts = terms.map(([ids, side]) => ({ groups: rowGroups(be, Uint32Array.from(ids), N), side }));
  crossViewInfoNce(be, x1, x2, NU, ts, out, 1, { tau: TAU, scale: SCALE, g1, g2 });
  return { out, g1, g2 };
}

const SGL_TERMS: [number[], 'users' | 'items'][] = [
  [USERS, 'users'],
  [POS, 'items'],
  [NEG, 'items'],
];

describe('crossViewInfoNce', () => {
  const x1v = randArray(rng(21), N * D);
  const x2v = randArray(rng(22), N * D);

  it('equals the spec formula (float64), for SGL three terms and SimGCL two', async () => {
    for (const terms of [SGL_TERMS, SGL_TERMS.slice(0, 2)]) {
      const be = cpu('f64');
      const { out } = run(be, x1v, x2v, terms, false);
      const v = await be.read(out);
      expect(v[0]).toBe(0);
      expect(v[1]).toBeCloseTo(reference(x1v, x2v, terms), 12);
    }
  });

  it('every gradient matches central differences, candidates and repeated anchors included', async () => {
    const be = cpu('f64');
    const { g1, g2 } = run(be, x1v, x2v, SGL_TERMS, true);
    const a1 = Float64Array.from(await be.read(g1!), (v) => v - 0.5);
    const a2 = Float64Array.from(await be.read(g2!), (v) => v + 0.25);
    const x1 = Float64Array.from(x1v);
    const x2 = Float64Array.from(x2v);
    expectGradClose(a1, finiteDiff(() => reference(x1, x2, SGL_TERMS), x1), 'g1');
    expectGradClose(a2, finiteDiff(() => reference(x1, x2, SGL_TERMS), x2), 'g2');
    // Non-anchor rows: no view-1 gradient, but a view-2 gradient (they are candidates).
    for (const r of [8, NU + 12, NU + 13]) {
      for (let c = 0; c < D; c++) expect(a1[r * D + c]).toBe(0);
      expect(Math.abs(a2[r * D])).toBeGreaterThan(0);
    }
  });

  it('WebGPU agrees with the CPU twin', async () => {
    const res = await Promise.all(
      [await gpu(), cpu('f64')].map(async (be) => {
        const { out, g1, g2 } = run(be, x1v, x2v, SGL_TERMS, true);
        return { loss: (await be.read(out))[1], g1: await be.read(g1!), g2: await be.read(g2!) };
      }),
    );
    expect(res[0].loss).toBeCloseTo(res[1].loss, 5);
    expectClose(res[0].g1, res[1].g1, { atol: 2e-6, rtol: 1e-4 }, 'g1');
    expectClose(res[0].g2, res[1].g2, { atol: 2e-6, rtol: 1e-4 }, 'g2');
  });

  it('rejects views of different shapes and a bad user count', () => {
    const be = cpu();
    const ts = [{ groups: rowGroups(be, Uint32Array.of(0), N), side: 'users' as const }];
    expect(() => crossViewInfoNce(be, be.zeros([N, D]), be.zeros([N, D + 1]), NU, ts, be.zeros([1]), 0, { tau: 1, scale: 1 })).toThrow(/crossViewInfoNce: x2/);
    expect(() => crossViewInfoNce(be, be.zeros([N, D]), be.zeros([N, D]), N + 1, ts, be.zeros([1]), 0, { tau: 1, scale: 1 })).toThrow(/numUsers must be an integer/);
    expect(() => crossViewInfoNce(be, be.zeros([N, D]), be.zeros([N, D]), 0, ts, be.zeros([1]), 0, { tau: 1, scale: 1 })).toThrow(/contrasts users but there are none/);
  });
});
