import { afterAll, describe, expect, it } from 'vitest';
import { serializeModel } from '../../src/io/modelfile.js';
import { loadDatasetDir } from '../../src/node/files.js';
import { Recommender } from '../../src/serve/recommender.js';
import { fit } from '../../src/train/trainer.js';
import { cpu, gpu, itWithData, sharedData } from '../helpers.js';
import { foldInVersusPopularity, holdOut } from './foldin.js';

afterAll(async () => (await gpu()).destroy());

describe('personalize on MovieLens (real data)', () => {
  itWithData('held-out users folded in from their training items beat popularity on their test items', async () => {
    const full = await loadDatasetDir(sharedData('movielens'));
    const { data, heldOut } = holdOut(full, 6);
    // LightGCN for 16 epochs on the CPU backend (≈ 10 s here), served from its model file on the GPU.
    const res = await fit(cpu('f32'), data, { model: 'lightgcn', config: { embeddingDim: 32, layers: 2, keepRate: 1, reg: 1e-4 }, epochs: 16, batchSize: 4096, lr: 0.02 });
    const bytes = await serializeModel(res.model, { train: data.train });
    res.model.dispose();
    const rec = await Recommender.load(bytes, { backend: await gpu() });
    const m = await foldInVersusPopularity(rec, full, data, heldOut);
    expect(m.users).toBeGreaterThanOrEqual(90);
    expect(m.personal, `Recall@20 personalised ${m.personal.toFixed(4)} vs popularity ${m.popularity.toFixed(4)} over ${m.users} users`).toBeGreaterThan(1.1 * m.popularity);
    rec.dispose();
  });
});
