/**
 * Diagnostics and the cost of zero-weight terms: per-term gradients add up to the whole loss's gradient; a term
 * left out equals the same term at weight 0; a term whose weight is 0 allocates none of the views only it reads;
 * the learnt-intent agreement scores behave on hand-checked clusterings.
 */
import { describe, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { buildGraph } from '../../src/data/graph.js';
import { type ModelConfig, modelConfig } from '../../src/models/config.js';
import { type Batch, RecModel } from '../../src/models/model.js';
import type { Backend } from '../../src/ops/tensor.js';
import { activeTerms, alignmentDiagnostics } from '../../src/train/diagnostics.js';
import { chanceAgreement, clusterAgreement, itemTopIntents } from '../../src/train/intents.js';
import { cpu } from '../helpers.js';

const data = syntheticDataset({ seed: 3, numUsers: 30, numItems: 40, numIntents: 4, textDim: 10, interactionsPerUser: 5 });
const BATCH: Batch = { users: Uint32Array.from([0, 3, 3, 7, 12, 29]), pos: data.train.items.slice(0, 6), neg: Uint32Array.from([1, 5, 9, 39, 0, 2]) };
BATCH.users.set(data.train.users.slice(0, 6));
// Weights raised so every term is visible.
const WEIGHTS: Partial<ModelConfig> = { embeddingDim: 6, numIntents: 5, layers: 2, reg: 1e-2, kdWeight: 0.3, intWeight: 0.4, sslWeight: 0.2, itmWeight: 0.5 };

function build(be: Backend, cfg: ModelConfig) {
  return RecModel.create(be, cfg, { numUsers: data.numUsers, numItems: data.numItems, graph: buildGraph(data), text: data.text }, { seed: 5 });
}

describe('per-term gradients (float64 CPU twin)', () => {
  // SGL's and SimGCL's _int: L_cl instead of ssl and ITM; sgl_int's kd_int alone still reads view 2's draws.
  const cases = [
    ['irllrec', WEIGHTS, ['bpr', 'reg', 'kd', 'kd_int', 'ssl', 'itm']],
    ['sgl_int', { ...WEIGHTS, sslWeight: 0, itmWeight: 0, clWeight: 0.3, keepRate: 0.7 }, ['bpr', 'reg', 'kd', 'kd_int', 'cl']],
    ['simgcl_int', { ...WEIGHTS, sslWeight: 0, itmWeight: 0, clWeight: 0.3, noiseEps: 0.5 }, ['bpr', 'reg', 'kd', 'kd_int', 'cl']],
  ] as const;
  for (const [kind, weights, want] of cases) it(`${kind}: the per-term gradients of every parameter add up to the whole loss gradient`, async () => {
    const be = cpu('f64');
    const m = build(be, modelConfig(kind, 'other', weights));
    const terms = activeTerms(m);
    expect(terms).toEqual(want);
    const sums = new Map<string, Float64Array>();
    for (const term of terms) {
      await m.computeGradients(BATCH, { noiseSeed: 9, terms: [term] });
      for (const [name, g] of m.grads) {
        const v = await be.read(g);
        const s = sums.get(name) ?? new Float64Array(v.length);
        for (let i = 0; i < v.length; i++) s[i] += v[i];
        sums.set(name, s);
      }
    }
    await m.computeGradients(BATCH, { noiseSeed: 9 });
    for (const [name, g] of m.grads) {
      const whole = await be.read(g);
      const s = sums.get(name)!;
      let err = 0;
      let scale = 0;
      for (let i = 0; i < whole.length; i++) {
        err = Math.max(err, Math.abs(whole[i] - s[i]));
        scale = Math.max(scale, Math.abs(whole[i]));
      }
      expect(scale, name).toBeGreaterThan(0);
      expect(err, name).toBeLessThan(1e-12 * Math.max(1, scale));
    }
  });

  it('a left-out term equals the same term at weight 0; the diagnostics report its norms', async () => {
    const be = cpu('f64');
    const m = build(be, modelConfig('irllrec', 'other', WEIGHTS));
    const zero = build(be, modelConfig('irllrec', 'other', { ...WEIGHTS, intWeight: 0 }));
    const a = await m.computeGradients(BATCH, { noiseSeed: 9, terms: ['bpr', 'reg', 'kd', 'ssl', 'itm'] });
    const ga = await be.read(m.grads.get('E0')!);
    const b = await zero.computeGradients(BATCH, { noiseSeed: 9 });
    expect(a).toEqual(b);
    expect(Array.from(ga)).toEqual(Array.from(await be.read(zero.grads.get('E0')!)));
    const diag = await alignmentDiagnostics(m, BATCH, { noiseSeed: 9 });
    expect(Object.keys(diag.gradE0).sort()).toEqual(['bpr', 'itm', 'kd', 'kd_int', 'reg', 'ssl', 'total']);
    // ITM reaches E0 through its share of the ssl term (0.4·w3·w2·L_ssl, spec §4.8).
    for (const [k, v] of Object.entries(diag.gradE0)) expect(v, k).toBeGreaterThan(0);
    expect(diag.rowNorm.ybar).toBeGreaterThan(0);
    expect(diag.rowNorm.ybar!).toBeLessThan(diag.rowNorm.efin);
    expect(diag.prototypes!.user).toBeGreaterThan(0);
  });
});

describe('a loss term whose weight is 0 costs nothing', () => {
  /** Labels of every tensor one training step allocates. */
  async function stepLabels(cfg: ModelConfig): Promise<Set<string>> {
    const be = cpu('f32');
    const m = build(be, cfg);
    const labels = new Set<string>();
    const zeros = be.zeros.bind(be);
    be.zeros = ((shape: readonly number[], dtype?: 'f32' | 'u32' | 'i32', label?: string) => {
      labels.add(label ?? '');
      return zeros(shape, dtype, label);
    }) as typeof be.zeros;
    await m.trainStep(BATCH);
    return labels;
  }
  it('views, towers and passes of zero-weight terms are neither allocated nor computed', async () => {
    const full = await stepLabels(modelConfig('irllrec', 'other', WEIGHTS));
    for (const l of ['Ybar', 'Z', 'P~', 'intent.h', 'profile.h', 'Xs', 'T', 'kd.a_u', 'kd_int.a_u']) expect(full.has(l), l).toBe(true);
    const noSslItm = await stepLabels(modelConfig('irllrec', 'other', { ...WEIGHTS, sslWeight: 0, itmWeight: 0 }));
    for (const l of ['Xs', 'xi1', 'T']) expect(noSslItm.has(l), l).toBe(false);
    expect(noSslItm.has('Z')).toBe(true);
    const bare = await stepLabels(modelConfig('irllrec', 'other', { ...WEIGHTS, kdWeight: 0, intWeight: 0, sslWeight: 0, itmWeight: 0 }));
    for (const l of ['Ybar', 'Z', 'P~', 'intent.h', 'profile.h', 'Xs', 'T', 'kd.a_u', 'kd_int.a_u', 'gZ', 'gYbar', 'Y_l']) expect(bare.has(l), l).toBe(false);
  });
});

describe('agreement of learnt intents with reference labels', () => {
  it('NMI and purity on hand-checked clusterings', () => {
    const truth = [0, 0, 1, 1, 2, 2];
    expect(clusterAgreement([5, 5, 3, 3, 9, 9], truth)).toEqual({ nmi: 1, purity: 1, clusters: 3 });
    const one = clusterAgreement([0, 0, 0, 0, 0, 0], truth);
    expect(one.nmi).toBe(0);
    expect(one.purity).toBeCloseTo(1 / 3, 12);
    // Two clusters {0,0,1} {1,2,2}: purity (2 + 2) / 6; MI by hand.
    const two = clusterAgreement([0, 0, 0, 1, 1, 1], truth);
    expect(two.purity).toBeCloseTo(4 / 6, 12);
    const mi = (2 / 6) * Math.log((2 * 6) / (3 * 2)) * 2 + (1 / 6) * Math.log((1 * 6) / (3 * 2)) * 2;
    const h = (hp: number, ht: number) => (hp + ht) / 2;
    expect(two.nmi).toBeCloseTo(mi / h(Math.log(2), Math.log(3)), 12);
    // Unlabelled items (−1) are left out.
    expect(clusterAgreement([1, 1, 7], [0, 0, -1])).toEqual({ nmi: 0, purity: 1, clusters: 1 });
    expect(() => clusterAgreement([1], [1, 2])).toThrow(/1 predictions but 2 labels/);
  });
  it('chance agreement of a perfect clustering is far below it', () => {
    const truth = Array.from({ length: 400 }, (_, i) => i % 8);
    const chance = chanceAgreement(truth, truth, 10, 3);
    expect(chance.nmi).toBeLessThan(0.1);
    expect(chance.purity).toBeLessThan(0.3);
  });
  it("itemTopIntents ranks each item's prototypes on the ranking embeddings", async () => {
    const be = cpu('f64');
    const m = build(be, modelConfig('irllrec', 'other', WEIGHTS));
    const top = await itemTopIntents(m);
    const fin = await be.read(m.finalEmbeddings());
    const w = await be.read(m.params.get('item_intent')!);
    const d = 6;
    const K = 5;
    for (const i of [0, 17, 39]) {
      const s = Array.from({ length: K }, (_, k) => Array.from({ length: d }, (_, c) => fin[(data.numUsers + i) * d + c] * w[c * K + k]).reduce((a, b) => a + b, 0));
      expect(top[i]).toBe(s.indexOf(Math.max(...s)));
    }
    await expect(itemTopIntents(build(be, modelConfig('lightgcn', 'other')))).rejects.toThrow(/no intent prototypes/);
  });
});
