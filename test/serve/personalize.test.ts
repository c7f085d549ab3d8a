import { afterAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/data/graph.js';
import { syntheticDataset } from '../../src/data/synthetic.js';
import type { Interactions, Matrix } from '../../src/data/types.js';
import { IrllrecError } from '../../src/errors.js';
import { serializeModel } from '../../src/io/modelfile.js';
import { type ModelKind, modelConfig } from '../../src/models/config.js';
import { RecModel } from '../../src/models/model.js';
import type { Backend } from '../../src/ops/tensor.js';
import { Recommender } from '../../src/serve/recommender.js';
import { fit } from '../../src/train/trainer.js';
import { Rng } from '../../src/util/random.js';
import { cpu, expectClose, gpu } from '../helpers.js';
import { foldInVersusPopularity, holdOut } from './foldin.js';

afterAll(async () => (await gpu()).destroy());

describe('personalize: fold-in of new users', () => {
  it('on the synthetic data, held-out users folded in from their training items beat popularity on their test items', async () => {
    const full = syntheticDataset({ seed: 3, numUsers: 400, numItems: 300, numIntents: 8, interactionsPerUser: 20 });
    const { data, heldOut } = holdOut(full, 8);
    // LightGCN trained on the CPU backend (fast for this size), served from its model file on the GPU.
    const c = cpu('f32');
    const res = await fit(c, data, { model: 'lightgcn', config: { embeddingDim: 32, layers: 2, keepRate: 1, reg: 1e-4 }, epochs: 30, batchSize: 1024, lr: 0.01 });
    const bytes = await serializeModel(res.model, { train: data.train });
    res.model.dispose();
    const rec = await Recommender.load(bytes, { backend: await gpu() });
    const m = await foldInVersusPopularity(rec, full, data, heldOut);
    expect(m.users).toBeGreaterThanOrEqual(40);
    expect(m.personal, `Recall@20 personalised ${m.personal.toFixed(4)} vs popularity ${m.popularity.toFixed(4)} over ${m.users} users`).toBeGreaterThan(1.3 * m.popularity);
    rec.dispose();
  });
});

// ------------------------------------------------------------------------------------------------------
// Mechanics on a small random graph.

const NU = 31;
const NI = 47;
const TRAIN: Interactions = (() => {
  const r = new Rng(8);
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < NU; u++) {
    const s = new Set<number>();
    while (s.size < 4) s.add(r.int(NI));
    for (const i of [...s].sort((a, b) => a - b)) {
      users.push(u);
      items.push(i);
    }
  }
  return { users: Uint32Array.from(users), items: Uint32Array.from(items) };
})();
const DP = 9;
function matrix(r: Rng, rows: number, cols: number): Matrix {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = r.uniform(-1, 1);
  return { rows, cols, data };
}
const TEXT_RNG = new Rng(21);
const USER_PROFILES = matrix(TEXT_RNG, NU, DP);
const TEXT = { userProfile: USER_PROFILES, itemProfile: matrix(TEXT_RNG, NI, DP), userIntent: matrix(TEXT_RNG, NU, 5), itemIntent: matrix(TEXT_RNG, NI, 5) };

function makeModel(be: Backend, kind: ModelKind): RecModel {
  const cfg = modelConfig(kind, 'default', { embeddingDim: 8, numIntents: 4, layers: 2 });
  return RecModel.create(be, cfg, { numUsers: NU, numItems: NI, graph: buildGraph({ numUsers: NU, numItems: NI, train: TRAIN }), text: kind === 'lightgcn' ? undefined : TEXT }, { seed: 6 });
}
async function recommenderOn(be: Backend, kind: ModelKind, withProfiles = true): Promise<Recommender> {
  const m = makeModel(be, kind);
  const rec = await Recommender.fromModel(m, { interactions: TRAIN, userProfiles: kind !== 'lightgcn' && withProfiles ? USER_PROFILES : undefined });
  m.dispose();
  return rec;
}

describe('personalize: mechanics', () => {
  it('with 0 steps the vector is the mean of the items’ E_fin rows', async () => {
    const rec = await recommenderOn(await gpu(), 'lightgcn');
    const items = [3, 10, 44];
    const me = await rec.personalize({ items, steps: 0 });
    const table = await rec.backend.read(rec.tables.items);
    const d = rec.embeddingDim;
    const mean = Array.from({ length: d }, (_, c) => items.reduce((s, i) => s + table[i * d + c], 0) / items.length);
    expectClose(me.vector, mean, { atol: 1e-6, rtol: 1e-5 }, 'x0');
    expect(me.bprLoss.length).toBe(0);
    rec.dispose();
    expect(me.isDisposed).toBe(true); // handles go with their recommender
  });

  it('refinement lowers the BPR loss; equal inputs give equal vectors; GPU and CPU agree', async () => {
    const g = await recommenderOn(await gpu(), 'lightgcn');
    const c = await recommenderOn(cpu('f32'), 'lightgcn');
    const items = [5, 6, 30, 31, 46];
    const a = await g.personalize({ items, steps: 30 });
    const b = await g.personalize({ items: [46, 31, 5, 6, 30, 5] }); // order and duplicates do not matter
    expect(Array.from(a.items)).toEqual(items);
    expect(Array.from(b.vector)).toEqual(Array.from((await g.personalize({ items, steps: 40 })).vector));
    expect(a.bprLoss.length).toBe(30);
    expect(a.bprLoss[29]).toBeLessThan(a.bprLoss[0]);
    const onCpu = await c.personalize({ items, steps: 30 });
    // Same negatives (same seed), f32 on both sides, different summation orders; Adam's steps are ≈ lr·sign(g).
    expectClose(a.vector, onCpu.vector, { atol: 1e-4 * g.tables.scale.items * Math.sqrt(8), rtol: 1e-3 }, 'GPU vs CPU vector');
    expectClose(a.bprLoss, onCpu.bprLoss, { atol: 1e-5, rtol: 1e-4 }, 'GPU vs CPU losses');
    g.dispose();
    c.dispose();
  });

  it('the handle works with recommend (own items excluded), similarUsers and explain', async () => {
    const rec = await recommenderOn(await gpu(), 'irllrec');
    const items = [1, 2, 3];
    const me = await rec.personalize({ items, steps: 10 });
    const r = await rec.recommend(me, { k: 10 });
    expect(r.ids.length).toBe(10);
    for (const i of items) expect(Array.from(r.ids)).not.toContain(i);
    // Same ranking as scoring the host copy of the vector against every item.
    const table = await rec.backend.read(rec.tables.items);
    const d = rec.embeddingDim;
    const score = (i: number) => me.vector.reduce((s, x, c) => s + x * table[i * d + c], 0);
    for (let t = 0; t < 10; t++) expect(r.scores[t]).toBeCloseTo(score(r.ids[t]), 5);
    const mixed = await rec.recommend([0, me, 4], { k: 10 });
    expect(Array.from(mixed[1].ids)).toEqual(Array.from(r.ids));
    const sim = await rec.similarUsers(me, 5);
    expect(sim.ids.length).toBe(5);
    const why = await rec.explain(me, r.ids[0]);
    expect(why.kind).toBe('intents');
    expect(why.score).toBeCloseTo(r.scores[0], 5);
    expect(why.becauseOf.every((e) => items.includes(e.item))).toBe(true);
    me.dispose();
    await expect(rec.recommend(me)).rejects.toThrow(/personalised user\) was disposed/);
    const other = await recommenderOn(await gpu(), 'irllrec');
    const theirs = await other.personalize({ items: [0] });
    await expect(rec.recommend(theirs)).rejects.toThrow(/of another recommender/);
    other.dispose();
    rec.dispose();
  });

  it('a text embedding adds the kd alignment (its loss falls); text alone serves a cold-start user', async () => {
    const rec = await recommenderOn(await gpu(), 'rlmrec');
    expect(rec.acceptsText).toBe(true);
    const r = new Rng(4);
    const textEmbedding = Array.from({ length: DP }, () => r.uniform(-1, 1));
    const me = await rec.personalize({ items: [7, 8], textEmbedding, steps: 30, textWeight: 1 });
    expect(me.textLoss).not.toBeNull();
    expect(me.textLoss![29]).toBeLessThan(me.textLoss![0]);
    // The text moves the vector: without it the result differs.
    const plain = await rec.personalize({ items: [7, 8], steps: 30 });
    expect(Array.from(plain.vector)).not.toEqual(Array.from(me.vector));
    const cold = await rec.personalize({ textEmbedding, steps: 30 });
    expect(cold.items.length).toBe(0);
    expect(cold.bprLoss.length).toBe(0);
    expect(cold.textLoss![29]).toBeLessThan(cold.textLoss![0]);
    expect((await rec.recommend(cold, { k: 5 })).ids.length).toBe(5);
    rec.dispose();
  });

  it('bad inputs are rejected with errors that say what is wrong', async () => {
    const be = await gpu();
    const lightgcn = await recommenderOn(be, 'lightgcn');
    const noProfiles = await recommenderOn(be, 'rlmrec', false);
    const err = async (p: Promise<unknown>, code: string, msg: RegExp) => {
      const e = await p.then(
        () => null,
        (x) => x,
      );
      expect(e).toBeInstanceOf(IrllrecError);
      expect((e as IrllrecError).code).toBe(code);
      expect((e as Error).message).toMatch(msg);
    };
    await err(lightgcn.personalize({ items: [] }), 'range', /at least one item id or a textEmbedding/);
    await err(lightgcn.personalize({ items: [1, NI] }), 'range', /item 47 at position 1 is not an item id/);
    await err(lightgcn.personalize({ items: [1], steps: -1 }), 'range', /steps must be an integer ≥ 0/);
    await err(lightgcn.personalize({ items: [1], lr: 0 }), 'range', /lr must be a finite number > 0/);
    await err(lightgcn.personalize({ items: [1], textEmbedding: new Array(DP).fill(0) }), 'data', /lightgcn model has no profile MLP/);
    await err(noProfiles.personalize({ items: [1], textEmbedding: new Array(DP).fill(0) }), 'data', /pass userProfiles/);
    const withProfiles = await recommenderOn(be, 'rlmrec');
    await err(withProfiles.personalize({ items: [1], textEmbedding: [1, 2] }), 'shape', /textEmbedding has 2 values, the profile MLP takes 9/);
    await err(withProfiles.personalize({ items: [1], textEmbedding: [Number.NaN, ...new Array(DP - 1).fill(0)] }), 'nonfinite', /textEmbedding\[0\] is NaN/);
    await err(lightgcn.personalize({ items: Array.from({ length: NI }, (_, i) => i) }), 'data', /no negative item exists/);
    for (const r of [lightgcn, noProfiles, withProfiles]) r.dispose();
  });
});
