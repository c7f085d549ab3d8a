import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGraph, userItemCsr } from '../../src/data/graph.js';
import type { Interactions, Matrix } from '../../src/data/types.js';
import { IrllrecError } from '../../src/errors.js';
import { serializeModel } from '../../src/io/modelfile.js';
import { type ModelKind, modelConfig } from '../../src/models/config.js';
import { RecModel } from '../../src/models/model.js';
import type { Backend } from '../../src/ops/tensor.js';
import { Recommender } from '../../src/serve/recommender.js';
import { Rng } from '../../src/util/random.js';
import { cpu, gpu } from '../helpers.js';
import { bruteTopK, dot, expectSameRanking, hostEfin, norm } from './ranking.js';

// A random bipartite training graph: 53 users, 71 items (odd sizes), ~6 items per user, one user with none.
const NU = 53;
const NI = 71;
function makeTrain(seed = 5): Interactions {
  const r = new Rng(seed);
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < NU; u++) {
    if (u === 7) continue; // a user without training items
    const n = 2 + r.int(9);
    const chosen = new Set<number>();
    while (chosen.size < n) chosen.add(r.int(NI));
    for (const i of [...chosen].sort((a, b) => a - b)) {
      users.push(u);
      items.push(i);
    }
  }
  return { users: Uint32Array.from(users), items: Uint32Array.from(items) };
}
const TRAIN = makeTrain();

function textMatrix(r: Rng, rows: number, cols: number): Matrix {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = r.uniform(-1, 1);
  return { rows, cols, data };
}

/** A randomly initialised model of `kind` (random embeddings give well-separated scores). */
function makeModel(be: Backend, kind: ModelKind, seed = 9): RecModel {
  const r = new Rng(seed + 100);
  const cfg = modelConfig(kind, 'default', { embeddingDim: 12, numIntents: 6, layers: 2 });
  const text = kind === 'lightgcn' ? undefined : { userProfile: textMatrix(r, NU, 10), itemProfile: textMatrix(r, NI, 10), userIntent: textMatrix(r, NU, 7), itemIntent: textMatrix(r, NI, 7) };
  return RecModel.create(be, cfg, { numUsers: NU, numItems: NI, graph: buildGraph({ numUsers: NU, numItems: NI, train: TRAIN }), text }, { seed });
}

const seen = userItemCsr(NU, NI, TRAIN);
const seenOf = (u: number) => new Set(seen.colIdx.subarray(seen.rowPtr[u], seen.rowPtr[u + 1]));
const allItems = Array.from({ length: NI }, (_, i) => i);
const allUsers = Array.from({ length: NU }, (_, i) => i);

afterAll(async () => (await gpu()).destroy());

/** softmax(x[row]·W) over the K intents (W: d×K). */
function intentWeights(x: Float64Array, row: number, w: Float32Array, d: number, K: number): number[] {
  const z = Array.from({ length: K }, (_, k) => {
    let s = 0;
    for (let c = 0; c < d; c++) s += x[row * d + c] * w[c * K + k];
    return s;
  });
  const mx = Math.max(...z);
  const e = z.map((v) => Math.exp(v - mx));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

describe('Recommender on WebGPU: rankings equal a brute-force CPU ranking', () => {
  let rec: Recommender;
  let ref: Awaited<ReturnType<typeof hostEfin>>;

  beforeAll(async () => {
    const be = await gpu();
    const model = makeModel(be, 'irllrec');
    ref = await hostEfin(model, TRAIN);
    // Through the model file, as a deployment would.
    const bytes = await serializeModel(model, { train: TRAIN });
    model.dispose();
    rec = await Recommender.load(bytes, { backend: be, intentLabels: ['a', 'b', 'c', 'd', 'e', 'f'] });
  });
  afterAll(() => rec.dispose());

  it('recommend: every user, training items excluded, in chunks of 16 users', async () => {
    const users = Uint32Array.from(allUsers);
    const got = await rec.recommend(users, { k: 10, batchSize: 16 });
    expect(got).toHaveLength(NU);
    for (const u of allUsers) {
      const score = (i: number) => dot(ref.users, u, ref.items, i, ref.d);
      const want = bruteTopK(score, allItems, seenOf(u), 10);
      expectSameRanking(got[u], want, score, `user ${u}`);
      for (const i of got[u].ids) expect(seenOf(u).has(i), `user ${u}: seen item ${i} recommended`).toBe(false);
    }
  });

  it("recommend with scoring 'fused' and 'matmul' gives the same rankings", async () => {
    const users = [0, 7, 19, 44];
    for (const scoring of ['fused', 'matmul'] as const) {
      const got = await rec.recommend(users, { k: 10, scoring, filter: (i) => i !== 2 });
      for (const [r, u] of users.entries()) {
        const score = (i: number) => dot(ref.users, u, ref.items, i, ref.d);
        expectSameRanking(got[r], bruteTopK(score, allItems.filter((i) => i !== 2), seenOf(u), 10), score, `${scoring}: user ${u}`);
      }
    }
  });

  it('recommend with excludeSeen: false ranks the training items too', async () => {
    const got = await rec.recommend([3, 8, 52], { k: 25, excludeSeen: false });
    for (const [r, u] of [3, 8, 52].entries()) {
      const score = (i: number) => dot(ref.users, u, ref.items, i, ref.d);
      expectSameRanking(got[r], bruteTopK(score, allItems, new Set(), 25), score, `user ${u}`);
    }
  });

  it('recommend with a filter scores only the allowed items (array, Set and predicate agree)', async () => {
    const allowed = allItems.filter((i) => i % 3 !== 0);
    const users = [0, 7, 21, 33];
    const byArray = await rec.recommend(users, { k: 12, filter: allowed });
    const bySet = await rec.recommend(users, { k: 12, filter: new Set(allowed) });
    const byPredicate = await rec.recommend(users, { k: 12, filter: (i) => i % 3 !== 0 });
    for (const [r, u] of users.entries()) {
      const score = (i: number) => dot(ref.users, u, ref.items, i, ref.d);
      expectSameRanking(byArray[r], bruteTopK(score, allowed, seenOf(u), 12), score, `user ${u}`);
      expect(Array.from(bySet[r].ids)).toEqual(Array.from(byArray[r].ids));
      expect(Array.from(byPredicate[r].ids)).toEqual(Array.from(byArray[r].ids));
    }
  });

  it('a filter smaller than k returns the allowed unseen items only; an empty filter returns nothing', async () => {
    const u = 4;
    const allowed = [...seenOf(u)].slice(0, 2).concat([allItems.find((i) => !seenOf(u).has(i))!]);
    const got = await rec.recommend(u, { k: 20, filter: allowed });
    expect(Array.from(got.ids)).toEqual([allowed[2]]);
    const none = await rec.recommend(u, { k: 20, filter: [] });
    expect(none.ids.length).toBe(0);
  });

  it('one user gives one result, equal to the batched one', async () => {
    const one = await rec.recommend(11, { k: 7 });
    const many = await rec.recommend([5, 11], { k: 7 });
    expect(Array.from(one.ids)).toEqual(Array.from(many[1].ids));
    expect(Array.from(one.scores)).toEqual(Array.from(many[1].scores));
  });

  it('similarItems: cosine of E_fin rows, the item itself excluded; dot on request', async () => {
    const items = [0, 17, 70];
    const cos = await rec.similarItems(items, 8);
    const dots = await rec.similarItems(items, 8, { metric: 'dot' });
    for (const [r, q] of items.entries()) {
      const c = (i: number) => dot(ref.items, q, ref.items, i, ref.d) / (norm(ref.items, q, ref.d) * norm(ref.items, i, ref.d));
      expectSameRanking(cos[r], bruteTopK(c, allItems, new Set([q]), 8), c, `cosine item ${q}`);
      const s = (i: number) => dot(ref.items, q, ref.items, i, ref.d);
      expectSameRanking(dots[r], bruteTopK(s, allItems, new Set([q]), 8), s, `dot item ${q}`);
    }
    const single = await rec.similarItems(17, 8);
    expect(Array.from(single.ids)).toEqual(Array.from(cos[1].ids));
  });

  it('similarUsers: cosine of E_fin user rows, the user itself excluded', async () => {
    const got = await rec.similarUsers([2, 40], 6);
    for (const [r, q] of [2, 40].entries()) {
      const c = (v: number) => dot(ref.users, q, ref.users, v, ref.d) / (norm(ref.users, q, ref.d) * norm(ref.users, v, ref.d));
      expectSameRanking(got[r], bruteTopK(c, allUsers, new Set([q]), 6), c, `user ${q}`);
    }
  });

  it('explain (IRLLRec): intents ranked by softmax(Xu·Wu)_k·softmax(Xi·Wi)_k, with shares, labels and examples', async () => {
    const be = await gpu();
    const model = makeModel(be, 'irllrec'); // the same seed: the same parameters as the loaded file
    const p = await model.exportParameters();
    model.dispose();
    const d = ref.d;
    const wu = p.get('user_intent')!.data;
    const wi = p.get('item_intent')!.data;
    const softmax = (x: Float64Array, row: number, w: Float32Array) => intentWeights(x, row, w, d, 6);
    const u = 12;
    const items = [1, 30, 64];
    const ex = await rec.explain(u, items, { intents: 4, examples: 2, becauseOf: 3 });
    const piAll = allItems.map((i) => softmax(ref.items, i, wi));
    for (const [r, i] of items.entries()) {
      const e = ex[r];
      expect(e.kind).toBe('intents');
      expect(e.item).toBe(i);
      expect(e.score).toBeCloseTo(dot(ref.users, u, ref.items, i, d), 4);
      const pu = softmax(ref.users, u, wu);
      const pi = piAll[i];
      const w = pu.map((x, k) => x * pi[k]);
      const total = w.reduce((a, b) => a + b, 0);
      expect(e.intentAffinity).toBeCloseTo(total, 5);
      const order = w.map((x, k) => [x, k]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map((x) => x[1]);
      expect(e.intents.map((c) => c.intent)).toEqual(order.slice(0, 4));
      for (const c of e.intents) {
        expect(c.label).toBe('abcdef'[c.intent]);
        expect(c.userWeight).toBeCloseTo(pu[c.intent], 5);
        expect(c.itemWeight).toBeCloseTo(pi[c.intent], 5);
        expect(c.share).toBeCloseTo(w[c.intent] / total, 5);
        // Examples: the items with the largest π_i,k (the explained item left out).
        const typical = allItems.filter((j) => j !== i).sort((a, b) => piAll[b][c.intent] - piAll[a][c.intent] || a - b);
        expect(c.examples.length).toBe(2);
        for (const j of c.examples) expect(piAll[j][c.intent]).toBeGreaterThanOrEqual(piAll[typical[1]][c.intent] - 1e-6);
      }
      // becauseOf: the user's training items by cosine to item i.
      const cos = (j: number) => dot(ref.items, i, ref.items, j, d) / (norm(ref.items, i, d) * norm(ref.items, j, d));
      const want = bruteTopK(cos, [...seenOf(u)], new Set([i]), 3);
      expect(e.becauseOf.map((b) => b.item)).toEqual(want.ids);
      for (const [t, b] of e.becauseOf.entries()) expect(b.similarity).toBeCloseTo(want.scores[t], 4);
    }
    const single = await rec.explain(u, 30);
    expect(single.intents.map((c) => c.intent)).toEqual(ex[1].intents.slice(0, 3).map((c) => c.intent));
  });

  it('bad arguments are rejected with errors that name them', async () => {
    await expect(rec.recommend([0, NU], { k: 5 })).rejects.toThrow(/recommend: user at position 1 is 53, not a user index \(0…52\)/);
    await expect(rec.recommend([0], { k: 0 })).rejects.toThrow(/k must be an integer in 1…1024/);
    await expect(rec.recommend([0], { k: 1025 })).rejects.toThrow(IrllrecError);
    await expect(rec.recommend([0], { filter: [3, NI] })).rejects.toThrow(/recommend: filter item is 71, not an item index \(0…70\)/);
    await expect(rec.similarItems(-1, 3)).rejects.toThrow(/similarItems: item is -1, not an item index/);
    await expect(rec.similarItems(1, 3, { metric: 'euclid' as 'dot' })).rejects.toThrow(/metric must be/);
    await expect(rec.explain(0, NI)).rejects.toThrow(/explain: item is 71/);
    await expect(rec.explain(0, 1, { intents: 7 })).rejects.toThrow(/intents must be an integer in 0…6/);
  });
});

describe('Recommender resources', () => {
  it('releases every tensor it made: load, queries, personalisation, explanations, dispose', async () => {
    const be = await gpu();
    const model = makeModel(be, 'irllrec', 3);
    const bytes = await serializeModel(model, { train: TRAIN });
    model.dispose();
    const before = be.liveTensorCount;
    const rec = await Recommender.load(bytes, { backend: be });
    await rec.recommend([1, 2, 3], { k: 5, filter: (i) => i > 4 });
    await rec.recommend(4, { k: 5, scoring: 'fused' });
    await rec.similarItems([1, 2], 4);
    await rec.similarUsers(1, 4);
    const me = await rec.personalize({ items: [1, 9], steps: 3 });
    await rec.explain(me, [0, 5]);
    await rec.explain(2, 6);
    expect(be.liveTensorCount).toBeGreaterThan(before);
    rec.dispose();
    expect(me.isDisposed).toBe(true);
    expect(be.liveTensorCount).toBe(before);
  });
});

describe('Recommender on the CPU backend and for models without intents', () => {
  it('the CPU backend ranks like the GPU (same ids and scores to 1e-5)', async () => {
    const g = await gpu();
    const c = cpu('f32');
    const mg = makeModel(g, 'lightgcn', 4);
    const mc = makeModel(c, 'lightgcn', 4);
    const rg = await Recommender.fromModel(mg, { interactions: TRAIN });
    const rc = await Recommender.fromModel(mc, { interactions: TRAIN });
    mg.dispose();
    mc.dispose();
    const users = [0, 9, 10, 52];
    const a = await rg.recommend(users, { k: 15, filter: (i) => i !== 3 });
    const b = await rc.recommend(users, { k: 15, filter: (i) => i !== 3 });
    for (let r = 0; r < users.length; r++) {
      expect(Array.from(a[r].ids)).toEqual(Array.from(b[r].ids));
      for (let t = 0; t < a[r].scores.length; t++) expect(Math.abs(a[r].scores[t] - b[r].scores[t])).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(b[r].scores[t]));
    }
    rg.dispose();
    rc.dispose();
  });

  it("LightGCN's explanation has kind 'items': no intents, the user's most similar training items as evidence", async () => {
    const c = cpu('f32');
    const model = makeModel(c, 'lightgcn');
    const ref = await hostEfin(model, TRAIN);
    const rec = await Recommender.fromModel(model, { interactions: TRAIN });
    model.dispose();
    expect(rec.hasIntents).toBe(false);
    const u = 30;
    const item = [...seenOf(u)][0]; // a seen item: itself is never its own evidence
    const e = await rec.explain(u, item, { becauseOf: 4 });
    expect(e.kind).toBe('items');
    expect(e.intents).toEqual([]);
    expect(e.intentAffinity).toBe(0);
    const cos = (j: number) => dot(ref.items, item, ref.items, j, ref.d) / (norm(ref.items, item, ref.d) * norm(ref.items, j, ref.d));
    const want = bruteTopK(cos, [...seenOf(u)], new Set([item]), 4);
    expect(e.becauseOf.map((b) => b.item)).toEqual(want.ids);
    // A user without training items has no evidence.
    expect((await rec.explain(7, 0)).becauseOf).toEqual([]);
    rec.dispose();
    await expect(rec.recommend([0])).rejects.toThrow(/disposed/);
  });

  for (const kind of ['sgl_int', 'simgcl_int'] as const) {
    it(`${kind} from its model file: rankings on the clean E_fin, intent explanations from its prototypes, personalisation`, async () => {
      const c = cpu('f32');
      const model = makeModel(c, kind);
      const ref = await hostEfin(model, TRAIN);
      const p = await model.exportParameters();
      const rec = await Recommender.load(await serializeModel(model, { train: TRAIN }), { backend: c });
      model.dispose();
      expect(rec.kind).toBe(kind);
      expect(rec.hasIntents).toBe(true);
      const u = 12;
      const { ids } = await rec.recommend(u, { k: 5 });
      expect(Array.from(ids)).toEqual(bruteTopK((i) => dot(ref.users, u, ref.items, i, ref.d), allItems, seenOf(u), 5).ids);
      const e = await rec.explain(u, ids[0], { intents: 6 });
      expect(e.kind).toBe('intents');
      const pu = intentWeights(ref.users, u, p.get('user_intent')!.data, ref.d, 6);
      const pi = intentWeights(ref.items, ids[0], p.get('item_intent')!.data, ref.d, 6);
      for (const x of e.intents) {
        expect(x.userWeight).toBeCloseTo(pu[x.intent], 5);
        expect(x.itemWeight).toBeCloseTo(pi[x.intent], 5);
      }
      const me = await rec.personalize({ items: [1, 5, 7] });
      expect((await rec.recommend(me, { k: 3 })).ids.length).toBe(3);
      rec.dispose();
    });
  }
});
