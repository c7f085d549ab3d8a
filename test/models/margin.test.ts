import { afterAll, describe, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { fit } from '../../src/train/trainer.js';
import { gpu } from '../helpers.js';

/**
 * The synthetic data's text carries the planted intents, so the alignment losses must pay off: IRLLRec
 * (kd + kd_int at the reference weights) beats LightGCN by a clear margin under the same budget. With both
 * alignment weights at 0 IRLLRec lands at LightGCN's level (0.29 vs 0.30 when this was written), and with
 * kd_int alone off it gains only ~0.06, so a broken or disabled alignment loss fails this test.
 */
describe('IRLLRec vs LightGCN on the synthetic data (WebGPU)', () => {
  afterAll(async () => (await gpu()).destroy());

  it('IRLLRec beats LightGCN on test Recall@20 by at least 0.07 (absolute) and 20% (relative)', async () => {
    const be = await gpu();
    const ds = syntheticDataset({ seed: 1, numUsers: 200, numItems: 300, numIntents: 8 });
    const budget = { epochs: 30, batchSize: 128, lr: 5e-3, seed: 2023 };
    const lgn = await fit(be, ds, { ...budget, model: 'lightgcn' });
    const irl = await fit(be, ds, { ...budget, model: 'irllrec' });
    const a = lgn.test['recall@20'];
    const b = irl.test['recall@20'];
    console.log(`synthetic test Recall@20: LightGCN ${a.toFixed(4)}, IRLLRec ${b.toFixed(4)} (NDCG@20 ${lgn.test['ndcg@20'].toFixed(4)} vs ${irl.test['ndcg@20'].toFixed(4)})`);
    expect(b - a).toBeGreaterThanOrEqual(0.07);
    expect(b / a).toBeGreaterThanOrEqual(1.2);
    expect(irl.test['ndcg@20']).toBeGreaterThan(lgn.test['ndcg@20']);
    lgn.model.dispose();
    irl.model.dispose();
  }, 600_000);
});
