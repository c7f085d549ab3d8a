import { afterAll, describe, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import type { Dataset } from '../../src/data/types.js';
import { parseModelFile, serializeModel } from '../../src/io/modelfile.js';
import { RecModel } from '../../src/models/model.js';
import { evaluate } from '../../src/train/evaluate.js';
import { MetricAccumulator } from '../../src/train/metrics.js';
import { createModel, fit } from '../../src/train/trainer.js';
import { buildGraph, userItemCsr } from '../../src/data/graph.js';
import { cpu, gpu } from '../helpers.js';

const small = (): Dataset => syntheticDataset({ seed: 3, numUsers: 120, numItems: 150, numIntents: 6, textDim: 16, interactionsPerUser: 10 });

describe('trainer and evaluation', () => {
  afterAll(async () => (await gpu()).destroy());

  it('evaluation on the GPU equals a brute-force CPU ranking with training items masked', async () => {
    const ds = small();
    const g = await gpu();
    const m = createModel(g, ds, { model: 'lightgcn', seed: 5 });
    const got = await evaluate(m, ds, 'test');
    // Brute force: E_fin on the CPU twin from the same parameters, full sort, ties → lower id.
    const c = cpu('f64');
    const mc = createModel(c, ds, { model: 'lightgcn', seed: 5 });
    const e = mc.finalEmbeddings().f;
    const d = 32;
    const train = userItemCsr(ds.numUsers, ds.numItems, ds.train);
    const truth = userItemCsr(ds.numUsers, ds.numItems, ds.test);
    const acc = new MetricAccumulator([5, 10, 20]);
    for (let u = 0; u < ds.numUsers; u++) {
      const t = truth.colIdx.subarray(truth.rowPtr[u], truth.rowPtr[u + 1]);
      if (t.length === 0) continue;
      const seen = new Set(train.colIdx.subarray(train.rowPtr[u], train.rowPtr[u + 1]));
      const scores = Array.from({ length: ds.numItems }, (_, i) => {
        if (seen.has(i)) return -1e8;
        let s = 0;
        for (let k = 0; k < d; k++) s += e[u * d + k] * e[(ds.numUsers + i) * d + k];
        return s;
      });
      const order = scores.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map((x) => x[1]);
      acc.add(order.slice(0, 20), t);
    }
    const want = acc.result();
    for (const k of Object.keys(want)) expect(got[k], k).toBeCloseTo(want[k], 6);
    expect(got.users).toBe(acc.users);
    m.dispose();
  });

  it('fit trains LightGCN, evaluates every 3 epochs, stops early and restores the best snapshot', async () => {
    const ds = small();
    const g = await gpu();
    const epochs: number[] = [];
    const r = await fit(g, ds, { model: 'lightgcn', epochs: 40, batchSize: 256, lr: 5e-3, seed: 1, patience: 2, onEpoch: (e) => epochs.push(e.epoch) });
    const evaluated = r.history.filter((h) => h.val).map((h) => h.epoch);
    expect(evaluated.every((e) => e % 3 === 0)).toBe(true);
    const best = r.history.filter((h) => h.val).reduce((a, b) => (b.val!['recall@20'] > a.val!['recall@20'] ? b : a));
    expect(r.bestEpoch).toBe(best.epoch);
    // The restored snapshot reproduces the best validation score.
    expect(r.val['recall@20']).toBeCloseTo(best.val!['recall@20'], 6);
    expect(r.test['recall@20']).toBeGreaterThan(0.05);
    if (r.stoppedEarly) expect(r.history.length).toBe(r.bestEpoch + 1 + 3 * 2);
    expect(epochs.length).toBe(r.history.length);
    r.model.dispose();
  });

  it('an AbortSignal stops training between steps', async () => {
    const ds = small();
    const ctl = new AbortController();
    const r = await fit(cpu('f32'), ds, { model: 'lightgcn', epochs: 50, batchSize: 64, signal: ctl.signal, onStep: (s) => s.step === 3 && ctl.abort() });
    expect(r.aborted).toBe(true);
    expect(r.steps).toBe(3);
  });

  it('save → load is bit-exact for every parameter, teacher and id map included', async () => {
    const ds = small();
    ds.userIds = Array.from({ length: ds.numUsers }, (_, i) => `u${i}`);
    const be = cpu('f32');
    const m = createModel(be, ds, { model: 'irllrec', seed: 9, config: { numIntents: 8 } });
    await m.trainStep({ users: ds.train.users.slice(0, 32), pos: ds.train.items.slice(0, 32), neg: ds.train.items.slice(32, 64) });
    const bytes = await serializeModel(m, { train: ds.train, userIds: ds.userIds });
    const file = parseModelFile(bytes);
    expect(file.config).toEqual(m.config);
    expect(file.userIds).toEqual(ds.userIds);
    expect(Array.from(file.train!.items)).toEqual(Array.from(ds.train.items));
    const m2 = RecModel.create(be, file.config, { numUsers: file.numUsers, numItems: file.numItems, graph: buildGraph({ ...file, train: file.train! }), text: ds.text }, { seed: 1 });
    m2.importParameters(file.tensors);
    const a = await m.exportParameters();
    const b = await m2.exportParameters();
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) expect(Buffer.from(b.get(k)!.data.buffer).equals(Buffer.from(v.data.buffer)), k).toBe(true);
    // The reference's names and PyTorch's [out, in] Linear layout.
    expect(a.get('mlp.0.weight')!.shape).toEqual([Math.floor((16 + 32) / 2), 16]);
    expect(a.get('user_embeds')!.shape).toEqual([ds.numUsers, 32]);
    expect(a.has('int_mlp_m.2.bias')).toBe(true);
  });

  it('rejects text embeddings whose row count does not match the dataset, naming them', () => {
    const ds = small();
    ds.text.itemProfile = { rows: ds.numItems - 1, cols: 16, data: new Float32Array((ds.numItems - 1) * 16) };
    expect(() => createModel(cpu('f32'), ds, { model: 'rlmrec' })).toThrow(/item profile embeddings: 149 rows, expected 150/);
  });

  it('rejects a NaN in the text embeddings with its position', () => {
    const ds = small();
    ds.text.userIntent!.data[5 * 16 + 3] = Number.NaN;
    expect(() => createModel(cpu('f32'), ds, { model: 'irllrec' })).toThrow(/user intent embeddings: value at row 5, column 3 is NaN/);
  });

  it('a model file with mismatched shapes or a truncated body gets a clear error', async () => {
    const ds = small();
    const m = createModel(cpu('f32'), ds, { model: 'lightgcn' });
    const bytes = await serializeModel(m, { train: ds.train });
    expect(() => parseModelFile(bytes.subarray(0, bytes.length - 10), 'm.safetensors')).toThrow(/m\.safetensors/);
    const other = createModel(cpu('f32'), small(), { model: 'lightgcn', config: { embeddingDim: 16 } });
    expect(() => other.importParameters(parseModelFile(bytes).tensors, 'm.safetensors')).toThrow(/'user_embeds' has shape \[120, 32\], the model expects \[120, 16\]/);
  });
});
