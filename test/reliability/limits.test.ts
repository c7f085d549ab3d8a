/**
 * Device limits up front (src/models/plan.ts): a model, a training step, an evaluation or a serving call
 * whose buffers would exceed maxStorageBufferBindingSize fails before anything is allocated, naming every
 * offending tensor with its shape and bytes; row-chunked work (evaluation, recommend) adapts its chunks to
 * the limit instead. The plan is complete: every buffer the pool hands out during training, evaluation and
 * serving is in it, at most its planned size.
 *
 * Small limits come from `limitOverrides` (enforced by irllrec below the WebGPU defaults), so a tiny
 * synthetic catalogue can exceed them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/data/graph.js';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { IrllrecError } from '../../src/errors.js';
import { serializeModel } from '../../src/io/modelfile.js';
import { type ModelConfig, type ModelKind, modelConfig, modelParts } from '../../src/models/config.js';
import {
  CPU_MAX_TENSOR_BYTES,
  type PlannedBinding,
  checkPlan,
  largestBinding,
  modelPlanInput,
  planBindings,
  planEvaluate,
  planPersonalize,
  planRecommend,
  planServingTables,
} from '../../src/models/plan.js';
import { createBackend } from '../../src/node/index.js';
import type { WebGpuBackend } from '../../src/ops/tensor.js';
import { Recommender } from '../../src/serve/recommender.js';
import { type FitOptions, fit } from '../../src/train/trainer.js';
import { cpu, gpu } from '../helpers.js';

const backends: WebGpuBackend[] = [];
afterAll(async () => {
  for (const b of backends) b.destroy();
  (await gpu()).destroy();
});

/** A fresh WebGPU backend whose storage bindings are capped at `bytes`. */
async function limited(bytes: number): Promise<WebGpuBackend> {
  const be = (await createBackend({ backend: 'webgpu', limitOverrides: { maxStorageBufferBindingSize: bytes } })) as WebGpuBackend;
  backends.push(be);
  return be;
}

const data = syntheticDataset({ seed: 31, numUsers: 40, numItems: 56, numIntents: 3, textDim: 12, interactionsPerUser: 6 });
const CONFIGS: Record<ModelKind, Partial<ModelConfig>> = {
  lightgcn: { embeddingDim: 8, layers: 2, keepRate: 0.8 },
  rlmrec: { embeddingDim: 8, layers: 2, keepRate: 0.8 },
  irllrec: { embeddingDim: 8, layers: 2, numIntents: 3 },
  sgl: { embeddingDim: 8, layers: 2 },
  sgl_plus: { embeddingDim: 8, layers: 2 },
  sgl_int: { embeddingDim: 8, layers: 2, numIntents: 3 },
  simgcl: { embeddingDim: 8, layers: 2 },
  simgcl_plus: { embeddingDim: 8, layers: 2 },
  simgcl_int: { embeddingDim: 8, layers: 2, numIntents: 3 },
};
const KS = [5, 10, 20];
const graph = buildGraph(data);
const planInput = (kind: ModelKind) => modelPlanInput(modelConfig(kind, data.name, CONFIGS[kind]), { ...data, graph });

/** Largest bytes the pool was asked for, by label, while `fn` ran. */
async function acquisitions(be: WebGpuBackend, fn: () => Promise<void>): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const pool = be.pool;
  const acquire = pool.acquire;
  pool.acquire = function (this: typeof pool, bytes: number, label: string) {
    seen.set(label, Math.max(seen.get(label) ?? 0, bytes));
    return acquire.call(this, bytes, label);
  };
  try {
    await fn();
  } finally {
    pool.acquire = acquire;
  }
  return seen;
}

/** Labels allocated but not planned, or allocated larger than planned. */
function unplanned(acquired: Map<string, number>, plan: readonly PlannedBinding[]): string[] {
  const planned = new Map<string, number>();
  for (const b of plan) planned.set(b.label, Math.max(planned.get(b.label) ?? 0, b.bytes));
  const out: string[] = [];
  for (const [label, bytes] of acquired) {
    const p = planned.get(label);
    if (p === undefined || bytes > p) out.push(`${label}: ${bytes} bytes allocated, ${p ?? 'not'} planned`);
  }
  return out;
}

async function caught(p: Promise<unknown> | (() => unknown)): Promise<IrllrecError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(IrllrecError);
    return e as IrllrecError;
  }
  throw new Error('expected an error');
}

describe('the binding plan covers every buffer the pool allocates', () => {
  const cases: [ModelKind, Partial<ModelConfig>][] = [
    ['lightgcn', {}],
    ['rlmrec', {}],
    ['irllrec', {}],
    ['irllrec', { textPrecision: 'f16' }],
    ['sgl_int', {}],
    ['simgcl_int', {}],
    ['sgl', {}],
  ];
  for (const [kind, extra] of cases) {
    it(`${kind}${extra.textPrecision ? ` (${extra.textPrecision} text)` : ''}: fit, loss, evaluate, serve, recommend, personalize`, async () => {
      const be = await gpu();
      const B = 32;
      const text = modelParts(kind).profile;
      const config = { ...CONFIGS[kind], ...extra };
      const input = modelPlanInput(modelConfig(kind, data.name, config), { ...data, graph });
      const d = input.config.embeddingDim;
      const acquired = await acquisitions(be, async () => {
        const res = await fit(be, data, { model: kind, config, epochs: 1, maxSteps: 3, batchSize: B, evalEvery: 1, patience: 0, ks: KS });
        const model = res.model;
        // Loss only (no gradients): the losses' stand-ins for missing gradient outputs.
        await model.loss({ users: Uint32Array.of(0, 1, 2), pos: Uint32Array.of(3, 4, 5), neg: Uint32Array.of(6, 7, 8) });
        const rec = await Recommender.fromModel(model, { interactions: data.train, userProfiles: text ? data.text!.userProfile : undefined });
        model.dispose();
        const all = Array.from({ length: data.numUsers }, (_, u) => u);
        await rec.recommend(3);
        await rec.recommend(all, { scoring: 'matmul' });
        await rec.recommend(all, { scoring: 'fused', filter: (i) => i % 3 === 0 });
        await rec.similarItems([1, 2]);
        await rec.similarUsers([1, 2]);
        const pu = data.text!.userProfile!;
        const me = await rec.personalize({ items: [1, 5, 7], textEmbedding: text ? pu.data.subarray(0, pu.cols) : undefined });
        await rec.recommend(me, { k: 5 });
        rec.dispose();
      });
      const trainPairs = data.train.users.length;
      const plan = [
        ...planBindings(input, { batchSize: B, evaluateK: 20 }),
        ...planEvaluate(input, data.numUsers, 20, trainPairs),
        ...planServingTables(input, { userProfiles: text }),
        ...planRecommend('recommend', d, { rows: data.numUsers, tableRows: data.numItems, candidates: data.numItems, k: 20, excluded: trainPairs, matmul: true }),
        ...planRecommend('similarItems', d, { rows: 2, tableRows: data.numItems, candidates: null, k: 10, excluded: 2, matmul: true }),
        ...planRecommend('similarUsers', d, { rows: 2, tableRows: data.numUsers, candidates: null, k: 10, excluded: 2, matmul: true }),
        ...planPersonalize({ config: input.config, numUsers: data.numUsers, profileDim: input.profileDim }, { items: 3, steps: 40, negativesPerItem: 8, maxPairs: 4096, text }),
      ];
      expect(acquired.size).toBeGreaterThan(30);
      expect(unplanned(acquired, plan)).toEqual([]);
      // The training plan alone bounds every buffer of training and evaluation.
      expect(Math.max(...acquired.values())).toBeLessThanOrEqual(largestBinding(plan));
      expect(be.liveTensorCount).toBe(0);
    });
  }
});

describe('limits up front', () => {
  const irllrec: FitOptions = { model: 'irllrec', config: CONFIGS.irllrec, epochs: 1, maxSteps: 2, batchSize: 64, evalEvery: 1, patience: 0, ks: KS };

  it('a model over the limit fails before any allocation or step, listing the tensors, sizes and limit', async () => {
    const be = await limited(2048);
    const before = be.poolStats;
    let steps = 0;
    const err = await caught(fit(be, data, { ...irllrec, onStep: () => steps++ }));
    expect(err.code).toBe('limit');
    // E0 and its gradient / Adam moments: 96 nodes × 8 floats.
    expect(err.message).toMatch(/E0, grad\.E0, adam\.m\.E0, adam\.v\.E0.* \[96, 8\] = 3072 bytes/);
    expect(err.message).toMatch(/maxStorageBufferBindingSize \(2048 bytes\)/);
    expect(err.message).toMatch(/a smaller embeddingDim/);
    expect(err.message).toMatch(/a device with larger limits/);
    expect(steps).toBe(0);
    expect(be.poolStats).toEqual(before);
    expect(be.liveTensorCount).toBe(0);
  });

  it('a batch over the limit fails in fit before the model exists; a smaller batch trains as on an unlimited device', async () => {
    const input = planInput('irllrec');
    const big = largestBinding(planBindings(input, { batchSize: 64 }));
    const small = largestBinding(planBindings(input, { batchSize: 16 }));
    expect(small).toBeLessThan(big);
    const be = await limited(big - 4);
    const err = await caught(fit(be, data, irllrec));
    expect(err.code).toBe('limit');
    // The item-side InfoNCE of kd and kd_int normalises 3B = 192 rows padded to 32 floats.
    expect(err.message).toMatch(/createModel\(synthetic, irllrec\): 2 planned tensors would exceed .*: infoNce\.hat \[192, 32\] = 24576 bytes\./);
    expect(err.message).toMatch(/a smaller batchSize/);
    expect(be.poolStats.created).toBe(0);

    // Batch 16 fits; results are exactly those of the unlimited device.
    const opts = { ...irllrec, batchSize: 16, maxSteps: 4 };
    const ref = await fit(await gpu(), data, opts);
    const got = await fit(be, data, opts);
    for (const [name, t] of ref.model.params) expect(Array.from(await be.read(got.model.params.get(name)!))).toEqual(Array.from(await (await gpu()).read(t)));
    expect(got.val).toEqual(ref.val);
    expect(got.test).toEqual(ref.test);
    // A direct step on a batch the plan does not fit fails before recording anything.
    const live = be.liveTensorCount;
    const created = be.poolStats.created;
    const B = 96;
    const batch = { users: new Uint32Array(B).map((_, b) => b % data.numUsers), pos: new Uint32Array(B).map((_, b) => b % 50), neg: new Uint32Array(B).map((_, b) => (b + 3) % 50) };
    const stepErr = await caught(got.model.trainStep(batch));
    expect(stepErr.code).toBe('limit');
    expect(stepErr.message).toMatch(/irllrec training step \(batch of 96\)/);
    expect([be.liveTensorCount, be.poolStats.created]).toEqual([live, created]);
    await be.flush();
    be.ctx.check('after training');
    ref.model.dispose();
    got.model.dispose();
  });

  it('at a limit equal to the largest planned binding, training, evaluation (adapted chunks) and serving run and match', async () => {
    const opts: FitOptions = { model: 'lightgcn', config: CONFIGS.lightgcn, epochs: 2, batchSize: 16, evalEvery: 1, patience: 0, ks: KS };
    const limit = largestBinding(planBindings(planInput('lightgcn'), { batchSize: 16 }));
    // A whole evaluation chunk (40 users × 20 results) would not fit: evaluation must split it.
    expect(40 * 20 * 4).toBeGreaterThan(limit);
    const be = await limited(limit);
    const ref = await fit(await gpu(), data, opts);
    let got!: Awaited<ReturnType<typeof fit>>;
    const acquired = await acquisitions(be, async () => {
      got = await fit(be, data, opts);
    });
    expect(Math.max(...acquired.values())).toBeLessThanOrEqual(limit);
    expect(acquired.get('eval.topIds')).toBeLessThan(40 * 20 * 4);
    expect(got.val).toEqual(ref.val);
    expect(got.test).toEqual(ref.test);
    expect(got.history.map((h) => h.losses)).toEqual(ref.history.map((h) => h.losses));

    // Serving on the limited device: recommend for every user at once adapts its blocks.
    const bytes = await serializeModel(ref.model, { train: data.train });
    const recRef = await Recommender.load(bytes, { backend: await gpu() });
    const rec = await Recommender.load(bytes, { backend: be });
    const all = Array.from({ length: data.numUsers }, (_, u) => u);
    for (const scoring of ['fused', 'matmul'] as const) {
      const want = await recRef.recommend(all, { scoring, k: 20 });
      const served = await acquisitions(be, async () => {
        const res = await rec.recommend(all, { scoring, k: 20 });
        expect(res).toEqual(want);
      });
      expect(served.get('recommend.ids')).toBeLessThan(40 * 20 * 4);
    }
    // personalize: a request whose pairs would exceed the limit fails up front; a small one works.
    const live = be.liveTensorCount;
    const created = be.poolStats.created;
    const err = await caught(rec.personalize({ items: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], negativesPerItem: 40 }));
    expect(err.code).toBe('limit');
    expect(err.message).toMatch(/personalize\.U, personalize\.P, personalize\.Q, personalize\.gU \[400, 8\] = 12800 bytes/);
    expect(err.message).toMatch(/fewer items or a smaller maxPairs/);
    expect([be.liveTensorCount, be.poolStats.created]).toEqual([live, created]);
    const me = await rec.personalize({ items: [1, 2, 3] });
    expect((await rec.recommend(me, { k: 5 })).ids.length).toBe(5);
    me.dispose();
    rec.dispose();
    recRef.dispose();
    await be.flush();
    be.ctx.check('after serving');
    ref.model.dispose();
    got.model.dispose();
    expect(be.liveTensorCount).toBe(0);
  });

  it('Recommender.load fails up front when the serving tables exceed the limit', async () => {
    // Profile text 40 wide: the users' profiles (40 × 40) are the largest serving table.
    const wide = syntheticDataset({ seed: 31, numUsers: 40, numItems: 56, numIntents: 3, textDim: 40, interactionsPerUser: 6 });
    const res = await fit(await gpu(), wide, { model: 'rlmrec', config: CONFIGS.rlmrec, epochs: 1, maxSteps: 1, batchSize: 32, evalEvery: 1, patience: 0, ks: KS });
    const bytes = await serializeModel(res.model, { train: wide.train });
    res.model.dispose();
    const be = await limited(4096);
    const err = await caught(Recommender.load(bytes, { backend: be, userProfiles: wide.text!.userProfile }));
    expect(err.code).toBe('limit');
    expect(err.message).toMatch(/serve\.userProfiles \[40, 40\] = 6400 bytes/);
    expect(err.message).toMatch(/narrower text embeddings/);
    expect(be.poolStats.created).toBe(0);
    // Without the profiles it fits.
    const rec = await Recommender.load(bytes, { backend: be });
    expect((await rec.recommend(0, { k: 3 })).ids.length).toBe(3);
    rec.dispose();
  });

  it('the CPU backend plans against CPU_MAX_TENSOR_BYTES, above any GPU binding limit', async () => {
    const be = cpu('f32');
    const input = planInput('irllrec');
    // A 4 GiB tensor plans on the CPU; one far over it is refused before allocation, naming it and the limit …
    expect(() => checkPlan(be, [{ label: 'big', shape: [1 << 30, 1], bytes: CPU_MAX_TENSOR_BYTES, phase: 'model', knob: 'catalogue' }], 'cpu')).not.toThrow();
    expect(() => checkPlan(be, [{ label: 'huge', shape: [1 << 30, 64], bytes: 2 ** 38, phase: 'model', knob: 'catalogue' }], 'cpu')).toThrow(/huge \[1073741824, 64\] = 274877906944 bytes.*CPU tensor limit|CPU tensor limit \(4294967296 bytes\): huge/);
    // … and training there is unaffected.
    const res = await fit(be, data, { model: 'irllrec', config: CONFIGS.irllrec, epochs: 1, maxSteps: 1, batchSize: 64, evalEvery: 1, patience: 0, ks: KS });
    expect(res.steps).toBe(1);
    expect(largestBinding(planBindings(input, { batchSize: 64 }))).toBeGreaterThan(0);
    res.model.dispose();
  });
});
