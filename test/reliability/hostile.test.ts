/**
 * Hostile inputs through the library, on the CPU backend and the GPU (lavapipe in CI): files that parse but
 * ask for too much (class 1), overflow later (class 2) or mean something else (class 3), and dataset warnings
 * (class 4). Each crafted file goes on to be used — `Recommender.load` + `recommend`, `resumeFrom` + `fit` —
 * and must end in a typed IrllrecError naming field, value and limit, quickly and without allocating what it
 * asks for, or in a correct result. The CLI side (child processes, peak RSS) is hostile-cli.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { datasetFromFiles, datasetFromSplits } from '../../src/data/interactions.js';
import { IrllrecError } from '../../src/errors.js';
import { float32Tensor, writeSafetensors } from '../../src/io/safetensors.js';
import { MAX_EMBEDDING_DIM, MAX_INTENTS, MAX_LAYERS, MAX_TEXT_DIM } from '../../src/models/config.js';
import { Recommender } from '../../src/serve/recommender.js';
import { type TrainingCheckpoint, captureCheckpoint, parseCheckpoint, resumeFrom, serializeCheckpoint } from '../../src/train/checkpoint.js';
import { fit } from '../../src/train/trainer.js';
import type { Backend, WebGpuBackend } from '../../src/ops/tensor.js';
import { cpu, gpu } from '../helpers.js';
import { MAX_DISPATCHES_PER_SUBMIT } from '../../src/gpu/kernel.js';
import { axpy } from '../../src/ops/elementwise.js';
import { editSafetensors, modelBytes, scaled, smallData, withConfig } from './hostile-files.js';

afterAll(async () => (await gpu()).destroy());

const backends: [string, () => Promise<Backend>][] = [
  ['cpu', async () => cpu('f32')],
  ['webgpu', async () => gpu()],
];

/** Run `f`, which must reject with an IrllrecError of `code` whose message matches `message`, within `ms` and without `bytes` of new ArrayBuffers. */
async function refused(f: () => Promise<unknown> | unknown, code: string, message: RegExp, opts: { ms?: number; bytes?: number } = {}): Promise<IrllrecError> {
  const before = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  let err: unknown = null;
  try {
    await f();
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - t0;
  expect(err, 'expected an error').toBeInstanceOf(IrllrecError);
  expect((err as IrllrecError).code, (err as Error).message).toBe(code);
  expect((err as Error).message).toMatch(message);
  expect(ms).toBeLessThan(opts.ms ?? 1000);
  expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(opts.bytes ?? 64 << 20);
  return err as IrllrecError;
}

const created = (be: Backend) => (be.kind === 'webgpu' ? (be as WebGpuBackend).poolStats.created : 0);

describe('class 1: config and header fields that drive work or allocation are bounded before anything is allocated', () => {
  for (const [name, make] of backends) {
    it(`${name}: a model file asking for 10^6 layers, 10^8 intents or a 10^6-wide embedding is refused in milliseconds, naming field, value and limit`, async () => {
      const be = await make();
      const base = await modelBytes('irllrec');
      const poolBefore = created(be);
      for (const [field, value, limit] of [['layers', 1e6, MAX_LAYERS], ['numIntents', 1e8, MAX_INTENTS], ['embeddingDim', 1e6, MAX_EMBEDDING_DIM]] as const) {
        await refused(() => Recommender.load(withConfig(base, { [field]: value }), { backend: be, sourceName: 'crafted.safetensors' }), 'limit', new RegExp(`crafted\\.safetensors: metadata 'config': model config: ${field} = ${value} is over the limit of ${limit}`), { ms: 300 });
      }
      expect(created(be)).toBe(poolBefore);
      // At the limit the same file is accepted by the config check (and then fails on its real tensor shapes).
      await refused(() => Recommender.load(withConfig(base, { numIntents: MAX_INTENTS }), { backend: be }), 'shape', /user_intent' has shape \[8, 4\], the model expects \[8, 65536\]/);
      // The unedited file loads and ranks.
      const rec = await Recommender.load(base, { backend: be });
      expect((await rec.recommend(0, { k: 5 })).ids.length).toBe(5);
      rec.dispose();
    });

    it(`${name}: zero-byte tensors cannot declare 2^32 − 1 users or a 10^9-wide text tower`, async () => {
      const be = await make();
      // A file without irllrec metadata (as from PyTorch): the sizes come from the shapes alone.
      const empty = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: new Uint8Array(0) });
      const users = writeSafetensors({ user_embeds: empty([4294967295, 0]), item_embeds: empty([5, 0]) });
      await refused(() => Recommender.load(users, { backend: be, interactions: { users: new Uint32Array(0), items: new Uint32Array(0) } }), 'range', /embeddingDim must be a positive integer, got 0/, { ms: 300 });
      const base = await modelBytes('rlmrec');
      const wide = editSafetensors(base, { tensors: (t) => void t.set('mlp.0.weight', empty([0, 1e9])) });
      await refused(() => Recommender.load(wide, { backend: be, sourceName: 'wide.safetensors' }), 'limit', new RegExp(`wide\\.safetensors: tensor 'mlp\\.0\\.weight' has shape \\[0, 1000000000\\]; expected \\[hidden, textDim\\] with textDim ≤ ${MAX_TEXT_DIM}`), { ms: 300 });
      // Under MAX_TEXT_DIM but over the backend's tensor limit: the plan refuses it before any buffer exists.
      const poolBefore = created(be);
      const planned = editSafetensors(base, { tensors: (t) => void t.set('mlp.0.weight', empty([0, 60000])) });
      await refused(() => Recommender.load(planned, { backend: be, sourceName: 'planned.safetensors' }), 'limit', /planned\.safetensors: .*mlp\.0\.weight.*\[30004, 60000\] = 7200960000 bytes/, { ms: 500 });
      expect(created(be)).toBe(poolBefore);
    });
  }

  it('a checkpoint asking for 10^6 layers is refused by parseCheckpoint, before resumeFrom could build it', async () => {
    const data = smallData();
    const res = await fit(cpu('f32'), data, { model: 'lightgcn', config: { embeddingDim: 8, layers: 2 }, epochs: 1, batchSize: 64, evalEvery: 1, patience: 0, checkpoint: { onCheckpoint: async () => undefined } });
    const ck = serializeCheckpoint(await captureCheckpoint(res.model, { epoch: 1, steps: res.steps, rngState: 1, best: -Infinity, bestEpoch: -1, patience: 0, history: res.history }, null, data));
    res.model.dispose();
    const bad = editSafetensors(ck, { meta: (m) => void (m.config = JSON.stringify({ ...JSON.parse(m.config), layers: 1e6 })) });
    await refused(() => parseCheckpoint(bad, 'run.ckpt'), 'limit', /run\.ckpt: metadata 'config': model config: layers = 1000000 is over the limit of 64/, { ms: 200 });
  });

  it('webgpu: recording past MAX_DISPATCHES_PER_SUBMIT is submitted in parts, in order, with the same result', async () => {
    const be = await gpu();
    const x = be.tensor(Float32Array.of(1, 2), [2], 'f32', 'x');
    const y = be.zeros([2], 'f32', 'y');
    const n = MAX_DISPATCHES_PER_SUBMIT + 10;
    const submits = be.recorder.submits;
    for (let k = 0; k < n; k++) axpy(be, 1, x, y);
    expect(be.recorder.submits).toBe(submits + 1); // one bounded part went out during recording
    expect(be.recorder.dispatchesPending).toBe(10);
    expect(Array.from(await be.read(y))).toEqual([n, 2 * n]);
    x.dispose();
    y.dispose();
  }, 60_000);

  it("meta.json's declared user count is bounded by the ids the files use", async () => {
    const enc = new TextEncoder();
    await refused(() => datasetFromFiles({ 'train.tsv': enc.encode('0\t1\n1\t0\n'), 'meta.json': enc.encode('{"users": 4294967295}') }), 'limit', /meta\.json 'users' = 4294967295 is over the limit of 1028/, { ms: 100, bytes: 1 << 20 });
  });
});

describe('class 2: finite parameters whose scores would overflow f32 are refused at load, the same way on every backend', () => {
  it('embeddings of 1e18 are refused on both backends; 1e14 loads and ranks with finite scores, the same items on both', async () => {
    const base = await modelBytes('lightgcn');
    const huge = scaled(base, ['user_embeds', 'item_embeds'], 1e19);
    const large = scaled(base, ['user_embeds', 'item_embeds'], 1e15);
    const ranked: number[][] = [];
    for (const [, make] of backends) {
      const be = await make();
      const err = await refused(() => Recommender.load(huge, { backend: be, sourceName: 'huge.safetensors' }), 'nonfinite', /huge\.safetensors: user_embeds and item_embeds: the embeddings are so large .* may overflow f32/);
      expect(err.message).toMatch(/after 2 propagation layers/);
      const rec = await Recommender.load(large, { backend: be });
      const r = await rec.recommend(3, { k: 10 });
      for (const s of r.scores) expect(Number.isFinite(s)).toBe(true);
      expect(Math.max(...r.scores.map(Math.abs))).toBeGreaterThan(1e20); // the scale really is extreme
      ranked.push(Array.from(r.ids));
      rec.dispose();
    }
    expect(ranked[1]).toEqual(ranked[0]);
  });
});

describe('class 3: meaning, not just syntax', () => {
  async function checkpointOf(kind: 'lightgcn' | 'irllrec') {
    const data = smallData();
    const be = cpu('f32');
    let ck: TrainingCheckpoint | null = null;
    const opts = { model: kind, config: { embeddingDim: 8, layers: 2, numIntents: 4 }, epochs: 2, batchSize: 64, evalEvery: 1, patience: 0, seed: 4 } as const;
    const res = await fit(be, data, { ...opts, checkpoint: { onCheckpoint: async (s, m, snap) => void (ck ??= await captureCheckpoint(m, s, snap, data)) } });
    res.model.dispose();
    return { data, be, opts, ck: ck!, bytes: serializeCheckpoint(ck!) };
  }

  it('a checkpoint without a data fingerprint, of another dataset, or resumed as another model kind is refused', async () => {
    const { data, be, opts, ck } = await checkpointOf('lightgcn');
    await refused(() => resumeFrom(be, data, { ...ck, dataFingerprint: null }), 'data', /carries no data fingerprint/);
    await refused(() => resumeFrom(be, smallData(6), ck), 'data', /training interactions differ/);
    const resumed = resumeFrom(be, data, ck);
    await refused(() => fit(be, data, { ...opts, model: 'irllrec', ...resumed }), 'range', /options\.model is irllrec but options\.init is a lightgcn model/);
    // The same checkpoint resumed as what it is trains on.
    const r = await fit(be, data, { ...opts, ...resumeFrom(be, data, ck) });
    expect(r.history.length).toBe(2);
    r.model.dispose();
    resumed.init!.dispose();
  });

  it('counters that cannot have happened and an optimizer state that does not fit are refused by parseCheckpoint', async () => {
    const { bytes } = await checkpointOf('irllrec');
    const trainer = (patch: Record<string, unknown>) => editSafetensors(bytes, { meta: (m) => void (m.trainer = JSON.stringify({ ...JSON.parse(m.trainer), ...patch })) });
    await refused(() => parseCheckpoint(trainer({ bestEpoch: 5 }), 'c'), 'format', /'bestEpoch' 5 is not an epoch already run \(epoch 1\)/);
    await refused(() => parseCheckpoint(trainer({ epoch: 3 }), 'c'), 'format', /1 history entries for epoch 3/);
    await refused(() => parseCheckpoint(trainer({ best: 7 }), 'c'), 'format', /'best' 7 is not a Recall@20 in \[0, 1\]/);
    await refused(() => parseCheckpoint(trainer({ steps: 1e300 }), 'c'), 'format', /'steps' must be an integer/);
    const adam = editSafetensors(bytes, { meta: (m) => void (m.adam = JSON.stringify({ ...JSON.parse(m.adam), beta2: 1 })) });
    await refused(() => parseCheckpoint(adam, 'c'), 'format', /is not an Adam configuration/);
    const negV = editSafetensors(bytes, {
      tensors: (t) => {
        const v = t.get('adam_v.E0')!;
        const data = new Float32Array(v.data.length / 4);
        data[3] = -1;
        t.set('adam_v.E0', float32Tensor(data, v.shape));
      },
    });
    await refused(() => parseCheckpoint(negV, 'c'), 'format', /tensor 'adam_v\.E0' has a negative second moment -1 at index 3/);
    expect(parseCheckpoint(bytes, 'c').trainer.epoch).toBe(1);
  });

  it('the header guess never drops a data row: a first line with ISBN-like ids is data', () => {
    const ds = datasetFromSplits({ train: '7\t043936213X\n8\t0439064872\n9\t0439064872\n' });
    expect(ds.train.users.length).toBe(3);
    expect(ds.itemIds).toEqual(['043936213X', '0439064872']);
    // A header of words is still recognised.
    expect(datasetFromSplits({ train: 'who what\n7 1\n8 2\n' }).train.users.length).toBe(2);
  });
});

describe('class 4: the dataset warnings are returned by the API', () => {
  it('duplicates, counts that disagree with meta.json and unseen evaluation items are all in Dataset.warnings', () => {
    const enc = new TextEncoder();
    const ds = datasetFromFiles({ 'train.tsv': enc.encode('0\t1\n0\t1\n1\t0\n'), 'val.tsv': enc.encode('1\t2\n'), 'meta.json': enc.encode('{"users": 2, "items": 3, "train": 9}') });
    expect(ds.warnings).toEqual(['train: 1 duplicate pairs removed', 'val: 1 pairs have an item with no training interaction', 'train.tsv: 2 distinct pairs, meta.json says 9']);
  });
});

describe('class 10: failures from bad paths are typed and name the path', () => {
  it('writing into a missing directory, reading a directory as a model and a file as a dataset directory', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { writeFileAtomic, loadDatasetDir } = await import('../../src/node/files.js');
    const { Recommender: NodeRecommender, loadCheckpoint } = await import('../../src/node/serve.js');
    const dir = mkdtempSync(join(tmpdir(), 'irllrec-hostile-paths-'));
    const target = join(dir, 'missing', 'm.safetensors');
    await refused(() => writeFileAtomic(target, 'x'), 'io', new RegExp(`${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot write \\(ENOENT`));
    await refused(() => NodeRecommender.load(dir, { backend: cpu('f32') }), 'io', /: the model file must be a regular file, this is a directory/);
    await refused(() => loadCheckpoint(dir), 'io', /: the checkpoint must be a regular file, this is a directory/);
    const file = join(dir, 'plain.txt');
    writeFileSync(file, '0\t1\n');
    await refused(() => loadDatasetDir(file), 'io', /plain\.txt: expected a dataset directory/);
    await refused(() => loadDatasetDir(join(dir, 'nope')), 'io', /nope: cannot read the dataset directory \(no such file or directory\)/);
  });
});
