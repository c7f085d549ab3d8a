import { afterAll, describe, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { chanceAgreement, clusterAgreement, itemTopIntents } from '../../src/train/intents.js';
import { fit } from '../../src/train/trainer.js';
import { gpu } from '../helpers.js';

/**
 * The synthetic data's text carries the planted intents, so the alignment losses must pay off. Under the same
 * budget, IRLLRec beats LightGCN by a clear margin with both presets, and with the default preset it also beats
 * RLMRec-Con on Recall@20 (0.385 vs 0.373 when this was written; the reference preset, 0.398, does better here). With both alignment weights at 0 IRLLRec lands at LightGCN's level (0.29 vs 0.30 when this was
 * written), and with kd_int alone off it gains only ~0.06, so a broken or disabled alignment loss fails this
 * test. The learnt intents must mean something: the items' top intents agree with the planted ones far above
 * chance (NMI), with either preset.
 */
describe('IRLLRec vs LightGCN and RLMRec-Con on the synthetic data (WebGPU)', () => {
  afterAll(async () => (await gpu()).destroy());

  it('IRLLRec (default and reference presets) beats LightGCN by ≥ 0.07 and 20%; the default beats RLMRec-Con; intents agree with the planted ones', async () => {
    const be = await gpu();
    const ds = syntheticDataset({ seed: 1, numUsers: 200, numItems: 300, numIntents: 8 });
    const budget = { epochs: 30, batchSize: 128, lr: 5e-3, seed: 2023 };
    const lgn = await fit(be, ds, { ...budget, model: 'lightgcn' });
    const rlm = await fit(be, ds, { ...budget, model: 'rlmrec' });
    const def = await fit(be, ds, { ...budget, model: 'irllrec', preset: 'default' });
    const ref = await fit(be, ds, { ...budget, model: 'irllrec', preset: 'reference' });
    const r = (x: typeof lgn) => x.test['recall@20'];
    const n = (x: typeof lgn) => x.test['ndcg@20'];
    const agree = async (x: typeof lgn) => {
      const top = await itemTopIntents(x.model);
      return { ...clusterAgreement(top, ds.plantedIntents!), chance: chanceAgreement(top, ds.plantedIntents!, 10).nmi };
    };
    const [aDef, aRef] = [await agree(def), await agree(ref)];
    console.log(
      `synthetic test Recall@20 / NDCG@20: LightGCN ${r(lgn).toFixed(4)} / ${n(lgn).toFixed(4)}, RLMRec-Con ${r(rlm).toFixed(4)} / ${n(rlm).toFixed(4)}, ` +
        `IRLLRec default ${r(def).toFixed(4)} / ${n(def).toFixed(4)}, reference ${r(ref).toFixed(4)} / ${n(ref).toFixed(4)}; ` +
        `intent NMI with planted intents: default ${aDef.nmi.toFixed(3)} (purity ${aDef.purity.toFixed(3)}), reference ${aRef.nmi.toFixed(3)} (purity ${aRef.purity.toFixed(3)}), chance ${aDef.chance.toFixed(3)}`,
    );
    for (const irl of [def, ref]) {
      expect(r(irl) - r(lgn)).toBeGreaterThanOrEqual(0.07);
      expect(r(irl) / r(lgn)).toBeGreaterThanOrEqual(1.2);
      expect(n(irl)).toBeGreaterThan(n(lgn));
    }
    // Recall only: on this data the default's NDCG@20 ties RLMRec-Con's (0.1945 vs 0.1944 when this was written).
    expect(r(def)).toBeGreaterThan(r(rlm));
    for (const a of [aDef, aRef]) expect(a.nmi).toBeGreaterThan(a.chance + 0.1);
    for (const x of [lgn, rlm, def, ref]) x.model.dispose();
  }, 900_000);
});
