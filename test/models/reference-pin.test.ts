/**
 * The reference preset does not move: loss components at a fixed state and batch, the same after three training
 * steps, and the evaluation of the resulting weights, for every model kind and every dataset the reference has
 * settings for (and its fallback), equal — exactly, on the float64 CPU twin — the values the code gave before
 * presets existed (commit a6f37f7, recorded in reference-pin.json). The preset's configuration is pinned too.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/data/graph.js';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { type ModelKind, modelConfig } from '../../src/models/config.js';
import { RecModel } from '../../src/models/model.js';
import { evaluate } from '../../src/train/evaluate.js';
import { Rng } from '../../src/util/random.js';
import { cpu } from '../helpers.js';

const pinned = JSON.parse(readFileSync(new URL('./reference-pin.json', import.meta.url), 'utf8')) as Record<string, { config: Record<string, unknown>; losses: object; after: object; metrics: object }>;
const data = syntheticDataset({ seed: 7, numUsers: 40, numItems: 56, numIntents: 4, textDim: 12, interactionsPerUser: 6 });

describe('the reference preset is unchanged (pinned to its values before presets existed)', () => {
  for (const key of Object.keys(pinned)) {
    const [kind, ds] = key.split('/') as [ModelKind, string];
    it(key, async () => {
      const be = cpu('f64');
      const cfg = modelConfig(kind, ds, { embeddingDim: 8, numIntents: 6 }, 'reference');
      const { preset, ...rest } = cfg;
      expect(preset).toBe('reference');
      expect(rest).toEqual(pinned[key].config);
      const m = RecModel.create(be, cfg, { numUsers: data.numUsers, numItems: data.numItems, graph: buildGraph(data), text: data.text }, { seed: 11 });
      const r = new Rng(3);
      const B = 24;
      const batch = { users: new Uint32Array(B), pos: new Uint32Array(B), neg: new Uint32Array(B) };
      for (let b = 0; b < B; b++) {
        const k = r.int(data.train.users.length);
        batch.users[b] = data.train.users[k];
        batch.pos[b] = data.train.items[k];
        batch.neg[b] = r.int(data.numItems);
      }
      expect(await m.loss(batch, { noiseSeed: 5, updateTeacher: true })).toEqual(pinned[key].losses);
      for (let s = 0; s < 3; s++) await m.trainStep(batch, { noiseSeed: 100 + s });
      expect(await m.loss(batch, { noiseSeed: 5 })).toEqual(pinned[key].after);
      expect(await evaluate(m, data, 'test', { ks: [5, 20] })).toEqual(pinned[key].metrics);
      m.dispose();
    });
  }
  it('datasets the reference has no settings for get its amazon values under the reference preset', () => {
    for (const kind of ['lightgcn', 'rlmrec', 'irllrec'] as const) {
      expect(modelConfig(kind, 'movielens', {}, 'reference')).toEqual(modelConfig(kind, 'amazon', {}, 'reference'));
    }
  });
  it('a run that names no preset gets the reference on the paper datasets and the default elsewhere', () => {
    expect(modelConfig('irllrec', 'yelp').preset).toBe('reference');
    expect(modelConfig('irllrec', 'movielens').preset).toBe('default');
    expect(modelConfig('irllrec', 'synthetic').preset).toBe('default');
    expect(modelConfig('irllrec', 'yelp', {}, 'default').preset).toBe('default');
    expect(() => modelConfig('irllrec', 'yelp', {}, 'fast' as 'default')).toThrow(/unknown preset 'fast'/);
  });
});
